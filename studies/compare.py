"""Compare candidate settings on validation subjects, paired by seed.

    python -m studies.compare runs/val/base runs/val/scale10 runs/val/rot20 --size 17

Each argument is the --out folder of a `python -m studies.learning_curve --set ...` study: one
candidate setting, trained on `size` subjects for each seed, each seed holding out its own 4
validation subjects. A seed holds out the same subjects in every study, so a row compares the
candidates on the same people. The table has one row per seed that every study has finished
(its last epoch's validation accuracy, %), the mean, and each study against the first:
the mean difference and on how many seeds it was higher or lower. The test split plays no part.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from bilm import cli
from studies import learning_curve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("studies", nargs="+", metavar="STUDY",
                        help="learning-curve study folders; the first is the baseline")
    parser.add_argument("--size", type=int, default=17, help="the training-subject count to compare (default: 17)")
    parser.add_argument("--out", metavar="FILE", help="also write the table here")
    return parser


def finished_runs(study: Path, size: int) -> dict[int, float]:
    """seed -> the last epoch's validation accuracy, for each run of the study that has a report."""
    folder = learning_curve.size_dir(study, size)
    if not folder.is_dir():
        raise cli.UsageError(f"{study} holds no study of {size} training subjects (no {folder.name})")
    accuracy = {}
    for seed, run in learning_curve.seed_runs(study, size).items():
        if run.report.exists():
            last = run.read_metrics()[-1]
            if "val_accuracy" not in last:
                raise cli.UsageError(f"{run.path} held out no validation subjects: it has nothing to compare")
            accuracy[seed] = last["val_accuracy"]
    return accuracy


def markdown(names: list[str], columns: list[dict[int, float]]) -> str:
    seeds = sorted(set.intersection(*(set(c) for c in columns)))
    if not seeds:
        raise cli.UsageError("the studies have no finished seed in common")
    base = columns[0]

    def versus(column: dict[int, float]) -> str:
        diffs = [column[s] - base[s] for s in seeds]
        return (f"{100 * statistics.mean(diffs):+.2f} ({sum(d > 0 for d in diffs)} up, "
                f"{sum(d < 0 for d in diffs)} down)")

    lines = ["| seed | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    lines += [f"| {s} | " + " | ".join(f"{100 * c[s]:.2f}" for c in columns) + " |" for s in seeds]
    lines.append("| mean | " + " | ".join(f"**{100 * statistics.mean(c[s] for s in seeds):.2f}**"
                                         for c in columns) + " |")
    lines.append("| vs first | " + " | ".join(versus(c) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def compare(args: argparse.Namespace) -> int:
    studies = [Path(s) for s in args.studies]
    table = markdown([s.name for s in studies], [finished_runs(s, args.size) for s in studies])
    print(table, end="")
    if args.out:
        Path(args.out).write_text(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.compare", build_parser(), compare, argv)


if __name__ == "__main__":
    sys.exit(main())
