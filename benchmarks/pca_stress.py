"""PCA stress: is a default ``AutoencoderTransformer(k)`` ever worse than ``PCA(k)``?

``benchmarks/pca_parity.py`` measures one width per data set; this benchmark
tries what a new user would: every width ``k`` from 1 to ``min(d - 1, 6)`` on
small standardised data sets (scikit-learn's iris, wine, breast_cancer
and diabetes, mlxtend's Boston housing and auto MPG), over many random
75% / 25% splits (split and standardised on the training part as in
``pca_parity.load``), with the defaults and
``random_state`` equal to the split's seed. For each fit it measures the ratio
of held-out reconstruction errors, ``MSE(autoencoder) / MSE(PCA)``, and
reports per data set:

- **worse**: the share of fits with a ratio above 1.001 (the promise is none);
- **worst**, **median**: the largest and the median ratio;
- **PCA kept**: the share of fits that kept PCA's solution (``best_epoch_ ==
  0``), i.e. whose ratio is 1 up to float rounding.

It also runs the ``compare`` case of issue #22: ``sklearn_ae.compare`` of
``PCA(2)`` and ``AutoencoderTransformer(2, random_state=0)`` on standardised
wine, whose reconstruction errors it prints.

Usage, from the repository root::

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/pca_stress.py
    python benchmarks/pca_stress.py --quick          # 3 splits, widths 1, 2, 5
    python benchmarks/pca_stress.py --datasets wine --seeds 20

The table is printed as markdown, and each fit is written to ``--csv``
(default ``benchmarks/out/pca_stress.csv``).
"""

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from pca_parity import load  # noqa: E402

DATASETS = ["iris", "wine", "breast_cancer", "diabetes", "boston", "autompg"]
MAX_WIDTH = 6
WORSE = 1.001


def widths(n_features, quick):
    every = range(1, min(n_features - 1, MAX_WIDTH) + 1)
    return [k for k in every if not quick or k in (1, 2, 5)]


def load_split(name, seed):
    """``(X_train, X_test)``, standardised on the training part, float32."""
    if name not in ("boston", "autompg"):
        X_tr, X_te, *_ = load(name, seed)
        return X_tr.astype(np.float32), X_te.astype(np.float32)
    from mlxtend.data import autompg_data, boston_housing_data
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    X, _ = boston_housing_data() if name == "boston" else autompg_data()
    X = X[:, ~np.isnan(X).any(axis=0)]  # autompg: its last column is empty
    X_tr, X_te = train_test_split(X, test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return (
        scaler.transform(X_tr).astype(np.float32),
        scaler.transform(X_te).astype(np.float32),
    )


def mse(X, reducer):
    return float(np.mean((X - reducer.inverse_transform(reducer.transform(X))) ** 2))


def one_fit(name, k, seed):
    from sklearn.decomposition import PCA

    from sklearn_ae import AutoencoderTransformer

    X_tr, X_te = load_split(name, seed)
    pca = PCA(k).fit(X_tr)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ae = AutoencoderTransformer(k, random_state=seed).fit(X_tr)
    seconds = time.perf_counter() - began
    return {
        "dataset": name,
        "k": k,
        "seed": seed,
        "ratio": mse(X_te, ae) / mse(X_te, pca),
        "pca_kept": int(ae.best_epoch_ == 0),
        "fit_s": seconds,
    }


def compare_case():
    """``(AE's MSE, PCA's MSE)`` of issue #22's ``compare`` call on wine."""
    from sklearn.datasets import load_wine
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    import sklearn_ae
    from sklearn_ae import AutoencoderTransformer

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    reducers = {"PCA": PCA(2), "AE": AutoencoderTransformer(2, random_state=0)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sklearn_ae.compare(reducers, X, y, random_state=0)
    column = result["reconstruction_mse"]
    return float(column["AE"]), float(column["PCA"])


def summary(rows):
    ratios = np.array([r["ratio"] for r in rows])
    return {
        "fits": len(ratios),
        "worse": float(np.mean(ratios > WORSE)),
        "worst": float(ratios.max()),
        "median": float(np.median(ratios)),
        "pca_kept": float(np.mean([r["pca_kept"] for r in rows])),
        "fit_s": float(np.mean([r["fit_s"] for r in rows])),
    }


def table(rows, names):
    lines = [
        "| data set | fits | worse than PCA | worst | median | PCA kept | fit (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in [*names, "all"]:
        part = [r for r in rows if name in ("all", r["dataset"])]
        if not part:
            continue
        s = summary(part)
        lines.append(
            f"| {name} | {s['fits']} | {s['worse']:.1%} | {s['worst']:.3f}x | "
            f"{s['median']:.3f}x | {s['pca_kept']:.0%} | {s['fit_s']:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 splits, k in 1, 2, 5")
    parser.add_argument("--seeds", type=int, default=10, help="splits 0..N-1")
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--no-compare", action="store_true", help="skip compare")
    parser.add_argument("--csv", default=str(HERE / "out" / "pca_stress.csv"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    seeds = 3 if args.quick else args.seeds
    rows = []
    for name in args.datasets:
        n_features = load_split(name, 0)[0].shape[1]
        for k in widths(n_features, args.quick):
            for seed in range(seeds):
                row = one_fit(name, k, seed)
                rows.append(row)
                flag = "  WORSE" if row["ratio"] > WORSE else ""
                print(f"{name} k={k} seed={seed}: {row['ratio']:.4f}x{flag}")
    os.makedirs(Path(args.csv).parent, exist_ok=True)
    with open(args.csv, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print()
    print(table(rows, args.datasets))
    if not args.no_compare:
        ae, pca = compare_case()
        print(
            f"\ncompare on standardised wine, k=2: AE {ae:.3f} vs PCA {pca:.3f} "
            f"({ae / pca:.3f}x)"
        )


if __name__ == "__main__":
    main()
