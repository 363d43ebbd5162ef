"""The estimator's text and HTML reprs: scikit-learn's printer, callbacks shown."""

import re

from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

from sklearn_ae import AutoencoderTransformer


def test_pipeline_repr_wraps_at_79_columns_without_addresses():
    pipeline = make_pipeline(
        StandardScaler(), AutoencoderTransformer(3, callbacks=[LRScheduler()])
    )
    text = repr(pipeline)
    assert str(pipeline) == text
    assert max(len(line) for line in text.splitlines()) <= 79
    assert " at 0x" not in text
    assert "AutoencoderTransformer(callbacks=[LRScheduler()]," in text
    assert " at 0x" not in pipeline._repr_html_()


def test_callbacks_show_their_changed_parameters():
    ae = AutoencoderTransformer(
        8,
        callbacks=[
            EarlyStopping(patience=3),
            ("lr", LRScheduler(policy="StepLR", step_size=5)),
        ],
    )
    shown = (
        "callbacks=[EarlyStopping(patience=3), "
        "('lr', LRScheduler(policy='StepLR', step_size=5))]"
    )
    assert shown in re.sub(r"\s+", " ", repr(ae)).replace("[ ", "[")
    assert " at 0x" not in ae._repr_html_()
    # Display only: the parameter is the user's list, and clones keep it.
    assert isinstance(ae.get_params()["callbacks"][0], EarlyStopping)
    copy = clone(ae)
    assert repr(copy) == repr(ae)
    assert copy.callbacks[0] is not ae.callbacks[0]


def test_a_callback_with_its_own_repr_keeps_it():
    class Mine(Callback):
        def __repr__(self):
            return "Mine<custom>"

    text = repr(AutoencoderTransformer(callbacks=[Mine()]))
    assert "callbacks=[Mine<custom>]" in text
