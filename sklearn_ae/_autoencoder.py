"""The scikit-learn face: :class:`AutoencoderTransformer`."""

import copy
import inspect
import math
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.helper import predefined_split
from torch import nn

from ._compat import Interval, StrOptions, _fit_context
from ._distributed import current_group
from ._losses import BCEWithLogitsLoss
from ._modules import (
    ACTIVATIONS,
    ConvAutoencoder,
    LSTMAutoencoder,
    MLPAutoencoder,
)
from ._net import (
    AutoencoderNet,
    Corruption,
    InputScaler,
    RowDataset,
    TrainingDiverged,
    as_tensor,
    fused_optimizer_kwargs,
)
from ._validation import check_X

__all__ = ["AutoencoderTransformer"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
}

LOSSES = {"mse": nn.MSELoss, "bce": BCEWithLogitsLoss}

ARCHITECTURES = {
    "mlp": MLPAutoencoder,
    "conv": ConvAutoencoder,
    "lstm": LSTMAutoencoder,
}

# The estimator's parameters that each built-in architecture is built from.
# Set away from its default for an architecture that does not use it, one of
# them is an error (a custom module gets none of them: it has module_params).
_MODULE_PARAMETERS = {
    "mlp": ("hidden_layer_sizes", "activation", "code_activation"),
    "conv": ("activation", "code_activation"),
    "lstm": ("code_activation",),
}

# What input_shape must look like for the architectures that read it.
_INPUT_SHAPES = {
    "conv": (3, "(channels, height, width), e.g. (1, 28, 28)"),
    "lstm": (2, "(timesteps, n_channels), e.g. (50, 3)"),
}

# Rows per forward pass in transform, inverse_transform and scoring: large
# enough to keep the matrix multiplies efficient, small enough to bound memory
# (4096 x 784 float32 is 12 MiB). Fixed, so results never depend on batch_size.
_INFERENCE_ROWS = 4096


def _noop(*args, **kwargs):
    """A picklable sink for skorch messages when ``verbose=0``."""


