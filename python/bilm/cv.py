"""Cross-validation by subject, as HAR results are reported: `python -m bilm.cv`.

    python -m bilm.cv --dataset motionsense                  # 10 folds of subjects, the default preset
    python -m bilm.cv --dataset motionsense --preset kinematic --jobs 2  # the preset its validation chose
    python -m bilm.cv --dataset wisdm --root ~/data/WISDM_ar_v1.1 --jobs 2 --out runs/cv-wisdm
    python -m bilm.cv --data "UCI HAR Dataset" --folds 5 --set epochs=5
    python -m bilm.cv --data my.npz --preset seed --seed 1 --device cuda

The protocol (WHAR Arena v1). Windows: a built-in dataset is cut into 3 s windows with 50%
overlap at its own sampling rate (size round(3 * rate), step size // 2); UCI HAR keeps its
published 2.56 s windows (128 samples, 50% overlap), and a dataset .npz its own windows. The
train and test parts of the data are pooled: only subjects count. The subject ids are sorted,
shuffled with the seed and dealt round-robin into K folds (leave-one-subject-out when there
are fewer subjects than K). Each fold tests on its subjects and trains on all the others, of
which round(20%) (at least one) are held out whole for validation: the first subjects of the
folds after it, in turn, so that every subject validates about equally often
(`val_subject_ids`; any value given for it or `val_subjects` is replaced); standardisation is
fitted on the training part only. --refit holds no one out: each fold trains on all its
training subjects, for settings already chosen on validation subjects (as the default preset
trains on every training subject of UCI HAR's official split), and for a peer that trains on
all of them too (studies.cv_minirocket). Each fold is an ordinary run folder, DIR/fold-01 ...
DIR/fold-K, trained by `bilm.fit`: running the same command again reads the finished folds
(those with a report.json), resumes a stopped one and trains the rest. DIR/plan.json records
the folds, so that a folder of another cross-validation (other folds, windows or settings) is
refused. --jobs N trains N folds at once in worker processes.

DIR/summary.json holds the protocol, the data, the settings, every fold's scores and their
means. A fold's scores come from the confusion matrix of its report.json (rows = true class,
columns = predicted class: expanded into one (truth, prediction) pair per test window, which
is exactly what the metrics read), scored by scikit-learn: accuracy_score;
f1_score(average="macro") over the classes in the fold's truth or predictions (a class that
the fold's test subjects never did and the model never predicted is left out, whereas
report.json's test_macro_f1 counts it as 0); balanced_accuracy_score, the mean recall over
the classes in the fold's truth. macro_f1_std is the population standard deviation
(numpy's default, ddof=0) of the folds' macro-F1; seconds is this command's wall time (a
rerun that only reads finished folds takes little).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from bilm import cli
from bilm.checkpoint import write_json
from bilm.config import PRESETS, BILMConfig, apply_overrides, get_preset
from bilm.data import HARData
from bilm.data.datasets import DATASETS, RecordingSet, dataset, uci_har
from bilm.data.npz import SensorData, with_meta
from bilm.data.windows import cut_recording_set
from bilm.parallel import in_parallel
from bilm.rundir import RunDir
from bilm.train import load_config_file
from bilm.training import fit, refuse_other_settings

PROG = "bilm-cv"
WINDOW_SECONDS = 3.0
VAL_FRACTION = 0.2
DEFAULT_FOLDS = 10
PLAN = "plan.json"  # the folds of a cross-validation folder, checked when it is run again
SUMMARY = "summary.json"


@dataclass(frozen=True)
class Pooled:
    """Every window of a dataset, its train and test parts together, with its subject.

    `step` is the samples between window starts (None for a .npz, which does not say)."""

    X: np.ndarray
    y: np.ndarray
    subjects: np.ndarray
    classes: tuple[str, ...]
    channels: tuple[str, ...] | None
    sampling_rate: float | None
    source: str
    name: str | None
    step: int | None

    @property
    def subject_ids(self) -> list[int]:
        return [int(s) for s in np.unique(self.subjects)]

    def windows(self) -> dict[str, Any]:
        """The window sizes as summary.json records them, in samples and (rate known) seconds."""
        size, rate = self.X.shape[2], self.sampling_rate
        return {"size": size, "step": self.step, "seconds": None if rate is None else size / rate,
                "step_seconds": None if rate is None or self.step is None else self.step / rate,
                "sampling_rate": rate}

    def probe(self) -> SensorData:
        """One window as both parts: the data's shape, classes and sensors, without a copy of it."""
        return SensorData(self.X[:1], self.y[:1], self.X[:1], self.y[:1], None, None, classes=self.classes,
                          source=self.source, channels=self.channels, sampling_rate=self.sampling_rate)

    def fold(self, number: int, folds: int, test: Sequence[int]) -> SensorData:
        """The fold's data: its subjects' windows as the test part, everyone else's as training."""
        in_test = np.isin(self.subjects, test)
        train, held = np.flatnonzero(~in_test), np.flatnonzero(in_test)
        # Not a path: a fold's data exists only here, so a tool that reloads a run's data from
        # its config.json says so instead of scoring the run on the whole dataset.
        source = f"{self.source} (fold {number} of {folds}: test subjects {' '.join(map(str, test))})"
        return SensorData(self.X[train], self.y[train], self.X[held], self.y[held], self.subjects[train],
                          self.subjects[held], classes=self.classes, source=source, channels=self.channels,
                          sampling_rate=self.sampling_rate)


