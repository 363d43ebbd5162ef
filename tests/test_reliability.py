"""Reliability and security: what a hostile file, an interruption, threads or
a bad parameter must not break.

Sections: a tampered optimizer state must not crash the process; classes
only from an allow-list, callbacks never read from files; Ctrl-C propagates
and keeps the old model; a failed partial_fit is rolled back, and a second
Ctrl-C waits for the rollback; files cannot exhaust memory before the
checks; fits in threads leave the global RNG alone, and fits of one
estimator from several threads run one at a time; inconsistent fitted values
are refused; errors come from the right layer, with the parameter's name.
"""

import copy
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest
import torch
from custom_modules import TiedAutoencoder, WideCode, WrongDecode
from numpy.testing import assert_array_equal
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.parallel import Parallel, delayed
from skorch.callbacks import Callback

from sklearn_ae import AutoencoderTransformer
from sklearn_ae._engine._net import AutoencoderNet

safetensors_torch = pytest.importorskip("safetensors.torch")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def X(X_small):
    return X_small[:120]


@pytest.fixture(scope="module")
def saved(X, tmp_path_factory):
    ae = AutoencoderTransformer(
        3, hidden_layer_sizes=(8,), max_iter=2, random_state=0
    ).fit(X)
    return ae.save(tmp_path_factory.mktemp("reliability") / "ae.zip")


def _read(path):
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("metadata.json"))
        tensors = safetensors_torch.load(archive.read("model.safetensors"))
    return meta, tensors


def _write(path, meta, tensors, compression=zipfile.ZIP_STORED):
    weights = safetensors_torch.save(tensors)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("metadata.json", json.dumps(meta))
        archive.writestr("model.safetensors", weights)
    return path


def _tampered(saved, path, change):
    """A copy of ``saved`` after ``change(meta, tensors)``."""
    meta, tensors = _read(saved)
    change(meta, tensors)
    return _write(path, meta, tensors)


def _state(ae):
    """Everything a fit may change, copied."""
    net = ae.net_
    return {
        "weights": {k: v.clone() for k, v in ae.module_.state_dict().items()},
        "optimizer": {
            i: {k: v.clone() for k, v in s.items()}
            for i, s in net.optimizer_.state_dict()["state"].items()
        },
        "history": len(net.history),
        "n_iter_": ae.n_iter_,
        "loss_curve_": list(ae.loss_curve_),
        "net_": net,
        "module_": ae.module_,
    }


def _assert_unchanged(ae, before):
    after = _state(ae)
    for key in ("history", "n_iter_", "loss_curve_"):
        assert after[key] == before[key], key
    assert after["net_"] is before["net_"] and after["module_"] is before["module_"]
    for name, value in before["weights"].items():
        assert torch.equal(after["weights"][name], value), name
    assert after["optimizer"].keys() == before["optimizer"].keys()
    for idx, entries in before["optimizer"].items():
        for key, value in entries.items():  # Adam's moments and step counts
            assert torch.equal(after["optimizer"][idx][key], value), (idx, key)


# What needs a process of its own, run once (importing torch takes seconds):
# real SIGINTs, then the partial_fit that used to crash the interpreter, last.
SUBPROCESS = """
import os, signal, sys
import numpy as np
from skorch.callbacks import Callback
from sklearn.model_selection import GridSearchCV
from sklearn_ae import AutoencoderTransformer

class Sigint(Callback):
    def __init__(self, hook, epoch=2, armed=True):
        self.hook, self.epoch, self.armed = hook, epoch, armed
    def on_batch_end(self, net, **kwargs):
        if self.hook == "batch":
            self.fire(net)
    def on_epoch_end(self, net, **kwargs):
        if self.hook == "epoch":
            self.fire(net)
    def fire(self, net):
        if self.armed and len(net.history) == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)

X = np.load(sys.argv[1])
fast = dict(n_components=2, hidden_layer_sizes=(4,), max_iter=4, random_state=0)
for hook in ("batch", "epoch"):
    sigint = Sigint(hook, armed=False)
    ae = AutoencoderTransformer(**fast, callbacks=[sigint]).fit(X)
    Z = ae.transform(X)
    sigint.armed = True
    try:
        ae.fit(X)
        print("sigint in", hook, "returned", ae.n_iter_, flush=True)
    except KeyboardInterrupt:
        same = (ae.transform(X) == Z).all() and ae.n_iter_ == 4
        print("sigint in", hook, "unchanged" if same else "changed", flush=True)
search = GridSearchCV(
    AutoencoderTransformer(**fast, callbacks=[Sigint("batch")]),
    {"n_components": [1, 2]}, cv=2)
try:
    search.fit(X)
    print("grid search returned", flush=True)
except KeyboardInterrupt:
    print("grid search interrupted", flush=True)
restored = signal.getsignal(signal.SIGINT) is signal.default_int_handler
print("handler restored:", restored)

for path in sys.argv[2:]:
    try:
        AutoencoderTransformer.load(path).partial_fit(X)
        print("tampered trained", path, flush=True)
    except ValueError as exc:
        print("tampered refused:", exc, flush=True)
"""


