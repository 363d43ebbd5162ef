"""The training data's statistics, from one chunked pass over X.

:class:`DataStats` reads X once, chunk by chunk, before training and gathers
everything the fit needs from the data before its first epoch: the
finiteness check (scikit-learn's ``assert_all_finite``, with its messages),
the range of the values (``loss="bce"``), the per-feature mean and the global
scale of the input scaler (``loss="mse"``) and the sums behind PCA's
covariance matrix of the training and the validation rows, kept apart (see
``_pca.RowPCA``). The sums are taken about a shift, the first chunk's mean,
which keeps them accurate in float64 however far the data are from zero.

A chunked source (a dask array, a memory map) is read along its own chunks,
and its validation rows are kept in memory when they fit
``TENSOR_CACHE_BYTES``: every later validation pass (PCA's start, each
epoch, PCA's test) then reads them from there rather than from the source.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from ._data import CHUNK_ROWS, TENSOR_CACHE_BYTES, chunk_slices, dense
from ._engine._threads import cpu_threads
from ._pca import MAX_COVARIANCE_FEATURES, RowPCA
from ._scaling import InputScaler

__all__ = ["DataStats"]


class _Sums:
    """``(n, sum, cross-products)`` of rows minus a shift, in float64."""

    def __init__(self, d, cross):
        self.n = 0
        self.total = np.zeros(d)
        self.cross = np.zeros((d, d)) if cross else None

    def add(self, centred):
        self.n += len(centred)
        self.total += centred.sum(axis=0)
        if self.cross is not None:
            self.cross += centred.T @ centred

    def moments(self):
        return self.n, self.total, self.cross


class DataStats:
    """What one pass over the training data gives the fit.

    Use :meth:`read`; the attributes are then set.

    Attributes
    ----------
    n_rows : int
        Rows read.

    shift : ndarray of shape (n_features,)
        The first chunk's mean, subtracted before the sums (float64).

    total : ndarray of shape (n_features,)
        ``sum(x - shift)`` over all rows.

    squares : float
        ``sum((x - shift) ** 2)`` over all rows and features.

    low, high : float
        The smallest and largest value (a sparse matrix's implicit zeros
        counted).

    parts : list of tuple or None
        PCA's sums ``(n, sum, cross-products)`` about ``shift``: of the
        training rows, then of the validation rows when there are any; None
        when PCA is not needed or X is too wide for a covariance matrix.

    valid_rows : ndarray or None
        The validation rows of a chunked source, kept in memory (see the
        module docstring), else None.

    pca : RowPCA
        The PCA of X from these sums (``_pca``).
    """

    @classmethod
    def read(cls, X, *, train=None, valid=None, pca=False, keep_valid=False):
        """One chunked pass over X.

        Parameters
        ----------
        X : ndarray, np.memmap, sparse CSR matrix or LazyRows
            The checked data (``check_X`` without its finiteness check).

        train, valid : ndarray of int or None, default=None
            The training and validation rows (sorted), whose PCA sums are
            kept apart; None and None for all rows.

        pca : bool, default=False
            Whether to sum the cross-products that PCA needs.

        keep_valid : bool, default=False
            Whether to keep the validation rows in memory (X is a chunked
            source), if they fit ``TENSOR_CACHE_BYTES``.

        Returns
        -------
        stats : DataStats
        """
        self = cls()
        n, d = X.shape
        cross = pca and d <= MAX_COVARIANCE_FEATURES
        held_out = np.zeros(n, dtype=bool)
        if valid is not None:
            held_out[valid] = True
        keep_valid = (
            keep_valid
            and valid is not None
            and len(valid) * d * 4 <= TENSOR_CACHE_BYTES
        )
        parts = [_Sums(d, cross)] + ([_Sums(d, cross)] if valid is not None else [])
        self.n_rows, self.shift, self.total, self.squares = n, None, np.zeros(d), 0.0
        self.low, self.high = np.inf, -np.inf
        kept = []
        # The cross-products of one chunk are this pass's step of work (see
        # _threads): small data sum on one thread.
        flops = 2.0 * min(n, CHUNK_ROWS) * d * d if cross else None
        with np.errstate(over="ignore", invalid="ignore"), cpu_threads(flops):
            for rows in chunk_slices(n, getattr(X, "row_chunks", None)):
                chunk = X[rows]
                values = chunk.data if sp.issparse(chunk) else np.asarray(chunk)
                assert_all_finite(values, input_name="X")
                if values.size:
                    self.low = min(self.low, float(values.min()))
                    self.high = max(self.high, float(values.max()))
                chunk = dense(chunk)
                if sp.issparse(X) and values.size < chunk.size:
                    self.low, self.high = min(self.low, 0.0), max(self.high, 0.0)
                if self.shift is None:
                    self.shift = chunk.mean(axis=0, dtype=np.float64)
                centred = chunk.astype(np.float64) - self.shift
                self.total += centred.sum(axis=0)
                self.squares += float(np.einsum("ij,ij->", centred, centred))
                mask = held_out[rows]
                if valid is None:
                    parts[0].add(centred)
                else:
                    parts[0].add(centred[~mask])
                    parts[1].add(centred[mask])
                if keep_valid and mask.any():
                    kept.append(chunk[mask])
        if self.shift is None:
            self.shift = np.zeros(d)
        self.parts = [p.moments() for p in parts] if cross else None
        self.valid_rows = np.concatenate(kept) if keep_valid and kept else None
        self.pca = RowPCA(X, self.shift, train, valid, moments=self.parts)
        return self

    @property
    def mean(self):
        """The per-feature mean (float64)."""
        return self.shift + self.total / self.n_rows

    @property
    def total_squares(self):
        """``sum((x - mean) ** 2)`` over all rows and features: PCA's total
        variance times ``n - 1``."""
        return max(self.squares - float(self.total @ self.total) / self.n_rows, 0.0)

    def scaler(self, loss):
        """The :class:`~sklearn_ae._scaling.InputScaler` for ``loss``.

        With ``loss="mse"``, the mean and the RMS of the centred data (1.0
        for constant data); with ``loss="bce"`` none, once the values are
        checked to lie in [0, 1].
        """
        if loss == "bce":
            if self.low < 0 or self.high > 1:
                raise ValueError(
                    "loss='bce' needs X in [0, 1]; got values in "
                    f"[{self.low:.4g}, {self.high:.4g}]. Rescale X (e.g. with "
                    "MinMaxScaler) or use loss='mse'."
                )
            return InputScaler()
        n, d = self.n_rows, len(self.shift)
        # not X.size: that is nnz if sparse
        scale = np.sqrt(self.total_squares / (n * d)) if n * d else 0.0
        if not (np.isfinite(scale) and np.isfinite(self.squares)):
            raise ValueError(
                "Input contains values too large to be centred and scaled in "
                "float64; rescale X first (e.g. with StandardScaler)."
            )
        return InputScaler(self.mean, scale if scale > 0 else 1.0)
