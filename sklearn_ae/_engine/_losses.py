"""Training losses: the reconstruction losses and a VAE's KL term.

:class:`BCEWithLogitsLoss` is the mean binary cross-entropy of logits, the
same value and gradient as :class:`torch.nn.BCEWithLogitsLoss`, computed with
fewer transcendental functions. torch's ``log_sigmoid`` forward and the
``sigmoid`` of its backward cost one ``exp`` and one ``log1p`` per output
element, plus another ``exp`` in the backward pass; on the article's
784-32-784 model that is a large share of a training step on a CPU (see the
performance guide).

Per element, ``bce(x, y) = softplus(x) - x * y`` and ``softplus(x) = max(x, 0)
- log(sigmoid(|x|))``. The sum of the logarithms is the logarithm of a
product, and ``sigmoid(|x|)`` lies in ``[0.5, 1)``, so a product of 64 such
factors stays above ``2**-64``: far from float32's smallest normal number.
The forward pass therefore needs one ``sigmoid`` per element and one ``log``
per 64 elements; the ``max(x, 0) - x * y`` part is a clamped sum and a dot
product. The sigmoid is of ``x`` itself (``sigmoid(|x|)`` is ``max(p, 1 - p)``
for ``p = sigmoid(x)``), and the forward pass keeps ``p - y``, which is the
gradient but for its scale: the backward pass is one multiplication in place,
with no second ``sigmoid``. The rounding of a 64-factor product (a relative
error of about ``64 * 2**-24``) moves the mean loss by about ``1e-7``, below
float32's own rounding of a sum over a batch.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal
from torch.distributions import kl_divergence as _kl

__all__ = ["LOSSES", "BCEWithLogitsLoss", "gaussian_kl"]

_GROUP = 64


def _mean_bce(logits, target):
    """The mean binary cross-entropy of ``logits``, and ``sigmoid(logits)``
    flat, in a new buffer."""
    x = logits.reshape(-1)
    y = target.reshape(-1)
    n = x.numel()
    linear = x.clamp_min(0).sum() - torch.dot(x, y)
    p = torch.sigmoid(x)
    q = p.sub(0.5).abs_().add_(0.5)  # sigmoid(|x|) = max(p, 1 - p)
    whole = n - n % _GROUP
    log_q = q[:whole].view(-1, _GROUP).prod(dim=1).log_().sum()
    if whole < n:
        log_q = log_q + q[whole:].log().sum()
    return (linear - log_q) / n, p


class _MeanBCEWithLogits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits, target):
        loss, p = _mean_bce(logits, target)
        if ctx.needs_input_grad[0]:
            # The gradient, but for the scale of the incoming gradient.
            ctx.save_for_backward(p.sub_(target.reshape(-1)).view_as(logits))
        return loss

    @staticmethod
    def backward(ctx, grad):
        (residual,) = ctx.saved_tensors
        # Scaled in place: a second backward pass through the same graph
        # (retain_graph=True) is refused by torch, which sees the saved
        # tensor modified, rather than given a wrong gradient.
        return residual.mul_(grad / residual.numel()), None


class BCEWithLogitsLoss(nn.Module):
    """Mean binary cross-entropy between logits and targets in [0, 1].

    A drop-in for ``torch.nn.BCEWithLogitsLoss()`` (mean reduction, no
    weights), cheaper on a CPU; see the module docstring. Falls back
    to torch's function when the target needs a gradient or is empty.
    """

    def forward(self, logits, target):
        if (
            target.requires_grad
            or not logits.numel()
            or logits.shape != target.shape
            or logits.dtype != target.dtype
        ):
            return F.binary_cross_entropy_with_logits(logits, target)
        return _MeanBCEWithLogits.apply(logits, target)


LOSSES = {"mse": nn.MSELoss, "bce": BCEWithLogitsLoss}


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, summed over the code."""
    posterior = Normal(mean, torch.exp(0.5 * log_var), validate_args=False)
    prior = Normal(torch.zeros((), device=mean.device), 1.0, validate_args=False)
    return _kl(posterior, prior).sum(dim=1)
