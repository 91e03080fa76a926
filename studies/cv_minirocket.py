"""The peer row of `python -m bilm.cv`: aeon's MiniRocket under the same folds and windows.

    python -m studies.cv_minirocket --dataset motionsense --out runs/cv-motionsense-minirocket
    python -m studies.cv_minirocket --data "UCI HAR Dataset" --folds 5 --seed 1 --out runs/cv-uci-minirocket
    python -m studies.cv_minirocket --dataset wisdm --root ~/data/WISDM_ar_v1.1 --cv runs/cv-wisdm

It evaluates aeon's MiniRocketClassifier with its defaults (10,000 kernels, its own
RidgeClassifierCV) by subject, under the WHAR Arena v1 protocol exactly as `python -m bilm.cv`
runs it (docs/cv.md): the windows are bilm.cv's (`load_windows`), and the subjects are dealt
into folds by bilm.cv's `assign_folds` with the same --folds and --seed (default: the default
preset's seed, which is bilm.cv's default), so for the same data, --folds and --seed every
fold tests on the same subjects. --cv DIR follows the folds of a bilm.cv folder instead: they
are read from DIR/plan.json, its folds and seed become the defaults, and the command refuses to
run if the plan is of other data or windows, or if its test subjects differ from those that
--folds and --seed deal on these data. Its results then go to DIR/minirocket/ (unless --out
says otherwise).

Each fold trains MiniRocket on the windows of all its training subjects (MiniRocket has no use
for validation data, so none are held out, where bilm holds out 20% of them) and predicts the
fold's test windows. The windows are given as they are: there is no standardisation beyond
what MiniRocket does itself (it scales its own features). MiniRocket is built with
`random_state` = the seed and `n_jobs` = --threads (default 2), set so that it gets the same
threads as the bilm runs it is compared with. The first fold also waits for numba to compile
MiniRocket (some 40 s).

A fold's scores are bilm.cv's (`bilm.cv.scores`, from the fold's confusion matrix): accuracy,
macro-F1 over the classes in the fold's truth or predictions, balanced accuracy over the
classes in its truth. Each finished fold is kept in OUT/fold-XX.json, so that running the same
command again reads it instead of refitting; OUT/plan.json records the folds, and a folder of
another cross-validation is refused. OUT/summary.json has bilm.cv's keys (the protocol, the
data, the folds' means, macro_f1_std the population one, seconds and every fold's scores, here
with each fold's fit_predict_seconds; the protocol's val_fraction is 0, as no subject is held
out for validation), plus `model`, `aeon_version` and `threads`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix

from bilm import cli
from bilm.config import get_preset
from bilm.cv import (DEFAULT_FOLDS, PLAN, SUMMARY, Pooled, assign_folds, check_folds, comparable, load_windows,
                     make_plan, print_table, scores, write_json)
from bilm.data.datasets import DATASETS

PROG = "python -m studies.cv_minirocket"
MODEL = "aeon MiniRocketClassifier (defaults)"
DEFAULT_THREADS = 2
OUT_IN_CV = "minirocket"  # the folder inside a bilm.cv folder (--cv) that holds this study
ROW_KEYS = ("fold", "test_subjects", "accuracy", "macro_f1", "balanced_accuracy", "windows", "fit_predict_seconds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data (one of)").add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", metavar="NAME", help=f"a built-in dataset: {', '.join(DATASETS)}")
    data.add_argument("--data", metavar="PATH", help="a UCI HAR folder, or a dataset .npz with subject ids")
    parser.add_argument("--root", metavar="PATH", help="with --dataset: the dataset's folder "
                                                       "(default: the downloaded copy)")
    protocol = parser.add_argument_group("protocol (bilm.cv's)")
    protocol.add_argument("--folds", type=int, metavar="K",
                          help=f"folds of subjects, at least 2 (default: {DEFAULT_FOLDS}, or --cv's; "
                               "fewer subjects: leave-one-subject-out)")
    protocol.add_argument("--seed", type=int, metavar="S",
                          help="deals the subjects into folds and is MiniRocket's random_state (default: the "
                               f"default preset's seed, {get_preset('default').seed}, or --cv's)")
    protocol.add_argument("--cv", metavar="DIR", help="a bilm.cv folder whose plan.json gives the folds; "
                                                      "the output goes to DIR/minirocket by default")
    run = parser.add_argument_group("run")
    run.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="T",
                     help=f"MiniRocket's n_jobs (default: {DEFAULT_THREADS})")
    run.add_argument("--out", metavar="DIR", help="the study folder (required without --cv)")
    return parser


def minirocket_class() -> type:
    """aeon's MiniRocketClassifier, or a CommandError saying how to install aeon."""
    try:
        from aeon.classification.convolution_based import MiniRocketClassifier
    except ImportError as e:
        raise cli.CommandError(f"aeon is needed for MiniRocket ({e}): pip install aeon") from None
    return MiniRocketClassifier


