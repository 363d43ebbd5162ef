"""Behaviour of AutoencoderTransformer that users rely on."""

import io
import pickle
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from skorch.callbacks import Callback

import sklearn_ae._data as data_module
from sklearn_ae import AutoencoderTransformer

# ----------------------------------------------------------------- basics


def test_shapes_and_fitted_attributes(fitted, X_small):
    Z = fitted.transform(X_small)
    assert Z.shape == (300, 4)
    assert fitted.inverse_transform(Z).shape == X_small.shape
    assert fitted.n_features_in_ == 64
    assert fitted.n_components_ == 4
    assert fitted.n_iter_ == len(fitted.loss_curve_) == len(fitted.net_.history)
    assert fitted.validation_loss_curve_ is None
    assert fitted.module_ is fitted.net_.module_
    assert fitted.mean_.shape == (64,)
    assert_allclose(fitted.mean_, X_small.mean(axis=0), rtol=1e-6)


def test_training_reduces_the_loss_and_beats_pca_on_held_out_data(
    fitted, X_small, digits
):
    # (The first epoch starts from PCA's solution: training improves on it.)
    assert fitted.loss_curve_[-1] < 0.7 * fitted.loss_curve_[0]
    X_test = digits[0][300:800]
    pca = PCA(n_components=4).fit(X_small)
    pca_mse = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert -fitted.score(X_test) < pca_mse


def test_fit_returns_self_and_fit_transform_matches_transform(X_small, fast):
    ae = AutoencoderTransformer(**fast)
    assert ae.fit(X_small) is ae
    Z = AutoencoderTransformer(**fast).fit_transform(X_small)
    assert_array_equal(Z, ae.transform(X_small))


def test_score_is_negative_mean_squared_reconstruction_error(fitted, X_small):
    X64 = X_small.astype(np.float64)
    X_hat = fitted.inverse_transform(fitted.transform(X64))
    per_sample = np.mean((X64 - X_hat) ** 2, axis=1)
    assert_allclose(fitted.score_samples(X64), -per_sample, rtol=1e-10)
    assert fitted.score(X64) == pytest.approx(-per_sample.mean(), rel=1e-10)


def test_score_samples_flags_anomalies(fitted, X_small):
    noise = np.random.default_rng(0).uniform(0, 1, size=(50, 64)).astype(np.float32)
    assert fitted.score_samples(noise).max() < np.median(fitted.score_samples(X_small))


def test_feature_names_out(fitted):
    assert_array_equal(
        fitted.get_feature_names_out(),
        [f"autoencodertransformer{i}" for i in range(4)],
    )


def test_bce_reconstructions_are_probabilities(X_small, fast):
    ae = AutoencoderTransformer(loss="bce", **fast).fit(X_small)
    X_hat = ae.inverse_transform(ae.transform(X_small))
    assert X_hat.min() >= 0 and X_hat.max() <= 1
    assert ae.mean_ is None and ae.scale_ == 1.0


def test_bce_rejects_data_outside_unit_interval(X_small, fast):
    with pytest.raises(ValueError, match=r"loss='bce' needs X in \[0, 1\]"):
        AutoencoderTransformer(loss="bce", **fast).fit(X_small * 16)


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", torch.optim.AdamW])
def test_optimizers_by_name_or_class(optimizer, X_small, fast):
    ae = AutoencoderTransformer(optimizer=optimizer, learning_rate=1e-2, **fast)
    ae.fit(X_small)
    expected = optimizer if isinstance(optimizer, type) else None
    if expected is not None:
        assert isinstance(ae.net_.optimizer_, expected)
    assert ae.net_.optimizer_.param_groups[0]["lr"] == 1e-2


def test_single_layer_model_is_the_articles_shape():
    X = np.random.default_rng(0).uniform(size=(40, 784)).astype(np.float32)
    ae = AutoencoderTransformer(32, hidden_layer_sizes=(), max_iter=1).fit(X)
    shapes = [tuple(p.shape) for p in ae.module_.parameters()]
    assert shapes == [(32, 784), (32,), (784, 32), (784,)]


# ------------------------------------------------------------ data types


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(fitted, X_small, dtype):
    X = X_small.astype(dtype)
    Z = fitted.transform(X)
    assert Z.dtype == dtype
    assert fitted.inverse_transform(Z).dtype == dtype
    assert_allclose(Z, fitted.transform(X_small), rtol=1e-4, atol=1e-5)


