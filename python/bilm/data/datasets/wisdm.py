"""WISDM v1.1 (WISDM Lab activity prediction, raw accelerometer) as a built-in dataset.

36 users with an Android phone in the front trouser pocket, 20 Hz, 6 activities, from
WISDM_ar_latest.tar.gz (folder WISDM_ar_v1.1, file WISDM_ar_v1.1_raw.txt: 1,098,207 records
by the dataset's own count). Written from the published description; the real file could not
be checked here. A record is `user,activity,timestamp,x,y,z;`: user 1-36, an activity name
(Walking, Jogging, Upstairs, Downstairs, Sitting, Standing), a timestamp (nanoseconds, not
used), and the acceleration along x, y, z, where the dataset's about file says that 10 stands
for 1 g: so the unit is m/s^2 to within 2% (9.81 would be 1 g exactly), and it is named so.

The file's quirks, kept or handled:
* every record ends in ";", and some lines hold several records ("...;33,Jogging,...;");
  a line's records are split at ";", so each is read, and blank parts are not records;
* a few records are broken (a field missing or empty, "...,8.2,;", text where a number
  goes). They are skipped and counted: the set's notes say how many and on which lines. A
  file where more than 1% of the records are broken is not this dataset's raw file, and is
  refused, naming the first broken line;
* a last record without its ";" is read as any other.

The records are in file order, a user's runs of activities one after another. A recording is
a run of consecutive records of one user, labelled per sample; windows that straddle an
activity change are dropped when the recordings are cut (`python -m bilm.data windows`).
Every record is checked against its pattern (one pass in C for the lines of the usual form),
rewritten as plain CSV with the activity as its class index, and parsed by bilm_fast.read_csv.
No SHA-256 sums are pinned for WISDM: its first download records them.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bilm.data.datasets.recordings import Dataset, Recording, RecordingSet, join_recordings, load_cached, read_csv
from bilm.data.download import Source

NAME = "wisdm"
FILE = "WISDM_ar_v1.1_raw.txt"
SAMPLING_RATE = 20.0
CLASSES = ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")
CHANNELS = tuple(f"acc_{axis} [m/s^2]" for axis in "xyz")
# More broken records than this share means another file, not the dataset's few bad lines.
MAX_BROKEN = 0.01
_NUMBER = rb"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ACTIVITY = b"(?:" + b"|".join(name.encode() for name in CLASSES) + b")"
# The form nearly every line has: one record and its ";" (a CRLF file's lines keep their "\r").
_LINE = re.compile(rb"^\d+," + _ACTIVITY + rb",-?\d+," + rb",".join([_NUMBER] * 3) + rb";\r?$", re.MULTILINE)
# One record, blanks allowed around its fields: for the lines not in that form.
_RECORD = re.compile(rb"\s*(\d+)\s*,\s*(" + _ACTIVITY + rb")\s*,\s*(-?\d+)\s*," +
                     rb",".join([rb"\s*(" + _NUMBER + rb")\s*"] * 3))


def data_files(root: Path) -> list[str]:
    return [FILE] if (root / FILE).is_file() else []


SOURCE = Source(
    title="WISDM",
    url="https://www.cis.fordham.edu/wisdm/includes/datasets/latest/WISDM_ar_latest.tar.gz",
    url_env="BILM_WISDM_URL",
    folder="WISDM_ar_v1.1",
    markers=(FILE,),
    data_files=data_files,
    space="about 100 MB",
    licence="no licence is stated; the WISDM Lab asks that its readme.txt is kept with any copy shared, "
            "and that publications cite the paper below",
    citation="Jennifer R. Kwapisz, Gary M. Weiss and Samuel A. Moore. Activity Recognition using Cell Phone "
             "Accelerometers. Proceedings of the Fourth International Workshop on Knowledge Discovery from "
             "Sensor Data (at KDD-10), Washington DC, 2010.",
)


def load(root: Path, *, cache: bool = True) -> RecordingSet:
    path = root / FILE
    return load_cached(NAME, root, [path], lambda: _parse(root, path), cache=cache, options={},
                       classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE)


@dataclass
class _Scan:
    """What one pass over the text found: the well-formed records as CSV text, one per line
    (blank lines between them), the file line of each, and the broken records (line, text)."""

    text: bytes
    lines: np.ndarray
    broken: list[tuple[int, str]]


def _parse(root: Path, path: Path) -> RecordingSet:
    scan = _scan(path)
    _check_broken(scan, path)
    with tempfile.TemporaryDirectory(prefix="bilm-wisdm-") as tmp:
        # Every record was matched against _LINE or _RECORD: parsing them cannot fail. The
        # timestamps are skipped unparsed; float64 keeps the user ids exact, and x, y, z are then
        # rounded to float32 as np.loadtxt(dtype=float32) rounds them.
        clean = Path(tmp) / "records.csv"
        clean.write_bytes(scan.text)
        (table,) = read_csv([clean], usecols=(0, 1, 3, 4, 5), dtype="float64")
    users, codes = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    xyz, lines = table[:, 2:].astype(np.float32), scan.lines
    starts = np.flatnonzero(np.diff(users, prepend=users[0] - 1))
    recordings = [
        Recording(xyz[start:stop], codes[start:stop], int(users[start]),
                  f"user {users[start]}, lines {lines[start]}-{lines[stop - 1]}")
        for start, stop in zip(starts, [*starts[1:], len(users)])
    ]
    notes = []
    if scan.broken:
        where = ", ".join(f"line {line}: {text!r}" for line, text in scan.broken[:3])
        notes.append(f"skipped {len(scan.broken)} broken records of {len(users) + len(scan.broken)} "
                     f"({where}{', ...' if len(scan.broken) > 3 else ''})")
    return join_recordings(recordings, classes=CLASSES, channels=CHANNELS, sampling_rate=SAMPLING_RATE,
                           source=str(root), notes=notes)


def _scan(path: Path) -> _Scan:
    """Split the text into records at line breaks and ";", keep the well-formed ones as CSV
    (the activity as its class index) and list the broken ones."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    counts = np.ones(len(lines), dtype=np.int64)  # records per line
    broken = []
    # One pass in C empties every line of the usual form: only the others are looked at in Python.
    for i, left in enumerate(_LINE.sub(b"", data).split(b"\n")):
        if left or not lines[i]:
            lines[i], counts[i] = _other_line(lines[i], i + 1, broken)
    text = b"\n".join(lines).replace(b";", b"").replace(b"\r", b"")
    for code, name in enumerate(CLASSES):
        # Only an activity field is a name between commas: numbers have no letters.
        text = text.replace(b"," + name.encode() + b",", b",%d," % code)
    return _Scan(text, np.repeat(np.arange(1, len(lines) + 1), counts), broken)


