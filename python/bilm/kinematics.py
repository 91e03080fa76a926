"""The kinematic latent (latent_sequence="kinematic"): the latent explains the sensors through physics.

Each step of the temporal latent sequence decodes into the motion of the sensor, sample by
sample: its angular velocity w(t) (rad/s, in the sensor's frame), its linear acceleration
a(t) (in a gravity-aligned world frame whose z axis points up, in the accelerometer's units)
and, once per window, its starting orientation R(0) (sensor frame to world frame). The
orientation follows from the angular velocity exactly, R(t + dt) = R(t) exp(w(t) dt), so
the state is a physically possible motion by construction. A fixed measurement model with no
learned weights turns the state into what the sensors read:

    gyroscope(t)     = the rate of change of the orientation in the sensor's frame,
                       vee(log(R(t)^T R(t + dt))) / dt                             [rad/s]
    accelerometer(t) = R(t)^T (a(t) + g e_z), gravity's specific force plus the linear
                       acceleration, turned into the sensor's frame        [accelerometer units]

where g is the config's `gravity` (1 for an accelerometer in g that reads +1 g upward at
rest, as UCI HAR's total_acc; 9.80665 for m/s^2; -1 for iOS, whose accelerometer reads -1 g).
The linear acceleration is kept at zero mean over the window: the body's velocity is
bounded, so over a few seconds it cannot accelerate one way, and gravity alone must explain
the accelerometer's mean. The biomechanical loss is then the agreement of the predicted and
measured signals, plus limits and smoothness on physical quantities (KinematicTerms).

Why sample by sample: the latent sequence has one step per 8 samples (0.16 s at 50 Hz), too
coarse for a gyroscope whose walking signal has harmonics up to about 10 Hz; the decoder
upsamples each latent step into 8 samples of state, and the measurement model runs at the
sensor's own rate.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bilm.config import KINEMATIC_MEAN_RATES, KINEMATIC_STARTS

AXES = 3


class KinematicState(NamedTuple):
    """The decoded motion of a batch of windows, T samples each."""

    orientation: Tensor  # (B, T, 3, 3): R(t), sensor frame -> world frame
    angular_velocity: Tensor  # (B, T, 3): w(t) in the sensor's frame, rad/s
    linear_acceleration: Tensor  # (B, T, 3): a(t) in the world frame, accelerometer units, zero mean


class KinematicTerms(NamedTuple):
    """The six unweighted terms of the kinematic biomechanical loss, each a 0-dim tensor."""

    gyro_agreement: Tensor  # mean squared error of the predicted gyroscope, (rad/s)^2
    accel_agreement: Tensor  # mean squared error of the predicted accelerometer, (units)^2
    rate_violation: Tensor  # mean of relu(|w| - velocity_limit), rad/s
    rate_change_violation: Tensor  # mean of relu(|dw/dt| - acceleration_limit), rad/s^2
    jerk: Tensor  # mean squared rate of change of the linear acceleration, (units/s)^2
    turn_drift: Tensor  # mean squared angle the decoded turn drifts from the gyroscope's integral, rad^2


def rotation_from_6d(x: Tensor) -> Tensor:
    """(..., 6) -> rotation matrices (..., 3, 3) by Gram-Schmidt on two vectors (Zhou et al.
    2019): continuous, unlike Euler angles or quaternions, so it is easy to learn."""
    a, b = x[..., :3], x[..., 3:]
    e1 = F.normalize(a, dim=-1)
    e2 = F.normalize(b - (e1 * b).sum(-1, keepdim=True) * e1, dim=-1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2)], dim=-1)


def skew(v: Tensor) -> Tensor:
    """(..., 3) -> the cross-product matrices (..., 3, 3)."""
    x, y, z = v.unbind(-1)
    zero = torch.zeros_like(x)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*v.shape, 3)


def so3_exp(v: Tensor) -> Tensor:
    """Rotation vectors (..., 3) -> rotation matrices (..., 3, 3) (Rodrigues' formula), with the
    Taylor series near zero so that the gradient stays finite."""
    theta2 = (v * v).sum(-1, keepdim=True).unsqueeze(-1)
    theta = theta2.clamp_min(1e-12).sqrt()
    small = theta2 < 1e-6
    a = torch.where(small, 1 - theta2 / 6, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24, (1 - torch.cos(theta)) / theta2.clamp_min(1e-12))
    K = skew(v)
    return torch.eye(3, dtype=v.dtype, device=v.device) + a * K + b * (K @ K)


def so3_log(R: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) -> rotation vectors (..., 3), for angles below pi."""
    vee = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0], R[..., 1, 0] - R[..., 0, 1]], -1) / 2
    sin = vee.norm(dim=-1, keepdim=True)
    cos = ((R.diagonal(dim1=-2, dim2=-1).sum(-1, keepdim=True) - 1) / 2)
    theta = torch.atan2(sin, cos)
    scale = torch.where(sin < 1e-6, 1 + theta * theta / 6, theta / sin.clamp_min(1e-12))
    return vee * scale


