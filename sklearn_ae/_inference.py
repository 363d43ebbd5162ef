"""Encoding and decoding with a fitted net, chunk by chunk, in the user's units.

Free functions of the fitted net, used by the estimator's transforms and by
the trainer's measure of the explained variance.
"""

import copy

import numpy as np
import torch

from ._data import CHUNK_ROWS, as_tensor
from ._engine._threads import cpu_threads, step_flops

__all__ = ["decoder", "encoder", "inference_threads"]


def _inference_module(net, dtype):
    """The module in eval mode, and the torch dtype to run it in.

    float64 input is encoded in float64 on the CPU (with a float64 copy of
    the float32 weights), so a sample's code does not depend on which other
    samples share its batch; float32 input, and any input on a GPU, run
    the float32 module itself.
    """
    module = net.module_.eval()
    if dtype == np.float64 and torch.device(net.device).type == "cpu":
        return copy.deepcopy(module).to(torch.float64), torch.float64
    return module, torch.float32


def inference_threads(net, n_features, n_samples):
    """torch's thread count for encoding or decoding ``n_samples`` rows."""
    rows = min(max(n_samples, 1), CHUNK_ROWS)
    flops = step_flops(net.module_, n_features, rows, training=False, device=net.device)
    return cpu_threads(flops)


def encoder(net, dtype):
    """``x -> code tensor`` (module units) for dense ndarray chunks of ``dtype``."""
    module, compute = _inference_module(net, dtype)
    scaler, device = net.scaler, net.device
    return lambda x: module.encode(scaler(x, compute, device))


def decoder(net, dtype, bce):
    """``code ndarray -> reconstruction ndarray of dtype``, in X's units; the
    sigmoid applied to the decoder's logits when ``bce``."""
    module, compute = _inference_module(net, dtype)
    scaler, device = net.scaler, net.device

    def decode(z):
        x_hat = module.decode(as_tensor(z).to(device, compute))
        return scaler.inverse(torch.sigmoid(x_hat) if bce else x_hat, dtype)

    return decode
