"""Helpers shared by the training tests: a tiny generated dataset and a tiny model.

The data are class-dependent sine waves with noise, 9 channels x 32 steps, 6 classes, 6
training subjects and 3 test subjects, so a small network beats chance within a few epochs.
They carry UCI HAR's channel names and rate, so the default preset finds its sensors.
A test module that imports `single_thread` runs its tests on one CPU thread.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bilm.data.datasets.uci_har import CHANNELS as UCI_HAR_CHANNELS

CLASSES = ("WALK", "UP", "DOWN", "SIT", "STAND", "LIE")
CHANNELS, STEPS = 9, 32
# Small widths keep a whole run to a second or two on a shared CPU.
TINY_MODEL = ["hidden_dim=16", "latent_dim=8", "base_channels=4", "num_joints=4", "val_subjects=2"]
TINY = [*(f"--set={s}" for s in (*TINY_MODEL, "classifier_input=mu", "dropout=0.1")),
        "--batch-size", "32", "--no-progress", "--device", "cpu"]
TIMING_KEYS = ("train_seconds", "val_seconds")
# Subprocesses get one thread too: CPU results depend on the thread count.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def single_thread():
    """Tiny models gain nothing from a second thread, and on a busy shared CPU two OpenMP
    threads can spend most of their time waiting for each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def windows(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    t = np.arange(STEPS) / 50.0
    freq = 2.0 + 3.0 * labels[:, None, None]  # Hz: one per class
    phase = rng.uniform(0, 2 * np.pi, size=(len(labels), CHANNELS, 1))
    level = 0.5 * labels[:, None, None]  # a class-dependent offset, like gravity
    X = np.sin(2 * np.pi * freq * t + phase) + level + 0.3 * rng.standard_normal((len(labels), CHANNELS, STEPS))
    return X.astype(np.float32)


def make_dataset(path: Path, per_subject: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, subjects in (("train", range(1, 7)), ("test", range(7, 10))):
        subject = np.repeat(np.array(list(subjects)), per_subject)
        y = rng.integers(0, len(CLASSES), size=len(subject))
        arrays |= {f"X_{split}": windows(rng, y), f"y_{split}": y.astype(np.int64),
                   f"subject_{split}": subject.astype(np.int64)}
    np.savez(path, **arrays, classes=np.array(CLASSES), channels=np.array(UCI_HAR_CHANNELS),
             sampling_rate=np.array(50.0))
    return path


def run_cli(module: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m module args` in a fresh process (what a user runs)."""
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **ONE_THREAD, **(env or {})})


def kill_after_a_checkpoint(command: list[str], last: Path, since: float = 0.0) -> None:
    """Start the command and SIGKILL it, with every process under it (torchrun's workers run
    in sessions of their own), as soon as last.pt is (re)written after `since`."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **ONE_THREAD})
    deadline = time.time() + 120
    while not (last.exists() and last.stat().st_mtime > since):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.005)
    for pid in [process.pid, *descendants(process.pid)]:
        os.kill(pid, signal.SIGKILL)
    process.wait()


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from the parent ids in /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
        except OSError:  # the process ended meanwhile
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def metrics_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def without_timings(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


def train_tiny(data: Path, out: Path, *extra: str, epochs: int = 4) -> Path:
    """A whole tiny training run in this process; returns the run folder."""
    from bilm.train import main

    code = main(["--data", str(data), "--out", str(out), "--epochs", str(epochs), "--lr", "1e-2", *TINY, *extra])
    assert code == 0
    return out
