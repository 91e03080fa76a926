"""The optimiser and the per-epoch learning-rate schedule a config describes."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from bilm.config import BILMConfig


def build_optimizer(params: Iterable[nn.Parameter], cfg: BILMConfig, device: torch.device) -> torch.optim.Optimizer:
    # One fused kernel for all parameters instead of a dozen small ops per tensor: on a model
    # this small the for-loop optimiser costs a tenth of a CPU step. Deterministic all the same.
    fused = True if device.type in ("cuda", "cpu") else None
    kind = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


class EpochSchedule:
    """The learning rate of each epoch, set on the optimiser before the epoch runs.

    lr(e) = warm-up factor x (cfg.lr | cosine from cfg.lr to min_lr | cfg.lr x plateau factor).
    Warm-up ramps linearly over the first warmup_epochs epochs; "plateau" multiplies the lr by
    plateau_factor after plateau_patience epochs without a lower validation loss. It only ever
    sees validation numbers. The state is plain numbers, so it fits a weights_only checkpoint.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: BILMConfig):
        self.optimizer = optimizer
        self.cfg = cfg
        self.epoch = 0  # the epoch whose lr is set now
        self.plateau_scale = 1.0
        self.best_val_loss = math.inf
        self.bad_epochs = 0
        self._apply()

    @property
    def lr(self) -> float:
        cfg, e = self.cfg, self.epoch
        warm = (e + 1) / cfg.warmup_epochs if e < cfg.warmup_epochs else 1.0
        if cfg.scheduler == "cosine":
            progress = max(0, e - cfg.warmup_epochs) / max(1, cfg.epochs - cfg.warmup_epochs)
            return warm * (cfg.min_lr + (cfg.lr - cfg.min_lr) * 0.5 * (1 + math.cos(math.pi * progress)))
        return warm * cfg.lr * self.plateau_scale

    def step(self, val_loss: float | None) -> None:
        """End of an epoch: record its validation loss (None without validation, which the
        config allows only with another schedule) and set the next epoch's lr."""
        if self.cfg.scheduler == "plateau":
            if val_loss < self.best_val_loss:
                self.best_val_loss, self.bad_epochs = val_loss, 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs > self.cfg.plateau_patience:
                    self.plateau_scale *= self.cfg.plateau_factor
                    self.bad_epochs = 0
        self.epoch += 1
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr

    def state_dict(self) -> dict[str, float | int]:
        return {"epoch": self.epoch, "plateau_scale": self.plateau_scale,
                "best_val_loss": self.best_val_loss, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        self.epoch = int(state["epoch"])
        self.plateau_scale = float(state["plateau_scale"])
        self.best_val_loss = float(state["best_val_loss"])
        self.bad_epochs = int(state["bad_epochs"])
        self._apply()
