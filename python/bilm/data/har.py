"""The in-memory dataset every bilm command trains and evaluates on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# UCI HAR's activity_labels.txt, in label order (label 1 there is index 0 here).
UCI_HAR_CLASSES = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
# The nine "Inertial Signals" files of a split, in the channel order of X (N, 9, 128).
UCI_HAR_SIGNALS = tuple(f"{kind}_{axis}" for kind in ("body_acc", "body_gyro", "total_acc") for axis in "xyz")


def signal_path(root: str | os.PathLike[str], split: str, signal: str) -> Path:
    """Where a UCI HAR folder keeps one signal of a split: <split>/Inertial Signals/<signal>_<split>.txt."""
    return Path(root) / split / "Inertial Signals" / f"{signal}_{split}.txt"


@dataclass(frozen=True)
class HARData:
    """Windows of inertial signals with their labels, split into train and test.

    X_*: float32 (N, C, T), C-contiguous; y_*: int64 (N,) in 0..K-1 indexing `classes`;
    subject_*: int64 (N,) or None when the recordings carry no subject ids.
    `source` says where the data came from (a path), for logs and a run's config.json.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    subject_train: np.ndarray | None
    subject_test: np.ndarray | None
    classes: tuple[str, ...]
    source: str
