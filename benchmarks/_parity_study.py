"""Throwaway driver of the issue #11 study: runs prototype variants through
``pca_parity.py``'s measurements and summarises them (see pca_parity.md).

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/_parity_study.py \\
        EXPERIMENT [--seeds 5] [--datasets iris wine ...]
    python benchmarks/_parity_study.py summary benchmarks/out/study_EXPERIMENT.csv

Each experiment is a list of (label, settings) for ``ParityAutoencoder``;
rows are appended to ``benchmarks/out/study_EXPERIMENT.csv`` as they come.
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import _parity_prototype as proto  # noqa: E402
import pca_parity  # noqa: E402

SMALL = ["iris", "wine", "breast_cancer", "diabetes", "linnerud", "digits"]
MANIFOLDS = ["swiss_roll", "s_curve"]

TODAY = {
    "init": "random",
    "skip": False,
    "batch_size": 64,
    "max_iter": 50,
    "early_stopping": False,
    "n_iter_no_change": 10,
    "code_scale": "module",
}

EXPERIMENTS = {
    # b. init: the PCA start and its variants, everything else the candidate's
    "init": [
        ("random, no skip", {"init": "random", "skip": False}),
        ("random, skip", {"init": "random", "skip": True}),
        ("pca, no candidate", {"pca_candidate": False, "pca_rows": "all"}),
        ("pca, candidate, rows=all", {"pca_rows": "all"}),
        ("pca, candidate, rows=train", {"pca_rows": "train"}),
        ("pca, candidate, rows=refit", {"pca_rows": "refit"}),
        ("pca, train loss", {"early_stopping": False, "pca_rows": "all"}),
    ],
    # b2. guarding the PCA start, linear codes, faster steps. NB: this run's
    # CSV (study_design.csv) was made when pca_test was a z threshold (keep
    # the network if the paired mean gain > z standard errors, z=2); it is a
    # one-sided p-value level since the "guard" experiment.
    "design": [
        ("refit", {}),
        ("refit, test z=2", {"pca_test": 2.0}),
        ("refit, test z=2, linear enc", {"pca_test": 2.0, "encoder_residual": False}),
        ("refit, test z=2, lr 3e-3", {"pca_test": 2.0, "learning_rate": 3e-3}),
        ("refit, test z=2, lr 1e-2", {"pca_test": 2.0, "learning_rate": 1e-2}),
    ],
    # (pca_test is now a p-value level, see the prototype)
    "guard": [
        ("t-test 0.05", {"pca_test": 0.05}),
        ("t-test 0.05, margin 2%", {"pca_test": 0.05, "pca_margin": 0.02}),
        ("t-test 0.05, margin 5%", {"pca_test": 0.05, "pca_margin": 0.05}),
        (
            "t-test 0.05, lr 3e-3 plateau",
            {"pca_test": 0.05, "learning_rate": 3e-3, "lr_schedule": "plateau"},
        ),
        (
            "t-test 0.05, lr 1e-2 plateau",
            {"pca_test": 0.05, "learning_rate": 1e-2, "lr_schedule": "plateau"},
        ),
    ],
    # guarding against overfitting small data (5 seeds on the small sets)
    "robust": [
        ("t 0.05", {"pca_test": 0.05}),
        ("t 0.01", {"pca_test": 0.01}),
        ("t 0.05, valid 20%", {"pca_test": 0.05, "validation_fraction": 0.2}),
        ("t 0.05, decay 0.1", {"pca_test": 0.05, "residual_decay": 0.1}),
        ("t 0.05, decay 1", {"pca_test": 0.05, "residual_decay": 1.0}),
        ("t 0.05, hidden 64", {"pca_test": 0.05, "hidden_layer_sizes": (64,)}),
    ],
    # keep the codes near-linear unless it pays: decay the encoder residual
    "encdecay": [
        ("t 0.05, enc decay 1", {"pca_test": 0.05, "encoder_decay": 1.0}),
        ("t 0.05, enc decay 10", {"pca_test": 0.05, "encoder_decay": 10.0}),
        (
            "t 0.05, enc decay 10, dec 1",
            {"pca_test": 0.05, "encoder_decay": 10.0, "residual_decay": 1.0},
        ),
        ("t 0.01, enc decay 10", {"pca_test": 0.01, "encoder_decay": 10.0}),
    ],
    # staged: PCA -> nonlinear decoder -> nonlinear encoder, each tested
    # (not run as an experiment: one diabetes and one swiss roll fit by hand)
    "staged": [
        ("staged t 0.05", {"pca_test": 0.05, "staged": True}),
        ("staged t 0.01", {"pca_test": 0.01, "staged": True}),
        (
            "staged t 0.05, lr 1e-2 plateau",
            {
                "pca_test": 0.05,
                "staged": True,
                "learning_rate": 1e-2,
                "lr_schedule": "plateau",
            },
        ),
    ],
    "decay2": [
        (
            "enc 3, dec 1",
            {"pca_test": 0.05, "encoder_decay": 3.0, "residual_decay": 1.0},
        ),
        (
            "enc 3, dec 0.1",
            {"pca_test": 0.05, "encoder_decay": 3.0, "residual_decay": 0.1},
        ),
        (
            "enc 2, dec 1",
            {"pca_test": 0.05, "encoder_decay": 2.0, "residual_decay": 1.0},
        ),
        (
            "lr 3e-3, enc 1, dec 0.33",
            {
                "pca_test": 0.05,
                "learning_rate": 3e-3,
                "encoder_decay": 1.0,
                "residual_decay": 0.33,
            },
        ),
    ],
    "lr3": [
        (
            "lr 3e-3, decay 0.1",
            {"pca_test": 0.05, "learning_rate": 3e-3, "residual_decay": 0.1},
        ),
        (
            "lr 3e-3, decay 0.3",
            {"pca_test": 0.05, "learning_rate": 3e-3, "residual_decay": 0.3},
        ),
        (
            "lr 3e-3 plateau, decay 0.3",
            {
                "pca_test": 0.05,
                "learning_rate": 3e-3,
                "residual_decay": 0.3,
                "lr_schedule": "plateau",
            },
        ),
    ],
    "floor": [
        (
            "no decay, t 0.05, floor 30",
            {
                "pca_test": 0.05,
                "learning_rate": 3e-3,
                "min_valid_rows": 10,
                "valid_rows_floor": 30,
            },
        ),
        (
            "no decay, t 0.01, floor 30",
            {
                "pca_test": 0.01,
                "learning_rate": 3e-3,
                "min_valid_rows": 10,
                "valid_rows_floor": 30,
            },
        ),
    ],
}


CHOSEN = {
    "pca_test": 0.05,
    "learning_rate": 3e-3,
    "residual_decay": 0.3,
    "min_valid_rows": 10,
}

NODECAY = {
    "pca_test": 0.05,
    "learning_rate": 3e-3,
    "min_valid_rows": 10,
}

CHOSEN2 = {
    "max_iter": 100,
    "pca_test": 0.01,
    "learning_rate": 3e-3,
    "min_valid_rows": 10,
    "valid_rows_floor": 30,
}

SCALING = {
    "scaling_small": [
        ("decay 0.3, t 0.05", CHOSEN),
        ("no decay, t 0.05", NODECAY),
        ("no decay, t 0.01", {**NODECAY, "pca_test": 0.01}),
        ("decay 0.3, t 0.01", {**CHOSEN, "pca_test": 0.01}),
    ],
    "scaling_floor": [
        ("no decay, t 0.05, floor 30", {**NODECAY, "valid_rows_floor": 30}),
        (
            "no decay, t 0.01, floor 30",
            {**NODECAY, "valid_rows_floor": 30, "pca_test": 0.01},
        ),
    ],
    "scaling_nodecay": [
        ("chosen (p20)", CHOSEN2),
        ("chosen, p10", {**CHOSEN2, "n_iter_no_change": 10}),
        ("chosen, max_steps 5000", {**CHOSEN2, "max_steps": 5000}),
        ("today", TODAY),
    ],
    "scaling": [
        ("epochs: max_iter 1000, p20", CHOSEN),
        ("epochs, p10", {**CHOSEN, "n_iter_no_change": 10}),
        ("steps: max_steps 5000", {**CHOSEN, "max_steps": 5000}),
        ("today", TODAY),
    ],
}


def header(path):
    with open(path) as f:
        return next(csv.reader(f))


def run(experiment, configs, datasets, seeds, quick):
    out = HERE / "out" / f"study_{experiment}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    # warm-up, untimed
    X_tr, X_te, y_tr, y_te, task = pca_parity.load("iris", 0)
    pca_parity.measure(proto.candidate(2, 0), X_tr, X_te, y_tr, y_te, task)
    new = not out.exists()
    with out.open("a", newline="") as f:
        writer = None
        for name in datasets:
            for seed in seeds:
                for label, settings in configs:
                    row = pca_parity.run_one(
                        name, seed, proto.candidate, settings, quick
                    )
                    row = {"label": label, **row}
                    if writer is None:
                        fields = list(row) if new else header(out)
                        writer = csv.DictWriter(
                            f, fieldnames=fields, extrasaction="ignore"
                        )
                        if new:
                            writer.writeheader()
                    writer.writerow(row)
                    f.flush()
                    print(
                        f"{label:>32} {name:>13} {seed}: {row['ratio']:.3f} "
                        f"d={row['score_ae'] - row['score_pca']:+.3f} "
                        f"draw={row['score_raw_ae'] - row['score_raw_pca']:+.3f} "
                        f"{row['fit_s_ae']:.2f}s {row['n_iter']}ep {row['steps']}st",
                        flush=True,
                    )
    return out


def code_scale_study(datasets, seeds, quick, settings):
    """Item c: the same fitted design, its codes on three scales, against PCA.

    For each code scale: LogisticRegression (C=1, and unpenalised) on the raw
    codes, and the KernelDensity step of scikit-learn's digits KDE example
    (bandwidth by 5-fold GridSearchCV over logspace(-1, 1, 20)): the chosen
    bandwidth, whether it sits at the grid's edge, and the held-out mean
    log-density converted to data-scale code units (``+ log|det A|`` for codes
    ``A z``), so that the three scales of one model are comparable.
    """
    import warnings

    import torch
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    torch.set_num_threads(1)
    grid = np.logspace(-1, 1, 20)
    out = []
    for name in datasets:
        k = pca_parity.DATASETS[name]
        for seed in seeds:
            X_tr, X_te, y_tr, y_te, task = pca_parity.load(name, seed, quick)
            pca = PCA(k, random_state=seed).fit(X_tr)
            ae = proto.ParityAutoencoder(
                k, random_state=seed, code_scale="data", **settings
            ).fit(X_tr)
            Zd_tr, Zd_te = ae.transform(X_tr), ae.transform(X_te)
            sd = Zd_tr.std(axis=0)
            variants = {
                "PCA": (pca.transform(X_tr), pca.transform(X_te), 0.0),
                "AE module": (
                    Zd_tr / ae.scale_,
                    Zd_te / ae.scale_,
                    -k * np.log(ae.scale_),
                ),
                "AE data": (Zd_tr, Zd_te, 0.0),
                "AE standard": (
                    (Zd_tr - Zd_tr.mean(0)) / sd,
                    (Zd_te - Zd_tr.mean(0)) / sd,
                    -np.log(sd).sum(),
                ),
            }
            for label, (Z_tr, Z_te, logdet) in variants.items():
                row = {"dataset": name, "seed": seed, "codes": label}
                row["code_rms"] = float(np.sqrt(np.mean(Z_tr**2)))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if task == "classification":
                        for pen, C in (("C=1", 1.0), ("none", None)):
                            model = (
                                LogisticRegression(max_iter=5000)
                                if C
                                else LogisticRegression(max_iter=5000, C=np.inf)
                            )
                            row[f"logreg {pen}"] = model.fit(Z_tr, y_tr).score(
                                Z_te, y_te
                            )
                    search = GridSearchCV(KernelDensity(), {"bandwidth": grid}).fit(
                        Z_tr
                    )
                bw = search.best_params_["bandwidth"]
                row["kde bandwidth"] = float(bw)
                row["kde at edge"] = bool(bw in (grid[0], grid[-1]))
                ll = search.best_estimator_.score(Z_te) / len(Z_te)
                row["kde ll (data units)"] = float(ll + logdet)
                out.append(row)
                print(row, flush=True)
    return out


def scaling_study(sizes, configs, seeds, out):
    """Item a: the budget against n, on the swiss roll (3 features, k=2).

    ``make_swiss_roll(n / 0.75)`` standardised, 75% to fit, 25% to measure;
    one torch thread. Rows go to ``out`` as they come.
    """
    import time

    import torch
    from sklearn.datasets import make_swiss_roll
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    torch.set_num_threads(1)
    X_tr, X_te, *_ = pca_parity.load("iris", 0)
    proto.candidate(2, 0).fit(X_tr)  # warm-up
    new = not out.exists()
    with out.open("a", newline="") as f:
        writer = None
        for n in sizes:
            for seed in seeds:
                X, _ = make_swiss_roll(int(n / 0.75), random_state=seed)
                X_tr, X_te = train_test_split(X, test_size=0.25, random_state=seed)
                scaler = StandardScaler().fit(X_tr)
                X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
                pca = PCA(2).fit(X_tr)
                mse_pca = np.mean(
                    (X_te - pca.inverse_transform(pca.transform(X_te))) ** 2
                )
                for label, settings in configs:
                    ae = proto.ParityAutoencoder(2, random_state=seed, **settings)
                    t = time.perf_counter()
                    ae.fit(X_tr)
                    fit_s = time.perf_counter() - t
                    rec = ae.inverse_transform(ae.transform(X_te))
                    steps = sum(
                        sum("train_loss" in b for b in e["batches"])
                        for e in ae.net_.history
                    )
                    row = {
                        "label": label,
                        "n_train": len(X_tr),
                        "seed": seed,
                        "ratio": float(np.mean((X_te - rec) ** 2) / mse_pca),
                        "fit_s": fit_s,
                        "epochs": ae.n_iter_,
                        "best_epoch": ae.best_epoch_,
                        "steps": steps,
                        "batch": ae.net_.batch_size,
                    }
                    if writer is None:
                        writer = csv.DictWriter(f, fieldnames=list(row))
                        if new:
                            writer.writeheader()
                    writer.writerow(row)
                    f.flush()
                    print(row, flush=True)


def timing_study(datasets, repeats):
    """Item d: fit time of today's defaults and of the chosen design, fitted
    alternately in one warm process with one torch thread (seed 0), so that
    both see the same machine load; medians over ``repeats``."""
    import os
    import time

    import torch

    torch.set_num_threads(1)
    X_tr, *_ = pca_parity.load("iris", 0)
    proto.ParityAutoencoder(2, random_state=0, **CHOSEN2).fit(X_tr)  # warm-up
    pca_parity.current(2, 0).fit(X_tr)
    rows = []
    for name in datasets:
        k = pca_parity.DATASETS[name]
        X_tr, *_ = pca_parity.load(name, 0)
        times = {"today": [], "chosen": []}
        for _ in range(repeats):
            for label, make in (
                ("today", lambda k=k: pca_parity.current(k, 0)),
                (
                    "chosen",
                    lambda k=k: proto.ParityAutoencoder(k, random_state=0, **CHOSEN2),
                ),
            ):
                est = make()
                t = time.perf_counter()
                est.fit(X_tr)
                times[label].append(time.perf_counter() - t)
        row = {
            "dataset": name,
            "n_train": len(X_tr),
            "today_s": float(np.median(times["today"])),
            "chosen_s": float(np.median(times["chosen"])),
            "chosen_epochs": est.n_iter_,
            "load": os.getloadavg()[0],
        }
        rows.append(row)
        print(row, flush=True)
    return rows


def summary(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for key, value in r.items():
            try:
                r[key] = float(value)
            except ValueError:
                pass
    labels = list(dict.fromkeys(r["label"] for r in rows))
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    print(
        "| config | data | seeds | AE/PCA mean (max) | d score std mean (min) "
        "| d score raw mean (min) | fit s mean (max) | epochs med | steps med |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label in labels:
        for name in datasets:
            rs = [r for r in rows if r["label"] == label and r["dataset"] == name]
            if not rs:
                continue
            ratio = [r["ratio"] for r in rs]
            d = [r["score_ae"] - r["score_pca"] for r in rs]
            draw = [r["score_raw_ae"] - r["score_raw_pca"] for r in rs]
            t = [r["fit_s_ae"] for r in rs]
            ep = [r["n_iter"] for r in rs]
            st = [r.get("steps") or np.nan for r in rs]
            print(
                f"| {label} | {name} | {len(rs)} | {np.mean(ratio):.3f} "
                f"({max(ratio):.3f}) | {np.mean(d):+.3f} ({min(d):+.3f}) "
                f"| {np.mean(draw):+.3f} ({min(draw):+.3f}) | {np.mean(t):.2f} "
                f"({max(t):.2f}) | {np.median(ep):.0f} | {np.median(st):.0f} |"
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("experiment")
    parser.add_argument("csv", nargs="?")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=SMALL + MANIFOLDS)
    parser.add_argument("--only", nargs="+", default=None, help="config labels")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", nargs="+", type=int, default=None)
    args = parser.parse_args()
    if args.experiment == "summary":
        summary(args.csv)
        return
    if args.experiment.startswith("scaling"):
        sizes = [100, 300, 1000, 3000, 10000, 30000, 100000]
        configs = SCALING[args.experiment]
        if args.only:
            configs = [c for c in configs if c[0] in args.only]
        out = HERE / "out" / f"study_{args.experiment}.csv"
        scaling_study(args.sizes or sizes, configs, range(args.seeds), out)
        return
    if args.experiment == "timing":
        rows = timing_study(args.datasets, args.seeds)
        path = HERE / "out" / "study_timing.csv"
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return
    if args.experiment == "codescale":
        rows = code_scale_study(args.datasets, range(args.seeds), args.quick, CHOSEN2)
        path = HERE / "out" / "study_codescale.csv"
        with path.open("w", newline="") as f:
            fields = list(dict.fromkeys(key for row in rows for key in row))
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return
    configs = EXPERIMENTS[args.experiment]
    if args.only:
        configs = [c for c in configs if c[0] in args.only]
    out = run(args.experiment, configs, args.datasets, range(args.seeds), args.quick)
    summary(out)


if __name__ == "__main__":
    main()
