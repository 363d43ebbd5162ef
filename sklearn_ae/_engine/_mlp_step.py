"""The built-in MLP autoencoder's training step, its gradients written out.

autograd records every operation of a step in a graph, keeps each
intermediate for its backward function, allocates every gradient afresh and
adds the two contributions a parameter may receive. For the small matrices of
a typical autoencoder that bookkeeping is a large share of a step: on the
article's 784-32-784 model (batch 256, binary cross-entropy, one thread) a
step of a fit took about 1.85 ms with autograd, and 1.50 ms written out by
hand like this (as scikit-learn's ``MLPRegressor`` does in numpy). So for
:class:`~sklearn_ae.MLPAutoencoder` (Linear layers and elementwise
activations) :class:`MLPStep` runs the forward pass without a graph, computes
the loss and its gradient with respect to the output in the output's own
buffer (the sigmoid in place, for binary cross-entropy) and backpropagates
through the layers in reverse, writing each weight's gradient into a buffer
kept for the epoch. The operations are the ones autograd would run (the
same matrix products, torch's own formulas for each activation's derivative),
so the fit is the same up to float rounding: about 1e-6 relative on a
gradient (``tests/test_mlp_step.py`` checks every supported configuration
against autograd).

It runs only where nothing could tell the difference: in the lean epoch (no
callback listens to a batch, the step is skorch's own, see
``AutoencoderNet.run_single_epoch``), for the built-in MLP module with no hook
registered on it, float32 weights that all need gradients, activations in
:data:`DERIVATIVES`, the built-in losses, no variational code, on the CPU (it
has not been run on a GPU) and outside data-parallel training. Anything else
(a variational module, GELU, a user's module or criterion, a callback on
batches, a GPU) takes autograd's path, as before.
Its gradients are written into the same tensors at every step, so the epoch
neither zeroes them nor rebuilds the optimizer's argument lists (see
``Adam.repeated_step`` in ``_optim``).
"""

import torch
from torch import nn
from torch.nn.modules import module as _module_globals

from .._modules import MLPAutoencoder
from ._losses import BCEWithLogitsLoss, mean_bce_with_logits_

__all__ = ["DERIVATIVES", "MLPStep"]


def _leaky_relu_(x, layer):
    return torch.nn.functional.leaky_relu_(x, layer.negative_slope)


def _relu_backward(grad, out, layer):
    return grad.masked_fill_(out <= 0, 0)


def _leaky_relu_backward(grad, out, layer):
    return grad.mul_(torch.where(out > 0, 1.0, layer.negative_slope))


def _tanh_backward(grad, out, layer):
    return grad.mul_(1 - out * out)


def _sigmoid_backward(grad, out, layer):
    return grad.mul_((1 - out) * out)


# The elementwise activations this step knows: each applied in place to a
# layer's fresh output, and its derivative written from that output
# (torch's own backward formulas: ReLU's and LeakyReLU's sign, tanh's
# ``1 - y**2``, the sigmoid's ``(1 - y) * y``), applied to the incoming
# gradient in place.
DERIVATIVES = {
    nn.ReLU: (lambda x, layer: x.relu_(), _relu_backward),
    nn.LeakyReLU: (_leaky_relu_, _leaky_relu_backward),
    nn.Tanh: (lambda x, layer: x.tanh_(), _tanh_backward),
    nn.Sigmoid: (lambda x, layer: x.sigmoid_(), _sigmoid_backward),
}


def _stack(sequential):
    """``[(linear, activation or None), ...]`` of a Sequential, or None."""
    layers = []
    for layer in sequential:
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            layers.append([layer, None])
        elif type(layer) in DERIVATIVES and layers and layers[-1][1] is None:
            layers[-1][1] = layer
        else:
            return None
    return [tuple(pair) for pair in layers]


class _Layer:
    """A Linear layer, its gradient buffers and its activation (if any)."""

    __slots__ = ("act", "bias", "bwd", "fwd", "grad_bias", "grad_weight", "weight")

    def __init__(self, linear, activation):
        self.weight, self.bias = linear.weight, linear.bias
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.act = activation
        self.fwd, self.bwd = (
            (None, None) if activation is None else DERIVATIVES[type(activation)]
        )

    def forward(self, x):
        out = torch.addmm(self.bias, x, self.weight.t())
        return out if self.fwd is None else self.fwd(out, self.act)

    def backward(self, x, out, grad, input_grad):
        """Set the gradients for output gradient ``grad`` (given the input
        ``x`` and output ``out``); return the input's gradient if asked."""
        if self.bwd is not None:
            grad = self.bwd(grad, out, self.act)
        torch.mm(grad.t(), x, out=self.grad_weight)
        torch.sum(grad, dim=0, out=self.grad_bias)
        return torch.mm(grad, self.weight) if input_grad else None


