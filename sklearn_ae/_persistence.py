"""Saving and loading a fitted estimator without pickle.

A model file is an uncompressed zip archive with exactly two members:

- ``model.safetensors``: the module's weights (``module.<name>``), the
  input mean (``scaler.mean``), the optimizer's state tensors
  (``optimizer.state.<param>.<name>``) and the shuffling generator's state
  (``generator.state``), in the safetensors format, which holds
  raw tensors and nothing that can run code when read;
- ``metadata.json``: the format version, the versions of the libraries that
  wrote it, the estimator's parameters, its other fitted attributes and the
  optimizer's other state (its hyperparameters, per parameter group).

One file is easy to move and to hand to :meth:`AutoencoderTransformer.load`;
a zip archive is a standard container that ``unzip -l`` can inspect, and the
members are stored uncompressed so they read back quickly.

Parameters are plain JSON values, with three tagged forms: ``{"__tuple__":
[...]}`` for tuples, ``{"__dict__": {...}}`` for a dict with string keys (such
as ``module_params``) and ``{"__class__": "module:QualName"}`` for a class, which
is only written and only imported when its module is in ``_ALLOWED_MODULES``.
"""

import json
import os
import tempfile
import warnings
import zipfile
from importlib import import_module
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch

from ._compat import validate_parameter_constraints
from ._config import OPTIMIZERS, PARAMETER_CONSTRAINTS, build_net, resolve_device
from ._scaling import InputScaler

__all__ = ["load", "save"]

FORMAT = "sklearn_ae.AutoencoderTransformer"
FORMAT_VERSION = 1
_WEIGHTS = "model.safetensors"
_METADATA = "metadata.json"
_MEMBERS = {_WEIGHTS, _METADATA}
# A class parameter is stored by import path, and imported on load, only from
# these packages (prefixes of the defining module's dotted name).
_ALLOWED_MODULES = ("torch.optim", "torch.nn", "sklearn_ae")
# Parameters that only steer training: not saved, with a warning.
_TRAINING_ONLY = ("callbacks",)
_MAX_METADATA_BYTES = 64 * 2**20
_OPT_PREFIX = "optimizer.state."


def _versions():
    from . import __version__

    return {
        "sklearn_ae": __version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
    }


def _allowed(module_name):
    return any(
        module_name == prefix or module_name.startswith(prefix + ".")
        for prefix in _ALLOWED_MODULES
    )


def _encode(name, value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(name, v) for v in value]}
    if isinstance(value, list):
        return [_encode(name, v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(f"{name}[{k!r}]", v) for k, v in value.items()}}
    if isinstance(value, type):
        if not _allowed(value.__module__):
            raise TypeError(
                f"Cannot save parameter {name}={value!r}: save() stores a class "
                "only by its import path, and only classes from "
                f"{', '.join(_ALLOWED_MODULES)} are imported on load. Use a "
                "built-in name or class, or pickle / joblib (trusted input only)."
            )
        return {"__class__": f"{value.__module__}:{value.__qualname__}"}
    raise TypeError(
        f"Cannot save parameter {name}={value!r} of type {type(value).__name__}: "
        "save() stores plain values (numbers, strings, tuples, lists, None) and "
        "allow-listed classes only. Use pickle / joblib (trusted input only)."
    )


def _decode(value):
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__dict__"} and isinstance(value["__dict__"], dict):
            return {k: _decode(v) for k, v in value["__dict__"].items()}
        if set(value) == {"__class__"} and isinstance(value["__class__"], str):
            return _import_class(value["__class__"])
        raise ValueError(f"Unexpected value in the saved parameters: {value!r}")
    return value


def _import_class(path):
    module_name, _, qualname = path.partition(":")
    if not _allowed(module_name) or not qualname:
        raise ValueError(
            f"The model file names the class {path!r}, which is outside the "
            f"allow-list ({', '.join(_ALLOWED_MODULES)}); refusing to import it."
        )
    obj = import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise ValueError(f"{path!r} in the model file is not a class.")
    return obj


def _params_to_json(params):
    encoded = {}
    for name, value in params.items():
        if name in _TRAINING_ONLY and value is not None:
            warnings.warn(
                f"save() does not store {name}={value!r} (it only affects "
                f"training); the loaded model has {name}=None.",
                UserWarning,
                stacklevel=4,
            )
            value = None
        elif name == "random_state" and not (
            value is None or isinstance(value, (int, np.integer))
        ):
            warnings.warn(
                f"save() stores random_state only as an int or None; "
                f"{value!r} is saved as None.",
                UserWarning,
                stacklevel=4,
            )
            value = None
        encoded[name] = _encode(name, value)
    return encoded


