"""Shared fixtures: fixed seeds, small float32 data, one fitted model per module."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sklearn_ae import AutoencoderTransformer


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits scaled to [0, 1], float32, shuffled once."""
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    return (X[order] / 16.0).astype(np.float32), y[order]


@pytest.fixture(scope="session")
def X_small(digits):
    """300 digits: enough to learn something in a few epochs, fast to fit."""
    return digits[0][:300]


@pytest.fixture
def fast():
    """Parameters of a fit that takes a fraction of a second on ``X_small``.

    A fresh dict per test: override entries with ``{**fast, "max_iter": 1}``.
    """
    return {
        "n_components": 3,
        "hidden_layer_sizes": (16,),
        "max_iter": 3,
        "early_stopping": False,
        "random_state": 0,
    }


@pytest.fixture(scope="module")
def fitted(X_small):
    """An estimator fitted once per test module, for read-only tests."""
    return AutoencoderTransformer(
        n_components=4,
        hidden_layer_sizes=(32,),
        learning_rate=1e-2,
        max_iter=30,
        early_stopping=False,
        random_state=0,
    ).fit(X_small)
