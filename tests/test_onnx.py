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
