"""bilm_fast on files that misbehave: changed, truncated or deleted while being read, paths that
are folders, symlink loops, FIFOs, folders and files without read permission.

Every case must end in the right result or a clear Python exception that names the path --
never a crash, a hang or a silently wrong array.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import bilm_fast
from bilm.data import UCI_HAR_SIGNALS, signal_path
from bilm.synth import write_uci_tree
from uci_text import uci_field

N = 12  # windows per split: small files, so a rewrite is quick and reads race with it


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_uci_tree(tmp_path_factory.mktemp("stress") / "UCI HAR Dataset", N, N, seed=11)


@pytest.fixture
def copy(tree, tmp_path) -> Path:
    return Path(shutil.copytree(tree, tmp_path / "UCI HAR Dataset"))


def hammer(work, seconds: float) -> threading.Thread:
    """Run `work()` in a loop on a daemon thread for `seconds`."""
    stop = time.monotonic() + seconds

    def loop():
        while time.monotonic() < stop:
            work()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def read_until(thread: threading.Thread, read) -> list:
    """Call `read()` until `thread` ends; collect what each call returned or raised."""
    outcomes = []
    while thread.is_alive() or not outcomes:
        try:
            outcomes.append(read())
        except Exception as e:  # noqa: BLE001 -- classified by the caller
            outcomes.append(e)
    thread.join(timeout=30)
    assert not thread.is_alive()
    return outcomes


# --- files that change or vanish while being read -------------------------------------------


def test_signal_file_rewritten_while_loading(copy):
    """A writer flips one channel between two versions with truncate-and-write (not atomic),
    in two halves that end on a row. A load sees a half-written file (a ValueError naming it)
    or rows from A or from B: a reader that needs more than one read can meet the file half
    old and half new, as np.loadtxt can; only an atomic rename rules that out. Where one read
    ends and the next begins need not be where the writer's halves meet (std's read_to_end
    follows a read of the size it was told with a 32-byte probe), so the one row a read
    boundary falls in may be a mix of both; the other channels never change."""
    path = signal_path(copy, "test", "body_gyro_z")
    version_a = path.read_bytes()
    version_b = signal_path(copy, "test", "total_acc_x").read_bytes()  # same shape, other values
    x_a = bilm_fast.load_uci_har(copy, "test")[0]
    path.write_bytes(version_b)
    x_b = bilm_fast.load_uci_har(copy, "test")[0]
    flip = iter(range(10**9))

    def rewrite():
        with open(path, "wb") as f:
            data = version_a if next(flip) % 2 else version_b
            f.write(data[: len(data) // 2])
            f.flush()
            f.write(data[len(data) // 2 :])

    outcomes = read_until(hammer(rewrite, 1.5), lambda: bilm_fast.load_uci_har(copy, "test", num_threads=2)[0])
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            assert isinstance(outcome, ValueError), repr(outcome)
            assert str(path) in str(outcome), str(outcome)
        else:
            rows_a = (outcome == x_a).all(axis=(1, 2))
            rows_b = (outcome == x_b).all(axis=(1, 2))
            assert (~(rows_a | rows_b)).sum() <= 1
            untouched = [c for c, name in enumerate(UCI_HAR_SIGNALS) if name != "body_gyro_z"]
            assert np.array_equal(outcome[:, untouched], x_a[:, untouched])
    assert any(not isinstance(o, Exception) for o in outcomes)


def test_big_matrix_truncated_and_regrown_while_reading(tmp_path):
    """Reading a 6 MB file in UCI's fixed layout (which bilm_fast may read in pieces) races a
    writer that truncates it to a random length and writes it back. Whatever moment a read
    sees, the result is what np.loadtxt gives for some prefix of the file -- down to a first
    row cut short, or a last number cut inside its digits -- or a ValueError at a line of the
    file: never values that were not in the file."""
    fields = [uci_field(v) for v in np.linspace(-1, 1, 128)]
    row = "".join(fields).encode() + b"\r\n"
    rows = 3000
    content = row * rows
    path = tmp_path / "big.txt"
    path.write_bytes(content)
    full = bilm_fast.read_matrix(path, dtype="float64")
    rng = np.random.default_rng(0)

    def truncate_and_regrow():
        with open(path, "r+b") as f:
            f.truncate(int(rng.integers(0, len(content))))
            f.seek(0)
            f.write(content)

    outcomes = read_until(hammer(truncate_and_regrow, 1.5), lambda: bilm_fast.read_matrix(path, dtype="float64"))
    for outcome in outcomes:
        if isinstance(outcome, ValueError):
            message = str(outcome)
            assert message.startswith(f"{path}, line "), message
            assert int(message.split(", line ")[1].split(":")[0]) <= rows
        else:
            assert not isinstance(outcome, Exception), repr(outcome)
            assert_prefix_of(outcome, full, fields)


def assert_prefix_of(outcome: np.ndarray, full: np.ndarray, fields: list[str]) -> None:
    """`outcome` parses a prefix of the file whose rows are `fields`: whole rows, then a last
    row of its first c fields, the last of which may be cut (a shorter number)."""
    r, c = outcome.shape
    assert 1 <= r <= full.shape[0] and 1 <= c <= full.shape[1], outcome.shape
    assert r == 1 or c == full.shape[1], outcome.shape  # only a lone row can be cut short
    np.testing.assert_array_equal(outcome[: r - 1], full[: r - 1, :c])
    np.testing.assert_array_equal(outcome[r - 1, : c - 1], full[r - 1, : c - 1])
    last = fields[c - 1]
    assert outcome[r - 1, c - 1] in set(prefix_values(last)), (outcome[r - 1, c - 1], last)


def prefix_values(text: str):
    """The numbers that the prefixes of `text` spell (Python's float syntax, as np.loadtxt)."""
    for end in range(1, len(text) + 1):
        try:
            yield float(text[:end])
        except ValueError:
            continue


def test_file_deleted_and_recreated_while_loading(copy):
    """A writer deletes a channel and puts it back (atomically, via rename): each load gives
    the right arrays or FileNotFoundError with that file's name."""
    path = signal_path(copy, "test", "body_acc_y")
    content = path.read_bytes()
    expected = bilm_fast.load_uci_har(copy, "test")
    spare = path.with_suffix(".tmp")

    def vanish_and_return():
        path.unlink()
        spare.write_bytes(content)
        os.replace(spare, path)

    outcomes = read_until(hammer(vanish_and_return, 1.0), lambda: bilm_fast.load_uci_har(copy, "test"))
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            assert isinstance(outcome, FileNotFoundError), repr(outcome)
            assert outcome.filename == str(path)
        else:
            for got, want in zip(outcome, expected):
                np.testing.assert_array_equal(got, want)


def test_whole_split_folder_renamed_away_while_loading(copy):
    folder = copy / "test"
    moved = copy / "test-moved"
    expected = bilm_fast.load_uci_har(copy, "test")[0]

    def move_back_and_forth():
        os.rename(folder, moved)
        os.rename(moved, folder)

    outcomes = read_until(hammer(move_back_and_forth, 1.0), lambda: bilm_fast.load_uci_har(copy, "test")[0])
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            assert isinstance(outcome, FileNotFoundError), repr(outcome)
            assert outcome.filename.startswith(str(folder) + os.sep)
        else:
            np.testing.assert_array_equal(outcome, expected)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_written_slowly_is_read_to_the_end(tmp_path):
    """A FIFO delivers the file in pieces with pauses (like a slow network share): the reader
    keeps reading until the writer closes, then parses everything."""
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)
    pieces = [b"1.0 2.0\n3.0 ", b"4.0\n", b"5.0 6", b".0\n"]

    def writer():
        with open(path, "wb", buffering=0) as f:
            for piece in pieces:
                f.write(piece)
                time.sleep(0.05)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    got = bilm_fast.read_matrix(path, dtype="float64")
    thread.join(timeout=10)
    np.testing.assert_array_equal(got, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_writer_dies_mid_row(tmp_path):
    path = tmp_path / "pipe.txt"
    os.mkfifo(path)

    def writer():
        with open(path, "wb", buffering=0) as f:
            f.write(b"1.0 2.0\n3.0")  # then the writer goes away

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    with pytest.raises(ValueError, match=f"{path}, line 2: expected 2 values, found 1"):
        bilm_fast.read_matrix(path)
    thread.join(timeout=10)


# --- paths that are not regular files ---------------------------------------------------------


def test_path_is_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        bilm_fast.read_matrix(tmp_path)
    assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path)


