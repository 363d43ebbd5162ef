"""How well a dimension reducer represents data: numbers to compare methods by.

Each function takes a fitted reducer (anything with ``transform``, and
``inverse_transform`` where reconstruction is measured), so PCA, an
:class:`~sklearn_ae.AutoencoderTransformer` and pipelines compare on equal terms.
For the 2-D embeddings use :func:`sklearn.manifold.trustworthiness`.
"""

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

__all__ = [
    "code_knn_accuracy",
    "reconstruction_bce",
    "reconstruction_mse",
    "reconstruction_scorer",
]


def reconstruction_mse(reducer, X):
    """Mean squared error of ``inverse_transform(transform(X))`` against ``X``.

    Parameters
    ----------
    reducer : fitted estimator
        Has ``transform`` and ``inverse_transform``.

    X : array-like of shape (n_samples, n_features)
        Data to reconstruct, ideally held out from the fit.

    Returns
    -------
    mse : float
        Mean over samples and features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.metrics import reconstruction_mse
    >>> X = np.random.default_rng(0).normal(size=(50, 4))
    >>> round(reconstruction_mse(PCA(4).fit(X), X), 6)
    0.0
    """
    # X goes in as given, so a DataFrame keeps its feature names.
    X_hat = np.asarray(reducer.inverse_transform(reducer.transform(X)), dtype=float)
    return float(np.mean((np.asarray(X, dtype=float) - X_hat) ** 2))


def reconstruction_bce(reducer, X, *, eps=1e-7):
    """Per-pixel binary cross-entropy of ``inverse_transform(transform(X))``.

    The Keras autoencoder article's loss (``binary_crossentropy``, a mean
    over samples and features) for data in [0, 1]. Reconstructions are
    clipped to ``[eps, 1 - eps]`` first, so a reducer whose output leaves
    [0, 1] (PCA) gets a finite number.

    Parameters
    ----------
    reducer : fitted estimator
        Has ``transform`` and ``inverse_transform``.

    X : array-like of shape (n_samples, n_features)
        Data in [0, 1] to reconstruct, ideally held out from the fit.

    eps : float, default=1e-7
        Clipping of the reconstructions away from 0 and 1 (Keras' epsilon).

    Returns
    -------
    bce : float
        Mean over samples and features.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.metrics import reconstruction_bce
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    >>> round(reconstruction_bce(PCA(2).fit(X), X), 4)  # the entropy of 0.5s
    0.231
    """
    X = np.asarray(X, dtype=np.float64)
    X_hat = np.asarray(reducer.inverse_transform(reducer.transform(X)))
    P = np.clip(X_hat.astype(np.float64), eps, 1 - eps)
    return float(-np.mean(X * np.log(P) + (1 - X) * np.log1p(-P)))


def code_knn_accuracy(reducer, X_train, y_train, X_test, y_test, *, n_neighbors=5):
    """Accuracy of a k-nearest-neighbours classifier in the code space.

    Codes of ``X_train`` are the reference points; codes of ``X_test`` are
    classified by majority vote of their ``n_neighbors`` nearest references.
    High accuracy means same-label samples lie close together in the codes.

    Parameters
    ----------
    reducer : fitted estimator
        Has ``transform``.

    X_train, y_train : array-like
        Reference samples and their labels.

    X_test, y_test : array-like
        Samples to classify and their labels.

    n_neighbors : int, default=5
        Number of neighbours voting.

    Returns
    -------
    accuracy : float
        Fraction of ``X_test`` classified correctly.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae.metrics import code_knn_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> pca = PCA(16, random_state=0).fit(X[:1000])
    >>> round(code_knn_accuracy(pca, X[:1000], y[:1000], X[1000:], y[1000:]), 3)
    0.957
    """
    knn = KNeighborsClassifier(n_neighbors=n_neighbors)
    knn.fit(reducer.transform(X_train), y_train)
    return float(knn.score(reducer.transform(X_test), y_test))


def reconstruction_scorer(estimator, X, y=None):
    """Negative reconstruction MSE: one score for any transformer that inverts.

    A scorer with scikit-learn's ``scoring`` signature, for model selection
    across reducers whose own ``score`` methods mean different things
    (:class:`~sklearn.decomposition.PCA`'s is a log-likelihood, an
    :class:`~sklearn_ae.AutoencoderTransformer`'s a negative MSE, and most
    reducers have none). It works for any fitted estimator with ``transform``
    and ``inverse_transform``, a :class:`~sklearn.pipeline.Pipeline` of such
    steps included (the error is then measured in the pipeline's input
    units). Higher is better.

    Parameters
    ----------
    estimator : fitted estimator
        Has ``transform`` and ``inverse_transform``.

    X : array-like of shape (n_samples, n_features)
        Data to reconstruct, e.g. a cross-validation fold.

    y : Ignored
        Not used, present for the scorer signature.

    Returns
    -------
    score : float
        ``-reconstruction_mse(estimator, X)``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import Pipeline
    >>> from sklearn_ae import AutoencoderTransformer
    >>> from sklearn_ae.metrics import reconstruction_scorer
    >>> X, _ = load_digits(return_X_y=True)
    >>> pipe = Pipeline([("reduce", PCA(8))])
    >>> search = GridSearchCV(
    ...     pipe,
    ...     {"reduce": [PCA(8), AutoencoderTransformer(8, max_iter=5, random_state=0)]},
    ...     scoring=reconstruction_scorer,
    ...     cv=2,
    ... ).fit(X / 16)
    >>> search.cv_results_["mean_test_score"].shape
    (2,)
    """
    return -reconstruction_mse(estimator, X)