def _seed_from(random_state):
    """An integer seed for one fit, leaving numpy's global RNG untouched."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _named(callback, name):
    return isinstance(callback, tuple) and callback[0] == name


def _row_chunks(n_rows):
    step = _INFERENCE_ROWS
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _centre_and_scale(X):
    """Per-feature mean and one global scale (the RMS of the centred data).

    Two passes over row chunks in float64, so a memory map or a sparse matrix
    is never densified whole.
    """
    n, n_features = X.shape
    total = np.zeros(n_features)
    for rows in _row_chunks(n):
        total += _dense(X[rows]).sum(axis=0, dtype=np.float64)
    mean = total / n
    sq = 0.0
    with np.errstate(over="ignore"):
        for rows in _row_chunks(n):
            sq += float(np.square(_dense(X[rows]) - mean).sum(dtype=np.float64))
    scale = np.sqrt(sq / (n * n_features))  # not X.size: that is nnz if sparse
    if not np.isfinite(scale):
        raise ValueError(
            "Input contains values too large to be centred and scaled in "
            "float64; rescale X first (e.g. with StandardScaler)."
        )
    return mean, (scale if scale > 0 else 1.0)


def _value_range(X):
    lo, hi = np.inf, -np.inf
    for rows in _row_chunks(X.shape[0]):
        chunk = X[rows]
        if sp.issparse(chunk):
            values = chunk.data
            if chunk.nnz < chunk.shape[0] * chunk.shape[1]:
                lo, hi = min(lo, 0.0), max(hi, 0.0)
        else:
            values = np.asarray(chunk)
        if values.size:
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    return lo, hi


class AutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Dimensionality reduction with a PyTorch autoencoder trained by skorch.

    A drop-in replacement for :class:`~sklearn.decomposition.PCA`:
    ``transform`` maps the data to the ``n_components``-dimensional code of an
    autoencoder, ``inverse_transform`` decodes codes back to the input space,
    and ``score`` / ``score_samples`` measure the reconstruction error.

    With ``loss="mse"`` the data are centred per feature and divided by one
    global scale before training (as PCA centres, and without changing the
    relative weight of the features); ``inverse_transform`` undoes it. With
    ``loss="bce"`` the data must lie in [0, 1] and are used as they are.

    Every model of the Keras autoencoder article is a configuration: the
    single-layer, deep, sparse (``sparsity``), convolutional
    (``architecture="conv"``), denoising (``noise``), sequence-to-sequence
    (``architecture="lstm"``) and variational (``variational=True``)
    autoencoders. X is always 2-D, ``(n_samples, n_features)``; images and
    sequences are flat rows that the module reshapes with ``input_shape``.

    Parameters
    ----------
    n_components : int, default=2
        Dimension of the code, i.e. of the output of ``transform``.

    architecture : {"mlp", "conv", "lstm"} or torch.nn.Module subclass, \
            default="mlp"
        The network. ``"mlp"``: fully connected layers
        (:class:`~sklearn_ae.MLPAutoencoder`, shaped by
        ``hidden_layer_sizes``). ``"conv"``: the article's convolutional model
        for images (:class:`~sklearn_ae.ConvAutoencoder`: 3x3 convolutions
        with 16, 8 and 8 filters, 2x2 pooling, a linear bottleneck, and the
        mirror image with upsampling); needs ``input_shape=(channels, height,
        width)``. ``"lstm"``: the article's sequence-to-sequence model
        (:class:`~sklearn_ae.LSTMAutoencoder`); needs ``input_shape=
        (timesteps, n_channels)``. A class is a user's module, built as
        described in the Notes.

    hidden_layer_sizes : tuple of int, default=(256,)
        Widths of the encoder's hidden layers, from the input inwards; the
        decoder mirrors them. ``()`` is the single-layer autoencoder
        ``n_features -> n_components -> n_features``; ``(128, 64)`` with
        ``n_components=32`` is the Keras article's deep model. Used by
        ``architecture="mlp"`` only; for another architecture it must keep
        its default.

    activation : {"relu", "leaky_relu", "elu", "selu", "gelu", "silu", \
            "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers (``"mlp"``) or of the convolutions
        (``"conv"``). An LSTM or a custom module does not use it, so it must
        keep its default there.

    code_activation : str, default="identity"
        Activation of the code layer, one of the ``activation`` options. The
        default keeps the code linear, like PCA's scores; the Keras article
        uses ``"relu"``. Must be ``"identity"`` when ``variational=True`` and
        for a custom module.

    input_shape : tuple of int or None, default=None
        The shape of one sample: ``(channels, height, width)`` for
        ``architecture="conv"``, ``(timesteps, n_channels)`` for ``"lstm"``,
        any shape a custom module understands. Its product must equal the
        number of features of X, whose rows hold the samples flattened in C
        order (``images.reshape(len(images), -1)``). Not used by ``"mlp"``.

    module_params : dict or None, default=None
        Extra keyword arguments for the module's constructor, e.g.
        ``{"filters": (32, 32)}`` for ``"conv"`` or ``{"hidden_size": 32}``
        for ``"lstm"``, or a custom module's own arguments. A dict, so
        ``GridSearchCV`` can vary it. Keys the estimator sets itself (such as
        ``n_components``) are refused.

    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss. ``"bce"`` is the per-feature binary cross-entropy
        for data in [0, 1] (the article's loss on pixel intensities), computed
        from logits with the output sigmoid fused in for numerical stability.

    sparsity : float, default=0.0
        Weight of an L1 penalty on the code, added to the training loss only
        (so ``loss_curve_`` includes it and the validation loss does not). As
        in the article's original: ``sparsity * sum over code units of the
        batch mean of |z|``. The article uses ``1e-4`` with
        ``code_activation="relu"``. Cannot be combined with ``variational``.

    noise : float, default=0.0
        Corruption of the training inputs for a denoising autoencoder; the
        target stays the clean input, and each batch gets fresh corruption.
        Validation data, ``transform`` and scoring are never corrupted, so
        ``inverse_transform(transform(X_noisy))`` denoises X_noisy. For
        ``noise_type="gaussian"``, the standard deviation in X's units; for
        ``"mask"``, the fraction of inputs zeroed, in [0, 1).

    noise_type : {"gaussian", "mask"}, default="gaussian"
        ``"gaussian"`` adds ``N(0, noise^2)`` to every input, then clips to
        [0, 1] when ``loss="bce"`` (the article's noisy digits); ``"mask"``
        sets each input to 0 with probability ``noise``. Only with
        ``noise > 0``.

    variational : bool, default=False
        Whether to train a variational autoencoder (VAE): the encoder outputs
        the mean and log-variance of a Gaussian code, training decodes a
        sample of it, and the loss is the reconstruction loss plus ``beta``
        times the KL divergence to the prior N(0, I), divided by
        ``n_features`` (the reconstruction loss is a per-feature mean; with
        ``loss="bce"`` and ``beta=1`` the loss is the negative ELBO per
        feature). ``transform`` returns the posterior mean, so it is
        deterministic; :meth:`sample` generates new data.

    beta : float, default=1.0
        Weight of the KL term of a VAE (a beta-VAE when not 1). Only with
        ``variational=True``.

    optimizer : str or torch.optim.Optimizer subclass, default="adam"
        One of "adam", "adamw", "sgd", "rmsprop", "adadelta", "adagrad",
        "nadam", "radam", or an optimizer class. Note that Adadelta is
        usually run with ``learning_rate=1.0``.

    learning_rate : float, default=1e-3
        Step size passed to the optimizer as ``lr``.

    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.

    batch_size : int, default=64
        Samples per optimisation step. In data-parallel training (several
        processes in a ``torch.distributed`` process group, see the Notes)
        it is the total over all processes, each taking its share, so the
        same parameters give the same model on any number of processes.

    max_iter : int, default=50
        Maximum number of epochs (passes over the training data). Training
        stops earlier when the monitored loss stops improving (see ``tol``).
        Reaching ``max_iter`` is the normal end of a fit and does not warn.

    early_stopping : bool, default=False
        Whether to hold out ``validation_fraction`` of the data and stop when
        the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the weights of the best epoch are kept.
        When False, training stops the same way on the training loss, as in
        :class:`~sklearn.neural_network.MLPRegressor`.

    validation_fraction : float, default=0.1
        Share of the data held out when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.

    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.

    device : str, default="cpu"
        Torch device to train and transform on, e.g. "cpu", "cuda", "cuda:1",
        or "auto" (CUDA when available). Data move to it one batch at a time.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split.
        An int gives identical results on every fit (on CPU). The global
        torch and numpy random states are left untouched.

    verbose : int, default=0
        0 is silent; 1 prints one line per epoch (training loss, validation
        loss, duration) through skorch's ``PrintLog``.

    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net (e.g. ``skorch.callbacks.
        LRScheduler``, ``ProgressBar``, ``Checkpoint``).

    Attributes
    ----------
    n_components_ : int
        Dimension of the code.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit. Defined only when X has feature
        names that are all strings.

    mean_ : ndarray of shape (n_features_in_,) or None
        Per-feature mean subtracted before training (None with ``loss="bce"``).

    scale_ : float
        Global scale the centred data are divided by (1.0 with ``loss="bce"``).

    n_iter_ : int
        Number of epochs run: by ``fit``, plus one per later ``partial_fit``.

    loss_curve_ : list of float
        Training loss after each epoch (each ``partial_fit`` call adds one), in
        the units the module is trained in (the scaled data for
        ``loss="mse"``).

    validation_loss_curve_ : list of float or None
        Validation loss after each epoch when ``early_stopping=True`` (of
        ``fit``'s epochs: ``partial_fit`` does not validate).

    module_ : torch.nn.Module
        The trained autoencoder; it has ``encode`` and ``decode`` methods
        (and ``encode_distribution`` when variational).

    net_ : skorch.NeuralNet
        The skorch net that trained ``module_``; its ``history`` holds every
        epoch's and batch's record.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.decomposition.IncrementalPCA : PCA trained by ``partial_fit``.
    sklearn.neural_network.MLPRegressor : A multi-layer perceptron.
    MLPAutoencoder, ConvAutoencoder, LSTMAutoencoder : The built-in modules.

    Notes
    -----
    **The module protocol.** ``architecture`` may be any
    :class:`torch.nn.Module` subclass with these methods, on float tensors:

    - ``encode(x)``: ``x`` of shape ``(batch, n_features)`` (rows of X after
      the estimator's scaling, see above) to the code, ``(batch,
      n_components)``;
    - ``decode(z)``: codes to ``(batch, n_features)``: the reconstruction
      with ``loss="mse"``, logits (before the sigmoid) with ``loss="bce"``;
    - for ``variational=True`` only, ``encode_distribution(x)`` returning
      ``(mean, log_var)``, each ``(batch, n_components)``; ``encode(x)``
      must then return ``mean``.

    ``forward`` is not used. The estimator builds the module in ``fit`` as
    ``architecture(n_features=..., n_components=..., input_shape=...,
    **module_params)``, where ``input_shape`` is the estimator's parameter as
    a tuple, or ``(n_features,)`` when it is None; a module that needs
    ``input_shape`` reshapes the flat rows itself. Weights are initialised by
    the constructor, under the seed drawn from ``random_state``. A custom
    module does not receive ``hidden_layer_sizes``, ``activation`` or
    ``code_activation`` (they must keep their defaults): its settings go in
    ``module_params``.

    **Data-parallel training.** When ``torch.distributed`` has an initialised
    default process group of more than one process (e.g. started by
    ``torchrun``), ``fit`` and ``partial_fit`` train data-parallel, with no
    parameter to set: every process passes the same X, takes its share of
    every batch, and the gradients and epoch losses are averaged across the
    processes, so all end with the same model, equal (up to float rounding)
    to the single-process fit with the same parameters. Denoising noise and a
    VAE's samples are drawn per process, so those fits are equivalent but not
    equal. ``verbose`` prints from process 0 only.

    **The article's models.** Single layer: ``hidden_layer_sizes=()``;
    sparse: add ``sparsity=1e-4, code_activation="relu"``; deep:
    ``hidden_layer_sizes=(128, 64)``; convolutional: ``architecture="conv",
    input_shape=(1, 28, 28)``; denoising: the same with ``noise=0.5``;
    sequence-to-sequence: ``architecture="lstm", input_shape=(timesteps,
    n_channels)``; variational: ``variational=True, n_components=2``. The
    article trains with ``loss="bce"``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_ae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=8, max_iter=5, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)

    The article's convolutional model on the same digits, as 8x8 images:

    >>> conv = AutoencoderTransformer(
    ...     8, architecture="conv", input_shape=(1, 8, 8), max_iter=2, random_state=0
    ... )
    >>> conv.fit_transform(X).shape
    (1797, 8)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "architecture": [StrOptions(set(ARCHITECTURES)), type],
        "hidden_layer_sizes": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "code_activation": [StrOptions(set(ACTIVATIONS))],
        "input_shape": [tuple, list, None],
        "module_params": [dict, None],
        "loss": [StrOptions(set(LOSSES))],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "noise_type": [StrOptions({"gaussian", "mask"})],
        "variational": ["boolean"],
        "beta": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        n_components=2,
        *,
        architecture="mlp",
        hidden_layer_sizes=(256,),
        activation="relu",
        code_activation="identity",
        input_shape=None,
        module_params=None,
        loss="mse",
        sparsity=0.0,
        noise=0.0,
        noise_type="gaussian",
        variational=False,
        beta=1.0,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        batch_size=64,
        max_iter=50,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.n_components = n_components
        self.architecture = architecture
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.code_activation = code_activation
        self.input_shape = input_shape
        self.module_params = module_params
        self.loss = loss
        self.sparsity = sparsity
        self.noise = noise
        self.noise_type = noise_type
        self.variational = variational
        self.beta = beta
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is densified one batch at a time.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._guarded_fit(self._fit, X)

    def _guarded_fit(self, fit, X):
        """Run ``fit(X)``; restore the previous state on error, forget it if
        training diverged."""
        saved = dict(self.__dict__)
        try:
            fit(X)
        except TrainingDiverged as exc:
            self._forget_fit()
            raise ValueError(
                f"Training diverged: {exc.what} (epoch {exc.epoch}). Try a "
                f"smaller learning_rate (it is {self.learning_rate}), scale the "
                "input (e.g. with StandardScaler), or another optimizer."
            ) from None
        except BaseException:
            # Bad input or an interrupted fit leaves the previous fit intact.
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to X, then return its codes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes of X, of X's floating dtype.
        """
        return self.fit(X).transform(X)

    def _forget_fit(self):
        fitted = [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]
        for name in fitted:
            delattr(self, name)

    def _check_hidden_layer_sizes(self):
        sizes = tuple(self.hidden_layer_sizes)
        if not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise ValueError(
                "The 'hidden_layer_sizes' parameter of AutoencoderTransformer must "
                f"be a tuple of positive ints. Got {self.hidden_layer_sizes!r} instead."
            )
        return tuple(int(s) for s in sizes)

    def _resolve_device(self):
        device = str(self.device)
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        try:
            torch.device(device)
        except RuntimeError:
            raise ValueError(
                "The 'device' parameter of AutoencoderTransformer must be 'auto' "
                "or a torch device string such as 'cpu' or 'cuda'. "
                f"Got {device!r} instead."
            ) from None
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available; "
                "use device='cpu' or device='auto'."
            )
        return device

    def _check_unused_parameters(self, used):
        """A module parameter the architecture does not use must keep its default."""
        defaults = inspect.signature(type(self).__init__).parameters
        for name in _MODULE_PARAMETERS["mlp"]:
            value = getattr(self, name)
            if name in used or value == defaults[name].default:
                continue
            if isinstance(value, list) and tuple(value) == defaults[name].default:
                continue
            users = [a for a, names in _MODULE_PARAMETERS.items() if name in names]
            raise ValueError(
                f"{name}={value!r} does not apply to architecture="
                f"{self._architecture_name()}: only {users} use it. Leave it at its "
                f"default ({defaults[name].default!r}) and pass the module's own "
                "settings in module_params."
            )

    def _architecture_name(self):
        arch = self.architecture
        return repr(arch) if isinstance(arch, str) else arch.__name__

    def _check_input_shape(self, n_features):
        """``input_shape`` as a tuple of ints, checked against X and architecture."""
        arch, shape = self.architecture, self.input_shape
        if arch == "mlp":
            if shape is not None:
                raise ValueError(
                    f"input_shape={shape!r} does not apply to architecture='mlp', "
                    "which reads flat rows; use architecture='conv' for images, "
                    "'lstm' for sequences, or leave input_shape=None."
                )
            return None
        n_dims, example = _INPUT_SHAPES.get(arch, (None, None))
        if shape is None:
            if n_dims is not None:
                raise ValueError(
                    f"architecture={arch!r} needs input_shape={example}, the shape "
                    "of one sample."
                )
            return (n_features,)
        if not all(isinstance(s, Integral) and s > 0 for s in shape):
            raise ValueError(
                f"input_shape must be a tuple of positive ints; got {shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if n_dims is not None and len(shape) != n_dims:
            raise ValueError(
                f"architecture={arch!r} needs a {n_dims}-D input_shape={example}; "
                f"got {shape}."
            )
        if math.prod(shape) != n_features:
            raise ValueError(
                f"input_shape {shape} holds {math.prod(shape)} values per sample, "
                f"but X has {n_features} features."
            )
        return shape

    def _check_custom_module(self, module_cls):
        if not issubclass(module_cls, nn.Module):
            raise ValueError(
                "architecture must be 'mlp', 'conv', 'lstm' or a torch.nn.Module "
                f"subclass; got the class {module_cls.__name__}."
            )
        methods = ["encode", "decode"]
        if self.variational:
            methods.append("encode_distribution")
        missing = [m for m in methods if not callable(getattr(module_cls, m, None))]
        if missing:
            raise ValueError(
                f"The module class {module_cls.__name__} has no {missing} "
                f"method(s); a module needs {methods} (see the module protocol "
                "in AutoencoderTransformer's Notes)."
            )

    def _check_training_options(self):
        """Combinations of sparsity, noise and the VAE that cannot work."""
        if self.variational:
            if self.code_activation != "identity":
                raise ValueError(
                    "variational=True needs code_activation='identity': the code "
                    "layer outputs a Gaussian mean and log-variance; got "
                    f"code_activation={self.code_activation!r}."
                )
            if self.sparsity:
                raise ValueError(
                    "sparsity does not apply to variational=True (the KL term "
                    f"already regularises the code); got sparsity={self.sparsity}."
                )
        elif self.beta != 1.0:
            raise ValueError(
                f"beta={self.beta} weighs a VAE's KL term and only applies with "
                "variational=True."
            )
        if self.noise == 0 and self.noise_type != "gaussian":
            raise ValueError(
                f"noise_type={self.noise_type!r} only applies with noise > 0; "
                "set noise to the fraction of inputs to mask."
            )
        if self.noise_type == "mask" and self.noise >= 1:
            raise ValueError(
                "With noise_type='mask', noise is the fraction of inputs zeroed "
                f"and must be below 1; got noise={self.noise}."
            )

    def _module_spec(self, n_features):
        """The module class and its constructor arguments: the one place they are set.

        A built-in architecture gets the estimator's module parameters it uses;
        a custom one gets ``n_features``, ``n_components`` and ``input_shape``.
        Both also get ``module_params``.
        """
        arch = self.architecture
        builtin = isinstance(arch, str)
        if not builtin:
            self._check_custom_module(arch)
        used = _MODULE_PARAMETERS[arch] if builtin else ()
        self._check_unused_parameters(used)
        input_shape = self._check_input_shape(n_features)

        kwargs = {"n_features": n_features, "n_components": self.n_components}
        if input_shape is not None:
            kwargs["input_shape"] = input_shape
        if builtin:
            module_cls = ARCHITECTURES[arch]
            for name in used:
                kwargs[name] = getattr(self, name)
            if "hidden_layer_sizes" in kwargs:
                kwargs["hidden_layer_sizes"] = self._check_hidden_layer_sizes()
            kwargs["variational"] = self.variational
            owned = {*kwargs, *_MODULE_PARAMETERS["mlp"], "variational"}
        else:
            module_cls, owned = arch, set(kwargs)

        extra = dict(self.module_params or {})
        clash = sorted(set(extra) & owned)
        if clash:
            raise ValueError(
                f"module_params cannot set {clash}: the estimator sets them from "
                "its own parameters."
            )
        try:
            inspect.signature(module_cls).bind(**kwargs, **extra)
        except TypeError as exc:
            raise ValueError(
                f"{module_cls.__name__} cannot be built from the arguments "
                f"{sorted({**kwargs, **extra})}: {exc}. Check module_params (and, "
                "for a custom module, the protocol in AutoencoderTransformer's "
                "Notes)."
            ) from None
        return module_cls, {**kwargs, **extra}

    def _corruption(self, mean, scale):
        """The denoising corruption in module space, or None."""
        if not self.noise:
            return None
        if self.noise_type == "mask":
            zero = 0.0 if mean is None else torch.as_tensor(-mean / scale).float()
            return Corruption(self.noise, "mask", zero=zero)
        clip = (0.0, 1.0) if self.loss == "bce" else None
        return Corruption(self.noise / scale, "gaussian", clip=clip)

    def _callbacks(self):
        sink = print if self.verbose else _noop
        monitor = "valid_loss" if self.early_stopping else "train_loss"
        stopper = EarlyStopping(
            monitor=monitor,
            patience=self.n_iter_no_change,
            threshold=self.tol,
            threshold_mode="abs",
            load_best=self.early_stopping,
            sink=sink,
        )
        return [("early_stopping", stopper), *(self.callbacks or [])]

    def _split(self, n_samples, seed):
        if not self.early_stopping:
            return None, None
        n_valid = int(np.ceil(self.validation_fraction * n_samples))
        if n_samples - n_valid < 1:
            raise ValueError(
                f"With n_samples={n_samples} and validation_fraction="
                f"{self.validation_fraction}, no sample is left for training; "
                "use more data, a smaller validation_fraction, or "
                "early_stopping=False."
            )
        order = np.random.default_rng(seed).permutation(n_samples)
        return np.sort(order[n_valid:]), np.sort(order[:n_valid])

    # The fit is factored into a setup part and a training part, shared by
    # ``fit`` (which always starts afresh), ``partial_fit`` (which builds on its
    # first call and continues afterwards) and ``load`` (which builds and then
    # fills in saved weights).

    def _input_statistics(self, X):
        """``(mean, scale)`` of the map into module space, from one pass over X."""
        if self.loss == "bce":
            lo, hi = _value_range(X)
            if lo < 0 or hi > 1:
                raise ValueError(
                    "loss='bce' needs X in [0, 1]; got values in "
                    f"[{lo:.4g}, {hi:.4g}]. Rescale X (e.g. with MinMaxScaler) "
                    "or use loss='mse'."
                )
            return None, 1.0
        return _centre_and_scale(X)

    def _make_net(self, n_features, mean, scale, seed, *, valid=None, stopper=True):
        """The skorch net for these parameters, not yet initialised."""
        module_cls, module_kwargs = self._module_spec(n_features)
        device = self._resolve_device()
        optimizer, optimizer_kwargs = self.optimizer, {}
        if isinstance(optimizer, str):
            optimizer = OPTIMIZERS[optimizer]
            optimizer_kwargs = fused_optimizer_kwargs(optimizer, device)
        callbacks = self._callbacks()
        group = current_group()
        if not stopper:
            callbacks = [cb for cb in callbacks if not _named(cb, "early_stopping")]
        return AutoencoderNet(
            module=module_cls,
            **{f"module__{k}": v for k, v in module_kwargs.items()},
            criterion=LOSSES[self.loss],
            optimizer=optimizer,
            lr=self.learning_rate,
            optimizer__weight_decay=self.weight_decay,
            **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
            max_epochs=self.max_iter,
            batch_size=self.batch_size,
            train_split=None if valid is None else predefined_split(valid),
            callbacks=callbacks,
            device=device,
            # In data-parallel training, process 0 alone prints.
            verbose=self.verbose if group is None or group.rank == 0 else 0,
            to_tensor=InputScaler(mean, scale, device),
            generator=torch.Generator().manual_seed(seed),
            sparsity=self.sparsity,
            variational=self.variational,
            beta=self.beta,
            corrupt=self._corruption(mean, scale),
        )

    def _data_parallel_seed(self, X, seed, mean, scale, *, validating=False):
        """``seed``, or process 0's seed when training data-parallel.

        In a process group of several processes (see the README's "GPU"
        section) every process must pass the same X: its shape and a
        fingerprint of it are compared, and the group must not outnumber the
        rows of a batch, of the training set or of the validation set. Each
        check raises on every process alike, so none is left waiting.
        """
        group = current_group()
        if group is None:
            return seed
        device = self._resolve_device()
        n_samples = X.shape[0]
        fingerprint = [
            *X.shape,
            scale,
            0.0 if mean is None else float(np.sum(mean)),
            float(_dense(X[:1]).sum()),
            float(_dense(X[-1:]).sum()),
        ]
        group.check_same("X", fingerprint, device)
        n_valid = int(np.ceil(self.validation_fraction * n_samples)) * validating
        sizes = {"batch_size": self.batch_size, "training rows": n_samples - n_valid}
        if validating:
            sizes["validation rows"] = n_valid
        small = {k: v for k, v in sizes.items() if v < group.world_size}
        if small:
            raise ValueError(
                f"Data-parallel training on {group.world_size} processes needs at "
                f"least one row per process in every batch; got {small}."
            )
        if self.verbose and group.rank == 0:
            print(
                f"Data-parallel training on {group.world_size} processes "
                f"({group.backend}): {self.batch_size} rows per step in all, "
                f"about {self.batch_size / group.world_size:.4g} per process."
            )
        return group.broadcast_int(seed, device)

    @staticmethod
    def _run(net, seed, train):
        """Call ``train()`` with the global torch RNG seeded inside a fork.

        Module initialisation (and any randomness in a user's module) draws
        from the global RNG; the fork restores the caller's state afterwards.
        """
        device = str(net.device)
        cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            return train()

    def _build(self, n_features, mean, scale, seed, *, stopper=True):
        """A net for these parameters, initialised under ``seed``: the model
        that ``partial_fit`` starts from and that ``load`` fills in."""
        net = self._make_net(n_features, mean, scale, seed, stopper=stopper)
        self._run(net, seed, net.initialize)
        return net

    def _set_fitted(self, net, mean, scale, dtype, seed):
        self._fit_dtype = np.dtype(dtype)
        self._seed = seed
        self.n_components_ = self.n_components
        self.mean_ = mean
        self.scale_ = scale
        self.net_ = net
        self.module_ = net.module_
        self.module_.eval()

    def _fit(self, X):
        X = check_X(self, X, reset=True)
        self._check_training_options()
        mean, scale = self._input_statistics(X)
        seed = _seed_from(self.random_state)
        seed = self._data_parallel_seed(
            X, seed, mean, scale, validating=self.early_stopping
        )
        train_idx, valid_idx = self._split(X.shape[0], seed)
        net = self._make_net(
            X.shape[1],
            mean,
            scale,
            seed,
            valid=None if valid_idx is None else RowDataset(X, valid_idx),
        )
        self._run(net, seed, lambda: net.fit(RowDataset(X, train_idx)))
        # The validation split is a view of X: drop it, so the fitted model
        # neither keeps X alive nor pickles it.
        net.train_split = None

        history = net.history
        self._set_fitted(net, mean, scale, X.dtype, seed)
        self.n_iter_ = len(history)
        self.loss_curve_ = [float(v) for v in history[:, "train_loss"]]
        self.validation_loss_curve_ = (
            [float(v) for v in history[:, "valid_loss"]]
            if self.early_stopping
            else None
        )
        return self

    # ---------------------------------------------------------- partial_fit

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch over X, continuing the current model.

        The first call (on an unfitted estimator) builds the model: it checks
        X, fixes ``n_features_in_`` and the input scaling (``mean_`` and
        ``scale_``, from this first batch) and initialises the weights and
        the optimizer. Each later call runs one pass over its X, in shuffled
        mini-batches of ``batch_size``, continuing the same module and
        optimizer state; ``n_iter_`` grows by one and ``loss_curve_`` by one
        entry. ``max_iter``, ``early_stopping`` and the stopping rule do not
        apply (as in :class:`~sklearn.neural_network.MLPRegressor`). After
        ``fit``, ``partial_fit`` continues that fit; ``fit`` always starts
        afresh.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One batch of training data, e.g. a chunk of a larger data set.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The estimator, trained for one more epoch.
        """
        return self._guarded_fit(self._partial_fit, X)

    def _partial_fit(self, X):
        first = not hasattr(self, "net_")
        X = check_X(self, X, reset=first)
        if first:
            self._check_training_options()
            mean, scale = self._input_statistics(X)
            seed = _seed_from(self.random_state)
            seed = self._data_parallel_seed(X, seed, mean, scale)
            net = self._build(X.shape[1], mean, scale, seed, stopper=False)
            self._set_fitted(net, mean, scale, X.dtype, seed)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.validation_loss_curve_ = None
        else:
            self._data_parallel_seed(X, self._seed, self.mean_, self.scale_)
        net = self.net_
        if any(_named(cb, "early_stopping") for cb in net.callbacks):
            # Continuing a fit: one epoch per call, no validation, no stopping.
            net.callbacks = [
                cb for cb in net.callbacks if not _named(cb, "early_stopping")
            ]
            net.initialize_callbacks()
        net.train_split = None
        self._run(
            net,
            self._seed + self.n_iter_ + 1,
            lambda: net.partial_fit(RowDataset(X), epochs=1),
        )
        self.module_.eval()
        self.n_iter_ += 1
        self.loss_curve_ = [*self.loss_curve_, float(net.history[-1, "train_loss"])]
        return self

    # ---------------------------------------------------------- persistence

    def save(self, path):
        """Save the fitted model to one file, without pickle.

        The file is a zip archive holding the tensors (weights, input mean,
        optimizer state) in safetensors format and everything else
        (parameters, fitted attributes, library versions) in JSON. Load it
        with :meth:`load`.

        Parameters
        ----------
        path : str or path-like
            Where to write; an existing file is replaced.

        Returns
        -------
        path : pathlib.Path
            The path written.

        Raises
        ------
        TypeError
            If a parameter cannot be stored as plain data: a class that is not
            in ``torch.optim`` or ``sklearn_ae``. ``callbacks`` and a
            ``RandomState`` instance are not saved (the loaded model has
            ``None``), with a warning.

        See Also
        --------
        load : Read a file written by ``save``.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).random((50, 6), dtype=np.float32)
        >>> ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
        >>> path = os.path.join(tempfile.mkdtemp(), "ae.zip")
        >>> ae2 = AutoencoderTransformer.load(ae.save(path))
        >>> bool((ae2.transform(X) == ae.transform(X)).all())
        True
        """
        from ._persistence import save

        check_is_fitted(self)
        return save(self, path)

    @classmethod
    def load(cls, path, *, device=None):
        """Load a model written by :meth:`save`, without unpickling anything.

        Only a zip archive with exactly the two members that ``save`` writes
        is accepted; anything else (a pickle, a ``torch.save`` file, an
        archive with extra or missing members, malformed JSON or weights of
        the wrong shapes) is refused with a ``ValueError``. A version of
        sklearn_ae, torch, skorch or scikit-learn that differs from the one
        that saved the file gives a ``UserWarning``.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.

        device : str or None, default=None
            Torch device to load onto. None uses the saved ``device``
            parameter, or the CPU with a warning when that is a CUDA device
            and CUDA is not available here.

        Returns
        -------
        estimator : AutoencoderTransformer
            The fitted estimator; ``transform`` gives the same numbers as the
            saved one, and ``partial_fit`` continues with the saved optimizer
            and shuffling state. The skorch history is not saved
            (``loss_curve_`` is).

        See Also
        --------
        save : Write a model file.
        """
        from ._persistence import load

        return load(cls, path, device=device)

    def _restore(self, n_features, mean, scale, seed, state_dict, dtype):
        """Build the net for these parameters and load ``state_dict`` into it."""
        self._check_training_options()
        net = self._build(n_features, mean, scale, seed)
        net.module_.load_state_dict(state_dict, strict=True)
        self._set_fitted(net, mean, scale, dtype, seed)

    # ----------------------------------------------------------------- ONNX

    def export_onnx(self, path, *, part="encoder"):
        """Export the encoder or the decoder as an ONNX graph.

        The graph includes the estimator's input scaling (``mean_`` and
        ``scale_``) and, for ``loss="bce"``, the output sigmoid, so it gives
        the numbers of ``transform`` (``part="encoder"``) or
        ``inverse_transform`` (``part="decoder"``) for float32 input, with a
        dynamic batch dimension. Needs the ``onnx`` extra
        (``pip install sklearn-ae[onnx]``).

        Parameters
        ----------
        path : str or path-like
            The ``.onnx`` file to write.

        part : {"encoder", "decoder"}, default="encoder"
            ``"encoder"`` maps ``X`` (float32, ``(batch, n_features_in_)``) to
            codes; ``"decoder"`` maps codes (``(batch, n_components_)``) to
            reconstructions.

        Returns
        -------
        path : pathlib.Path
            The path written. The graph's input is named ``"X"`` and its
            output ``"codes"`` (encoder) or ``"X_reconstructed"`` (decoder).
        """
        from ._onnx import export_onnx

        check_is_fitted(self)
        return export_onnx(self, path, part=part)

    # -------------------------------------------------------------- pickle

    def __getstate__(self):
        # ``module_`` is ``net_.module_``: skorch pickles it (and moves it
        # from a missing GPU to the CPU on load); pickling it here as well
        # would bypass that and break the identity of the two.
        state = dict(super().__getstate__())
        if "net_" in state:
            state.pop("module_", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        net = self.__dict__.get("net_")
        if net is None:
            return
        self.module_ = net.module_
        self.module_.eval()
        scaler = net.to_tensor
        if str(scaler.device) != str(net.device):
            warnings.warn(
                f"This {type(self).__name__} was fitted on device "
                f"{str(scaler.device)!r}, which is not available here; it was "
                f"moved to {str(net.device)!r} and will transform there.",
                UserWarning,
                stacklevel=2,
            )
            scaler.device = str(net.device)
            # As skorch does for its own ``device``: a later fit runs here.
            self.device = str(net.device)

    # ------------------------------------------------------------ transform

    @property
    def _scaler(self):
        return self.net_.to_tensor

    def _inference_module(self, dtype):
        """The module in eval mode, and the torch dtype to run it in.

        float64 input is encoded in float64 on the CPU (with a float64 copy of
        the float32 weights), so a sample's code does not depend on which other
        samples share its batch; float32 input, and any input on a GPU, run
        the float32 module itself.
        """
        module = self.module_.eval()
        if dtype == np.float64 and torch.device(self._scaler.device).type == "cpu":
            return copy.deepcopy(module).to(torch.float64), torch.float64
        return module, torch.float32

    def _decode(self, module, z):
        """Code tensor -> reconstruction tensor in module space (after sigmoid)."""
        x_hat = module.decode(z)
        return torch.sigmoid(x_hat) if self.loss == "bce" else x_hat

    def transform(self, X):
        """Encode X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            The codes, of X's floating dtype (float64 for integer input).
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        module, compute = self._inference_module(X.dtype)
        out = np.empty((X.shape[0], self.n_components_), dtype=X.dtype)
        with torch.inference_mode():
            for rows in _row_chunks(X.shape[0]):
                z = module.encode(self._scaler(_dense(X[rows]), compute))
                out[rows] = z.cpu().numpy()
        return out

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The reconstructions, of X's floating dtype.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {self.__class__.__name__} is "
                f"expecting {self.n_components_} features as input."
            )
        module, compute = self._inference_module(Z.dtype)
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        with torch.inference_mode():
            for rows in _row_chunks(Z.shape[0]):
                z = as_tensor(Z[rows]).to(self._scaler.device, compute)
                out[rows] = self._scaler.inverse(self._decode(module, z), Z.dtype)
        return out

    def _reconstruction_errors(self, X):
        """Per-sample mean squared reconstruction error, in the input's units."""
        module, compute = self._inference_module(X.dtype)
        errors = np.empty(X.shape[0])
        with torch.inference_mode():
            for rows in _row_chunks(X.shape[0]):
                chunk = _dense(X[rows])
                z = module.encode(self._scaler(chunk, compute))
                x_hat = self._scaler.inverse(self._decode(module, z), np.float64)
                errors[rows] = np.square(chunk - x_hat).mean(axis=1)
        return errors

    def score_samples(self, X):
        """Negative mean squared reconstruction error of each sample.

        Higher is more typical of the training data; low values flag samples
        the autoencoder cannot reconstruct, which makes this an anomaly score.
        For a VAE too it is this deterministic reconstruction error (of the
        decoded posterior mean), not the ELBO or a likelihood.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mean((x - inverse_transform(transform(x))) ** 2)`` per sample.
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        return -self._reconstruction_errors(X)

    def score(self, X, y=None):
        """Negative mean squared reconstruction error over all of X.

        Higher is better, so model selection (``GridSearchCV``,
        ``cross_val_score``) works with no ``y`` and no ``scoring``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to score.

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float
            The mean of :meth:`score_samples`.
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None):
        """Generate new data from a variational autoencoder.

        Draws codes from the prior N(0, I) and decodes them, as
        ``inverse_transform`` does (so with ``loss="bce"`` the values are the
        decoder's probabilities, in [0, 1]).

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples to generate.

        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the prior; an int gives the same samples on
            every call. The global numpy and torch random states are left
            untouched.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features_in_)
            The generated samples, of the floating dtype the model was fitted
            on.
        """
        check_is_fitted(self)
        if not self.net_.variational:
            raise ValueError(
                "sample needs a variational autoencoder, with a prior to draw "
                "codes from; fit with variational=True."
            )
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(
                f"n_samples must be a positive int; got {n_samples!r} instead."
            )
        rng = np.random.default_rng(_seed_from(random_state))
        Z = rng.standard_normal((n_samples, self.n_components_))
        return self.inverse_transform(Z.astype(self._fit_dtype))

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