@pytest.fixture(scope="module")
def in_a_subprocess(X, tmp_path_factory):
    """``(returncode, stdout lines, stderr)`` of ``SUBPROCESS``."""
    tmp = tmp_path_factory.mktemp("subprocess")
    np.save(tmp / "X.npy", X)
    paths = []
    for name in ("adam", "adamw", "adagrad"):
        ae = AutoencoderTransformer(
            2, hidden_layer_sizes=(4,), optimizer=name, max_iter=1, random_state=0
        ).fit(X)

        def shrink(meta, tensors):
            for key in ("exp_avg", "exp_avg_sq", "sum"):
                if f"optimizer.state.0.{key}" in tensors:
                    tensors[f"optimizer.state.0.{key}"] = torch.zeros(1)

        saved = ae.save(tmp / f"{name}.zip")
        paths.append(str(_tampered(saved, tmp / f"{name}-bad.zip", shrink)))
    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS, str(tmp / "X.npy"), *paths],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"},
        cwd=ROOT,
    )
    return result.returncode, result.stdout.splitlines(), result.stderr


# ------------------------------------- a tampered optimizer state crashed


def test_tampered_optimizer_state_is_refused_not_a_crash(in_a_subprocess):
    # Before the fix, this partial_fit after load was a segmentation fault in
    # the fused CPU kernels of Adam, AdamW and Adagrad.
    returncode, lines, stderr = in_a_subprocess
    assert returncode == 0, (returncode, stderr[-2000:])
    tampered = [line for line in lines if line.startswith("tampered")]
    assert [line.split()[:2] for line in tampered] == [["tampered", "refused:"]] * 3
    expected = "'optimizer.state.0.exp_avg' is float32 [1], expected float32 [4, 64]"
    assert expected in tampered[0] and expected in tampered[1]
    assert "'optimizer.state.0.sum' is float32 [1]" in tampered[2]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda m, t: t.update({"optimizer.state.1.step": torch.zeros(3)}),
            "'optimizer.state.1.step' is float32 [3], expected float32 []",
        ),
        (
            lambda m, t: t.update({"optimizer.state.1.step": torch.tensor(2)}),
            "'optimizer.state.1.step' is int64 [], expected float32 []",
        ),
        (
            lambda m, t: t.update({"optimizer.state.99.step": torch.tensor(2.0)}),
            "'tensors' must be optimizer.state.<parameter index>.<name>, "
            "got 'optimizer.state.99.step'",
        ),
        (
            lambda m, t: t.pop("optimizer.state.2.exp_avg_sq"),
            "'optimizer state of parameter 2' must be ['exp_avg', 'exp_avg_sq', "
            "'step'], got ['exp_avg', 'step']",
        ),
        (
            lambda m, t: t["optimizer.state.0.exp_avg_sq"].fill_(-1.0),
            "'optimizer.state.0.exp_avg_sq' holds negative values",
        ),
        (
            lambda m, t: m["optimizer"]["param_groups"][0].update(lr=-0.1),
            "'lr' must be a finite number >= 0, got -0.1",
        ),
        (
            lambda m, t: m["optimizer"]["param_groups"][0].update(
                betas={"__tuple__": [1.5, 0.9]}
            ),
            "'betas' must be 2 numbers in [0, 1)",
        ),
        (
            lambda m, t: m["optimizer"]["param_groups"][0].update(amsgrad=True),
            "'amsgrad' must be False, got True",
        ),
        (
            lambda m, t: m["optimizer"].update({"class": "torch.optim.sgd:SGD"}),
            "'class' must be 'sklearn_ae._engine._optim:Adam' (the parameters), "
            "got 'torch.optim.sgd:SGD'",
        ),
    ],
)
def test_optimizer_state_is_checked_against_its_parameters(
    saved, tmp_path, change, message
):
    path = _tampered(saved, tmp_path / "bad.zip", change)
    with pytest.raises(ValueError, match="Refusing to load") as info:
        AutoencoderTransformer.load(path)
    assert message in str(info.value)


