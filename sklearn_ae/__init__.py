"""Autoencoders as scikit-learn transformers, trained with PyTorch through skorch."""

from ._autoencoder import AutoencoderTransformer
from ._imputer import AutoencoderImputer
from ._modules import (
    ConvAutoencoder,
    LSTMAutoencoder,
    MLPAutoencoder,
    init_from_pca,
)
from ._version import __version__

# The function shadows its package here: ``sklearn_ae.compare(...)`` is the
# function; ``from sklearn_ae.compare import main`` and ``python -m
# sklearn_ae.compare`` still reach the package (a package, not a module, so
# that ``-m`` does not re-run code that this import already ran).
from .compare import compare

__all__ = [
    "AutoencoderImputer",
    "AutoencoderTransformer",
    "ConvAutoencoder",
    "LSTMAutoencoder",
    "MLPAutoencoder",
    "__version__",
    "compare",
    "init_from_pca",
]
