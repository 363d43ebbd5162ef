"""The private names of torch and skorch that ``_compat`` uses, and their
fallbacks.

The first tests pin each private name with the shape ``_compat`` relies on:
when an upgrade of torch or skorch changes one, they fail, while the library
keeps working through the fallback (the second group of tests).
"""

import inspect
import sys
import types

import pytest
import torch
from skorch import NeuralNet

from sklearn_ae import _compat
from sklearn_ae._engine import _optim

# ------------------------------------------------ the private names, pinned


@pytest.mark.parametrize(
    "method", ["add_param_group", "zero_grad", "state_dict", "load_state_dict"]
)
def test_torchs_optimizer_methods_wrap_a_function_without_the_compiler(method):
    wrapped = getattr(torch.optim.Optimizer, method)
    inner = _compat.unwrapped(wrapped)
    assert inner is not wrapped
    assert inner.__name__ == method
    assert inspect.signature(inner) == inspect.signature(wrapped)


def test_torchs_optimizer_step_is_hooked_over_the_plain_step():
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # patches the class
    step = torch.optim.Adam.step
    assert step.hooked is True
    assert _compat.unhooked(step) is step.__wrapped__


def test_torch_has_the_fused_adam_pieces_with_the_arguments_used():
    init_group = inspect.signature(torch.optim.Adam._init_group)
    assert list(init_group.parameters) == [
        "self",
        "group",
        "params_with_grad",
        "grads",
        "exp_avgs",
        "exp_avg_sqs",
        "max_exp_avg_sqs",
        "state_steps",
    ]
    assert callable(torch._foreach_add_)
    for name, kwargs in (("Adam", {}), ("AdamW", {"weight_decay": 0.1})):
        weights = []
        for optimizer in (getattr(_optim, name), getattr(torch.optim, name)):
            param = torch.nn.Parameter(torch.arange(4.0))
            optimizer = optimizer([param], lr=0.1, fused=True, **kwargs)
            for step in range(3):  # (one step is the same for any betas)
                param.grad = torch.tensor([1.0, -2.0, 3.0, 0.5]) * (step - 0.5)
                if isinstance(optimizer, _optim.Adam | _optim.AdamW):
                    assert _compat.fused_adam_applies(optimizer)
                    _compat.fused_adam_step(optimizer, optimizer.param_groups[0])
                else:
                    optimizer.step()
            weights.append(param.detach())
        assert torch.equal(*weights)


def test_torch_lists_the_cpu_among_its_fused_kernel_devices():
    assert "cpu" in _compat.fused_kernel_devices()


def test_torch_modules_apply_a_function_to_each_tensor():
    assert list(inspect.signature(torch.nn.Module._apply).parameters)[1:3] == [
        "fn",
        "recurse",
    ]
    module = _compat.empty_on_cpu(torch.nn.Linear(3, 2, device="meta"))
    assert module.weight.device.type == "cpu"
    assert module.weight.shape == (2, 3)


def test_skorch_has_the_private_step_methods_and_optimizer_list():
    for name in (*_compat.SKORCH_STEP_METHODS, "_set_training"):
        assert callable(getattr(NeuralNet, name))
    net = NeuralNet(
        torch.nn.Linear, torch.nn.MSELoss, module__in_features=2, module__out_features=2
    )
    net.initialize()
    assert _compat.optimizer_names(net) == ["optimizer"]
    net.module_.eval()
    _compat.set_training(net, True)
    assert net.module_.training


# ------------------------------------------------------------ the fallbacks


def _adam_steps(cls, steps=3):
    torch.manual_seed(0)
    module = torch.nn.Linear(4, 4)
    optimizer = cls(module.parameters(), lr=0.01, fused=True)
    x = torch.randn(8, 4)
    for _ in range(steps):
        optimizer.zero_grad()
        ((module(x) - x) ** 2).mean().backward()
        optimizer.step()
    return module.weight.detach().clone()


def test_without_the_fused_pieces_adam_takes_torchs_own_step(monkeypatch):
    monkeypatch.setattr(_optim, "compiler_loaded", lambda: False)
    monkeypatch.setattr(_compat, "_FUSED_ADAM", None)
    assert not _compat.fused_adam_applies(_optim.Adam([torch.zeros(1)], fused=True))
    assert torch.equal(_adam_steps(_optim.Adam), _adam_steps(torch.optim.Adam))


def test_without_torchs_fused_device_list_optimizers_are_not_fused(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils._foreach_utils", None)
    assert _compat.fused_kernel_devices() == []


def test_unwrapped_and_unhooked_fall_back_to_the_function_itself():
    def plain():
        return 1

    assert _compat.unwrapped(plain) is plain
    assert _compat.unhooked(plain) is plain


def test_without_skorchs_private_names_the_public_fallbacks_apply():
    module = torch.nn.Linear(2, 2).eval()
    net = types.SimpleNamespace(module_=module, criterion_=torch.nn.MSELoss().eval())
    assert _compat.optimizer_names(net) is None
    _compat.set_training(net, True)
    assert net.module_.training and net.criterion_.training
    stand_in = types.SimpleNamespace(to_empty=lambda device: f"to_empty({device})")
    assert _compat.empty_on_cpu(stand_in) == "to_empty(cpu)"


# ----------------------------------------- nothing private outside _compat

# Private methods and attributes of torch's and skorch's objects that
# ``_compat`` wraps; none may be used on an object anywhere else.
_PRIVATE_MEMBERS = {
    "__wrapped__",
    "hooked",
    "_init_group",
    "_apply",
    "_optimizers",
    "_set_training",
    "_zero_grad_optimizer",
    "_step_optimizer",
    "_optimizer_step_pre_hooks",
    "_optimizer_step_post_hooks",
    "_global_forward_hooks",
}


def _private_uses(path):
    import ast

    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()  # local names bound to torch or skorch (modules or objects)
    # (a class of this file may define a private method of the same name)
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("torch", "skorch"):
                    roots.add((alias.asname or alias.name).split(".")[0])
                    if any(p.startswith("_") for p in alias.name.split(".")):
                        found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("torch", "skorch"):
                parts = [*node.module.split("."), *(a.name for a in node.names)]
                if any(p.startswith("_") for p in parts):
                    found.append((node.lineno, node.module))
                roots.update(a.asname or a.name for a in node.names)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in _PRIVATE_MEMBERS and node.attr not in own:
            found.append((node.lineno, node.attr))
            continue
        if not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        base = node.value
        while isinstance(base, ast.Attribute):
            base = base.value
        if isinstance(base, ast.Name) and base.id in roots:
            found.append((node.lineno, node.attr))
    return found


def test_private_names_of_torch_and_skorch_are_used_only_in_compat():
    from pathlib import Path

    package = Path(_compat.__file__).parent
    uses = {
        str(path.relative_to(package)): _private_uses(path)
        for path in sorted(package.rglob("*.py"))
        if path.name != "_compat.py"
    }
    assert {path: found for path, found in uses.items() if found} == {}
