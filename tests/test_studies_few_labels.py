"""The few-labels study, on tiny generated data and a tiny model."""

from __future__ import annotations

import json

from test_train_fixtures import ONE_THREAD, TINY_MODEL, make_dataset

from studies import few_labels

TINY_SETS = [*(s for s in TINY_MODEL if not s.startswith("val_subjects")), "dropout=0.1", "batch_size=32",
             "epochs=1"]


def test_each_variant_trains_on_what_it_says(tmp_path, monkeypatch, capsys):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)  # 6 training subjects
    out = tmp_path / "study"
    argv = ["--data", str(data), "--out", str(out), "--labelled", "2", "--seeds", "1", "--set", "w_biomech=1"]
    assert few_labels.main([*argv, *(a for s in TINY_SETS for a in ("--set", s))]) == 0

    rows = json.loads((out / "few_labels.json").read_text())
    assert [r["variant"] for r in rows] == list(few_labels.VARIANTS)
    saved = {r["variant"]: json.loads((out / r["variant"].replace(" ", "-") / "labelled-2" / "seed-0"
                                       / "config.json").read_text()) for r in rows}
    assert saved["all windows"]["data"]["train_windows"] == 72  # every window of the 6 subjects
    assert saved["labelled only"]["data"]["train_windows"] == 24  # the 2 labelled subjects' windows
    assert saved["without physics"]["config"]["w_biomech"] == 0  # the variant's own, over --set
    assert saved["all windows"]["config"]["w_biomech"] == 1
    assert saved["self-training"]["config"]["pseudo_label_threshold"] == 0.8
    assert saved["all windows"]["config"]["pseudo_label_threshold"] == 0
    assert "without their labels" in capsys.readouterr().out
    table = (out / "few_labels.md").read_text()
    assert table.splitlines()[0] == ("| labelled subjects | all windows | labelled only | without physics "
                                     "| self-training |")
    assert table.splitlines()[2].startswith("| 2 | ")


def test_variants_trains_only_the_ways_named(tmp_path, monkeypatch):
    for key, value in ONE_THREAD.items():
        monkeypatch.setenv(key, value)
    data = make_dataset(tmp_path / "tiny.npz", per_subject=12)
    out = tmp_path / "study"
    argv = ["--data", str(data), "--out", str(out), "--labelled", "2", "--seeds", "1",
            "--variants", "self-training", "labelled only"]
    assert few_labels.main([*argv, *(a for s in TINY_SETS for a in ("--set", s))]) == 0
    assert [r["variant"] for r in json.loads((out / "few_labels.json").read_text())] == ["labelled only",
                                                                                         "self-training"]
    assert not (out / "all-windows").exists()
    assert (out / "few_labels.md").read_text().splitlines()[0] == "| labelled subjects | labelled only | self-training |"
