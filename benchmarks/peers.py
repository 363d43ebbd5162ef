"""The contestants: one function per peer, each training the same autoencoder.

Every ``train_*`` function takes the training and test data (float32 in
[0, 1]), the encoder widths (``(784, 32)`` is the article's single-layer model,
``(784, 128, 64, 32)`` its deep model), epochs and batch size, and returns a
dict with the fit time in seconds, the epochs actually run and the test-set
reconstruction (probabilities in [0, 1], or MLPRegressor's raw output).
All use ReLU layers, a sigmoid output (except MLPRegressor, whose output layer
is linear and whose loss is the squared error) and Adam at 1e-3.
"""

import itertools
import os
import time
import warnings

import numpy as np

LR = 1e-3


def _torch_module(widths):
    from torch import nn

    layers = []
    sizes = [*widths, *widths[-2::-1]]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train_sklearn_ae(Xtr, Xte, widths, epochs, batch_size, seed, loss="bce"):
    from sklearn_ae import AutoencoderTransformer

    ae = AutoencoderTransformer(
        widths[-1],
        hidden_layer_sizes=tuple(widths[1:-1]),
        code_activation="relu",
        loss=loss,
        learning_rate=LR,
        batch_size=batch_size,
        max_iter=epochs,
        # Every peer trains the same epochs on all the training rows.
        early_stopping=False,
        tol=0.0,
        n_iter_no_change=epochs,  # a plateau never cuts the run short
        random_state=seed,
    )
    t = time.perf_counter()
    ae.fit(Xtr)
    fit_s = time.perf_counter() - t
    return fit_s, ae.n_iter_, ae.inverse_transform(ae.transform(Xte))


def train_sklearn_ae_mse(Xtr, Xte, widths, epochs, batch_size, seed):
    """sklearn_ae doing MLPRegressor's arithmetic: linear output, squared error."""
    return train_sklearn_ae(Xtr, Xte, widths, epochs, batch_size, seed, loss="mse")


def train_torch_loop(Xtr, Xte, widths, epochs, batch_size, seed):
    """The loop a user writes from PyTorch's tutorials (default Adam)."""
    import torch

    torch.manual_seed(seed)
    model = _torch_module(widths)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    X = torch.from_numpy(Xtr)
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), batch_size):
            xb = X[perm[i : i + batch_size]]
            opt.zero_grad()
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
    fit_s = time.perf_counter() - t
    with torch.no_grad():
        rec = torch.sigmoid(model(torch.from_numpy(Xte))).numpy()
    return fit_s, epochs, rec


def train_skorch(Xtr, Xte, widths, epochs, batch_size, seed):
    """skorch's plain NeuralNet with its default Dataset/DataLoader path."""
    import torch
    from skorch import NeuralNet

    torch.manual_seed(seed)
    net = NeuralNet(
        _torch_module(widths),
        criterion=torch.nn.BCEWithLogitsLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        batch_size=batch_size,
        max_epochs=epochs,
        train_split=None,
        iterator_train__shuffle=True,
        verbose=0,
    )
    t = time.perf_counter()
    net.fit(Xtr, Xtr)
    fit_s = time.perf_counter() - t
    with torch.no_grad():
        rec = torch.sigmoid(net.module_(torch.from_numpy(Xte))).numpy()
    return fit_s, len(net.history), rec


def train_mlp(Xtr, Xte, widths, epochs, batch_size, seed):
    """MLPRegressor(X, X): linear output, squared error (it has no BCE)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    hidden = (*widths[1:], *widths[-2:0:-1])
    mlp = MLPRegressor(
        hidden_layer_sizes=hidden,
        batch_size=batch_size,
        learning_rate_init=LR,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs + 1,
        random_state=seed,
    )
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(Xtr, Xtr)
    fit_s = time.perf_counter() - t
    return fit_s, mlp.n_iter_, mlp.predict(Xte)


def train_keras(Xtr, Xte, widths, epochs, batch_size, seed):
    """The article's code, Keras 3 on its torch backend."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape=(widths[0],))
    h = inp
    for w in widths[1:]:
        h = keras.layers.Dense(w, activation="relu")(h)
    for w in widths[-2:0:-1]:
        h = keras.layers.Dense(w, activation="relu")(h)
    out = keras.layers.Dense(widths[0], activation="sigmoid")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="binary_crossentropy")
    t = time.perf_counter()
    model.fit(Xtr, Xtr, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    fit_s = time.perf_counter() - t
    return fit_s, epochs, model.predict(Xte, batch_size=1024, verbose=0)


PEERS = {
    "sklearn_ae": train_sklearn_ae,
    "torch loop": train_torch_loop,
    "skorch NeuralNet": train_skorch,
    "MLPRegressor": train_mlp,
    "sklearn_ae, loss='mse'": train_sklearn_ae_mse,
    "Keras 3 (torch)": train_keras,
}


def prepare(peer):
    """Import the peer's libraries, so that a task can time them apart from fits."""
    if peer.startswith("sklearn_ae"):
        import sklearn_ae  # noqa: F401
    elif peer == "MLPRegressor":
        import sklearn.neural_network  # noqa: F401
    elif peer.startswith("Keras"):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        import keras  # noqa: F401
    elif peer.startswith("skorch"):
        import skorch  # noqa: F401
    else:
        import torch  # noqa: F401


def available(peer):
    """Whether the peer's library can be imported here."""
    if peer != "Keras 3 (torch)":
        return True
    try:
        import importlib.util

        return importlib.util.find_spec("keras") is not None
    except ImportError:
        return False


def bce(X, rec, eps=1e-7):
    """Per-pixel mean binary cross-entropy, clipped as Keras does."""
    p = np.clip(rec.astype(np.float64), eps, 1 - eps)
    return float(-np.mean(X * np.log(p) + (1 - X) * np.log(1 - p)))


def flops_per_sample(widths):
    """Matrix-multiply FLOPs of one training step per sample.

    Forward: 2 * fan_in * fan_out per layer. Backward: the same for each
    weight gradient, and again for each layer's input gradient except the
    first layer's (the data need none). Elementwise work is not counted.
    """
    sizes = [*widths, *widths[-2::-1]]
    pairs = list(itertools.pairwise(sizes))
    return sum(6 * a * b for a, b in pairs) - 2 * pairs[0][0] * pairs[0][1]
