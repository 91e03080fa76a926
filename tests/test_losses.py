"""Each loss term against numbers worked out by hand on tiny tensors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from bilm.config import get_preset
from bilm.losses import bilm_loss, kl_divergence
from bilm.model import BiomechanicalConstraintModule, BiomechTerms, BILMOutput, biomechanical_terms

torch.set_num_threads(1)
PI = math.pi
ATANH_HALF = math.atanh(0.5)  # tanh of it is 0.5, so the joint angle is half the range


def test_kl_divergence_sums_latent_and_averages_batch():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # Per element 1 + logvar - mu^2 - exp(logvar): -1, ln2 - 1, 0, 0; times -1/2, over batch 2.
    expected = -0.5 * (-1 + math.log(2.0) - 1) / 2
    assert kl_divergence(mu, logvar).item() == pytest.approx(expected, rel=1e-6)


def test_kl_divergence_is_zero_at_the_prior():
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == 0.0


def test_biomechanical_terms_by_hand():
    # One sequence, 3 steps, 2 joints: velocities (3, 4), (6, 8) (norms 5, 10), acceleration (3, 4).
    angles = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [9.0, 12.0]]])
    velocity_pred = torch.zeros(1, 2, 2)
    accel_pred = torch.ones(1, 1, 2)
    terms = biomechanical_terms(angles, velocity_pred, accel_pred, velocity_limit=4.0, acceleration_limit=2.0)
    expected = BiomechTerms(
        velocity_consistency=(9 + 16 + 36 + 64) / 4,
        accel_consistency=((3 - 1) ** 2 + (4 - 1) ** 2) / 2,
        velocity_violation=((5 - 4) + (10 - 4)) / 2,
        accel_violation=5 - 2,
        smoothness=(9 + 16 + 36 + 64) / 4,
    )
    for name, value in zip(BiomechTerms._fields, terms):
        assert value.item() == pytest.approx(getattr(expected, name), rel=1e-6), name


def test_limits_below_the_norm_do_not_penalise():
    angles = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [9.0, 12.0]]])
    terms = biomechanical_terms(angles, torch.zeros(1, 2, 2), torch.zeros(1, 1, 2), 10.0, 5.0)
    assert terms.velocity_violation.item() == 0.0
    assert terms.accel_violation.item() == 0.0


def _hand_set_module(**kwargs) -> BiomechanicalConstraintModule:
    """Latent 3, 2 joints: angle_j = scale * tanh(relu(z_j)) for j = 0, 1 (z_2 unused);
    predicted velocity is the constant (1, 0), predicted acceleration (0, 0)."""
    module = BiomechanicalConstraintModule(3, num_joints=2, **kwargs)
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
        first, second = module.joint_mapper[0], module.joint_mapper[2]
        first.weight[0, 0] = first.weight[1, 1] = 1.0
        second.weight[0, 0] = second.weight[1, 1] = 1.0
        module.velocity_net[2].bias[0] = 1.0
    return module


def test_biomechanical_loss_of_hand_set_module():
    weights = dict(w_velocity_consistency=1.0, w_accel_consistency=2.0, w_velocity_violation=3.0,
                   w_accel_violation=4.0, w_smoothness=5.0)
    module = _hand_set_module(velocity_limit=1.0, acceleration_limit=2.0, **weights)
    a = ATANH_HALF
    z_sequence = torch.tensor([[[0.0, 0.0, 7.0], [a, 0.0, 7.0], [a, a, 7.0]]])
    # Angles (0, 0), (pi/2, 0), (pi/2, pi/2): velocities (pi/2, 0), (0, pi/2), acceleration (-pi/2, pi/2).
    angles = module.compute_joint_angles(z_sequence)
    torch.testing.assert_close(angles, torch.tensor([[[0.0, 0.0], [PI / 2, 0.0], [PI / 2, PI / 2]]]))
    velocity_consistency = ((1 - PI / 2) ** 2 + 0 + 1 + (PI / 2) ** 2) / 4
    accel_consistency = (PI / 2) ** 2
    velocity_violation = PI / 2 - 1
    accel_violation = PI / math.sqrt(2) - 2
    smoothness = (PI / 2) ** 2 / 2
    expected = (1 * velocity_consistency + 2 * accel_consistency + 3 * velocity_violation
                + 4 * accel_violation + 5 * smoothness)
    assert module.biomechanical_loss(z_sequence).item() == pytest.approx(expected, rel=1e-5)


def test_notebook_weights_are_the_default():
    module = _hand_set_module(velocity_limit=1.0, acceleration_limit=2.0)
    a = ATANH_HALF
    z_sequence = torch.tensor([[[0.0, 0.0, 0.0], [a, 0.0, 0.0], [a, a, 0.0]]])
    t = module.biomechanical_terms(z_sequence)
    expected = (t.velocity_consistency + t.accel_consistency + 0.1 * t.velocity_violation
                + 0.1 * t.accel_violation + 0.01 * t.smoothness)
    assert module.biomechanical_loss(z_sequence).item() == pytest.approx(expected.item(), rel=1e-6)


def test_per_joint_angle_limits():
    module = _hand_set_module(angle_min=(0.0, -1.0), angle_max=(PI, 1.0))
    angles = module.compute_joint_angles(torch.tensor([[ATANH_HALF, ATANH_HALF, 0.0], [-5.0, 0.0, 0.0]]))
    # tanh = 0.5 -> 3/4 of the way up each range; relu(-5) = 0 -> the middle of the range.
    torch.testing.assert_close(angles, torch.tensor([[0.75 * PI, 0.5], [PI / 2, 0.0]]))


@pytest.mark.parametrize("angle_min, angle_max", [(1.0, 1.0), ((0.0, 0.0), (1.0, 0.0)), ((0.0,), (1.0,))])
def test_bad_angle_limits_are_rejected(angle_min, angle_max):
    with pytest.raises(ValueError):
        BiomechanicalConstraintModule(3, num_joints=2, angle_min=angle_min, angle_max=angle_max)


def test_sequences_shorter_than_three_steps_are_rejected():
    with pytest.raises(ValueError, match="steps >= 3"):
        _hand_set_module().biomechanical_loss(torch.zeros(1, 2, 3))


class _FixedBiomech(nn.Module):
    """Stands in for the constraint module: a known biomechanical loss, or none at all."""

    def __init__(self, value: float | None):
        super().__init__()
        self.value = value

    def biomechanical_loss(self, z_sequence):
        if self.value is None:
            raise AssertionError("a term with weight 0 must not be computed")
        return torch.tensor(self.value)


def _output(x_recon):
    # Two classes, logits (0, ln 3): p(class 1) = 3/4.
    return BILMOutput(
        logits=torch.tensor([[0.0, math.log(3.0)]]), x_recon=x_recon,
        mu=torch.tensor([[1.0, 0.0]]), logvar=torch.zeros(1, 2), z=torch.zeros(1, 2),
        z_sequence=torch.zeros(1, 3, 2),
    )


def test_bilm_loss_weights_every_term():
    cfg = dataclasses.replace(get_preset("seed"), num_classes=2, w_ce=2.0, w_recon=0.5, w_kl=0.25,
                              w_biomech=4.0, label_smoothing=0.1)
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    terms = bilm_loss(_output(torch.zeros(1, 1, 4)), x, torch.tensor([1]), _FixedBiomech(0.75), cfg)
    ce = 0.9 * math.log(4 / 3) + 0.1 * (math.log(4) + math.log(4 / 3)) / 2
    recon = (1 + 4 + 9 + 16) / 4
    kl = 0.5  # -1/2 (1 + 0 - 1 - 1)
    assert terms.ce.item() == pytest.approx(ce, rel=1e-6)
    assert terms.recon.item() == pytest.approx(recon)
    assert terms.kl.item() == pytest.approx(kl)
    assert terms.biomech.item() == pytest.approx(0.75)
    assert terms.total.item() == pytest.approx(2 * ce + 0.5 * recon + 0.25 * kl + 4 * 0.75, rel=1e-6)
    assert all(t.dim() == 0 for t in terms)


def test_zero_weights_skip_their_terms():
    cfg = dataclasses.replace(get_preset("seed"), num_classes=2, w_recon=0.0, w_kl=0.0, w_biomech=0.0)
    terms = bilm_loss(_output(None), torch.zeros(1, 1, 4), torch.tensor([1]), _FixedBiomech(None), cfg)
    assert (terms.recon.item(), terms.kl.item(), terms.biomech.item()) == (0.0, 0.0, 0.0)
    assert terms.total.item() == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_reconstruction_weight_without_a_decoder_is_an_error():
    cfg = dataclasses.replace(get_preset("seed"), num_classes=2)
    with pytest.raises(ValueError, match="no decoder"):
        bilm_loss(_output(None), torch.zeros(1, 1, 4), torch.tensor([1]), _FixedBiomech(0.0), cfg)


def test_windows_without_labels_add_nothing_to_the_cross_entropy():
    cfg = dataclasses.replace(get_preset("seed"), num_classes=2, label_subjects=1, w_recon=0.0, w_kl=0.0,
                              w_biomech=0.0)
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 3.0]])
    out = BILMOutput(logits, None, torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 3, 2))
    some = bilm_loss(out, torch.zeros(3, 1, 4), torch.tensor([0, -1, 1]), None, cfg).ce
    torch.testing.assert_close(some, F.cross_entropy(logits[[0, 2]], torch.tensor([0, 1])))
    assert bilm_loss(out, torch.zeros(3, 1, 4), torch.tensor([-1, -1, -1]), None, cfg).ce == 0


def test_pseudo_labels_add_their_own_mean_so_the_real_labels_weigh_as_much_as_all_of_them():
    cfg = dataclasses.replace(get_preset("seed"), num_classes=2, label_subjects=1, pseudo_label_threshold=0.8,
                              w_recon=0.0, w_kl=0.0, w_biomech=0.0)
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5], [-3.0, 3.0], [1.0, 0.0]])
    out = BILMOutput(logits, None, torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 2), torch.zeros(4, 3, 2))
    y, pseudo = torch.tensor([0, -1, -1, -1]), torch.tensor([-1, 1, 1, 0])
    ce = bilm_loss(out, torch.zeros(4, 1, 4), y, None, cfg, pseudo).ce
    expected = F.cross_entropy(logits[[0]], y[[0]]) + F.cross_entropy(logits[1:], pseudo[1:])
    torch.testing.assert_close(ce, expected)
    no_pseudo = torch.full((4,), -1)
    torch.testing.assert_close(bilm_loss(out, torch.zeros(4, 1, 4), y, None, cfg, no_pseudo).ce,
                               F.cross_entropy(logits[[0]], y[[0]]))
