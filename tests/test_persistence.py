"""save / load without pickle, and pickle across devices."""

import contextlib
import fcntl
import json
import os
import pickle
import re
import signal
import stat
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal

pytest.importorskip("safetensors")

from skorch.callbacks import Callback

from sklearn_ae import AutoencoderTransformer


@pytest.fixture(scope="module")
def fitted(X_small):
    return AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(8,), max_iter=3, random_state=0
    ).fit(X_small)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("model") / "ae.zip")


def _rewrite(src, dst, *, metadata=None, extra=None, drop=()):
    """Copy a model file, changing its metadata or members."""
    with zipfile.ZipFile(src) as archive:
        members = {n: archive.read(n) for n in archive.namelist() if n not in drop}
    if metadata is not None:
        meta = json.loads(members["metadata.json"])
        metadata(meta)
        members["metadata.json"] = json.dumps(meta).encode()
    members.update(extra or {})
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def test_round_trip_gives_identical_numbers(fitted, saved, X_small):
    loaded = AutoencoderTransformer.load(saved)
    assert loaded.get_params() == fitted.get_params()
    assert_array_equal(loaded.transform(X_small), fitted.transform(X_small))
    Z = fitted.transform(X_small)
    assert_array_equal(loaded.inverse_transform(Z), fitted.inverse_transform(Z))
    assert_array_equal(loaded.score_samples(X_small), fitted.score_samples(X_small))
    assert_array_equal(loaded.mean_, fitted.mean_)
    assert loaded.scale_ == fitted.scale_
    assert loaded.n_iter_ == fitted.n_iter_
    assert loaded.loss_curve_ == fitted.loss_curve_
    assert loaded.module_ is loaded.net_.module_


def test_the_file_holds_no_pickle(saved):
    with zipfile.ZipFile(saved) as archive:
        assert sorted(archive.namelist()) == ["metadata.json", "model.safetensors"]
        meta = json.loads(archive.read("metadata.json"))
    assert meta["versions"]["torch"] == torch.__version__
    assert meta["params"]["hidden_layer_sizes"] == {"__tuple__": [8]}


def test_bce_pandas_and_optimizer_class_round_trip(X_small, tmp_path, fast):
    frame = pd.DataFrame(X_small, columns=[f"px{i}" for i in range(64)])
    ae = AutoencoderTransformer(
        **{**fast, "random_state": 1}, loss="bce", optimizer=torch.optim.SGD
    ).fit(frame)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / "bce.zip"))
    assert loaded.optimizer is torch.optim.SGD
    assert loaded.mean_ is None
    assert list(loaded.feature_names_in_) == list(frame.columns)
    assert_array_equal(loaded.transform(frame), ae.transform(frame))
    Z = ae.transform(frame)
    assert_array_equal(loaded.inverse_transform(Z), ae.inverse_transform(Z))


def test_training_continues_after_load_as_without_saving(fitted, saved, X_small):
    loaded = AutoencoderTransformer.load(saved)
    original = pickle.loads(pickle.dumps(fitted))  # keep the fixture unchanged
    for ae in (loaded, original):
        ae.partial_fit(X_small)
    assert loaded.n_iter_ == fitted.n_iter_ + 1
    assert loaded.loss_curve_ == original.loss_curve_
    # Same Adam moments and shuffling order: the same next epoch.
    assert_array_equal(loaded.transform(X_small), original.transform(X_small))


class _Payload:
    ran = False

    def __reduce__(self):
        return (_Payload._run, ())

    @staticmethod
    def _run():
        _Payload.ran = True


def test_a_pickle_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.zip"
    path.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ValueError, match=r"Refusing to load .*: it is a pickle"):
        AutoencoderTransformer.load(path)
    assert not _Payload.ran


