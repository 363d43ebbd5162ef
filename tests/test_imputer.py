"""AutoencoderImputer: fills missing cells, keeps observed ones, fits in pipelines."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from sklearn_ae import AutoencoderImputer

_FAST = {"hidden_layer_sizes": (16,), "max_iter": 30, "random_state": 0}


@pytest.fixture(scope="module")
def low_rank():
    """Rows on a 3-dimensional plane in 8 features, 15% of cells missing."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)) @ rng.normal(size=(3, 8))
    X += 0.05 * rng.normal(size=X.shape)
    X = X * np.arange(1, 9) + 10 * np.arange(8)  # unequal scales and means
    holes = rng.random(X.shape) < 0.15
    holes[holes.all(axis=1), 0] = False
    X_nan = X.copy()
    X_nan[holes] = np.nan
    return X, X_nan, holes


def test_observed_cells_pass_through_unchanged(low_rank):
    _, X_nan, holes = low_rank
    X_filled = AutoencoderImputer(**_FAST).fit(X_nan).transform(X_nan)
    assert not np.isnan(X_filled).any()
    assert_array_equal(X_filled[~holes], X_nan[~holes])
    float32 = X_nan.astype(np.float32)
    filled32 = AutoencoderImputer(**_FAST).fit(float32).transform(float32)
    assert filled32.dtype == np.float32
    assert_array_equal(filled32[~holes], float32[~holes])


def test_it_imputes_better_than_the_mean(low_rank):
    X, X_nan, holes = low_rank
    ours = AutoencoderImputer(random_state=0).fit_transform(X_nan)
    mean = SimpleImputer().fit_transform(X_nan)
    error = np.sqrt(np.mean((ours - X)[holes] ** 2))
    baseline = np.sqrt(np.mean((mean - X)[holes] ** 2))
    assert error < 0.5 * baseline, (error, baseline)


def test_a_number_as_the_missing_value(low_rank):
    _, X_nan, holes = low_rank
    X = np.where(holes, -1.0, X_nan)
    imputer = AutoencoderImputer(missing_values=-1.0, **_FAST).fit(X)
    filled = imputer.transform(X)
    assert not (filled[holes] == -1).all()
    assert_array_equal(filled[~holes], X[~holes])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        imputer.transform(X_nan)


def test_the_indicator_and_feature_names(low_rank):
    _, X_nan, _ = low_rank
    X_nan = X_nan.copy()
    X_nan[:, 2] = np.where(np.isnan(X_nan[:, 2]), 0.0, X_nan[:, 2])  # complete
    imputer = AutoencoderImputer(add_indicator=True, **_FAST).fit(X_nan)
    out = imputer.transform(X_nan)
    flagged = [j for j in range(8) if j != 2]
    assert out.shape == (400, 8 + 7)
    assert_array_equal(out[:, 8:], np.isnan(X_nan[:, flagged]))
    names = imputer.get_feature_names_out()
    assert list(names[:2]) == ["x0", "x1"]
    assert list(names[8:10]) == ["missingindicator_x0", "missingindicator_x1"]
    rival = SimpleImputer(add_indicator=True).fit(X_nan)
    assert_array_equal(names, rival.get_feature_names_out())


def test_it_works_in_pipelines_and_column_transformers(low_rank):
    pd = pytest.importorskip("pandas")
    _, X_nan, _ = low_rank
    frame = pd.DataFrame(X_nan, columns=[f"f{j}" for j in range(8)])
    pipe = make_pipeline(AutoencoderImputer(**_FAST), PCA(2)).fit(frame)
    assert pipe.transform(frame).shape == (400, 2)
    columns = ColumnTransformer(
        [("ae", AutoencoderImputer(add_indicator=True, **_FAST), ["f0", "f1", "f3"])],
        remainder="drop",
    ).set_output(transform="pandas")
    out = columns.fit_transform(frame)
    assert list(out.columns[:3]) == ["ae__f0", "ae__f1", "ae__f3"]
    assert list(out.columns[3:]) == [
        "ae__missingindicator_f0",
        "ae__missingindicator_f1",
        "ae__missingindicator_f3",
    ]
    assert not out.isna().any().any()


