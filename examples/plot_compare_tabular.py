"""
Comparing dimension reducers on tabular data
============================================

:func:`sklearn_ae.compare` fits several reducers on the same training rows of
scikit-learn's breast cancer data (569 tumours, 30 measurements, benign or
malignant) and measures each on the same held-out rows: reconstruction error,
trustworthiness and continuity of the codes, kNN and linear-probe accuracy of
the diagnosis from the codes, and time. The measurements have very different
scales, so a ``StandardScaler`` is passed as the ``preprocessor``: fitted on
the training rows only, it defines the space every metric is measured in.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA, KernelPCA
from sklearn.manifold import TSNE, Isomap
from sklearn.preprocessing import StandardScaler

from sklearn_ae import AutoencoderTransformer, compare
from sklearn_ae.compare import format_markdown
from sklearn_ae.plotting import plot_comparison

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
print(f"{X.shape[0]} tumours, {X.shape[1]} measurements; {y.mean():.0%} benign")

# %%
# Two-dimensional codes from each method, and 8-dimensional ones from PCA and
# the autoencoder (drawn through t-SNE, as the Keras article recommends).
# t-SNE has no ``transform``: it embeds the held-out rows themselves and gets
# no reconstruction, kNN or probe score.
quick = {"max_iter": 10} if QUICK else {}  # otherwise the defaults
reducers = {
    "PCA(2)": PCA(2),
    "KernelPCA(2)": KernelPCA(2, kernel="rbf", fit_inverse_transform=True),
    "Isomap(2)": Isomap(n_components=2),
    "AE(2)": AutoencoderTransformer(2, hidden_layer_sizes=(16,), **quick),
    "t-SNE": TSNE(perplexity=30, init="pca"),
    "PCA(8)": PCA(8),
    "AE(8)": AutoencoderTransformer(8, hidden_layer_sizes=(16,), **quick),
}
result = compare(
    reducers, X, y, preprocessor=StandardScaler(), random_state=0, verbose=1
)
print(format_markdown(result.drop(columns=["view", "transform_time"])))

# %%
# The held-out tumours in 2-D, coloured by diagnosis, and the metrics side by
# side (``n/a``: the metric does not apply to that reducer).
figures = plot_comparison(result, X, y)

# %%
OUTPUT.mkdir(parents=True, exist_ok=True)
for name, fig in figures.items():
    path = OUTPUT / f"compare_tabular_{name}.png"
    fig.savefig(path, dpi=80)
    print(f"Wrote {path}")
plt.close("all")