def test_integer_input_gives_float64(digits, fast):
    X_int = (digits[0][:100] * 16).astype(np.int64)
    ae = AutoencoderTransformer(**fast).fit(X_int)
    assert ae.transform(X_int).dtype == np.float64


def test_pandas_feature_names_and_set_output(X_small, fast):
    df = pd.DataFrame(X_small, columns=[f"px{i}" for i in range(64)])
    ae = AutoencoderTransformer(**fast).set_output(transform="pandas").fit(df)
    assert_array_equal(ae.feature_names_in_, df.columns)
    Z = ae.transform(df)
    assert isinstance(Z, pd.DataFrame)
    assert list(Z.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert ae.inverse_transform(Z).shape == (300, 64)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        ae.transform(X_small)


def test_sparse_input_matches_dense_and_is_densified_per_batch(
    X_small, monkeypatch, fast
):
    X_sp = sp.csr_matrix(X_small)
    densified = []
    original = sp.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        densified.append(self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sp.csr_matrix, "toarray", spy)
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 128)
    params = {**fast, "batch_size": 32}
    ae_sparse = AutoencoderTransformer(**params).fit(X_sp)
    Z_sparse = ae_sparse.transform(X_sp)
    assert densified and max(densified) <= 128 < X_sp.shape[0]

    ae_dense = AutoencoderTransformer(**params).fit(X_small)
    assert_allclose(Z_sparse, ae_dense.transform(X_small), rtol=1e-5, atol=1e-6)


def test_transform_does_not_depend_on_batching(fitted, X_small, monkeypatch):
    X = X_small.astype(np.float64)
    Z = fitted.transform(X)
    pieces = [
        fitted.transform(X[:1]),
        fitted.transform(X[1:77]),
        fitted.transform(X[77:]),
    ]
    assert_allclose(np.vstack(pieces), Z, rtol=1e-12, atol=1e-12)
    # The training batch size plays no part in inference.
    before = fitted.batch_size
    try:
        fitted.set_params(batch_size=3)
        assert_array_equal(fitted.transform(X), Z)
    finally:
        fitted.set_params(batch_size=before)
    monkeypatch.setattr(data_module, "CHUNK_ROWS", 7)
    assert_allclose(fitted.transform(X), Z, rtol=1e-12, atol=1e-12)
    assert_allclose(
        fitted.inverse_transform(Z),
        np.vstack([fitted.inverse_transform(Z[:50]), fitted.inverse_transform(Z[50:])]),
        rtol=1e-12,
        atol=1e-12,
    )


def test_transform_runs_in_eval_mode(fitted, X_small):
    ae = pickle.loads(pickle.dumps(fitted))  # the shared fixture stays untouched
    ae.module_.train()
    ae.transform(X_small)
    assert not ae.module_.training


# ---------------------------------------------------------- reproducibility


def test_same_seed_same_result_different_seed_different(X_small, fast):
    Z1 = AutoencoderTransformer(**fast).fit_transform(X_small)
    Z2 = AutoencoderTransformer(**fast).fit_transform(X_small)
    assert_array_equal(Z1, Z2)
    Z3 = AutoencoderTransformer(**{**fast, "random_state": 1}).fit_transform(X_small)
    assert not np.allclose(Z1, Z3)


def test_refit_is_reproducible_with_early_stopping(X_small, fast):
    ae = AutoencoderTransformer(**{**fast, "early_stopping": True})
    Z1 = ae.fit_transform(X_small)
    assert_array_equal(ae.fit_transform(X_small), Z1)


@pytest.mark.parametrize("random_state", [0, None, np.random.RandomState(3)])
def test_global_rng_state_is_left_alone(X_small, random_state, fast):
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    AutoencoderTransformer(**{**fast, "random_state": random_state}).fit(X_small)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert_array_equal(after[1], np_state[1])
    assert after[2] == np_state[2]


def test_init_does_no_work():
    ae = AutoencoderTransformer(n_components=-5, hidden_layer_sizes="nonsense")
    assert ae.n_components == -5
    assert not any(k.endswith("_") for k in vars(ae))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "Input X contains NaN"),
        (
            np.array([[1.0, np.inf], [0.0, 1.0]]),
            ValueError,
            "Input X contains infinity",
        ),
        (np.empty((0, 3)), ValueError, r"Found array with 0 sample\(s\)"),
        (np.ones(5), ValueError, "Expected 2D array, got 1D array instead"),
        (np.ones((2, 3, 4)), ValueError, "Found array with dim 3"),
        (np.ones((3, 2)) + 1j, ValueError, "Complex data not supported"),
        (np.array([["a", "b"], ["c", "d"]]), ValueError, "could not convert"),
    ],
)
def test_bad_input_raises_sklearns_errors(X, error, message, fast):
    with pytest.raises(error, match=message):
        AutoencoderTransformer(**fast).fit(X)


