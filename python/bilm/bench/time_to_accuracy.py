"""Time to a good UCI HAR model: bilm's default preset, the notebook's loop and MiniRocket.

    python -m bilm.bench time-to-accuracy                       # real UCI HAR if found
    python -m bilm.bench time-to-accuracy --seeds 3 --json tta.json
    python -m bilm.bench time-to-accuracy --only default,minirocket --set epochs=10
    python -m bilm.bench time-to-accuracy --device cuda         # MiniRocket stays on the CPU

Three ways from the UCI HAR folder to a scored classifier, each timed from loading the data
to its test accuracy:

- default: bilm's default preset, trained in this process by `bilm.fit` (what
  `python -m bilm.train` runs), with its checkpoints, test report and plots;
- notebook: the notebook's own protocol (the `notebook` preset: every training window, 30
  epochs, the last one scored) run by its own loop, the Dataset + DataLoader loop of
  `bilm.bench train`, then scored on the test split as its evaluate_bilm does (eval mode,
  no gradients, batches of 64 in order);
- minirocket: aeon's MiniRocketClassifier with its defaults (10,000 kernels, a ridge
  classifier with cross-validated regularisation), fit on the training windows (N, 9, 128)
  and predicting the test windows; it needs aeon (pip install "bilm[bench]").

Why the comparison is fair: the three read the same windows through the same loader, fit
on the training split alone and read the test split once, to score. All three get the same
--threads: torch's intra-op threads, OpenMP and BLAS (OMP_NUM_THREADS, MKL_NUM_THREADS and
threadpoolctl). MiniRocket keeps aeon's n_jobs=1, as a user who takes its defaults gets it;
--minirocket-jobs 2 gives its kernels the second core too. Each seed runs the three one after the other, so
load from other processes hits all of them alike, and every run is a fresh process of its
own, as a user's command is: what one library leaves behind (numba's OpenMP workers after
MiniRocket) cannot slow the next run. Costs that only a process's first run pays are paid
there before the clock starts: the imports, one untimed load (so every timed load reads
bilm's binary cache), torch.optim's own first-use import of torch._dynamo, MiniRocket's numba
kernels compiled on a few windows, and a GPU's initialisation. With --device cuda the default
and notebook rows train on the GPU; MiniRocket has no GPU code and stays on the CPU. The table gives each method's median wall time per run
(and the range over seeds), test accuracy (mean and sample standard deviation over seeds),
mean macro-F1, and each median time as a multiple of MiniRocket's.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from bilm import cli
from bilm.bench.common import UCI_HAR_ENV, cpu_name, real_uci_har
from bilm.bench.train import NotebookDataset, load_average, train_notebook
from bilm.config import BILMConfig, apply_overrides, get_preset
from bilm.data import HARData, load_dataset
from bilm.metrics import macro_f1
from bilm.training import fit, fit_to_data

METHODS = ("default", "notebook", "minirocket")
LABELS = {
    "default": "bilm default preset (`bilm.fit`)",
    "notebook": "notebook loop (`notebook` preset)",
    "minirocket": "MiniRocket (aeon, defaults)",
}
INSTALL_HINT = 'MiniRocket needs aeon, which is not installed: pip install "bilm[bench]" (or pip install aeon)'
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
WARMUP_WINDOWS = 16  # enough for MiniRocket to compile the kernels it runs on these windows


@dataclass(frozen=True)
class Run:
    """One method's run for one seed."""

    method: str
    seed: int
    wall_seconds: float
    test_accuracy: float
    test_macro_f1: float
    device: str


def minirocket_classifier() -> Any:
    """aeon's MiniRocketClassifier, or None when aeon is not installed."""
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError:
        return None
    return MiniRocketClassifier


