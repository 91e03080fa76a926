"""Prediction speed of a trained run: PyTorch eager, TorchScript and ONNX Runtime.

    python -m bilm.bench predict runs/x
    python -m bilm.bench predict runs/x --threads 1,2,4 --repeats 2000
    python -m bilm.bench predict runs/x --device cuda

Every backend computes the run's deployable classifier (raw windows in, probabilities out,
the preprocessing inside): eager is the module `bilm.predict` uses, in inference mode;
TorchScript and ONNX are the files `bilm.export` writes, the latter run by ONNX Runtime with
its intra-op threads set. For each thread count, one window at a time (the latency of a call
from a NumPy window to NumPy probabilities, median and p99 of --repeats calls after a
warm-up) and batches of --batch windows (windows per second, from the median of --batches
batches). The backends must agree on the probabilities of the same windows: the table gives
the largest difference from eager, and the command fails when it is above float32 noise.
The weights do not change the time, so any run of the right shape (e.g. one epoch) will do.
Goals: one window in at most 1 ms with ONNX Runtime on one thread; 5,000 windows/s on two.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import torch

from bilm import cli, export
from bilm.bench.common import machine
from bilm.inference import LoadedClassifier, load_classifier

# (N, C, T) float32 windows -> (N, K) float32 probabilities; a str says why a backend cannot run.
Runner = Callable[[np.ndarray], np.ndarray]
BACKENDS = ("PyTorch eager", "TorchScript", "ONNX Runtime")
# Calls before timing: TorchScript's profiling executor optimises the graph on its first runs,
# and every backend allocates its buffers on the first.
WARMUP = 20
AGREEMENT_WINDOWS = 64
# The most two float32 backends may differ by in a probability: kernels round the gravity
# frame's norms and the softmax their own way (a few 1e-5 on the CPU). On a GPU, PyTorch's
# convolutions may use TF32, whose 10-bit mantissa moves probabilities by up to ~1e-3.
AGREEMENT = {"cpu": 1e-4}
AGREEMENT_OTHER_DEVICES = 1e-3
# MiniRocket's features count a kernel's outputs above a bias: an output within rounding of
# its bias counts in one backend and not in another, and one such flip moves a probability
# by about 1e-4 (ONNX Runtime against eager on the default preset: 1.1e-4).
AGREEMENT_ROCKET = 1e-3
GOAL_LATENCY_MS = 1.0
GOAL_WINDOWS_PER_SECOND = 5000


@dataclass(frozen=True)
class Row:
    backend: str
    threads: int
    median_ms: float = math.nan
    p99_ms: float = math.nan
    windows_per_second: float = math.nan
    max_diff: float = math.nan
    note: str = ""  # why the backend did not run


def torch_runner(module: torch.nn.Module, device: torch.device) -> Runner:
    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(x).to(device)).cpu().numpy()  # .cpu() waits for a GPU
    return run


def torchscript_module(classifier: LoadedClassifier, folder: Path, device: torch.device) -> torch.nn.Module:
    """The file `python -m bilm.export --format torchscript` writes, loaded as a deployment would."""
    path = folder / "model.pt"
    export.export_torchscript(classifier, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated upstream
        return torch.jit.load(str(path), map_location=device)


def onnx_file(classifier: LoadedClassifier, folder: Path) -> Path | str:
    """The file `python -m bilm.export --format onnx` writes, or why there is none."""
    try:
        import onnxruntime  # noqa: F401  (without it there is nothing to time)
    except ImportError:
        return "onnxruntime not installed: pip install 'bilm[export]'"
    path = folder / "model.onnx"
    try:
        export.export_onnx(classifier, path)
    except ValueError as e:  # onnxscript missing
        return str(e)
    return path


def onnx_runner(path: Path, threads: int, device: torch.device) -> Runner | str:
    import onnxruntime as ort

    provider = "CUDAExecutionProvider" if device.type == "cuda" else "CPUExecutionProvider"
    if provider not in ort.get_available_providers():
        return f"this onnxruntime has no {provider} (pip install onnxruntime-gpu)"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one graph at a time: a second pool would only compete
    session = ort.InferenceSession(str(path), options, providers=[provider])
    return lambda x: session.run(None, {export.INPUT_NAME: x})[0]


def latency_ms(run: Runner, window: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median and 99th percentile of `repeats` calls on one window (1, C, T), in ms."""
    for _ in range(WARMUP):
        run(window)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(window)
        times.append(time.perf_counter() - start)
    times_ms = np.array(times) * 1e3
    return float(np.median(times_ms)), float(np.percentile(times_ms, 99))


def windows_per_second(run: Runner, batch: np.ndarray, batches: int) -> float:
    run(batch)  # warm-up: buffers for this batch size
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        run(batch)
        times.append(time.perf_counter() - start)
    return len(batch) / statistics.median(times)


def time_backend(name: str, threads: int, run: Runner | str, inputs: dict[str, np.ndarray],
                 reference: np.ndarray, args: argparse.Namespace) -> Row:
    if isinstance(run, str):
        return Row(name, threads, note=run)
    max_diff = float(np.abs(run(inputs["agreement"]) - reference).max())
    median, p99 = latency_ms(run, inputs["window"], args.repeats)
    return Row(name, threads, median, p99, windows_per_second(run, inputs["batch"], args.batches), max_diff)


