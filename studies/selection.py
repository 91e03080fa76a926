"""Keep the epoch validation likes best, or the last one? A check on the training subjects.

    python -m studies.selection --data "UCI HAR Dataset" --out runs/selection --seeds 6 --jobs 2

Each seed trains the default preset with 4 validation subjects held out (the preset itself
holds out none) plus any --set, with every epoch's weights kept (`keep_epochs`). Its validation subjects are then halved in every possible way:
one half picks the epoch with the highest macro-F1 (what select_epoch="best" does), and the
other half scores that epoch and, beside it, the last epoch. Only validation windows enter
the comparison (each training run still writes its usual test report, which this ignores).
A run folder that already holds its epochs is reused, if it was trained with these settings.

It prints a markdown table: per seed, the held-out half's mean accuracy of each rule.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from bilm import cli
from bilm.config import BILMConfig
from bilm.data import HARData
from bilm.inference import load_classifier
from bilm.parallel import in_parallel
from bilm.rundir import RunDir
from bilm.splits import validation_split
from studies import common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.selection", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_study_options(parser, out="runs/selection")
    parser.add_argument("--seeds", type=int, default=6, metavar="N", help="training runs (seeds 0..N-1)")
    return parser


def overrides(args: argparse.Namespace, seed: int) -> list[str]:
    return [common.HOLD_OUT, *args.overrides, f"seed={seed}"]


def train(job: tuple[int, BILMConfig], args: argparse.Namespace) -> RunDir:
    """The seed's run with every epoch kept; trained unless its folder already has them."""
    seed, cfg = job
    run = RunDir(Path(args.out) / f"seed-{seed}")
    if not run.report.exists():
        common.train_run(run.path, cfg, args.data, keep_epochs=True)
    return run


def epoch_predictions(run: RunDir, data: HARData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, subjects (N,) and each kept epoch's predicted classes (epochs, N) of the run's
    validation windows."""
    saved = json.loads(run.config.read_text())
    cfg = BILMConfig.from_dict(saved["config"])
    if not saved["run"].get("keep_epochs"):
        raise cli.CommandError(f"{run.path} was trained without --keep-epochs; remove it or choose another --out")
    val = validation_split(data.y_train, data.subject_train, cfg).val
    X = data.X_train[val]
    predicted = [load_classifier(run.epoch_checkpoint(e)).probabilities(X).argmax(axis=1)
                 for e in range(1, cfg.epochs + 1)]
    return data.y_train[val], data.subject_train[val], np.stack(predicted)


def compare(y: np.ndarray, subjects: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Mean accuracy on the held-out half of: the epoch the other half likes best, the last
    epoch, and (for scale) the best epoch in hindsight."""
    def accuracy(epoch: int, part: np.ndarray) -> float:
        return float(np.mean(predicted[epoch][part] == y[part]))

    unique = np.unique(subjects)
    scores: dict[str, list[float]] = {"chosen": [], "last": [], "hindsight": []}
    for half in itertools.combinations(unique, len(unique) // 2):
        choose, score = np.isin(subjects, half), ~np.isin(subjects, half)
        f1 = [f1_score(y[choose], p[choose], average="macro") for p in predicted]
        scores["chosen"].append(accuracy(int(np.argmax(f1)), score))
        scores["last"].append(accuracy(len(predicted) - 1, score))
        scores["hindsight"].append(max(accuracy(e, score) for e in range(len(predicted))))
    return {rule: statistics.mean(values) for rule, values in scores.items()}


def markdown(rows: dict[int, dict[str, float]]) -> str:
    lines = ["| seed | best epoch on one half, scored on the other | last epoch | best in hindsight |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {seed} | {r['chosen']:.4f} | {r['last']:.4f} | {r['hindsight']:.4f} |" for seed, r in rows.items()]
    mean = {k: statistics.mean(r[k] for r in rows.values()) for k in ("chosen", "last", "hindsight")}
    lines.append(f"| mean | {mean['chosen']:.4f} | {mean['last']:.4f} | {mean['hindsight']:.4f} |")
    return "\n".join(lines) + "\n"


def study(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.jobs < 1:
        raise cli.UsageError("--seeds and --jobs must be >= 1")
    configs = common.plan_study([(Path(args.out) / f"seed-{seed}", "default", overrides(args, seed))
                              for seed in range(args.seeds)], args.data)
    if configs[0].val_subjects < 2:
        raise cli.UsageError(f"val_subjects={configs[0].val_subjects}: halving the validation subjects "
                             "needs 2 or more")
    cli.check_data_path(args.data)
    data = cli.load_data(args.data)
    if data.subject_train is None:
        raise cli.UsageError("the data has no subject ids: there are no validation subjects to halve")
    runs = in_parallel(functools.partial(train, args=args), list(enumerate(configs)), args.jobs)
    rows = {seed: compare(*epoch_predictions(run, data)) for seed, run in enumerate(runs)}
    table = markdown(rows)
    (Path(args.out) / "selection.md").write_text(table)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.selection", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