# ------------------------- the allow-list, and callbacks read from files


@pytest.mark.parametrize(
    "name, path",
    [
        ("optimizer", "sklearn_ae._io._persistence:np.f2py.subprocess.Popen"),
        ("optimizer", "sklearn_ae._io._persistence:zipfile.threading.Thread"),
        ("optimizer", "sklearn_ae._io._persistence:json.decoder.re.Pattern"),
        ("optimizer", "torch.optim.adamax:Adamax"),  # not in OPTIMIZERS
        ("architecture", "torch.nn.modules.linear:Linear"),
        ("architecture", "torch.optim.adam:Adam"),
    ],
)
def test_classes_come_only_from_an_exact_allow_list(
    saved, tmp_path, monkeypatch, name, path
):
    made = []

    class Recording:
        def __init__(self, *args, **kwargs):
            made.append(args)

    monkeypatch.setattr(subprocess, "Popen", Recording)
    monkeypatch.setattr(threading, "Thread", Recording)

    def evil(meta, tensors):
        meta["params"][name] = {"__class__": path}

    bad = _tampered(saved, tmp_path / "evil.zip", evil)
    with pytest.raises(ValueError, match=r"'\w+' must be .*a class of the allow-list"):
        AutoencoderTransformer.load(bad)
    assert made == []


def test_a_file_with_callbacks_is_refused(saved, tmp_path, monkeypatch, X):
    def checkpoint(meta, tensors):
        meta["params"]["callbacks"] = [
            {
                "__class__": (
                    "sklearn_ae._io._persistence:skorch.callbacks.TrainEndCheckpoint"
                )
            }
        ]

    bad = _tampered(saved, tmp_path / "callbacks.zip", checkpoint)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    with pytest.raises(ValueError, match=r"'callbacks' must be null"):
        AutoencoderTransformer.load(bad).partial_fit(X)
    assert list(workdir.iterdir()) == []


def test_a_users_class_is_not_saved(X, tmp_path):
    ae = AutoencoderTransformer(2, architecture=TiedAutoencoder, max_iter=1).fit(X)
    with pytest.raises(TypeError, match="does not store a class of your own"):
        ae.save(tmp_path / "tied.zip")
    assert not (tmp_path / "tied.zip").exists()


# ------------------------------------------------- Ctrl-C, KeyboardInterrupt


class Interrupt(Callback):
    """Raises ``error`` after the first batch of epoch ``epoch`` (1-based).

    A KeyboardInterrupt raised here stands in for a Ctrl-C during training.
    """

    def __init__(self, epoch, error=KeyboardInterrupt, armed=True):
        self.epoch = epoch
        self.error = error
        self.armed = armed

    def on_batch_end(self, net, training=False, **kwargs):
        if self.armed and training and len(net.history) == self.epoch:
            raise self.error()


def test_ctrl_c_during_a_refit_propagates_and_keeps_the_old_model(X, fast):
    interrupt = Interrupt(epoch=3, armed=False)
    ae = AutoencoderTransformer(**{**fast, "max_iter": 5}, callbacks=[interrupt])
    ae.fit(X)
    before, Z = _state(ae), ae.transform(X)
    interrupt.armed = True
    with pytest.raises(KeyboardInterrupt):
        ae.fit(X)
    _assert_unchanged(ae, before)
    assert_array_equal(ae.transform(X), Z)


def test_ctrl_c_stops_a_grid_search(X, fast):
    fits = []

    class Count(Callback):
        def on_train_begin(self, net, **kwargs):
            fits.append(1)

    ae = AutoencoderTransformer(**fast, callbacks=[Count(), Interrupt(epoch=2)])
    search = GridSearchCV(ae, {"n_components": [2, 3]}, cv=2, n_jobs=1)
    with pytest.raises(KeyboardInterrupt):
        search.fit(X)
    assert len(fits) == 1  # no further candidate, no further fold


