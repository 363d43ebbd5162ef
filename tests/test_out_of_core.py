"""Out-of-core input: memory maps and dask arrays are streamed, never copied."""

import re
import tracemalloc

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal

import sklearn_ae._data as data_module
import sklearn_ae._engine._net as net_module
import sklearn_ae._stats as stats_module
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
    # A memory map is shuffled by chunks of CHUNK_ROWS rows, as a dask array
    # with those chunks is: the same batches, the same model.
    da = pytest.importorskip("dask.array")
    chunked = da.from_array(np.array(memmap), chunks=(data_module.CHUNK_ROWS, 16))
    same = AutoencoderTransformer(**fast).fit(chunked)
    assert_array_equal(ae.transform(memmap[:500]), same.transform(memmap[:500]))


@pytest.mark.parametrize(
    "value, message",
    [
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
    original = stats_module.assert_all_finite

    def spy(values, **kwargs):
        scanned.append(len(values))
        return original(values, **kwargs)

    # fit checks finiteness in its statistics pass, transform on its own.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats_module, "assert_all_finite", spy)
        with pytest.raises(ValueError, match=re.escape(message)):
            AutoencoderTransformer(**fast).fit(X)
    assert scanned == [4096, 4096, 10_000 - 8192]
    fitted = AutoencoderTransformer(**fast).fit(X[:8000])
    with pytest.raises(ValueError, match=re.escape(message)):
        fitted.transform(X)


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
    # Scan chunks or groups of SHUFFLE_CHUNKS dask chunks, never the whole
    # array at once.
    assert max(computed) <= data_module.CHUNK_ROWS < len(X)
    assert 1000 * net_module.SHUFFLE_CHUNKS in computed
    assert_array_equal(ae.transform(dX), ae.transform(X))
    assert ae.n_features_in_ == 12

    bad = X.copy()
    bad[4999, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        AutoencoderTransformer(**params).fit(da.from_array(bad, chunks=(1000, 12)))
    with pytest.raises(ValueError, match="X has 5 features"):
        ae.transform(dX[:, :5])


class _CountingArray:
    """An ndarray that counts the rows read from it (by dask, in chunks)."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.ndim = X, X.shape, X.dtype, X.ndim
        self.rows_read = 0

    def __getitem__(self, key):
        out = self.X[key]
        self.rows_read += len(out)
        return out


def test_a_shuffled_epoch_over_dask_chunks_reads_each_chunk_once(fast):
    da = pytest.importorskip("dask.array")
    X = np.random.default_rng(0).random((5000, 12), dtype=np.float32)
    source = _CountingArray(X)
    dX = da.from_array(source, chunks=(500, 12), asarray=True)
    ae = AutoencoderTransformer(**{**fast, "batch_size": 64}).partial_fit(dX)
    source.rows_read = 0
    ae.partial_fit(dX)
    # The first row (shape and dtype checks), one finiteness scan, one epoch
    # of 79 shuffled batches: each chunk read twice. Drawing every batch from
    # a permutation of all rows reads whole chunks for a few rows each.
    assert source.rows_read == 1 + 2 * len(X)
    assert len(ae.net_.history[-1, "batches"]) == 79


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("epochs", [1, 4])
def test_a_fit_reads_a_chunked_source_once_per_epoch_and_twice_more(
    early_stopping, epochs, missing
):
    # The default model (PCA's start and race, early stopping) on a dask array
    # of 10 chunks: the first row (shape and dtype checks), one pass for the
    # statistics (finiteness, mean, scale and PCA's sums of the training and
    # validation rows together; the validation rows are kept in memory), one
    # per epoch (whole chunks, the validation rows among them), and one for
    # the explained variance unless PCA's solution is kept.
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, 12)).astype(np.float32)
    X[:, 6:] = np.tanh(X[:, :6]) ** 2  # a nonlinear part for the network
    if missing:  # found in the same statistics pass
        X[rng.random(X.shape) < 0.1] = np.nan
    source = _CountingArray(X)
    dX = da.from_array(source, chunks=(500, 12), asarray=True)
    ae = AutoencoderTransformer(
        4,
        hidden_layer_sizes=(16,),
        max_iter=epochs,
        n_iter_no_change=epochs,
        early_stopping=early_stopping,
        random_state=0,
    ).fit(dX)
    assert ae.n_iter_ == epochs
    assert ae.net_.missing == missing
    passes = 1 + epochs + (ae.best_epoch_ > 0)
    assert source.rows_read == 1 + passes * len(X)
    assert passes <= epochs + 2


def test_chunked_shuffle_is_reproducible_and_follows_random_state(fast):
    da = pytest.importorskip("dask.array")
    X = np.random.default_rng(0).random((3000, 12), dtype=np.float32)
    dX = da.from_array(X, chunks=(300, 12))
    params = {**fast, "batch_size": 64}
    fits = [
        AutoencoderTransformer(**{**params, "random_state": seed}).fit(dX)
        for seed in (0, 0, 1)
    ]
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    assert_array_equal(fits[0].transform(X), fits[1].transform(X))
    assert fits[0].loss_curve_ != fits[2].loss_curve_


@pytest.mark.parametrize("shuffle", [True, False])
def test_chunked_batches_cover_every_row_once(shuffle, monkeypatch):
    da = pytest.importorskip("dask.array")
    monkeypatch.setattr(net_module, "SHUFFLE_CHUNKS", 3)
    # Rows that name themselves, in 11 chunks of unequal size; a subset of
    # them, as a validation split would take.
    X = np.repeat(np.arange(1000, dtype=np.float32)[:, None], 2, axis=1)
    rows = data_module.LazyRows(da.from_array(X, chunks=((95,) * 10 + (50,), 2)))
    subset = np.sort(np.random.default_rng(0).choice(1000, 700, replace=False))
    for indices in (None, subset):
        dataset = data_module.RowDataset(rows, indices)
        batches = list(
            net_module.BatchIterator(
                dataset,
                batch_size=64,
                shuffle=shuffle,
                generator=torch.Generator().manual_seed(0),
                convert=lambda x: torch.from_numpy(x[:, 0].copy()),
            )
        )
        n = len(dataset)
        assert [len(b) for b, _ in batches] == [64] * (n // 64) + [n % 64]
        seen = torch.cat([b for b, _ in batches]).numpy()
        expected = np.arange(1000) if indices is None else indices
        assert_array_equal(np.sort(seen), expected)
        if not shuffle:  # the same consecutive batches as row by row
            assert_array_equal(seen, expected)


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("source", ["dense", "sparse", "memmap", "dask"])
def test_one_pass_gives_numpys_statistics_and_pcas_of_each_part(
    source, missing, tmp_path
):
    import scipy.sparse as sp
    from sklearn.decomposition import PCA
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(9000, 5)) * [1, 2, 3, 4, 5] + 1000).astype(np.float32)
    X[X < 997] = 0  # zeros for the sparse matrix
    if missing:  # the statistics of the observed cells, PCA of mean-filled rows
        hidden = rng.random(X.shape) < 0.2
        hidden[:, 4] = False  # no row empty
        X[hidden] = np.nan
    valid = np.sort(rng.choice(len(X), 900, replace=False))
    train = np.setdiff1d(np.arange(len(X)), valid)
    data = X
    if source == "sparse":
        data = sp.csr_matrix(X)
    elif source == "memmap":
        data = np.memmap(tmp_path / "X", dtype=np.float32, mode="w+", shape=X.shape)
        data[:] = X
    elif source == "dask":
        da = pytest.importorskip("dask.array")
        data = data_module.LazyRows(da.from_array(X, chunks=(1000, 5)))
    chunked = source in ("memmap", "dask")
    stats = stats_module.DataStats.read(
        data, train=train, valid=valid, pca=True, keep_valid=chunked
    )
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(stats.mean, np.nanmean(X64, axis=0), rtol=1e-12)
    centred = X64 - np.nanmean(X64, axis=0)
    squares = np.nansum(np.square(centred))
    np.testing.assert_allclose(stats.total_squares, squares, 1e-10)
    scaler = stats.scaler("mse")
    rms = np.sqrt(np.nanmean(np.square(centred)))
    assert scaler.scale == pytest.approx(rms, 1e-12)
    assert (stats.low, stats.high) == (np.nanmin(X), np.nanmax(X))
    assert stats.missing == missing
    X64 = SimpleImputer(keep_empty_features=True).fit_transform(X64)
    for rows, part in ((train, "train"), (None, "all")):
        ours = stats.pca.fit(part, 2)
        theirs = PCA(2).fit(X64 if rows is None else X64[rows])
        np.testing.assert_allclose(ours.mean, theirs.mean_, rtol=1e-12)
        np.testing.assert_allclose(ours.variances[:2], theirs.explained_variance_)
        np.testing.assert_allclose(ours.axes, theirs.components_, atol=1e-8)
    if chunked:
        assert_array_equal(stats.valid_rows, X[valid])
    else:
        assert stats.valid_rows is None
