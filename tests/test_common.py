"""scikit-learn's own estimator checks."""

import inspect

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ae import AutoencoderTransformer

# Every check is expected to pass; an entry here would need its reason.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

# scikit-learn < 1.6 has no ``expected_failed_checks`` (and nothing to pass).
_OPTIONS = (
    {"expected_failed_checks": lambda est: EXPECTED_FAILED_CHECKS}
    if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters
    else {}
)


@parametrize_with_checks(
    [AutoencoderTransformer(max_iter=5, random_state=0)], **_OPTIONS
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
