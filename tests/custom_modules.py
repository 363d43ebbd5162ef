"""Users' modules for the tests: the module protocol, written as a user would."""

import torch
from torch import nn


class TiedAutoencoder(nn.Module):
    """A user's module: linear, the decoder is the encoder's transpose.

    With ``variational=True`` it also has a posterior: the code's mean is the
    tied encoding, its log-variance a learnt constant.
    """

    def __init__(self, n_features, n_components, input_shape, init_scale=0.1):
        super().__init__()
        self.received = (n_features, n_components, input_shape, init_scale)
        weight = torch.randn(n_components, n_features) * init_scale
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(n_features))
        self.log_var = nn.Parameter(torch.zeros(n_components))

    def encode(self, x):
        return (x - self.bias) @ self.weight.T

    def encode_distribution(self, x):
        mean = self.encode(x)
        return mean, self.log_var.expand_as(mean)

    def decode(self, z):
        return z @ self.weight + self.bias


class RecordingAutoencoder(TiedAutoencoder):
    """Records every batch it encodes, and whether it was training."""

    def __init__(self, n_features, n_components, input_shape):
        super().__init__(n_features, n_components, input_shape)
        self.seen = []

    def encode(self, x):
        self.seen.append((self.training, x.detach().clone()))
        return super().encode(x)


class EncodeOnly(nn.Module):
    def __init__(self, n_features, n_components, input_shape):
        super().__init__()

    def encode(self, x):
        return x


class WideCode(TiedAutoencoder):
    """Breaks the protocol: its code has 5 columns whatever n_components is."""

    def __init__(self, n_features, n_components, input_shape):
        super().__init__(n_features, 5, input_shape)


class WrongDecode(TiedAutoencoder):
    """Breaks the protocol: decodes to one column per row."""

    def decode(self, z):
        return super().decode(z)[:, :1]
