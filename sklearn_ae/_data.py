"""The data path: input checking, lazy rows and the row dataset.

Nothing here loads or copies a large input whole.

**Checking.** ``validate_data`` checks shape, dtype and feature names; it
does not copy a float32 or float64 C-contiguous array (a read-only
``np.memmap`` included) whose dtype it accepts. Its finiteness check is
switched off here and done chunk by chunk instead, with scikit-learn's own
``assert_all_finite`` (and so scikit-learn's own messages), so no full-size
temporary (the boolean mask of ``np.isfinite(X)``) is ever made. Infinity
is refused; NaN is a missing value (see ``_missing``).

A dask array is validated on its first row (shape, dtype and feature checks
need no data) and then read through :class:`LazyRows`, which computes only the
rows a batch asks for.

**Data sets.** :class:`RowDataset` is the rows of X a fit trains or validates
on; the engine's ``_engine._net.BatchIterator`` cuts its batches.
"""

import mmap
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import assert_all_finite, gen_batches

from ._compat import validate_data

__all__ = [
    "TENSOR_CACHE_BYTES",
    "LazyRows",
    "RowDataset",
    "as_tensor",
    "check_X",
    "chunk_slices",
    "dense",
    "is_dask_array",
    "is_memory_mapped",
    "iter_row_slices",
    "map_rows",
]

# Rows per chunk wherever X is read in pieces outside training: the input
# checks, the scaler's statistics, transform, inverse_transform and scoring.
# Large enough to keep the matrix multiplies efficient, small enough to bound
# memory (4096 x 784 float32 is 12 MiB). Fixed, so results never depend on
# batch_size.
CHUNK_ROWS = 4096

# Largest training set (as float32 on the device) that is turned into one
# tensor per fit; 256 MiB is about 85,000 MNIST digits.
TENSOR_CACHE_BYTES = 256 * 2**20

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
        self.row_chunks = tuple(int(c) for c in X.chunks[0])

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        if not isinstance(key, slice):
            key = np.asarray(key)
            if key.dtype == bool:
                key = np.flatnonzero(key)
        return np.asarray(self.X[key].compute(scheduler="synchronous"))


def iter_row_slices(n_rows):
    """Slices of ``CHUNK_ROWS`` rows covering ``range(n_rows)``."""
    return gen_batches(n_rows, CHUNK_ROWS)


def chunk_slices(n_rows, row_chunks=None):
    """Row slices covering ``range(n_rows)``, of at most ``CHUNK_ROWS`` rows,
    each inside one of ``row_chunks`` (a dask array's row chunks,
    ``LazyRows.row_chunks``), so that no chunk is computed twice."""
    if row_chunks is None:
        yield from iter_row_slices(n_rows)
        return
    start = 0
    for size in row_chunks:
        for part in iter_row_slices(size):
            yield slice(start + part.start, start + part.stop)
        start += size


def dense(X):
    """A chunk of rows as an ndarray (a sparse chunk densified)."""
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def map_rows(fn, X, out):
    """``out[rows] = fn(dense(X[rows]))`` chunk by chunk, in inference mode."""
    with torch.inference_mode():
        for rows in iter_row_slices(X.shape[0]):
            out[rows] = fn(dense(X[rows]))
    return out


def as_tensor(X):
    """A CPU tensor over the ndarray X, copying only when torch needs it.

    torch cannot wrap read-only memory (a read-only memory map, a pandas
    copy-on-write buffer) or non-contiguous strides; such a batch is copied.
    """
    X = np.asarray(X)
    if not (X.flags.writeable and X.flags.c_contiguous):
        X = np.array(X, order="C")
    return torch.from_numpy(X)


