"""K BILM networks trained side by side (config field `ensemble`); the prediction is the mean
of their probabilities. An ensemble of one is the notebook's network itself. With
`rocket_ridge`, MiniRocket's ridge classifier (`bilm.ridge`) stands beside them, and the
prediction is the mean of its probabilities and theirs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bilm.config import BILMConfig
from bilm.model import BILMClassifier, BILMOutput
from bilm.ridge import RidgeHead, mix

ROCKET_BATCH = 512  # windows per pass of the MiniRocket bank: its outputs are 84 x 15 x L per window


class BILMEnsemble(nn.Module):
    """K BILM networks trained side by side; the prediction is the mean of their probabilities.

    The members differ only in their initial weights and dropout draws: they see the same
    batches and augmentations, and each gets exactly the gradient it would get alone (the
    training loss is the sum of theirs; gradients are clipped per member). Averaging what
    they predict cancels part of what each learned by chance from the training subjects.
    An ensemble of one is the network itself, with the same initial weights for the same seed.
    """

    def __init__(self, members: Sequence[BILMClassifier], ridge: RidgeHead | None = None):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one network")
        if ridge is not None and members[0].rocket is None:
            raise ValueError("a ridge classifier reads the MiniRocket features: the networks have none")
        self.members = nn.ModuleList(members)
        self.ridge = ridge

    @classmethod
    def from_config(cls, cfg: BILMConfig) -> BILMEnsemble:
        """cfg.ensemble networks of `BILMClassifier.from_config(cfg)`, initialised one after
        another, and with cfg.rocket_ridge an unfitted ridge classifier beside them."""
        members = [BILMClassifier.from_config(cfg) for _ in range(cfg.ensemble)]
        ridge = RidgeHead(members[0].rocket.num_features, cfg.num_classes) if cfg.rocket_ridge else None
        return cls(members, ridge)

    def rocket_of(self, x: Tensor, rocket: Tensor | None = None) -> Tensor | None:
        """x's MiniRocket features: `rocket` if given, else computed (None without a bank)."""
        bank = self.members[0].rocket
        return bank(x) if rocket is None and bank is not None else rocket

    def forward_all(self, x: Tensor, rocket: Tensor | None = None) -> list[BILMOutput]:
        """Each member's `BILMClassifier.forward_all` of x, in member order; x's MiniRocket
        features, if the model has them and they are not given, computed once for all members."""
        rocket = self.rocket_of(x, rocket)
        return [member.forward_all(x, rocket) for member in self.members]

    def log_probabilities(self, outs: Sequence[BILMOutput], rocket: Tensor | None) -> Tensor:
        """The prediction's log-probabilities (B, num_classes) from the members' outputs and,
        with a fitted ridge classifier, the windows' MiniRocket features."""
        networks = mean_log_probabilities([out.logits for out in outs])
        if self.ridge is None or not self.ridge.fitted:
            return networks
        return mix(networks, self.ridge.log_probabilities(rocket))

    def rocket_features(self, X: Tensor) -> Tensor | None:
        """The MiniRocket features of the (standardised) windows X, in batches, or None for a
        model without them. Every member draws the same bank from the same seed."""
        bank = self.members[0].rocket
        if bank is None:
            return None
        return torch.cat([bank(X[i:i + ROCKET_BATCH]) for i in range(0, len(X), ROCKET_BATCH)]
                         or [X.new_zeros((0, bank.num_features))])

    def forward(self, x: Tensor, rocket: Tensor | None = None) -> Tensor:
        """Class probabilities (B, num_classes): the mean of the members' softmax (and the ridge's)."""
        rocket = self.rocket_of(x, rocket)
        return self.log_probabilities(self.forward_all(x, rocket), rocket).exp()

    def clip_grad_norm_(self, max_norm: float) -> None:
        """Clip each member's gradient norm on its own, as it would be clipped alone."""
        for member in self.members:
            torch.nn.utils.clip_grad_norm_(member.parameters(), max_norm)


def mean_log_probabilities(logits: Sequence[Tensor]) -> Tensor:
    """log(mean over members of softmax(logits)), (B, num_classes): the ensemble's logits,
    computed in log space so that a confident member does not round to log(0)."""
    log_probs = torch.stack([F.log_softmax(member_logits, dim=1) for member_logits in logits])
    return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))
