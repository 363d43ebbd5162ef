"""Comparison metrics on PCA, where the answers are known."""

import numpy as np
from sklearn.decomposition import PCA

from sklearn_ae.metrics import (
    code_knn_accuracy,
    reconstruction_bce,
    reconstruction_mse,
)


def test_reconstruction_mse_matches_pca_residual(digits):
    X = digits[0][:400].astype(np.float64)
    pca = PCA(n_components=5).fit(X)
    expected = np.mean((X - pca.inverse_transform(pca.transform(X))) ** 2)
    assert reconstruction_mse(pca, X) == expected
    assert reconstruction_mse(PCA(n_components=64).fit(X), X) < 1e-20


def test_code_knn_accuracy_separates_good_and_bad_codes(digits):
    X, y = digits[0][:600], digits[1][:600]
    good = PCA(n_components=20).fit(X[:400])
    bad = PCA(n_components=1).fit(X[:400])
    accuracy = code_knn_accuracy(good, X[:400], y[:400], X[400:], y[400:])
    assert 0.9 < accuracy <= 1.0
    assert code_knn_accuracy(bad, X[:400], y[:400], X[400:], y[400:]) < accuracy


class _Constant:
    """A reducer whose reconstruction is always ``value``."""

    def __init__(self, value):
        self.value = value

    def transform(self, X):
        return np.zeros((len(X), 1))

    def inverse_transform(self, Z):
        return np.full((len(Z), 2), self.value)


def test_reconstruction_bce_is_the_per_pixel_cross_entropy():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [0.25, 0.75]])
    # predicting 0.5 everywhere costs log(2) per pixel, whatever X is
    assert np.isclose(reconstruction_bce(_Constant(0.5), X), np.log(2))
    expected = -np.mean(X * np.log(0.8) + (1 - X) * np.log(0.2))
    assert np.isclose(reconstruction_bce(_Constant(0.8), X), expected)
    # out-of-range reconstructions (as PCA's can be) are clipped, not NaN
    binary = X[:2]
    assert reconstruction_bce(_Constant(1.5), binary) > 1.0
    assert np.isfinite(reconstruction_bce(_Constant(-0.5), binary))
    assert reconstruction_bce(PCA(2).fit(binary), binary) < 1e-6
