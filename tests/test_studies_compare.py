"""`python -m studies.compare`: candidates paired by seed, from learning-curve study folders."""

from __future__ import annotations

import json

import pytest

from studies import compare


def fake_study(root, name, accuracies, size=17):
    """A study folder whose seed-S run ended at validation accuracy accuracies[S]."""
    for seed, accuracy in accuracies.items():
        run = root / name / f"subjects-{size}" / f"seed-{seed}"
        run.mkdir(parents=True)
        rows = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": accuracy}]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (run / "report.json").write_text("{}")
    return root / name


def test_pairs_the_seeds_every_study_finished(tmp_path, capsys):
    base = fake_study(tmp_path, "base", {0: 0.90, 1: 0.95, 2: 0.99})
    better = fake_study(tmp_path, "better", {0: 0.92, 1: 0.94, 2: 0.1, 3: 0.5})
    (better / "subjects-17" / "seed-2" / "report.json").unlink()  # still training
    assert compare.main([str(base), str(better), "--out", str(tmp_path / "table.md")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines() == [
        "| seed | base | better |",
        "|---:|---:|---:|",
        "| 0 | 90.00 | 92.00 |",
        "| 1 | 95.00 | 94.00 |",
        "| mean | **92.50** | **93.00** |",
        "| vs first | +0.00 (0 up, 0 down) | +0.50 (1 up, 1 down) |",
    ]
    assert (tmp_path / "table.md").read_text() == table


@pytest.mark.parametrize("make, message", [
    (lambda root: fake_study(root, "a", {0: 0.9}, size=9), "holds no study of 17 training subjects"),
    (lambda root: fake_study(root, "a", {5: 0.9}), "no finished seed in common"),
])
def test_studies_that_cannot_be_paired_exit_2(tmp_path, capsys, make, message):
    base = fake_study(tmp_path, "base", {0: 0.9})
    with pytest.raises(SystemExit) as e:
        compare.main([str(base), str(make(tmp_path))])
    assert e.value.code == 2 and message in capsys.readouterr().err


def test_a_run_without_validation_exits_2(tmp_path, capsys):
    study = fake_study(tmp_path, "refit", {0: 0.9})
    (study / "subjects-17" / "seed-0" / "metrics.jsonl").write_text(json.dumps({"epoch": 1}) + "\n")
    with pytest.raises(SystemExit) as e:
        compare.main([str(study)])
    assert e.value.code == 2 and "held out no validation subjects" in capsys.readouterr().err
