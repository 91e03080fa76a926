"""The epoch-selection check, on tiny generated data and a tiny model."""

from __future__ import annotations

import json

import pytest
from test_train_fixtures import ONE_THREAD, TINY_MODEL, make_dataset

from studies import selection
from bilm.train import main as train_main

TINY_SET = [*TINY_MODEL, "epochs=3", "batch_size=32"]


def study_args(data, out, *extra):
    return ["--data", str(data), "--out", str(out), "--seeds", "2", *(f"--set={s}" for s in TINY_SET), *extra]


def test_keeps_every_epoch_and_compares_the_rules(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "selection"
    assert selection.main(study_args(data, out, "--jobs", "2")) == 0

    for seed in (0, 1):
        run = out / f"seed-{seed}"
        assert sorted(p.name for p in run.glob("epoch-*.pt")) == ["epoch-001.pt", "epoch-002.pt", "epoch-003.pt"]
        assert json.loads((run / "config.json").read_text())["config"]["seed"] == seed
    table = (out / "selection.md").read_text()
    assert table in capsys.readouterr().out
    rows = [line.split("|")[2:5] for line in table.splitlines()[2:]]
    assert len(rows) == 3  # two seeds and the mean
    for chosen, last, hindsight in ([float(v) for v in row] for row in rows):
        assert 0 <= chosen <= hindsight <= 1 and 0 <= last <= hindsight

    # A second call reuses the runs.
    before = (out / "seed-0" / "epoch-001.pt").stat().st_mtime_ns
    assert selection.main(study_args(data, out)) == 0
    assert (out / "seed-0" / "epoch-001.pt").stat().st_mtime_ns == before
    # ...only if they hold the runs asked for.
    assert selection.main(study_args(data, out, "--set", "epochs=2")) == 1
    assert "seed-0 holds a run with other settings (epochs 3 there, 2 now)" in capsys.readouterr().err


def test_a_run_without_kept_epochs_is_named(tmp_path, capsys):
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "selection"
    assert train_main(["--data", str(data), "--out", str(out / "seed-0"), "--no-progress", "--device", "cpu",
                       *(f"--set={s}" for s in TINY_SET)]) == 0
    assert selection.main(study_args(data, out, "--seeds", "1")) == 1
    assert "trained without --keep-epochs" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0"], "--seeds and --jobs"),
    (["--set", "val_subjects=1"], "needs 2 or more"),
    (["--set", "nonsense=1"], "unknown config field"),
])
def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        selection.main(["--out", str(tmp_path / "s"), *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
