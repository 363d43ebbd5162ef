"""ONNX export: the same numbers as transform / inverse_transform."""

import pytest
from numpy.testing import assert_allclose

pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

from sklearn_ae import AutoencoderTransformer  # noqa: E402


@pytest.fixture(scope="module", params=["mse", "bce"])
def model(request, X_small):
    return AutoencoderTransformer(
        n_components=3,
        hidden_layer_sizes=(16,),
        loss=request.param,
        max_iter=3,
        random_state=0,
    ).fit(X_small * 4 - 1 if request.param == "mse" else X_small)


def _run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": X})
    return out


def test_encoder_and_decoder_match_the_estimator(model, X_small, tmp_path):
    X = X_small * 4 - 1 if model.loss == "mse" else X_small
    encoder = model.export_onnx(tmp_path / "encoder.onnx")
    decoder = model.export_onnx(tmp_path / "decoder.onnx", part="decoder")
    Z = model.transform(X)
    # Dynamic batch dimension: one row, a few, all of them.
    for rows in (slice(0, 1), slice(0, 37), slice(None)):
        assert_allclose(_run(encoder, X[rows]), Z[rows], atol=1e-4)
        assert_allclose(
            _run(decoder, Z[rows]), model.inverse_transform(Z[rows]), atol=1e-4
        )
    if model.loss == "mse":
        assert abs(model.mean_).max() > 0.1  # the graph must undo the centring
    else:
        reconstruction = _run(decoder, Z)
        assert 0 <= reconstruction.min() and reconstruction.max() <= 1


def test_bad_part_is_refused(model, tmp_path):
    with pytest.raises(ValueError, match="part must be 'encoder' or 'decoder'"):
        model.export_onnx(tmp_path / "x.onnx", part="both")


@pytest.mark.parametrize(
    "params",
    [
        dict(
            architecture="conv", input_shape=(1, 8, 8), module_params={"filters": (4,)}
        ),
        dict(architecture="lstm", input_shape=(8, 8)),
        dict(variational=True, loss="bce"),
    ],
    ids=["conv", "lstm", "vae"],
)
def test_zoo_models_export_with_the_same_numbers(params, X_small, tmp_path):
    X = X_small[:60]
    ae = AutoencoderTransformer(n_components=2, max_iter=1, random_state=0, **params)
    ae.fit(X)
    encoder = ae.export_onnx(tmp_path / "encoder.onnx")
    decoder = ae.export_onnx(tmp_path / "decoder.onnx", part="decoder")
    Z = ae.transform(X)  # the VAE's posterior mean, as in the graph
    assert_allclose(_run(encoder, X), Z, atol=1e-4)
    assert_allclose(_run(decoder, Z), ae.inverse_transform(Z), atol=1e-4)


# ------------------------------------------------------------ one file


def test_export_writes_one_self_contained_file(model, X_small, tmp_path):
    path = model.export_onnx(tmp_path / "encoder.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.onnx"]
    # Copied elsewhere alone, it still runs.
    moved = tmp_path / "elsewhere" / "moved.onnx"
    moved.parent.mkdir()
    path.rename(moved)
    X = X_small * 4 - 1 if model.loss == "mse" else X_small
    assert_allclose(_run(moved, X), model.transform(X), atol=1e-4)


def test_large_weights_go_to_a_sidecar_beside_the_file(
    model, X_small, tmp_path, monkeypatch
):
    from sklearn_ae._io import _onnx

    monkeypatch.setattr(_onnx, "EXTERNAL_DATA_BYTES", 0)
    path = model.export_onnx(tmp_path / "encoder.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "encoder.onnx",
        "encoder.onnx.data",
    ]
    X = X_small * 4 - 1 if model.loss == "mse" else X_small
    assert_allclose(_run(path, X), model.transform(X), atol=1e-4)


