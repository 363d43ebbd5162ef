"""Missing values (NaN) in the training and inference data.

A missing cell is a NaN of the input. Everything an autoencoder does with one
lives here, so that the rest of the fit only calls these functions:

- **Checking.** The input checks (``_data.check_X``) reject infinity and let
  NaN through; :class:`MissingScan`, shown each chunk of that pass, tells
  whether training data have missing cells and refuses rows, and on a first
  fit columns, with nothing observed: they carry no information to train on,
  and a column's mean would be undefined.
- **Statistics.** :func:`nan_sums` gives per-column sums and counts of the
  observed cells, so the scaler's mean is the mean of the observed values and
  its scale the RMS of their deviations; with no NaN these are the plain sums.
- **The fill.** In module space (``(x - mean_) / scale_``) the training mean
  is 0, so :func:`fill_missing` sets a missing input to 0: the network sees
  the training mean of that feature where the value is missing.
- **The masked loss.** :func:`masked_mse` is the mean squared error over the
  observed cells of the batch only: a missing cell's residual is replaced by
  a constant 0 before squaring, so it adds nothing to the loss and nothing to
  any gradient. With no NaN it is ``torch.nn.MSELoss``'s value.
- **PCA from incomplete rows.** :func:`fill_centred_` sets a missing cell of
  rows centred on the observed means to 0: the PCA start is the PCA of the
  mean-filled rows, which is ``SimpleImputer(strategy="mean")`` followed by
  ``PCA``. A model that keeps PCA's solution is that pipeline, so the
  network's validation test keeps the never-worse promise against it.
"""

import numpy as np
import torch

from ._data import dense

__all__ = [
    "MissingScan",
    "fill_centred_",
    "fill_missing",
    "masked_mse",
    "nan_sums",
    "observed_row_mse",
]


def _values(chunk):
    return chunk.data if hasattr(chunk, "nnz") else np.asarray(chunk)


class MissingScan:
    """Finds the missing cells of training data, chunk by chunk.

    Fed the chunks of the input check's pass (``_data.check_X``), so no
    extra pass over X is made; it refuses a row with nothing observed, and
    with ``columns`` (a first fit, which computes the features' means) a
    column with nothing observed.

    Parameters
    ----------
    columns : bool
        Whether to refuse columns with no observed value too.
    """

    def __init__(self, *, columns):
        self.columns = columns
        self.has_missing = False
        self.observed = None

    def update(self, rows, chunk):
        """Count the observed cells of ``chunk``, the rows ``rows`` of X."""
        if self.observed is None:
            self.observed = np.zeros(chunk.shape[1], dtype=np.int64)
        if not np.isnan(_values(chunk).sum()):
            self.observed += rows.stop - rows.start
            return
        self.has_missing = True
        seen = ~np.isnan(dense(chunk))
        empty = np.flatnonzero(~seen.any(axis=1))
        if len(empty):
            raise ValueError(
                f"Row {rows.start + empty[0]} of X has no observed value (all "
                "NaN): a row with nothing observed cannot be trained on. Drop "
                "such rows before fitting."
            )
        self.observed += seen.sum(axis=0)

    def finish(self):
        """Whether X had missing cells; refuses empty columns (``columns``)."""
        observed = self.observed
        if self.columns and self.has_missing and not observed.all():
            empty = np.flatnonzero(observed == 0).tolist()
            raise ValueError(
                f"Features {empty} of X have no observed value (all NaN), so "
                "their mean and scale are undefined. Drop these columns before "
                "fitting."
            )
        return self.has_missing


def nan_sums(chunk):
    """Per-column float64 ``(sums, counts)`` of the chunk's observed values."""
    chunk = dense(chunk)
    total = chunk.sum(axis=0, dtype=np.float64)
    if np.isnan(total).any():
        seen = ~np.isnan(chunk)
        return np.where(seen, chunk, 0).sum(axis=0, dtype=np.float64), seen.sum(0)
    return total, np.full(chunk.shape[1], chunk.shape[0], dtype=np.int64)


def fill_centred_(centred):
    """Rows centred on the observed means, their missing cells set to 0 (the
    mean), in place; returns them."""
    missing = np.isnan(centred)
    if missing.any():
        centred[missing] = 0.0
    return centred


def fill_missing(x):
    """A module-space tensor with its missing cells set to 0, the training mean."""
    return torch.nan_to_num(x, nan=0.0)


def masked_mse(x_hat, target):
    """The mean squared error over the observed (non-NaN) cells of ``target``.

    A missing cell's residual is the constant 0, so the cell adds nothing to
    the loss and its gradient is exactly 0.
    """
    observed = ~torch.isnan(target)
    residual = torch.where(observed, x_hat - torch.nan_to_num(target), 0.0)
    return residual.square().sum() / observed.sum().clamp_min(1)


def observed_row_mse(x, x_hat):
    """Each row's mean squared error over its observed cells (numpy, float64).

    A row with nothing observed has no error to average: NaN.
    """
    residual = np.square(np.asarray(x, dtype=np.float64) - x_hat)
    missing = np.isnan(residual)
    if not missing.any():
        return residual.mean(axis=1)
    counts = (~missing).sum(axis=1)
    residual[missing] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return residual.sum(axis=1) / counts
