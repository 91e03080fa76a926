"""The BILM training objective in one place (the notebook's train_bilm):

    total = w_ce * CE(logits, y) + w_recon * MSE(x_recon, x) + w_kl * KL(mu, logvar)
          + w_biomech * biomech(z_sequence)

with the notebook's weights 1, 0.1, 0.01, 0.05, and the biomechanical loss

    biomech = 1 * velocity_consistency + 1 * accel_consistency
            + 0.1 * velocity_violation + 0.1 * accel_violation + 0.01 * smoothness

whose terms `biomechanical_terms` computes from joint angles and the velocities and
accelerations the latents predict (`BiomechanicalConstraintModule` maps latents to those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from bilm.config import BILMConfig
    from bilm.model import BiomechanicalConstraintModule, BILMOutput


class LossTerms(NamedTuple):
    """The weighted total and the unweighted terms, each a 0-dim tensor."""

    total: Tensor
    ce: Tensor
    recon: Tensor
    kl: Tensor
    biomech: Tensor


class BiomechTerms(NamedTuple):
    """The five unweighted terms of the biomechanical loss."""

    velocity_consistency: Tensor  # MSE(predicted velocity, finite-difference velocity)
    accel_consistency: Tensor  # MSE(predicted acceleration, finite-difference acceleration)
    velocity_violation: Tensor  # mean over (b, t) of relu(||velocity_bt|| - velocity_limit)
    accel_violation: Tensor  # mean over (b, t) of relu(||accel_bt|| - acceleration_limit)
    smoothness: Tensor  # mean squared finite-difference velocity


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over the latent, averaged over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.size(0)


def biomechanical_terms(angles: Tensor, velocity_pred: Tensor, accel_pred: Tensor,
                        velocity_limit: float, acceleration_limit: float) -> BiomechTerms:
    """The biomechanical terms of a joint-angle sequence.

    angles: (B, T, J) in radians. velocity_pred: (B, T-1, J), the velocity predicted at steps
    0 .. T-2; accel_pred: (B, T-2, J), the acceleration predicted at steps 0 .. T-3. Velocity is
    angle(t+1) - angle(t) in rad per step, acceleration velocity(t+1) - velocity(t); the limits
    bound the L2 norm over the joints at each step.
    """
    velocity = angles[:, 1:] - angles[:, :-1]
    accel = velocity[:, 1:] - velocity[:, :-1]
    return BiomechTerms(
        velocity_consistency=torch.mean((velocity_pred - velocity) ** 2),
        accel_consistency=torch.mean((accel_pred - accel) ** 2),
        velocity_violation=torch.relu(torch.linalg.vector_norm(velocity, dim=-1) - velocity_limit).mean(),
        accel_violation=torch.relu(torch.linalg.vector_norm(accel, dim=-1) - acceleration_limit).mean(),
        smoothness=torch.mean(velocity**2),
    )


def bilm_loss(out: BILMOutput, x: Tensor, y: Tensor, biomech_module: BiomechanicalConstraintModule,
              cfg: BILMConfig) -> LossTerms:
    """The total loss of one batch and its terms.

    The weights and label smoothing come from `cfg`; the biomechanical term's own limits and
    weights from `biomech_module`. A term whose weight is 0 is an ablation switch: it is not
    computed, and reported as 0.
    """
    zero = out.logits.new_zeros(())
    ce = F.cross_entropy(out.logits, y, label_smoothing=cfg.label_smoothing) if cfg.w_ce else zero
    if cfg.w_recon and out.x_recon is None:
        raise ValueError("w_recon > 0 but the model has no decoder (built with reconstruct=False)")
    recon = F.mse_loss(out.x_recon, x) if cfg.w_recon else zero
    kl = kl_divergence(out.mu, out.logvar) if cfg.w_kl else zero
    biomech = biomech_module.biomechanical_loss(out.z_sequence) if cfg.w_biomech else zero
    total = cfg.w_ce * ce + cfg.w_recon * recon + cfg.w_kl * kl + cfg.w_biomech * biomech
    return LossTerms(total, ce, recon, kl, biomech)
