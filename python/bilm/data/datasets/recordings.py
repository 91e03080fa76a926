"""The one form every built-in dataset takes in memory, and what a dataset module declares.

A `RecordingSet` holds a dataset's recordings one after another in a few flat arrays, so that
the binary cache can keep it as memory maps: `signal` float32 (samples, channels), `labels`
int64 (samples,) indexing `classes`, and `bounds`, where recording i is rows
bounds[i]:bounds[i + 1]. Indexing it gives `Recording`s, views into those arrays.

Channel names carry their unit in brackets, "userAcceleration.x [g]", so that a reader can
tell accelerometers from gyroscopes and g from m/s^2 without knowing the dataset;
`split_unit` takes them apart.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import bilm_fast

from bilm.data.cache import cache_disabled, cached
from bilm.data.download import Source, fetch
from bilm.data.locations import DATA_DIR_ENV, data_dir

PathLike = str | os.PathLike[str]
# Bump when what a loader caches changes: entries of the old layout then stop matching.
CACHE_FORMAT = 1
_UNIT = re.compile(r"(?P<name>.*\S)\s*\[(?P<unit>[^\[\]]*)\]")


def split_unit(channel: str) -> tuple[str, str]:
    """("userAcceleration.x", "g") from "userAcceleration.x [g]"; ("x", "") without a unit."""
    match = _UNIT.fullmatch(channel.strip())
    return (match["name"], match["unit"]) if match else (channel.strip(), "")


@dataclass(frozen=True)
class Recording:
    """One continuous recording: float32 (samples, channels), int64 labels indexing the classes."""

    signal: np.ndarray
    labels: np.ndarray
    subject: int
    name: str


@dataclass(frozen=True, eq=False)
class RecordingSet:
    """A dataset's recordings with their class names, channel names (with units) and sampling rate.

    `notes` says what the loader had to decide (lines skipped, fields disagreeing); `test_subjects`
    are the subjects the dataset's authors held out for testing, if they did.
    """

    signal: np.ndarray
    labels: np.ndarray
    bounds: np.ndarray
    subjects: np.ndarray
    names: tuple[str, ...]
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    sampling_rate: float
    source: str
    notes: tuple[str, ...] = ()
    test_subjects: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        # Cheap checks only: a cached set is memory-mapped, and reading every value would undo that.
        count = len(self.names)
        problems = [
            (self.signal.ndim != 2 or self.signal.dtype != np.float32 or self.signal.shape[1] != len(self.channels),
             f"signal must be float32 (samples, {len(self.channels)} channels); got {self.signal.dtype} "
             f"{self.signal.shape}"),
            (self.labels.shape != (len(self.signal),) or self.labels.dtype != np.int64,
             f"labels must be int64 ({len(self.signal)},); got {self.labels.dtype} {self.labels.shape}"),
            (self.bounds.shape != (count + 1,) or self.subjects.shape != (count,),
             f"bounds and subjects must be ({count + 1},) and ({count},); got {self.bounds.shape} "
             f"and {self.subjects.shape}"),
            (not math.isfinite(self.sampling_rate) or self.sampling_rate <= 0,
             f"the sampling rate must be a positive number of Hz; got {self.sampling_rate}"),
        ]
        for bad, message in problems:
            if bad:
                raise ValueError(f"{self.source}: {message}")
        if count and (self.bounds[0] != 0 or self.bounds[-1] != len(self.signal) or (np.diff(self.bounds) <= 0).any()):
            raise ValueError(f"{self.source}: recording bounds must rise from 0 to {len(self.signal)}")
        if len(self.labels) and not 0 <= self.labels.min() <= self.labels.max() < len(self.classes):
            raise ValueError(f"{self.source}: labels must index the {len(self.classes)} classes")

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> Recording:
        start, stop = int(self.bounds[i]), int(self.bounds[i + 1])
        return Recording(self.signal[start:stop], self.labels[start:stop], int(self.subjects[i]), self.names[i])

    def __iter__(self) -> Iterator[Recording]:
        return (self[i] for i in range(len(self)))

    @property
    def recordings(self) -> list[Recording]:
        return list(self)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(split_unit(name)[1] for name in self.channels)

    @property
    def subject_ids(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.unique(self.subjects))

    def summary(self) -> dict:
        """What `python -m bilm.data info NAME --json` prints."""
        return {
            "source": self.source,
            "recordings": len(self),
            "samples": len(self.signal),
            "subjects": len(self.subject_ids),
            "subject_ids": list(self.subject_ids),
            "classes": list(self.classes),
            "samples_per_class": np.bincount(self.labels, minlength=len(self.classes)).tolist(),
            "channels": list(self.channels),
            "sampling_rate": self.sampling_rate,
            "test_subjects": list(self.test_subjects),
            "notes": list(self.notes),
        }

    def select_channels(self, wanted: Sequence[str]) -> RecordingSet:
        """The same recordings with only `wanted` channels, named in full or without their unit."""
        index = [self._channel_index(name) for name in wanted]
        if not index:
            raise ValueError("select at least one channel")
        return RecordingSet(np.ascontiguousarray(self.signal[:, index]), self.labels, self.bounds, self.subjects,
                            self.names, self.classes, tuple(self.channels[i] for i in index),
                            self.sampling_rate, self.source, self.notes, self.test_subjects)

    def _channel_index(self, wanted: str) -> int:
        for i, name in enumerate(self.channels):
            if wanted.strip() in (name, split_unit(name)[0]):
                return i
        raise ValueError(f"{self.source}: no channel {wanted!r}; channels: {', '.join(self.channels)}")

    def arrays(self) -> dict[str, np.ndarray]:
        """What the cache keeps of the set; `from_arrays` makes it whole again."""
        return {"signal": self.signal, "labels": self.labels, "bounds": self.bounds, "subjects": self.subjects,
                "names": np.array(self.names, dtype=str), "notes": np.array(self.notes, dtype=str),
                "test_subjects": np.array(self.test_subjects, dtype=np.int64)}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], *, classes: Sequence[str], channels: Sequence[str],
                    sampling_rate: float, source: str) -> RecordingSet:
        return cls(arrays["signal"], arrays["labels"], arrays["bounds"], arrays["subjects"],
                   tuple(arrays["names"].tolist()), tuple(classes), tuple(channels), float(sampling_rate), source,
                   tuple(arrays["notes"].tolist()), tuple(int(s) for s in arrays["test_subjects"]))


def join_recordings(recordings: Sequence[Recording], *, classes: Sequence[str], channels: Sequence[str],
                    sampling_rate: float, source: str, notes: Sequence[str] = (),
                    test_subjects: Sequence[int] = ()) -> RecordingSet:
    """One RecordingSet from separate recordings (copied into the flat arrays)."""
    if not recordings:
        raise ValueError(f"{source}: no recordings")
    lengths = [len(rec.signal) for rec in recordings]
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    signal = np.concatenate([rec.signal for rec in recordings]).astype(np.float32, copy=False)
    labels = np.concatenate([rec.labels for rec in recordings]).astype(np.int64, copy=False)
    subjects = np.array([rec.subject for rec in recordings], dtype=np.int64)
    return RecordingSet(np.ascontiguousarray(signal), labels, bounds, subjects, tuple(rec.name for rec in recordings),
                        tuple(classes), tuple(channels), float(sampling_rate), source, tuple(notes),
                        tuple(test_subjects))


@dataclass(frozen=True)
class Dataset:
    """A built-in dataset: how to get it (`source`), what it holds, and its loader.

    `load(root, cache=..., **options)` parses a dataset folder; its options (keyword
    arguments with defaults) are listed in `options` and key its cache entries.
    """

    name: str
    description: str
    source: Source
    sampling_rate: float
    classes: tuple[str, ...]
    channels: tuple[str, ...]
    subjects: int
    loader: Callable[..., RecordingSet]
    options: Mapping[str, object] = field(default_factory=dict)

    def find_root(self, path: PathLike | None = None) -> Path:
        """The dataset folder: `path` or its child named as the download names it; by default
        the downloaded copy."""
        if path is None:
            root = data_dir() / self.source.folder
            if not root.is_dir():
                raise FileNotFoundError(
                    f"no {self.source.title} copy in {root.parent}: get it with `python -m bilm.data download "
                    f"{self.name}`, set {DATA_DIR_ENV} to where it is, or pass the dataset's folder")
            return self.find_root(root)
        path = Path(path).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or folder")
        for candidate in (path, path / self.source.folder):
            if all((candidate / marker).exists() for marker in self.source.markers):
                return candidate
        raise FileNotFoundError(f"{path}: not a {self.source.title} folder (it holds neither "
                                f"{', '.join(self.source.markers)} nor a {self.source.folder!r} folder)")

    def load(self, root: PathLike | None = None, *, cache: bool = True, **options) -> RecordingSet:
        """Parse the dataset in `root` (default: the downloaded copy); cached unless cache=False."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ValueError(f"{self.name} has no option {', '.join(unknown)}; its options: "
                             f"{', '.join(self.options) or 'none'}")
        return self.loader(self.find_root(root), cache=cache, **options)

    def fetch(self, dest: PathLike | None = None, **kwargs) -> Path:
        """`bilm.data.download.fetch` for this dataset: download, verify, return the folder."""
        return fetch(self.source, dest, **kwargs)


