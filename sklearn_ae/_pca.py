"""PCA of the training data, streamed: the spectrum behind ``n_components``
given as a fraction or ``"mle"``, and the principal axes behind ``init="pca"``.

The covariance matrix is accumulated over row chunks in float64 (a memory map,
a sparse matrix or a dask array is never densified whole) and decomposed with
``numpy.linalg.eigh``: scikit-learn's ``svd_solver="covariance_eigh"``, which
gives the same spectrum and axes as a full SVD. For more than
``MAX_COVARIANCE_FEATURES`` features the d x d matrix would be too large, and a
(randomized, for a few axes) SVD of the centred data is used instead, which
needs the data in memory.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils.extmath import randomized_svd, svd_flip

from ._compat import infer_dimension
from ._data import dense, iter_row_slices

__all__ = ["MAX_COVARIANCE_FEATURES", "principal_axes", "resolve_n_components"]

# 4096 x 4096 float64 is 128 MiB.
MAX_COVARIANCE_FEATURES = 4096


def _mean(X):
    total = np.zeros(X.shape[1])
    for rows in iter_row_slices(X.shape[0]):
        total += dense(X[rows]).sum(axis=0, dtype=np.float64)
    return total / X.shape[0]


def _covariance(X, mean):
    n, d = X.shape
    cov = np.zeros((d, d))
    for rows in iter_row_slices(n):
        centred = dense(X[rows]).astype(np.float64) - mean
        cov += centred.T @ centred
    return cov / max(n - 1, 1)


def _flip(axes):
    """Deterministic signs, as scikit-learn's PCA: each axis's largest entry > 0."""
    _, axes = svd_flip(np.zeros((1, axes.shape[0])), axes, u_based_decision=False)
    return axes


def spectrum(X, mean=None, n_axes=0):
    """Variances along the principal axes (descending) and the first ``n_axes`` axes.

    Parameters
    ----------
    X : ndarray, np.memmap, sparse CSR matrix or lazy rows
        The data, of shape (n_samples, n_features).

    mean : ndarray of shape (n_features,) or None
        The data's per-feature mean, when already known.

    n_axes : int, default=0
        How many principal axes to return.

    Returns
    -------
    variances : ndarray of shape (min(n_samples, n_features),) or None
        The spectrum (``PCA.explained_variance_``); None when only a few axes
        of wide data were computed, by a randomized SVD.

    axes : ndarray of shape (n_axes, n_features)
        The principal axes as rows (``PCA.components_``).
    """
    n, d = X.shape
    mean = _mean(X) if mean is None else mean
    if d <= MAX_COVARIANCE_FEATURES:
        variances, vectors = np.linalg.eigh(_covariance(X, mean))
        order = np.argsort(variances)[::-1][: min(n, d)]
        variances = np.clip(variances[order], 0, None)
        return variances, _flip(vectors[:, order[:n_axes]].T)
    centred = dense(X[:]).astype(np.float64) - mean
    if n_axes and n_axes < 0.8 * min(n, d):
        _, _, axes = randomized_svd(centred, n_axes, random_state=0)
        return None, _flip(axes)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    return singular**2 / max(n - 1, 1), _flip(axes[:n_axes])


def principal_axes(X, mean, n_axes):
    """The first ``n_axes`` principal axes of X, as rows (``PCA.components_``)."""
    return spectrum(X, mean, n_axes)[1]


def resolve_n_components(n_components, X, mean=None):
    """The number of components that ``n_components`` means for X, as PCA does.

    ``None`` is ``min(n_samples, n_features)``; an int is itself (it may exceed
    the number of features: an autoencoder may be overcomplete); a float in
    (0, 1) is the fewest principal components whose cumulated explained
    variance exceeds it; ``"mle"`` is Minka's choice (PCA's
    ``n_components="mle"``), which needs ``n_samples >= n_features``.
    """
    n, d = X.shape
    if n_components is None:
        return min(n, d)
    if isinstance(n_components, Integral):
        return int(n_components)
    if n_components == "mle" and n < d:
        raise ValueError(
            "n_components='mle' is only supported if n_samples >= n_features"
        )
    variances, _ = spectrum(X, mean)
    if n_components == "mle":
        return int(infer_dimension(variances, n))
    assert isinstance(n_components, Real) and 0 < n_components < 1
    ratios = np.cumsum(variances) / max(variances.sum(), np.finfo(float).tiny)
    # As PCA: the first count whose ratio exceeds the fraction (side="right").
    needed = np.searchsorted(ratios, n_components, side="right") + 1
    return int(min(needed, len(ratios)))
