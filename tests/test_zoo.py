"""The article's model zoo: each configuration does what it is for.

All on scikit-learn's 8x8 digits (as flat rows, 8x8 images or 8-step
sequences) or on small synthetic sequences, so every fit takes a second or two.
"""

import pickle
import re

import numpy as np
import pytest
import torch
from custom_modules import EncodeOnly, RecordingAutoencoder, TiedAutoencoder
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from skorch.callbacks import Callback
from torch import nn

from sklearn_ae import (
    AutoencoderTransformer,
    ConvAutoencoder,
    LSTMAutoencoder,
    MLPAutoencoder,
)

CONV_8X8 = {"architecture": "conv", "input_shape": (1, 8, 8)}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """These models are tiny: a second thread only contends for the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mse(a, b):
    return float(np.mean((a - b) ** 2))


@pytest.fixture(scope="module")
def split(digits):
    """1300 training and 497 test digits in [0, 1], float32."""
    X, y = digits
    return X[:1300], X[1300:], y[:1300], y[1300:]


# ------------------------------------------------------------ the models


def test_sparsity_lowers_the_mean_code_activation(split):
    X_train, X_test, _, _ = split
    params = {
        "n_components": 16,
        "hidden_layer_sizes": (),
        "code_activation": "relu",
        "loss": "bce",
        "max_iter": 20,
        # The article's setting: a fixed number of epochs, batches of 64.
        "early_stopping": False,
        "batch_size": 64,
        "random_state": 0,
    }
    dense = AutoencoderTransformer(**params).fit(X_train)
    sparse = AutoencoderTransformer(sparsity=1e-2, **params).fit(X_train)
    dense_activation = dense.transform(X_test).mean()
    sparse_activation = sparse.transform(X_test).mean()
    assert sparse_activation < 0.4 * dense_activation
    # Still an autoencoder: it reconstructs far better than the mean digit.
    baseline = mse(X_test, X_train.mean(axis=0))
    assert -sparse.score(X_test) < 0.75 * baseline


def test_deep_model_beats_pca_on_held_out_digits(split):
    X_train, X_test, _, _ = split
    deep = AutoencoderTransformer(
        8, hidden_layer_sizes=(128, 64), max_iter=30, random_state=0
    ).fit(X_train)
    widths = [m.out_features for m in deep.module_.encoder if hasattr(m, "weight")]
    assert widths == [128, 64, 8]
    pca = PCA(8).fit(X_train)
    pca_error = mse(X_test, pca.inverse_transform(pca.transform(X_test)))
    assert -deep.score(X_test) < 0.9 * pca_error


def test_conv_model_reconstructs_images(split):
    X_train, X_test, _, _ = split
    conv = AutoencoderTransformer(
        16,
        architecture="conv",
        input_shape=(1, 8, 8),
        module_params={"filters": (16, 8)},
        loss="bce",
        learning_rate=3e-3,
        max_iter=20,
        early_stopping=False,
        batch_size=64,
        random_state=0,
    ).fit(X_train)
    assert isinstance(conv.module_, ConvAutoencoder)
    convolutions = [m for m in conv.module_.encoder if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convolutions] == [16, 8]
    X_hat = conv.inverse_transform(conv.transform(X_test))
    assert X_hat.shape == X_test.shape
    assert r2_score(X_test, X_hat, multioutput="variance_weighted") > 0.6


def test_denoising_beats_the_noisy_input_and_pca(split):
    X_train, X_test, _, _ = split
    rng = np.random.default_rng(1)
    noisy = np.clip(X_test + 0.5 * rng.standard_normal(X_test.shape), 0, 1)
    noisy = noisy.astype(np.float32)
    denoiser = AutoencoderTransformer(
        16,
        architecture="conv",
        input_shape=(1, 8, 8),
        module_params={"filters": (16, 8)},
        loss="bce",
        noise=0.5,
        learning_rate=3e-3,
        max_iter=20,
        random_state=0,
    ).fit(X_train)
    denoised = denoiser.inverse_transform(denoiser.transform(noisy))
    pca = PCA(16).fit(noisy)
    pca_denoised = pca.inverse_transform(pca.transform(noisy))
    assert mse(X_test, denoised) < 0.5 * mse(X_test, noisy)
    assert mse(X_test, denoised) < 0.85 * mse(X_test, pca_denoised)


def sines(n_samples, timesteps=20, n_channels=3, seed=0):
    """Sequences of sines: one random frequency, a random phase per channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(timesteps)[None, :, None]
    frequency = rng.uniform(0.04, 0.12, size=(n_samples, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n_samples, 1, n_channels))
    X = np.sin(2 * np.pi * frequency * t + phase)
    return X.reshape(n_samples, timesteps * n_channels).astype(np.float32)


