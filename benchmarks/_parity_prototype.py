"""Throwaway prototype for issue #11 (PCA parity by default): not library code.

A subclass of :class:`~sklearn_ae.AutoencoderTransformer` with the knobs the
study in ``benchmarks/pca_parity.md`` varies, so that ``pca_parity.py`` can
measure each candidate design through the real estimator (skorch engine, data
path, scaling) before the chosen one is implemented in the refactored code:

- ``init`` ("pca" or "random") and ``skip``: the module is
  :class:`ResidualMLPAutoencoder`, a linear path (encoder ``W``, decoder
  ``W'``) plus the usual MLP as a residual. ``init="pca"`` sets the linear
  path to the top-k principal axes of the scaled training data and zeroes the
  residuals' last layers, so training starts at PCA's reconstruction;
- ``pca_rows``: which rows the PCA start is fitted on when a validation part
  is held out: ``"all"`` (validation rows included), ``"train"`` (the
  non-validation part only), or ``"refit"`` (the non-validation part, and the
  PCA of all rows if the PCA start is the best epoch);
- ``pca_candidate``: the start counts as "epoch 0" of early stopping, so a
  fit that never beats it on the monitored loss keeps it;
- ``batch_size="auto"``: ``min(256, max(16, n // 10))``, ``max_steps``: a cap
  on optimiser steps on top of ``max_iter`` epochs;
- ``code_scale``: ``"module"`` (codes of the scaled data, as today),
  ``"data"`` (times ``scale_``: PCA's scores at the start) or ``"standard"``
  (each code unit centred and divided by its standard deviation on the
  training rows, like ``PCA(whiten=True)``).

It overrides private methods of today's ``_autoencoder.py`` (``_fit``,
``_make_net``, ``_module_spec``, ``_callbacks``) and will break with the
refactor; persistence, ``partial_fit`` after ``fit`` and data-parallel
training are not supported.

Kept as the record of how ``benchmarks/pca_parity_results/study_*.csv`` were
made. It runs against commit 67bb6d0 only (before the refactor of issue #10);
to rerun the study, check that commit out beside this one (``git worktree add
../parity-base 67bb6d0``) and put this file and ``_parity_study.py`` there.
The chosen design is implemented in ``sklearn_ae`` itself: ``pca_parity.py
--factory current`` measures it.
"""

import copy
import math
from typing import ClassVar

import numpy as np
import torch
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted
from sklearn_ae._validation import check_X
from skorch.callbacks import Callback, LRScheduler
from torch import nn

from sklearn_ae import AutoencoderTransformer
from sklearn_ae._autoencoder import _dense, _seed_from
from sklearn_ae._engine._net import RowDataset
from sklearn_ae._modules import MLPAutoencoder, _init_layer, _mlp


