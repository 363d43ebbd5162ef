"""Missing values (NaN): trained around, filled with the mean, never scored."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ae import AutoencoderTransformer
from sklearn_ae._missing import masked_mse


def _holes(X, share, seed=0):
    X = np.array(X, dtype=np.float32)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < share] = np.nan
    # Keep one observed cell per row.
    empty = np.isnan(X).all(axis=1)
    X[empty, 0] = 0.5
    return X


@pytest.fixture(scope="module")
def X_nan(digits):
    return _holes(digits[0][:300], 0.2)


def test_a_missing_cell_gives_no_gradient(X_nan, fast):
    ae = AutoencoderTransformer(**{**fast, "max_iter": 1}).fit(X_nan)
    net = ae.net_
    net.missing = True
    x = net.convert(X_nan[:32]).requires_grad_()
    x_hat, z, posterior = net.infer(x)
    x_hat.retain_grad()
    loss = net.get_loss((x_hat, z, posterior), x.detach(), training=True)
    net.module_.zero_grad()
    loss.backward()
    missing = torch.isnan(x)
    assert missing.any()
    # Neither through the loss (the output's gradient) nor through the fill
    # (the input's gradient) does a missing cell pass any gradient on.
    assert torch.all(x_hat.grad[missing] == 0)
    assert torch.all(x.grad[missing] == 0)
    assert torch.count_nonzero(x_hat.grad[~missing]) > 0.9 * (~missing).sum()
    # The weights' gradient is that of the mean over the observed cells.
    grads = [p.grad.clone() for p in net.module_.parameters()]
    net.module_.zero_grad()
    observed = ~missing
    x_hat_ref = net.module_.decode(net.module_.encode(torch.nan_to_num(x.detach())))
    ((x_hat_ref - x.detach())[observed] ** 2).mean().backward()
    for got, want in zip(grads, net.module_.parameters(), strict=True):
        assert_allclose(got.numpy(), want.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_the_masked_loss_is_the_mean_squared_error_without_nan():
    rng = np.random.default_rng(0)
    x_hat, target = (torch.as_tensor(rng.normal(size=(8, 5))) for _ in range(2))
    want = torch.nn.MSELoss()(x_hat, target)
    assert torch.allclose(masked_mse(x_hat, target), want, rtol=1e-12)
    target[0, 0] = torch.nan
    observed = ~torch.isnan(target)
    want = ((x_hat - target)[observed] ** 2).mean()
    assert torch.allclose(masked_mse(x_hat, target), want, rtol=1e-12)


def test_scaling_statistics_ignore_missing_cells(X_nan, fast):
    ae = AutoencoderTransformer(**fast).fit(X_nan)
    assert_allclose(ae.mean_, np.nanmean(X_nan.astype(np.float64), axis=0))
    centred = X_nan - ae.mean_
    assert_allclose(ae.scale_, np.sqrt(np.nanmean(centred**2)), rtol=1e-6)
    assert np.isfinite(ae.loss_curve_).all()
    assert np.isfinite(ae.explained_variance_fraction_)


def test_a_missing_input_is_the_training_mean(X_nan, fast):
    ae = AutoencoderTransformer(**fast).fit(X_nan)
    rows = X_nan[:20]
    filled = np.where(np.isnan(rows), ae.mean_.astype(np.float32), rows)
    assert np.isnan(rows).any()
    assert_array_equal(ae.transform(rows), ae.transform(filled))


def test_score_counts_observed_cells_only(X_nan, fast):
    ae = AutoencoderTransformer(**fast).fit(X_nan)
    rows = X_nan[:20]
    rec = ae.inverse_transform(ae.transform(rows)).astype(np.float64)
    want = -np.nanmean((rows - rec) ** 2, axis=1)
    assert_allclose(ae.score_samples(rows), want, rtol=1e-5)
    assert np.isclose(ae.score(rows), want.mean(), rtol=1e-5)


def test_a_reducer_fitted_with_nan_is_never_worse_than_mean_imputation_and_pca():
    X = StandardScaler().fit_transform(load_wine().data)
    X = _holes(X, 0.2).astype(np.float64)
    observed = ~np.isnan(X)
    ae = AutoencoderTransformer(2, random_state=0).fit(X)
    rec = ae.inverse_transform(ae.transform(X))
    rival = make_pipeline(SimpleImputer(), PCA(2)).fit(X)
    rec_pca = rival[-1].inverse_transform(rival.transform(X))
    ours = np.mean((rec - X)[observed] ** 2)
    theirs = np.mean((rec_pca - X)[observed] ** 2)
    assert ours <= theirs * (1 + 1e-6)


def test_a_row_with_nothing_observed_is_refused(X_nan, fast):
    X = X_nan.copy()
    X[7] = np.nan
    with pytest.raises(ValueError, match="Row 7 of X has no observed value"):
        AutoencoderTransformer(**fast).fit(X)
    ae = AutoencoderTransformer(**fast).fit(X_nan)
    with pytest.raises(ValueError, match="Row 7 of X has no observed value"):
        ae.score_samples(X)
    with pytest.raises(ValueError, match="Row 7 of X has no observed value"):
        ae.partial_fit(X)


def test_a_column_with_nothing_observed_is_refused(X_nan, fast):
    X = X_nan.copy()
    X[:, [3, 5]] = np.nan
    with pytest.raises(ValueError, match=r"Features \[3, 5\] of X have no observed"):
        AutoencoderTransformer(**fast).fit(X)


def test_infinity_is_still_refused(X_nan, fast):
    X = X_nan.copy()
    X[3, 3] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        AutoencoderTransformer(**fast).fit(X)


def test_bce_refuses_missing_values(X_nan, fast):
    ae = AutoencoderTransformer(**fast, loss="bce")
    assert not ae.__sklearn_tags__().input_tags.allow_nan
    with pytest.raises(ValueError, match="loss='bce' does not accept missing"):
        ae.fit(X_nan)
    ae.fit(np.nan_to_num(X_nan))
    with pytest.raises(ValueError, match="loss='bce'"):
        ae.transform(X_nan)


def test_partial_fit_with_nan(X_nan, fast):
    ae = AutoencoderTransformer(**fast)
    for chunk in np.array_split(X_nan, 3):
        ae.partial_fit(chunk)
    assert ae.n_iter_ == 3
    assert np.isfinite(ae.loss_curve_).all()
    assert_allclose(ae.mean_, np.nanmean(X_nan[:100].astype(np.float64), axis=0))
    # A model trained without NaN continues on data with NaN.
    clean = AutoencoderTransformer(**fast).fit(np.nan_to_num(X_nan))
    clean.partial_fit(X_nan)
    assert np.isfinite(clean.loss_curve_).all()
    assert np.isfinite(clean.transform(X_nan)).all()


def test_a_model_fitted_with_nan_saves_and_loads(X_nan, fast, tmp_path):
    ae = AutoencoderTransformer(**fast).fit(X_nan)
    ae.save(tmp_path / "model.zip")
    loaded = AutoencoderTransformer.load(tmp_path / "model.zip")
    assert_array_equal(loaded.transform(X_nan), ae.transform(X_nan))
    assert_array_equal(loaded.score_samples(X_nan), ae.score_samples(X_nan))
    # And trains on with NaN as the original does.
    ae.partial_fit(X_nan)
    loaded.partial_fit(X_nan)
    assert_allclose(loaded.transform(X_nan), ae.transform(X_nan), rtol=1e-6)


def test_a_memory_map_with_nan_fits_as_the_array(X_nan, fast, tmp_path):
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=np.float32, mode="w+", shape=X_nan.shape)
    writer[:] = X_nan
    writer.flush()
    mapped = np.memmap(path, dtype=np.float32, mode="r", shape=X_nan.shape)
    ae = AutoencoderTransformer(**fast).fit(mapped)
    assert_allclose(ae.mean_, np.nanmean(X_nan.astype(np.float64), axis=0))
    assert np.isfinite(ae.loss_curve_).all()
    assert np.isfinite(ae.transform(mapped)).all()


def test_a_dask_array_with_nan_fits_as_the_array(X_nan, fast):
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(X_nan, chunks=(100, X_nan.shape[1]))
    ae = AutoencoderTransformer(**fast).fit(lazy)
    assert_allclose(ae.mean_, np.nanmean(X_nan.astype(np.float64), axis=0))
    assert np.isfinite(ae.transform(lazy)).all()
