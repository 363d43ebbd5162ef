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
from skorch.callbacks import Callback

from ._data import BatchIterator, RowDataset
from ._distributed import SyncEpochLosses, current_group
from ._losses import gaussian_kl

__all__ = [
    "AutoencoderNet",
    "Corruption",
    "EarlyStopping",
    "StopTraining",
    "TrainingDiverged",
]


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
    """

    def __init__(self, monitor, patience, tol, restore_best):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore_best = restore_best

    def on_train_begin(self, net, **kwargs):
        self.best_ = np.inf
        self.best_epoch_ = 0
        self.misses_ = 0
        self.best_weights_ = None
        self.stopped_ = False

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
            if self.best_epoch_ != net.history[-1, "epoch"]:
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
            kl = gaussian_kl(*posterior).mean()
            loss = loss + self.beta * kl / x_hat.shape[1]
        return loss
