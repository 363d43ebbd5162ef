"""Saving and loading a fitted estimator without pickle.

A model file is an uncompressed zip archive with exactly two members:

- ``model.safetensors``: the module's weights (``module.<name>``), the
  input mean (``scaler.mean``) and the optimizer's state tensors
  (``optimizer.state.<param>.<name>``), in the safetensors format, which
  holds raw tensors and nothing that can run code when read;
- ``metadata.json``: the format version, the versions of the libraries that
  wrote it, the estimator's parameters, its other fitted attributes and the
  optimizer's other state (its hyperparameters, per parameter group).

One file is easy to move and to hand to :meth:`AutoencoderTransformer.load`;
a zip archive is a standard container that ``unzip -l`` can inspect, and the
members are stored uncompressed so they read back quickly (and so that
``load`` can refuse a compressed member instead of expanding it).

Parameters are plain JSON values, with three tagged forms: ``{"__tuple__":
[...]}`` for tuples, ``{"__dict__": {...}}`` for a dict with string keys (such
as ``module_params``) and ``{"__class__": "module:QualName"}`` for a class,
which only the ``optimizer`` (the torch optimizers of ``OPTIMIZERS``) and
``architecture`` (the built-in modules) parameters may hold: classes are
looked up by that exact name in an allow-list, never imported.

**A file is untrusted input.** ``load`` validates everything before it uses
it, and refuses what does not hold with a ``ValueError`` that says why:

1. the container: a zip archive of exactly the two members, stored (not
   compressed), not encrypted, their declared sizes within the file;
2. the metadata: the exact set of keys, the parameters (types and ranges,
   as ``fit`` checks them, and the contradictions ``fit`` refuses), the
   fitted values against their meaning (a finite positive scale, widths
   that agree, ``n_iter_ == len(loss_curve_)``, a seed in range);
3. the tensors, before anything is built: the module that the parameters
   describe is built on the meta device (no memory), its size compared with
   the bytes of ``model.safetensors``, and every tensor's name, dtype and
   shape compared with it; weights and the mean must be finite;
4. the optimizer state, once the net is built (its size checked in 3): the
   class by name, the parameter group's hyperparameters against the built
   optimizer's (finite, non-negative, in range), every state entry against
   the table of what that optimizer keeps and the parameter it belongs to
   (name, dtype, shape, finite values), then torch's ``load_state_dict``
   into the real optimizer.

The net is built through the builder that ``fit`` uses, and filled in.
"""

import contextlib
import json
import math
import os
import re
import warnings
import zipfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch

from .._compat import validate_parameter_constraints
from .._config import (
    ARCHITECTURES,
    OPTIMIZERS,
    PARAMETER_CONSTRAINTS,
    _unavailable,
    build_net,
    meta_module,
    resolve_device,
)
from .._fitted import FITTED, base_kind
from .._scaling import InputScaler
from .._version import __version__
from ._files import open_regular, replace_atomically

__all__ = ["load", "save"]

FORMAT = "sklearn_ae.AutoencoderTransformer"
FORMAT_VERSION = 1
_WEIGHTS = "model.safetensors"
_METADATA = "metadata.json"
_MEMBERS = sorted({_WEIGHTS, _METADATA})
# Parsed JSON takes up to ~25 times its size in Python objects (measured:
# 16 MiB of 2-character strings, 257 MiB; of empty lists, 411 MiB), so the
# metadata is capped, and so is its number of containers (outside strings),
# the costliest per byte; a real file has a few dozen. 16 MiB holds a
# loss_curve_ of ~600,000 epochs, or ~1,000,000 feature names.
_MAX_METADATA_BYTES = 16 * 2**20
_MAX_CONTAINERS = 100_000
# A string, or an unterminated one up to the end: the match never fails
# once it has started, so it never backtracks (linear time on any input).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_OPT_PREFIX = "optimizer.state."
# The width of a row (n_features_in_) that later calls allocate for (sample,
# transform's batches, an LSTM's timesteps) must be pinned by the file: at
# most the number of values it stores (an MLP's first layer, the mean), or,
# where nothing pins it (an LSTM with loss="bce"), this many (4 MiB a row).
_MAX_FREE_FEATURES = 2**20


