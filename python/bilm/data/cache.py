"""A binary cache of parsed UCI HAR splits: every load after the first is a memory map.

The text files take a parse; the cache keeps the parsed arrays as .npy files, one folder per
split, named by a key that hashes each source file's size and modification time and the
bilm_fast build. A changed source file changes the key, so a stale entry is never read.
An entry is written to a temporary folder and renamed into place, so a folder that exists
under its final name is complete. `bilm_fast.load_uci_har` itself stays a pure parser.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

import numpy as np

import bilm_fast
import bilm_fast._bilm_fast

from bilm.data.har import UCI_HAR_SIGNALS, signal_path
from bilm.data.locations import data_dir

NO_CACHE_ENV = "BILM_NO_CACHE"
CACHE_FOLDER = ".bilm-cache"
# Bump when the layout of an entry changes: old entries then simply stop matching.
FORMAT = 1
SPLITS = ("train", "test")
ARRAYS = ("X", "y", "subject")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


def load_uci_har(root: str | os.PathLike[str], split: str = "train", *, cache: bool = True) -> Arrays:
    """`bilm_fast.load_uci_har(root, split)`, cached: (X float32 (N, 9, 128), y int64, subject int64).

    Arrays served from the cache are copy-on-write memory maps: writable, and writes never
    reach the file. `cache=False` or BILM_NO_CACHE=1 parses the text files every time.
    """
    root = Path(root)
    if not cache or cache_disabled():
        return _parse(root, split)
    manifest = _manifest(root, split)
    entry = find_entry(root, split, manifest)
    if entry is not None:
        cached = _read_entry(entry)
        if cached is not None:
            return cached
    arrays = _parse(root, split)
    # A source rewritten while it was parsed would give arrays that match neither version.
    if _manifest(root, split) == manifest:
        _write_entry(root, split, manifest, arrays)
    return arrays


def cache_disabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def find_entry(root: Path, split: str, manifest: dict | None = None) -> Path | None:
    """The cache folder holding this split as it is on disk now, or None."""
    manifest = manifest or _manifest(root, split)
    name = _entry_name(split, manifest)
    for base in _cache_bases(root):
        if (base / name).is_dir():
            return base / name
    return None


def source_files(root: Path, split: str) -> list[Path]:
    """The files a split is parsed from (UCI HAR's 561 features, X_*.txt, are not among them)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    folder = root / split
    signals = [signal_path(root, split, signal) for signal in UCI_HAR_SIGNALS]
    return [folder / f"y_{split}.txt", folder / f"subject_{split}.txt", *signals]


def _parse(root: Path, split: str) -> Arrays:
    return bilm_fast.load_uci_har(str(root), split)


def _manifest(root: Path, split: str) -> dict:
    sources = {}
    for path in source_files(root, split):
        try:
            st = path.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: missing from the UCI HAR folder {root}") from None
        sources[path.relative_to(root).as_posix()] = [st.st_size, st.st_mtime_ns]
    return {"format": FORMAT, "parser": _parser_id(), "split": split, "sources": sources}


@functools.cache
def _parser_id() -> list:
    # The version alone misses rebuilds during development that change what the parser returns.
    module = Path(bilm_fast._bilm_fast.__file__).stat()
    return [bilm_fast.__version__, module.st_size, module.st_mtime_ns]


def _entry_name(split: str, manifest: dict) -> str:
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return f"{split}-{digest[:20]}"


def _cache_bases(root: Path) -> list[Path]:
    """Where entries may live: inside the data folder, else in the user cache directory."""
    # Keyed by the folder's absolute path, so that two datasets never share entries.
    folder_id = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return [root / CACHE_FOLDER, data_dir() / "cache" / f"{root.resolve().name}-{folder_id}"]


def _read_entry(entry: Path) -> Arrays | None:
    try:
        # np.asarray drops the np.memmap subclass but keeps the mapping alive through .base.
        return tuple(np.asarray(np.load(entry / f"{name}.npy", mmap_mode="c")) for name in ARRAYS)
    except (OSError, ValueError):
        return None  # damaged by hand (or empty arrays, which cannot be mapped): parse again


def _write_entry(root: Path, split: str, manifest: dict, arrays: Arrays) -> None:
    name = _entry_name(split, manifest)
    bases = _cache_bases(root)
    if _read_only(root):
        bases = bases[1:]
    for base in bases:
        try:
            _write_entry_in(base, name, manifest, arrays)
        except OSError:
            continue  # read-only or full: try the next place
        _remove_stale_entries(base, split, keep=name)
        return
    warnings.warn(f"could not write a UCI HAR cache for {root} in any of {', '.join(map(str, bases))}; "
                  "every load will parse the text files", stacklevel=3)


def _read_only(folder: Path) -> bool:
    # Write bits are checked too: root may write to a folder chmod'ed a-w, but its owner
    # made it read-only on purpose (a shared copy of the dataset, say).
    return not os.access(folder, os.W_OK) or not stat.S_IMODE(folder.stat().st_mode) & 0o222


def _write_entry_in(base: Path, name: str, manifest: dict, arrays: Arrays) -> None:
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    try:
        for array_name, array in zip(ARRAYS, arrays):
            np.save(tmp / f"{array_name}.npy", array)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        try:
            os.replace(tmp, base / name)
        except OSError:
            # Another process finished the same entry first; theirs is as good as ours.
            if not (base / name).is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_entries(base: Path, split: str, keep: str) -> None:
    for entry in base.glob(f"{split}-*"):
        if entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