def test_split_file_is_a_folder(copy):
    labels = copy / "test" / "y_test.txt"
    labels.unlink()
    labels.mkdir()
    with pytest.raises(IsADirectoryError) as info:
        bilm_fast.load_uci_har(copy, "test")
    assert info.value.filename == str(labels)


def test_root_is_a_file(tmp_path):
    root = tmp_path / "not-a-folder"
    root.write_text("1\n")
    with pytest.raises(NotADirectoryError) as info:
        bilm_fast.load_uci_har(root, "train")
    assert info.value.filename == str(root / "train" / "y_train.txt")


def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(OSError) as info:
        bilm_fast.read_matrix(a)
    assert info.value.errno == errno.ELOOP and info.value.filename == str(a)


def test_symlink_loop_in_the_tree(copy):
    signals = copy / "test" / "Inertial Signals"
    shutil.rmtree(signals)
    signals.symlink_to(signals)  # points at itself
    with pytest.raises(OSError) as info:
        bilm_fast.load_uci_har(copy, "test")
    assert info.value.errno == errno.ELOOP
    assert info.value.filename == str(signal_path(copy, "test", UCI_HAR_SIGNALS[0]))


def test_dangling_symlink(tmp_path):
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "never-there.txt")
    with pytest.raises(FileNotFoundError) as info:
        bilm_fast.read_matrix(link)
    assert info.value.filename == str(link)


