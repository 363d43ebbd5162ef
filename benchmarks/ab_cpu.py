"""Two source trees side by side: the article's model, in CPU time per sample-epoch.

For a shared, loaded machine, where wall times (``run.py``) mean little: each
measurement is a fresh process on one thread (``OMP_NUM_THREADS=1``) that
fits the article's 784-32-784 model (``peers.train_sklearn_ae``, or
``MLPRegressor`` with ``--mlp``) on the 4,000 MNIST digits of ``tasks.mnist``
twice ("fresh", then "warm"), and reports the process's CPU time per sample
and epoch, and the test cross-entropy. Repeats are interleaved over the
trees; the ratios are taken per repeat. From the repository root::

    git worktree add /tmp/before 3b86563
    python benchmarks/ab_cpu.py /tmp/before . --mlp --repeats 3 --epochs 20
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ONE_THREAD = dict.fromkeys(
    ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"
)


def task(tree, epochs, peer):
    sys.path[:0] = [tree, os.path.join(tree, "benchmarks")]
    import peers
    from tasks import mnist

    Xtr, Xte = mnist()
    train = peers.PEERS[peer]
    out = {}
    for label, seed in (("fresh", 0), ("warm", 1)):
        cpu = time.process_time()
        _, n_epochs, rec = train(Xtr, Xte, (784, 32), epochs, 256, seed)
        cpu = time.process_time() - cpu
        out[f"{label}_cpu_us"] = cpu / (len(Xtr) * n_epochs) * 1e6
        out[f"{label}_bce"] = float(peers.bce(Xte, rec))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trees", nargs="*", help="source trees; the first is the base")
    ap.add_argument("--mlp", action="store_true", help="add MLPRegressor")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.task:
        print(json.dumps(task(*json.loads(args.task))))
        return
    if not args.trees:
        ap.error("give at least one source tree")
    runs = [(tree, "sklearn_ae") for tree in args.trees]
    if args.mlp:
        runs.append((args.trees[-1], "MLPRegressor"))
    results = {run: [] for run in runs}
    for _ in range(args.repeats):
        for tree, peer in runs:
            spec = json.dumps([os.path.abspath(tree), args.epochs, peer])
            proc = subprocess.run(
                [sys.executable, __file__, "--task", spec],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **ONE_THREAD},
            )
            results[(tree, peer)].append(json.loads(proc.stdout.splitlines()[-1]))
    base = results[runs[0]]
    print("| tree | peer | fresh (us) | warm (us) | fresh / base | warm / base | BCE |")
    print("|---|---|---|---|---|---|---|")
    for (tree, peer), rs in results.items():
        row = [tree, peer]
        for key in ("fresh_cpu_us", "warm_cpu_us"):
            row.append(f"{statistics.median(r[key] for r in rs):.2f}")
        for key in ("fresh_cpu_us", "warm_cpu_us"):
            ratios = [r[key] / b[key] for r, b in zip(rs, base, strict=True)]
            row.append(f"{statistics.median(ratios):.2f}x")
        row.append(f"{statistics.median(r['fresh_bce'] for r in rs):.4f}")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
