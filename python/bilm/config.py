"""Every hyperparameter of a BILM run in one dataclass.

The defaults are the seed notebook's (BiLM2_HAR): batch 64, 30 epochs, Adam at 1e-3,
latent 64, hidden 128, joint angles in [-pi, pi], velocity limit 10, acceleration limit 50,
32 virtual joints, loss weights 1 / 0.1 / 0.01 / 0.05, and a noise latent sequence of
10 steps with scale 0.1. Every improvement is a field that is off in `seed`.

Presets are named configs (PRESETS). Any field can be overridden from a TOML file or a
`name=value` string (see `apply_overrides`). docs/options.md describes every field.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LATENT_SEQUENCE_MODES = ("noise", "temporal", "kinematic")
# Samples per step of the kinematic latent's sequence: the encoder's feature map after three,
# two or one max-pools (the first, 8, is the temporal sequence's own).
KINEMATIC_STEPS = (8, 4, 2)
# Where the kinematic latent's starting orientation comes from (bilm.kinematics.KinematicHead).
KINEMATIC_STARTS = ("latent", "accelerometer")
KINEMATIC_MEAN_RATES = ("latent", "gyroscope")
CLASSIFIER_INPUTS = ("z", "mu")
WINDOW_STATS = ("none", "mean", "mean_std", "rich", "spectral")
OPTIMIZERS = ("adam", "adamw")
SCHEDULERS = ("none", "cosine", "plateau")
SELECT_EPOCHS = ("best", "last")
GRAVITY_FRAME_CHANNELS = 4  # see bilm.preprocess.GravityFrame
AUTO_TRIPLE = -1  # accel_triple, gyro_triple: found from the data's channel names (bilm.sensors)
# Fields of earlier versions and the value that turned each off.
REMOVED_FIELDS = {"sam_rho": 0.0, "average_epochs": 0, "augment_speed": 0.0}


@dataclass(frozen=True)
class BILMConfig:
    """One run's settings. Defaults are the notebook's; docs/options.md describes every field."""

    # --- data shape: taken from the data by the trainer ---
    input_channels: int = 9
    seq_length: int = 128
    num_classes: int = 6

    # --- the network (bilm.model) ---
    hidden_dim: int = 128
    latent_dim: int = 64
    num_joints: int = 32
    dropout: float = 0.3
    base_channels: int = 32  # encoder widths c, 2c, 4c
    kernel_size: int = 5  # odd, so "same" padding keeps the length
    classifier_input: str = "z"  # "z" (notebook) or "mu"
    window_stats: str = "none"  # statistics beside the latent at the classifier: see WINDOW_STATS
    pooled_features: bool = False  # the time-averaged encoder features beside the latent
    through_latent: bool = False  # the statistics and pooled features feed the latent, not the classifier
    rocket_features: int = 0  # MiniRocket's random-kernel features in the window's summary (0: none)
    rocket_ridge: bool = False  # MiniRocket's ridge classifier on those features beside the network (bilm.ridge)
    latent_sequence: str = "noise"  # what the biomechanical loss reads: "noise" (notebook), "temporal", "kinematic"
    kinematic_step: int = 8  # samples per step of the kinematic latent's sequence: 8, 4 or 2
    kinematic_start: str = "latent"  # the starting tilt: "latent" (a map of it) or "accelerometer" (fitted)
    kinematic_mean_rate: str = "latent"  # the window's mean turn rate: "latent" or "gyroscope" (measured)
    noise_steps: int = 10
    noise_scale: float = 0.1
    ensemble: int = 1  # networks trained side by side, their probabilities averaged

    # --- biomechanical constraint: a scalar, or one value per joint for the angle limits ---
    angle_min: float | tuple[float, ...] = -math.pi
    angle_max: float | tuple[float, ...] = math.pi
    velocity_limit: float = 10.0
    acceleration_limit: float = 50.0
    w_velocity_consistency: float = 1.0
    w_accel_consistency: float = 1.0
    w_velocity_violation: float = 0.1
    w_accel_violation: float = 0.1
    w_smoothness: float = 0.01
    w_turn_consistency: float = 0.0  # kinematic latent only: the decoded turn's drift from the gyroscope integrated

    # --- total loss weights ---
    w_ce: float = 1.0
    w_recon: float = 0.1
    w_kl: float = 0.01
    w_biomech: float = 0.05

    # --- optimisation ---
    batch_size: int = 64
    epochs: int = 30
    lr: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    scheduler: str = "none"
    warmup_epochs: int = 0
    min_lr: float = 0.0  # the cosine schedule's final learning rate
    plateau_patience: int = 2
    plateau_factor: float = 0.5
    label_smoothing: float = 0.0
    early_stopping_patience: int = 0  # 0: train every epoch
    select_epoch: str = "best"  # the weights best.pt keeps: "best" on validation, or "last"
    recalibrate_bn: bool = False  # batch-norm statistics recomputed on clean windows after each epoch

    # --- data handling ---
    standardize: bool = False  # per channel, fitted on the training part only
    val_subjects: int = 4  # training subjects held out for validation; 0: none (a refit)
    val_subject_ids: tuple[int, ...] = ()  # hold out exactly these instead (val_subjects is then ignored)
    train_subjects: int = 0  # train on only this many of the rest (learning curves); 0: all
    label_subjects: int = 0  # keep the labels of only this many of them, the rest unlabeled; 0: all
    pseudo_label_threshold: float = 0.0  # self-training: an unlabeled window predicted this surely (aligned) trains with its class; 0: off
    val_fraction: float = 0.2  # the stratified split of data without subjects
    augment_jitter: float = 0.0
    augment_scale: float = 0.0
    augment_rotation_deg: float = 0.0
    augment_shift: int = 0
    gravity_frame: bool = False  # four channels of the motion along and across gravity
    accel_triple: int = AUTO_TRIPLE  # the xyz triple of the accelerometer with gravity (UCI HAR: 2); -1: from channel names
    gyro_triple: int = AUTO_TRIPLE  # the xyz triple of the gyroscope (UCI HAR: 1); -1: from channel names
    sampling_rate: float = 50.0  # Hz, of data that does not say (the kinematic latent's time step)
    gravity: float = 1.0  # what the accelerometer reads upward at rest (1: g; 9.80665: m/s^2; -1: iOS)

    seed: int = 0

    def __post_init__(self) -> None:
        _check_choice("latent_sequence", self.latent_sequence, LATENT_SEQUENCE_MODES)
        _check_choice("classifier_input", self.classifier_input, CLASSIFIER_INPUTS)
        _check_choice("window_stats", self.window_stats, WINDOW_STATS)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("scheduler", self.scheduler, SCHEDULERS)
        _check_choice("select_epoch", self.select_epoch, SELECT_EPOCHS)
        for name in ("input_channels", "seq_length", "num_classes", "hidden_dim",
                     "latent_dim", "num_joints", "base_channels", "kernel_size", "ensemble", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"config field {name} must be >= 1, got {getattr(self, name)}")
        if self.rocket_features != 0 and self.rocket_features < 84:
            raise ValueError("config field rocket_features must be 0 (none) or at least 84 (one per kernel), "
                             f"got {self.rocket_features}")
        if self.rocket_ridge and not self.rocket_features:
            raise ValueError("config field rocket_ridge needs MiniRocket's features: set rocket_features "
                             "(e.g. 10000), or rocket_ridge=false")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"config field kernel_size must be odd, got {self.kernel_size}")
        if self.num_classes < 2:
            raise ValueError(f"config field num_classes must be >= 2, got {self.num_classes}")
        if self.noise_steps < 3:
            raise ValueError("config field noise_steps must be >= 3 (acceleration needs 3 steps)")
        if self.kinematic_step not in KINEMATIC_STEPS:
            raise ValueError(f"config field kinematic_step must be one of {KINEMATIC_STEPS}, got {self.kinematic_step}")
        _check_choice("kinematic_start", self.kinematic_start, KINEMATIC_STARTS)
        _check_choice("kinematic_mean_rate", self.kinematic_mean_rate, KINEMATIC_MEAN_RATES)
        if self.latent_sequence != "kinematic":
            _check_kinematic_only(self)
        for field in dataclasses.fields(self):
            if field.name.startswith("w_") and not getattr(self, field.name) >= 0:  # also refuses NaN
                raise ValueError(f"config field {field.name} is a loss weight and must be >= 0, "
                                 f"got {getattr(self, field.name)}")
        if not self.lr > 0:
            raise ValueError(f"config field lr must be > 0, got {self.lr}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"config field dropout must be in [0, 1), got {self.dropout}")
        for name in ("weight_decay", "grad_clip", "warmup_epochs", "early_stopping_patience",
                     "min_lr", "plateau_patience", "augment_jitter", "augment_scale",
                     "augment_rotation_deg", "augment_shift", "train_subjects", "label_subjects", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"config field {name} must be >= 0, got {getattr(self, name)}")
        for name in ("accel_triple", "gyro_triple"):
            if getattr(self, name) < AUTO_TRIPLE:
                raise ValueError(f"config field {name} must be >= 0, or -1 to find it from the channel names; "
                                 f"got {getattr(self, name)}")
        if not 0 < self.plateau_factor < 1:
            raise ValueError(f"config field plateau_factor must be in (0, 1), got {self.plateau_factor}")
        if not 0 <= self.pseudo_label_threshold < 1:
            raise ValueError(f"config field pseudo_label_threshold must be in [0, 1), got {self.pseudo_label_threshold}")
        if self.pseudo_label_threshold and not self.label_subjects:
            raise ValueError(f"config field pseudo_label_threshold={self.pseudo_label_threshold} needs label_subjects > 0 "
                             "(without unlabeled windows there is nothing to pseudo-label): set label_subjects=N "
                             "to keep the labels of N training subjects only, or leave pseudo_label_threshold at 0")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"config field label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.val_subjects < 0:
            raise ValueError(f"config field val_subjects must be >= 0, got {self.val_subjects}")
        if len(set(self.val_subject_ids)) != len(self.val_subject_ids):
            raise ValueError(f"config field val_subject_ids names a subject twice: {self.val_subject_ids}")
        if self.val_subjects == 0 and not self.val_subject_ids:
            _check_without_validation(self)
        if not self.sampling_rate > 0:
            raise ValueError(f"config field sampling_rate must be > 0, got {self.sampling_rate}")
        if self.gravity == 0:
            raise ValueError("config field gravity must not be 0: it is what the accelerometer reads upward at rest")
        if not 0 < self.val_fraction < 1:
            raise ValueError(f"config field val_fraction must be in (0, 1), got {self.val_fraction}")
        for name in ("angle_min", "angle_max"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != self.num_joints:
                raise ValueError(
                    f"config field {name} has {len(value)} values; it needs one per joint "
                    f"(num_joints={self.num_joints}) or a single number"
                )

    @property
    def model_channels(self) -> int:
        """The channels the network reads: the data's, and the gravity frame's if it is on."""
        return self.input_channels + (GRAVITY_FRAME_CHANNELS if self.gravity_frame else 0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> BILMConfig:
        """Build a config from plain values (JSON or TOML), rejecting unknown fields.

        Fields that earlier versions had are accepted at the value that turned them off, so
        their runs still load; a run that used one is refused with a message that says so.
        """
        values = dict(values)
        for name, off in REMOVED_FIELDS.items():
            if name in values and values.pop(name) != off:
                raise ValueError(f"config field {name} was removed from bilm (it did not help: see "
                                 f"docs/accuracy.md); this config sets it, so bilm cannot rebuild its run")
        return dataclasses.replace(cls(), **_coerce_all(values))


def _check_kinematic_only(cfg: BILMConfig) -> None:
    """Refuse the kinematic latent's own settings on another latent, where they would do nothing."""
    if cfg.kinematic_step != KINEMATIC_STEPS[0]:
        raise ValueError(f"config field kinematic_step={cfg.kinematic_step} needs latent_sequence='kinematic' "
                         f"(the other sequences have one step per {KINEMATIC_STEPS[0]} samples)")
    if cfg.kinematic_start != KINEMATIC_STARTS[0]:
        raise ValueError(f"config field kinematic_start={cfg.kinematic_start!r} needs latent_sequence='kinematic'")
    if cfg.kinematic_mean_rate != KINEMATIC_MEAN_RATES[0]:
        raise ValueError(f"config field kinematic_mean_rate={cfg.kinematic_mean_rate!r} needs "
                         "latent_sequence='kinematic'")
    if cfg.w_turn_consistency:
        raise ValueError(f"config field w_turn_consistency={cfg.w_turn_consistency} needs latent_sequence='kinematic' "
                         "(the other latents decode no turn to compare with the gyroscope)")


