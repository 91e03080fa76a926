"""Scoring a trained classifier on labelled windows: report.json's content, and the data a
run's checkpoint is scored on by default (the data it was trained on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from scipy.ndimage import uniform_filter1d

from bilm import cli
from bilm.data import HARData
from bilm.inference import LoadedClassifier, load_classifier
from bilm.kinematics import KinematicConstraintModule, angle_deg, gravity_direction, measure, r2
from bilm.metrics import classification_report
from bilm.rundir import RunDir


def report(classifier: LoadedClassifier, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """report.json's content for windows X with labels y: best_epoch, test_accuracy,
    test_macro_f1, per_class, confusion_matrix (rows = true class), classes, n_test, and for
    a model with the kinematic latent, `physics` (see physics_report)."""
    predicted = classifier.probabilities(X).argmax(axis=1)
    metrics = classification_report(y, predicted, classifier.classes)
    physics = {"physics": physics_report(classifier, X)} if classifier.config.latent_sequence == "kinematic" else {}
    return physics | {
        "best_epoch": classifier.epoch,
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "per_class": metrics["per_class"],
        "confusion_matrix": metrics["confusion_matrix"],
        "classes": list(classifier.classes),
        "n_test": int(len(y)),
    }


def split_arrays(data: HARData, split: str) -> tuple[np.ndarray, np.ndarray]:
    return (data.X_test, data.y_test) if split == "test" else (data.X_train, data.y_train)


def run_data_path(checkpoint_path: str) -> str | None:
    """The data a run was trained on, from the config.json beside its checkpoint, if any."""
    path = Path(checkpoint_path)
    run = RunDir(path if path.is_dir() else path.parent)
    return run.read_config()["run"]["data"] if run.config.is_file() else None


def load_split(checkpoint_path: str, data_path: str | None, split: str,
               device: torch.device) -> tuple[LoadedClassifier, HARData, np.ndarray, np.ndarray]:
    """A checkpoint's classifier, the data (default: the data its run was trained on) and one
    split's windows and labels; ValueError when the data does not fit the model."""
    classifier = load_classifier(checkpoint_path, device)
    data = cli.load_data(data_path if data_path is not None else run_data_path(checkpoint_path))
    X, y = split_arrays(data, split)
    try:
        if tuple(data.classes) != classifier.classes:
            raise ValueError(f"the data's classes {list(data.classes)} are not the model's {list(classifier.classes)}")
        classifier.check_input(X)
    except ValueError as e:
        raise ValueError(f"data {data.source}: {e}") from None
    return classifier, data, X, y


@torch.inference_mode()
def kinematic_pairs(classifier: LoadedClassifier, X: np.ndarray,
                    batch_size: int = 512) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The kinematic latent's predicted signals beside the measured ones, for raw windows X
    (N, C, T), through the first network of the model: "gyro", (N, T-1, 3) each, rad/s, the
    rate between consecutive samples; "accel", (N, T, 3) each; "gravity", the predicted
    gravity reading and the measured accelerometer, (N, T, 3) each, both averaged over 1 s
    about each sample, so that the walking's linear acceleration averages out."""
    network = classifier.module.model.members[0]
    constraint: KinematicConstraintModule = network.biomech_module
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"gyro": [], "accel": [], "gravity": []}
    second = max(1, round(classifier.config.sampling_rate))
    for i in range(0, len(X), batch_size):
        x = classifier.module.model_input(torch.as_tensor(X[i:i + batch_size], device=classifier.device))
        state = network.forward_all(x).kinematics
        gyro, accel = measure(state, constraint.dt, constraint.gravity)
        gyro_measured, accel_measured = constraint.measured(x)
        between = (gyro_measured[:, :-1] + gyro_measured[:, 1:]) / 2
        reading = (constraint.gravity * gravity_direction(state)).cpu().numpy()
        pairs["gyro"].append((gyro.cpu().numpy(), between.cpu().numpy()))
        pairs["accel"].append((accel.cpu().numpy(), accel_measured.cpu().numpy()))
        pairs["gravity"].append(tuple(uniform_filter1d(a, second, axis=1, mode="nearest")
                                      for a in (reading, accel_measured.cpu().numpy())))
    return {k: (np.concatenate([p[0] for p in v]), np.concatenate([p[1] for p in v])) for k, v in pairs.items()}


def physics_report(classifier: LoadedClassifier, X: np.ndarray, batch_size: int = 512) -> dict[str, float]:
    """How well the kinematic latent's motion explains the sensors of raw windows X (N, C, T)
    (see kinematic_pairs): gyro_r2 and accel_r2 (R^2 of the predicted against the measured
    gyroscope and accelerometer, axes pooled) and gravity_angle_deg_median (the median angle
    between the predicted gravity reading and the measured accelerometer, both averaged over
    1 s about each sample)."""
    flat = {k: [a.reshape(-1, 3) for a in v] for k, v in kinematic_pairs(classifier, X, batch_size).items()}
    return {"gyro_r2": r2(*flat["gyro"]), "accel_r2": r2(*flat["accel"]),
            "gravity_angle_deg_median": float(np.median(angle_deg(*flat["gravity"])))}