def test_lstm_reconstructs_multichannel_sequences():
    X = sines(500)
    lstm = AutoencoderTransformer(
        8,
        architecture="lstm",
        input_shape=(20, 3),
        module_params={"hidden_size": 32},
        learning_rate=1e-2,
        batch_size=32,
        max_iter=40,
        random_state=0,
    ).fit(X[:400])
    assert isinstance(lstm.module_, LSTMAutoencoder)
    assert lstm.module_.encoder.lstm.hidden_size == 32
    X_hat = lstm.inverse_transform(lstm.transform(X[400:]))
    assert r2_score(X[400:], X_hat, multioutput="variance_weighted") > 0.75


@pytest.fixture(scope="module")
def vae(split):
    """The article's VAE on digits: a 2-D latent, 256 hidden units, BCE."""
    return AutoencoderTransformer(
        2, variational=True, loss="bce", max_iter=30, random_state=0
    ).fit(split[0])


def test_vae_latent_clusters_digits_by_class(vae, split):
    _, X_test, _, y_test = split
    Z = vae.transform(X_test)
    assert Z.shape == (len(X_test), 2)
    accuracy = cross_val_score(KNeighborsClassifier(5), Z, y_test, cv=3).mean()
    assert accuracy > 0.45  # chance is 0.1


def test_vae_transform_is_the_deterministic_posterior_mean(vae, split):
    X = split[1][:50]
    mean, log_var = vae.module_.encode_distribution(torch.from_numpy(X))
    assert_allclose(vae.transform(X), mean.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert_array_equal(vae.transform(X), vae.transform(X))
    assert log_var.shape == (50, 2)


def test_vae_sample(vae):
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    samples = vae.sample(7, random_state=0)
    assert samples.shape == (7, 64)
    assert samples.dtype == np.float32
    assert samples.min() >= 0 and samples.max() <= 1
    assert_array_equal(vae.sample(7, random_state=0), samples)
    assert not np.allclose(vae.sample(7, random_state=1), samples)
    assert vae.sample(2).shape == (2, 64)
    # Neither a seeded nor an unseeded call moves the global random states.
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert_array_equal(np.random.get_state()[1], np_state[1])
    # Decoded prior draws look like digits: closer to real ones than noise is.
    assert mse(samples.mean(axis=0), vae.sample(7, random_state=2).mean(axis=0)) < 0.1


def test_sample_follows_the_training_dtype(X_small):
    vae = AutoencoderTransformer(
        2, variational=True, hidden_layer_sizes=(8,), max_iter=1, random_state=0
    )
    assert vae.fit(X_small.astype(np.float64)).sample(3).dtype == np.float64


def test_sample_needs_a_fitted_variational_model(fitted):
    with pytest.raises(NotFittedError):
        AutoencoderTransformer(variational=True).sample(2)
    with pytest.raises(ValueError, match="sample needs a variational autoencoder"):
        fitted.sample(2)


def test_sample_rejects_a_bad_number_of_samples(vae):
    for n_samples in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n_samples must be a positive int"):
            vae.sample(n_samples)


def test_custom_module_receives_the_protocols_arguments(split):
    X_train, X_test, _, _ = split
    ae = AutoencoderTransformer(
        4,
        architecture=TiedAutoencoder,
        module_params={"init_scale": 0.05},
        learning_rate=1e-2,
        max_iter=40,
        random_state=0,
    ).fit(X_train)
    assert isinstance(ae.module_, TiedAutoencoder)
    assert ae.module_.received == (64, 4, (64,), 0.05)
    # A tied linear autoencoder learns PCA's subspace: nearly PCA's error.
    pca = PCA(4).fit(X_train)
    pca_error = mse(X_test, pca.inverse_transform(pca.transform(X_test)))
    assert -ae.score(X_test) < 1.1 * pca_error
    # transform is the module's encode on the scaled rows, in X's units.
    scaled = (X_test.astype(np.float64) - ae.mean_) / ae.scale_
    with torch.no_grad():
        expected = ae.module_.encode(torch.from_numpy(scaled).float()).numpy()
    assert_allclose(ae.transform(X_test), expected * ae.scale_, rtol=1e-4, atol=1e-5)

    images = AutoencoderTransformer(
        2, architecture=TiedAutoencoder, input_shape=(1, 8, 8), max_iter=1
    ).fit(X_train[:50])
    assert images.module_.received == (64, 2, (1, 8, 8), 0.1)


def test_module_params_can_be_grid_searched(X_small):
    search = GridSearchCV(
        AutoencoderTransformer(
            4, architecture=TiedAutoencoder, max_iter=2, random_state=0
        ),
        {"module_params": [{"init_scale": 0.01}, {"init_scale": 0.3}]},
        cv=2,
    ).fit(X_small)
    # Neither candidate is the module's default (0.1): each fit received its own.
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] != scores[1]
    best = search.best_params_["module_params"]["init_scale"]
    assert search.best_estimator_.module_.received[3] == best