def _qualified(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


# The classes a parameter may hold in a file, by exact qualified name.
_ALLOWED = {"optimizer": OPTIMIZERS, "architecture": ARCHITECTURES}
_CLASSES = {k: {_qualified(c): c for c in v.values()} for k, v in _ALLOWED.items()}
_NAMES = {k: ", ".join(c.__name__ for c in v.values()) for k, v in _ALLOWED.items()}
_METADATA_KEYS = {"format", "format_version", "estimator", "versions", "params"}
_METADATA_KEYS |= {"module_class", "fitted"}  # (and, optionally, "optimizer")
# The declared fitted values, and what the net holds (the mean is a tensor).
_FITTED_KEYS = {f.key for f in FITTED} | {"scale_", "has_mean", "device"}
# How this machine runs an optimizer, not part of the model: the loaded
# optimizer keeps its own (a file saved where "fused" was available loads
# where it is not).
_IMPLEMENTATION_KEYS = {"fused", "foreach", "capturable", "differentiable"}
# What torch's learning-rate schedulers add to a parameter group.
_SCHEDULER_KEYS = {"initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"}
# What each optimizer keeps per parameter once it has stepped (with the
# hyperparameters the estimator leaves at their defaults: no amsgrad, no
# momentum, not centered); Adagrad has it from its construction.
_OPTIMIZER_STATE = {
    name: set(keys.split())
    for name, keys in {
        "Adam": "step exp_avg exp_avg_sq",
        "AdamW": "step exp_avg exp_avg_sq",
        "NAdam": "step mu_product exp_avg exp_avg_sq",
        "RAdam": "step exp_avg exp_avg_sq",
        "Adadelta": "step square_avg acc_delta",
        "Adagrad": "step sum",
        "RMSprop": "step square_avg",
        "SGD": "",
    }.items()
}
_STATE_FROM_THE_START = {"Adagrad"}
# The state entries that are one number (a 0-d tensor), not one per weight.
_SCALAR_STATE = {"step", "mu_product"}
# Optimizer state that is a count or a second moment: never negative.
_NON_NEGATIVE_STATE = {*_SCALAR_STATE, "exp_avg_sq", "max_exp_avg_sq", "sum"}
_NON_NEGATIVE_STATE |= {"square_avg", "acc_delta"}
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


def _versions():
    libraries = {"torch": torch, "skorch": skorch, "scikit-learn": sklearn}
    return {"sklearn_ae": __version__} | {
        k: m.__version__ for k, m in libraries.items()
    }


# ------------------------------------------------------------------- save

# Values that a parameter holds in JSON as they are, or converted.
_PLAIN = (((int, np.integer), int), ((float, np.floating), float), (torch.device, str))
# Parameters that save() stores as None, with a warning, when they hold this.
_DROPPED = {
    "callbacks": (
        lambda value: value is not None,
        "save() does not store callbacks={!r} (callbacks only affect training, "
        "and load() never reads them); the loaded model has callbacks=None.",
    ),
    "random_state": (
        lambda value: not (value is None or isinstance(value, (int, np.integer))),
        "save() stores random_state only as an int or None; {!r} is saved as None.",
    ),
}


def _encode(name, value):
    if value is None or isinstance(value, (bool, str)):
        return value
    for types, plain in _PLAIN:
        if isinstance(value, types):
            return plain(value)
    if isinstance(value, (tuple, list)):
        items = [_encode(name, v) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(f"{name}[{k!r}]", v) for k, v in value.items()}}
    raise TypeError(
        f"Cannot save parameter {name}={value!r} of type {type(value).__name__}: "
        "save() stores plain values (numbers, strings, tuples, lists, dicts, "
        "None) and the built-in classes only. Use pickle / joblib (trusted "
        "input only)."
    )


def _encode_class(name, cls):
    path = _qualified(cls)
    if path in _CLASSES.get(name, {}):
        return {"__class__": path}
    only = f"only {_NAMES[name]}" if name in _NAMES else None
    allowed = f"for {name}, {only}" if only else f"no class at all for {name}"
    raise TypeError(
        f"Cannot save parameter {name}={cls!r}: save() does not store a "
        f"class of your own, because load() takes classes only from an "
        f"allow-list of built-in ones ({allowed}). Use a built-in name, or "
        "pickle / joblib (and load those only from sources you trust)."
    )