def test_an_empty_column_is_refused(low_rank):
    _, X_nan, _ = low_rank
    X = X_nan.copy()
    X[:, 4] = np.nan
    with pytest.raises(ValueError, match=r"Features \[4\] of X have no observed"):
        AutoencoderImputer(**_FAST).fit(X)


def test_an_empty_row_is_left_out_of_training_and_still_filled(low_rank):
    _, X_nan, _ = low_rank
    X = X_nan.copy()
    X[9] = np.nan
    imputer = AutoencoderImputer(**_FAST).fit(X)
    reference = AutoencoderImputer(**_FAST).fit(np.delete(X, 9, axis=0))
    assert_array_equal(imputer.transform(X_nan), reference.transform(X_nan))
    # Such a row gets the reconstruction of the mean.
    assert np.isfinite(imputer.transform(X[:10])).all()


def test_the_linear_model_fills_with_the_gaussian_conditional_mean():
    from sklearn_ae._ppca_fill import PPCAFill

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12))
    missing = rng.random(X.shape) < 0.3
    missing[missing.all(axis=1), 0] = False
    X_nan = np.where(missing, np.nan, X)
    model = PPCAFill(6).fit(X_nan, missing)
    filled = model.fill(X_nan, missing)
    covariance, mean = np.linalg.inv(model.precision_), model.mean_
    for i in range(len(X)):
        m, o = missing[i], ~missing[i]
        want = mean[m] + covariance[np.ix_(m, o)] @ np.linalg.solve(
            covariance[np.ix_(o, o)], X[i, o] - mean[o]
        )
        np.testing.assert_allclose(filled[i, m], want, atol=1e-10)
    assert_array_equal(filled[~missing], X[~missing])


def test_the_linear_model_as_wide_as_the_input_fills_finite_values():
    import warnings

    from sklearn_ae._ppca_fill import PPCAFill

    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    missing = rng.random(X.shape) < 0.2
    missing[missing.all(axis=1), 0] = False
    X_nan = np.where(missing, np.nan, X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no mean of nothing
        model = PPCAFill(4).fit(X_nan, missing)
    assert np.isfinite(model.precision_).all()
    assert np.isfinite(model.fill(X_nan, missing)).all()


def test_it_weighs_the_network_and_the_linear_model_on_held_out_cells(low_rank):
    X, X_nan, holes = low_rank
    imputer = AutoencoderImputer(**_FAST).fit(X_nan)
    assert 0.0 <= imputer.network_weight_ <= 1.0
    assert 1 <= imputer.linear_.n_components < X.shape[1]
    # On rows near a plane the blend imputes at least as well as either part.
    part = (X_nan - imputer.mean_) / imputer.scale_
    network = imputer._reconstruct(part) * imputer.scale_ + imputer.mean_
    linear = imputer.linear_.fill(part, holes) * imputer.scale_ + imputer.mean_
    blend = imputer.transform(X_nan)

    def rmse(filled):
        return np.sqrt(np.mean((filled - X)[holes] ** 2))

    assert rmse(blend) <= 1.02 * min(rmse(network), rmse(linear))


# The rival at its defaults (as in the benchmark) stops at max_iter=10 here.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_it_imputes_correlated_features_nearly_as_well_as_iterative_imputer():
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    # Features that are near-linear functions of each other (as
    # breast_cancer's radius, perimeter and area), 20% of cells missing.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 12))
    X += 0.1 * rng.normal(size=X.shape)
    holes = rng.random(X.shape) < 0.2
    holes[holes.all(axis=1), 0] = False
    X_nan = np.where(holes, np.nan, X)
    ours = AutoencoderImputer(**_FAST).fit_transform(X_nan)
    theirs = IterativeImputer(random_state=0).fit_transform(X_nan)
    error = np.sqrt(np.mean((ours - X)[holes] ** 2))
    rival = np.sqrt(np.mean((theirs - X)[holes] ** 2))
    # The network alone is 3-4 times worse here; the linear model carries it
    # to within 15% of IterativeImputer (about 11% on this seed).
    assert error <= 1.15 * rival, (error, rival)
