"""The training engine: a skorch ``NeuralNet`` specialised for autoencoders.

skorch's hooks are overridden (``initialize_module``, ``get_iterator``,
``infer``, ``get_loss``, ``train_step_single``; ``fit_loop``, ``notify`` and
``partial_fit`` wrap skorch's own with ``super()``, for interruptions);
skorch keeps the fit loop, history, callbacks, early stopping, progress
printing and device handling.

- ``infer`` runs the module through its ``encode`` / ``decode`` protocol (and
  ``encode_distribution`` plus the reparameterisation for a variational
  module), so a module needs no particular ``forward``;
- ``train_step_single`` corrupts the training inputs (denoising), fresh in
  every batch, and leaves the clean batch as the target;
- ``get_loss`` adds the code's L1 penalty (training only) and the VAE's KL
  term to the reconstruction loss.

Randomness comes from generators that belong to the fit, never from the
global torch RNG: the module is initialised from ``seed`` (see
``_modules.build_module``), and every call to ``partial_fit`` (``fit`` is one
call of many epochs) draws its shuffling order from one generator and its
corruption noise and VAE samples from another, both seeded from ``seed`` and
the number of epochs trained before the call. Fits in threads are then
independent of each other and of the caller's RNG, and a model saved and
loaded continues exactly as the original would. (Randomness inside a user's
module, such as dropout, still draws from the global RNG.)

**Interruptions.** skorch's ``partial_fit`` swallows ``KeyboardInterrupt``,
because skorch callbacks (``EarlyStopping``) raise it from ``on_epoch_end`` to
end training. Here only that is a request to stop: a ``KeyboardInterrupt``
from an ``on_epoch_end`` callback ends training normally, as in skorch, while
one raised anywhere else (a batch, a forward pass, another hook) or by a real
Ctrl-C (a SIGINT counted by a handler installed in the main thread for the
duration of the call, even when it lands inside ``on_epoch_end``) propagates
out of ``partial_fit``, so that the estimator can roll the fit back.

**Batches.** skorch wraps data in a ``Dataset`` indexed one sample at a time
and collated by a ``DataLoader``. Here :class:`BatchIterator` cuts a batch out
of the 2-D array in one indexing operation (dense, memory-mapped, sparse CSR or
lazy; a sparse batch is densified on its own), and the fitted
``_scaling.InputScaler`` turns it into a float32 tensor on the device. Dense
in-memory data of at most ``_data.TENSOR_CACHE_BYTES`` (as float32) skip
even that: they are converted once per fit (or, float32 data that need no
scaling, wrapped without a copy), and a batch is one ``index_select`` from
that tensor. Per batch, converting and gathering rows from numpy cost about
as much as the 784-32-784 model's forward pass (``aten::index`` alone
120-200 us for 256 x 784 floats, ``index_select`` 20 us). Memory maps,
sparse matrices and larger arrays keep the streaming path, so they are never
copied whole.

**Chunked sources.** A dask array computes whole chunks, and a memory map
reads whole pages from disk, whichever rows a batch needs: drawing each batch
from a full permutation of the rows made one epoch over a 20,000-row dask
array in 10 chunks compute the data 316 times. So for these sources (see
``_data.RowDataset.chunk_bounds``; a memory map is cut into chunks of
``_data.CHUNK_ROWS`` rows) an epoch visits the chunks in a shuffled order, a few at
a time (``SHUFFLE_CHUNKS``, and at most ``SHUFFLE_BUFFER_BYTES`` of float32
rows), reads each group once, shuffles its rows together with the rows left
over from the previous group, and cuts the batches from that buffer. Each
chunk is read once per epoch; every batch still has ``batch_size`` rows (but
the last), and the order is fixed by the shuffling generator's seed. It is
not a full permutation: a batch mixes rows of the chunks of one group (and
fewer than ``batch_size`` rows of the group before), not of the whole data
set. In-memory arrays keep the full permutation.

In a ``torch.distributed`` process group of several processes the net trains
data-parallel (see ``_distributed``): the iterator gives each process its
share of every global batch, ``train_step_single`` averages the gradients over
the processes, and the epoch losses are averaged over them by a callback.
"""

