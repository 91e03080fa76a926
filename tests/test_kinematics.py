"""The kinematic latent: rotations, the measurement model, and a loss the optimiser cannot
switch off."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from bilm.config import KINEMATIC_MEAN_RATES, KINEMATIC_STARTS, KINEMATIC_STEPS, BILMConfig, get_preset
from bilm.kinematics import (KinematicState, angle_deg, cumulative_product, fitted_rate, fitted_start, integrate,
                             measure, r2, so3_exp, so3_log, turns)
from bilm.losses import bilm_loss
from bilm.model import BILMClassifier
from bilm.plot import main as plot_main
from test_train_fixtures import make_dataset, train_tiny

torch.set_num_threads(1)
RATE = 50.0
DT = 1 / RATE


def test_exp_and_log_are_inverse_and_exp_is_a_rotation():
    v = torch.randn(200, 3, dtype=torch.float64)
    v = v / v.norm(dim=-1, keepdim=True) * torch.rand(200, 1, dtype=torch.float64) * 3.0  # angles below pi
    R = so3_exp(v)
    torch.testing.assert_close(R.transpose(-1, -2) @ R, torch.eye(3, dtype=torch.float64).expand(200, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(200, dtype=torch.float64))
    torch.testing.assert_close(so3_log(R), v)
    tiny = torch.full((1, 3), 1e-9, dtype=torch.float64, requires_grad=True)
    so3_log(so3_exp(tiny)).sum().backward()
    assert torch.isfinite(tiny.grad).all()


def test_cumulative_product_keeps_the_order_of_the_factors():
    M = so3_exp(torch.randn(2, 13, 3, dtype=torch.float64))
    expected, running = [], torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    for t in range(13):
        running = running @ M[:, t]
        expected.append(running)
    torch.testing.assert_close(cumulative_product(M), torch.stack(expected, dim=1))


def test_the_gyroscope_reads_the_angular_velocity_the_orientation_was_integrated_with():
    w = torch.randn(3, 40, 3, dtype=torch.float64)  # rad/s, a different rate at every sample
    start = so3_exp(torch.randn(3, 3, dtype=torch.float64))
    R = integrate(start, w, DT)
    torch.testing.assert_close(R[:, 0], start)
    torch.testing.assert_close(R[:, 5], R[:, 4] @ so3_exp(w[:, 4] * DT))
    gyro, _ = measure(KinematicState(R, w, torch.zeros_like(w)), DT, 1.0)
    torch.testing.assert_close(gyro, w[:, :-1])


def test_an_accelerometer_reads_gravity_turned_into_its_frame_plus_the_linear_acceleration():
    about_x = so3_exp(torch.tensor([[math.pi / 2, 0.0, 0.0]], dtype=torch.float64))  # sensor y axis points up
    R = about_x.unsqueeze(1).expand(1, 4, 3, 3)
    linear = torch.tensor([[[0.0, 0.0, 0.5]] * 4], dtype=torch.float64)  # upward, in the world frame
    _, accel = measure(KinematicState(R, torch.zeros(1, 4, 3, dtype=torch.float64), linear), DT, 9.80665)
    torch.testing.assert_close(accel[0, 0], torch.tensor([0.0, 9.80665 + 0.5, 0.0], dtype=torch.float64))


@pytest.mark.parametrize("gravity", [1.0, -9.80665])
def test_the_fitted_start_recovers_the_tilt_and_keeps_the_heading(gravity):
    g = torch.Generator().manual_seed(3)
    w = torch.randn(4, 50, 3, generator=g, dtype=torch.float64)
    true_start = so3_exp(torch.randn(4, 3, generator=g, dtype=torch.float64))
    linear = torch.randn(4, 50, 3, generator=g, dtype=torch.float64)
    linear = linear - linear.mean(dim=1, keepdim=True)
    _, accel = measure(KinematicState(integrate(true_start, w, DT), w, linear), DT, gravity)
    guess = so3_exp(torch.randn(4, 3, generator=g, dtype=torch.float64))
    start = fitted_start(guess, turns(w, DT), accel, gravity)
    torch.testing.assert_close(start @ start.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(4, 3, 3))
    torch.testing.assert_close(torch.linalg.det(start), torch.ones(4, dtype=torch.float64))
    up = true_start[:, 2]
    torch.testing.assert_close(start[:, 2], up)  # the world's up in the sensor's frame
    heading = guess[:, 0] - (guess[:, 0] * up).sum(-1, keepdim=True) * up
    torch.testing.assert_close(start[:, 0], heading / heading.norm(dim=-1, keepdim=True))


def test_the_fitted_rate_takes_the_window_mean_from_the_gyroscope_and_keeps_the_rest():
    g = torch.Generator().manual_seed(4)
    gyro = torch.randn(4, 50, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(4, 1, 3, generator=g, dtype=torch.float64)
    decoded = gyro + bias + 0.1 * torch.randn(4, 50, 3, generator=g, dtype=torch.float64)
    w = fitted_rate(decoded, gyro)
    torch.testing.assert_close(w - decoded, (w - decoded)[:, :1].expand(4, 50, 3))  # one offset per window
    # The decoded turn ends the window where the measured one does, whatever the bias.
    between = (gyro[:, :-1] + gyro[:, 1:]) / 2
    torch.testing.assert_close((w[:, :-1] - between).sum(dim=1), torch.zeros(4, 3, dtype=torch.float64))


def test_r2_and_angles():
    measured = np.random.default_rng(0).normal(size=(100, 3))
    assert r2(measured, measured) == 1.0
    assert r2(np.zeros_like(measured) + measured.mean(0), measured) == pytest.approx(0.0)
    assert angle_deg(np.array([1.0, 0, 0]), np.array([1.0, 1.0, 0])) == pytest.approx(45.0)


def motion_windows(n: int, length: int, seed: int) -> torch.Tensor:
    """Windows (n, 6, length) of a gyroscope (channels 0-2) and an accelerometer in g (3-5)
    carried through smooth random motions by the measurement model itself: data that a
    kinematic latent can explain exactly."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64) * DT
    freq = 0.5 + 2.5 * torch.rand(n, 1, 3, generator=g, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(n, 1, 3, generator=g, dtype=torch.float64)
    w = 1.5 * torch.sin(2 * math.pi * freq * t.view(1, -1, 1) + phase)
    linear = 0.2 * torch.cos(2 * math.pi * freq.flip(-1) * t.view(1, -1, 1) + phase)
    linear = linear - linear.mean(dim=1, keepdim=True)
    R = integrate(so3_exp(torch.randn(n, 3, generator=g, dtype=torch.float64)), w, DT)
    _, accel = measure(KinematicState(R, w, linear), DT, 1.0)
    return torch.cat([w, accel], dim=-1).transpose(1, 2).float()


STEPS = 100
CFG = BILMConfig(input_channels=6, seq_length=64, num_classes=2, hidden_dim=16, latent_dim=16, base_channels=8,
                 latent_sequence="kinematic", accel_triple=1, gyro_triple=0, sampling_rate=RATE,
                 w_ce=0.0, w_recon=0.0, w_kl=0.0, w_biomech=1.0, w_smoothness=0.0, dropout=0.0)


@torch.no_grad()
def physics_loss(model: BILMClassifier, x: torch.Tensor) -> float:
    out = model.forward_all(x)
    return float(bilm_loss(out, x, torch.zeros(len(x), dtype=torch.long), model.biomech_module, CFG).biomech)


def test_a_gyroscope_bias_drifts_the_turn_by_its_integral():
    """A bias too small to matter in the gyroscope's squared error turns the orientation
    further at every sample: the turn-drift term is the mean squared angle it adds up to."""
    module = BILMClassifier.from_config(CFG).biomech_module
    T, bias = 64, torch.tensor([0.05, 0.0, 0.0])
    measured = torch.tensor([0.3, -0.2, 1.0]).expand(1, T, 3)  # a steady turn, rad/s
    x = torch.cat([measured, torch.zeros(1, T, 3)], dim=-1).transpose(1, 2)  # gyro_triple 0, accel 1
    w = measured + bias
    state = KinematicState(turns(w, DT), w, torch.zeros(1, T, 3))
    terms = module.biomechanical_terms(state, x)
    steps = torch.arange(1, T, dtype=torch.float32)
    torch.testing.assert_close(terms.gyro_agreement, bias.square().sum() / 3)
    torch.testing.assert_close(terms.turn_drift, (bias.square().sum() * DT**2 * steps.square()).mean())
    exact = KinematicState(turns(measured, DT), measured, torch.zeros(1, T, 3))
    assert float(module.biomechanical_terms(exact, x).turn_drift) < 1e-10


@pytest.mark.parametrize(("start", "mean_rate"), [(start, KINEMATIC_MEAN_RATES[0]) for start in KINEMATIC_STARTS]
                         + [(KINEMATIC_STARTS[1], KINEMATIC_MEAN_RATES[1])])
def test_the_physics_loss_has_no_trivial_zero(start, mean_rate):
    torch.manual_seed(0)
    x = motion_windows(32, 64, seed=1)
    cfg = dataclasses.replace(CFG, kinematic_start=start, kinematic_mean_rate=mean_rate)
    model = BILMClassifier.from_config(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(STEPS):
        optimizer.zero_grad()
        out = model.forward_all(x)
        bilm_loss(out, x, torch.zeros(len(x), dtype=torch.long), model.biomech_module, CFG).total.backward()
        optimizer.step()
    model.eval()
    trained = physics_loss(model, x)

    # The constraint's own weights at zero: no motion, no orientation, nothing explained.
    silent = BILMClassifier.from_config(cfg)
    silent.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in silent.biomech_module.parameters():
            p.zero_()
    # A constant latent sequence: the same latent for every window and step.
    constant = BILMClassifier.from_config(cfg)
    constant.load_state_dict(model.state_dict())
    constant.eval()
    with torch.no_grad():
        z = model.forward_all(x).z.mean(dim=0, keepdim=True)
        state = constant.biomech_module.decode(z.unsqueeze(1).expand(len(x), 8, -1), z.expand(len(x), -1), x)
        held = float(constant.biomech_module.biomechanical_loss(state, x))
    zero = physics_loss(silent.eval(), x)
    assert trained < 0.2 * zero
    assert trained < 0.2 * held


@pytest.mark.parametrize("step", KINEMATIC_STEPS)
def test_the_kinematic_sequence_has_a_latent_per_step_and_a_state_per_sample(step):
    model = BILMClassifier.from_config(dataclasses.replace(CFG, kinematic_step=step))
    out = model.forward_all(motion_windows(2, 64, seed=0))
    assert out.z_sequence.shape == (2, 64 // step, CFG.latent_dim)
    assert out.kinematics.angular_velocity.shape == (2, 64, 3)
    assert out.kinematics.orientation.shape == (2, 64, 3, 3)


def test_a_finer_kinematic_step_is_for_the_kinematic_latent_only():
    with pytest.raises(ValueError, match="kinematic_step=4 needs latent_sequence='kinematic'"):
        BILMConfig(latent_sequence="temporal", kinematic_step=4)
    with pytest.raises(ValueError, match=r"kinematic_step must be one of \(8, 4, 2\), got 3"):
        dataclasses.replace(CFG, kinematic_step=3)
    with pytest.raises(ValueError, match="kinematic_step must be one of"):
        BILMClassifier(6, 16, 16, 2, 64, latent_sequence="temporal", kinematic_step=2)


def test_a_fitted_start_is_for_the_kinematic_latent_only():
    with pytest.raises(ValueError, match="kinematic_start='accelerometer' needs latent_sequence='kinematic'"):
        BILMConfig(latent_sequence="temporal", kinematic_start="accelerometer")
    with pytest.raises(ValueError, match="kinematic_start must be one of latent, accelerometer; got 'gyro'"):
        dataclasses.replace(CFG, kinematic_start="gyro")


def test_a_measured_mean_rate_is_for_the_kinematic_latent_only():
    with pytest.raises(ValueError, match="kinematic_mean_rate='gyroscope' needs latent_sequence='kinematic'"):
        BILMConfig(latent_sequence="temporal", kinematic_mean_rate="gyroscope")
    with pytest.raises(ValueError, match="kinematic_mean_rate must be one of latent, gyroscope; got 'accel'"):
        dataclasses.replace(CFG, kinematic_mean_rate="accel")


def test_the_turn_drift_is_for_the_kinematic_latent_only():
    with pytest.raises(ValueError, match="w_turn_consistency=10.0 needs latent_sequence='kinematic'"):
        BILMConfig(latent_sequence="temporal", w_turn_consistency=10.0)
    assert dataclasses.replace(CFG, w_turn_consistency=10.0).w_turn_consistency == 10.0


def test_the_kinematic_preset_is_the_default_with_the_physics_on_and_minirockets_ridge():
    default, kinematic = get_preset("default"), get_preset("kinematic")
    changed = {f.name for f in dataclasses.fields(BILMConfig) if getattr(default, f.name) != getattr(kinematic, f.name)}
    assert changed == {"latent_sequence", "kinematic_step", "kinematic_start", "w_biomech",
                       "w_accel_consistency", "w_velocity_consistency", "rocket_ridge"}
    assert kinematic.latent_sequence == "kinematic" and kinematic.kinematic_start == "accelerometer"


def test_a_kinematic_run_reports_its_physics_and_plots_the_tilt(tmp_path, capsys):
    data = make_dataset(tmp_path / "data.npz", per_subject=10)
    run = train_tiny(data, tmp_path / "kinematic", "--preset", "kinematic", epochs=1)
    physics = json.loads((run / "report.json").read_text())["physics"]
    assert sorted(physics) == ["accel_r2", "gravity_angle_deg_median", "gyro_r2"]
    assert all(math.isfinite(v) for v in physics.values())
    assert 0 <= physics["gravity_angle_deg_median"] <= 180
    assert plot_main([str(run), "--device", "cpu", "--out", str(tmp_path / "figures")]) == 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["joints.png", "latent.png", "posture.png"]