def aeon_version() -> str:
    import aeon
    return aeon.__version__


def check_args(args: argparse.Namespace) -> None:
    """The options checked before any data is read."""
    if args.folds is not None and args.folds < 2:
        raise cli.UsageError(f"--folds {args.folds}: at least 2 folds are needed (a fold's subjects are tested "
                             "on a model trained on the others)")
    if args.threads < 1:
        raise cli.UsageError(f"--threads {args.threads}: at least 1")
    if args.out is None and args.cv is None:
        raise cli.UsageError("--out DIR is needed (or --cv DIR, which writes into DIR/minirocket)")
    if args.cv is not None and not (Path(args.cv) / PLAN).is_file():
        raise cli.UsageError(f"--cv {args.cv}: no {PLAN} there (not a bilm.cv folder)")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise cli.UsageError(f"--out {args.out}: a file, not a folder")


def protocol_of(args: argparse.Namespace, cv_plan: dict[str, Any] | None, n_subjects: int) -> tuple[int, int]:
    """--folds and --seed, or where not given, the --cv plan's (else bilm.cv's defaults). A plan's
    leave-one-subject-out becomes one fold more than there are subjects, which deals the same."""
    folds, seed = args.folds, args.seed
    if cv_plan is not None:
        planned = cv_plan["protocol"]
        if folds is None:
            folds = n_subjects + 1 if planned["folds"] == "loso" else int(planned["folds"])
        if seed is None:
            seed = int(planned["seed"])
    return (DEFAULT_FOLDS if folds is None else folds), (get_preset("default").seed if seed is None else seed)


def check_cv_plan(cv: Path, cv_plan: dict[str, Any], plan: dict[str, Any], k: int, seed: int) -> None:
    """Refuse to follow a bilm.cv plan of other data or windows, or with other test subjects
    than --folds K --seed S deal on these data."""
    theirs = [tuple(int(s) for s in fold) for fold in cv_plan["test_subjects"]]
    ours = [tuple(fold) for fold in plan["test_subjects"]]
    if theirs != ours:
        differ = [f"fold {n}: {' '.join(map(str, a))} there, {' '.join(map(str, b))} here"
                  for n, (a, b) in enumerate(zip(theirs, ours), start=1) if a != b]
        if len(theirs) != len(ours):
            differ.insert(0, f"{len(theirs)} folds there, {len(ours)} here")
        raise cli.CommandError(f"{cv / PLAN}: its folds differ from those that --folds {k} --seed {seed} deal on "
                               f"these data ({'; '.join(differ[:3])}{'; ...' if len(differ) > 3 else ''}); "
                               "refusing to compare different test subjects")
    if comparable(cv_plan) != comparable(plan):
        raise cli.CommandError(f"{cv / PLAN}: a cross-validation of other data, windows or protocol "
                               f"(its plan: {json.dumps(comparable(cv_plan)['dataset'])}, "
                               f"{json.dumps(cv_plan['protocol'])})")


def check_out(out: Path, plan: dict[str, Any], version: str) -> None:
    """Refuse a folder that holds another cross-validation, or folds fitted by another aeon."""
    saved = out / PLAN
    if saved.is_file() and comparable(json.loads(saved.read_text())) != comparable(plan):
        raise cli.CommandError(f"{out} holds a cross-validation with other folds or windows (see {saved}); "
                               "remove it or choose another --out")
    for path in sorted(out.glob("fold-*.json")):
        other = json.loads(path.read_text()).get("aeon_version")
        if other != version:
            raise cli.CommandError(f"{path} was fitted with aeon {other}, and this is aeon {version}; "
                                   "remove it or choose another --out")


def fold_file(out: Path, number: int) -> Path:
    return out / f"fold-{number:02d}.json"


