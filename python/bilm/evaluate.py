"""Evaluate a trained classifier on any dataset: the run's report again, or on other data.

    python -m bilm.evaluate runs/2025-01-01_120000            # best.pt on the run's own test split
    python -m bilm.evaluate runs/x/last.pt --data my.npz --out report.json
"""

from __future__ import annotations

import argparse
import json
import sys
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


def check_classes(classifier: LoadedClassifier, data: HARData) -> None:
    if tuple(data.classes) != classifier.classes:
        raise ValueError(f"the data's classes {list(data.classes)} are not the model's {list(classifier.classes)}")


def split_arrays(data: HARData, split: str) -> tuple[np.ndarray, np.ndarray]:
    return (data.X_test, data.y_test) if split == "test" else (data.X_train, data.y_train)


def run_data_path(checkpoint_path: str) -> str | None:
    """The --data a run was trained with, from the config.json beside its checkpoint, if any."""
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
        check_classes(classifier, data)
        classifier.check_input(X)
    except ValueError as e:
        raise ValueError(f"data {data.source}: {e}") from None
    return classifier, data, X, y


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bilm-evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT",
                        help="a run folder (its best.pt) or a checkpoint file")
    parser.add_argument("--data", metavar="PATH",
                        help="a UCI HAR folder or a dataset .npz (default: the data the run was trained on)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which split to score (default: test)")
    parser.add_argument("--out", metavar="FILE", help="write the report here instead of stdout")
    parser.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    return parser


def evaluate(args: argparse.Namespace) -> int:
    device = cli.resolve_device(args.device)
    cli.check_data_path(args.data)
    classifier, data, X, y = load_split(args.checkpoint, args.data, args.split, device)
    result = {**report(classifier, X, y), "data": data.source, "split": args.split}
    text = json.dumps(result, indent=2) + "\n"
    cli.write_output(text, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm-evaluate", build_parser(), evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
