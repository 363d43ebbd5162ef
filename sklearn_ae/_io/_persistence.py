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
2. the metadata, against one schema (``_KINDS``: each key's kind and
   range; the fitted values' kinds are declared in ``sklearn_ae._fitted``)
   by one validator (``_fields``), whose refusals name the key, what it must
   be and what the file holds; the parameters by scikit-learn's constraints,
   as ``fit`` checks them; then the values against each other (widths that
   agree, ``n_iter_ == len(loss_curve_)``, a scale of 1 without a mean);
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
import reprlib
import warnings
import zipfile
from numbers import Integral
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
from .._fitted import FITTED
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
    "Adam": "step exp_avg exp_avg_sq",
    "AdamW": "step exp_avg exp_avg_sq",
    "NAdam": "step mu_product exp_avg exp_avg_sq",
    "RAdam": "step exp_avg exp_avg_sq",
    "Adadelta": "step square_avg acc_delta",
    "Adagrad": "step sum",
    "RMSprop": "step square_avg",
    "SGD": "",
}
_STATE_FROM_THE_START = {"Adagrad"}
# The state entries that are one number (a 0-d tensor), not one per weight.
_SCALAR_STATE = {"step", "mu_product"}
# Optimizer state that is a count or a second moment: never negative.
_NON_NEGATIVE_STATE = {*_SCALAR_STATE, "exp_avg_sq", "sum", "square_avg", "acc_delta"}
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")


def _versions():
    libraries = {"torch": torch, "skorch": skorch, "scikit-learn": sklearn}
    return {"sklearn_ae": __version__} | {
        k: m.__version__ for k, m in libraries.items()
    }


# ------------------------------------------------------------------- save

# Values that a parameter holds in JSON as they are, or converted.
_PLAIN = (((int, np.integer), int), ((float, np.floating), float), (torch.device, str))


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
    if isinstance(value, type) and _qualified(value) in _CLASSES.get(name, {}):
        return {"__class__": _qualified(value)}
    allowed = ", ".join(c.__name__ for c in _ALLOWED.get(name, {}).values())
    own = "a class of your own" if isinstance(value, type) else type(value).__name__
    raise TypeError(
        f"Cannot save parameter {name}={value!r}: save() does not store {own}; it "
        "stores plain values (numbers, strings, tuples, lists, dicts, None), and "
        f"classes only from the allow-list that load() takes them from (for {name}: "
        f"{allowed or 'none'}). Use pickle / joblib (and load those only from "
        "sources you trust)."
    )


def _params_to_json(params):
    params, warn = dict(params), []
    if params["callbacks"] is not None:
        warn.append(f"does not store callbacks={params['callbacks']!r} (they only")
        warn[-1] += " affect training); the loaded model has callbacks=None"
    random_state = params["random_state"]
    if not (random_state is None or isinstance(random_state, (int, np.integer))):
        warn.append(f"stores random_state only as an int or None; {random_state!r}")
        warn[-1] += " is saved as None"
        params["random_state"] = None
    for message in warn:
        warnings.warn(f"save() {message}.", UserWarning, stacklevel=4)
    params["callbacks"] = None
    return {name: _encode(name, value) for name, value in params.items()}


def serialise(estimator_name, params, state, net):
    """``(metadata, tensors)``: what :func:`save` writes, in memory.

    The optimizer's per-parameter state goes to the tensors (the optimizers
    that ``save`` accepts keep only tensors there), the rest to the metadata.
    """
    module, scaler, optimizer = net.module_, net.scaler, net.optimizer_
    tensors = {f"module.{k}": v for k, v in module.state_dict().items()}
    if scaler.mean is not None:
        tensors["scaler.mean"] = torch.as_tensor(scaler.mean)
    fitted = {"scale_": scaler.scale, "has_mean": scaler.mean is not None}
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": estimator_name,
        "versions": _versions(),
        "params": _params_to_json(params),
        "module_class": _qualified(type(module)),
        "fitted": {**state, **fitted, "device": str(net.device)},
    }
    # (Not when the optimizer parameter was changed after the fit.)
    if type(optimizer) is OPTIMIZERS.get(params["optimizer"], params["optimizer"]):
        saved = optimizer.state_dict()
        for idx, entry in saved["state"].items():
            tensors |= {f"{_OPT_PREFIX}{idx}.{k}": v for k, v in entry.items()}
        groups = [
            {k: _encode(k, v) for k, v in g.items()} for g in saved["param_groups"]
        ]
        metadata["optimizer"] = {
            "class": _qualified(type(optimizer)),
            "state": {str(idx): {} for idx in saved["state"]},
            "param_groups": groups,
        }
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
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
            f"Cannot save: the metadata would take {len(text) / 2**20:.1f} MiB, over "
            f"the 16 MiB that load() reads (loss_curve_ has {len(state['loss_curve_'])}"
            " entries). Use pickle / joblib for this model."
        )
    weights = st_save(tensors, metadata={"format": FORMAT})

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.writestr(_METADATA, text)
            archive.writestr(_WEIGHTS, weights)

    replace_atomically(path, write)
    return Path(path)


