"""Training and inference on a CUDA device (skipped without one)."""

import pickle

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_ae import AutoencoderTransformer

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_auto_device_picks_cuda_only_when_available(X_small, fast):
    ae = AutoencoderTransformer(**fast, device="auto").fit(X_small)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert torch.device(ae.net_.device).type == expected
    assert next(ae.module_.parameters()).device.type == expected


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_fit_transform_returns_numpy_close_to_cpu(X_small, dtype, fast):
    X = X_small.astype(dtype)
    gpu = AutoencoderTransformer(**fast, device="cuda").fit(X)
    assert next(gpu.module_.parameters()).is_cuda
    Z = gpu.transform(X)
    assert isinstance(Z, np.ndarray) and Z.dtype == dtype
    X_hat = gpu.inverse_transform(Z)
    assert isinstance(X_hat, np.ndarray) and X_hat.shape == X.shape
    # The same weights on the CPU give the same codes, up to float32 rounding.
    cpu = pickle.loads(pickle.dumps(gpu))
    cpu.module_.cpu()
    cpu.net_.device = "cpu"
    assert_allclose(cpu.transform(X), Z, rtol=1e-4, atol=1e-5)


@cuda
def test_cuda_partial_fit_and_save_load_to_cpu(X_small, tmp_path, fast):
    gpu = AutoencoderTransformer(**fast, device="cuda")
    gpu.partial_fit(X_small).partial_fit(X_small)
    assert gpu.n_iter_ == 2
    path = gpu.save(tmp_path / "gpu.zip")
    on_cpu = AutoencoderTransformer.load(path, device="cpu")
    assert next(on_cpu.module_.parameters()).device.type == "cpu"
    assert_allclose(on_cpu.transform(X_small), gpu.transform(X_small), atol=1e-5)
    on_gpu = AutoencoderTransformer.load(path)
    assert_array_equal(on_gpu.transform(X_small), gpu.transform(X_small))
