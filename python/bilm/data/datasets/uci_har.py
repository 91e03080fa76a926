"""UCI HAR (Human Activity Recognition Using Smartphones) as a built-in dataset.

30 subjects with a Samsung Galaxy S II on the waist, 50 Hz, 6 activities. The dataset is
published already cut into windows of 2.56 s (128 samples) with 50% overlap, with its
authors' train/test split by subject; the continuous recordings are not in it. So here each
window is a recording of 128 samples ("train/0", "test/17", ...), and consecutive windows of a
subject share half their samples: `samples` counts window samples, about twice the recorded
time. Windowing them again with 128-sample windows gives back exactly the published windows
(`python -m bilm.data windows --dataset uci-har`, which holds out the authors' test subjects
unless told otherwise). The 9 channels are the Inertial Signals files in the order of
`UCI_HAR_SIGNALS`: body acceleration (g, gravity removed by a 0.3 Hz Butterworth filter),
gyroscope (rad/s) and total acceleration (g).

The arrays come from `bilm.data.cache.load_uci_har`, the same exact parser and cache as
`load_dataset`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bilm.data import checksums
from bilm.data.cache import SPLITS, load_uci_har, source_files
from bilm.data.datasets.recordings import Dataset, RecordingSet
from bilm.data.download import DEFAULT_URL, SPACE_NEEDED, URL_ENV, Source
from bilm.data.har import UCI_HAR_CLASSES, UCI_HAR_SIGNALS
from bilm.data.locations import UCI_HAR_FOLDER

NAME = "uci-har"
SAMPLING_RATE = 50.0
WINDOW = 128
_UNITS = {"body_acc": "g", "body_gyro": "rad/s", "total_acc": "g"}
CHANNELS = tuple(f"{signal} [{_UNITS[signal.rsplit('_', 1)[0]]}]" for signal in UCI_HAR_SIGNALS)


def data_files(root: Path) -> list[str]:
    """The 22 files bilm reads: labels, subjects and Inertial Signals of both splits."""
    return sorted(path.relative_to(root).as_posix() for split in SPLITS for path in source_files(root, split))


SOURCE = Source(
    title="UCI HAR",
    url=DEFAULT_URL,
    url_env=URL_ENV,
    folder=UCI_HAR_FOLDER,
    markers=("train", "test"),
    data_files=data_files,
    # Looked up at call time so that tests can serve a generated dataset with its own sums.
    pinned=lambda: checksums.UCI_HAR_SHA256,
    inner=UCI_HAR_FOLDER + ".zip",
    space=SPACE_NEEDED,
    licence="CC BY 4.0 (UCI Machine Learning Repository); the dataset's README asks that publications "
            "cite the paper below and excludes commercial use",
    citation="Davide Anguita, Alessandro Ghio, Luca Oneto, Xavier Parra and Jorge L. Reyes-Ortiz. A Public "
             "Domain Dataset for Human Activity Recognition Using Smartphones. 21st European Symposium on "
             "Artificial Neural Networks, Computational Intelligence and Machine Learning (ESANN 2013), "
             "Bruges, Belgium, 2013.",
)


def load(root: Path, *, cache: bool = True) -> RecordingSet:
    """Every window of both splits as a recording of 128 samples, train first."""
    parts = [load_uci_har(root, split, cache=cache) for split in SPLITS]
    X = np.concatenate([X for X, _, _ in parts])  # (windows, 9, 128)
    y = np.concatenate([y for _, y, _ in parts])
    subjects = np.concatenate([s for _, _, s in parts]).astype(np.int64)
    names = tuple(f"{split}/{i}" for split, (X_split, _, _) in zip(SPLITS, parts) for i in range(len(X_split)))
    test_subjects = tuple(int(s) for s in np.unique(parts[1][2]))
    return RecordingSet(
        signal=np.ascontiguousarray(X.transpose(0, 2, 1)).reshape(-1, X.shape[1]),
        labels=np.repeat(y.astype(np.int64), X.shape[2]),
        bounds=np.arange(0, len(X) * X.shape[2] + 1, X.shape[2], dtype=np.int64),
        subjects=subjects, names=names, classes=UCI_HAR_CLASSES, channels=CHANNELS,
        sampling_rate=SAMPLING_RATE, source=str(root), test_subjects=test_subjects,
        notes=("published as windows of 2.56 s with 50% overlap: each window is a recording",),
    )


DATASET = Dataset(
    name=NAME,
    description="UCI HAR: 30 subjects, smartphone on the waist, 6 activities, 50 Hz, published as 2.56 s windows",
    source=SOURCE,
    sampling_rate=SAMPLING_RATE,
    classes=UCI_HAR_CLASSES,
    channels=CHANNELS,
    subjects=30,
    loader=load,
)
