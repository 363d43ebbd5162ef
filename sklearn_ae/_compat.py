"""The one place that imports scikit-learn's private helpers.

scikit-learn moves its private utilities between releases; importing them
here means a move changes this file only. ``validate_data`` is public from
scikit-learn 1.6; on older releases it comes from ``sklearn-compat`` (used the
same way by imbalanced-learn). ``sklearn-compat`` is imported only there: on
recent scikit-learn it also imports scikit-learn's estimator checks (and so
pytest), about a second at ``import sklearn_ae`` that a fit never needs.
"""

from sklearn.base import _fit_context
from sklearn.decomposition._pca import _infer_dimension as infer_dimension
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6
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
