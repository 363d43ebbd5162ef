"""Data-parallel training: 2 CPU processes over gloo on the loopback interface.

One group of spawned processes runs every scenario (starting processes costs
more than the fits); the parent compares their results with single-process
fits. Every wait has a timeout, and the processes are killed if one is hit.
"""

import datetime
import queue
import socket
import traceback

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ae import AutoencoderTransformer

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()),
    reason="needs torch.distributed with the gloo backend",
)

WORLD_SIZE = 2
TIMEOUT = 120  # seconds for the whole group; a fit takes well under one
BASE = {
    "n_components": 3,
    "hidden_layer_sizes": (8,),
    "learning_rate": 1e-2,
    "early_stopping": False,
}

# name -> (estimator parameters, rows of the data). 193 rows in batches of 64:
# the last batch has 1 row, so process 1 has none in it; 199 rows: 7, split 4/3.
SCENARIOS = {
    "fit": ({**BASE, "batch_size": 64, "max_iter": 4, "random_state": 0}, 193),
    "uneven": ({**BASE, "batch_size": 64, "max_iter": 4, "random_state": 1}, 199),
    "early_stopping": (
        {
            **BASE,
            "batch_size": 32,
            "max_iter": 60,
            "early_stopping": True,
            "n_iter_no_change": 2,
            "tol": 1e-2,
            "random_state": 0,
        },
        200,
    ),
    "seed_from_rank_0": ({**BASE, "max_iter": 2, "random_state": None}, 200),
    "denoising": ({**BASE, "max_iter": 2, "noise": 0.1, "random_state": 0}, 200),
}


def _data(n_rows, rank=0, differ=False):
    X = np.random.default_rng(0).random((n_rows, 16), dtype=np.float32)
    if differ and rank:
        X = X[::-1].copy()
    return X


def _weights(ae):
    return {k: v.detach().numpy().copy() for k, v in ae.module_.state_dict().items()}


def _summary(ae):
    return {
        "weights": _weights(ae),
        "n_iter": ae.n_iter_,
        "loss_curve": ae.loss_curve_,
        "validation_loss_curve": ae.validation_loss_curve_,
        "Z": ae.transform(_data(20)),
        "batch_sizes": list(ae.net_.history[0, "batches", :, "train_batch_size"]),
    }


def _worker(rank, port, results):
    """One process of the group: runs every scenario, reports or fails each."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=WORLD_SIZE,
        timeout=datetime.timedelta(seconds=TIMEOUT),
    )
    try:
        for name, (params, n_rows) in SCENARIOS.items():
            try:
                ae = AutoencoderTransformer(**params).fit(_data(n_rows))
                results.put((rank, name, _summary(ae)))
            except Exception:
                results.put((rank, name, traceback.format_exc()))
        ae = AutoencoderTransformer(**BASE, batch_size=50, random_state=0)
        ae.partial_fit(_data(200)[:100]).partial_fit(_data(200)[100:])
        results.put((rank, "partial_fit", _summary(ae)))
        for name, params, X in [
            ("diverged", {"learning_rate": 1e9, "max_iter": 5}, _data(200)),
            ("different_data", {"max_iter": 1}, _data(200, rank, differ=True)),
            ("small_batch", {"batch_size": 1, "max_iter": 1}, _data(200)),
        ]:
            try:
                AutoencoderTransformer(**{**BASE, **params}).fit(X)
                results.put((rank, name, "no error"))
            except ValueError as exc:
                results.put((rank, name, f"ValueError: {exc}"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks():
    """``{scenario: [result of rank 0, result of rank 1]}`` from one group."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    port = _free_port()
    procs = [
        ctx.Process(target=_worker, args=(rank, port, results), daemon=True)
        for rank in range(WORLD_SIZE)
    ]
    for p in procs:
        p.start()
    expected = WORLD_SIZE * (len(SCENARIOS) + 4)
    out = {}
    try:
        for _ in range(expected):
            rank, name, result = results.get(timeout=TIMEOUT)
            out.setdefault(name, [None] * WORLD_SIZE)[rank] = result
        for p in procs:
            p.join(timeout=30)
    except queue.Empty:
        pytest.fail(f"the process group timed out; results so far: {sorted(out)}")
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(timeout=10)
    failed = {k: r for k, rs in out.items() for r in rs if isinstance(r, str)}
    return out, failed


