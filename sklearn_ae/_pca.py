"""PCA of the training data, streamed, and PCA as the network's start and rival.

:class:`RowPCA` gives the spectrum behind ``n_components`` given as a fraction
or ``"mle"`` and the principal axes behind ``init="pca"``. The sums behind the
covariance matrix are accumulated over row chunks in float64 (a memory map, a
sparse matrix or a dask array is never densified whole), for the training and
the validation rows separately, so one pass gives the PCA of either part and
of all rows; ``numpy.linalg.eigh`` then decomposes it (scikit-learn's
``svd_solver="covariance_eigh"``, the same spectrum and axes as a full SVD).
Every process of a data-parallel fit computes the same numbers from the same
X. For more than ``MAX_COVARIANCE_FEATURES`` features the d x d matrix would
be too large, and an SVD of the centred rows is used instead (randomized for a
few axes), which needs those rows in memory.

:class:`PCAStart` is ``init="pca"``: the network starts at PCA's solution, and
with early stopping PCA stays in the race (see ``AutoencoderTransformer``'s
Notes and ``benchmarks/pca_parity.md`` for the measurements behind each rule).
"""

import inspect
import os
import warnings

import numpy as np
from sklearn.utils.extmath import randomized_svd, svd_flip

from ._compat import infer_dimension
from ._data import CHUNK_ROWS, dense, iter_row_slices
from ._engine._threads import cpu_threads
from ._missing import fill_centred_
from ._modules import init_from_pca

__all__ = [
    "DECISION_FRACTION",
    "MAX_COVARIANCE_FEATURES",
    "MIN_TEST_ROWS",
    "PCA_TEST_LEVEL",
    "PCAStart",
    "RowPCA",
    "decision_split",
    "resolve_n_components",
    "warn_overcomplete",
]

# 4096 x 4096 float64 is 128 MiB.
MAX_COVARIANCE_FEATURES = 4096

# The trained network replaces PCA's solution only if its per-row errors on
# the decision rows are lower by a one-sided paired t-test at this level: at
# 5% the studies kept fits that were worse than PCA on test rows (diabetes
# 1.03x; on the decision half, benchmarks/pca_stress.py's wine 1.05x), at 1%
# none.
PCA_TEST_LEVEL = 0.01

# Fewer validation rows than this (half of them deciding) cannot tell a
# network from PCA's solution: the fit then keeps PCA's solution untrained.
MIN_TEST_ROWS = 10

# The share of the validation rows kept for the PCA-or-network decision; the
# others choose the epoch. The minimum of a noisy validation curve is biased
# low on the rows that drew it, so the t-test must not see them (#22).
DECISION_FRACTION = 0.5


def decision_split(valid, seed):
    """``(select, decide)``: the validation rows that choose the epoch (early
    stopping's) and the disjoint ones that decide between the network and
    PCA's solution, both sorted; ``DECISION_FRACTION`` of them (rounded
    down) decide. Drawn from ``seed``, apart from the validation split's draw.
    """
    valid = np.asarray(valid)
    n_decide = int(DECISION_FRACTION * len(valid))
    order = np.random.default_rng([seed, 22]).permutation(len(valid))
    return np.sort(valid[order[n_decide:]]), np.sort(valid[order[:n_decide]])


class _Fit:
    """One PCA: ``mean`` (n_features,), ``variances`` (descending, or None when
    only a few axes of wide data were computed) and ``axes`` (as rows)."""

    def __init__(self, mean, variances, axes):
        self.mean = mean
        self.variances = variances
        self.axes = axes


def _flip(axes):
    """Deterministic signs, as scikit-learn's PCA: each axis's largest entry > 0."""
    _, axes = svd_flip(np.zeros((1, axes.shape[0])), axes, u_based_decision=False)
    return axes


def _chunks(X, rows):
    if rows is None:
        for part in iter_row_slices(X.shape[0]):
            yield dense(X[part])
    else:
        for part in iter_row_slices(len(rows)):
            yield dense(X[rows[part]])


def _sums(X, rows, shift):
    """``(n, sum, cross-products)`` of ``X[rows] - shift`` in float64."""
    d = X.shape[1]
    n, total, cross = 0, np.zeros(d), np.zeros((d, d))
    for chunk in _chunks(X, rows):
        # Missing cells at the mean: the PCA of mean-filled rows (_missing).
        centred = fill_centred_(chunk.astype(np.float64) - shift)
        n += len(centred)
        total += centred.sum(axis=0)
        cross += centred.T @ centred
    return n, total, cross


