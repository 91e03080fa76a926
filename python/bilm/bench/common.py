"""What the benchmarks share: where the real dataset is, what machine this is, peak memory."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path

# One variable for every tool that looks for the real dataset (benchmarks and tests alike);
# without it, the read-only copy laid beside a developer's checkout.
UCI_HAR_ENV = "BILM_UCI_HAR_DIR"


def real_uci_har(beside: Path | None = None) -> Path | None:
    """The real UCI HAR folder: ``$BILM_UCI_HAR_DIR``, else ``<beside>/../shared/uci-har/UCI HAR
    Dataset`` (beside: the current folder), else the copy ``python -m bilm.data download`` made,
    if it holds ``train/y_train.txt``; else None."""
    from bilm.data.locations import downloaded_uci_har

    beside = beside or Path.cwd()
    candidates = [os.environ.get(UCI_HAR_ENV), beside.parent / "shared" / "uci-har" / "UCI HAR Dataset",
                  downloaded_uci_har()]
    return next((Path(c) for c in candidates if c and (Path(c) / "train" / "y_train.txt").is_file()), None)


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):  # not Linux
        return platform.processor() or platform.machine()


def machine() -> str:
    return (f"{cpu_name()}, {os.cpu_count()} logical CPUs ({usable_cpus()} usable), "
            f"{platform.system()} {platform.release()}")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def reset_peak_rss_kib() -> int:
    """Current resident memory, with the peak reset to it where Linux allows.

    On Linux, VmHWM is used rather than ru_maxrss: a child started by a big parent can
    inherit the parent's ru_maxrss across fork and exec, which would hide its own peak.
    """
    if not os.path.exists("/proc/self/status"):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS counter to the current RSS
    except OSError:
        return _status_kib("VmHWM")
    return _status_kib("VmRSS")


def peak_rss_kib() -> int:
    if not os.path.exists("/proc/self/status"):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return _status_kib("VmHWM")
