"""The training engine: a skorch ``NeuralNet`` specialised for autoencoders.

Only skorch's documented hooks are overridden (``get_iterator``, ``infer``,
``get_loss``, ``train_step_single``); skorch keeps the fit loop, history,
callbacks, early stopping, progress printing and device handling.

- ``infer`` runs the module through its ``encode`` / ``decode`` protocol (and
  ``encode_distribution`` plus the reparameterisation for a variational
  module), so a module needs no particular ``forward``;
- ``train_step_single`` corrupts the training inputs (denoising), fresh in
  every batch, and leaves the clean batch as the target;
- ``get_loss`` adds the code's L1 penalty (training only) and the VAE's KL
  term to the reconstruction loss.

Every random draw (shuffling aside, which has its own generator) uses the
global torch RNG, which the estimator seeds inside ``torch.random.fork_rng``
during ``fit``: runs are reproducible and the caller's RNG state is untouched.

The data path is the part that differs most from skorch's default: skorch
wraps data in a ``Dataset`` that is indexed one sample at a time and collated
by a ``DataLoader``. Here a batch is cut out of the 2-D array in one indexing
operation (dense, memory-mapped or sparse CSR; a sparse batch is densified on
its own), converted to a float32 tensor, scaled and moved to the device.

Dense in-memory data of at most ``TENSOR_CACHE_BYTES`` (as float32) skip even
that: they are converted, scaled and moved to the device once per fit, and a
batch is one ``index_select`` from that tensor. Per batch, converting and
gathering rows from numpy cost about as much as the 784-32-784 model's forward
pass (``aten::index`` alone 120-200 us for 256 x 784 floats, ``index_select``
20 us); see the README's Performance section. Memory maps, sparse matrices
and larger arrays keep the streaming path, so they are never copied whole.

In a ``torch.distributed`` process group of several processes the net trains
data-parallel (see ``_distributed``): the iterator gives each process its
share of every global batch, ``train_step_single`` averages the gradients over
the processes, and the epoch losses are averaged over them by a callback.
"""

import functools
import mmap

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from ._distributed import SyncEpochLosses, current_group

__all__ = [
    "TENSOR_CACHE_BYTES",
    "AutoencoderNet",
    "Corruption",
    "InputScaler",
    "RowDataset",
    "TrainingDiverged",
    "as_tensor",
    "fused_optimizer_kwargs",
]

# Largest training set (as float32 on the device) that is turned into one
# tensor per fit; 256 MiB is about 85,000 MNIST digits.
TENSOR_CACHE_BYTES = 256 * 2**20


def is_memory_mapped(X):
    """Whether the ndarray X (or an array it is a view of) lives in a memory map."""
    while X is not None:
        if isinstance(X, (np.memmap, mmap.mmap)):
            return True
        X = getattr(X, "base", None)
    return False


class TrainingDiverged(ValueError):
    """Raised by the net when the loss or the weights stop being finite."""

    def __init__(self, epoch, what):
        self.epoch = epoch
        self.what = what
        super().__init__(f"{what} at epoch {epoch}")