def _other_line(line: bytes, number: int, broken: list[tuple[int, str]]) -> tuple[bytes, int]:
    """A line not of the usual form, as CSV lines of its well-formed records, and their count."""
    records = []
    for part in line.split(b";"):
        if not part.strip():
            continue
        match = _RECORD.fullmatch(part)
        if match is None:
            broken.append((number, part.strip()[:80].decode(errors="replace")))
        else:
            records.append(b",".join(match.groups()))
    return b"\n".join(records), len(records)


def _check_broken(scan: _Scan, path: Path) -> None:
    total = len(scan.lines) + len(scan.broken)
    if not len(scan.lines):
        first = f", line {scan.broken[0][0]}" if scan.broken else ""
        raise ValueError(f"{path}{first}: no WISDM records (user,activity,timestamp,x,y,z;) in the file")
    if len(scan.broken) > MAX_BROKEN * total:
        line, text = scan.broken[0]
        raise ValueError(f"{path}, line {line}: {len(scan.broken)} of {total} records are not "
                         f"user,activity,timestamp,x,y,z with an activity among {', '.join(CLASSES)} "
                         f"(the first: {text!r}); is this WISDM v1.1's raw file?")


DATASET = Dataset(
    name=NAME,
    description="WISDM v1.1: 36 users, phone in the front pocket, 6 activities, 20 Hz, accelerometer only",
    source=SOURCE,
    sampling_rate=SAMPLING_RATE,
    classes=CLASSES,
    channels=CHANNELS,
    subjects=36,
    loader=load,
)