def _params_to_json(params):
    encoded = {}
    for name, value in params.items():
        dropped, message = _DROPPED.get(name, (None, ""))
        if dropped is not None and dropped(value):
            warnings.warn(message.format(value), UserWarning, stacklevel=4)
            value = None
        encode = _encode_class if isinstance(value, type) else _encode
        encoded[name] = encode(name, value)
    return encoded


def _optimizer_to_json(optimizer, tensors):
    """The optimizer's state: its tensors into ``tensors``, the rest as JSON.

    (The optimizers that ``save`` accepts keep only tensors per parameter.)
    """
    state_dict = optimizer.state_dict()
    for idx, entry in state_dict["state"].items():
        for key, value in entry.items():
            tensors[f"{_OPT_PREFIX}{idx}.{key}"] = value.detach().cpu().contiguous()
    return {
        "class": _qualified(type(optimizer)),
        "state": {str(idx): {} for idx in state_dict["state"]},
        "param_groups": [
            {k: _encode(k, v) for k, v in group.items()}
            for group in state_dict["param_groups"]
        ],
    }


def serialise(estimator_name, params, state, net):
    """``(metadata, tensors)``: what :func:`save` writes, in memory."""
    module, scaler = net.module_, net.scaler
    tensors = {
        f"module.{k}": v.detach().cpu().contiguous()
        for k, v in module.state_dict().items()
    }
    if scaler.mean is not None:
        tensors["scaler.mean"] = torch.as_tensor(scaler.mean)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": estimator_name,
        "versions": _versions(),
        "params": _params_to_json(params),
        "module_class": _qualified(type(module)),
        "fitted": {
            **state,
            "scale_": scaler.scale,
            "has_mean": scaler.mean is not None,
            "device": str(net.device),
        },
    }
    # (Not when the optimizer parameter was changed after the fit.)
    if type(net.optimizer_) is OPTIMIZERS.get(params["optimizer"], params["optimizer"]):
        metadata["optimizer"] = _optimizer_to_json(net.optimizer_, tensors)
    return metadata, tensors


def save(path, estimator_name, params, state, net):
    """Write a fitted model to ``path``; see the module docstring.

    ``estimator_name`` is the estimator's class name, ``params`` its
    parameters, ``state`` its other fitted values as plain data (see
    ``AutoencoderTransformer._fitted_state``) and ``net`` its trained net.
    """
    from safetensors.torch import save as st_save

    metadata, tensors = serialise(estimator_name, params, state, net)
    text = json.dumps(metadata, indent=1).encode("utf-8")
    if len(text) > _MAX_METADATA_BYTES:
        raise ValueError(
            f"Cannot save: the metadata would take {len(text) / 2**20:.1f} MiB, "
            f"over the {_MAX_METADATA_BYTES // 2**20} MiB that load() reads "
            f"(loss_curve_ has {len(state['loss_curve_'])} entries). Use pickle "
            "/ joblib for this model."
        )
    weights = st_save(tensors, metadata={"format": FORMAT})

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, text)
            archive.writestr(_WEIGHTS, weights)

    replace_atomically(path, write)
    return Path(path)


# ------------------------------------------------------------------- load


def _refuse(path, why, *, hint=False):
    """The ValueError of a refusal; ``hint`` adds what ``load`` reads at all."""
    message = f"Refusing to load {os.fspath(path)!r}: {why}."
    if hint:
        message += (
            " AutoencoderTransformer.load reads only files written by "
            f"AutoencoderTransformer.save (a zip archive with {_METADATA} and "
            f"{_WEIGHTS}) and never unpickles anything; to load a pickle or "
            "joblib file, use pickle.load / joblib.load, and only on files you "
            "trust."
        )
    return ValueError(message)


@contextlib.contextmanager
def _refusing(path, why, *, hint=False, catch=Exception):
    """Refuse the file on an exception in ``catch`` (never on a MemoryError).

    ``why`` is formatted with the exception (``exc``) and its type's name
    (``kind``).
    """
    try:
        yield
    except MemoryError:
        raise
    except catch as exc:
        why = why.format(exc=exc, kind=type(exc).__name__)
        raise _refuse(path, why, hint=hint) from None


