"""USC-HAD: the loader on generated MATLAB files in the published layout, and the download.

The files are written with scipy.io.savemat as the dataset's readme describes them:
USC-HAD/Subject<k>/a<m>t<n>.mat, `sensor_readings` N x 6 (acc in g, gyro in deg/s) and the
other fields as MATLAB strings, one of them spelling `activity_numbr` as some real files do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from test_data_download import _zip, server  # noqa: F401  (server: the 127.0.0.1 fixture)

from bilm.data import DownloadError
from bilm.data.checksums import write_sha256sums
from bilm.data.datasets import fetch, load, usc_had
from bilm.data.download import RECORDED_SUMS

# (subject, activity, trial, rows)
FILES = ((1, 1, 1, 9), (1, 1, 2, 7), (1, 8, 1, 5), (2, 12, 3, 6), (2, 1, 1, 4))


def _fields(subject: int, activity: int, trial: int, readings: np.ndarray) -> dict:
    return {
        "title": "USC Human Activity Database", "version": "1.0", "date": "2010-06-01",
        "subject": str(subject), "age": "27", "height": "175cm", "weight": "70kg",
        "activity": usc_had.CLASSES[activity - 1], "activity_number": str(activity), "trial": str(trial),
        "sensor_location": "front right hip", "sensor_orientation": "top", "sensor_readings": readings,
    }


def write_usc_had_tree(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The USC-HAD layout; returns each recording's sensor_readings (float64), by name."""
    rng = np.random.default_rng(seed)
    expected = {}
    for subject, activity, trial, rows in FILES:
        readings = rng.normal(size=(rows, 6)) * [1, 1, 1, 100, 100, 100]
        fields = _fields(subject, activity, trial, readings)
        if subject == 2:  # the misspelt field of some real files
            fields["activity_numbr"] = fields.pop("activity_number")
        path = root / f"Subject{subject}" / f"a{activity}t{trial}.mat"
        path.parent.mkdir(parents=True, exist_ok=True)
        scipy.io.savemat(path, fields)
        expected[f"Subject{subject}/a{activity}t{trial}"] = readings
    (root / "readme.txt").write_text("USC-HAD")
    (root / "displayData_acc.m").write_text("% plots")
    return expected


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "USC-HAD"
    return root, write_usc_had_tree(root)


def test_values_labels_and_subjects(tree):
    root, expected = tree
    data = load("usc-had", root)
    assert data.names == ("Subject1/a1t1", "Subject1/a1t2", "Subject1/a8t1", "Subject2/a1t1", "Subject2/a12t3")
    for rec in data:
        np.testing.assert_array_equal(rec.signal, expected[rec.name].astype(np.float32))
        activity = int(rec.name.split("/a")[1].split("t")[0])
        assert rec.subject == int(rec.name[len("Subject"):].split("/")[0])
        assert set(rec.labels.tolist()) == {activity - 1}
    assert data.classes[0] == "Walking Forward" and data.classes[11] == "Elevator Down"
    assert data.channels == ("acc_x [g]", "acc_y [g]", "acc_z [g]", "gyro_x [deg/s]", "gyro_y [deg/s]",
                             "gyro_z [deg/s]")
    assert data.sampling_rate == 100.0
    assert data.notes == ("2 files spell activity_number as activity_numbr (the first: Subject2/a1t1.mat)",)


def test_fields_that_disagree_with_the_name_are_noted_not_obeyed(tree):
    root, expected = tree
    readings = expected["Subject1/a8t1"]
    scipy.io.savemat(root / "Subject1" / "a8t1.mat", _fields(3, 9, 1, readings))
    data = load("usc-had", root, cache=False)
    rec = data[data.names.index("Subject1/a8t1")]
    assert rec.subject == 1 and set(rec.labels.tolist()) == {7}
    assert "1 files have an activity_number other than their name's; labelled by the name (the first: " \
           "Subject1/a8t1.mat)" in data.notes
    assert "1 files have a subject field other than their folder's; owned by the folder's (the first: " \
           "Subject1/a8t1.mat)" in data.notes


@pytest.mark.parametrize("fields,message", [
    ({"sensor_readings": None}, r"a1t2.mat: no sensor_readings field \(fields: title, "),
    ({"sensor_readings": np.zeros((4, 5))}, r"a1t2.mat: sensor_readings must be N x 6 numbers .* \(4, 5\)"),
    ({"sensor_readings": np.array([[0.0] * 6, [np.nan] + [0.0] * 5])}, r"a1t2.mat: sensor_readings row 2 has NaN"),
])
def test_bad_files_are_named(tree, fields, message):
    root, expected = tree
    mat = _fields(1, 1, 2, expected["Subject1/a1t2"]) | fields
    scipy.io.savemat(root / "Subject1" / "a1t2.mat", {k: v for k, v in mat.items() if v is not None})
    with pytest.raises(ValueError, match=message):
        load("usc-had", root, cache=False)


