"""The one place that imports scikit-learn's private helpers.

scikit-learn moves its private utilities between releases; ``sklearn-compat``
(used the same way by imbalanced-learn) smooths over that for the validation
helpers, and the parameter-constraint helpers are imported here so that a move
changes this file only.
"""

from sklearn.decomposition._pca import _infer_dimension as infer_dimension
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn_compat.base import _fit_context
from sklearn_compat.utils.validation import validate_data

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "RealNotInt",
    "StrOptions",
    "_fit_context",
    "infer_dimension",
    "validate_data",
    "validate_parameter_constraints",
]
