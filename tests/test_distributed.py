"""Data-parallel training: `torchrun --nproc_per_node=2 -m bilm.train` with gloo on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from test_train_fixtures import TINY, make_dataset, metrics_rows
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


def test_ranks_split_each_global_batch():
    batch = torch.arange(10)
    parts = [shard(batch, World(rank, 3)) for rank in range(3)]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    assert [len(p) for p in parts] == [4, 3, 3]
