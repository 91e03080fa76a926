"""Data-parallel training: `torchrun --nproc_per_node=2 -m bilm.train` with gloo on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from test_train_fixtures import (ONE_THREAD, TINY, kill_after_a_checkpoint, make_dataset, metrics_rows,
                                 without_timings)
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm.distributed import World, shard

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def test_torchrun_two_processes(tmp_path):
    data = make_dataset(tmp_path / "data.npz", per_subject=40)
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "bilm.train", "--data", str(data), "--out", str(out), "--epochs", "2", "--lr", "1e-2", *TINY],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("epoch   1/2") == 1  # only rank 0 logs
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.jsonl", "last.pt", "best.pt",
                                               "report.json", "curves.png", "confusion.png"}
    assert [row["epoch"] for row in metrics_rows(out)] == [1, 2]  # one writer: no duplicated rows
    assert json.loads((out / "config.json").read_text())["environment"]["world_size"] == 2
    assert {p.name for p in tmp_path.iterdir()} == {"data.npz", "run"}  # nothing written elsewhere


def torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "bilm.train",
            *args]


def test_killed_two_process_run_resumes_exactly(tmp_path):
    """Each rank draws its own dropout masks and augmentations; a resumed run must continue
    every rank's streams, not rank 0's on both."""
    data = make_dataset(tmp_path / "data.npz", per_subject=40)
    train = ["--data", str(data), "--epochs", "2", "--lr", "1e-2", "--checkpoint-every", "2",
             "--set", "augment_jitter=0.1", "--set", "augment_shift=3", *TINY]
    reference = subprocess.run(torchrun(*train, "--out", str(tmp_path / "reference")), capture_output=True,
                               text=True, timeout=300, cwd=tmp_path, env={**os.environ, **ONE_THREAD})
    assert reference.returncode == 0, reference.stderr[-3000:]

    run = tmp_path / "killed"
    kill_after_a_checkpoint(torchrun(*train, "--out", str(run)), run / "last.pt")
    assert torch.load(run / "last.pt", weights_only=True)["train"]["progress"]["epoch"] == 0  # inside epoch 1
    resumed = subprocess.run(torchrun("--out", str(run), "--resume", "--no-progress"), capture_output=True,
                             text=True, timeout=300, cwd=tmp_path, env={**os.environ, **ONE_THREAD})
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    reference = tmp_path / "reference"
    assert json.loads((run / "report.json").read_text()) == json.loads((reference / "report.json").read_text())
    rows, expected = without_timings(metrics_rows(run)), without_timings(metrics_rows(reference))
    # The epoch's running loss is summed in another order across the kill (rank 0 carries the
    # sums of both ranks up to the checkpoint): equal up to float32 rounding, not bit for bit.
    assert [r.pop("train_loss") for r in rows] == pytest.approx([r.pop("train_loss") for r in expected], rel=1e-6)
    assert rows == expected

    # The same checkpoint on one process would continue other streams: refused, not silently inexact.
    (run / "report.json").unlink()
    alone = subprocess.run([sys.executable, "-m", "bilm.train", "--out", str(run), "--resume"], capture_output=True,
                           text=True, timeout=120, cwd=tmp_path, env={**os.environ, **ONE_THREAD})
    assert alone.returncode == 2 and "written by 2 process(es)" in alone.stderr


def test_ranks_split_each_global_batch():
    batch = torch.arange(10)
    parts = [shard(batch, World(rank, 3)) for rank in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    assert [len(p) for p in parts] == [4, 3, 3]
