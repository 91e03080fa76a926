"""The run folder: where each artefact of a run lives and how it is written.

    config.json    everything needed to rebuild the run (config, data, options, versions)
    metrics.jsonl  one JSON object per epoch
    last.pt        the state to resume from; best.pt  the weights the run keeps (select_epoch:
                   the best epoch on validation, or the last)
    report.json    the test-set report of best.pt
    epoch-NNN.pt   with --keep-epochs, the weights after each epoch
    curves.png, confusion.png
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bilm.checkpoint import BEST, LAST, atomic_write, write_json


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config = self.path / "config.json"
        self.metrics = self.path / "metrics.jsonl"
        self.last = self.path / LAST
        self.best = self.path / BEST
        self.report = self.path / "report.json"
        self.curves = self.path / "curves.png"
        self.confusion = self.path / "confusion.png"

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.path / f"epoch-{epoch:03d}.pt"

    def holds_run(self) -> bool:
        return self.config.exists() or self.last.exists()

    def remove_temporary_files(self) -> None:
        """Delete what a run killed while writing a file left behind (see atomic_write)."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def write_json(self, path: Path, value: Any) -> None:
        write_json(path, value)

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads(self.config.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path} holds no run to resume (no config.json)") from None

    def read_metrics(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.metrics.read_text().splitlines() if line]

    def append_metrics(self, row: dict[str, Any]) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(row) + "\n")

    def rewrite_metrics(self, history: Sequence[dict[str, Any]]) -> None:
        """Make metrics.jsonl hold exactly `history`: after a resume, the epochs the
        checkpoint knows, dropping any line written after it."""
        text = "".join(json.dumps(row) + "\n" for row in history)
        atomic_write(self.metrics, lambda f: f.write(text.encode()))
