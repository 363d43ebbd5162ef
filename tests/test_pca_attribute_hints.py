"""PCA's attributes that an autoencoder lacks say what to use instead."""

import copy
import pickle

import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from sklearn_ae import AutoencoderTransformer


@pytest.mark.parametrize(
    "name, instead",
    [
        ("components_", "use transform(X) for the codes"),
        ("explained_variance_ratio_", "use explained_variance_fraction_"),
        ("explained_variance_", "transform(X).var(axis=0)"),
        ("singular_values_", "an autoencoder has no singular values"),
        ("noise_variance_", "use score_samples(X)"),
    ],
)
def test_pca_only_attribute_says_what_to_use_instead(fitted, name, instead):
    message = f"'AutoencoderTransformer' object has no attribute {name!r}: "
    with pytest.raises(AttributeError, match=message) as error:
        getattr(fitted, name)
    assert instead in str(error.value)
    assert error.value.name == name
    assert not hasattr(fitted, name)


def test_other_missing_attributes_keep_pythons_message(fitted):
    with pytest.raises(AttributeError) as error:
        fitted.no_such_thing_  # noqa: B018
    assert str(error.value) == (
        "'AutoencoderTransformer' object has no attribute 'no_such_thing_'"
    )


def test_pickling_copying_and_the_fitted_check_are_unaffected(fitted, X_small):
    with pytest.raises(NotFittedError):
        check_is_fitted(AutoencoderTransformer())
    check_is_fitted(fitted)
    for twin in (pickle.loads(pickle.dumps(fitted)), copy.deepcopy(fitted)):
        assert (twin.transform(X_small) == fitted.transform(X_small)).all()
    assert clone(fitted).get_params() == clone(clone(fitted)).get_params()
