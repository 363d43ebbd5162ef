"""sklearn_ae.compare: metrics equal scikit-learn's, every reducer kind, failures,
bad input, and the command line end to end."""

import ast
import copy
import inspect
import io
import runpy
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA, KernelPCA, TruncatedSVD
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.manifold import TSNE, Isomap, trustworthiness
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_ae import AutoencoderTransformer, compare
from sklearn_ae.compare import METRICS, ComparisonDetails, main

pd = pytest.importorskip("pandas")

N_NEIGHBORS = 5
TIMES = ["fit_time", "transform_time"]


@pytest.fixture(autouse=True)
def _one_thread():
    # t-SNE's OpenMP threads spin badly on a busy machine
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def data(digits):
    X, y = digits
    return X[:300], y[:300]


def _small_ae(**params):
    return AutoencoderTransformer(
        n_components=4, hidden_layer_sizes=(16,), max_iter=3, **params
    )


REDUCERS = {
    "PCA": PCA(4),
    "KernelPCA": KernelPCA(4, kernel="rbf", fit_inverse_transform=True),
    # ARPACK (Isomap's default here) starts from the global RNG: "dense" is exact
    "Isomap": Isomap(n_components=3, eigen_solver="dense"),
    "TruncatedSVD": TruncatedSVD(2),
    "TSNE": TSNE(perplexity=10, init="pca"),
    "AE": _small_ae(),
    "scaled PCA": make_pipeline(StandardScaler(), PCA(4)),
}


@pytest.fixture(scope="module")
def result(data):
    X, y = data
    with threadpool_limits(1):
        return compare(REDUCERS, X, y, random_state=0)


def _split(X, y, random_state=0, test_size=0.2):
    return train_test_split(
        np.arange(len(X)), test_size=test_size, random_state=random_state, stratify=y
    )


def test_metrics_equal_scikit_learns_own(result, data):
    X, y = data
    details = result.attrs["details"]
    train, test = _split(X, y)
    np.testing.assert_array_equal(details.train_index, train)
    np.testing.assert_array_equal(details.test_index, test)
    # PCA is deterministic: an independent refit on the same (float32) rows
    pca = PCA(4).fit(X[train])
    Z_train, Z_test = pca.transform(X[train]), pca.transform(X[test])
    X_test = X[test].astype(np.float64)
    row = result.loc["PCA"]
    assert row["n_components"] == 4
    assert row["reconstruction_mse"] == pytest.approx(
        mean_squared_error(X_test, pca.inverse_transform(Z_test)), rel=1e-6
    )
    assert row["trustworthiness"] == pytest.approx(
        trustworthiness(X_test, Z_test, n_neighbors=N_NEIGHBORS), rel=1e-6
    )
    assert row["continuity"] == pytest.approx(
        trustworthiness(Z_test, X_test, n_neighbors=N_NEIGHBORS), rel=1e-6
    )
    knn = KNeighborsClassifier(n_neighbors=N_NEIGHBORS).fit(Z_train, y[train])
    assert row["knn_accuracy"] == pytest.approx(knn.score(Z_test, y[test]))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(Z_train, y[train])
    assert row["probe_accuracy"] == pytest.approx(probe.score(Z_test, y[test]))
    # 4-D codes are drawn by t-SNE; the view is scored like the codes
    view = details.views["PCA"]
    assert row["view"] == "t-SNE of codes" and view.shape == (len(test), 2)
    assert row["view_trustworthiness"] == pytest.approx(
        trustworthiness(X_test, view, n_neighbors=N_NEIGHBORS)
    )
    np.testing.assert_array_equal(details.codes["PCA"], Z_test)


