"""The training engine's fast path: a cached tensor for small dense data."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import sklearn_ae._data as data_module
from sklearn_ae import AutoencoderTransformer
from sklearn_ae._config import fused_optimizer_kwargs
from sklearn_ae._data import RowDataset, is_memory_mapped


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
