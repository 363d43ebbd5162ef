"""Encoding and decoding with a fitted net, chunk by chunk, in the user's units.

Free functions of the fitted net, used by the estimator's transforms and by
the trainer for ``explained_variance_fraction_``.
"""

import copy

import numpy as np
import torch

from ._data import CHUNK_ROWS, as_tensor, chunk_slices, dense
from ._engine._threads import cpu_threads, step_flops

__all__ = [
    "decoder",
    "encoder",
    "explained_variance_fraction",
    "inference_threads",
]


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


def _row_squares(A):
    """Each row's sum of squares, in A's dtype (no float64 copy of A)."""
    return np.einsum("ij,ij->i", A, A)


def explained_variance_fraction(net, X, sst, *, bce):
    """``1 - SSE / sst`` of the reconstructions of X, in one chunked pass.

    The reconstructions are those ``inverse_transform(transform(X))`` gives
    (in X's dtype); each row's squares are summed in X's dtype and the rows'
    sums in float64. ``sst`` is the sum of squares about the mean (the
    statistics pass's).
    """
    encode, decode = encoder(net, X.dtype), decoder(net, X.dtype, bce)
    n = X.shape[0]
    sse = 0.0
    with torch.inference_mode(), inference_threads(net, X.shape[1], n):
        for rows in chunk_slices(n, getattr(X, "row_chunks", None)):
            x = dense(X[rows])
            sse += _row_squares(x - decode(encode(x))).sum(dtype=np.float64)
    return 1.0 - sse / sst if sst > 0 else float(sse == 0)