def test_partial_fit_interrupted_propagates_not_a_key_error(X, fast):
    unfitted = AutoencoderTransformer(**fast, callbacks=[Interrupt(epoch=1)])
    with pytest.raises(KeyboardInterrupt):
        unfitted.partial_fit(X)
    with pytest.raises(NotFittedError):
        unfitted.transform(X)
    interrupt = Interrupt(epoch=1, armed=False)
    ae = AutoencoderTransformer(**fast, callbacks=[interrupt]).partial_fit(X)
    before = _state(ae)
    interrupt.armed, interrupt.epoch = True, 2
    with pytest.raises(KeyboardInterrupt):
        ae.partial_fit(X)
    _assert_unchanged(ae, before)


def test_a_callbacks_stop_request_still_ends_training_normally(X, fast):
    class StopAfterTwo(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise KeyboardInterrupt  # skorch's way to stop (EarlyStopping's)

    ae = AutoencoderTransformer(**{**fast, "max_iter": 5}, callbacks=[StopAfterTwo()])
    try:
        ae.fit(X)
    except KeyboardInterrupt:  # (uncaught, it would stop the whole test run)
        pytest.fail("a callback's request to stop interrupted the fit")
    assert ae.n_iter_ == 2


def test_a_real_sigint_propagates(in_a_subprocess):
    # A real SIGINT in a batch, and inside on_epoch_end (where a callback's
    # KeyboardInterrupt is a request to stop), and during a grid search.
    _, lines, stderr = in_a_subprocess
    assert lines[:4] == [
        "sigint in batch unchanged",
        "sigint in epoch unchanged",
        "grid search interrupted",
        "handler restored: True",
    ], (lines, stderr[-2000:])


# -------------------------------------------- failed partial_fit rolls back


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_partial_fit_leaves_the_model_exactly_as_it_was(X, fast, error):
    failing = Interrupt(epoch=4, error=error, armed=False)
    ae = AutoencoderTransformer(**{**fast, "batch_size": 32}, callbacks=[failing])
    ae.fit(X)  # three epochs
    before = _state(ae)
    failing.armed = True  # fails after the first of four batches
    with pytest.raises(error):
        ae.partial_fit(X)
    _assert_unchanged(ae, before)
    # ... and continues as if the failed call had never happened.
    failing.armed = False
    reference = AutoencoderTransformer(**{**fast, "batch_size": 32}).fit(X)
    assert_array_equal(
        ae.partial_fit(X).transform(X), reference.partial_fit(X).transform(X)
    )


# --------------------------------------- memory exhaustion before any check


def test_compressed_members_are_refused(saved, tmp_path):
    meta, tensors = _read(saved)
    path = _write(tmp_path / "deflated.zip", meta, tensors, zipfile.ZIP_DEFLATED)
    with pytest.raises(ValueError, match=r"is compressed .*does not expand them"):
        AutoencoderTransformer.load(path)


def test_metadata_that_would_expand_in_memory_is_refused(saved, tmp_path):
    # JSON's Python objects take up to ~25 times the text: its size and its
    # number of lists and objects are capped before it is parsed.
    def many_lists(meta, tensors):
        meta["fitted"]["feature_names_in_"] = [[]] * 200_000

    with pytest.raises(ValueError, match=r"holds 200,0\d\d lists and objects"):
        AutoencoderTransformer.load(_tampered(saved, tmp_path / "l.zip", many_lists))

    def large(meta, tensors):
        meta["fitted"]["feature_names_in_"] = ["x" * 2**20] * 17

    with pytest.raises(ValueError, match=r"metadata\.json is over 16 MiB"):
        AutoencoderTransformer.load(_tampered(saved, tmp_path / "m.zip", large))


def test_a_model_larger_than_its_file_is_refused_before_it_is_built(
    saved, tmp_path, monkeypatch
):
    import sklearn_ae._io._persistence as persistence

    def huge(meta, tensors):
        meta["params"]["hidden_layer_sizes"] = {"__tuple__": [4_000_000]}

    path = _tampered(saved, tmp_path / "huge.zip", huge)
    built = []

    def build_net(*args, **kwargs):
        built.append(args)
        raise RuntimeError("built")

    monkeypatch.setattr(persistence, "build_net", build_net)
    with pytest.raises(
        ValueError, match=r"declare a model of [\d,]+ bytes of weights, but model"
    ):
        AutoencoderTransformer.load(path)
    assert built == []


# ------------------------------------------------------- fits in threads


CONFIGS = {
    "default": {},
    "denoising": {"noise": 0.2},
    "vae": {"variational": True, "loss": "bce"},
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_fits_in_threads_equal_serial_fits_and_leave_the_rng_alone(X, fast, config):
    params = [{**fast, **CONFIGS[config], "random_state": seed} for seed in range(4)]

    def fit(p):
        ae = AutoencoderTransformer(**p).fit(X)
        return ae.transform(X), ae.loss_curve_

    torch_state = torch.get_rng_state()
    serial = [fit(p) for p in params]
    threaded = Parallel(n_jobs=4, backend="threading")(delayed(fit)(p) for p in params)
    assert torch.equal(torch.get_rng_state(), torch_state)
    for (Z, curve), (Z_thread, curve_thread) in zip(serial, threaded, strict=True):
        assert_array_equal(Z_thread, Z)
        assert curve_thread == curve


def test_threaded_grid_search_gives_the_same_scores_every_run(X, fast):
    def scores():
        search = GridSearchCV(
            AutoencoderTransformer(**fast, noise=0.1),
            {"n_components": [2, 3], "learning_rate": [1e-3, 1e-2]},
            cv=2,
            n_jobs=4,
        )
        with __import__("joblib").parallel_backend("threading"):
            search.fit(X)
        return search.cv_results_["mean_test_score"]

    assert_array_equal(scores(), scores())


# ------------------------------------------ inconsistent fitted values load


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda m, t: m["fitted"].update(scale_=0.0),
            "'scale_' must be a finite positive number",
        ),
        (
            lambda m, t: m["fitted"].update(scale_=-1.0),
            "'scale_' must be a finite positive number",
        ),
        (
            lambda m, t: m["fitted"].update(scale_=float("nan")),
            "'scale_' must be a finite positive number",
        ),
        (
            lambda m, t: m["fitted"].update(n_iter_=-7),
            "'n_iter_' must be an int >= 0, got -7",
        ),
        (
            lambda m, t: m["fitted"].update(n_iter_=5),
            "'loss_curve_' must be 5 numbers, got 2",
        ),
        (
            lambda m, t: m["fitted"].update(n_features_in_=65),
            "tensor 'scaler.mean' is float64 [64], expected float64 [65]",
        ),
        (
            lambda m, t: t["scaler.mean"].__setitem__(3, float("inf")),
            "'scaler.mean' holds NaN or infinite values",
        ),
        (
            lambda m, t: t["module.encoder.0.weight"].__setitem__((0, 0), float("nan")),
            "'module.encoder.0.weight' holds NaN or infinite values",
        ),
        (
            lambda m, t: m["fitted"].update(n_components_=2),
            "'n_components_' must be 3, got 2",
        ),
        (
            lambda m, t: m["params"].update(learning_rate=-1),
            "'learning_rate' parameter of AutoencoderTransformer",
        ),
    ],
)
def test_inconsistent_fitted_values_are_refused(saved, tmp_path, change, message):
    path = _tampered(saved, tmp_path / "bad.zip", change)
    with pytest.raises(ValueError, match="Refusing to load") as info:
        AutoencoderTransformer.load(path)
    assert message in str(info.value)


