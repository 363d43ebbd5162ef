"""What a fit prints: bars on terminals, plain lines elsewhere, X's units."""

import contextlib
import io
import pickle
import re

import numpy as np
import pytest

from sklearn_ae import AutoencoderTransformer
from sklearn_ae._trainer import say_pca_kept

_ESCAPE = "\x1b["


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as sys.stdout in a shell does."""

    def isatty(self):
        return True


def _epoch_lines(out):
    return re.findall(r"^epoch +\d+/\d+ .*$", out, flags=re.M)


def test_silent_by_default(X_small, fast, capsys):
    AutoencoderTransformer(**fast).fit(X_small)
    assert capsys.readouterr().out == ""


def test_verbose_1_off_a_terminal_prints_plain_lines(X_small, fast, capsys):
    ae = AutoencoderTransformer(**fast, verbose=1).fit(X_small)
    out = capsys.readouterr().out
    lines = _epoch_lines(out)
    assert len(lines) == ae.n_iter_ == 3
    assert lines[-1].startswith("epoch 3/3  train_loss ")
    assert _ESCAPE not in out and "\r" not in out
    assert re.search(r"^Trained 3 epochs in [\d.]+ s\.$", out, flags=re.M)


def test_verbose_1_on_a_terminal_draws_a_bar(X_small, fast):
    with contextlib.redirect_stdout(Terminal()) as terminal:
        ae = AutoencoderTransformer(**fast, verbose=1).fit(X_small)
    out = terminal.getvalue()
    assert "3/3 [" in out and "epoch/s" in out and "train_loss=" in out
    assert not _epoch_lines(out)
    # The fitted model holds neither the bar nor the stream: it pickles.
    assert pickle.loads(pickle.dumps(ae)).n_iter_ == 3


def test_verbose_2_prints_lines_coloured_on_a_terminal_only(X_small, fast, capsys):
    with contextlib.redirect_stdout(Terminal()) as terminal:
        AutoencoderTransformer(**fast, verbose=2).fit(X_small)
    on_terminal = terminal.getvalue()
    assert len(_epoch_lines(on_terminal)) == 3
    assert _ESCAPE in on_terminal  # the improving losses are highlighted
    AutoencoderTransformer(**fast, verbose=2).fit(X_small)
    assert _ESCAPE not in capsys.readouterr().out


def test_printed_and_recorded_losses_are_in_the_users_units(X_small, fast, capsys):
    # One full batch with a vanishing step: the training loss is measured
    # with the initial weights, which training leaves as they were.
    X = X_small * 16  # the digits' own 0-16 scale
    params = {**fast, "batch_size": 300, "learning_rate": 1e-12, "max_iter": 1}
    ae = AutoencoderTransformer(**params, verbose=2).fit(X)
    assert ae.loss_curve_[0] == pytest.approx(-ae.score(X), rel=1e-5)
    printed = float(re.search(r"train_loss (\S+)", capsys.readouterr().out)[1])
    assert printed == pytest.approx(ae.loss_curve_[0], rel=1e-4)


def test_early_stopping_log_agrees_with_the_fit(X_small, fast, capsys):
    ae = AutoencoderTransformer(
        **{**fast, "max_iter": 50, "early_stopping": True, "init": "random"},
        n_iter_no_change=2,
        tol=0.5,
        verbose=1,
    ).fit(X_small)
    out = capsys.readouterr().out
    assert len(_epoch_lines(out)) == ae.n_iter_ == 3
    best = int(np.argmin(ae.validation_loss_curve_)) + 1
    assert (
        "Trained 3 epochs in " in out
        and "valid_loss did not improve by tol=0.5 (in the scaled data's units) "
        "for 2 epochs; kept the weights of epoch "
        + str(best)
        in out
    )


def test_early_stopping_keeps_the_best_epoch_even_below_tol():
    # scikit-learn's rule: tol decides when to stop, not which epoch is best.
    from types import SimpleNamespace

    import torch
    from skorch.history import History

    from sklearn_ae._engine._net import EarlyStopping, StopTraining

    stopper = EarlyStopping("valid_loss", patience=3, tol=0.5, restore_best=True)
    net = SimpleNamespace(history=History(), module_=torch.nn.Linear(1, 1))
    stopper.on_train_begin(net)
    weights = {}
    for epoch, loss in enumerate([5.0, 4.8, 4.9, 4.85], start=1):
        net.history.new_epoch()
        net.history.record("epoch", epoch)
        net.history.record("valid_loss", loss)
        with torch.no_grad():
            net.module_.weight.fill_(epoch)
        weights[epoch] = net.module_.weight.clone()
        if epoch < 4:
            stopper.on_epoch_end(net)
    with pytest.raises(StopTraining):
        stopper.on_epoch_end(net)  # three epochs without a 0.5 improvement
    stopper.on_train_end(net)
    assert stopper.best_epoch_ == 2
    assert torch.equal(net.module_.weight, weights[2])  # 4.8 < 5.0, if by < tol


def test_partial_fit_prints_one_line_per_call(X_small, fast, capsys):
    ae = AutoencoderTransformer(**fast, verbose=1)
    ae.partial_fit(X_small).partial_fit(X_small)
    out = capsys.readouterr().out
    assert _epoch_lines(out) and len(_epoch_lines(out)) == 2
    assert "Trained" not in out


def test_the_log_says_when_pca_is_kept(X_small, fast, capsys):
    # A step too large: no epoch's validation loss beats PCA's start (epoch 0).
    ae = AutoencoderTransformer(
        **{**fast, "max_iter": 50, "early_stopping": True},
        learning_rate=0.1,
        n_iter_no_change=2,
        tol=10.0,
        verbose=2,
    ).fit(X_small)
    out = capsys.readouterr().out
    assert ae.best_epoch_ == 0 and ae.n_iter_ == 2
    assert "no epoch's valid_loss beat the start's (PCA's solution, kept as " in out
    small = AutoencoderTransformer(**{**fast, "early_stopping": True}, verbose=1)
    small.fit(X_small[:25])  # 8 validation rows: too few to test a network
    assert small.n_iter_ == 0 and small.best_epoch_ == 0
    assert "Kept PCA's solution without training: 8 validation rows" in (
        capsys.readouterr().out
    )


def test_the_log_gives_the_t_tests_p_value_when_pca_is_kept(capsys):
    # (Reaching this through a fit needs a network that beats PCA on average
    # but not beyond noise; the rule itself is tested in test_pca_parity.)
    say_pca_kept(1, 0.25)
    assert capsys.readouterr().out == (
        "Kept PCA's solution: the network's lower validation error is not "
        "significant (one-sided paired t-test, p = 0.25 >= 0.01).\n"
    )
    say_pca_kept(0, 0.25)
    assert capsys.readouterr().out == ""
