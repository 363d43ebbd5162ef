"""The fitted state of an ``AutoencoderTransformer``, declared once.

Each entry names an attribute that ``fit`` sets, its key in a model file and
its kind. ``save`` writes these as plain values (:func:`to_plain`), ``load``
checks each by its kind and sets it back (:func:`set_from_plain`); the rest
of the fitted state comes from the net (``net_``, ``module_``, ``mean_``,
``scale_``: the file's tensors). :data:`ATTRIBUTES` lists them all, for a
fitted check or a snapshot of the state.

Kinds: ``size`` (an int >= 1), ``count`` (an int >= 0), ``seed`` (an int
in [0, 2**32)), ``curve`` (a list of finite numbers), ``number`` (a finite
number), ``names`` (strings, one per feature), ``dtype`` (float32 or
float64); ``"... or None"`` may be None, and an attribute of kind ``names or
absent`` is not set when None (as ``feature_names_in_`` after a fit on an
array).
"""

from typing import NamedTuple

import numpy as np

__all__ = [
    "ATTRIBUTES",
    "FITTED",
    "FROM_NET",
    "is_fitted",
    "restore",
    "set_from_plain",
    "snapshot",
    "to_plain",
]


class Fitted(NamedTuple):
    attribute: str
    key: str
    kind: str


FITTED = (
    Fitted("n_features_in_", "n_features_in_", "size"),
    Fitted("feature_names_in_", "feature_names_in_", "names or absent"),
    Fitted("n_components_", "n_components_", "count"),
    Fitted("n_iter_", "n_iter_", "count"),
    Fitted("best_epoch_", "best_epoch_", "count"),
    Fitted("loss_curve_", "loss_curve_", "curve"),
    Fitted("validation_loss_curve_", "validation_loss_curve_", "curve or None"),
    Fitted(
        "explained_variance_fraction_", "explained_variance_fraction_", "number or None"
    ),
    Fitted("_seed", "seed", "seed"),
    Fitted("_fit_dtype", "dtype", "dtype"),
)
# Set from the net that ``load`` builds and fills with the file's tensors.
FROM_NET = ("net_", "module_", "mean_", "scale_")
ATTRIBUTES = (*(f.attribute for f in FITTED), *FROM_NET)

_TO_PLAIN = {
    "size": int,
    "count": int,
    "seed": int,
    "curve": lambda values: [float(v) for v in values],
    "number": float,
    "names": lambda names: [str(n) for n in names],
    "dtype": lambda dtype: np.dtype(dtype).name,
}


def base_kind(kind):
    """``kind`` without its ``or None`` / ``or absent``."""
    return kind.split(" or ")[0]


def to_plain(estimator):
    """The declared fitted values of ``estimator``, as plain (JSON) values."""
    plain = {}
    for field in FITTED:
        value = getattr(estimator, field.attribute, None)
        convert = _TO_PLAIN[base_kind(field.kind)]
        plain[field.key] = None if value is None else convert(value)
    return plain


def set_from_plain(estimator, plain, *, skip=()):
    """Set the declared attributes from checked plain values (keys of a file)."""
    for field in FITTED:
        value = plain[field.key]
        if field.attribute in skip or (value is None and "absent" in field.kind):
            continue
        if value is not None and base_kind(field.kind) == "names":
            value = np.asarray(value, dtype=object)
        elif value is not None and base_kind(field.kind) == "dtype":
            value = np.dtype(value)
        setattr(estimator, field.attribute, value)


def is_fitted(estimator):
    """Whether ``estimator`` has every declared attribute a fit always sets."""
    state = vars(estimator)
    required = (f.attribute for f in FITTED if "absent" not in f.kind)
    return all(name in state for name in (*required, *FROM_NET))


def snapshot(estimator):
    """The declared attributes ``estimator`` has now, for :func:`restore`."""
    state = vars(estimator)
    return {name: state[name] for name in ATTRIBUTES if name in state}


def restore(estimator, saved):
    """Put the declared attributes back as :func:`snapshot` saw them: those it
    saw get their values, the others are removed (an unfitted estimator)."""
    state = vars(estimator)
    for name in ATTRIBUTES:
        if name in saved:
            state[name] = saved[name]
        else:
            state.pop(name, None)