@dataclass(frozen=True)
class FoldTask:
    """One fold to train, sent whole to a worker process."""

    data: SensorData
    config: BILMConfig
    out: Path
    device: str


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data (one of)").add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", metavar="NAME", help=f"a built-in dataset: {', '.join(DATASETS)}")
    data.add_argument("--data", metavar="PATH", help="a UCI HAR folder, or a dataset .npz with subject ids")
    parser.add_argument("--root", metavar="PATH", help="with --dataset: the dataset's folder "
                                                       "(default: the downloaded copy)")
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument("--folds", type=int, default=DEFAULT_FOLDS, metavar="K",
                          help="folds of subjects, at least 2 (default: 10; fewer subjects: leave-one-subject-out)")
    protocol.add_argument("--refit", action="store_true",
                          help="train each fold on all its training subjects, none held out for validation "
                               "(settings already chosen on validation subjects)")
    protocol.add_argument("--seed", type=int, help="deals the subjects into folds and seeds every run "
                                                   "(default: the config's seed)")
    config = parser.add_argument_group("configuration of every fold (docs/options.md)")
    config.add_argument("--preset", choices=tuple(PRESETS), default="default", help="the preset (default: default)")
    config.add_argument("--config", metavar="FILE", help="a TOML file of field = value, or a run's config.json")
    config.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field, e.g. --set epochs=5 (repeatable)")
    run = parser.add_argument_group("run")
    run.add_argument("--out", metavar="DIR", help="the cross-validation folder (default: runs/cv-<data>)")
    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="folds trained at once in worker processes, each with CPUs / N threads (default: 1)")
    run.add_argument("--device", default="auto", help=cli.DEVICE_HELP)
    return parser


def make_config(args: argparse.Namespace) -> BILMConfig:
    """preset, then --config, then --set, then --seed; UsageError on a bad value."""
    try:
        cfg = get_preset(args.preset)
        if args.config:
            cfg = load_config_file(Path(args.config), cfg)
        cfg = apply_overrides(cfg, args.overrides)
    except (ValueError, FileNotFoundError) as e:
        raise cli.UsageError(str(e)) from None
    return cfg if args.seed is None else dataclasses.replace(cfg, seed=args.seed)


def load_windows(args: argparse.Namespace) -> Pooled:
    """The pooled windows of --dataset NAME [--root] or --data PATH."""
    if args.root is not None and args.dataset is None:
        raise cli.UsageError("--root goes with --dataset NAME")
    if args.dataset is None:
        cli.check_data_path(args.data)
        data = cli.load_data(args.data, download=False)
        return uci_windows(data) if Path(data.source).is_dir() else pooled(data, None, None)
    try:
        spec = dataset(args.dataset)
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    cli.check_data_path(args.root, "--root")
    root = spec.find_root(args.root)  # FileNotFoundError saying how to get the dataset
    if spec.name == uci_har.NAME:  # published as windows: keep them
        return uci_windows(cli.load_data(str(root), download=False))
    return dataset_windows(spec.load(root), spec.name)