def bench_rows(classifier: LoadedClassifier, cpu_classifier: LoadedClassifier, device: torch.device,
               args: argparse.Namespace) -> list[Row]:
    cfg = classifier.config
    rng = np.random.default_rng(0)  # the values do not change the time; their shape does
    batch = rng.standard_normal((args.batch, cfg.input_channels, cfg.seq_length), dtype=np.float32)
    inputs = {"window": batch[:1].copy(), "batch": batch, "agreement": batch[:AGREEMENT_WINDOWS].copy()}
    eager = torch_runner(classifier.module, device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # Exported from the CPU copy: the exporters trace with a CPU example input.
        scripted = torch_runner(torchscript_module(cpu_classifier, Path(tmp), device), device)
        onnx = onnx_file(cpu_classifier, Path(tmp))
        for threads in args.threads:
            torch.set_num_threads(threads)
            reference = eager(inputs["agreement"])
            ort_run = onnx if isinstance(onnx, str) else onnx_runner(onnx, threads, device)
            for name, run in zip(BACKENDS, (eager, scripted, ort_run)):
                rows.append(time_backend(name, threads, run, inputs, reference, args))
    return rows


def versions() -> str:
    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = "not installed"
    return f"torch {torch.__version__}, onnxruntime {ort_version}"


def load_average() -> str:
    """The 1-minute load average: on a shared machine, other work slows every backend."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "unknown"


def table(rows: list[Row], classifier: LoadedClassifier, args: argparse.Namespace, device: torch.device,
          load: str) -> str:
    cfg = classifier.config
    params = sum(p.numel() for p in classifier.module.parameters())
    where = machine() if device.type == "cpu" else f"{torch.cuda.get_device_name(device)}; {machine()}"
    lines = [
        f"Prediction speed of {args.run} ({cfg.input_channels} channels x {cfg.seq_length} samples -> "
        f"{len(classifier.classes)} classes, {cfg.ensemble} network(s), {params:,} parameters) on {device.type} "
        f"({where}); {date.today().isoformat()}; {versions()}; load average {load} -> {load_average()}.",
        "",
        f"| backend | threads | 1 window: median ms | 1 window: p99 ms | batch of {args.batch}: windows/s "
        "| max abs diff from eager |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if r.note:
            lines.append(f"| {r.backend} | {r.threads} | n/a | n/a | n/a | {r.note} |")
        else:
            lines.append(f"| {r.backend} | {r.threads} | {r.median_ms:.3f} | {r.p99_ms:.3f} "
                         f"| {r.windows_per_second:,.0f} | {r.max_diff:.1e} |")
    return "\n".join([*lines, "", *goal_lines(rows)])


def goal_lines(rows: list[Row]) -> list[str]:
    """The two goals, against the rows that measure them (when those thread counts were run)."""
    lines = []
    single = [r for r in rows if r.backend == "ONNX Runtime" and r.threads == 1 and not r.note]
    if single:
        ok = single[0].median_ms <= GOAL_LATENCY_MS
        lines.append(f"Goal, one window in <= {GOAL_LATENCY_MS:g} ms with ONNX Runtime on 1 thread: "
                     f"{'met' if ok else 'missed'} (median {single[0].median_ms:.3f} ms).")
    two = [r for r in rows if r.threads == 2 and not r.note]
    if two:
        best = max(two, key=lambda r: r.windows_per_second)
        ok = best.windows_per_second >= GOAL_WINDOWS_PER_SECOND
        lines.append(f"Goal, >= {GOAL_WINDOWS_PER_SECOND:,} windows/s on 2 threads: {'met' if ok else 'missed'} "
                     f"({best.windows_per_second:,.0f} with {best.backend}).")
    return lines


def thread_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts, e.g. 1,2; got {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"thread counts must be >= 1; got {text!r}")
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN", help="a trained run folder (its best.pt) or a checkpoint file")
    parser.add_argument("--threads", type=thread_counts, default=[1, 2], metavar="N,N",
                        help="CPU thread counts to time, comma-separated (default: 1,2)")
    parser.add_argument("--repeats", type=int, default=1000, metavar="N",
                        help="timed one-window calls per backend and thread count (default: 1000)")
    parser.add_argument("--batch", type=int, default=1024, metavar="N", help="windows per batch (default: 1024)")
    parser.add_argument("--batches", type=int, default=5, metavar="N",
                        help="timed batches per backend and thread count (default: 5)")
    parser.add_argument("--device", default="cpu",
                        help="cpu, cuda, cuda:N or mps (default: cpu, where the goals are set)")
    return parser


def bench(args: argparse.Namespace) -> int:
    if args.repeats < 1 or args.batches < 1 or args.batch < 1:
        raise cli.UsageError("--repeats, --batch and --batches must be >= 1")
    device = cli.resolve_device(args.device)
    load = load_average()
    cpu_classifier = load_classifier(args.run, "cpu")
    classifier = cpu_classifier if device.type == "cpu" else load_classifier(args.run, device)
    rows = bench_rows(classifier, cpu_classifier, device, args)
    print(table(rows, classifier, args, device, load))
    tolerance = AGREEMENT.get(device.type, AGREEMENT_OTHER_DEVICES)
    if any(member.rocket is not None for member in cpu_classifier.module.model.members):
        tolerance = max(tolerance, AGREEMENT_ROCKET)
    disagree = [f"{r.backend} on {r.threads} thread(s) by {r.max_diff:.1e}"
                for r in rows if r.max_diff > tolerance]  # NaN (not run) compares False
    if disagree:
        raise cli.CommandError(f"the backends disagree: {', '.join(disagree)} (more than {tolerance:g}); "
                               "an export does not compute what the run does")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm.bench predict", build_parser(), bench, argv)


if __name__ == "__main__":
    sys.exit(main())
