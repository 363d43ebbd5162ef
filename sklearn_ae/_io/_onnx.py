"""ONNX graphs of the encoder or the decoder, input scaling included.

:func:`onnx_model` builds the graph in memory (``sklearn_ae.onnx`` embeds it
in skl2onnx's graph of a whole pipeline); :func:`export_onnx` writes it to one
self-contained file.
"""

import copy
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["EXTERNAL_DATA_BYTES", "export_onnx", "graph_arguments", "onnx_model"]

# Above this many bytes of weights, a file keeps them in a sidecar
# ``<name>.data``: protobuf refuses to serialise a message over 2 GiB, and the
# graph itself needs some room beside the weights. Below it (every model of the
# article, and any MLP up to about 400 million parameters) the file is
# self-contained.
EXTERNAL_DATA_BYTES = 1536 * 1024**2

# The oldest default-domain opset the exporter writes.
MIN_OPSET = 18


class _Encoder(nn.Module):
    """``X -> codes``: the scaler's map into module space, ``encode``, and the
    codes in X's units (times ``code_scale``), as ``transform`` gives them."""

    def __init__(self, module, scaling, code_scale):
        super().__init__()
        self.module = module
        self.scaling = scaling
        self.code_scale = code_scale

    def forward(self, x):
        return self.module.encode(self.scaling(x)) * self.code_scale


class _Decoder(nn.Module):
    """``codes -> X``: codes back to module units, ``decode``, the sigmoid for
    BCE, then the inverse map."""

    def __init__(self, module, unscaling, sigmoid, code_scale):
        super().__init__()
        self.module = module
        self.unscaling = unscaling
        self.sigmoid = sigmoid
        self.code_scale = code_scale

    def forward(self, z):
        x = self.module.decode(z / self.code_scale)
        if self.sigmoid:
            x = torch.sigmoid(x)
        return self.unscaling(x)


def _check_dependencies(what):
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{what} needs the optional dependencies onnx and onnxscript: "
            "pip install onnx onnxscript onnxruntime"
        ) from exc


def _program(module, scaler, *, part, width, sigmoid, code_scale, opset):
    """The exporter's ``ONNXProgram`` of ``part``, nothing written."""
    if part not in ("encoder", "decoder"):
        raise ValueError(f"part must be 'encoder' or 'decoder'; got {part!r}.")
    if opset is not None and opset < MIN_OPSET:
        raise ValueError(
            f"The ONNX graph of an autoencoder needs opset {MIN_OPSET} or newer; "
            f"got target opset {opset!r}."
        )
    module = copy.deepcopy(module).cpu().float().eval()
    if part == "encoder":
        wrapper = _Encoder(module, scaler.to_module(), float(code_scale))
        output = "codes"
    else:
        unscaling = scaler.to_module(inverse=True)
        wrapper = _Decoder(module, unscaling, sigmoid, float(code_scale))
        output = "X_reconstructed"
    example = torch.zeros(2, width)
    batch = torch.export.Dim("batch")
    # The exporter logs a warning per torchvision operator it cannot register
    # when torchvision is absent (none can occur in these graphs), and warns
    # about its own deprecated internals; neither concerns the user.
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            # nn.LSTM re-assigns its flat weight list while being traced.
            warnings.filterwarnings(
                "ignore", message=r"The tensor attributes .*_flat_weights"
            )
            return torch.onnx.export(
                wrapper.eval(),
                (example,),
                input_names=["X"],
                output_names=[output],
                opset_version=opset,
                dynamic_shapes=({0: batch},),
                dynamo=True,
                verbose=False,
            )
    finally:
        registration.setLevel(level)


def onnx_model(module, scaler, *, part, width, sigmoid, code_scale=1.0, opset=None):
    """The ONNX graph of ``part`` of a fitted model, as an ``onnx.ModelProto``.

    Parameters
    ----------
    module : torch.nn.Module
        The trained module.

    scaler : InputScaler
        The fitted map into module space.

    part : {"encoder", "decoder"}
        Which half to export.

    width : int
        Width of the graph's input: ``n_features_in_`` or ``n_components_``.

    sigmoid : bool
        Whether the decoder's output goes through a sigmoid (``loss="bce"``).

    code_scale : float, default=1.0
        Factor from the module's codes to ``transform``'s (``scale_``).

    opset : int, default=None
        The default domain's opset (18 or newer); None for the exporter's.

    Returns
    -------
    model : onnx.ModelProto
        Input ``"X"`` (float32, ``(batch, width)``), output ``"codes"`` or
        ``"X_reconstructed"``, the weights as initializers.
    """
    _check_dependencies("ONNX export")
    program = _program(
        module,
        scaler,
        part=part,
        width=width,
        sigmoid=sigmoid,
        code_scale=code_scale,
        opset=opset,
    )
    return program.model_proto


def graph_arguments(estimator, part):
    """The arguments of :func:`onnx_model` for ``part`` of a fitted estimator."""
    encoder = part == "encoder"
    return dict(
        module=estimator.module_,
        scaler=estimator.net_.scaler,
        part=part,
        width=estimator.n_features_in_ if encoder else estimator.n_components_,
        sigmoid=estimator.loss == "bce",
        code_scale=estimator.scale_,
    )


def _weight_bytes(module):
    return sum(p.numel() * 4 for p in module.parameters()) + sum(
        b.numel() * 4 for b in module.buffers()
    )


def export_onnx(module, scaler, path, *, part, width, sigmoid, code_scale=1.0):
    """Write ``part`` of a fitted model to ``path`` as one ONNX file.

    The weights are inside the file unless they exceed
    :data:`EXTERNAL_DATA_BYTES`; then they go to ``<path>.data`` beside it
    (protobuf's 2 GiB limit). The file appears complete or not at all: it is
    written in a temporary folder beside ``path`` and moved into place, and
    nothing is left behind when the export fails.

    Parameters are those of :func:`onnx_model`, and ``path``, the file to
    write. Returns ``path`` as a :class:`pathlib.Path`.
    """
    _check_dependencies("export_onnx")
    name = os.fspath(path)
    path = Path(path)
    if name.endswith(("/", os.sep)) or path.is_dir():
        raise ValueError(f"path must name a file, not a folder; got {name!r}.")
    if path.exists() and not path.is_file():
        raise ValueError(
            f"path must name a regular file or nothing; {name!r} is neither."
        )
    program = _program(
        module,
        scaler,
        part=part,
        width=width,
        sigmoid=sigmoid,
        code_scale=code_scale,
        opset=None,
    )
    external = _weight_bytes(module) > EXTERNAL_DATA_BYTES
    parent = path.parent
    scratch = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        staged = Path(scratch) / path.name
        program.save(staged, external_data=external)
        # The sidecar (only with external data) first, so that a model file in
        # place always finds its weights.
        for written in sorted(Path(scratch).iterdir(), key=lambda p: p == staged):
            os.replace(written, parent / written.name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return path
