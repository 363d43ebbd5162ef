"""Swapping PCA for the autoencoder: PCA's n_components, a shared scorer."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ae import AutoencoderTransformer
from sklearn_ae._config import validation_split
from sklearn_ae._engine._net import AutoencoderNet
from sklearn_ae._pca import PCAStart, decision_split
from sklearn_ae.metrics import reconstruction_mse, reconstruction_scorer


@pytest.mark.parametrize("n_components", [None, 0, 5, 0.5, 0.9, "mle"])
def test_n_components_means_what_it_means_to_pca(digits, fast, n_components):
    # A little noise: Minka's MLE (PCA's own too) fails on constant pixels.
    X = digits[0][:400] + np.random.default_rng(0).normal(0, 0.01, (400, 64))
    ae = AutoencoderTransformer(**{**fast, "n_components": n_components}).fit(X)
    pca = PCA(n_components).fit(X)
    assert ae.n_components_ == pca.n_components_
    # PCA's type too (numpy's integer when counted from the spectrum): code
    # such as the gallery's `"label" % pca.n_components_` behaves the same.
    assert type(ae.n_components_) is type(pca.n_components_)
    Z = ae.transform(X)
    assert Z.shape == (400, pca.n_components_)
    assert 0 < ae.n_components_ < 64 or n_components in (None, 0)
    assert ae.inverse_transform(Z).shape == X.shape
    assert len(ae.get_feature_names_out()) == pca.n_components_


def test_n_components_keeps_pcas_type_through_save_and_load(X_small, fast, tmp_path):
    X = X_small + np.random.default_rng(0).normal(0, 0.01, X_small.shape)
    ae = AutoencoderTransformer(**{**fast, "n_components": 0.9}).fit(X)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / "ae.zip"))
    assert loaded.n_components_ == ae.n_components_
    assert type(loaded.n_components_) is type(PCA(0.9).fit(X).n_components_)


def test_an_empty_code_reconstructs_the_mean(X_small, fast):
    ae = AutoencoderTransformer(**{**fast, "n_components": 0, "max_iter": 30})
    Z = ae.fit(X_small).transform(X_small)
    assert Z.shape == (300, 0)
    X_hat = ae.inverse_transform(Z)
    mean = np.broadcast_to(X_small.mean(axis=0), X_hat.shape)
    assert_allclose(X_hat, mean, atol=0.01)


def test_n_components_errors_are_pcas(X_small, fast):
    with pytest.raises(ValueError, match=re.escape("only supported if n_samples >=")):
        AutoencoderTransformer(**{**fast, "n_components": "mle"}).fit(X_small[:20])
    for bad in (-1, 1.0, 1.5, "auto"):
        with pytest.raises(InvalidParameterError, match="'n_components' parameter"):
            AutoencoderTransformer(**{**fast, "n_components": bad}).fit(X_small)


def test_scorer_ranks_pca_and_the_autoencoder_by_their_mse(digits):
    X = digits[0][:600]
    weak = AutoencoderTransformer(  # a random network, barely trained
        8, init="random", max_iter=1, learning_rate=1e-5, random_state=0
    )
    pipe = Pipeline([("scale", StandardScaler()), ("reduce", PCA(8))])
    search = GridSearchCV(
        pipe,
        {"reduce": [PCA(8), weak, PCA(2)]},
        scoring=reconstruction_scorer,
        cv=[(np.arange(400), np.arange(400, 600))],
    ).fit(X)
    scores = search.cv_results_["mean_test_score"]
    held_out = X[400:]
    mses = [
        reconstruction_mse(
            Pipeline([("scale", StandardScaler()), ("reduce", reducer)]).fit(X[:400]),
            held_out,
        )
        for reducer in (PCA(8), weak, PCA(2))
    ]
    assert_allclose(scores, -np.array(mses), rtol=1e-6)
    assert np.argsort(scores).tolist() == np.argsort(-np.array(mses)).tolist()
    assert search.best_params_["reduce"].__class__ is PCA


# ------------------------------------------------------ PCA's start and race


def _pca_model(X, k):
    pca = PCA(k).fit(X)
    return pca, pca.transform(X), pca.inverse_transform(pca.transform(X))


def test_too_few_rows_give_pcas_solution_untrained(digits):
    X = digits[0][:25] * 16  # the digits' own units: scale_ is about 6
    ae = AutoencoderTransformer(4, random_state=0).fit(X)
    assert (ae.n_iter_, ae.best_epoch_, ae.loss_curve_) == (0, 0, [])
    pca, Z, X_hat = _pca_model(X, 4)
    assert_allclose(ae.transform(X), Z, atol=1e-4)  # PCA's scores, X's units
    assert_allclose(ae.inverse_transform(ae.transform(X)), X_hat, atol=1e-4)
    assert ae.explained_variance_fraction_ == pytest.approx(
        pca.explained_variance_ratio_.sum(), rel=1e-6
    )


def test_training_starts_at_pcas_reconstruction(X_small):
    # A step too small to move the weights: what remains is the start.
    ae = AutoencoderTransformer(
        5,
        learning_rate=1e-12,
        max_iter=1,
        early_stopping=False,
        random_state=0,
    ).fit(X_small)
    _, Z, X_hat = _pca_model(X_small, 5)  # (float32 rounding apart)
    assert_allclose(ae.transform(X_small), Z, atol=1e-4)
    assert_allclose(ae.inverse_transform(ae.transform(X_small)), X_hat, atol=1e-4)
    random = AutoencoderTransformer(
        5, init="random", learning_rate=1e-12, max_iter=1, early_stopping=False
    ).fit(X_small)
    assert not np.allclose(random.transform(X_small), Z, atol=0.1)


def test_a_network_that_does_not_beat_pca_is_replaced_by_pcas_solution(X_small):
    # Steps far too large: no epoch's validation loss beats the start.
    ae = AutoencoderTransformer(5, learning_rate=0.1, max_iter=5, random_state=0)
    ae.fit(X_small)
    assert ae.best_epoch_ == 0 and ae.n_iter_ == 5
    _, Z, _ = _pca_model(X_small, 5)  # of all rows, not of the training part
    assert_allclose(ae.transform(X_small), Z, atol=1e-4)


def test_the_network_kept_is_the_best_epoch_and_beats_pca(digits):
    X_train, X_test = digits[0][:800], digits[0][800:1300]
    ae = AutoencoderTransformer(8, random_state=0).fit(X_train)
    assert 0 < ae.best_epoch_ < ae.n_iter_  # (it stopped later: 100 epochs)
    assert ae.best_epoch_ == int(np.argmin(ae.validation_loss_curve_)) + 1
    # The weights kept are that epoch's: their error on the rows that chose
    # it is the lowest of the curve, not the last epoch's.
    _, valid = validation_split(ae.get_params(), len(X_train), ae._seed)
    select, _ = decision_split(valid, ae._seed)
    assert -ae.score(X_train[select]) == pytest.approx(
        min(ae.validation_loss_curve_), rel=1e-5
    )
    pca = PCA(8).fit(X_train)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert -ae.score(X_test) < 0.8 * pca_error
    assert ae.explained_variance_fraction_ > pca.explained_variance_ratio_.sum()


def test_init_pca_needs_what_pca_can_give(X_small):
    message = "must be between 0 and min(n_samples, n_features)=64 with init='pca'"
    with pytest.raises(ValueError, match=re.escape(message)):
        AutoencoderTransformer(70, init="pca").fit(X_small)
    with pytest.raises(ValueError, match="init='pca' needs architecture='mlp'"):
        AutoencoderTransformer(3, init="pca", loss="bce").fit(X_small)
    # "auto" falls back to a random start where PCA's cannot be had.
    with pytest.warns(UserWarning, match="the code is overcomplete"):
        wide = AutoencoderTransformer(70, max_iter=2, random_state=0).fit(X_small)
    assert wide.transform(X_small).shape == (300, 70)


def test_batch_size_auto_gives_about_ten_steps_per_epoch(X_small):
    ae = AutoencoderTransformer(3, max_iter=1, early_stopping=False).fit(X_small)
    assert len(ae.net_.history[-1, "batches"]) == 10  # 300 rows, 30 a batch
    # On more rows the batch stops growing: at 256 rows from PCA's start, at
    # 64 from a random one.
    X = np.tile(X_small, (10, 1))  # 3,000 rows
    steps = {}
    for init in ("auto", "random"):
        ae = AutoencoderTransformer(3, init=init, max_iter=1, early_stopping=False)
        steps[init] = len(ae.fit(X).net_.history[-1, "batches"])
    assert steps == {"auto": 12, "random": 47}  # 3000 / 256, 3000 / 64


@pytest.mark.parametrize(
    "gain, kept_network",
    [
        # Better on average but not beyond noise (p about 0.34): PCA is kept.
        (np.array([0.5, -0.4, 0.6, -0.3, 0.2, -0.1, 0.1, 0.0, 0.05, -0.2]), False),
        # Better on every row: the trained network stays.
        (np.linspace(0.1, 0.2, 10), True),
    ],
)
def test_the_network_is_kept_only_if_it_beats_pca_beyond_noise(gain, kept_network):
    from sklearn_ae._pca import PCA_TEST_LEVEL

    errors_at_pca = np.full(10, 2.0)
    start = PCAStart(
        pca=None,
        n_components=2,
        scaler=None,
        decision_errors=lambda: errors_at_pca - gain,
    )
    start.errors_ = errors_at_pca
    kept_pca = []
    start.keep_pca = kept_pca.append
    assert start.settle(net=None, best_epoch=3) is kept_network
    assert (start.p_value_ < PCA_TEST_LEVEL) is kept_network
    assert bool(kept_pca) is not kept_network


def test_the_decision_never_sees_the_rows_that_chose_the_epoch(X_small, monkeypatch):
    from sklearn_ae._data import RowDataset

    # Which rows each stage reads: training (the batches and the validation
    # epochs that choose the epoch), then the PCA-or-network decision.
    stage, read = ["fit"], {"fit": set(), "decide": set()}
    rows = RowDataset.rows

    def recording_rows(self, positions):
        indices = np.arange(len(self)) if self.indices is None else self.indices
        read.setdefault(stage[0], set()).update(indices[positions].tolist())
        return rows(self, positions)

    def staged(method, name):
        def run(*args, **kwargs):
            stage[0] = name
            try:
                return method(*args, **kwargs)
            finally:
                stage[0] = "fit"

        return run

    monkeypatch.setattr(RowDataset, "rows", recording_rows)
    monkeypatch.setattr(PCAStart, "start", staged(PCAStart.start, "start"))
    monkeypatch.setattr(PCAStart, "settle", staged(PCAStart.settle, "decide"))
    ae = AutoencoderTransformer(4, max_iter=30, random_state=0).fit(X_small)
    assert ae.best_epoch_ > 0  # an epoch was chosen, then judged
    train, valid = validation_split(ae.get_params(), len(X_small), ae._seed)
    select, decide = decision_split(valid, ae._seed)
    assert read["decide"] == set(decide.tolist())
    assert read["fit"] == set(train.tolist()) | set(select.tolist())
    assert read["decide"].isdisjoint(read["fit"])
    assert len(decide) == len(valid) // 2 and len(select) == len(valid) - len(decide)


def test_the_decision_rows_are_half_the_validation_rows_apart_from_them():
    valid = np.arange(100, 131)  # 31 validation rows
    select, decide = decision_split(valid, seed=3)
    assert (len(select), len(decide)) == (16, 15)
    assert np.array_equal(np.sort(np.r_[select, decide]), valid)
    assert np.all(np.diff(select) > 0) and np.all(np.diff(decide) > 0)
    again = decision_split(valid, seed=3)
    assert np.array_equal(again[1], decide)  # reproducible from the seed
    assert not np.array_equal(decision_split(valid, seed=4)[1], decide)


def test_the_network_is_not_kept_on_wine_where_it_does_not_beat_pca():
    # A user's first comparison: an AE kept on its flattered validation error
    # reconstructed held-out wine 1.04x worse than PCA; the decision on rows
    # that did not choose the epoch keeps PCA's solution.
    from sklearn.datasets import load_wine

    import sklearn_ae

    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    reducers = {"PCA": PCA(2), "AE": AutoencoderTransformer(2, random_state=0)}
    result = sklearn_ae.compare(reducers, X, y, random_state=0)
    errors = result["reconstruction_mse"]
    assert errors["AE"] <= 1.001 * errors["PCA"]


def test_a_code_wider_than_the_input_warns_unless_regularised(X_small):
    X = X_small[:, :6]
    message = "n_components=8 is larger than n_features=6: the code is overcomplete"
    with pytest.warns(UserWarning, match=message) as caught:
        AutoencoderTransformer(8, max_iter=1, random_state=0).fit(X)
    assert caught[0].filename == __file__  # it points at the caller's fit
    regularised = [{"sparsity": 1e-3}, {"noise": 0.1}, {"variational": True}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for params in regularised:
            AutoencoderTransformer(8, max_iter=1, random_state=0, **params).fit(X)
        AutoencoderTransformer(6, max_iter=1, random_state=0).fit(X)


def test_a_chunked_sources_decision_rows_come_from_the_kept_validation_rows(
    X_small, monkeypatch
):
    # On a dask array the statistics pass keeps the validation rows in
    # memory; the epoch is chosen on one half of them and the decision made
    # on the other, both read from that copy, not the source.
    da = pytest.importorskip("dask.array")
    read = []
    row_errors = AutoencoderNet.row_errors

    def spy(net, dataset):
        read.append((type(dataset.X), dataset.rows(np.arange(len(dataset)))))
        return row_errors(net, dataset)

    monkeypatch.setattr(AutoencoderNet, "row_errors", spy)
    X = X_small.astype(np.float32)
    dX = da.from_array(X, chunks=(60, X.shape[1]))
    ae = AutoencoderTransformer(4, max_iter=2, random_state=0).fit(dX)
    _, valid = validation_split(ae.get_params(), len(X), ae._seed)
    select, decide = decision_split(valid, ae._seed)
    # PCA's errors on both halves at the start, the decision rows' again
    # after training.
    assert {source for source, _ in read} == {np.ndarray}
    assert_array_equal(read[0][1], X[decide])
    assert_array_equal(read[1][1], X[select])
    assert_array_equal(read[2][1], X[decide])


def test_only_pcas_start_sets_decision_rows_apart(X_small):
    from sklearn_ae._plan import plan_fit

    params = AutoencoderTransformer(70).get_params(deep=False)
    plan = plan_fit(params, X_small, 0, incremental=False, first_pass=True)
    narrow = plan.with_components(4, params)
    assert narrow.pca_start
    assert_array_equal(
        np.sort(np.r_[narrow.select_idx, narrow.decide_idx]), plan.valid_idx
    )
    # A code PCA cannot give starts at random ("auto"): no race against PCA,
    # so all the validation rows choose the epoch.
    with pytest.warns(UserWarning, match="the code is overcomplete"):
        wide = plan.with_components(70, params)
    assert not wide.pca_start and wide.decide_idx is None
    assert_array_equal(wide.select_idx, plan.valid_idx)
