"""The :func:`compare` function and its result's :class:`ComparisonDetails`."""

import numbers
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._engine._progress import _is_terminal

METRICS = (
    "reconstruction",
    "trustworthiness",
    "continuity",
    "knn",
    "linear_probe",
    "view_trustworthiness",
)
"""The metrics :func:`compare` can compute; ``metrics=None`` computes all that apply.

``"knn"`` and ``"linear_probe"`` need ``y``; ``"view_trustworthiness"`` needs
a 2-D view (``view`` not None).
"""

_TASKS = ("classification", "regression")
_TEXT = ("view", "note", "error")
_SPREAD = "_std"
"""Suffix of the spread columns of a repeated comparison (``trustworthiness_std``)."""


@dataclass(frozen=True, eq=False)
class ComparisonDetails:
    """What :func:`compare` fitted and computed, beside the table.

    Found in ``result.attrs["details"]``. With ``repeats > 1`` the fitted
    reducers, codes, views, reconstructions, split and preprocessor are
    those of the first split, and ``runs`` holds every split's values. It
    is shared, not copied, by the
    DataFrames that pandas derives from ``result`` (pandas deep-copies
    ``attrs`` on most operations; fitted models and embeddings need not be):
    treat it as read-only.

    Attributes
    ----------
    estimators : dict
        Reducer name -> the fitted clone of the reducer (None when its fit
        failed). A reducer without ``transform`` (t-SNE) is fitted on the
        held-out rows.

    codes : dict
        Reducer name -> ndarray of shape (n_test, n_components): the codes of
        the held-out rows (None when the reducer failed first).

    views : dict
        Reducer name -> ndarray of shape (n_test, 2): the 2-D view of the
        held-out rows (the codes themselves for 2 components, ``view`` of the
        codes for more), or None.

    reconstructions : dict
        Reducer name -> ndarray of shape (n_test, n_features):
        ``inverse_transform`` of the held-out codes, in the space the
        reducers were fitted in, or None.

    train_index, test_index : ndarray of int
        Positions of the training and held-out rows in ``X``.

    preprocessor : fitted transformer or None
        The ``preprocessor`` fitted on the training rows, if one was given.

    task : {"classification", "regression"} or None
        How ``y`` was scored (None without ``y``).

    n_neighbors : int
        Neighbours of the kNN scores, trustworthiness and continuity.

    random_state : int or None
        The seed given to the split, the views and every reducer whose own
        ``random_state`` was None.

    repeats : int
        Number of training/held-out splits measured.

    runs : pandas.DataFrame
        The values of every split, one row per reducer and split (index
        ``(reducer, split)``, splits counted from 0), with the columns of a
        single comparison: what the mean and spread of ``result`` summarise.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_ae import compare
    >>> X, y = load_wine(return_X_y=True)
    >>> details = compare({"PCA": PCA(3)}, scale(X), y, random_state=0).attrs[
    ...     "details"
    ... ]
    >>> details
    ComparisonDetails(reducers=['PCA'], n_train=142, n_test=36, task='classification')
    >>> details.estimators["PCA"].n_components_, details.codes["PCA"].shape
    (3, (36, 3))
    >>> details.views["PCA"].shape  # t-SNE of the 3-D codes
    (36, 2)
    """

    estimators: dict
    codes: dict
    views: dict
    reconstructions: dict
    train_index: np.ndarray
    test_index: np.ndarray
    preprocessor: object
    task: str | None
    n_neighbors: int
    random_state: int | None
    repeats: int = 1
    runs: object = None

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        repeats = f", repeats={self.repeats}" if self.repeats > 1 else ""
        return (
            f"ComparisonDetails(reducers={list(self.estimators)}, "
            f"n_train={len(self.train_index)}, n_test={len(self.test_index)}, "
            f"task={self.task!r}{repeats})"
        )


