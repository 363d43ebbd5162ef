"""Adam and AdamW with a first step that does not import ``torch._dynamo``.

Every :mod:`torch.optim` optimizer imports ``torch._dynamo`` on its first
use: ``add_param_group`` and ``zero_grad`` are wrapped by
``torch._disable_dynamo``, which imports the compiler the first time a
wrapped function runs (so that it is not traced when compiled), and
``step`` imports it to mark graph breaks. In a process that never compiles,
that import is the largest one-off cost of a first ``fit`` (measured by the
``startup`` case of ``benchmarks/run.py``; see the performance guide).

:class:`Adam` and :class:`AdamW` are torch's classes, with torch's own
arguments, state and ``state_dict`` (a model saved with either loads into
either), whose methods skip that wrapping while ``torch._dynamo`` has not been
imported. Nothing can be compiling then, so the wrapping has nothing to do.
Once it has been imported (by the user, or by anything else), the methods are
torch's own again. With ``fused=True`` on a single device and dtype, the
step calls torch's fused kernel directly, as ``torch.optim.Adam`` does, and
the results are equal bit for bit (see ``tests/test_engine.py``); in any
other configuration it is torch's own ``step``. The private pieces of torch
this takes live in ``sklearn_ae._compat``, each with a public fallback.
"""

import torch
from torch.optim import Optimizer

from .._compat import (
    compiler_loaded,
    fused_adam_applies,
    fused_adam_step,
    unhooked,
    unwrapped,
)

__all__ = ["Adam", "AdamW"]


class _WithoutCompiler:
    """Mixin: torch's optimizer methods, minus the compiler's lazy import."""

    def add_param_group(self, param_group):
        if compiler_loaded():
            return super().add_param_group(param_group)
        return unwrapped(Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none=True):
        if compiler_loaded():
            return super().zero_grad(set_to_none)
        return unwrapped(Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self):
        if compiler_loaded():
            return super().state_dict()
        return unwrapped(Optimizer.state_dict)(self)

    def load_state_dict(self, state_dict):
        if compiler_loaded():
            return super().load_state_dict(state_dict)
        return unwrapped(Optimizer.load_state_dict)(self, state_dict)

    def _fused_groups(self):
        """Whether every group can go straight to the fused kernel."""
        if compiler_loaded() or getattr(self, "grad_scale", None) is not None:
            return False
        if not fused_adam_applies(self):
            return False
        for group in self.param_groups:
            if not group.get("fused") or group["capturable"] or group["amsgrad"]:
                return False
            if group["differentiable"] or isinstance(group["lr"], torch.Tensor):
                return False
            kinds = {(p.device, p.dtype) for p in group["params"]}
            if len(kinds) != 1 or any(dtype.is_complex for _, dtype in kinds):
                return False
        return True

    def step(self, closure=None):
        if self._fused_groups():
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            with torch.no_grad():
                for group in self.param_groups:
                    fused_adam_step(self, group)
            return loss
        # torch's step, without its hooks: the wrapper of this class's
        # ``step`` (installed by ``Optimizer``) runs them already.
        return unhooked(super().step.__func__)(self, closure)


class Adam(_WithoutCompiler, torch.optim.Adam):
    """:class:`torch.optim.Adam` without the compiler's import (see the module)."""


class AdamW(_WithoutCompiler, torch.optim.AdamW):
    """:class:`torch.optim.AdamW` without the compiler's import (see the module)."""
