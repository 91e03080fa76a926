"""The MiniRocket peer of bilm.cv: the same folds, bilm.cv's scores, resuming, following a plan.

Tiny generated data (6 subjects of class-dependent sine waves, test_cv's); MiniRocket is fitted
on one thread. The first fit waits for numba to compile MiniRocket, so the study runs once for
the module and the tests read it; the refits after that take a second or so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_cv import make_npz, read

from bilm.cv import assign_folds, build_parser, load_windows, make_plan
from studies.cv_minirocket import main

SUBJECTS, PER_SUBJECT = 6, 20
SUMMARY_KEYS = {"protocol", "dataset", "model", "aeon_version", "threads", "macro_f1_mean", "macro_f1_std",
                "accuracy_mean", "balanced_accuracy_mean", "seconds", "folds"}
FOLD_KEYS = {"fold", "test_subjects", "accuracy", "macro_f1", "balanced_accuracy", "windows", "fit_predict_seconds"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A 3-fold study of 6 subjects, run once for the tests that read it."""
    pytest.importorskip("aeon")
    folder = tmp_path_factory.mktemp("minirocket")
    data = make_npz(folder / "six.npz", subjects=SUBJECTS, per_subject=PER_SUBJECT)
    out = folder / "study"
    assert main(["--data", str(data), "--folds", "3", "--threads", "1", "--out", str(out)]) == 0
    return data, out


def bilm_cv_plan(data: Path, folds: int, seed: int) -> dict:
    """The plan.json that `python -m bilm.cv --data DATA --folds K --seed S` writes."""
    pooled = load_windows(build_parser().parse_args(["--data", str(data)]))
    return make_plan(pooled, assign_folds(pooled.subject_ids, folds, seed), False, folds, seed, refit=False)


def mtimes(out: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in sorted(out.glob("fold-*.json"))}


