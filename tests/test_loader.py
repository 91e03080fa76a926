"""bilm_fast.load_uci_har on generated trees in the exact UCI format: values, layout, errors, threads."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bilm_fast
from bilm.data import UCI_HAR_SIGNALS, signal_path
from bilm.synth import write_uci_tree

N_TRAIN, N_TEST = 40, 17


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_uci_tree(tmp_path_factory.mktemp("uci") / "UCI HAR Dataset", N_TRAIN, N_TEST, seed=5)


@pytest.fixture
def broken(tree, tmp_path) -> Path:
    """A private copy of the tree for a test to damage."""
    return Path(shutil.copytree(tree, tmp_path / "UCI HAR Dataset"))


def loadtxt_reference(root: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.stack([np.loadtxt(signal_path(root, split, c)) for c in UCI_HAR_SIGNALS], axis=1)
    y = np.loadtxt(root / split / f"y_{split}.txt").astype(np.int64) - 1
    subject = np.loadtxt(root / split / f"subject_{split}.txt").astype(np.int64)
    return x, y, subject


@pytest.mark.parametrize("split, n", [("train", N_TRAIN), ("test", N_TEST)])
def test_bit_identical_to_loadtxt(tree, split, n):
    x64, y_ref, subject_ref = loadtxt_reference(tree, split)
    x, y, subject = bilm_fast.load_uci_har(tree, split)
    assert x.shape == (n, 9, 128) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_array_equal(x.view(np.uint32), x64.astype(np.float32).view(np.uint32))
    assert y.dtype == np.int64 and subject.dtype == np.int64
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(subject, subject_ref)
    assert y.min() >= 0 and y.max() <= 5

    x, _, _ = bilm_fast.load_uci_har(str(tree), split, dtype="float64")
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x.view(np.uint64), x64.view(np.uint64))


def test_channel_order_follows_the_file_names(tree):
    x, _, _ = bilm_fast.load_uci_har(tree, "test")
    for i, channel in enumerate(UCI_HAR_SIGNALS):
        np.testing.assert_array_equal(x[:, i, :], np.loadtxt(signal_path(tree, "test", channel)).astype(np.float32))


def test_default_split_dtype_and_numpy_dtype_objects(tree):
    x, y, _ = bilm_fast.load_uci_har(tree)
    assert x.shape[0] == N_TRAIN == len(y) and x.dtype == np.float32
    assert bilm_fast.load_uci_har(tree, "test", dtype=np.float64)[0].dtype == np.float64
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int32"):
        bilm_fast.load_uci_har(tree, "test", dtype="int32")


def test_does_not_need_the_561_features_and_accepts_lf(broken):
    assert not list(broken.rglob("X_*.txt"))
    path = signal_path(broken, "test", "body_gyro_y")
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n"))  # LF, no final newline
    x, _, _ = bilm_fast.load_uci_har(broken, "test")
    np.testing.assert_array_equal(x[:, 4, :], np.loadtxt(path).astype(np.float32))


def test_unknown_split_lists_the_valid_ones(tree):
    with pytest.raises(ValueError, match=r'unknown split "validation"; valid splits are: train, test'):
        bilm_fast.load_uci_har(tree, "validation")


def test_missing_file_names_the_path(broken):
    path = signal_path(broken, "test", "total_acc_y")
    path.unlink()
    with pytest.raises(FileNotFoundError) as info:
        bilm_fast.load_uci_har(broken, "test")
    assert info.value.filename == str(path) and str(path) in str(info.value)


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope" / "train" / "y_train.txt"))):
        bilm_fast.load_uci_har(tmp_path / "nope")


def replace_line(path: Path, line: int, edit) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = edit(lines[line - 1])
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda row: row[:16 * 5] + b"             abc" + row[16 * 6:], '"abc" is not a number'),
        (lambda row: row[:16 * 5] + b"  1.0000000e-0x4" + row[16 * 6:], '"1.0000000e-0x4" is not a number'),
        (lambda row: row[:-17] + b"\r", "expected 128 values, found 127"),
        (lambda row: row[:-1] + b"  1.0\r", "expected 128 values, found 129"),
        (lambda row: row[:16 * 43], "expected 128 values, found 43"),  # a row cut short
        (lambda row: row[:20] + b"\xff\xfe" + row[22:], "byte 0xFF is not text"),
        (lambda row: row[:20] + b"\x00" + row[21:], "byte 0x00 is not text"),
    ],
)
def test_malformed_signal_names_file_line_and_token(broken, edit, message):
    path = signal_path(broken, "test", "body_acc_z")
    replace_line(path, 3, edit)
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: {message}")):
        bilm_fast.load_uci_har(broken, "test")


def test_truncated_last_row(broken):
    path = signal_path(broken, "test", "body_gyro_x")
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(ValueError, match=re.escape(f"{path}, line {N_TEST}: expected 128 values, found 66")):
        bilm_fast.load_uci_har(broken, "test")


def test_empty_file(broken):
    path = signal_path(broken, "test", "total_acc_x")
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 1: no numbers")):
        bilm_fast.load_uci_har(broken, "test")


def test_channel_with_fewer_rows_names_files_and_counts(broken):
    path = signal_path(broken, "test", "total_acc_z")
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-2]))
    labels = broken / "test" / "y_test.txt"
    with pytest.raises(ValueError, match=re.escape(f"{path} has {N_TEST - 2} rows but {labels} has {N_TEST}")):
        bilm_fast.load_uci_har(broken, "test")


def test_subjects_not_matching_labels(broken):
    subjects = broken / "test" / "subject_test.txt"
    subjects.write_bytes(subjects.read_bytes() + b"3\n")
    labels = broken / "test" / "y_test.txt"
    with pytest.raises(ValueError, match=re.escape(f"{labels} has {N_TEST} rows but {subjects} has {N_TEST + 1}")):
        bilm_fast.load_uci_har(broken, "test")


@pytest.mark.parametrize("label", [b"0", b"7", b"2.5", b"-1", b"nan"])
def test_label_outside_1_to_6(broken, label):
    labels = broken / "test" / "y_test.txt"
    replace_line(labels, 4, lambda _: label)
    shown = {b"nan": "NaN", b"-1": "-1"}.get(label, label.decode())
    with pytest.raises(ValueError, match=re.escape(f"{labels}, line 4: label {shown} is not a whole number in 1..6")):
        bilm_fast.load_uci_har(broken, "test")


def test_subject_not_a_whole_number(broken):
    subjects = broken / "test" / "subject_test.txt"
    replace_line(subjects, 2, lambda _: b"1.5")
    with pytest.raises(ValueError, match=re.escape(f"{subjects}, line 2: subject 1.5 is not a whole number")):
        bilm_fast.load_uci_har(broken, "test")


def test_labels_with_two_columns(broken):
    labels = broken / "test" / "y_test.txt"
    replace_line(labels, 1, lambda row: row + b" 2")
    with pytest.raises(ValueError, match=re.escape(f"{labels}, line 1: expected 1 value, found 2")):
        bilm_fast.load_uci_har(broken, "test")


def test_thread_counts_agree(tree, monkeypatch):
    reference = bilm_fast.load_uci_har(tree, "train")
    for kwargs in ({"num_threads": 1}, {"num_threads": 3}):
        for got, want in zip(bilm_fast.load_uci_har(tree, "train", **kwargs), reference):
            np.testing.assert_array_equal(got, want)
    monkeypatch.setenv("BILM_NUM_THREADS", "1")
    np.testing.assert_array_equal(bilm_fast.load_uci_har(tree, "train")[0], reference[0])


@pytest.mark.parametrize("value", [0, -1])
def test_bad_num_threads(tree, value):
    with pytest.raises(ValueError, match=f"num_threads must be at least 1, got {value}"):
        bilm_fast.load_uci_har(tree, "test", num_threads=value)


def test_bad_thread_environment_variable(tree, monkeypatch):
    monkeypatch.setenv("BILM_NUM_THREADS", "many")
    with pytest.raises(ValueError, match='BILM_NUM_THREADS must be a positive integer, got "many"'):
        bilm_fast.load_uci_har(tree, "test")


def test_concurrent_calls_from_python_threads(tree):
    reference = bilm_fast.load_uci_har(tree, "train")[0]
    results = [None] * 4

    def work(i):
        results[i] = bilm_fast.load_uci_har(tree, "train", num_threads=2)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        np.testing.assert_array_equal(result, reference)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_loads_without_hanging(tree):
    expected = bilm_fast.load_uci_har(tree, "test", num_threads=2)[0]  # the parent's pool exists now
    pid = os.fork()
    if pid == 0:  # child: like a DataLoader worker
        code = 1
        try:
            x = bilm_fast.load_uci_har(tree, "test", num_threads=2)[0]
            code = 0 if np.array_equal(x, expected) else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in load_uci_har")
