"""The pieces of the training loop: batch order, one optimisation step, one evaluation pass.

The data live on the device as whole tensors and a batch is an index into them: no Dataset,
no collate, no per-sample Python. Running sums stay on the device too, so a step never waits
for the GPU; the host reads them once per epoch (or at a checkpoint).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bilm.config import BILMConfig
from bilm.distributed import World, all_reduce
from bilm.losses import bilm_loss
from bilm.ensemble import BILMEnsemble

EVAL_BATCH = 512  # no gradients are kept, so evaluation can take larger batches


class Objective(nn.Module):
    """Model plus loss as one module: DDP and torch.compile then wrap a single forward."""

    def __init__(self, model: BILMEnsemble, cfg: BILMConfig):
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(self, x: Tensor, y: Tensor, rocket: Tensor | None = None,
                pseudo: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(total loss, logits) of a standardised batch: the sum of the members' losses and the
        log of their mean probabilities (and the ridge classifier's, if fitted). `rocket`: the
        batch's MiniRocket features, if known; `pseudo`: its pseudo-labels, if self-training."""
        rocket = self.model.rocket_of(x, rocket)
        outs = self.model.forward_all(x, rocket)
        losses = [bilm_loss(out, x, y, member.biomech_module, self.cfg, pseudo).total
                  for out, member in zip(outs, self.model.members)]
        return torch.stack(losses).sum(), self.model.log_probabilities(outs, rocket)


def steps_per_epoch(n: int, batch_size: int, world: World) -> int:
    """Batches in an epoch: the last one may be short, but every rank must get a window of it."""
    steps = math.ceil(n / batch_size)
    return steps - 1 if 0 < n % batch_size < world.size else steps


def derive_seed(*keys: int) -> int:
    """A seed for the stream named by `keys`, independent of every other tuple of keys."""
    return int(np.random.SeedSequence(keys).generate_state(1, np.uint64)[0] >> 1)


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The permutation of the n training windows in `epoch`, a function of (seed, epoch) alone,
    so a resumed run can rebuild it without having saved it."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed(seed, epoch)))


