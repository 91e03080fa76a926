"""DSADS (Daily and Sports Activities, UCI repository id 256) as a built-in dataset.

8 subjects (p1-p8), 19 activities (a01-a19), each performed for 5 minutes with 5 Xsens MTx
units on the torso (T), right arm (RA), left arm (LA), right leg (RL) and left leg (LL), at
25 Hz. Written from the published description; the real files could not be checked here.
The 5-minute signals were cut into 60 segments of 5 s, one text file each:
a<activity>/p<subject>/s<segment>.txt, 125 lines of 45 comma-separated numbers, no header;
the columns are the 5 units in the order above, each with x, y, z acceleration, x, y, z
rate of turn and x, y, z magnetic field.

Units: the description names the sensors but not their units; the MTx's calibrated outputs
are m/s^2, rad/s and a magnetic field normalised to the earth's (arbitrary units, "a.u."),
and the channel names say so; that is the sensor's documentation, not the dataset's.

By default the 60 segments of an activity and subject are joined in order into one recording
of 5 minutes ("a01/p1", 7,500 samples), so that windows of any length can be cut from it;
`segments=True` keeps each 5 s segment as a recording ("a01/p1/s01"). Missing segments split a
recording ("a01/p1/s01-s36", "a01/p1/s38-s60") rather than join what was not contiguous. A
segment of another length than 125 rows is kept and reported in the set's notes.
No SHA-256 sums are pinned for DSADS: its first download records them.
"""

from __future__ import annotations

import re
from itertools import groupby
from pathlib import Path
from typing import NamedTuple

import numpy as np

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

NAME = "dsads"
SAMPLING_RATE = 25.0
SEGMENT_ROWS = 125
PLACES = ("T", "RA", "LA", "RL", "LL")
SENSORS = (("acc", "m/s^2"), ("gyro", "rad/s"), ("mag", "a.u."))
CHANNELS = tuple(f"{place}_{axis}{sensor} [{unit}]" for place in PLACES for sensor, unit in SENSORS for axis in "xyz")
CLASSES = (
    "sitting", "standing", "lying on back", "lying on right side", "ascending stairs", "descending stairs",
    "standing in an elevator", "moving in an elevator", "walking in a parking lot",
    "walking on a treadmill at 4 km/h flat", "walking on a treadmill at 4 km/h inclined 15 deg",
    "running on a treadmill at 8 km/h", "exercising on a stepper", "exercising on a cross trainer",
    "cycling on an exercise bike horizontal", "cycling on an exercise bike vertical", "rowing", "jumping",
    "playing basketball",
)
_ACTIVITY = re.compile(r"a(?P<n>\d+)")
_SUBJECT = re.compile(r"p(?P<n>\d+)")
_SEGMENT = re.compile(r"s(?P<n>\d+)\.txt")


def segment_files(root: Path) -> list[tuple[Path, int, int, int]]:
    """(path, activity, subject, segment) of every a<m>/p<k>/s<n>.txt, in that order."""
    found = []
    for activity_dir in root.iterdir():
        activity = _ACTIVITY.fullmatch(activity_dir.name)
        if activity is None or not activity_dir.is_dir():
            continue
        if not 1 <= int(activity["n"]) <= len(CLASSES):
            raise ValueError(f"{activity_dir}: DSADS's activities are a01 to a{len(CLASSES)}")
        for subject_dir in activity_dir.iterdir():
            subject = _SUBJECT.fullmatch(subject_dir.name)
            if subject is None or not subject_dir.is_dir():
                continue
            for path in subject_dir.iterdir():
                segment = _SEGMENT.fullmatch(path.name)
                if segment:
                    found.append((path, int(activity["n"]), int(subject["n"]), int(segment["n"])))
    if not found:
        raise FileNotFoundError(f"{root}: no DSADS segments (a<activity>/p<subject>/s<segment>.txt) in it")
    return sorted(found, key=lambda item: item[1:])


def data_files(root: Path) -> list[str]:
    return relative_paths(root, segment_files(root))


SOURCE = Source(
    title="DSADS",
    url="https://archive.ics.uci.edu/static/public/256/daily+and+sports+activities.zip",
    url_env="BILM_DSADS_URL",
    folder="DSADS",
    markers=("a01",),
    data_files=data_files,
    inner="*.zip",
    space="about 500 MB",
    licence="CC BY 4.0 (UCI Machine Learning Repository)",
    citation="Kerem Altun, Billur Barshan and Orkun Tuncel. Comparative study on classifying human activities "
             "with miniature inertial and magnetic sensors. Pattern Recognition 43(10):3605-3620, 2010.",
)


def load(root: Path, *, cache: bool = True, segments: bool = False) -> RecordingSet:
    files = segment_files(root)
    return load_cached(NAME, root, [path for path, *_ in files], lambda: _parse(root, files, segments),
                       cache=cache, options={"segments": bool(segments)}, classes=CLASSES, channels=CHANNELS,
                       sampling_rate=SAMPLING_RATE)


def _parse(root: Path, files: list[tuple[Path, int, int, int]], segments: bool) -> RecordingSet:
    signals = read_csv([path for path, *_ in files])
    odd = []
    for (path, *_), signal in zip(files, signals):
        if signal.shape[1] != len(CHANNELS) or not len(signal):
            raise ValueError(f"{path}: expected rows of {len(CHANNELS)} values (5 units x 9 channels); "
                             f"got {signal.shape[0]} rows of {signal.shape[1]}")
        check_finite(signal, path, first_line=1)
        if len(signal) != SEGMENT_ROWS:
            odd.append(f"{path.relative_to(root).as_posix()} ({len(signal)} rows)")
    parts = [_Segment(activity, subject, number, signal)
             for (_, activity, subject, number), signal in zip(files, signals)]
    recordings = [_recording(name, run) for name, run in _runs(parts, segments)]
    notes = [f"{len(odd)} segments are not {SEGMENT_ROWS} rows long (the first: {odd[0]})"] if odd else []
    return join_recordings(recordings, classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE,
                           source=str(root), notes=notes)


class _Segment(NamedTuple):
    activity: int
    subject: int
    number: int
    signal: np.ndarray


def _runs(parts: list[_Segment], segments: bool) -> list[tuple[str, list[_Segment]]]:
    """(name, segments) of each recording: every segment on its own, or the runs of consecutive
    segment numbers of one activity and subject."""
    runs = []
    for (activity, subject), group in groupby(parts, key=lambda part: (part.activity, part.subject)):
        base = f"a{activity:02d}/p{subject}"
        if segments:
            runs.extend((f"{base}/s{part.number:02d}", [part]) for part in group)
            continue
        split: list[list[_Segment]] = []
        for part in group:
            if split and part.number == split[-1][-1].number + 1:
                split[-1].append(part)
            else:
                split.append([part])
        if len(split) == 1 and split[0][0].number == 1:
            runs.append((base, split[0]))
        else:
            runs.extend((f"{base}/s{run[0].number:02d}-s{run[-1].number:02d}", run) for run in split)
    return runs


def _recording(name: str, run: list[_Segment]) -> Recording:
    signal = np.concatenate([part.signal for part in run])
    return Recording(signal, np.full(len(signal), run[0].activity - 1, dtype=np.int64), run[0].subject, name)


DATASET = Dataset(
    name=NAME,
    description="DSADS: 8 subjects, 5 IMUs (torso, arms, legs), 19 daily and sports activities, 25 Hz, 45 channels",
    source=SOURCE,
    sampling_rate=SAMPLING_RATE,
    classes=CLASSES,
    channels=CHANNELS,
    subjects=8,
    loader=load,
    options={"segments": False},
)
