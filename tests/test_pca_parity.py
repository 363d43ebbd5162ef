"""Swapping PCA for the autoencoder: PCA's n_components, a shared scorer."""

import re

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.metrics import reconstruction_mse, reconstruction_scorer


@pytest.mark.parametrize("n_components", [None, 0, 5, 0.5, 0.9, "mle"])
def test_n_components_means_what_it_means_to_pca(digits, fast, n_components):
    # A little noise: Minka's MLE (PCA's own too) fails on constant pixels.
    X = digits[0][:400] + np.random.default_rng(0).normal(0, 0.01, (400, 64))
    ae = AutoencoderTransformer(**{**fast, "n_components": n_components}).fit(X)
    pca = PCA(n_components).fit(X)
    assert ae.n_components_ == pca.n_components_
    Z = ae.transform(X)
    assert Z.shape == (400, pca.n_components_)
    assert 0 < ae.n_components_ < 64 or n_components in (None, 0)
    assert ae.inverse_transform(Z).shape == X.shape
    assert len(ae.get_feature_names_out()) == pca.n_components_


def test_an_empty_code_reconstructs_the_mean(X_small, fast):
    ae = AutoencoderTransformer(**{**fast, "n_components": 0, "max_iter": 30})
    Z = ae.fit(X_small).transform(X_small)
    assert Z.shape == (300, 0)
    X_hat = ae.inverse_transform(Z)
    mean = np.broadcast_to(X_small.mean(axis=0), X_hat.shape)
    assert_allclose(X_hat, mean, atol=0.01)


def test_n_components_errors_are_pcas(X_small, fast):
    with pytest.raises(ValueError, match=re.escape("only supported if n_samples >=")):
        AutoencoderTransformer(**{**fast, "n_components": "mle"}).fit(X_small[:20])
    for bad in (-1, 1.0, 1.5, "auto"):
        with pytest.raises(InvalidParameterError, match="'n_components' parameter"):
            AutoencoderTransformer(**{**fast, "n_components": bad}).fit(X_small)


def test_scorer_ranks_pca_and_the_autoencoder_by_their_mse(digits):
    X = digits[0][:600]
    weak = AutoencoderTransformer(8, max_iter=1, learning_rate=1e-5, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA(8))])
    search = GridSearchCV(
        pipe,
        {"reduce": [PCA(8), weak, PCA(2)]},
        scoring=reconstruction_scorer,
        cv=[(np.arange(400), np.arange(400, 600))],
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    held_out = X[400:]
    mses = [
        reconstruction_mse(
            Pipeline([("scale", StandardScaler()), ("reduce", reducer)]).fit(X[:400]),
            held_out,
        )
        for reducer in (PCA(8), weak, PCA(2))
    ]
    assert_allclose(scores, -np.array(mses), rtol=1e-6)
    assert np.argsort(scores).tolist() == np.argsort(-np.array(mses)).tolist()
    assert search.best_params_["reduce"].__class__ is PCA
