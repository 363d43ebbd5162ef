"""The map between the user's units and the module's: one scaler, both ways.

With ``loss="mse"`` the data are centred per feature and divided by one global
scale (the RMS of the centred data), so the module sees values of order one
while the features keep their relative weight, as in PCA. With ``loss="bce"``
the data must lie in [0, 1] and are used as they are. :class:`InputScaler`
holds the statistics (taken by ``_stats.DataStats`` in the fit's one pass over
the data), maps numpy batches to module-space tensors and back, and gives the
same maps as torch modules for the ONNX graphs.
"""

import numpy as np
import torch
from torch import nn

from ._data import as_tensor

__all__ = ["InputScaler"]


class InputScaler:
    """``(x - mean) / scale`` on the way in, its inverse on the way out.

    Parameters
    ----------
    mean : ndarray of shape (n_features,) or None
        Per-feature mean; None for data used as they are (``loss="bce"``).

    scale : float, default=1.0
        The global scale the centred data are divided by.
    """

    def __init__(self, mean=None, scale=1.0):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.scale = float(scale)

    def passes_through(self, X, device):
        """Whether ``self(X, torch.float32, device)`` is X's own values: no
        centring, X a float32 ndarray and the device the CPU."""
        return (
            self.mean is None
            and isinstance(X, np.ndarray)
            and X.dtype == np.float32
            and torch.device(device).type == "cpu"
        )

    def __call__(self, X, dtype=torch.float32, device="cpu"):
        """Dense ndarray batch -> module-space tensor of ``dtype`` on ``device``.

        Centring happens in float64 when either the input or ``dtype`` is
        float64, so large offsets do not lose precision.
        """
        t = as_tensor(X)
        work = torch.float64 if torch.float64 in (t.dtype, dtype) else torch.float32
        t = t.to(work)
        if self.mean is not None:
            t = (t - torch.as_tensor(self.mean, dtype=work)) / self.scale
        return t.to(device=device, dtype=dtype)

    def inverse(self, t, dtype):
        """Module-space tensor -> ndarray of ``dtype`` in the user's units."""
        x = t.detach().cpu().numpy()
        if self.mean is not None:
            x = x.astype(np.float64) * self.scale + self.mean
        return x.astype(dtype, copy=False)

    def to_module(self, inverse=False):
        """This map (or its inverse) as a float32 torch module, e.g. for ONNX."""
        return _AffineMap(self.mean, self.scale, inverse)


class _AffineMap(nn.Module):
    def __init__(self, mean, scale, inverse):
        super().__init__()
        mean = None if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        self.register_buffer("mean", mean)
        self.scale = scale
        self.inverse = inverse

    def forward(self, x):
        if self.mean is None:
            return x
        if self.inverse:
            return x * self.scale + self.mean
        return (x - self.mean) / self.scale
