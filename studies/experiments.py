"""The accuracy study: train the ablation variants over several seeds and tabulate them.

    python -m studies.experiments --data "UCI HAR Dataset" --out runs/accuracy --jobs 2

Each run is an ordinary `bilm.fit` run in its own folder (RUN/<variant>/seed-<S>), so
every number in the table can be traced to a run folder, re-evaluated and plotted. A run that
already has a report.json is read, not retrained; one that has only last.pt is resumed: an
interrupted study continues where it stopped; a folder that holds a run with other settings
(another --set, or another version's preset) stops it with an error. Model selection inside
each run uses its validation subjects only; the test split is read once per run, by the
trainer, at the end.

It writes RUN/results.json (every run) and RUN/results.md (mean +- std per variant, with the
published anchors), and prints the markdown table.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bilm import cli
from bilm.config import BILMConfig
from bilm.parallel import in_parallel
from bilm.rundir import RunDir
from studies import common


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    preset: str
    overrides: tuple[str, ...] = ()


VARIANTS = (
    Variant("seed", "seed preset (the notebook's network, 4 subjects held out, best epoch)", "seed"),
    Variant("notebook", "notebook preset (the notebook's protocol: all 21 subjects, last epoch)", "notebook"),
    Variant("default", "default preset", "default"),
    Variant("held-out", "default holding out 4 of the 21 training subjects for validation", "default",
            (common.HOLD_OUT,)),
    Variant("no-spectral", "default without the octave-band log powers (rich statistics only)", "default",
            ("window_stats=rich",)),
    Variant("no-bn-recal", "default without recalibrating the batch norms on clean windows", "default",
            ("recalibrate_bn=false",)),
    Variant("no-gravity-frame", "default without the gravity frame's four channels", "default",
            ("gravity_frame=false",)),
    Variant("no-biomech", "default without the biomechanical loss", "default", ("w_biomech=0",)),
    Variant("no-vae", "default without KL and reconstruction (plain classifier)", "default",
            ("w_recon=0", "w_kl=0")),
    Variant("noise-seq", "default with the noise sequence instead of the temporal one", "default",
            ("latent_sequence=noise",)),
)
VARIANT_NAMES = tuple(v.name for v in VARIANTS)

# Published results on the same official split (21 training / 9 test subjects).
ANCHORS = (
    ("SVM on the 561 hand-made features (Anguita et al. 2013)", "~96%"),
    ("LSTM-CNN hybrids", "~96%"),
    ("1-D CNN on the raw signals (Ronao & Cho 2016)", "~94.8%"),
    ("LSTM", "~91-92%"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m studies.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_study_options(parser, out="runs/accuracy")
    parser.add_argument("--variants", nargs="+", choices=VARIANT_NAMES, default=list(VARIANT_NAMES))
    parser.add_argument("--default-seeds", type=int, default=5, metavar="N", help="seeds of the default preset")
    parser.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds of every other variant")
    parser.add_argument("--device", default="cpu", help=cli.DEVICE_HELP)
    return parser


def seeds_for(variant: Variant, args: argparse.Namespace) -> range:
    return range(args.default_seeds if variant.name == "default" else args.seeds)


def overrides_for(variant: Variant, args: argparse.Namespace) -> list[str]:
    return [*variant.overrides, *args.overrides]


def run_dir_of(variant: Variant, seed: int, args: argparse.Namespace) -> Path:
    return Path(args.out) / variant.name / f"seed-{seed}"


def run_one(job: tuple[Variant, int, BILMConfig], args: argparse.Namespace) -> dict[str, Any]:
    """Train (or resume, or just read) one run and return its row."""
    variant, seed, cfg = job
    run_dir = run_dir_of(variant, seed, args)
    if not (run_dir / "report.json").exists():
        started = time.perf_counter()
        common.train_run(run_dir, cfg, args.data, args.device)
        print(f"[{variant.name} seed {seed}] done in {time.perf_counter() - started:.0f} s", flush=True)
    return read_run(variant, seed, run_dir)


def read_run(variant: Variant, seed: int, run_dir: Path) -> dict[str, Any]:
    report = json.loads((run_dir / "report.json").read_text())
    epochs = RunDir(run_dir).read_metrics()
    return {
        "variant": variant.name, "seed": seed, "run_dir": str(run_dir),
        "test_accuracy": report["test_accuracy"], "test_macro_f1": report["test_macro_f1"],
        "best_epoch": report["best_epoch"], "epochs": len(epochs),
        "train_seconds": sum(e["train_seconds"] for e in epochs),
    }


def mean_std(values: list[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * std:.2f}"


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [
        f"Accuracy study, {datetime.now(timezone.utc):%Y-%m-%d}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, device {args.device}; data: {args.data or 'cached UCI HAR'}",
        "",
        "| variant | runs | test accuracy (%) | test macro-F1 (%) | mean train time (s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for variant in VARIANTS:
        mine = [r for r in rows if r["variant"] == variant.name]
        if mine:
            lines.append(
                f"| {variant.description} | {len(mine)} | {mean_std([r['test_accuracy'] for r in mine])} | "
                f"{mean_std([r['test_macro_f1'] for r in mine])} | "
                f"{statistics.mean(r['train_seconds'] for r in mine):.0f} |")
    lines += ["", "| published anchor, same split | test accuracy |", "|---|---:|"]
    lines += [f"| {name} | {acc} |" for name, acc in ANCHORS]
    return "\n".join(lines) + "\n"


def study(args: argparse.Namespace) -> int:
    if args.default_seeds < 1 or args.seeds < 1 or args.jobs < 1:
        raise cli.UsageError("--default-seeds, --seeds and --jobs must be >= 1")
    cli.check_data_path(args.data)
    chosen = [v for v in VARIANTS if v.name in args.variants]
    runs = [(v, seed) for v in chosen for seed in seeds_for(v, args)]
    configs = common.plan_study([(run_dir_of(v, seed, args), v.preset, [*overrides_for(v, args), f"seed={seed}"])
                                 for v, seed in runs], args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(v, seed, cfg) for (v, seed), cfg in zip(runs, configs)]
    rows = in_parallel(functools.partial(run_one, args=args), jobs, args.jobs)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = markdown(rows, args)
    (out / "results.md").write_text(table)
    print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("python -m studies.experiments", build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