# ---------------------------------- clear errors, from the right layer


@pytest.mark.parametrize(
    "params, message",
    [
        ({"architecture": WideCode}, "WideCode.encode(x) returned shape (2, 5)"),
        ({"architecture": WrongDecode}, "WrongDecode.decode(z) returned shape (2, 1)"),
        ({"n_components": True}, "'n_components' parameter of Autoencoder"),
        ({"optimizer": int}, "'optimizer' parameter of AutoencoderTransformer must"),
        ({"callbacks": [1]}, "'callbacks' parameter of AutoencoderTransformer must"),
        ({"device": "meta"}, "'device' parameter of AutoencoderTransformer is 'meta'"),
    ],
)
def test_bad_parameters_and_modules_fail_at_fit_with_their_name(X, params, message):
    ae = AutoencoderTransformer(**{"n_components": 2, "max_iter": 1, **params})
    with pytest.raises(ValueError) as info:
        ae.fit(X)
    assert message in str(info.value)
    with pytest.raises(NotFittedError):
        ae.transform(X)


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs no MPS")
def test_an_unavailable_device_is_named(X):
    with pytest.raises(ValueError, match=r"'device' parameter .* MPS is not available"):
        AutoencoderTransformer(2, device="mps", max_iter=1).fit(X)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
def test_loading_onto_a_missing_gpu_says_so(saved):
    with pytest.raises(ValueError, match=r"load\(device=...\) is 'cuda', but CUDA"):
        AutoencoderTransformer.load(saved, device="cuda")


