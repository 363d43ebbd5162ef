"""The fit plan: every decision of one ``fit`` or ``partial_fit`` call, made once.

:func:`plan_fit` resolves the parameters against the data's shape (the
validation rows and their split, the validation rows' own split into those
that choose the epoch and those that decide between the network and PCA's
solution, the batch size, whether training starts at
PCA's solution, the device, the seed, the epochs) into a frozen
:class:`FitPlan`; :meth:`FitPlan.with_components` adds the code's width once
the data's statistics give it. The layers below (``_trainer``, ``_config``'s
``build_net``) read the plan and never resolve a parameter again.
"""

import dataclasses
from numbers import Integral

import numpy as np

from ._config import (
    n_validation_rows,
    resolve_batch_size,
    resolve_device,
    starts_at_pca,
    validation_split,
)
from ._engine._distributed import agree_on_seed
from ._pca import decision_split, warn_overcomplete
from ._scaling import InputScaler

__all__ = ["FitPlan", "plan_fit"]


@dataclasses.dataclass(frozen=True, eq=False)
class FitPlan:
    """One call's resolved settings (read-only).

    Attributes
    ----------
    first_pass : bool
        Whether the call builds the model (``fit``, a first ``partial_fit``).

    incremental : bool
        ``partial_fit``: one epoch, no validation, no stopping rule.

    n_samples, n_features : int
        X's shape.

    seed : int
        Seeds the weights, the split and each call's generators.

    epochs_before : int
        Epochs trained by earlier calls (``n_iter_``), 0 for a first pass.

    max_epochs : int
        Epochs this call may train: ``max_iter``, or 1 for ``partial_fit``.

    train_idx, valid_idx : ndarray of int or None
        The split for early stopping (sorted), None and None without one.

    select_idx, decide_idx : ndarray of int or None
        The validation rows split again (sorted, disjoint) when training
        starts at PCA's solution: ``select_idx`` choose the epoch (early
        stopping's validation set), ``decide_idx`` decide between the
        network and PCA's solution (``_pca.decision_split``), so the decision
        never sees the rows whose noise chose the epoch. Otherwise
        ``select_idx`` is ``valid_idx`` and ``decide_idx`` None.

    batch_size : int
        Rows per step (``"auto"`` resolved for the training rows).

    pca_init : bool
        ``init`` resolved from the parameters alone: the MLP gets a linear
        path, and the learning rate and batch size their PCA defaults.

    pca_start : bool
        Whether training does start at PCA's solution: ``pca_init`` and a
        code PCA can give (``init="auto"`` starts at random otherwise).

    needs_pca : bool
        Whether the statistics pass sums PCA's cross-products.

    device : str
        The torch device trained on.

    n_components : int or None
        The code's width, None until :meth:`with_components`.
    """

    first_pass: bool
    incremental: bool
    n_samples: int
    n_features: int
    seed: int
    epochs_before: int
    max_epochs: int
    train_idx: np.ndarray | None
    valid_idx: np.ndarray | None
    select_idx: np.ndarray | None
    decide_idx: np.ndarray | None
    batch_size: int
    pca_init: bool
    pca_start: bool
    needs_pca: bool
    device: str
    n_components: int | None = None

    @property
    def n_train(self):
        """Rows trained on."""
        return self.n_samples - self.n_valid

    @property
    def n_valid(self):
        """Rows held out for early stopping (0 without it)."""
        return 0 if self.valid_idx is None else len(self.valid_idx)

    def with_components(self, n_components, params):
        """This plan with the code's width, and whether PCA can start it.

        ``init="pca"`` with a code wider than PCA can give (more components
        than training rows or features) raises; ``"auto"`` then starts at
        random, and all the validation rows choose the epoch. A code wider
        than the input warns (``_pca.warn_overcomplete``).
        """
        limit = min(self.n_train, self.n_features)
        pca_start = self.pca_init and n_components <= limit
        if self.pca_init and not pca_start and params["init"] == "pca":
            raise ValueError(
                f"n_components={n_components} must be between 0 and "
                f"min(n_samples, n_features)={limit} with "
                "init='pca' (counting the training rows only, without the "
                "validation part); use init='random' for a code wider than "
                "that."
            )
        warn_overcomplete(n_components, self.n_features, params)
        split = {} if pca_start else {"select_idx": self.valid_idx, "decide_idx": None}
        return dataclasses.replace(
            self, n_components=int(n_components), pca_start=pca_start, **split
        )


def plan_fit(params, X, seed, *, incremental, first_pass, epochs_before=0, scaler=None):
    """The :class:`FitPlan` of one call, before the data are read.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params(deep=False)``.

    X : ndarray, np.memmap, sparse CSR matrix or LazyRows
        The checked data: their shape, and in data-parallel training a
        fingerprint of them (see ``_distributed.agree_on_seed``).

    seed : int
        The call's seed (the fitted one when continuing a model); in
        data-parallel training, process 0's is used by all.

    incremental : bool
        ``partial_fit``.

    first_pass : bool
        Whether the call builds the model.

    epochs_before : int, default=0
        Epochs already trained.

    scaler : InputScaler or None, default=None
        The fitted scaler when continuing a model, for the fingerprint.

    Returns
    -------
    plan : FitPlan
        With ``n_components`` None (see :meth:`FitPlan.with_components`).
    """
    n_samples, n_features = X.shape
    pca_init = starts_at_pca(params)
    fresh = first_pass and not incremental
    n_valid = n_validation_rows(params, n_samples) if fresh else 0
    batch_size = resolve_batch_size(params, n_samples - n_valid, pca_init=pca_init)
    device = resolve_device(params["device"])
    # The statistics are compared after the statistics pass (_trainer).
    seed = agree_on_seed(
        X,
        seed,
        InputScaler() if scaler is None else scaler,
        batch_size=batch_size,
        n_valid=n_valid,
        device=device,
        verbose=params["verbose"],
    )
    train_idx, valid_idx = validation_split(params, n_samples, seed, n_valid=n_valid)
    select_idx, decide_idx = valid_idx, None
    if pca_init and valid_idx is not None:
        select_idx, decide_idx = decision_split(valid_idx, seed)
    n_components = params["n_components"]
    counted = n_components is not None and not isinstance(n_components, Integral)
    return FitPlan(
        first_pass=first_pass,
        incremental=incremental,
        n_samples=n_samples,
        n_features=n_features,
        seed=seed,
        epochs_before=epochs_before,
        max_epochs=1 if incremental else params["max_iter"],
        train_idx=train_idx,
        valid_idx=valid_idx,
        select_idx=select_idx,
        decide_idx=decide_idx,
        batch_size=batch_size,
        pca_init=pca_init,
        pca_start=False,
        needs_pca=first_pass and (pca_init or counted),
        device=device,
    )
