"""`python -m studies.cv_ridge`: MiniRocket's ridge beside a finished cross-validation's networks."""

from __future__ import annotations

import json

import pytest
from test_cv import TINY, make_npz
import test_train_fixtures as fixtures

from bilm import cv
from studies import cv_ridge

single_thread = fixtures.single_thread  # autouse: one CPU thread per test module


def last_validation(folder, folds=3) -> list[float]:
    return [json.loads((folder / f"fold-{k:02d}" / "metrics.jsonl").read_text().splitlines()[-1])["val_macro_f1"]
            for k in range(1, folds + 1)]


def column(lines: list[str], index: int) -> list[float]:
    return [float(line.split("|")[index + 2]) for line in lines if line.startswith("| ") and line[2].isdigit()]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_npz(tmp_path_factory.mktemp("ridge") / "six.npz", per_subject=12)


def test_the_study_scores_what_a_run_with_the_ridge_validates_on(data, tmp_path, capsys):
    plain, with_ridge = tmp_path / "plain", tmp_path / "ridge"
    for out, ridge in ((plain, "false"), (with_ridge, "true")):
        assert cv.main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY,
                        "--set", "rocket_features=84", "--set", f"rocket_ridge={ridge}"]) == 0
    capsys.readouterr()
    assert cv_ridge.main([str(plain), "--temperatures", "3", "--out", str(tmp_path / "t.md")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Macro-F1 on each fold's validation subjects:"
    assert lines[2] == "| fold | network | ridge | mean, T=3 |"
    validation = lines[:lines.index("Macro-F1 on each fold's test subjects:")]
    # The network alone is what the plain runs validated on; the mix is what the ridge's runs
    # validated on: the ridge leaves the network's training as it was.
    assert column(validation, 0) == pytest.approx(last_validation(plain), abs=5e-5)
    assert column(validation, 2) == pytest.approx(last_validation(with_ridge), abs=5e-5)
    assert (tmp_path / "t.md").read_text().splitlines() == lines


def test_networks_without_minirockets_features_exit_2(data, tmp_path, capsys):
    out = tmp_path / "none"
    assert cv.main(["--data", str(data), "--folds", "3", "--out", str(out), *TINY, "--set", "rocket_features=0"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cv_ridge.main([str(out)])
    assert e.value.code == 2 and "no MiniRocket features" in capsys.readouterr().err
