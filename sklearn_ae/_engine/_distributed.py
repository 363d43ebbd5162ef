"""Data-parallel training over a ``torch.distributed`` process group.

When the caller has initialised a default process group of more than one
process (``torchrun`` starts the processes, each calls
``torch.distributed.init_process_group``), ``fit`` and ``partial_fit`` train
data-parallel. Every process is given the same X; each cuts the same shuffled
global batches of ``batch_size`` rows (the shuffling generator is seeded
alike everywhere) and takes its own contiguous share of every batch. After the
backward pass the gradients are summed over the processes, each weighted by
its number of rows, and divided by the batch's total: every process then holds
the gradient of the mean loss over the whole global batch, takes the same
optimizer step, and the weights stay identical. The result is single-process
training with the same ``batch_size``, up to float rounding.

This is what ``DistributedDataParallel`` does, written out as one all-reduce
of one flat buffer per step: DDP hooks ``forward``, which the module protocol
does not use (training calls ``encode`` / ``decode``), and averages gradients
with equal weights, which is wrong for the last, uneven batch of an epoch
(where a process may even have no rows). What is lost is DDP's overlap of
communication with the backward pass, which matters little for models of this
size.

Per epoch, the training and validation losses are summed over all processes
(one more all-reduce), so the history, early stopping and the divergence check
see the same numbers on every process and stop at the same epoch.
"""

import numpy as np
import torch
import torch.distributed as dist
from skorch.callbacks import Callback

from .._data import dense

__all__ = ["ProcessGroup", "SyncEpochLosses", "agree_on_seed", "current_group"]


class ProcessGroup:
    """This process's place in the default process group.

    Every method is collective (all processes must call it, in the same
    order) except :meth:`shard`. Tensors that travel are put on ``device``, the
    training device, as the NCCL backend needs CUDA tensors.
    """

    def __init__(self, rank, world_size, backend):
        self.rank = rank
        self.world_size = world_size
        self.backend = backend

    def shard(self, start, stop):
        """This process's contiguous part ``(lo, hi)`` of the rows [start, stop).

        The parts differ in size by at most one row; a part is empty when
        there are fewer rows than processes.
        """
        base, extra = divmod(stop - start, self.world_size)
        lo = start + self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)

    def all_reduce(self, values, device, op=None):
        """Element-wise sum (or ``op``) of ``values`` over all processes, as float64."""
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM if op is None else op)
        return t.cpu().numpy()

    def broadcast_int(self, value, device):
        """Process 0's ``value`` (an int) on every process."""
        t = torch.tensor([value], dtype=torch.int64, device=device)
        dist.broadcast(t, src=0)
        return int(t.item())

    def check_same(self, what, values, device):
        """Raise ValueError on every process unless ``values`` agree everywhere."""
        values = np.asarray(values, dtype=np.float64)
        both = self.all_reduce([*values, *-values], device, op=dist.ReduceOp.MAX)
        high, low = both[: len(values)], -both[len(values) :]
        if not np.allclose(high, low, rtol=1e-6, atol=0, equal_nan=True):
            raise ValueError(
                f"Data-parallel training needs the same {what} in every process "
                f"(each process passes all of X; the batches are shared out), but "
                f"the {self.world_size} processes differ: {low} to {high}."
            )

    def average_gradients(self, parameters, n_rows):
        """Set each gradient to the mean over all processes' rows of the batch.

        ``n_rows`` is this process's number of rows; its gradients (of its own
        mean loss) are weighted by it. A parameter without a gradient here
        (e.g. when this process has no rows) contributes zeros.
        """
        params = [p for p in parameters if p.requires_grad]
        flat = torch.cat(
            [
                *(
                    (torch.zeros_like(p) if p.grad is None else p.grad * n_rows)
                    .reshape(-1)
                    .float()
                    for p in params
                ),
                torch.full((1,), float(n_rows), device=params[0].device),
            ]
        )
        dist.all_reduce(flat)
        flat = flat[:-1] / flat[-1]
        for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
            p.grad = g.view_as(p).to(p.dtype)


def current_group():
    """The default process group as a :class:`ProcessGroup`, or None.

    None unless ``torch.distributed`` is available, initialised, and has more
    than one process: a group of one trains as a single process.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return None
    world_size = dist.get_world_size()
    if world_size < 2:
        return None
    return ProcessGroup(dist.get_rank(), world_size, dist.get_backend())


def agree_on_seed(X, seed, scaler, *, batch_size, n_valid, device, verbose):
    """``seed``, or process 0's seed when training data-parallel.

    Outside a process group of several processes this returns ``seed`` and
    does nothing else. Inside one, every process must pass the same X: its
    shape, the scaler's statistics and a fingerprint of its first and last
    rows are compared, and the group must not outnumber the rows of a batch,
    of the training set or of the validation set (``n_valid`` rows, 0 when
    not validating). Each check raises on every process alike, so none is
    left waiting. With ``verbose``, process 0 says how the batches are shared.
    """
    group = current_group()
    if group is None:
        return seed
    fingerprint = [
        *X.shape,
        scaler.scale,
        0.0 if scaler.mean is None else float(np.sum(scaler.mean)),
        float(dense(X[:1]).sum()),
        float(dense(X[-1:]).sum()),
    ]
    group.check_same("X", fingerprint, device)
    sizes = {"batch_size": batch_size, "training rows": X.shape[0] - n_valid}
    if n_valid:
        sizes["validation rows"] = n_valid
    small = {k: v for k, v in sizes.items() if v < group.world_size}
    if small:
        raise ValueError(
            f"Data-parallel training on {group.world_size} processes needs at "
            f"least one row per process in every batch; got {small}."
        )
    if verbose and group.rank == 0:
        print(
            f"Data-parallel training on {group.world_size} processes "
            f"({group.backend}): {batch_size} rows per step in all, "
            f"about {batch_size / group.world_size:.4g} per process."
        )
    return group.broadcast_int(seed, device)


class SyncEpochLosses(Callback):
    """Replaces each epoch's losses by their mean over all processes' rows.

    skorch's ``PassthroughScoring`` averages the losses of this process's
    batches; placed after it (and before early stopping, the divergence check
    and ``PrintLog``), this callback records the mean over every row of the
    epoch instead, the same number on every process. The per-batch records in
    the history stay this process's own.
    """

    def initialize(self):
        self.best_ = {}
        return self

    def on_epoch_end(self, net, **kwargs):
        group = net._process_group
        if group is None:
            return
        history = net.history
        batches = history[-1, "batches"]
        keys = [k for k in ("train", "valid") if f"{k}_loss" in history[-1]]
        sums = []
        for key in keys:
            rows = [b for b in batches if f"{key}_loss" in b]
            sums.append(sum(b[f"{key}_loss"] * b[f"{key}_batch_size"] for b in rows))
            sums.append(sum(b[f"{key}_batch_size"] for b in rows))
        totals = group.all_reduce(sums, net.device)
        for i, key in enumerate(keys):
            name = f"{key}_loss"
            loss = float(totals[2 * i] / totals[2 * i + 1])
            best = loss < self.best_.get(name, np.inf)
            if best:
                self.best_[name] = loss
            history.record(name, loss)
            history.record(f"{name}_best", bool(best))
