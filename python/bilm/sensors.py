"""Which channels are the accelerometer and the gyroscope, read from the data's channel names.

The gravity frame and the kinematic latent need the xyz triple of the accelerometer that
includes gravity and the gyroscope's. With `accel_triple` and `gyro_triple` left at AUTO
(-1), `configure` finds them in the channel names that UCI HAR folders, the built-in
datasets and `python -m bilm.data windows` carry ("total_acc_x [g]", "T_xgyro [rad/s]"):
three consecutive channels whose names differ only in an x, y, z; an accelerometer by its
unit (g, m/s^2) or name (acc..., or ax/ay/az), the one with gravity by not being named body,
user or linear acceleration; a gyroscope by its unit (rad/s, deg/s) or name (gyro...,
rotationRate, or gx/gy/gz, wx/wy/wz). The accelerometer's unit sets the size of
`gravity` (1 for g, 9.80665 for m/s^2) and the config keeps its sign (iOS reads -1 g upward
at rest: `gravity=-1`). Data that does not name its channels, or has no such
pair, trains with the gravity frame off, saying so in one line.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bilm.augment import AXES
from bilm.config import AUTO_TRIPLE as AUTO, BILMConfig
from bilm.data.datasets import split_unit

AXIS_LETTERS = "xyz"  # how a triple's three names differ
STANDARD_GRAVITY = 9.80665  # m/s^2
ACCEL_UNITS = {"g": 1.0, "m/s^2": STANDARD_GRAVITY, "m/s2": STANDARD_GRAVITY, "m/s²": STANDARD_GRAVITY}
GYRO_UNITS = ("rad/s", "deg/s", "°/s", "dps")
GRAVITY_REMOVED = ("body", "user", "lin")  # accelerometers without gravity


@dataclass(frozen=True)
class Triple:
    """Channels 3 * index .. 3 * index + 2: one sensor's x, y and z, named `stem`, in `unit`."""

    index: int
    stem: str
    unit: str


def xyz_triples(channels: Sequence[str]) -> list[Triple]:
    """The aligned triples of channels whose names (units aside) differ only in an x, y, z."""
    found = []
    for index in range(len(channels) // AXES):
        parts = [split_unit(name) for name in channels[AXES * index:AXES * index + AXES]]
        names, units = [p[0] for p in parts], {p[1] for p in parts}
        stem = _stem(names)
        if stem is not None and len(units) == 1:
            found.append(Triple(index, stem, units.pop()))
    return found


def _stem(names: list[str]) -> str | None:
    """"total_acc_" from total_acc_x, total_acc_y, total_acc_z; None unless they differ in one x/y/z."""
    if len({len(name) for name in names}) != 1:
        return None
    differ = [i for i in range(len(names[0])) if len({name[i] for name in names}) > 1]
    if len(differ) != 1 or "".join(name[differ[0]] for name in names).lower() != AXIS_LETTERS:
        return None
    i = differ[0]
    return names[0][:i] + names[0][i + 1:]


def vector_triples(channels: Sequence[str] | None) -> list[int] | None:
    """The triples a rotation turns: those named x, y, z; None (every triple) without names."""
    return None if channels is None else [t.index for t in xyz_triples(channels)]


def _word(triple: Triple) -> str:
    """The stem without separators, lower case: "total_acc_" -> "totalacc", "T_acc" -> "tacc"."""
    return "".join(c for c in triple.stem.lower() if c.isalnum())


def is_accelerometer_with_gravity(triple: Triple) -> bool:
    word = _word(triple)
    named = word == "a" or ("acc" in word and "gyr" not in word)
    by_unit = triple.unit in ACCEL_UNITS and "gravity" not in word
    return (named or by_unit) and not any(removed in word for removed in GRAVITY_REMOVED)


def is_gyroscope(triple: Triple) -> bool:
    word = _word(triple)
    return triple.unit in GYRO_UNITS or word in ("g", "w", "omega") or "gyr" in word or "rotationrate" in word


def configure(cfg: BILMConfig, channels: Sequence[str] | None,
              sampling_rate: float | None) -> tuple[BILMConfig, str | None]:
    """cfg with its AUTO sensor triples, gravity and sampling rate taken from the data, and the
    line to print when the gravity frame had to be turned off (else None).

    Triples set by the user are kept as they are. The data's sampling rate, when it says one,
    replaces the config's: the kinematic latent's time step must be the data's.
    """
    if sampling_rate is not None:
        cfg = dataclasses.replace(cfg, sampling_rate=float(sampling_rate))
    if AUTO not in (cfg.accel_triple, cfg.gyro_triple):
        return cfg, None
    triples = xyz_triples(channels) if channels is not None else []
    accel = _first(triples, is_accelerometer_with_gravity) if cfg.accel_triple == AUTO else None
    gyro = _first([t for t in triples if t != accel], is_gyroscope) if cfg.gyro_triple == AUTO else None
    values = {}
    if accel is not None:
        values["accel_triple"] = accel.index
        values["gravity"] = math.copysign(ACCEL_UNITS.get(accel.unit, abs(cfg.gravity)), cfg.gravity)
    if gyro is not None:
        values["gyro_triple"] = gyro.index
    if gyro is not None and cfg.latent_sequence == "kinematic" and gyro.unit not in ("rad/s", ""):
        raise ValueError(f"latent_sequence=kinematic reads the gyroscope in rad/s, but the data's "
                         f"{gyro.stem} channels are in {gyro.unit}: convert them first")
    cfg = dataclasses.replace(cfg, **values)
    if AUTO not in (cfg.accel_triple, cfg.gyro_triple) or not (cfg.gravity_frame or cfg.latent_sequence == "kinematic"):
        return cfg, None
    missing = _missing(cfg, channels)
    if cfg.latent_sequence == "kinematic":
        raise ValueError(f"latent_sequence=kinematic needs an accelerometer with gravity and a gyroscope, but "
                         f"{missing}: set accel_triple and gyro_triple, or another latent_sequence")
    return dataclasses.replace(cfg, gravity_frame=False), (
        f"gravity frame off: {missing} (set accel_triple and gyro_triple to the triples to use it)")


def _first(triples: list[Triple], test) -> Triple | None:
    return next((t for t in triples if test(t)), None)


def _missing(cfg: BILMConfig, channels: Sequence[str] | None) -> str:
    if channels is None:
        return "the data does not name its channels"
    wanted = [name for name, field in (("an accelerometer with gravity", "accel_triple"),
                                       ("a gyroscope", "gyro_triple")) if getattr(cfg, field) == AUTO]
    return f"no channels of the data ({', '.join(channels)}) look like {' or '.join(wanted)}"