# ------------------------------------------------------------------- load


class _Foreign(ValueError):
    """Not a model file at all: the refusal says what ``load`` reads."""


_HINT = (
    " AutoencoderTransformer.load reads only files written by AutoencoderTransformer"
    f".save (a zip archive with {_METADATA} and {_WEIGHTS}) and never unpickles "
    "anything; to load a pickle or joblib file, use pickle.load / joblib.load, and "
    "only on files you trust."
)


@contextlib.contextmanager
def _failing(why, error=ValueError):
    """Turn an exception (never a MemoryError) into ``error(why)``.

    ``why`` is formatted with the exception (``exc``) and its type (``kind``).
    """
    try:
        yield
    except MemoryError:
        raise
    except Exception as exc:
        raise error(why.format(exc=exc, kind=type(exc).__name__)) from None


class _HugeInt(ValueError):
    pass


def _json_int(text):
    """A JSON integer, refused outside int64 (no value of a model is)."""
    if not -(2**63) <= (value := int(text)) < 2**63:
        digits = len(text.lstrip("-"))
        raise _HugeInt(f"an integer of {digits} digits, outside the int64 range")
    return value


def _read(path):
    """``(metadata, tensors, n_weight_bytes)`` from a model file, or a ValueError.

    Sizes are checked before anything is read: a member may not be
    compressed (``save`` stores them), encrypted, nor declare more bytes
    than the file has, and the metadata is at most 16 MiB.
    """
    from safetensors.torch import load as st_load

    with open_regular(path, ValueError) as (f, size):
        looks = "a pickle" if f.read(1) == b"\x80" else "not a zip archive"
        f.seek(0)
        with _failing(f"it is {looks}", _Foreign):
            archive = zipfile.ZipFile(f)
        with archive:
            if (names := sorted(archive.namelist())) != _MEMBERS:
                raise _Foreign(f"the archive holds {names}, expected {_MEMBERS}")
            for info in archive.infolist():
                name, n = info.filename, info.file_size
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ValueError(
                        f"{name} is compressed (method {info.compress_type}"
                        "); save() stores members uncompressed, and load() does not "
                        "expand them"
                    )
                if info.flag_bits & 0x1:
                    raise ValueError(f"{name} is encrypted")
                if n != info.compress_size or n > size:
                    raise ValueError(
                        f"{name} declares {n} bytes, over the {size} of the file"
                    )
                if name == _METADATA and n > _MAX_METADATA_BYTES:
                    raise ValueError(
                        f"{name} is over 16 MiB (save() never writes more)"
                    )
            # (A bad CRC, a truncated or damaged entry.)
            with _failing("the archive is damaged ({kind}: {exc})"):
                raw_meta, raw_weights = archive.read(_METADATA), archive.read(_WEIGHTS)
    containers = raw_meta.count(b"[") + raw_meta.count(b"{")
    if containers > _MAX_CONTAINERS:  # then count only those outside strings
        outside_strings = _JSON_STRING.sub(b"", raw_meta)
        containers = outside_strings.count(b"[") + outside_strings.count(b"{")
    if containers > _MAX_CONTAINERS:
        raise ValueError(
            f"{_METADATA} holds {containers:,} lists and objects (a model's has ~50)"
        )
    try:
        metadata = json.loads(raw_meta.decode("utf-8"), parse_int=_json_int)
    except _HugeInt as exc:
        raise ValueError(f"{_METADATA} holds {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{_METADATA} is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _Foreign(f"{_METADATA} does not describe a {FORMAT} model")
    if (version := metadata.get("format_version")) != FORMAT_VERSION:
        raise ValueError(
            f"format version {version!r} is not {FORMAT_VERSION} (a newer sklearn_ae?)"
        )
    with _failing(_WEIGHTS + " is not a valid safetensors file ({exc})"):
        tensors = st_load(raw_weights)
    return metadata, tensors, len(raw_weights)


# The schema: what each value of the metadata must be, one check each.


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_finite(value):
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _is_strings(value, of=list):
    values = value.values() if isinstance(value, dict) else value
    return isinstance(value, of) and all(isinstance(v, str) for v in values)


# A kind: what a value must be, in words, and the test. The kinds of the
# fitted state are declared in sklearn_ae._fitted; "... or None" may be None.
_KINDS = {
    "size": ("an int >= 1", lambda v: _is_int(v) and v >= 1),
    "count": ("an int >= 0", lambda v: _is_int(v) and v >= 0),
    "seed": ("an int in [0, 2**32)", lambda v: _is_int(v) and 0 <= v < 2**32),
    "number": ("a finite number", _is_finite),
    "rate": ("a finite number >= 0", lambda v: _is_finite(v) and v >= 0),
    "positive": ("a finite positive number", lambda v: _is_finite(v) and v > 0),
    "curve": ("a list of finite numbers", lambda v: isinstance(v, list)),
    "names": ("a list of strings", _is_strings),
    "dtype": ("'float32' or 'float64'", lambda v: v in ("float32", "float64")),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "flag": ("true, false or null", lambda v: v is None or isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "strings": ("an object of strings", lambda v: _is_strings(v, of=dict)),
    "object": ("a JSON object", lambda v: isinstance(v, dict)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "any": ("anything", lambda v: True),
}


def _bad(key, must, got):
    return ValueError(f"{key!r} must be {must}, got {got}")


def _check(key, value, kind):
    """``value``, or a ValueError that says what ``key`` must be.

    ``kind`` is a name in ``_KINDS`` (or ``"<name> or None"``) or a pair
    ``(what it must be, test)``.
    """
    base, _, none = kind.partition(" or ") if isinstance(kind, str) else (kind, 0, 0)
    must, ok = _KINDS[base] if isinstance(base, str) else base
    if not ((none and value is None) or ok(value)):
        raise _bad(key, must + (" or None" if none else ""), reprlib.repr(value))
    if base == "curve" and value is not None:  # (as floats, as fit sets them)
        return [float(_check(f"{key}[{i}]", v, "number")) for i, v in enumerate(value)]
    return value


def _equal(expected, must=None):
    return (
        must or repr(expected),
        lambda v: v == expected and type(v) is type(expected),
    )


def _fields(name, found, schema, optional=()):
    """Check an object against a schema: exactly its keys, each of its kind."""
    _check(name, found, "object")
    missing = sorted(set(schema) - set(found) - set(optional))
    unknown = sorted(set(found) - set(schema))
    if missing or unknown:
        got = f"missing keys {missing}, unknown keys {unknown}"
        raise _bad(name, "an object with the keys save() writes", got)
    return {key: _check(key, value, schema[key]) for key, value in found.items()}


def _decode(value, classes=None, name=None):
    """A parameter from JSON; only ``classes`` (at the top) may be named."""
    if isinstance(value, list):
        return [_decode(v, name=name) for v in value]
    if not isinstance(value, dict):
        return value
    tag, inner = next(iter(value.items())) if len(value) == 1 else (None, None)
    if tag == "__tuple__" and isinstance(inner, list):
        return tuple(_decode(v, name=name) for v in inner)
    if tag == "__dict__" and isinstance(inner, dict):
        return {k: _decode(v, name=name) for k, v in inner.items()}
    if tag == "__class__" and isinstance(inner, str) and inner in (classes or {}):
        return classes[inner]
    allowed = ", ".join(sorted(classes or {})) or "none"
    must = f"a plain value, a tuple, a dict or a class of the allow-list ({allowed})"
    raise _bad(name, must, reprlib.repr(value))


def _require(ok, key, must, got):
    if not ok:
        raise _bad(key, must, got)


# The parameters are checked by scikit-learn's constraints once decoded; a
# file never carries callbacks (save() stores None).
_PARAMS = dict.fromkeys(PARAMETER_CONSTRAINTS, "any") | {
    "callbacks": ("null (save() never writes callbacks)", lambda v: v is None),
    "random_state": "seed or None",
}
_FITTED = {f.key: f.kind.replace("absent", "None") for f in FITTED}
_FITTED |= {"scale_": "positive", "has_mean": "bool", "device": "str"}


def _check_metadata(metadata, estimator_name):
    """``(params, state)`` from validated metadata; see the module docstring."""
    schema = {"format": "str", "format_version": "count", "versions": "strings"}
    schema |= {"estimator": _equal(estimator_name), "module_class": "str"}
    schema |= {"params": "object", "fitted": "object", "optimizer": "object"}
    _fields(_METADATA, metadata, schema, optional={"optimizer"})
    params = _fields("params", metadata["params"], _PARAMS)
    params = {name: _decode(v, _CLASSES.get(name), name) for name, v in params.items()}
    validate_parameter_constraints(PARAMETER_CONSTRAINTS, params, estimator_name)
    resolve_device(params["device"], fallback=True)  # a device string, not meta
    state = _fields("fitted", metadata["fitted"], _FITTED)
    n, n_iter = state["n_features_in_"], state["n_iter_"]
    names, curve = state["feature_names_in_"], state["loss_curve_"]
    _require(names is None or len(names) == n, "feature_names_in_", f"{n} names", n)
    # n_components is resolved on the training data (as PCA's is): an int is
    # the width itself; a fraction, "mle" or None give at most n_features.
    width, asked = state["n_components_"], params["n_components"]
    _require(width == asked or not _is_int(asked), "n_components_", asked, width)
    _require(width <= n, "n_components_", f"at most {n} (n_features_in_)", width)
    _require(len(curve) == n_iter, "loss_curve_", f"{n_iter} numbers", len(curve))
    more = len(state["validation_loss_curve_"] or ())
    _require(more <= n_iter, "validation_loss_curve_", f"<= {n_iter} numbers", more)
    best = state["best_epoch_"]
    _require(best <= n_iter, "best_epoch_", f"at most {n_iter} (n_iter_)", best)
    fraction = state["explained_variance_fraction_"]
    _require((fraction or 0) <= 1, "explained_variance_fraction_", "<= 1", fraction)
    scale = state["scale_"]
    _require(state["has_mean"] or scale == 1, "scale_", "1 without a mean", scale)
    return params, state


def _check_tensor(name, tensor, shape, dtype, *, non_negative=False):
    got = f"{str(tensor.dtype)[6:]} {list(tensor.shape)}"
    expected = f"{str(dtype)[6:]} {list(shape)}"
    if got != expected:
        raise ValueError(f"tensor {name!r} is {got}, expected {expected}")
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        raise ValueError(f"tensor {name!r} holds NaN or infinite values")
    if non_negative and (tensor < 0).any():
        raise ValueError(f"tensor {name!r} holds negative values")


def _check_weights(params, state, tensors, n_bytes, module_class):
    """Split and check the tensors: ``(mean, module_state, optimizer_tensors)``.

    The model the parameters describe is built on the meta device (no
    memory) once its size is bounded: each layer stores at least one tensor,
    and every weight is in ``model.safetensors``.
    """
    n_features, has_mean, tensors = (
        state["n_features_in_"],
        state["has_mean"],
        {**tensors},
    )
    mean = tensors.pop("scaler.mean", None)
    must = f"{mean is not None} (whether {_WEIGHTS} holds scaler.mean)"
    _require(has_mean == (mean is not None), "has_mean", must, has_mean)
    if has_mean:
        _check_tensor("scaler.mean", mean, (n_features,), torch.float64)
        mean = mean.numpy()
    parts = {"module.": {}, _OPT_PREFIX: {}}
    for name, tensor in tensors.items():
        prefix = next((p for p in parts if name.startswith(p)), None)
        _require(prefix, "tensors", "module.* or optimizer.state.*", repr(name))
        parts[prefix][name.removeprefix(prefix)] = tensor
    module_state, opt_tensors = parts.values()
    stored = sum(t.numel() for t in module_state.values()) + getattr(mean, "size", 0)
    # (An LSTM's weights do not depend on the number of timesteps, and
    # without a mean nothing else pins the width of a row.)
    most = max(stored, _MAX_FREE_FEATURES)
    why = f"at most {most:,} (the values in the file, or {_MAX_FREE_FEATURES:,})"
    _require(n_features <= most, "n_features_in_", why, f"{n_features:,}")
    filters = (params["module_params"] or {}).get("filters")
    layers = max(len(params["hidden_layer_sizes"]), len(filters or ()))
    why = f"at most the {len(module_state)} module tensors of {_WEIGHTS}"
    _require(layers <= len(module_state), "layers", why, layers)
    params = {**params, "n_components": state["n_components_"]}
    with _failing("the parameters do not describe a model ({exc})"):
        module = meta_module(params, n_features)
    expected = module.state_dict()
    needed = sum(t.numel() * t.element_size() for t in expected.values())
    why = f"a model of {needed:,} bytes of weights, but {_WEIGHTS} holds {n_bytes:,}"
    if needed > n_bytes:
        raise ValueError(f"the parameters declare {why}")
    built = _qualified(type(module))
    _require(module_class == built, "module_class", repr(built), repr(module_class))
    with _failing("the weights do not fit the model: {exc}"):
        missing = sorted(set(expected) - set(module_state))
        extra = sorted(set(module_state) - set(expected))
        got = f"missing {missing}, unexpected {extra}"
        _require(not (missing or extra), "weights", f"the tensors of {built}", got)
        for name, ref in expected.items():
            _check_tensor(f"module.{name}", module_state[name], ref.shape, ref.dtype)
    return mean, module_state, opt_tensors


def _group_kind(key, reference, n_params):
    """What the value of ``key`` in a saved parameter group must be."""
    if key == "params":
        return _equal(list(range(n_params)), f"the indices 0..{n_params - 1}")
    if key in _IMPLEMENTATION_KEYS:
        return "flag"  # the built optimizer's own are kept
    if _is_finite(reference) or key in _SCHEDULER_KEYS:
        return "rate"
    if not isinstance(reference, tuple):
        return _equal(reference)

    def ok(value):
        in_range = all(_is_finite(v) and 0 <= v < 1 for v in value)
        return isinstance(value, tuple) and len(value) == len(reference) and in_range

    return f"{len(reference)} numbers in [0, 1)", ok


def _check_optimizer(saved, tensors, optimizer):
    """The optimizer state dict for ``optimizer`` (the built one), checked.

    The hyperparameters are checked against the built optimizer's own, and
    every state entry against the table of what this optimizer class keeps
    and the parameter it belongs to (shape, dtype, finite values); torch's
    ``load_state_dict`` then checks the groups and their sizes.
    """
    cls, expected = type(optimizer), optimizer.param_groups[0]
    params = expected["params"]
    indices = {str(i) for i in range(len(params))}
    schema = {"class": _equal(_qualified(cls), f"{_qualified(cls)!r} (the parameters)")}
    schema["state"] = (
        "an object of empty objects, one per parameter index",
        lambda v: isinstance(v, dict) and set(v) <= indices and not any(v.values()),
    )
    one = ("a list of one object", lambda v: isinstance(v, list) and len(v) == 1)
    _fields("optimizer", saved, schema | {"param_groups": one})
    group = _check("param_groups[0]", saved["param_groups"][0], "object")
    group = {k: _decode(v, name=k) for k, v in group.items()}
    keys = {*expected, *_SCHEDULER_KEYS}
    schema = {k: _group_kind(k, expected.get(k), len(params)) for k in keys}
    _fields("param_groups[0]", group, schema, optional=_SCHEDULER_KEYS)
    # How this machine runs the optimizer (e.g. fused) stays its own.
    group.update({k: expected[k] for k in _IMPLEMENTATION_KEYS & set(expected)})

    state = {int(idx): {} for idx in saved["state"]}
    for name, tensor in tensors.items():
        idx, _, key = name.partition(".")
        ok = _INDEX.fullmatch(idx) and int(idx) < len(params) and key
        must = "optimizer.state.<parameter index>.<name>"
        _require(ok, "tensors", must, repr(_OPT_PREFIX + name))
        state.setdefault(int(idx), {})[key] = tensor
    keys = set(_OPTIMIZER_STATE[cls.__name__].split())
    scalar = ((), torch.promote_types(torch.get_default_dtype(), torch.float32))
    for idx, param in enumerate(params):
        entry = state.get(idx, {})
        if not entry and cls.__name__ not in _STATE_FROM_THE_START:
            continue  # a parameter that never had a gradient
        key = f"optimizer state of parameter {idx}"
        _require(set(entry) == keys, key, sorted(keys), sorted(entry))
        for key, value in sorted(entry.items()):
            like = scalar if key in _SCALAR_STATE else (param.shape, param.dtype)
            name = f"{_OPT_PREFIX}{idx}.{key}"
            _check_tensor(name, value, *like, non_negative=key in _NON_NEGATIVE_STATE)
    return {"state": state, "param_groups": [group]}


_REFUSED = (ValueError, TypeError, KeyError, AttributeError, RecursionError)
_REFUSED += (OverflowError,)


def load(path, estimator_name, *, device=None):
    """Read a model file: ``(params, state, net)``; see the module docstring.

    ``state`` holds the fitted values that ``save`` was given; ``net`` is
    built from ``params`` by the same function that ``fit`` uses (once its
    size and weights have been checked against the file), then filled in
    with the saved weights and the optimizer state, once checked.
    """
    if device is not None:
        try:
            device = resolve_device(device)
        except ValueError as exc:
            old = "The 'device' parameter of AutoencoderTransformer"
            raise ValueError(str(exc).replace(old, "load(device=...)")) from None
    # (ValueError includes scikit-learn's InvalidParameterError; a net that
    # cannot be built from valid parameters, e.g. mask noise of 1 or more,
    # raises one of these too.)
    try:
        metadata, tensors, n_bytes = _read(path)
        params, state = _check_metadata(metadata, estimator_name)
        mean, module_state, opt_tensors = _check_weights(
            params, state, tensors, n_bytes, metadata["module_class"]
        )
        has = "optimizer" in metadata or not opt_tensors
        _require(has, "optimizer", "present with optimizer tensors", "none")
        saved_device, here = str(params["device"]), None
        if device is None and saved_device != "auto":
            here = _unavailable(torch.device(saved_device))
        if here is not None:
            why = f"{os.fspath(path)!r} was saved with device={saved_device!r}, but"
            why += f" {here}; it was loaded on the CPU (device='cpu')."
            warnings.warn(why, UserWarning, stacklevel=3)
        params["device"] = device or ("cpu" if here else params["device"])
        scaler = InputScaler(mean, float(state["scale_"]))
        built = {**params, "n_components": state["n_components_"]}  # as resolved
        net = build_net(built, state["n_features_in_"], scaler, state["seed"])
        with torch.no_grad():
            net.module_.load_state_dict(module_state, strict=True)
        if "optimizer" in metadata:
            net.optimizer_.load_state_dict(
                _check_optimizer(metadata["optimizer"], opt_tensors, net.optimizer_)
            )
    except _REFUSED as exc:
        why = f"{exc}.{_HINT if isinstance(exc, _Foreign) else ''}"
        raise ValueError(f"Refusing to load {os.fspath(path)!r}: {why}") from None
    saved, now = metadata["versions"], _versions()
    diffs = [
        f"{k} {saved.get(k)!r} (now {v!r})" for k, v in now.items() if saved.get(k) != v
    ]
    if diffs:
        warnings.warn(
            f"{os.fspath(path)!r} was saved with {', '.join(diffs)}. It loaded, but "
            "results may differ; save it again with the current versions once checked.",
            UserWarning,
            stacklevel=3,
        )
    return params, state, net