def _check_without_validation(cfg: BILMConfig) -> None:
    """val_subjects=0 leaves nothing to validate on: refuse the settings that read validation."""
    readers = []
    if cfg.select_epoch != "last":
        readers.append(f"select_epoch={cfg.select_epoch!r}")
    if cfg.early_stopping_patience:
        readers.append(f"early_stopping_patience={cfg.early_stopping_patience}")
    if cfg.scheduler == "plateau":
        readers.append("scheduler='plateau'")
    if readers:
        raise ValueError(f"config field val_subjects=0 holds out no validation data, but {', '.join(readers)} "
                         "reads it; set select_epoch=last, early_stopping_patience=0 and another scheduler, "
                         "or val_subjects >= 1")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"config field {name} must be one of {', '.join(choices)}; got {value!r}")


_HINTS = get_type_hints(BILMConfig)
FIELD_NAMES = tuple(f.name for f in dataclasses.fields(BILMConfig))
DATA_FIELDS = ("input_channels", "seq_length", "num_classes")  # the trainer takes these from the data


def _coerce(name: str, value: Any) -> Any:
    """Turn a JSON/TOML/command-line value into the field's type, or raise ValueError."""
    if name not in _HINTS:
        raise ValueError(f"unknown config field {name!r}; known fields: {', '.join(FIELD_NAMES)}")
    hint = _HINTS[name]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(f"config field {name} must be true or false, got {value!r}")
    if hint is int:
        return _coerce_int(name, value)
    if hint is str:
        return str(value)
    if hint == tuple[int, ...]:  # subject ids: a list, or "3,7" on the command line
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError(f"config field {name} takes a list of integers, got {value!r}")
        return tuple(_coerce_int(name, v) for v in items if not (isinstance(v, str) and not v.strip()))
    # float, or float | tuple[float, ...] for the per-joint angle limits
    if isinstance(value, (list, tuple)):
        if "tuple" not in str(hint):
            raise ValueError(f"config field {name} takes one number, got a list")
        return tuple(_to_float(name, v) for v in value)
    if isinstance(value, str) and "," in value and "tuple" in str(hint):
        return tuple(_to_float(name, v) for v in value.split(","))
    return _to_float(name, value)


