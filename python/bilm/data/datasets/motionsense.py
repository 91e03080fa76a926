"""MotionSense (DeviceMotion data) as a built-in dataset.

24 subjects with an iPhone 6s in the front trouser pocket, 50 Hz, 6 activities, from the
official repository (github.com/mmalekzadeh/motion-sense, data/A_DeviceMotion_data.zip).
The folder A_DeviceMotion_data holds one folder per trial, `<activity>_<trial>` (dws_1,
ups_3, ..., std_14: each trial number is one activity), and in each one CSV per subject,
`sub_<n>.csv`: 360 files. Each CSV has a header whose first column is unnamed (pandas' row
index, written as 0, 1, 2, ...) and then 12 columns from Core Motion's CMDeviceMotion:
attitude.roll/pitch/yaw (rad), gravity.x/y/z (g), rotationRate.x/y/z (rad/s, gyroscope),
userAcceleration.x/y/z (g, without gravity). The row index is not kept; the header must be
exactly that one, so that a column never lands under another's name. The loader appends
acceleration.x/y/z (g), gravity + userAcceleration: what the accelerometer itself measured
(in iOS's sign, -1 g upward at rest): 15 channels.

Each CSV is a recording, named "<trial folder>/sub_<n>" and labelled with its folder's
activity throughout. Verified on the real data: 360 recordings, 24 subjects, 1,412,865 rows,
per activity dws 131,856, ups 157,285, wlk 344,288, jog 134,231, sit 338,778, std 306,427.
The SHA-256 sums of the 360 CSVs are pinned in `bilm.data.checksums`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bilm.data import checksums
from bilm.data.datasets.recordings import (
    Dataset,
    Recording,
    RecordingSet,
    check_finite,
    join_recordings,
    load_cached,
    read_csv,
    relative_paths,
)
from bilm.data.download import Source

NAME = "motionsense"
SAMPLING_RATE = 50.0
# The folder codes in the order the dataset lists them, and the class names they stand for.
CODES = ("dws", "ups", "wlk", "jog", "sit", "std")
CLASSES = ("downstairs", "upstairs", "walking", "jogging", "sitting", "standing")
COLUMNS = tuple(f"attitude.{axis}" for axis in ("roll", "pitch", "yaw")) + tuple(
    f"{kind}.{axis}" for kind in ("gravity", "rotationRate", "userAcceleration") for axis in "xyz")
_UNITS = {"attitude": "rad", "gravity": "g", "rotationRate": "rad/s", "userAcceleration": "g"}
# What the accelerometer measured: Core Motion splits it into gravity and userAcceleration,
# and their sum, appended to the file's 12 columns, is the accelerometer with gravity that the
# gravity frame and the kinematic latent read (see docs/cv.md for what it bought).
ACCELERATION = tuple(f"acceleration.{axis} [g]" for axis in "xyz")
COLUMN_CHANNELS = tuple(f"{column} [{_UNITS[column.split('.')[0]]}]" for column in COLUMNS)  # the file's
CHANNELS = COLUMN_CHANNELS + ACCELERATION
_GRAVITY = [COLUMNS.index(f"gravity.{axis}") for axis in "xyz"]
_USER = [COLUMNS.index(f"userAcceleration.{axis}") for axis in "xyz"]
HEADER = "," + ",".join(COLUMNS)
_TRIAL = re.compile(rf"(?P<code>{'|'.join(CODES)})_(?P<trial>\d+)")
_FILE = re.compile(r"sub_(?P<subject>\d+)\.csv")


def recording_files(root: Path) -> list[tuple[Path, str, int, int]]:
    """(path, activity code, trial, subject) of every `<act>_<trial>/sub_<n>.csv`, by trial then subject."""
    found = []
    for folder in root.iterdir():
        trial = _TRIAL.fullmatch(folder.name)
        if trial is None or not folder.is_dir():
            continue  # e.g. __MACOSX, a README
        for path in folder.iterdir():
            match = _FILE.fullmatch(path.name)
            if match:
                found.append((path, trial["code"], int(trial["trial"]), int(match["subject"])))
    if not found:
        raise FileNotFoundError(f"{root}: no MotionSense recordings (<activity>_<trial>/sub_<n>.csv) in it")
    return sorted(found, key=lambda item: (item[2], item[3]))


def data_files(root: Path) -> list[str]:
    return relative_paths(root, recording_files(root))


SOURCE = Source(
    title="MotionSense",
    url="https://github.com/mmalekzadeh/motion-sense/raw/master/data/A_DeviceMotion_data.zip",
    url_env="BILM_MOTIONSENSE_URL",
    folder="A_DeviceMotion_data",
    markers=("dws_1",),
    data_files=data_files,
    pinned=lambda: checksums.MOTIONSENSE_SHA256,
    space="about 300 MB (a 72 MB archive, 216 MB unpacked)",
    licence="MIT licence, Copyright (c) 2018 Mohammad Malekzadeh",
    citation="Mohammad Malekzadeh, Richard G. Clegg, Andrea Cavallaro and Hamed Haddadi. Mobile Sensor Data "
             "Anonymization. Proceedings of the International Conference on Internet of Things Design and "
             "Implementation (IoTDI '19), 2019.",
)


def load(root: Path, *, cache: bool = True) -> RecordingSet:
    files = recording_files(root)
    return load_cached(NAME, root, [path for path, *_ in files], lambda: _parse(root, files), cache=cache,
                       options={"channels": list(CHANNELS)}, classes=CLASSES, channels=CHANNELS,
                       sampling_rate=SAMPLING_RATE)


def _parse(root: Path, files: list[tuple[Path, str, int, int]]) -> RecordingSet:
    for path, *_ in files:
        _check_header(path)
    # Column 0 is the row index; the parser never converts the columns it leaves out.
    signals = read_csv([path for path, *_ in files], skip_rows=1, usecols=range(1, len(COLUMNS) + 1))
    recordings = []
    for (path, code, trial, subject), signal in zip(files, signals):
        if len(signal) == 0:
            raise ValueError(f"{path}: no samples after the header")
        check_finite(signal, path, first_line=2)
        signal = np.concatenate([signal, signal[:, _GRAVITY] + signal[:, _USER]], axis=1)
        labels = np.full(len(signal), CODES.index(code), dtype=np.int64)
        recordings.append(Recording(signal, labels, subject, f"{code}_{trial}/sub_{subject}"))
    return join_recordings(recordings, classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE,
                           source=str(root))


def _check_header(path: Path) -> None:
    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: a spreadsheet may add a BOM
        header = f.readline().rstrip("\r\n")
    if header != HEADER:
        raise ValueError(f"{path}, line 1: expected the MotionSense header {HEADER!r}; got {header[:200]!r}")


DATASET = Dataset(
    name=NAME,
    description="MotionSense: 24 subjects, iPhone 6s in the front pocket, 6 activities, 50 Hz, 15 channels",
    source=SOURCE,
    sampling_rate=SAMPLING_RATE,
    classes=CLASSES,
    channels=CHANNELS,
    subjects=24,
    loader=load,
)
