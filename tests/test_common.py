"""scikit-learn's own estimator checks, for the default model and the zoo's
models that take data of any width."""

import inspect

from custom_modules import TiedAutoencoder
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ae import AutoencoderImputer, AutoencoderTransformer

# Every check is expected to pass; an entry here would need its reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

# scikit-learn < 1.6 has no ``expected_failed_checks`` (and nothing to pass).
_OPTIONS = (
    {"expected_failed_checks": lambda est: EXPECTED_FAILED_CHECKS}
    if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters
    else {}
)

_SMALL = {"hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0}


@parametrize_with_checks(
    [
        # The defaults: on the checks' small data sets the model often keeps
        # PCA's solution untrained (too few rows to validate a network).
        AutoencoderTransformer(max_iter=5, random_state=0),
        # Trained from a random start, without early stopping.
        AutoencoderTransformer(
            init="random", early_stopping=False, max_iter=5, random_state=0
        ),
        # The article's sparse model, a masking denoiser, a VAE, a user's
        # module and a user's VAE (see test_zoo.py for what each one does).
        AutoencoderTransformer(code_activation="relu", sparsity=1e-3, **_SMALL),
        AutoencoderTransformer(noise=0.2, noise_type="mask", init="random", **_SMALL),
        AutoencoderTransformer(variational=True, **_SMALL),
        AutoencoderTransformer(
            architecture=TiedAutoencoder, max_iter=2, random_state=0
        ),
        AutoencoderTransformer(
            architecture=TiedAutoencoder, variational=True, max_iter=2, random_state=0
        ),
        # The imputer, which wraps the default model.
        AutoencoderImputer(hidden_layer_sizes=(4,), max_iter=5, random_state=0),
    ],
    **_OPTIONS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
