"""Comparison metrics on PCA, where the answers are known."""

import numpy as np
from sklearn.decomposition import PCA

from sklearn_ae.metrics import code_knn_accuracy, reconstruction_mse


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
