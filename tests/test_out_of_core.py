"""Out-of-core input: memory maps and dask arrays are streamed, never copied."""

import re
import tracemalloc

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import sklearn_ae._data as data_module
from sklearn_ae import AutoencoderTransformer


@pytest.fixture
def fast(fast):
    """One epoch in large batches: 150,000 rows in a fraction of a second."""
    return {**fast, "batch_size": 4096, "max_iter": 1}


@pytest.fixture(scope="module")
def memmap(tmp_path_factory):
    """A read-only float32 memory map of 150,000 x 16 (9.6 MB)."""
    path = tmp_path_factory.mktemp("data") / "X.f32"
    writer = np.memmap(path, dtype=np.float32, mode="w+", shape=(150_000, 16))
    writer[:] = np.random.default_rng(0).random(writer.shape, dtype=np.float32)
    writer.flush()
    del writer
    return np.memmap(path, dtype=np.float32, mode="r", shape=(150_000, 16))


def test_validation_does_not_copy_a_float32_memmap(memmap):
    ae = AutoencoderTransformer()
    checked = data_module.check_X(ae, memmap, reset=True)
    assert np.shares_memory(checked, memmap)
    assert ae.n_features_in_ == 16


def test_fit_on_a_memmap_allocates_far_less_than_the_data(memmap, fast):
    AutoencoderTransformer(**fast).fit(memmap[:100])  # imports, lazy init
    tracemalloc.start()
    try:
        ae = AutoencoderTransformer(**fast).fit(memmap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Chunked statistics and finiteness scans, one batch at a time: a copy or
    # a full-size temporary (even np.isfinite's boolean mask) would be >= 25%;
    # the float64 chunks of the statistics pass take about 11%.
    assert peak < 0.2 * memmap.nbytes, peak
    in_memory = AutoencoderTransformer(**fast).fit(np.array(memmap))
    assert_array_equal(ae.transform(memmap[:500]), in_memory.transform(memmap[:500]))


@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "Input X contains NaN."),
        (
            np.inf,
            "Input X contains infinity or a value too large for dtype('float32').",
        ),
    ],
)
def test_non_finite_values_are_found_chunk_by_chunk(tmp_path, value, message, fast):
    X = np.memmap(tmp_path / "X", dtype=np.float32, mode="w+", shape=(10_000, 4))
    X[:] = 0.5
    X[9_000, 2] = value  # in the third chunk
    scanned = []
    original = data_module.assert_all_finite

    def spy(values, **kwargs):
        scanned.append(len(values))
        return original(values, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data_module, "assert_all_finite", spy)
        with pytest.raises(ValueError, match=re.escape(message)):
            AutoencoderTransformer(**fast).fit(X)
    assert scanned == [4096, 4096, 10_000 - 8192]


def test_fit_and_transform_on_a_dask_array_chunk_by_chunk(monkeypatch, fast):
    da = pytest.importorskip("dask.array")
    X = np.random.default_rng(1).random((5000, 12), dtype=np.float32)
    dX = da.from_array(X, chunks=(1000, 12))
    computed = []
    original = data_module.LazyRows.__getitem__

    def spy(self, key):
        rows = original(self, key)
        computed.append(len(rows))
        return rows

    monkeypatch.setattr(data_module.LazyRows, "__getitem__", spy)
    params = {**fast, "batch_size": 500}
    ae = AutoencoderTransformer(**params).fit(dX)
    # Whole batches or scan chunks, never the whole array at once.
    assert max(computed) == data_module.CHUNK_ROWS < len(X)
    reference = AutoencoderTransformer(**params).fit(X)
    assert_array_equal(ae.transform(dX), reference.transform(X))
    assert ae.n_features_in_ == 12

    bad = X.copy()
    bad[4999, 0] = np.nan
    with pytest.raises(ValueError, match=re.escape("Input X contains NaN.")):
        AutoencoderTransformer(**params).fit(da.from_array(bad, chunks=(1000, 12)))
    with pytest.raises(ValueError, match="X has 5 features"):
        ae.transform(dX[:, :5])
