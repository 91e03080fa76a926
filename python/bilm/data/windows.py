"""Your own recordings as a dataset: cut T x C samples into labelled windows, as UCI HAR was.

UCI HAR cut its 50 Hz recordings into windows of 128 samples with 50% overlap; so does this,
with `bilm_fast.sliding_windows`, keeping a window only when all its samples share one label
(and one side of the train/test cut). Samples with an empty label are never part of a window.
`cut_recording_set` does the same for a built-in dataset (`bilm.data.datasets`). Both return
a `SensorData`: the windows with their channel names and sampling rate, when known.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import bilm_fast

from bilm.data.npz import SensorData

if TYPE_CHECKING:
    from bilm.data.datasets import RecordingSet


@dataclass(frozen=True)
class Recording:
    """One continuous recording: samples (T, C), a label per sample ("" = unlabelled), and the
    names of its channels when the file gave them."""

    name: str
    signal: np.ndarray
    labels: np.ndarray
    subject: int | None = None
    channels: tuple[str, ...] | None = None


def read_recording(
    path: str | os.PathLike[str],
    *,
    label_column: str = "label",
    channels: Sequence[str] | None = None,
    labels_path: str | os.PathLike[str] | None = None,
    label: str | None = None,
    subject: int | None = None,
) -> Recording:
    """Read a CSV (header; channel columns and a label column) or a .npy of shape (T, C).

    A .npy's per-sample labels come from `labels_path` (a .npy of T values). `label` gives the
    whole recording one label instead (a file per activity, as phone apps often export).
    `channels` picks a CSV's columns by name, or names a .npy's columns (one name each).
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        signal = _read_npy_signal(path)
        labels = _read_npy_labels(labels_path, len(signal), path) if label is None else None
        names = _npy_channel_names(channels, signal.shape[1], path)
    elif path.suffix.lower() == ".csv":
        signal, labels, names = _read_csv(path, label_column if label is None else None, channels)
    else:
        raise ValueError(f"{path}: a recording must be a .csv or a .npy file")
    if label is not None:
        labels = np.full(len(signal), label)
    return Recording(str(path), signal, labels, subject, names)


def _npy_channel_names(channels: Sequence[str] | None, count: int, path: Path) -> tuple[str, ...] | None:
    if not channels:
        return None
    if len(channels) != count:
        raise ValueError(f"{path}: {len(channels)} channel names for {count} columns; name each column once")
    return tuple(channels)


def _read_npy_signal(path: Path) -> np.ndarray:
    signal = np.load(path, allow_pickle=False)
    if signal.ndim != 2 or not np.issubdtype(signal.dtype, np.number):
        raise ValueError(f"{path}: a recording must be a numeric (samples, channels) array; "
                         f"got dtype {signal.dtype}, shape {signal.shape}")
    finite = np.isfinite(signal).all(axis=1)
    if not finite.all():
        raise ValueError(f"{path}: sample {np.flatnonzero(~finite)[0]} has NaN or infinite values")
    return signal.astype(np.float32)


def _read_npy_labels(labels_path: str | os.PathLike[str] | None, count: int, path: Path) -> np.ndarray:
    if labels_path is None:
        raise ValueError(f"{path}: a .npy recording needs its labels (a .npy of one label per sample) "
                         "or one label for the whole recording")
    labels = np.load(labels_path, allow_pickle=False)
    if labels.shape != (count,):
        raise ValueError(f"{labels_path}: {path} has {count} samples, so its labels must have shape "
                         f"({count},); got {labels.shape}")
    return labels.astype(str)