def test_every_reducer_kind(result, data):
    X, _ = data
    details = result.attrs["details"]
    n_test = len(details.test_index)
    assert list(result.index) == list(REDUCERS)
    assert (result["error"] == "").all()
    scores = ["trustworthiness", "continuity", "view_trustworthiness"]
    assert result[scores].apply(lambda c: c.between(0.5, 1.0)).all().all()
    assert dict(result["n_components"]) == {
        "PCA": 4,
        "KernelPCA": 4,
        "Isomap": 3,
        "TruncatedSVD": 2,
        "TSNE": 2,
        "AE": 4,
        "scaled PCA": 4,
    }
    # reconstruction where inverse_transform exists, NaN and a note elsewhere
    has_inverse = ["PCA", "KernelPCA", "TruncatedSVD", "AE", "scaled PCA"]
    assert result.loc[has_inverse, "reconstruction_mse"].between(0, 0.2).all()
    for name in has_inverse:
        assert details.reconstructions[name].shape == (n_test, X.shape[1])
    assert np.isnan(result.loc["Isomap", "reconstruction_mse"])
    assert result.loc["Isomap", "note"] == "no inverse_transform"
    # t-SNE has no transform: embedded on the held-out rows, no supervised scores
    tsne = result.loc["TSNE"]
    assert tsne[["reconstruction_mse", "knn_accuracy", "probe_accuracy"]].isna().all()
    assert np.isnan(tsne["transform_time"]) and tsne["fit_time"] > 0
    assert tsne["note"].startswith("no transform: fitted on the held-out rows")
    assert tsne["view"] == "codes"
    assert tsne["view_trustworthiness"] == tsne["trustworthiness"]
    others = result.drop(index="TSNE")
    assert others[["knn_accuracy", "probe_accuracy"]].gt(0.2).all().all()  # 10 classes
    # 2-component codes are their own view; more get t-SNE
    assert result.loc["TruncatedSVD", "view"] == "codes"
    np.testing.assert_array_equal(
        details.views["TruncatedSVD"], details.codes["TruncatedSVD"]
    )
    assert result.loc["Isomap", "view"] == "t-SNE of codes"
    # only the autoencoder says whether it kept PCA's solution
    kept = details.estimators["AE"].best_epoch_ == 0
    assert result.loc["AE", "kept_pca"] == float(kept)
    assert result.drop(index="AE")["kept_pca"].isna().all()
    # the fitted clones are kept; the given reducers are left unfitted
    assert details.estimators["AE"].n_components_ == 4
    assert not hasattr(REDUCERS["AE"], "n_components_")
    assert details.estimators["scaled PCA"][-1].n_components_ == 4


def test_reproducible_with_random_state(result, data):
    X, y = data
    again = compare(REDUCERS, X, y, random_state=0)
    pd.testing.assert_frame_equal(result.drop(columns=TIMES), again.drop(columns=TIMES))
    # random_state reaches every unset seed, nested ones too; set ones are kept
    reducers = {
        "AE": _small_ae(),
        "seeded AE": _small_ae(random_state=7),
        "pipe": make_pipeline(StandardScaler(), PCA(2, svd_solver="randomized")),
    }
    other = compare(reducers, X, y, random_state=3, metrics=["trustworthiness"])
    estimators = other.attrs["details"].estimators
    assert estimators["AE"].random_state == 3
    assert estimators["seeded AE"].random_state == 7
    assert estimators["pipe"].get_params()["pca__random_state"] == 3
    # another seed, another split
    assert not np.array_equal(
        other.attrs["details"].test_index, result.attrs["details"].test_index
    )


def test_regression_target(data):
    X, y = data
    y = y + np.linspace(0, 0.5, len(y))  # continuous
    result = compare({"PCA": PCA(3)}, X, y, random_state=0, view=None)
    details = result.attrs["details"]
    assert details.task == "regression"
    assert "knn_accuracy" not in result and "view" not in result
    train, test = train_test_split(np.arange(len(X)), test_size=0.2, random_state=0)
    np.testing.assert_array_equal(details.test_index, test)  # not stratified
    pca = PCA(3).fit(X[train])
    Z_train, Z_test = pca.transform(X[train]), pca.transform(X[test])
    knn = KNeighborsRegressor(n_neighbors=N_NEIGHBORS).fit(Z_train, y[train])
    probe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(Z_train, y[train])
    assert result.loc["PCA", "knn_r2"] == pytest.approx(knn.score(Z_test, y[test]))
    assert result.loc["PCA", "probe_r2"] == pytest.approx(probe.score(Z_test, y[test]))
    # an integer count can be scored as a regression too
    counts = np.arange(len(X)) % 40
    assert compare({"PCA": PCA(2)}, X, counts).attrs["details"].task == (
        "classification"
    )
    forced = compare({"PCA": PCA(2)}, X, counts, task="regression")
    assert "knn_r2" in forced


def test_sparse_input_gives_the_dense_results(data):
    X, y = data
    reducers = {"SVD": TruncatedSVD(3, algorithm="arpack")}
    dense = compare(reducers, X, y, random_state=0, view=None)
    sparse = compare(reducers, sp.csr_matrix(X), y, random_state=0, view=None)
    pd.testing.assert_frame_equal(
        dense.drop(columns=TIMES), sparse.drop(columns=TIMES), rtol=1e-5
    )


def test_without_y_and_a_metric_subset(data):
    X, _ = data
    result = compare({"PCA": PCA(2)}, X, metrics=["continuity"], random_state=0)
    assert list(result.columns) == [
        "n_components",
        "continuity",
        *TIMES,
        "note",
        "error",
    ]
    assert result.attrs["details"].task is None
    assert set(METRICS) >= {"knn", "linear_probe", "reconstruction"}


class _Broken(PCA):
    def fit(self, X, y=None):
        raise RuntimeError("out of luck")