def test_damaged_files_are_value_errors(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside model.safetensors
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"Refusing to load .*damaged"):
        AutoencoderTransformer.load(flipped)

    def versions(meta, tensors):
        meta["versions"] = "x"

    with pytest.raises(ValueError, match="'versions' must be an object of strings"):
        AutoencoderTransformer.load(_tampered(saved, tmp_path / "v.zip", versions))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and links")
def test_save_keeps_permissions_and_writes_through_links(X, tmp_path, fast):
    ae = AutoencoderTransformer(**{**fast, "max_iter": 1}).fit(X)
    path = tmp_path / "shared.zip"
    path.write_bytes(b"old")
    path.chmod(0o644)
    ae.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    link = tmp_path / "link.zip"
    link.symlink_to(path)
    ae.partial_fit(X).save(link)
    assert link.is_symlink() and os.readlink(link) == str(path)
    assert_array_equal(AutoencoderTransformer.load(path).transform(X), ae.transform(X))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.zip", "shared.zip"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_the_sigint_handler_is_only_installed_during_a_fit(X, fast):
    before = signal.getsignal(signal.SIGINT)
    seen = []

    class Look(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(signal.getsignal(signal.SIGINT))

    AutoencoderTransformer(**fast, callbacks=[Look()]).fit(X)
    assert signal.getsignal(signal.SIGINT) is before
    if threading.current_thread() is threading.main_thread() and callable(before):
        assert seen[0] is not before and getattr(seen[0], "counts_sigints", False)


# ------------------------------------- the rollback, threads, integer bounds


def test_a_second_ctrl_c_during_the_rollback_waits_until_it_is_complete(
    X, fast, monkeypatch
):
    failing = Interrupt(epoch=4, error=RuntimeError, armed=False)
    ae = AutoencoderTransformer(**{**fast, "batch_size": 32}, callbacks=[failing])
    ae.fit(X)
    before = _state(ae)
    snapshot = AutoencoderNet.snapshot

    def snapshot_interrupted_in_its_restore(self):
        restore = snapshot(self)

        def restore_after_a_sigint():
            signal.raise_signal(signal.SIGINT)  # Ctrl-C, as the restore starts
            restore()

        return restore_after_a_sigint

    monkeypatch.setattr(AutoencoderNet, "snapshot", snapshot_interrupted_in_its_restore)
    failing.armed = True
    with pytest.raises(KeyboardInterrupt):  # delivered once the restore is done
        ae.partial_fit(X)
    _assert_unchanged(ae, before)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_fits_of_one_estimator_from_several_threads_run_one_at_a_time(X, fast):
    ae = AutoencoderTransformer(**fast).fit(X)
    reference = AutoencoderTransformer(**fast).fit(X)
    for _ in range(8):
        reference.partial_fit(X)
    barrier = threading.Barrier(4)
    errors = []

    def two_epochs():
        barrier.wait()
        try:
            for _ in range(2):
                ae.partial_fit(X)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=two_epochs) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ae.n_iter_ == reference.n_iter_ == len(ae.loss_curve_) == 3 + 8
    assert_array_equal(ae.transform(X), reference.transform(X))
    # The lock stays with its estimator: copies get their own.
    copied = pickle.loads(pickle.dumps(ae))
    assert "_fit_lock" not in copied.__dict__
    assert "_fit_lock" not in copy.deepcopy(ae).__dict__
    assert_array_equal(
        copied.partial_fit(X).transform(X), reference.partial_fit(X).transform(X)
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("batch_size", 10**30),
        ("max_iter", 2**31),
        ("n_iter_no_change", 10**30),
        ("n_components", 10**30),
        ("hidden_layer_sizes", (10**30,)),
    ],
)
def test_huge_integer_parameters_are_value_errors_naming_them(X, fast, name, value):
    ae = AutoencoderTransformer(**{**fast, name: value})
    with pytest.raises(ValueError, match=f"The '{name}' parameter of Autoencoder"):
        ae.fit(X)
