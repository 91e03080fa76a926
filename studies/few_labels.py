"""Where a latent earns its keep: training with the labels of only a few subjects.

    python -m studies.few_labels --data "UCI HAR Dataset" --labelled 2 4 8 --seeds 3 --jobs 2

The reconstruction and physics terms need no labels. For each number of labelled training
subjects (chosen by the seed, the same ones for every variant) it trains the default preset
in each of these ways (--variants: some of them) and scores each run once on the test split:

  all windows      every training window, only the chosen subjects' with their labels
                   (label_subjects=N)
  labelled only    the same network on the labelled subjects' windows alone (train_subjects=N)
  without physics  all windows, without the biomechanical (physics) term (w_biomech=0)
  self-training    all windows, each unlabeled one that the model of the epoch before
                   classifies with aligned probability >= 0.8 trained with that class
                   (pseudo_label_threshold=0.8: label smoothing of 0.1 caps what the model
                   learns to say at 0.92 for six classes, so the usual 0.95 would label nothing)

It writes OUT/few_labels.md and OUT/few_labels.json: test accuracy mean and std over the
seeds, and mean train time, per variant and number of labelled subjects.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from bilm import cli
from bilm.config import BILMConfig
from bilm.parallel import in_parallel
from bilm.rundir import RunDir
from studies import common

VARIANTS = {
    "all windows": ("label_subjects={n}",),
    "labelled only": ("train_subjects={n}",),
    "without physics": ("label_subjects={n}", "w_biomech=0"),
    "self-training": ("label_subjects={n}", "pseudo_label_threshold=0.8"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.few_labels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_study_options(parser, out="runs/few-labels")
    parser.add_argument("--labelled", type=int, nargs="+", default=[2, 4, 8], metavar="N",
                        help="numbers of labelled training subjects (default: 2 4 8)")
    parser.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 (default: 3)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="NAME",
                        help=f"the ways to train, of: {', '.join(map(repr, VARIANTS))} (default: all)")
    return parser


def run_dir(args: argparse.Namespace, variant: str, n: int, seed: int) -> Path:
    return Path(args.out) / variant.replace(" ", "-") / f"labelled-{n}" / f"seed-{seed}"


def overrides(args: argparse.Namespace, variant: str, n: int, seed: int) -> list[str]:
    """--set first, then what defines the variant, so that a --set w_biomech=1 (the kinematic
    latent's weight) cannot turn the physics back on in the run without it."""
    return [*args.overrides, *(o.format(n=n) for o in VARIANTS[variant]), f"seed={seed}"]


def run_one(job: tuple[str, int, int, BILMConfig], args: argparse.Namespace) -> dict[str, Any]:
    variant, n, seed, cfg = job
    run = RunDir(run_dir(args, variant, n, seed))
    if not run.report.exists():
        common.train_run(run.path, cfg, args.data)
    report = json.loads(run.report.read_text())
    return {"variant": variant, "labelled": n, "seed": seed, "test_accuracy": report["test_accuracy"],
            "test_macro_f1": report["test_macro_f1"],
            "train_seconds": sum(row["train_seconds"] for row in run.read_metrics())}


def markdown(rows: list[dict[str, Any]], sizes: list[int], variants: list[str]) -> str:
    lines = ["| labelled subjects | " + " | ".join(variants) + " |", "|---:|" + "---:|" * len(variants)]
    for n in sizes:
        cells = []
        for variant in variants:
            mine = [r for r in rows if r["variant"] == variant and r["labelled"] == n]
            acc = [100 * r["test_accuracy"] for r in mine]
            std = statistics.stdev(acc) if len(acc) > 1 else 0.0
            cells.append(f"{statistics.mean(acc):.2f} ± {std:.2f} ({statistics.mean(r['train_seconds'] for r in mine):.0f} s)")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def study(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.jobs < 1 or min(args.labelled) < 1:
        raise cli.UsageError("--seeds, --jobs and every --labelled value must be >= 1")
    cli.check_data_path(args.data)
    sizes = sorted(set(args.labelled))
    variants = [v for v in VARIANTS if v in args.variants]
    runs = [(variant, n, seed) for n in sizes for variant in variants for seed in range(args.seeds)]
    configs = common.plan_study([(run_dir(args, *run), "default", overrides(args, *run)) for run in runs],
                                args.data)
    rows = in_parallel(functools.partial(run_one, args=args),
                              [(*run, cfg) for run, cfg in zip(runs, configs)], args.jobs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "few_labels.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = markdown(rows, sizes, variants)
    (out / "few_labels.md").write_text(table)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.few_labels", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
