"""bilm's binary cache of parsed datasets: every load after the first is a memory map.

Parsing text files is slow; the cache keeps the parsed arrays as .npy files in bilm's own cache
directory, `cache_dir()` ($BILM_DATA_DIR/cache, the platform's user cache directory by default).
Nothing is ever written into a dataset's folder. The layout:

    cache_dir()/<folder name>-<hash of its resolved path>/<kind>-<hash of the key>/
        <array>.npy ...   one file per array
        manifest.json     the key the entry was made for

An entry's key holds the kind, the folder's resolved path, every source file's relative path,
size and modification time, the bilm_fast build and the loader's own options. A changed source
file or a new build changes the key, so a stale entry is never read; it is removed when the new
one is written. An entry is written to a temporary folder and renamed into place, so a folder
under its final name is complete.

A loader caches its arrays with one call:

    cached(kind, root, sources, build, key=None) -> dict[str, np.ndarray]

`kind` names what is built (e.g. "uci-har-train"), `root` the dataset folder, `sources` the
files that `build()` reads, `key` any options that change its result (JSON values). Arrays
served from the cache are copy-on-write memory maps: writable, and writes never reach the
file. BILM_NO_CACHE=1 turns the cache off: `build()` runs every time.

`cache_entries()` lists the entries, `clear_cache()` removes them (`python -m bilm.data cache
[--clear]`). A `.bilm-cache` folder that earlier versions of bilm left inside a dataset folder is
never read nor written; `legacy_cache_folder(root)` finds it so that the user can delete it.
`bilm_fast.load_uci_har` itself stays a pure parser.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import bilm_fast
import bilm_fast._bilm_fast

from bilm.data.har import UCI_HAR_SIGNALS, signal_path
from bilm.data.locations import data_dir

NO_CACHE_ENV = "BILM_NO_CACHE"
LEGACY_FOLDER = ".bilm-cache"
# Bump when the layout of an entry changes: old entries then stop matching and are removed.
FORMAT = 2
SPLITS = ("train", "test")
ARRAYS = ("X", "y", "subject")

Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]
PathLike = str | os.PathLike[str]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ENTRY = re.compile(r"(?P<kind>[A-Za-z0-9][A-Za-z0-9_.-]*)-[0-9a-f]{20}")
_FOLDER = re.compile(r".*-[0-9a-f]{16}", re.S)
_ARRAY = re.compile(r"[A-Za-z0-9_]+")


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    kind: str
    source: str | None  # the dataset folder it was built from, as recorded in its manifest
    size: int  # bytes


def load_uci_har(root: PathLike, split: str = "train", *, cache: bool = True) -> Arrays:
    """`bilm_fast.load_uci_har(root, split)`, cached: (X float32 (N, 9, 128), y int64, subject int64).

    Arrays served from the cache are copy-on-write memory maps: writable, and writes never
    reach the file. `cache=False` or BILM_NO_CACHE=1 parses the text files every time.
    """
    root = Path(root)
    if not cache or cache_disabled():
        return _parse(root, split)
    sources = _existing_uci_sources(root, split)
    arrays = cached(_uci_kind(split), root, sources, lambda: dict(zip(ARRAYS, _parse(root, split))))
    return tuple(arrays[name] for name in ARRAYS)


def cached(kind: str, root: PathLike, sources: Iterable[PathLike],
           build: Callable[[], Mapping[str, np.ndarray]], key: Mapping | None = None) -> dict[str, np.ndarray]:
    """`build()`'s arrays, from the cache entry for (kind, root, sources as on disk now, key),
    else built and stored there. Warns, and still returns the arrays, when nothing can be written."""
    if cache_disabled():
        return dict(build())
    sources = list(sources)  # read twice: before and after the build
    manifest = _manifest(kind, root, sources, key)
    base, name = folder_cache_dir(root), _entry_name(manifest)
    found = _read_entry(base / name)
    if found is not None:
        return found
    arrays = {array: np.asarray(value) for array, value in build().items()}
    # A source rewritten while it was read gives arrays that match neither version.
    if _current_manifest(kind, root, sources, key) == manifest:
        try:
            _write_entry(base, name, manifest, arrays)
        except OSError as e:
            warnings.warn(f"could not write a {kind} cache for {root} in {base} ({e}); "
                          "every load will parse the source files again", stacklevel=2)
    return arrays


def cache_disabled() -> bool:
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir() -> Path:
    """bilm's cache directory, $BILM_DATA_DIR/cache (not created here)."""
    return data_dir() / "cache"


def folder_cache_dir(root: PathLike) -> Path:
    """Where the entries of one dataset folder live, named by its resolved path."""
    # The name alone would let two copies of a dataset (or two "data" folders) share entries.
    resolved = Path(root).resolve()
    folder_id = hashlib.sha256(str(resolved).encode()).hexdigest()[:16]
    return cache_dir() / f"{resolved.name[:100]}-{folder_id}"  # the name only helps a reader


def entry_path(kind: str, root: PathLike, sources: Iterable[PathLike], key: Mapping | None = None) -> Path | None:
    """The entry holding (kind, root, sources as on disk now, key), or None."""
    entry = folder_cache_dir(root) / _entry_name(_manifest(kind, root, sources, key))
    return entry if (entry / "manifest.json").is_file() else None


def uci_har_entry(root: PathLike, split: str) -> Path | None:
    """The entry holding this UCI HAR split as it is on disk now, or None."""
    return entry_path(_uci_kind(split), root, _existing_uci_sources(Path(root), split))


