"""From parameters to a network: lookup tables and pure functions of them.

Everything here is a function of the estimator's ``get_params()`` (a plain
dict) and of the data's shape, never of the estimator object: the estimator
builds its net through :func:`build_net`, and ``_persistence`` rebuilds a saved
model through the same function before it fills in the saved weights.

Parameters that a configuration does not use are ignored, as scikit-learn's
MLP ignores ``momentum`` unless ``solver="sgd"`` (the estimator's docstring
says which architecture uses which), so a grid search can vary
``architecture``. Only combinations that cannot work raise, at ``fit``, with a
message naming the parameter.
"""

import functools
import inspect
import math
import re
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch.callbacks import Callback
from skorch.helper import predefined_split
from torch import nn

from ._compat import HasMethods, Interval, RealNotInt, StrOptions, fused_kernel_devices
from ._engine._losses import LOSSES
from ._engine._net import AutoencoderNet, Corruption, EarlyStopping
from ._engine._optim import Adam, AdamW
from ._engine._progress import Progress
from ._modules import ACTIVATIONS, ConvAutoencoder, LSTMAutoencoder, MLPAutoencoder

__all__ = [
    "ARCHITECTURES",
    "OPTIMIZERS",
    "PARAMETER_CONSTRAINTS",
    "build_net",
    "fused_optimizer_kwargs",
    "meta_module",
    "optimizer_spec",
    "own_callbacks",
    "resolve_device",
    "seed_from",
    "validation_split",
]

# Adam and AdamW are torch's, minus the import of torch's compiler on first
# use (see ``_optim``).
OPTIMIZERS = {
    "adam": Adam,
    "adamw": AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}

ARCHITECTURES = {
    "mlp": MLPAutoencoder,
    "conv": ConvAutoencoder,
    "lstm": LSTMAutoencoder,
}

# The estimator's parameters that each built-in architecture is built from;
# the others are ignored for it. A custom module gets none of them (its own
# settings go in module_params).
MODULE_PARAMETERS = {
    "mlp": ("hidden_layer_sizes", "activation", "code_activation"),
    "conv": ("activation", "code_activation"),
    "lstm": ("code_activation",),
}

# What input_shape must look like for the architectures that need it.
INPUT_SHAPES = {
    "conv": (3, "(channels, height, width), e.g. (1, 28, 28)"),
    "lstm": (2, "(timesteps, n_channels), e.g. (50, 3)"),
}


class _Int(Interval):
    """An ``Interval`` of ints that refuses booleans (``True`` is an Integral)."""

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


class _Satisfying(HasMethods):
    """A parameter constraint given by a predicate and its description.

    scikit-learn's constraints cannot say "a subclass of" or "a list of"; this
    one plugs a predicate into the same validation, so that the error is
    scikit-learn's ``The 'name' parameter of ... must be <description>. Got
    ... instead.`` (It subclasses ``HasMethods`` only to be accepted as a
    constraint object.)
    """

    def __init__(self, predicate, description):
        self.hidden = False
        self.methods = []
        self.predicate = predicate
        self.description = description

    def is_satisfied_by(self, val):
        return self.predicate(val)

    def __str__(self):
        return self.description


def _is_optimizer_class(value):
    return isinstance(value, type) and issubclass(value, torch.optim.Optimizer)


def _is_callback(value, named=True):
    if named and isinstance(value, tuple):
        return (
            len(value) == 2
            and isinstance(value[0], str)
            and _is_callback(value[1], named=False)
        )
    return isinstance(value, Callback) or (
        isinstance(value, type) and issubclass(value, Callback)
    )


def _is_callback_list(value):
    return isinstance(value, list) and all(_is_callback(cb) for cb in value)


# The largest integer parameter (a count, a width, a batch size): torch takes
# sizes as C integers, and 10**30 failed inside it with a TypeError.
MAX_INT = 2**31 - 1

