"""partial_fit: one epoch per call, continuing the same model and optimizer."""

import re

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from skorch.callbacks import Callback

from sklearn_ae import AutoencoderTransformer


@pytest.fixture
def fast(fast):
    """conftest's fast settings, in batches of 50 (six Adam steps per 300 rows)."""
    return {**fast, "n_components": 4, "batch_size": 50, "learning_rate": 1e-2}


def _adam_steps(ae):
    state = ae.net_.optimizer_.state
    return {int(s["step"]) for s in state.values()}


def test_first_call_builds_later_calls_continue(X_small, fast):
    ae = AutoencoderTransformer(**fast).partial_fit(X_small[:100])
    module, optimizer = ae.module_, ae.net_.optimizer_
    assert ae.n_features_in_ == 64
    assert ae.n_iter_ == 1
    assert len(ae.loss_curve_) == 1
    assert _adam_steps(ae) == {2}  # 100 samples in batches of 50

    ae.partial_fit(X_small[100:250])
    assert ae.module_ is module and ae.net_.optimizer_ is optimizer
    assert ae.module_ is ae.net_.module_
    assert ae.n_iter_ == 2
    assert len(ae.loss_curve_) == 2
    assert _adam_steps(ae) == {2 + 3}  # Adam's moments carried on


def test_one_partial_fit_is_one_epoch_of_fit(X_small, fast):
    streamed = AutoencoderTransformer(**fast).partial_fit(X_small)
    fitted = AutoencoderTransformer(**{**fast, "max_iter": 1}).fit(X_small)
    assert_array_equal(streamed.transform(X_small), fitted.transform(X_small))
    assert streamed.loss_curve_ == fitted.loss_curve_


def test_streaming_chunks_learns_and_is_reproducible(X_small, fast):
    def stream():
        ae = AutoencoderTransformer(**fast)
        scores = []
        for _ in range(2):
            for chunk in np.array_split(X_small, 3):
                ae.partial_fit(chunk)
            scores.append(ae.score(X_small))
        return ae, scores

    ae, scores = stream()
    assert ae.n_iter_ == 6
    assert scores[-1] > scores[0]
    again, _ = stream()
    assert_array_equal(again.transform(X_small), ae.transform(X_small))


def test_later_call_checks_features_and_keeps_the_model(X_small, fast):
    ae = AutoencoderTransformer(**fast).partial_fit(X_small)
    before = ae.transform(X_small)
    message = "X has 10 features, but AutoencoderTransformer is expecting 64"
    with pytest.raises(ValueError, match=re.escape(message)):
        ae.partial_fit(X_small[:, :10])
    bad = X_small.copy()
    bad[5, 3] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        ae.partial_fit(bad)
    assert ae.n_iter_ == 1
    assert_array_equal(ae.transform(X_small), before)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_partial_fit_after_fit_continues_it(X_small, early_stopping, fast):
    class CountEpochs(Callback):
        epochs = 0

        def on_epoch_end(self, net, **kwargs):
            CountEpochs.epochs += 1

    ae = AutoencoderTransformer(
        **{**fast, "early_stopping": early_stopping}, callbacks=[CountEpochs()]
    )
    ae.fit(X_small)
    module, curve = ae.module_, list(ae.loss_curve_)
    validation = ae.validation_loss_curve_
    ae.partial_fit(X_small)
    assert ae.module_ is module
    assert ae.n_iter_ == 4
    assert ae.loss_curve_[:3] == curve and len(ae.loss_curve_) == 4
    assert CountEpochs.epochs == 4  # the user's callbacks keep running
    # No validation split in partial_fit: the validation curve is fit's.
    assert ae.validation_loss_curve_ == validation


def test_fit_after_partial_fit_starts_afresh(X_small, fast):
    ae = AutoencoderTransformer(**{**fast, "max_iter": 2})
    for _ in range(3):
        ae.partial_fit(X_small)
    ae.fit(X_small)
    fresh = AutoencoderTransformer(**{**fast, "max_iter": 2}).fit(X_small)
    assert ae.n_iter_ == 2
    assert_array_equal(ae.transform(X_small), fresh.transform(X_small))