def test_architectures_share_one_grid_search(X_small):
    # Each architecture ignores the others' parameters, so one grid compares
    # them with every parameter set once.
    search = GridSearchCV(
        AutoencoderTransformer(
            4, hidden_layer_sizes=(16,), input_shape=(8, 8), max_iter=2, random_state=0
        ),
        {"architecture": ["mlp", "lstm"]},
        cv=2,
    ).fit(X_small)
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.architecture in ("mlp", "lstm")


# --------------------------------------------------------- the loss terms


def _batch_and_prediction(ae, X):
    """The net, a batch as the module sees it (X itself: loss="bce") and the
    net's ``infer`` output for it."""
    net = ae.net_
    x = torch.from_numpy(X)
    with torch.no_grad():
        return net, x, net.infer(x)


def test_sparsity_penalty_is_the_articles_and_for_training_only(X_small):
    ae = AutoencoderTransformer(
        4,
        hidden_layer_sizes=(),
        code_activation="relu",
        loss="bce",
        sparsity=0.5,
        max_iter=1,
        random_state=0,
    ).fit(X_small)
    net, x, y_pred = _batch_and_prediction(ae, X_small[:32])
    x_hat, z, posterior = y_pred
    assert posterior is None
    reconstruction = nn.functional.binary_cross_entropy_with_logits(x_hat, x)
    with torch.no_grad():
        train = net.get_loss(y_pred, x, training=True)
        valid = net.get_loss(y_pred, x, training=False)
    assert valid.item() == pytest.approx(reconstruction.item(), rel=1e-6)
    penalty = 0.5 * z.abs().mean(dim=0).sum()
    assert (train - valid).item() == pytest.approx(penalty.item(), rel=1e-5)
    assert penalty.item() > 0


def test_vae_loss_is_reconstruction_plus_beta_kl(X_small):
    ae = AutoencoderTransformer(
        2, variational=True, beta=3.0, loss="bce", max_iter=1, random_state=0
    ).fit(X_small)
    net, x, y_pred = _batch_and_prediction(ae, X_small[:32])
    x_hat, _, (mean, log_var) = y_pred
    with torch.no_grad():
        loss = net.get_loss(y_pred, x, training=True)
    reconstruction = nn.functional.binary_cross_entropy_with_logits(x_hat, x)
    kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(dim=1).mean()
    expected = reconstruction + 3.0 * kl / 64
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


