"""PyTorch autoencoder modules.

A module used by :class:`~sklearn_ae.AutoencoderTransformer` is a plain
:class:`torch.nn.Module` with two methods on flat rows:

- ``encode(x) -> z``: ``x`` of shape ``(batch, n_features)`` (the rows of X,
  after the estimator's scaling), ``z`` of shape ``(batch, n_components)``;
- ``decode(z) -> x_hat`` of shape ``(batch, n_features)``: unbounded values,
  logits when the estimator's ``loss="bce"`` (the sigmoid is fused into the
  loss), the reconstruction itself when ``loss="mse"``.

A module that reads a sample as an image or a sequence reshapes the flat rows
itself, from the ``input_shape`` it is built with. A variational module also
has ``encode_distribution(x) -> (mean, log_var)``, the parameters of the
Gaussian posterior q(z | x), each of shape ``(batch, n_components)``; its
``encode`` returns the mean. The training engine calls these methods
directly; ``forward`` is not used.

The built-in modules also have ``reset_parameters(generator=None)``, which
draws every weight afresh as the constructor does, from ``generator``: the
estimator builds them on the ``meta`` device (no memory, no random draws) and
initialises them with a generator seeded for the fit, so a fit never touches
the global torch RNG.
"""

import math
import threading

import numpy as np
import torch
from torch import nn

from ._compat import empty_on_cpu

__all__ = [
    "ConvAutoencoder",
    "LSTMAutoencoder",
    "MLPAutoencoder",
    "build_module",
    "init_from_pca",
]

# Held while a user's module is built with the seeded global torch RNG.
_GLOBAL_RNG_LOCK = threading.RLock()  # re-entrant: a module may build one

ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
}

# Activations after which He (Kaiming) initialisation keeps the signal's
# variance; every other layer gets Glorot (Xavier) initialisation.
_RECTIFIERS = {"relu", "leaky_relu", "elu", "gelu", "silu"}