def test_tampered_archives_are_refused(fitted, saved, tmp_path):
    with pytest.raises(ValueError, match=re.escape("holds ['data.pkl', 'metadata")):
        AutoencoderTransformer.load(
            _rewrite(saved, tmp_path / "a.zip", extra={"data.pkl": b"\x80\x04."})
        )
    torch_file = tmp_path / "torch.pt"
    torch.save(fitted.module_.state_dict(), torch_file)  # a zip with data.pkl
    with pytest.raises(ValueError, match="Refusing to load"):
        AutoencoderTransformer.load(torch_file)

    def evil_class(meta):
        meta["params"]["optimizer"] = {"__class__": "os:system"}

    with pytest.raises(
        ValueError, match=r"'optimizer' must be .*a class of the allow-list"
    ):
        AutoencoderTransformer.load(
            _rewrite(saved, tmp_path / "b.zip", metadata=evil_class)
        )

    def wrong_width(meta):
        meta["params"]["hidden_layer_sizes"] = {"__tuple__": [9]}

    with pytest.raises(ValueError, match="the weights do not fit the model"):
        AutoencoderTransformer.load(
            _rewrite(saved, tmp_path / "c.zip", metadata=wrong_width)
        )

    def bad_value(meta):
        meta["params"]["learning_rate"] = -1

    with pytest.raises(ValueError, match="'learning_rate' parameter"):
        AutoencoderTransformer.load(
            _rewrite(saved, tmp_path / "e.zip", metadata=bad_value)
        )
    broken = _rewrite(saved, tmp_path / "d.zip", drop=["model.safetensors"])
    with pytest.raises(ValueError, match="expected"):
        AutoencoderTransformer.load(broken)


def test_version_mismatch_warns_and_loads(fitted, saved, tmp_path, X_small):
    def old(meta):
        meta["versions"]["torch"] = "1.0.0"

    path = _rewrite(saved, tmp_path / "old.zip", metadata=old)
    with pytest.warns(UserWarning, match=r"saved with torch '1\.0\.0' \(now '"):
        loaded = AutoencoderTransformer.load(path)
    assert_array_equal(loaded.transform(X_small), fitted.transform(X_small))


class _MyAdam(torch.optim.Adam):
    pass


def test_parameters_that_cannot_be_stored(X_small, tmp_path, fast):
    ae = AutoencoderTransformer(**fast, optimizer=_MyAdam)
    ae.fit(X_small)
    with pytest.raises(TypeError, match=r"does not store a class of your own"):
        ae.save(tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()

    from skorch.callbacks import EpochTimer

    ae.set_params(optimizer="adam", callbacks=[("timer", EpochTimer())])
    with pytest.warns(UserWarning, match="does not store callbacks"):
        path = ae.save(tmp_path / "x.zip")
    assert AutoencoderTransformer.load(path).callbacks is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
def test_a_gpu_model_file_loads_on_the_cpu_with_a_warning(
    fitted, saved, tmp_path, X_small
):
    def on_gpu(meta):
        meta["params"]["device"] = "cuda"
        meta["fitted"]["device"] = "cuda"

    path = _rewrite(saved, tmp_path / "gpu.zip", metadata=on_gpu)
    with pytest.warns(UserWarning, match="CUDA is not available here"):
        loaded = AutoencoderTransformer.load(path)
    assert loaded.device == "cpu"
    assert_array_equal(loaded.transform(X_small), fitted.transform(X_small))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only machine")
@pytest.mark.filterwarnings("ignore::skorch.exceptions.DeviceWarning")
def test_a_gpu_pickle_transforms_on_the_cpu_with_a_warning(fitted, X_small):
    ae = pickle.loads(pickle.dumps(fitted))
    expected = ae.transform(X_small)
    # Simulate a fit on a GPU machine: what the pickle records is the device.
    ae.device = ae.net_.device = "cuda"
    blob = pickle.dumps(ae)
    with pytest.warns(UserWarning, match="fitted on device 'cuda'.*moved to 'cpu'"):
        restored = pickle.loads(blob)
    assert restored.module_ is restored.net_.module_
    assert str(restored.net_.device) == "cpu" == restored.device
    assert_array_equal(restored.transform(X_small), expected)


ZOO = {
    "conv": dict(
        n_components=6,
        architecture="conv",
        input_shape=(1, 8, 8),
        module_params={"filters": (4, 4)},
        loss="bce",
    ),
    "lstm": dict(n_components=3, architecture="lstm", input_shape=(8, 8)),
    "vae": dict(n_components=2, variational=True, beta=0.5, loss="bce"),
    "denoising": dict(n_components=3, noise=0.3, noise_type="mask"),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_round_trip_and_keep_training_alike(name, X_small, tmp_path):
    X = X_small[:120]
    ae = AutoencoderTransformer(max_iter=2, random_state=0, **ZOO[name]).fit(X)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / f"{name}.zip"))
    assert loaded.get_params() == ae.get_params()  # module_params dict included
    assert type(loaded.module_) is type(ae.module_)
    assert_array_equal(loaded.transform(X), ae.transform(X))
    # Noise and the VAE's draws are seeded per epoch: the next epoch matches.
    for model in (ae, loaded):
        model.partial_fit(X)
    assert loaded.loss_curve_ == ae.loss_curve_
    assert_array_equal(loaded.transform(X), ae.transform(X))


