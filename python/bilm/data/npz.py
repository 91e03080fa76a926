"""The .npz format of the training command, and the checks every dataset passes.

Keys: X_train, X_test (float, (N, C, T)); y_train, y_test (integers 0..K-1, (N,));
optional subject_train, subject_test (integers, (N,)), classes (K strings; without it
the classes are named "0".."K-1"), channels (C strings: each channel's name, with its unit
in brackets where known, e.g. "acc_x [g]") and sampling_rate (a positive number, in Hz, as a
0-d array). Nothing else: an unknown key is more likely a typo than data to ignore. Files
written before channels and sampling_rate existed still load: the two are then None.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bilm.data.har import HARData

REQUIRED = ("X_train", "y_train", "X_test", "y_test")
OPTIONAL = ("subject_train", "subject_test", "classes", "channels", "sampling_rate")
SUBJECTS = ("subject_train", "subject_test")


@dataclass(frozen=True)
class SensorData(HARData):
    """HARData that also says what its channels are and how fast they were sampled.

    channels: one name per channel of X (with its unit in brackets where known), or None;
    sampling_rate: in Hz, or None. Both are None for data that never said.
    """

    channels: tuple[str, ...] | None = None
    sampling_rate: float | None = None


def load_npz(path: str | os.PathLike[str]) -> SensorData:
    """Read and validate a dataset .npz; errors name the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        # allow_pickle=False also lands here when an array holds Python objects.
        raise ValueError(f"{path}: not a readable .npz of plain arrays ({e})") from None
    _check_keys(arrays, path)
    classes = arrays.get("classes")
    if classes is None:
        names = _default_classes(arrays["y_train"], arrays["y_test"])
    else:
        names = _strings(classes, "classes", path)
    data = SensorData(**{key: arrays.get(key) for key in REQUIRED + SUBJECTS}, classes=names, source=str(path),
                      channels=None if "channels" not in arrays else _strings(arrays["channels"], "channels", path),
                      sampling_rate=_read_rate(arrays.get("sampling_rate"), path))
    return validate(data, str(path))


def _strings(values: np.ndarray, name: str, path: Path) -> tuple[str, ...]:
    if values.ndim != 1 or values.dtype.kind != "U":
        raise ValueError(f"{path}: {name} must be a 1-D array of strings; got dtype {values.dtype}, "
                         f"shape {values.shape}")
    return tuple(str(value) for value in values)


def _read_rate(value: np.ndarray | None, path: Path) -> float | None:
    if value is None:
        return None
    if value.shape != () or value.dtype.kind not in "iuf":
        raise ValueError(f"{path}: sampling_rate must be one number (Hz, a 0-d array); got dtype {value.dtype}, "
                         f"shape {value.shape}")
    return float(value)


def save_npz(path: str | os.PathLike[str], data: HARData, *, channels: Sequence[str] | None = None,
             sampling_rate: float | None = None) -> Path:
    """Validate `data` and write it as a .npz (atomically: a reader never sees half a file).

    `channels` and `sampling_rate` default to the data's own (a `SensorData`'s); either may be
    None, and is then not written.
    """
    path = Path(path)
    channels = getattr(data, "channels", None) if channels is None else tuple(channels)
    sampling_rate = getattr(data, "sampling_rate", None) if sampling_rate is None else sampling_rate
    data = validate(with_meta(data, channels, sampling_rate), str(path))
    arrays = {key: getattr(data, key) for key in REQUIRED + SUBJECTS if getattr(data, key) is not None}
    if data.channels is not None:
        arrays["channels"] = np.array(data.channels, dtype=str)
    if data.sampling_rate is not None:
        arrays["sampling_rate"] = np.array(data.sampling_rate, dtype=np.float64)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, classes=np.array(data.classes, dtype=str))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def with_meta(data: HARData, channels: Sequence[str] | None, sampling_rate: float | None) -> SensorData:
    """`data` as SensorData with these channel names and sampling rate (checked by `validate`)."""
    fields = {f.name: getattr(data, f.name) for f in dataclasses.fields(HARData)}
    return SensorData(**fields, channels=None if channels is None else tuple(channels),
                      sampling_rate=None if sampling_rate is None else sampling_rate)


def _default_classes(*labels: np.ndarray) -> tuple[str, ...]:
    # Non-integer labels get no names here: `validate` then reports their dtype.
    if not all(np.issubdtype(y.dtype, np.integer) for y in labels):
        return ()
    count = max(int(y.max(initial=-1)) for y in labels) + 1
    return tuple(str(i) for i in range(count))