def dataset_windows(recordings: RecordingSet, name: str) -> Pooled:
    """A built-in dataset's recordings cut into 3 s windows with 50% overlap."""
    size = round(WINDOW_SECONDS * recordings.sampling_rate)
    subjects = recordings.subject_ids
    if len(subjects) < 2:
        raise cli.UsageError(f"{recordings.source}: cross-validation by subject needs several subjects; "
                             f"it has {len(subjects)}")
    # A "test part" of one subject (the one with the longest recording, so that it has windows)
    # only so that no recording is split in time: every recording is windowed whole, and the
    # two parts are pooled again.
    longest = int(recordings.subjects[np.argmax(np.diff(recordings.bounds))])
    data = cut_recording_set(recordings, size=size, step=size // 2, test_subjects=[longest])
    return pooled(data, name, size // 2)


def uci_windows(data: HARData) -> Pooled:
    """A UCI HAR folder's windows as published (128 samples, 50% overlap), with its channels."""
    return pooled(with_meta(data, uci_har.CHANNELS, uci_har.SAMPLING_RATE), uci_har.NAME, uci_har.WINDOW // 2)


def pooled(data: HARData, name: str | None, step: int | None) -> Pooled:
    if data.subject_train is None or data.subject_test is None:
        raise cli.UsageError(f"{data.source}: the data has no subject ids (subject_train, subject_test), "
                             "so it cannot be split by subject")
    channels, rate = getattr(data, "channels", None), getattr(data, "sampling_rate", None)
    return Pooled(np.concatenate([data.X_train, data.X_test]), np.concatenate([data.y_train, data.y_test]),
                  np.concatenate([data.subject_train, data.subject_test]), tuple(data.classes), channels, rate,
                  data.source, name, step)


def assign_folds(subjects: Iterable[int], folds: int, seed: int) -> list[tuple[int, ...]]:
    """The test subjects of each fold: sorted ids shuffled with `seed`, dealt round-robin into
    `folds` groups; one subject per fold, in id order, when there are fewer subjects than folds."""
    ids = sorted({int(s) for s in subjects})
    if len(ids) < folds:
        return [(s,) for s in ids]
    order = np.random.default_rng(seed).permutation(ids)
    return [tuple(sorted(int(s) for s in order[i::folds])) for i in range(folds)]


def check_folds(folds: list[tuple[int, ...]], n_subjects: int) -> None:
    """Every fold must leave two training subjects: one to train on, one to validate on."""
    left = n_subjects - max(len(fold) for fold in folds)
    if left < 2:
        raise cli.UsageError(f"with {n_subjects} subjects in {len(folds)} folds, a fold leaves {left} training "
                             "subject(s), and at least 2 are needed (training and validation): use more folds")


def fold_config(cfg: BILMConfig, folds: list[tuple[int, ...]], index: int, refit: bool) -> BILMConfig:
    """Fold `index`'s settings: which of its training subjects validate, if any."""
    if refit:
        return dataclasses.replace(cfg, val_subjects=0, val_subject_ids=())
    n = max(1, round(VAL_FRACTION * sum(len(fold) for k, fold in enumerate(folds) if k != index)))
    return dataclasses.replace(cfg, val_subjects=n, val_subject_ids=validation_subjects(folds, index, n))


def validation_subjects(folds: list[tuple[int, ...]], index: int, n: int) -> tuple[int, ...]:
    """The first n subjects of the folds after fold `index`, in turn, so that every subject
    validates about as often as any other. (A draw with the run's seed would pick the same
    positions among every fold's training subjects: on MotionSense, 12 of the 24 subjects
    validated every fold between them, and the other 12 never.)"""
    following = [subject for k in range(1, len(folds)) for subject in folds[(index + k) % len(folds)]]
    return tuple(sorted(following[:n]))


def fold_dir(out: Path, number: int) -> Path:
    return out / f"fold-{number:02d}"


def check_out(out: Path, plan: dict[str, Any], configs: dict[Path, BILMConfig], probe: HARData) -> None:
    """Refuse a folder that holds another cross-validation (other folds, windows or settings),
    which would otherwise enter the summary unnoticed. A fold's settings are compared as its
    run stored them, fitted to the data (`probe` has the data's shape, classes and sensors)."""
    saved = out / PLAN
    if saved.is_file() and comparable(json.loads(saved.read_text())) != comparable(plan):
        raise cli.CommandError(f"{out} holds a cross-validation with other folds or windows (see {saved}); "
                               "remove it or choose another --out")
    for run_dir, expected in configs.items():
        refuse_other_settings(RunDir(run_dir), expected, probe)


def comparable(plan: dict[str, Any]) -> dict[str, Any]:
    """A plan without the data's path: the same data may have moved."""
    return {**plan, "dataset": {k: v for k, v in plan["dataset"].items() if k != "source"}}


def train_fold(task: FoldTask) -> None:
    """Train one fold, or resume it where a stopped command left it (a module-level function,
    so that a worker process can be sent it by name)."""
    run = RunDir(task.out)
    fit(task.config, task.data, task.out, resume=run.holds_run(), device=task.device, progress=False)


def scores(report: dict[str, Any]) -> dict[str, float]:
    """accuracy, macro_f1 and balanced_accuracy of a run, from its report.json's confusion matrix."""
    matrix = np.asarray(report["confusion_matrix"], dtype=np.int64)
    truth, predicted = np.indices(matrix.shape)
    y_true, y_pred = np.repeat(truth.ravel(), matrix.ravel()), np.repeat(predicted.ravel(), matrix.ravel())
    with warnings.catch_warnings():  # a class predicted but absent from the truth: left out, as documented
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
            "balanced_accuracy": float(balanced)}


def summarize(plan: dict[str, Any], settings: dict[str, Any], folds: list[tuple[int, ...]], out: Path,
              seconds: float) -> dict[str, Any]:
    rows = []
    for number, test in enumerate(folds, start=1):
        run = RunDir(fold_dir(out, number))
        report = json.loads(run.report.read_text())
        rows.append({"fold": number, "test_subjects": list(test), **scores(report), "windows": report["n_test"],
                     "run": str(run.path)})
    f1 = np.array([row["macro_f1"] for row in rows])
    return {"protocol": plan["protocol"], "dataset": plan["dataset"], **settings,
            "macro_f1_mean": float(f1.mean()), "macro_f1_std": float(f1.std()),
            "accuracy_mean": float(np.mean([row["accuracy"] for row in rows])),
            "balanced_accuracy_mean": float(np.mean([row["balanced_accuracy"] for row in rows])),
            "seconds": seconds, "folds": rows}


def print_table(summary: dict[str, Any], path: Path) -> None:
    print(f"{'fold':>4}  {'accuracy':>8}  {'macro-F1':>8}  test subjects")
    for row in summary["folds"]:
        print(f"{row['fold']:>4}  {100 * row['accuracy']:7.2f}%  {row['macro_f1']:8.4f}  "
              f"{' '.join(map(str, row['test_subjects']))}")
    print(f"mean  {100 * summary['accuracy_mean']:7.2f}%  {summary['macro_f1_mean']:8.4f}  "
          f"(macro-F1 std {summary['macro_f1_std']:.4f}; balanced accuracy "
          f"{100 * summary['balanced_accuracy_mean']:.2f}%)")
    print(f"summary: {path}")


def default_out(data: Pooled) -> Path:
    name = data.name or Path(data.source).stem
    return Path("runs") / f"cv-{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-') or 'data'}"


def checked_config(args: argparse.Namespace) -> BILMConfig:
    """The options checked before any data is read, and every fold's base config."""
    if args.folds < 2:
        raise cli.UsageError(f"--folds {args.folds}: at least 2 folds are needed (a fold's subjects are tested "
                             "on a model trained on the others)")
    if args.jobs < 1:
        raise cli.UsageError(f"--jobs {args.jobs}: at least 1")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise cli.UsageError(f"--out {args.out}: a file, not a folder")
    cli.resolve_device(args.device)  # refused here, not in every fold
    return make_config(args)


def make_plan(data: Pooled, folds: list[tuple[int, ...]], loso: bool, k: int, seed: int,
              refit: bool) -> dict[str, Any]:
    """plan.json: the protocol, the data and each fold's test subjects."""
    return {"protocol": {"windows": data.windows(), "folds": "loso" if loso else k,
                         "val_fraction": 0.0 if refit else VAL_FRACTION, "seed": seed},
            "dataset": {"name": data.name, "source": data.source, "subjects": len(data.subject_ids),
                        "windows": len(data.y), "classes": list(data.classes)},
            "test_subjects": [list(fold) for fold in folds]}


def train_missing(out: Path, data: Pooled, folds: list[tuple[int, ...]], configs: dict[Path, BILMConfig],
                  args: argparse.Namespace) -> None:
    """Train (or resume) every fold without a report.json; the finished ones are only read."""
    todo = [number for number, run_dir in enumerate(configs, start=1) if not RunDir(run_dir).report.is_file()]
    if len(todo) < len(folds):
        print(f"{len(folds) - len(todo)} of {len(folds)} folds already finished in {out}: read, not retrained",
              flush=True)
    # A generator: each fold's data (most of the dataset) is built only when it is trained.
    tasks = (FoldTask(data.fold(number, len(folds), folds[number - 1]), configs[fold_dir(out, number)],
                      fold_dir(out, number), args.device) for number in todo)
    in_parallel(train_fold, tasks, min(args.jobs, len(todo)))


def cross_validate(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    cfg = checked_config(args)
    data = load_windows(args)
    subjects = data.subject_ids
    folds = assign_folds(subjects, args.folds, cfg.seed)
    check_folds(folds, len(subjects))
    loso = len(subjects) < args.folds
    if loso:
        print(f"{len(subjects)} subjects, fewer than {args.folds} folds: leave-one-subject-out "
              f"({len(folds)} folds)", flush=True)
    out = Path(args.out) if args.out else default_out(data)
    plan = make_plan(data, folds, loso, args.folds, cfg.seed, args.refit)
    configs = {fold_dir(out, number): fold_config(cfg, folds, number - 1, args.refit)
               for number in range(1, len(folds) + 1)}
    check_out(out, plan, configs, data.probe())
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PLAN, plan)
    train_missing(out, data, folds, configs, args)
    settings = {"preset": args.preset, "config": args.config, "overrides": list(args.overrides)}
    summary = summarize(plan, settings, folds, out, time.perf_counter() - start)
    write_json(out / SUMMARY, summary)
    print_table(summary, out / SUMMARY)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(PROG, build_parser(), cross_validate, argv)


if __name__ == "__main__":
    sys.exit(main())
