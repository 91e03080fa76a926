"""`python -m bilm.evaluate`: the run's report again, and reports on other data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_train_fixtures import make_dataset, train_tiny
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm.evaluate import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    return train_tiny(make_dataset(folder / "data.npz", per_subject=40), folder / "run", epochs=2)


def evaluate(capsys, *argv: str) -> dict:
    assert main([*map(str, argv)]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluating_the_run_folder_gives_its_report_again(run, capsys):
    again = evaluate(capsys, run, "--device", "cpu")  # the run's own data, from config.json
    saved = json.loads((run / "report.json").read_text())
    assert {k: again[k] for k in saved} == saved
    assert again["split"] == "test"


def test_evaluating_other_data_and_writing_a_file(run, tmp_path, capsys):
    other = make_dataset(tmp_path / "other.npz", per_subject=10, seed=5)
    out = tmp_path / "report.json"
    assert main([str(run / "last.pt"), "--data", str(other), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n_test"] == 30 and np.sum(report["confusion_matrix"]) == 30
    assert report["data"] == str(other)
    train = evaluate(capsys, run, "--data", other, "--split", "train")
    assert train["n_test"] == 60


def test_data_with_other_classes_is_refused(run, tmp_path, capsys):
    arrays = dict(np.load(make_dataset(tmp_path / "d.npz", per_subject=5)))
    arrays["classes"] = np.array(["a", "b", "c", "d", "e", "f"])
    np.savez(tmp_path / "renamed.npz", **arrays)
    assert main([str(run), "--data", str(tmp_path / "renamed.npz")]) == 1
    assert "not the model's" in capsys.readouterr().err


def test_missing_checkpoint_and_bad_device(tmp_path, capsys):
    assert main([str(tmp_path / "nothing")]) == 1
    assert "no checkpoint at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([str(tmp_path), "--device", "gpu"])
    assert e.value.code == 2