def test_bad_input_to_a_fitted_model_loses_nothing(fitted, X_small):
    Z = fitted.transform(X_small)
    bad = X_small.copy()
    bad[0, 0] = np.nan
    ae = clone(fitted).fit(X_small)
    Z_before = ae.transform(X_small)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        ae.fit(bad)
    assert_array_equal(ae.transform(X_small), Z_before)
    assert Z.shape == Z_before.shape


def test_wrong_number_of_features(fitted, X_small):
    with pytest.raises(
        ValueError,
        match="X has 10 features, but AutoencoderTransformer is expecting 64",
    ):
        fitted.transform(X_small[:, :10])
    with pytest.raises(
        ValueError,
        match="X has 5 features, but AutoencoderTransformer is expecting 4",
    ):
        fitted.inverse_transform(np.zeros((3, 5)))


def test_not_fitted_errors(X_small):
    ae = AutoencoderTransformer()
    for method in (ae.transform, ae.inverse_transform, ae.score, ae.score_samples):
        with pytest.raises(NotFittedError):
            method(X_small)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": -1}, "'n_components' parameter of AutoencoderTransformer"),
        ({"loss": "mae"}, "'loss' parameter of AutoencoderTransformer must be a str"),
        ({"activation": "swish"}, "'activation' parameter"),
        ({"optimizer": "lbfgs"}, "'optimizer' parameter"),
        ({"learning_rate": 0.0}, "'learning_rate' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
    ],
)
def test_invalid_parameters(params, message, X_small):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        AutoencoderTransformer(**params).fit(X_small)


def test_invalid_hidden_layer_sizes_and_device(X_small, fast):
    with pytest.raises(ValueError, match="must be a tuple of positive ints"):
        AutoencoderTransformer(hidden_layer_sizes=(8, 0)).fit(X_small)
    with pytest.raises(ValueError, match="'device' parameter"):
        AutoencoderTransformer(device="quantum", **fast).fit(X_small)


def test_too_little_data_for_a_validation_split():
    with pytest.raises(ValueError, match="no sample is left for training"):
        AutoencoderTransformer(early_stopping=True, validation_fraction=0.5).fit(
            np.ones((1, 3))
        )


# --------------------------------------------------------------- divergence


def test_divergence_is_an_error_and_leaves_the_estimator_as_it_was(X_small, fast):
    diverging = {"optimizer": "sgd", "learning_rate": 1e12}
    unfitted = AutoencoderTransformer(**fast, **diverging)
    with pytest.raises(ValueError, match=r"Training diverged: .* \(epoch 1\)\. Try"):
        unfitted.fit(X_small * 100)
    with pytest.raises(NotFittedError):
        unfitted.transform(X_small)

    # A fitted model keeps its previous, good fit, whether fit or partial_fit
    # diverges.
    ae = AutoencoderTransformer(**fast).fit(X_small)
    net, before, curve = ae.net_, ae.transform(X_small), list(ae.loss_curve_)
    ae.set_params(**diverging)
    with pytest.raises(ValueError, match="left as it was before this call"):
        ae.fit(X_small * 100)
    assert ae.net_ is net and ae.loss_curve_ == curve
    assert_array_equal(ae.transform(X_small), before)
    net.optimizer_.param_groups[0]["lr"] = 1e12  # partial_fit keeps the optimizer
    with pytest.raises(ValueError, match="Training diverged"):
        ae.partial_fit(X_small * 100)
    assert ae.n_iter_ == len(curve) and ae.loss_curve_ == curve
    assert_array_equal(ae.transform(X_small), before)


def test_huge_values_are_scaled_not_overflowed(fast):
    X = np.random.default_rng(0).normal(size=(60, 5)) * 1e30
    ae = AutoencoderTransformer(**fast).fit(X)
    Z = ae.transform(X)
    assert np.isfinite(Z).all()
    assert ae.scale_ == pytest.approx(1e30, rel=0.5)


