"""Hyperparameter search on a dask.distributed cluster through joblib."""

import contextlib
import signal

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.model_selection import GridSearchCV

distributed = pytest.importorskip("distributed")

from sklearn_ae import AutoencoderTransformer  # noqa: E402


@contextlib.contextmanager
def time_limit(seconds):
    """Fail instead of hanging CI if the cluster never answers (POSIX only)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"the Dask grid search took over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_grid_search_on_a_local_cluster_of_two_processes(X_small):
    X = X_small[:200]
    search = GridSearchCV(
        AutoencoderTransformer(
            hidden_layer_sizes=(16,), learning_rate=1e-2, max_iter=2, random_state=0
        ),
        {"n_components": [1, 12]},
        cv=2,
    )
    serial = GridSearchCV(search.estimator, search.param_grid, cv=2).fit(X)
    with (
        time_limit(240),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster, timeout="60s") as client,
    ):
        with distributed.get_task_stream(client) as tasks:
            with joblib.parallel_backend("dask"):
                search.fit(X)
    # The fits ran as tasks in the worker processes, not here.
    workers = {t["worker"] for t in tasks.data}
    assert len(tasks.data) >= 4  # 2 candidates x 2 folds (and the refit)
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert search.best_params_ == serial.best_params_ == {"n_components": 12}
    assert_allclose(
        search.cv_results_["mean_test_score"],
        serial.cv_results_["mean_test_score"],
        rtol=1e-4,
    )
    assert np.isfinite(search.best_estimator_.transform(X)).all()
