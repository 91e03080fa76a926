"""WISDM v1.1: the loader on a generated raw file with the real one's quirks, and the download.

The raw file is written as the published one is: `user,activity,timestamp,x,y,z;` per record,
numbers as Java printed them ("-0.6946377", "12.680544"), with the quirks of the real file:
a line holding two records, broken records (an empty or missing field), a blank line, a CRLF
line, and a last record without its ";" or line break. The archive is a .tar.gz holding
WISDM_ar_v1.1/, as WISDM_ar_latest.tar.gz does.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from test_data_download import server  # noqa: F401  (the 127.0.0.1 fixture)

from bilm.data import DownloadError
from bilm.data.datasets import fetch, load, wisdm
from bilm.data.download import RECORDED_SUMS

FILE = "WISDM_ar_v1.1_raw.txt"
# Runs of (user, activity, records): user 33 comes back after 17, as users do in the real file.
RUNS = ((33, "Jogging", 80), (33, "Walking", 70), (17, "Sitting", 60), (33, "Upstairs", 90))


def _number(rng: np.random.Generator) -> str:
    return repr(float(np.float32(rng.normal() * 6)))


def write_wisdm_file(root: Path, seed: int = 0) -> dict:
    """The raw file with its quirks; returns the well-formed records' users, classes, lines and values."""
    rng = np.random.default_rng(seed)
    records = []  # (user, activity, x, y, z) as text
    for user, activity, count in RUNS:
        records += [(user, activity, _number(rng), _number(rng), _number(rng)) for _ in range(count)]
    lines, kept, number = [], {"users": [], "codes": [], "lines": [], "xyz": [], "broken": []}, 0
    i, timestamp = 0, 49105962326000
    while i < len(records):
        number += 1
        user, activity, x, y, z = records[i]
        line = f"{user},{activity},{timestamp},{x},{y},{z};"
        taken = [records[i]]
        if i == 10:  # two records on one line
            taken.append(records[i + 1])
            line += "{},{},{},{},{},{};".format(*records[i + 1][:2], timestamp + 1, *records[i + 1][2:])
        for user, activity, x, y, z in taken:
            kept["users"].append(user)
            kept["codes"].append(wisdm.CLASSES.index(activity))
            kept["lines"].append(number)
            kept["xyz"].append([np.float32(float(v)) for v in (x, y, z)])
        lines.append(line)
        i += len(taken)
        timestamp += 50_000_000
        if i == 20:  # a broken record (empty z), then a blank line, then one missing a field
            broken = [f"33,Jogging,{timestamp},-1.1849703,12.108489,", f"33,Jogging,{timestamp},1.3756552"]
            lines += [broken[0] + ";", "", broken[1] + ";"]
            kept["broken"] = [(number + 1, broken[0]), (number + 3, broken[1])]
            number += 3
    lines[30] += "\r"  # one CRLF line
    lines[-1] = lines[-1].rstrip(";")  # the last record lacks its ";" and its line break
    path = root / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("\n".join(lines).encode())
    return {key: value if key == "broken" else np.array(value) for key, value in kept.items()}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "WISDM_ar_v1.1"
    return root, write_wisdm_file(root)


def test_records_values_and_recordings(tree):
    root, expected = tree
    data = load("wisdm", root)
    np.testing.assert_array_equal(data.signal, expected["xyz"].astype(np.float32))  # bit for bit
    np.testing.assert_array_equal(data.labels, expected["codes"])
    assert len(data.signal) == sum(count for *_, count in RUNS) == 300
    # A recording is a run of one user: 33 (Jogging, Walking), 17, then 33 again.
    assert [rec.subject for rec in data] == [33, 17, 33]
    assert [len(rec.signal) for rec in data] == [150, 60, 90]
    lines = expected["lines"]
    assert data.names[0] == f"user 33, lines 1-{lines[149]}"
    assert data.names[2] == f"user 33, lines {lines[210]}-{lines[-1]}"
    (line1, text1), (line2, text2) = expected["broken"]
    assert data.notes == (f"skipped 2 broken records of 302 (line {line1}: {text1!r}, line {line2}: {text2!r})",)
    assert data.classes == ("Walking", "Jogging", "Upstairs", "Downstairs", "Sitting", "Standing")
    assert data.channels == ("acc_x [m/s^2]", "acc_y [m/s^2]", "acc_z [m/s^2]") and data.sampling_rate == 20.0
    assert isinstance(load("wisdm", root).signal.base, np.memmap)


