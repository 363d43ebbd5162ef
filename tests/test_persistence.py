"""save / load without pickle, and pickle across devices."""

import json
import pickle
import re
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_array_equal

pytest.importorskip("safetensors")

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

    with pytest.raises(ValueError, match="outside the allow-list"):
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
    with pytest.warns(UserWarning, match=r"saved with torch 1\.0\.0 \(now "):
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


def test_files_of_development_versions_with_a_generator_state_load(
    fitted, saved, tmp_path, X_small
):
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    with zipfile.ZipFile(saved) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    tensors = st_load(members["model.safetensors"])
    tensors["generator.state"] = torch.Generator().get_state()
    members["model.safetensors"] = st_save(tensors)
    path = tmp_path / "old.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert_array_equal(
        AutoencoderTransformer.load(path).transform(X_small), fitted.transform(X_small)
    )


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
