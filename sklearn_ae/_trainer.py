"""The trainer: one ``fit`` or ``partial_fit`` call below the estimator.

:func:`train` takes the checked data and the call's :class:`~sklearn_ae._plan.
FitPlan` and does the work in order: one pass over the data for their
statistics (``_stats``), the code's width, the net (``_config.build_net``),
PCA's start and race (``_pca.PCAStart``), the epochs (``_engine._net``), and
the explained variance. It returns a :class:`FitResult` and sets nothing on
the estimator, which is the only writer of the fitted attributes.
"""

import dataclasses
import functools

import numpy as np

from ._config import build_net, loss_units, own_callbacks
from ._data import RowDataset
from ._engine._distributed import current_group
from ._engine._net import EarlyStopping
from ._engine._threads import cpu_threads, step_flops
from ._inference import explained_variance_fraction
from ._missing import MissingScan
from ._pca import MIN_TEST_ROWS, PCA_TEST_LEVEL, PCAStart, resolve_n_components
from ._stats import DataStats

__all__ = ["FitResult", "train"]


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What one call trained, for the estimator to keep.

    Attributes
    ----------
    net : AutoencoderNet
        The trained net (the same object as before for a continued model).

    n_components : int
        The code's width.

    losses : list of float
        This call's training loss per epoch, in X's units.

    validation_losses : list of float or None
        This call's validation loss per epoch, in X's units, when it
        validated.

    best_epoch : int
        The epoch whose weights the model has (0: PCA's solution).

    explained_variance_fraction : float or None
        ``1 - SSE / SST`` over the rows of a ``fit``; None for
        ``partial_fit``.
    """

    net: object
    n_components: int
    losses: list
    validation_losses: list | None
    best_epoch: int
    explained_variance_fraction: float | None


def say(verbose, message):
    """Print ``message`` when ``verbose``, from process 0 only."""
    group = current_group()
    if verbose and (group is None or group.rank == 0):
        print(message, flush=True)


def say_pca_kept(verbose, p_value):
    """Say why PCA's solution was kept after training (if a test decided)."""
    if p_value is None:
        return  # no epoch beat PCA's solution: the log said so
    say(
        verbose,
        "Kept PCA's solution: the network's lower validation error is not "
        f"significant (one-sided paired t-test, p = {p_value:.3g} >= "
        f"{PCA_TEST_LEVEL}).",
    )


def _say_untrained(verbose, n_components, n_valid):
    if n_components == 0:
        say(verbose, "An empty code (n_components=0): the model is the mean.")
    else:
        say(
            verbose,
            f"Kept PCA's solution without training: {n_valid} validation "
            "rows are too few to tell a network from it "
            f"({MIN_TEST_ROWS} are needed).",
        )


class _Build:
    """A first pass's statistics, data sets, net and PCA start."""

    def __init__(self, X, params, plan):
        source = RowDataset(X)
        self.stats = stats = DataStats.read(
            X,
            train=plan.train_idx,
            valid=plan.valid_idx,
            pca=plan.needs_pca,
            keep_valid=source.chunk_bounds() is not None,
        )
        scaler = stats.scaler(params["loss"])
        group = current_group()
        if group is not None:  # the statistics too must agree (collective)
            mean = 0.0 if scaler.mean is None else float(np.sum(scaler.mean))
            group.check_same("X", [scaler.scale, mean], plan.device)
        k = resolve_n_components(params["n_components"], X.shape, stats.pca)
        self.plan = plan = plan.with_components(k, params)
        self.train, self.valid, decide = _data_sets(source, stats, plan)
        own = own_callbacks(params, not plan.incremental, loss_units(params, scaler))
        self.stopper = dict(own).get("early_stopping")
        self.net = net = build_net(
            {**params, "n_components": k},
            plan.n_features,
            scaler,
            plan.seed,
            valid=self.valid,
            plan=plan,
            callbacks=own,
        )
        # Missing cells: inputs filled, the loss over observed cells (_missing).
        net.missing = stats.missing
        self.start = None
        if plan.pca_start:
            # PCA's race reads the decision rows only through this function.
            errors = (
                None if decide is None else functools.partial(net.row_errors, decide)
            )
            self.start = PCAStart(stats.pca, k, scaler, errors)
        if not isinstance(params["architecture"], str):
            probe = self.train.rows(np.arange(min(2, len(self.train))))
            net.check_module(probe)


def _data_sets(source, stats, plan):
    """The training rows, the validation rows that choose the epoch and those
    that decide between the network and PCA (None where there are none), as
    data sets of ``source`` (all of X); the validation rows from the
    statistics pass's copy of a chunked source's when it kept one, so no
    later pass reads the source for them."""

    def held_out(rows):
        if rows is None or stats.valid_rows is None:
            return None if rows is None else source.subset(rows)
        positions = np.searchsorted(plan.valid_idx, rows)
        whole = len(rows) == plan.n_valid
        return RowDataset(stats.valid_rows, None if whole else positions)

    train = source.subset(plan.train_idx)
    return train, held_out(plan.select_idx), held_out(plan.decide_idx)


def _continued(net, plan):
    """A fitted net, set for one more epoch: no validation, no stopping."""
    kept = [
        entry
        for entry in net.callbacks
        if not isinstance(
            entry[1] if isinstance(entry, tuple) else entry, EarlyStopping
        )
    ]
    if len(kept) < len(net.callbacks):
        net.set_params(callbacks=kept)
        net.initialize_callbacks()
    net.set_params(batch_size=plan.batch_size, max_epochs=plan.max_epochs)
    n_components = net.get_params_for("module")["n_components"]
    return net, dataclasses.replace(plan, n_components=n_components)


def train(X, params, plan, net=None):
    """Run one call's training; see the module docstring.

    Parameters
    ----------
    X : ndarray, np.memmap, sparse CSR matrix or LazyRows
        The checked data, without the finiteness check: the statistics pass
        makes it on a first pass, :meth:`~sklearn_ae._missing.MissingScan.
        check` on a continued one, each with the missing cells' scan.

    params : dict
        The estimator's ``get_params(deep=False)``.

    plan : FitPlan
        The call's plan (``_plan.plan_fit``).

    net : AutoencoderNet or None, default=None
        The fitted net to continue (``partial_fit`` of a fitted model).

    Returns
    -------
    result : FitResult
    """
    verbose = params["verbose"]
    start = valid = stopper = build = None
    if plan.first_pass:
        build = _Build(X, params, plan)
        net, plan, start = build.net, build.plan, build.start
        train_set, valid, stopper = build.train, build.valid, build.stopper
    else:
        net, plan = _continued(net, plan)
        # This call's one check of X: finiteness and missing cells (_missing).
        net.missing = MissingScan.check(X)
        train_set = RowDataset(X)
    records_before = len(net.history)
    # Too little to tell a network from PCA with (or nothing to code):
    # PCA's solution, untrained.
    too_few = 0 < plan.n_valid < MIN_TEST_ROWS
    untrained = start is not None and (plan.n_components == 0 or too_few)
    # torch's thread count follows the work of one training step, for the
    # training (and PCA's test after it) of this call only (see _threads).
    flops = step_flops(
        net.module_,
        plan.n_features,
        min(plan.batch_size, max(len(train_set), 1)),
        training=True,
        device=net.device,
    )
    if untrained:
        start.keep_pca(net)
        _say_untrained(verbose, plan.n_components, plan.n_valid)
    else:
        with cpu_threads(flops):
            if start is not None:
                start.start(net)
                if valid is not None:
                    # PCA's solution is "epoch 0" of the stopping rule.
                    weights = net.module_.state_dict()
                    stopper.begin_at(net.row_errors(valid).mean(), weights)
            # Each call shuffles, and draws its noise and samples, from
            # generators seeded by the seed and the epochs before it:
            # reproducible, also after save and load, which keep n_iter_.
            net.partial_fit(train_set, epochs_trained=plan.epochs_before)
    # The validation split is a view of X: drop it, so the fitted model
    # neither keeps X alive nor pickles it.
    net.set_params(train_split=None)

    epochs = net.history[records_before:]  # (none when kept untrained)
    units = loss_units(params, net.scaler)
    losses = [float(units * epoch["train_loss"]) for epoch in epochs]
    best_epoch = plan.epochs_before + len(losses)
    kept_pca = untrained
    if valid is not None and not untrained:
        best_epoch = stopper.best_epoch_
        with cpu_threads(flops):
            kept_pca = start is not None and not start.settle(net, best_epoch)
        if kept_pca:
            best_epoch = 0
            say_pca_kept(verbose, start.p_value_)
    validation_losses = None
    if valid is not None:
        validation_losses = [float(units * epoch["valid_loss"]) for epoch in epochs]
    fraction = None
    if not plan.incremental:
        fraction = (
            _pca_fraction(build.stats.pca, plan.n_components) if kept_pca else None
        )
        if fraction is None:
            sst = build.stats.total_squares
            fraction = explained_variance_fraction(
                net, X, sst, bce=params["loss"] == "bce"
            )
    return FitResult(
        net=net,
        n_components=plan.n_components,
        losses=losses,
        validation_losses=validation_losses,
        best_epoch=int(best_epoch),
        explained_variance_fraction=fraction,
    )


def _pca_fraction(pca, n_components):
    """PCA's ``explained_variance_ratio_.sum()`` from the spectrum of all
    rows, or None where only a few axes of wide data were computed."""
    variances = pca.fit("all").variances
    if variances is None:
        return None
    total = float(variances.sum())
    return float(variances[:n_components].sum()) / total if total > 0 else 1.0