def test_a_loaded_vae_samples_like_the_original_in_its_dtype(X_small, tmp_path):
    X = X_small[:120].astype(np.float64)
    ae = AutoencoderTransformer(**ZOO["vae"], max_iter=2, random_state=0).fit(X)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / "vae64.zip"))
    drawn = loaded.sample(5, random_state=3)
    assert drawn.dtype == np.float64 and drawn.shape == (5, 64)
    assert_array_equal(drawn, ae.sample(5, random_state=3))


@pytest.mark.parametrize(
    "optimizer",
    ["adam", "adamw", "sgd", "rmsprop", "adadelta", "adagrad", "nadam", "radam"],
)
def test_every_optimizer_round_trips_and_continues_alike(optimizer, X_small, tmp_path):
    X = X_small[:60]
    ae = AutoencoderTransformer(
        2, hidden_layer_sizes=(4,), optimizer=optimizer, max_iter=2, random_state=0
    ).fit(X)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / f"{optimizer}.zip"))
    for model in (ae, loaded):
        model.partial_fit(X)
    assert loaded.loss_curve_ == ae.loss_curve_
    assert_array_equal(loaded.transform(X), ae.transform(X))


def test_callbacks_in_every_accepted_form_fit_and_are_not_saved(
    X_small, fast, tmp_path
):
    from skorch.callbacks import EpochTimer, PrintLog

    callbacks = [EpochTimer(), ("log", PrintLog(sink=lambda *a, **k: None)), EpochTimer]
    ae = AutoencoderTransformer(**fast, callbacks=callbacks).fit(X_small)
    with pytest.warns(UserWarning, match="does not store callbacks"):
        path = ae.save(tmp_path / "cb.zip")
    assert AutoencoderTransformer.load(path).callbacks is None


def test_a_model_saved_with_device_auto_loads_without_a_warning(
    X_small, fast, tmp_path, recwarn
):
    ae = AutoencoderTransformer(**fast, device="auto").fit(X_small)
    loaded = AutoencoderTransformer.load(ae.save(tmp_path / "auto.zip"))
    assert loaded.device == "auto"
    assert not [w for w in recwarn if "device" in str(w.message)]


