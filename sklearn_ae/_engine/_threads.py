"""How many CPU threads torch and BLAS use for one fit or transform, and how long.

torch splits every operation over its intra-op threads, which spin while
they wait for each other. For the small matrices of a typical autoencoder the
split costs more than it saves, and when another process keeps a core busy
every operation waits for a descheduled thread. So each fit, ``partial_fit``
and transform picks a thread count from the work of one step:

- the multiply-add FLOPs of one optimisation step (``batch_size`` samples,
  forward and backward, about three forward passes) or of one transformed
  chunk (forward only), from :func:`forward_flops`;
- one thread per :data:`MIN_FLOPS_PER_THREAD` of that work, at least one and
  at most the caller's current count.

The threshold is where a second thread starts to pay on an idle machine:
below it one thread loses nothing and rules out the worst of a busy
neighbour; above it the policy takes the idle machine's gain, as
scikit-learn's BLAS-based estimators do with all the cores, and accepts the
risk they run. The measurements behind it, and the commands that reproduce
them (``benchmarks/run.py --case threads,busy``), are in the performance
guide (``docs/user_guide/performance.md``, "The thread policy"). On a
machine known to be shared, set the count explicitly (below).

numpy's and scipy's BLAS (OpenBLAS in their wheels) spin-wait as well, and a
fit multiplies matrices in numpy too: PCA's start (the cross-products of the
data, one chunk of rows per step) and its test after training. Where the
policy lowers torch's count it lowers theirs to the same for the block,
through threadpoolctl, unless a BLAS variable is set in the environment.

The count is set for the duration of the call only and the caller's count is
restored afterwards. An explicit choice is left alone: ``OMP_NUM_THREADS`` or
``MKL_NUM_THREADS`` in the environment (joblib's process workers set them),
or a thread count other than torch's default, whether set by
``torch.set_num_threads`` or by ``threadpoolctl.threadpool_limits`` (which
sets the OpenMP runtime torch uses). A count equal to torch's default cannot
be told from the default itself, and is treated as the default: to give a
smaller model all of torch's threads, set ``OMP_NUM_THREADS`` before Python
starts.

With torch's OpenMP backend (that of its Linux, Windows and macOS wheels)
the count is kept per thread: ``torch.set_num_threads`` sets it for the
calling thread and for threads that start using torch later. So fits running
in several threads of one process (joblib's threading backend, a thread pool)
each set and restore their own count and cannot reset one another's. With
another backend, whose single pool serves the whole process, the policy
stands aside. The thread count can change the last bits of float sums, so it
is a deterministic function of the model, the batch size and the caller's
settings, never of the machine's load.
"""

import contextlib
import functools
import glob
import os
import threading
import weakref

import torch
from torch import nn

__all__ = ["MIN_FLOPS_PER_THREAD", "cpu_threads", "forward_flops", "step_flops"]

# Work of one step (FLOPs, 2 per multiply-add) that each thread needs for a
# second thread to pay; see the module docstring.
MIN_FLOPS_PER_THREAD = 25e6

_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
# numpy's and scipy's BLAS pools are left alone where one of these is set.
_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")

_flops = weakref.WeakKeyDictionary()
_BUILTIN = "sklearn_ae._modules"


def _physical_cores():
    """The machine's physical cores as torch counts them (Linux), or None."""
    cores = set()
    for path in glob.glob("/sys/devices/system/cpu/cpu[0-9]*/topology/core_id"):
        topology = os.path.dirname(path)
        try:
            with open(path) as core, open(f"{topology}/physical_package_id") as pkg:
                cores.add((pkg.read().strip(), core.read().strip()))
        except OSError:
            return None
    return len(cores) or None


# torch's count when sklearn_ae was imported: its default where the cores
# cannot be counted (unless the caller had set it before).
_AT_IMPORT = torch.get_num_threads()


@functools.cache
def default_threads():
    """torch's default intra-op thread count when nothing sets it."""
    return _physical_cores() or _AT_IMPORT


def explicit_choice(current):
    """Whether ``current`` (torch's thread count now) was chosen by someone."""
    if any(os.environ.get(name) for name in _ENV):
        return True
    return current != default_threads()


_CONVOLUTIONS = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
)


def _positions(module, output):
    """How many times per sample a layer applies its weights."""
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor) or output.dim() < 2:
        return 1
    if isinstance(module, _CONVOLUTIONS):
        return output[0, 0].numel()  # (1, channels, *spatial)
    if isinstance(module, nn.RNNBase):
        # (1, T, H) batch first, or (T, 1, H)
        return output.shape[1] if module.batch_first else output.shape[0]
    width = output.shape[-1]  # (1, ..., features); 0 for an empty code
    return output[0].numel() // width if width else 1