# -- input checks ------------------------------------------------------------


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _split_target(X, y):
    """Resolve ``y`` given as a column name of the DataFrame ``X``."""
    if not isinstance(y, str):
        return X, y
    columns = getattr(X, "columns", None)
    if columns is None:
        raise ValueError(
            f"y={y!r} names a target column, but X is not a DataFrame; pass "
            "y as an array."
        )
    if y not in columns:
        raise ValueError(
            f"Target column {y!r} is not in X; its columns are: "
            f"{', '.join(map(str, columns))}."
        )
    return X.drop(columns=y), X[y]


def _check_numeric(X):
    """Numeric 2-D data for the metrics, with a clear message otherwise."""
    from sklearn.utils import check_array

    columns = getattr(X, "columns", None)
    if columns is not None:
        numeric = X.select_dtypes(include=["number", "bool"]).columns
        if len(numeric) == 0:
            raise ValueError(
                "X has no numeric column (its columns: "
                f"{', '.join(map(str, columns))}); compare needs numbers. "
                "Encode the columns first, e.g. with preprocessor="
                "ColumnTransformer([..., OneHotEncoder(), ...])."
            )
        other = [str(c) for c in columns if c not in numeric]
        if other:
            raise ValueError(
                f"X has non-numeric columns ({', '.join(other)}): drop them or "
                "pass preprocessor= (e.g. a ColumnTransformer with a "
                "OneHotEncoder), which compare fits on the training rows."
            )
    elif not sp.issparse(X):
        kind = np.asarray(X).dtype.kind
        if kind not in "biuf":
            raise ValueError(
                f"X must be numeric, got an array of dtype "
                f"{np.asarray(X).dtype}; encode it first or pass preprocessor=."
            )
    return check_array(
        X, accept_sparse="csr", dtype=(np.float64, np.float32), ensure_min_samples=4
    )


def _task_of(y, task):
    from sklearn.utils.multiclass import type_of_target

    if task not in ("auto", *_TASKS):
        raise ValueError(
            f"task must be 'auto', 'classification' or 'regression', got {task!r}."
        )
    if task != "auto":
        return task
    kind = type_of_target(y)
    if kind in ("binary", "multiclass"):
        return "classification"
    if kind == "continuous":
        return "regression"
    raise ValueError(
        f"y must be one column of class labels or of numbers; "
        f"sklearn.utils.multiclass.type_of_target(y) is {kind!r}."
    )


def _check_target(y, n_samples):
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}.")
    if len(y) != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {len(y)}.")
    import pandas as pd

    missing = pd.isna(y)  # NaN, None, pd.NA
    if missing.any():
        raise ValueError(
            f"y has {int(missing.sum())} missing values; drop those rows first."
        )
    return y


def _check_reducers(reducers):
    if not isinstance(reducers, Mapping):
        raise TypeError(
            "reducers must be a dict name -> estimator, e.g. "
            f"{{'PCA': PCA(2)}}; got {type(reducers).__name__}."
        )
    if not reducers:
        raise ValueError(
            "reducers is empty: pass a dict name -> estimator, e.g. "
            "{'PCA': PCA(2), 'AE': AutoencoderTransformer(2)}."
        )
    for name, reducer in reducers.items():
        if not (hasattr(reducer, "fit") and hasattr(reducer, "get_params")):
            raise TypeError(
                f"reducers[{name!r}] is not a scikit-learn estimator: {reducer!r}."
            )
        if not (hasattr(reducer, "transform") or hasattr(reducer, "fit_transform")):
            raise TypeError(
                f"reducers[{name!r}] has neither transform nor fit_transform."
            )


def _check_metrics(metrics, has_y, has_view):
    if metrics is None:
        return tuple(
            m
            for m in METRICS
            if (has_y or m not in ("knn", "linear_probe"))
            and (has_view or m != "view_trustworthiness")
        )
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metrics {unknown}; choose from {METRICS}.")
    if not has_y and {"knn", "linear_probe"} & set(metrics):
        raise ValueError("The 'knn' and 'linear_probe' metrics need y.")
    if not has_view and "view_trustworthiness" in metrics:
        raise ValueError("The 'view_trustworthiness' metric needs a view.")
    return metrics