def cumulative_product(M: Tensor) -> Tensor:
    """Prefix products of matrices along dim 1: out[:, t] = M[:, 0] @ M[:, 1] @ ... @ M[:, t].

    A Hillis-Steele scan: log2(T) batched products instead of T sequential ones."""
    out = M
    shift = 1
    while shift < M.shape[1]:
        out = torch.cat([out[:, :shift], out[:, :-shift] @ out[:, shift:]], dim=1)
        shift *= 2
    return out


def turns(angular_velocity: Tensor, dt: float) -> Tensor:
    """The turns R(0)^T R(t) (B, T, 3, 3) of the body-frame angular velocity w(t) (B, T, 3),
    held over each sample: turn(0) = I, turn(t + dt) = turn(t) exp(w(t) dt)."""
    steps = so3_exp(angular_velocity[:, :-1] * dt)  # (B, T-1, 3, 3)
    identity = torch.eye(3, dtype=steps.dtype, device=steps.device).expand(steps.shape[0], 1, 3, 3)
    return cumulative_product(torch.cat([identity, steps], dim=1))


def integrate(start: Tensor, angular_velocity: Tensor, dt: float) -> Tensor:
    """The orientations R(t) (B, T, 3, 3) from R(0) (B, 3, 3) and the body-frame angular
    velocity w(t) (B, T, 3), held over each sample: R(t + dt) = R(t) exp(w(t) dt)."""
    return start.unsqueeze(1) @ turns(angular_velocity, dt)


def measure(state: KinematicState, dt: float, gravity: float) -> tuple[Tensor, Tensor]:
    """The measurement model: what a gyroscope and an accelerometer moving as `state` read.

    Returns the gyroscope (B, T-1, 3), rad/s, between consecutive samples, and the
    accelerometer (B, T, 3), in the units of `gravity`. No learned weights."""
    R = state.orientation
    gyro = so3_log(R[:, :-1].transpose(-1, -2) @ R[:, 1:]) / dt
    up = torch.tensor([0.0, 0.0, gravity], dtype=R.dtype, device=R.device)
    accel = (R.transpose(-1, -2) @ (state.linear_acceleration + up).unsqueeze(-1)).squeeze(-1)
    return gyro, accel


def gravity_direction(state: KinematicState) -> Tensor:
    """The unit up vector of the world in the sensor's frame, (B, T, 3): R(t)^T e_z."""
    return state.orientation[..., 2, :]


