"""Training never looks at the test split; validation is held out by subject; the
standardisation is fitted on the training part only."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from test_train_fixtures import make_dataset, metrics_rows, train_tiny, without_timings
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm.config import BILMConfig
from bilm.preprocess import GravityFrame
from bilm.splits import validation_split


def test_shuffled_test_labels_change_nothing_but_the_report(tmp_path):
    data = make_dataset(tmp_path / "data.npz", per_subject=40)
    arrays = dict(np.load(data))
    arrays["y_test"] = np.random.default_rng(1).permutation(arrays["y_test"])
    shuffled = tmp_path / "shuffled.npz"
    np.savez(shuffled, **arrays)

    a = train_tiny(data, tmp_path / "a", epochs=3)
    b = train_tiny(shuffled, tmp_path / "b", epochs=3)
    assert without_timings(metrics_rows(a)) == without_timings(metrics_rows(b))
    report_a, report_b = (json.loads((r / "report.json").read_text()) for r in (a, b))
    assert report_a["best_epoch"] == report_b["best_epoch"]
    assert report_a["confusion_matrix"] != report_b["confusion_matrix"]  # the labels did reach the report


def test_validation_holds_out_whole_subjects_chosen_by_the_seed():
    subjects = np.repeat(np.arange(1, 22), 10)
    y = np.tile(np.arange(5), 42)
    split = validation_split(y, subjects, BILMConfig(val_subjects=4, seed=3))
    held = set(split.val_subjects)
    assert len(held) == 4 and held == set(subjects[split.val])
    assert not held & set(subjects[split.train])
    assert len(split.train) + len(split.val) == len(y)
    assert validation_split(y, subjects, BILMConfig(val_subjects=4, seed=3)).val_subjects == split.val_subjects
    assert validation_split(y, subjects, BILMConfig(val_subjects=4, seed=4)).val_subjects != split.val_subjects


def test_named_validation_subjects_are_held_out_whatever_the_seed():
    subjects = np.repeat(np.arange(1, 8), 5)
    y = np.tile(np.arange(5), 7)
    for seed in (0, 1):
        split = validation_split(y, subjects, BILMConfig(val_subject_ids=(6, 2), val_subjects=0, seed=seed))
        assert split.val_subjects == (2, 6) and set(subjects[split.val]) == {2, 6}
        assert set(subjects[split.train]) == {1, 3, 4, 5, 7}


@pytest.mark.parametrize("ids, message", [((2, 9), "names subject(s) 9 that the training data does not have"),
                                          ((1, 2, 3, 4, 5, 6, 7), "has only 7 subjects")])
def test_bad_validation_subject_ids_are_refused(ids, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validation_split(np.zeros(35, int), np.repeat(np.arange(1, 8), 5), BILMConfig(val_subject_ids=ids))
    if ids == (2, 9):
        with pytest.raises(ValueError, match="needs subject ids"):
            validation_split(np.tile(np.arange(5), 7), None, BILMConfig(val_subject_ids=ids))


def test_val_subjects_0_holds_out_nothing():
    subjects = np.repeat(np.arange(1, 8), 5)
    for with_subjects in (subjects, None):
        split = validation_split(np.tile(np.arange(5), 7), with_subjects,
                                 BILMConfig(val_subjects=0, select_epoch="last"))
        assert split.train.tolist() == list(range(35)) and len(split.val) == 0 and split.val_subjects == ()


def test_train_subjects_are_nested_and_leave_validation_alone():
    subjects = np.repeat(np.arange(1, 22), 10)
    y = np.tile(np.arange(5), 42)
    full = validation_split(y, subjects, BILMConfig(val_subjects=4, seed=3))
    used = [set(subjects[validation_split(y, subjects, BILMConfig(val_subjects=4, train_subjects=n, seed=3)).train])
            for n in (5, 9, 17)]
    assert [len(u) for u in used] == [5, 9, 17] and used[0] < used[1] < used[2] == set(subjects[full.train])
    for n in (5, 9):
        split = validation_split(y, subjects, BILMConfig(val_subjects=4, train_subjects=n, seed=3))
        assert split.val.tolist() == full.val.tolist()


def test_label_subjects_keep_the_labels_of_the_subjects_train_subjects_would_train_on():
    subjects = np.repeat(np.arange(1, 22), 10)
    y = np.tile(np.arange(5), 42)
    refit = {"val_subjects": 0, "select_epoch": "last", "seed": 3}
    split = validation_split(y, subjects, BILMConfig(label_subjects=4, **refit))
    labelled = set(subjects[np.setdiff1d(split.train, split.unlabeled)])
    assert len(split.train) == 210 and len(split.unlabeled) == 170
    assert labelled == set(subjects[validation_split(y, subjects, BILMConfig(train_subjects=4, **refit)).train])
    assert "(170 of them without their labels)" in split.describe()
    with pytest.raises(ValueError, match="label_subjects=22 but only 21 subjects"):
        validation_split(y, subjects, BILMConfig(label_subjects=22, **refit))
    with pytest.raises(ValueError, match="label_subjects=4 needs subject ids"):
        validation_split(y, None, BILMConfig(label_subjects=4, **refit))


def test_without_subjects_the_split_is_stratified():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    split = validation_split(y, None, BILMConfig(val_fraction=0.2))
    assert split.val_subjects is None
    assert np.bincount(y[split.val]).tolist() == [10, 6, 3, 1]
    assert not set(split.train) & set(split.val)


def test_standardisation_is_fitted_on_the_training_part_only(tmp_path):
    data = make_dataset(tmp_path / "data.npz", per_subject=40)
    arrays = np.load(data)
    run = train_tiny(data, tmp_path / "run", epochs=1)
    held = json.loads((run / "config.json").read_text())["data"]["val_subjects"]
    train_part = arrays["X_train"][~np.isin(arrays["subject_train"], held)]
    with torch.no_grad():  # the default preset standardises the gravity frame's channels too
        train_part = GravityFrame(9, accel_triple=2, gyro_triple=1)(torch.from_numpy(train_part)).numpy()
    saved = torch.load(run / "best.pt", weights_only=True)["standardize"]
    np.testing.assert_allclose(saved["mean"].flatten(), train_part.mean(axis=(0, 2)), atol=1e-5)
    np.testing.assert_allclose(saved["std"].flatten(), train_part.std(axis=(0, 2), ddof=1), rtol=1e-4)
    everything = arrays["X_train"].mean(axis=(0, 2))
    assert not np.allclose(saved["mean"].flatten()[:9], everything, atol=1e-5)
