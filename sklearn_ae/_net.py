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

Batches come from ``_data.BatchIterator`` (whole-array indexing, a cached
tensor for small dense data) and are mapped into module space by the fitted
``_scaling.InputScaler`` on their way to the device.

In a ``torch.distributed`` process group of several processes the net trains
data-parallel (see ``_distributed``): the iterator gives each process its
share of every global batch, ``train_step_single`` averages the gradients over
the processes, and the epoch losses are averaged over them by a callback.
"""

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PrintLog
from skorch.history import History

from ._data import BatchIterator, RowDataset
from ._distributed import SyncEpochLosses, current_group
from ._losses import gaussian_kl

__all__ = ["AutoencoderNet", "Corruption", "TrainingDiverged"]

# The per-batch notifications; an epoch where nothing listens to them takes
# the lean path (see ``AutoencoderNet.run_single_epoch``).
_BATCH_EVENTS = ("on_batch_begin", "on_batch_end", "on_grad_computed")

# The net's methods that the lean epoch does instead of calling them.
_STEP_METHODS = (
    "train_step",
    "get_train_step_accumulator",
    "_zero_grad_optimizer",
    "_step_optimizer",
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
    scaler : InputScaler
        Maps a dense ndarray batch into the module's space (see ``_scaling``).

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
        scaler,
        generator,
        sparsity=0.0,
        variational=False,
        beta=1.0,
        corrupt=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.scaler = scaler
        self.generator = generator
        self.sparsity = sparsity
        self.variational = variational
        self.beta = beta
        self.corrupt = corrupt
        self._tensors = {}
        self._process_group = None
        self._lean = False

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
            self._tensors[key] = (dataset, dataset.to_tensor(self.convert))
        return self._tensors[key][1]

    def convert(self, X):
        """A dense ndarray batch as the float32 module-space tensor on the device."""
        return self.scaler(X, torch.float32, self.device)

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
        if not self.variational:
            z = module.encode(x)
            return module.decode(z), z, None
        mean, log_var = module.encode_distribution(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return module.decode(z), z, (mean, log_var)

    def lean_epochs(self):
        """Whether training epochs can skip skorch's per-batch machinery.

        True when no callback (nor a subclass of this net) listens to a
        per-batch event, the training step is skorch's own, and the one
        optimizer is one of torch's (or ``_optim``'s) that does not need the
        step's closure (all but L-BFGS). Checked at the start of every epoch.
        """
        if self._optimizers != ["optimizer"] or type(self.history) is not History:
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
        no more: zero the gradients, :meth:`train_step_single`, the
        optimizer's step, and the history's batch record (``train_loss``,
        ``train_batch_size``) and ``train_batch_count``, with the same
        values. What it leaves out has no listener: the notifications, the
        step closure, setting the training mode before every batch (it is set
        once per epoch) and reading each batch's loss as it comes (the losses
        are read once, at the end of the epoch, which also spares a GPU one
        synchronisation per batch). Profiled on the article's 784-32-784 model
        on one thread, that machinery and the optimizer's wrappers (see
        ``_optim``) took about a sixth of each step.
        """
        if not (training and iterator is not None and self.lean_epochs()):
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        self._set_training(True)
        optimizer = self.optimizer_
        losses, sizes = [], []
        self._lean = True
        try:
            for batch in iterator:
                optimizer.zero_grad()
                step = self.train_step_single(batch, **fit_params)
                optimizer.step()
                losses.append(step["loss"].detach())
                sizes.append(len(batch[0]))
        finally:
            self._lean = False
        values = torch.stack(losses).tolist() if losses else []
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
            batch = (self.corrupt(Xi), yi)
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
        loss = super().get_loss(x_hat, y_true, X=X, training=training)
        if training and self.sparsity:
            loss = loss + self.sparsity * z.abs().mean(dim=0).sum()
        if posterior is not None:
            kl = gaussian_kl(*posterior).mean()
            loss = loss + self.beta * kl / x_hat.shape[1]
        return loss