def aeon_version() -> str | None:
    try:
        import aeon
    except ImportError:
        return None
    return aeon.__version__


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """torch, OpenMP and BLAS on `threads` threads for the block; the previous settings after."""
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency

    saved_env = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    saved_torch = torch.get_num_threads()
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(saved_torch)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def scores(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Test accuracy and macro-F1, as bilm's report computes them."""
    return float(np.mean(y_true == y_pred)), macro_f1(y_true, y_pred, num_classes)


def run_default(path: Path, cfg: BILMConfig, seed: int, out: Path, device: torch.device) -> Run:
    """bilm's default preset through `bilm.fit`, from loading the data to report.json."""
    start = time.perf_counter()
    data = load_dataset(path)
    with contextlib.redirect_stdout(sys.stderr):  # fit's epoch lines are progress, not the table
        result = fit(dataclasses.replace(cfg, seed=seed), data, out, progress=False, device=str(device))
    wall = time.perf_counter() - start
    assert result.report is not None  # a single process is rank 0
    return Run("default", seed, wall, float(result.report["test_accuracy"]), float(result.report["test_macro_f1"]),
               str(device))


@torch.no_grad()
def notebook_predict(model: torch.nn.Module, X: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """The notebook's evaluate_bilm: eval mode, no gradients, the windows in order, argmax."""
    model.eval()
    loader = DataLoader(NotebookDataset(X, np.zeros(len(X), dtype=np.int64)), batch_size=batch_size)
    return torch.cat([model(x.to(device)).argmax(dim=1).cpu() for x, _ in loader]).numpy()


def run_notebook(path: Path, epochs: int, seed: int, device: torch.device) -> Run:
    """The notebook's protocol and loop, from loading the data to the test predictions."""
    start = time.perf_counter()
    data = load_dataset(path)
    cfg = fit_to_data(dataclasses.replace(get_preset("notebook"), seed=seed, epochs=epochs), data)
    objective, _ = train_notebook(data.X_train, data.y_train, cfg, device, epochs)
    predicted = notebook_predict(objective.model, data.X_test, cfg.batch_size, device)
    wall = time.perf_counter() - start
    return Run("notebook", seed, wall, *scores(data.y_test, predicted, cfg.num_classes), str(device))


def run_minirocket(path: Path, seed: int, jobs: int) -> Run:
    """aeon's MiniRocketClassifier with its defaults (but `jobs`), from loading the data to the test predictions."""
    classifier = minirocket_classifier()
    start = time.perf_counter()
    data = load_dataset(path)
    model = classifier(n_jobs=jobs, random_state=seed)
    model.fit(data.X_train, data.y_train)
    predicted = np.asarray(model.predict(data.X_test))
    wall = time.perf_counter() - start
    return Run("minirocket", seed, wall, *scores(data.y_test, predicted, len(data.classes)), "cpu")


@dataclass(frozen=True)
class Job:
    """One method's run for one seed, and what it needs."""

    method: str
    seed: int
    path: Path
    cfg: BILMConfig  # the default preset's, with --set
    out: Path  # the default preset's run folder
    device: str
    threads: int
    minirocket_jobs: int
    notebook_epochs: int


def isolated(job: Job) -> Run:
    """`timed_run(job)` in a fresh process of its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(timed_run, job).result()


def timed_run(job: Job) -> Run:
    """Warm this process up, then time the job's run."""
    device = torch.device(job.device)
    with thread_limit(job.threads):
        warm_up(load_dataset(job.path), job.method, device, job.threads)
        if job.method == "default":
            return run_default(job.path, job.cfg, job.seed, job.out, device)
        if job.method == "notebook":
            return run_notebook(job.path, job.notebook_epochs, job.seed, device)
        return run_minirocket(job.path, job.seed, job.minirocket_jobs)


def warm_up(data: HARData, method: str, device: torch.device, threads: int) -> None:
    """Pay what only a process's first run pays: numba's compilation of MiniRocket, torch.optim's
    import of torch._dynamo at its first optimiser (about 2 s), CUDA's start."""
    if method == "minirocket":
        from aeon.transformations.collection.convolution_based import MiniRocket

        MiniRocket(n_jobs=threads, random_state=0).fit_transform(data.X_train[:WARMUP_WINDOWS])
        return
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    if device.type == "cuda":
        torch.zeros(1, device=device)
        torch.cuda.synchronize(device)


def describe_device(device: torch.device, methods: list[str]) -> str:
    if device.type != "cuda":
        return device.type
    text = f"{device} ({torch.cuda.get_device_name(device)}) for the default and notebook rows"
    return text + ("; MiniRocket on the CPU (it has no GPU code)" if "minirocket" in methods else "")


def header(args: argparse.Namespace, data: HARData, cfg: BILMConfig, methods: list[str], device: torch.device,
           load: str) -> dict[str, Any]:
    return {
        "date": date.today().isoformat(), "cpu": cpu_name(), "threads": args.threads,
        "device": describe_device(device, methods), "torch": torch.__version__,
        "aeon": aeon_version() if "minirocket" in methods else None,
        "load_average": f"{load} -> {load_average()}", "data": data.source,
        "train_windows": len(data.y_train), "test_windows": len(data.y_test),
        "default_epochs": cfg.epochs, "default_overrides": list(args.set), "notebook_epochs": args.epochs_notebook,
        "seeds": list(range(args.seeds)), "minirocket_jobs": args.minirocket_jobs,
    }


def epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def percent(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    return f"{mean:.2f}" if len(values) < 2 else f"{mean:.2f} ± {100 * statistics.stdev(values):.2f}"


def table(info: dict[str, Any], runs: list[Run], methods: list[str], skipped: str | None) -> str:
    """The header lines and the markdown table; MiniRocket's ratio column only when it ran."""
    by_method = {m: [r for r in runs if r.method == m] for m in methods}
    medians = {m: statistics.median(r.wall_seconds for r in rs) for m, rs in by_method.items()}
    base = medians.get("minirocket")
    overrides = f" (--set {', '.join(info['default_overrides'])})" if info["default_overrides"] else ""
    settings = {
        "default": f"default preset: {epochs(info['default_epochs'])}{overrides}",
        "notebook": f"notebook: {epochs(info['notebook_epochs'])}, the last one scored",
        "minirocket": f"MiniRocket: aeon's defaults, n_jobs = {info['minirocket_jobs']}, random_state = seed",
    }
    pools = "torch, OpenMP/BLAS"
    versions = f"torch {info['torch']}" + (f", aeon {info['aeon']}" if base else "")
    lines = [
        f"Time to a UCI HAR model, {info['date']}; CPU: {info['cpu']}; {info['threads']} threads for every "
        f"method ({pools}); device: {info['device']}; {versions}; load average {info['load_average']}.",
        f"Data: {info['data']}: {info['train_windows']} training and {info['test_windows']} test windows, loaded "
        f"in every timed run. {sentence('; '.join(settings[m] for m in methods))}",
        "",
        "| method | seeds | wall time per run, s: median | min-max | test accuracy %, mean ± std | macro-F1, mean |"
        + (" median time / MiniRocket's |" if base else ""),
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if base else ""),
    ]
    for method, rs in by_method.items():
        walls = [r.wall_seconds for r in rs]
        lines.append(f"| {LABELS[method]} | {len(rs)} | {medians[method]:.1f} | {min(walls):.1f}-{max(walls):.1f} "
                     f"| {percent([r.test_accuracy for r in rs])} "
                     f"| {statistics.fmean(r.test_macro_f1 for r in rs):.4f} |"
                     + (f" {medians[method] / base:.2f}x |" if base else ""))
    if base and "default" in medians:
        lines += ["", f"Default preset / MiniRocket, median wall time: {medians['default'] / base:.2f}x."]
    if skipped:
        lines += ["", skipped]
    return "\n".join(lines)


def methods_option(text: str) -> list[str]:
    chosen = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"expected a comma list of {', '.join(METHODS)}; got {text!r}")
    return [m for m in METHODS if m in chosen]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bilm.bench time-to-accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", metavar="PATH",
                        help=f"the UCI HAR folder (default: ${UCI_HAR_ENV}, the copy beside the checkout, "
                             "or the downloaded one)")
    parser.add_argument("--seeds", type=int, default=1, metavar="N",
                        help="runs per method, with seeds 0..N-1 (default: 1)")
    parser.add_argument("--threads", type=int, default=2, metavar="T",
                        help="CPU threads for every method (default: 2)")
    parser.add_argument("--device", default="cpu", metavar="DEVICE",
                        help="cpu (default), cuda[:N] or auto, for the default and notebook rows; "
                             "MiniRocket always runs on the CPU")
    parser.add_argument("--only", type=methods_option, default=None, metavar="M,M",
                        help=f"run only these methods, of {','.join(METHODS)} (default: all)")
    parser.add_argument("--minirocket-jobs", type=int, default=1, metavar="N",
                        help="MiniRocket's n_jobs (default: 1, aeon's default; its BLAS gets --threads)")
    parser.add_argument("--epochs-notebook", type=int, default=30, metavar="N",
                        help="epochs of the notebook's loop (default: 30, the notebook's)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the default preset (repeatable), e.g. --set epochs=10")
    parser.add_argument("--out", metavar="DIR",
                        help="keep the default preset's run folders in DIR/default-seedN "
                             "(default: a temporary folder, removed at the end)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the header and every run's row to this JSON file")
    return parser