def forward_flops(module, n_features):
    """Multiply-add FLOPs of ``decode(encode(x))`` for one sample (2 per MAC).

    For the built-in modules, each layer with parameters counts twice its
    parameters times the number of positions it applies them at (1 for a
    linear layer, the output's spatial size for a convolution, the time steps
    for a recurrent layer), measured by one forward pass of a single zero
    sample with hooks (these modules draw nothing at random and keep no
    state in a forward pass). A user's module is never called outside
    training: its work is estimated as twice its parameter count, as for a
    stack of linear layers. Cached per module.
    """
    cached = _flops.get(module)
    if cached is not None:
        return cached
    n_params = sum(p.numel() for p in module.parameters())
    if type(module).__module__ != _BUILTIN:
        _flops[module] = total = 2.0 * n_params
        return total
    total = 0.0

    def count(layer, inputs, output):
        nonlocal total
        params = sum(p.numel() for p in layer.parameters(recurse=False))
        total += 2.0 * params * _positions(layer, output)

    first = next(module.parameters(), None)
    device = first.device if first is not None else "cpu"
    handles = [
        m.register_forward_hook(count)
        for m in module.modules()
        if any(True for _ in m.parameters(recurse=False))
    ]
    try:
        with torch.no_grad():
            module.decode(module.encode(torch.zeros(1, n_features, device=device)))
    finally:
        for handle in handles:
            handle.remove()
    _flops[module] = total
    return total


def threads_for(flops, available):
    """One thread per ``MIN_FLOPS_PER_THREAD`` of ``flops``, in [1, available]."""
    return int(max(1, min(available, flops // MIN_FLOPS_PER_THREAD)))


@functools.cache
def _per_thread_counts():
    """Whether torch's thread count is per thread (its OpenMP backend)."""
    return "parallel backend: OpenMP" in torch.__config__.parallel_info()


class _BlasLimit:
    """numpy's and scipy's BLAS pools held at a lower count while in use.

    Unlike torch's, a BLAS library's thread count is global to the process.
    So the limit is counted: the first block to enter lowers the pools and the
    last to leave restores them, and fits overlapping in several threads of
    one process neither leak a lowered count nor restore one under another.
    The libraries are those loaded when it is first used (numpy's and scipy's
    BLAS: scikit-learn imports both, so both are loaded by then).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._limit = None
        self._controller = None

    def _blas(self):
        if self._controller is None:
            # threadpoolctl lists the loaded libraries once (a few ms): later
            # limits cost microseconds.
            from threadpoolctl import ThreadpoolController

            self._controller = ThreadpoolController().select(user_api="blas")
        return self._controller

    @contextlib.contextmanager
    def __call__(self, n_threads):
        with self._lock:
            if self._users == 0:
                self._limit = self._blas().limit(limits=n_threads)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._limit.restore_original_limits()
                    self._limit = None


_blas_limit = _BlasLimit()


@contextlib.contextmanager
def cpu_threads(flops):
    """Run the block with the thread count for one step of ``flops`` FLOPs.

    The count applies to torch's intra-op threads and, when it is lower than
    the caller's, to numpy's and scipy's BLAS threads too (the PCA start, the
    statistics and the test after training multiply matrices in numpy, whose
    OpenBLAS threads spin-wait as torch's do), unless a BLAS variable such as
    ``OPENBLAS_NUM_THREADS`` is set in the environment.

    Parameters
    ----------
    flops : float or None
        Multiply-add FLOPs of one step: an optimisation step for training, a
        chunk for inference. None (off the CPU) leaves the count alone.
    """
    saved = torch.get_num_threads()
    if flops is None or not _per_thread_counts() or explicit_choice(saved):
        yield
        return
    chosen = threads_for(flops, saved)
    if chosen == saved:
        yield
        return
    blas = (
        contextlib.nullcontext()
        if any(os.environ.get(name) for name in _BLAS_ENV)
        else _blas_limit(chosen)
    )
    torch.set_num_threads(chosen)
    try:
        with blas:
            yield
    finally:
        torch.set_num_threads(saved)


def step_flops(module, n_features, rows, *, training, device):
    """FLOPs of one step of ``rows`` samples, or None off the CPU.

    A training step (forward and backward) costs about three forward passes.
    """
    if torch.device(device).type != "cpu":
        return None
    return forward_flops(module, n_features) * rows * (3 if training else 1)
