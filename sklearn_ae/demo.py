"""Autoencoder next to PCA on handwritten digits: ``python -m sklearn_ae.demo``.

Fits PCA and an :class:`~sklearn_ae.AutoencoderTransformer` with the same
number of components and prints their held-out reconstruction error and fit
time. Runs offline on scikit-learn's 8x8 digits.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from sklearn_ae import AutoencoderTransformer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-components", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="a few epochs only")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs

    X, _ = load_digits(return_X_y=True)
    X_train, X_test = train_test_split(X / 16.0, test_size=0.25, random_state=0)
    models = {
        f"PCA({args.n_components})": PCA(n_components=args.n_components),
        f"AutoencoderTransformer({args.n_components})": AutoencoderTransformer(
            n_components=args.n_components, max_iter=epochs, random_state=0, verbose=1
        ),
    }
    rows = []
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train)
        seconds = time.perf_counter() - start
        X_hat = model.inverse_transform(model.transform(X_test))
        rows.append((name, float(np.mean((X_test - X_hat) ** 2)), seconds))
    print(f"\n{'method':<32} {'test MSE':>9} {'fit s':>7}")
    for name, mse, seconds in rows:
        print(f"{name:<32} {mse:>9.5f} {seconds:>7.2f}")
    return rows


if __name__ == "__main__":
    main()