# --- permissions ------------------------------------------------------------------------------
#
# root ignores mode bits, and these tests usually run as root (CI containers). So when running
# as root, the load runs in a forked child that first drops to an unprivileged uid (setuid
# drops root's capabilities, so the mode bits apply). bilm_fast is already imported, so the
# child needs no file access besides the tree, which lies in a folder everyone may traverse.

UNPRIVILEGED = 65534  # "nobody"


def run_as_unprivileged(work) -> tuple[str, int | None, str | None]:
    """`work()` in a forked child as `nobody` when we are root (else in-process).
    Returns (exception class name or "ok", errno, filename)."""
    if os.geteuid() != 0:
        try:
            work()
        except OSError as e:
            return type(e).__name__, e.errno, e.filename
        return "ok", None, None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(UNPRIVILEGED)
            os.setuid(UNPRIVILEGED)
            try:
                work()
                report = "ok\0\0"
            except OSError as e:
                report = f"{type(e).__name__}\0{e.errno}\0{e.filename}"
            os.write(write_end, report.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the unprivileged child hung")
        time.sleep(0.02)
    with os.fdopen(read_end, "rb") as f:
        report = f.read().decode()
    if os.waitstatus_to_exitcode(status) != 0 or not report:
        pytest.skip("cannot drop to an unprivileged user here (setuid refused)")
    name, number, filename = report.split("\0")
    return name, int(number) if number else None, filename or None


@pytest.fixture
def open_tree(tree):
    """A copy of the tree in a folder that an unprivileged user may enter."""
    scratch = Path(tempfile.mkdtemp(prefix="bilm-perm-"))
    scratch.chmod(0o755)
    root = Path(shutil.copytree(tree, scratch / "UCI HAR Dataset"))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield root
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(scratch)


def test_unprivileged_user_can_load_the_open_tree(open_tree):
    assert run_as_unprivileged(lambda: bilm_fast.load_uci_har(open_tree, "test")) == ("ok", None, None)


def test_folder_without_read_and_search_permission(open_tree):
    signals = open_tree / "test" / "Inertial Signals"
    signals.chmod(0o000)
    name, number, filename = run_as_unprivileged(lambda: bilm_fast.load_uci_har(open_tree, "test"))
    assert (name, number) == ("PermissionError", errno.EACCES)
    assert filename == str(signal_path(open_tree, "test", UCI_HAR_SIGNALS[0]))


def test_folder_readable_but_not_searchable(open_tree):
    """r without x: the names can be listed, but no file inside can be opened."""
    signals = open_tree / "test" / "Inertial Signals"
    signals.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    name, number, filename = run_as_unprivileged(lambda: bilm_fast.load_uci_har(open_tree, "test"))
    assert (name, number) == ("PermissionError", errno.EACCES)
    assert filename == str(signal_path(open_tree, "test", UCI_HAR_SIGNALS[0]))


def test_file_without_read_permission(open_tree):
    path = signal_path(open_tree, "test", "total_acc_z")
    path.chmod(0o000)
    name, number, filename = run_as_unprivileged(lambda: bilm_fast.load_uci_har(open_tree, "test"))
    assert (name, number, filename) == ("PermissionError", errno.EACCES, str(path))
    name, number, filename = run_as_unprivileged(lambda: bilm_fast.read_matrix(path))
    assert (name, number, filename) == ("PermissionError", errno.EACCES, str(path))
