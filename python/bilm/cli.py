"""What the bilm commands share: the device option, data loading with helpful errors, and
the exit codes (2: bad arguments or config, found before any work; 1: a failure while working).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import torch

from bilm.checkpoint import LAST
from bilm.config import DATA_FIELDS, FIELD_NAMES, BILMConfig, apply_overrides, get_preset
from bilm.data import DownloadError, HARData, load_dataset

T = TypeVar("T")
R = TypeVar("R")

DEVICE_HELP = "auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps (default: auto)"


class UsageError(ValueError):
    """A bad argument or config value; the command exits with code 2 before doing any work."""


class CommandError(Exception):
    """An expected failure while working (the message says what happened); exit code 1."""


def resolve_device(spec: str) -> torch.device:
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not torch.backends.mps.is_available():
            raise UsageError("--device mps: MPS is not available on this machine")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::(\d+))?", spec)
    if not match:
        raise UsageError(f"--device {spec!r}: expected {DEVICE_HELP.split(' (default')[0]}")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    index = int(match.group(1) or 0)
    if index >= count:
        raise UsageError(f"--device {spec}: this machine has {count} CUDA device(s)")
    return torch.device("cuda", index)


def check_data_path(path: str | None, option: str = "--data") -> None:
    """Fail early on a data path that does not exist (the default dataset is checked later);
    `option` names the argument as the user typed it."""
    if path is not None and not Path(path).expanduser().exists():
        raise UsageError(f"{option} {path}: no such file or folder")


def load_data(path: str | None, download: bool = True) -> HARData:
    """The dataset at `path` (a UCI HAR folder or .npz), or the cached/downloaded UCI HAR copy."""
    try:
        return load_dataset(path, download=download)
    except DownloadError as e:
        raise FileNotFoundError(
            f"could not download UCI HAR ({e}); pass --data PATH (a UCI HAR folder or a dataset .npz), "
            "or fetch it with `python -m bilm.data download`") from None


def train_subprocess(run_dir: Path, new_run: Sequence[str], data: str | None, device: str, jobs: int) -> None:
    """`python -m bilm.train` for the run folder `run_dir` in a child process: resumed when it
    holds a last.pt, else started with the options `new_run`. One of `jobs` side by side, it
    gets a thread pool of CPUs / jobs, so they do not fight (unless OMP_NUM_THREADS is set)."""
    cmd = [sys.executable, "-m", "bilm.train", "--out", str(run_dir), "--device", device, "--no-progress"]
    cmd += ["--resume"] if (run_dir / LAST).exists() else list(new_run)
    cmd += ["--data", data] if data else []
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // jobs)), **os.environ}
    subprocess.run(cmd, check=True, env=env)


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


def plan_study(runs: Sequence[tuple[Path, str, Sequence[str]]]) -> list[BILMConfig]:
    """The config of each planned run (folder, preset, overrides), checked before any training:
    a bad override is a UsageError, and a folder holding a run with other settings (left by
    another --set or another version's preset, which would enter the table unnoticed) is a
    CommandError. A folder with the same settings is read or resumed."""
    try:
        configs = [apply_overrides(get_preset(preset), list(overrides)) for _, preset, overrides in runs]
    except ValueError as e:
        raise UsageError(str(e)) from None
    for (run_dir, _, _), expected in zip(runs, configs):
        config = run_dir / "config.json"
        if not config.exists():
            continue
        saved = BILMConfig.from_dict(json.loads(config.read_text())["config"])
        differ = [f"{name} {getattr(saved, name)!r} there, {getattr(expected, name)!r} now" for name in FIELD_NAMES
                  if name not in DATA_FIELDS and getattr(saved, name) != getattr(expected, name)]
        if differ:
            raise CommandError(f"{run_dir} holds a run with other settings ({'; '.join(differ)}); "
                               "remove it or choose another --out")
    return configs


def in_parallel(work: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    """[work(item) for item in items], `jobs` at a time; a failed training subprocess (see
    train_subprocess) becomes a CommandError naming its command."""
    try:
        with ThreadPoolExecutor(jobs) as pool:
            return list(pool.map(work, items))
    except subprocess.CalledProcessError as e:
        raise CommandError(f"a training run failed (exit {e.returncode}): {' '.join(e.cmd)}") from None


def write_output(text: str, path: str | None) -> None:
    """Write to the file at `path`, or to stdout without one."""
    if path:
        Path(path).write_text(text)
    else:
        sys.stdout.write(text)


def run(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
        argv: list[str] | None) -> int:
    """Parse argv and run body(args), turning expected errors into a message and an exit code."""
    args = parser.parse_args(argv)
    try:
        return body(args)
    except UsageError as e:
        parser.error(str(e))  # exits with 2 and the usage line
    except (FileNotFoundError, ValueError, CommandError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