class RowPCA:
    """PCA of the rows of X: of all of them, or of the training part.

    Parameters
    ----------
    X : ndarray, np.memmap, sparse CSR matrix or lazy rows
        The data, of shape (n_samples, n_features).

    shift : ndarray of shape (n_features,) or None
        A value close to the mean (e.g. the scaler's), subtracted before the
        sums for their precision; None computes the mean first.

    train, valid : ndarray of int or None
        The training and validation rows; None and None for all rows.

    moments : list of tuple or None, default=None
        The sums ``(n, sum, cross-products)`` of ``X[train] - shift`` (and of
        ``X[valid] - shift``), when already taken (``_stats.DataStats``);
        None sums them on first use.
    """

    def __init__(self, X, shift=None, train=None, valid=None, moments=None):
        self.X = X
        self.shift = shift
        self.train = train
        self.valid = valid
        self._moments = moments

    def _parts(self):
        if self._moments is None:
            X = self.X
            if self.shift is None:
                total = np.zeros(X.shape[1])
                for chunk in _chunks(X, None):
                    total += chunk.sum(axis=0, dtype=np.float64)
                self.shift = total / X.shape[0]
            parts = [_sums(X, self.train, self.shift)]
            if self.valid is not None:
                parts.append(_sums(X, self.valid, self.shift))
            self._moments = parts
        return self._moments

    def fit(self, rows="all", n_axes=0):
        """The PCA of ``rows`` ("all" or "train"), with its first ``n_axes`` axes."""
        d = self.X.shape[1]
        if d > MAX_COVARIANCE_FEATURES:
            return self._fit_wide(rows, n_axes)
        # The cross-products of one chunk are this PCA's step of work (see
        # _threads): small data sums and decomposes on one thread.
        with cpu_threads(2.0 * min(self.X.shape[0], CHUNK_ROWS) * d * d):
            parts = self._parts()
            if rows == "train" or len(parts) == 1:
                n, total, cross = parts[0]
            else:
                n, total, cross = (a + b for a, b in zip(*parts, strict=True))
            mean = self.shift + total / n
            cov = (cross - np.outer(total, total) / n) / max(n - 1, 1)
            variances, vectors = np.linalg.eigh(cov)
        order = np.argsort(variances)[::-1][: min(n, d)]
        variances = np.clip(variances[order], 0, None)
        return _Fit(mean, variances, _flip(vectors[:, order[:n_axes]].T))

    def _fit_wide(self, rows, n_axes):
        index = self.train if rows == "train" else None
        data = dense(self.X[:] if index is None else self.X[index])
        data = data.astype(np.float64)
        mean = np.nanmean(data, axis=0)
        data = fill_centred_(data - mean)
        n, d = data.shape
        if n_axes and n_axes < 0.8 * min(n, d):
            _, _, axes = randomized_svd(data, n_axes, random_state=0)
            return _Fit(mean, None, _flip(axes))
        _, singular, axes = np.linalg.svd(data, full_matrices=False)
        return _Fit(mean, singular**2 / max(n - 1, 1), _flip(axes[:n_axes]))


def resolve_n_components(n_components, shape, pca=None):
    """The number of components that ``n_components`` means, as PCA does.

    ``None`` is ``min(n_samples, n_features)``; an int is itself (it may exceed
    the number of features: an autoencoder may be overcomplete); a float in
    (0, 1) is the fewest principal components whose cumulated explained
    variance exceeds it; ``"mle"`` is Minka's choice (PCA's
    ``n_components="mle"``), which needs ``n_samples >= n_features``. The
    last two need ``pca``, a :class:`RowPCA` of the data.
    """
    n, d = shape
    if n_components is None:
        return min(n, d)
    if isinstance(n_components, (int, np.integer)):
        return int(n_components)
    if n_components == "mle" and n < d:
        raise ValueError(
            "n_components='mle' is only supported if n_samples >= n_features"
        )
    variances = pca.fit("all").variances
    if n_components == "mle":
        return int(infer_dimension(variances, n))
    ratios = np.cumsum(variances) / max(variances.sum(), np.finfo(float).tiny)
    # As PCA: the first count whose ratio exceeds the fraction (side="right").
    needed = np.searchsorted(ratios, n_components, side="right") + 1
    return int(min(needed, len(ratios)))


