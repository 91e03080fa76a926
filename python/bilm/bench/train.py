"""Epoch time of the seed preset: the notebook's training loop against `bilm.train`'s.

    python -m bilm.bench train                          # real UCI HAR if found
    python -m bilm.bench train --limit 2000 --repeats 2 --device cpu
    python -m bilm.bench train --epochs 30 --repeats 1  # also: a whole 30-epoch run's wall time

Both loops train the same network (the seed preset: the notebook's) with the same loss,
optimiser, batch size (64) and windows: the training part that `bilm.train` keeps after
holding out its validation subjects. The notebook's loop is a Dataset + DataLoader
(shuffle=True) with the per-step `.item()` calls of its train_bilm; bilm's is `bilm.train`
itself, run in this process, whose metrics.jsonl reports each epoch's training time. Each
repeat runs `bilm.train` for --epochs epochs, then as many notebook epochs on a fresh model,
so that load from other processes hits both alike. The table gives the median epoch of each
and their ratio, as markdown for the README.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from bilm import cli
from bilm.bench.common import UCI_HAR_ENV, cpu_name, real_uci_har
from bilm.config import BILMConfig, get_preset
from bilm.training import fit, fit_to_data
from bilm.data import HARData, UCI_HAR_CLASSES, load_dataset
from bilm.loop import Objective
from bilm.ensemble import BILMEnsemble
from bilm.splits import validation_split

UCI_TRAIN_WINDOWS = 7352  # the synthetic stand-in has UCI HAR's size and subjects
UCI_TRAIN_SUBJECTS = 21


class NotebookDataset(Dataset):
    """The notebook's UCIHARDataset, minus the file reading: one window per __getitem__."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X = torch.FloatTensor(X)
        self.y = torch.LongTensor(y)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[idx], self.y[idx]


def notebook_epoch(objective: Objective, optimizer: torch.optim.Optimizer, loader: DataLoader,
                   device: torch.device) -> float:
    """One epoch of the notebook's train_bilm; returns its wall time in seconds."""
    objective.train()
    start = time.perf_counter()
    total_loss, correct, total = 0.0, 0, 0
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss, logits = objective(data, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(objective.parameters(), max_norm=1.0)
        optimizer.step()
        total_loss += loss.item()
        correct += logits.argmax(dim=1).eq(target).sum().item()
        total += target.size(0)
    return time.perf_counter() - start


def train_notebook(X: np.ndarray, y: np.ndarray, cfg: BILMConfig, device: torch.device,
                   epochs: int) -> tuple[Objective, list[float]]:
    """`epochs` epochs of the notebook's loop on a freshly built model: the trained objective
    (its model is `.model`) and the seconds of each epoch."""
    torch.manual_seed(cfg.seed)
    objective = Objective(BILMEnsemble.from_config(cfg).to(device), cfg)
    optimizer = torch.optim.Adam(objective.parameters(), lr=cfg.lr)
    loader = DataLoader(NotebookDataset(X, y), batch_size=cfg.batch_size, shuffle=True)
    return objective, [notebook_epoch(objective, optimizer, loader, device) for _ in range(epochs)]


def time_notebook(X: np.ndarray, y: np.ndarray, cfg: BILMConfig, device: torch.device, epochs: int) -> list[float]:
    """Seconds of each of `epochs` epochs of the notebook's loop on a freshly built model."""
    return train_notebook(X, y, cfg, device, epochs)[1]


def time_bilm(data: HARData, out: Path, device: str, epochs: int) -> tuple[list[float], float]:
    """Per-epoch training seconds of a real `bilm.fit` run, and the run's whole wall time."""
    start = time.perf_counter()
    fit(dataclasses.replace(get_preset("seed"), epochs=epochs), data, out, device=device, progress=False)
    wall = time.perf_counter() - start
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [row["train_seconds"] for row in rows], wall


def bench_data(limit: int | None) -> HARData:
    """Real UCI HAR when found, else random windows of its size; `limit` of its training windows."""
    root = real_uci_har()
    if root is not None:
        data = load_dataset(root)
    else:
        rng = np.random.default_rng(0)
        n = UCI_TRAIN_WINDOWS

        def windows(count: int) -> np.ndarray:
            return rng.standard_normal((count, 9, 128), dtype=np.float32)

        data = HARData(windows(n), rng.integers(0, 6, n), windows(64), rng.integers(0, 6, 64),
                       np.sort(rng.integers(1, UCI_TRAIN_SUBJECTS + 1, n)), None, UCI_HAR_CLASSES,
                       source=f"synthetic, UCI HAR's size (no real UCI HAR found; set {UCI_HAR_ENV})")
    if limit:  # evenly spread, so every subject keeps some windows
        keep = np.linspace(0, len(data.y_train) - 1, min(limit, len(data.y_train))).astype(np.int64)
        data = HARData(data.X_train[keep], data.y_train[keep], data.X_test, data.y_test,
                       None if data.subject_train is None else data.subject_train[keep], data.subject_test,
                       data.classes, data.source)
    return data


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    return f"{cpu_name()}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}"


def load_average() -> str:
    """The 1-minute load average: on a shared machine, other work slows both loops."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def table(device: torch.device, windows: int, notebook: list[float], bilm: list[float], walls: list[float],
          epochs: int, source: str, load: str) -> str:
    base, fast = statistics.median(notebook), statistics.median(bilm)
    return "\n".join([
        f"Seed preset, one epoch = {windows} training windows in batches of 64, on {device.type} "
        f"({machine(device)}); {date.today().isoformat()}; load average {load} -> {load_average()}; "
        f"data: {source}.",
        "",
        f"| training loop | s / epoch, median of {len(notebook)} | fastest | speed-up (medians) |",
        "|---|---:|---:|---:|",
        f"| notebook: Dataset + DataLoader(shuffle=True), `.item()` per step | {base:.2f} | {min(notebook):.2f} "
        "| 1.00x |",
        f"| `bilm.train`: tensors on the device, indexed batches | {fast:.2f} | {min(bilm):.2f} | {base / fast:.2f}x |",
        "",
        f"Whole `bilm.train` run of {epochs} epoch(s) with validation, data loading and report: "
        f"{min(walls):.1f} s (best of {len(walls)}).",
    ])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of both loops (default: 3)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per round (default: 1)")
    parser.add_argument("--limit", type=int, help="use only the first LIMIT training windows")
    parser.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    return parser


def bench(args: argparse.Namespace) -> int:
    if args.repeats < 1 or args.epochs < 1 or (args.limit is not None and args.limit < 100):
        raise cli.UsageError("--repeats and --epochs must be >= 1, --limit >= 100")
    device = cli.resolve_device(args.device)
    data = bench_data(args.limit)
    cfg = fit_to_data(get_preset("seed"), data)
    part = validation_split(data.y_train, data.subject_train, cfg).train  # the windows bilm trains on
    bilm_times, walls, notebook_times = [], [], []
    load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            seconds, wall = time_bilm(data, Path(tmp) / f"run{repeat}", args.device, args.epochs)
            bilm_times += seconds
            walls.append(wall)
            notebook_times += time_notebook(data.X_train[part], data.y_train[part], cfg, device, args.epochs)
    print(table(device, len(part), notebook_times, bilm_times, walls, args.epochs, data.source, load))
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm.bench train", build_parser(), bench, argv)


if __name__ == "__main__":
    sys.exit(main())