class RowDataset(torch.utils.data.Dataset):
    """Rows of a 2-D array, optionally restricted to ``indices``.

    Parameters
    ----------
    X : ndarray, np.memmap or scipy sparse CSR matrix of shape (n, n_features)
        The data. It is never copied as a whole.

    indices : ndarray of int or None
        The rows that belong to this dataset (e.g. the training part of a
        split); ``None`` means all rows.
    """

    def __init__(self, X, indices=None):
        self.X = X
        self.indices = indices

    def __len__(self):
        return self.X.shape[0] if self.indices is None else len(self.indices)

    def rows(self, positions):
        """Dense ndarray of the rows at ``positions`` (positions in this dataset)."""
        if self.indices is not None:
            positions = self.indices[positions]
        batch = self.X[positions]
        if sp.issparse(batch):
            batch = batch.toarray()
        return np.asarray(batch)

    def __getitem__(self, i):
        return self.rows(np.array([i]))[0]

    def is_small_dense(self):
        """Whether the rows are an in-memory ndarray small enough to cache whole."""
        X = self.X
        if sp.issparse(X) or not isinstance(X, np.ndarray) or is_memory_mapped(X):
            return False
        return len(self) * X.shape[1] * 4 <= TENSOR_CACHE_BYTES

    def to_tensor(self, to_tensor, chunk_rows=4096):
        """All rows as one tensor made by ``to_tensor``, converted in chunks."""
        n = len(self)
        out = None
        for start in range(0, n, chunk_rows):
            t = to_tensor(self.rows(np.arange(start, min(start + chunk_rows, n))))
            if out is None:
                out = torch.empty((n, *t.shape[1:]), dtype=t.dtype, device=t.device)
            out[start : start + len(t)] = t
        return out


