"""The training engine: a skorch ``NeuralNet`` specialised for autoencoders.

Only skorch's documented hooks are overridden (``get_iterator``, ``get_loss``,
``train_step_single``); skorch keeps the fit loop, history, callbacks, early
stopping, progress printing and device handling.

The data path is the part that differs most from skorch's default: skorch
wraps data in a ``Dataset`` that is indexed one sample at a time and collated
by a ``DataLoader``. Here a batch is cut out of the 2-D array in one indexing
operation (dense, memory-mapped or sparse CSR; a sparse batch is densified on
its own), converted to a float32 tensor, scaled and moved to the device.
"""

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

__all__ = [
    "AutoencoderNet",
    "InputScaler",
    "RowDataset",
    "TrainingDiverged",
    "as_tensor",
]


class TrainingDiverged(ValueError):
    """Raised by the net when the loss or the weights stop being finite."""

    def __init__(self, epoch, what):
        self.epoch = epoch
        self.what = what
        super().__init__(f"{what} at epoch {epoch}")


class RowDataset(torch.utils.data.Dataset):
    """Rows of a 2-D array, optionally restricted to ``indices``.

    Parameters
    ----------
    X : ndarray, np.memmap or scipy sparse CSR matrix of shape (n, n_features)
        The data. It is never copied as a whole.

    indices : ndarray of int or None
        The rows that belong to this dataset (e.g. the training part of a
        split); ``None`` means all rows.
    """

    def __init__(self, X, indices=None):
        self.X = X
        self.indices = indices

    def __len__(self):
        return self.X.shape[0] if self.indices is None else len(self.indices)

    def rows(self, positions):
        """Dense ndarray of the rows at ``positions`` (positions in this dataset)."""
        if self.indices is not None:
            positions = self.indices[positions]
        batch = self.X[positions]
        if sp.issparse(batch):
            batch = batch.toarray()
        return np.asarray(batch)

    def __getitem__(self, i):
        return self.rows(np.array([i]))[0]


class BatchIterator:
    """Yields ``(X_batch, X_batch)`` tensors over a :class:`RowDataset`.

    Re-iterable: each pass draws a fresh order from ``generator`` when
    ``shuffle`` is true, so every epoch sees the data in a new order and the
    sequence of orders is fixed by the generator's seed.
    """

    def __init__(self, dataset, batch_size, shuffle, generator, to_tensor):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.to_tensor = to_tensor

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).numpy()
        else:
            order = np.arange(n)
        for start in range(0, n, self.batch_size):
            positions = order[start : start + self.batch_size]
            if self.shuffle:
                # Sorted positions read memory (and memory maps) in order; the
                # batch is a set for the loss, so the order inside it is free.
                positions = np.sort(positions)
            xb = self.to_tensor(self.dataset.rows(positions))
            yield xb, xb


class _DivergenceCheck(Callback):
    """Stops training as soon as an epoch ends with a non-finite loss or weight."""

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        row = net.history[-1]
        for key in ("train_loss", "valid_loss"):
            if key in row and not np.isfinite(row[key]):
                what = f"the {key.replace('_', ' ')} is {row[key]}"
                raise TrainingDiverged(epoch, what)
        for name, param in net.module_.named_parameters():
            if not torch.isfinite(param).all():
                raise TrainingDiverged(epoch, f"parameter {name!r} is not finite")


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` whose target is its input.

    Parameters
    ----------
    to_tensor : callable
        Turns a dense ndarray batch into the float32 tensor on ``device`` that
        the module sees (scaling included).

    generator : torch.Generator
        Source of the shuffling order; seeded by the estimator for each fit.

    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, to_tensor, generator, **kwargs):
        super().__init__(*args, **kwargs)
        self.to_tensor = to_tensor
        self.generator = generator

    def get_default_callbacks(self):
        return [*super().get_default_callbacks(), ("divergence", _DivergenceCheck())]

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            batch_size=self.batch_size,
            shuffle=training,
            generator=self.generator,
            to_tensor=self.to_tensor,
        )

    def get_loss(self, y_pred, y_true, X=None, training=False):
        x_hat, _ = y_pred
        return self.criterion_(x_hat, y_true)


def as_tensor(X):
    """A CPU tensor over the ndarray X, copying only when torch needs it.

    torch cannot wrap read-only memory (a read-only memory map, a pandas
    copy-on-write buffer) or non-contiguous strides; such a batch is copied.
    """
    X = np.asarray(X)
    if not (X.flags.writeable and X.flags.c_contiguous):
        X = np.array(X, order="C")
    return torch.from_numpy(X)


class InputScaler:
    """The affine map between the user's units and the module's.

    ``(x - mean) / scale`` on the way in, its inverse on the way out. ``mean``
    is ``None`` for data used as is (``loss="bce"``, where the data must stay
    in [0, 1]). Centering happens in float64 when either the input or the
    requested output is float64, so large offsets do not lose precision; the
    result is cast to ``dtype`` (float32 for training) and moved to ``device``.
    """

    def __init__(self, mean, scale, device):
        self.mean = None if mean is None else torch.as_tensor(mean)
        self.scale = float(scale)
        self.device = device

    def __call__(self, X, dtype=torch.float32):
        t = as_tensor(X)
        work = torch.float64 if torch.float64 in (t.dtype, dtype) else torch.float32
        t = t.to(work)
        if self.mean is not None:
            t = (t - self.mean.to(work)) / self.scale
        return t.to(device=self.device, dtype=dtype)

    def inverse(self, t, dtype):
        """Module-space tensor -> ndarray of ``dtype`` in the user's units."""
        x = t.detach().cpu().numpy()
        if self.mean is not None:
            x = x.astype(np.float64) * self.scale + self.mean.numpy()
        return x.astype(dtype, copy=False)
