"""What the bilm commands and `bilm.fit` share: the device option, data loading with helpful
errors, and the exit codes (2: bad arguments or config, found before any work; 1: a failure
while working).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from bilm.data import DownloadError, HARData, load_dataset

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
