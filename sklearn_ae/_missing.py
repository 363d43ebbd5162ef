"""Missing values (NaN) in the training and inference data.

A missing cell is a NaN of the input. Everything an autoencoder does with one
lives here, so that the rest of the fit only calls these functions:

- **Checking.** The input checks refuse infinity and let NaN through;
  :class:`MissingScan`, shown each chunk of the statistics pass
  (``_stats.DataStats``, a first pass) or of a continued ``partial_fit``'s
  check (:meth:`MissingScan.check`), tells whether training data have
  missing cells and refuses rows, and on a first fit columns, with nothing
  observed: they carry no information to train on, and a column's mean would
  be undefined.
- **Statistics.** The statistics pass sums the observed cells only (a
  missing one counts as at the shift, 0 after centring), and
  :class:`MissingScan` counts the observed cells of each column: the scaler's
  mean is the mean of the observed values and its scale the RMS of their
  deviations. :func:`mean_filled_moments` turns PCA's sums into those of the
  rows with their missing cells at the mean, with no second pass.
- **The fill.** In module space (``(x - mean_) / scale_``) the training mean
  is 0, so :func:`fill_missing` sets a missing input to 0: the network sees
  the training mean of that feature where the value is missing.
- **The masked loss.** :func:`masked_mse` is the mean squared error over the
  observed cells of the batch only: a missing cell's residual is replaced by
  a constant 0 before squaring, so it adds nothing to the loss and nothing to
  any gradient. With no NaN it is ``torch.nn.MSELoss``'s value.
- **PCA from incomplete rows.** The PCA start is the PCA of the mean-filled
  rows, which is ``SimpleImputer(strategy="mean")`` followed by ``PCA``. A
  model that keeps PCA's solution is that pipeline, so the network's
  validation test keeps the never-worse promise against it.
"""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import assert_all_finite

from ._data import chunk_slices, dense

__all__ = [
    "MissingScan",
    "fill_centred_",
    "fill_missing",
    "masked_mse",
    "mean_filled_moments",
    "observed_row_mse",
]


def _values(chunk):
    return chunk.data if sp.issparse(chunk) else np.asarray(chunk)


class MissingScan:
    """Finds the missing cells of training data, chunk by chunk.

    Fed the chunks of the one pass a training call makes over X before its
    epochs (``_stats.DataStats.read``, or :meth:`check` when continuing a
    model), so no extra pass over X is made; it refuses a row with nothing
    observed, and with ``columns`` (a first fit, which computes the
    features' means) a column with nothing observed.

    Parameters
    ----------
    n_features : int
        X's width.

    columns : bool
        Whether to refuse columns with no observed value too.

    Attributes
    ----------
    has_missing : bool
        Whether a chunk seen so far had a missing cell.

    observed : ndarray of shape (n_features,)
        Each column's count of observed cells so far.
    """

    def __init__(self, n_features, *, columns):
        self.columns = columns
        self.has_missing = False
        self.observed = np.zeros(n_features, dtype=np.int64)

    def update(self, start, chunk):
        """Count the observed cells of ``chunk``, X's rows from ``start``.

        Returns
        -------
        missing : ndarray of bool or None
            The dense chunk's missing cells, or None when it has none.
        """
        values = _values(chunk)
        if not (values.size and np.isnan(values.min())):
            self.observed += chunk.shape[0]
            return None
        self.has_missing = True
        missing = np.isnan(dense(chunk))
        empty = np.flatnonzero(missing.all(axis=1))
        if len(empty):
            raise ValueError(
                f"Row {start + empty[0]} of X has no observed value (all "
                "NaN): a row with nothing observed cannot be trained on. Drop "
                "such rows before fitting."
            )
        self.observed += len(missing) - missing.sum(axis=0)
        return missing

    def finish(self):
        """Whether X had missing cells; refuses empty columns (``columns``)."""
        if self.columns and self.has_missing and not self.observed.all():
            empty = np.flatnonzero(self.observed == 0).tolist()
            raise ValueError(
                f"Features {empty} of X have no observed value (all NaN), so "
                "their mean and scale are undefined. Drop these columns before "
                "fitting."
            )
        return self.has_missing

    @classmethod
    def check(cls, X):
        """A continued model's one check of X: finiteness (NaN allowed, with
        scikit-learn's messages) and the missing cells, chunk by chunk.

        Returns
        -------
        has_missing : bool
        """
        scan = cls(X.shape[1], columns=False)
        for rows in chunk_slices(X.shape[0], getattr(X, "row_chunks", None)):
            chunk = X[rows]
            assert_all_finite(_values(chunk), allow_nan=True, input_name="X")
            scan.update(rows.start, chunk)
        return scan.finish()


def mean_filled_moments(moments, delta):
    """PCA's sums of rows whose missing cells are at the mean, from those
    taken with them at the shift.

    Parameters
    ----------
    moments : tuple
        ``(n, sum, cross, A, M, n_missing)`` of rows minus the shift with
        their missing cells at 0 (``c``): ``A = sum(c.T @ m)`` and
        ``M = sum(m.T @ m)`` for the missing masks ``m``, ``n_missing`` each
        column's count of missing cells.

    delta : ndarray of shape (n_features,)
        The mean minus the shift.

    Returns
    -------
    moments : tuple
        ``(n, sum, cross)`` of ``c + m * delta``, exactly.
    """
    n, total, cross, a, m, n_missing = moments
    if a is None:
        return n, total, cross
    a_delta = a * delta
    cross = cross + a_delta + a_delta.T + m * np.outer(delta, delta)
    return n, total + n_missing * delta, cross


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