def _coerce_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"config field {name} must be an integer, got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"config field {name} must be an integer, got {value!r}") from None


def _to_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"config field {name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"config field {name} must be a number, got {value!r}") from None


def _coerce_all(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _coerce(name, value) for name, value in values.items()}


def apply_overrides(config: BILMConfig, overrides: list[str]) -> BILMConfig:
    """Apply `name=value` strings, e.g. ["lr=3e-4", "latent_sequence=temporal"]."""
    values: dict[str, Any] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"override {item!r} is not of the form name=value")
        values[name.strip()] = value.strip()
    return dataclasses.replace(config, **_coerce_all(values))


def load_toml(path: str | Path, base: BILMConfig) -> BILMConfig:
    """Override `base` with the fields of a TOML file (flat `name = value` pairs)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML: {e}") from None
    try:
        return dataclasses.replace(base, **_coerce_all(values))
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


# The named configs; docs/options.md says why each setting of `default` was chosen.
PRESETS: dict[str, BILMConfig] = {
    # The notebook's network, loss and optimiser, with 4 training subjects held out for
    # validation and the best validation epoch kept.
    "seed": BILMConfig(),
    # The notebook's own protocol: every training window, 30 epochs, the last one reported.
    "notebook": BILMConfig(val_subjects=0, select_epoch="last"),
    # The best model found, every setting chosen on validation subjects.
    "default": BILMConfig(
        latent_sequence="temporal", standardize=True, classifier_input="mu",
        window_stats="spectral", pooled_features=True, through_latent=True, base_channels=24, kernel_size=7,
        optimizer="adamw", weight_decay=0.05, batch_size=128, lr=2e-3,
        scheduler="cosine", warmup_epochs=2, epochs=10, label_smoothing=0.1, augment_jitter=0.05,
        augment_shift=8, augment_rotation_deg=30, augment_scale=0.1, select_epoch="last", val_subjects=0,
        recalibrate_bn=True, gravity_frame=True, rocket_features=10_000,
    ),
}
# The default with the kinematic latent: the sensor's motion decoded every 2 samples from a tilt
# fitted to the accelerometer, its agreement with both sensors weighted as docs/physics.md chose;
# and MiniRocket's ridge classifier beside the network, as MotionSense's folds chose (docs/cv.md).
PRESETS["kinematic"] = dataclasses.replace(
    PRESETS["default"], latent_sequence="kinematic", kinematic_step=2, kinematic_start="accelerometer",
    w_biomech=1.0, w_accel_consistency=10.0, w_velocity_consistency=3.0, rocket_ridge=True,
)


def get_preset(name: str) -> BILMConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