def _check_keys(arrays: dict[str, np.ndarray], path: Path) -> None:
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)} (a dataset .npz needs {', '.join(REQUIRED)})")
    unknown = sorted(set(arrays) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ValueError(f"{path}: unknown keys {', '.join(unknown)}; allowed: {', '.join(REQUIRED + OPTIONAL)}")


def validate(data: HARData, where: str) -> HARData:
    """Check shapes, dtypes, labels and values; return the data as float32/int64, C-contiguous.

    A SensorData stays one, its channel names and sampling rate checked too.
    """
    X_train = _check_windows(data.X_train, "X_train", where)
    X_test = _check_windows(data.X_test, "X_test", where)
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"{where}: X_train windows are {X_train.shape[1:]} (channels, steps) "
                         f"but X_test windows are {X_test.shape[1:]}")
    y_train = _check_vector(data.y_train, "y_train", len(X_train), where)
    y_test = _check_vector(data.y_test, "y_test", len(X_test), where)
    classes = _check_classes(data.classes, where)
    checked = dataclasses.replace(
        data,
        X_train=X_train,
        y_train=_check_labels(y_train, "y_train", len(classes), where),
        X_test=X_test,
        y_test=_check_labels(y_test, "y_test", len(classes), where),
        subject_train=_check_subjects(data.subject_train, "subject_train", len(X_train), where),
        subject_test=_check_subjects(data.subject_test, "subject_test", len(X_test), where),
        classes=classes,
    )
    if isinstance(data, SensorData):
        checked = dataclasses.replace(checked, channels=_check_channels(data.channels, X_train.shape[1], where),
                                      sampling_rate=_check_rate(data.sampling_rate, where))
    return checked


def _check_channels(channels: Sequence[str] | None, count: int, where: str) -> tuple[str, ...] | None:
    if channels is None:
        return None
    channels = tuple(channels)
    if len(channels) != count:
        raise ValueError(f"{where}: channels names {len(channels)} channels but the windows have {count}")
    if not all(isinstance(name, str) and name.strip() for name in channels):
        raise ValueError(f"{where}: channel names must be non-empty strings; got {list(channels)}")
    if len(set(channels)) != len(channels):
        raise ValueError(f"{where}: channel names repeat: {list(channels)}")
    return channels


def _check_rate(rate: float | None, where: str) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)) \
            or not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"{where}: sampling_rate must be a positive number of Hz; got {rate!r}")
    return float(rate)


def _check_classes(classes: tuple[str, ...], where: str) -> tuple[str, ...]:
    classes = tuple(classes)
    if len(classes) < 2:
        raise ValueError(f"{where}: a classifier needs at least 2 classes; got {list(classes)}")
    if not all(isinstance(name, str) and name for name in classes):
        raise ValueError(f"{where}: class names must be non-empty strings; got {list(classes)}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"{where}: class names repeat: {list(classes)}")
    return classes


def _check_windows(X: np.ndarray, name: str, where: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3 or 0 in X.shape:
        raise ValueError(f"{where}: {name} must be a non-empty 3-D array (windows, channels, steps); "
                         f"got shape {X.shape}")
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(f"{where}: {name} must hold floats; got dtype {X.dtype}")
    finite = np.isfinite(X).all(axis=(1, 2))
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"{where}: {name} has NaN or infinite values in {len(bad)} windows "
                         f"(the first is window {bad[0]})")
    return np.ascontiguousarray(X, dtype=np.float32)


def _check_labels(y: np.ndarray, name: str, num_classes: int, where: str) -> np.ndarray:
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        raise ValueError(f"{where}: {name} must be in 0..{num_classes - 1} (one per class); "
                         f"found {y[bad][0]} at index {np.flatnonzero(bad)[0]}")
    return y


def _check_subjects(subjects: np.ndarray | None, name: str, count: int, where: str) -> np.ndarray | None:
    return None if subjects is None else _check_vector(subjects, name, count, where)


def _check_vector(values: np.ndarray, name: str, count: int, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.shape != (count,):
        raise ValueError(f"{where}: {name} must have shape ({count},), one per window; got {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{where}: {name} must hold integers; got dtype {values.dtype}")
    return np.ascontiguousarray(values, dtype=np.int64)
