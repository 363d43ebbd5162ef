"""Figures for autoencoders and other dimension reducers (needs matplotlib).

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` it drew
on (:func:`plot_comparison`: a dict of them), so a caller can save, show or
further edit it. Text that comes from the data (class labels, method and curve
names) is drawn as plain text: a ``$`` in a label is a dollar sign, never
mathtext.
"""

import math

import numpy as np

from .compare._compare import _SPREAD, _format_value, _split_target

__all__ = [
    "plot_comparison",
    "plot_embedding",
    "plot_latent_manifold",
    "plot_loss_curve",
    "plot_reconstructions",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sklearn_ae.plotting needs matplotlib: pip install matplotlib"
        ) from exc
    return plt


def _plain(texts):
    """Draw these Text artists as they read: no mathtext, no LaTeX.

    A class label such as ``$\\nosuchcommand$`` or ``{{{...}}}`` would
    otherwise be parsed as mathtext when the figure is drawn, and fail.
    """
    for text in texts:
        text.set_parse_math(False)
        text.set_usetex(False)


def _image_shape(n_features, image_shape):
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot infer a square image from {n_features} features; "
                "pass image_shape."
            )
        return (side, side)
    if int(np.prod(image_shape)) != n_features:
        raise ValueError(
            f"image_shape={tuple(image_shape)} does not hold {n_features} features."
        )
    return tuple(image_shape)


def plot_reconstructions(
    originals, reconstructions, *, n_images=10, image_shape=None, titles=None
):
    """Draw originals on the top row and each method's reconstructions below.

    The layout of the Keras autoencoder article's figure: one column per digit.

    Parameters
    ----------
    originals : array-like of shape (n_samples, n_features)
        Flattened images; the first ``n_images`` are drawn.

    reconstructions : array-like of shape (n_samples, n_features), or a dict
        One array of reconstructions, or ``{row title: array}`` for one row
        per method.

    n_images : int, default=10
        Number of columns (digits) drawn.

    image_shape : tuple of int, default=None
        Shape of one image; None infers a square one.

    titles : list of str, default=None
        Row titles when ``reconstructions`` is a single array
        (default ``["original", "reconstruction"]``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``(1 + n_methods) * n_images`` axes, each showing one image.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no window; draw to files
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.datasets import load_mnist
    >>> from sklearn_ae.plotting import plot_reconstructions
    >>> digits = load_mnist("sklearn", n_samples=200)
    >>> X, image_shape = digits.data, digits.image_shape
    >>> pca = PCA(8).fit(X)
    >>> fig = plot_reconstructions(
    ...     X, {"PCA(8)": pca.inverse_transform(pca.transform(X))},
    ...     image_shape=image_shape,
    ... )
    >>> len(fig.axes)  # 2 rows of 10 digits
    20
    >>> plt.close(fig)
    """
    plt = _pyplot()
    originals = np.asarray(originals)
    if isinstance(reconstructions, dict):
        rows = {
            "original": originals,
            **{k: np.asarray(v) for k, v in reconstructions.items()},
        }
    else:
        names = titles or ["original", "reconstruction"]
        rows = dict(zip(names, [originals, np.asarray(reconstructions)], strict=True))
    n_images = min(n_images, len(originals))
    shape = _image_shape(originals.shape[1], image_shape)
    fig, axes = plt.subplots(
        len(rows),
        n_images,
        figsize=(0.8 * n_images + 1.0, 0.84 * len(rows)),
        squeeze=False,
    )
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n_images):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(shape), cmap="gray_r", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        _plain(
            [
                axes[r, 0].set_ylabel(
                    name, rotation=0, ha="right", va="center", fontsize=9
                )
            ]
        )
    fig.subplots_adjust(left=0.15, right=0.99, top=0.98, bottom=0.02, wspace=0.05)
    return fig