class TrainingTargets(Callback):
    """Records each training batch's target, as skorch hands it to the step."""

    def initialize(self):
        self.targets = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.targets.append(batch[1].clone())


def _recorded(ae):
    """What the recording module encoded: (training inputs, other inputs).

    Leaves out the first call, ``fit``'s check of a custom module's shapes on
    two rows, in eval mode, before training, and the last, ``fit``'s pass
    over all of X for ``explained_variance_fraction_``.
    """
    (probing, probe), *seen, (evaluating, _) = ae.module_.seen
    assert not probing and len(probe) == 2 and not evaluating
    return [x for t, x in seen if t], [x for t, x in seen if not t]


def test_gaussian_noise_corrupts_training_inputs_only_freshly(X_small):
    X = X_small[:100]
    targets = TrainingTargets()
    ae = AutoencoderTransformer(
        4,
        architecture=RecordingAutoencoder,
        loss="bce",
        noise=0.5,
        batch_size=90,
        max_iter=2,
        early_stopping=True,
        n_iter_no_change=5,
        callbacks=[targets],
        random_state=0,
    ).fit(X)
    train, valid = _recorded(ae)
    assert len(train) == len(targets.targets) == 2  # one batch per epoch
    assert len(valid) == 2
    clean = torch.from_numpy(X)
    for x, y in zip(train, targets.targets, strict=True):
        assert torch.isin(y, clean).all()  # the target is the clean batch
        assert 0.2 < (x - y).std().item() < 0.5  # noise 0.5, clipped to [0, 1]
        assert x.min() >= 0 and x.max() <= 1
    assert not torch.equal(train[0], train[1])  # fresh noise in every batch
    for x in valid:
        assert torch.isin(x, clean).all()  # validation data are never corrupted
    ae.module_.seen.clear()
    ae.transform(X)
    assert torch.equal(ae.module_.seen[0][1], clean)  # nor is transform's input


def test_mask_noise_zeroes_the_given_fraction(X_small):
    targets = TrainingTargets()
    ae = AutoencoderTransformer(
        4,
        architecture=RecordingAutoencoder,
        loss="bce",
        noise=0.3,
        noise_type="mask",
        batch_size=300,
        max_iter=1,
        callbacks=[targets],
        random_state=0,
    ).fit(X_small)
    (x,), _ = _recorded(ae)
    (y,) = targets.targets
    nonzero = y != 0
    zeroed = (x[nonzero] == 0).float().mean().item()
    assert zeroed == pytest.approx(0.3, abs=0.02)
    kept = x[nonzero] != 0
    assert torch.equal(x[nonzero][kept], y[nonzero][kept])


def test_mask_noise_with_mse_zeroes_in_the_users_units(X_small):
    ae = AutoencoderTransformer(
        4,
        architecture=RecordingAutoencoder,
        noise=0.5,
        noise_type="mask",
        batch_size=300,
        max_iter=1,
        random_state=0,
    ).fit(X_small + 2)  # no zeros in X itself
    (x,), _ = _recorded(ae)
    users_units = x.double().numpy() * ae.scale_ + ae.mean_
    zeroed = np.isclose(users_units, 0, atol=1e-5).mean()
    assert zeroed == pytest.approx(0.5, abs=0.02)


# ------------------------------------------ core guarantees for every model

