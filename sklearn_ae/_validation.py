"""Input validation that never loads or copies a large input whole.

``validate_data`` checks shape, dtype and feature names; it does not copy a
float32 or float64 C-contiguous array (a read-only ``np.memmap`` included)
whose dtype it accepts. Its finiteness check is switched off here and done
chunk by chunk instead, with scikit-learn's own ``assert_all_finite`` (and so
scikit-learn's own messages), so no full-size temporary (the boolean mask of
``np.isfinite(X)``) is ever made.

A dask array is validated on its first row (shape, dtype and feature checks
need no data) and then read through :class:`LazyRows`, which computes only the
rows a batch asks for.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from ._compat import validate_data

__all__ = ["LazyRows", "check_X", "is_dask_array"]

# Rows per chunk of the finiteness scan (4096 x 784 float32 is 12 MiB).
_CHUNK_ROWS = 4096

_FLOATS = [np.float64, np.float32]


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (without importing dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


class LazyRows:
    """Row access to a dask array, computing only the rows asked for.

    ``rows[positions]`` and ``rows[slice]`` return ndarrays; the whole array
    is never computed. Computation uses dask's synchronous scheduler, so a
    fit inside a dask worker does not submit tasks back to the cluster.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        The lazily evaluated data.
    """

    def __init__(self, X):
        self.X = X
        self.shape = tuple(int(s) for s in X.shape)
        self.dtype = np.dtype(X.dtype)
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool:
                key = np.flatnonzero(key)
        return np.asarray(self.X[key].compute(scheduler="synchronous"))


def _check_finite_chunked(X):
    for start in range(0, X.shape[0], _CHUNK_ROWS):
        chunk = X[start : start + _CHUNK_ROWS]
        values = chunk.data if sp.issparse(chunk) else np.asarray(chunk)
        assert_all_finite(values, input_name="X")


def check_X(estimator, X, *, reset):
    """``validate_data`` for a training or inference entry point, streamed.

    Parameters
    ----------
    estimator : AutoencoderTransformer
        The estimator whose ``n_features_in_`` / ``feature_names_in_`` are
        set (``reset=True``) or checked (``reset=False``).

    X : array-like, sparse matrix, np.memmap or dask array
        The input.

    reset : bool
        True in ``fit`` and the first ``partial_fit``; False elsewhere.

    Returns
    -------
    X : ndarray, np.memmap, CSR matrix or LazyRows
        Float32 or float64 data that support ``X[rows]`` with row slices and
        sorted integer arrays. A float memory map comes back uncopied.
    """
    if is_dask_array(X):
        return _check_dask(estimator, X, reset=reset)
    X = validate_data(
        estimator,
        X,
        accept_sparse="csr",
        dtype=_FLOATS,
        ensure_all_finite=False,
        reset=reset,
    )
    _check_finite_chunked(X)
    return X


def _check_dask(estimator, X, *, reset):
    if X.ndim != 2:
        # Let scikit-learn phrase the error on a tiny computed sample.
        validate_data(estimator, np.asarray(X[:2].compute()), reset=reset)
    if not all(isinstance(s, Integral) for s in X.shape):
        raise ValueError(
            "A dask array with unknown chunk sizes cannot be streamed; call "
            "X.compute_chunk_sizes() first."
        )
    if X.shape[0] == 0:
        validate_data(estimator, np.empty((0, X.shape[1])), reset=reset)
    if np.dtype(X.dtype) not in (np.float32, np.float64):
        X = X.astype(np.float64)
    # Shape, dtype kind and the feature count on the first row.
    validate_data(
        estimator,
        np.asarray(X[:1].compute(scheduler="synchronous")),
        dtype=_FLOATS,
        ensure_all_finite=False,
        reset=reset,
    )
    rows = LazyRows(X)
    _check_finite_chunked(rows)
    return rows
