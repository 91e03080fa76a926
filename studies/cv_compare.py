"""Compare settings cross-validated by `python -m bilm.cv`, fold by fold, on validation subjects.

    python -m studies.cv_compare runs/cv-motionsense runs/cv-motionsense-acc --out runs/ms-compare.md

Each argument is the --out folder of a finished `python -m bilm.cv` of one setting, all on the
same data with the same folds (the first is the baseline). Every fold's run held 20% of its
training subjects out for validation; its last epoch's validation macro-F1 (metrics.jsonl) is
what the settings are compared on, so the choice never looks at a test subject. The first table
gives, per fold, each setting's validation macro-F1, their means, and each setting against the
first (mean difference, folds up and down). The second gives the test macro-F1 of the same
runs, for the record once the choice is made; its last column is the nested choice: in each
fold, the test score of the setting that fold's own validation subjects preferred (the first
setting on a tie).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bilm import cli
from bilm.cv import PLAN, SUMMARY, fold_dir
from bilm.rundir import RunDir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.cv_compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", metavar="CV_DIR",
                        help="finished bilm.cv folders of the same folds; the first is the baseline")
    parser.add_argument("--out", metavar="FILE", help="also write the tables here")
    return parser


def read_cv(folder: Path) -> tuple[list[list[int]], list[float], list[float]]:
    """(each fold's test subjects, its last validation macro-F1, its test macro-F1) of a finished bilm.cv."""
    if not (folder / SUMMARY).is_file():
        raise cli.UsageError(f"{folder}: no {SUMMARY}; run `python -m bilm.cv --out {folder}` to the end first")
    folds = json.loads((folder / SUMMARY).read_text())["folds"]
    validation = []
    for row in folds:
        last = RunDir(fold_dir(folder, row["fold"])).read_metrics()[-1]
        if "val_macro_f1" not in last:
            raise cli.UsageError(f"{fold_dir(folder, row['fold'])} held out no validation subjects: "
                                 "it has nothing to compare on")
        validation.append(last["val_macro_f1"])
    return [row["test_subjects"] for row in folds], validation, [row["macro_f1"] for row in folds]


def check_same_folds(folders: list[Path], subjects: list[list[list[int]]]) -> None:
    plans = [json.loads((f / PLAN).read_text())["dataset"]["windows"] for f in folders]
    for folder, plan, tested in zip(folders[1:], plans[1:], subjects[1:]):
        if tested != subjects[0] or plan != plans[0]:
            raise cli.UsageError(f"{folder} does not hold the folds of {folders[0]} (other windows or test "
                                 "subjects): only the same folds can be compared")


def table(names: list[str], columns: list[list[float]], nested: list[float] | None = None) -> list[str]:
    header = names + (["nested choice"] if nested is not None else [])
    shown = columns + ([nested] if nested is not None else [])
    lines = ["| fold | " + " | ".join(header) + " |", "|---:|" + "---:|" * len(header)]
    lines += [f"| {i + 1} | " + " | ".join(f"{c[i]:.4f}" for c in shown) + " |" for i in range(len(columns[0]))]
    lines.append("| mean | " + " | ".join(f"**{statistics.fmean(c):.4f}**" for c in shown) + " |")
    diffs = [[a - b for a, b in zip(c, columns[0])] for c in shown]
    lines.append("| vs first | " + " | ".join(f"{statistics.fmean(d):+.4f} ({sum(x > 0 for x in d)} up, "
                                             f"{sum(x < 0 for x in d)} down)" for d in diffs) + " |")
    return lines


def nested_choice(validation: list[list[float]], test: list[list[float]]) -> list[float]:
    """Per fold, the test score of the setting with the highest validation score (the first on a tie)."""
    picks = [max(range(len(validation)), key=lambda s: (validation[s][fold], -s)) for fold in range(len(test[0]))]
    return [test[s][fold] for fold, s in enumerate(picks)]


def compare(args: argparse.Namespace) -> int:
    folders = [Path(f) for f in args.folders]
    subjects, validation, test = zip(*(read_cv(f) for f in folders))
    check_same_folds(folders, list(subjects))
    names = [f.name for f in folders]
    lines = ["Validation macro-F1 (each fold's last epoch, on its validation subjects):", "",
             *table(names, list(validation)), "",
             "Test macro-F1 of the same runs:", "",
             *table(names, list(test), nested_choice(list(validation), list(test)))]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.cv_compare", build_parser(), compare, argv)


if __name__ == "__main__":
    sys.exit(main())