def test_a_failing_reducer_is_reported_and_the_others_kept(data):
    X, y = data
    reducers = {"PCA": PCA(2), "broken": _Broken(2), "too wide": PCA(500)}
    with pytest.warns(UserWarning, match="failed, its row is incomplete") as record:
        result = compare(reducers, X, y, random_state=0)
    assert [str(w.message).split(" failed")[0] for w in record] == [
        "Reducer 'broken'",
        "Reducer 'too wide'",
    ]
    assert result.loc["broken", "error"] == "RuntimeError: out of luck"
    assert result.loc["too wide", "error"].startswith("ValueError: n_components=500")
    assert result.loc["PCA", "error"] == ""
    assert result.loc["PCA", ["trustworthiness", "knn_accuracy"]].notna().all()
    failed = result.loc[["broken", "too wide"]].drop(columns=["view", "note", "error"])
    assert failed.isna().all().all()
    assert result.attrs["details"].estimators["broken"] is None


def test_non_finite_codes_are_an_error(data):
    class NaNCodes(PCA):
        def transform(self, X):
            return np.full((len(X), 2), np.nan)

    with pytest.warns(UserWarning, match="NaN or infinite"):
        result = compare({"nan": NaNCodes(2)}, data[0], random_state=0)
    assert "finite" in result.loc["nan", "error"]


def test_costly_umap_inverse_transform_is_skipped(data):
    class UMAP(PCA):  # stands in for umap.UMAP: the rule goes by class name
        pass

    result = compare(
        {"UMAP(5)": UMAP(5), "UMAP(4)": make_pipeline(UMAP(4))},
        data[0],
        random_state=0,
        view=None,
    )
    assert np.isnan(result.loc["UMAP(5)", "reconstruction_mse"])
    assert "UMAP.inverse_transform skipped above 4" in result.loc["UMAP(5)", "note"]
    assert result.loc["UMAP(4)", "reconstruction_mse"] > 0


def test_bad_input_messages(data):
    X, y = data
    frame = pd.DataFrame({"name": ["a", "b"] * 20, "label": [0, 1] * 20})
    with pytest.raises(ValueError, match="reducers is empty"):
        compare({}, X, y)
    with pytest.raises(TypeError, match="must be a dict"):
        compare([PCA(2)], X, y)
    with pytest.raises(ValueError, match=r"no numeric column \(its columns: name\)"):
        compare({"PCA": PCA(2)}, frame.drop(columns="label"))
    with pytest.raises(ValueError, match=r"non-numeric columns \(name\)"):
        compare({"PCA": PCA(2)}, frame.assign(x=1.0), "label")
    with pytest.raises(ValueError, match="Target column 'target' is not in X; its"):
        compare({"PCA": PCA(2)}, frame, "target")
    with pytest.raises(ValueError, match="Unknown metrics"):
        compare({"PCA": PCA(2)}, X, y, metrics=["accuracy"])
    with pytest.raises(ValueError, match="need y"):
        compare({"PCA": PCA(2)}, X, metrics=["knn"])
    with pytest.raises(ValueError, match="X has 300 rows but y has 299"):
        compare({"PCA": PCA(2)}, X, y[:-1])
    with pytest.raises(ValueError, match="held-out part has 10 rows"):
        compare({"PCA": PCA(2)}, X, y, test_size=10)
    with pytest.raises(ValueError, match="y must be 1-D"):
        compare({"PCA": PCA(2)}, X, np.c_[y, y])
    with pytest.raises(ValueError, match=r"type_of_target\(y\) is 'unknown'"):
        compare({"PCA": PCA(2)}, X, np.array([{"a": 1}] * len(X)))
    with pytest.raises(ValueError, match="y has 30 missing values"):
        compare({"PCA": PCA(2)}, X, np.where(y > 8, np.nan, y))
    labels = y.astype(str).astype(object)
    labels[y > 8] = np.nan  # as pandas reads an empty cell of a text column
    with pytest.raises(ValueError, match="y has 30 missing values"):
        compare({"PCA": PCA(2)}, X, labels)


def test_dataframe_target_column_and_preprocessor():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=120),
            "b": rng.normal(size=120) * 10,
            "colour": rng.choice(["red", "green", "blue"], 120),
            "label": np.arange(120) % 2,
        }
    )
    preprocessor = ColumnTransformer(
        [
            ("num", StandardScaler(), ["a", "b"]),
            ("cat", OneHotEncoder(sparse_output=False), ["colour"]),
        ]
    )
    result = compare(
        {"PCA": PCA(2)}, frame, "label", preprocessor=preprocessor, random_state=0
    )
    details = result.attrs["details"]
    assert details.task == "classification"
    # a clone fitted on the training rows only
    scaler = details.preprocessor.named_transformers_["num"]
    training = frame.iloc[details.train_index]
    np.testing.assert_allclose(scaler.mean_, training[["a", "b"]].mean())
    assert not hasattr(preprocessor, "transformers_")
    assert details.reconstructions["PCA"].shape == (24, 5)  # 2 scaled + 3 one-hot
    # the metrics live in the preprocessor's space, fitted on the training rows
    X_test = details.preprocessor.transform(frame.iloc[details.test_index])
    assert result.loc["PCA", "trustworthiness"] == pytest.approx(
        trustworthiness(X_test, details.codes["PCA"], n_neighbors=N_NEIGHBORS)
    )


