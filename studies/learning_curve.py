"""How validation accuracy grows with the number of training subjects: the case for a refit.

    python -m studies.learning_curve --data "UCI HAR Dataset" --sizes 9 13 17 --seeds 6 --jobs 2

Each seed holds out 4 validation subjects (chosen by the seed) and trains the default preset
(plus any --set) on `size` of the other subjects, for each size; the smaller sets are subsets
of the larger ones. Every size of a seed is scored on the same validation subjects, at the
last epoch, so the table shows what more training subjects buy. If accuracy still grows at
the largest size, the final model gains from training on every subject (the default preset's
val_subjects=0). Only validation windows are scored (each run still writes its usual test
report, which this ignores). A run folder trained with these settings is reused.

It prints a markdown table, per seed, of the last epoch's validation accuracy at each size.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from pathlib import Path

from bilm import cli
from bilm.config import BILMConfig
from bilm.parallel import in_parallel
from bilm.rundir import RunDir
from bilm.splits import validation_split
from studies import common


SEED_PREFIX = "seed-"  # a run folder is <study>/subjects-<size>/seed-<seed>


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.learning_curve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_study_options(parser, out="runs/learning-curve")
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 13, 17], metavar="N",
                        help="numbers of training subjects (default: 9 13 17)")
    parser.add_argument("--seeds", type=int, default=6, metavar="N", help="validation draws (seeds S..S+N-1)")
    parser.add_argument("--first-seed", type=int, default=0, metavar="S",
                        help="the first seed (default: 0); fresh seeds confirm a choice made on others")
    return parser


def size_dir(study: Path, size: int) -> Path:
    """The folder of a study's runs on `size` training subjects."""
    return study / f"subjects-{size}"


def run_dir(args: argparse.Namespace, size: int, seed: int) -> Path:
    return size_dir(Path(args.out), size) / f"{SEED_PREFIX}{seed}"


def seed_runs(study: Path, size: int) -> dict[int, RunDir]:
    """seed -> run folder, for every seed of the study on `size` subjects begun so far."""
    runs = {}
    for path in size_dir(study, size).glob(f"{SEED_PREFIX}*"):
        seed = path.name.removeprefix(SEED_PREFIX)
        if seed.isdigit():
            runs[int(seed)] = RunDir(path)
    return runs


def overrides(args: argparse.Namespace, size: int, seed: int) -> list[str]:
    return [common.HOLD_OUT, *args.overrides, f"train_subjects={size}", f"seed={seed}"]


def last_val_accuracy(job: tuple[int, int, BILMConfig], args: argparse.Namespace) -> float:
    """The run's validation accuracy at its last epoch, trained unless its folder has a report."""
    size, seed, cfg = job
    run = RunDir(run_dir(args, size, seed))
    if not run.report.exists():
        common.train_run(run.path, cfg, args.data)
    return run.read_metrics()[-1]["val_accuracy"]


def markdown(sizes: list[int], table: dict[int, list[float]]) -> str:
    lines = ["| seed | " + " | ".join(f"{n} subjects" for n in sizes) + " |",
             "|---:|" + "---:|" * len(sizes)]
    lines += [f"| {seed} | " + " | ".join(f"{a:.4f}" for a in row) + " |" for seed, row in table.items()]
    means = [statistics.mean(row[i] for row in table.values()) for i in range(len(sizes))]
    lines.append("| mean | " + " | ".join(f"{m:.4f}" for m in means) + " |")
    return "\n".join(lines) + "\n"


def study(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.jobs < 1 or min(args.sizes) < 1:
        raise cli.UsageError("--seeds, --jobs and every --sizes value must be >= 1")
    if args.first_seed < 0:
        raise cli.UsageError(f"--first-seed {args.first_seed}: seeds are >= 0")
    sizes = sorted(set(args.sizes))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(size, seed) for seed in seeds for size in sizes]
    configs = common.plan_study([(run_dir(args, *job), "default", overrides(args, *job)) for job in jobs],
                                args.data)
    cli.check_data_path(args.data)
    data = cli.load_data(args.data)
    if data.subject_train is None:
        raise cli.UsageError("the data has no subject ids: there are no subjects to count")
    try:  # too many subjects for the data: said here, not by a training run
        for cfg in configs:
            validation_split(data.y_train, data.subject_train, cfg)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    runs = [(size, seed, cfg) for (size, seed), cfg in zip(jobs, configs)]
    accuracy = dict(zip(jobs, in_parallel(functools.partial(last_val_accuracy, args=args), runs, args.jobs)))
    table = markdown(sizes, {seed: [accuracy[size, seed] for size in sizes] for seed in seeds})
    (Path(args.out) / "learning_curve.md").write_text(table)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.learning_curve", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