def _init_layer(layer, activation, generator=None):
    """Initialise a Linear or Conv layer for the activation that follows it.

    PyTorch's default (uniform with bound ``1 / sqrt(fan_in)``) shrinks the
    signal by a factor of about 3 in variance at every layer; on MNIST it
    costs a 32-unit autoencoder roughly a third of its reconstruction quality
    after a short fit. He initialisation for rectifiers and Glorot otherwise is
    what Keras does by default and what the benchmarks here were tuned with.
    Biases start at zero. A layer to or from an empty code (``n_components=0``)
    has no weights to initialise. The layer remembers ``activation``, so that
    :meth:`_Autoencoder.reset_parameters` can draw it again; ``generator``
    (None: the global torch RNG) is the source of the draws.
    """
    layer.init_activation = activation
    weight = layer.weight
    if not weight.numel():
        nn.init.zeros_(layer.bias)
        return layer
    if activation in _RECTIFIERS:
        nn.init.kaiming_uniform_(
            weight, a=0.0, nonlinearity="relu", generator=generator
        )
    elif activation == "selu":
        fan_in = weight[0].numel()  # inputs times the receptive field
        nn.init.normal_(weight, std=1.0 / math.sqrt(fan_in), generator=generator)
    else:
        gain = 1.0 if activation in ("identity", "logistic") else 5.0 / 3.0
        nn.init.xavier_uniform_(weight, gain=gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def _init_lstm(lstm, generator=None):
    """``nn.LSTM.reset_parameters`` (uniform in +-1/sqrt(hidden_size)), from
    ``generator``."""
    bound = 1.0 / math.sqrt(lstm.hidden_size)
    for weight in lstm.parameters():
        nn.init.uniform_(weight, -bound, bound, generator=generator)


def _activated(layer, activation):
    """``[layer, activation]`` with the layer initialised for it."""
    _init_layer(layer, activation)
    if activation == "identity":
        return [layer]
    return [layer, ACTIVATIONS[activation]()]


def _mlp(sizes, activation, last_activation):
    """Stack of Linear layers ``sizes[0] -> ... -> sizes[-1]``."""
    layers = []
    n_layers = len(sizes) - 1
    for i in range(n_layers):
        act = activation if i < n_layers - 1 else last_activation
        layers += _activated(nn.Linear(sizes[i], sizes[i + 1]), act)
    return nn.Sequential(*layers)


def _code_width(n_components, variational):
    """Width of the encoder's last layer: the code, or its mean and log-variance."""
    return 2 * n_components if variational else n_components


def _check_code_activation(code_activation, variational):
    if variational and code_activation != "identity":
        raise ValueError(
            "A variational module's code is a Gaussian mean and log-variance; "
            f"code_activation must be 'identity', got {code_activation!r}."
        )


class _Autoencoder(nn.Module):
    """The protocol of the built-in modules over ``encoder`` and ``decoder``.

    Subclasses set ``n_components``, ``variational``, ``encoder`` (flat rows to
    the code, or to the code's mean and log-variance side by side when
    variational) and ``decoder`` (code to flat rows).
    """

    def encode(self, x):
        """Code of each row of ``x``; the posterior mean when variational.

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Flat rows, after the estimator's scaling.

        Returns
        -------
        z : torch.Tensor of shape (batch, n_components)
            The codes.
        """
        h = self.encoder(x)
        return h[:, : self.n_components] if self.variational else h

    def encode_distribution(self, x):
        """Mean and log-variance of the posterior q(z | x) (variational only).

        Parameters
        ----------
        x : torch.Tensor of shape (batch, n_features)
            Flat rows, after the estimator's scaling.

        Returns
        -------
        mean : torch.Tensor of shape (batch, n_components)
            Mean of the Gaussian code; what :meth:`encode` returns.

        log_var : torch.Tensor of shape (batch, n_components)
            Logarithm of its (diagonal) variance.

        Raises
        ------
        RuntimeError
            If the module was built with ``variational=False``.
        """
        if not self.variational:
            raise RuntimeError(
                f"This {type(self).__name__} was built with variational=False; "
                "it has no posterior distribution."
            )
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var

    def decode(self, z):
        """Reconstruct flat rows from codes.

        Parameters
        ----------
        z : torch.Tensor of shape (batch, n_components)
            Codes.

        Returns
        -------
        x_hat : torch.Tensor of shape (batch, n_features)
            The reconstruction in the scaled space with ``loss="mse"``, its
            logits (before the sigmoid) with ``loss="bce"``.
        """
        return self.decoder(z)

    def reset_parameters(self, generator=None):
        """Draw every weight afresh, as the constructor does.

        Parameters
        ----------
        generator : torch.Generator or None, default=None
            Source of the random draws; None uses the global torch RNG.

        Returns
        -------
        self : module

        Examples
        --------
        >>> import torch
        >>> from sklearn_ae import MLPAutoencoder
        >>> def drawn(seed):
        ...     generator = torch.Generator().manual_seed(seed)
        ...     return MLPAutoencoder(8, 2, (4,)).reset_parameters(generator)
        >>> a, b = drawn(0), drawn(0)
        >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        True
        """
        done = set()
        with torch.no_grad():
            for layer in self.modules():
                if hasattr(layer, "init_activation"):
                    _init_layer(layer, layer.init_activation, generator)
                elif isinstance(layer, nn.LSTM):
                    _init_lstm(layer, generator)
                else:
                    continue
                done.update(id(p) for p in layer.parameters())
        missed = [n for n, p in self.named_parameters() if id(p) not in done]
        if missed:  # a layer added without _init_layer: never left uninitialised
            raise RuntimeError(
                f"{type(self).__name__}.reset_parameters does not initialise {missed}."
            )
        return self


class MLPAutoencoder(_Autoencoder):
    """Fully connected autoencoder with a mirrored decoder.

    Parameters
    ----------
    n_features : int
        Width of the input and of the reconstruction.

    n_components : int
        Width of the code (the bottleneck).

    hidden_layer_sizes : tuple of int, default=()
        Widths of the encoder's hidden layers, from the input inwards. The
        decoder uses the same widths in reverse order. ``()`` gives the
        single-layer model ``n_features -> n_components -> n_features``.

    activation : str, default="relu"
        Activation of the hidden layers; a key of ``ACTIVATIONS``.

    code_activation : str, default="identity"
        Activation applied to the code. ``"identity"`` keeps the code linear
        (PCA-like); the Keras article uses ``"relu"``.

    variational : bool, default=False
        Whether the encoder's last layer outputs the mean and log-variance of
        a Gaussian code (``2 * n_components`` values) instead of the code.

    linear_path : bool, default=False
        Whether a linear map runs beside each of the encoder and the decoder,
        the hidden layers then adding a nonlinear correction to it:
        ``encode(x) = linear_encoder(x) + encoder(x)`` and ``decode(z) =
        linear_decoder(z) + decoder(z)``. :func:`init_from_pca` sets the
        linear maps to PCA's and zeroes the corrections' last layers, so the
        module starts as PCA (the estimator's ``init="pca"``). Only with
        hidden layers (without, the model is linear already), an identity
        code activation and ``variational=False``.

    See Also
    --------
    AutoencoderTransformer : Builds this module for ``architecture="mlp"``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ae import MLPAutoencoder
    >>> module = MLPAutoencoder(64, 8, hidden_layer_sizes=(32,))
    >>> x = torch.rand(5, 64)
    >>> module.encode(x).shape
    torch.Size([5, 8])
    >>> module.decode(module.encode(x)).shape
    torch.Size([5, 64])

    The estimator builds the same module from its parameters:

    >>> import numpy as np
    >>> from sklearn_ae import AutoencoderTransformer
    >>> X = np.random.default_rng(0).random((100, 64), dtype=np.float32)
    >>> ae = AutoencoderTransformer(8, hidden_layer_sizes=(32,), max_iter=2).fit(X)
    >>> ae.module_.encoder
    Sequential(
      (0): Linear(in_features=64, out_features=32, bias=True)
      (1): ReLU()
      (2): Linear(in_features=32, out_features=8, bias=True)
    )
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        code_activation="identity",
        variational=False,
        linear_path=False,
    ):
        super().__init__()
        _check_code_activation(code_activation, variational)
        if linear_path and (variational or code_activation != "identity"):
            raise ValueError(
                "linear_path needs code_activation='identity' and "
                f"variational=False; got {code_activation!r} and {variational}."
            )
        self.n_components = n_components
        self.variational = variational
        self.linear_path = bool(linear_path and hidden_layer_sizes)
        widths = [n_features, *hidden_layer_sizes]
        code = _code_width(n_components, variational)
        self.encoder = _mlp([*widths, code], activation, code_activation)
        self.decoder = _mlp([n_components, *widths[::-1]], activation, "identity")
        if self.linear_path:
            self.linear_encoder = _init_layer(
                nn.Linear(n_features, n_components), "identity"
            )
            self.linear_decoder = _init_layer(
                nn.Linear(n_components, n_features), "identity"
            )

    def encode(self, x):
        z = super().encode(x)
        return z + self.linear_encoder(x) if self.linear_path else z

    def decode(self, z):
        x_hat = super().decode(z)
        return x_hat + self.linear_decoder(z) if self.linear_path else x_hat


class ConvAutoencoder(_Autoencoder):
    """Convolutional autoencoder for images, with a linear bottleneck.

    The Keras article's model: 3x3 convolutions (``filters`` of them, each
    followed by ``activation`` and 2x2 max pooling), then a linear layer to
    the code; the decoder mirrors it with a linear layer, 3x3 convolutions and
    nearest-neighbour upsampling, ending in a 3x3 convolution back to the
    input's channels. Pooling rounds odd sizes up (Keras' ``"same"``
    padding) and upsampling returns to the exact size of each level, so any
    image size works: MNIST's 28x28 is pooled to 14, 7 and the article's
    4x4x8 = 128 values before the bottleneck, and upsampled to 7, 14, 28.

    Parameters
    ----------
    n_features : int
        ``channels * height * width``: the length of a flat row.

    n_components : int
        Width of the code.

    input_shape : tuple of int
        ``(channels, height, width)`` of one image; a flat row is read in
        this (C-) order.

    filters : tuple of int, default=(16, 8, 8)
        Channels of the encoder's convolutions, from the input inwards; the
        decoder's run in reverse. The article's denoising model is
        ``(32, 32)``.

    activation : str, default="relu"
        Activation after each convolution and after the decoder's linear
        layer; a key of ``ACTIVATIONS``.

    code_activation : str, default="identity"
        Activation applied to the code.

    variational : bool, default=False
        Whether the bottleneck outputs the mean and log-variance of a
        Gaussian code instead of the code.

    See Also
    --------
    AutoencoderTransformer : Builds this module for ``architecture="conv"``.

    Examples
    --------
    The article's model for MNIST digits, read from flat 784-pixel rows:

    >>> import torch
    >>> from sklearn_ae import ConvAutoencoder
    >>> module = ConvAutoencoder(784, 32, input_shape=(1, 28, 28))
    >>> x = torch.rand(5, 784)
    >>> module.encode(x).shape
    torch.Size([5, 32])
    >>> module.decode(module.encode(x)).shape
    torch.Size([5, 784])

    In the estimator: ``AutoencoderTransformer(32, architecture="conv",
    input_shape=(1, 28, 28), module_params={"filters": (32, 32)})``.
    """

    def __init__(
        self,
        n_features,
        n_components,
        input_shape,
        filters=(16, 8, 8),
        activation="relu",
        code_activation="identity",
        variational=False,
    ):
        super().__init__()
        _check_code_activation(code_activation, variational)
        shape = tuple(int(s) for s in input_shape)
        if len(shape) != 3 or math.prod(shape) != n_features or not filters:
            raise ValueError(
                f"input_shape {tuple(input_shape)} is not (channels, height, width) "
                f"holding n_features={n_features} values, or filters={filters!r} "
                "is empty."
            )
        self.n_components = n_components
        self.variational = variational
        channels, *size = shape
        sizes = [tuple(size)]  # (height, width) at each level, input first
        for _ in filters:
            sizes.append(tuple(-(-s // 2) for s in sizes[-1]))
        inner = (filters[-1], *sizes[-1])

        encoder = [nn.Unflatten(1, shape)]
        previous = channels
        for n_filters in filters:
            conv = nn.Conv2d(previous, n_filters, 3, padding=1)
            encoder += _activated(conv, activation)
            encoder.append(nn.MaxPool2d(2, ceil_mode=True))
            previous = n_filters
        encoder.append(nn.Flatten())
        code = _code_width(n_components, variational)
        encoder += _activated(nn.Linear(math.prod(inner), code), code_activation)
        self.encoder = nn.Sequential(*encoder)

        decoder = _activated(nn.Linear(n_components, math.prod(inner)), activation)
        decoder.append(nn.Unflatten(1, inner))
        for n_filters, size in zip(filters[::-1], sizes[-2::-1], strict=True):
            conv = nn.Conv2d(previous, n_filters, 3, padding=1)
            decoder += _activated(conv, activation)
            decoder.append(nn.Upsample(size=size))
            previous = n_filters
        output = nn.Conv2d(previous, channels, 3, padding=1)
        decoder += [_init_layer(output, "identity"), nn.Flatten()]
        self.decoder = nn.Sequential(*decoder)


class _LSTMEncoder(nn.Module):
    """Flat rows -> sequences -> LSTM -> last hidden state -> linear code."""

    def __init__(self, input_shape, hidden_size, code_width, code_activation):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.lstm = nn.LSTM(self.input_shape[1], hidden_size, batch_first=True)
        linear = nn.Linear(hidden_size, code_width)
        self.code = nn.Sequential(*_activated(linear, code_activation))

    def forward(self, x):
        outputs, _ = self.lstm(x.reshape(-1, *self.input_shape))
        return self.code(outputs[:, -1])


class _LSTMDecoder(nn.Module):
    """Code repeated over the timesteps -> LSTM -> linear map to the features."""

    def __init__(self, input_shape, hidden_size, n_components):
        super().__init__()
        self.timesteps, n_channels = (int(s) for s in input_shape)
        # An empty code (n_components=0) is fed as one constant zero input.
        self.lstm = nn.LSTM(max(n_components, 1), hidden_size, batch_first=True)
        self.output = _init_layer(nn.Linear(hidden_size, n_channels), "identity")

    def forward(self, z):
        if not z.shape[1]:
            z = z.new_zeros(z.shape[0], 1)
        repeated = z.unsqueeze(1).expand(-1, self.timesteps, -1).contiguous()
        outputs, _ = self.lstm(repeated)
        return self.output(outputs).flatten(1)


class LSTMAutoencoder(_Autoencoder):
    """Sequence-to-sequence autoencoder: the Keras article's LSTM model.

    The encoder runs an LSTM over the timesteps and maps its last hidden state
    linearly to the code; the decoder repeats the code at every timestep, runs
    a second LSTM over it and maps each output linearly to the features (the
    linear maps free the code and the output from the LSTM's (-1, 1) range).

    Parameters
    ----------
    n_features : int
        ``timesteps * n_channels``: the length of a flat row.

    n_components : int
        Width of the code.

    input_shape : tuple of int
        ``(timesteps, n_channels)`` of one sequence; a flat row holds the
        timesteps one after the other.

    hidden_size : int, default=64
        Width of both LSTMs' hidden state.

    code_activation : str, default="identity"
        Activation applied to the code.

    variational : bool, default=False
        Whether the encoder outputs the mean and log-variance of a Gaussian
        code instead of the code.

    See Also
    --------
    AutoencoderTransformer : Builds this module for ``architecture="lstm"``.

    Examples
    --------
    Each MNIST digit read as 28 timesteps (its rows) of 28 values:

    >>> import torch
    >>> from sklearn_ae import LSTMAutoencoder
    >>> module = LSTMAutoencoder(784, 32, input_shape=(28, 28), hidden_size=16)
    >>> x = torch.rand(5, 784)
    >>> module.encode(x).shape
    torch.Size([5, 32])
    >>> module.decode(module.encode(x)).shape
    torch.Size([5, 784])

    In the estimator: ``AutoencoderTransformer(32, architecture="lstm",
    input_shape=(28, 28), module_params={"hidden_size": 16})``.
    """

    def __init__(
        self,
        n_features,
        n_components,
        input_shape,
        hidden_size=64,
        code_activation="identity",
        variational=False,
    ):
        super().__init__()
        _check_code_activation(code_activation, variational)
        if math.prod(input_shape) != n_features or len(input_shape) != 2:
            raise ValueError(
                f"input_shape {tuple(input_shape)} is not (timesteps, n_channels) "
                f"with timesteps * n_channels = n_features = {n_features}."
            )
        self.n_components = n_components
        self.variational = variational
        code = _code_width(n_components, variational)
        self.encoder = _LSTMEncoder(input_shape, hidden_size, code, code_activation)
        self.decoder = _LSTMDecoder(input_shape, hidden_size, n_components)


@torch.no_grad()
def init_from_pca(module, components, mean):
    """Set an :class:`MLPAutoencoder` to PCA's solution, in place.

    The linear maps become PCA's: the encoder projects the centred rows on
    ``components`` and the decoder maps codes back along them and adds the
    mean. The last layers of the nonlinear corrections become zero, so
    ``decode(encode(x))`` is PCA's reconstruction of ``x`` and ``encode(x)``
    its scores, until training moves them. For a module without hidden
    layers, its two layers are the linear maps.

    Parameters
    ----------
    module : MLPAutoencoder
        With ``linear_path=True``, or without hidden layers; not variational.

    components : array-like of shape (n_components, n_features)
        Orthonormal principal axes, as rows (``PCA.components_``).

    mean : array-like of shape (n_features,)
        The rows' mean (``PCA.mean_``).

    Returns
    -------
    module : MLPAutoencoder
        The module, changed in place.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn.decomposition import PCA
    >>> from sklearn_ae import MLPAutoencoder, init_from_pca
    >>> X = np.random.default_rng(0).normal(size=(100, 6)).astype(np.float32)
    >>> pca = PCA(2).fit(X)
    >>> module = MLPAutoencoder(6, 2, (16,), linear_path=True)
    >>> module = init_from_pca(module, pca.components_, pca.mean_)
    >>> codes = module.encode(torch.from_numpy(X)).detach().numpy()
    >>> bool(np.allclose(codes, pca.transform(X), atol=1e-5))
    True
    """
    V = torch.as_tensor(np.asarray(components), dtype=torch.float32)
    m = torch.as_tensor(np.asarray(mean), dtype=torch.float32)
    if getattr(module, "linear_path", False):
        encoder, decoder = module.linear_encoder, module.linear_decoder
        for mlp in (module.encoder, module.decoder):
            last = [layer for layer in mlp if isinstance(layer, nn.Linear)][-1]
            last.weight.zero_()
            last.bias.zero_()
    else:
        layers = [
            [layer for layer in mlp if isinstance(layer, nn.Linear)]
            for mlp in (module.encoder, module.decoder)
        ]
        if len(layers[0]) != 1 or len(layers[1]) != 1 or module.variational:
            raise ValueError(
                "init_from_pca needs an MLPAutoencoder with linear_path=True or "
                "without hidden layers, not variational."
            )
        (encoder,), (decoder,) = layers
    encoder.weight.copy_(V)
    encoder.bias.copy_(-(V @ m))
    decoder.weight.copy_(V.T)
    decoder.bias.copy_(m)
    return module


def build_module(module_cls, kwargs, seed):
    """``module_cls(**kwargs)`` with its weights drawn under ``seed``.

    A built-in module is built on the meta device (no memory, no random
    draws), given memory on the CPU and initialised by ``reset_parameters``
    from a generator of its own: the global torch RNG is never read, so fits
    in threads are independent. A user's module initialises itself from the
    global RNG in its constructor; it is built while holding a process-wide
    lock, with the global RNG seeded inside a ``fork_rng`` that restores the
    caller's state, so that concurrent fits by this library do not interleave
    their draws (other code that draws from the global RNG in another thread
    at that moment still can).
    """
    if module_cls in (MLPAutoencoder, ConvAutoencoder, LSTMAutoencoder):
        with torch.device("meta"):
            module = module_cls(**kwargs)
        module = empty_on_cpu(module)
        return module.reset_parameters(torch.Generator().manual_seed(seed))
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        return module_cls(**kwargs)