def cache_entries() -> list[CacheEntry]:
    """Every entry in the cache directory, of any kind, format and dataset folder."""
    entries = []
    for folder in _folder_caches():
        for path in sorted(folder.iterdir()):
            match = _ENTRY.fullmatch(path.name)
            if match and path.is_dir() and not path.is_symlink():
                source = _read_manifest(path).get("root")
                entries.append(CacheEntry(path, match["kind"], source, _size(path)))
    return entries


def clear_cache() -> list[CacheEntry]:
    """Removes every dataset folder's entries from the cache directory; returns what was there.
    Only folders named as this module names them are touched, never a dataset folder."""
    entries = cache_entries()
    for folder in _folder_caches():
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass  # another process cleared it first
    return entries


def legacy_cache_folder(root: PathLike) -> Path | None:
    """The `.bilm-cache` folder earlier versions of bilm wrote into a dataset folder, if any.
    It is never read nor written: this only finds it, so that the user can delete it."""
    folder = Path(root) / LEGACY_FOLDER
    return folder if folder.is_dir() else None


def source_files(root: Path, split: str) -> list[Path]:
    """The files a split is parsed from (UCI HAR's 561 features, X_*.txt, are not among them)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    folder = root / split
    signals = [signal_path(root, split, signal) for signal in UCI_HAR_SIGNALS]
    return [folder / f"y_{split}.txt", folder / f"subject_{split}.txt", *signals]


def _uci_kind(split: str) -> str:
    return f"uci-har-{split}"


def _existing_uci_sources(root: Path, split: str) -> list[Path]:
    # Checked here so that the error names UCI HAR, not just a missing file.
    sources = source_files(root, split)
    for path in sources:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing from the UCI HAR folder {root}")
    return sources


def _parse(root: Path, split: str) -> Arrays:
    return bilm_fast.load_uci_har(str(root), split)


def _manifest(kind: str, root: PathLike, sources: Iterable[PathLike], key: Mapping | None) -> dict:
    if not _NAME.fullmatch(kind):
        raise ValueError(f"a cache kind is letters, digits, '.', '_' and '-'; got {kind!r}")
    root = Path(root)
    files = {}
    for path in map(Path, sources):
        try:
            st = path.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: missing from {root}") from None
        files[_relative(path, root)] = [st.st_size, st.st_mtime_ns]
    return {"format": FORMAT, "kind": kind, "root": str(root.resolve()), "parser": _parser_id(),
            "sources": files, "key": dict(key or {})}


def _current_manifest(kind: str, root: PathLike, sources: Iterable[PathLike], key: Mapping | None) -> dict | None:
    try:
        return _manifest(kind, root, sources, key)
    except FileNotFoundError:
        return None  # a source was removed while it was read


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path.resolve())  # a source outside the folder is keyed by where it is


@functools.cache
def _parser_id() -> list:
    # The version alone misses rebuilds during development that change what the parser returns.
    module = Path(bilm_fast._bilm_fast.__file__).stat()
    return [bilm_fast.__version__, module.st_size, module.st_mtime_ns]


def _entry_name(manifest: dict) -> str:
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return f"{manifest['kind']}-{digest[:20]}"


def _read_entry(entry: Path) -> dict[str, np.ndarray] | None:
    if not entry.is_dir():
        return None
    try:
        names = json.loads((entry / "manifest.json").read_text())["arrays"]
        return {name: _load_array(entry / f"{name}.npy") for name in names}
    except (OSError, ValueError, KeyError, TypeError):
        # Damaged by hand: removed, so that the entry written next can take its name.
        shutil.rmtree(entry, ignore_errors=True)
        return None


def _load_array(path: Path) -> np.ndarray:
    try:
        # np.asarray drops the np.memmap subclass but keeps the mapping alive through .base.
        return np.asarray(np.load(path, mmap_mode="c"))
    except ValueError:
        return np.load(path)  # an empty array cannot be mapped; a damaged file fails here too


def _write_entry(base: Path, name: str, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    for array in arrays:
        if not _ARRAY.fullmatch(array):
            raise ValueError(f"a cached array's name is letters, digits and '_'; got {array!r}")
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=base))
    try:
        for array, values in arrays.items():
            np.save(tmp / f"{array}.npy", values, allow_pickle=False)
        text = json.dumps({**manifest, "arrays": list(arrays)}, indent=1, sort_keys=True)
        (tmp / "manifest.json").write_text(text)
        try:
            os.replace(tmp, base / name)
        except OSError:
            # Another process finished the same entry first; theirs is as good as ours.
            if not (base / name).is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _remove_stale_entries(base, manifest, keep=name)


def _remove_stale_entries(base: Path, manifest: dict, keep: str) -> None:
    # Stale: the same kind and options built from older sources or another build, or an entry
    # of an older format. Entries of other options stay: a loader may switch between them.
    for entry in base.iterdir():
        if entry.name == keep or not _ENTRY.fullmatch(entry.name):
            continue
        other = _read_manifest(entry)
        same = other.get("kind") == manifest["kind"] and other.get("key") == manifest["key"]
        if same or other.get("format") != FORMAT:
            shutil.rmtree(entry, ignore_errors=True)


def _read_manifest(entry: Path) -> dict:
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _folder_caches() -> list[Path]:
    try:
        children = sorted(cache_dir().iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [p for p in children if _FOLDER.fullmatch(p.name) and p.is_dir() and not p.is_symlink()]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