def fit_predict(data: Pooled, number: int, folds: list[tuple[int, ...]], seed: int, threads: int,
                version: str) -> dict[str, Any]:
    """One fold: MiniRocket fitted on every training subject's windows, scored on the test subjects'."""
    classifier = minirocket_class()
    test = folds[number - 1]
    part = data.fold(number, len(folds), test)
    start = time.perf_counter()
    model = classifier(random_state=seed, n_jobs=threads)
    model.fit(part.X_train, part.y_train)
    predicted = model.predict(part.X_test)
    seconds = time.perf_counter() - start
    matrix = confusion_matrix(part.y_test, predicted, labels=range(len(data.classes)))
    return {"fold": number, "test_subjects": list(test), **scores({"confusion_matrix": matrix}),
            "windows": int(len(part.y_test)), "fit_predict_seconds": seconds,
            "train_windows": int(len(part.y_train)),
            "training_subjects": [int(s) for s in np.unique(part.subject_train)],
            "confusion_matrix": matrix.tolist(), "aeon_version": version}


def run_folds(out: Path, data: Pooled, folds: list[tuple[int, ...]], seed: int, threads: int,
              version: str) -> list[dict[str, Any]]:
    """Every fold's result: read from its fold-XX.json when finished, else fitted and kept there."""
    done = [number for number in range(1, len(folds) + 1) if fold_file(out, number).is_file()]
    if done:
        print(f"{len(done)} of {len(folds)} folds already finished in {out}: read, not refitted", flush=True)
    rows = []
    for number, test in enumerate(folds, start=1):
        path = fold_file(out, number)
        if path.is_file():
            row = json.loads(path.read_text())
            if row["test_subjects"] != list(test):  # plan.json was checked; a stray file is not trusted
                raise cli.CommandError(f"{path} tested subjects {row['test_subjects']}, not {list(test)}; "
                                       "remove it or choose another --out")
        else:
            print(f"fold {number} of {len(folds)}: test subjects {' '.join(map(str, test))}", flush=True)
            row = fit_predict(data, number, folds, seed, threads, version)
            write_json(path, row)
        rows.append(row)
    return rows


def summarize(plan: dict[str, Any], rows: list[dict[str, Any]], threads: int, version: str,
              seconds: float) -> dict[str, Any]:
    """bilm.cv's summary keys, with MiniRocket's fold rows and the model's name and version."""
    rows = [{key: row[key] for key in ROW_KEYS} for row in rows]
    f1 = np.array([row["macro_f1"] for row in rows])
    # plan.json keeps bilm.cv's protocol (to compare with its plans); MiniRocket validates on no one.
    return {"protocol": {**plan["protocol"], "val_fraction": 0.0}, "dataset": plan["dataset"], "model": MODEL, "aeon_version": version,
            "threads": threads,
            "macro_f1_mean": float(f1.mean()), "macro_f1_std": float(f1.std()),
            "accuracy_mean": float(np.mean([row["accuracy"] for row in rows])),
            "balanced_accuracy_mean": float(np.mean([row["balanced_accuracy"] for row in rows])),
            "seconds": seconds, "folds": rows}


def study(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    check_args(args)
    minirocket_class()  # aeon missing: said before the data is read
    version = aeon_version()
    cv = None if args.cv is None else Path(args.cv)
    cv_plan = None if cv is None else json.loads((cv / PLAN).read_text())
    data = load_windows(args)
    subjects = data.subject_ids
    k, seed = protocol_of(args, cv_plan, len(subjects))
    folds = assign_folds(subjects, k, seed)
    check_folds(folds, len(subjects))  # what bilm.cv refuses, this refuses too
    loso = len(subjects) < k
    # MiniRocket trains on every training subject either way; the plan says which bilm.cv it follows.
    refit = cv_plan is not None and cv_plan["protocol"]["val_fraction"] == 0
    plan = make_plan(data, folds, loso, k, seed, refit)
    if cv_plan is not None:
        check_cv_plan(cv, cv_plan, plan, k, seed)
        folds = [tuple(int(s) for s in fold) for fold in cv_plan["test_subjects"]]  # equal to ours: checked
    if loso:
        why = f"fewer than {k} folds" if args.folds is not None or cv_plan is None else f"as {cv / PLAN}"
        print(f"{len(subjects)} subjects, {why}: leave-one-subject-out ({len(folds)} folds)", flush=True)
    out = Path(args.out) if args.out else cv / OUT_IN_CV
    check_out(out, plan, version)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PLAN, plan)
    rows = run_folds(out, data, folds, seed, args.threads, version)
    summary = summarize(plan, rows, args.threads, version, time.perf_counter() - start)
    write_json(out / SUMMARY, summary)
    print(MODEL)
    print_table(summary, out / SUMMARY)
    return 0


def main(argv: list[str] | None = None) -> int:
    return cli.run(PROG, build_parser(), study, argv)


if __name__ == "__main__":
    sys.exit(main())
