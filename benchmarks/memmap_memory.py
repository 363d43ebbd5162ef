"""Anonymous memory of a fit and a transform on a float32 memory map over 1 GB.

Builds a read-only ``np.memmap`` of random float32 data in a temporary
directory (1.23 GB by default), fits ``AutoencoderTransformer`` on it for one
epoch (a few hundred batches) and transforms all of it, while a thread samples
``RssAnon`` from ``/proc/self/status`` every 10 ms. Pages of the memory map
itself are file-backed (page cache, ``RssFile``), so ``RssAnon`` growth is what
the fit and the transform allocate: a copy of the data would show up there in
full. Linux only.

    python benchmarks/memmap_memory.py            # ~1-3 minutes on 2 cores
    python benchmarks/memmap_memory.py --rows 600000
"""

import argparse
import os
import tempfile
import threading
import time

import numpy as np

from sklearn_ae import AutoencoderTransformer

MB = 2**20


def rss_anon():
    """Current anonymous resident memory of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (not Linux?)")


class PeakSampler:
    """Samples ``rss_anon()`` in a thread; ``peak`` is the highest value seen."""

    def __init__(self, interval=0.01):
        self.interval = interval
        self.peak = rss_anon()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon())
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


def build_memmap(path, n_rows, n_features, seed=0):
    writer = np.memmap(path, dtype=np.float32, mode="w+", shape=(n_rows, n_features))
    rng = np.random.default_rng(seed)
    for start in range(0, n_rows, 16_384):
        stop = min(start + 16_384, n_rows)
        writer[start:stop] = rng.random((stop - start, n_features), dtype=np.float32)
    writer.flush()
    del writer
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, n_features))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--features", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()

    params = {
        "n_components": 16,
        "hidden_layer_sizes": (64,),
        "batch_size": args.batch_size,
        "max_iter": 1,
        "random_state": 0,
    }
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        X = build_memmap(os.path.join(tmp, "X.f32"), args.rows, args.features)
        print(
            f"data: {X.shape[0]:,} x {X.shape[1]:,} float32 memmap (read-only), "
            f"{X.nbytes / MB:,.0f} MiB, written in {time.perf_counter() - t0:.1f} s"
        )
        # Warm up: torch's lazy imports and allocator pools belong to the
        # baseline, not to the data.
        AutoencoderTransformer(**params).fit(np.array(X[:2048]))

        phases = []
        base = rss_anon()
        with PeakSampler() as peak:
            t0 = time.perf_counter()
            ae = AutoencoderTransformer(**params).fit(X)
        n_batches = -(-X.shape[0] // args.batch_size)
        phases.append(("fit", base, peak.peak, time.perf_counter() - t0))
        base = rss_anon()
        with PeakSampler() as peak:
            t0 = time.perf_counter()
            Z = ae.transform(X)
        phases.append(("transform", base, peak.peak, time.perf_counter() - t0))
        print(
            f"fit: 1 epoch, {n_batches} batches of {args.batch_size}; transform "
            f"output {Z.nbytes / MB:,.0f} MiB"
        )
        for name, start, top, seconds in phases:
            growth = top - start
            print(
                f"{name:9s}: {seconds:6.1f} s; peak RssAnon growth over its start "
                f"{growth / MB:7.1f} MiB = {100 * growth / X.nbytes:5.2f}% of the data"
            )
        del X, Z


if __name__ == "__main__":
    main()