@pytest.mark.parametrize("external", [False, True])
def test_failed_export_leaves_nothing_behind(model, tmp_path, monkeypatch, external):
    import torch

    from sklearn_ae._io import _onnx

    if external:
        monkeypatch.setattr(_onnx, "EXTERNAL_DATA_BYTES", 0)
    original = torch.onnx.ONNXProgram.save

    def save_then_fail(self, destination, **kwargs):
        original(self, destination, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(torch.onnx.ONNXProgram, "save", save_then_fail)
    (tmp_path / "encoder.onnx").write_bytes(b"the previous export")
    with pytest.raises(OSError, match="disk full"):
        model.export_onnx(tmp_path / "encoder.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["encoder.onnx"]
    assert (tmp_path / "encoder.onnx").read_bytes() == b"the previous export"


def test_a_folder_or_a_fifo_is_not_a_file_name(model, tmp_path):
    import os

    with pytest.raises(ValueError, match="path must name a file, not a folder"):
        model.export_onnx(tmp_path)
    with pytest.raises(ValueError, match="path must name a file, not a folder"):
        model.export_onnx(f"{tmp_path}/models/")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="a regular file or nothing"):
        model.export_onnx(tmp_path / "pipe")
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]


# ------------------------------------------------- skl2onnx: whole pipelines


@pytest.fixture(scope="module")
def skl2onnx():
    skl2onnx = pytest.importorskip("skl2onnx")
    import sklearn_ae.onnx  # noqa: F401  (registers the converter)

    return skl2onnx


def _session(onx):
    return ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def test_pipeline_with_a_classifier_converts(skl2onnx, digits):
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    X, y = X[:800] * 16, y[:800]  # unscaled: the StandardScaler matters
    pipeline = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(8, max_iter=5, random_state=0),
        LogisticRegression(max_iter=500),
    ).fit(X, y)
    onx = skl2onnx.to_onnx(
        pipeline, X[:1], options={LogisticRegression: {"zipmap": False}}
    )
    labels, probabilities = _session(onx).run(None, {"X": X})
    assert np.mean(labels == pipeline.predict(X)) >= 0.999
    assert_allclose(probabilities, pipeline.predict_proba(X), atol=1e-4)


def test_column_transformer_and_double_input_convert(skl2onnx, digits):
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import StandardScaler

    X = digits[0][:200].astype(np.float64)
    columns = ColumnTransformer(
        [
            ("ae", AutoencoderTransformer(3, max_iter=3, random_state=0), slice(0, 40)),
            ("scale", StandardScaler(), slice(40, 64)),
        ]
    ).fit(X)
    onx = skl2onnx.to_onnx(columns, X[:1])  # double in, double out
    (out,) = _session(onx).run(None, {"X": X})
    assert out.dtype == np.float64 and out.shape == (200, 27)
    assert_allclose(out, columns.transform(X), atol=1e-4)


@pytest.mark.parametrize(
    "params",
    [
        dict(variational=True, loss="bce"),  # the posterior mean, as transform
        dict(
            architecture="conv", input_shape=(1, 8, 8), module_params={"filters": (4,)}
        ),
        dict(architecture="lstm", input_shape=(8, 8)),
    ],
    ids=["vae", "conv", "lstm"],
)
def test_zoo_encoders_convert_with_the_same_numbers(skl2onnx, params, X_small):
    ae = AutoencoderTransformer(2, max_iter=1, random_state=0, **params)
    ae.fit(X_small[:60])
    onx = skl2onnx.to_onnx(ae, X_small[:1])
    (codes,) = _session(onx).run(None, {"X": X_small})
    assert_allclose(codes, ae.transform(X_small), atol=1e-4)


def test_two_autoencoders_in_one_graph_keep_their_own_weights(skl2onnx, X_small):
    from sklearn.pipeline import make_pipeline

    chain = make_pipeline(
        AutoencoderTransformer(6, hidden_layer_sizes=(16,), max_iter=2, random_state=0),
        AutoencoderTransformer(2, hidden_layer_sizes=(16,), max_iter=2, random_state=1),
    ).fit(X_small)
    onx = skl2onnx.to_onnx(chain, X_small[:1])
    (codes,) = _session(onx).run(None, {"X": X_small})
    assert_allclose(codes, chain.transform(X_small), atol=1e-4)


def test_an_opset_older_than_the_exporters_is_refused(skl2onnx, fitted, X_small):
    with pytest.raises(
        ValueError, match="needs opset 18 or newer; got target opset 17"
    ):
        skl2onnx.to_onnx(fitted, X_small[:1], target_opset=17)
