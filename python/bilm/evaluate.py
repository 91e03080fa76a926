"""Evaluate a trained classifier on any dataset: the run's report again, or on other data.

    python -m bilm.evaluate runs/2025-01-01_120000            # best.pt on the run's own test split
    python -m bilm.evaluate runs/x/last.pt --data my.npz --out report.json
"""

from __future__ import annotations

import argparse
import json
import sys

from bilm import cli
from bilm.scoring import load_split, report


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