def _fit_here(name):
    params, n_rows = SCENARIOS[name]
    return AutoencoderTransformer(**params).fit(_data(n_rows))


def _assert_same_on_every_rank(results):
    first = results[0]
    for other in results[1:]:
        for key, w in first["weights"].items():
            assert_array_equal(other["weights"][key], w)
        assert other["n_iter"] == first["n_iter"]
        assert other["loss_curve"] == first["loss_curve"]
        assert other["validation_loss_curve"] == first["validation_loss_curve"]


def test_each_rank_trains_on_its_share_of_every_batch(ranks):
    out, failed = ranks
    assert not {"fit", "uneven"} & set(failed), failed
    # 193 rows in batches of 64 (the last of 1 row) and 199 (the last of 7).
    assert [r["batch_sizes"] for r in out["fit"]] == [[32, 32, 32, 1], [32, 32, 32, 0]]
    assert [r["batch_sizes"] for r in out["uneven"]] == [
        [32, 32, 32, 4],
        [32, 32, 32, 3],
    ]


@pytest.mark.parametrize("name", ["fit", "uneven", "early_stopping"])
def test_data_parallel_fit_equals_single_process_fit(ranks, name):
    out, failed = ranks
    assert name not in failed, failed.get(name)
    _assert_same_on_every_rank(out[name])
    got, single = out[name][0], _fit_here(name)
    # batch_size is the global batch: the same parameters give the same model.
    assert got["n_iter"] == single.n_iter_
    for key, w in _weights(single).items():
        assert_allclose(got["weights"][key], w, rtol=1e-5, atol=1e-6)
    assert_allclose(got["loss_curve"], single.loss_curve_, rtol=1e-5)
    assert_allclose(got["Z"], single.transform(_data(20)), rtol=1e-5, atol=1e-6)


def test_early_stopping_stops_every_rank_at_the_same_epoch(ranks):
    out, failed = ranks
    assert "early_stopping" not in failed, failed.get("early_stopping")
    rank0, rank1 = out["early_stopping"]
    max_iter = SCENARIOS["early_stopping"][0]["max_iter"]
    assert rank0["n_iter"] == rank1["n_iter"] < max_iter
    assert rank0["validation_loss_curve"] == rank1["validation_loss_curve"]
    single = _fit_here("early_stopping")
    assert_allclose(
        rank0["validation_loss_curve"], single.validation_loss_curve_, rtol=1e-5
    )


@pytest.mark.parametrize("name", ["seed_from_rank_0", "denoising", "partial_fit"])
def test_every_rank_ends_with_the_same_model(ranks, name):
    # random_state=None: process 0's seed is used everywhere; denoising: each
    # process draws its own noise, yet the averaged gradients keep the weights
    # identical; partial_fit: two calls continue the same data-parallel fit.
    out, failed = ranks
    assert name not in failed, failed.get(name)
    _assert_same_on_every_rank(out[name])
    assert_array_equal(out[name][0]["Z"], out[name][1]["Z"])


def test_partial_fit_equals_single_process(ranks):
    out, _ = ranks
    ae = AutoencoderTransformer(**BASE, batch_size=50, random_state=0)
    ae.partial_fit(_data(200)[:100]).partial_fit(_data(200)[100:])
    for key, w in _weights(ae).items():
        assert_allclose(out["partial_fit"][0]["weights"][key], w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "name, message",
    [
        ("diverged", "Training diverged"),
        ("different_data", "needs the same X in every process"),
        ("small_batch", "at least one row per process in every batch"),
    ],
)
def test_errors_are_raised_on_every_rank_without_hanging(ranks, name, message):
    out, _ = ranks
    for result in out[name]:
        assert result.startswith("ValueError: ") and message in result, result
