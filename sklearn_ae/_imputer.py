"""The scikit-learn imputer: :class:`AutoencoderImputer`.

It combines two models of the standardised features, each fitted to the
observed cells: an :class:`~sklearn_ae.AutoencoderTransformer` trained with a
share of the observed cells hidden in every batch (``noise_type="missing"``,
so the network learns to fill in what it cannot see), and probabilistic PCA
fitted by EM (``_ppca_fill``), which fills a cell with its conditional mean
given the observed cells of its row. A tenth of the observed cells is held
out of both fits; the linear model's width and the weight of the network in
the average of the two are those with the lowest error on them. Observed
cells are returned unchanged.
"""

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import AutoencoderTransformer
from ._compat import Interval, StrOptions, _fit_context, validate_data
from ._ppca_fill import PPCAFill

__all__ = ["AutoencoderImputer"]


# The share of the observed cells held out in fit to weigh the two models.
HELD_OUT = 0.1


def _is_nan(value):
    return isinstance(value, Real) and np.isnan(value)


def _widths(d):
    """The linear model's candidate widths: powers of 2, the quartiles of
    ``d`` and ``d - 1`` (the full Gaussian)."""
    powers = {2**j for j in range(d.bit_length()) if 2**j < d}
    return sorted(powers | {max(1, round(d * f)) for f in (0.25, 0.5, 0.75)} | {d - 1})


def _held_out(seen, rng):
    """A random ``HELD_OUT`` of the observed cells, leaving every row and
    every column at least one observed cell."""
    held = seen & (rng.uniform(size=seen.shape) < HELD_OUT)
    left = seen & ~held
    held[~left.any(axis=1)] = False
    held[:, ~left.any(axis=0)] = False
    return held


class AutoencoderImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with an autoencoder trained on the observed cells.

    Each feature is standardised by the mean and standard deviation of its
    observed values. Two models are fitted to the standardised rows:

    - an :class:`AutoencoderTransformer`, trained with a loss over the
      observed cells only and with ``hide`` of the observed inputs hidden in
      every batch as missing values are (set to the feature's mean), so that
      it learns to predict a cell from the other cells of its row;
    - probabilistic PCA, fitted by EM to the incomplete rows, which predicts
      a missing cell by its conditional mean given the cells observed in
      that row (the network cannot tell a missing input from a mean one).

    A random tenth of the observed cells is held out of both fits; the
    linear model's width (of a few candidates) and the network's weight
    ``network_weight_`` (0, 0.1, ..., 1) are those that predict them best.
    ``transform`` fills each missing cell with the weighted average of the
    two predictions and returns every observed cell unchanged.

    Read more in the user guide's "Missing values" page, which also says
    when another imputer is the better choice.

    Parameters
    ----------
    missing_values : int, float or np.nan, default=np.nan
        The placeholder for the missing values, as in
        :class:`~sklearn.impute.SimpleImputer` (numeric placeholders only):
        every cell equal to it is missing. With a number, NaN in X is refused.

    add_indicator : bool, default=False
        If True, a :class:`~sklearn.impute.MissingIndicator` transform is
        stacked onto the output: one binary column per feature that had
        missing values during ``fit``.

    n_components : int or None, default=None
        Width of the code. None is ``n_features``: hiding inputs in training
        keeps a code this wide from copying its input, and a narrower one
        imputed worse in the benchmark (``benchmarks/missing_values.py``).

    hidden_layer_sizes : tuple of int, default=(128, 128)
        The encoder's hidden layers (the decoder mirrors them).

    hide : float, default=0.25
        The share of the observed inputs hidden in each training batch, in
        [0, 1).

    max_iter : int, default=60
        Most epochs of training. With ``batch_size=128`` this keeps a
        default fit of the benchmark's largest set (digits, 1,797 rows)
        under 5 s of one core; 100 epochs of 64 rows imputed no better
        there.

    early_stopping : bool, default=False
        Whether to stop when the validation loss stops improving (on a tenth
        of the rows; see :class:`AutoencoderTransformer`). That loss measures
        the reconstruction of visible cells, not imputation; without it all
        rows train and training stops when the training loss stops improving,
        which imputed better in the benchmark.

    learning_rate : float or "auto", default="auto"
        The optimizer's learning rate.

    batch_size : int or "auto", default=128
        Rows per training step.

    random_state : int, RandomState instance or None, default=None
        Seeds the held-out cells, the weights, the shuffling and the hidden
        cells.

    verbose : int, default=0
        Print the training progress.

    Attributes
    ----------
    autoencoder_ : AutoencoderTransformer
        The trained autoencoder, on standardised features.

    mean_ : ndarray of shape (n_features,)
        Each feature's mean over its observed values.

    scale_ : ndarray of shape (n_features,)
        Each feature's standard deviation over its observed values (1 where
        it is 0).

    n_iter_ : int
        Epochs the autoencoder trained.

    linear_ : PPCAFill or None
        The probabilistic PCA of the standardised rows (its
        ``n_components``, ``mean_`` and ``precision_``), refitted on all
        observed cells; None when no cell could be held out (a single
        feature, or too few cells), and then only the network fills.

    network_weight_ : float
        The network's weight in the fill, in [0, 1]; the linear model has
        the rest.

    indicator_ : MissingIndicator or None
        The indicator of the missing cells, when ``add_indicator=True``.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when X has string
        feature names.

    See Also
    --------
    sklearn.impute.SimpleImputer : Fills with a column statistic.
    sklearn.impute.KNNImputer : Fills from the nearest complete neighbours.
    sklearn.impute.IterativeImputer : Regresses each feature on the others.
    AutoencoderTransformer : Reduces data with missing values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ae import AutoencoderImputer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4)) @ rng.normal(size=(4, 6))
    >>> X[rng.random(X.shape) < 0.1] = np.nan
    >>> imputer = AutoencoderImputer(random_state=0).fit(X)
    >>> X_filled = imputer.transform(X)
    >>> bool(np.isnan(X_filled).any())
    False
    >>> observed = ~np.isnan(X)
    >>> bool(np.array_equal(X_filled[observed], X[observed]))
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "missing_values": [Real],
        "add_indicator": ["boolean"],
        "n_components": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": [tuple, list],
        "hide": [Interval(Real, 0, 1, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        add_indicator=False,
        n_components=None,
        hidden_layer_sizes=(128, 128),
        hide=0.25,
        max_iter=60,
        early_stopping=False,
        learning_rate="auto",
        batch_size=128,
        random_state=None,
        verbose=0,
    ):
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.hide = hide
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def _validate(self, X, reset):
        nan = _is_nan(self.missing_values)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if nan else True,
            copy=True,
            reset=reset,
        )
        if not nan:
            X[X == self.missing_values] = np.nan
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on the observed cells of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values. Every column needs an observed value;
            rows with nothing observed carry nothing to learn from and are
            left out of the training.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted imputer.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderImputer
        >>> X = np.random.default_rng(0).normal(size=(100, 4))
        >>> X[::5, 1] = np.nan
        >>> imputer = AutoencoderImputer(max_iter=5, random_state=0).fit(X)
        >>> imputer.mean_.shape, imputer.n_features_in_
        ((4,), 4)
        """
        X = self._validate(X, reset=True)
        seen = ~np.isnan(X)
        counts = seen.sum(axis=0)
        if not counts.all():
            empty = np.flatnonzero(counts == 0).tolist()
            raise ValueError(
                f"Features {empty} of X have no observed value (all missing): "
                "there is nothing to impute them from. Drop these columns "
                "before fitting (SimpleImputer keeps them only as a constant)."
            )
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(X, axis=0, dtype=np.float64)
            scale = np.nanstd(X, axis=0, dtype=np.float64)
        scale[~(scale > 0)] = 1.0
        self.mean_, self.scale_ = mean, scale
        # Rows with nothing observed have nothing to learn from: left out.
        kept = seen.any(axis=1)
        part, seen = (X[kept] - mean) / scale, seen[kept]
        rng = check_random_state(self.random_state)
        held = _held_out(seen, rng)
        train = np.where(held, np.nan, part)
        width = self.n_components
        self.autoencoder_ = AutoencoderTransformer(
            n_components=X.shape[1] if width is None else width,
            hidden_layer_sizes=tuple(self.hidden_layer_sizes),
            noise=self.hide,
            noise_type="missing",
            init="pca",
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            early_stopping=self.early_stopping,
            random_state=rng.randint(np.iinfo(np.int32).max),
            verbose=self.verbose,
        ).fit(train)
        self.n_iter_ = self.autoencoder_.n_iter_
        self._choose_linear(part, train, held)
        self.indicator_ = None
        if self.add_indicator:
            self.indicator_ = MissingIndicator(error_on_new=False).fit(X)
        return self

    def _choose_linear(self, part, train, held):
        """The linear model's width and the network's weight, by the errors
        on the held-out cells; then the linear model refitted on all cells."""
        d = part.shape[1]
        self.linear_, self.network_weight_ = None, 1.0
        if d < 2 or not held.any():
            return
        hidden = np.isnan(train)
        truth = part[held]
        errors = {}
        for k in _widths(d):
            model = PPCAFill(k, n_iter=3, exact=False).fit(train, hidden)
            fill = model.fill(train, hidden)
            errors[k] = (np.mean((fill[held] - truth) ** 2), fill[held])
        k = min(errors, key=lambda k: errors[k][0])
        linear = errors[k][1]
        network = self._reconstruct(train)[held]
        weights = np.linspace(0.0, 1.0, 11)
        loss = [np.mean((w * network + (1 - w) * linear - truth) ** 2) for w in weights]
        self.network_weight_ = float(weights[int(np.argmin(loss))])
        self.linear_ = PPCAFill(k).fit(part, np.isnan(part))

    def _reconstruct(self, part):
        ae = self.autoencoder_
        return ae.inverse_transform(ae.transform(part))

    def transform(self, X):
        """Fill the missing cells of X; observed cells are returned unchanged.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features) or \
