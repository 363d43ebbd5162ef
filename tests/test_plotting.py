"""What each plotting function draws (Agg backend)."""

import io

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from sklearn_ae import AutoencoderTransformer  # noqa: E402
from sklearn_ae.plotting import (  # noqa: E402
    plot_embedding,
    plot_latent_manifold,
    plot_loss_curve,
    plot_reconstructions,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _images(fig):
    return [image for ax in fig.axes for image in ax.get_images()]


def test_reconstructions_one_row_per_method(X_small):
    rec = {"PCA": X_small[:12] * 0.5, "AE": X_small[:12] * 0.25}
    fig = plot_reconstructions(X_small[:12], rec, n_images=10)
    images = _images(fig)
    assert len(fig.axes) == 30
    assert len(images) == 30
    assert all(image.get_array().shape == (8, 8) for image in images)
    row_titles = [ax.get_ylabel() for ax in fig.axes[::10]]
    assert row_titles == ["original", "PCA", "AE"]
    np.testing.assert_allclose(images[10].get_array(), X_small[0].reshape(8, 8) * 0.5)


def test_reconstructions_single_array_and_image_shape(X_small):
    X = np.zeros((4, 12))
    fig = plot_reconstructions(X, X, image_shape=(3, 4))
    assert len(_images(fig)) == 8
    assert _images(fig)[0].get_array().shape == (3, 4)
    with pytest.raises(ValueError, match="image_shape"):
        plot_reconstructions(X, X)


def test_embedding_scatter_per_class_with_legend_on_given_ax():
    rng = np.random.default_rng(0)
    Z, labels = rng.normal(size=(50, 2)), np.arange(50) % 3
    fig, (left, right) = plt.subplots(1, 2)
    returned = plot_embedding(Z, labels, ax=right, title="codes")
    assert returned is fig
    assert len(right.collections) == 3
    assert sum(len(c.get_offsets()) for c in right.collections) == 50
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["0", "1", "2"]
    assert right.get_title() == "codes"
    assert not left.collections


def test_embedding_many_labels_get_a_colourbar():
    Z = np.random.default_rng(0).normal(size=(40, 2))
    fig = plot_embedding(Z, np.arange(40))
    assert len(fig.axes) == 2  # the scatter and its colourbar
    with pytest.raises(ValueError, match="shape"):
        plot_embedding(np.zeros((5, 3)))


def test_loss_curve_from_estimator_and_dict(X_small):
    ae = AutoencoderTransformer(
        n_components=2,
        hidden_layer_sizes=(8,),
        max_iter=4,
        early_stopping=True,
        n_iter_no_change=10,
        random_state=0,
    ).fit(X_small)
    fig = plot_loss_curve(ae)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training", "validation"]
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(lines[1].get_ydata(), ae.validation_loss_curve_)
    fig = plot_loss_curve({"a": [3, 2, 1], "b": [2, 1]})
    assert len(fig.axes[0].get_lines()) == 2


def test_latent_manifold_decodes_an_n_by_n_mosaic(X_small):
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), max_iter=2, random_state=0
    ).fit(X_small)
    fig = plot_latent_manifold(ae, n=5)
    (image,) = _images(fig)
    mosaic = image.get_array()
    assert mosaic.shape == (5 * 8, 5 * 8)
    # the top-left tile is the decoding of the grid's top-left point (-2, 2)
    corner = ae.inverse_transform(np.array([[-2.0, 2.0]], dtype=np.float32))
    np.testing.assert_allclose(mosaic[:8, :8], corner.reshape(8, 8), rtol=1e-5)
    # any 2-component reducer works
    fig = plot_latent_manifold(PCA(2).fit(X_small), n=3, extent=(0, 1, 0, 1))
    assert _images(fig)[0].get_array().shape == (24, 24)


MATHTEXT_TRAPS = [r"$\nosuchcommand$", "$" + "{" * 200 + "x" + "}" * 200 + "$", "$a^$"]


def _draw(fig):
    fig.savefig(io.BytesIO(), format="png")  # parses every text artist


def test_labels_are_plain_text_never_mathtext(X_small):
    labels = np.array(MATHTEXT_TRAPS)[np.arange(30) % 3]
    Z = np.random.default_rng(0).normal(size=(30, 2))
    fig = plot_embedding(Z, labels, title=MATHTEXT_TRAPS[0])
    _draw(fig)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(legend) == sorted(MATHTEXT_TRAPS)
    assert fig.axes[0].get_title() == MATHTEXT_TRAPS[0]
    rows = dict(zip(MATHTEXT_TRAPS, [X_small[:3]] * 3, strict=True))
    _draw(plot_reconstructions(X_small[:3], rows, n_images=3))
    _draw(plot_loss_curve({k: [2, 1] for k in MATHTEXT_TRAPS}, title="$x^$"))


@pytest.mark.filterwarnings("ignore:Tight layout not applied")  # long labels
def test_comparison_figures_with_mathtext_labels_and_names(X_small):
    pytest.importorskip("pandas")
    from sklearn.decomposition import TruncatedSVD

    from sklearn_ae import compare
    from sklearn_ae.plotting import plot_comparison

    y = np.array(MATHTEXT_TRAPS)[np.arange(len(X_small)) % 3]
    reducers = {"$\\frac{$": PCA(2), "{" * 20: TruncatedSVD(2)}
    result = compare(reducers, X_small, y, random_state=0)
    figures = plot_comparison(result, X_small, y)
    for fig in figures.values():
        _draw(fig)
    views = figures["views"].axes
    assert views[0].get_title().startswith("$\\frac{$ (")
    ticks = [t.get_text() for t in figures["metrics"].axes[0].get_yticklabels()]
    assert ticks == list(reducers)
