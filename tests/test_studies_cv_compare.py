"""`python -m studies.cv_compare`: settings compared fold by fold on validation subjects."""

from __future__ import annotations

import json

import pytest

from studies import cv_compare


def fake_cv(root, name, validation, test, subjects=None, windows=100):
    """A finished bilm.cv folder whose fold k ended at validation[k] and scored test[k]."""
    folder = root / name
    subjects = subjects or [[k + 1] for k in range(len(test))]
    for k, f1 in enumerate(validation):
        run = folder / f"fold-{k + 1:02d}"
        run.mkdir(parents=True)
        rows = [{"epoch": 1, "val_macro_f1": 0.1}, {"epoch": 2, "val_macro_f1": f1}]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    folds = [{"fold": k + 1, "test_subjects": s, "macro_f1": f1} for k, (s, f1) in enumerate(zip(subjects, test))]
    (folder / "summary.json").write_text(json.dumps({"folds": folds}))
    (folder / "plan.json").write_text(json.dumps({"dataset": {"windows": windows}}))
    return folder


def test_tables_pair_the_folds_and_the_nested_choice_follows_validation(tmp_path, capsys):
    base = fake_cv(tmp_path, "base", [0.90, 0.80, 0.70], [0.91, 0.81, 0.60])
    other = fake_cv(tmp_path, "other", [0.95, 0.70, 0.70], [0.85, 0.99, 0.99])
    assert cv_compare.main([str(base), str(other), "--out", str(tmp_path / "t.md")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2:8] == [
        "| fold | base | other |",
        "|---:|---:|---:|",
        "| 1 | 0.9000 | 0.9500 |",
        "| 2 | 0.8000 | 0.7000 |",
        "| 3 | 0.7000 | 0.7000 |",
        "| mean | **0.8000** | **0.7833** |",
    ]
    assert lines[8] == "| vs first | +0.0000 (0 up, 0 down) | -0.0167 (1 up, 1 down) |"
    # Fold 1: other wins on validation; fold 2: base; fold 3: a tie goes to the first.
    assert lines[12:16] == [
        "| fold | base | other | nested choice |",
        "|---:|---:|---:|---:|",
        "| 1 | 0.9100 | 0.8500 | 0.8500 |",
        "| 2 | 0.8100 | 0.9900 | 0.8100 |",
    ]
    assert lines[16] == "| 3 | 0.6000 | 0.9900 | 0.6000 |"
    assert (tmp_path / "t.md").read_text().splitlines() == lines


@pytest.mark.parametrize("change, message", [
    (dict(subjects=[[2], [1], [3]]), "does not hold the folds"),
    (dict(windows=99), "does not hold the folds"),
])
def test_other_folds_exit_2(tmp_path, capsys, change, message):
    base = fake_cv(tmp_path, "base", [0.9] * 3, [0.9] * 3)
    other = fake_cv(tmp_path, "other", [0.9] * 3, [0.9] * 3, **change)
    with pytest.raises(SystemExit) as e:
        cv_compare.main([str(base), str(other)])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_unfinished_or_unvalidated_folders_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        cv_compare.main([str(tmp_path / "none")])
    assert e.value.code == 2 and "no summary.json" in capsys.readouterr().err
    refit = fake_cv(tmp_path, "refit", [0.9], [0.9])
    (refit / "fold-01" / "metrics.jsonl").write_text(json.dumps({"epoch": 1}) + "\n")
    with pytest.raises(SystemExit) as e:
        cv_compare.main([str(refit)])
    assert e.value.code == 2 and "held out no validation subjects" in capsys.readouterr().err