# The models that take X of any width are also run through scikit-learn's
# estimator checks (dtypes, pickling, idempotent fits, ...) in test_common.py.
# These need images or sequences of a fixed shape, or data in [0, 1]:
FIXED_SHAPE = {
    "conv": {"architecture": "conv", "input_shape": (1, 8, 8)},
    "denoising-conv": {
        "architecture": "conv",
        "input_shape": (1, 8, 8),
        "noise": 0.3,
        "loss": "bce",
    },
    "lstm": {"architecture": "lstm", "input_shape": (8, 8)},
    "vae-bce": {"variational": True, "loss": "bce"},
    "conv-vae": {"architecture": "conv", "input_shape": (1, 8, 8), "variational": True},
}
ANY_WIDTH = {
    "sparse": {"code_activation": "relu", "sparsity": 1e-3},
    "masking": {"noise": 0.2, "noise_type": "mask"},
    "vae": {"variational": True},
    "custom": {"architecture": TiedAutoencoder},
    "custom-vae": {"architecture": TiedAutoencoder, "variational": True},
}
CONFIGS = {**FIXED_SHAPE, **ANY_WIDTH}


@pytest.fixture(scope="module")
def make():
    def make(config, **params):
        return AutoencoderTransformer(
            **{
                "n_components": 3,
                "hidden_layer_sizes": (8,),
                "max_iter": 2,
                "batch_size": 50,
                "random_state": 0,
                **CONFIGS[config],
                **params,
            }
        )

    return make


@pytest.fixture(scope="module")
def zoo(X_small, make):
    """One fitted model per configuration, built on first use."""
    cache = {}

    def get(config):
        if config not in cache:
            cache[config] = make(config).fit(X_small[:150])
        return cache[config]

    return get