def _check_test_size(test_size, n_samples):
    """``test_size`` as train_test_split takes it, with a clear message."""
    is_int = isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool)
    is_fraction = (
        isinstance(test_size, numbers.Real)
        and not is_int
        and not isinstance(test_size, bool)
        and 0.0 < test_size < 1.0  # False for NaN
    )
    if not (is_fraction or (is_int and 1 <= test_size < n_samples)):
        raise ValueError(
            "test_size must be a float in the range (0.0, 1.0) or an int in "
            f"the range [1, n_samples={n_samples}), got {test_size!r}."
        )


def _check_count(value, name, minimum=1):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(
            f"{name} must be an int in the range [{minimum}, inf), got {value!r}."
        )


def _workers(n_jobs, n_tasks):
    """Processes for ``n_tasks`` fits: ``n_jobs``, capped at the tasks and CPUs."""
    import joblib

    if n_jobs is None:
        return 1
    if (
        not isinstance(n_jobs, numbers.Integral)
        or isinstance(n_jobs, bool)
        or (n_jobs == 0)
    ):
        raise ValueError(
            f"n_jobs must be None, a positive int or a negative int (-1: all "
            f"CPUs), got {n_jobs!r}."
        )
    wanted = joblib.effective_n_jobs(int(n_jobs))
    return max(1, min(wanted, n_tasks, joblib.cpu_count()))


def _seed_of(random_state):
    """An int seed (or None) from ``random_state``, drawn once."""
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return None if random_state is None else int(random_state)
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _seeded(estimator, seed):
    """A clone whose unset ``random_state`` parameters, nested ones too, are seed."""
    from sklearn.base import clone

    estimator = clone(estimator)
    if seed is not None:
        unset = {
            key: seed
            for key, value in estimator.get_params(deep=True).items()
            if (key == "random_state" or key.endswith("__random_state"))
            and value is None
        }
        estimator.set_params(**unset)
    return estimator


def _column_names(metrics, task, kept_pca=False):
    task_suffix = "accuracy" if task == "classification" else "r2"
    names = {
        "reconstruction": ["reconstruction_mse"],
        "trustworthiness": ["trustworthiness"],
        "continuity": ["continuity"],
        "knn": [f"knn_{task_suffix}"],
        "linear_probe": [f"probe_{task_suffix}"],
        "view_trustworthiness": ["view", "view_trustworthiness"],
    }
    columns = ["n_components", *(["kept_pca"] if kept_pca else [])]
    for metric in METRICS:  # a fixed order, whatever order metrics came in
        if metric in metrics:
            columns += names[metric]
    return [*columns, "fit_time", "transform_time", "note", "error"]


def _format_value(column, value):
    """How a table cell or a bar's label shows ``value`` of ``column``."""
    if isinstance(value, str):
        return value
    if value is None or not np.isfinite(value):
        return "-"
    if column == "n_components":
        return str(int(value))
    if column.endswith("_time"):
        return f"{value:.2f}"
    if column == "reconstruction_mse":
        return f"{value:.4g}"
    return f"{value:.3f}"


# -- one reducer -------------------------------------------------------------


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _supervised_scores(Z_train, y_train, Z_test, y_test, metrics, task, n_neighbors):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classify = task == "classification"
    suffix = "accuracy" if classify else "r2"
    scores = {}
    if "knn" in metrics:
        knn = (KNeighborsClassifier if classify else KNeighborsRegressor)(
            n_neighbors=n_neighbors
        )
        scores[f"knn_{suffix}"] = knn.fit(Z_train, y_train).score(Z_test, y_test)
    if "linear_probe" in metrics:
        linear = LogisticRegression(max_iter=1000) if classify else Ridge(alpha=1.0)
        probe = make_pipeline(StandardScaler(), linear).fit(Z_train, y_train)
        scores[f"probe_{suffix}"] = probe.score(Z_test, y_test)
    return scores


