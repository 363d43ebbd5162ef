"""Missing values: imputation and reduction of data with holes.

Cells are removed from scikit-learn's bundled data sets (iris, wine,
breast_cancer, diabetes, digits; linnerud's 20 rows are too few to split)
completely at random (10, 20 and 40% of the cells) and not at random (in
every column, two thirds of the cells above the column's 85th percentile:
the largest values go missing, about 10% of the cells). Each feature is
standardised by the mean and standard deviation of its observed values
(``StandardScaler`` ignores NaN), and errors are in those units.

- **Imputation**: the RMSE on the removed cells of ``AutoencoderImputer``
  (defaults) against ``SimpleImputer`` (mean), ``KNNImputer`` and
  ``IterativeImputer`` (defaults, ``max_iter=10``).
- **Reduction**: the MSE on the observed cells of the reconstructions of an
  ``AutoencoderTransformer(2)`` fitted on the data with NaN, against
  ``SimpleImputer`` + ``PCA(2)``.
- The fit times, in CPU seconds of the one thread.

Run it on one thread (the numbers in docs/user_guide/missing_values.md come
from this command)::

    OMP_NUM_THREADS=1 python benchmarks/missing_values.py

``--quick`` runs iris and wine only.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn import datasets
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ae import AutoencoderImputer, AutoencoderTransformer

DATA = ["iris", "wine", "breast_cancer", "diabetes", "digits"]
PATTERNS = ["MCAR 10%", "MCAR 20%", "MCAR 40%", "MNAR top"]


def remove(X, pattern, rng):
    """The boolean mask of the cells to remove; every row keeps one cell."""
    if pattern.startswith("MCAR"):
        share = int(pattern.split()[1].rstrip("%")) / 100
        holes = rng.random(X.shape) < share
    else:
        top = X > np.percentile(X, 85, axis=0)
        holes = top & (rng.random(X.shape) < 2 / 3)
    for i in np.flatnonzero(holes.all(axis=1)):
        holes[i, rng.integers(X.shape[1])] = False
    return holes


def timed(fit):
    """``fit()`` and the CPU seconds it took: on one thread, the time on one
    core, which other jobs on a shared machine do not inflate as much as
    the wall-clock time."""
    start = time.process_time()
    out = fit()
    return out, time.process_time() - start


def run(name, pattern, seed=0):
    X = getattr(datasets, f"load_{name}")().data.astype(np.float64)
    holes = remove(X, pattern, np.random.default_rng(seed))
    X_nan = np.where(holes, np.nan, X)
    scaler = StandardScaler().fit(X_nan)
    X, X_nan = scaler.transform(X), scaler.transform(X_nan)
    row = {"data": name, "pattern": pattern, "shape": X.shape}
    row["missing"] = holes.mean()
    imputers = {
        "mean": SimpleImputer(),
        "knn": KNNImputer(),
        "iterative": IterativeImputer(max_iter=10, random_state=seed),
        "autoencoder": AutoencoderImputer(random_state=seed),
    }
    for label, imputer in imputers.items():
        filled, seconds = timed(lambda imputer=imputer: imputer.fit_transform(X_nan))
        row[f"rmse_{label}"] = float(np.sqrt(np.mean((filled - X)[holes] ** 2)))
        row[f"time_{label}"] = seconds
    observed = ~holes
    ae, seconds = timed(lambda: AutoencoderTransformer(2, random_state=seed).fit(X_nan))
    rec = ae.inverse_transform(ae.transform(X_nan))
    row["rec_ae"] = float(np.mean((rec - X_nan)[observed] ** 2))
    row["time_ae"] = seconds
    pipe, seconds = timed(lambda: make_pipeline(SimpleImputer(), PCA(2)).fit(X_nan))
    rec = pipe[-1].inverse_transform(pipe.transform(X_nan))
    row["rec_pca"] = float(np.mean((rec - X_nan)[observed] ** 2))
    row["time_pca"] = seconds
    return row


def table(rows):
    head = (
        "| data | removed | mean | KNN | iterative | autoencoder | "
        "AE / best rival | AE(2) rec. | imputer+PCA(2) rec. | "
        "fit (CPU s): AE imputer, iterative, AE(2) |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        best = min(r["rmse_knn"], r["rmse_iterative"])
        lines.append(
            f"| {r['data']} | {r['pattern']} ({r['missing']:.0%}) "
            f"| {r['rmse_mean']:.3f} | {r['rmse_knn']:.3f} "
            f"| {r['rmse_iterative']:.3f} | {r['rmse_autoencoder']:.3f} "
            f"| {r['rmse_autoencoder'] / best:.2f} "
            f"| {r['rec_ae']:.4f} | {r['rec_pca']:.4f} "
            f"| {r['time_autoencoder']:.1f}, {r['time_iterative']:.1f}, "
            f"{r['time_ae']:.1f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    rows = []
    for name in DATA[:2] if args.quick else DATA:
        for pattern in PATTERNS:
            rows.append(run(name, pattern))
            r = rows[-1]
            print(
                f"{name:14s} {pattern:9s} mean {r['rmse_mean']:.3f} "
                f"knn {r['rmse_knn']:.3f} iter {r['rmse_iterative']:.3f} "
                f"ae {r['rmse_autoencoder']:.3f} ({r['time_autoencoder']:.1f} s) "
                f"rec ae {r['rec_ae']:.4f} pca {r['rec_pca']:.4f}",
                flush=True,
            )
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