def warn_overcomplete(n_components, n_features, params):
    """Warn when the code is wider than the input and nothing keeps it from
    copying the input: PCA raises there; an overcomplete autoencoder is
    meaningful with a sparsity penalty, denoising noise or a VAE's prior."""
    if n_components <= n_features:
        return
    if params["sparsity"] > 0 or params["noise"] > 0 or params["variational"]:
        return
    warnings.warn(
        f"n_components={n_components} is larger than n_features={n_features}: "
        "the code is overcomplete and the network can learn to copy its input "
        "(PCA raises here). Use n_components <= n_features, or make the wide "
        "code learn features with sparsity > 0, noise > 0 or variational=True.",
        UserWarning,
        stacklevel=_caller_level(),
    )


def _caller_level():
    """``stacklevel`` for a warning to point at the first frame outside
    sklearn_ae and scikit-learn (the user's ``fit``, or a Pipeline's)."""
    import sklearn

    packages = tuple(
        os.path.dirname(path) + os.sep for path in (__file__, sklearn.__file__)
    )
    frame, level = inspect.currentframe().f_back, 1
    while frame is not None and frame.f_code.co_filename.startswith(packages):
        frame, level = frame.f_back, level + 1
    return level


class PCAStart:
    """``init="pca"``: the network starts at PCA's solution, which stays a rival.

    1. The network starts as the PCA of the training rows (its linear maps
       PCA's, its nonlinear corrections zero): :meth:`start`.
    2. With early stopping, the validation rows are split in two (by the
       fit plan, with :func:`decision_split`): the selection rows choose the
       epoch, the decision rows judge it. On the selection rows the start is
       "epoch 0" of the stopping rule (the trainer primes it): its error is
       the score to beat, and its weights are restored if no epoch beats it.
    3. A trained network that does beat it replaces it only if its per-row
       errors on the decision rows, which did not choose the epoch, are lower
       by a one-sided paired t-test at ``PCA_TEST_LEVEL``; otherwise, or when
       the start won, the PCA of all rows is put back, so that the model is
       ``PCA(k).fit(X)`` (:meth:`settle`).

    It never reads the data: the decision rows' errors come from the one
    function it is handed.

    Parameters
    ----------
    pca : RowPCA
        The PCA of the data, with the training and validation rows.

    n_components : int
        The code's width.

    scaler : InputScaler
        The map into module space (centred, divided by ``scale``).

    decision_errors : callable or None, default=None
        ``decision_errors()`` gives each decision row's reconstruction error
        with the net's weights of the moment (``AutoencoderNet.row_errors``
        of the decision rows); dropped by :meth:`settle`. None without early
        stopping.
    """

    def __init__(self, pca, n_components, scaler, decision_errors=None):
        self.pca = pca
        self.n_components = n_components
        self.scaler = scaler
        self.decision_errors = decision_errors
        self.p_value_ = None

    def _apply(self, module, rows):
        fit = self.pca.fit(rows, self.n_components)
        mean = (fit.mean - self.scaler.mean) / self.scaler.scale
        init_from_pca(module, fit.axes, mean)

    def start(self, net):
        """Set the module to the training rows' PCA; note the decision rows'
        errors there."""
        self._apply(net.module_, "train")
        self.errors_ = None
        if self.decision_errors is not None:
            self.errors_ = self.decision_errors()

    def keep_pca(self, net):
        """Put the PCA of all rows in the module: the model is then PCA's."""
        self._apply(net.module_, "all")

    def settle(self, net, best_epoch):
        """After training: keep the network, or PCA's solution, by the
        decision rows; then drop them (a view of X).

        Parameters
        ----------
        net : AutoencoderNet
            The trained net, with the weights of its best epoch.

        best_epoch : int
            The stopping rule's best epoch (0: the start).

        Returns
        -------
        kept_network : bool
        """
        errors, self.decision_errors = self.decision_errors, None
        if best_epoch == 0:
            self.keep_pca(net)
            return False
        gain = self.errors_ - errors()
        self.p_value_ = _one_sided_p(gain)
        if self.p_value_ < PCA_TEST_LEVEL:
            return True
        self.keep_pca(net)
        return False


def _one_sided_p(gain):
    """p-value of a paired t-test that the mean gain is above zero."""
    from scipy import stats

    if not np.any(gain):
        return 1.0
    return float(stats.ttest_1samp(gain, 0.0, alternative="greater").pvalue)