def _make_view(view, Z, seed):
    from sklearn.manifold import TSNE

    if isinstance(view, str):  # "tsne", checked by compare
        perplexity = min(30.0, (len(Z) - 1) / 3)
        estimator = TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed
        )
        name = "t-SNE"
    else:
        estimator, name = _seeded(view, seed), type(view).__name__
    return np.asarray(estimator.fit_transform(Z), dtype=np.float64), f"{name} of codes"


_INVERSE_LIMITS = {"UMAP": 4}
"""Class name -> most components for which ``inverse_transform`` is called.

umap's ``inverse_transform`` triangulates the training codes (a Delaunay
complex), whose size grows exponentially with the dimension: measured on 455
points, 0.07 s in 4-D, 0.6 s in 5-D, 5 s in 6-D; in 8-D it ran for minutes
and took 5 GB before it was stopped.
"""


def _costly_inverse(estimator, n_components):
    """Why ``inverse_transform`` is skipped, or ``""``."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    name = type(final).__name__
    limit = _INVERSE_LIMITS.get(name)
    if limit is not None and n_components > limit:
        return (
            f"{name}.inverse_transform skipped above {limit} components "
            "(its cost grows exponentially with them)"
        )
    return ""


def _evaluate(reducer, X_train, X_test, y_train, y_test, settings):
    """Fit one reducer and measure it; returns ``(row, artefacts)``.

    An exception is caught and reported in ``row["error"]``, keeping what was
    measured before it.
    """
    from sklearn.manifold import trustworthiness

    metrics, task, n_neighbors = (
        settings["metrics"],
        settings["task"],
        settings["n_neighbors"],
    )
    seed = settings["seed"]
    row = {"note": "", "error": ""}
    notes = []
    found = {
        "estimator": None,
        "codes": None,
        "view": None,
        "reconstruction": None,
    }
    try:
        estimator = _seeded(reducer, seed)
        inductive = hasattr(estimator, "transform")
        with warnings.catch_warnings():
            # Isomap completes a disconnected neighbour graph by editing a CSR
            # matrix in place: scipy says so once per edit, dozens of lines.
            warnings.simplefilter("ignore", sp.SparseEfficiencyWarning)
            start = time.perf_counter()
            if inductive:
                estimator.fit(X_train)
                row["fit_time"] = time.perf_counter() - start
                start = time.perf_counter()
                Z = estimator.transform(X_test)
                row["transform_time"] = time.perf_counter() - start
            else:
                Z = estimator.fit_transform(X_test)
                row["fit_time"] = time.perf_counter() - start
                notes.append(
                    "no transform: fitted on the held-out rows (fit_transform), "
                    "so no kNN, probe or reconstruction score"
                )
        found["estimator"] = estimator
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        best_epoch = getattr(final, "best_epoch_", None)
        if best_epoch is not None:  # an autoencoder: 0 when it kept PCA's solution
            row["kept_pca"] = float(best_epoch == 0)
        Z = np.asarray(_dense(Z), dtype=np.float64)
        if Z.ndim != 2 or not np.isfinite(Z).all():
            raise ValueError(
                f"the codes must be a finite 2-D array; got shape {Z.shape}"
                + ("" if Z.ndim != 2 else " with NaN or infinite values")
            )
        found["codes"] = Z
        row["n_components"] = Z.shape[1]
        A_test = _dense(X_test).astype(np.float64, copy=False)

        if "reconstruction" in metrics and inductive:
            too_costly = _costly_inverse(estimator, Z.shape[1])
            if too_costly:
                notes.append(too_costly)
            elif hasattr(estimator, "inverse_transform"):
                try:
                    X_hat = _dense(estimator.inverse_transform(Z))
                except Exception as exc:  # e.g. KernelPCA(fit_inverse_transform=False)
                    notes.append(f"no inverse_transform ({exc})")
                else:
                    found["reconstruction"] = X_hat
                    row["reconstruction_mse"] = float(np.mean((A_test - X_hat) ** 2))
            else:
                notes.append("no inverse_transform")
        if "trustworthiness" in metrics:
            row["trustworthiness"] = float(
                trustworthiness(A_test, Z, n_neighbors=n_neighbors)
            )
        if "continuity" in metrics:
            row["continuity"] = float(
                trustworthiness(Z, A_test, n_neighbors=n_neighbors)
            )
        if inductive and {"knn", "linear_probe"} & set(metrics):
            Z_train = np.asarray(_dense(estimator.transform(X_train)))
            row.update(
                _supervised_scores(
                    Z_train, y_train, Z, y_test, metrics, task, n_neighbors
                )
            )
        if settings["view"] is not None:
            if Z.shape[1] == 2:
                found["view"], row["view"] = Z, "codes"
            elif Z.shape[1] > 2:
                found["view"], row["view"] = _make_view(settings["view"], Z, seed)
            else:
                row["view"] = ""
                notes.append("1 component: no 2-D view")
            if found["view"] is not None and "view_trustworthiness" in metrics:
                row["view_trustworthiness"] = float(
                    trustworthiness(A_test, found["view"], n_neighbors=n_neighbors)
                )
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    row["note"] = "; ".join(notes)
    return row, found


# -- the function ------------------------------------------------------------


def _splits(n_samples, y, task, test_size, repeats, seed):
    """``repeats`` (train, test) index pairs; the first is train_test_split's."""
    from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

    rows = np.zeros((n_samples, 1))
    if task == "classification" and np.unique(y, return_counts=True)[1].min() >= 2:
        stratified = StratifiedShuffleSplit(
            repeats, test_size=test_size, random_state=seed
        )
        try:
            return list(stratified.split(rows, y))
        except ValueError:  # fewer held-out rows than classes: not stratified
            pass
    shuffled = ShuffleSplit(repeats, test_size=test_size, random_state=seed)
    return list(shuffled.split(rows))


