"""bilm.synth.write_uci_tree: the exact UCI layout and format, deterministic, learnable."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bilm_fast
from bilm.data import UCI_HAR_CLASSES, UCI_HAR_SIGNALS, signal_path
from bilm.synth import format_fields, write_uci_tree
from uci_text import uci_field

FIELD = rb"(?: [ -]\d\.\d{7}e[+-]\d{3})"
SIGNAL_LINE = re.compile(FIELD + rb"{128}\r\n")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    # More test windows than one formatting batch (4096), so batches are joined too.
    return write_uci_tree(tmp_path_factory.mktemp("synth") / "UCI HAR Dataset", 300, 4100, seed=0, n_subjects=10)


def test_layout(tree):
    assert (tree / "activity_labels.txt").read_text() == "".join(f"{i} {a}\n" for i, a in enumerate(UCI_HAR_CLASSES, 1))
    for split, n in (("train", 300), ("test", 4100)):
        folder = tree / split
        names = {p.name for p in (folder / "Inertial Signals").iterdir()}
        assert names == {f"{c}_{split}.txt" for c in UCI_HAR_SIGNALS}
        for name in (f"y_{split}.txt", f"subject_{split}.txt"):
            lines = (folder / name).read_bytes().split(b"\n")
            assert lines[-1] == b"" and len(lines) == n + 1
            assert all(re.fullmatch(rb"\d+", line) for line in lines[:-1])


def test_signal_text_format(tree):
    for channel in UCI_HAR_SIGNALS:
        data = signal_path(tree, "train", channel).read_bytes()
        lines = data.splitlines(keepends=True)
        assert len(lines) == 300
        assert all(SIGNAL_LINE.fullmatch(line) for line in lines), channel


def test_fields_are_formatted_as_printf_with_a_three_digit_exponent():
    rng = np.random.default_rng(3)
    values = np.concatenate([
        rng.standard_normal(5000) * 10.0 ** rng.integers(-12, 4, 5000),
        [0.0, -0.0, 1.0, -1.0, 9.9999999e-3, 1e-10, 123.456],
        np.nextafter(10.0 ** np.arange(-8, 4), 0), 10.0 ** np.arange(-8, 4),
    ])
    got = [bytes(row).decode() for row in format_fields(values)]
    assert got == [uci_field(v) for v in values]


def test_values_round_trip_through_the_text(tree):
    # Every field says exactly the value that loadtxt and bilm_fast read back.
    path = signal_path(tree, "test", "body_gyro_z")
    values = np.loadtxt(path)
    x, _, _ = bilm_fast.load_uci_har(tree, "test", dtype="float64")
    np.testing.assert_array_equal(x[:, 5, :], values)


def test_labels_and_subjects(tree):
    _, y_train, s_train = bilm_fast.load_uci_har(tree, "train")
    _, y_test, s_test = bilm_fast.load_uci_har(tree, "test")
    assert set(np.unique(y_test)) == set(range(6))
    assert not set(s_train) & set(s_test)
    assert set(s_train) | set(s_test) <= set(range(1, 11))
    assert len(set(s_test)) == 3  # 30% of 10
    assert np.all(np.diff(s_test) >= 0)  # sorted by subject, like the real files


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a, b, c = (write_uci_tree(tmp_path / name, 3, 2, seed=seed) for name, seed in (("a", 7), ("b", 7), ("c", 8)))
    files = [p.relative_to(a) for p in sorted(a.rglob("*.txt"))]
    assert len(files) == 23
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    assert (a / "train/Inertial Signals/body_acc_x_train.txt").read_bytes() != (
        c / "train/Inertial Signals/body_acc_x_train.txt"
    ).read_bytes()


def test_classes_are_learnable(tree):
    """A nearest-centroid rule on two obvious features separates the activities of new subjects."""

    def features(x):
        return np.concatenate([x[:, 6:9].mean(axis=2), 10 * x[:, 0:3].std(axis=2)], axis=1)

    x_train, y_train, _ = bilm_fast.load_uci_har(tree, "train")
    x_test, y_test, _ = bilm_fast.load_uci_har(tree, "test")
    centroids = np.stack([features(x_train[y_train == c]).mean(axis=0) for c in range(6)])
    distances = np.linalg.norm(features(x_test)[:, None, :] - centroids[None], axis=2)
    assert (distances.argmin(axis=1) == y_test).mean() > 0.9


@pytest.mark.parametrize("kwargs", [{"n_train": 0, "n_test": 1}, {"n_train": 1, "n_test": 1, "n_subjects": 1}])
def test_rejects_empty_splits(tmp_path, kwargs):
    with pytest.raises(ValueError):
        write_uci_tree(tmp_path, **kwargs)
