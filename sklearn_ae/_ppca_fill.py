"""Probabilistic PCA of incomplete rows, the imputer's linear model.

:class:`PPCAFill` fits probabilistic PCA (Tipping and Bishop: a Gaussian
whose covariance is ``k`` principal axes plus isotropic noise) to rows with
missing cells by expectation-maximisation, and fills a missing cell with its
conditional mean given the observed cells of its row. Each row is solved with
its own pattern of missing cells, which is what the autoencoder, whose
network sees a missing cell as the mean, cannot do; on strongly correlated
features (breast_cancer) it is the better imputer, on nonlinear ones the
network is. :class:`~sklearn_ae.AutoencoderImputer` weighs the two by their
errors on held-out observed cells.
"""

import numpy as np

__all__ = ["PPCAFill"]

# Rows solved at once: a stack of (rows, q, q) systems stays a few MiB.
_ROWS = 256


class PPCAFill:
    """Probabilistic PCA of rows with missing cells, fitted by EM.

    Parameters
    ----------
    n_components : int
        The axes kept (``1 <= n_components < n_features``); the other
        directions share one noise variance.

    n_iter : int, default=5
        EM iterations: each fills the missing cells with their conditional
        means under the current model, then refits the model to the filled
        rows.

    exact : bool, default=True
        Whether the refit adds the missing cells' conditional covariances
        (EM proper); without them each iteration costs a few times less and
        the variances of the filled features come out a little low (used to
        compare widths).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    precision_ : ndarray of shape (n_features, n_features)
        The inverse of the model's covariance.
    """

    def __init__(self, n_components, n_iter=5, exact=True):
        self.n_components = n_components
        self.n_iter = n_iter
        self.exact = exact

    def fit(self, X, missing):
        """Fit to X (standardised, NaN where ``missing``)."""
        filled = np.where(missing, 0.0, X)  # start at the (standardised) mean
        spread = 0.0
        for _ in range(self.n_iter):
            self._estimate(filled, spread)
            filled, spread = self._fill(X, missing, spread=self.exact)
            spread = 0.0 if spread is None else spread
        self._estimate(filled, spread)
        return self

    def _estimate(self, filled, spread):
        """The M step: the filled rows' covariance plus the summed
        conditional covariances of their missing cells (``spread``)."""
        n, d = filled.shape
        k = self.n_components
        self.mean_ = filled.mean(axis=0)
        centred = filled - self.mean_
        cov = (centred.T @ centred + spread) / max(n - 1, 1)
        variances, axes = np.linalg.eigh(cov)
        variances, axes = variances[::-1], axes[:, ::-1]
        # The noise: the mean variance off the k axes (none when k = d),
        # floored so that the covariance stays invertible (constant features,
        # k above the rank).
        off_axes = float(variances[k:].mean()) if k < d else 0.0
        noise = max(off_axes, 1e-3 * max(variances[0], 1.0))
        kept = axes[:, :k]
        covariance = (kept * np.maximum(variances[:k], noise)) @ kept.T + noise * (
            np.eye(d) - kept @ kept.T
        )
        self.precision_ = np.linalg.inv(covariance)

    def fill(self, X, missing):
        """X with each missing cell at its conditional mean given its row's
        observed cells: ``P_mm y = -P_mo (x_o - mean_o)`` for the precision
        ``P``, one system per row, of its missing cells only."""
        return self._fill(X, missing)[0]

    def _fill(self, X, missing, spread=False):
        """The filled X and, with ``spread``, the sum of the rows'
        conditional covariances ``inv(P_mm)`` (placed in a d x d matrix)."""
        d = X.shape[1]
        total = np.zeros((d, d)) if spread else None
        out = np.where(missing, 0.0, X)
        counts = missing.sum(axis=1)
        # Rows by their count of missing cells, so that a block's systems,
        # padded to its largest count, are about the same size.
        rows = np.argsort(counts, kind="stable")
        rows = rows[counts[rows] > 0]
        P = self.precision_
        for start in range(0, len(rows), _ROWS):
            r = rows[start : start + _ROWS]
            q = int(counts[r].max())
            # Each row's missing columns, padded with its first one.
            order = np.argsort(~missing[r], axis=1, kind="stable")[:, :q]
            pad = np.arange(q)[None, :] >= counts[r][:, None]
            cols = np.where(pad, order[:, :1], order)
            system = P[cols[:, :, None], cols[:, None, :]]
            system[pad[:, :, None] | pad[:, None, :]] = 0.0
            system[:, np.arange(q), np.arange(q)] += pad  # padding: y = 0
            deviation = np.where(missing[r], 0.0, X[r] - self.mean_)
            rhs = -np.take_along_axis(deviation @ P, cols, axis=1)
            rhs[pad] = 0.0
            if spread:
                both = np.concatenate(
                    [rhs[..., None], np.eye(q)[None].repeat(len(r), 0)], axis=2
                )
                solved = np.linalg.solve(system, both)
                y, inverse = solved[..., 0], solved[..., 1:]
                inverse[pad[:, :, None] | pad[:, None, :]] = 0.0
                np.add.at(total, (cols[:, :, None], cols[:, None, :]), inverse)
            else:
                y = np.linalg.solve(system, rhs[..., None])[..., 0]
            values = self.mean_[cols] + y
            # A padded slot repeats the row's first missing column: same value.
            values = np.where(pad, values[:, :1], values)
            filled = out[r]
            np.put_along_axis(filled, cols, values, axis=1)
            out[r] = filled
        return out, total
