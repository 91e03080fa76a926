"""USC-HAD (USC Human Activity Dataset) as a built-in dataset.

14 subjects with a MotionNode sensor on the front right hip, 100 Hz, 12 activities, each
performed 5 times. Written from the dataset's published description (its readme and paper);
the real files could not be checked here. The archive (sipi.usc.edu/had/USC-HAD.zip) holds
USC-HAD/Subject<k>/a<m>t<n>.mat: subject k, activity m (1-12), trial n. Each MATLAB file holds
`sensor_readings`, N x 6 doubles: acceleration x, y, z in g, then angular rate x, y, z in
degrees per second; and text fields (title, version, date, subject, age, height, weight,
activity, activity_number, trial, sensor_location, sensor_orientation), stored as MATLAB
strings: "1", not 1.

Each file is a recording named "Subject<k>/a<m>t<n>", labelled throughout with activity m of
its name and owned by subject k of its folder: the layout is the documented part. The fields
are read only to cross-check: some files are known to spell `activity_numbr` for
`activity_number` (read as the same field); a field that disagrees with the file's name, or
cannot be read as a number, is reported in the set's notes and does not change the label.
A file without a usable `sensor_readings` (missing, not N x 6, NaN) is an error naming it.

No SHA-256 sums are pinned for USC-HAD: its first download records them (see
`bilm.data.download`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from bilm.data.datasets.recordings import (Dataset, Recording, RecordingSet, join_recordings, load_cached,
                                           relative_paths)
from bilm.data.download import Source

NAME = "usc-had"
SAMPLING_RATE = 100.0
CLASSES = ("Walking Forward", "Walking Left", "Walking Right", "Walking Upstairs", "Walking Downstairs",
           "Running Forward", "Jumping Up", "Sitting", "Standing", "Sleeping", "Elevator Up", "Elevator Down")
CHANNELS = tuple(f"acc_{axis} [g]" for axis in "xyz") + tuple(f"gyro_{axis} [deg/s]" for axis in "xyz")
# The field's documented name, then the spelling some files use instead.
ACTIVITY_FIELDS = ("activity_number", "activity_numbr")
_FOLDER = re.compile(r"Subject(?P<subject>\d+)")
_FILE = re.compile(r"a(?P<activity>\d+)t(?P<trial>\d+)\.mat")


def recording_files(root: Path) -> list[tuple[Path, int, int, int]]:
    """(path, subject, activity, trial) of every Subject<k>/a<m>t<n>.mat, in that order."""
    found = []
    for folder in root.iterdir():
        subject = _FOLDER.fullmatch(folder.name)
        if subject is None or not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = _FILE.fullmatch(path.name)
            if match is None:
                continue
            activity = int(match["activity"])
            if not 1 <= activity <= len(CLASSES):
                raise ValueError(f"{path}: activity a{activity} in the file name; USC-HAD's are a1 to "
                                 f"a{len(CLASSES)}")
            found.append((path, int(subject["subject"]), activity, int(match["trial"])))
    if not found:
        raise FileNotFoundError(f"{root}: no USC-HAD recordings (Subject<k>/a<m>t<n>.mat) in it")
    return sorted(found, key=lambda item: item[1:])


def data_files(root: Path) -> list[str]:
    return relative_paths(root, recording_files(root))


SOURCE = Source(
    title="USC-HAD",
    url="https://sipi.usc.edu/had/USC-HAD.zip",
    url_env="BILM_USC_HAD_URL",
    folder="USC-HAD",
    markers=("Subject1",),
    data_files=data_files,
    space="about 100 MB",
    licence="no licence is stated with the dataset; see https://sipi.usc.edu/had/ for its terms",
    citation="Mi Zhang and Alexander A. Sawchuk. USC-HAD: A Daily Activity Dataset for Ubiquitous Activity "
             "Recognition Using Wearable Sensors. ACM International Conference on Ubiquitous Computing "
             "(UbiComp) Workshop on Situation, Activity and Goal Awareness (SAGAware), Pittsburgh, 2012.",
)


def load(root: Path, *, cache: bool = True) -> RecordingSet:
    files = recording_files(root)
    return load_cached(NAME, root, [path for path, *_ in files], lambda: _parse(root, files), cache=cache,
                       options={}, classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE)


def _parse(root: Path, files: list[tuple[Path, int, int, int]]) -> RecordingSet:
    # Imported here: scipy comes with scikit-learn, and only this dataset needs it.
    import scipy.io

    recordings, remarks = [], defaultdict(list)
    for path, subject, activity, trial in files:
        mat = _read_mat(scipy.io, path)
        signal = _sensor_readings(mat, path)
        _cross_check(mat, path.relative_to(root).as_posix(), subject, activity, remarks)
        labels = np.full(len(signal), activity - 1, dtype=np.int64)
        recordings.append(Recording(signal, labels, subject, f"Subject{subject}/a{activity}t{trial}"))
    notes = [f"{len(where)} files {what} (the first: {where[0]})" for what, where in remarks.items()]
    return join_recordings(recordings, classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE,
                           source=str(root), notes=notes)


def _read_mat(scipy_io, path: Path) -> dict:
    try:
        return scipy_io.loadmat(path)
    except FileNotFoundError:
        raise
    except Exception as e:  # scipy's reader fails on damaged files with many types (IndexError, zlib.error, ...)
        raise ValueError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {e})") from None


def _sensor_readings(mat: dict, path: Path) -> np.ndarray:
    readings = mat.get("sensor_readings")
    if readings is None:
        fields = ", ".join(key for key in mat if not key.startswith("__"))
        raise ValueError(f"{path}: no sensor_readings field (fields: {fields})")
    readings = np.asarray(readings)
    if readings.ndim != 2 or readings.shape[1] != len(CHANNELS) or not len(readings) \
            or not np.issubdtype(readings.dtype, np.number):
        raise ValueError(f"{path}: sensor_readings must be N x {len(CHANNELS)} numbers (acc x, y, z in g, gyro x, "
                         f"y, z in deg/s); got {readings.dtype} {readings.shape}")
    finite = np.isfinite(readings).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0]) + 1
        raise ValueError(f"{path}: sensor_readings row {row} has NaN or infinite values")
    return readings.astype(np.float32)


def _cross_check(mat: dict, name: str, subject: int, activity: int, remarks: dict[str, list[str]]) -> None:
    field = next((key for key in ACTIVITY_FIELDS if key in mat), None)
    if field is None:
        remarks["have no activity_number field"].append(name)
    else:
        if field != ACTIVITY_FIELDS[0]:
            remarks[f"spell activity_number as {field}"].append(name)
        if _number(mat[field]) != activity:
            remarks["have an activity_number other than their name's; labelled by the name"].append(name)
    if "subject" in mat and _number(mat["subject"]) != subject:
        remarks["have a subject field other than their folder's; owned by the folder's"].append(name)


def _number(value) -> int | None:
    """A MATLAB field holding one number, as text ("3") or as a number; None if it is not one."""
    values = np.ravel(np.asarray(value))
    if len(values) != 1:
        return None
    try:
        number = float(str(values[0]).strip())
    except ValueError:
        return None
    return int(number) if number.is_integer() else None


DATASET = Dataset(
    name=NAME,
    description="USC-HAD: 14 subjects, MotionNode on the front right hip, 12 activities, 100 Hz, acc + gyro",
    source=SOURCE,
    sampling_rate=SAMPLING_RATE,
    classes=CLASSES,
    channels=CHANNELS,
    subjects=14,
    loader=load,
)
