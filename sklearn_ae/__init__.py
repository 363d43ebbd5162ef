"""Autoencoders as scikit-learn transformers, trained with PyTorch through skorch."""

from ._autoencoder import AutoencoderTransformer
from ._modules import (
    ConvAutoencoder,
    LSTMAutoencoder,
    MLPAutoencoder,
    init_from_pca,
)
from ._version import __version__

__all__ = [
    "AutoencoderTransformer",
    "ConvAutoencoder",
    "LSTMAutoencoder",
    "MLPAutoencoder",
    "__version__",
    "compare",
    "init_from_pca",
]


def __getattr__(name):
    # ``compare`` is the subpackage sklearn_ae.compare, imported on first use
    # (as scikit-learn imports its submodules). Calling it calls its function,
    # so ``from sklearn_ae import compare; compare(reducers, X, y)``, ``from
    # sklearn_ae.compare import main`` and ``python -m sklearn_ae.compare``
    # all work, and the name means one object whatever was imported first.
    if name == "compare":
        import importlib

        return importlib.import_module(f"{__name__}.compare")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
