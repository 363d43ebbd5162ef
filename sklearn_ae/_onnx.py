"""ONNX export of the encoder or the decoder, input scaling included."""

import copy
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

__all__ = ["export_onnx"]


class _Encoder(nn.Module):
    """``X -> codes``: the scaler's map into module space, then ``encode``."""

    def __init__(self, module, scaling):
        super().__init__()
        self.module = module
        self.scaling = scaling

    def forward(self, x):
        return self.module.encode(self.scaling(x))


class _Decoder(nn.Module):
    """``codes -> X``: ``decode``, the sigmoid for BCE, then the inverse map."""

    def __init__(self, module, unscaling, sigmoid):
        super().__init__()
        self.module = module
        self.unscaling = unscaling
        self.sigmoid = sigmoid

    def forward(self, z):
        x = self.module.decode(z)
        if self.sigmoid:
            x = torch.sigmoid(x)
        return self.unscaling(x)


def export_onnx(module, scaler, path, *, part, width, sigmoid):
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
        wrapper, output = _Encoder(module, scaler.to_module()), "codes"
    else:
        wrapper = _Decoder(module, scaler.to_module(inverse=True), sigmoid)
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
