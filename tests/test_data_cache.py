"""The binary cache behind bilm.data.load_uci_har."""

from __future__ import annotations

import os
import stat
import time

import numpy as np
import pytest

import bilm_fast
from bilm.data import cache, load_uci_har
from bilm.synth import write_uci_tree


@pytest.fixture
def root(tmp_path):
    write_uci_tree(tmp_path / "uci", 6, 3, seed=1)
    return tmp_path / "uci"


@pytest.fixture
def parses(monkeypatch):
    """Counts the calls to the text parser."""
    calls = []
    parse = cache._parse
    monkeypatch.setattr(cache, "_parse", lambda root, split: calls.append(split) or parse(root, split))
    return calls


def _entries(folder):
    return sorted(p.name.split("-")[0] for p in folder.glob("*-*")) if folder.exists() else []


def test_second_load_comes_from_the_cache(root, parses):
    expected = bilm_fast.load_uci_har(str(root), "train")
    first = load_uci_har(root, "train")
    second = load_uci_har(root, "train")
    assert parses == ["train"]
    assert _entries(root / ".bilm-cache") == ["train"]
    for want, got in zip(expected, second):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype and got.flags.c_contiguous
    assert [a.shape for a in first] == [a.shape for a in second]


def test_cached_arrays_are_writable_without_touching_the_cache(root):
    load_uci_har(root, "test")
    X, y, _ = load_uci_har(root, "test")
    X[:] = 0  # copy-on-write: the file under the map keeps its values
    y += 1
    again = load_uci_har(root, "test")
    np.testing.assert_array_equal(again[0], bilm_fast.load_uci_har(str(root), "test")[0])
    assert again[1].max() <= 5


def test_a_changed_source_file_invalidates_the_entry(root, parses):
    load_uci_har(root, "train")
    labels = root / "train" / "y_train.txt"
    lines = labels.read_text().splitlines(keepends=True)
    lines[0] = "6\n" if lines[0] != "6\n" else "5\n"  # same size: only the mtime tells
    labels.write_text("".join(lines))
    st = labels.stat()
    os.utime(labels, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    _, y, _ = load_uci_har(root, "train")
    assert y[0] == int(lines[0]) - 1
    assert parses == ["train", "train"]
    assert _entries(root / ".bilm-cache") == ["train"]  # the stale entry is gone


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_cache_can_be_turned_off(root, parses, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("BILM_NO_CACHE", "1")
    for _ in range(2):
        load_uci_har(root, "train", cache=how != "argument")
    assert parses == ["train", "train"]
    assert not (root / ".bilm-cache").exists()


def test_a_read_only_folder_caches_in_the_user_cache_dir(root, parses, isolated_data_dir):
    os.chmod(root, stat.S_IMODE(root.stat().st_mode) & ~0o222)
    try:
        load_uci_har(root, "train")
        X, _, _ = load_uci_har(root, "train")
    finally:
        os.chmod(root, 0o755)
    assert parses == ["train"]
    assert not (root / ".bilm-cache").exists()
    [folder] = (isolated_data_dir / "cache").iterdir()
    assert folder.name.startswith("uci-") and _entries(folder) == ["train"]
    assert X.shape == (6, 9, 128)


def test_a_damaged_entry_is_rebuilt(root, parses):
    load_uci_har(root, "train")
    [entry] = (root / ".bilm-cache").glob("train-*")
    (entry / "X.npy").write_bytes(b"garbage")
    X, _, _ = load_uci_har(root, "train")
    np.testing.assert_array_equal(X, bilm_fast.load_uci_har(str(root), "train")[0])
    assert parses == ["train", "train"]


def test_a_source_changed_while_parsed_is_not_cached(root, monkeypatch):
    parse = cache._parse
    labels = root / "train" / "y_train.txt"

    def parse_then_touch(*args):
        arrays = parse(*args)
        os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 1_000_000))
        return arrays

    monkeypatch.setattr(cache, "_parse", parse_then_touch)
    load_uci_har(root, "train")
    assert _entries(root / ".bilm-cache") == []


def test_nowhere_to_write_warns_and_still_loads(root, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("BILM_DATA_DIR", str(tmp_path / "a-file" / "data-dir"))
    os.chmod(root, 0o555)
    try:
        with pytest.warns(UserWarning, match="could not write a UCI HAR cache"):
            X, _, _ = load_uci_har(root, "train")
    finally:
        os.chmod(root, 0o755)
    assert X.shape == (6, 9, 128)


def test_errors_name_the_problem(root):
    with pytest.raises(ValueError, match="split must be one of train, test; got 'val'"):
        load_uci_har(root, "val")
    (root / "test" / "Inertial Signals" / "body_gyro_y_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="body_gyro_y_test.txt: missing from the UCI HAR folder"):
        load_uci_har(root, "test")


def test_real_dataset_cached_load_of_both_splits_is_fast(uci_har_root, isolated_data_dir):
    # The shared copy is read-only, so its entries go to the (temporary) user cache dir.
    first = [load_uci_har(uci_har_root, split) for split in ("train", "test")]
    assert [len(y) for _, y, _ in first] == [7352, 2947]
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        cached = [load_uci_har(uci_har_root, split) for split in ("train", "test")]
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.020, f"cached load of both splits took {min(timings) * 1000:.1f} ms"
    assert np.bincount(cached[0][1]).tolist() == [1226, 1073, 986, 1286, 1374, 1407]
    np.testing.assert_array_equal(cached[1][0], first[1][0])
    assert not (uci_har_root / ".bilm-cache").exists()
