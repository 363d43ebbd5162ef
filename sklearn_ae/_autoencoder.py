"""The scikit-learn face: :class:`AutoencoderTransformer`.

The estimator checks input, keeps the fitted state and maps between the
user's arrays and the trained module. A fit is a sequence it only calls:
``_data.check_X`` checks X, ``_plan.plan_fit`` resolves the parameters once,
``_trainer.train`` reads the data's statistics in one pass (``_stats``),
builds the net (``_config``), trains it (``_engine``) and returns a result,
from which the estimator alone sets its fitted attributes. ``_inference``
encodes and decodes for the transforms; ``_io`` writes files.
"""

import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._compat import _fit_context
from ._config import PARAMETER_CONSTRAINTS, seed_from
from ._data import check_X, map_rows
from ._display import show_callbacks
from ._engine._net import TrainingDiverged
from ._fitted import is_fitted, restore, set_from_plain, snapshot, to_plain
from ._guard import drop_fit_lock, fit_lock, sigint_deferred
from ._inference import (
    decoder,
    encoder,
    inference_threads,
    reconstruction_errors,
)
from ._plan import plan_fit
from ._trainer import train

__all__ = ["AutoencoderTransformer"]

# skorch callbacks in parameters print as LRScheduler(), not as an address.
show_callbacks()


