"""python -m bilm.bench loader: reading UCI HAR's Inertial Signals, side by side.

Every method loads both splits into the same arrays -- X float32 (N, 9, 128), y int64 labels
0..5, subject int64 -- and the benchmark checks that they all agree bit for bit. Times are
medians over ``--repeats`` rounds; each round runs every method once, in turn, so background
load hits all methods alike. Peak memory is measured per method in a fresh interpreter: the
peak resident memory during one load of both splits minus the resident memory just before
it, with the same modules imported for every method. The files are read once beforehand, so all methods find them in the page cache.

The cached row is `bilm.data.load_uci_har` after one warm-up load has written its cache
(into a scratch `$BILM_DATA_DIR`, so the user's cache is untouched). Its
arrays are memory-mapped, so its peak memory counts only the pages the load itself touches.

To add a row, add a `Method` to `methods()`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bilm.bench.common import machine, peak_rss_kib, real_uci_har, reset_peak_rss_kib, usable_cpus
from bilm.data import UCI_HAR_SIGNALS, signal_path

SPLITS = ("train", "test")
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Method:
    name: str
    load: Callable[[Path, str], Arrays]  # (root, split) -> (X, y, subject)
    warm_up: bool = False  # load once before timing (to build a cache)


def methods() -> list[Method]:
    """The rows of the table, slowest first by expectation. The last one is the reference."""
    import bilm_fast

    threads = usable_cpus()
    return [
        Method("np.loadtxt", lambda root, split: _per_file(root, split, _loadtxt)),
        Method('pandas.read_csv(sep=r"\\s+")', lambda root, split: _per_file(root, split, _read_csv)),
        Method("bilm_fast, 1 thread", lambda root, split: bilm_fast.load_uci_har(root, split, num_threads=1)),
        Method(
            f"bilm_fast, {threads} threads",
            lambda root, split: bilm_fast.load_uci_har(root, split, num_threads=threads),
        ),
        Method("bilm.data.load_uci_har, cached", _cached, warm_up=True),
    ]


def _cached(root: Path, split: str) -> Arrays:
    from bilm.data import load_uci_har

    return load_uci_har(root, split)


def _loadtxt(path: Path) -> np.ndarray:
    return np.loadtxt(path)


def _read_csv(path: Path) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path, sep=r"\s+", header=None).to_numpy()


def _per_file(root: Path, split: str, read: Callable[[Path], np.ndarray]) -> Arrays:
    """The usual notebook code: read each text file, cast to float32, stack the channels."""
    folder = root / split
    x = np.stack([read(signal_path(root, split, c)).astype(np.float32) for c in UCI_HAR_SIGNALS], axis=1)
    y = read(folder / f"y_{split}.txt").astype(np.int64).reshape(-1) - 1
    subject = read(folder / f"subject_{split}.txt").astype(np.int64).reshape(-1)
    return x, y, subject


def _load_both(method: Method, root: Path) -> list[Arrays]:
    return [method.load(root, split) for split in SPLITS]


def _peak_memory_mb(name: str, root: Path) -> float:
    """Extra peak resident memory of one load of both splits, in a fresh interpreter."""
    child = subprocess.run(
        [sys.executable, "-m", "bilm.bench.loader", "--memory-of", name, "--root", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    usage = json.loads(child.stdout)
    return (usage["peak_kib"] - usage["baseline_kib"]) / 1024


def _memory_child(name: str, root: Path) -> None:
    # Import everything any method uses, so the baseline is the same for all of them.
    import pandas  # noqa: F401

    method = next(m for m in methods() if m.name == name)
    baseline = reset_peak_rss_kib()
    arrays = _load_both(method, root)
    peak = peak_rss_kib()
    del arrays
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak}))


def _same(a: list[Arrays], b: list[Arrays]) -> bool:
    return all(
        x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
        for split_a, split_b in zip(a, b)
        for x, y in zip(split_a, split_b)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench loader", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="folder holding train/ and test/ (default: the real copy if found)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_of:
        _memory_child(args.memory_of, args.root)
        return 0

    root = args.root or real_uci_har()  # before BILM_DATA_DIR moves: it may be the downloaded copy
    with tempfile.TemporaryDirectory(prefix="bilm-bench-") as scratch:
        # The cache goes here, not into the user's cache directory.
        os.environ["BILM_DATA_DIR"] = scratch
        source = f"`{root}`"
        if root is None:
            from bilm.synth import write_uci_tree

            root = write_uci_tree(Path(scratch) / "UCI HAR Dataset", 7352, 2947, seed=0)
            source = "synthetic tree of the real size and format (bilm.synth; real dataset not found)"
        _run(root, source, args.repeats, not args.no_memory)
    return 0


def _run(root: Path, source: str, repeats: int, memory: bool) -> None:
    rows = methods()
    text_bytes = sum(f.stat().st_size for f in root.glob("*/Inertial Signals/*.txt"))
    for f in root.glob("*/**/*.txt"):
        f.read_bytes()  # into the page cache
    for m in rows:
        if m.warm_up:
            _load_both(m, root)

    times: dict[str, list[float]] = {m.name: [] for m in rows}
    reference = None
    for _ in range(repeats):
        for m in rows:
            start = time.perf_counter()
            arrays = _load_both(m, root)
            times[m.name].append(time.perf_counter() - start)
            if reference is None:
                reference = arrays
            elif not _same(arrays, reference):
                raise SystemExit(f"{m.name} disagrees with {rows[0].name}")
            del arrays
    output_mb = sum(a.nbytes for split in reference for a in split) / 2**20

    median = {name: statistics.median(t) for name, t in times.items()}
    base_loadtxt, base_pandas = median[rows[0].name], median[rows[1].name]
    print(f"UCI HAR Inertial Signals, both splits: {text_bytes / 1e6:.0f} MB of text, "
          f"{output_mb:.1f} MiB of output arrays; data: {source}")
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {_pandas_version()}; "
          f"median of {repeats} rounds; outputs checked identical\n")
    print("| method | median time (ms) | speed-up vs np.loadtxt | vs pandas | peak extra memory (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for m in rows:
        peak = f"{_peak_memory_mb(m.name, root):.0f}" if memory else "-"
        t = median[m.name]
        print(f"| {m.name} | {1000 * t:.1f} | {base_loadtxt / t:.1f}x | {base_pandas / t:.1f}x | {peak} |")


def _pandas_version() -> str:
    import pandas

    return f"pandas {pandas.__version__}"


if __name__ == "__main__":
    sys.exit(main())
