"""What raw windows go through before the network: the gravity frame, then standardisation.

Standardize is per-channel standardisation, fitted on the training part only and carried by
every checkpoint. It is a module with two buffers, so the same object standardises training
batches, moves with `.to(device)`, is saved in the checkpoint's state and sits inside the
exported classifier. GravityFrame (opt-in, no state) appends the motion measured along and
across gravity; it runs on raw units, after augmentation and before standardisation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from bilm.augment import AXES, require_triples
from bilm.config import AUTO_TRIPLE, BILMConfig

# A channel that never varies (a dead sensor axis) keeps its scale instead of dividing by 0.
MIN_STD = 1e-6


class Standardize(nn.Module):
    """x (B, C, T) -> (x - mean_c) / std_c."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1))
        self.register_buffer("std", torch.ones(1, channels, 1))

    @classmethod
    def fit(cls, X: Tensor, enabled: bool = True) -> Standardize:
        """Statistics of every channel over all windows and steps of X (N, C, T).

        With enabled=False it is the identity (mean 0, std 1), so a run without
        standardisation has the same checkpoint layout and code path.
        """
        module = cls(X.shape[1])
        if enabled:
            # float64 sums on the CPU: a channel's 10^6 values in float32 lose digits of the
            # mean, and not every device has float64.
            flat = X.detach().to("cpu", torch.float64).transpose(0, 1).reshape(X.shape[1], -1)
            module.mean.copy_(flat.mean(dim=1).view(1, -1, 1))
            module.std.copy_(flat.std(dim=1).clamp_min(MIN_STD).view(1, -1, 1))
        return module.to(X.device)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class GravityFrame(nn.Module):
    """x (B, C, T) in raw units -> (B, C + 4, T): x, then four channels of the motion in the
    frame of gravity, which do not depend on how the phone is worn.

    Gravity's direction g is the window mean of the accelerometer triple that includes it
    (UCI HAR's total_acc), normalised. With a = that triple minus its window mean (the
    dynamic acceleration) and w the gyroscope triple, the channels are, per time step:
    a . g (vertical acceleration: the bounce of a step, the sway of standing), |a - (a . g) g|
    (horizontal acceleration), w . g (rotation about the vertical: turning) and
    |w - (w . g) g| (rotation about horizontal axes: tilting, rocking). Turning the phone turns
    x but leaves these four unchanged, so a person who wears it at another angle gets the same
    values; the posture itself stays in x (the direction of gravity in the phone's frame).
    """

    def __init__(self, input_channels: int, accel_triple: int, gyro_triple: int):
        super().__init__()
        require_triples(input_channels, "gravity_frame", "gravity_frame=false")
        triples = input_channels // AXES
        for name, index in (("accel_triple", accel_triple), ("gyro_triple", gyro_triple)):
            if index == AUTO_TRIPLE:
                raise ValueError(f"config field {name}=-1 means: found from the data's channel names, which "
                                 "bilm.sensors.configure does before training; set it to a triple here")
            if not 0 <= index < triples:
                raise ValueError(f"config field {name}={index} names no triple of the data's {input_channels} "
                                 f"channels (triples 0..{triples - 1}): set accel_triple to the accelerometer "
                                 "triple that includes gravity and gyro_triple to the gyroscope's (a phone's "
                                 "ax,ay,az,gx,gy,gz: accel_triple=0, gyro_triple=1), or gravity_frame=false")
        if accel_triple == gyro_triple:
            raise ValueError(f"config fields accel_triple and gyro_triple name the same triple ({accel_triple})")
        self.accel = slice(AXES * accel_triple, AXES * (accel_triple + 1))
        self.gyro = slice(AXES * gyro_triple, AXES * (gyro_triple + 1))

    @classmethod
    def from_config(cls, cfg: BILMConfig) -> GravityFrame | nn.Identity:
        """The frame cfg asks for on cfg.input_channels raw channels, or the identity."""
        if not cfg.gravity_frame:
            return nn.Identity()
        return cls(cfg.input_channels, cfg.accel_triple, cfg.gyro_triple)

    def forward(self, x: Tensor) -> Tensor:
        accel = x[:, self.accel]
        mean = accel.mean(dim=-1, keepdim=True)
        g = mean / _length(mean).clamp_min(MIN_STD)  # (B, 3, 1), unit length
        along_a, across_a = _along_and_across(accel - mean, g)
        along_w, across_w = _along_and_across(x[:, self.gyro], g)
        return torch.cat([x, along_a, across_a, along_w, across_w], dim=1)


def _along_and_across(v: Tensor, g: Tensor) -> tuple[Tensor, Tensor]:
    """The component of v (B, 3, T) along the unit vector g (B, 3, 1) and the length of the
    rest, each (B, 1, T)."""
    along = (v * g).sum(dim=1, keepdim=True)
    return along, _length(v - along * g)


def _length(v: Tensor) -> Tensor:
    """The Euclidean length of v (B, 3, T) over its axes, (B, 1, T). Tensor.norm over a dim of
    3 took 80x as long on the CPU: with it the frame took 2.7 ms of a 64 ms training step."""
    return v.square().sum(dim=1, keepdim=True).sqrt()
