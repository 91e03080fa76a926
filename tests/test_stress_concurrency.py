"""Many callers of bilm_fast.load_uci_har at once: Python threads, forked processes and a
PyTorch DataLoader with fork workers. Results must be right and nothing may deadlock; every
wait has a deadline so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import bilm_fast
from bilm.synth import write_uci_tree

N_TRAIN, N_TEST = 48, 21
DEADLINE_S = 60


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_uci_tree(tmp_path_factory.mktemp("conc") / "UCI HAR Dataset", N_TRAIN, N_TEST, seed=3)


@pytest.fixture(scope="module")
def expected(tree):
    return {
        (split, dtype): bilm_fast.load_uci_har(tree, split, dtype=dtype, num_threads=1)
        for split in ("train", "test")
        for dtype in ("float32", "float64")
    }


def same(got, want) -> bool:
    return all(g.dtype == w.dtype and g.shape == w.shape and np.array_equal(g, w) for g, w in zip(got, want))


def run_threads(targets, deadline_s: float = DEADLINE_S) -> None:
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    stop = time.monotonic() + deadline_s
    for t in threads:
        t.join(timeout=max(0.0, stop - time.monotonic()))
    hung = sum(t.is_alive() for t in threads)
    assert hung == 0, f"{hung} of {len(threads)} threads still inside load_uci_har after {deadline_s}s"


def test_many_python_threads_mixed_arguments(tree, expected):
    """16 threads, each loading 12 times with a mix of splits, dtypes and pool sizes (which
    makes the cached pool be replaced while other calls are still running on it)."""
    failures: list[str] = []
    sizes = [None, 1, 2, 3]

    def worker(i: int):
        try:
            for k in range(12):
                split = ("train", "test")[(i + k) % 2]
                dtype = ("float32", "float64")[(i // 2 + k) % 2]
                got = bilm_fast.load_uci_har(tree, split, dtype=dtype, num_threads=sizes[(i + k) % 4])
                if not same(got, expected[(split, dtype)]):
                    failures.append(f"thread {i} round {k}: wrong arrays for {split}/{dtype}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"thread {i}: {e!r}")

    run_threads([lambda i=i: worker(i) for i in range(16)])
    assert not failures, failures


def test_threads_with_errors_beside_good_loads(tree, expected, tmp_path):
    """Failing calls (bad file, missing file) interleaved with good ones on the same pool:
    each call gets its own outcome."""
    bad = Path(shutil.copytree(tree, tmp_path / "bad"))
    broken = bad / "test" / "Inertial Signals" / "body_acc_x_test.txt"
    broken.write_bytes(broken.read_bytes().replace(b"e-0", b"x-0", 1))
    missing = tmp_path / "missing"
    failures: list[str] = []

    def worker(i: int):
        for _ in range(10):
            try:
                if i % 3 == 0:
                    got = bilm_fast.load_uci_har(tree, "test", num_threads=2)
                    if not same(got, expected[("test", "float32")]):
                        failures.append("wrong arrays")
                elif i % 3 == 1:
                    with pytest.raises(ValueError, match=f"{broken}, line 1: "):
                        bilm_fast.load_uci_har(bad, "test", num_threads=2)
                else:
                    with pytest.raises(FileNotFoundError):
                        bilm_fast.load_uci_har(missing, "test", num_threads=2)
            except BaseException as e:  # noqa: BLE001 -- pytest.raises failures are BaseException
                failures.append(f"thread {i}: {e!r}")

    run_threads([lambda i=i: worker(i) for i in range(9)])
    assert not failures, failures


def wait_child(pid: int, deadline_s: float = DEADLINE_S) -> int | None:
    """Exit code of child `pid`, or None (after killing it) if it is still running at the deadline."""
    stop = time.monotonic() + deadline_s
    while time.monotonic() < stop:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


FORKS = 200


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_other_threads_are_loading(tree, expected):
    """The DataLoader hazard: the parent forks while its other threads are inside
    load_uci_har (the pool busy, or being replaced because they ask for different sizes).
    Every child must still load correctly, with its own pool, and exit.

    Regression test for a deadlock found by this test: a fork that lands while another
    thread holds the pool cache's lock (threads.rs, `POOL`; held while a pool of a new size is
    built) leaves that lock locked forever in the child, whose first load_uci_har then blocks
    in `threads::pool` (seen with gdb: `Mutex::lock_contended` <- `bilm_fast::threads::pool`).
    About 1 fork in 40 hit it on a 2-CPU machine, so 200 forks catch it almost surely.
    """
    stop = threading.Event()
    errors: list[str] = []

    def background(size: int):
        while not stop.is_set():
            try:
                bilm_fast.load_uci_har(tree, "train", num_threads=size)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    threads = [threading.Thread(target=background, args=(s,), daemon=True) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    results = []
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a multi-threaded process may deadlock: that is
            # exactly what is being tested.
            warnings.simplefilter("ignore", DeprecationWarning)
            for k in range(FORKS):
                time.sleep(0.001 * (k % 7))
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        got = bilm_fast.load_uci_har(tree, "test", num_threads=2)
                        code = 0 if same(got, expected[("test", "float32")]) else 3
                    finally:
                        os._exit(code)
                results.append(wait_child(pid, deadline_s=10))
                if results[-1] != 0:
                    break
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=DEADLINE_S)
    assert not errors, errors
    assert results[-1] is not None, f"forked child {len(results)} of {FORKS} hung in load_uci_har (deadlock)"
    assert results == [0] * FORKS, f"child exit codes: {results}"


class UciWindows:
    """A map-style dataset that (re)loads the split lazily in each worker process, as a user
    would when the tree is too big to pickle into every worker."""

    def __init__(self, root: Path, split: str):
        self.root, self.split = root, split
        self.n = len(bilm_fast.load_uci_har(root, split)[1])  # the parent's pool exists now
        self._x = None

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        import torch

        if self._x is None or i % 7 == 0:  # also reload now and then, inside the worker
            self._x, self._y, _ = bilm_fast.load_uci_har(self.root, self.split, num_threads=2)
        return torch.from_numpy(self._x[i].copy()), int(self._y[i]), i


@pytest.mark.skipif(not hasattr(os, "fork"), reason="DataLoader fork workers need os.fork")
def test_dataloader_fork_workers(tree, expected):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    dataset = UciWindows(tree, "train")
    loader = DataLoader(
        dataset,
        batch_size=5,
        shuffle=False,
        num_workers=2,
        multiprocessing_context="fork",
        timeout=DEADLINE_S,  # a hung worker raises instead of stalling the suite
    )
    x_ref, y_ref, _ = expected[("train", "float32")]
    for epoch in range(2):
        seen = []
        for x, y, index in loader:
            seen.extend(index.tolist())
            assert torch.equal(x, torch.from_numpy(x_ref[index.numpy()]))
            assert y.tolist() == y_ref[index.numpy()].tolist()
        assert sorted(seen) == list(range(N_TRAIN)), f"epoch {epoch}"
