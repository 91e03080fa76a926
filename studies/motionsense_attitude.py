"""Does the kinematic latent know how the phone is held? MotionSense against iOS's own attitude.

    python -m bilm.data download motionsense --url file:///path/to/A_DeviceMotion_data.zip
    python -m studies.motionsense_attitude --out runs/motionsense-attitude --jobs 1

MotionSense recorded, beside the iPhone's gyroscope and accelerometer, the phone's attitude
as iOS's sensor fusion estimates it (roll, pitch, and gravity in the phone's frame). The
model never sees those: it reads the accelerometer (gravity + userAcceleration, in g, iOS's
sign: -1 g upward at rest, so `gravity=-1`) and the gyroscope (rotationRate, rad/s), cut into
128-sample windows with 50% overlap, and trains the default preset with the kinematic latent
on subjects 1-19. On the windows of subjects 20-24 it compares, sample by sample, the roll and
pitch of the gravity direction the latent decodes with iOS's: the median absolute error in
degrees, and the median angle between the two gravity directions.

Roll and pitch are read from a gravity direction by the formula that reproduces iOS's own
attitude from its own gravity vector (checked on the data, and printed): so the comparison is
between two gravity directions, in iOS's angles.

Two estimates without a model are scored the same way, to say what the errors mean: the
accelerometer's mean over each window (a low-pass filter), and what the kinematic latent's
physics allows at best: the *measured* gyroscope integrated over the window, and the one
starting tilt that, with the latent's zero-mean linear acceleration (in the world's frame),
explains the accelerometer best. A model whose decoded gyroscope were exact, and whose start
were fitted (kinematic_start="accelerometer"), would reach the second.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

import bilm_fast
from bilm import cli
from bilm.config import apply_overrides, get_preset
from bilm.data import HARData
from bilm.data.datasets import RecordingSet, load, split_unit
from bilm.inference import load_classifier
from bilm.kinematics import angle_deg, fitted_start, gravity_direction, turns
from bilm.training import fit

TEST_SUBJECTS = (20, 21, 22, 23, 24)
SIZE, STEP = 128, 64
# The kinematic default preset on this phone's channels: total acceleration then gyroscope.
OVERRIDES = ("latent_sequence=kinematic", "through_latent=true", "w_biomech=1", "w_accel_consistency=30",
             "w_velocity_consistency=10", "accel_triple=0", "gyro_triple=1", "gravity=-1", "sampling_rate=50")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.motionsense_attitude", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", metavar="PATH", help="the MotionSense folder (default: the downloaded copy)")
    parser.add_argument("--out", default="runs/motionsense-attitude", metavar="DIR", help="the study folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config override, e.g. --set epochs=5")
    return parser


def columns(data: RecordingSet, *names: str) -> np.ndarray:
    """The signal's columns of these channel names (without their units), (samples, len(names))."""
    index = {split_unit(name)[0]: i for i, name in enumerate(data.channels)}
    return data.signal[:, [index[name] for name in names]]


def windows(data: RecordingSet) -> dict[str, np.ndarray]:
    """The windows (N, 11, 128) of every recording: the accelerometer (gravity +
    userAcceleration) and the gyroscope, the model's input; then iOS's gravity, roll and pitch.
    With each window's label and subject."""
    xyz = [[f"{family}.{axis}" for axis in "xyz"] for family in ("gravity", "userAcceleration", "rotationRate")]
    gravity = columns(data, *xyz[0])
    signals = [gravity + columns(data, *xyz[1]), columns(data, *xyz[2]), gravity,
               columns(data, "attitude.roll", "attitude.pitch")]
    columns_ = np.concatenate(signals, axis=1).astype(np.float32)
    parts: dict[str, list] = {"X": [], "y": [], "subject": []}
    for i in range(len(data.bounds) - 1):
        lo, hi = data.bounds[i], data.bounds[i + 1]
        if hi - lo < SIZE:
            continue
        cut = bilm_fast.sliding_windows(np.ascontiguousarray(columns_[lo:hi]), SIZE, STEP)  # (n, 11, 128)
        parts["X"].append(cut)
        parts["y"].append(np.full(len(cut), data.labels[lo], dtype=np.int64))
        parts["subject"].append(np.full(len(cut), data.subjects[i], dtype=np.int64))
    return {k: np.concatenate(v) for k, v in parts.items()}