def test_summary_has_bilm_cv_keys_folds_and_scores(finished, capsys):
    import aeon

    data, out = finished
    summary = read(out / "summary.json")
    assert set(summary) == SUMMARY_KEYS
    assert summary["model"] == "aeon MiniRocketClassifier (defaults)" and summary["aeon_version"] == aeon.__version__
    folds = summary["folds"]
    assert all(set(fold) == FOLD_KEYS for fold in folds) and [fold["fold"] for fold in folds] == [1, 2, 3]
    # The same test subjects as bilm.cv deals with the same --folds and (default) seed.
    expected = assign_folds(range(1, SUBJECTS + 1), 3, 0)
    assert [tuple(fold["test_subjects"]) for fold in folds] == expected
    assert read(out / "plan.json") == bilm_cv_plan(data, 3, 0)
    assert summary["protocol"] == {"windows": {"size": 32, "step": None, "seconds": None, "step_seconds": None,
                                               "sampling_rate": None},
                                   "folds": 3, "val_fraction": 0.0, "seed": 0}
    for fold in folds:
        assert fold["windows"] == PER_SUBJECT * len(fold["test_subjects"]) and fold["fit_predict_seconds"] > 0
        kept = read(out / f"fold-{fold['fold']:02d}.json")
        assert {key: kept[key] for key in FOLD_KEYS} == fold
        # Trained on every other subject, none held out for validation.
        assert kept["training_subjects"] == sorted(set(range(1, SUBJECTS + 1)) - set(fold["test_subjects"]))
        assert kept["train_windows"] == PER_SUBJECT * (SUBJECTS - len(fold["test_subjects"]))
        assert np.sum(kept["confusion_matrix"]) == fold["windows"]
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        assert summary[f"{key}_mean"] == pytest.approx(np.mean([fold[key] for fold in folds]))
    assert summary["macro_f1_std"] == pytest.approx(np.std([fold["macro_f1"] for fold in folds]))
    assert summary["accuracy_mean"] > 0.6 and summary["macro_f1_mean"] > 0.5  # chance: 1/6

    main(["--data", str(data), "--folds", "3", "--threads", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "aeon MiniRocketClassifier (defaults)" in printed and f"summary: {out / 'summary.json'}" in printed
    assert "   1  " in printed and "mean  " in printed


def test_running_again_reads_finished_folds_and_fits_the_missing_one(finished, capsys):
    data, out = finished
    before, summary = mtimes(out), read(out / "summary.json")
    assert len(before) == 3
    argv = ["--data", str(data), "--folds", "3", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    assert "3 of 3 folds already finished" in capsys.readouterr().out
    assert mtimes(out) == before and read(out / "summary.json")["folds"] == summary["folds"]

    (out / "fold-02.json").unlink()  # as if stopped before fold 2 was finished
    assert main(argv) == 0
    assert "2 of 3 folds already finished" in capsys.readouterr().out
    after = mtimes(out)
    assert after["fold-01.json"] == before["fold-01.json"] and after["fold-03.json"] == before["fold-03.json"]
    refitted = read(out / "summary.json")["folds"][1]
    assert {k: v for k, v in refitted.items() if k != "fit_predict_seconds"} == \
           {k: v for k, v in summary["folds"][1].items() if k != "fit_predict_seconds"}  # seeded: the same


def test_a_folder_of_another_cross_validation_is_refused(finished, capsys):
    data, out = finished
    assert main(["--data", str(data), "--folds", "2", "--threads", "1", "--out", str(out)]) == 1
    assert "holds a cross-validation with other folds or windows" in capsys.readouterr().err


def test_cv_follows_a_bilm_cv_plan_into_its_folder(finished, tmp_path, capsys):
    data, _ = finished
    cv = tmp_path / "cv"
    cv.mkdir()
    (cv / "plan.json").write_text(json.dumps(bilm_cv_plan(data, 2, 5)))
    assert main(["--data", str(data), "--threads", "1", "--cv", str(cv)]) == 0  # folds and seed: the plan's
    summary = read(cv / "minirocket" / "summary.json")
    assert [tuple(fold["test_subjects"]) for fold in summary["folds"]] == assign_folds(range(1, 7), 2, 5)
    assert summary["protocol"]["folds"] == 2 and summary["protocol"]["seed"] == 5
    assert read(cv / "minirocket" / "plan.json") == read(cv / "plan.json")


def test_cv_refuses_a_plan_with_other_folds_or_data(finished, tmp_path, capsys):
    data, _ = finished
    cv = tmp_path / "cv"
    cv.mkdir()
    plan = bilm_cv_plan(data, 3, 0)
    first, second = plan["test_subjects"][:2]
    plan["test_subjects"][:2] = [sorted([second[0], *first[1:]]), sorted([first[0], *second[1:]])]
    (cv / "plan.json").write_text(json.dumps(plan))
    assert main(["--data", str(data), "--threads", "1", "--cv", str(cv)]) == 1
    err = capsys.readouterr().err
    assert f"{cv / 'plan.json'}: its folds differ from those that --folds 3 --seed 0 deal on these data" in err
    assert "fold 1: " in err and not (cv / "minirocket").exists()

    # The plan's own folds, but --folds and --seed that deal others.
    (cv / "plan.json").write_text(json.dumps(bilm_cv_plan(data, 3, 0)))
    assert main(["--data", str(data), "--threads", "1", "--cv", str(cv), "--seed", "1"]) == 1
    assert "its folds differ from those that --folds 3 --seed 1 deal" in capsys.readouterr().err

    # The same subjects and folds, but other data (other classes).
    other = bilm_cv_plan(data, 3, 0)
    other["dataset"]["classes"] = other["dataset"]["classes"][::-1]
    (cv / "plan.json").write_text(json.dumps(other))
    assert main(["--data", str(data), "--threads", "1", "--cv", str(cv)]) == 1
    assert "a cross-validation of other data, windows or protocol" in capsys.readouterr().err
    assert not (cv / "minirocket").exists()


def test_without_aeon_it_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    data = make_npz(tmp_path / "six.npz")
    monkeypatch.setitem(sys.modules, "aeon.classification.convolution_based", None)  # import fails
    assert main(["--data", str(data), "--out", str(tmp_path / "out")]) == 1
    assert "pip install aeon" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("args, message", [
    (["--folds", "1", "--out", "x"], "--folds 1: at least 2 folds are needed"),
    (["--threads", "0", "--out", "x"], "--threads 0: at least 1"),
    ([], "--out DIR is needed"),
    (["--cv", "nowhere"], "--cv nowhere: no plan.json there"),
    (["--root", "somewhere", "--out", "x"], "--root goes with --dataset NAME"),
])
def test_bad_arguments_exit_2(tmp_path, args, message, capsys):
    pytest.importorskip("aeon")
    data = make_npz(tmp_path / "six.npz")
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(data), *args])
    assert stopped.value.code == 2 and message in capsys.readouterr().err

