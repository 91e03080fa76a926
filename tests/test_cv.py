"""python -m bilm.cv: folds of subjects, each fold's run, the summary, resuming and the errors.

Tiny generated data (6 subjects of class-dependent sine waves) and a tiny model trained for one
epoch, so that a whole cross-validation takes seconds; the built-in dataset paths read files
generated in the exact format of MotionSense and UCI HAR.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_motionsense import HEADER
import test_train_fixtures as fixtures
from test_train_fixtures import CLASSES, windows

from bilm.cv import assign_folds, build_parser, load_windows, main, scores, validation_subjects
from bilm.synth import write_uci_tree

TINY = ["--device", "cpu", *(f"--set={s}" for s in ("epochs=1", "hidden_dim=16", "latent_dim=8", "base_channels=4",
                                                    "num_joints=4", "batch_size=32", "classifier_input=mu",
                                                    "dropout=0.1"))]
single_thread = fixtures.single_thread  # autouse: one CPU thread per test module
SUMMARY_KEYS = {"protocol", "dataset", "preset", "config", "overrides", "macro_f1_mean", "macro_f1_std",
                "accuracy_mean", "balanced_accuracy_mean", "seconds", "folds"}
FOLD_KEYS = {"fold", "test_subjects", "accuracy", "macro_f1", "balanced_accuracy", "windows", "run"}


def make_npz(path: Path, subjects: int = 6, per_subject: int = 8, with_subjects: bool = True) -> Path:
    """Subjects 1..n, the first two thirds in the training part and the rest in the test part."""
    rng = np.random.default_rng(0)
    ids = np.arange(1, subjects + 1)
    arrays = {}
    for split, part in (("train", ids[:2 * subjects // 3]), ("test", ids[2 * subjects // 3:])):
        subject = np.repeat(part, per_subject)
        y = rng.integers(0, len(CLASSES), size=len(subject))
        arrays |= {f"X_{split}": windows(rng, y), f"y_{split}": y.astype(np.int64)}
        if with_subjects:
            arrays[f"subject_{split}"] = subject.astype(np.int64)
    np.savez(path, **arrays, classes=np.array(CLASSES))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A 3-fold cross-validation of 6 subjects, trained once for the tests that read it."""
    folder = tmp_path_factory.mktemp("cv")
    data = make_npz(folder / "six.npz")
    out = folder / "cv"
    assert main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY]) == 0
    return data, out


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_folds_are_a_deterministic_partition_of_the_subjects():
    subjects = list(range(1, 24))
    folds = assign_folds(subjects[::-1] + subjects, 10, seed=3)  # order and repeats do not matter
    assert folds == assign_folds(subjects, 10, seed=3)
    assert sorted(s for fold in folds for s in fold) == subjects
    assert sorted(len(fold) for fold in folds) == [2] * 7 + [3] * 3  # dealt round-robin
    assert all(list(fold) == sorted(fold) for fold in folds)
    assert folds != assign_folds(subjects, 10, seed=4)
    # Fewer subjects than folds: one subject per fold, in id order.
    assert assign_folds([9, 4, 7], 10, seed=3) == [(4,), (7,), (9,)]


@pytest.mark.parametrize("subjects, k", [(24, 10), (30, 10), (5, 10)])
def test_every_subject_validates_about_equally_often(subjects, k):
    folds = assign_folds(range(1, subjects + 1), k, seed=0)
    counts = dict.fromkeys(range(1, subjects + 1), 0)
    for index, fold in enumerate(folds):
        n = max(1, round(0.2 * (subjects - len(fold))))
        held = validation_subjects(folds, index, n)
        assert len(held) == n and not set(held) & set(fold)
        for subject in held:
            counts[subject] += 1
    assert min(counts.values()) >= 1 and max(counts.values()) - min(counts.values()) <= 1


def test_scores_from_the_confusion_matrix():
    # Class 1 is absent from the truth but predicted once: it counts in macro-F1 (as 0), not in
    # balanced accuracy (the mean recall over the classes the truth holds).
    result = scores({"confusion_matrix": [[2, 1, 0], [0, 0, 0], [0, 1, 3]]})
    assert result["accuracy"] == pytest.approx(5 / 7)
    assert result["balanced_accuracy"] == pytest.approx((2 / 3 + 3 / 4) / 2)
    f1 = [2 * 2 / (2 * 2 + 1), 0.0, 2 * 3 / (2 * 3 + 1)]
    assert result["macro_f1"] == pytest.approx(np.mean(f1))
    # A class neither in the truth nor predicted is left out of macro-F1.
    assert scores({"confusion_matrix": [[2, 0, 0], [0, 0, 0], [0, 0, 3]]})["macro_f1"] == 1.0