(n_samples, n_features + n_indicators)
            X with every missing cell filled, of X's floating dtype, followed
            by the indicator's columns when ``add_indicator=True``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderImputer
        >>> X = np.random.default_rng(0).normal(size=(100, 4))
        >>> X[::5, 1] = np.nan
        >>> imputer = AutoencoderImputer(max_iter=5, random_state=0).fit(X)
        >>> filled = imputer.transform(X)
        >>> bool(np.isnan(filled).any()), bool(filled[1, 1] == X[1, 1])
        (False, True)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        missing = np.isnan(X)
        indicator = None
        if self.indicator_ is not None:
            indicator = self.indicator_.transform(X).astype(X.dtype)
        out = X  # a copy of the input, filled in place
        if missing.any():
            rows = np.flatnonzero(missing.any(axis=1))
            part = (X[rows] - self.mean_) / self.scale_
            filled = self._reconstruct(part).astype(np.float64)
            if self.linear_ is not None:
                w = self.network_weight_
                linear = self.linear_.fill(part, missing[rows])
                filled = w * filled + (1 - w) * linear
            filled = filled * self.scale_ + self.mean_
            out[rows] = np.where(missing[rows], filled, X[rows])
        if indicator is not None:
            out = np.hstack([out, indicator])
        return out

    def fit_transform(self, X, y=None):
        """Fit to X, then fill its missing cells.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        X_filled : ndarray
            As :meth:`transform` returns it.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderImputer
        >>> X = np.random.default_rng(0).normal(size=(100, 4))
        >>> X[::5, 1] = np.nan
        >>> imputer = AutoencoderImputer(add_indicator=True, max_iter=5)
        >>> imputer.fit_transform(X).shape
        (100, 5)
        """
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None):
        """The output's feature names: the input's, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            The input's names; by default ``feature_names_in_``, or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = OneToOneFeatureMixin.get_feature_names_out(self, input_features)
        if self.indicator_ is None:
            return names
        return np.concatenate([names, self.indicator_.get_feature_names_out(names)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