def _optimizer_class(optimizer):
    return OPTIMIZERS.get(optimizer) if isinstance(optimizer, str) else optimizer


def _optimizer_to_json(optimizer, tensors):
    """The optimizer's state: tensors into ``tensors``, the rest as JSON.

    Returns None (and the state is not saved, with a warning) when a value is
    neither a tensor nor a plain value.
    """
    state_dict = optimizer.state_dict()
    found = {}
    try:
        plain = {}
        for idx, param_state in state_dict["state"].items():
            plain[str(idx)] = {}
            for key, value in param_state.items():
                if torch.is_tensor(value):
                    found[f"{_OPT_PREFIX}{idx}.{key}"] = value.detach().cpu()
                else:
                    plain[str(idx)][key] = _encode(key, value)
        groups = [
            {k: _encode(k, v) for k, v in group.items()}
            for group in state_dict["param_groups"]
        ]
    except TypeError:
        warnings.warn(
            f"The state of optimizer {type(optimizer).__name__} is not saved (it "
            "holds values that are neither tensors nor plain values); a "
            "partial_fit after load starts a fresh optimizer.",
            UserWarning,
            stacklevel=4,
        )
        return None
    tensors.update({k: v.contiguous() for k, v in found.items()})
    kind = type(optimizer)
    return {
        "class": f"{kind.__module__}:{kind.__qualname__}",
        "state": plain,
        "param_groups": groups,
    }


def _optimizer_from_json(saved, tensors):
    """The optimizer state dict from its JSON part and its tensors."""
    state = {
        int(idx): {k: _decode(v) for k, v in values.items()}
        for idx, values in saved["state"].items()
    }
    for name, value in tensors.items():
        idx, key = name.removeprefix(_OPT_PREFIX).split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    groups = [{k: _decode(v) for k, v in g.items()} for g in saved["param_groups"]]
    return {"state": state, "param_groups": groups}


def save(path, estimator_name, params, state, net):
    """Write a fitted model to ``path``; see the module docstring.

    ``estimator_name`` is the estimator's class name, ``params`` its
    parameters, ``state`` its other fitted
    values as plain data (see ``AutoencoderTransformer._fitted_state``) and
    ``net`` its trained net.
    """
    from safetensors.torch import save as st_save

    path = Path(path)
    encoded = _params_to_json(params)
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
        "params": encoded,
        "module_class": f"{type(module).__module__}:{type(module).__qualname__}",
        "fitted": {
            **state,
            "scale_": scaler.scale,
            "has_mean": scaler.mean is not None,
            "device": str(net.device),
        },
    }
    tensors["generator.state"] = net.generator.get_state()
    optimizer = None
    if type(net.optimizer_) is _optimizer_class(params["optimizer"]):
        # (Not when the optimizer parameter was changed after the fit.)
        optimizer = _optimizer_to_json(net.optimizer_, tensors)
    if optimizer is not None:
        metadata["optimizer"] = optimizer
    weights = st_save(tensors, metadata={"format": FORMAT})
    # Write next to the target and rename, so a failed save never leaves a
    # truncated file where a good one was.
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w") as archive:
            archive.writestr(_METADATA, json.dumps(metadata, indent=1))
            archive.writestr(_WEIGHTS, weights)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _refuse(path, why):
    return ValueError(
        f"Refusing to load {os.fspath(path)!r}: {why}. AutoencoderTransformer.load "
        "reads only files written by AutoencoderTransformer.save (a zip archive "
        f"with {_METADATA} and {_WEIGHTS}) and never unpickles anything; to load "
        "a pickle or joblib file, use pickle.load / joblib.load, and only on "
        "files you trust."
    )