class BatchIterator:
    """Yields ``(X_batch, X_batch)`` tensors over a :class:`RowDataset`.

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
        to_tensor,
        tensor=None,
        shard=None,
    ):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.to_tensor = to_tensor
        self.tensor = tensor
        self.shard = shard

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        tensor, shard = self.tensor, self.shard
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if order is None:
                lo, hi = (start, stop) if shard is None else shard(start, stop)
                if tensor is not None:
                    xb = tensor[lo:hi]
                else:
                    xb = self.to_tensor(self.dataset.rows(np.arange(lo, hi)))
                yield xb, xb
                continue
            # Sorted positions read memory (and memory maps) in order; the
            # batch is a set for the loss, so the order inside it is free.
            positions = order[start:stop].sort().values
            if shard is not None:
                lo, hi = shard(0, stop - start)
                positions = positions[lo:hi]
            if tensor is not None:
                xb = tensor.index_select(0, positions.to(tensor.device))
            else:
                xb = self.to_tensor(self.dataset.rows(positions.numpy()))
            yield xb, xb


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


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per sample, summed over the code."""
    return -0.5 * torch.sum(1 + log_var - mean.square() - log_var.exp(), dim=1)


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

    def __call__(self, x):
        if self.noise_type == "mask":
            dropped = torch.rand_like(x) < self.noise
            zero = torch.as_tensor(self.zero, dtype=x.dtype, device=x.device)
            return torch.where(dropped, zero, x)
        noisy = x + self.noise * torch.randn_like(x)
        return noisy if self.clip is None else noisy.clamp(*self.clip)


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` whose target is its input.

    Parameters
    ----------
    to_tensor : callable
        Turns a dense ndarray batch into the float32 tensor on ``device`` that
        the module sees (scaling included).

    generator : torch.Generator
        Source of the shuffling order; seeded by the estimator for each fit.

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
        to_tensor,
        generator,
        sparsity=0.0,
        variational=False,
        beta=1.0,
        corrupt=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.to_tensor = to_tensor
        self.generator = generator
        self.sparsity = sparsity
        self.variational = variational
        self.beta = beta
        self.corrupt = corrupt
        self._tensors = {}
        self._process_group = None

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        # The cached tensors live for one call only: a fitted net (kept and
        # pickled by the estimator) holds no copy of the training data. The
        # process group is looked up for each call, and never pickled.
        self._process_group = group = current_group()
        try:
            if group is not None and group.rank:
                # The weights were initialised alike on every process; the
                # noise of denoising and the VAE's samples must differ.
                seeds = np.random.SeedSequence([torch.initial_seed(), group.rank])
                torch.manual_seed(int(seeds.generate_state(1)[0]))
            return super().partial_fit(X, y, classes, **fit_params)
        finally:
            self._tensors.clear()
            self._process_group = None

    def dataset_tensor(self, dataset):
        """``dataset`` as one device tensor if it is small and dense, else None.

        Built on first use in a fit (training set and validation set each),
        dropped when the fit ends.
        """
        if not (isinstance(dataset, RowDataset) and dataset.is_small_dense()):
            return None
        key = id(dataset)
        if key not in self._tensors:
            self._tensors[key] = (dataset, dataset.to_tensor(self.to_tensor))
        return self._tensors[key][1]

    def get_default_callbacks(self):
        # After skorch's loss scoring, before early stopping and PrintLog.
        return [
            *super().get_default_callbacks(),
            ("sync_epoch_losses", SyncEpochLosses()),
            ("divergence", _DivergenceCheck()),
        ]

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            batch_size=self.batch_size,
            shuffle=training,
            generator=self.generator,
            to_tensor=self.to_tensor,
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
        if not self.variational:
            z = module.encode(x)
            return module.decode(z), z, None
        mean, log_var = module.encode_distribution(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return module.decode(z), z, (mean, log_var)

    def train_step_single(self, batch, **fit_params):
        Xi, yi = batch
        if self.corrupt is not None:
            batch = (self.corrupt(Xi), yi)
        group = self._process_group
        if group is None:
            return super().train_step_single(batch, **fit_params)
        if len(Xi):
            step = super().train_step_single(batch, **fit_params)
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
        loss = super().get_loss(x_hat, y_true, X=X, training=training)
        if training and self.sparsity:
            loss = loss + self.sparsity * z.abs().mean(dim=0).sum()
        if posterior is not None:
            kl = kl_divergence(*posterior).mean()
            loss = loss + self.beta * kl / x_hat.shape[1]
        return loss


@functools.cache
def fused_optimizer_kwargs(optimizer, device):
    """``{"fused": True}`` where torch has a fused kernel for ``optimizer`` on
    ``device`` (Adam, AdamW, SGD, Adagrad on CPU since torch 2.4), else ``{}``.

    One fused kernel per step replaces a Python loop over the parameters and
    several kernels per parameter; results are deterministic either way. The
    answer is probed once per optimizer class and device string.
    """
    if optimizer not in (
        torch.optim.Adam,
        torch.optim.AdamW,
        torch.optim.SGD,
        torch.optim.Adagrad,
    ):
        return {}
    try:
        probe = torch.zeros(1, device=device, requires_grad=True)
        optimizer([probe], lr=0.1, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return {}
    return {"fused": True}


def as_tensor(X):
    """A CPU tensor over the ndarray X, copying only when torch needs it.

    torch cannot wrap read-only memory (a read-only memory map, a pandas
    copy-on-write buffer) or non-contiguous strides; such a batch is copied.
    """
    X = np.asarray(X)
    if not (X.flags.writeable and X.flags.c_contiguous):
        X = np.array(X, order="C")
    return torch.from_numpy(X)


class InputScaler:
    """The affine map between the user's units and the module's.

    ``(x - mean) / scale`` on the way in, its inverse on the way out. ``mean``
    is ``None`` for data used as is (``loss="bce"``, where the data must stay
    in [0, 1]). Centering happens in float64 when either the input or the
    requested output is float64, so large offsets do not lose precision; the
    result is cast to ``dtype`` (float32 for training) and moved to ``device``.
    """

    def __init__(self, mean, scale, device):
        self.mean = None if mean is None else torch.as_tensor(mean)
        self.scale = float(scale)
        self.device = device

    def __call__(self, X, dtype=torch.float32):
        t = as_tensor(X)
        work = torch.float64 if torch.float64 in (t.dtype, dtype) else torch.float32
        t = t.to(work)
        if self.mean is not None:
            t = (t - self.mean.to(work)) / self.scale
        return t.to(device=self.device, dtype=dtype)

    def inverse(self, t, dtype):
        """Module-space tensor -> ndarray of ``dtype`` in the user's units."""
        x = t.detach().cpu().numpy()
        if self.mean is not None:
            x = x.astype(np.float64) * self.scale + self.mean.numpy()
        return x.astype(dtype, copy=False)
