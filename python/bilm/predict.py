"""Classify windows with a trained checkpoint; one row per window, as CSV or JSON.

    python -m bilm.predict runs/x/best.pt windows.npy               # CSV to stdout
    python -m bilm.predict runs/x "UCI HAR Dataset" --json --out predictions.json

INPUT is an .npy of raw windows (N, C, T), or a UCI HAR folder / dataset .npz (its --split).
The checkpoint's own standardisation is applied. CSV columns: index, label (the 0-based class
index), class, then p_<class> for every class.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys

import numpy as np

from bilm import cli
from bilm.scoring import split_arrays
from bilm.inference import load_classifier


def read_windows(path: str) -> np.ndarray:
    """An .npy array of windows (N, C, T); no pickled objects."""
    try:
        X = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npy array ({e})") from None
    if X.dtype.kind not in "fiu":
        raise ValueError(f"{path}: windows must be numbers, got dtype {X.dtype}")
    return X.astype(np.float32, copy=False)


def rows(probabilities: np.ndarray, classes: tuple[str, ...]) -> list[dict]:
    labels = probabilities.argmax(axis=1)
    return [{"index": i, "label": int(label), "class": classes[label],
             "probabilities": {name: float(p) for name, p in zip(classes, probs, strict=True)}}
            for i, (label, probs) in enumerate(zip(labels, probabilities, strict=True))]


def to_csv(records: list[dict], classes: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "label", "class", *(f"p_{name}" for name in classes)])
    for r in records:
        # 9 significant digits: a float32 probability read back is the same float32.
        writer.writerow([r["index"], r["label"], r["class"], *(f"{p:.9g}" for p in r["probabilities"].values())])
    return out.getvalue()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bilm-predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint file, or a run folder (its best.pt)")
    parser.add_argument("input", metavar="INPUT",
                        help="an .npy of windows (N, C, T), a UCI HAR folder or a dataset .npz")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="which split of a folder or .npz to classify (default: test)")
    parser.add_argument("--json", action="store_true", help="write JSON (a list of rows) instead of CSV")
    parser.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    return parser


def predict(args: argparse.Namespace) -> int:
    device = cli.resolve_device(args.device)
    cli.check_data_path(args.input, option="INPUT")
    classifier = load_classifier(args.checkpoint, device)
    if args.input.endswith(".npy"):
        X = read_windows(args.input)
    else:
        X = split_arrays(cli.load_data(args.input), args.split)[0]
    records = rows(classifier.probabilities(X), classifier.classes)
    text = json.dumps(records, indent=1) + "\n" if args.json else to_csv(records, classifier.classes)
    cli.write_output(text, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm-predict", build_parser(), predict, argv)


if __name__ == "__main__":
    sys.exit(main())
