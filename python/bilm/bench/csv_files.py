"""CSV reading speed: bilm_fast.read_csv against np.loadtxt and pandas.read_csv, side by side.

    python -m bilm.bench csv                                   # MotionSense if found, and a DSADS-sized tree
    python -m bilm.bench csv --motionsense DIR --repeats 5
    python -m bilm.bench csv --dsads-files 912                 # a tenth of the DSADS tree, for a quick look

Two sets of files: MotionSense's 360 CSVs (header, index column, 12 values a row; the
downloaded copy, or --motionsense DIR, the A_DeviceMotion_data folder) and a generated tree
in the size of DSADS (9,120 files of 125 rows x 45 comma-separated values). Every method
reads every file of a set, as float64, with the settings that file needs; each round runs
every method once, in turn, so background load hits all alike, and the table gives the
median over --repeats rounds and the speed-up against np.loadtxt and pandas. Every method's
arrays are checked against np.loadtxt's before any timing counts: bilm_fast's bit for bit;
pandas' to within 1e-15 relative plus 1e-15 absolute, since its default float parser (the fast
one a user gets) is not correctly rounded and, in pandas 3, drops the digits past about the 16th
decimal place (0.00011399999999999999 reads as 0.0001139999999999, 9e-13 off relative).
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import bilm_fast
from bilm import cli
from bilm.bench.common import machine, usable_cpus

Reader = Callable[[list[Path]], list[np.ndarray]]
PANDAS_RTOL = 1e-15  # a few units in the last place
PANDAS_ATOL = 1e-15  # for small values with more decimals than pandas keeps


def motionsense_files(folder: Path | None) -> list[Path] | None:
    """The 360 CSVs of the MotionSense folder given, or of the downloaded copy; None without a download."""
    from bilm.data.datasets import dataset

    try:
        root = dataset("motionsense").find_root(folder)
    except FileNotFoundError:
        if folder is not None:  # a folder the user named must be there
            raise
        return None
    return sorted(root.glob("*_*/sub_*.csv"))


def write_dsads_tree(root: Path, files: int, seed: int = 0) -> list[Path]:
    """`files` segments of 125 x 45 values in DSADS's layout (a01/p1/s01.txt, ...)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(files):
        path = root / f"a{i // 480 + 1:02d}" / f"p{i // 60 % 8 + 1}" / f"s{i % 60 + 1:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(path, rng.normal(scale=5.0, size=(125, 45)), fmt="%.5f", delimiter=",")
        paths.append(path)
    return paths


def readers(skip_rows: int, usecols: range | None) -> dict[str, Reader]:
    """Each method, reading a list of files with the same settings; the first is the reference."""
    import pandas as pd

    def loadtxt(paths: list[Path]) -> list[np.ndarray]:
        return [np.loadtxt(p, delimiter=",", skiprows=skip_rows, usecols=usecols, ndmin=2) for p in paths]

    def pandas(paths: list[Path]) -> list[np.ndarray]:
        cols = list(usecols) if usecols is not None else None
        return [pd.read_csv(p, header=None, skiprows=skip_rows, usecols=cols)
                .to_numpy(np.float64) for p in paths]

    def fast(threads: int) -> Reader:
        return lambda paths: bilm_fast.read_csv(paths, skip_rows=skip_rows, usecols=usecols, dtype="float64",
                                                num_threads=threads)

    cpus = usable_cpus()
    return {"np.loadtxt": loadtxt, "pandas.read_csv": pandas, "bilm_fast.read_csv, 1 thread": fast(1),
            f"bilm_fast.read_csv, {cpus} threads": fast(cpus)}


def nearly_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=PANDAS_RTOL, atol=PANDAS_ATOL)


def time_set(paths: list[Path], methods: dict[str, Reader], repeats: int) -> dict[str, float]:
    """Median seconds per method, after checking every method's arrays against the first's."""
    reference = next(iter(methods.values()))(paths)
    for name, read in methods.items():
        same = nearly_equal if name == "pandas.read_csv" else np.array_equal  # the one inexact parser
        if not all(same(a, b) for a, b in zip(read(paths), reference, strict=True)):
            raise cli.CommandError(f"{name} did not give np.loadtxt's values")
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, read in methods.items():
            start = time.perf_counter()
            read(paths)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def table(results: dict[str, tuple[int, dict[str, float]]], repeats: int) -> str:
    lines = [f"CSV reading, {datetime.date.today()}, {machine()}, load average "
             f"{os.getloadavg()[0]:.1f}; float64, median of {repeats}, outputs checked against np.loadtxt (bilm_fast: identical; "
             f"pandas: to {PANDAS_RTOL:g} relative + {PANDAS_ATOL:g} absolute)",
             "", "| files | method | time (s) | vs np.loadtxt | vs pandas |", "|---|---|---:|---:|---:|"]
    for label, (count, medians) in results.items():
        base, pandas = medians["np.loadtxt"], medians["pandas.read_csv"]
        lines += [f"| {label} ({count}) | {name} | {t:.3f} | {base / t:.1f}x | {pandas / t:.1f}x |"
                  for name, t in medians.items()]
    return "\n".join(lines) + "\n"


def bench(args: argparse.Namespace) -> int:
    if args.repeats < 1 or args.dsads_files < 1:
        raise cli.UsageError("--repeats and --dsads-files must be >= 1")
    results = {}
    motionsense = motionsense_files(Path(args.motionsense) if args.motionsense else None)
    if motionsense:
        results["MotionSense"] = (len(motionsense), time_set(motionsense, readers(1, range(1, 13)), args.repeats))
    else:
        print("MotionSense not found (python -m bilm.data download motionsense, or --motionsense DIR): "
              "timing the DSADS-sized tree only", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="bilm-bench-csv-") as scratch:
        dsads = write_dsads_tree(Path(scratch), args.dsads_files)
        results["DSADS-sized tree"] = (len(dsads), time_set(dsads, readers(0, None), args.repeats))
    print(table(results, args.repeats))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench csv", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--motionsense", metavar="DIR", help="the A_DeviceMotion_data folder (default: the download)")
    parser.add_argument("--dsads-files", type=int, default=9120, metavar="N",
                        help="files in the generated DSADS-sized tree (default: 9120, the real count)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every method (default: 3)")
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm.bench csv", build_parser(), bench, argv)


if __name__ == "__main__":
    sys.exit(main())
