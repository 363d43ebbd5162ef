"""ONNX export of the encoder or the decoder, input scaling included."""

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["export_onnx"]


class _Encoder(nn.Module):
    """``X -> codes``: ``(X - mean) / scale``, then the module's ``encode``."""

    def __init__(self, module, mean, scale):
        super().__init__()
        self.module = module
        self.register_buffer("mean", mean)
        self.scale = scale

    def forward(self, x):
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        return self.module.encode(x)


class _Decoder(nn.Module):
    """``codes -> X``: ``decode``, the sigmoid for BCE, then undo the scaling."""

    def __init__(self, module, mean, scale, sigmoid):
        super().__init__()
        self.module = module
        self.register_buffer("mean", mean)
        self.scale = scale
        self.sigmoid = sigmoid

    def forward(self, z):
        x = self.module.decode(z)
        if self.sigmoid:
            x = torch.sigmoid(x)
        if self.mean is not None:
            x = x * self.scale + self.mean
        return x


def export_onnx(estimator, path, *, part):
    """Write ``part`` of the fitted ``estimator`` to ``path`` as ONNX."""
    if part not in ("encoder", "decoder"):
        raise ValueError(f"part must be 'encoder' or 'decoder'; got {part!r}.")
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "export_onnx needs the optional dependencies onnx and onnxscript: "
            "pip install 'sklearn-ae[onnx]'"
        ) from exc
    import copy

    path = Path(path)
    module = copy.deepcopy(estimator.module_).cpu().float().eval()
    mean = None
    if estimator.mean_ is not None:
        mean = torch.as_tensor(estimator.mean_, dtype=torch.float32)
    scale = float(estimator.scale_)
    if part == "encoder":
        wrapper = _Encoder(module, mean, scale)
        example = torch.zeros(2, estimator.n_features_in_)
        output = "codes"
    else:
        wrapper = _Decoder(module, mean, scale, sigmoid=estimator.loss == "bce")
        example = torch.zeros(2, estimator.n_components_)
        output = "X_reconstructed"
    batch = torch.export.Dim("batch")
    # The exporter logs a warning per torchvision operator it cannot register
    # when torchvision is absent (none can occur in these graphs), and warns
    # about its own deprecated internals; neither concerns the user.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            # nn.LSTM re-assigns its flat weight list while being traced.
            warnings.filterwarnings(
                "ignore", message=r"The tensor attributes .*_flat_weights"
            )
            torch.onnx.export(
                wrapper.eval(),
                (example,),
                str(path),
                input_names=["X"],
                output_names=[output],
                dynamic_shapes=({0: batch},),
                dynamo=True,
                verbose=False,
            )
    finally:
        registration.setLevel(level)
    return path