import contextlib
import copy
import signal
import threading

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PrintLog
from skorch.history import History

from .._compat import SKORCH_STEP_METHODS, optimizer_names, set_training
from .._data import RowDataset, as_tensor, iter_row_slices
from .._missing import fill_missing, masked_mse
from .._modules import build_module
from ._distributed import SyncEpochLosses, current_group
from ._losses import gaussian_kl

__all__ = [
    "SHUFFLE_BUFFER_BYTES",
    "SHUFFLE_CHUNKS",
    "AutoencoderNet",
    "BatchIterator",
    "Corruption",
    "EarlyStopping",
    "StopTraining",
    "TrainingDiverged",
]


# A shuffled epoch over a chunked source (a dask array, a memory map) reads
# this many chunks at a time, within SHUFFLE_BUFFER_BYTES of float32 rows (at
# least one chunk), and shuffles their rows together.
SHUFFLE_CHUNKS = 4
SHUFFLE_BUFFER_BYTES = 64 * 2**20


def derived_seed(*entropy):
    """A 32-bit seed from non-negative ints, e.g. ``(seed, epochs, stream)``."""
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


class _StopRequested(Exception):
    """A callback's ``on_epoch_end`` raised KeyboardInterrupt: stop training."""


class _Interrupted(Exception):
    """Carries a real KeyboardInterrupt past skorch's ``except KeyboardInterrupt``."""


# SIGINTs turned into KeyboardInterrupt while a recording handler was installed.
_sigints = 0


@contextlib.contextmanager
def _sigints_counted():
    """Count the SIGINTs that interrupt this block (main thread only).

    The handler wraps the one in place (Python's ``default_int_handler``,
    IPython's, ...) and counts each KeyboardInterrupt it raises; it is put
    back afterwards. Signals are only delivered to the main thread, so in
    other threads (and where no Python handler is installed) nothing is done.
    """
    previous = signal.getsignal(signal.SIGINT)
    installed = None
    if (
        threading.current_thread() is threading.main_thread()
        and callable(previous)
        and not getattr(previous, "counts_sigints", False)
    ):

        def handler(signum, frame):
            global _sigints
            try:
                previous(signum, frame)
            except KeyboardInterrupt:
                _sigints += 1
                raise

        handler.counts_sigints = True
        try:
            signal.signal(signal.SIGINT, handler)
            installed = handler
        except ValueError:  # not the main interpreter
            pass
    try:
        yield
    finally:
        if installed is not None and signal.getsignal(signal.SIGINT) is installed:
            signal.signal(signal.SIGINT, previous)


# The per-batch notifications; an epoch where nothing listens to them takes
# the lean path (see ``AutoencoderNet.run_single_epoch``).
_BATCH_EVENTS = ("on_batch_begin", "on_batch_end", "on_grad_computed")

# The net's methods that the lean epoch does instead of calling them.
_STEP_METHODS = (
    "train_step",
    "get_train_step_accumulator",
    *SKORCH_STEP_METHODS,
    *_BATCH_EVENTS,
)


def _overrides(obj, name, base):
    return getattr(type(obj), name, None) is not getattr(base, name, None)


class TrainingDiverged(ValueError):
    """Raised by the net when the loss or the weights stop being finite."""

    def __init__(self, epoch, what):
        self.epoch = epoch
        self.what = what
        super().__init__(f"{what} at epoch {epoch}")


class StopTraining(KeyboardInterrupt):
    """Raised by :class:`EarlyStopping` to end a fit; skorch ends it normally.

    skorch's only way for a callback to stop training is a ``KeyboardInterrupt``,
    which its ``partial_fit`` catches; this subclass tells such a request apart
    from a user's Ctrl-C.
    """