def test_too_many_broken_records_is_another_file(tree):
    root, _ = tree
    path = root / FILE
    text = path.read_text().split("\n")
    text[40:45] = [line.replace("Jogging", "jogging") for line in text[40:45]]  # 4 of them were fine
    path.write_text("\n".join(text))
    first = tree[1]["broken"][0][0]
    with pytest.raises(ValueError, match=rf"WISDM_ar_v1.1_raw.txt, line {first}: 7 of 302 records are not "
                                         r"user,activity,timestamp,x,y,z .* is this WISDM v1.1's raw file\?"):
        load("wisdm", root, cache=False)


def test_a_file_without_records(tmp_path):
    (tmp_path / FILE).write_text("\n;\nuser,activity,timestamp,x,y,z\n")
    with pytest.raises(ValueError, match=r"WISDM_ar_v1.1_raw.txt, line 3: no WISDM records"):
        load("wisdm", tmp_path, cache=False)
    (tmp_path / FILE).write_text("\n;\n")
    with pytest.raises(ValueError, match=r"WISDM_ar_v1.1_raw.txt: no WISDM records"):
        load("wisdm", tmp_path, cache=False)


def _tar(members: dict[str, bytes], links: dict[str, str] | None = None, devices: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
        for name in devices:
            info = tarfile.TarInfo(name)
            info.type = tarfile.CHRTYPE
            tf.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _archive(root: Path) -> bytes:
    text = (root / FILE).read_bytes()
    return _tar({f"WISDM_ar_v1.1/{FILE}": text, "WISDM_ar_v1.1/readme.txt": b"readme",
                 "WISDM_ar_v1.1/WISDM_ar_v1.1_raw_about.txt": b"about"})


def test_download_of_the_tar_gz(tree, server, tmp_path, capsys):
    root, expected = tree
    archive = _archive(root)
    url = server("WISDM_ar_latest.tar.gz", archive)
    target = fetch("wisdm", tmp_path / "dest", url=url, progress=False)
    assert target == tmp_path / "dest" / "WISDM_ar_v1.1" and (target / "readme.txt").is_file()
    digest = hashlib.sha256((root / FILE).read_bytes()).hexdigest()
    assert (target / RECORDED_SUMS).read_text() == f"{digest}  {FILE}\n"
    err = capsys.readouterr().err
    assert hashlib.sha256(archive).hexdigest() in err and "Activity Recognition using Cell Phone" in err
    np.testing.assert_array_equal(load("wisdm", target).signal, expected["xyz"].astype(np.float32))
    with pytest.raises(DownloadError, match=f"SHA-256 mismatch for {FILE}: expected 0000"):
        fetch("wisdm", tmp_path / "other", url=url, progress=False, checksums={FILE: "0" * 64})


@pytest.mark.parametrize("members,links,devices,message", [
    ({"../evil.txt": b"x"}, {}, (), "its path leaves the destination"),
    ({"/tmp/evil.txt": b"x"}, {}, (), "refusing to extract"),
    ({}, {"WISDM_ar_v1.1/link": "../../evil-target"}, (), "a link to '../../evil-target', outside"),
    ({"WISDM_ar_v1.1/through/evil.txt": b"x"}, {"WISDM_ar_v1.1/through": "../.."}, (), "outside the destination"),
    ({}, {}, ("WISDM_ar_v1.1/dev",), "a device or pipe"),
])
def test_unsafe_tar_members_are_refused(server, tmp_path, members, links, devices, message):
    archive = _tar({f"WISDM_ar_v1.1/{FILE}": b"1,Walking,0,1,2,3;\n", **members}, links, devices)
    with pytest.raises(DownloadError, match=message):
        fetch("wisdm", tmp_path / "dest", url=server("evil.tar.gz", archive), progress=False)
    assert not list((tmp_path / "dest").iterdir())
    assert not list(tmp_path.rglob("evil*"))


def test_a_damaged_tar_gz(server, tmp_path):
    rows = b"".join(b"%d,Walking,0,%d,2,3;\n" % (i, i * 7919 % 1000) for i in range(20000))
    archive = bytearray(_tar({f"WISDM_ar_v1.1/{FILE}": rows}))
    archive[len(archive) // 2] ^= 0xFF  # the header reads, the data does not
    with pytest.raises(DownloadError, match="the tar archive from .* is damaged"):
        fetch("wisdm", tmp_path / "dest", url=server("bad.tar.gz", bytes(archive)), progress=False)
    for body in (b"<html>moved</html>", bytes(archive[:100])):
        with pytest.raises(DownloadError, match="did not send a valid tar.gz archive"):
            fetch("wisdm", tmp_path / "dest", url=server("page.tar.gz", body), progress=False)
    assert not list((tmp_path / "dest").iterdir())