def test_summary_holds_every_fold_and_their_means(finished):
    data, out = finished
    summary = read(out / "summary.json")
    assert set(summary) == SUMMARY_KEYS
    folds = summary["folds"]
    assert [fold["fold"] for fold in folds] == [1, 2, 3] and all(set(fold) == FOLD_KEYS for fold in folds)
    assert sorted(s for fold in folds for s in fold["test_subjects"]) == [1, 2, 3, 4, 5, 6]
    assert sum(fold["windows"] for fold in folds) == 6 * 8 == summary["dataset"]["windows"]
    for key in ("accuracy", "macro_f1", "balanced_accuracy"):
        assert summary[f"{key}_mean"] == pytest.approx(np.mean([fold[key] for fold in folds]))
    assert summary["macro_f1_std"] == pytest.approx(np.std([fold["macro_f1"] for fold in folds]))
    assert summary["protocol"] == {"windows": {"size": 32, "step": None, "seconds": None, "step_seconds": None,
                                               "sampling_rate": None},
                                   "folds": 3, "val_fraction": 0.2, "seed": 0}
    assert summary["preset"] == "default" and "epochs=1" in summary["overrides"]
    for fold in folds:
        report = read(Path(fold["run"]) / "report.json")
        assert fold["accuracy"] == pytest.approx(report["test_accuracy"])
        assert Path(fold["run"]) == out / f"fold-{fold['fold']:02d}"


def test_each_fold_validates_on_training_subjects_and_tests_on_its_own(finished):
    _, out = finished
    for fold in read(out / "summary.json")["folds"]:
        stored = read(Path(fold["run"]) / "config.json")
        test = set(fold["test_subjects"])
        training = {1, 2, 3, 4, 5, 6} - test
        val = set(stored["data"]["val_subjects"])
        assert len(val) == stored["config"]["val_subjects"] == max(1, round(0.2 * len(training))) == 1
        assert val == set(stored["config"]["val_subject_ids"])
        assert val <= training and not val & test
        assert stored["data"]["test_windows"] == fold["windows"] == 8 * len(test)
        assert stored["data"]["train_windows"] + stored["data"]["val_windows"] == 8 * len(training)


def test_running_again_reads_finished_folds_and_trains_the_missing_one(finished, capsys):
    data, out = finished
    reports = {fold: (out / fold / "report.json").stat().st_mtime_ns for fold in ("fold-01", "fold-02", "fold-03")}
    before = read(out / "summary.json")
    assert main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY]) == 0
    assert "3 of 3 folds already finished" in capsys.readouterr().out
    assert {fold: (out / fold / "report.json").stat().st_mtime_ns for fold in reports} == reports
    after = read(out / "summary.json")
    assert after["folds"] == before["folds"]

    (out / "fold-02" / "report.json").unlink()  # as if stopped before fold 2 was scored
    assert main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY]) == 0
    assert "2 of 3 folds already finished" in capsys.readouterr().out
    assert (out / "fold-01" / "report.json").stat().st_mtime_ns == reports["fold-01"]
    assert (out / "fold-02" / "report.json").is_file()


def test_a_folder_of_another_cross_validation_is_refused(finished, capsys):
    data, out = finished
    assert main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY, "--set", "epochs=2"]) == 1
    assert "fold-01 holds a run with other settings (epochs 1 there, 2 now)" in capsys.readouterr().err
    assert main(["--data", str(data), "--folds", "2", "--out", str(out), *TINY]) == 1
    assert "holds a cross-validation with other folds or windows" in capsys.readouterr().err


def test_leave_one_subject_out_in_two_worker_processes(tmp_path, capsys):
    data = make_npz(tmp_path / "three.npz", subjects=3, per_subject=6)
    out = tmp_path / "loso"
    assert main(["--data", str(data), "--out", str(out), "--jobs", "2", *TINY]) == 0
    printed = capsys.readouterr().out
    assert "3 subjects, fewer than 10 folds: leave-one-subject-out (3 folds)" in printed
    assert f"summary: {out / 'summary.json'}" in printed
    summary = read(out / "summary.json")
    assert summary["protocol"]["folds"] == "loso"
    assert [fold["test_subjects"] for fold in summary["folds"]] == [[1], [2], [3]]
    assert all(read(Path(fold["run"]) / "config.json")["config"]["val_subjects"] == 1 for fold in summary["folds"])


def test_refit_trains_each_fold_on_all_its_training_subjects(tmp_path):
    data = make_npz(tmp_path / "six.npz")
    out = tmp_path / "refit"
    assert main(["--data", str(data), "--folds", "3", "--refit", "--out", str(out), *TINY]) == 0
    summary = read(out / "summary.json")
    assert summary["protocol"]["val_fraction"] == read(out / "plan.json")["protocol"]["val_fraction"] == 0.0
    for fold in summary["folds"]:
        stored = read(Path(fold["run"]) / "config.json")
        training = 6 - len(fold["test_subjects"])
        assert stored["config"]["val_subjects"] == 0 and stored["data"]["val_windows"] == 0
        assert stored["data"]["train_windows"] == 8 * training
    # The same folds with validation are another cross-validation: refused, not mixed in.
    assert main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY]) == 1