def test_values_too_large_for_float64_statistics(fast):
    X = np.full((4, 2), 1e200)
    X[0] = -1e200
    with pytest.raises(ValueError, match="too large to be centred and scaled"):
        AutoencoderTransformer(**fast).fit(X)


# ---------------------------------------------------------------- training


@pytest.mark.parametrize("init, epochs", [("random", 3), ("pca", 2)])
def test_early_stopping_keeps_a_validation_curve(X_small, fast, init, epochs):
    ae = AutoencoderTransformer(
        **{**fast, "early_stopping": True, "max_iter": 50, "init": init},
        n_iter_no_change=2,
        tol=10.0,
    ).fit(X_small)
    # With tol=10 no epoch counts as an improvement: from a random start the
    # run stops after the first epoch plus n_iter_no_change epochs without
    # improvement; from PCA's start, which is epoch 0, after n_iter_no_change.
    assert ae.n_iter_ == epochs
    assert len(ae.validation_loss_curve_) == epochs
    valid_rows = len(ae.net_.history[-1, "batches"][0])
    assert valid_rows > 0


def test_training_loss_plateau_stops_without_early_stopping(X_small):
    ae = AutoencoderTransformer(
        max_iter=50,
        n_iter_no_change=3,
        tol=10.0,
        hidden_layer_sizes=(8,),
        early_stopping=False,
    ).fit(X_small)
    assert ae.n_iter_ == 4


def test_user_callbacks_are_called(X_small, fast):
    class CountEpochs(Callback):
        def initialize(self):
            self.epochs = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = CountEpochs()
    AutoencoderTransformer(callbacks=[("count", counter)], **fast).fit(X_small)
    assert counter.epochs == fast["max_iter"]


# ------------------------------------------------- scikit-learn integration


def test_pickle_round_trip(fitted, X_small):
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.transform(X_small), fitted.transform(X_small))


def test_joblib_round_trip(fitted, X_small):
    import joblib

    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    buffer.seek(0)
    assert_array_equal(
        joblib.load(buffer).transform(X_small), fitted.transform(X_small)
    )


def test_clone_gives_an_unfitted_copy(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        copy.transform(np.zeros((1, 64)))


def test_grid_search_in_a_classification_pipeline(digits):
    X, y = digits[0][:600], digits[1][:600]
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(
            hidden_layer_sizes=(32,), learning_rate=1e-2, max_iter=20, random_state=0
        ),
        LogisticRegression(max_iter=500),
    )
    search = GridSearchCV(pipe, {"autoencodertransformer__n_components": [2, 16]}, cv=2)
    search.fit(X, y)
    assert search.best_params_ == {"autoencodertransformer__n_components": 16}
    assert search.best_score_ > 0.8


def test_grid_search_without_y_uses_reconstruction_score(X_small, fast):
    search = GridSearchCV(
        AutoencoderTransformer(**fast, learning_rate=1e-2),
        {"n_components": [1, 12]},
        cv=2,
    )
    search.fit(X_small)
    assert search.best_params_ == {"n_components": 12}


def test_pipeline_into_tsne(X_small, fast):
    pipe = make_pipeline(
        AutoencoderTransformer(**{**fast, "n_components": 8}),
        TSNE(n_components=2, perplexity=10, random_state=0),
    )
    assert pipe.fit_transform(X_small[:100]).shape == (100, 2)


def test_column_transformer_with_pandas_output(X_small, fast):
    df = pd.DataFrame(X_small[:, :10], columns=[f"c{i}" for i in range(10)])
    ct = ColumnTransformer(
        [("ae", AutoencoderTransformer(**fast), [f"c{i}" for i in range(8)])],
        remainder="passthrough",
    ).set_output(transform="pandas")
    out = ct.fit_transform(df)
    assert list(out.columns) == [
        "ae__autoencodertransformer0",
        "ae__autoencodertransformer1",
        "ae__autoencodertransformer2",
        "remainder__c8",
        "remainder__c9",
    ]


def test_replaces_pca_in_the_same_code(digits, fast):
    X = digits[0][:400]
    for reducer in (
        PCA(n_components=5),
        AutoencoderTransformer(**{**fast, "n_components": 5}),
    ):
        Z = reducer.fit_transform(X)
        assert Z.shape == (400, 5)
        assert reducer.inverse_transform(Z).shape == X.shape
        assert reducer.get_feature_names_out().shape == (5,)
