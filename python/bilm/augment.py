"""Label-preserving random transforms of raw training windows, driven by the augment_* fields.

* rotation: one random 3-D rotation per window applied to every xyz triple of channels
  (UCI HAR: body_acc, body_gyro, total_acc), i.e. the phone worn at another orientation; all
  sensors share the phone's frame, so they turn together. Up to augment_rotation_deg degrees
  about a uniformly random axis. Data that names its channels turns only the triples named
  x, y, z (MotionSense's attitude roll, pitch, yaw is no vector and stays as it is).
* scale: each channel of each window times 1 + N(0, augment_scale^2) (sensor gain).
* shift: a circular time shift of up to augment_shift samples (where the window starts).
* jitter: additive Gaussian noise of std augment_jitter in standardised units (sensor noise).

Every draw comes from the augmenter's own generator, seeded from the run's seed and saved in
each checkpoint, so a run is reproducible and a resumed run draws exactly what the
uninterrupted one did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from bilm.config import BILMConfig

AXES = 3  # channels per sensor triple


class Augment:
    def __init__(self, cfg: BILMConfig, channel_std: Tensor, seed: int, triples: Sequence[int] | None = None):
        """channel_std (1, C, 1): the standardisation's scale, which turns jitter into raw units;
        triples: the indices of the xyz triples to rotate (None: every triple of channels)."""
        self.rotation = math.radians(cfg.augment_rotation_deg)
        self.scale = cfg.augment_scale
        self.shift = cfg.augment_shift
        self.jitter = cfg.augment_jitter
        self.jitter_std = cfg.augment_jitter * channel_std
        # Plain Python numbers, so deciding what to apply never waits for the GPU.
        self.enabled = bool(self.rotation or self.scale or self.shift or self.jitter)
        channels = channel_std.shape[1]
        if self.rotation and triples is None:
            require_triples(channels, "augment_rotation_deg", "augment_rotation_deg=0")
        every = channels % AXES == 0 and list(triples or []) == list(range(channels // AXES))
        self.triples = None if triples is None or every else list(triples)
        self.generator = torch.Generator(device=channel_std.device)
        self.generator.manual_seed(seed)

    def __call__(self, x: Tensor) -> Tensor:
        """A randomly transformed copy of the raw batch x (B, C, T)."""
        if self.rotation:
            x = rotate_triples(x, random_rotations(x.shape[0], self.rotation, self.generator), self.triples)
        if self.scale:
            x = x * (1 + self.scale * self._randn(x.shape[0], x.shape[1], 1, like=x))
        if self.shift:
            x = roll_each(x, torch.randint(-self.shift, self.shift + 1, (x.shape[0],),
                                           generator=self.generator, device=x.device))
        if self.jitter:
            x = x + self.jitter_std * self._randn(*x.shape, like=x)
        return x

    def _randn(self, *shape: int, like: Tensor) -> Tensor:
        return torch.randn(shape, generator=self.generator, device=like.device, dtype=like.dtype)

    def state_dict(self) -> dict[str, Tensor]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.generator.set_state(state["generator"])


def require_triples(channels: int, field: str, off: str) -> None:
    """Refuse data whose channels are not xyz triples for the config field that needs them."""
    if channels % AXES:
        raise ValueError(f"{field} needs channels in xyz triples; the data has {channels} (set {off} for this data)")


def random_rotations(n: int, max_angle: float, generator: torch.Generator) -> Tensor:
    """n rotation matrices (n, 3, 3): uniform axis, angle uniform in [-max_angle, max_angle].

    Rodrigues' formula R = I + sin(a) K + (1 - cos(a)) K^2, K the axis' cross-product matrix.
    """
    device = generator.device
    axis = torch.randn(n, 3, generator=generator, device=device)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-12)
    angle = (torch.rand(n, generator=generator, device=device) * 2 - 1) * max_angle
    x, y, z = axis.unbind(1)
    zero = torch.zeros_like(x)
    K = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=1).view(n, 3, 3)
    sin, cos = angle.sin().view(n, 1, 1), angle.cos().view(n, 1, 1)
    return torch.eye(3, device=device) + sin * K + (1 - cos) * (K @ K)


def rotate_triples(x: Tensor, rotations: Tensor, triples: Sequence[int] | None = None) -> Tensor:
    """Rotate the xyz triples of channels (every one, or those indexed by `triples`) of window b
    by rotations[b]: (B, C, T) -> (B, C, T)."""
    B, C, T = x.shape
    if triples is None:
        grouped = x.reshape(B, C // AXES, AXES, T)
        return torch.einsum("bij,bgjt->bgit", rotations.to(x.dtype), grouped).reshape(B, C, T)
    channels = torch.tensor([AXES * t + axis for t in triples for axis in range(AXES)], device=x.device)
    turned = rotate_triples(x.index_select(1, channels), rotations)
    return x.index_copy(1, channels, turned)


def roll_each(x: Tensor, shifts: Tensor) -> Tensor:
    """Circularly shift window b by shifts[b] steps along time (torch.roll with one shift per row)."""
    T = x.shape[-1]
    return _at_steps(x, (torch.arange(T, device=x.device) - shifts.view(-1, 1)) % T)


def _at_steps(x: Tensor, steps: Tensor) -> Tensor:
    """x (B, C, T) read at the time steps steps[b] (B, T'), the same for every channel."""
    return x.gather(2, steps.unsqueeze(1).expand(-1, x.shape[1], -1))