class KinematicHead(nn.Module):
    """Latent sequence (B, S, latent_dim) and latent (B, latent_dim) -> KinematicState of
    `steps_per_latent` * S samples, cropped to seq_length.

    A transposed convolution turns each latent step into `steps_per_latent` samples of
    features (overlapping its neighbours, so the motion is continuous across steps); a
    convolution reads w(t) and a(t) from them; a linear map of the window's latent gives R(0).
    Given the measured accelerometer, R(0)'s tilt is instead the one that explains it best
    (`fitted_start`), and the map gives only its heading, which no measurement sees. Given the
    measured gyroscope, w(t)'s mean over the window is the one it measured (`fitted_rate`).
    """

    def __init__(self, latent_dim: int, seq_length: int, steps_per_latent: int, sampling_rate: float,
                 hidden: int = 64):
        super().__init__()
        s = steps_per_latent
        self.upsample = nn.ConvTranspose1d(latent_dim, hidden, kernel_size=2 * s, stride=s, padding=s // 2)
        self.motion = nn.Conv1d(hidden, 2 * AXES, kernel_size=5, padding=2)
        self.start = nn.Linear(latent_dim, 6)
        self.seq_length = seq_length
        self.dt = 1.0 / sampling_rate

    def forward(self, z_sequence: Tensor, z: Tensor, accel: Tensor | None = None,
                gravity: float = 1.0, gyro: Tensor | None = None) -> KinematicState:
        """accel (B, T, 3), the measured accelerometer in the units of `gravity`: if given,
        the starting tilt is fitted to it. gyro (B, T, 3), the measured gyroscope in rad/s:
        if given, the mean turn rate is taken from it."""
        h = torch.relu(self.upsample(z_sequence.transpose(1, 2)))
        motion = self.motion(h)[..., : self.seq_length].transpose(1, 2)  # (B, T, 6)
        angular_velocity, linear = motion[..., :AXES], motion[..., AXES:]
        linear = linear - linear.mean(dim=1, keepdim=True)  # a bounded velocity: zero mean over the window
        if gyro is not None:
            angular_velocity = fitted_rate(angular_velocity, gyro)
        turn = turns(angular_velocity, self.dt)
        start = rotation_from_6d(self.start(z))
        if accel is not None:
            start = fitted_start(start, turn, accel, gravity)
        return KinematicState(start.unsqueeze(1) @ turn, angular_velocity, linear)


def between_samples(gyro: Tensor) -> Tensor:
    """The measured rate (B, T-1, 3) between consecutive samples of the gyroscope (B, T, 3)."""
    return (gyro[:, :-1] + gyro[:, 1:]) / 2


def fitted_rate(angular_velocity: Tensor, gyro: Tensor) -> Tensor:
    """The decoded angular velocity (B, T, 3) moved so that its mean over the turns it makes
    (all samples but the last) is the measured gyroscope's (B, T, 3) between those samples.

    The slow bias that the turn-drift term measures is then gone by construction: the decoded
    turn ends the window where the measured one does, and the latent explains the rest. The
    tilt about a nearly vertical axis (an upright phone's roll) rests on those turns alone.
    """
    offset = between_samples(gyro).mean(dim=1, keepdim=True) - angular_velocity[:, :-1].mean(dim=1, keepdim=True)
    return angular_velocity + offset


def fitted_start(start: Tensor, turn: Tensor, accel: Tensor, gravity: float) -> Tensor:
    """The starting orientation (B, 3, 3) whose tilt best explains the measured accelerometer
    (B, T, 3), given the turns R(0)^T R(t) (B, T, 3, 3), with the heading of `start`.

    With R(t) = R(0) turn(t), the accelerometer's model R(t) accel(t) = a(t) + g e_z and a
    zero-mean a give R(0) m = g e_z for m, the mean of turn(t) accel(t): the world's up in
    the starting sensor frame, R(0)^T e_z, is m / g, normalised. The best the zero-mean
    linear acceleration allows (the least-squares start), and differentiable in the turns.
    """
    up = F.normalize(math.copysign(1.0, gravity) * (turn @ accel.unsqueeze(-1)).squeeze(-1).mean(dim=1), dim=-1)
    # Rows of R(0): the world's axes in the sensor's frame. Keep the first one's heading and
    # make the third `up`: Gram-Schmidt gives the columns (up, x, up cross x = y).
    columns = rotation_from_6d(torch.cat([up, start[:, 0]], dim=-1))
    return columns[..., [1, 2, 0]].transpose(-1, -2)


class KinematicConstraintModule(nn.Module):
    """The kinematic latent's decoder and its biomechanical loss against the measured signals.

    It reads the accelerometer (with gravity) and the gyroscope from the triples of the
    model's (standardised) input that accel_triple and gyro_triple name, and undoes the
    standardisation with the statistics `set_input_scale` gives it (kept in the state_dict,
    so a checkpoint carries them), so that every term is in physical units.
    """

    def __init__(self, latent_dim: int, seq_length: int, steps_per_latent: int, input_channels: int, *,
                 accel_triple: int, gyro_triple: int, sampling_rate: float, gravity: float,
                 velocity_limit: float, acceleration_limit: float,
                 w_velocity_consistency: float, w_accel_consistency: float, w_velocity_violation: float,
                 w_accel_violation: float, w_smoothness: float, w_turn_consistency: float = 0.0,
                 kinematic_start: str = "latent", kinematic_mean_rate: str = "latent"):
        super().__init__()
        if kinematic_start not in KINEMATIC_STARTS:
            raise ValueError(f"kinematic_start must be one of {', '.join(KINEMATIC_STARTS)}, got {kinematic_start!r}")
        if kinematic_mean_rate not in KINEMATIC_MEAN_RATES:
            raise ValueError(f"kinematic_mean_rate must be one of {', '.join(KINEMATIC_MEAN_RATES)}, "
                             f"got {kinematic_mean_rate!r}")
        for name, index in (("accel_triple", accel_triple), ("gyro_triple", gyro_triple)):
            if not (0 <= index and AXES * index + AXES <= input_channels):
                raise ValueError(f"latent_sequence='kinematic' reads the {name}={index}, which is not a triple "
                                 f"of the model's {input_channels} input channels")
        self.head = KinematicHead(latent_dim, seq_length, steps_per_latent, sampling_rate)
        self.accel = slice(AXES * accel_triple, AXES * accel_triple + AXES)
        self.gyro = slice(AXES * gyro_triple, AXES * gyro_triple + AXES)
        self.register_buffer("input_mean", torch.zeros(1, input_channels, 1))
        self.register_buffer("input_std", torch.ones(1, input_channels, 1))
        self.gravity = float(gravity)
        self.fit_start = kinematic_start == "accelerometer"  # else R(0) is read off the latent
        self.fit_rate = kinematic_mean_rate == "gyroscope"  # else w(t)'s mean is the latent's
        self.velocity_limit = float(velocity_limit)
        self.acceleration_limit = float(acceleration_limit)
        self.term_weights = KinematicTerms(float(w_velocity_consistency), float(w_accel_consistency),
                                           float(w_velocity_violation), float(w_accel_violation),
                                           float(w_smoothness), float(w_turn_consistency))

    @property
    def dt(self) -> float:
        return self.head.dt

    def set_input_scale(self, mean: Tensor, std: Tensor) -> None:
        """The standardisation in front of the model, (1, C, 1) each, to read raw units back."""
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def measured(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The measured gyroscope and accelerometer (B, T, 3) each, in raw units, of the
        standardised input x (B, C, T)."""
        raw = x * self.input_std + self.input_mean
        return raw[:, self.gyro].transpose(1, 2), raw[:, self.accel].transpose(1, 2)

    def decode(self, z_sequence: Tensor, z: Tensor, x: Tensor) -> KinematicState:
        """The motion the latent decodes for the standardised input x (B, C, T); x is read only
        to fit the starting tilt (kinematic_start="accelerometer") and the mean turn rate
        (kinematic_mean_rate="gyroscope")."""
        gyro, accel = self.measured(x) if self.fit_start or self.fit_rate else (None, None)
        return self.head(z_sequence, z, accel if self.fit_start else None, self.gravity,
                         gyro if self.fit_rate else None)

    def biomechanical_terms(self, state: KinematicState, x: Tensor) -> KinematicTerms:
        gyro, accel = measure(state, self.dt, self.gravity)
        gyro_measured, accel_measured = self.measured(x)
        between = between_samples(gyro_measured)
        w = state.angular_velocity
        rate_change = (w[:, 1:] - w[:, :-1]) / self.dt
        jerk = (state.linear_acceleration[:, 1:] - state.linear_acceleration[:, :-1]) / self.dt
        return KinematicTerms(
            gyro_agreement=F.mse_loss(gyro, between),
            accel_agreement=F.mse_loss(accel, accel_measured),
            rate_violation=torch.relu(w.norm(dim=-1) - self.velocity_limit).mean(),
            rate_change_violation=torch.relu(rate_change.norm(dim=-1) - self.acceleration_limit).mean(),
            jerk=jerk.square().mean(),
            # The gyroscope's error integrated: a small bias hardly counts in its squared error but
            # turns the orientation further every sample (0.05 rad/s is 7 degrees over 2.56 s).
            turn_drift=(torch.cumsum(w[:, :-1] - between, dim=1) * self.dt).square().sum(-1).mean(),
        )

    def biomechanical_loss(self, state: KinematicState, x: Tensor) -> Tensor:
        terms = self.biomechanical_terms(state, x)
        return sum(w * term for w, term in zip(self.term_weights, terms))


def r2(predicted: np.ndarray, measured: np.ndarray) -> float:
    """R^2 of predicted against measured values (N, 3): 1 - residual / total sum of squares,
    each axis about its own mean, the axes pooled."""
    residual = np.square(predicted - measured).sum()
    total = np.square(measured - measured.mean(axis=0)).sum()
    return float(1 - residual / total) if total > 0 else math.nan


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The angles in degrees between the vectors of a and b (..., 3)."""
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)).clip(1e-12)
    return np.degrees(np.arccos(cos.clip(-1, 1)))