def write_motionsense(root: Path, subjects: int = 4, rows: int = 330) -> None:
    """Two trials of every subject in the A_DeviceMotion_data layout, `rows` samples each."""
    rng = np.random.default_rng(1)
    for folder in ("dws_1", "jog_9"):
        for subject in range(1, subjects + 1):
            values = rng.normal(size=(rows, 12)).round(6)
            lines = [HEADER] + [f"{i}," + ",".join(map(repr, row.tolist())) for i, row in enumerate(values)]
            (root / folder).mkdir(parents=True, exist_ok=True)
            (root / folder / f"sub_{subject}.csv").write_text("\n".join(lines) + "\n")


def test_a_built_in_dataset_is_cut_into_3_s_windows(tmp_path):
    root = tmp_path / "A_DeviceMotion_data"
    write_motionsense(root)
    data = load_windows(build_parser().parse_args(["--dataset", "motionsense", "--root", str(root)]))
    # 50 Hz: 150 samples, step 75; 330 samples hold 3 windows; 4 subjects x 2 recordings.
    assert data.X.shape == (4 * 2 * 3, 15, 150) and data.step == 75 and data.subject_ids == [1, 2, 3, 4]
    assert data.windows() == {"size": 150, "step": 75, "seconds": 3.0, "step_seconds": 1.5, "sampling_rate": 50.0}
    assert data.channels[0] == "attitude.roll [rad]" and data.name == "motionsense"

    out = tmp_path / "cv"
    assert main(["--dataset", "motionsense", "--root", str(root), "--folds", "2", "--out", str(out), *TINY]) == 0
    summary = read(out / "summary.json")
    assert summary["protocol"]["windows"]["size"] == 150 and summary["dataset"]["name"] == "motionsense"
    stored = read(out / "fold-01" / "config.json")
    assert stored["config"]["seq_length"] == 150 and stored["config"]["input_channels"] == 15
    # The accelerometer the loader adds (gravity + userAcceleration) turns the gravity frame on.
    assert stored["config"]["gravity_frame"] and (stored["config"]["accel_triple"], stored["config"]["gyro_triple"]) == (4, 2)


@pytest.mark.parametrize("how", ["dataset", "data"])
def test_uci_har_keeps_its_published_windows(tmp_path, how):
    write_uci_tree(tmp_path / "UCI HAR Dataset", 20, 10, seed=1, n_subjects=5)
    args = ["--dataset", "uci-har", "--root", str(tmp_path)] if how == "dataset" else ["--data", str(tmp_path)]
    data = load_windows(build_parser().parse_args(args))
    assert data.X.shape == (30, 9, 128) and data.subject_ids == [1, 2, 3, 4, 5]
    assert data.windows() == {"size": 128, "step": 64, "seconds": 2.56, "step_seconds": 1.28, "sampling_rate": 50.0}
    assert data.name == "uci-har" and data.channels[0] == "body_acc_x [g]"


@pytest.mark.parametrize("args, message", [
    (["--folds", "1"], "--folds 1: at least 2 folds are needed"),
    (["--jobs", "0"], "--jobs 0: at least 1"),
    (["--root", "somewhere"], "--root goes with --dataset NAME"),
    (["--set", "nope=1"], "unknown config field 'nope'"),
])
def test_bad_arguments_exit_2(finished, args, message, capsys):
    data, _ = finished
    with pytest.raises(SystemExit) as stopped:
        main(["--data", str(data), *args])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_errors_name_what_is_wrong(tmp_path, capsys):
    flat = make_npz(tmp_path / "flat.npz", with_subjects=False)
    for args, message in [
        (["--data", str(flat)], f"{flat}: the data has no subject ids"),
        (["--dataset", "pamap2"], "no built-in dataset 'pamap2'; there are: uci-har, motionsense"),
        (["--dataset", "wisdm", "--root", str(tmp_path / "missing")], "--root"),
        (["--data", str(flat), "--out", str(flat)], "a file, not a folder"),
        (["--data", str(make_npz(tmp_path / "three.npz", subjects=3)), "--folds", "2"],
         "a fold leaves 1 training subject(s), and at least 2 are needed"),
    ]:
        with pytest.raises(SystemExit) as stopped:
            main(args)
        assert stopped.value.code == 2 and message in capsys.readouterr().err, args
    # No downloaded copy of a built-in dataset: a failure saying how to get it (exit 1).
    assert main(["--dataset", "wisdm"]) == 1
    assert "python -m bilm.data download wisdm" in capsys.readouterr().err