def _read(path):
    """``(metadata, tensors)`` from a model file, or a ValueError."""
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    with open(path, "rb") as f:
        head = f.read(4)
    if not zipfile.is_zipfile(path):
        looks = "a pickle" if head[:1] == b"\x80" else "not a zip archive"
        raise _refuse(path, f"it is {looks}")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if names != _MEMBERS:
            raise _refuse(
                path,
                f"the archive holds {sorted(names)}, expected {sorted(_MEMBERS)}",
            )
        if archive.getinfo(_METADATA).file_size > _MAX_METADATA_BYTES:
            raise _refuse(path, f"{_METADATA} is implausibly large")
        raw_meta = archive.read(_METADATA)
        raw_weights = archive.read(_WEIGHTS)
    try:
        metadata = json.loads(raw_meta.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _refuse(path, f"{_METADATA} is not valid JSON ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise _refuse(path, f"{_METADATA} does not describe a {FORMAT} model")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise _refuse(
            path,
            f"format version {metadata.get('format_version')!r} is not "
            f"{FORMAT_VERSION} (saved by a newer sklearn_ae?)",
        )
    try:
        tensors = st_load(raw_weights)
    except (SafetensorError, ValueError) as exc:
        raise _refuse(
            path, f"{_WEIGHTS} is not a valid safetensors file ({exc})"
        ) from None
    return metadata, tensors


def _check_versions(path, saved):
    here = _versions()
    diffs = [
        f"{name} {saved.get(name)} (now {version})"
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


def load(path, estimator_name, *, device=None):
    """Read a model file: ``(params, state, net)``; see the module docstring.

    ``state`` holds the fitted values that ``save`` was given; ``net`` is
    built from ``params`` by the same function that ``fit`` uses, then filled
    in with the saved weights, optimizer state and shuffling state.
    """
    metadata, tensors = _read(path)
    if metadata.get("estimator") != estimator_name:
        raise _refuse(path, f"it holds a {metadata.get('estimator')!r}")
    _check_versions(path, metadata.get("versions") or {})
    try:
        params = {k: _decode(v) for k, v in metadata["params"].items()}
        validate_parameter_constraints(
            PARAMETER_CONSTRAINTS, params, caller_name=estimator_name
        )
        fitted = metadata["fitted"]
        n_features = int(fitted["n_features_in_"])
        scale = float(fitted["scale_"])
        names = fitted.get("feature_names_in_")
        curve = fitted.get("validation_loss_curve_")
        state = {
            "n_features_in_": n_features,
            "feature_names_in_": None if names is None else [str(n) for n in names],
            "n_components_": int(fitted["n_components_"]),
            "n_iter_": int(fitted["n_iter_"]),
            "loss_curve_": [float(v) for v in fitted["loss_curve_"]],
            "validation_loss_curve_": (
                None if curve is None else [float(v) for v in curve]
            ),
            "seed": int(fitted["seed"]),
            "dtype": np.dtype(fitted.get("dtype", "float32")),
        }
        if state["dtype"] not in (np.float32, np.float64):
            raise ValueError(f"dtype {state['dtype']} is not float32 or float64")
    except (KeyError, TypeError, ValueError, AttributeError, ImportError) as exc:
        # ValueError includes scikit-learn's InvalidParameterError.
        raise _refuse(path, f"{_METADATA} is incomplete or invalid ({exc})") from None
    if device is not None:
        params["device"] = device
    elif resolve_device(params["device"], fallback=True) != str(params["device"]):
        warnings.warn(
            f"{os.fspath(path)!r} was saved with device={params['device']!r}, but "
            "CUDA is not available here; it was loaded on the CPU (device='cpu').",
            UserWarning,
            stacklevel=3,
        )
        params["device"] = "cpu"

    mean = None
    if fitted.get("has_mean"):
        if "scaler.mean" not in tensors:
            raise _refuse(path, "the input mean is missing")
        mean = tensors.pop("scaler.mean").to(torch.float64).numpy()
        if mean.shape != (n_features,):
            raise _refuse(path, "the input mean has the wrong shape")
    module_state = {
        k.removeprefix("module."): v
        for k, v in tensors.items()
        if k.startswith("module.")
    }
    opt_tensors = {k: v for k, v in tensors.items() if k.startswith(_OPT_PREFIX)}
    generator = tensors.get("generator.state")
    if len(module_state) + len(opt_tensors) + (generator is not None) != len(tensors):
        raise _refuse(path, f"{_WEIGHTS} holds unexpected tensors")
    try:
        net = build_net(
            {**params, "n_components": state["n_components_"]},
            n_features,
            InputScaler(mean, scale),
            state["seed"],
        )
        net.module_.load_state_dict(module_state, strict=True)
    except (RuntimeError, ValueError) as exc:  # missing keys, wrong shapes
        raise _refuse(path, f"the weights do not fit the model ({exc})") from None
    if generator is not None:
        try:
            net.generator.set_state(generator)
        except (RuntimeError, TypeError) as exc:
            raise _refuse(path, f"the shuffling state is invalid ({exc})") from None
    if "optimizer" in metadata:
        optimizer = net.optimizer_
        kind = type(optimizer)
        try:
            saved_opt = metadata["optimizer"]
            if saved_opt["class"] != f"{kind.__module__}:{kind.__qualname__}":
                raise ValueError(f"it was {saved_opt['class']}")
            optimizer.load_state_dict(_optimizer_from_json(saved_opt, opt_tensors))
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as exc:
            raise _refuse(path, f"the optimizer state does not fit ({exc!r})") from None
    module = net.module_
    saved_module = metadata.get("module_class")
    here_module = f"{type(module).__module__}:{type(module).__qualname__}"
    if saved_module != here_module:
        raise _refuse(path, f"it holds a {saved_module}, not a {here_module}")
    return params, state, net