def _check_members(archive, size):
    """Check the archive's members (as declared) before anything is read."""
    for info in archive.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(
                f"{info.filename} is compressed (method {info.compress_type}); "
                "save() stores members uncompressed, and load() does not expand them"
            )
        if info.flag_bits & 0x1:
            raise ValueError(f"{info.filename} is encrypted")
        if info.file_size != info.compress_size or info.file_size > size:
            raise ValueError(
                f"{info.filename} declares {info.file_size} bytes, more "
                f"than the {size} bytes of the file"
            )
    if archive.getinfo(_METADATA).file_size > _MAX_METADATA_BYTES:
        raise ValueError(
            f"{_METADATA} is over {_MAX_METADATA_BYTES // 2**20} MiB "
            "(save() never writes more)"
        )


def _read(path):
    """``(metadata, tensors, n_weight_bytes)`` from a model file, or a ValueError.

    Sizes are checked before anything is read: a member may not be
    compressed (``save`` stores them), nor declare more bytes than the file
    has.
    """
    from safetensors.torch import load as st_load

    with open_regular(path, lambda why: _refuse(path, why)) as (f, size):
        looks = "a pickle" if f.read(1) == b"\x80" else "not a zip archive"
        f.seek(0)
        with _refusing(path, f"it is {looks}", hint=True):
            archive = zipfile.ZipFile(f)
        with archive:
            names = sorted(archive.namelist())
            if names != _MEMBERS:
                why = f"the archive holds {names}, expected {_MEMBERS}"
                raise _refuse(path, why, hint=True)
            with _refusing(path, "{exc}", catch=ValueError):
                _check_members(archive, size)
            # (A bad CRC, a truncated or damaged entry.)
            with _refusing(path, "the archive is damaged ({kind}: {exc})"):
                raw_meta, raw_weights = archive.read(_METADATA), archive.read(_WEIGHTS)
    containers = raw_meta.count(b"[") + raw_meta.count(b"{")
    if containers > _MAX_CONTAINERS:  # then count only those outside strings
        outside_strings = _JSON_STRING.sub(b"", raw_meta)
        containers = outside_strings.count(b"[") + outside_strings.count(b"{")
    if containers > _MAX_CONTAINERS:
        why = f"{_METADATA} holds {containers:,} lists and objects (a model's has ~50)"
        raise _refuse(path, why)
    try:
        metadata = json.loads(raw_meta.decode("utf-8"), parse_int=_json_int)
    except _HugeInt as exc:
        raise _refuse(path, f"{_METADATA} holds {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(path, f"{_METADATA} is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        why = f"{_METADATA} does not describe a {FORMAT} model"
        raise _refuse(path, why, hint=True)
    if metadata.get("format_version") != FORMAT_VERSION:
        raise _refuse(
            path,
            f"format version {metadata.get('format_version')!r} is not "
            f"{FORMAT_VERSION} (saved by a newer sklearn_ae?)",
        )
    with _refusing(path, _WEIGHTS + " is not a valid safetensors file ({exc})"):
        tensors = st_load(raw_weights)
    return metadata, tensors, len(raw_weights)


# Small checks that raise ValueError with what is wrong.


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_finite(value):
    return _is_real(value) and math.isfinite(float(value))


class _HugeInt(ValueError):
    pass


def _json_int(text):
    """A JSON integer, refused outside int64 (no value of a model is)."""
    value = int(text)
    if not -(2**63) <= value < 2**63:
        digits = len(text.lstrip("-"))
        raise _HugeInt(f"an integer of {digits} digits, outside the int64 range")
    return value


def _int(name, value, low=0, high=None):
    if not _is_int(value) or value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {bounds}, got {value!r}")
    return int(value)


def _finite(name, value, *, positive=False):
    if not _is_finite(value) or (positive and value <= 0):
        kind = "a finite positive number" if positive else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return float(value)


def _curve(name, values, length=None):
    if not isinstance(values, list):
        raise ValueError(f"{name} must be a list, got {type(values).__name__}")
    if length is not None and len(values) != length:
        raise ValueError(f"{name} has {len(values)} entries, expected {length}")
    return [_finite(f"{name}[{i}]", v) for i, v in enumerate(values)]


def _names(name, value):
    if not (isinstance(value, list) and all(isinstance(n, str) for n in value)):
        raise ValueError(f"{name} must be None or a list of strings")
    return value


def _dtype(name, value):
    if value not in ("float32", "float64"):
        raise ValueError(f"{name} must be 'float32' or 'float64', got {value!r}")
    return value


def _dict(name, value):
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {type(value).__name__}")
    return value


def _keys(name, found, expected, optional=()):
    missing = sorted(set(expected) - set(_dict(name, found)))
    unknown = sorted(set(found) - set(expected) - set(optional))
    if missing or unknown:
        raise ValueError(f"{name} has missing keys {missing} / unknown keys {unknown}")


def _decode(value, classes=None, name=None):
    """A parameter from JSON; only ``classes`` (at the top) may be named."""
    if isinstance(value, list):
        return [_decode(v, name=name) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decode(v, name=name) for v in value["__tuple__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
            return {k: _decode(v, name=name) for k, v in value["__dict__"].items()}
        if set(value) == {"__class__"} and isinstance(value["__class__"], str):
            path = value["__class__"]
            if classes is None or path not in classes:
                allowed = "none" if classes is None else ", ".join(sorted(classes))
                raise ValueError(
                    f"parameter {name} names the class {path!r}, which is outside "
                    f"the allow-list ({allowed}); refusing it"
                )
            return classes[path]
        raise ValueError(f"unexpected value in the saved parameters: {value!r}")
    return value


def _check_params(saved, estimator_name):
    _keys("params", saved, PARAMETER_CONSTRAINTS)
    if saved["callbacks"] is not None:
        raise ValueError(
            "it carries callbacks, which save() never writes (callbacks only "
            "affect training, and load() never builds objects from a file)"
        )
    params = {
        name: _decode(value, _CLASSES.get(name), name) for name, value in saved.items()
    }
    if isinstance(params["random_state"], bool):
        raise ValueError(f"random_state is {params['random_state']!r}")
    validate_parameter_constraints(
        PARAMETER_CONSTRAINTS, params, caller_name=estimator_name
    )
    resolve_device(params["device"], fallback=True)  # a device string, not meta
    return params


# A check of each kind of the declared fitted state (sklearn_ae._fitted).
_KINDS = {
    "size": lambda name, value: _int(name, value, low=1),
    "count": _int,
    "seed": lambda name, value: _int(name, value, high=2**32 - 1),
    "curve": _curve,
    "number": _finite,
    "names": _names,
    "dtype": _dtype,
}


def _check_fitted(fitted, params):
    """The declared fitted values, each checked by its kind, then together."""
    _keys("fitted", fitted, _FITTED_KEYS)
    state = {}
    for field in FITTED:
        value = fitted[field.key]
        if not (value is None and " or " in field.kind):
            value = _KINDS[base_kind(field.kind)](field.key, value)
        state[field.key] = value
    n_features, n_iter = state["n_features_in_"], state["n_iter_"]
    names = state["feature_names_in_"]
    if names is not None and len(names) != n_features:
        raise ValueError(
            f"feature_names_in_ must be None or {n_features} strings (one per feature)"
        )
    # n_components is resolved on the training data (as PCA's is): an int is
    # the width itself; a fraction, "mle" or None give at most n_features.
    n_components, requested = state["n_components_"], params["n_components"]
    if _is_int(requested) and n_components != requested:
        raise ValueError(
            f"n_components_={n_components} differs from the parameter "
            f"n_components={requested}"
        )
    if not _is_int(requested) and n_components > n_features:
        raise ValueError(
            f"n_components_={n_components} is more than the {n_features} "
            f"features, which n_components={requested!r} cannot give"
        )
    # loss_curve_ has one entry per epoch trained.
    _curve("loss_curve_", state["loss_curve_"], n_iter)
    curve = state["validation_loss_curve_"]
    if curve is not None and len(curve) > n_iter:
        raise ValueError(
            f"validation_loss_curve_ has {len(curve)} entries, more than "
            f"n_iter_={n_iter}"
        )
    _int("best_epoch_", state["best_epoch_"], high=n_iter)
    fraction = state["explained_variance_fraction_"]
    if fraction is not None and fraction > 1:
        raise ValueError(f"explained_variance_fraction_ is {fraction}, more than 1")
    if not isinstance(fitted["has_mean"], bool):
        raise ValueError(f"has_mean must be true or false, got {fitted['has_mean']!r}")
    scale = _finite("scale_", fitted["scale_"], positive=True)
    if not fitted["has_mean"] and scale != 1.0:
        raise ValueError(f"scale_ is {scale}, but without a mean it must be 1.0")
    if not isinstance(fitted["device"], str):
        raise ValueError(f"device must be a string, got {fitted['device']!r}")
    return state


def _check_metadata(metadata, estimator_name):
    """``(params, state, scale, has_mean)`` from validated metadata."""
    _keys(_METADATA, metadata, _METADATA_KEYS, optional=("optimizer",))
    if metadata["estimator"] != estimator_name:
        raise ValueError(f"it holds a {metadata['estimator']!r}")
    versions = metadata["versions"]
    if not (
        isinstance(versions, dict)
        and all(isinstance(v, str) for v in versions.values())
    ):
        raise ValueError(f"versions must map names to strings, got {versions!r}")
    params = _check_params(metadata["params"], estimator_name)
    state = _check_fitted(metadata["fitted"], params)
    fitted = metadata["fitted"]
    return params, state, float(fitted["scale_"]), fitted["has_mean"]


def _describe(shape, dtype):
    return f"{str(dtype).removeprefix('torch.')} {list(shape)}"


def _check_tensor(name, tensor, shape, dtype, *, non_negative=False, problem=""):
    """``problem`` starts the message of a refusal."""
    if tensor.dtype != dtype or tuple(tensor.shape) != tuple(shape):
        raise ValueError(
            f"{problem}tensor {name!r} is {_describe(tensor.shape, tensor.dtype)}, "
            f"expected {_describe(shape, dtype)}"
        )
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        raise ValueError(f"{problem}tensor {name!r} holds NaN or infinite values")
    if non_negative and (tensor < 0).any():
        raise ValueError(f"{problem}tensor {name!r} holds negative values")


def _expected_module(params, n_features, n_module_tensors, n_bytes):
    """The meta module for ``params``, after a bound on its size.

    A declared model never needs more than the file holds: each layer stores
    at least one tensor, and every weight is in ``model.safetensors``.
    """
    lengths = [len(params["hidden_layer_sizes"])]
    filters = (params["module_params"] or {}).get("filters")
    if isinstance(filters, (tuple, list)):
        lengths.append(len(filters))
    if max(lengths) > n_module_tensors:
        raise ValueError(
            f"the parameters declare {max(lengths)} layers, but {_WEIGHTS} "
            f"holds only {n_module_tensors} module tensors"
        )
    try:
        module = meta_module(params, n_features)
    except (RuntimeError, OverflowError, TypeError, ValueError) as exc:
        raise ValueError(f"the parameters do not describe a model ({exc})") from None
    needed = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    if needed > n_bytes:
        raise ValueError(
            f"the parameters declare a model of {needed:,} bytes of weights, "
            f"but {_WEIGHTS} holds only {n_bytes:,} bytes"
        )
    return module


def _check_group(i, group, expected, n_params):
    """Check a saved parameter group against the built one, ``expected``."""
    _keys(f"optimizer param_groups[{i}]", group, expected, optional=_SCHEDULER_KEYS)
    if group["params"] != list(range(n_params)):
        raise ValueError(
            f"optimizer param_groups[{i}]['params'] must be the indices "
            f"0..{n_params - 1}"
        )
    for key, value in group.items():
        if key == "params":
            continue
        label = f"optimizer hyperparameter {key!r}"
        reference = expected.get(key, 0.0)  # scheduler keys: numbers
        if key in _IMPLEMENTATION_KEYS:
            if not (value is None or isinstance(value, bool)):
                raise ValueError(f"{label} must be true, false or null")
            continue  # the built optimizer's own are kept
        if _is_real(reference):
            if not _is_finite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")
        elif isinstance(reference, tuple):
            if not (
                isinstance(value, tuple)
                and len(value) == len(reference)
                and all(_is_real(v) and 0 <= v < 1 for v in value)
            ):
                raise ValueError(
                    f"{label} must be {len(reference)} numbers in [0, 1), got {value!r}"
                )
        elif value != reference or type(value) is not type(reference):
            raise ValueError(f"{label} must be {reference!r}, got {value!r}")


def _check_optimizer(saved, tensors, optimizer):
    """The optimizer state dict for ``optimizer`` (the built one), checked.

    The hyperparameters are checked against the built optimizer's own, and
    every state entry against the table of what this optimizer class keeps
    and the parameter it belongs to (shape, dtype, finite values); torch's
    ``load_state_dict`` then checks the groups and their sizes.
    """
    _keys("optimizer", saved, {"class", "state", "param_groups"})
    cls = type(optimizer)
    if saved["class"] != _qualified(cls):
        raise ValueError(
            f"the optimizer state is for {saved['class']!r}, but the parameters "
            f"build {_qualified(cls)!r}"
        )
    expected = optimizer.param_groups[0]
    params = expected["params"]
    groups = saved["param_groups"]
    if not (isinstance(groups, list) and len(groups) == 1):
        raise ValueError("the optimizer state must have one parameter group")
    group = {k: _decode(v) for k, v in _dict("param_groups[0]", groups[0]).items()}
    _check_group(0, group, expected, len(params))
    # How this machine runs the optimizer (e.g. fused) stays its own.
    group.update({k: expected[k] for k in _IMPLEMENTATION_KEYS & set(expected)})

    state = {}
    for idx, values in _dict("optimizer state", saved["state"]).items():
        if not (_INDEX.fullmatch(idx) and int(idx) < len(params)):
            raise ValueError(f"optimizer state for parameter {idx!r}, which is not one")
        if _dict(f"state[{idx}]", values):
            raise ValueError(f"the optimizer state of parameter {idx} is not tensors")
        state[int(idx)] = {}
    for name, tensor in tensors.items():
        idx, _, key = name.removeprefix(_OPT_PREFIX).partition(".")
        if not (_INDEX.fullmatch(idx) and int(idx) < len(params) and key):
            raise ValueError(f"unexpected tensor {name!r}")
        state.setdefault(int(idx), {})[key] = tensor

    keys = _OPTIMIZER_STATE[cls.__name__]
    scalar_dtype = (
        torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    )
    for idx, param in enumerate(params):
        entry = state.get(idx, {})
        if not entry and cls.__name__ not in _STATE_FROM_THE_START:
            continue  # a parameter that never had a gradient
        if set(entry) != keys:
            raise ValueError(
                f"the optimizer state of parameter {idx} has {sorted(entry)}, "
                f"expected {sorted(keys)}"
            )
        for key, value in sorted(entry.items()):
            scalar = key in _SCALAR_STATE
            _check_tensor(
                f"{_OPT_PREFIX}{idx}.{key}",
                value,
                () if scalar else param.shape,
                scalar_dtype if scalar else param.dtype,
                non_negative=key in _NON_NEGATIVE_STATE,
            )
    return {"state": state, "param_groups": [group]}


def _check_weights(params, state, has_mean, tensors, n_bytes, metadata):
    """Split and check the tensors: ``(mean, module_state, optimizer_state)``."""
    n_features = state["n_features_in_"]
    tensors = dict(tensors)
    mean = tensors.pop("scaler.mean", None)
    if has_mean:
        if mean is None:
            raise ValueError("the input mean is missing")
        _check_tensor("scaler.mean", mean, (n_features,), torch.float64)
        mean = mean.numpy()
    elif mean is not None:
        raise ValueError("it holds an input mean, but has_mean is false")
    unknown = sorted(k for k in tensors if not k.startswith(("module.", _OPT_PREFIX)))
    if unknown:
        raise ValueError(f"{_WEIGHTS} holds unexpected tensors {unknown}")
    module_state = {
        k.removeprefix("module."): v
        for k, v in tensors.items()
        if k.startswith("module.")
    }
    opt_tensors = {k: v for k, v in tensors.items() if k.startswith(_OPT_PREFIX)}
    stored = sum(t.numel() for t in module_state.values()) + getattr(mean, "size", 0)
    if n_features > max(stored, _MAX_FREE_FEATURES):
        # (An LSTM's weights do not depend on the number of timesteps, and
        # without a mean nothing else pins the width of a row.)
        raise ValueError(
            f"n_features_in_={n_features:,} is more than the {stored:,} values "
            f"the file stores and than the {_MAX_FREE_FEATURES:,} features "
            "load() accepts beyond them"
        )
    params = {**params, "n_components": state["n_components_"]}
    module = _expected_module(params, n_features, len(module_state), n_bytes)
    saved_class = metadata["module_class"]
    if saved_class != _qualified(type(module)):
        raise ValueError(
            f"it holds a {saved_class!r}, but the parameters build a "
            f"{_qualified(type(module))!r}"
        )
    expected = module.state_dict()
    missing = sorted(set(expected) - set(module_state))
    extra = sorted(set(module_state) - set(expected))
    if missing or extra:
        raise ValueError(
            f"the weights do not fit the model: missing {missing}, unexpected {extra}"
        )
    for name, reference in expected.items():
        _check_tensor(
            f"module.{name}",
            module_state[name],
            reference.shape,
            reference.dtype,
            problem="the weights do not fit the model: ",
        )

    if opt_tensors and "optimizer" not in metadata:
        raise ValueError("it holds optimizer tensors but no optimizer state")
    return mean, module_state, opt_tensors


def _check_versions(path, saved):
    here = _versions()
    diffs = [
        f"{name} {saved.get(name)!r} (now {version!r})"
        for name, version in here.items()
        if saved.get(name) != version
    ]
    if diffs:
        warnings.warn(
            f"{os.fspath(path)!r} was saved with " + ", ".join(diffs) + ". It "
            "loaded, but results may differ; save it again with the current "
            "versions once checked.",
            UserWarning,
            stacklevel=4,
        )


def _load_device(device):
    try:
        return resolve_device(device)
    except ValueError as exc:
        message = str(exc).replace(
            "The 'device' parameter of AutoencoderTransformer", "load(device=...)"
        )
        raise ValueError(message) from None


def load(path, estimator_name, *, device=None):
    """Read a model file: ``(params, state, net)``; see the module docstring.

    ``state`` holds the fitted values that ``save`` was given; ``net`` is
    built from ``params`` by the same function that ``fit`` uses (once its
    size and weights have been checked against the file), then filled in
    with the saved weights and the optimizer state, once checked.
    """
    if device is not None:
        device = _load_device(device)
    metadata, tensors, n_bytes = _read(path)
    # (ValueError includes scikit-learn's InvalidParameterError; a net that
    # cannot be built from valid parameters, e.g. mask noise of 1 or more,
    # raises one of these too.)
    refused = (ValueError, TypeError, KeyError, AttributeError, RecursionError)
    with _refusing(path, "{exc}", catch=(*refused, OverflowError)):
        params, state, scale, has_mean = _check_metadata(metadata, estimator_name)
        mean, module_state, opt_tensors = _check_weights(
            params, state, has_mean, tensors, n_bytes, metadata
        )
    saved_device = str(params["device"])
    if device is not None:
        params["device"] = device
    elif (
        saved_device != "auto" and resolve_device(saved_device, fallback=True) == "cpu"
    ):
        problem = _unavailable(torch.device(saved_device))
        if problem is not None:
            warnings.warn(
                f"{os.fspath(path)!r} was saved with device={saved_device!r}, but "
                f"{problem}; it was loaded on the CPU (device='cpu').",
                UserWarning,
                stacklevel=3,
            )
            params["device"] = "cpu"
    scaler = InputScaler(mean, scale)
    built = {**params, "n_components": state["n_components_"]}  # as resolved
    with _refusing(path, "{exc}", catch=refused):
        net = build_net(built, state["n_features_in_"], scaler, state["seed"])
        with torch.no_grad():
            net.module_.load_state_dict(module_state, strict=True)
        if "optimizer" in metadata:
            net.optimizer_.load_state_dict(
                _check_optimizer(metadata["optimizer"], opt_tensors, net.optimizer_)
            )
    _check_versions(path, metadata["versions"])
    return params, state, net
