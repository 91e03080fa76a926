"""The optimiser, the per-epoch learning-rate schedule, the weight average and the sharpness-aware
step a config describes."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

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


class TailAverage:
    """The running mean of the weights over the last cfg.average_epochs epochs, taken after
    every step of them (Polyak averaging of the tail of the trajectory, as in SWA).

    The last step's weights carry that step's noise; the mean of the many nearby points the
    last epochs pass through does not (for the default preset it did not raise validation
    accuracy: docs/accuracy/candidates.md). The batch-norm statistics are averaged with the
    weights (use_buffers), so the mean is a model of its own that needs no pass over the
    data. Before the averaged epochs begin, `model` is the network being trained.
    """

    def __init__(self, network: nn.Module, cfg: BILMConfig):
        self.network = network
        self.first_epoch = cfg.epochs - cfg.average_epochs  # 0-based: the first epoch averaged
        # n_averaged stays on the host (AveragedModel puts it where `device` says, default CPU),
        # so deciding whether to copy or to average never waits for the GPU.
        self.mean = AveragedModel(network, use_buffers=True) if cfg.average_epochs else None

    def averages(self, epoch: int) -> bool:
        return self.mean is not None and epoch >= self.first_epoch

    def update(self, epoch: int) -> None:
        """After a step of `epoch` (0-based): fold the new weights in if the epoch is averaged."""
        if self.averages(epoch):
            self.mean.update_parameters(self.network)

    def model(self, epochs_done: int) -> nn.Module:
        """The model a run that stopped after `epochs_done` epochs keeps: the mean, once
        it holds a step, else the network itself."""
        return self.mean.module if self.averages(epochs_done - 1) else self.network

    def state_dict(self) -> dict[str, torch.Tensor] | None:
        return None if self.mean is None else self.mean.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor] | None) -> None:
        if self.mean is not None:
            self.mean.load_state_dict(state)


@torch.no_grad()
def climb_to_sharpest(networks: Iterable[nn.Module], rho: float) -> Callable[[], None]:
    """Move each network's weights by rho along its own normalised gradient, w + rho g / |g|,
    the nearby point where the loss rises fastest; returns the function that moves them back.

    Sharpness-aware minimisation (Foret et al. 2021) takes its step with the gradient found
    there, which favours weights whose whole neighbourhood has a low loss: minima that move
    less when the data change, here from the training subjects to new ones.
    """
    moved: list[tuple[torch.Tensor, torch.Tensor]] = []
    for network in networks:
        params = [p for p in network.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm([p.grad for p in params])  # what clip_grad_norm_ measures
        scale = rho / (norm + 1e-12)  # a tensor: no wait for the device
        for p in params:
            step = p.grad * scale
            p.add_(step)
            moved.append((p, step))

    @torch.no_grad()
    def move_back() -> None:
        for p, step in moved:
            p.sub_(step)

    return move_back
