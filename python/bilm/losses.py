"""The BILM training objective in one place (the notebook's train_bilm):

    total = w_ce * CE(logits, y) + w_recon * MSE(x_recon, x) + w_kl * KL(mu, logvar)
          + w_biomech * biomech(z_sequence)

with the notebook's weights 1, 0.1, 0.01, 0.05, and the biomechanical loss

    biomech = 1 * velocity_consistency + 1 * accel_consistency
            + 0.1 * velocity_violation + 0.1 * accel_violation + 0.01 * smoothness

whose terms `bilm.model.BiomechanicalConstraintModule` computes from the latent sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from bilm.config import BILMConfig
    from bilm.kinematics import KinematicConstraintModule
    from bilm.model import BiomechanicalConstraintModule, BILMOutput


class LossTerms(NamedTuple):
    """The weighted total and the unweighted terms, each a 0-dim tensor."""

    total: Tensor
    ce: Tensor
    recon: Tensor
    kl: Tensor
    biomech: Tensor


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) summed over the latent, averaged over the batch."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / mu.size(0)


def labelled_cross_entropy(logits: Tensor, y: Tensor, label_smoothing: float) -> Tensor:
    """The mean cross-entropy of the windows with a label; those without one (y = -1) add
    nothing, and a batch of none gives 0."""
    each = F.cross_entropy(logits, y, ignore_index=-1, label_smoothing=label_smoothing, reduction="none")
    return each.sum() / (y >= 0).sum().clamp_min(1)


def bilm_loss(out: BILMOutput, x: Tensor, y: Tensor,
              biomech_module: BiomechanicalConstraintModule | KinematicConstraintModule,
              cfg: BILMConfig, pseudo: Tensor | None = None) -> LossTerms:
    """The total loss of one batch and its terms.

    The weights and label smoothing come from `cfg`; the biomechanical term's own limits and
    weights from `biomech_module`. A term whose weight is 0 is an ablation switch: it is not
    computed, and reported as 0. With label_subjects, the cross-entropy is the mean over the
    labelled windows, plus (self-training) the mean over the windows `pseudo` labels (-1: none),
    so that however many windows get a pseudo-label, the real labels weigh as much as all of them.
    """
    zero = out.logits.new_zeros(())
    if not cfg.w_ce:
        ce = zero
    elif cfg.label_subjects:
        ce = labelled_cross_entropy(out.logits, y, cfg.label_smoothing)
        if pseudo is not None:
            ce = ce + labelled_cross_entropy(out.logits, pseudo, cfg.label_smoothing)
    else:
        ce = F.cross_entropy(out.logits, y, label_smoothing=cfg.label_smoothing)
    if cfg.w_recon and out.x_recon is None:
        raise ValueError("w_recon > 0 but the model has no decoder (built with reconstruct=False)")
    recon = F.mse_loss(out.x_recon, x) if cfg.w_recon else zero
    kl = kl_divergence(out.mu, out.logvar) if cfg.w_kl else zero
    if not cfg.w_biomech:
        biomech = zero
    elif out.kinematics is not None:  # the kinematic latent is checked against the measured signals
        biomech = biomech_module.biomechanical_loss(out.kinematics, x)
    else:
        biomech = biomech_module.biomechanical_loss(out.z_sequence)
    total = cfg.w_ce * ce + cfg.w_recon * recon + cfg.w_kl * kl + cfg.w_biomech * biomech
    return LossTerms(total, ce, recon, kl, biomech)
