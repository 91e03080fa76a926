"""The BILM network of the seed notebook (BiLM2_HAR), as a library.

A window of inertial signals x of shape (B, C, L) -- for UCI HAR 9 channels x 128 samples
at 50 Hz, i.e. 2.56 s -- goes through a 1-D CNN VAE whose latent also feeds a classifier:

    x --Encoder--> (mu, logvar) --reparameterise--> z --Decoder--> x_recon
                                                    z --classifier--> logits
    z_sequence --BiomechanicalConstraintModule--> biomechanical loss

The constraint module reads any latent vector as the state of 32 virtual joints (angles in
radians) and, over a sequence of latents, penalises velocities and accelerations that are
inconsistent with what the latent itself predicts, or larger than the limits. The training
objective lives in `bilm.losses`.

Called with only the notebook's arguments, every class here is the notebook's module: the
same attribute names (a notebook state_dict loads with strict=True), the same parameters
(520,591 for BILMClassifier(9, 128, 64, 6, 128)) and the same initialisation order,
so the same seed gives the same weights. What differs:

* eval mode classifies mu, so a prediction is deterministic (the notebook samples z in eval);
* a length that is not a multiple of 8 is padded inside the encoder and the reconstruction is
  cropped back to it (the notebook's decoder returned 8 * (L // 8) samples);
* opt-in, all off by default: a "temporal" latent sequence (one latent per 0.16 s step of the
  encoder's feature map, instead of the notebook's z plus noise), classifying mu in training
  too, the window's per-channel statistics (mean; mean and std; ten "rich" ones; or those and
  the log power in six octave bands) and the
  time-averaged encoder features beside the latent at the classifier's input, the encoder's
  width and kernel size, the dropout rate, per-joint angle limits, and every limit and weight
  of the biomechanical loss.

The window statistics live in `bilm.window_features`, and `bilm.ensemble.BILMEnsemble`
holds the K networks a run trains side by side (one unless `ensemble` says otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bilm.config import CLASSIFIER_INPUTS, KINEMATIC_STEPS, LATENT_SEQUENCE_MODES, WINDOW_STATS, BILMConfig
from bilm.kinematics import KinematicConstraintModule, KinematicState
from bilm.rocket import RocketFeatures
from bilm.window_features import RICH_QUANTILES, LogBandPower, StatsNorm, WindowQuantiles, rich_window_stats

# Three max-pools halve the time axis three times: one step of the encoder's last feature map
# stands for 2**3 = 8 input samples (0.16 s at UCI HAR's 50 Hz).
NUM_POOLS = 3
STEP = 2**NUM_POOLS
# The KinematicConstraintModule keywords that BILMConfig holds under the same names.
KINEMATIC_FIELDS = (
    "accel_triple", "gyro_triple", "sampling_rate", "gravity", "velocity_limit", "acceleration_limit",
    "w_velocity_consistency", "w_accel_consistency", "w_velocity_violation", "w_accel_violation", "w_smoothness",
    "w_turn_consistency", "kinematic_start", "kinematic_mean_rate",
)
# The BiomechanicalConstraintModule keywords that BILMConfig holds under the same names.
BIOMECH_FIELDS = (
    "angle_min", "angle_max", "velocity_limit", "acceleration_limit",
    "w_velocity_consistency", "w_accel_consistency", "w_velocity_violation",
    "w_accel_violation", "w_smoothness",
)


def pooled_length(seq_length: int) -> int:
    """Steps of the encoder's last feature map: ceil(L / 8), the input being padded to 8k."""
    return -(-seq_length // STEP)


class Encoder(nn.Module):
    """Time series (B, C, L) -> latent mean and log-variance, each (B, latent_dim).

    Three blocks Conv1d + BatchNorm + ReLU + MaxPool(2) take the channels C -> 32 -> 64 -> 128
    (base_channels times 1, 2, 4) and the length L -> ceil(L / 8); the flattened feature map
    goes through dropout into two linear heads. `hidden_dim` is unused: the notebook's
    signature has it.
    """

    def __init__(self, input_channels: int, hidden_dim: int, latent_dim: int, seq_length: int,
                 *, base_channels: int = 32, kernel_size: int = 5, dropout: float = 0.3, extra_inputs: int = 0):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd so padding keeps the length, got {kernel_size}")
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        padding = kernel_size // 2
        self.conv1 = nn.Conv1d(input_channels, c1, kernel_size=kernel_size, padding=padding)
        self.conv2 = nn.Conv1d(c1, c2, kernel_size=kernel_size, padding=padding)
        self.conv3 = nn.Conv1d(c2, c3, kernel_size=kernel_size, padding=padding)

        self.bn1 = nn.BatchNorm1d(c1)
        self.bn2 = nn.BatchNorm1d(c2)
        self.bn3 = nn.BatchNorm1d(c3)

        self.input_channels = input_channels
        self.seq_length = seq_length
        self.pooled_length = pooled_length(seq_length)
        # extra_inputs: a summary of the window beside the feature map (through_latent)
        self.fc_mu = nn.Linear(c3 * self.pooled_length + extra_inputs, latent_dim)
        self.fc_logvar = nn.Linear(c3 * self.pooled_length + extra_inputs, latent_dim)

        self.dropout = nn.Dropout(dropout)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map, (B, 4 * base_channels, ceil(L / 8)): see feature_maps."""
        return self.feature_maps(x)[-1]

    def feature_maps(self, x: Tensor) -> tuple[Tensor, ...]:
        """The three blocks' feature maps, (B, base_channels * 2**k, ceil(L / 8) * 2**(2 - k))
        for k = 0, 1, 2: steps of 2, 4 and 8 input samples.

        Step t covers input samples 8t .. 8t+7 (0.16 s at 50 Hz); through the three
        convolutions it sees 36 samples (0.72 s) around them with the notebook's kernel 5, and
        50 samples (1 s) with kernel 7. A length that is not a multiple
        of 8 is padded on the right by repeating the last sample, which adds no artificial
        step to the signal; only the last feature step sees the padding.
        """
        if x.dim() != 3 or x.shape[1:] != (self.input_channels, self.seq_length):
            raise ValueError(f"expected input (batch, {self.input_channels}, {self.seq_length}), "
                             f"got {tuple(x.shape)}")
        padding = self.pooled_length * STEP - self.seq_length
        if padding:
            x = F.pad(x, (0, padding), mode="replicate")
        maps = []
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2), (self.conv3, self.bn3)):
            x = max_pool_pairs(torch.relu(bn(conv(x))))
            maps.append(x)
        return tuple(maps)

    def head(self, features: Tensor, extra: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Feature map (and the extra inputs, if any) -> (mu, logvar), each (B, latent_dim)."""
        h = self.dropout(features.flatten(1))
        if extra is not None:  # a few strong summary features: dropping them out would hide them
            h = torch.cat([h, extra], dim=1)
        return self.fc_mu(h), self.fc_logvar(h)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.head(self.features(x))


def max_pool_pairs(x: Tensor) -> Tensor:
    """The notebook's MaxPool1d(2) on an even length, as a max over pairs of samples: the same
    values and gradients (a tie's to its first sample), and on a CPU faster than the pooling
    kernel (forward alone: about 4x)."""
    return x.unflatten(-1, (-1, 2)).max(dim=-1).values


class Decoder(nn.Module):
    """Latent (B, latent_dim) -> reconstruction (B, output_channels, seq_length).

    A linear layer unfolds z into a (128, ceil(L / 8)) map that three stride-2 transposed
    convolutions (kernel 4, padding 1: exactly doubling) take back to the encoder's padded
    length; the padding is then cropped. `hidden_dim` is unused (the notebook's signature).
    """

    def __init__(self, latent_dim: int, hidden_dim: int, output_channels: int, seq_length: int,
                 *, base_channels: int = 32):
        super().__init__()
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        self.pooled_length = pooled_length(seq_length)
        self.seq_length = seq_length

        self.fc = nn.Linear(latent_dim, c3 * self.pooled_length)

        self.deconv1 = nn.ConvTranspose1d(c3, c2, kernel_size=4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose1d(c2, c1, kernel_size=4, stride=2, padding=1)
        self.deconv3 = nn.ConvTranspose1d(c1, output_channels, kernel_size=4, stride=2, padding=1)

        self.bn1 = nn.BatchNorm1d(c2)
        self.bn2 = nn.BatchNorm1d(c1)

    def forward(self, z: Tensor) -> Tensor:
        x = self.fc(z).reshape(z.shape[0], self.deconv1.in_channels, self.pooled_length)
        x = torch.relu(self.bn1(self.deconv1(x)))
        x = torch.relu(self.bn2(self.deconv2(x)))
        x = self.deconv3(x)
        return x[..., : self.seq_length]


class BiomechTerms(NamedTuple):
    """The five unweighted terms of the biomechanical loss."""

    velocity_consistency: Tensor  # MSE(predicted velocity, finite-difference velocity)
    accel_consistency: Tensor  # MSE(predicted acceleration, finite-difference acceleration)
    velocity_violation: Tensor  # mean over (b, t) of relu(||velocity_bt|| - velocity_limit)
    accel_violation: Tensor  # mean over (b, t) of relu(||accel_bt|| - acceleration_limit)
    smoothness: Tensor  # mean squared finite-difference velocity


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


class BiomechanicalConstraintModule(nn.Module):
    """Reads latents as 32 virtual joints and penalises implausible motion of a latent sequence.

    For a latent z (any leading shape, last dim latent_dim):
      * `compute_joint_angles(z)`: joint angles in radians, tanh-bounded to
        [angle_min_j, angle_max_j] (the notebook: [-pi, pi] for every joint);
      * `compute_velocity(z)` / `compute_acceleration(z)`: the angular velocity and
        acceleration that z predicts for its joints, in rad per step and rad per step^2.

    The joints are virtual: nothing ties joint j to a body part; the angles are a
    regularising reading of the latent, not a pose estimate. `biomechanical_loss` compares,
    over a sequence, the finite differences of the angles with those predictions.

    The angle limits are buffers (they follow .to(device)) but not part of the state_dict: they
    are hyperparameters held by the config, and a notebook state_dict has no such keys.
    """

    def __init__(self, latent_dim: int, num_joints: int = 32, *,
                 angle_min: float | Sequence[float] = -math.pi,
                 angle_max: float | Sequence[float] = math.pi,
                 velocity_limit: float = 10.0, acceleration_limit: float = 50.0,
                 w_velocity_consistency: float = 1.0, w_accel_consistency: float = 1.0,
                 w_velocity_violation: float = 0.1, w_accel_violation: float = 0.1,
                 w_smoothness: float = 0.01):
        super().__init__()
        self.latent_dim = latent_dim
        self.num_joints = num_joints

        # Joint angle mapping network
        self.joint_mapper = nn.Sequential(
            nn.Linear(latent_dim, 64),
            nn.ReLU(),
            nn.Linear(64, num_joints),
            nn.Tanh(),  # [-1, 1], scaled to the joint limits by compute_joint_angles
        )
        self.velocity_net = nn.Sequential(
            nn.Linear(latent_dim, 32),
            nn.ReLU(),
            nn.Linear(32, num_joints),
        )
        self.accel_net = nn.Sequential(
            nn.Linear(latent_dim, 32),
            nn.ReLU(),
            nn.Linear(32, num_joints),
        )

        lo = _per_joint("angle_min", angle_min, num_joints)
        hi = _per_joint("angle_max", angle_max, num_joints)
        if not bool((hi > lo).all()):
            raise ValueError("every angle_max must be greater than its angle_min")
        # Computed in float64 so that the notebook's scalar limits give its exact scale (pi).
        self.register_buffer("angle_center", ((hi + lo) / 2).float(), persistent=False)
        self.register_buffer("angle_half_range", ((hi - lo) / 2).float(), persistent=False)
        self.velocity_limit = float(velocity_limit)
        self.acceleration_limit = float(acceleration_limit)
        # In the order of BiomechTerms' fields.
        self.term_weights = BiomechTerms(
            float(w_velocity_consistency), float(w_accel_consistency),
            float(w_velocity_violation), float(w_accel_violation), float(w_smoothness),
        )

    def compute_joint_angles(self, z: Tensor) -> Tensor:
        """(..., latent_dim) -> joint angles (..., num_joints) in radians, within the limits."""
        return self.joint_mapper(z) * self.angle_half_range + self.angle_center

    def compute_velocity(self, z: Tensor) -> Tensor:
        """(..., latent_dim) -> predicted joint velocities (..., num_joints), rad per step."""
        return self.velocity_net(z)

    def compute_acceleration(self, z: Tensor) -> Tensor:
        """(..., latent_dim) -> predicted joint accelerations (..., num_joints), rad per step^2."""
        return self.accel_net(z)

    def biomechanical_terms(self, z_sequence: Tensor) -> BiomechTerms:
        """The five unweighted terms for z_sequence (B, T, latent_dim), T >= 3.

        Velocity at step t is angle(t+1) - angle(t), predicted from z_t; acceleration is the
        difference of consecutive velocities, also predicted from z_t (the notebook's pairing).
        """
        if z_sequence.dim() != 3 or z_sequence.shape[1] < 3:
            raise ValueError("z_sequence must be (batch, steps >= 3, latent_dim) for acceleration, "
                             f"got {tuple(z_sequence.shape)}")
        return biomechanical_terms(
            self.compute_joint_angles(z_sequence),
            self.compute_velocity(z_sequence[:, :-1]),
            self.compute_acceleration(z_sequence[:, :-2]),
            self.velocity_limit,
            self.acceleration_limit,
        )

    def biomechanical_loss(self, z_sequence: Tensor) -> Tensor:
        """The notebook's loss: velocity and acceleration consistency (weights 1, 1), limit
        violations (0.1, 0.1) and smoothness (0.01); the weights are constructor keywords."""
        terms = self.biomechanical_terms(z_sequence)
        return sum(w * term for w, term in zip(self.term_weights, terms))

    @staticmethod
    def config_kwargs(cfg: BILMConfig) -> dict[str, Any]:
        """The constructor keywords that `cfg` sets (limits and term weights)."""
        return {name: getattr(cfg, name) for name in BIOMECH_FIELDS}


def _per_joint(name: str, value: float | Sequence[float], num_joints: int) -> Tensor:
    """A scalar limit for every joint, or one value per joint, as a float64 (num_joints,)."""
    limits = torch.as_tensor(value, dtype=torch.float64)
    if limits.dim() == 0:
        return limits.expand(num_joints)
    if limits.shape != (num_joints,):
        raise ValueError(f"{name} needs one value or {num_joints} (one per joint), got {limits.numel()}")
    return limits


def kinematic_kwargs(cfg: BILMConfig) -> dict[str, Any]:
    """The KinematicConstraintModule keywords that `cfg` sets."""
    return {name: getattr(cfg, name) for name in KINEMATIC_FIELDS}


class BILMOutput(NamedTuple):
    """Everything one forward pass computes; `BILMClassifier.forward` returns the first five."""

    logits: Tensor  # (B, num_classes)
    x_recon: Tensor | None  # (B, C, L); None for a model built with reconstruct=False
    mu: Tensor  # (B, latent_dim)
    logvar: Tensor  # (B, latent_dim)
    z: Tensor  # (B, latent_dim): sampled in training mode, mu in eval mode
    z_sequence: Tensor  # (B, T', latent_dim): the biomechanical loss's input
    kinematics: KinematicState | None = None  # latent_sequence="kinematic": the decoded motion


class BILMClassifier(nn.Module):
    """BILM: Biomechanical Inverse-Latent Modeling for HAR.

    `BILMClassifier(input_channels, hidden_dim, latent_dim, num_classes, seq_length,
    num_joints=32)` is the notebook's network; the keywords are opt-in changes:

    * dropout, base_channels, kernel_size: the encoder (and classifier dropout), see Encoder.
    * classifier_input: "z" (notebook) classifies the sampled latent in training mode;
      "mu" classifies its mean in both modes.
    * latent_sequence: what the biomechanical loss sees as a motion over time.
      - "noise" (notebook): z repeated noise_steps times plus Gaussian noise of std
        noise_scale, drawn in training mode after everything else (so it consumes the RNG
        as the notebook's train loop did). In eval mode, z repeated with no noise. The steps
        have no meaning in time: the loss only asks the latent's neighbourhood to be smooth.
      - "temporal": one latent per step of the encoder's last feature map, z_t =
        z + d_t - mean_s d_s, where d = temporal_proj(features) is a 1x1 convolution of the
        (4 * base_channels)-channel map into the latent space. For L = 128 that is 16 steps
        of 8 samples = 0.16 s each at 50 Hz; its time average is z itself, so the joint
        angles of z_t are the window's virtual posture at 0.16 s t .. 0.16 s (t+1), the
        velocity is in rad per 0.16 s and the acceleration in rad per (0.16 s)^2, and the
        smoothness and limit terms act on the motion actually recorded in the window.
        Needs ceil(L / 8) >= 3 steps (L >= 17).
      - "kinematic": the temporal sequence decoded into the sensor's motion, sample by
        sample, and checked against the gyroscope and accelerometer it would produce
        (`bilm.kinematics`); the biomechanical module is then a KinematicConstraintModule.
        Its sequence may be finer (kinematic_step=4 or 2: the second or first block's feature
        map, one latent per 4 or 2 samples): a gyroscope's walking signal has a tenth of its
        variance between 6.25 and 12.5 Hz, which steps of 8 samples (6.25 per second at 50 Hz)
        hardly carry.
    * window_stats: "none" (notebook) or "mean" / "mean_std": the per-channel mean (and
      standard deviation) over time of the input window x, as the model receives it (so
      standardised if the data is), concatenated after the latent (mu or z) at the
      classifier's input, whose first layer grows by C (or 2C) inputs. For UCI HAR the
      total_acc means are the gravity direction in the phone's frame, which is what tells
      SITTING from STANDING, and the stds the movement intensity; the max-pooled, flattened
      CNN features carry them only indirectly. "rich": the 10 statistics per channel of
      `rich_window_stats` (10C inputs), through a batch norm (stats_norm) so that their
      scales match. "spectral": the rich ones plus the log power in six octave bands of
      `LogBandPower` (16C inputs, the same batch norm). The VAE (decoder, KL) and the
      biomechanical loss are unchanged: they see the latent only.
    * pooled_features: also append the time average of the encoder's last feature map
      (4 * base_channels inputs): how strongly each learned pattern occurs anywhere in the
      window, which the latent (a linear map of the flattened, position-bound map) does not
      single out. Like window_stats, it bypasses the VAE bottleneck into the classifier only.
    * rocket_features: also append that many of MiniRocket's random-kernel features
      (`bilm.rocket`, fitted on training windows before training), through their own batch
      norm and scaled by 1/sqrt(N): the proportion of each of ~10,000 fixed dilated patterns'
      outputs above a bias, shape statistics at up to 32 time scales (to 2.4 s for 128 samples)
      that the encoder's 1 s receptive field does not reach.
    * through_latent: the window statistics and pooled features feed the latent's head
      (beside the flattened feature map) instead of the classifier, which then reads the
      latent alone: everything it uses passes through the latent.
    * reconstruct=False drops the decoder (x_recon is None): a plain classifier on the same
      encoder, for ablations without the reconstruction and KL terms.
    * biomech: keywords of BiomechanicalConstraintModule (limits, term weights).
    """

    def __init__(self, input_channels: int, hidden_dim: int, latent_dim: int, num_classes: int,
                 seq_length: int, num_joints: int = 32, *, dropout: float = 0.3,
                 base_channels: int = 32, kernel_size: int = 5, classifier_input: str = "z",
                 latent_sequence: str = "noise", noise_steps: int = 10, noise_scale: float = 0.1,
                 kinematic_step: int = STEP, window_stats: str = "none", pooled_features: bool = False,
                 through_latent: bool = False, rocket_features: int = 0, rocket_seed: int = 0,
                 reconstruct: bool = True, biomech: Mapping[str, Any] | None = None):
        super().__init__()
        if window_stats not in WINDOW_STATS:
            raise ValueError(f"window_stats must be one of {WINDOW_STATS}, got {window_stats!r}")
        if classifier_input not in CLASSIFIER_INPUTS:
            raise ValueError(f"classifier_input must be one of {CLASSIFIER_INPUTS}, got {classifier_input!r}")
        if latent_sequence not in LATENT_SEQUENCE_MODES:
            raise ValueError(f"latent_sequence must be one of {LATENT_SEQUENCE_MODES}, got {latent_sequence!r}")
        if latent_sequence != "noise" and pooled_length(seq_length) < 3:
            raise ValueError(f"latent_sequence={latent_sequence!r} needs seq_length >= {2 * STEP + 1} "
                             f"(3 steps of {STEP} samples), got {seq_length}")
        if latent_sequence == "noise" and noise_steps < 3:
            raise ValueError(f"noise_steps must be >= 3 (acceleration needs 3 steps), got {noise_steps}")
        if kinematic_step not in KINEMATIC_STEPS or (kinematic_step != STEP and latent_sequence != "kinematic"):
            raise ValueError(f"kinematic_step must be one of {KINEMATIC_STEPS}, and {STEP} unless "
                             f"latent_sequence='kinematic', got {kinematic_step}")

        # The window's summary (opt-in): its per-channel statistics and the pooled features.
        self.window_stats = window_stats
        rich = window_stats in ("rich", "spectral")
        num_stats = {"none": 0, "mean": 1, "mean_std": 2, "rich": len(RICH_QUANTILES) + 5,
                     "spectral": len(RICH_QUANTILES) + 5 + LogBandPower.bands}[window_stats]
        num_stats *= input_channels
        num_pooled = 4 * base_channels if pooled_features else 0
        self.rocket = RocketFeatures(input_channels, seq_length, rocket_features, rocket_seed) if rocket_features else None
        num_rocket = self.rocket.num_features if self.rocket is not None else 0
        num_summary = num_stats + num_pooled + num_rocket

        # Built in the notebook's order, so that the same seed initialises the same weights.
        self.encoder = Encoder(input_channels, hidden_dim, latent_dim, seq_length,
                               base_channels=base_channels, kernel_size=kernel_size, dropout=dropout,
                               extra_inputs=num_summary if through_latent else 0)
        self.decoder = (Decoder(latent_dim, hidden_dim, input_channels, seq_length, base_channels=base_channels)
                        if reconstruct else None)
        if latent_sequence == "kinematic":
            self.biomech_module = KinematicConstraintModule(latent_dim, seq_length, kinematic_step, input_channels,
                                                            **(biomech or {}))
        else:
            self.biomech_module = BiomechanicalConstraintModule(latent_dim, num_joints=num_joints, **(biomech or {}))
        # The rich statistics differ in scale (a min or max is several stds out): a batch norm
        # brings each to unit scale before it meets the latent.
        self.stats_norm = StatsNorm(num_stats) if rich else None
        self.quantiles = WindowQuantiles(seq_length) if rich else None
        self.band_power = LogBandPower(seq_length) if window_stats == "spectral" else None
        self.rocket_norm = StatsNorm(num_rocket) if num_rocket else None
        self.classifier = nn.Sequential(
            nn.Linear(latent_dim + (0 if through_latent else num_summary), hidden_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, hidden_dim // 2),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim // 2, num_classes),
        )

        # The sequence's steps come from the feature map whose steps are kinematic_step samples.
        self.sequence_map = kinematic_step.bit_length() - 2  # 2 -> 0, 4 -> 1, 8 -> 2
        self.temporal_proj = (nn.Conv1d(base_channels * 2**self.sequence_map, latent_dim, kernel_size=1)
                              if latent_sequence != "noise" else None)
        self.classifier_input = classifier_input
        self.pooled_features = pooled_features
        self.through_latent = through_latent
        self.latent_sequence = latent_sequence
        self.noise_steps = noise_steps
        self.noise_scale = noise_scale

    @classmethod
    def from_config(cls, cfg: BILMConfig) -> BILMClassifier:
        """The model `cfg` describes; the `seed` preset gives exactly the notebook's network.

        The decoder is left out when both w_recon and w_kl are 0 (nothing would use it).
        """
        return cls(
            cfg.model_channels, cfg.hidden_dim, cfg.latent_dim, cfg.num_classes, cfg.seq_length,
            cfg.num_joints, dropout=cfg.dropout, base_channels=cfg.base_channels,
            kernel_size=cfg.kernel_size, classifier_input=cfg.classifier_input,
            latent_sequence=cfg.latent_sequence, noise_steps=cfg.noise_steps,
            noise_scale=cfg.noise_scale, kinematic_step=cfg.kinematic_step, window_stats=cfg.window_stats,
            pooled_features=cfg.pooled_features, through_latent=cfg.through_latent,
            rocket_features=cfg.rocket_features, rocket_seed=cfg.seed, reconstruct=cfg.w_recon != 0 or cfg.w_kl != 0,
            biomech=(kinematic_kwargs(cfg) if cfg.latent_sequence == "kinematic"
                     else BiomechanicalConstraintModule.config_kwargs(cfg)),
        )

    def reparameterize(self, mu: Tensor, logvar: Tensor) -> Tensor:
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward_all(self, x: Tensor, rocket: Tensor | None = None) -> BILMOutput:
        """One pass over x (B, C, L): logits, reconstruction, posterior, latent and z_sequence.

        `rocket`: x's MiniRocket features if they are already known (the trainer computes those
        of its clean windows once, and passes them with the augmented copies); else from x.

        In training mode z is sampled (reparameterisation); in eval mode z = mu, so logits,
        reconstruction and z_sequence are deterministic. The random draws come in the
        notebook's order: encoder dropout, z, classifier dropout, then the noise sequence.
        """
        maps = self.encoder.feature_maps(x)
        features = maps[-1]
        # The window's summary, if any, joins the latent's head or the classifier's input.
        through = self._window_summary(x, features, rocket) if self.through_latent else None
        mu, logvar = self.encoder.head(features, through)
        z = self.reparameterize(mu, logvar) if self.training else mu
        x_recon = self.decoder(z) if self.decoder is not None else None
        latent = mu if self.classifier_input == "mu" else z
        around = None if self.through_latent else self._window_summary(x, features, rocket)
        logits = self.classifier(latent if around is None else torch.cat([latent, around], dim=1))
        z_sequence = self._latent_sequence(z, maps[self.sequence_map])
        kinematics = (self.biomech_module.decode(z_sequence, z, x)
                      if isinstance(self.biomech_module, KinematicConstraintModule) else None)
        return BILMOutput(logits, x_recon, mu, logvar, z, z_sequence, kinematics)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor, Tensor, Tensor]:
        """(logits, x_recon, mu, logvar, z), as the notebook; see `forward_all`."""
        return self.forward_all(x)[:5]

    def _window_summary(self, x: Tensor, features: Tensor, rocket: Tensor | None) -> Tensor | None:
        """(opt-in) x's per-channel statistics and the time-averaged features, or None."""
        parts = []
        if self.stats_norm is not None:  # "rich" or "spectral"
            stats = rich_window_stats(x, self.quantiles)
            if self.band_power is not None:
                stats = torch.cat([stats, self.band_power(x)], dim=1)
            parts.append(self.stats_norm(stats))
        elif self.window_stats != "none":
            parts.append(x.mean(dim=-1))
            if self.window_stats == "mean_std":
                parts.append(x.std(dim=-1))
        if self.pooled_features:
            parts.append(features.mean(dim=-1))
        if self.rocket is not None:
            # Scaled so the block moves the latent as much as one feature: with ~10,000 correlated
            # inputs, each of Adam's steps would otherwise move the latent by thousands of units.
            rocket = self.rocket(x) if rocket is None else rocket
            parts.append(self.rocket_norm(rocket) * self.rocket.num_features ** -0.5)
        return torch.cat(parts, dim=1) if parts else None

    def _latent_sequence(self, z: Tensor, features: Tensor) -> Tensor:
        """(B, T', latent_dim) per the latent_sequence mode (see the class docstring), from the
        feature map whose steps are kinematic_step samples (8 but for the kinematic latent)."""
        if self.temporal_proj is not None:
            steps = self.temporal_proj(features).transpose(1, 2)  # (B, ceil(L / 8) * 8 / step, latent_dim)
            return z.unsqueeze(1) + (steps - steps.mean(dim=1, keepdim=True))
        z_sequence = z.unsqueeze(1).expand(-1, self.noise_steps, -1)
        if self.training:
            noise = torch.randn(z.shape[0], self.noise_steps, z.shape[1], device=z.device, dtype=z.dtype)
            z_sequence = z_sequence + noise * self.noise_scale
        return z_sequence
