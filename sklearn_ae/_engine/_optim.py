"""Adam and AdamW with a first step that does not import ``torch._dynamo``.

Every :mod:`torch.optim` optimizer imports ``torch._dynamo`` on its first
use: ``add_param_group`` and ``zero_grad`` are wrapped by
``torch._disable_dynamo``, which imports the compiler the first time a
wrapped function runs (so that it is not traced when compiled), and
``step`` imports it to mark graph breaks. In a process that never compiles,
that import is the largest one-off cost of a first ``fit``: 1.1 to 2 seconds
on a 2-core machine, more than the whole of a default fit on the 1,797
digits.

:class:`Adam` and :class:`AdamW` are torch's classes, with torch's own
arguments, state and ``state_dict`` (a model saved with either loads into
either), whose methods skip that wrapping while ``torch._dynamo`` has not been
imported. Nothing can be compiling then, so the wrapping has nothing to do.
Once it has been imported (by the user, or by anything else), the methods are
torch's own again. With ``fused=True`` on a single device and dtype, the
step calls torch's fused kernel directly, as ``torch.optim.Adam`` does, and
the results are equal bit for bit (see ``tests/test_engine.py``); in any
other configuration it is torch's own ``step``. :meth:`repeated_step` gathers
the fused kernel's arguments once for a run of steps whose gradients stay the
same tensors (the hand-written step of ``_mlp_step`` writes them into buffers
kept for an epoch), sparing each step the grouping of the tensors.
"""

import sys

import torch
import torch.optim.optimizer as _torch_optimizer
from torch.optim import Optimizer

__all__ = ["Adam", "AdamW"]


def _compiler_loaded():
    return "torch._dynamo" in sys.modules


def _unwrapped(method):
    """The function under ``torch._disable_dynamo``'s wrapper (itself if none)."""
    return getattr(method, "__wrapped__", method)


class _WithoutCompiler:
    """Mixin: torch's optimizer methods, minus the compiler's lazy import."""

    def add_param_group(self, param_group):
        if _compiler_loaded():
            return super().add_param_group(param_group)
        return _unwrapped(Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none=True):
        if _compiler_loaded():
            return super().zero_grad(set_to_none)
        return _unwrapped(Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self):
        if _compiler_loaded():
            return super().state_dict()
        return _unwrapped(Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict):
        if _compiler_loaded():
            return super().load_state_dict(state_dict)
        return _unwrapped(Optimizer.load_state_dict)(self, state_dict)

    def _fused_groups(self):
        """Whether every group can go straight to the fused kernel."""
        if _compiler_loaded() or getattr(self, "grad_scale", None) is not None:
            return False
        if type(self)._init_group is not torch.optim.Adam._init_group:
            return False  # an older torch whose AdamW is not an Adam
        for group in self.param_groups:
            if not group.get("fused") or group["capturable"] or group["amsgrad"]:
                return False
            if group["differentiable"] or isinstance(group["lr"], torch.Tensor):
                return False
            kinds = {(p.device, p.dtype) for p in group["params"]}
            if len(kinds) != 1 or any(dtype.is_complex for _, dtype in kinds):
                return False
        return True

    def _fused_calls(self, group):
        """The fused kernel and its arguments for ``group``'s step, state
        initialised where missing (as a first step does)."""
        params, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], []
        self._init_group(group, params, grads, exp_avgs, exp_avg_sqs, [], steps)
        kernel = (
            torch._fused_adamw_
            if group.get("decoupled_weight_decay", False)
            else torch._fused_adam_
        )
        beta1, beta2 = group["betas"]
        kwargs = {
            "amsgrad": False,
            "lr": group["lr"],
            "beta1": beta1,
            "beta2": beta2,
            "weight_decay": group["weight_decay"],
            "eps": group["eps"],
            "maximize": group["maximize"],
            "grad_scale": None,
            "found_inf": None,
        }
        return kernel, (params, grads, exp_avgs, exp_avg_sqs, [], steps), kwargs

    def repeated_step(self):
        """``step()`` for a run of steps whose gradients stay the same tensors.

        The arguments of the fused kernel are gathered once, instead of at
        every step: for training loops (``_mlp_step``) that write each step's
        gradients into the same buffers and change neither the parameter
        groups nor their settings during the run. None where the step must
        be torch's own: not fused (see ``_fused_groups``), or something
        listens to the steps (step hooks, or an LR scheduler, which wraps
        this optimizer's ``step``).
        """
        if not self._fused_groups() or "step" in self.__dict__:
            return None
        if self._optimizer_step_pre_hooks or self._optimizer_step_post_hooks:
            return None
        if _torch_optimizer._global_optimizer_pre_hooks or (
            _torch_optimizer._global_optimizer_post_hooks
        ):
            return None
        with torch.no_grad():
            calls = [self._fused_calls(group) for group in self.param_groups]
        calls = [call for call in calls if call[1][0]]  # groups with gradients

        def step():
            with torch.no_grad():
                for kernel, args, kwargs in calls:
                    torch._foreach_add_(args[-1], 1)
                    kernel(*args, **kwargs)

        return step

    def step(self, closure=None):
        if not self._fused_groups():
            # torch's step, without its hooks: the wrapper of this class's
            # ``step`` (installed by ``Optimizer``) runs them already.
            torch_step = super().step.__func__
            if getattr(torch_step, "hooked", False):
                torch_step = torch_step.__wrapped__
            return torch_step(self, closure)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                kernel, args, kwargs = self._fused_calls(group)
                if not args[0]:
                    continue
                torch._foreach_add_(args[-1], 1)
                kernel(*args, **kwargs)
        return loss


class Adam(_WithoutCompiler, torch.optim.Adam):
    """:class:`torch.optim.Adam` without the compiler's import (see the module)."""


class AdamW(_WithoutCompiler, torch.optim.AdamW):
    """:class:`torch.optim.AdamW` without the compiler's import (see the module)."""
