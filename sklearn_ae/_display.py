"""A readable form for skorch's callbacks inside scikit-learn's printer.

scikit-learn prints an estimator's parameters with its own pretty-printer,
which wraps at 79 columns and shows any object that is not an estimator by
its ``repr``. skorch's callbacks have ``get_params`` but no ``__repr__``, so
``AutoencoderTransformer(callbacks=[LRScheduler()])`` printed as
``<skorch.callbacks.lr_scheduler.LRScheduler object at 0x7f...>``, in the
text repr and the HTML one, also inside a Pipeline. :func:`show_callbacks`
gives skorch's base class the form scikit-learn gives estimators: the class
name and the parameters that differ from the defaults, ``LRScheduler()`` or
``EarlyStopping(patience=3)``.

It sets ``skorch.callbacks.Callback.__repr__`` only while skorch has none of
its own, so a skorch release that adds one, and a callback class that
defines its own, keep theirs.
"""

import inspect

from skorch.callbacks import Callback

__all__ = ["callback_repr", "show_callbacks"]


def callback_repr(callback):
    """``Class(changed=params)``, as scikit-learn shows an estimator."""
    try:
        params = callback.get_params(deep=False)
        signature = inspect.signature(type(callback).__init__)
    except (TypeError, ValueError, AttributeError):
        return object.__repr__(callback)
    defaults = {name: p.default for name, p in signature.parameters.items()}
    shown = []
    for name, value in params.items():
        if name.startswith("_"):  # skorch lists private attributes too
            continue
        default = defaults.get(name, inspect.Parameter.empty)
        if default is inspect.Parameter.empty or repr(value) != repr(default):
            shown.append(f"{name}={value!r}")
    return f"{type(callback).__name__}({', '.join(shown)})"


def show_callbacks():
    """Give skorch's callbacks :func:`callback_repr` unless they have a repr."""
    if Callback.__repr__ is object.__repr__:
        Callback.__repr__ = callback_repr
