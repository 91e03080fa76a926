"""MotionSense: the loader on generated files in the exact format, the download, and the real data.

The generated CSVs are written as pandas wrote the real ones: a header whose first column is
unnamed, the row index, then 12 numbers in Python's shortest repr ("0.741895",
"-0.031672000000000006"). The real copy beside the checkout (../shared/motionsense) is used
when it is there.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from test_data_download import _zip, server  # noqa: F401  (server: the 127.0.0.1 fixture)

from bilm.data import DownloadError
from bilm.data.datasets import fetch, load, motionsense

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "motionsense"
HEADER = ("," + ",".join(["attitude.roll", "attitude.pitch", "attitude.yaw", "gravity.x", "gravity.y", "gravity.z",
                          "rotationRate.x", "rotationRate.y", "rotationRate.z", "userAcceleration.x",
                          "userAcceleration.y", "userAcceleration.z"]))
# (trial folder, subject, rows): two subjects, three activities, trial numbers out of order on disk.
TRIALS = (("jog_9", 2, 7), ("dws_1", 1, 5), ("dws_1", 2, 6), ("std_6", 1, 4), ("jog_9", 1, 3))


def _value(rng: np.random.Generator, i: int) -> str:
    value = round(float(rng.normal()), 6)
    # Every third value carries the float noise pandas wrote into the real files.
    return repr(value * (1 + 2 ** -52) if i % 3 == 0 else value)


def write_motionsense_tree(root: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """The A_DeviceMotion_data layout; returns each recording's values as float32, by name."""
    rng = np.random.default_rng(seed)
    expected = {}
    for folder, subject, rows in TRIALS:
        lines, values = [HEADER], []
        for row in range(rows):
            fields = [_value(rng, row * 12 + c) for c in range(12)]
            lines.append(f"{row}," + ",".join(fields))
            values.append([np.float32(float(field)) for field in fields])
        path = root / folder / f"sub_{subject}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        expected[f"{folder}/sub_{subject}"] = np.array(values, dtype=np.float32)
    (root / "__MACOSX").mkdir()  # ignored, as any folder not named <activity>_<trial>
    (root / "README.txt").write_text("not data")
    return expected


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "A_DeviceMotion_data"
    return root, write_motionsense_tree(root)


def test_values_labels_and_subjects_as_written(tree):
    root, expected = tree
    data = load("motionsense", root)
    # Sorted by trial number, then subject: dws_1 (trial 1), std_6, jog_9.
    assert data.names == ("dws_1/sub_1", "dws_1/sub_2", "std_6/sub_1", "jog_9/sub_1", "jog_9/sub_2")
    assert data.signal.dtype == np.float32 and data.signal.shape == (25, 15)
    for rec in data:
        np.testing.assert_array_equal(rec.signal[:, :12], expected[rec.name])  # bit for bit
        # The accelerometer: gravity + userAcceleration, as float32 sums.
        np.testing.assert_array_equal(rec.signal[:, 12:], expected[rec.name][:, 3:6] + expected[rec.name][:, 9:12])
        assert rec.subject == int(rec.name.split("_")[-1])
        code = rec.name.split("_")[0]
        assert set(rec.labels.tolist()) == {motionsense.CODES.index(code)}
    assert data.classes == ("downstairs", "upstairs", "walking", "jogging", "sitting", "standing")
    assert data.channels[0] == "attitude.roll [rad]" and data.channels[11] == "userAcceleration.z [g]"
    assert data.channels[12:] == ("acceleration.x [g]", "acceleration.y [g]", "acceleration.z [g]")
    assert data.units == ("rad",) * 3 + ("g",) * 3 + ("rad/s",) * 3 + ("g",) * 6
    assert data.sampling_rate == 50.0 and data.subject_ids == (1, 2) and data.test_subjects == ()


def test_the_parent_folder_is_found_and_a_second_load_is_a_memory_map(tree):
    root, expected = tree
    first = load("motionsense", root.parent)  # the folder holding A_DeviceMotion_data
    second = load("motionsense", root)
    assert isinstance(second.signal.base, np.memmap) and not isinstance(first.signal.base, np.memmap)
    np.testing.assert_array_equal(first.signal, second.signal)
    assert second.names == first.names and second.classes == first.classes
    assert load("motionsense", root, cache=False).names == first.names


def _edit_line(text: str, number: int, edit) -> str:
    lines = text.split("\n")
    lines[number - 1] = edit(lines[number - 1].split(","))
    return "\n".join(lines)


@pytest.mark.parametrize("edit,message", [
    (lambda text: text.replace(",attitude.roll", ",attitude.rol", 1),
     r"sub_1.csv, line 1: expected the MotionSense header"),
    (lambda text: _edit_line(text, 4, lambda f: ",".join(f[:5] + ["x"] + f[6:])),
     r"sub_1.csv, line 4: \"x\" is not a number"),
    (lambda text: _edit_line(text, 4, lambda f: ",".join(f[:-1])), r"sub_1.csv, line 4: usecols index 12 is out of range for a row of 12 fields"),
    (lambda text: _edit_line(text, 3, lambda f: ",".join(f[:2] + ["nan"] + f[3:])),
     r"sub_1.csv, line 3: NaN or infinite value"),
    (lambda text: text.split("\n")[0] + "\n", r"sub_1.csv: no samples after the header"),
])
def test_bad_files_name_the_file_and_line(tree, edit, message):
    root, _ = tree
    path = root / "dws_1" / "sub_1.csv"
    path.write_text(edit(path.read_text()))
    with pytest.raises(ValueError, match=message):
        load("motionsense", root, cache=False)