def bench(args: argparse.Namespace) -> int:
    if args.seeds < 1 or args.threads < 1 or args.epochs_notebook < 1 or args.minirocket_jobs < 1:
        raise cli.UsageError("--seeds, --threads, --minirocket-jobs and --epochs-notebook must be >= 1")
    if any(item.partition("=")[0].strip() == "seed" for item in args.set):
        raise cli.UsageError("--set seed=...: the seeds are 0..N-1 of --seeds")
    try:
        cfg = apply_overrides(get_preset("default"), args.set)
    except ValueError as e:
        raise cli.UsageError(f"--set: {e}") from None
    device = cli.resolve_device(args.device)
    cli.check_data_path(args.data)
    path = Path(args.data).expanduser() if args.data else real_uci_har()
    if path is None:
        raise cli.UsageError(f"no UCI HAR folder found: pass --data PATH, set {UCI_HAR_ENV}, or fetch it "
                             "with `python -m bilm.data download`")
    methods = list(args.only or METHODS)
    skipped = None
    if "minirocket" in methods and minirocket_classifier() is None:
        if args.only:  # asked for by name: nothing to skip to
            raise cli.CommandError(INSTALL_HINT)
        methods.remove("minirocket")
        skipped = f"MiniRocket skipped: {INSTALL_HINT}"
        print(skipped, file=sys.stderr)
    out = Path(args.out) if args.out else None
    if out is not None:
        taken = [str(out / f"default-seed{s}") for s in range(args.seeds) if (out / f"default-seed{s}").exists()]
        if "default" in methods and taken:
            raise cli.UsageError(f"--out {out}: {', '.join(taken)} already exist(s); choose another folder")

    load = load_average()
    data = load_dataset(path)  # once untimed: later loads all read the binary cache alike
    fit_to_data(cfg, data)  # a config that does not fit the data fails here, before any work
    runs: list[Run] = []
    scratch = Path(tempfile.mkdtemp(prefix="bilm-tta-")) if out is None else out
    try:
        for seed in range(args.seeds):
            for method in methods:
                run = isolated(Job(method, seed, path, cfg, scratch / f"default-seed{seed}", str(device),
                                   args.threads, args.minirocket_jobs, args.epochs_notebook))
                runs.append(run)
                print(f"seed {seed}, {method}: {run.wall_seconds:.1f} s, test accuracy "
                      f"{100 * run.test_accuracy:.2f}%, macro-F1 {run.test_macro_f1:.4f}", file=sys.stderr,
                      flush=True)
    finally:
        if out is None:
            shutil.rmtree(scratch, ignore_errors=True)
    info = header(args, data, cfg, methods, device, load)
    print(table(info, runs, methods, skipped))
    if args.json:
        Path(args.json).write_text(json.dumps({"header": info, "skipped": skipped,
                                               "rows": [dataclasses.asdict(r) for r in runs]}, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run("bilm.bench time-to-accuracy", build_parser(), bench, argv)


if __name__ == "__main__":
    sys.exit(main())