def _hooked(module):
    if any(
        (
            _module_globals._global_forward_hooks,
            _module_globals._global_forward_pre_hooks,
            _module_globals._global_backward_hooks,
            _module_globals._global_backward_pre_hooks,
        )
    ):
        return True
    return any(
        m._forward_hooks
        or m._forward_pre_hooks
        or m._backward_hooks
        or m._backward_pre_hooks
        for m in module.modules()
    )


class MLPStep:
    """One training step of an MLP autoencoder: loss, and gradients set.

    Parameters
    ----------
    module : MLPAutoencoder
        The module to train; see :meth:`for_net` for when this applies.

    loss : {"bce", "mse"}
        The mean binary cross-entropy on logits, or the mean squared error.

    sparsity : float
        Weight of the L1 penalty on the code, ``sparsity * sum over code
        units of mean_batch |z|`` (the net's ``get_loss``).
    """

    def __init__(self, module, loss, sparsity):
        def layers(sequential):
            return [_Layer(*pair) for pair in _stack(sequential)]

        self.encoder = layers(module.encoder)
        self.decoder = layers(module.decoder)
        self.linear_encoder = self.linear_decoder = None
        if module.linear_path:
            self.linear_encoder = _Layer(module.linear_encoder, None)
            self.linear_decoder = _Layer(module.linear_decoder, None)
        self.loss = loss
        self.sparsity = sparsity
        everything = [*self.encoder, *self.decoder]
        if module.linear_path:
            everything += [self.linear_encoder, self.linear_decoder]
        grad_of = {}
        for layer in everything:
            grad_of[layer.weight] = layer.grad_weight
            grad_of[layer.bias] = layer.grad_bias
        self.params = list(module.parameters())
        self.grads = [grad_of[p] for p in self.params]

    @classmethod
    def for_net(cls, net):
        """The step for ``net``'s module and loss, or None where autograd's
        path must be taken (see the module docstring)."""
        module, criterion = net.module_, net.criterion_
        if type(module) is not MLPAutoencoder or module.variational:
            return None
        if net._process_group is not None:
            return None  # data-parallel: gradients are replaced by their mean
        if torch.device(net.device).type != "cpu":
            return None  # measured, and tested, on the CPU only
        if type(criterion) is BCEWithLogitsLoss:
            loss = "bce"
        elif type(criterion) is nn.MSELoss and criterion.reduction == "mean":
            loss = "mse"
        else:
            return None
        params = list(module.parameters())
        if not params or any(
            p.dtype != torch.float32 or not p.requires_grad for p in params
        ):
            return None
        if _stack(module.encoder) is None or _stack(module.decoder) is None:
            return None
        if _hooked(module):
            return None
        return cls(module, loss, float(net.sparsity))

    @staticmethod
    def _forward(layers, x):
        """The stack's output, and each layer's input and output."""
        saved = []
        for layer in layers:
            out = layer.forward(x)
            saved.append((x, out))
            x = out
        return x, saved

    @staticmethod
    def _backward(layers, saved, grad, input_grad=True):
        for i in range(len(layers) - 1, -1, -1):
            x, out = saved[i]
            grad = layers[i].backward(x, out, grad, input_grad or i > 0)
        return grad

    def __call__(self, x, target):
        """Run the step on batch ``x`` (its reconstruction target ``target``);
        set every parameter's ``.grad`` and return the loss (a 0-dim tensor).
        """
        with torch.no_grad():
            z, saved_encoder = self._forward(self.encoder, x)
            if self.linear_encoder is not None:
                z = z + self.linear_encoder.forward(x)
            out, saved_decoder = self._forward(self.decoder, z)
            if self.linear_decoder is not None:
                out = out + self.linear_decoder.forward(z)
            # The loss, and its gradient w.r.t. the output in out's buffer.
            if self.loss == "bce":
                loss, grad = mean_bce_with_logits_(out, target)
            else:
                grad = out.sub_(target)
                loss = torch.dot(grad.view(-1), grad.view(-1)) / grad.numel()
                grad.mul_(2 / grad.numel())
            grad_z = self._backward(self.decoder, saved_decoder, grad)
            if self.linear_decoder is not None:
                grad_z = grad_z + self.linear_decoder.backward(z, None, grad, True)
            if self.sparsity:
                # d/dz of sparsity * sum_j mean_b |z_bj|; torch's sign(0) is 0.
                loss = loss + self.sparsity * z.abs().mean(dim=0).sum()
                grad_z.add_(torch.sign(z), alpha=self.sparsity / len(z))
            self._backward(self.encoder, saved_encoder, grad_z, input_grad=False)
            if self.linear_encoder is not None:
                self.linear_encoder.backward(x, None, grad_z, False)
        self.attach_gradients()
        return loss

    def attach_gradients(self):
        """Make the gradient buffers the parameters' ``.grad``."""
        for param, grad in zip(self.params, self.grads, strict=True):
            param.grad = grad