class EarlyStopping(Callback):
    """Stops when ``monitor`` has not improved by ``tol`` for ``patience`` epochs.

    scikit-learn's rule (``MLPRegressor``'s ``tol`` and ``n_iter_no_change``):
    an epoch counts as an improvement when the monitored loss falls below the
    best so far minus ``tol``; the best so far is the lowest loss, however
    small the step to it. With ``restore_best`` the weights of that best
    epoch are put back when training ends (skorch's own ``EarlyStopping``
    would restore the last epoch that improved by ``tol`` instead, which can
    be worse).

    Parameters
    ----------
    monitor : {"train_loss", "valid_loss"}
        The history key watched.

    patience : int
        Epochs without improvement before stopping.

    tol : float
        The smallest decrease that counts as improvement.

    restore_best : bool
        Whether to load the best epoch's weights at the end.

    Notes
    -----
    :meth:`begin_at` makes the weights the net starts from "epoch 0", a
    candidate like the epochs after it (``init="pca"``: PCA's solution).
    """

    def __init__(self, monitor, patience, tol, restore_best):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best

    def begin_at(self, loss, weights):
        """Count the starting ``weights``, whose monitored loss is ``loss``,
        as epoch 0 of the next training call."""
        self._start = (float(loss), {k: v.clone() for k, v in weights.items()})

    def on_train_begin(self, net, **kwargs):
        self.best_ = np.inf
        self.best_epoch_ = None
        self.misses_ = 0
        self.best_weights_ = None
        self.stopped_ = False
        start, self._start = getattr(self, "_start", None), None
        if start is not None:
            self.best_, weights = start
            self.best_epoch_ = 0
            if self.restore_best:
                self.best_weights_ = weights

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, self.monitor]
        self.misses_ = self.misses_ + 1 if loss > self.best_ - self.tol else 0
        if loss < self.best_:
            self.best_ = loss
            self.best_epoch_ = net.history[-1, "epoch"]
            if self.restore_best:
                self.best_weights_ = {
                    k: v.detach().clone() for k, v in net.module_.state_dict().items()
                }
        if self.misses_ >= self.patience:
            self.stopped_ = True
            raise StopTraining

    def on_train_end(self, net, **kwargs):
        if self.best_weights_ is not None:
            if len(net.history) == 0 or self.best_epoch_ != net.history[-1, "epoch"]:
                net.module_.load_state_dict(self.best_weights_)
            self.best_weights_ = None  # a fitted net keeps no second copy


class _DivergenceCheck(Callback):
    """Stops training as soon as an epoch ends with a non-finite loss or weight."""

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        row = net.history[-1]
        for key in ("train_loss", "valid_loss"):
            if key in row and not np.isfinite(row[key]):
                what = f"the {key.replace('_', ' ')} is {row[key]}"
                raise TrainingDiverged(epoch, what)
        for name, param in net.module_.named_parameters():
            if not torch.isfinite(param).all():
                raise TrainingDiverged(epoch, f"parameter {name!r} is not finite")


class _QuietPrintLog(PrintLog):
    """skorch's ``PrintLog``, which formats no table when the net is silent.

    skorch's formats each epoch's table and lets its sink drop it when
    ``verbose=0``: a third of a millisecond per epoch, for nothing.
    """

    def on_epoch_end(self, net, **kwargs):
        if net.verbose:
            super().on_epoch_end(net, **kwargs)


