"""The learning-curve study, on tiny generated data and a tiny model."""

from __future__ import annotations

import json

import pytest
from test_train_fixtures import ONE_THREAD, TINY_MODEL, make_dataset

from studies import learning_curve

TINY_SET = [*TINY_MODEL, "epochs=2", "batch_size=32"]


def study_args(data, out, *extra):
    return ["--data", str(data), "--out", str(out), "--seeds", "1", *(f"--set={s}" for s in TINY_SET), *extra]


def test_trains_each_size_on_the_same_validation_subjects(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "curve"
    assert learning_curve.main(study_args(data, out, "--sizes", "4", "2", "--jobs", "2")) == 0

    saved = {n: json.loads((out / f"subjects-{n}" / "seed-0" / "config.json").read_text()) for n in (2, 4)}
    assert saved[2]["data"]["val_subjects"] == saved[4]["data"]["val_subjects"]
    assert [saved[n]["data"]["train_windows"] for n in (2, 4)] == [24, 48]  # 12 windows per subject
    table = (out / "learning_curve.md").read_text()
    assert table in capsys.readouterr().out
    assert table.splitlines()[0] == "| seed | 2 subjects | 4 subjects |"
    for line in table.splitlines()[2:]:
        assert all(0 <= float(v) <= 1 for v in line.split("|")[2:4])

    # A second call reads the runs.
    before = (out / "subjects-2" / "seed-0" / "report.json").stat().st_mtime_ns
    assert learning_curve.main(study_args(data, out, "--sizes", "2", "4")) == 0
    assert (out / "subjects-2" / "seed-0" / "report.json").stat().st_mtime_ns == before


def test_first_seed_starts_the_draws_there(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "curve"
    assert learning_curve.main(study_args(data, out, "--sizes", "2", "--first-seed", "3")) == 0
    assert [p.name for p in (out / "subjects-2").iterdir()] == ["seed-3"]
    assert json.loads((out / "subjects-2" / "seed-3" / "config.json").read_text())["config"]["seed"] == 3
    assert (out / "learning_curve.md").read_text().splitlines()[2].startswith("| 3 | ")


@pytest.mark.parametrize("argv, message", [
    (["--first-seed", "-1"], "--first-seed -1"),
    (["--sizes", "5"], "train_subjects=5 but only 4 subjects are left"),
    (["--sizes", "0"], "must be >= 1"),
    (["--set", "nonsense=1"], "unknown config field"),
])
def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys, argv, message):
    data = make_dataset(tmp_path / "tiny.npz", per_subject=4)
    with pytest.raises(SystemExit) as e:
        learning_curve.main(study_args(data, tmp_path / "curve", *argv))
    assert e.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "curve").exists()