def _read_csv(path: Path, label_column: str | None,
              channels: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: spreadsheets add a BOM
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        columns = _csv_columns(path, header, label_column, channels)
        values, labels = [], []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise ValueError(f"{path}, line {line}: {len(row)} fields, but the header has {len(header)}")
            values.append(_parse_sample(path, line, [row[i] for i in columns]))
            labels.append(row[header.index(label_column)].strip() if label_column else "")
    if not values:
        raise ValueError(f"{path}: no samples")
    return np.array(values, dtype=np.float32), np.array(labels), tuple(header[i] for i in columns)


def _csv_columns(path: Path, header: list[str], label_column: str | None, channels: Sequence[str] | None) -> list[int]:
    if not header:
        raise ValueError(f"{path}: empty file (a header line naming the columns comes first)")
    if label_column is not None and label_column not in header:
        raise ValueError(f"{path}: no label column {label_column!r} among {header} (name it with --label-column, "
                         "or give the whole recording one label)")
    channels = list(channels) if channels else [name for name in header if name != label_column]
    missing = [name for name in channels if name not in header]
    if missing or not channels:
        raise ValueError(f"{path}: channel columns {missing or channels} not among {header}")
    return [header.index(name) for name in channels]


def _parse_sample(path: Path, line: int, fields: list[str]) -> list[float]:
    try:
        sample = [float(field) for field in fields]
    except ValueError:
        raise ValueError(f"{path}, line {line}: channel values must be numbers; got {fields}") from None
    if not all(math.isfinite(v) for v in sample):
        raise ValueError(f"{path}, line {line}: NaN or infinite channel value in {fields}")
    return sample


def cut_windows(
    recordings: Sequence[Recording],
    *,
    size: int = 128,
    step: int = 64,
    classes: Sequence[str] | None = None,
    test_subjects: Sequence[int] = (),
    test_recordings: Sequence[str] = (),
    test_fraction: float = 0.25,
    channels: Sequence[str] | None = None,
    sampling_rate: float | None = None,
) -> SensorData:
    """Window every recording into a train/test dataset.

    The test part is the recordings of `test_subjects` and those named in `test_recordings`;
    when both are empty, it is the last `test_fraction` of every run of one label, so that
    each class is in both parts and no window shares samples across the cut.
    `classes` fixes the class order (default: the labels found, sorted). `channels` names the
    channels (default: the recordings' own names when they all agree); `sampling_rate` (Hz)
    is recorded with them.
    """
    if not recordings:
        raise ValueError("no recordings to cut into windows")
    _check_same_channels(recordings)
    with_subjects = all(rec.subject is not None for rec in recordings)
    if test_subjects and not with_subjects:
        raise ValueError("holding out test subjects needs the subject of every recording")
    classes = tuple(classes) if classes else _found_classes(recordings)
    held_out = set(test_subjects), {_recording_key(name) for name in test_recordings}
    _check_held_out(recordings, held_out)
    pieces = []
    for rec in recordings:
        codes = _label_codes(rec, classes)
        pieces.append((rec.signal, codes, _test_mask(rec, codes, held_out, test_fraction), rec.subject))
    data = _cut(pieces, classes, size, step, source=", ".join(rec.name for rec in recordings))
    names = tuple(channels) if channels else common_channel_names(recordings)
    return _with(data, with_subjects, names, sampling_rate)


def cut_recording_set(
    data: RecordingSet,
    *,
    size: int = 128,
    step: int = 64,
    test_subjects: Sequence[int] | None = None,
    test_fraction: float = 0.25,
) -> SensorData:
    """Window a built-in dataset (`bilm.data.datasets`) as `cut_windows` does recordings.

    The test part is the recordings of `test_subjects` (default: the subjects its authors held
    out, if they did); with none, it is the last `test_fraction` of every run of one label.
    The channel names and the sampling rate are the dataset's.
    """
    test_subjects = tuple(data.test_subjects if test_subjects is None else test_subjects)
    unknown = sorted(set(test_subjects) - set(data.subject_ids))
    if unknown:
        raise ValueError(f"test subjects {unknown} match no recording of {data.source} "
                         f"(subjects: {list(data.subject_ids)})")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test fraction must be in (0, 1); got {test_fraction}")
    pieces = []
    for rec in data:
        in_test = (np.full(len(rec.labels), rec.subject in test_subjects) if test_subjects
                   else _fraction_mask(rec.labels, test_fraction))
        pieces.append((rec.signal, rec.labels, in_test, rec.subject))
    return _with(_cut(pieces, data.classes, size, step, source=data.source), True, data.channels,
                 data.sampling_rate)


def common_channel_names(recordings: Sequence[Recording]) -> tuple[str, ...] | None:
    """The recordings' channel names when every one has the same; else None."""
    names = {rec.channels for rec in recordings}
    return names.pop() if len(names) == 1 else None


def _cut(pieces: list, classes: tuple[str, ...], size: int, step: int, source: str) -> SensorData:
    """Window (signal, label codes, test mask, subject) pieces into train and test."""
    parts = {"train": [], "test": []}
    for signal, codes, in_test, subject in pieces:
        for part, (X, y) in _windows(signal, codes, in_test, size, step).items():
            parts[part].append((X, y, np.full(len(y), -1 if subject is None else subject, dtype=np.int64)))
    train, test = (_stack(parts[name], name, size) for name in ("train", "test"))
    return SensorData(train[0], train[1], test[0], test[1], train[2], test[2], classes=classes, source=source)


def _with(data: SensorData, with_subjects: bool, channels: Sequence[str] | None,
          sampling_rate: float | None) -> SensorData:
    return dataclasses.replace(
        data,
        subject_train=data.subject_train if with_subjects else None,
        subject_test=data.subject_test if with_subjects else None,
        channels=None if channels is None else tuple(channels),
        sampling_rate=sampling_rate,
    )


def _recording_key(name: str) -> str:
    """A recording's name as a comparable path: relative and absolute spellings agree."""
    return str(Path(name).resolve())


def _check_held_out(recordings: Sequence[Recording], held_out: tuple[set, set]) -> None:
    """Every test subject and test recording asked for must exist (a typo would otherwise
    surface later as an empty test part with misleading advice)."""
    subjects, names = held_out
    known_subjects = {rec.subject for rec in recordings}
    if subjects - known_subjects:
        raise ValueError(f"test subjects {sorted(subjects - known_subjects)} match no recording "
                         f"(subjects: {sorted(s for s in known_subjects if s is not None)})")
    known_names = {_recording_key(rec.name) for rec in recordings}
    if names - known_names:
        raise ValueError(f"test recordings {sorted(names - known_names)} match no recording "
                         f"(recordings: {sorted(rec.name for rec in recordings)})")


def _check_same_channels(recordings: Sequence[Recording]) -> None:
    counts = {rec.name: rec.signal.shape[1] for rec in recordings}
    if len(set(counts.values())) > 1:
        raise ValueError(f"recordings have different numbers of channels: {counts}")


def _found_classes(recordings: Sequence[Recording]) -> tuple[str, ...]:
    names = set().union(*(set(rec.labels.tolist()) for rec in recordings)) - {""}
    # Numeric labels sort as numbers: "10" after "9".
    return tuple(sorted(names, key=lambda name: (0, float(name), name) if _is_number(name) else (1, 0.0, name)))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label_codes(rec: Recording, classes: tuple[str, ...]) -> np.ndarray:
    """Class index per sample; -1 where unlabelled."""
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted(set(rec.labels.tolist()) - set(index) - {""})
    if unknown:
        raise ValueError(f"{rec.name}: labels {unknown} are not among the classes {list(classes)}")
    return np.array([index.get(name, -1) for name in rec.labels.tolist()], dtype=np.int64)


def _test_mask(rec: Recording, codes: np.ndarray, held_out: tuple[set, set], fraction: float) -> np.ndarray:
    subjects, names = held_out
    if subjects or names:
        return np.full(len(codes), rec.subject in subjects or _recording_key(rec.name) in names)
    if not 0 < fraction < 1:
        raise ValueError(f"test fraction must be in (0, 1); got {fraction}")
    return _fraction_mask(codes, fraction)


def _fraction_mask(codes: np.ndarray, fraction: float) -> np.ndarray:
    """The last `fraction` of every run of one label."""
    mask = np.zeros(len(codes), dtype=bool)
    if not len(codes):
        return mask
    starts = np.flatnonzero(np.diff(codes, prepend=codes[0] - 1))
    for start, stop in zip(starts, [*starts[1:], len(codes)]):
        mask[start + round((stop - start) * (1 - fraction)):stop] = True
    return mask


def _windows(signal: np.ndarray, codes: np.ndarray, in_test: np.ndarray, size: int,
             step: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if len(codes) < size:
        return {}
    X = bilm_fast.sliding_windows(np.ascontiguousarray(signal, dtype=np.float32), size, step)
    # One key per (label, part), windowed like the signal: a window is kept when it is uniform.
    keys = (codes * 2 + in_test).astype(np.float32)[:, None]
    key_windows = bilm_fast.sliding_windows(keys, size, step)[:, 0, :]
    first = key_windows[:, 0]
    keep = (key_windows == first[:, None]).all(axis=1) & (first >= 0)
    labels, tests = first.astype(np.int64) // 2, first.astype(np.int64) % 2 == 1
    return {
        "train": (X[keep & ~tests], labels[keep & ~tests]),
        "test": (X[keep & tests], labels[keep & tests]),
    }


def _stack(chunks: list, part: str, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not chunks or sum(len(y) for _, y, _ in chunks) == 0:
        raise ValueError(f"no {part} windows: every {part} stretch of one label needs at least {size} samples "
                         "(record longer, or choose another test split)")
    X, y, subject = (np.concatenate(arrays) for arrays in zip(*chunks))
    return np.ascontiguousarray(X, dtype=np.float32), y, subject
