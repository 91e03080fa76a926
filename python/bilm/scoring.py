"""Scoring a trained classifier on labelled windows: report.json's content, and the data a
run's checkpoint is scored on by default (the data it was trained on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from bilm import cli
from bilm.data import HARData
from bilm.inference import LoadedClassifier, load_classifier
from bilm.metrics import classification_report
from bilm.rundir import RunDir


def report(classifier: LoadedClassifier, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """report.json's content for windows X with labels y: best_epoch, test_accuracy,
    test_macro_f1, per_class, confusion_matrix (rows = true class), classes, n_test."""
    predicted = classifier.probabilities(X).argmax(axis=1)
    metrics = classification_report(y, predicted, classifier.classes)
    return {
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