def tilt(gravity: np.ndarray) -> np.ndarray:
    """iOS's roll and pitch (radians) of a downward gravity vector (..., 3) in the phone's frame."""
    x, y, z = gravity[..., 0], gravity[..., 1], gravity[..., 2]
    return np.stack([np.arctan2(x, -z), np.arcsin(np.clip(-y / np.linalg.norm(gravity, axis=-1), -1, 1))], -1)


def wrapped_deg(a: np.ndarray) -> np.ndarray:
    return np.degrees(np.abs((a + np.pi) % (2 * np.pi) - np.pi))


def window_mean_gravity(accel: np.ndarray) -> np.ndarray:
    """The accelerometer's mean over each window (N, T, 3), as the gravity of every sample."""
    return np.broadcast_to(accel.mean(axis=1, keepdims=True), accel.shape)


@torch.inference_mode()
def gyro_integrated_gravity(accel: np.ndarray, gyro: np.ndarray, dt: float) -> np.ndarray:
    """The gravity (N, T, 3) of the kinematic physics with the measured gyroscope: the window's
    turns integrated from it, and the starting tilt that explains the accelerometer best under a
    zero-mean linear acceleration (`bilm.kinematics.fitted_start`, as kinematic_start=
    "accelerometer" decodes it), as a unit down vector."""
    identity = torch.eye(3, dtype=torch.float64).expand(len(gyro), 3, 3)  # any heading will do
    turn = turns(torch.as_tensor(gyro, dtype=torch.float64), dt)
    start = fitted_start(identity, turn, torch.as_tensor(accel, dtype=torch.float64), gravity=-1.0)
    orientation = start.unsqueeze(1) @ turn
    return -orientation[..., 2, :].numpy()  # the world's down in the sensor's frame, -R(t)^T e_z


def errors(gravity: np.ndarray, ios_gravity: np.ndarray, ios_attitude: np.ndarray) -> dict[str, float]:
    """Median roll and pitch errors against iOS's attitude, and the median angle between the
    gravity directions, in degrees."""
    error = wrapped_deg(tilt(gravity) - ios_attitude)
    return {"roll_error_deg_median": float(np.median(error[..., 0])),
            "pitch_error_deg_median": float(np.median(error[..., 1])),
            "gravity_angle_deg_median": float(np.median(angle_deg(gravity, ios_gravity)))}


@torch.inference_mode()
def predicted_gravity(run: Path, X: np.ndarray) -> np.ndarray:
    """The downward gravity direction (N, 128, 3) the run's latent decodes for windows X."""
    classifier = load_classifier(run)
    network = classifier.module.model.members[0]
    out = []
    for i in range(0, len(X), 512):
        x = classifier.module.model_input(torch.as_tensor(X[i:i + 512]))
        out.append(-gravity_direction(network.forward_all(x).kinematics).numpy())
    return np.concatenate(out)


def study(args: argparse.Namespace) -> int:
    data = load("motionsense", args.root)
    cut = windows(data)
    test = np.isin(cut["subject"], TEST_SUBJECTS)
    X = cut["X"][:, :6]
    har = HARData(X[~test], cut["y"][~test], X[test], cut["y"][test], cut["subject"][~test], cut["subject"][test],
                  classes=data.classes, source=data.source)
    try:
        cfg = apply_overrides(get_preset("default"), [*OVERRIDES, *args.overrides, f"seed={args.seed}"])
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    run = Path(args.out) / f"seed-{args.seed}"
    if not (run / "report.json").exists():
        fit(cfg, har, run, resume=True, device="cpu", progress=False)
    ios_gravity = cut["X"][test][:, 6:9].transpose(0, 2, 1)
    ios_attitude = cut["X"][test][:, 9:11].transpose(0, 2, 1)
    formula = wrapped_deg(tilt(ios_gravity) - ios_attitude)
    accel, gyro = (X[test][:, axes].transpose(0, 2, 1) for axes in (slice(0, 3), slice(3, 6)))
    result = {
        "test_subjects": list(TEST_SUBJECTS), "windows": int(test.sum()),
        "test_accuracy": json.loads((run / "report.json").read_text())["test_accuracy"],
        "formula_check_deg_median": [float(v) for v in np.median(formula.reshape(-1, 2), axis=0)],
        **errors(predicted_gravity(run, X[test]), ios_gravity, ios_attitude),
        "without_a_model": {
            "accelerometer_window_mean": errors(window_mean_gravity(accel), ios_gravity, ios_attitude),
            "measured_gyroscope_integrated": errors(gyro_integrated_gravity(accel, gyro, 1 / cfg.sampling_rate),
                                                    ios_gravity, ios_attitude),
        },
    }
    (Path(args.out) / "attitude.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.motionsense_attitude", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
