"""The one place that uses private names of scikit-learn, torch and skorch.

Dependencies move or drop their private utilities between releases; using
them only here means that a move changes this file only. Every private name
of torch or skorch below has a public fallback, taken when the name is
missing (the library then keeps working, maybe slower), and
``tests/test_compat.py`` asserts that each name is still there with the
shape used here, so that an upgrade that changes one turns a test red rather
than a fit slow.

``validate_data`` is public from
scikit-learn 1.6; on older releases it comes from ``sklearn-compat`` (used the
same way by imbalanced-learn). ``sklearn-compat`` is imported only there: on
recent scikit-learn it also imports scikit-learn's estimator checks (and so
pytest), about a second at ``import sklearn_ae`` that a fit never needs.
"""

import sys

import torch
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
    "SKORCH_STEP_METHODS",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "RealNotInt",
    "StrOptions",
    "_fit_context",
    "empty_on_cpu",
    "fused_adam_applies",
    "fused_adam_step",
    "fused_kernel_devices",
    "infer_dimension",
    "optimizer_names",
    "set_training",
    "unhooked",
    "unwrapped",
    "validate_data",
    "validate_parameter_constraints",
]


# ------------------------------------------------------------------ torch


def unwrapped(function):
    """``function`` without the wrapper of a decorator such as
    ``torch._disable_dynamo`` (which imports the compiler on the first call).

    Reads ``__wrapped__``, which ``functools.wraps`` sets; the fallback is
    ``function`` itself (torch's own, which then imports the compiler).
    """
    return getattr(function, "__wrapped__", function)


def unhooked(step):
    """An optimizer's ``step`` without the hook-running wrapper torch puts
    on it (marked ``hooked``); ``step`` itself if it has none."""
    if getattr(step, "hooked", False):
        return getattr(step, "__wrapped__", step)
    return step


_FUSED_ADAM = getattr(torch, "_fused_adam_", None)
_FUSED_ADAMW = getattr(torch, "_fused_adamw_", None)
_FOREACH_ADD = getattr(torch, "_foreach_add_", None)


def fused_adam_applies(optimizer):
    """Whether :func:`fused_adam_step` can step ``optimizer``: its groups are
    initialised by ``torch.optim.Adam._init_group`` (Adam, and AdamW since
    torch 2.6) and torch has the fused kernels. False (the fallback: torch's
    public ``step``) where torch lacks one of these private pieces."""
    init_group = getattr(torch.optim.Adam, "_init_group", None)
    return (
        init_group is not None
        and getattr(type(optimizer), "_init_group", None) is init_group
        and None not in (_FUSED_ADAM, _FUSED_ADAMW, _FOREACH_ADD)
    )


def fused_adam_step(optimizer, group):
    """One step of ``group`` of an Adam or AdamW ``optimizer`` by torch's
    fused kernel, as ``torch.optim.Adam(fused=True).step`` runs it, minus
    the compiler's import; state initialised where missing.

    Only where :func:`fused_adam_applies`, and the caller has checked the
    group's settings (fused, one device and dtype, no amsgrad, capturable
    or differentiable).
    """
    params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
    optimizer._init_group(group, params, grads, exp_avgs, exp_avg_sqs, [], steps)
    if not params:
        return
    kernel = _FUSED_ADAMW if group.get("decoupled_weight_decay", False) else _FUSED_ADAM
    beta1, beta2 = group["betas"]
    _FOREACH_ADD(steps, 1)
    kernel(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        [],
        steps,
        amsgrad=False,
        lr=group["lr"],
        beta1=beta1,
        beta2=beta2,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=group["maximize"],
        grad_scale=None,
        found_inf=None,
    )


def fused_kernel_devices():
    """The device types with torch's fused optimizer kernels.

    From ``torch.utils._foreach_utils``; the fallback is none (the optimizers
    are then built unfused: slower, the same arithmetic).
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:
        return []
    return list(_get_fused_kernels_supported_devices())


def empty_on_cpu(module):
    """``module.to_empty(device="cpu")``, without ``torch.empty_like``.

    ``empty_like`` of a meta tensor runs torch's Python reference, whose first
    call imports ``torch.fx``'s symbolic shapes and sympy (see the performance
    guide); ``torch.empty`` of the same shape (the parameters and buffers are
    contiguous) imports nothing. Uses ``nn.Module._apply``; the fallback is
    the public ``to_empty``.
    """
    apply = getattr(module, "_apply", None)
    if apply is None:
        return module.to_empty(device="cpu")
    return apply(
        lambda t: torch.empty(t.shape, dtype=t.dtype, device="cpu"), recurse=True
    )


# ------------------------------------------------------------------ skorch

# skorch's private methods of a training step, which a lean epoch does
# instead of calling: a subclass that overrides one gets skorch's epoch.
SKORCH_STEP_METHODS = ("_zero_grad_optimizer", "_step_optimizer")


def optimizer_names(net):
    """The names of the optimizers registered on a skorch ``net``, or None
    where skorch keeps no such list (the caller then assumes the worst)."""
    names = getattr(net, "_optimizers", None)
    return None if names is None else list(names)


def set_training(net, training):
    """Training or evaluation mode for all of ``net``'s modules and criteria,
    as skorch sets it before a batch (``NeuralNet._set_training``); the
    fallback sets it on ``module_`` and ``criterion_``."""
    method = getattr(net, "_set_training", None)
    if method is not None:
        return method(training)
    for name in ("module_", "criterion_"):
        part = getattr(net, name, None)
        if isinstance(part, torch.nn.Module):
            part.train(training)
    return None


def compiler_loaded():
    """Whether torch's compiler (the private ``torch._dynamo``) is imported.

    A name looked up in ``sys.modules``: if torch renames the module, this
    says False and the optimizers take the unwrapped methods, which are
    torch's own.
    """
    return "torch._dynamo" in sys.modules