def test_details_are_shared_not_copied(result):
    details = result.attrs["details"]
    assert isinstance(details, ComparisonDetails)
    assert result.round(3).attrs["details"] is details
    assert result[["trustworthiness"]].attrs["details"] is details
    assert copy.deepcopy(details) is details
    assert "n_test=60" in repr(details)


def test_n_jobs_gives_the_same_metrics(data):
    from joblib import parallel_backend

    X, y = data
    reducers = {"PCA": PCA(3), "Isomap": Isomap(n_components=2)}
    sequential = compare(reducers, X, y, random_state=0, view=None)
    with parallel_backend("threading"):
        parallel = compare(reducers, X, y, random_state=0, view=None, n_jobs=2)
    pd.testing.assert_frame_equal(
        sequential.drop(columns=TIMES), parallel.drop(columns=TIMES)
    )


def test_umap_when_installed(data):
    umap = pytest.importorskip("umap")
    X, y = data
    reducer = umap.UMAP(n_components=2, n_neighbors=10, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # numba / umap chatter
        result = compare({"UMAP": reducer}, X, y, random_state=0)
    row = result.loc["UMAP"]
    assert row["error"] == ""
    assert row[["trustworthiness", "continuity", "knn_accuracy"]].gt(0.6).all()
    assert row["reconstruction_mse"] > 0
    assert result.attrs["details"].estimators["UMAP"].random_state == 0


# -- plot_comparison ---------------------------------------------------------


def test_plot_comparison(result, data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_ae.plotting import plot_comparison

    X, y = data
    try:
        figures = plot_comparison(result, X, y, image_shape=(8, 8), n_images=6)
        assert list(figures) == ["views", "metrics", "reconstructions"]
        views = figures["views"].axes
        assert [ax.get_title().split(" (")[0] for ax in views] == [
            "PCA -> t-SNE",
            "KernelPCA -> t-SNE",
            "Isomap -> t-SNE",
            "TruncatedSVD",
            "TSNE",
            "AE -> t-SNE",
            "scaled PCA -> t-SNE",
        ]
        assert sum(len(c.get_offsets()) for c in views[0].collections) == 60
        metrics = {ax.get_title(): ax for ax in figures["metrics"].axes}
        assert list(metrics)[:3] == [
            "reconstruction_mse",
            "trustworthiness",
            "continuity",
        ]
        bars = [patch.get_width() for patch in metrics["knn_accuracy"].patches]
        np.testing.assert_allclose(bars, result["knn_accuracy"].fillna(0.0))
        # each bar is labelled with its value as the table shows it
        labels = [text.get_text() for text in metrics["knn_accuracy"].texts]
        assert labels == [
            "n/a" if np.isnan(v) else f"{v:.3f}" for v in result["knn_accuracy"]
        ]  # t-SNE has no kNN score
        assert labels[0] == f"{result.loc['PCA', 'knn_accuracy']:.3f}"
        # and the x axis says which way is better
        assert metrics["reconstruction_mse"].get_xlabel() == "lower is better"
        assert metrics["fit_time"].get_xlabel() == "seconds: lower is better"
        assert metrics["knn_accuracy"].get_xlabel() == "higher is better"
        better = "higher is better (1 is perfect)"
        assert metrics["continuity"].get_xlabel() == better
        # originals (held-out rows) over 5 reducers' reconstructions
        images = [im for ax in figures["reconstructions"].axes for im in ax.images]
        assert len(images) == 6 * 6
        first = X[result.attrs["details"].test_index[0]].reshape(8, 8)
        np.testing.assert_allclose(images[0].get_array(), first)
        # without image_shape or X: no reconstructions; a plain table is refused
        assert "reconstructions" not in plot_comparison(result, None, y)
        assert "reconstructions" not in plot_comparison(result, X, y)
        with pytest.raises(ValueError, match="attrs"):
            plot_comparison(result.copy().rename(columns=str).pipe(_no_attrs))
    finally:
        plt.close("all")


def _no_attrs(frame):
    frame.attrs = {}
    return frame


# -- the command line --------------------------------------------------------


@pytest.fixture
def csv_file(tmp_path):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.iloc[:150].copy()
    frame["colour"] = np.random.default_rng(0).choice(["red", "white"], len(frame))
    frame.loc[3, "alcohol"] = np.nan  # imputed
    frame.loc[5, "target"] = np.nan  # dropped
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    return path


def test_command_line_end_to_end(csv_file, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)  # as if umap-learn were absent
    output_dir = tmp_path / "out"
    result, written = main(
        [
            str(csv_file),
            "--target",
            "target",
            "--n-components",
            "3",
            "--methods",
            "pca,ae,umap,tsne",
            "--epochs",
            "2",
            "--output-dir",
            str(output_dir),
        ]
    )
    out = capsys.readouterr().out
    assert "Skipped umap: umap-learn is not installed" in out
    assert "Dropped 1 rows without a 'target'." in out
    assert "13 numeric columns (standardised), 1 categorical (one-hot)" in out
    assert (
        "Filled 1 missing cell (1 in 'alcohol') with the column's median over "
        "the training rows." in out
    )
    assert "Left out" not in out  # written without its index: nothing to leave out
    assert [path.name for path in written] == [
        "results.csv",
        "results.md",
        "views.png",
        "metrics.png",
    ]
    assert all(path.stat().st_size > 0 for path in written)
    table = pd.read_csv(output_dir / "results.csv", index_col="reducer")
    assert list(table.index) == ["pca", "ae", "tsne"]
    assert table.loc["pca", "n_components"] == 3
    assert table.loc["pca", "knn_accuracy"] == pytest.approx(
        result.loc["pca", "knn_accuracy"]
    )
    markdown = (output_dir / "results.md").read_text()
    assert markdown.startswith("Data: wine.csv, 149 rows: 119 to fit, 30 held out")
    assert "Filled 1 missing cell" in markdown.splitlines()[0]
    assert "| reducer | n_components | kept_pca | reconstruction_mse |" in markdown
    assert "| pca | 3 | - |" in markdown  # only autoencoders keep PCA's solution
    kept = result.attrs["details"].estimators["ae"].best_epoch_ == 0
    assert f"| ae | 3 | {'yes' if kept else 'no'} |" in markdown
    assert "- tsne (note): no transform" in markdown
    # 15 features after preprocessing: 13 standardised numbers (on the training
    # rows), 2 one-hot colours
    details = result.attrs["details"]
    assert details.reconstructions["pca"].shape == (30, 15)
    frame = pd.read_csv(csv_file).dropna(subset=["target"])
    training = details.preprocessor.transform(
        frame.drop(columns="target").iloc[details.train_index]
    )
    np.testing.assert_allclose(training[:, :13].mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(training[:, :13].std(axis=0), 1.0, rtol=1e-12)
    assert set(np.unique(training[:, 13:])) == {0.0, 1.0}


def test_command_line_images(tmp_path, digits):
    X, y = digits
    frame = pd.DataFrame(X[:100], columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y[:100]
    path = tmp_path / "digits.csv"
    frame.to_csv(path, index=False)
    result, written = main(
        [
            str(path),
            "--target",
            "digit",
            "--methods",
            "pca",
            "--no-standardize",
            "--image-shape",
            "8x8",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert "reconstructions.png" in [p.name for p in written]
    # --no-standardize: the pixels are compared as they are
    preprocessor = result.attrs["details"].preprocessor
    np.testing.assert_array_equal(
        preprocessor.transform(frame.drop(columns="digit")), X[:100]
    )


def test_command_line_reads_parquet(csv_file, tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "wine.parquet"
    pd.read_csv(csv_file).to_parquet(path)
    result, _ = main(
        [
            str(path),
            "--target",
            "target",
            "--methods",
            "pca",
            "--output-dir",
            str(tmp_path),
        ]
    )
    from_csv, _ = main(
        [
            str(csv_file),
            "--target",
            "target",
            "--methods",
            "pca",
            "--output-dir",
            str(tmp_path),
        ]
    )
    pd.testing.assert_frame_equal(
        result.drop(columns=TIMES), from_csv.drop(columns=TIMES)
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.csv"], "missing.csv: no such file"),
        (["{csv}", "--target", "label"], "target column 'label' is not in wine.csv"),
        (["{csv}", "--methods", "pca,magic"], "unknown methods ['magic']"),
        (["{text}"], "text.csv has no numeric column"),
        (["{csv}", "--image-shape", "8by8"], "--image-shape must look like 28x28"),
        (["{csv}", "--test-size", "0.01"], "held-out part has 2 rows"),
        (["{sheet}"], "sheet.xlsx: unknown file type '.xlsx'"),
        (["{empty}"], "cannot read empty.csv: No columns to parse"),
        (["{parquet}"], "cannot read data.parquet: "),  # pyarrow or not
    ],
)
def test_command_line_errors(argv, message, csv_file, tmp_path, capsys):
    text = tmp_path / "text.csv"
    pd.DataFrame({"word": ["a", "b", "c"], "other": ["x", "y", "z"]}).to_csv(
        text, index=False
    )
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    (tmp_path / "empty.csv").write_text("")
    names = {"csv": csv_file, "text": text}
    (tmp_path / "data.parquet").write_bytes(b"not parquet")
    names.update(
        sheet=tmp_path / "sheet.xlsx",
        empty=tmp_path / "empty.csv",
        parquet=tmp_path / "data.parquet",
    )
    argv = [arg.format(**names) for arg in argv]
    if "--methods" not in argv:
        argv += ["--methods", "pca"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--output-dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_python_m_runs_the_package_main_without_warnings(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["sklearn_ae.compare", "--help"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # runpy's double import
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_module("sklearn_ae.compare", run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--target", "--n-components", "--methods", "--output-dir"):
        assert option in out
    # one object: the package sklearn_ae.compare, which calls its function
    import sklearn_ae
    import sklearn_ae.compare as package

    assert sklearn_ae.compare is package is sys.modules["sklearn_ae.compare"]
    assert compare is package and package.compare is not package
    assert package.METHODS["pca"] is not None
    assert "repeats=1" in str(inspect.signature(compare))


# -- repeated splits ---------------------------------------------------------


def test_repeats_report_the_mean_and_spread_of_every_split(data):
    from sklearn.model_selection import StratifiedShuffleSplit

    X, y = data
    # an autoencoder at the end of a Pipeline is one too
    reducers = {"PCA": PCA(3), "AE": make_pipeline(StandardScaler(), _small_ae())}
    once = compare(reducers, X, y, random_state=0, view=None)
    result = compare(reducers, X, y, random_state=0, view=None, repeats=3)
    details = result.attrs["details"]
    runs = details.runs
    assert details.repeats == 3 and "repeats=3" in repr(details)
    assert list(runs.index) == [(n, s) for n in ("PCA", "AE") for s in range(3)]
    # the first split is the single comparison's split
    pd.testing.assert_frame_equal(
        runs.xs(0, level="split").drop(columns=TIMES), once.drop(columns=TIMES)
    )
    # each split is StratifiedShuffleSplit's, and PCA refitted on it agrees
    splits = list(StratifiedShuffleSplit(3, test_size=0.2, random_state=0).split(X, y))
    for split, (train, test) in enumerate(splits):
        pca = PCA(3).fit(X[train])
        X_test = X[test].astype(np.float64)
        expected = trustworthiness(X_test, pca.transform(X_test), n_neighbors=5)
        assert runs.loc[("PCA", split), "trustworthiness"] == pytest.approx(expected)
    # mean and sample standard deviation over the splits, the spread beside
    scores = runs.loc["PCA", "knn_accuracy"]
    assert result.loc["PCA", "knn_accuracy"] == pytest.approx(scores.mean())
    assert result.loc["PCA", "knn_accuracy_std"] == pytest.approx(scores.std(ddof=1))
    assert result.loc["PCA", "knn_accuracy_std"] > 0  # the splits differ
    columns = list(result.columns)
    assert columns.index("knn_accuracy_std") == columns.index("knn_accuracy") + 1
    assert "n_components_std" not in result and "kept_pca_std" not in result
    # kept_pca: the fraction of splits in which the autoencoder kept PCA's
    # solution; NaN for other reducers
    assert result.loc["AE", "kept_pca"] == pytest.approx(
        runs.loc["AE", "kept_pca"].mean()
    )
    assert np.isnan(result.loc["PCA", "kept_pca"])
    kept = details.estimators["AE"][-1].best_epoch_ == 0
    assert runs.loc[("AE", 0), "kept_pca"] == float(kept)
    # the table shows mean ± std, and kept_pca as a count of the splits
    from sklearn_ae.compare import format_markdown

    table = format_markdown(result)
    assert "| reducer | n_components | kept_pca | reconstruction_mse |" in table
    row = result.loc["PCA"]
    assert f"| {row['knn_accuracy']:.3f} ± {row['knn_accuracy_std']:.3f} |" in table
    kept_splits = round(result.loc["AE", "kept_pca"] * 3)
    assert f"| AE | 4 | {kept_splits}/3 |" in table
    with pytest.raises(ValueError, match=r"repeats must be an int in the range"):
        compare(reducers, X, y, repeats=0)


def test_repeats_in_the_figures_are_error_bars(data):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_ae.plotting import plot_comparison

    X, y = data
    result = compare({"PCA": PCA(3)}, X, y, random_state=0, view=None, repeats=3)
    try:
        metrics = {ax.get_title(): ax for ax in plot_comparison(result)["metrics"].axes}
        ax = metrics["trustworthiness"]
        (bars,) = [c for c in ax.containers if hasattr(c, "errorbar")]
        assert bars.errorbar is not None
        segments = bars.errorbar.lines[2][0].get_segments()
        (low, _), (high, _) = segments[0]
        row = result.loc["PCA"]
        mean, spread = row["trustworthiness"], row["trustworthiness_std"]
        assert (low, high) == pytest.approx((mean - spread, mean + spread))
        assert [t.get_text() for t in ax.texts] == [f"{mean:.3f} ± {spread:.3f}"]
    finally:
        plt.close("all")


# -- progress and warnings ---------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("terminal, verbose", [(False, 1), (True, 1), (True, 2)])
def test_progress_is_plain_lines_off_a_terminal(terminal, verbose, data, monkeypatch):
    X, y = data
    stream = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    reducers = {"PCA": PCA(2), "SVD": TruncatedSVD(2)}
    compare(reducers, X, y, view=None, verbose=verbose)
    text = stream.getvalue()
    if verbose == 1 and terminal:  # tqdm's bar, redrawn in place
        assert "\r" in text and "2/2" in text
    else:  # a log file or a pipe: one line per fit, no redraws, no escapes
        assert "\r" not in text and "\x1b" not in text
        lines = text.splitlines()
        assert [line.split(" fitted in ")[0] for line in lines] == [
            "compare: 1/2 PCA",
            "compare: 2/2 SVD",
        ]


def test_isomap_sparse_efficiency_warnings_are_silenced():
    rng = np.random.default_rng(0)
    # three far-apart clusters: Isomap completes a disconnected neighbour graph
    X = np.concatenate([rng.normal(size=(40, 5)) + shift for shift in (0, 50, -50)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = compare({"Isomap": Isomap(n_components=2)}, X, random_state=0)
    assert result.loc["Isomap", "error"] == ""
    kinds = {type(w.message).__name__ for w in caught}
    assert "SparseEfficiencyWarning" not in kinds
    assert "UserWarning" in kinds  # Isomap's own word on the graph is kept


# -- parallel fits -------------------------------------------------------------


@pytest.mark.parametrize(
    "n_jobs, n_cpus, repeats, expected",
    [(24, 16, 1, 2), (1000, 16, 3, 6), (24, 3, 1, 2), (-1, 1, 1, None)],
)
def test_n_jobs_is_capped_at_the_fits_and_cpus(
    n_jobs, n_cpus, repeats, expected, data, monkeypatch
):
    import joblib

    used = []

    class Recorder:  # runs the fits here, recording the workers asked for
        def __init__(self, n_jobs, **_):
            used.append(n_jobs)

        def __call__(self, tasks):
            return (function(*args, **kwargs) for function, args, kwargs in tasks)

    monkeypatch.setattr(joblib, "Parallel", Recorder)
    monkeypatch.setattr(joblib, "cpu_count", lambda *_, **__: n_cpus)
    X, y = data
    reducers = {"PCA": PCA(2), "SVD": TruncatedSVD(2)}
    result = compare(
        reducers, X, y, view=None, metrics=["knn"], n_jobs=n_jobs, repeats=repeats
    )
    assert used == ([] if expected is None else [expected])  # None: sequential
    assert result["error"].eq("").all()
    with pytest.raises(ValueError, match="n_jobs must be None, a positive int"):
        compare(reducers, X, y, n_jobs=0)


# -- small inputs --------------------------------------------------------------


def test_small_or_bad_split_sizes_get_clear_messages(data):
    X, y = data
    for test_size in (float("nan"), 0.0, 1.0, -0.5, 300, True):
        with pytest.raises(ValueError, match=r"test_size must be a float in the"):
            compare({"PCA": PCA(2)}, X, y, test_size=test_size)
    frame = pd.DataFrame({"a": [], "b": [], "label": []})
    with pytest.raises(ValueError, match=r"Found 0 sample\(s\)"):
        compare({"PCA": PCA(2)}, frame, "label", preprocessor=StandardScaler())


# -- the layout ----------------------------------------------------------------


def test_compare_code_imports_the_package_only_relatively():
    import sklearn_ae.compare as package
    import sklearn_ae.plotting as plotting

    for path in [*package.__path__, plotting.__file__]:
        files = Path(path).glob("*.py") if Path(path).is_dir() else [Path(path)]
        for file in files:
            for node in ast.walk(ast.parse(file.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                assert not [n for n in names if n.split(".")[0] == "sklearn_ae"], file


# -- the command line: columns, output folder, small inputs --------------------


def _main(path, tmp_path, *extra):
    return main(
        [
            str(path),
            "--target",
            "target",
            "--methods",
            "pca,isomap",
            "--output-dir",
            str(tmp_path / "out"),
            *extra,
        ]
    )


def test_command_line_leaves_out_a_written_row_index(tmp_path, capsys):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame.loc[4, "ash"] = np.nan
    files = {}
    for name, written in {
        "plain": frame,
        "pandas": frame,  # to_csv's default: the index as an unnamed column
        "filtered": frame.iloc[::-1],  # an index that is not 0..n-1
        "r": frame.rename_axis("rownames"),  # Rdatasets' row names
    }.items():
        files[name] = tmp_path / f"{name}.csv"
        written.to_csv(files[name], index=name != "plain")
    results = {}
    for name, path in files.items():
        results[name], _ = _main(path, tmp_path)
        out = capsys.readouterr().out
        assert "13 numeric columns (standardised)" in out
        assert "Filled 1 missing cell (1 in 'ash')" in out
        if name == "plain":
            assert "Left out" not in out
        else:
            column = "rownames" if name == "r" else "Unnamed: 0"
            assert f"Left out '{column}': a row index" in out
    for name in ("pandas", "r"):
        pd.testing.assert_frame_equal(
            results[name].drop(columns=TIMES), results["plain"].drop(columns=TIMES)
        )
    # the same rows in another order: another split, but the same columns
    assert list(results["filtered"].columns) == list(results["plain"].columns)


def test_command_line_drop_option(csv_file, tmp_path, capsys):
    frame = pd.read_csv(csv_file)
    frame.insert(0, "id", np.arange(len(frame)) + 1000)
    path = tmp_path / "with_id.csv"
    frame.to_csv(path, index=False)
    with_id, _ = _main(path, tmp_path, "--drop", "id", "colour")
    out = capsys.readouterr().out
    assert "Left out 'id', 'colour': --drop." in out
    assert "13 numeric columns (standardised), 0 categorical" in out
    without, _ = _main(csv_file, tmp_path, "--drop", "colour")
    pd.testing.assert_frame_equal(
        with_id.drop(columns=TIMES), without.drop(columns=TIMES)
    )
    for drop, message in [
        ("size", "argument --drop: 'size' not in with_id.csv; its columns are: id,"),
        ("target", "argument --drop: 'target' is the --target column"),
    ]:
        with pytest.raises(SystemExit):
            _main(path, tmp_path, "--drop", drop)
        assert message in capsys.readouterr().err


def test_command_line_repeats(csv_file, tmp_path, capsys):
    result, written = _main(csv_file, tmp_path, "--repeats", "2")
    assert result.attrs["details"].repeats == 2
    assert "trustworthiness_std" in result
    markdown = written[1].read_text()
    assert "30 held out, 2 random splits (mean ± standard deviation)" in markdown
    row = result.loc["pca"]
    cell = f"{row['continuity']:.3f} ± {row['continuity_std']:.3f}"
    assert cell in markdown and cell in capsys.readouterr().out


def test_command_line_log_has_no_redraws(csv_file, tmp_path, capfd):
    # as `python -m sklearn_ae.compare ... > log 2>&1` writes it: not a terminal
    _main(csv_file, tmp_path, "--methods", "pca,isomap,ae", "--epochs", "2")
    captured = capfd.readouterr()
    log = captured.out + captured.err
    assert "\r" not in log and "\x1b" not in log
    assert "SparseEfficiencyWarning" not in log
    assert "compare: 3/3 ae fitted in" in log


@pytest.mark.parametrize(
    "where, message",
    [
        ("file", "argument --output-dir: {path} exists and is not a folder."),
        ("under_file", "argument --output-dir: {path} cannot be made: a part of it"),
    ],
)
def test_command_line_checks_the_output_dir_before_fitting(
    where, message, csv_file, tmp_path, capsys, monkeypatch
):
    from sklearn_ae.compare import _cli

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking --output-dir")

    monkeypatch.setattr(_cli, "compare", no_fit)
    (tmp_path / "file").write_text("keep me")
    path = tmp_path / "file" if where == "file" else tmp_path / "file" / "out"
    with pytest.raises(SystemExit) as exit_info:
        main([str(csv_file), "--methods", "pca", "--output-dir", str(path)])
    assert exit_info.value.code == 2
    assert message.format(path=path) in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep me"


def test_command_line_unwritable_output_dir(csv_file, tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into any folder")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(SystemExit):
        main([str(csv_file), "--methods", "pca", "--output-dir", str(folder)])
    assert "argument --output-dir: cannot write into" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--test-size", "nan"], "argument --test-size: must be a fraction between"),
        (["--test-size", "1.5"], "argument --test-size: must be a fraction between"),
        (["--n-components", "0"], "argument --n-components: must be at least 1"),
        (["--repeats", "0"], "argument --repeats: must be at least 1"),
        (["--n-jobs", "0"], "argument --n-jobs: must not be 0"),
        (["--target", "empty"], "target column 'empty' is empty: none of the 150"),
    ],
)
def test_command_line_small_inputs(argv, message, csv_file, tmp_path, capsys):
    frame = pd.read_csv(csv_file).assign(empty=np.nan)
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(SystemExit) as exit_info:
        main([str(path), "--methods", "pca", "--output-dir", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
