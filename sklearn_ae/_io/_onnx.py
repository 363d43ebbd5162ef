"""ONNX export of the encoder or the decoder, input scaling included."""

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["export_onnx"]


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


def export_onnx(module, scaler, path, *, part, width, sigmoid, code_scale=1.0):
    """Write ``part`` of a fitted model to ``path`` as ONNX.

    Parameters
    ----------
    module : torch.nn.Module
        The trained module.

    scaler : InputScaler
        The fitted map into module space.

    path : str or path-like
        The file to write.

    part : {"encoder", "decoder"}
        Which half to export.

    width : int
        Width of the graph's input: ``n_features_in_`` or ``n_components_``.

    sigmoid : bool
        Whether the decoder's output goes through a sigmoid (``loss="bce"``).

    code_scale : float, default=1.0
        Factor from the module's codes to ``transform``'s (``scale_``).
    """
    if part not in ("encoder", "decoder"):
        raise ValueError(f"part must be 'encoder' or 'decoder'; got {part!r}.")
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "export_onnx needs the optional dependencies onnx and onnxscript: "
            "pip install 'sklearn-ae[onnx]'"
        ) from exc

    path = Path(path)
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
            torch.onnx.export(
                wrapper.eval(),
                (example,),
                str(path),
                input_names=["X"],
                output_names=[output],
                dynamic_shapes=({0: batch},),
                dynamo=True,
                verbose=False,
            )
    finally:
        registration.setLevel(level)
    return path
