"""The fused BCE-with-logits loss: torch's value and gradient, cheaper."""

import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from sklearn_ae._engine._losses import BCEWithLogitsLoss


def _value_and_grad(loss, logits, target):
    logits = logits.clone().requires_grad_()
    value = loss(logits, target)
    value.backward()
    return value.item(), logits.grad


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "shape",
    [(256, 784), (3, 7), (1, 64), (5, 64 * 3 + 1)],  # whole groups, and tails
)
@pytest.mark.parametrize("spread", [1.0, 30.0])  # saturated logits included
def test_same_value_and_gradient_as_torch(shape, dtype, spread):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(shape, generator=gen, dtype=dtype) * spread
    target = torch.rand(shape, generator=gen, dtype=dtype)
    target[0] = (target[0] > 0.5).to(dtype)  # hard 0/1 targets too
    ours = _value_and_grad(BCEWithLogitsLoss(), logits, target)
    ref = _value_and_grad(F.binary_cross_entropy_with_logits, logits, target)
    rtol = 1e-5 if dtype == torch.float32 else 1e-12
    assert_allclose(ours[0], ref[0], rtol=rtol)
    assert_allclose(ours[1].numpy(), ref[1].numpy(), rtol=rtol, atol=1e-12)


def test_extreme_logits_stay_finite_and_non_finite_ones_propagate():
    target = torch.tensor([[0.0, 1.0, 0.5, 1.0]])
    logits = torch.tensor([[1e4, -1e4, 0.0, 88.0]])
    value, grad = _value_and_grad(BCEWithLogitsLoss(), logits, target)
    ref, ref_grad = _value_and_grad(F.binary_cross_entropy_with_logits, logits, target)
    assert_allclose(value, ref, rtol=1e-6)
    assert_allclose(grad.numpy(), ref_grad.numpy(), atol=1e-7)
    nan = BCEWithLogitsLoss()(torch.tensor([[float("nan"), 0.0]]), target[:, :2])
    assert torch.isnan(nan)  # so the divergence check sees it


def test_falls_back_to_torch_where_it_does_not_apply():
    loss = BCEWithLogitsLoss()
    target = torch.rand(2, 3, requires_grad=True)
    logits = torch.randn(2, 3, requires_grad=True)
    loss(logits, target).backward()  # a target needing a gradient
    assert target.grad is not None
    assert torch.isnan(loss(torch.ones(0, 3), torch.ones(0, 3)))


def test_a_second_backward_through_the_graph_is_refused_not_wrong():
    # The backward pass scales the saved residual in place.
    logits = torch.randn(4, 70, requires_grad=True)
    value = BCEWithLogitsLoss()(logits, torch.rand(4, 70))
    value.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        value.backward()


def test_the_value_under_no_grad():
    logits, target = torch.randn(4, 70), torch.rand(4, 70)
    with torch.no_grad():
        value = BCEWithLogitsLoss()(logits, target)
    assert value.grad_fn is None
    assert_allclose(
        value.item(),
        F.binary_cross_entropy_with_logits(logits, target).item(),
        rtol=1e-6,
    )
