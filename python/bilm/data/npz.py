"""The .npz format of the training command, and the checks every dataset passes.

Keys: X_train, X_test (float, (N, C, T)); y_train, y_test (integers 0..K-1, (N,));
optional subject_train, subject_test (integers, (N,)) and classes (K strings; without it
the classes are named "0".."K-1"). Nothing else: an unknown key is more likely a typo
than data to ignore.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from bilm.data.har import HARData

REQUIRED = ("X_train", "y_train", "X_test", "y_test")
OPTIONAL = ("subject_train", "subject_test", "classes")


def load_npz(path: str | os.PathLike[str]) -> HARData:
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
    elif classes.ndim != 1 or classes.dtype.kind != "U":
        raise ValueError(f"{path}: classes must be a 1-D array of strings; got dtype {classes.dtype}, "
                         f"shape {classes.shape}")
    else:
        names = tuple(str(name) for name in classes)
    data = HARData(**{key: arrays.get(key) for key in REQUIRED + OPTIONAL[:2]}, classes=names, source=str(path))
    return validate(data, str(path))


def save_npz(path: str | os.PathLike[str], data: HARData) -> Path:
    """Validate `data` and write it as a .npz (atomically: a reader never sees half a file)."""
    path = Path(path)
    data = validate(data, str(path))
    arrays = {key: getattr(data, key) for key in REQUIRED + OPTIONAL[:2] if getattr(data, key) is not None}
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
    """Check shapes, dtypes, labels and values; return the data as float32/int64, C-contiguous."""
    X_train = _check_windows(data.X_train, "X_train", where)
    X_test = _check_windows(data.X_test, "X_test", where)
    if X_train.shape[1:] != X_test.shape[1:]:
        raise ValueError(f"{where}: X_train windows are {X_train.shape[1:]} (channels, steps) "
                         f"but X_test windows are {X_test.shape[1:]}")
    y_train = _check_vector(data.y_train, "y_train", len(X_train), where)
    y_test = _check_vector(data.y_test, "y_test", len(X_test), where)
    classes = _check_classes(data.classes, where)
    return HARData(
        X_train=X_train,
        y_train=_check_labels(y_train, "y_train", len(classes), where),
        X_test=X_test,
        y_test=_check_labels(y_test, "y_test", len(classes), where),
        subject_train=_check_subjects(data.subject_train, "subject_train", len(X_train), where),
        subject_test=_check_subjects(data.subject_test, "subject_test", len(X_test), where),
        classes=classes,
        source=data.source,
    )


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
