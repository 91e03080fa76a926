"""The MotionSense attitude study end to end, on a small generated tree in the real layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from test_train_fixtures import ONE_THREAD, TINY_MODEL

from bilm.kinematics import integrate, rotation_from_6d
from studies import motionsense_attitude

HEADER = ("," + ",".join(["attitude.roll", "attitude.pitch", "attitude.yaw", "gravity.x", "gravity.y", "gravity.z",
                          "rotationRate.x", "rotationRate.y", "rotationRate.z", "userAcceleration.x",
                          "userAcceleration.y", "userAcceleration.z"]))


def write_tree(root: Path, rows: int = 200) -> None:
    """Recordings of subjects 1, 2 (training) and 20 (test) whose attitude follows iOS's rules
    from a slowly turning gravity vector."""
    rng = np.random.default_rng(0)
    for folder, subject in (("sit_5", 1), ("dws_1", 1), ("sit_5", 2), ("dws_1", 2), ("sit_5", 20), ("dws_1", 20)):
        t = np.arange(rows) / 50
        down = np.stack([np.sin(0.3 * t + subject), np.cos(0.2 * t) - 0.5, -np.ones_like(t)], axis=1)
        down /= np.linalg.norm(down, axis=1, keepdims=True)
        roll, pitch = np.arctan2(down[:, 0], -down[:, 2]), np.arcsin(-down[:, 1])
        gyro, user = rng.normal(scale=0.1, size=(rows, 3)), rng.normal(scale=0.05, size=(rows, 3))
        table = np.column_stack([roll, pitch, np.zeros(rows), down, gyro, user])
        path = root / folder / f"sub_{subject}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [HEADER] + [f"{i}," + ",".join(f"{v:.6f}" for v in row) for i, row in enumerate(table)]
        path.write_text("\n".join(lines) + "\n")


def test_the_study_compares_the_decoded_tilt_with_ios(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    write_tree(tmp_path / "A_DeviceMotion_data")
    sets = [*(s for s in TINY_MODEL if not s.startswith("val_subjects")), "epochs=1", "batch_size=16"]
    argv = ["--root", str(tmp_path / "A_DeviceMotion_data"), "--out", str(tmp_path / "study")]
    assert motionsense_attitude.main([*argv, *(a for s in sets for a in ("--set", s))]) == 0
    result = json.loads((tmp_path / "study" / "attitude.json").read_text())
    assert result["test_subjects"] == list(motionsense_attitude.TEST_SUBJECTS) and result["windows"] == 4
    assert max(result["formula_check_deg_median"]) < 1e-3  # the tilt formula is iOS's own
    keys = ("roll_error_deg_median", "pitch_error_deg_median", "gravity_angle_deg_median")
    for scores in (result, *result["without_a_model"].values()):
        assert all(0 <= scores[key] <= 180 for key in keys)
    config = json.loads((tmp_path / "study" / "seed-0" / "config.json").read_text())["config"]
    assert (config["gravity"], config["accel_triple"], config["gyro_triple"]) == (-1.0, 0, 1)


def test_the_gyroscope_integrated_recovers_a_turning_gravity():
    """A phone turning at a steady rate, with a zero-mean linear acceleration (in the world's
    frame) on top: the window mean is off by the turn, the measured gyroscope integrated is not."""
    rng = np.random.default_rng(1)
    T, dt = 128, 1 / 50
    gyro = np.broadcast_to(rng.normal(scale=0.8, size=(3, 1, 3)), (3, T, 3)).copy()
    start = rotation_from_6d(torch.as_tensor(rng.normal(size=(3, 6)), dtype=torch.float64))
    turn = integrate(start, torch.as_tensor(gyro), dt).numpy()  # sensor -> world
    gravity = np.einsum("ntji,j->nti", turn, np.array([0.0, 0.0, -1.0]))
    linear = 0.2 * np.sin(np.linspace(0, 4 * np.pi, T, endpoint=False))[None, :, None] * np.ones((3, 1, 3))
    accel = gravity + np.einsum("ntji,ntj->nti", turn, linear)
    found = motionsense_attitude.gyro_integrated_gravity(accel, gyro, dt)
    assert np.degrees(np.arccos(np.clip((found * gravity).sum(-1), -1, 1))).max() < 1e-3
    mean = motionsense_attitude.window_mean_gravity(accel)
    assert np.median(np.degrees(np.arccos(np.clip((mean / np.linalg.norm(mean, axis=-1, keepdims=True)
                                                  * gravity).sum(-1), -1, 1)))) > 5
