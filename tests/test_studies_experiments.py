"""The accuracy study runner, on tiny generated data and a tiny model."""

from __future__ import annotations

import json

import pytest

from bilm.config import get_preset
from studies import experiments
from test_train_fixtures import ONE_THREAD, TINY_MODEL, make_dataset

TINY_SETS = [*TINY_MODEL, "dropout=0.1", "batch_size=32", "epochs=1"]


def study_args(data, out, *extra):
    args = ["--data", str(data), "--out", str(out), "--variants", "default", "no-vae",
            "--default-seeds", "2", "--seeds", "1", *extra]
    for item in TINY_SETS:
        args += ["--set", item]
    return args


def test_study_trains_each_variant_and_seed_then_reuses_the_runs(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "study"
    assert experiments.main([*study_args(data, out), "--jobs", "2"]) == 0  # two runs at once

    rows = json.loads((out / "results.json").read_text())
    assert [(r["variant"], r["seed"]) for r in rows] == [("default", 0), ("default", 1), ("no-vae", 0)]
    for row in rows:
        assert 0.0 <= row["test_accuracy"] <= 1.0
        assert row["epochs"] == 1 and row["train_seconds"] > 0
    # The two default seeds are different runs: the seed reaches the trainer.
    configs = [json.loads((out / "default" / f"seed-{s}" / "config.json").read_text()) for s in (0, 1)]
    assert configs[0]["config"]["seed"] == 0 and configs[1]["config"]["seed"] == 1
    no_vae = json.loads((out / "no-vae" / "seed-0" / "config.json").read_text())["config"]
    assert no_vae["w_recon"] == 0 and no_vae["w_kl"] == 0
    table = (out / "results.md").read_text()
    assert "| default preset | 2 |" in table and "plain classifier" in table and "~94.8%" in table
    assert table in capsys.readouterr().out

    # A second call reads the finished runs instead of training them again.
    report = out / "default" / "seed-0" / "report.json"
    before = report.stat().st_mtime_ns
    assert experiments.main(study_args(data, out)) == 0
    assert report.stat().st_mtime_ns == before

    # A run trained with other settings is named, not read into the table.
    assert experiments.main([*study_args(data, out), "--set", "lr=0.005"]) == 1
    err = capsys.readouterr().err
    lr = get_preset("default").lr
    assert f"default/seed-0 holds a run with other settings (lr {lr} there, 0.005 now)" in err
    assert report.stat().st_mtime_ns == before


def test_bad_arguments_exit_2_before_any_work(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    assert "missing.npz" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["--seeds", "0", "--out", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["--jobs", "0", "--out", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        experiments.main(["--set", "nonsense=1", "--out", str(tmp_path / "s")])
    assert exit_info.value.code == 2
    assert "unknown config field 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
