"""Checkpoints: written atomically, read with weights_only=True, and the RNG states they carry.

A checkpoint is a dict of tensors and plain containers (no pickled objects), so loading one
never runs code from the file:

    format, config (BILMConfig as a dict), classes, standardize (buffers), model (the
    BILMEnsemble's state_dict: members.0., members.1., ... one BILMClassifier each),
    epoch (epochs completed; in best.pt, the 1-based epoch whose weights these are, the best on
    validation or the last, per select_epoch; a mid-epoch last.pt holds weights from partway
    through the next one), val (best.pt: that epoch's validation metrics),
    and, in last.pt only, train: the optimiser, schedule and loop state to resume from, and
    under "ranks" the RNG and augmentation states of each training process, in rank order.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

FORMAT = "bilm-checkpoint-2"
# Format 1 held a single BILMClassifier; it reads as an ensemble of that one network.
FORMAT_1 = "bilm-checkpoint-1"
BEST = "best.pt"
LAST = "last.pt"


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary file in the same folder, then rename it over `path`.

    A reader (or a run killed half-way) sees the old file or the new one, never a torn one.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    """`value` as indented JSON, written atomically."""
    text = json.dumps(value, indent=2) + "\n"
    atomic_write(path, lambda f: f.write(text.encode()))


def save(state: dict[str, Any], path: Path) -> None:
    atomic_write(path, lambda f: torch.save({"format": FORMAT, **state}, f))


def resolve(path: str | os.PathLike[str]) -> Path:
    """A checkpoint file, or a run folder meaning its best.pt."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return path


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a bilm checkpoint (file or run folder) onto the CPU, tensors and plain data only."""
    path = resolve(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a torn, foreign or tampered file: say which, not a pickle trace
        raise ValueError(f"{path} is not a readable checkpoint: {e}") from None
    if isinstance(state, dict) and state.get("format") == FORMAT_1 and isinstance(state.get("model"), dict):
        return from_format_1(state)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a bilm checkpoint (no format {FORMAT!r})")
    return state


def from_format_1(state: dict[str, Any]) -> dict[str, Any]:
    """A format-1 checkpoint as format 2: its network becomes member 0 of the ensemble (and of
    the weight average, in a last.pt); the optimiser's state is by parameter order, unchanged."""
    state = {**state, "format": FORMAT, "model": _prefixed(state["model"], "", "members.0.")}
    average = state.get("train", {}).get("average")
    if average is not None:
        state["train"] = {**state["train"], "average": _prefixed(average, "module.", "module.members.0.")}
    return state


def _prefixed(tensors: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new + key[len(old):] if key.startswith(old) else key: value for key, value in tensors.items()}


def capture_rng() -> dict[str, Any]:
    """Every global RNG state a training step draws from (CPU, and CUDA when present)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
