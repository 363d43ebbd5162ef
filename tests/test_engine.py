"""The training engine's fast paths: a cached tensor for small dense data, the
lean epoch, torch's optimizers without the compiler's import, no start-up tax."""

import gc
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from skorch.callbacks import Callback

import sklearn_ae._data as data_module
import sklearn_ae._engine._net as net_module
import sklearn_ae._engine._optim as optim_module
from sklearn_ae import AutoencoderTransformer
from sklearn_ae._config import fused_optimizer_kwargs
from sklearn_ae._data import RowDataset, is_memory_mapped
from sklearn_ae._engine._net import AutoencoderNet


@pytest.mark.parametrize("early_stopping", [False, True])
def test_cached_and_streamed_batches_train_identically(
    X_small, monkeypatch, early_stopping, fast
):
    params = {**fast, "early_stopping": early_stopping}
    cached = AutoencoderTransformer(**params).fit(X_small)
    monkeypatch.setattr(data_module, "TENSOR_CACHE_BYTES", 0)
    streamed = AutoencoderTransformer(**params).fit(X_small)
    assert cached.loss_curve_ == streamed.loss_curve_
    assert cached.validation_loss_curve_ == streamed.validation_loss_curve_
    np.testing.assert_array_equal(
        cached.transform(X_small), streamed.transform(X_small)
    )


def test_float32_data_used_as_they_are_are_wrapped_not_copied(
    X_small, fast, monkeypatch
):
    X = (X_small / 16).astype(np.float32)  # loss="bce": no scaling
    tensors = []
    original = AutoencoderNet.dataset_tensor

    def spy(net, dataset):
        tensors.append(original(net, dataset))
        return tensors[-1]

    monkeypatch.setattr(AutoencoderNet, "dataset_tensor", spy)
    params = {**fast, "loss": "bce"}
    wrapped = AutoencoderTransformer(**params).fit(X)
    assert tensors[0].data_ptr() == X.ctypes.data
    AutoencoderTransformer(**params).fit(X.astype(np.float64))
    assert tensors[-1].data_ptr() != X.ctypes.data  # float64: converted
    monkeypatch.setattr(data_module, "TENSOR_CACHE_BYTES", 0)
    streamed = AutoencoderTransformer(**params).fit(X)
    assert wrapped.loss_curve_ == streamed.loss_curve_
    np.testing.assert_array_equal(wrapped.transform(X), streamed.transform(X))


def test_dense_ndarray_is_cached_but_memmap_and_sparse_are_not(X_small, tmp_path):
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=(10, 64))
    assert is_memory_mapped(mm) and is_memory_mapped(np.asarray(mm)[2:5])
    assert not is_memory_mapped(X_small)
    assert RowDataset(X_small).is_small_dense()
    assert not RowDataset(np.asarray(mm)).is_small_dense()
    assert not RowDataset(sp.csr_matrix(X_small)).is_small_dense()


def test_fitted_model_keeps_no_copy_of_the_training_data(digits, fast):
    # 300 or 1,797 rows (115 KB more as float32, with or without a
    # validation split): the pickled model is as large either way, bar the
    # history's few numbers per batch.
    for early_stopping in (False, True):
        params = {**fast, "batch_size": 300, "early_stopping": early_stopping}
        small = AutoencoderTransformer(**params).fit(digits[0][:300])
        large = AutoencoderTransformer(**params).fit(digits[0])
        growth = len(pickle.dumps(large)) - len(pickle.dumps(small))
        assert growth < 10_000


def test_fused_optimizer_where_torch_has_one(X_small, fast):
    # torch >= 2.4 has fused CPU kernels for Adam, AdamW, SGD and Adagrad.
    assert fused_optimizer_kwargs(torch.optim.Adam, "cpu") == {"fused": True}
    assert fused_optimizer_kwargs(torch.optim.RMSprop, "cpu") == {}
    adam = AutoencoderTransformer(**fast, optimizer="adam").fit(X_small)
    assert adam.net_.optimizer_.defaults["fused"] is True
    rmsprop = AutoencoderTransformer(**fast, optimizer="rmsprop").fit(X_small)
    assert not rmsprop.net_.optimizer_.defaults.get("fused")


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("Adam", {}),
        ("Adam", {"weight_decay": 0.1, "maximize": True}),
        ("AdamW", {"weight_decay": 0.1}),
        ("Adam", {"amsgrad": True}),  # torch's own step
    ],
)
def test_optimizers_step_as_torchs_fused_ones(name, kwargs, monkeypatch):
    # Whether or not this process has imported torch's compiler already.
    monkeypatch.setattr(optim_module, "compiler_loaded", lambda: False)
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.Linear(3, 6))
    theirs = pickle.loads(pickle.dumps(ours))
    x = torch.randn(20, 6)
    optimizers = [
        getattr(optim_module, name)(ours.parameters(), lr=0.01, fused=True, **kwargs),
        getattr(torch.optim, name)(theirs.parameters(), lr=0.01, fused=True, **kwargs),
    ]
    for _ in range(4):
        for module, optimizer in zip((ours, theirs), optimizers, strict=True):
            optimizer.zero_grad()
            ((module(x) - x) ** 2).mean().backward()
            optimizer.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    state = optimizers[0].state_dict()
    assert state["state"][0]["step"].item() == 4
    optimizers[1].load_state_dict(state)  # the same state, loadable by torch