def test_unreadable_and_misnamed_files(tree):
    root, _ = tree
    (root / "Subject1" / "a1t2.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(ValueError, match=r"a1t2.mat: not a readable MATLAB file"):
        load("usc-had", root, cache=False)
    (root / "Subject1" / "a1t2.mat").unlink()
    (root / "Subject1" / "a13t1.mat").write_bytes(b"")
    with pytest.raises(ValueError, match=r"a13t1.mat: activity a13 in the file name; USC-HAD's are a1 to a12"):
        load("usc-had", root, cache=False)


def _archive(root: Path) -> bytes:
    return _zip({f"USC-HAD/{p.relative_to(root).as_posix()}": p.read_bytes() for p in sorted(root.rglob("*"))
                 if p.is_file()} | {"__MACOSX/USC-HAD/._readme.txt": b"\0"})


def test_first_download_records_the_sums_and_says_so(tree, server, tmp_path, capsys):
    root, expected = tree
    archive = _archive(root)
    target = fetch("usc-had", tmp_path / "dest", url=server("USC-HAD.zip", archive), progress=False)
    assert target == tmp_path / "dest" / "USC-HAD"
    err = capsys.readouterr().err
    assert "bilm pins no SHA-256 sums for USC-HAD" in err
    assert f"The archive's SHA-256 is {hashlib.sha256(archive).hexdigest()}" in err
    assert "cite: Mi Zhang and Alexander A. Sawchuk" in err
    recorded = (target / RECORDED_SUMS).read_text().splitlines()
    assert len(recorded) == 5 and recorded[0] == \
        f"{hashlib.sha256((root / 'Subject1' / 'a1t1.mat').read_bytes()).hexdigest()}  Subject1/a1t1.mat"
    np.testing.assert_array_equal(load("usc-had", target)[0].signal, expected["Subject1/a1t1"].astype(np.float32))


def test_a_forced_download_must_match_the_first(tree, server, tmp_path):
    root, _ = tree
    fetch("usc-had", tmp_path / "dest", url=server("first.zip", _archive(root)), progress=False)
    scipy.io.savemat(root / "Subject2" / "a1t1.mat", _fields(2, 1, 1, np.ones((3, 6))))
    with pytest.raises(DownloadError, match="SHA-256 mismatch for Subject2/a1t1.mat"):
        fetch("usc-had", tmp_path / "dest", url=server("changed.zip", _archive(root)), progress=False, force=True)
    assert (tmp_path / "dest" / "USC-HAD" / RECORDED_SUMS).is_file()  # the first copy stays


def test_a_sums_file_checks_every_data_file(tree, server, tmp_path):
    root, _ = tree
    url = server("sums.zip", _archive(root))
    sums = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.mat")}
    target = fetch("usc-had", tmp_path / "a", url=url, progress=False, checksums=sums)
    assert not (target / RECORDED_SUMS).exists()
    with pytest.raises(DownloadError, match="SHA-256 mismatch for Subject1/a8t1.mat: expected ffff"):
        fetch("usc-had", tmp_path / "b", url=url, progress=False, checksums=sums | {"Subject1/a8t1.mat": "f" * 64})
    del sums["Subject2/a12t3.mat"]
    with pytest.raises(DownloadError, match="Subject2/a12t3.mat is a data file the SHA-256 sums do not cover"):
        fetch("usc-had", tmp_path / "c", url=url, progress=False, checksums=sums)


def test_a_damaged_recorded_sums_file_is_named(tree, server, tmp_path):
    root, _ = tree
    fetch("usc-had", tmp_path / "dest", url=server("one.zip", _archive(root)), progress=False)
    write_sha256sums(tmp_path / "dest" / "USC-HAD" / RECORDED_SUMS, {})
    (tmp_path / "dest" / "USC-HAD" / RECORDED_SUMS).write_text("not a sum\n")
    with pytest.raises(DownloadError, match=rf"{RECORDED_SUMS}, line 1: expected '<64 hex digits>  <path>'"):
        fetch("usc-had", tmp_path / "dest", url=server("two.zip", _archive(root)), progress=False, force=True)