@pytest.mark.parametrize("n_components", [0.9, "mle", None, 0])
def test_resolved_n_components_round_trip_silently(n_components, X_small, tmp_path):
    X = X_small[:100, :8]
    ae = AutoencoderTransformer(n_components, max_iter=2, random_state=0).fit(X)
    path = ae.save(tmp_path / "pca_like.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = AutoencoderTransformer.load(path)
    assert loaded.n_components == n_components
    assert loaded.n_components_ == ae.n_components_
    assert_array_equal(loaded.transform(X), ae.transform(X))


# ------------------------------------------------------------ paths and files


@contextlib.contextmanager
def time_limit(seconds):
    """Raise TimeoutError in the block after ``seconds`` (main thread)."""

    def expired(signum, frame):
        raise TimeoutError(f"over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _hidden(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def test_save_refuses_fifos_folders_and_links_to_them(fitted, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    (tmp_path / "to-pipe").symlink_to(fifo)
    (tmp_path / "to-folder").symlink_to(folder)
    cases = {
        "pipe": "a FIFO",
        "to-pipe": "a FIFO",
        "folder": "a folder",
        "to-folder": "a folder",
    }
    for name, kind in cases.items():
        with pytest.raises(ValueError, match=f"it is {kind}; save\\(\\) only creates"):
            fitted.save(tmp_path / name)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert folder.is_dir() and os.listdir(folder) == []
    assert _hidden(tmp_path) == []


def test_save_refuses_a_path_ending_with_a_separator(fitted, tmp_path):
    (tmp_path / "models").mkdir()
    for path in (f"{tmp_path}/models/", f"{tmp_path}/new/"):
        with pytest.raises(ValueError, match="ends with a separator"):
            fitted.save(path)
    assert sorted(os.listdir(tmp_path)) == ["models"]
    assert os.listdir(tmp_path / "models") == []


def test_load_refuses_what_is_not_a_regular_file_without_reading_it(tmp_path):
    # Run apart, with a memory limit and a timeout: before the check, a link
    # to /dev/zero read until memory ran out and a FIFO blocked forever.
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "zero.zip").symlink_to("/dev/zero")
    (tmp_path / "folder").mkdir()
    script = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
        from sklearn_ae import AutoencoderTransformer
        for path in sys.argv[1:]:
            try:
                AutoencoderTransformer.load(path)
            except ValueError as exc:
                print(str(exc).split(": ", 1)[1])
        """
    )
    paths = [str(tmp_path / n) for n in ("pipe", "zero.zip", "folder")]
    result = subprocess.run(
        [sys.executable, "-c", script, *paths],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "it is a FIFO, not a regular file.",
        "it is a character device, not a regular file.",
        "it is a folder, not a regular file.",
    ]


def test_metadata_of_escaped_quotes_is_refused_in_linear_time(saved, tmp_path):
    # 100,001 brackets make load look for those outside strings; then 4 MiB
    # of quotes and escaped quotes, which took hours when the string pattern
    # backtracked from every quote.
    text = b"{" * 100_001 + b'"' + b'\\"' * (2 * 2**20)
    path = _rewrite(saved, tmp_path / "quotes.zip", extra={"metadata.json": text})
    with time_limit(20), pytest.raises(ValueError, match="holds 100,001 lists"):
        AutoencoderTransformer.load(path)


def test_a_width_no_tensor_pins_is_bounded(X_small, tmp_path, fast):
    # An LSTM's weights do not depend on its timesteps, and with loss="bce"
    # no mean is stored: only load's limit bounds what sample() allocates.
    X = X_small[:, :8]
    X = (X - X.min()) / (X.max() - X.min())
    ae = AutoencoderTransformer(
        **{**fast, "n_components": 2},
        architecture="lstm",
        input_shape=(4, 2),
        loss="bce",
        module_params={"hidden_size": 2},
    ).fit(X)
    saved = ae.save(tmp_path / "lstm.zip")

    def timesteps(n):
        def change(meta):
            meta["params"]["input_shape"] = {"__tuple__": [n, 2]}
            meta["fitted"]["n_features_in_"] = 2 * n

        return change

    path = _rewrite(saved, tmp_path / "long.zip", metadata=timesteps(10**9))
    with pytest.raises(
        ValueError, match=r"'n_features_in_' must be at most [\d,]+ .*got 2,000,000,000"
    ):
        AutoencoderTransformer.load(path)
    path = _rewrite(saved, tmp_path / "longest.zip", metadata=timesteps(2**19))
    assert AutoencoderTransformer.load(path).n_features_in_ == 2**20


def test_the_temporary_file_has_the_final_permissions_from_its_first_byte(
    fitted, tmp_path, monkeypatch
):
    modes = []
    writestr = zipfile.ZipFile.writestr

    def spy(self, *args, **kwargs):
        modes.append(stat.S_IMODE(os.fstat(self.fp.fileno()).st_mode))
        return writestr(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", spy)
    path = tmp_path / "private.zip"
    path.write_bytes(b"old")
    os.chmod(path, 0o600)
    old_umask = os.umask(0o022)
    try:
        fitted.save(path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert set(modes) == {0o600}
        modes.clear()
        fitted.save(tmp_path / "new.zip")  # a new file: 0o666 less the umask
        assert set(modes) == {0o644}
        os.chmod(path, 0o640)
        os.umask(0o077)  # the target's bits are kept, whatever the umask
        modes.clear()
        fitted.save(path)
        assert set(modes) == {0o640}
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    finally:
        os.umask(old_umask)


KILLED_SAVE = """
import os, sys, zipfile
import numpy as np
from skorch.callbacks import Callback

from sklearn_ae import AutoencoderTransformer
X = np.random.default_rng(0).random((20, 4), dtype=np.float32)
ae = AutoencoderTransformer(2, hidden_layer_sizes=(), max_iter=1).fit(X)
writestr = zipfile.ZipFile.writestr
def stall(self, *args, **kwargs):
    writestr(self, *args, **kwargs)
    self.fp.flush()
    print("writing", flush=True)
    sys.stdin.read()  # until killed
zipfile.ZipFile.writestr = stall
ae.save(sys.argv[1])
"""


def test_a_temporary_left_by_a_killed_save_is_removed_by_the_next(fitted, tmp_path):
    path = tmp_path / "model.zip"
    fitted.save(path)
    before = path.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        assert process.stdout.readline() == "writing\n"
    finally:
        process.kill()
        process.wait()
    assert path.read_bytes() == before
    assert len(_hidden(tmp_path)) == 1  # the killed save's temporary
    fitted.save(path)
    assert _hidden(tmp_path) == []
    AutoencoderTransformer.load(path)


def test_a_save_keeps_the_temporary_of_a_save_in_progress(fitted, tmp_path):
    path = tmp_path / "model.zip"
    running = tmp_path / ".model.zip.0123456789ab.sklearn_ae-tmp"
    stale = tmp_path / ".model.zip.ba9876543210.sklearn_ae-tmp"
    other = tmp_path / ".other.zip.0123456789ab.sklearn_ae-tmp"
    for name in (running, stale, other):
        name.write_bytes(b"partial")
    with open(running, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # as a running save holds it
        fitted.save(path)
    assert _hidden(tmp_path) == sorted([running.name, other.name])


def test_huge_json_integers_are_refused_as_value_errors(saved, tmp_path):
    def put(where):
        def change(meta):
            *keys, last = where
            target = meta
            for key in keys:
                target = target[key]
            target[last] = 10**400

        return change

    places = [
        ("fitted", "scale_"),
        ("fitted", "loss_curve_", 0),
        ("fitted", "explained_variance_fraction_"),
        ("params", "noise"),
        ("optimizer", "param_groups", 0, "lr"),
        ("fitted", "n_iter_"),
    ]
    for i, where in enumerate(places):
        path = _rewrite(saved, tmp_path / f"huge{i}.zip", metadata=put(where))
        with pytest.raises(ValueError, match="an integer of 401 digits"):
            AutoencoderTransformer.load(path)


def test_text_from_a_file_is_quoted_in_warnings(saved, tmp_path):
    fake = "1.0\x1b[2K\rUserWarning: all good\n"

    def change(meta):
        meta["versions"]["torch"] = fake

    path = _rewrite(saved, tmp_path / "ansi.zip", metadata=change)
    with pytest.warns(UserWarning, match="saved with torch") as record:
        AutoencoderTransformer.load(path)
    message = str(record[0].message)
    assert repr(fake) in message
    assert not any(c in message for c in "\x1b\r\n")


def test_the_declared_fitted_state_is_what_fit_sets_and_load_restores(fitted, saved):
    from sklearn_ae._fitted import ATTRIBUTES, FITTED

    public = {k for k in vars(fitted) if k.endswith("_") and not k.startswith("__")}
    assert public <= set(ATTRIBUTES), public - set(ATTRIBUTES)
    loaded = AutoencoderTransformer.load(saved)
    for field in FITTED:
        expected = getattr(fitted, field.attribute, None)
        got = getattr(loaded, field.attribute, None)
        if isinstance(expected, np.ndarray):
            assert_array_equal(got, expected)
        else:
            assert got == expected, field.attribute


def test_the_fitted_check_and_the_rollback_read_the_declared_state(fitted, X_small):
    import copy

    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from sklearn_ae._fitted import ATTRIBUTES

    # The fitted check: any declared attribute missing is an unfitted model.
    partial = copy.deepcopy(fitted)
    del partial.n_iter_
    with pytest.raises(NotFittedError):
        check_is_fitted(partial)
    check_is_fitted(copy.deepcopy(fitted))

    # The rollback: a failing partial_fit puts every declared attribute back,
    # and a failing first fit leaves none of them behind.
    class Boom(Exception):
        pass

    def fail(*args, **kwargs):
        raise Boom

    model = copy.deepcopy(fitted)
    before = {name: vars(model)[name] for name in ATTRIBUTES if name in vars(model)}
    model.net_.partial_fit = fail
    with pytest.raises(Boom):
        model.partial_fit(X_small)
    after = {name: vars(model)[name] for name in ATTRIBUTES if name in vars(model)}
    assert after.keys() == before.keys()
    assert all(after[name] is value for name, value in before.items())

    class FailingCallback(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise Boom

    fresh = AutoencoderTransformer(max_iter=2, callbacks=[FailingCallback()])
    with pytest.raises(Boom):
        fresh.fit(X_small)  # after check_X set n_features_in_
    assert not any(name in vars(fresh) for name in ATTRIBUTES)