def test_a_fresh_process_fits_without_importing_what_it_does_not_need():
    code = (
        "import sys, numpy as np\n"
        "import sklearn_ae\n"
        "imported = set(sys.modules)\n"
        "X = np.random.default_rng(0).random((50, 4), dtype=np.float32)\n"
        "sklearn_ae.AutoencoderTransformer(max_iter=2).fit(X)\n"
        "print(sorted(m for m in ('pytest', 'onnx', 'safetensors', 'matplotlib',"
        " 'sklearn.utils.estimator_checks') if m in imported))\n"
        "print(sorted(m for m in ('torch._dynamo', 'sympy')"
        " if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    # Nothing for export or tests at import; the compiler (seconds to import)
    # and torch's symbolic shapes (sympy: 0.4 s, imported by ``to_empty`` of
    # a meta module) not even after a fit.
    assert out.stdout.splitlines() == ["[]", "[]"]


class _BatchCounter(Callback):
    def __init__(self):
        self.batches = 0

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches += training


@pytest.mark.parametrize("early_stopping", [False, True])
def test_the_lean_epoch_trains_and_records_as_skorchs(X_small, fast, early_stopping):
    params = {**fast, "batch_size": 64, "early_stopping": early_stopping}
    lean = AutoencoderTransformer(**params).fit(X_small)
    assert lean.net_.lean_epochs()
    counter = _BatchCounter()  # listens to batches: skorch's own epoch
    full = AutoencoderTransformer(**params, callbacks=[counter]).fit(X_small)
    assert not full.net_.lean_epochs()
    assert counter.batches == sum(lean.net_.history[:, "train_batch_count"]) == 15
    assert lean.loss_curve_ == full.loss_curve_
    assert lean.validation_loss_curve_ == full.validation_loss_curve_
    for key in ("train_loss", "train_batch_size"):
        assert (
            lean.net_.history[:, "batches", :, key]
            == (full.net_.history[:, "batches", :, key])
        )
    assert (
        lean.net_.history[:, "train_batch_count"]
        == (full.net_.history[:, "train_batch_count"])
    )
    np.testing.assert_array_equal(lean.transform(X_small), full.transform(X_small))


def test_the_lean_epoch_keeps_no_tensor_per_batch(X_small, fast, monkeypatch):
    # One small tensor kept per batch until the epoch's end pinned the
    # batches' memory in the C heap (570 MiB for one epoch over a 391 MiB
    # memory map): the live tensors must not grow with the batches.
    live = []
    batches = net_module.BatchIterator.__iter__

    def counting(self):
        for batch in batches(self):
            gc.collect()
            live.append(
                sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())
            )
            yield batch

    monkeypatch.setattr(net_module.BatchIterator, "__iter__", counting)
    params = {**fast, "batch_size": 16, "max_iter": 1}
    ae = AutoencoderTransformer(**params).fit(X_small[:160])
    assert ae.net_.lean_epochs() and len(live) == 10
    assert live[-1] == live[1], live


def test_the_lean_epoch_only_with_torchs_optimizers_but_lbfgs(X_small, fast):
    net = AutoencoderTransformer(**fast).fit(X_small).net_
    assert net.lean_epochs()
    net.optimizer_ = torch.optim.LBFGS(net.module_.parameters())
    assert not net.lean_epochs()  # its step needs the closure
    custom = type("MyAdam", (torch.optim.Adam,), {"__module__": "mine"})
    assert (
        not AutoencoderTransformer(**fast, optimizer=custom)
        .fit(X_small)
        .net_.lean_epochs()
    )
