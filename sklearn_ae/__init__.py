"""Autoencoders as scikit-learn transformers, trained with PyTorch through skorch."""

from ._autoencoder import AutoencoderTransformer
from ._modules import ConvAutoencoder, LSTMAutoencoder, MLPAutoencoder

__version__ = "0.1.0.dev0"

__all__ = [
    "AutoencoderTransformer",
    "ConvAutoencoder",
    "LSTMAutoencoder",
    "MLPAutoencoder",
    "__version__",
]