class Corruption:
    """Corrupts a batch of module-space inputs for denoising training.

    Parameters
    ----------
    noise : float
        Standard deviation of the Gaussian noise (in module space), or the
        fraction of inputs zeroed for ``"mask"``.

    noise_type : {"gaussian", "mask"}
        ``"gaussian"`` adds ``N(0, noise^2)``; ``"mask"`` sets each input
        independently, with probability ``noise``, to ``zero``.

    zero : float or torch.Tensor, default=0.0
        The module-space value of a zero in the user's units (per feature).

    clip : tuple of float or None, default=None
        Range the Gaussian-corrupted inputs are clipped to.
    """

    def __init__(self, noise, noise_type, zero=0.0, clip=None):
        self.noise = float(noise)
        self.noise_type = noise_type
        self.zero = zero
        self.clip = clip

    def __call__(self, x, generator=None):
        """``x`` corrupted, with draws from ``generator`` (None: the global RNG)."""
        like = {"dtype": x.dtype, "device": x.device, "generator": generator}
        if self.noise_type == "mask":
            dropped = torch.rand(x.shape, **like) < self.noise
            zero = torch.as_tensor(self.zero, dtype=x.dtype, device=x.device)
            return torch.where(dropped, zero, x)
        noisy = x + self.noise * torch.randn(x.shape, **like)
        return noisy if self.clip is None else noisy.clamp(*self.clip)


