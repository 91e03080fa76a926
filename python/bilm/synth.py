"""A synthetic UCI HAR dataset in the exact layout and text format of the real one.

`write_uci_tree` writes what a loader reads from the real "UCI HAR Dataset" folder:

    <root>/activity_labels.txt
    <root>/train/y_train.txt, subject_train.txt, Inertial Signals/<9 files>_train.txt
    <root>/test/...  (the same for the test split)

Signal files hold one 128-sample window per line, every value right-aligned in 16 characters
as ``d.ddddddde±ddd`` (``  1.8085150e-004``, `` -1.1474840e-003``), lines ending in CRLF, as
in the original zip. Labels and subjects are one integer per line with LF endings.

The signals are learnable: walking-type activities oscillate at an activity-specific
frequency and amplitude, static ones differ in the direction of gravity in ``total_acc``,
and every subject has its own gait speed and sensor tilt. Test subjects are disjoint from
training subjects, as in the real split. Formatting is vectorised numpy, so ten times the
real size (about 1.9 GB) is written in well under a minute per GB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from bilm.data.har import UCI_HAR_CLASSES, UCI_HAR_SIGNALS, signal_path

STEPS = 128  # readings per window: 2.56 s at 50 Hz
RATE_HZ = 50.0

# Per activity: step frequency (Hz), body acceleration amplitude (g), gyro amplitude (rad/s),
# and the direction of gravity in the phone's frame.
_FREQUENCY = np.array([1.9, 1.6, 2.2, 0.0, 0.0, 0.0])
_ACC_AMPLITUDE = np.array([0.20, 0.30, 0.45, 0.010, 0.008, 0.005])
_GYRO_AMPLITUDE = np.array([0.50, 0.60, 0.80, 0.030, 0.020, 0.015])
_GRAVITY = np.array([
    [0.98, -0.15, 0.10],
    [0.95, -0.20, 0.20],
    [0.97, -0.10, 0.15],
    [0.75, 0.05, 0.65],
    [0.99, -0.12, 0.05],
    [0.10, 0.60, 0.80],
])
_GRAVITY = _GRAVITY / np.linalg.norm(_GRAVITY, axis=1, keepdims=True)

# Windows formatted at a time: bounds memory to a few tens of MB whatever the size.
_BATCH = 4096


def write_uci_tree(
    root: str | os.PathLike[str],
    n_train: int,
    n_test: int,
    seed: int = 0,
    *,
    n_subjects: int = 30,
) -> Path:
    """Write a synthetic UCI HAR dataset under ``root`` and return ``root`` as a Path.

    Args:
        root: folder to create (parents too); it plays the role of ``UCI HAR Dataset``.
        n_train, n_test: number of windows (lines) in each split, at least 1 each.
        seed: the same seed gives byte-identical files.
        n_subjects: subjects 1..n_subjects, about 30% of them (at least one) in the test
            split and the rest in train, like the real 21/9 split of 30.

    Existing files of the same names are overwritten; nothing else under ``root`` is touched.
    """
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be at least 1, got {n_train} and {n_test}")
    if n_subjects < 2:
        raise ValueError(f"n_subjects must be at least 2 (train and test need their own), got {n_subjects}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "activity_labels.txt").write_bytes(
        "".join(f"{i} {name}\n" for i, name in enumerate(UCI_HAR_CLASSES, start=1)).encode()
    )
    rng = np.random.default_rng(seed)
    subjects = np.arange(1, n_subjects + 1)
    test_subjects = np.sort(rng.choice(subjects, size=max(1, round(0.3 * n_subjects)), replace=False))
    train_subjects = np.setdiff1d(subjects, test_subjects)
    traits = _SubjectTraits(rng, n_subjects)
    for split, n, split_subjects in (("train", n_train, train_subjects), ("test", n_test, test_subjects)):
        _write_split(root, split, n, split_subjects, traits, rng)
    return root


class _SubjectTraits:
    """What makes subjects differ: gait speed, vigour and how the phone sits on the waist."""

    def __init__(self, rng: np.random.Generator, n_subjects: int):
        self.speed = rng.uniform(0.85, 1.15, n_subjects + 1)  # indexed by subject id
        self.vigour = rng.uniform(0.9, 1.1, n_subjects + 1)
        self.tilt = rng.normal(0.0, 0.08, (n_subjects + 1, 3))


def _write_split(
    root: Path,
    split: str,
    n: int,
    subjects: np.ndarray,
    traits: _SubjectTraits,
    rng: np.random.Generator,
) -> None:
    folder = root / split
    signal_path(root, split, UCI_HAR_SIGNALS[0]).parent.mkdir(parents=True, exist_ok=True)
    subject, label = _sessions(n, subjects, rng)
    (folder / f"y_{split}.txt").write_bytes("".join(f"{v + 1}\n" for v in label).encode())
    (folder / f"subject_{split}.txt").write_bytes("".join(f"{v}\n" for v in subject).encode())
    files = [open(signal_path(root, split, channel), "wb") for channel in UCI_HAR_SIGNALS]
    try:
        for start in range(0, n, _BATCH):
            stop = min(start + _BATCH, n)
            x = _signals(label[start:stop], subject[start:stop], traits, rng)
            for channel, f in enumerate(files):
                f.write(_format_rows(x[:, channel, :]).tobytes())
    finally:
        for f in files:
            f.close()


def _sessions(n: int, subjects: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Subject and label of each window: windows sorted by subject, activities in runs."""
    subject = np.sort(rng.choice(subjects, size=n))
    # A new activity run starts with probability 1/20 per window, and always at a new subject.
    starts = (rng.random(n) < 0.05) | np.r_[True, subject[1:] != subject[:-1]]
    run_label = rng.integers(0, len(UCI_HAR_CLASSES), size=int(starts.sum()))
    label = run_label[np.cumsum(starts) - 1]
    return subject, label