def test_a_folder_without_recordings(tmp_path):
    (tmp_path / "dws_1").mkdir()
    with pytest.raises(FileNotFoundError, match="no MotionSense recordings"):
        load("motionsense", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a MotionSense folder"):
        load("motionsense", tmp_path / "dws_1")


def _archive(root: Path) -> bytes:
    # As the official repository's zip: the folder, plus macOS metadata.
    members = {f"A_DeviceMotion_data/{p.relative_to(root).as_posix()}": p.read_bytes()
               for p in sorted(root.rglob("*.csv"))}
    return _zip(members | {"__MACOSX/A_DeviceMotion_data/._dws_1": b"\0"})


def test_download_verifies_every_csv(tree, server, tmp_path, capsys):
    root, expected = tree
    sums = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.csv")}
    url = server("A_DeviceMotion_data.zip", _archive(root))
    target = fetch("motionsense", tmp_path / "dest", url=url, progress=False, checksums=sums)
    assert target == tmp_path / "dest" / "A_DeviceMotion_data"
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["A_DeviceMotion_data"]
    np.testing.assert_array_equal(load("motionsense", target)[0].signal[:, :12], expected["dws_1/sub_1"])
    err = capsys.readouterr().err
    assert "MotionSense licence: MIT" in err and "Mobile Sensor Data Anonymization" in err


def test_download_refuses_a_bad_sum_and_an_unlisted_file(tree, server, tmp_path):
    root, _ = tree
    url = server("ms.zip", _archive(root))
    with pytest.raises(DownloadError, match="SHA-256 mismatch for dws_1/sub_1.csv"):
        fetch("motionsense", tmp_path / "a", url=url, progress=False)  # the pinned sums of the real files
    sums = {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*.csv")}
    del sums["jog_9/sub_2.csv"]
    with pytest.raises(DownloadError, match="jog_9/sub_2.csv is a data file the SHA-256 sums do not cover"):
        fetch("motionsense", tmp_path / "b", url=url, progress=False, checksums=sums)
    assert not list((tmp_path / "a").iterdir()) and not list((tmp_path / "b").iterdir())


def test_pinned_sums_cover_the_360_files():
    sums = motionsense.SOURCE.pinned()
    assert len(sums) == 360
    assert {name.split("/")[0] for name in sums} == {
        "dws_1", "dws_2", "dws_11", "ups_3", "ups_4", "ups_12", "wlk_7", "wlk_8", "wlk_15", "jog_9", "jog_16",
        "sit_5", "sit_13", "std_6", "std_14"}
    assert {name.split("/")[1] for name in sums} == {f"sub_{n}.csv" for n in range(1, 25)}


@pytest.mark.skipif(not (REAL / "A_DeviceMotion_data.zip").is_file(), reason=f"no MotionSense copy in {REAL}")
def test_the_real_dataset(tmp_path):
    # The real zip through the real download path: extraction, the 360 pinned sums, the loader.
    target = fetch("motionsense", tmp_path, url=(REAL / "A_DeviceMotion_data.zip").as_uri(), progress=False)
    data = load("motionsense", target, cache=False)
    assert len(data) == 360 and data.subject_ids == tuple(range(1, 25))
    assert len(data.signal) == 1_412_865 and data.signal.shape[1] == 15
    counts = dict(zip(data.classes, np.bincount(data.labels).tolist()))
    assert counts == {"downstairs": 131_856, "upstairs": 157_285, "walking": 344_288, "jogging": 134_231,
                      "sitting": 338_778, "standing": 306_427}
    long = sum(len(rec.signal) for rec in data if int(rec.name.split("/")[0].split("_")[1]) <= 9)
    assert (long, len(data.signal) - long) == (1_081_446, 331_419)
    first = np.loadtxt(target / "dws_1" / "sub_1.csv", delimiter=",", skiprows=1, usecols=range(1, 13),
                       dtype=np.float32)
    np.testing.assert_array_equal(data[0].signal[:, :12], first)
    assert data[0].name == "dws_1/sub_1"


def test_the_generated_format_is_the_real_one():
    # The generated files follow the real zip's: one folder, trial folders, sub_<n>.csv, that header.
    if not (REAL / "A_DeviceMotion_data.zip").is_file():
        pytest.skip(f"no MotionSense copy in {REAL}")
    with zipfile.ZipFile(REAL / "A_DeviceMotion_data.zip") as zf:
        names = [n for n in zf.namelist() if n.endswith(".csv")]
        header = io.TextIOWrapper(zf.open("A_DeviceMotion_data/dws_1/sub_1.csv")).readline().rstrip("\n")
    assert header == HEADER == motionsense.HEADER
    assert all(n.startswith("A_DeviceMotion_data/") and n.count("/") == 2 for n in names)
