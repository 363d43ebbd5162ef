"""The thread policy: torch's thread count follows the work, for one call only."""

import threading

import numpy as np
import pytest
import threadpoolctl
import torch
from custom_modules import RecordingAutoencoder
from skorch.callbacks import Callback

import sklearn_ae._engine._threads as threads_module
from sklearn_ae import (
    AutoencoderTransformer,
    ConvAutoencoder,
    LSTMAutoencoder,
    MLPAutoencoder,
)
from sklearn_ae._engine._threads import cpu_threads, forward_flops


class _ThreadsSeen(Callback):
    def __init__(self):
        self.seen = []
        self.blas = []

    def on_epoch_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())
        self.blas.append(_blas_threads())


def _blas_threads():
    """numpy's and scipy's BLAS thread counts, as threadpoolctl reads them."""
    pools = threadpoolctl.threadpool_info()
    return sorted(pool["num_threads"] for pool in pools if pool["user_api"] == "blas")


@pytest.fixture
def caller_blas():
    """The caller's BLAS pools run 2 threads (whatever the machine's cores)."""
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        yield _blas_threads()


@pytest.fixture
def caller_threads(monkeypatch):
    """The caller runs torch's default of 2 threads, with no thread variables
    (dask's distributed sets some in the environment when imported)."""
    for name in (*threads_module._ENV, *threads_module._BLAS_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(threads_module, "default_threads", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def _fit_threads(X, **params):
    seen = _ThreadsSeen()
    AutoencoderTransformer(callbacks=[seen], **params).fit(X)
    return seen.seen


def test_a_small_fit_runs_on_one_thread_and_restores_the_callers(
    caller_threads, X_small, fast
):
    assert _fit_threads(X_small, **fast) == [1] * fast["max_iter"]
    assert torch.get_num_threads() == caller_threads


def test_a_large_step_keeps_the_callers_threads(
    caller_threads, X_small, fast, monkeypatch
):
    monkeypatch.setattr(threads_module, "MIN_FLOPS_PER_THREAD", 1.0)
    assert _fit_threads(X_small, **fast) == [2] * fast["max_iter"]
    assert torch.get_num_threads() == caller_threads


def test_a_small_fit_lowers_blas_threads_too_and_restores_them(
    caller_threads, caller_blas, X_small, fast, monkeypatch
):
    # PCA runs in numpy: its cross-products see one BLAS thread, also where
    # they come before training (a float n_components is resolved from them).
    import sklearn_ae._stats as stats_module

    during_pca = []
    original = stats_module._Sums.add

    def sums(*args):
        during_pca.append(_blas_threads())
        return original(*args)

    monkeypatch.setattr(stats_module._Sums, "add", sums)
    seen = _ThreadsSeen()
    AutoencoderTransformer(callbacks=[seen], **{**fast, "n_components": 0.5}).fit(
        X_small
    )
    assert caller_blas[-1] == 2
    assert during_pca and {max(c) for c in during_pca} == {1}
    assert {max(c) for c in seen.blas} == {1}
    assert _blas_threads() == caller_blas


def test_a_blas_variable_keeps_blas_threads(
    caller_threads, caller_blas, X_small, fast, monkeypatch
):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    seen = _ThreadsSeen()
    AutoencoderTransformer(callbacks=[seen], **fast).fit(X_small)
    assert seen.seen == [1] * fast["max_iter"]  # torch's count still follows
    assert seen.blas == [caller_blas] * fast["max_iter"]


def test_overlapping_blocks_restore_blas_threads_once(caller_threads, caller_blas):
    # BLAS counts are global to the process: the last block to leave
    # restores them, so overlapping fits in two threads leak nothing.
    entered, release, seen = threading.Event(), threading.Event(), []

    def other_fit():
        torch.set_num_threads(2)
        with cpu_threads(1.0):
            entered.set()
            release.wait(10)
        seen.append(_blas_threads())

    worker = threading.Thread(target=other_fit)
    with cpu_threads(1.0):
        worker.start()
        entered.wait(10)
        assert max(_blas_threads()) == 1
        release.set()
        worker.join()
        assert max(seen[0]) == 1  # the other block left; this one holds
    assert _blas_threads() == caller_blas


def test_an_explicit_choice_is_left_alone(caller_threads, X_small, fast, monkeypatch):
    torch.set_num_threads(3)  # not torch's default: the user's choice
    assert _fit_threads(X_small, **fast) == [3] * fast["max_iter"]
    assert torch.get_num_threads() == 3
    torch.set_num_threads(2)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # as joblib's workers have
    assert _fit_threads(X_small, **fast) == [2] * fast["max_iter"]


def test_transform_and_partial_fit_follow_the_policy(
    caller_threads, fitted, X_small, monkeypatch
):
    calls = []
    original = torch.set_num_threads
    monkeypatch.setattr(
        torch, "set_num_threads", lambda n: (calls.append(n), original(n))
    )
    fitted.transform(X_small[:10])  # 10 rows: a tiny forward pass
    assert calls == [1, 2]
    calls.clear()
    AutoencoderTransformer(n_components=2, hidden_layer_sizes=(4,)).partial_fit(X_small)
    assert calls == [1, 2, 1, 2]  # the statistics pass (PCA's sums), the epoch


def test_fits_in_two_threads_set_and_restore_their_own_counts(caller_threads):
    # torch's count is per thread: a small fit in one thread does not slow a
    # large one in another, and neither restores the other's count.
    small, large = 1.0, 1e12
    entered, release, seen = threading.Event(), threading.Event(), []

    def other_fit():
        torch.set_num_threads(2)
        with cpu_threads(small):
            seen.append(torch.get_num_threads())
            entered.set()
            release.wait(10)
        seen.append(torch.get_num_threads())

    worker = threading.Thread(target=other_fit)
    worker.start()
    entered.wait(10)
    with cpu_threads(large):
        assert torch.get_num_threads() == 2
        release.set()
        worker.join()
        assert torch.get_num_threads() == 2
    assert seen == [1, 2]
    assert torch.get_num_threads() == caller_threads


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_forward_flops_counts_weights_where_they_are_applied():
    mlp = MLPAutoencoder(n_features=784, n_components=32, hidden_layer_sizes=())
    assert forward_flops(mlp, 784) == 2 * (784 * 32 + 32 + 32 * 784 + 784)
    # Convolutions apply their weights at every pixel.
    conv = ConvAutoencoder(n_features=784, n_components=4, input_shape=(1, 28, 28))
    n_params = sum(p.numel() for p in conv.parameters())
    assert forward_flops(conv, 784) > 100 * 2 * n_params
    lstm = LSTMAutoencoder(n_features=40, n_components=4, input_shape=(20, 2))
    n_params = sum(p.numel() for p in lstm.parameters())
    assert forward_flops(lstm, 40) > 10 * 2 * n_params  # at every time step
    # An empty code (n_components=0, PCA's solution kept) costs its decoder's
    # bias and nothing else.
    empty = MLPAutoencoder(n_features=16, n_components=0, hidden_layer_sizes=())
    assert forward_flops(empty, 16) == 2 * 16


def test_a_users_module_is_not_called_for_the_estimate():
    module = RecordingAutoencoder(n_features=16, n_components=2, input_shape=(16,))
    n_params = sum(p.numel() for p in module.parameters())
    assert forward_flops(module, 16) == 2 * n_params
    assert module.seen == []


def test_results_do_not_depend_on_the_policy(X_small, fast, monkeypatch):
    # One thread either way: the policy changes how long, not what is learnt.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        chosen = AutoencoderTransformer(**fast).fit(X_small)
        monkeypatch.setattr(threads_module, "explicit_choice", lambda current: True)
        untouched = AutoencoderTransformer(**fast).fit(X_small)
    finally:
        torch.set_num_threads(before)
    assert chosen.loss_curve_ == untouched.loss_curve_
    np.testing.assert_array_equal(
        chosen.transform(X_small), untouched.transform(X_small)
    )