def _summarise(runs, names, columns, repeats):
    """One row per reducer: the split's values, or their means and spreads."""
    import pandas as pd

    if repeats == 1:
        return runs.droplevel("split")
    records = []
    for name in names:
        part = runs.loc[name]
        record = {}
        for column in columns:
            if column in _TEXT:
                texts = [text for text in part[column] if text]
                if column == "error" and texts:
                    record[column] = f"{texts[0]} (in {len(texts)} of {repeats} splits)"
                else:  # the same view and notes in every split, as a rule
                    record[column] = "; ".join(dict.fromkeys(texts))
                continue
            values = part[column].astype(float)
            record[column] = values.mean()  # of the splits that have a value
            if column not in ("n_components", "kept_pca"):
                record[column + _SPREAD] = values.std(ddof=1)
        records.append(record)
    return pd.DataFrame.from_records(records, index=pd.Index(names, name="reducer"))


class _Progress:
    """What ``verbose=1`` shows: the estimator's policy (``_engine._progress``).

    ``verbose=1``: a tqdm bar when standard error is a terminal, one plain
    line per finished fit otherwise, so that a log file or a pipe holds no
    redraws; ``verbose=2``: one line per fit everywhere.
    """

    def __init__(self, total, verbose):
        self.total, self.done, self.bar = total, 0, None
        self.active = bool(verbose)
        if verbose == 1 and _is_terminal(sys.stderr):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc="compare", unit="fit", file=sys.stderr)

    def update(self, label, row):
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(label, refresh=False)
            self.bar.update()
        elif self.active:
            seconds = row.get("fit_time", np.nan)
            status = "failed" if row["error"] else f"fitted in {seconds:.2f} s"
            print(
                f"compare: {self.done}/{self.total} {label} {status}",
                file=sys.stderr,
                flush=True,
            )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def compare(
    reducers,
    X,
    y=None,
    *,
    test_size=0.2,
    repeats=1,
    metrics=None,
    n_neighbors=5,
    task="auto",
    preprocessor=None,
    view="tsne",
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """Fit dimension reducers on the same rows and measure them on held-out rows.

    ``X`` is split into training and held-out rows (stratified by ``y`` for
    classification), once or ``repeats`` times. Each reducer is cloned,
    fitted on the training rows and measured on the held-out rows, in the
    space it was fitted in (``X``, or ``preprocessor``'s output: scale your
    features first, or pass a preprocessor, since every metric depends on
    distances or squared errors).
    A reducer without ``transform`` (:class:`~sklearn.manifold.TSNE`) is
    fitted on the held-out rows with ``fit_transform`` instead and gets only
    the metrics of its embedding. A reducer that raises is reported in the
    ``error`` column with a warning; the others' results are kept.

    Parameters
    ----------
    reducers : dict
        Name -> unfitted scikit-learn estimator with ``transform`` or
        ``fit_transform``: PCA, TruncatedSVD, KernelPCA (with
        ``fit_inverse_transform=True`` for a reconstruction error), Isomap,
        umap's UMAP, TSNE, :class:`~sklearn_ae.AutoencoderTransformer`, a
        Pipeline ending in one of them, ... The names are the rows of the
        result.

    X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
        The data. Without ``preprocessor`` it must be numeric.

    y : array-like of shape (n_samples,) or str, default=None
        Labels (classification) or numbers (regression) for the kNN and
        linear-probe scores; a str names a column of the DataFrame ``X``,
        which is then left out of the features. None: no supervised scores.

    test_size : float or int, default=0.2
        Held-out fraction (float) or number of rows (int), as in
        :func:`~sklearn.model_selection.train_test_split`.

    repeats : int, default=1
        Number of random training/held-out splits
        (:class:`~sklearn.model_selection.StratifiedShuffleSplit` for
        classification, else :class:`~sklearn.model_selection.ShuffleSplit`;
        the first split is ``train_test_split``'s). Every reducer is fitted
        and measured on each; the result holds the mean of each value and
        its standard deviation over the splits (``ddof=1``) in a column
        named with ``_std``. On a few dozen held-out rows a difference of a
        few hundredths is a row or two: repeat to see whether it holds.

    metrics : iterable of str, default=None
        Subset of :data:`METRICS`; None computes every metric that applies
        (no ``"knn"`` or ``"linear_probe"`` without ``y``).

    n_neighbors : int, default=5
        Neighbours of the kNN scores, trustworthiness and continuity. The
        held-out part needs more than ``2 * n_neighbors`` rows.

    task : {"auto", "classification", "regression"}, default="auto"
        How ``y`` is scored. ``"auto"`` asks
        :func:`~sklearn.utils.multiclass.type_of_target`: ``"binary"`` and
        ``"multiclass"`` (strings, integers, integral floats) are
        classification, ``"continuous"`` (other floats) regression. Pass
        ``"regression"`` for an integer target such as a count.

    preprocessor : transformer, default=None
        Fitted on the training rows (clone) and applied to all rows before
        the reducers, e.g. a ColumnTransformer that scales numeric columns
        and one-hot encodes categorical ones. Its output is the space
        where every metric is measured.

    view : "tsne", estimator or None, default="tsne"
        How codes with more than 2 components are drawn in 2-D (the Keras
        article's advice: compress, then t-SNE): ``"tsne"`` is
        :class:`~sklearn.manifold.TSNE` with ``init="pca"`` and a
        perplexity of at most 30; an estimator with ``fit_transform`` (e.g.
        UMAP) is cloned and used instead; None draws nothing. 2-component
        codes are their own view; 1-component codes get none.

    random_state : int, RandomState instance or None, default=None
        Seeds the split, the views and every reducer whose ``random_state``
        parameter (nested ones included, e.g. ``pca__random_state`` in a
        Pipeline) is None; an int makes the metrics reproducible. Reducers
        whose ``random_state`` is set keep it.

    n_jobs : int, default=None
        Fits run in parallel (:class:`joblib.Parallel`); None means 1, -1
        all CPUs. Never more than the fits to run (reducers times repeats)
        or the CPUs. Parallel fits share the CPUs, so their times are not
        comparable to a sequential run.

    verbose : int, default=0
        1 reports each finished fit on standard error: a progress bar
        (tqdm) on a terminal, one plain line per fit otherwise (a log file
        or a pipe gets no redraws), as the estimator's ``verbose`` does; 2
        prints the lines on a terminal too.

    Returns
    -------
    result : pandas.DataFrame
        One row per reducer (index ``reducer``), with the columns (NaN where
        a metric does not apply; see :data:`METRICS`):

        - ``n_components``: columns of the codes.
        - ``kept_pca`` (only when a reducer is an autoencoder, alone or at
          the end of a Pipeline): 1.0 when it kept PCA's solution
          (``best_epoch_ == 0``: no trained network beat it significantly),
          0.0 when it trained a network, NaN for other reducers; with
          ``repeats``, the fraction of the splits in which it kept it.
        - ``reconstruction_mse``: mean over held-out rows and features of
          ``(X - inverse_transform(transform(X))) ** 2`` (not computed for a
          UMAP with more than 4 components, whose ``inverse_transform`` cost
          explodes with the dimension).
        - ``trustworthiness``: :func:`~sklearn.manifold.trustworthiness` of
          the held-out codes against the held-out rows (are the codes'
          neighbours true neighbours?); ``continuity``: the same with the
          roles swapped (are the true neighbours kept?). 1 is perfect.
        - ``knn_accuracy`` or ``knn_r2``: score of a k-nearest-neighbours
          classifier or regressor fitted on the training codes, on the
          held-out codes; ``probe_accuracy`` or ``probe_r2``: the same for a
          linear probe, ``StandardScaler`` then ``LogisticRegression`` or
          ``Ridge(alpha=1)``.
        - ``view``: how the 2-D view was made (``"codes"``, ``"t-SNE of
          codes"``); ``view_trustworthiness``: trustworthiness of the view.
        - ``fit_time``: seconds of ``fit`` on the training rows (of
          ``fit_transform`` on the held-out rows for a reducer without
          ``transform``); ``transform_time``: seconds of ``transform`` on the
          held-out rows.
        - ``note``: why a metric is missing; ``error``: the exception that
          stopped a reducer (values measured before it are kept).

        With ``repeats > 1`` each number is the mean over the splits (those
        in which the reducer did not fail), and every column but
        ``n_components`` and ``kept_pca`` has a ``_std`` companion right
        after it, e.g. ``trustworthiness_std``.

        ``result.attrs["details"]`` is a :class:`ComparisonDetails` with the
        fitted reducers, held-out codes, 2-D views, reconstructions and the
        split, for :func:`~sklearn_ae.plotting.plot_comparison`.

    See Also
    --------
    sklearn_ae.plotting.plot_comparison : Draw the views, metrics and
        reconstructions.
    sklearn.manifold.trustworthiness : The neighbourhood score used here.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.manifold import Isomap
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_ae import compare
    >>> X, y = load_wine(return_X_y=True)
    >>> result = compare(
    ...     {"PCA": PCA(2), "Isomap": Isomap(n_components=2)},
    ...     scale(X), y, random_state=0,
    ... )
    >>> result[["trustworthiness", "continuity", "knn_accuracy"]].round(3)
    ... # doctest: +NORMALIZE_WHITESPACE
             trustworthiness  continuity  knn_accuracy
    reducer
    PCA                 0.93       0.962         0.972
    Isomap              0.92       0.938         0.972
    >>> result.attrs["details"].views["PCA"].shape
    (36, 2)
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sklearn_ae.compare needs pandas: pip install pandas"
        ) from exc
    _check_reducers(reducers)
    X, y = _split_target(X, y)
    if preprocessor is None:
        X = _check_numeric(X)
    n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_samples < 4:
        raise ValueError(
            f"Found {n_samples} sample(s) while a minimum of 4 is required: "
            "compare needs rows to fit on and held-out rows to measure."
        )
    _check_test_size(test_size, n_samples)
    _check_count(repeats, "repeats")
    _check_count(n_neighbors, "n_neighbors")
    if y is not None:
        y = _check_target(y, n_samples)
        task = _task_of(y, task)
    else:
        task = None
    if view is not None and not (view == "tsne" or hasattr(view, "fit_transform")):
        raise ValueError(f"view must be 'tsne', an estimator or None, got {view!r}.")
    metrics = _check_metrics(metrics, y is not None, view is not None)
    seed = _seed_of(random_state)
    splits = _splits(n_samples, y, task, test_size, repeats, seed)
    n_test = len(splits[0][1])
    neighbour_metrics = {"trustworthiness", "continuity", "view_trustworthiness"}
    if neighbour_metrics & set(metrics) and n_test <= 2 * n_neighbors:
        raise ValueError(
            f"The held-out part has {n_test} rows; trustworthiness and "
            f"continuity need more than 2 * n_neighbors = {2 * n_neighbors}. "
            "Raise test_size or lower n_neighbors."
        )

    settings = {
        "metrics": metrics,
        "task": task,
        "n_neighbors": n_neighbors,
        "view": view,
        "seed": seed,
    }
    names = list(reducers)
    preprocessors = []  # the one fitted on each split

    def jobs():
        # One split's rows at a time: repeats do not hold repeats copies of X.
        for train_index, test_index in splits:
            X_train, X_test = _rows(X, train_index), _rows(X, test_index)
            fitted = None
            if preprocessor is not None:
                fitted = _seeded(preprocessor, seed).fit(X_train)
                X_train = _check_numeric(fitted.transform(X_train))
                X_test = _check_numeric(fitted.transform(X_test))
            preprocessors.append(fitted)
            y_train = y_test = None
            if y is not None:
                y_train, y_test = y[train_index], y[test_index]
            for name in names:
                yield (reducers[name], X_train, X_test, y_train, y_test, settings)

    labels = [
        name if repeats == 1 else f"{name}, split {split + 1}/{repeats}"
        for split in range(repeats)
        for name in names
    ]
    progress = _Progress(len(labels), verbose)
    workers = _workers(n_jobs, len(labels))
    if workers == 1:
        outcomes = (_evaluate(*job) for job in jobs())
    else:
        from joblib import Parallel, delayed

        outcomes = Parallel(n_jobs=workers, return_as="generator")(
            delayed(_evaluate)(*job) for job in jobs()
        )
    rows, found = [], {}
    try:
        for label, (row, artefacts) in zip(labels, outcomes, strict=True):
            progress.update(label, row)
            rows.append(row)
            if len(found) < len(names):  # the first split's artefacts
                found[names[len(found)]] = artefacts
    finally:
        progress.close()

    kept_pca = any("kept_pca" in row for row in rows)
    columns = _column_names(metrics, task, kept_pca)
    runs = pd.DataFrame.from_records(
        [
            {
                column: row.get(column, "" if column in _TEXT else np.nan)
                for column in columns
            }
            for row in rows
        ],
        index=pd.MultiIndex.from_tuples(
            [(name, split) for split in range(repeats) for name in names],
            names=["reducer", "split"],
        ),
    ).reindex(
        pd.MultiIndex.from_product([names, range(repeats)], names=["reducer", "split"])
    )
    result = _summarise(runs, names, columns, repeats)
    for name in names:
        if result.loc[name, "error"]:
            warnings.warn(
                f"Reducer {name!r} failed, its row is incomplete: "
                f"{result.loc[name, 'error']}",
                UserWarning,
                stacklevel=2,
            )
    train_index, test_index = splits[0]
    result.attrs["details"] = ComparisonDetails(
        estimators={name: item["estimator"] for name, item in found.items()},
        codes={name: item["codes"] for name, item in found.items()},
        views={name: item["view"] for name, item in found.items()},
        reconstructions={name: item["reconstruction"] for name, item in found.items()},
        train_index=train_index,
        test_index=test_index,
        preprocessor=preprocessors[0],
        task=task,
        n_neighbors=n_neighbors,
        random_state=seed,
        repeats=repeats,
        runs=runs,
    )
    return result