def load_cached(kind: str, root: Path, sources: Sequence[Path], build: Callable[[], RecordingSet], *,
                cache: bool, options: Mapping[str, object], classes: Sequence[str], channels: Sequence[str],
                sampling_rate: float) -> RecordingSet:
    """`build()`, or the same set from bilm's cache (memory maps), keyed by the sources and options."""
    if not cache or cache_disabled():
        return build()
    built: list[RecordingSet] = []

    def arrays() -> dict[str, np.ndarray]:
        built.append(build())
        return built[0].arrays()

    found = cached(kind, root, sources, arrays, key={"format": CACHE_FORMAT, **options})
    if built:
        return built[0]
    return RecordingSet.from_arrays(found, classes=classes, channels=channels, sampling_rate=sampling_rate,
                                    source=str(root))


def relative_paths(root: Path, found: Iterable[tuple]) -> list[str]:
    """The data files a download must verify: the first item of each found tuple (a path under
    `root`), as a posix path relative to it."""
    return [path.relative_to(root).as_posix() for path, *_ in found]


def read_csv(paths: Sequence[Path], *, skip_rows: int = 0, usecols: Sequence[int] | None = None,
             dtype: str = "float32") -> list[np.ndarray]:
    """Comma-separated numbers, one (rows, columns) array per file, parsed in parallel by
    bilm_fast as np.loadtxt would; errors name the file and the line."""
    return bilm_fast.read_csv([str(p) for p in paths], delimiter=",", skip_rows=skip_rows,
                              usecols=None if usecols is None else list(usecols), dtype=dtype)


def check_finite(signal: np.ndarray, path: Path, first_line: int) -> None:
    """Refuse NaN or infinite values, naming the line of the first (`first_line`: that of row 0)."""
    finite = np.isfinite(signal).all(axis=1)
    if not finite.all():
        raise ValueError(f"{path}, line {first_line + int(np.flatnonzero(~finite)[0])}: NaN or infinite value")