def autocast(device: torch.device, amp: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; float32 elsewhere (CPU stays exact and deterministic)."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(objective: nn.Module, model: BILMEnsemble, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
               cfg: BILMConfig, amp: contextlib.AbstractContextManager,
               rocket: Tensor | None = None, pseudo: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One optimisation step of `objective` (the Objective of `model`, maybe wrapped by DDP or
    torch.compile); returns the (detached) loss and logits without syncing."""
    optimizer.zero_grad(set_to_none=True)
    with amp:
        loss, logits = objective(x, y, rocket, pseudo)
    loss.backward()
    if cfg.grad_clip > 0:
        model.clip_grad_norm_(cfg.grad_clip)
    optimizer.step()
    return loss.detach(), logits.detach()


@dataclass
class EpochTotals:
    """Running sums of the training part of an epoch, on the device until `reduced` is read."""

    loss: Tensor  # sum over batches of the batch's mean loss x its size
    correct: Tensor
    count: Tensor
    labelled: Tensor  # windows with a label: all of them unless label_subjects
    first_bad_step: Tensor  # the first step whose loss was not finite, -1 if none
    seconds: float = 0.0  # wall time of the steps so far

    @classmethod
    def zeros(cls, device: torch.device) -> EpochTotals:
        z = torch.zeros((), device=device)  # float32: MPS has no float64
        return cls(z.clone(), z.clone(), z.clone(), z.clone(), torch.full((), -1, dtype=torch.int64, device=device))

    @property
    def accuracy(self) -> Tensor:
        return self.correct / self.labelled.clamp_min(1)

    def add(self, step: int, loss: Tensor, logits: Tensor, y: Tensor) -> None:
        n = y.shape[0]
        self.loss += loss.float() * n
        self.correct += (logits.argmax(dim=1) == y).sum()  # a window without its label (-1) is never right
        self.labelled += (y >= 0).sum()
        self.count += n
        bad = ~torch.isfinite(loss) & (self.first_bad_step < 0)
        self.first_bad_step = torch.where(bad, step, self.first_bad_step)

    def reduced(self, world: World) -> EpochTotals:
        """The totals of all ranks: the sums added up, the earliest bad step. Reading the
        result waits for the device, so call it at checkpoints and epoch ends only."""
        loss, correct, count, labelled = all_reduce(torch.stack([self.loss, self.correct, self.count,
                                                                 self.labelled]), world)
        never = torch.iinfo(torch.int64).max
        bad = all_reduce(torch.where(self.first_bad_step < 0, never, self.first_bad_step), world, "min")
        return EpochTotals(loss, correct, count, labelled, torch.where(bad == never, -1, bad), self.seconds)

    def state_dict(self) -> dict[str, Tensor | float]:
        return {"loss": self.loss.cpu(), "correct": self.correct.cpu(), "count": self.count.cpu(),
                "labelled": self.labelled.cpu(), "first_bad_step": self.first_bad_step.cpu(),
                "seconds": self.seconds}

    @classmethod
    def from_state(cls, state: dict, device: torch.device) -> EpochTotals:
        # A last.pt of an earlier version has no "labelled": every window had its label then.
        state = {"labelled": state["count"], **state}
        return cls(*(state[k].to(device) for k in ("loss", "correct", "count", "labelled", "first_bad_step")),
                   seconds=float(state["seconds"]))


@dataclass(frozen=True)
class Evaluation:
    loss: float
    logits: Tensor  # (N, K), on the CPU


@torch.inference_mode()
def evaluate(objective: Objective, X: Tensor, y: Tensor, amp: contextlib.AbstractContextManager,
             rocket: Tensor | None = None) -> Evaluation:
    """The objective's mean loss and the logits of every (standardised) window, in eval mode
    (`rocket`: the windows' MiniRocket features, if known)."""
    was_training = objective.training
    objective.eval()
    total = torch.zeros((), device=X.device)
    logits = []
    for i in range(0, len(X), EVAL_BATCH):
        xb, yb = X[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH]
        with amp:
            loss, batch_logits = objective(xb, yb, None if rocket is None else rocket[i:i + EVAL_BATCH])
        total += loss.float() * len(yb)
        logits.append(batch_logits.float())
    objective.train(was_training)
    return Evaluation(total.item() / max(len(X), 1), torch.cat(logits).cpu())


@torch.no_grad()
def pseudo_labels(model: BILMEnsemble, X: Tensor, y: Tensor, threshold: float, amp: contextlib.AbstractContextManager,
                  rocket: Tensor | None = None) -> Tensor:
    """The pseudo-labels of self-training: for each unlabeled window (y = -1) that the model,
    in eval mode, gives a class with aligned probability >= threshold, that class; -1 for every
    other window. X: the clean, standardised windows of y. Eval mode draws no random numbers,
    so the run's streams are those of a run without it.

    The probabilities are first aligned with the labelled windows' class frequencies
    (distribution alignment, as in ReMixMatch): each class's is scaled by its share of the
    labels over its mean predicted probability, then renormalised. Without it a class the
    model over-predicts takes its neighbours' windows, they are trained on as that class, and
    the error feeds itself (two labelled subjects: going up and down stairs became walking).
    """
    unlabeled = (y < 0).nonzero().squeeze(1)
    was_training = model.training
    model.eval()
    probabilities = []
    for i in range(0, len(unlabeled), EVAL_BATCH):
        idx = unlabeled[i:i + EVAL_BATCH]
        with amp:
            probabilities.append(model(X[idx], None if rocket is None else rocket[idx]).float())
    model.train(was_training)
    pseudo = torch.full_like(y, -1)
    if probabilities:
        confidence, predicted = align_to_labels(torch.cat(probabilities), y).max(dim=1)
        sure = confidence >= threshold
        pseudo[unlabeled[sure]] = predicted[sure].to(pseudo.dtype)
    return pseudo


def align_to_labels(probabilities: Tensor, y: Tensor) -> Tensor:
    """(U, K) probabilities scaled per class by the labels' share of it (y >= 0) over its mean
    predicted probability, and renormalised per window."""
    share = torch.bincount(y[y >= 0], minlength=probabilities.shape[1]).float()
    aligned = probabilities * (share / share.sum().clamp_min(1)) / probabilities.mean(dim=0).clamp_min(1e-12)
    return aligned / aligned.sum(dim=1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, X: Tensor, amp: contextlib.AbstractContextManager,
                           rocket: Tensor | None = None) -> None:
    """Replace every batch norm's running statistics by those of the (standardised) windows X.

    In training the running mean and variance follow the augmented batches, and the layers
    after a dropout see its masks; in eval mode the model meets clean windows and no dropout,
    so the statistics it normalises with are off for exactly the inputs it is asked about.
    This pass recomputes them as eval sees its inputs: everything in eval mode except the batch
    norms, which average the batch statistics of X over batches of EVAL_BATCH (what
    torch.optim.swa_utils.update_bn does, but with dropout off and no latent sampled, so it
    draws no random numbers and a run's random streams are those of a run without it).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = model.training
    model.eval()
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches of this pass
        norm.train()
    for i in range(0, len(X), EVAL_BATCH):
        known = () if rocket is None else (rocket[i:i + EVAL_BATCH],)  # X's MiniRocket features
        with amp:
            model(X[i:i + EVAL_BATCH], *known)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    model.train(was_training)


@dataclass
class Progress:
    """Where a run stands between steps: all a resumed run needs besides the tensors' states."""

    epoch: int = 0  # epochs completed
    step: int = 0  # steps of the next epoch completed
    best_score: float = -math.inf  # validation macro-F1 of best.pt's epoch
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    stopped: bool = False  # early stopping ended the run
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl's rows

    def finish_epoch(self, row: dict[str, Any], patience: int) -> bool:
        """Record an epoch's metrics; True when it is the best so far on validation macro-F1
        (never, in a run without validation)."""
        self.history.append(row)
        self.epoch, self.step = row["epoch"], 0
        improved = row.get("val_macro_f1", -math.inf) > self.best_score
        if improved:
            self.best_score, self.bad_epochs = row["val_macro_f1"], 0
        else:
            self.bad_epochs += 1
        self.stopped = patience > 0 and self.bad_epochs >= patience
        return improved

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