# PCA's fitted attributes that an autoencoder cannot have, and what to use.
_PCA_ONLY_ATTRIBUTES = {
    "components_": (
        "an autoencoder's codes are not a linear projection, so it has no "
        "components; use transform(X) for the codes, inverse_transform(Z) for "
        "reconstructions and module_ for the network's weights"
    ),
    "explained_variance_ratio_": (
        "use explained_variance_fraction_, the fraction of X's variance the "
        "reconstructions explain (PCA's explained_variance_ratio_.sum())"
    ),
    "explained_variance_": (
        "the codes are not ordered by variance; use explained_variance_fraction_ "
        "for the fraction explained, or transform(X).var(axis=0) for the "
        "variance of each code"
    ),
    "singular_values_": (
        "an autoencoder has no singular values; use explained_variance_fraction_ "
        "or score(X), the negative reconstruction error"
    ),
    "noise_variance_": (
        "use score_samples(X), each sample's negative reconstruction error"
    ),
}


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
    n_components : int, float, "mle" or None, default=2
        Dimension of the code, i.e. of the output of ``transform``, given as
        :class:`~sklearn.decomposition.PCA` takes it: an int is the width
        itself (0 gives an empty code, whose reconstruction is the mean; a
        width above the number of features gives an overcomplete
        autoencoder, with a warning unless ``sparsity``, ``noise`` or
        ``variational=True`` keeps the wide code from copying its input,
        where PCA raises); a float in (0, 1) is the number of principal components
        PCA needs to explain that fraction of the training data's variance;
        ``"mle"`` is PCA's estimate of the intrinsic dimension by Minka's
        method (needs ``n_samples >= n_features``); None is
        ``min(n_samples, n_features)``. The width used is ``n_components_``.

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
        ``n_components=32`` is the Keras article's deep model. Only used when
        ``architecture="mlp"``.

    activation : {"relu", "leaky_relu", "elu", "selu", "gelu", "silu", \
            "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers (``"mlp"``) or of the convolutions
        (``"conv"``). Not used by ``"lstm"`` or a custom module.

    code_activation : str, default="identity"
        Activation of the code layer, one of the ``activation`` options. The
        default keeps the code linear, like PCA's scores; the Keras article
        uses ``"relu"``. Not used when ``variational=True`` (the code layer
        outputs a Gaussian mean and log-variance) or by a custom module.

    input_shape : tuple of int or None, default=None
        The shape of one sample: ``(channels, height, width)`` for
        ``architecture="conv"``, ``(timesteps, n_channels)`` for ``"lstm"``,
        any shape a custom module understands. Its product must equal the
        number of features of X, whose rows hold the samples flattened in C
        order (``images.reshape(len(images), -1)``). Not used by ``"mlp"``,
        which reads flat rows.

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
        ``code_activation="relu"``. With ``variational=True`` it applies to
        the sampled code.

    noise : float, default=0.0
        Corruption of the training inputs for a denoising autoencoder; the
        target stays the clean input, and each batch gets fresh corruption.
        Validation data, ``transform`` and scoring are never corrupted, so
        ``inverse_transform(transform(X_noisy))`` denoises X_noisy. For
        ``noise_type="gaussian"``, the standard deviation in X's units; for
        ``"mask"`` and ``"missing"``, the fraction of inputs hidden, in [0, 1).

    noise_type : {"gaussian", "mask", "missing"}, default="gaussian"
        ``"gaussian"`` adds ``N(0, noise^2)`` to every input, then clips to
        [0, 1] when ``loss="bce"`` (the article's noisy digits); ``"mask"``
        sets each input to 0 with probability ``noise``; ``"missing"`` hides
        each input with probability ``noise`` as a missing value is hidden
        (set to the feature's training mean), which trains the network to
        fill in missing values (``loss="mse"`` only). Only used when
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
        Weight of the KL term of a VAE (a beta-VAE when not 1). Only used
        when ``variational=True``.

    optimizer : str or torch.optim.Optimizer subclass, default="adam"
        One of "adam", "adamw", "sgd", "rmsprop", "adadelta", "adagrad",
        "nadam", "radam", or an optimizer class. Note that Adadelta is
        usually run with ``learning_rate=1.0``.

    init : {"auto", "pca", "random"}, default="auto"
        Where training starts. ``"pca"``: at PCA's solution. The network
        gets a linear path beside its hidden layers (``MLPAutoencoder``'s
        ``linear_path``), set to the principal axes of the training rows,
        while the hidden layers' corrections start at zero, so before any
        training ``transform`` gives PCA's scores and ``inverse_transform``
        PCA's reconstructions; training then moves away from PCA only as far
        as it helps. With ``early_stopping=True`` PCA also stays in the race
        (see the Notes): the result is never a network that did not clearly
        beat PCA on the validation rows. Needs ``architecture="mlp"``,
        ``loss="mse"``, ``code_activation="identity"``, ``variational=False``
        and ``n_components`` at most the number of training rows and of
        features. ``"random"``: the usual random initialisation (the Keras
        article's models). ``"auto"``: ``"pca"`` where it applies, else
        ``"random"``.

    learning_rate : float or "auto", default="auto"
        Step size passed to the optimizer as ``lr``. ``"auto"`` is 3e-3 when
        training starts at PCA's solution (it reaches the same error as 1e-3
        in about 60% of the steps there) and 1e-3 otherwise (the article's
        models).

    weight_decay : float, default=0.0
        L2 penalty passed to the optimizer.

    batch_size : int or "auto", default="auto"
        Samples per optimisation step. ``"auto"`` is ``min(cap, max(16,
        n_train // 10))`` for the ``n_train`` rows a call trains on: about
        ten steps per epoch on small data, so that a few hundred rows are
        not undertrained. The cap is 256 when training starts at PCA's
        solution (a CPU runs 256 rows a step fastest per sample) and 64 from
        a random start, which needs more steps. In data-parallel training (several
        processes in a ``torch.distributed`` process group, see the Notes)
        it is the total over all processes, each taking its share, so the
        same parameters give the same model on any number of processes.

    max_iter : int, default=100
        Maximum number of epochs (passes over the training data). Training
        stops earlier when the monitored loss stops improving (see ``tol``),
        which small data do long before 100 epochs. Reaching ``max_iter`` is
        a normal end of a fit and does not warn; raise it when time allows
        (large or strongly nonlinear data still improve slowly after 100).

    early_stopping : bool, default=True
        Whether to hold out ``validation_fraction`` of the data and stop when
        the validation loss has not improved by ``tol`` for
        ``n_iter_no_change`` epochs; the weights of the epoch with the lowest
        validation loss are kept (``best_epoch_``). When False, all rows are
        trained on, training stops the same way on the training loss and
        keeps the last weights, as in
        :class:`~sklearn.neural_network.MLPRegressor`.

    validation_fraction : float, default=0.1
        Share of the data held out, but at least ``min(30, n_samples // 3)``
        rows, so that small data validate on enough rows to tell a better
        model from luck. Only used when ``early_stopping=True``.

    n_iter_no_change : int, default=20
        Epochs without an improvement of at least ``tol`` before stopping.

    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement,
        in the units the module trains in: with ``loss="mse"`` those of the
        scaled data, so ``tol`` is a fraction of the data's mean variance
        and suits data of any scale. It decides when training stops, not
        which epoch is best.

    device : str, default="cpu"
        Torch device to train and transform on, e.g. "cpu", "cuda", "cuda:1",
        or "auto" (CUDA when available). Data move to it one batch at a time.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split, the
        denoising noise and a VAE's samples. An int gives identical results
        on every fit (on CPU), also for fits run at the same time in threads
        (e.g. ``GridSearchCV`` with the threading backend). Every draw comes
        from generators that belong to the fit: the global torch and numpy
        random states are neither read nor changed. Exception: randomness
        inside a custom module (e.g. its dropout) uses the global torch RNG,
        and a custom module's constructor is run with the global RNG seeded,
        under a lock, and restored afterwards.

    verbose : int, default=0
        0 is silent. 1 draws a progress bar over the epochs with the losses
        and the time left when the output is a terminal, and prints one plain
        line per epoch otherwise (no escape codes in a file or a pipe). 2
        prints one line per epoch everywhere. Losses are shown in X's units,
        as ``loss_curve_`` holds them, and a last line says how many epochs
        ran, why training stopped and which epoch's weights were kept.

    callbacks : list of skorch callbacks or None, default=None
        Extra callbacks for the skorch net (e.g. ``skorch.callbacks.
        LRScheduler``, ``ProgressBar``, ``Checkpoint``): instances, classes,
        or ``(name, callback)`` tuples. A callback may end training early by
        raising ``KeyboardInterrupt`` in ``on_epoch_end`` (skorch's
        convention); raised anywhere else it interrupts the fit, which is
        rolled back. Callbacks are not saved by :meth:`save`.

    Attributes
    ----------
    n_components_ : int
        Dimension of the code: ``n_components`` resolved on the training data.
        As PCA's, a ``numpy.int64`` when ``n_components`` is a float or
        ``"mle"``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit. Defined only when X has feature
        names that are all strings.

    mean_ : ndarray of shape (`n_features_in_`,) or None
        Per-feature mean subtracted before training (None with ``loss="bce"``),
        over the observed values; a missing input is set to it.

    scale_ : float
        Global scale the centred data are divided by (1.0 with ``loss="bce"``).
        The module's codes are multiplied by it on the way out of
        ``transform`` (and divided on the way into ``inverse_transform``),
        so that codes are in X's units, as PCA's scores are: a model that
        starts at PCA's solution gives PCA's scores.

    n_iter_ : int
        Number of epochs run: by ``fit``, plus one per later ``partial_fit``.

    best_epoch_ : int
        The epoch whose weights the model has: with ``early_stopping=True``
        the one with the lowest validation loss, else the last one. 0 means
        training starts from PCA's solution and kept it (see ``init``): no
        epoch beat it, not significantly, or there were too few rows to
        tell.

    explained_variance_fraction_ : float or None
        The fraction of the training data's variance that the
        reconstructions explain, ``1 - sum((X - X_hat)**2) / sum((X -
        X.mean(0))**2)`` over the rows ``fit`` saw: the analogue of PCA's
        ``explained_variance_ratio_.sum()``, and equal to it when the model
        is PCA's solution. One number, as a nonlinear code's units carry no
        share of the variance each. None after ``partial_fit``, which sees
        one chunk at a time.

    loss_curve_ : list of float
        Training loss of each epoch (each ``partial_fit`` call adds one), in
        X's units: with ``loss="mse"`` the mean squared reconstruction error
        that ``-score`` reports (measured on the training batches as they
        were trained, so with any denoising corruption), plus the sparsity
        or KL penalty when there is one; with ``loss="bce"`` the binary
        cross-entropy.

    validation_loss_curve_ : list of float or None
        Validation loss after each epoch when ``early_stopping=True`` (of
        ``fit``'s epochs: ``partial_fit`` does not validate), in the same
        units. With ``init="pca"`` it is measured on the half of the
        validation rows that chooses the epoch (the other half decides
        between the network and PCA's solution).

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
    the constructor, with the global torch RNG seeded from ``random_state``
    (under a lock, so that fits in threads do not interleave their draws;
    the caller's RNG state is restored); dropout or other draws in its
    methods use the global RNG, so such a module is reproducible in serial
    fits only. Before training, ``fit`` runs ``encode`` and ``decode`` (and
    ``encode_distribution``) on two rows in eval mode and raises a
    ``ValueError`` unless they give the shapes above. A custom
    module does not receive ``hidden_layer_sizes``, ``activation`` or
    ``code_activation`` (they are ignored): its settings go in
    ``module_params``.

    **Which parameters each model uses.** ``hidden_layer_sizes``: ``"mlp"``
    only; ``activation``: ``"mlp"`` and ``"conv"``; ``code_activation``: the
    three built-in architectures, unless variational; ``input_shape``:
    ``"conv"``, ``"lstm"`` and custom modules; ``beta``: variational models;
    ``noise_type``: with ``noise > 0``; ``validation_fraction``: with
    ``early_stopping=True``. A parameter that does not apply is ignored, as
    scikit-learn's MLP ignores ``momentum`` unless ``solver="sgd"``, so one
    grid search can compare architectures.

    **Shuffling and streaming.** Each epoch visits the training rows in a
    fresh order drawn from ``random_state``. In-memory arrays (dense or
    sparse) are shuffled as a whole: every batch is a random subset of all
    rows. A dask array or a ``np.memmap`` is read by chunks instead (its own
    row chunks; 4,096 rows of a memory map), so that each chunk is read once
    per epoch: the epoch takes the chunks in a shuffled order, four at a
    time, shuffles the rows of those chunks (and the fewer than
    ``batch_size`` rows left over from the chunks before) together and cuts
    the batches from them. Every batch but the last still has
    ``batch_size`` rows, and the order is as reproducible as the full
    permutation, but a batch mixes rows of a few chunks, not of the whole
    data set, and the result differs from that of the same rows in memory.

    **Threads.** On the CPU, ``fit``, ``partial_fit`` and the transforms set
    torch's number of threads for their duration from the work of one step:
    one thread for small models and batches (where more threads cost more
    than they save, and a busy neighbour on the machine stalls them), more
    for large ones, never more than the caller's setting, and the caller's
    count is restored afterwards. A lowered count applies to numpy's and
    scipy's BLAS threads too (PCA's start and test), unless a variable such as
    ``OPENBLAS_NUM_THREADS`` sets them. A thread count chosen explicitly (with
    ``torch.set_num_threads``, ``threadpoolctl.threadpool_limits`` or the
    ``OMP_NUM_THREADS`` variable, as joblib's worker processes set it) is
    left alone.

    **Data-parallel training.** When ``torch.distributed`` has an initialised
    default process group of more than one process (e.g. started by
    ``torchrun``), ``fit`` and ``partial_fit`` train data-parallel, with no
    parameter to set: every process passes the same X, takes its share of
    every batch, and the gradients and epoch losses are averaged across the
    processes, so all end with the same model, equal (up to float rounding)
    to the single-process fit with the same parameters. Denoising noise and a
    VAE's samples are drawn per process, so those fits are equivalent but not
    equal. ``verbose`` prints from process 0 only.

    **Never worse than PCA (init="pca", the default for the MLP).** Training
    starts at PCA's solution and, with ``early_stopping=True``, PCA stays in
    the race: the PCA of the training rows (not the validation rows) is
    "epoch 0" of early stopping, whose weights are kept if no epoch has a
    lower validation loss; a network that does have a lower one replaces it
    only if its per-row errors on other held-out rows are lower by a
    one-sided paired t-test at the 1% level. For this the validation part is
    split in two: half chooses the epoch (the validation loss), the other
    half, which never saw that choice, decides (the minimum of a noisy
    validation curve flatters the winner on the rows that drew it). When
    PCA's solution is kept, it is the PCA of all rows, so the model equals
    ``PCA(k).fit(X)``, codes included. With fewer than 10 validation rows
    (fewer than 30 samples) there is nothing to tell a network from PCA with,
    and PCA's solution is returned untrained. ``best_epoch_`` says which
    happened (0: PCA's).
    ``benchmarks/pca_parity.py`` measures the promise on scikit-learn's data
    sets, MNIST and nonlinear manifolds (the user guide's "Coming from PCA"
    has its table and the reasoning behind each default).

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

    _parameter_constraints: ClassVar[dict] = PARAMETER_CONSTRAINTS

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
        init="auto",
        learning_rate="auto",
        weight_decay=0.0,
        batch_size="auto",
        max_iter=100,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
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
        self.init = init
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
        """Train the autoencoder on X, from scratch.

        A fit is all or nothing: if it raises, whatever the reason (bad
        input, a failing callback, ``KeyboardInterrupt``, or a loss that
        stops being finite, which raises ``ValueError: Training diverged``),
        the estimator is left exactly as it was: a fitted model keeps its
        previous fit, an unfitted one stays unfitted. A ``KeyboardInterrupt``
        (Ctrl-C) propagates, so a grid search stops; only a
        ``KeyboardInterrupt`` raised by a callback's ``on_epoch_end`` (skorch's
        way to stop, as ``EarlyStopping`` does) ends training normally.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse input is densified one batch at a time; a
            dask array or a memory map is read a few chunks at a time and
            shuffled by chunks (see the Notes). NaN marks a missing value:
            the loss skips it and the network sees the feature's mean (see
            the user guide's "Missing values").

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
        >>> ae.n_components_, ae.n_features_in_, ae.n_iter_ == len(ae.loss_curve_)
        (2, 6, True)
        """
        return self._fit(X, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch over X, continuing the current model.

        The first call (on an unfitted estimator) builds the model: it checks
        X, fixes ``n_features_in_`` and the input scaling (``mean_`` and
        ``scale_``, from this first batch) and initialises the weights and
        the optimizer. Each later call runs one pass over its X, in shuffled
        mini-batches of ``batch_size``, continuing the same module and
        optimizer state; ``n_iter_`` grows by one and ``loss_curve_`` by one
        entry. After ``fit``, ``partial_fit`` continues that fit; ``fit``
        always starts afresh.

        ``max_iter``, ``early_stopping``, ``validation_fraction``,
        ``n_iter_no_change`` and ``tol`` are not used: each call is one epoch
        without validation or a stopping rule, as in
        :class:`~sklearn.decomposition.IncrementalPCA` the caller decides how
        many chunks and passes to feed (``loss_curve_`` shows the progress).
        :class:`~sklearn.neural_network.MLPRegressor` instead refuses
        ``partial_fit`` when ``early_stopping=True``; here the setting keeps
        its meaning for ``fit`` and a stream can still be trained.

        As ``fit``, a call is all or nothing: if it raises (a diverging
        epoch, an exception in a callback or while reading X, Ctrl-C), the
        weights, the optimizer's state (Adam's moments and step counts), the
        history, ``n_iter_`` and ``loss_curve_`` are put back as they were
        before the call, and the exception propagates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            One batch of training data, e.g. a chunk of a larger data set. A
            dask array or a memory map is streamed: each of its chunks is read
            once, and the rows are shuffled within a few chunks at a time
            rather than as a whole (see the class Notes).

        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The estimator, trained for one more epoch.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).random((300, 8), dtype=np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0)
        >>> for chunk in np.array_split(X, 3):
        ...     ae = ae.partial_fit(chunk)
        >>> ae.n_iter_, len(ae.loss_curve_)
        (3, 3)
        """
        return self._fit(X, incremental=True)

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

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0)
        >>> ae.fit_transform(X).shape
        (200, 2)
        """
        return self.fit(X).transform(X)

    def _fit(self, X, incremental):
        """The one training path: ``fit`` (a fresh model trained up to
        ``max_iter`` epochs) and ``partial_fit`` (one epoch, building the model
        on its first call).

        A transaction: any exception (bad input, a failing callback, a fit
        that diverges, KeyboardInterrupt) leaves the estimator exactly as it
        was, a fitted model with its weights, optimizer state, history and
        curves, an unfitted one unfitted; the exception propagates.
        """
        with fit_lock(self):  # calls from several threads, one at a time
            saved = snapshot(self)  # the declared fitted state
            net = saved.get("net_")
            restore_net = net.snapshot() if incremental and net is not None else None
            try:
                self._train(X, incremental)
            except BaseException as exc:
                with sigint_deferred():  # a second Ctrl-C waits for the restore
                    if restore_net is not None:
                        restore_net()
                    restore(self, saved)
                if isinstance(exc, TrainingDiverged):
                    raise ValueError(
                        f"Training diverged: {exc.what} (epoch {exc.epoch}). Try a "
                        f"smaller learning_rate (it is {self.learning_rate}), scale "
                        "the input (e.g. with StandardScaler), or another "
                        "optimizer. The estimator is left as it was before this "
                        "call."
                    ) from None
                raise
        return self

    def _train(self, X, incremental):
        first_pass = not (incremental and hasattr(self, "net_"))
        # The trainer checks finiteness, with the missing cells (_missing),
        # in its one pass before the epochs (_stats on a first pass).
        X = check_X(self, X, reset=first_pass, finite=False)
        params = self.get_params(deep=False)
        net = None if first_pass else self.net_
        plan = plan_fit(
            params,
            X,
            seed_from(self.random_state) if first_pass else self._seed,
            incremental=incremental,
            first_pass=first_pass,
            epochs_before=0 if first_pass else self.n_iter_,
            scaler=None if net is None else net.scaler,
        )
        result = train(X, params, plan, net)
        if first_pass:
            self._set_fitted(result.net, X.dtype, plan.seed, result.n_components)
            self.n_iter_ = 0
            self.loss_curve_ = []
            self.validation_loss_curve_ = result.validation_losses
        self.n_iter_ += len(result.losses)
        self.best_epoch_ = result.best_epoch
        self.loss_curve_ = [*self.loss_curve_, *result.losses]
        self.explained_variance_fraction_ = result.explained_variance_fraction
        return self

    def __sklearn_is_fitted__(self):
        return is_fitted(self)

    def _set_fitted(self, net, dtype, seed, n_components):
        self._fit_dtype = np.dtype(dtype)
        self._seed = seed
        # PCA's type too: numpy's integer when counted from the spectrum
        # ("mle", a fraction), a Python int otherwise.
        counted = self.n_components is not None and not isinstance(
            self.n_components, Integral
        )
        self.n_components_ = np.int64(n_components) if counted else int(n_components)
        self.mean_ = net.scaler.mean
        self.scale_ = net.scaler.scale
        self.net_ = net
        self.module_ = net.module_
        self.module_.eval()

    # ---------------------------------------------------------- persistence

    def save(self, path):
        """Save the fitted model to one file, without pickle.

        The file is a zip archive holding the tensors (weights, input mean,
        optimizer state) in safetensors format and everything else
        (parameters, fitted attributes, library versions) in JSON. Load it
        with :meth:`load`.

        The file is written next to ``path`` and renamed over it once
        complete, so a failed save never leaves a truncated file. A file that
        is replaced keeps its permission bits, which the temporary file has
        from its first byte (a new file gets the usual ``0o666`` less the
        umask), and a symbolic link is followed: its target is replaced, the
        link stays. Temporaries left by a save that was killed are removed by
        the next save to the same path.

        Parameters
        ----------
        path : str or path-like
            Where to write; an existing regular file is replaced. A path
            that ends with a separator, or that is (or links to) a folder, a
            FIFO or a device, is refused.

        Returns
        -------
        path : pathlib.Path
            The path written.

        Raises
        ------
        ValueError
            If ``path`` is not a file name, or names something other than a
            regular file.

        TypeError
            If a parameter cannot be stored as plain data, such as a class of
            your own as ``architecture`` or ``optimizer``: only the built-in
            modules and the optimizers named in ``optimizer``'s description
            are saved, as :meth:`load` takes classes from that allow-list
            only. ``callbacks`` and a ``RandomState`` instance are not saved
            (the loaded model has ``None``), with a warning.

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
        from ._io._persistence import save

        check_is_fitted(self)
        with fit_lock(self):  # not while a fit in another thread runs
            return save(
                path,
                type(self).__name__,
                self.get_params(deep=False),
                self._fitted_state(),
                self.net_,
            )

    def _fitted_state(self):
        """The fitted attributes that ``save`` stores, as plain values."""
        return to_plain(self)

    @classmethod
    def load(cls, path, *, device=None):
        """Load a model written by :meth:`save`, without unpickling anything.

        A file is treated as untrusted input. Only a zip archive with
        exactly the two members that ``save`` writes, stored uncompressed, is
        read, and everything in it is checked before it is used: the
        parameters as ``fit`` checks them, the fitted values against their
        meaning (a finite positive ``scale_``, widths that agree,
        ``n_iter_ == len(loss_curve_)``), the size of the model the
        parameters describe against the bytes in the file (before anything
        is built), and every tensor's name, dtype, shape and finiteness
        against that model and its optimizer. Classes are taken only from an
        allow-list of built-in ones, and callbacks never. Anything else is
        refused with a ``ValueError`` that says what is wrong. A version of
        sklearn_ae, torch, skorch or scikit-learn that differs from the one
        that saved the file gives a ``UserWarning``.

        Parameters
        ----------
        path : str or path-like
            A file written by :meth:`save`.

        device : str or None, default=None
            Torch device to load onto (a ``ValueError`` if this machine does
            not have it). None uses the saved ``device`` parameter, or the
            CPU with a warning when this machine does not have that device.

        Returns
        -------
        estimator : AutoencoderTransformer
            The fitted estimator; ``transform`` gives the same numbers as the
            saved one, and ``partial_fit`` continues as the saved one would
            (the optimizer's state is saved, and each call's random draws
            are seeded by ``n_iter_``). The skorch history is not saved
            (``loss_curve_`` is).

        See Also
        --------
        save : Write a model file.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).random((50, 6), dtype=np.float32)
        >>> ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
        >>> path = ae.save(os.path.join(tempfile.mkdtemp(), "ae.zip"))
        >>> AutoencoderTransformer.load(path).transform(X).shape
        (50, 2)
        """
        from ._io._persistence import load

        params, state, net = load(path, cls.__name__, device=device)
        estimator = cls(**params)
        estimator._set_fitted(
            net, state["dtype"], state["seed"], state["n_components_"]
        )
        set_from_plain(estimator, state, skip={"_fit_dtype", "_seed", "n_components_"})
        return estimator

    # ----------------------------------------------------------------- ONNX

    def export_onnx(self, path, *, part="encoder"):
        """Export the encoder or the decoder as an ONNX graph.

        The graph includes the estimator's input scaling (``mean_`` and
        ``scale_``) and, for ``loss="bce"``, the output sigmoid, so it gives
        the numbers of ``transform`` (``part="encoder"``) or
        ``inverse_transform`` (``part="decoder"``) for float32 input, with a
        dynamic batch dimension. The file is self-contained (its weights go
        to a ``<path>.data`` file beside it only above 1.5 GiB, protobuf's
        limit), written whole or not at all. Needs onnx and onnxscript (the
        ``onnx`` extra: ``pip install -e ".[onnx]"`` in a checkout). For a
        whole Pipeline in one graph, see :mod:`sklearn_ae.onnx`.

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

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> import onnxruntime
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).random((50, 6), dtype=np.float32)
        >>> ae = AutoencoderTransformer(max_iter=2, random_state=0).fit(X)
        >>> path = ae.export_onnx(os.path.join(tempfile.mkdtemp(), "encoder.onnx"))
        >>> session = onnxruntime.InferenceSession(str(path))
        >>> (codes,) = session.run(None, {"X": X})
        >>> bool(np.allclose(codes, ae.transform(X), atol=1e-4))
        True
        """
        from ._io._onnx import export_onnx, graph_arguments

        check_is_fitted(self)
        return export_onnx(path=path, **graph_arguments(self, part))

    # -------------------------------------------------------------- pickle

    def __getstate__(self):
        # ``module_`` is ``net_.module_``: skorch pickles it (and moves it
        # from a missing GPU to the CPU on load); pickling it here as well
        # would bypass that and break the identity of the two.
        state = drop_fit_lock(dict(super().__getstate__()))
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
        fitted_on = str(self.device)
        if fitted_on.startswith("cuda") and str(net.device) == "cpu":
            warnings.warn(
                f"This {type(self).__name__} was fitted on device "
                f"{fitted_on!r}, which is not available here; it was moved to "
                "'cpu' and will transform there.",
                UserWarning,
                stacklevel=2,
            )
            # As skorch does for its own ``device``: a later fit runs here.
            self.device = "cpu"

    # ------------------------------------------------------------ transform

    def _encoder(self, dtype):
        return encoder(self.net_, dtype)

    def _decoder(self, dtype):
        return decoder(self.net_, dtype, bce=self.loss == "bce")

    def _inference_threads(self, n_samples):
        return inference_threads(self.net_, self.n_features_in_, n_samples)

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

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
        >>> Z = ae.transform(X[:5])
        >>> Z.shape, Z.dtype
        ((5, 2), dtype('float32'))
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        encode, scale = self._encoder(X.dtype), self.scale_
        out = np.empty((X.shape[0], self.n_components_), dtype=X.dtype)
        # Codes in X's units (the module's times scale_): PCA's scores, when
        # the model starts at or keeps PCA's solution.
        with self._inference_threads(X.shape[0]):
            return map_rows(lambda x: encode(x).cpu().numpy() * scale, X, out)

    def inverse_transform(self, X):
        """Decode codes back to the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, e.g. from ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            The reconstructions, of X's floating dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
        >>> ae.inverse_transform(ae.transform(X[:5])).shape
        (5, 6)
        """
        check_is_fitted(self)
        # An empty code (n_components_=0) is a valid input: it decodes to the mean.
        Z = check_array(X, dtype=[np.float64, np.float32], ensure_min_features=0)
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {self.__class__.__name__} is "
                f"expecting {self.n_components_} features as input."
            )
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=Z.dtype)
        decode, scale = self._decoder(Z.dtype), self.scale_
        with self._inference_threads(Z.shape[0]):
            return map_rows(lambda z: decode(z / scale), Z, out)

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

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
        >>> outlier = np.full((1, 6), 10.0, dtype=np.float32)
        >>> bool(ae.score_samples(outlier)[0] < ae.score_samples(X).min())
        True
        """
        check_is_fitted(self)
        X = check_X(self, X, reset=False)
        return -reconstruction_errors(self.net_, X, bce=self.loss == "bce")

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

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0).fit(X)
        >>> bool(np.isclose(ae.score(X), ae.score_samples(X).mean()))
        True
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
        X : ndarray of shape (n_samples, `n_features_in_`)
            The generated samples, of the floating dtype the model was fitted
            on.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_ae import AutoencoderTransformer
        >>> X = np.random.default_rng(0).random((100, 6), dtype=np.float32)
        >>> vae = AutoencoderTransformer(
        ...     2, variational=True, loss="bce", max_iter=3, random_state=0
        ... ).fit(X)
        >>> vae.sample(4, random_state=0).shape
        (4, 6)
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
        rng = np.random.default_rng(seed_from(random_state))
        # The prior N(0, I) is on the module's codes; transform's are scale_
        # times those.
        Z = rng.standard_normal((n_samples, self.n_components_)) * self.scale_
        return self.inverse_transform(Z.astype(self._fit_dtype))

    def __getattr__(self, name):
        # Only reached when normal lookup fails; always an AttributeError, so
        # pickling, copying, hasattr and the fitted check are unaffected.
        message = f"{type(self).__name__!r} object has no attribute {name!r}"
        hint = _PCA_ONLY_ATTRIBUTES.get(name)
        if hint is not None:
            message = f"{message}: {hint}."
        raise AttributeError(message, name=name, obj=self)

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Missing values (NaN) are trained around and filled (see _missing).
        tags.input_tags.allow_nan = self.loss != "bce"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