class BatchIterator:
    """Yields ``(X_batch, X_batch)`` tensors over a ``_data.RowDataset``.

    Re-iterable: each pass draws a fresh order from ``generator`` when
    ``shuffle`` is true, so every epoch sees the data in a new order and the
    sequence of orders is fixed by the generator's seed. With ``tensor`` (the
    whole dataset, already converted) batches are gathered from it; the
    batches are the same as without it. With ``shard`` (a function of
    ``(start, stop)`` giving this process's ``(lo, hi)``, see
    ``ProcessGroup.shard``) each batch of ``batch_size`` rows is cut as usual
    and only this process's part of it is yielded (possibly empty); every
    process yields the same number of batches.
    """

    def __init__(
        self,
        dataset,
        batch_size,
        shuffle,
        generator,
        convert,
        tensor=None,
        shard=None,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.convert = convert
        self.tensor = tensor
        self.shard = shard

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        bounds = None if self.tensor is not None else self.dataset.chunk_bounds()
        if bounds is not None:
            yield from self._iter_chunked(bounds)
            return
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        tensor, shard = self.tensor, self.shard
        if order is not None:
            # Sorted positions read memory (and memory maps) in order; the
            # batch is a set for the loss, so the order inside it is free.
            # Each batch's positions sorted, the full batches in one call.
            full = n - n % self.batch_size
            batches = [
                *order[:full].view(-1, self.batch_size).sort(dim=1).values,
                *([order[full:].sort().values] if full < n else []),
            ]
        for k, start in enumerate(range(0, n, self.batch_size)):
            stop = min(start + self.batch_size, n)
            if order is None:
                lo, hi = (start, stop) if shard is None else shard(start, stop)
                if tensor is not None:
                    xb = tensor[lo:hi]
                else:
                    xb = self.convert(self.dataset.rows(np.arange(lo, hi)))
                yield xb, xb
                continue
            positions = batches[k]
            if shard is not None:
                lo, hi = shard(0, stop - start)
                positions = positions[lo:hi]
            if tensor is not None:
                xb = tensor.index_select(0, positions.to(tensor.device))
            else:
                xb = self.convert(self.dataset.rows(positions.numpy()))
            yield xb, xb

    def _iter_chunked(self, bounds):
        """Batches from groups of whole chunks, each chunk read once.

        See the module docstring. Without ``shuffle`` the chunks come in order
        and the batches are the same consecutive rows as on the row-by-row
        path.
        """
        n_chunks = len(bounds) - 1
        if n_chunks < 1:
            return
        sizes = np.diff(bounds)
        row_bytes = 4 * self.dataset.X.shape[1]
        per_group = int(
            max(
                1,
                min(SHUFFLE_CHUNKS, SHUFFLE_BUFFER_BYTES // (row_bytes * sizes.max())),
            )
        )
        if self.shuffle:
            order = torch.randperm(n_chunks, generator=self.generator).numpy()
        else:
            order = np.arange(n_chunks)
        bs, shard, carry = self.batch_size, self.shard, None
        for first in range(0, n_chunks, per_group):
            # The chunks of a group are read in the source's order.
            chunks = np.sort(order[first : first + per_group])
            positions = np.concatenate(
                [np.arange(bounds[c], bounds[c + 1]) for c in chunks]
            )
            buffer = self.convert(self.dataset.rows(positions))
            if carry is not None:
                buffer = torch.cat([carry, buffer])
            last = first + per_group >= n_chunks
            n_rows = len(buffer)
            n_out = n_rows if last else n_rows - n_rows % bs
            if self.shuffle:
                mix = torch.randperm(n_rows, generator=self.generator)
                mix = mix.to(buffer.device)
            else:
                mix = torch.arange(n_rows, device=buffer.device)
            for start in range(0, n_out, bs):
                rows = mix[start : min(start + bs, n_out)]  # positions in buffer
                if shard is not None:
                    lo, hi = shard(0, len(rows))
                    rows = rows[lo:hi]
                xb = buffer.index_select(0, rows)
                yield xb, xb
            carry = None if n_out == n_rows else buffer.index_select(0, mix[n_out:])


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` whose target is its input.

    Parameters
    ----------
    scaler : InputScaler
        Maps a dense ndarray batch into the module's space (see ``_scaling``).

    seed : int
        Seeds the module's initial weights and, with the number of epochs
        trained before each ``partial_fit`` call, that call's generators.

    sparsity : float, default=0.0
        Weight of the L1 penalty on the code, training loss only.

    variational : bool, default=False
        Whether the module is a VAE: the code is drawn from
        ``module.encode_distribution`` and the loss gets a KL term.

    beta : float, default=1.0
        Weight of the KL term, divided by the number of features because the
        reconstruction loss is a per-feature mean.

    corrupt : callable or None, default=None
        Applied to each training batch's inputs (never to its target, nor to
        validation batches); e.g. a :class:`Corruption`.

    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        *args,
        scaler,
        seed,
        sparsity=0.0,
        variational=False,
        beta=1.0,
        corrupt=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.scaler = scaler
        self.seed = seed
        # The shuffling generator (CPU) and the sampling generator (device),
        # seeded for each partial_fit call and dropped after it.
        self.generator = None
        self.sampler = None
        self.sparsity = sparsity
        self.variational = variational
        self.beta = beta
        self.corrupt = corrupt
        # Whether this call's data have missing cells (set by the estimator
        # for each call): inputs filled, the loss over observed cells only.
        self.missing = False
        self._tensors = {}
        self._process_group = None
        self._lean = False

    def initialize_module(self):
        """The module, built and initialised from ``seed`` (no global RNG)."""
        if not isinstance(self.module, type):
            return super().initialize_module()
        kwargs = self.get_params_for("module")
        self.module_ = build_module(self.module, kwargs, self.seed)
        return self

    def partial_fit(self, X, y=None, classes=None, *, epochs_trained=0, **fit_params):
        """skorch's ``partial_fit``, with this call's generators and interrupts.

        ``epochs_trained`` (the epochs of earlier calls) seeds the generators,
        so the same call after ``save`` / ``load`` draws the same numbers. A
        KeyboardInterrupt other than a callback's request to stop propagates
        (see the module docstring).
        """
        # The cached tensors live for one call only: a fitted net (kept and
        # pickled by the estimator) holds no copy of the training data. The
        # process group is looked up for each call, and never pickled.
        self._process_group = group = current_group()
        # The weights were initialised alike on every process, and the
        # shuffling order is shared; the noise of denoising and the VAE's
        # samples differ from process to process.
        rank = 0 if group is None else group.rank
        self.generator = torch.Generator()
        self.generator.manual_seed(derived_seed(self.seed, epochs_trained, 0))
        self.sampler = torch.Generator(device=self.device)
        self.sampler.manual_seed(derived_seed(self.seed, epochs_trained, 1, rank))
        try:
            with _sigints_counted():
                return super().partial_fit(X, y, classes, **fit_params)
        except _Interrupted as exc:
            interrupt = exc.__cause__
            raise interrupt.with_traceback(interrupt.__traceback__) from None
        finally:
            self._tensors.clear()
            self._process_group = None
            self.generator = self.sampler = None

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except _StopRequested:
            return self
        except KeyboardInterrupt as exc:
            # Past skorch's ``except KeyboardInterrupt`` in partial_fit.
            raise _Interrupted() from exc

    def notify(self, method_name, **cb_kwargs):
        if method_name != "on_epoch_end":
            return super().notify(method_name, **cb_kwargs)
        sigints = _sigints
        try:
            return super().notify(method_name, **cb_kwargs)
        except KeyboardInterrupt:
            if _sigints != sigints:
                raise  # a real Ctrl-C, during the callbacks
            raise _StopRequested() from None

    def snapshot(self):
        """A function that puts this net back as it is now.

        Deep enough for a failed ``partial_fit`` of a fitted net: the weights
        and buffers (copied), the modules' training flags, the optimizer's
        state (deep-copied: Adam's moments and step counts), the length of
        the history and the callbacks. The generators are seeded afresh at
        every call and hold nothing in between. What a user's callback keeps
        in itself is not restored.
        """
        module, optimizer = self.module_, self.optimizer_
        weights = {k: v.detach().clone() for k, v in module.state_dict().items()}
        training = [m.training for m in module.modules()]
        optimizer_state = copy.deepcopy(optimizer.state_dict())
        n_records = len(self.history)
        callbacks, callbacks_ = list(self.callbacks), list(self.callbacks_)
        train_split, max_epochs = self.train_split, self.max_epochs

        def restore():
            with torch.no_grad():
                module.load_state_dict(weights)
            for m, flag in zip(module.modules(), training, strict=True):
                m.training = flag
            optimizer.load_state_dict(optimizer_state)
            del self.history[n_records:]
            self.callbacks, self.callbacks_ = callbacks, callbacks_
            self.train_split, self.max_epochs = train_split, max_epochs

        return restore

    def check_module(self, X):
        """Check a user's module on a probe batch ``X`` (a few rows of data).

        ``encode``, ``decode`` (and ``encode_distribution`` for a VAE) must
        give the protocol's shapes, so that a module that does not fit the
        estimator's parameters fails here, with the shapes, before training.
        The module runs in eval mode without gradients.
        """
        module = self.module_
        n_rows, n_features = X.shape
        n_components = self.get_params_for("module")["n_components"]
        name = type(module).__name__
        x = self.convert(X)

        def expect(what, out, width, meaning):
            if not (torch.is_tensor(out) and out.is_floating_point()):
                raise ValueError(
                    f"{name}.{what} returned {type(out).__name__}, not a float "
                    "tensor (see the module protocol in "
                    "AutoencoderTransformer's Notes)."
                )
            if tuple(out.shape) != (n_rows, width):
                raise ValueError(
                    f"{name}.{what} returned shape {tuple(out.shape)} for a batch "
                    f"of {n_rows} rows; it must be (batch, {meaning}) = "
                    f"({n_rows}, {width}) (see the module protocol in "
                    "AutoencoderTransformer's Notes)."
                )

        training = [m.training for m in module.modules()]
        module.eval()
        try:
            with torch.no_grad():
                if self.variational:
                    posterior = module.encode_distribution(x)
                    if not (
                        isinstance(posterior, (tuple, list)) and len(posterior) == 2
                    ):
                        raise ValueError(
                            f"{name}.encode_distribution(x) must return a pair "
                            f"(mean, log_var); got {type(posterior).__name__}."
                        )
                    for part, out in zip(("mean", "log_var"), posterior, strict=True):
                        what = f"encode_distribution(x)'s {part}"
                        expect(what, out, n_components, "n_components")
                z = module.encode(x)
                expect("encode(x)", z, n_components, "n_components")
                expect("decode(z)", module.decode(z), n_features, "n_features")
        finally:
            for m, flag in zip(module.modules(), training, strict=True):
                m.training = flag

    def dataset_tensor(self, dataset):
        """``dataset`` as one device tensor if it is small and dense, else None.

        Built on first use in a fit (training set and validation set each),
        dropped when the fit ends.
        """
        if not (isinstance(dataset, RowDataset) and dataset.is_small_dense()):
            return None
        key = id(dataset)
        if key not in self._tensors:
            X = dataset.X
            if dataset.indices is None and self.scaler.passes_through(X, self.device):
                # All of X, used as it is (float32 for loss="bce"): wrapped,
                # not copied (as_tensor copies what torch cannot wrap).
                tensor = as_tensor(X)
            else:
                tensor = dataset.to_tensor(self.convert)
            self._tensors[key] = (dataset, tensor)
        return self._tensors[key][1]

    def convert(self, X):
        """A dense ndarray batch as the float32 module-space tensor on the device."""
        return self.scaler(X, torch.float32, self.device)

    def row_errors(self, dataset):
        """Each row's mean squared reconstruction error in module space.

        In eval mode, without noise, in chunks: the numbers a validation epoch
        averages (for ``loss="mse"`` and a plain code), one per row, float64.
        """
        module = self.module_
        training = module.training
        module.eval()
        errors = np.empty(len(dataset))
        try:
            with torch.no_grad():
                for rows in iter_row_slices(len(dataset)):
                    x = self.convert(dataset.rows(np.arange(rows.start, rows.stop)))
                    x_hat = module.decode(module.encode(fill_missing(x)))
                    # Over the observed cells (all of them without NaN).
                    residual = torch.where(x.isnan(), torch.nan, x_hat - x)
                    errors[rows] = residual.square().nanmean(dim=1).double().cpu()
        finally:
            module.train(training)
        return errors

    def get_default_callbacks(self):
        # After skorch's loss scoring, before early stopping and PrintLog.
        defaults = [
            (name, _QuietPrintLog() if isinstance(cb, PrintLog) else cb)
            for name, cb in super().get_default_callbacks()
        ]
        return [
            *defaults,
            ("sync_epoch_losses", SyncEpochLosses()),
            ("divergence", _DivergenceCheck()),
        ]

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            batch_size=self.batch_size,
            shuffle=training,
            generator=self.generator,
            convert=self.convert,
            tensor=self.dataset_tensor(dataset),
            shard=None if self._process_group is None else self._process_group.shard,
        )

    def infer(self, x, **fit_params):
        """``(x_hat, z, posterior)``; ``posterior`` is ``(mean, log_var)`` or None.

        A variational module's code is sampled, ``z = mean + exp(log_var / 2) *
        eps``, in validation as in training (the loss is then an estimate of
        the negative ELBO, as in Keras); ``transform`` uses the mean.
        """
        module = self.module_
        if getattr(self, "missing", False):
            x = fill_missing(x)
        if not self.variational:
            z = module.encode(x)
            return module.decode(z), z, None
        mean, log_var = module.encode_distribution(x)
        eps = torch.randn(
            mean.shape, dtype=mean.dtype, device=mean.device, generator=self.sampler
        )
        z = mean + torch.exp(0.5 * log_var) * eps
        return module.decode(z), z, (mean, log_var)

    def lean_epochs(self):
        """Whether training epochs can skip skorch's per-batch machinery.

        True when no callback (nor a subclass of this net) listens to a
        per-batch event, the training step is skorch's own, and the one
        optimizer is one of torch's (or ``_optim``'s) that does not need the
        step's closure (all but L-BFGS). Checked at the start of every epoch.
        """
        if optimizer_names(self) != ["optimizer"] or type(self.history) is not History:
            return False
        if any(_overrides(self, name, NeuralNet) for name in _STEP_METHODS):
            return False
        for _, callback in self.callbacks_:
            if any(_overrides(callback, name, Callback) for name in _BATCH_EVENTS):
                return False
        optimizer = self.optimizer_
        return type(optimizer).__module__.startswith(
            ("torch.optim.", "sklearn_ae.")
        ) and not isinstance(optimizer, torch.optim.LBFGS)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, or a lean one when nothing listens to batch events.

        The lean training epoch does what skorch's does for each batch, and
        no more: zero the gradients, :meth:`train_step_single` (autograd's
        forward and backward pass), the optimizer's step, and the history's
        batch record (``train_loss``, ``train_batch_size``) and
        ``train_batch_count``, with the same values. What it leaves out has
        no listener: the notifications, the step closure, setting the
        training mode before every batch (it is set once per epoch) and
        reading each batch's loss as it comes (the losses are read once, at
        the end of the epoch, which also spares a GPU one synchronisation per
        batch). The time this saves is measured in the performance guide.
        """
        if not (training and iterator is not None and self.lean_epochs()):
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        set_training(self, True)
        optimizer = self.optimizer_
        # The batch losses go into one buffer on the loss's device, read once
        # at the end. (Keeping one small tensor per batch instead pinned the
        # batches' memory in the C heap: a one-epoch fit on a 391 MiB memory
        # map grew the process by 570 MiB.)
        losses, sizes = None, []
        self._lean = True
        try:
            for batch in iterator:
                optimizer.zero_grad()
                step = self.train_step_single(batch, **fit_params)
                optimizer.step()
                loss = step["loss"].detach()
                if losses is None or len(sizes) == len(losses):
                    size = max(2 * len(sizes), getattr(iterator, "__len__", int)())
                    grown = loss.new_empty(max(size, 1))
                    if losses is not None:
                        grown[: len(sizes)] = losses
                    losses = grown
                losses[len(sizes)] = loss
                sizes.append(len(batch[0]))
        finally:
            self._lean = False
        values = [] if losses is None else losses[: len(sizes)].tolist()
        self.history[-1]["batches"].extend(
            {f"{prefix}_loss": loss, f"{prefix}_batch_size": size}
            for loss, size in zip(values, sizes, strict=True)
        )
        self.history.record(f"{prefix}_batch_count", len(sizes))

    def _forward_backward(self, batch, **fit_params):
        """skorch's ``train_step_single``; in a lean epoch, without setting
        the training mode again (it is set once per epoch)."""
        if not self._lean:
            return super().train_step_single(batch, **fit_params)
        Xi, yi = batch
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step_single(self, batch, **fit_params):
        Xi, yi = batch
        if self.corrupt is not None:
            batch = (self.corrupt(Xi, self.sampler), yi)
        group = self._process_group
        if group is None:
            return self._forward_backward(batch, **fit_params)
        if len(Xi):
            step = self._forward_backward(batch, **fit_params)
        else:  # fewer rows in this batch than processes: none here
            step = {"loss": torch.zeros((), device=Xi.device), "y_pred": None}
        group.average_gradients(self.module_.parameters(), len(Xi))
        return step

    def validation_step(self, batch, **fit_params):
        if self._process_group is not None and not len(batch[0]):
            return {"loss": torch.zeros((), device=batch[0].device), "y_pred": None}
        return super().validation_step(batch, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Reconstruction loss, + L1 on the code (training), + beta * KL.

        The L1 penalty is the Keras article's original activity regulariser:
        ``sparsity * sum over code units of mean_batch |z|``. The KL term is
        averaged over the batch and divided by the number of features, so that
        with ``beta=1`` and ``loss="bce"`` the loss is the negative ELBO per
        feature.
        """
        x_hat, z, posterior = y_pred
        if getattr(self, "missing", False):
            # Over the observed cells only (see _missing).
            loss = masked_mse(x_hat, y_true)
        else:
            loss = super().get_loss(x_hat, y_true, X=X, training=training)
        if training and self.sparsity:
            loss = loss + self.sparsity * z.abs().mean(dim=0).sum()
        if posterior is not None:
            kl = gaussian_kl(*posterior).mean()
            loss = loss + self.beta * kl / x_hat.shape[1]
        return loss
