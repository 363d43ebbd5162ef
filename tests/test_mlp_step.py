"""The MLP's training step written out by hand: autograd's loss and
gradients, the same fit, and autograd's path wherever it cannot apply."""

import pickle

import pytest
import torch
from numpy.testing import assert_allclose
from skorch.callbacks import Callback
from torch import nn

import sklearn_ae._engine._optim as optim_module
from sklearn_ae import AutoencoderTransformer, MLPAutoencoder
from sklearn_ae._engine._losses import BCEWithLogitsLoss
from sklearn_ae._engine._mlp_step import MLPStep

# hidden layers, activation, code activation, linear path, loss, sparsity
CONFIGS = [
    ((), "relu", "relu", False, "bce", 0.0),  # the article's model
    ((), "relu", "identity", False, "mse", 0.0),
    ((8,), "relu", "identity", True, "mse", 0.0),  # the default MLP
    ((8,), "relu", "identity", True, "bce", 0.05),
    ((8, 4), "tanh", "identity", False, "bce", 0.05),
    ((8,), "logistic", "tanh", False, "mse", 0.05),
    ((8,), "leaky_relu", "logistic", False, "bce", 0.0),
]


def _module(hidden, activation, code_activation, linear_path):
    torch.manual_seed(0)
    module = MLPAutoencoder(
        12,
        3,
        hidden,
        activation=activation,
        code_activation=code_activation,
        linear_path=linear_path,
    )
    with torch.no_grad():  # no zero weights: every path carries a gradient
        for param in module.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return module


def _autograd_step(module, loss, sparsity, x, target):
    z = module.encode(x)
    criterion = BCEWithLogitsLoss() if loss == "bce" else nn.MSELoss()
    value = criterion(module.decode(z), target)
    if sparsity:
        value = value + sparsity * z.abs().mean(dim=0).sum()
    value.backward()
    return value.detach(), [p.grad.clone() for p in module.parameters()]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_the_hand_step_gives_autograds_loss_and_gradients(config):
    *architecture, loss, sparsity = config
    module = _module(*architecture)
    generator = torch.Generator().manual_seed(1)
    # A denoising step: the input is not its target.
    x = torch.rand(20, 12, generator=generator)
    target = torch.rand(20, 12, generator=generator)
    expected_loss, expected = _autograd_step(module, loss, sparsity, x, target)
    module.zero_grad()
    before = x.clone()
    got = MLPStep(module, loss, sparsity)(x, target)
    torch.testing.assert_close(got, expected_loss, rtol=1e-6, atol=1e-7)
    for param, grad in zip(module.parameters(), expected, strict=True):
        assert grad.abs().max() > 0
        torch.testing.assert_close(param.grad, grad, rtol=1e-5, atol=1e-7)
    assert torch.equal(x, before)  # the input is left as it was


class _Calls:
    def __init__(self, monkeypatch):
        self.n = 0
        call = MLPStep.__call__

        def counted(step, x, target):
            self.n += 1
            return call(step, x, target)

        monkeypatch.setattr(MLPStep, "__call__", counted)


@pytest.mark.parametrize("loss, sparsity", [("bce", 0.0), ("mse", 0.01)])
def test_a_fit_takes_the_hand_step_and_ends_as_autograds(
    X_small, fast, loss, sparsity, monkeypatch
):
    params = {**fast, "loss": loss, "sparsity": sparsity, "batch_size": 64}
    X = X_small / 16
    calls = _Calls(monkeypatch)
    hand = AutoencoderTransformer(**params).fit(X)
    assert calls.n == fast["max_iter"] * 5  # every step of every epoch
    monkeypatch.setattr(MLPStep, "for_net", classmethod(lambda cls, net: None))
    autograd = AutoencoderTransformer(**params).fit(X)
    assert calls.n == fast["max_iter"] * 5
    assert_allclose(hand.loss_curve_, autograd.loss_curve_, rtol=1e-6)
    assert_allclose(hand.transform(X), autograd.transform(X), atol=1e-5)


class _OnBatch(Callback):
    def on_batch_end(self, net, **kwargs):
        pass


def test_autograds_path_wherever_the_hand_step_does_not_apply(
    X_small, fast, monkeypatch
):
    net = AutoencoderTransformer(**fast).fit(X_small).net_
    assert MLPStep.for_net(net) is not None
    handle = net.module_.encoder[0].register_forward_hook(lambda *args: None)
    assert MLPStep.for_net(net) is None  # a hook must see the forward pass
    handle.remove()
    assert MLPStep.for_net(net) is not None
    net.device = "cuda"  # (only read here): not run on a GPU, so not used there
    assert MLPStep.for_net(net) is None
    net.device = "cpu"
    for other in (
        {"activation": "gelu"},  # no derivative written for it
        {"variational": True},
        {"architecture": "conv", "input_shape": (1, 8, 8)},
    ):
        other_net = AutoencoderTransformer(**{**fast, **other}).fit(X_small).net_
        assert MLPStep.for_net(other_net) is None, other
    calls = _Calls(monkeypatch)
    AutoencoderTransformer(**fast, callbacks=[_OnBatch()]).fit(X_small)
    assert calls.n == 0  # skorch's own epoch, which calls back on every batch


def _two_optimizers(**kwargs):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(6, 3), nn.Linear(3, 6))
    modules = [module, pickle.loads(pickle.dumps(module))]
    optimizers = [optim_module.Adam(m.parameters(), lr=0.01, **kwargs) for m in modules]
    return modules, optimizers


@pytest.mark.parametrize("kwargs", [{}, {"weight_decay": 0.1, "maximize": True}])
def test_repeated_steps_equal_torchs_steps_bit_for_bit(kwargs, monkeypatch):
    monkeypatch.setattr(optim_module, "_compiler_loaded", lambda: False)
    (ours, theirs), (repeated, plain) = _two_optimizers(fused=True, **kwargs)
    x = torch.randn(20, 6)
    grads = [torch.zeros_like(p) for p in ours.parameters()]
    step = None
    for _ in range(4):
        for module in (ours, theirs):
            module.zero_grad()
            ((module(x) - x) ** 2).mean().backward()
        for param, grad in zip(ours.parameters(), grads, strict=True):
            grad.copy_(param.grad)  # the same tensors at every step
            param.grad = grad
        if step is None:
            step = repeated.repeated_step()  # initialises the state
        step()
        plain.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    assert repeated.state_dict()["state"][0]["step"].item() == 4


def test_no_repeated_step_where_something_listens_to_steps(monkeypatch):
    monkeypatch.setattr(optim_module, "_compiler_loaded", lambda: False)
    _, (optimizer, _) = _two_optimizers(fused=True)
    assert optimizer.repeated_step() is not None
    handle = optimizer.register_step_post_hook(lambda *args: None)
    assert optimizer.repeated_step() is None
    handle.remove()
    torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)  # wraps step()
    assert optimizer.repeated_step() is None
    _, (unfused, _) = _two_optimizers(fused=False)
    assert unfused.repeated_step() is None