@pytest.mark.parametrize("config", FIXED_SHAPE)
def test_fixed_shape_models_preserve_dtypes(zoo, X_small, config):
    ae = zoo(config)
    X32 = X_small[150:200]
    Z32 = ae.transform(X32)
    Z64 = ae.transform(X32.astype(np.float64))
    assert (Z32.dtype, Z64.dtype) == (np.float32, np.float64)
    assert ae.inverse_transform(Z32).dtype == np.float32
    assert ae.inverse_transform(Z64).dtype == np.float64
    assert_allclose(Z64, Z32, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("config", FIXED_SHAPE)
def test_fixed_shape_models_pickle(zoo, X_small, config):
    ae = zoo(config)
    restored = pickle.loads(pickle.dumps(ae))
    X = X_small[150:200]
    assert_array_equal(restored.transform(X), ae.transform(X))
    Z = ae.transform(X)
    assert_array_equal(restored.inverse_transform(Z), ae.inverse_transform(Z))


@pytest.mark.parametrize("config", CONFIGS)
def test_every_model_is_reproducible_and_leaves_global_rng_alone(
    zoo, make, X_small, config
):
    torch_state = torch.get_rng_state()
    again = make(config).fit(X_small[:150])
    assert torch.equal(torch.get_rng_state(), torch_state)
    X = X_small[150:200]
    assert_array_equal(again.transform(X), zoo(config).transform(X))
    assert again.loss_curve_ == zoo(config).loss_curve_


@pytest.mark.parametrize("config", CONFIGS)
def test_every_model_reports_divergence(make, X_small, config):
    ae = make(config, loss="mse", optimizer="sgd", learning_rate=1e12, max_iter=3)
    with pytest.raises(ValueError, match=r"Training diverged: .* \(epoch \d\)\. Try"):
        ae.fit(X_small[:100] * 100)
    with pytest.raises(NotFittedError):
        ae.transform(X_small)


# ------------------------------------------------------------ bad configs


@pytest.mark.parametrize(
    "params, message",
    [
        ({"architecture": "conv"}, "architecture='conv' needs input_shape=(channels,"),
        (
            {"architecture": "conv", "input_shape": (8, 8)},
            "architecture='conv' needs a 3-D input_shape",
        ),
        (
            {"architecture": "lstm", "input_shape": (1, 8, 8)},
            "architecture='lstm' needs a 2-D input_shape",
        ),
        (
            {"architecture": "conv", "input_shape": (1, 8, 9)},
            "input_shape (1, 8, 9) holds 72 values per sample, but X has 64 features",
        ),
        (
            {"architecture": "lstm", "input_shape": (8, 0)},
            "'input_shape' parameter of AutoencoderTransformer must be a tuple of "
            "positive ints",
        ),
        (
            {"noise_type": "mask", "noise": 1.0},
            "With noise_type='mask', noise is the fraction",
        ),
        ({"module_params": {"n_components": 3}}, "module_params cannot set"),
        (
            {**CONV_8X8, "module_params": {"x": 1}},
            "ConvAutoencoder cannot be built from the arguments",
        ),
        (
            {"architecture": "lstm", "input_shape": (8, 8), "module_params": {"y": 1}},
            "unexpected keyword argument 'y'",
        ),
        ({"architecture": dict}, "must be 'mlp', 'conv', 'lstm' or a torch.nn.Module"),
        ({"architecture": EncodeOnly}, "has no ['decode'] method(s)"),
        (
            {"architecture": TiedAutoencoder, "module_params": {"scale": 2}},
            "TiedAutoencoder cannot be built",
        ),
    ],
)
def test_contradictory_configurations_are_errors_at_fit(X_small, params, message):
    ae = AutoencoderTransformer(**params)  # __init__ accepts anything
    with pytest.raises(ValueError, match=re.escape(message)):
        ae.fit(X_small)


@pytest.mark.parametrize(
    "base, unused",
    [
        ({}, {"input_shape": (8, 8)}),
        (CONV_8X8, {"hidden_layer_sizes": (3,)}),
        ({"architecture": "lstm", "input_shape": (8, 8)}, {"activation": "tanh"}),
        ({"architecture": TiedAutoencoder}, {"code_activation": "relu"}),
        ({"variational": True}, {"code_activation": "relu"}),
        ({}, {"beta": 4.0}),
        ({}, {"noise_type": "mask"}),
        ({"early_stopping": False}, {"validation_fraction": 0.5}),
    ],
)
def test_parameters_that_do_not_apply_are_ignored(X_small, base, unused):
    """As scikit-learn's MLP ignores momentum unless solver='sgd'."""
    X = X_small[:100]
    params = {"n_components": 2, "max_iter": 2, "random_state": 0, **base}
    reference = AutoencoderTransformer(**params).fit(X)
    ae = AutoencoderTransformer(**params, **unused).fit(X)
    assert_array_equal(ae.transform(X), reference.transform(X))
    assert ae.loss_curve_ == reference.loss_curve_


def test_custom_vae_needs_a_posterior(X_small):
    class NoPosterior(TiedAutoencoder):
        encode_distribution = None

    with pytest.raises(ValueError, match=re.escape("has no ['encode_distribution']")):
        AutoencoderTransformer(architecture=NoPosterior, variational=True).fit(X_small)


def test_invalid_zoo_parameter_types(X_small):
    from sklearn.utils._param_validation import InvalidParameterError

    for params in (
        {"architecture": "rnn"},
        {"sparsity": -1.0},
        {"noise": -0.1},
        {"noise_type": "salt"},
        {"beta": -1.0},
        {"module_params": [("filters", 3)]},
        {"input_shape": 64},
    ):
        name = next(iter(params))
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
            AutoencoderTransformer(**params).fit(X_small)


def test_clone_keeps_module_params_and_architecture():
    ae = AutoencoderTransformer(
        architecture=TiedAutoencoder, module_params={"init_scale": 0.3}
    )
    copy = clone(ae)
    assert copy.architecture is TiedAutoencoder
    assert copy.module_params == {"init_scale": 0.3}
    assert copy.module_params is not ae.module_params


def test_built_in_modules_are_exported_and_variational_protocol():
    mlp = MLPAutoencoder(64, 2, (16,), variational=True)
    x = torch.rand(5, 64)
    mean, _ = mlp.encode_distribution(x)
    assert_array_equal(mlp.encode(x).detach(), mean.detach())
    assert mlp.decode(mean).shape == (5, 64)
    with pytest.raises(RuntimeError, match="built with variational=False"):
        MLPAutoencoder(64, 2).encode_distribution(x)
    conv = ConvAutoencoder(3 * 5 * 7, 4, (3, 5, 7))
    assert conv.decode(conv.encode(torch.rand(2, 105))).shape == (2, 105)