PARAMETER_CONSTRAINTS = {
    "n_components": [
        _Int(Integral, 0, MAX_INT, closed="both"),
        Interval(RealNotInt, 0, 1, closed="neither"),
        StrOptions({"mle"}),
        None,
    ],
    "architecture": [StrOptions(set(ARCHITECTURES)), type],
    "hidden_layer_sizes": [tuple, list],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "code_activation": [StrOptions(set(ACTIVATIONS))],
    "input_shape": [tuple, list, None],
    "module_params": [dict, None],
    "loss": [StrOptions(set(LOSSES))],
    "sparsity": [Interval(Real, 0, None, closed="left")],
    "noise": [Interval(Real, 0, None, closed="left")],
    "noise_type": [StrOptions({"gaussian", "mask"})],
    "variational": ["boolean"],
    "beta": [Interval(Real, 0, None, closed="left")],
    "optimizer": [
        StrOptions(set(OPTIMIZERS)),
        _Satisfying(_is_optimizer_class, "a torch.optim.Optimizer subclass"),
    ],
    "init": [StrOptions({"auto", "pca", "random"})],
    "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "batch_size": [_Int(Integral, 1, MAX_INT, closed="both"), StrOptions({"auto"})],
    "max_iter": [_Int(Integral, 1, MAX_INT, closed="both")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [_Int(Integral, 1, MAX_INT, closed="both")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "device": [str, torch.device],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "callbacks": [
        _Satisfying(
            _is_callback_list,
            "a list of skorch callbacks (Callback instances or classes, or "
            "(name, callback) tuples)",
        ),
        None,
    ],
}


def seed_from(random_state):
    """An integer seed for one fit, leaving numpy's global RNG untouched."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _unavailable(device):
    """Why the torch device ``device`` cannot be used here, or None."""
    kind = device.type
    if kind == "cpu":
        return None
    if kind == "meta":
        return "the meta device holds no data, so nothing can be trained on it"
    if kind == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available here"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA device(s)"
        return None
    if kind == "mps":
        return (
            None if torch.backends.mps.is_available() else "MPS is not available here"
        )
    is_available = getattr(getattr(torch, kind, None), "is_available", None)
    if callable(is_available) and is_available():
        return None
    return f"no {kind!r} device is available here"


def resolve_device(device, *, fallback=False):
    """The torch device string for the ``device`` parameter.

    ``"auto"`` is CUDA when available. A device that this machine does not
    have (CUDA without CUDA, ``"mps"`` off a Mac, ``"meta"``, which holds no
    data) is an error that names the parameter, or the CPU when ``fallback``
    (a saved model's device, when loading it).
    """
    device = str(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(
            "The 'device' parameter of AutoencoderTransformer must be 'auto' "
            "or a torch device string such as 'cpu' or 'cuda'. "
            f"Got {device!r} instead."
        ) from None
    problem = _unavailable(parsed)
    if problem is None:
        return device
    if fallback and parsed.type != "meta":
        return "cpu"
    raise ValueError(
        f"The 'device' parameter of AutoencoderTransformer is {device!r}, but "
        f"{problem}; use device='cpu' or device='auto'."
    )


# The optimizers with a fused kernel (one kernel per step for all parameters)
# on the devices torch lists for fused optimizers, from torch 2.4 (CPU kernels).
_FUSED = (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.Adagrad)
_FUSED_SINCE = (2, 4)


@functools.cache
def fused_optimizer_kwargs(optimizer, device):
    """``{"fused": True}`` where torch has a fused kernel for ``optimizer`` on
    ``device`` (Adam, AdamW, SGD, Adagrad, on the CPU and the accelerators
    torch lists, since torch 2.4; Adagrad not on CUDA), else ``{}``.

    One fused kernel per step replaces a Python loop over the parameters and
    several kernels per parameter; results are deterministic either way.
    Decided from torch's version and the device type, without building an
    optimizer (building one imported torch's compiler, seconds of a first
    fit).
    """
    if not issubclass(optimizer, _FUSED):
        return {}
    version = tuple(int(v) for v in re.findall(r"\d+", torch.__version__)[:2])
    if version < _FUSED_SINCE:
        return {}
    kind = torch.device(device).type
    if kind not in fused_kernel_devices():
        return {}
    if issubclass(optimizer, torch.optim.Adagrad) and kind == "cuda":
        return {}
    return {"fused": True}


def pca_start_applies(params):
    """Whether the model can start at PCA's solution: a fully connected
    network with a plain (identity, not variational) code, trained to the
    squared error (``init="auto"`` starts there)."""
    return (
        params["architecture"] == "mlp"
        and params["loss"] == "mse"
        and params["code_activation"] == "identity"
        and not params["variational"]
    )


def starts_at_pca(params):
    """``init`` resolved: True for ``"pca"``, and for ``"auto"`` where it applies."""
    init = params["init"]
    if init == "pca" and not pca_start_applies(params):
        raise ValueError(
            "init='pca' needs architecture='mlp', loss='mse', "
            "code_activation='identity' and variational=False: only then can "
            "a network start at PCA's solution. Got architecture="
            f"{_architecture_name(params['architecture'])}, loss={params['loss']!r}, "
            f"code_activation={params['code_activation']!r}, variational="
            f"{params['variational']}. Use init='auto' or 'random'."
        )
    return init != "random" and pca_start_applies(params)


def resolve_batch_size(params, n_rows, *, pca_init=None):
    """``batch_size``, with ``"auto"`` as ``min(cap, max(16, n_rows // 10))``.

    About ten steps per epoch on small data. On large data, 256 rows a step
    from PCA's start (training refines a good solution, and a CPU runs 256
    rows fastest per sample) and 64 from a random start, which needs the
    steps: the VAE(32) on 4,000 MNIST digits reaches 0.0145 in 50 epochs
    with 64 against 0.0168 with 256. The cap itself when ``n_rows`` is not
    known yet. ``pca_init`` is :func:`starts_at_pca`, when already resolved.
    """
    batch_size = params["batch_size"]
    if batch_size != "auto":
        return batch_size
    if pca_init is None:
        pca_init = starts_at_pca(params)
    cap = 256 if pca_init else 64
    return cap if n_rows is None else int(min(cap, max(16, n_rows // 10)))


def resolve_learning_rate(params, *, pca_init=None):
    """``learning_rate``, with ``"auto"`` as 3e-3 from PCA's start, else 1e-3."""
    if params["learning_rate"] == "auto":
        if pca_init is None:
            pca_init = starts_at_pca(params)
        return 3e-3 if pca_init else 1e-3
    return params["learning_rate"]


def optimizer_spec(params, device, *, pca_init=None):
    """The optimizer class and its keyword arguments (``lr`` included)."""
    optimizer = params["optimizer"]
    kwargs = {
        "lr": resolve_learning_rate(params, pca_init=pca_init),
        "weight_decay": params["weight_decay"],
    }
    if isinstance(optimizer, str):
        optimizer = OPTIMIZERS[optimizer]
        kwargs.update(fused_optimizer_kwargs(optimizer, device))
    return optimizer, kwargs


def _architecture_name(arch):
    return repr(arch) if isinstance(arch, str) else arch.__name__


def _is_positive_int(value):
    return (
        isinstance(value, Integral)
        and not isinstance(value, bool)
        and 0 < value <= MAX_INT
    )


def _positive_ints(name, value, *, label=None):
    if not (
        isinstance(value, (tuple, list)) and all(_is_positive_int(s) for s in value)
    ):
        label = label or f"The '{name}' parameter of AutoencoderTransformer"
        raise ValueError(
            f"{label} must be a tuple of positive ints. Got {value!r} instead."
        )
    return tuple(int(s) for s in value)


def _check_module_params(extra):
    """The built-in modules' own settings, checked (``module_params``)."""
    if "filters" in extra:
        label = "module_params['filters']"
        extra["filters"] = _positive_ints("filters", extra["filters"], label=label)
    if "hidden_size" in extra and not _is_positive_int(extra["hidden_size"]):
        raise ValueError(
            "module_params['hidden_size'] must be a positive int. Got "
            f"{extra['hidden_size']!r} instead."
        )
    return extra


def _input_shape(arch, shape, n_features):
    """``input_shape`` as a tuple of ints, checked against X and architecture."""
    if arch == "mlp":
        return None  # flat rows: input_shape is not used
    n_dims, example = INPUT_SHAPES.get(arch, (None, None))
    if shape is None:
        if n_dims is not None:
            raise ValueError(
                f"architecture={arch!r} needs input_shape={example}, the shape "
                "of one sample."
            )
        return (n_features,)
    shape = _positive_ints("input_shape", shape)
    if n_dims is not None and len(shape) != n_dims:
        raise ValueError(
            f"architecture={arch!r} needs a {n_dims}-D input_shape={example}; "
            f"got {shape}."
        )
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape {shape} holds {math.prod(shape)} values per sample, "
            f"but X has {n_features} features."
        )
    return shape


def _check_custom_module(module_cls, variational):
    if not issubclass(module_cls, nn.Module):
        raise ValueError(
            "architecture must be 'mlp', 'conv', 'lstm' or a torch.nn.Module "
            f"subclass; got the class {module_cls.__name__}."
        )
    methods = ["encode", "decode"]
    if variational:
        methods.append("encode_distribution")
    missing = [m for m in methods if not callable(getattr(module_cls, m, None))]
    if missing:
        raise ValueError(
            f"The module class {module_cls.__name__} has no {missing} "
            f"method(s); a module needs {methods} (see the module protocol "
            "in AutoencoderTransformer's Notes)."
        )


def module_spec(params, n_features, *, pca_init=None):
    """The module class and its constructor arguments: the one place they are set.

    A built-in architecture gets the estimator's parameters it uses (see
    ``MODULE_PARAMETERS``; ``code_activation`` not for a variational model,
    whose code layer outputs a mean and a log-variance) and ``variational``;
    a custom one gets ``n_features``, ``n_components`` and ``input_shape``.
    Both also get ``module_params``. ``pca_init`` is :func:`starts_at_pca`,
    when already resolved.
    """
    arch = params["architecture"]
    variational = params["variational"]
    builtin = isinstance(arch, str)
    if not builtin:
        _check_custom_module(arch, variational)
    input_shape = _input_shape(arch, params["input_shape"], n_features)

    kwargs = {"n_features": n_features, "n_components": params["n_components"]}
    if input_shape is not None:
        kwargs["input_shape"] = input_shape
    if builtin:
        module_cls = ARCHITECTURES[arch]
        for name in MODULE_PARAMETERS[arch]:
            if not (name == "code_activation" and variational):
                kwargs[name] = params[name]
        if "hidden_layer_sizes" in kwargs:
            kwargs["hidden_layer_sizes"] = _positive_ints(
                "hidden_layer_sizes", params["hidden_layer_sizes"]
            )
        kwargs["variational"] = variational
        if arch == "mlp":
            kwargs["linear_path"] = (
                starts_at_pca(params) if pca_init is None else pca_init
            )
        owned = {*kwargs, *MODULE_PARAMETERS["mlp"], "variational", "linear_path"}
    else:
        module_cls, owned = arch, set(kwargs)

    extra = dict(params["module_params"] or {})
    clash = sorted(set(extra) & owned)
    if clash:
        raise ValueError(
            f"module_params cannot set {clash}: the estimator sets them from "
            "its own parameters."
        )
    if builtin:
        extra = _check_module_params(extra)
    try:
        inspect.signature(module_cls).bind(**kwargs, **extra)
    except TypeError as exc:
        raise ValueError(
            f"{module_cls.__name__} cannot be built from the arguments "
            f"{sorted({**kwargs, **extra})}: {exc}. Check module_params (and, "
            "for a custom module, the protocol in AutoencoderTransformer's "
            "Notes)."
        ) from None
    return module_cls, {**kwargs, **extra}


def meta_module(params, n_features):
    """The built-in module that ``params`` describe, on the meta device.

    Its parameters have the names, shapes and dtypes of the real module's,
    and take no memory and no random draws: ``load`` compares a file's
    tensors with them before it builds anything.
    """
    module_cls, module_kwargs = module_spec(params, n_features)
    if module_cls not in ARCHITECTURES.values():
        raise ValueError(f"{module_cls.__name__} is not a built-in architecture.")
    with torch.device("meta"), warnings.catch_warnings():
        # (torch's own initialisation of an empty code layer, n_components=0.)
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        return module_cls(**module_kwargs)


def corruption(params, scaler):
    """The denoising corruption in module space, or None without noise."""
    noise = params["noise"]
    if not noise:
        return None
    if params["noise_type"] == "mask":
        if noise >= 1:
            raise ValueError(
                "With noise_type='mask', noise is the fraction of inputs zeroed "
                f"and must be below 1; got noise={noise}."
            )
        zero = 0.0
        if scaler.mean is not None:
            zero = torch.as_tensor(-scaler.mean / scaler.scale).float()
        return Corruption(noise, "mask", zero=zero)
    clip = (0.0, 1.0) if params["loss"] == "bce" else None
    return Corruption(noise / scaler.scale, "gaussian", clip=clip)


def n_validation_rows(params, n_samples):
    """Rows held out for early stopping (0 without it): ``validation_fraction``
    of them, but at least ``min(30, n_samples // 3)``, so that small data sets
    still validate on enough rows to tell a better model from luck."""
    if not params["early_stopping"]:
        return 0
    n_valid = int(np.ceil(params["validation_fraction"] * n_samples))
    return max(n_valid, min(30, n_samples // 3))


def validation_split(params, n_samples, seed, *, n_valid=None):
    """``(train_indices, valid_indices)``, both None without early stopping
    (or ``n_valid=0``); ``n_valid`` is :func:`n_validation_rows`, when
    already resolved."""
    if n_valid is None:
        n_valid = n_validation_rows(params, n_samples)
    if not n_valid:
        return None, None
    if n_samples - n_valid < 1:
        raise ValueError(
            f"With n_samples={n_samples} and validation_fraction="
            f"{params['validation_fraction']}, no sample is left for training; "
            "use more data, a smaller validation_fraction, or "
            "early_stopping=False."
        )
    order = np.random.default_rng(seed).permutation(n_samples)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def own_callbacks(params, stopping, units):
    """The progress report, then the stopping rule (for ``fit``).

    The report comes first so that it shows the epoch at which the stopping
    rule ends training; it prints the losses times ``units`` (X's units).
    The user's callbacks go after these.
    """
    progress = Progress(
        params["verbose"], units, stopper="early_stopping" if stopping else None
    )
    callbacks = [("progress", progress)]
    if stopping:
        early = params["early_stopping"]
        stopper = EarlyStopping(
            monitor="valid_loss" if early else "train_loss",
            patience=params["n_iter_no_change"],
            tol=params["tol"],
            restore_best=early,
        )
        callbacks.append(("early_stopping", stopper))
    return callbacks


def loss_units(params, scaler):
    """Factor from the module's loss to X's units: ``scale**2`` for MSE."""
    return scaler.scale**2 if params["loss"] == "mse" else 1.0


def build_net(
    params,
    n_features,
    scaler,
    seed,
    *,
    valid=None,
    stopping=False,
    n_rows=None,
    plan=None,
    callbacks=None,
):
    """The skorch net for ``params``, its module initialised from ``seed``.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params(deep=False)``.

    n_features : int
        Width of the data.

    scaler : InputScaler
        The fitted map into module space.

    seed : int
        Seeds the weights, and (with the number of epochs already trained)
        each call's shuffling and sampling generators.

    valid : Dataset or None, default=None
        The validation set, when early stopping.

    stopping : bool, default=False
        Whether the net stops by itself when the monitored loss stops
        improving (``fit``); without it every call trains the epochs it is
        asked for (``partial_fit``, and a loaded model).

    n_rows : int or None, default=None
        The training rows, for ``batch_size="auto"``.

    plan : FitPlan or None, default=None
        The fit's plan (``_plan``), whose batch size, device and PCA start
        are used as they are; None resolves them from ``params`` (a loaded
        model).

    callbacks : list or None, default=None
        The net's own callbacks, ``(name, callback)`` pairs, in place of
        those made from ``params`` (the user's are added after them).

    Returns
    -------
    net : AutoencoderNet
    """
    pca_init = None if plan is None else plan.pca_init
    module_cls, module_kwargs = module_spec(params, n_features, pca_init=pca_init)
    device = resolve_device(params["device"]) if plan is None else plan.device
    optimizer, optimizer_kwargs = optimizer_spec(params, device, pca_init=pca_init)
    if plan is None:
        batch_size = resolve_batch_size(params, n_rows)
    else:
        batch_size = plan.batch_size
    if callbacks is None:
        callbacks = own_callbacks(params, stopping, loss_units(params, scaler))
    callbacks = [*callbacks, *(params["callbacks"] or [])]
    net = AutoencoderNet(
        module=module_cls,
        **{f"module__{k}": v for k, v in module_kwargs.items()},
        criterion=LOSSES[params["loss"]],
        optimizer=optimizer,
        lr=optimizer_kwargs.pop("lr"),
        **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
        max_epochs=params["max_iter"] if plan is None else plan.max_epochs,
        batch_size=batch_size,
        train_split=None if valid is None else predefined_split(valid),
        callbacks=callbacks,
        device=device,
        verbose=0,  # the Progress callback reports instead of skorch's PrintLog
        scaler=scaler,
        seed=seed,
        sparsity=params["sparsity"],
        variational=params["variational"],
        beta=params["beta"],
        corrupt=corruption(params, scaler),
    )
    with warnings.catch_warnings():
        # torch's own initialisation of a layer to or from an empty code
        # (n_components=0) says it does nothing, which is the point.
        warnings.filterwarnings("ignore", "Initializing zero-element tensors")
        net.initialize()
    return net
