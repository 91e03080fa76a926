"""BILM against the seed notebook's own code, plus shapes, gradients and the opt-in modes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from bilm.config import BILMConfig, get_preset
from bilm.losses import bilm_loss
from bilm.model import BILMClassifier, BiomechanicalConstraintModule, kinematic_kwargs
from bilm.window_features import RICH_QUANTILES, LogBandPower, WindowQuantiles, rich_window_stats

torch.set_num_threads(1)
NOTEBOOK_ARGS = (9, 128, 64, 6, 128)  # input_channels, hidden_dim, latent_dim, num_classes, seq_length
NOTEBOOK_PARAMETERS = 520_591


# ---------------------------------------------------------------------------------------------
# The reference: the notebook's code (BiLM2_HAR, sections 1 and 3-7), pasted unchanged.
JOINT_ANGLE_LIMITS = {'min': -np.pi, 'max': np.pi}
VELOCITY_LIMIT = 10.0
ACCELERATION_LIMIT = 50.0


class NotebookBiomechanicalConstraintModule(nn.Module):
    """Applies biomechanical constraints to latent representations"""
    def __init__(self, latent_dim, num_joints=32):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_joints = num_joints
        self.joint_mapper = nn.Sequential(
            nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, num_joints), nn.Tanh())
        self.velocity_net = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, num_joints))
        self.accel_net = nn.Sequential(nn.Linear(latent_dim, 32), nn.ReLU(), nn.Linear(32, num_joints))

    def compute_joint_angles(self, z):
        angles = self.joint_mapper(z)
        angle_range = JOINT_ANGLE_LIMITS['max'] - JOINT_ANGLE_LIMITS['min']
        angles = angles * (angle_range / 2) + (JOINT_ANGLE_LIMITS['max'] + JOINT_ANGLE_LIMITS['min']) / 2
        return angles

    def compute_velocity(self, z):
        return self.velocity_net(z)

    def compute_acceleration(self, z):
        return self.accel_net(z)

    def biomechanical_loss(self, z_sequence):
        batch_size, seq_len, _ = z_sequence.shape
        angles = self.compute_joint_angles(z_sequence.reshape(-1, self.latent_dim))
        angles = angles.reshape(batch_size, seq_len, -1)
        velocity_actual = angles[:, 1:] - angles[:, :-1]
        velocity_pred = self.compute_velocity(z_sequence[:, :-1].reshape(-1, self.latent_dim))
        velocity_pred = velocity_pred.reshape(batch_size, seq_len-1, -1)
        velocity_diff = torch.mean((velocity_pred - velocity_actual) ** 2)
        accel_actual = velocity_actual[:, 1:] - velocity_actual[:, :-1]
        accel_pred = self.compute_acceleration(z_sequence[:, :-2].reshape(-1, self.latent_dim))
        accel_pred = accel_pred.reshape(batch_size, seq_len-2, -1)
        accel_diff = torch.mean((accel_pred - accel_actual) ** 2)
        velocity_magnitude = torch.norm(velocity_actual, dim=-1)
        velocity_violation = torch.relu(velocity_magnitude - VELOCITY_LIMIT).mean()
        accel_magnitude = torch.norm(accel_actual, dim=-1)
        accel_violation = torch.relu(accel_magnitude - ACCELERATION_LIMIT).mean()
        angle_smoothness = torch.mean(velocity_actual ** 2)
        total_loss = (velocity_diff + accel_diff +
                      0.1 * velocity_violation + 0.1 * accel_violation +
                      0.01 * angle_smoothness)
        return total_loss


class NotebookEncoder(nn.Module):
    def __init__(self, input_channels, hidden_dim, latent_dim, seq_length):
        super().__init__()
        self.conv1 = nn.Conv1d(input_channels, 32, kernel_size=5, padding=2)
        self.conv2 = nn.Conv1d(32, 64, kernel_size=5, padding=2)
        self.conv3 = nn.Conv1d(64, 128, kernel_size=5, padding=2)
        self.pool = nn.MaxPool1d(2)
        self.bn1 = nn.BatchNorm1d(32)
        self.bn2 = nn.BatchNorm1d(64)
        self.bn3 = nn.BatchNorm1d(128)
        pooled_length = seq_length // 8
        self.fc_mu = nn.Linear(128 * pooled_length, latent_dim)
        self.fc_logvar = nn.Linear(128 * pooled_length, latent_dim)
        self.dropout = nn.Dropout(0.3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(x)
        x = torch.relu(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = torch.relu(self.bn3(self.conv3(x)))
        x = self.pool(x)
        x = x.flatten(1)
        x = self.dropout(x)
        return self.fc_mu(x), self.fc_logvar(x)


class NotebookDecoder(nn.Module):
    def __init__(self, latent_dim, hidden_dim, output_channels, seq_length):
        super().__init__()
        pooled_length = seq_length // 8
        self.fc = nn.Linear(latent_dim, 128 * pooled_length)
        self.pooled_length = pooled_length
        self.deconv1 = nn.ConvTranspose1d(128, 64, kernel_size=4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose1d(64, 32, kernel_size=4, stride=2, padding=1)
        self.deconv3 = nn.ConvTranspose1d(32, output_channels, kernel_size=4, stride=2, padding=1)
        self.bn1 = nn.BatchNorm1d(64)
        self.bn2 = nn.BatchNorm1d(32)

    def forward(self, z):
        x = self.fc(z)
        x = x.reshape(-1, 128, self.pooled_length)
        x = torch.relu(self.bn1(self.deconv1(x)))
        x = torch.relu(self.bn2(self.deconv2(x)))
        return self.deconv3(x)


class NotebookBILMClassifier(nn.Module):
    def __init__(self, input_channels, hidden_dim, latent_dim, num_classes, seq_length, num_joints=32):
        super().__init__()
        self.encoder = NotebookEncoder(input_channels, hidden_dim, latent_dim, seq_length)
        self.decoder = NotebookDecoder(latent_dim, hidden_dim, input_channels, seq_length)
        self.biomech_module = NotebookBiomechanicalConstraintModule(latent_dim, num_joints=num_joints)
        self.classifier = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(hidden_dim, hidden_dim // 2), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(hidden_dim // 2, num_classes))

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward(self, x):
        mu, logvar = self.encoder(x)
        z = self.reparameterize(mu, logvar)
        x_recon = self.decoder(z)
        logits = self.classifier(z)
        return logits, x_recon, mu, logvar, z


def notebook_train_step_loss(model, data, target):
    """train_bilm's loss for one batch (section 7), with its fake latent sequence."""
    logits, x_recon, mu, logvar, z = model(data)
    ce_loss = nn.functional.cross_entropy(logits, target)
    recon_loss = nn.functional.mse_loss(x_recon, data)
    kl_loss = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / data.size(0)
    temporal_noise = torch.randn(z.size(0), 10, z.size(1), device=z.device) * 0.1
    z_sequence = z.unsqueeze(1) + temporal_noise
    biomech_loss = model.biomech_module.biomechanical_loss(z_sequence)
    loss = ce_loss + 0.1 * recon_loss + 0.01 * kl_loss + 0.05 * biomech_loss
    return loss, (logits, x_recon, mu, logvar, z, z_sequence)
