"""bilm's binary cache: bilm.data.load_uci_har and the generic `cached` behind it."""

from __future__ import annotations

import json
import os
import shutil
import time
import warnings

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


def _entries(data_dir):
    """The entry names in bilm's cache, per dataset folder: {folder: [kind, ...]}."""
    base = data_dir / "cache"
    if not base.exists():
        return {}
    return {folder.name: sorted(e.name.rsplit("-", 1)[0] for e in folder.iterdir()) for folder in base.iterdir()}


def _tree(folder):
    """Every path under a folder with its type, size and modification time."""
    return {p.relative_to(folder).as_posix(): (p.lstat().st_mode, p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in [folder, *folder.rglob("*")]}


def _mapped(array):
    return isinstance(array.base, np.memmap)


def _touch(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_second_load_comes_from_the_cache(root, parses, isolated_data_dir):
    expected = bilm_fast.load_uci_har(str(root), "train")
    first = load_uci_har(root, "train")
    second = load_uci_har(root, "train")
    assert parses == ["train"]
    [(folder, kinds)] = _entries(isolated_data_dir).items()
    assert folder.startswith("uci-") and kinds == ["uci-har-train"]
    assert not any(_mapped(a) for a in first) and all(_mapped(a) for a in second)
    for want, got in zip(expected, second):
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype and got.flags.c_contiguous


def test_cached_arrays_are_writable_without_touching_the_cache(root):
    load_uci_har(root, "test")
    X, y, _ = load_uci_har(root, "test")
    X[:] = 0  # copy-on-write: the file under the map keeps its values
    y += 1
    again = load_uci_har(root, "test")
    np.testing.assert_array_equal(again[0], bilm_fast.load_uci_har(str(root), "test")[0])
    assert again[1].max() <= 5


def test_a_changed_source_file_invalidates_the_entry(root, parses, isolated_data_dir):
    load_uci_har(root, "train")
    labels = root / "train" / "y_train.txt"
    lines = labels.read_text().splitlines(keepends=True)
    lines[0] = "6\n" if lines[0] != "6\n" else "5\n"  # same size: only the mtime tells
    labels.write_text("".join(lines))
    _touch(labels)
    _, y, _ = load_uci_har(root, "train")
    assert y[0] == int(lines[0]) - 1
    assert parses == ["train", "train"]
    assert list(_entries(isolated_data_dir).values()) == [["uci-har-train"]]  # the stale entry is gone


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_the_cache_can_be_turned_off(root, parses, monkeypatch, isolated_data_dir, how):
    if how == "environment":
        monkeypatch.setenv("BILM_NO_CACHE", "1")
    for _ in range(2):
        load_uci_har(root, "train", cache=how != "argument")
    assert parses == ["train", "train"]
    assert _entries(isolated_data_dir) == {}


def test_nothing_is_written_into_a_writable_source_folder(root, parses, isolated_data_dir):
    before = _tree(root)
    for _ in range(2):
        for split in ("train", "test"):
            load_uci_har(root, split)
    assert parses == ["train", "test"]
    assert _tree(root) == before
    assert list(_entries(isolated_data_dir).values()) == [["uci-har-test", "uci-har-train"]]


def test_a_read_only_source_folder_works_the_same(root, parses, isolated_data_dir):
    # Tests often run as root, which writes through the mode bits: so rather than expect an
    # error, this checks that the tree is unchanged and the load behaves as for any folder.
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    try:
        before = _tree(root)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            load_uci_har(root, "train")
            X, _, _ = load_uci_har(root, "train")
        after = _tree(root)
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert after == before
    assert parses == ["train"] and _mapped(X) and X.shape == (6, 9, 128)
    assert list(_entries(isolated_data_dir).values()) == [["uci-har-train"]]


def test_a_legacy_cache_in_the_source_folder_is_ignored(root, parses, isolated_data_dir):
    load_uci_har(root, "train")
    [entry] = cache.folder_cache_dir(root).iterdir()
    # What an earlier version left: an entry under the very name now in use and one named as
    # it named them, both holding wrong arrays.
    legacy = root / ".bilm-cache"
    for name in (entry.name, "train-0123456789abcdef0123"):
        shutil.copytree(entry, legacy / name)
        np.save(legacy / name / "X.npy", np.zeros((6, 9, 128), np.float32))
    cache.clear_cache()
    before = _tree(root)
    X, _, _ = load_uci_har(root, "train")
    assert parses == ["train", "train"]
    np.testing.assert_array_equal(X, bilm_fast.load_uci_har(str(root), "train")[0])
    assert _tree(root) == before
    assert cache.legacy_cache_folder(root) == legacy


def test_a_damaged_entry_is_rebuilt(root, parses):
    load_uci_har(root, "train")
    [entry] = cache.folder_cache_dir(root).glob("uci-har-train-*")
    (entry / "X.npy").write_bytes(b"garbage")
    X, _, _ = load_uci_har(root, "train")
    np.testing.assert_array_equal(X, bilm_fast.load_uci_har(str(root), "train")[0])
    assert _mapped(load_uci_har(root, "train")[0])  # the rebuilt entry is used again
    assert parses == ["train", "train"]


def test_a_source_changed_while_parsed_is_not_cached(root, monkeypatch, isolated_data_dir):
    parse = cache._parse

    def parse_then_touch(*args):
        arrays = parse(*args)
        _touch(root / "train" / "y_train.txt")
        return arrays

    monkeypatch.setattr(cache, "_parse", parse_then_touch)
    load_uci_har(root, "train")
    assert cache.uci_har_entry(root, "train") is None
    assert cache.cache_entries() == []


def test_nowhere_to_write_warns_and_still_loads(root, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("BILM_DATA_DIR", str(tmp_path / "a-file" / "data-dir"))
    before = _tree(root)
    with pytest.warns(UserWarning, match="could not write a uci-har-train cache for .* every load will parse"):
        X, _, _ = load_uci_har(root, "train")
    assert X.shape == (6, 9, 128)
    assert _tree(root) == before


def test_errors_name_the_problem(root):
    with pytest.raises(ValueError, match="split must be one of train, test; got 'val'"):
        load_uci_har(root, "val")
    (root / "test" / "Inertial Signals" / "body_gyro_y_test.txt").unlink()
    with pytest.raises(FileNotFoundError, match="body_gyro_y_test.txt: missing from the UCI HAR folder"):
        load_uci_har(root, "test")


def test_entries_are_keyed_by_the_resolved_folder(root, tmp_path, parses):
    (tmp_path / "link").symlink_to(root)
    copy = shutil.copytree(root, tmp_path / "elsewhere" / "uci")
    load_uci_har(root, "train")
    load_uci_har(tmp_path / "link", "train")  # the same folder: the same entry
    assert parses == ["train"]
    load_uci_har(copy, "train")  # the same name and files, another folder: its own entry
    assert parses == ["train", "train"]
    assert cache.folder_cache_dir(copy) != cache.folder_cache_dir(root)
    assert {e.source for e in cache.cache_entries()} == {str(root.resolve()), str(copy.resolve())}


def test_an_entry_of_an_earlier_format_is_removed_when_a_new_one_is_written(root, parses):
    old = cache.folder_cache_dir(root) / "train-0123456789abcdef0123"
    old.mkdir(parents=True)
    (old / "manifest.json").write_text(json.dumps({"format": 1, "split": "train"}))
    np.save(old / "X.npy", np.zeros(3))
    load_uci_har(root, "train")
    assert not old.exists()
    assert [e.kind for e in cache.cache_entries()] == ["uci-har-train"]


def test_clear_cache_empties_the_cache_and_the_next_load_parses(isolated_data_dir, parses):
    # The downloaded copy lives in the data folder too, beside the cache: it must survive.
    root = write_uci_tree(isolated_data_dir / "UCI HAR Dataset", 6, 3, seed=1)
    for split in ("train", "test"):
        load_uci_har(root, split)
    stranger = isolated_data_dir / "cache" / "not-bilms"
    stranger.write_text("kept")
    dataset = _tree(root)
    entries = cache.cache_entries()
    assert sorted(e.kind for e in entries) == ["uci-har-test", "uci-har-train"]
    assert all(e.size > 0 and e.source == str(root.resolve()) for e in entries)
    assert cache.clear_cache() == entries
    assert cache.cache_entries() == [] and cache.clear_cache() == []
    assert _tree(root) == dataset and stranger.read_text() == "kept"
    X, _, _ = load_uci_har(root, "train")
    assert parses == ["train", "test", "train"] and not _mapped(X)


# --- the generic helper, for a dataset that is not UCI HAR -----------------------------------


@pytest.fixture
def recordings(tmp_path):
    folder = tmp_path / "phones"
    (folder / "sub").mkdir(parents=True)
    for i, name in enumerate(("a.csv", "sub/b.csv")):
        (folder / name).write_text("\n".join(f"{i},{j},{j * j}" for j in range(20)) + "\n")
    return folder


def _loader(folder, calls):
    """A loader as another dataset's would be: reads its CSVs, windows them by `size`."""
    sources = [folder / "a.csv", folder / "sub" / "b.csv"]

    def load(size=4):
        def build():
            calls.append(size)
            rows = np.concatenate([np.loadtxt(p, delimiter=",") for p in sources])
            return {"X": rows[: len(rows) // size * size].reshape(-1, size, 3).astype(np.float32),
                    "subject": rows[::size, 0].astype(np.int64)}

        return cache.cached("phones", folder, sources, build, key={"size": size})

    return load


def test_cached_builds_once_then_maps_the_entry(recordings):
    calls = []
    load = _loader(recordings, calls)
    first, second = load(), load()
    assert calls == [4]
    assert list(second) == ["X", "subject"] and all(_mapped(a) for a in second.values())
    for name in first:
        np.testing.assert_array_equal(second[name], first[name])
        assert second[name].dtype == first[name].dtype
    [entry] = cache.cache_entries()
    assert entry.kind == "phones" and entry.source == str(recordings.resolve())
    assert entry.path == cache.entry_path("phones", recordings, [recordings / "a.csv", recordings / "sub" / "b.csv"],
                                          key={"size": 4})


def test_cached_a_changed_source_invalidates_and_the_key_separates(recordings):
    calls = []
    load = _loader(recordings, calls)
    for size in (4, 5, 4, 5):
        load(size)
    assert calls == [4, 5]  # each option its own entry, and both stay
    assert len(cache.cache_entries()) == 2
    b = recordings / "sub" / "b.csv"
    b.write_text(b.read_text().replace("1,0,0\n", "9,0,0\n", 1))  # row 20: window 5, step 0
    _touch(b)
    assert load()["X"][5, 0, 0] == 9.0 and load()["X"][5, 0, 0] == 9.0
    assert calls == [4, 5, 4]
    assert len(cache.cache_entries()) == 2  # the stale size-4 entry was replaced, size 5 kept


def test_cached_honours_bilm_no_cache_and_checks_its_arguments(recordings, monkeypatch):
    calls = []
    load = _loader(recordings, calls)
    monkeypatch.setenv("BILM_NO_CACHE", "1")
    load(), load()
    assert calls == [4, 4] and cache.cache_entries() == []
    monkeypatch.delenv("BILM_NO_CACHE")
    with pytest.raises(ValueError, match="a cache kind is"):
        cache.cached("../up", recordings, [], dict)
    with pytest.raises(FileNotFoundError, match="missing.csv: missing from"):
        cache.cached("phones", recordings, [recordings / "missing.csv"], dict)
    with pytest.raises(ValueError, match="a cached array's name"):
        cache.cached("phones", recordings, [], lambda: {"../X": np.zeros(2)})


def test_real_dataset_cached_load_of_both_splits_is_fast(uci_har_root, isolated_data_dir):
    # Whether the dataset folder is writable or not, and whether it holds a .bilm-cache left
    # by an earlier version, the cache goes to the (temporary) data dir and the folder stays as is.
    before = _tree(uci_har_root)
    first = [load_uci_har(uci_har_root, split) for split in ("train", "test")]
    assert [len(y) for _, y, _ in first] == [7352, 2947]
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        cached = [load_uci_har(uci_har_root, split) for split in ("train", "test")]
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.020, f"cached load of both splits took {min(timings) * 1000:.1f} ms"
    assert all(_mapped(X) for X, _, _ in cached)
    assert np.bincount(cached[0][1]).tolist() == [1226, 1073, 986, 1286, 1374, 1407]
    np.testing.assert_array_equal(cached[1][0], first[1][0])
    assert sorted(e.kind for e in cache.cache_entries()) == ["uci-har-test", "uci-har-train"]
    assert _tree(uci_har_root) == before