def plot_embedding(Z, labels=None, *, ax=None, title=None, s=4, cmap="tab10"):
    """Scatter a 2-D embedding, coloured by label.

    Parameters
    ----------
    Z : array-like of shape (n_samples, 2)
        The 2-D codes (t-SNE output, a 2-component autoencoder's codes, ...).

    labels : array-like of shape (n_samples,), default=None
        Class labels used for colour; with 10 or fewer distinct labels a
        legend is drawn, else a colourbar.

    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None makes a new figure.

    title : str, default=None
        Axes title.

    s : float, default=4
        Marker size.

    cmap : str, default="tab10"
        Colour map.

    Returns
    -------
    fig : matplotlib.figure.Figure
        The figure holding ``ax``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no window; draw to files
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.datasets import load_mnist
    >>> from sklearn_ae.plotting import plot_embedding
    >>> X, y = load_mnist("sklearn", n_samples=300, return_X_y=True)
    >>> fig = plot_embedding(PCA(2).fit_transform(X), y, title="PCA(2)")
    >>> fig.axes[0].get_title(), len(fig.axes[0].collections)  # one per digit
    ('PCA(2)', 10)
    >>> plt.close(fig)
    """
    plt = _pyplot()
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] != 2:
        raise ValueError(f"Z must have shape (n_samples, 2), got {Z.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    fig = ax.figure
    if labels is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=s)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        if len(classes) <= 10:
            colours = plt.get_cmap(cmap)
            for i, label in enumerate(classes):
                mask = labels == label
                ax.scatter(
                    Z[mask, 0], Z[mask, 1], s=s, color=colours(i), label=str(label)
                )
            legend = ax.legend(
                markerscale=3, fontsize=7, loc="best", frameon=False, ncol=2
            )
            _plain(legend.get_texts())
        else:
            points = ax.scatter(Z[:, 0], Z[:, 1], s=s, c=labels, cmap="viridis")
            fig.colorbar(points, ax=ax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        _plain([ax.set_title(title, fontsize=10)])
    return fig


def plot_loss_curve(estimator_or_curves, *, ax=None, title=None):
    """Plot training (and validation) loss per epoch.

    Parameters
    ----------
    estimator_or_curves : fitted estimator or dict
        An estimator with ``loss_curve_`` (and optionally a non-None
        ``validation_loss_curve_``), or ``{curve name: sequence of losses}``.

    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None makes a new figure.

    title : str, default=None
        Axes title.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One line per curve, epochs counted from 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no window; draw to files
    >>> import matplotlib.pyplot as plt
    >>> from sklearn_ae import AutoencoderTransformer
    >>> from sklearn_ae.datasets import load_mnist
    >>> from sklearn_ae.plotting import plot_loss_curve
    >>> X = load_mnist("sklearn", n_samples=200).data
    >>> ae = AutoencoderTransformer(8, max_iter=4, early_stopping=True, random_state=0)
    >>> fig = plot_loss_curve(ae.fit(X))
    >>> [line.get_label() for line in fig.axes[0].lines]
    ['training', 'validation']
    >>> fig.axes[0].lines[0].get_xdata().tolist()  # epochs
    [1, 2, 3, 4]
    >>> plt.close(fig)
    """
    plt = _pyplot()
    if isinstance(estimator_or_curves, dict):
        curves = dict(estimator_or_curves)
    else:
        curves = {"training": estimator_or_curves.loss_curve_}
        valid = getattr(estimator_or_curves, "validation_loss_curve_", None)
        if valid is not None:
            curves["validation"] = valid
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    _plain(ax.legend().get_texts())
    if title is not None:
        _plain([ax.set_title(title)])
    return ax.figure


def plot_latent_manifold(estimator, *, n=15, extent=None, image_shape=None, ax=None):
    """Decode an ``n x n`` grid of 2-D codes into one mosaic of images.

    The article's digit manifold: walk a regular grid over the latent plane
    and draw what the decoder makes of each point.

    Parameters
    ----------
    estimator : fitted estimator with 2 components
        Anything with ``inverse_transform`` from 2-D codes, e.g.
        ``AutoencoderTransformer(n_components=2)`` or ``PCA(2)``.

    n : int, default=15
        Grid points per axis.

    extent : tuple of 4 floats, default=None
        ``(x_min, x_max, y_min, y_max)`` of the grid; None uses ``[-2, 2]``
        on both axes (a variational model's prior covers that).

    image_shape : tuple of int, default=None
        Shape of one decoded image; None infers a square one.

    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; None makes a new figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes holding one ``(n * height, n * width)`` image.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")  # no window; draw to files
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.datasets import load_mnist
    >>> from sklearn_ae.plotting import plot_latent_manifold
    >>> X = load_mnist("sklearn", n_samples=300).data
    >>> pca = PCA(2).fit(X)  # any reducer with a 2-D code
    >>> fig = plot_latent_manifold(pca, n=5, extent=(-1, 1, -1, 1))
    >>> fig.axes[0].images[0].get_array().shape  # 5 x 5 digits of 8 x 8
    (40, 40)
    >>> plt.close(fig)
    """
    plt = _pyplot()
    x_min, x_max, y_min, y_max = extent if extent is not None else (-2, 2, -2, 2)
    xs = np.linspace(x_min, x_max, n)
    ys = np.linspace(y_max, y_min, n)  # top row is the largest y
    grid = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
    decoded = np.asarray(estimator.inverse_transform(grid))
    h, w = _image_shape(decoded.shape[1], image_shape)
    mosaic = decoded.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(mosaic, cmap="gray_r", extent=(x_min, x_max, y_min, y_max))
    ax.set_xlabel("code 0")
    ax.set_ylabel("code 1")
    return ax.figure


def _better(metric):
    """The x label of a metric's bar chart: its unit and which way is better."""
    if metric == "fit_time":
        return "seconds: lower is better"
    if metric == "reconstruction_mse":
        return "lower is better"
    if metric in ("trustworthiness", "continuity", "view_trustworthiness"):
        return "higher is better (1 is perfect)"
    return "higher is better"


def _bar_labels(metric, values, spreads):
    """Each bar's value as the table shows it (``mean ± std``), ``n/a`` if none."""
    labels = []
    for i, value in enumerate(values):
        if not np.isfinite(value):
            labels.append("n/a")
            continue
        label = _format_value(metric, value)
        if spreads is not None and np.isfinite(spreads[i]):
            label += f" ± {_format_value(metric, spreads[i])}"
        labels.append(label)
    return labels


_COMPARISON_METRICS = (
    "reconstruction_mse",
    "trustworthiness",
    "continuity",
    "knn_accuracy",
    "knn_r2",
    "probe_accuracy",
    "probe_r2",
    "view_trustworthiness",
    "fit_time",
)


def plot_comparison(
    result, X=None, y=None, *, image_shape=None, n_images=10, metrics=None, n_cols=3
):
    """Draw a :func:`sklearn_ae.compare` result: 2-D views, metrics, reconstructions.

    Parameters
    ----------
    result : pandas.DataFrame
        What :func:`sklearn_ae.compare` returned (its
        ``attrs["details"]`` holds the views and the split).

    X : array-like or DataFrame, default=None
        The ``X`` given to ``compare``; only needed for the reconstructions.

    y : array-like or str, default=None
        The ``y`` given to ``compare`` (a column name of ``X`` too): colours
        of the 2-D views. None draws them in one colour.

    image_shape : tuple of int, default=None
        Shape of one image when the rows of ``X`` are images: adds the
        ``"reconstructions"`` figure (originals over each reducer's
        reconstructions of the first ``n_images`` held-out rows, in [0, 1]).

    n_images : int, default=10
        Images per row of the reconstructions figure.

    metrics : list of str, default=None
        Columns of ``result`` drawn as bar charts; None draws every metric
        column (and ``fit_time``) that has a value.

    n_cols : int, default=3
        Panels per row of the views figure.

    Returns
    -------
    figures : dict of str to matplotlib.figure.Figure
        ``"views"``: one panel per reducer with a 2-D view, coloured by
        ``y``, titled with the view's trustworthiness; ``"metrics"``: one
        horizontal bar chart per metric, one bar per reducer, labelled with
        its value (``n/a`` where the metric does not apply or the reducer
        failed), the x axis saying which way is better ("lower is better"
        for the reconstruction error and the time); a repeated comparison's
        bars are means with error bars of one standard deviation, labelled
        ``mean ± std``;
        ``"reconstructions"`` when ``image_shape`` and ``X`` are given.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_wine
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import scale
    >>> from sklearn_ae import compare
    >>> from sklearn_ae.plotting import plot_comparison
    >>> X, y = load_wine(return_X_y=True)
    >>> result = compare({"PCA(2)": PCA(2), "PCA(4)": PCA(4)}, scale(X), y,
    ...                  random_state=0)
    >>> figures = plot_comparison(result, X, y)
    >>> sorted(figures), len(figures["views"].axes)
    (['metrics', 'views'], 2)
    """

    plt = _pyplot()
    details = result.attrs.get("details")
    if details is None:
        raise ValueError(
            "result has no attrs['details']: pass the DataFrame that "
            "sklearn_ae.compare returned."
        )
    test_index = details.test_index
    if y is not None:
        X, y = _split_target(X, y)
        y = np.asarray(y)[test_index]
    figures = {}

    panels = [(name, view) for name, view in details.views.items() if view is not None]
    if panels:
        n_cols = min(n_cols, len(panels))
        n_rows = -(-len(panels) // n_cols)
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=(3.3 * n_cols, 3.3 * n_rows), squeeze=False
        )
        for i, (ax, (name, view)) in enumerate(zip(axes.ravel(), panels, strict=False)):
            how = result.loc[name, "view"] if "view" in result else "codes"
            title = name if how == "codes" else f"{name} -> {how.split(' of ')[0]}"
            score = result.loc[name].get("view_trustworthiness", np.nan)
            if np.isfinite(score):
                title = f"{title} ({score:.3f})"
            plot_embedding(view, y, ax=ax, title=title)
            if i and ax.get_legend() is not None:
                ax.get_legend().remove()
        for ax in axes.ravel()[len(panels) :]:
            ax.remove()
        fig.tight_layout()
        figures["views"] = fig

    if metrics is None:
        metrics = [
            c for c in _COMPARISON_METRICS if c in result and result[c].notna().any()
        ]
    if metrics:
        names = list(result.index)
        n_cols_m = min(4, len(metrics))
        n_rows_m = -(-len(metrics) // n_cols_m)
        height = max(1.8, 0.3 * len(names) + 0.9)
        fig, axes = plt.subplots(
            n_rows_m,
            n_cols_m,
            figsize=(3.2 * n_cols_m + 0.8, height * n_rows_m),
            squeeze=False,
        )
        positions = np.arange(len(names))[::-1]  # first reducer on top
        for ax, metric in zip(axes.ravel(), metrics, strict=False):
            values = result[metric].to_numpy(dtype=float)
            spread = metric + _SPREAD
            spreads = result[spread].to_numpy(dtype=float) if spread in result else None
            bars = ax.barh(
                positions,
                np.nan_to_num(values, nan=0.0),
                xerr=None if spreads is None else np.nan_to_num(spreads, nan=0.0),
                color="tab:blue",
                error_kw={"capsize": 2, "elinewidth": 0.8},
            )
            ax.bar_label(
                bars, labels=_bar_labels(metric, values, spreads), padding=2, fontsize=7
            )
            ax.set_yticks(positions)
            _plain(ax.set_yticklabels(names if ax in axes[:, 0] else [], fontsize=8))
            ax.set_title(metric, fontsize=9)
            ax.set_xlabel(_better(metric), fontsize=7)
            ax.tick_params(axis="x", labelsize=7)
            bounded = metric not in ("reconstruction_mse", "fit_time")
            if bounded and np.nanmin(np.append(values, 0.0)) >= 0:
                ax.set_xlim(0, 1.35)  # room for the labels right of a bar at 1
                ax.set_xticks([0, 0.5, 1])
            else:
                ax.margins(x=0.35)
        for ax in axes.ravel()[len(metrics) :]:
            ax.remove()
        fig.tight_layout()
        figures["metrics"] = fig

    reconstructions = {
        name: rec[:n_images]
        for name, rec in details.reconstructions.items()
        if rec is not None
    }
    if image_shape is not None and X is not None and reconstructions:
        originals = X.iloc[test_index] if hasattr(X, "iloc") else X[test_index]
        if details.preprocessor is not None:
            originals = details.preprocessor.transform(originals)
        originals = np.asarray(originals)[:n_images]
        figures["reconstructions"] = plot_reconstructions(
            originals, reconstructions, n_images=n_images, image_shape=image_shape
        )
    return figures