def _signals(label: np.ndarray, subject: np.ndarray, traits: _SubjectTraits, rng: np.random.Generator) -> np.ndarray:
    """(n, 9, 128) float64 windows for the given labels and subjects, in g and rad/s."""
    n = len(label)
    t = np.arange(STEPS) / RATE_HZ
    frequency = _FREQUENCY[label] * traits.speed[subject]
    phase = rng.uniform(0, 2 * np.pi, n)
    angle = 2 * np.pi * frequency[:, None] * t + phase[:, None]  # (n, 128)
    # A fundamental and its second harmonic, projected differently on the three axes.
    wave = np.sin(angle) + 0.35 * np.sin(2 * angle + 0.7)
    axes = np.array([1.0, 0.55, 0.35])
    acc = (_ACC_AMPLITUDE[label] * traits.vigour[subject])[:, None, None] * axes[:, None] * wave[:, None, :]
    gyro_wave = np.cos(angle)[:, None, :] * axes[::-1, None]
    gyro = (_GYRO_AMPLITUDE[label] * traits.vigour[subject])[:, None, None] * gyro_wave
    acc += rng.normal(0, 0.004, acc.shape)
    gyro += rng.normal(0, 0.01, gyro.shape)
    gravity = _GRAVITY[label] + traits.tilt[subject]
    gravity /= np.linalg.norm(gravity, axis=1, keepdims=True)
    total = acc + gravity[:, :, None]
    return np.concatenate([acc, gyro, total], axis=1)


def _format_rows(values: np.ndarray) -> np.ndarray:
    """(rows, 128) float64 to the bytes of those rows: 16-byte fields, then CRLF."""
    fields = format_fields(values).reshape(len(values), -1)
    crlf = np.broadcast_to(np.frombuffer(b"\r\n", np.uint8), (len(values), 2))
    return np.concatenate([fields, crlf], axis=1)


def format_fields(values: np.ndarray) -> np.ndarray:
    """Format values as `%16.7e` does but with a 3-digit exponent: (..., 16) uint8 ASCII.

    Digits are computed with integer arithmetic on an 8-digit mantissa, which is how the
    values are meant (each written value is exactly what its text says). A value within a
    rounding error of a decimal tie (e.g. 9.99999995e-3) may round the other way from printf;
    the text is still a valid field, and the text is what the loaders are checked against.
    """
    magnitude = np.abs(values)
    exponent = np.zeros(values.shape, np.int64)
    nonzero = magnitude > 0
    exponent[nonzero] = np.floor(np.log10(magnitude[nonzero])).astype(np.int64)
    mantissa = np.rint(magnitude * 10.0 ** (7 - exponent)).astype(np.int64)
    # log10 can be one off next to powers of ten, and rounding can carry to 10^8: renormalise
    # so that every nonzero mantissa has exactly 8 digits.
    for wrong, shift in ((mantissa >= 10**8, 1), (nonzero & (mantissa < 10**7), -1)):
        exponent[wrong] += shift
        mantissa[wrong] = np.rint(magnitude[wrong] * 10.0 ** (7 - exponent[wrong])).astype(np.int64)
    out = np.empty(values.shape + (16,), np.uint8)
    out[..., 0] = ord(" ")
    out[..., 1] = np.where(np.signbit(values), ord("-"), ord(" "))
    out[..., 2] = ord("0") + mantissa // 10**7
    out[..., 3] = ord(".")
    for i in range(7):
        out[..., 4 + i] = ord("0") + mantissa // 10 ** (6 - i) % 10
    out[..., 11] = ord("e")
    out[..., 12] = np.where(exponent < 0, ord("-"), ord("+"))
    for i in range(3):
        out[..., 13 + i] = ord("0") + np.abs(exponent) // 10 ** (2 - i) % 10
    return out
