"""What the studies share: their common options, the check of a planned study, and the runs
themselves, trained in this process by `bilm.fit` or side by side in worker processes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bilm import cli
from bilm.config import BILMConfig, apply_overrides, get_preset
from bilm.rundir import RunDir
from bilm.training import fit, refuse_other_settings

# What the studies add to the default preset, which holds out no validation subjects.
HOLD_OUT = "val_subjects=4"


def add_study_options(parser: argparse.ArgumentParser, out: str) -> None:
    """The options every study shares: data, study folder, parallel runs, overrides."""
    parser.add_argument("--data", metavar="PATH", help="a UCI HAR folder or an .npz (default: the cached copy)")
    parser.add_argument("--out", default=out, metavar="DIR", help="the study folder")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="runs trained at once, each given CPUs / N threads (default: 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="an override for every run, e.g. --set epochs=5")


def plan_study(runs: Sequence[tuple[Path, str, Sequence[str]]], data: str | None) -> list[BILMConfig]:
    """The config of each planned run (folder, preset, overrides), checked before any training:
    a bad override is a UsageError, and a folder holding a run with other settings (left by
    another --set or another version's preset, which would enter the table unnoticed) is a
    CommandError. A folder with the same settings is read or resumed. Settings are compared as
    a run holds them: fitted to the data (`data`, a path or None for the cached copy)."""
    try:
        configs = [apply_overrides(get_preset(preset), list(overrides)) for _, preset, overrides in runs]
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    if any(RunDir(run_dir).config.is_file() for run_dir, _, _ in runs):
        loaded = cli.load_data(data)
        for (run_dir, _, _), planned in zip(runs, configs):
            refuse_other_settings(RunDir(run_dir), planned, loaded)
    return configs


def train_run(run_dir: Path, cfg: BILMConfig, data: str | None, device: str = "cpu",
              keep_epochs: bool = False) -> None:
    """Train the run in `run_dir`, or resume it where a killed study left it."""
    fit(cfg, data, run_dir, resume=True, device=device, keep_epochs=keep_epochs or None, progress=False)
