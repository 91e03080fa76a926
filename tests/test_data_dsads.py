"""DSADS: the loader on generated segment files in the published layout, and the download.

Each file is a<activity>/p<subject>/s<segment>.txt: 125 lines of 45 comma-separated numbers,
no header. The description fixes no number format; these are written with 5 significant
digits ("%.5g"), one file with CRLF line ends. The UCI archive is a zip; here it is also served
as a zip wrapping the data zip, the form UCI gives some of its archives.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from test_data_download import _zip, server  # noqa: F401  (server: the 127.0.0.1 fixture)

from bilm.data.datasets import fetch, load
from bilm.data.download import RECORDED_SUMS

ACTIVITIES, SUBJECTS, SEGMENTS, ROWS = (1, 2, 19), (1, 2), (1, 2, 3), 125


def write_dsads_tree(root: Path, seed: int = 0, rows: int = ROWS) -> dict[str, np.ndarray]:
    """The data/ layout; returns each segment's values as float32, by "a01/p1/s01"."""
    rng = np.random.default_rng(seed)
    expected = {}
    for activity in ACTIVITIES:
        for subject in SUBJECTS:
            for segment in SEGMENTS:
                values = rng.normal(size=(rows, 45)) * 5
                text = [",".join(f"{v:.5g}" for v in row) for row in values]
                name = f"a{activity:02d}/p{subject}/s{segment:02d}"
                end = "\r\n" if name == "a02/p2/s03" else "\n"
                path = root / f"{name}.txt"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes((end.join(text) + end).encode())
                expected[name] = np.array([[np.float32(float(f)) for f in line.split(",")] for line in text])
    return expected


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("dsads") / "data"
    return root, write_dsads_tree(root)


@pytest.fixture
def tree(written, tmp_path):
    # A fresh copy per test, so that a test may damage it.
    root, expected = written
    copy = tmp_path / "data"
    for path in root.rglob("*.txt"):
        target = copy / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    return copy, expected


def test_segments_are_joined_into_five_minute_recordings(tree):
    root, expected = tree
    data = load("dsads", root)
    assert data.names == ("a01/p1", "a01/p2", "a02/p1", "a02/p2", "a19/p1", "a19/p2")
    for rec in data:
        np.testing.assert_array_equal(rec.signal, np.concatenate([expected[f"{rec.name}/s{s:02d}"] for s in SEGMENTS]))
        assert rec.subject == int(rec.name[-1])
        assert set(rec.labels.tolist()) == {int(rec.name[1:3]) - 1}
    assert data.signal.shape == (6 * 3 * ROWS, 45) and data.sampling_rate == 25.0
    assert data.classes[0] == "sitting" and data.classes[18] == "playing basketball" and len(data.classes) == 19
    assert data.channels[:3] == ("T_xacc [m/s^2]", "T_yacc [m/s^2]", "T_zacc [m/s^2]")
    assert data.channels[3] == "T_xgyro [rad/s]" and data.channels[8] == "T_zmag [a.u.]"
    assert data.channels[9] == "RA_xacc [m/s^2]" and data.channels[-1] == "LL_zmag [a.u.]"
    assert data.notes == ()


def test_segments_option_keeps_them_apart_and_keys_its_own_cache(tree):
    root, expected = tree
    joined = load("dsads", root)
    apart = load("dsads", root, segments=True)
    assert len(apart) == 18 and apart.names[:2] == ("a01/p1/s01", "a01/p1/s02")
    for rec in apart:
        np.testing.assert_array_equal(rec.signal, expected[rec.name])
    np.testing.assert_array_equal(apart.signal, joined.signal)
    again = load("dsads", root, segments=True)
    assert isinstance(again.signal.base, np.memmap) and again.names == apart.names
    with pytest.raises(ValueError, match="dsads has no option segment; its options: segments"):
        load("dsads", root, segment=True)


def test_a_missing_segment_splits_the_recording_and_odd_lengths_are_noted(tree):
    root, _ = tree
    (root / "a01" / "p2" / "s02.txt").unlink()
    path = root / "a02" / "p1" / "s03.txt"
    path.write_text("\n".join(path.read_text().splitlines()[:100]) + "\n")
    data = load("dsads", root, cache=False)
    assert data.names[:4] == ("a01/p1", "a01/p2/s01-s01", "a01/p2/s03-s03", "a02/p1")
    assert len(data[3].signal) == 2 * ROWS + 100
    assert data.notes == ("1 segments are not 125 rows long (the first: a02/p1/s03.txt (100 rows))",)


@pytest.mark.parametrize("edit,message", [
    (lambda lines: lines[:6] + [lines[6].replace(",", ",x", 1)] + lines[7:], r"s02.txt, line 7: .* is not a number"),
    (lambda lines: [line.rsplit(",", 1)[0] for line in lines],
     r"s02.txt: expected rows of 45 values \(5 units x 9 channels\); got 125 rows of 44"),
    (lambda lines: lines[:9] + [lines[9].rsplit(",", 1)[0]] + lines[10:], r"s02.txt, line 10: expected 45 fields"),
    (lambda lines: lines[:3] + [lines[3].replace(lines[3].split(",")[0], "inf", 1)] + lines[4:],
     r"s02.txt, line 4: NaN or infinite value"),
])
def test_bad_segments_name_the_file_and_line(tree, edit, message):
    root, _ = tree
    path = root / "a19" / "p1" / "s02.txt"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(ValueError, match=message):
        load("dsads", root, cache=False)


def test_a_folder_that_is_not_dsads(tmp_path):
    (tmp_path / "a01").mkdir()
    with pytest.raises(FileNotFoundError, match="no DSADS segments"):
        load("dsads", tmp_path)
    (tmp_path / "a20").mkdir()
    (tmp_path / "a20" / "p1").mkdir()
    with pytest.raises(ValueError, match="a20: DSADS's activities are a01 to a19"):
        load("dsads", tmp_path)


def test_download_finds_the_data_in_a_nested_zip(written, server, tmp_path):
    root, expected = written
    data_zip = _zip({f"data/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*.txt"))})
    outer = _zip({"data.zip": data_zip, "readme.txt": b"Daily and Sports Activities"})
    target = fetch("dsads", tmp_path / "dest", url=server("daily+and+sports+activities.zip", outer), progress=False)
    assert target == tmp_path / "dest" / "DSADS" and (target / "a19" / "p2" / "s03.txt").is_file()
    recorded = (target / RECORDED_SUMS).read_text().splitlines()
    assert len(recorded) == 18
    assert recorded[0] == f"{hashlib.sha256((root / 'a01/p1/s01.txt').read_bytes()).hexdigest()}  a01/p1/s01.txt"
    np.testing.assert_array_equal(load("dsads", target, segments=True)[0].signal, expected["a01/p1/s01"])