def auto_batch_size(n_rows):
    return int(min(256, max(16, n_rows // 10)))


class ResidualMLPAutoencoder(nn.Module):
    """Linear path plus an MLP residual, in the encoder and in the decoder.

    ``encode(x) = x @ W.T + b + mlp_e(x)``, ``decode(z) = z @ W2.T + b2 +
    mlp_d(z)``. With ``linear_init=(components, mean)`` (a PCA of the scaled
    data: ``components`` of shape (k, n_features), ``mean`` of shape
    (n_features,)), ``W = components``, ``b = -components @ mean``, ``W2 =
    components.T``, ``b2 = mean`` and the residuals' last layers are zero: the
    module starts as that PCA. Otherwise every layer is initialised at random
    (the residuals' last layers too).
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(256,),
        activation="relu",
        code_activation="identity",
        variational=False,
        linear_init=None,
        skip=True,
        encoder_residual=True,
    ):
        super().__init__()
        if variational or code_activation != "identity":
            raise ValueError("prototype: plain codes only")
        self.n_components = n_components
        self.variational = False
        widths = [n_features, *hidden_layer_sizes]
        self.encoder = _mlp([*widths, n_components], activation, "identity")
        self.encoder_residual = encoder_residual
        self.decoder = _mlp([n_components, *widths[::-1]], activation, "identity")
        self.skip = skip
        if not skip:
            return
        self.linear_encoder = _init_layer(
            nn.Linear(n_features, n_components), "identity"
        )
        self.linear_decoder = _init_layer(
            nn.Linear(n_components, n_features), "identity"
        )
        if linear_init is not None:
            self.set_linear(*linear_init)

    @torch.no_grad()
    def set_linear(self, components, mean):
        V = torch.as_tensor(np.asarray(components), dtype=torch.float32)
        m = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
        self.linear_encoder.weight.copy_(V)
        self.linear_encoder.bias.copy_(-(V @ m))
        self.linear_decoder.weight.copy_(V.T)
        self.linear_decoder.bias.copy_(m)
        for mlp in (self.encoder, self.decoder):
            last = [m for m in mlp if isinstance(m, nn.Linear)][-1]
            last.weight.zero_()
            last.bias.zero_()

    def encode(self, x):
        if self.skip and not self.encoder_residual:
            return self.linear_encoder(x)
        z = self.encoder(x)
        return z + self.linear_encoder(x) if self.skip else z

    def decode(self, z):
        x = self.decoder(z)
        return x + self.linear_decoder(z) if self.skip else x

    def forward(self, x):
        z = self.encode(x)
        return self.decode(z), z


class BestEpoch(Callback):
    """Early stopping (skorch's rule: improvement by ``tol``, ``patience``
    misses) that may count the initial weights as epoch 0."""

    def __init__(self, monitor, patience, tol, restore, initial_loss=None):
        self.monitor = monitor
        self.patience = patience
        self.tol = tol
        self.restore = restore
        self.initial_loss = initial_loss

    def on_train_begin(self, net, **kwargs):
        self.misses_ = 0
        self.best_ = np.inf
        self.best_epoch_ = None
        self.best_weights_ = None
        if self.initial_loss is not None:
            self.best_ = self.initial_loss
            self.best_epoch_ = 0
            self.best_weights_ = copy.deepcopy(net.module_.state_dict())

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, self.monitor]
        if loss < self.best_ - self.tol:
            self.best_ = loss
            self.misses_ = 0
            self.best_epoch_ = len(net.history)
            if self.restore:
                self.best_weights_ = copy.deepcopy(net.module_.state_dict())
        else:
            self.misses_ += 1
        if self.misses_ >= self.patience:
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        last = len(net.history)
        if self.restore and self.best_weights_ is not None and self.best_epoch_ != last:
            net.module_.load_state_dict(self.best_weights_)


class ParityAutoencoder(AutoencoderTransformer):
    """AutoencoderTransformer with the candidate defaults of issue #11."""

    _parameter_constraints: ClassVar[dict] = {
        **AutoencoderTransformer._parameter_constraints,
        "batch_size": [int, str],
        "max_iter": [int],
        "init": [str],
        "skip": ["boolean"],
        "pca_rows": [str],
        "pca_candidate": ["boolean"],
        "max_steps": [int, None],
        "code_scale": [str],
        "encoder_residual": ["boolean"],
        "pca_test": [float, int, None],
        "pca_margin": [float, int],
        "lr_schedule": [str],
        "residual_decay": [float, int],
        "encoder_decay": [float, int, None],
        "staged": ["boolean"],
        "min_valid_rows": [int],
        "valid_rows_floor": [int],
    }

    def __init__(
        self,
        n_components=2,
        *,
        architecture="mlp",
        hidden_layer_sizes=(256,),
        activation="relu",
        code_activation="identity",
        input_shape=None,
        module_params=None,
        loss="mse",
        sparsity=0.0,
        noise=0.0,
        noise_type="gaussian",
        variational=False,
        beta=1.0,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        batch_size="auto",
        max_iter=1000,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
        init="pca",
        skip=True,
        pca_rows="refit",
        pca_candidate=True,
        max_steps=None,
        code_scale="data",
        encoder_residual=True,
        pca_test=None,
        pca_margin=0.0,
        lr_schedule="constant",
        residual_decay=0.0,
        encoder_decay=None,
        staged=False,
        min_valid_rows=0,
        valid_rows_floor=0,
    ):
        super().__init__(
            n_components,
            architecture=architecture,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            code_activation=code_activation,
            input_shape=input_shape,
            module_params=module_params,
            loss=loss,
            sparsity=sparsity,
            noise=noise,
            noise_type=noise_type,
            variational=variational,
            beta=beta,
            optimizer=optimizer,
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_iter=max_iter,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            device=device,
            random_state=random_state,
            verbose=verbose,
            callbacks=callbacks,
        )
        self.init = init
        self.skip = skip
        self.pca_rows = pca_rows
        self.pca_candidate = pca_candidate
        self.max_steps = max_steps
        self.code_scale = code_scale
        self.encoder_residual = encoder_residual
        self.pca_test = pca_test
        self.pca_margin = pca_margin
        self.lr_schedule = lr_schedule
        self.residual_decay = residual_decay
        self.encoder_decay = encoder_decay
        self.staged = staged
        self.min_valid_rows = min_valid_rows
        self.valid_rows_floor = valid_rows_floor

    # ------------------------------------------------------------ building

    def _module_spec(self, n_features):
        module_cls, kwargs = super()._module_spec(n_features)
        if module_cls is MLPAutoencoder and (self.skip or self.init == "pca"):
            module_cls = ResidualMLPAutoencoder
            kwargs["skip"] = True
            kwargs["linear_init"] = self._linear_init
            kwargs["encoder_residual"] = self.encoder_residual
        return module_cls, kwargs

    def _callbacks(self):
        monitor = "valid_loss" if self.early_stopping else "train_loss"
        stopper = BestEpoch(
            monitor,
            self.n_iter_no_change,
            self.tol,
            restore=self.early_stopping,
            initial_loss=self._initial_loss,
        )
        extra = []
        if self.lr_schedule == "plateau":
            extra.append(
                (
                    "lr_plateau",
                    LRScheduler(
                        policy="ReduceLROnPlateau",
                        monitor=monitor,
                        factor=0.5,
                        patience=max(1, self.n_iter_no_change // 4),
                        threshold=self.tol,
                        threshold_mode="abs",
                    ),
                )
            )
        return [*extra, ("early_stopping", stopper), *(self.callbacks or [])]

    def _make_net(self, n_features, mean, scale, seed, *, valid=None, stopper=True):
        net = super()._make_net(
            n_features, mean, scale, seed, valid=valid, stopper=stopper
        )
        n_train = self._n_train
        batch = (
            auto_batch_size(n_train) if self.batch_size == "auto" else self.batch_size
        )
        epochs = self.max_iter
        if self.max_steps:
            epochs = min(epochs, math.ceil(self.max_steps / math.ceil(n_train / batch)))
        net.batch_size = batch
        net.max_epochs = max(1, epochs)
        encoder_decay = (
            self.residual_decay if self.encoder_decay is None else self.encoder_decay
        )
        if self.residual_decay or encoder_decay:
            # Decoupled decay of the residual MLPs only (AdamW), towards the
            # PCA start; the linear path is not decayed.
            net.set_params(
                optimizer=torch.optim.AdamW,
                optimizer__param_groups=[
                    ("encoder.*", {"weight_decay": encoder_decay}),
                    ("decoder.*", {"weight_decay": self.residual_decay}),
                ],
            )
        return net

    # ------------------------------------------------------------------ fit

    def _scaled(self, X, rows, mean, scale):
        Xr = _dense(X[rows]) if rows is not None else _dense(X)
        return (np.asarray(Xr, dtype=np.float64) - mean) / scale

    def _pca(self, Xs, seed):
        k = self.n_components
        pca = PCA(k, random_state=seed % 2**32).fit(Xs)
        return pca.components_.astype(np.float32), pca.mean_.astype(np.float32)

    def _split(self, n_samples, seed):
        if not self.early_stopping:
            return None, None
        n_valid = max(
            int(np.ceil(self.validation_fraction * n_samples)),
            min(self.valid_rows_floor, n_samples // 3),
        )
        order = np.random.default_rng(seed).permutation(n_samples)
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    def _pca_errors(self, R):
        V, m = self._linear_init
        V = V.astype(np.float64)
        return np.mean((R - ((R - m) @ V.T @ V + m)) ** 2, axis=1)

    @staticmethod
    def _module_errors(module, R):
        with torch.no_grad():
            module.eval()
            t = torch.as_tensor(R, dtype=torch.float32)
            rec = module.decode(module.encode(t)).double().numpy()
        return np.mean((R - rec) ** 2, axis=1)

    def _better(self, new_err, old_err):
        """One-sided paired t-test (level pca_test) and relative gain >= margin."""
        diff = old_err - new_err
        if len(diff) > 1 and diff.std() > 0:
            p = stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue
        else:
            p = 1.0
        gain = 1 - new_err.mean() / old_err.mean()
        self.tests_ = [*getattr(self, "tests_", []), (float(p), float(gain))]
        alpha = 1.0 if self.pca_test is None else self.pca_test
        return p < alpha and gain >= self.pca_margin

    def _staged_fit(self, net, X, Xs, train_idx, valid_idx, seed):
        """PCA -> + nonlinear decoder -> + nonlinear encoder, each stage kept
        only if it beats the one before on the validation rows."""
        R = Xs[valid_idx]
        self.tests_ = []
        train = RowDataset(X, train_idx)

        def stage1():
            net.initialize()
            net.module_.encoder_residual = False
            net.partial_fit(train)

        self._run(net, seed, stage1)
        stopper = dict(net.callbacks)["early_stopping"]
        base_err = self._pca_errors(R)
        self.stage_ = 0
        if stopper.best_epoch_ != 0:
            err = self._module_errors(net.module_, R)
            if self._better(err, base_err):
                base_err, self.stage_ = err, 1
        if self.stage_ == 0:
            net.module_.set_linear(*self._linear_init)
        snapshot = copy.deepcopy(net.module_.state_dict())
        net.module_.encoder_residual = True
        net.module_.train()
        stopper.initial_loss = float(base_err.mean())
        self._run(net, seed + 1, lambda: net.partial_fit(train))
        if stopper.best_epoch_ != 0:
            err = self._module_errors(net.module_, R)
            if self._better(err, base_err):
                self.stage_ = 2
        if self.stage_ != 2:
            net.module_.load_state_dict(snapshot)
        self.best_epoch_ = 0 if self.stage_ == 0 else stopper.best_epoch_

    def _fit(self, X):
        X = check_X(self, X, reset=True)
        self._check_training_options()
        mean, scale = self._input_statistics(X)
        seed = _seed_from(self.random_state)
        train_idx, valid_idx = self._split(X.shape[0], seed)
        self._n_train = X.shape[0] if train_idx is None else len(train_idx)

        self._linear_init = None
        self._initial_loss = None
        pca_all = None
        if self.init == "pca":
            Xs = self._scaled(X, None, mean, scale)
            pca_all = self._pca(Xs, seed)
            if train_idx is not None and self.pca_rows in ("train", "refit"):
                self._linear_init = self._pca(Xs[train_idx], seed)
            else:
                self._linear_init = pca_all
            if self.pca_candidate:
                # The monitored loss of the PCA start, in module space.
                V, m = self._linear_init
                rows = valid_idx if valid_idx is not None else train_idx
                R = Xs if rows is None else Xs[rows]
                rec = (R - m) @ V.T.astype(np.float64) @ V + m
                self._initial_loss = float(np.mean((R - rec) ** 2))

        net = self._make_net(
            X.shape[1],
            mean,
            scale,
            seed,
            valid=None if valid_idx is None else RowDataset(X, valid_idx),
        )
        if (
            self.init == "pca"
            and valid_idx is not None
            and len(valid_idx) < self.min_valid_rows
        ):
            # Too few rows to tell a trained model from PCA: keep PCA.
            self._run(net, seed, net.initialize)
            net.module_.set_linear(*pca_all)
            self.best_epoch_ = 0
            self._set_fitted(net, mean, scale, X.dtype, seed)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.validation_loss_curve_ = []
            self._code_shift = 0.0
            self._code_scale = float(scale) if self.code_scale == "data" else 1.0
            return self
        staged = self.staged and self.init == "pca" and valid_idx is not None
        if staged:
            self._staged_fit(net, X, Xs, train_idx, valid_idx, seed)
        else:
            self._run(net, seed, lambda: net.fit(RowDataset(X, train_idx)))
            stopper = dict(net.callbacks)["early_stopping"]
            self.best_epoch_ = stopper.best_epoch_
        net.train_split = None
        if (
            not staged
            and self.init == "pca"
            and self.pca_test is not None
            and valid_idx is not None
            and self.best_epoch_ != 0
        ):
            # Keep the trained model only if it beats the PCA start on the
            # validation rows: a one-sided paired t-test on the per-row errors
            # at level pca_test, and a relative gain of at least pca_margin.
            R = Xs[valid_idx]
            pca_err = self._pca_errors(R)
            ae_err = self._module_errors(net.module_, R)
            if not self._better(ae_err, pca_err):
                self.best_epoch_ = 0
                net.module_.set_linear(*self._linear_init)
        if (
            self.init == "pca"
            and self.pca_rows == "refit"
            and self.best_epoch_ == 0
            and self.early_stopping
        ):
            net.module_.set_linear(*pca_all)

        history = net.history
        self._set_fitted(net, mean, scale, X.dtype, seed)
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        self.validation_loss_curve_ = (
            [float(v) for v in history[:, "valid_loss"]]
            if self.early_stopping
            else None
        )
        self._code_shift, self._code_scale = 0.0, 1.0
        if self.code_scale == "data":
            self._code_scale = float(scale)
        elif self.code_scale == "standard":
            Z = super().transform(X)
            self._code_shift = Z.mean(axis=0)
            sd = Z.std(axis=0)
            self._code_scale = np.where(sd > 0, sd, 1.0)
            self._code_scale = 1.0 / self._code_scale
        return self

    # ------------------------------------------------------------ transform

    def transform(self, X):
        Z = super().transform(X)
        return ((Z - self._code_shift) * self._code_scale).astype(Z.dtype)

    def inverse_transform(self, X):
        check_is_fitted(self)
        Z = np.asarray(X)
        Z = (Z / self._code_scale + self._code_shift).astype(Z.dtype)
        return super().inverse_transform(Z)


# ------------------------------------------------------------- factories


def candidate(n_components, random_state):
    """The prototype's own defaults (vary them with ``--set``)."""
    return ParityAutoencoder(n_components, random_state=random_state)


def chosen(n_components, random_state):
    """The design the study chose (see pca_parity.md)."""
    return ParityAutoencoder(
        n_components,
        random_state=random_state,
        learning_rate=3e-3,
        max_iter=100,
        pca_test=0.01,
        min_valid_rows=10,
        valid_rows_floor=30,
    )


def baseline(n_components, random_state):
    """The prototype set to behave as today's defaults (a sanity check)."""
    return ParityAutoencoder(
        n_components,
        random_state=random_state,
        init="random",
        skip=False,
        batch_size=64,
        max_iter=50,
        early_stopping=False,
        n_iter_no_change=10,
        code_scale="module",
    )


__all__ = [
    "BestEpoch",
    "ParityAutoencoder",
    "ResidualMLPAutoencoder",
    "baseline",
    "candidate",
    "chosen",
]