# ---------------------------------------------------------------------------------------------


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def batch(channels=9, length=128, size=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(size, channels, length, generator=g), torch.arange(size) % 6


def test_notebook_parameter_count():
    assert n_parameters(NotebookBILMClassifier(*NOTEBOOK_ARGS)) == NOTEBOOK_PARAMETERS
    assert n_parameters(BILMClassifier(*NOTEBOOK_ARGS)) == NOTEBOOK_PARAMETERS
    assert n_parameters(BILMClassifier.from_config(get_preset("seed"))) == NOTEBOOK_PARAMETERS


def test_same_seed_same_weights_as_the_notebook():
    torch.manual_seed(0)
    reference = NotebookBILMClassifier(*NOTEBOOK_ARGS).state_dict()
    torch.manual_seed(0)
    ours = BILMClassifier.from_config(get_preset("seed")).state_dict()
    assert list(ours) == list(reference)
    for name in reference:
        assert torch.equal(ours[name], reference[name]), name


def test_state_dicts_load_both_ways_with_strict():
    reference = NotebookBILMClassifier(*NOTEBOOK_ARGS)
    ours = BILMClassifier(*NOTEBOOK_ARGS)
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.load_state_dict(ours.state_dict(), strict=True)


def _twins():
    reference = NotebookBILMClassifier(*NOTEBOOK_ARGS)
    ours = BILMClassifier(*NOTEBOOK_ARGS)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def test_training_step_matches_the_notebook_draw_for_draw():
    reference, ours = _twins()
    x, y = batch()
    torch.manual_seed(3)
    expected_loss, expected = notebook_train_step_loss(reference, x, y)
    torch.manual_seed(3)
    out = ours.forward_all(x)
    loss = bilm_loss(out, x, y, ours.biomech_module, get_preset("seed"))
    for got, want in zip(out, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(loss.total, expected_loss, rtol=1e-5, atol=1e-6)


def test_eval_mode_classifies_mu_as_the_notebook_network_would():
    reference, ours = _twins()
    x, _ = batch()
    reference.eval()
    ours.eval()
    with torch.no_grad():
        logits, x_recon, mu, logvar, z = ours(x)
        ref_mu, ref_logvar = reference.encoder(x)
        torch.testing.assert_close(mu, ref_mu)
        torch.testing.assert_close(logvar, ref_logvar)
        assert torch.equal(z, mu)
        torch.testing.assert_close(logits, reference.classifier(ref_mu))
        torch.testing.assert_close(x_recon, reference.decoder(ref_mu))
        z_sequence = torch.randn(4, 10, 64)
        torch.testing.assert_close(ours.biomech_module.biomechanical_loss(z_sequence),
                                   reference.biomech_module.biomechanical_loss(z_sequence))


@pytest.mark.parametrize("mode", ["noise", "temporal", "kinematic"])
def test_eval_mode_is_deterministic(mode):
    physics = {"biomech": kinematic_kwargs(BILMConfig(accel_triple=2, gyro_triple=1))} if mode == "kinematic" else {}
    model = BILMClassifier(*NOTEBOOK_ARGS, latent_sequence=mode, **physics).eval()
    x, _ = batch()
    with torch.no_grad():
        first, second = model.forward_all(x), model.forward_all(x)
    assert (first.kinematics is None) == (mode != "kinematic")
    tensors = [(a, b) for a, b in zip(first, second) if isinstance(a, torch.Tensor)]
    tensors += list(zip(first.kinematics or (), second.kinematics or ()))
    for a, b in tensors:
        assert torch.equal(a, b)


def test_forward_is_the_first_five_outputs():
    model = BILMClassifier(*NOTEBOOK_ARGS).eval()
    x, _ = batch()
    with torch.no_grad():
        five, all_six = model(x), model.forward_all(x)
    assert len(five) == 5
    for a, b in zip(five, all_six[:5]):
        assert torch.equal(a, b)


@pytest.mark.parametrize("mode", ["noise", "temporal"])
@pytest.mark.parametrize("length", [100, 128, 129])
@pytest.mark.parametrize("channels", [6, 9])
def test_shapes(mode, length, channels):
    model = BILMClassifier(channels, 32, 16, 4, length, latent_sequence=mode, noise_steps=5)
    x, _ = batch(channels, length, size=3)
    out = model.forward_all(x)
    steps = -(-length // 8) if mode == "temporal" else 5
    assert out.logits.shape == (3, 4)
    assert out.x_recon.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (3, 16)
    assert out.z_sequence.shape == (3, steps, 16)


def test_odd_length_is_padded_by_repeating_the_last_sample():
    short = BILMClassifier(9, 32, 16, 4, 100).eval()
    padded = BILMClassifier(9, 32, 16, 4, 104).eval()
    padded.load_state_dict(short.state_dict())  # ceil(100 / 8) = 104 / 8: the same shapes
    x, _ = batch(9, 100)
    x_padded = torch.cat([x, x[..., -1:].expand(-1, -1, 4)], dim=-1)
    with torch.no_grad():
        torch.testing.assert_close(short(x)[2], padded(x_padded)[2])
        torch.testing.assert_close(short(x)[1], padded(x_padded)[1][..., :100])


def test_temporal_sequence_averages_to_z():
    model = BILMClassifier(*NOTEBOOK_ARGS, latent_sequence="temporal")
    out = model.forward_all(batch()[0])
    torch.testing.assert_close(out.z_sequence.mean(dim=1), out.z)
    assert not torch.allclose(out.z_sequence[:, 0], out.z_sequence[:, -1])


def test_noise_sequence_in_eval_is_z_repeated():
    model = BILMClassifier(*NOTEBOOK_ARGS).eval()
    with torch.no_grad():
        out = model.forward_all(batch()[0])
    assert torch.equal(out.z_sequence, out.z.unsqueeze(1).expand(-1, 10, -1))


@pytest.mark.parametrize("overrides", [
    {},
    {"latent_sequence": "temporal", "classifier_input": "mu"},
    {"latent_sequence": "temporal", "seq_length": 100, "input_channels": 6, "base_channels": 8,
     "kernel_size": 3},
    {"latent_sequence": "temporal", "window_stats": "mean_std"},
    {"latent_sequence": "temporal", "window_stats": "rich", "pooled_features": True},
    {"latent_sequence": "temporal", "window_stats": "spectral", "seq_length": 100},
])
def test_gradients_reach_every_parameter(overrides):
    cfg = dataclasses.replace(get_preset("seed"), **overrides)
    model = BILMClassifier.from_config(cfg).train()
    x, y = batch(cfg.input_channels, cfg.seq_length, size=6)
    bilm_loss(model.forward_all(x), x, y, model.biomech_module, cfg).total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_ablation_without_reconstruction_has_no_decoder():
    cfg = dataclasses.replace(get_preset("seed"), w_recon=0.0, w_kl=0.0)
    model = BILMClassifier.from_config(cfg)
    assert model.decoder is None
    decoder_parameters = n_parameters(BILMClassifier(*NOTEBOOK_ARGS).decoder)
    assert n_parameters(model) == NOTEBOOK_PARAMETERS - decoder_parameters
    x, y = batch()
    out = model.forward_all(x)
    assert out.x_recon is None
    assert bilm_loss(out, x, y, model.biomech_module, cfg).recon.item() == 0.0


def test_classifier_on_mu_is_deterministic_in_training():
    model = BILMClassifier(*NOTEBOOK_ARGS, classifier_input="mu", dropout=0.0).train()
    x, _ = batch()
    assert torch.equal(model(x)[0], model(x)[0])


@pytest.mark.parametrize("stats, per_channel", [("mean", 1), ("mean_std", 2)])
def test_window_stats_feed_the_classifier(stats, per_channel):
    model = BILMClassifier(*NOTEBOOK_ARGS, window_stats=stats).eval()
    plain = BILMClassifier(*NOTEBOOK_ARGS)
    assert model.classifier[0].in_features == 64 + per_channel * 9
    assert n_parameters(model) == NOTEBOOK_PARAMETERS + per_channel * 9 * 128
    x, _ = batch()
    with torch.no_grad():
        out = model.forward_all(x)
        expected = [out.mu, x.mean(dim=-1)] + ([x.std(dim=-1)] if stats == "mean_std" else [])
        torch.testing.assert_close(out.logits, model.classifier(torch.cat(expected, dim=1)))
        # The window's mean reaches the logits directly: shifting a channel moves them.
        shifted = x.clone()
        shifted[:, 6] += 1.0
        assert not torch.allclose(model(shifted)[0], out.logits)
    assert plain.classifier[0].in_features == 64


def test_rich_window_stats_are_the_named_statistics():
    x, _ = batch()
    stats = rich_window_stats(x).reshape(4, 10, 9)  # (batch, statistic, channel)
    xs = x.double().numpy()
    expected = [xs.mean(-1), xs.std(-1, ddof=1), np.abs(xs).mean(-1), xs.min(-1), xs.max(-1),
                *np.quantile(xs, RICH_QUANTILES, axis=-1)]
    np.testing.assert_allclose(stats.transpose(0, 1).numpy(), np.stack(expected), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("length", [1, 2, 50, 128, 129])
def test_window_quantiles_are_torch_quantile_bit_for_bit(length):
    x = torch.randn(16, 13, length, generator=torch.Generator().manual_seed(length))
    x[0, 0, : length // 2] = x[0, 0, -1]  # ties
    expected = torch.quantile(x, torch.tensor(RICH_QUANTILES), dim=-1).movedim(0, -1)
    quantiles = WindowQuantiles(length)
    assert torch.equal(quantiles(x), expected)  # numpy's sort
    assert torch.equal(quantiles(x.clone().requires_grad_()).detach(), expected)  # torch's sort
    # Traced on other windows: a sort baked in as constants would give their quantiles.
    other = torch.randn(16, 13, length, generator=torch.Generator().manual_seed(length + 1000))
    assert torch.equal(torch.jit.trace(quantiles, other)(x), expected)


def test_rich_window_stats_are_normalised_before_the_classifier():
    model = BILMClassifier(*NOTEBOOK_ARGS, window_stats="rich").eval()
    assert model.classifier[0].in_features == 64 + 10 * 9
    with torch.no_grad():
        model.stats_norm.running_mean.fill_(1.0)
        model.stats_norm.running_var.fill_(4.0)
    x, _ = batch()
    with torch.no_grad():
        out = model.forward_all(x)
        stats = (rich_window_stats(x) - 1.0) / torch.sqrt(torch.tensor(4.0 + model.stats_norm.eps))
        torch.testing.assert_close(out.logits, model.classifier(torch.cat([out.mu, stats], dim=1)))


def test_rich_window_stats_train_on_a_single_window():
    model = BILMClassifier(*NOTEBOOK_ARGS, window_stats="rich").train()
    x, _ = batch(size=1)
    before = model.stats_norm.running_mean.clone()
    assert model(x)[0].shape == (1, 6)
    assert torch.equal(model.stats_norm.running_mean, before)


@pytest.mark.parametrize("length", [128, 100, 20])
def test_log_band_power_is_the_octave_band_power_of_the_fft(length):
    x = torch.randn(3, 9, length)
    power = np.abs(np.fft.rfft(x.double().numpy(), axis=-1)) ** 2 / length  # (3, 9, length // 2 + 1)
    nyquist = length // 2
    edges = [nyquist / 2 ** (6 - b) for b in range(6)] + [np.inf]
    bins = np.arange(power.shape[-1])
    expected = np.stack([power[..., (bins >= lo) & (bins < hi) & (bins >= 1)].sum(-1)
                         for lo, hi in zip(edges[:-1], edges[1:])], axis=1)  # (3, band, channel)
    got = LogBandPower(length)(x).reshape(3, 6, 9)
    np.testing.assert_allclose(got.numpy(), np.log(expected + 1e-6), rtol=1e-4, atol=1e-4)


def test_log_band_power_separates_a_faint_tremor_from_stillness():
    torch.manual_seed(0)
    t = torch.arange(128) / 50.0
    still = 1e-4 * torch.randn(1, 1, 128)
    tremor = still + 0.01 * torch.sin(2 * math.pi * (13 * 50 / 128) * t)  # bin 13, 5.1 Hz: band 3
    bands = LogBandPower(128)
    assert (bands(tremor)[0, 3] - bands(still)[0, 3]).item() > 5  # e^5: far apart on the log scale
    assert torch.allclose(bands(tremor)[0, :2], bands(still)[0, :2], atol=0.5)


def test_spectral_window_stats_extend_the_rich_ones():
    model = BILMClassifier(*NOTEBOOK_ARGS, window_stats="spectral").eval()
    assert model.classifier[0].in_features == 64 + 16 * 9
    assert "band_power.dft" not in model.state_dict()  # a constant, rebuilt from the length
    x, _ = batch()
    with torch.no_grad():
        out = model.forward_all(x)
        stats = torch.cat([rich_window_stats(x), LogBandPower(128)(x)], dim=1)
        expected = torch.cat([out.mu, model.stats_norm(stats)], dim=1)
        torch.testing.assert_close(out.logits, model.classifier(expected))
    assert BILMClassifier(*NOTEBOOK_ARGS, window_stats="rich").band_power is None


def test_pooled_features_feed_the_classifier():
    model = BILMClassifier(*NOTEBOOK_ARGS, window_stats="mean", pooled_features=True,
                           base_channels=8).eval()
    assert model.classifier[0].in_features == 64 + 9 + 4 * 8
    x, _ = batch()
    with torch.no_grad():
        out = model.forward_all(x)
        pooled = model.encoder.features(x).mean(dim=-1)
        expected = torch.cat([out.mu, x.mean(dim=-1), pooled], dim=1)
        torch.testing.assert_close(out.logits, model.classifier(expected))
    cfg = dataclasses.replace(get_preset("seed"), pooled_features=True)
    assert BILMClassifier.from_config(cfg).pooled_features
    assert not BILMClassifier.from_config(get_preset("seed")).pooled_features


def test_window_stats_from_config():
    cfg = dataclasses.replace(get_preset("seed"), window_stats="mean")
    assert BILMClassifier.from_config(cfg).window_stats == "mean"
    assert BILMClassifier.from_config(get_preset("seed")).window_stats == "none"
    with pytest.raises(ValueError, match="window_stats"):
        dataclasses.replace(get_preset("seed"), window_stats="max")


def test_from_config_passes_the_constraint_settings():
    angle_max = tuple(float(j + 1) for j in range(32))
    cfg = dataclasses.replace(get_preset("seed"), angle_max=angle_max, velocity_limit=3.0,
                              acceleration_limit=4.0, w_smoothness=0.5)
    module = BILMClassifier.from_config(cfg).biomech_module
    assert (module.velocity_limit, module.acceleration_limit) == (3.0, 4.0)
    assert module.term_weights.smoothness == 0.5
    angles = module.compute_joint_angles(torch.full((2, 64), 100.0))  # deep in tanh saturation
    assert (angles <= torch.tensor(angle_max)).all()
    assert "angle_center" not in module.state_dict()


def test_defaults_are_the_notebook_constants():
    module = BiomechanicalConstraintModule(64)
    assert (module.velocity_limit, module.acceleration_limit) == (10.0, 50.0)
    assert tuple(module.term_weights) == (1.0, 1.0, 0.1, 0.1, 0.01)
    torch.testing.assert_close(module.angle_half_range, torch.full((32,), float(np.pi)))
    assert module.angle_center.abs().max() == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"seq_length": 16, "latent_sequence": "temporal"}, "seq_length >= 17"),
    ({"classifier_input": "x"}, "classifier_input"),
    ({"latent_sequence": "fourier"}, "latent_sequence"),
    ({"kernel_size": 4}, "odd"),
    ({"noise_steps": 2}, "noise_steps"),
    ({"window_stats": "median"}, "window_stats"),
])
def test_bad_settings_are_rejected(kwargs, message):
    args = dict(input_channels=9, hidden_dim=32, latent_dim=8, num_classes=6, seq_length=128)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        BILMClassifier(**args)


def test_wrong_input_shape_is_rejected():
    model = BILMClassifier(*NOTEBOOK_ARGS)
    with pytest.raises(ValueError, match=r"expected input \(batch, 9, 128\)"):
        model(torch.zeros(2, 9, 100))