def is_memory_mapped(X):
    """Whether the ndarray X (or an array it is a view of) lives in a memory map."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


def _check_finite_chunked(X):
    for rows in iter_row_slices(X.shape[0]):
        chunk = X[rows]
        values = chunk.data if sp.issparse(chunk) else np.asarray(chunk)
        # NaN is a missing value (see _missing); infinity is refused.
        assert_all_finite(values, allow_nan=True, input_name="X")


def check_X(estimator, X, *, reset, finite=True):
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

    finite : bool, default=True
        Whether to check finiteness here, chunk by chunk; a fit that builds
        a model checks it in its statistics pass instead (``_stats``).

    Returns
    -------
    X : ndarray, np.memmap, CSR matrix or LazyRows
        Float32 or float64 data that support ``X[rows]`` with row slices and
        sorted integer arrays. A float memory map comes back uncopied.
    """
    if is_dask_array(X):
        return _check_dask(estimator, X, reset=reset, finite=finite)
    X = validate_data(
        estimator,
        X,
        accept_sparse="csr",
        dtype=_FLOATS,
        ensure_all_finite=False,
        reset=reset,
    )
    if finite:
        _check_finite_chunked(X)
    return X


def _check_dask(estimator, X, *, reset, finite):
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
    if finite:
        _check_finite_chunked(rows)
    return rows


class RowDataset(torch.utils.data.Dataset):
    """Rows of a 2-D array, optionally restricted to ``indices``.

    A torch ``Dataset`` only so that skorch passes it through unchanged; it is
    read a batch at a time by the engine's ``BatchIterator``, never item by item.

    Parameters
    ----------
    X : ndarray, np.memmap, scipy sparse CSR matrix or LazyRows
        The data, of shape (n, n_features). It is never copied as a whole.

    indices : ndarray of int or None
        The rows that belong to this dataset (e.g. the training part of a
        split); ``None`` means all rows.
    """

    def __init__(self, X, indices=None):
        self.X = X
        self.indices = indices

    def __len__(self):
        return self.X.shape[0] if self.indices is None else len(self.indices)

    def subset(self, positions):
        """The rows at ``positions`` (sorted positions in this dataset; None
        for all of them) as a dataset of the same source."""
        if positions is None:
            return self
        indices = positions if self.indices is None else self.indices[positions]
        return RowDataset(self.X, indices)

    def rows(self, positions):
        """Dense ndarray of the rows at ``positions`` (positions in this dataset)."""
        if self.indices is not None:
            positions = self.indices[positions]
        return dense(self.X[positions])

    def chunk_bounds(self):
        """Where the source's chunks start, in this dataset's positions, or None.

        ``[0, b1, ..., len(self)]`` for a dask array (its row chunks) or a
        memory map (chunks of ``CHUNK_ROWS`` rows), whose reads cost whole
        chunks or pages; None for in-memory data, read row by row.
        """
        X = self.X
        if isinstance(X, LazyRows):
            starts = np.cumsum((0, *X.row_chunks))
        elif isinstance(X, np.ndarray) and is_memory_mapped(X):
            starts = np.append(np.arange(0, X.shape[0], CHUNK_ROWS), X.shape[0])
        else:
            return None
        if self.indices is not None:
            starts = np.searchsorted(self.indices, starts)
        return np.unique(starts)  # empty chunks (of a subset) dropped

    def is_small_dense(self):
        """Whether the rows are an in-memory ndarray small enough to cache whole."""
        X = self.X
        if sp.issparse(X) or not isinstance(X, np.ndarray) or is_memory_mapped(X):
            return False
        return len(self) * X.shape[1] * 4 <= TENSOR_CACHE_BYTES

    def to_tensor(self, convert):
        """All rows as one tensor made by ``convert``, converted in chunks."""
        n = len(self)
        out = None
        for rows in iter_row_slices(n):
            if self.indices is None:
                t = convert(dense(self.X[rows]))  # a view, not a gathered copy
            else:
                t = convert(self.rows(np.arange(rows.start, rows.stop)))
            if out is None:
                out = torch.empty((n, *t.shape[1:]), dtype=t.dtype, device=t.device)
            out[rows] = t
        return out
