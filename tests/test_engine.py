"""The training engine's fast path: a cached tensor for small dense data."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import sklearn_ae._net as net_module
from sklearn_ae import AutoencoderTransformer
from sklearn_ae._net import RowDataset, fused_optimizer_kwargs, is_memory_mapped


def _fit(X, **kwargs):
    params = dict(n_components=3, hidden_layer_sizes=(8,), max_iter=4)
    params.update(kwargs)
    return AutoencoderTransformer(**params, random_state=0).fit(X)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_cached_and_streamed_batches_train_identically(
    X_small, monkeypatch, early_stopping
):
    cached = _fit(X_small, early_stopping=early_stopping)
    monkeypatch.setattr(net_module, "TENSOR_CACHE_BYTES", 0)
    streamed = _fit(X_small, early_stopping=early_stopping)
    assert cached.loss_curve_ == streamed.loss_curve_
    assert cached.validation_loss_curve_ == streamed.validation_loss_curve_
    np.testing.assert_array_equal(
        cached.transform(X_small), streamed.transform(X_small)
    )


def test_dense_ndarray_is_cached_but_memmap_and_sparse_are_not(X_small, tmp_path):
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=(10, 64))
    assert is_memory_mapped(mm) and is_memory_mapped(np.asarray(mm)[2:5])
    assert not is_memory_mapped(X_small)
    assert RowDataset(X_small).is_small_dense()
    assert not RowDataset(np.asarray(mm)).is_small_dense()
    assert not RowDataset(sp.csr_matrix(X_small)).is_small_dense()


def test_fitted_net_keeps_no_copy_of_the_training_data(X_small):
    ae = _fit(X_small)
    assert ae.net_._tensors == {}


def test_fused_optimizer_only_where_torch_has_one():
    assert fused_optimizer_kwargs(torch.optim.RMSprop, "cpu") == {}
    kwargs = fused_optimizer_kwargs(torch.optim.Adam, "cpu")
    assert kwargs in ({}, {"fused": True})
    if kwargs:
        ae = _fit(np.random.default_rng(0).random((50, 6)), optimizer="adam")
        assert ae.net_.optimizer_.defaults["fused"] is True
