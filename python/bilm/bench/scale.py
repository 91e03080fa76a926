"""python -m bilm.bench scale: load time and peak memory on synthetic UCI HAR trees of 1x..10x.

For each size (a multiple of the real dataset's 7352 + 2947 windows, written by
``bilm.synth.write_uci_tree`` in the exact text format) and each method, one fresh
interpreter loads both splits into X float32 (N, 9, 128), y and subject int64 and reports:

* time: wall time of the load (the median of ``--repeats`` loads in that interpreter; the
  files are in the page cache, read once by the parent beforehand);
* peak extra memory: peak resident memory during the first load minus the resident memory
  just before it (Linux VmHWM after resetting it through /proc/self/clear_refs; elsewhere
  ru_maxrss), next to the bytes of the output arrays the load has to produce anyway. The
  child's own ``ru_maxrss`` from ``os.wait4`` (whole process: interpreter and imports
  included) is reported too, as a cross-check.

Time should grow linearly with the bytes of text (constant ms/MB), and for bilm_fast the
extra memory should stay close to the output arrays. np.loadtxt and pandas are run up to
``--max-slow`` times the real size (they take minutes beyond it). Trees are written under
``--workdir`` (default: a temporary folder) one size at a time and deleted after measuring
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bilm.bench.common import machine, usable_cpus

REAL_TRAIN, REAL_TEST = 7352, 2947
SPLITS = ("train", "test")
METHODS = ("bilm_fast", "np.loadtxt", "pandas")
SLOW = ("np.loadtxt", "pandas")


def _loader(name: str, threads: int):
    from bilm.bench import loader

    if name == "bilm_fast":
        import bilm_fast

        return lambda root, split: bilm_fast.load_uci_har(root, split, num_threads=threads)
    if name == "np.loadtxt":
        return lambda root, split: loader._per_file(root, split, loader._loadtxt)
    if name == "pandas":
        return lambda root, split: loader._per_file(root, split, loader._read_csv)
    raise SystemExit(f"unknown method {name!r}; choose from {', '.join(METHODS)}")


def _child(name: str, root: Path, repeats: int, threads: int) -> None:
    """Runs in a fresh interpreter: load both splits `repeats` times, print one JSON line."""
    import numpy  # noqa: F401 -- the same imports for every method, so baselines agree
    import pandas  # noqa: F401

    import bilm_fast  # noqa: F401
    from bilm.bench.common import peak_rss_kib, reset_peak_rss_kib

    load = _loader(name, threads)
    times = []
    baseline = peak = output = 0
    for i in range(repeats):
        if i == 0:
            baseline = reset_peak_rss_kib()
        start = time.perf_counter()
        arrays = [load(root, split) for split in SPLITS]
        times.append(time.perf_counter() - start)
        if i == 0:
            peak = peak_rss_kib()
            output = sum(a.nbytes for split in arrays for a in split)
            shapes = [list(split[0].shape) for split in arrays]
        del arrays
    print(json.dumps({
        "times": times,
        "baseline_kib": baseline,
        "peak_kib": peak,
        "output_bytes": output,
        "shapes": shapes,
    }))


def _measure(name: str, root: Path, repeats: int, threads: int, timeout: float | None) -> dict:
    command = [sys.executable, "-m", "bilm.bench.scale", "--child", name, "--root", str(root),
               "--repeats", str(repeats), "--threads", str(threads)]
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.monotonic() > deadline:
                child.kill()
                os.wait4(child.pid, 0)
                return {"error": f"over {timeout:.0f} s"}
            time.sleep(0.05)
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
        if child.returncode != 0:
            return {"error": f"exit {child.returncode}: {stderr.strip().splitlines()[-1:]}"}
        out.seek(0)
        result = json.loads(out.read().decode().strip().splitlines()[-1])
    result["child_maxrss_kib"] = usage.ru_maxrss  # Linux: KiB
    return result


def _text_bytes(root: Path) -> int:
    return sum(f.stat().st_size for f in root.glob("*/**/*.txt"))


def _warm_page_cache(root: Path) -> None:
    for f in root.glob("*/**/*.txt"):
        with open(f, "rb") as handle:
            while handle.read(1 << 24):
                pass


def _threads(value: int | None) -> int:
    return value or usable_cpus()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4,10", help="multiples of the real size (default 1,4,10)")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--max-slow", type=float, default=4,
                        help="run np.loadtxt and pandas only up to this multiple (default 4)")
    parser.add_argument("--repeats", type=int, default=3, help="loads per measurement for bilm_fast (default 3)")
    parser.add_argument("--slow-timeout", type=float, default=1800, help="give up on a slow method after this many s")
    parser.add_argument("--threads", type=int, default=None, help="bilm_fast threads (default: all usable CPUs)")
    parser.add_argument("--workdir", type=Path, help="where to write the trees (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated trees")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = _threads(args.threads)
    if args.child:
        _child(args.child, args.root, args.repeats, threads)
        return 0

    sizes = [float(s) for s in args.sizes.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        _loader(m, threads)  # fail early on a bad name
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bilm-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for size in sizes:
            root = workdir / f"{size:g}x" / "UCI HAR Dataset"
            start = time.perf_counter()
            if not (root / "test" / "y_test.txt").is_file():
                # In a child, so that this process stays small: a child inherits its parent's
                # peak RSS as the start of its own ru_maxrss.
                subprocess.run([sys.executable, "-c", "import sys; from bilm.synth import write_uci_tree; "
                                "write_uci_tree(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), seed=int(sys.argv[4]))",
                                str(root), str(round(REAL_TRAIN * size)), str(round(REAL_TEST * size)), str(args.seed)],
                               check=True)
            written = time.perf_counter() - start
            text = _text_bytes(root)
            print(f"# {size:g}x: {text / 1e6:.0f} MB of text (generated in {written:.0f} s)",
                  file=sys.stderr, flush=True)
            _warm_page_cache(root)
            for m in methods:
                if m in SLOW and size > args.max_slow:
                    rows.append((size, text, m, {"skipped": f"skipped above {args.max_slow:g}x (--max-slow)"}))
                    continue
                repeats = 1 if m in SLOW else args.repeats
                result = _measure(m, root, repeats, threads, args.slow_timeout if m in SLOW else None)
                rows.append((size, text, m, result))
                print(f"#   {m}: {result}", file=sys.stderr, flush=True)
            if not args.keep:
                shutil.rmtree(root.parent)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    _print_table(rows, threads, args.repeats)
    return 0


def _print_table(rows: list, threads: int, repeats: int) -> None:
    import numpy as np

    try:
        import pandas

        pandas_version = f"pandas {pandas.__version__}"
    except ImportError:
        pandas_version = "pandas not installed"
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}")
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {pandas_version}; "
          f"bilm_fast with {threads} threads, median of {repeats} loads; np.loadtxt and pandas: one load. "
          "Both splits, X float32 (N, 9, 128) + y + subject.\n")
    print("| size | text (MB) | method | time (s) | ms per MB | peak extra RSS (MiB) | output arrays (MiB) "
          "| extra / output | child ru_maxrss (MiB) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for size, text, method, r in rows:
        mb = text / 1e6
        if "skipped" in r or "error" in r:
            print(f"| {size:g}x | {mb:.0f} | {method} | {r.get('skipped') or r.get('error')} | | | | | |")
            continue
        t = statistics.median(r["times"])
        extra = (r["peak_kib"] - r["baseline_kib"]) / 1024
        output = r["output_bytes"] / 2**20
        print(f"| {size:g}x | {mb:.0f} | {method} | {t:.2f} | {1000 * t / mb:.2f} | {extra:.0f} | {output:.0f} "
              f"| {extra / output:.2f} | {r['child_maxrss_kib'] / 1024:.0f} |")
    print()
    for method in dict.fromkeys(m for _, _, m, _ in rows):
        done = [(text, statistics.median(r["times"])) for _, text, m, r in rows if m == method and "times" in r]
        if len(done) >= 2:
            (text0, t0), (text1, t1) = done[0], done[-1]
            print(f"{method}: {text1 / text0:.1f}x the text took {t1 / t0:.1f}x the time "
                  f"({1000 * t0 / (text0 / 1e6):.2f} -> {1000 * t1 / (text1 / 1e6):.2f} ms per MB).")


if __name__ == "__main__":
    sys.exit(main())
