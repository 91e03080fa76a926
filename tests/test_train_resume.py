"""Resume after SIGKILL ends exactly where an uninterrupted run does; a NaN loss stops cleanly."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from test_train_fixtures import (TINY, kill_after_a_checkpoint, make_dataset, metrics_rows, train_tiny,
                                 without_timings)
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm.train import main
from bilm.training import Trainer

EPOCHS = 3
# Saves at steps 2 and 4 of every 5-step epoch too, so a kill can land inside an epoch.
# Two networks, so that each member's weights and dropout draws are carried across both kills.
EVERY = ["--checkpoint-every", "2", "--set", "augment_jitter=0.05", "--set", "augment_rotation_deg=20",
         "--set", "augment_shift=3", "--set", "augment_scale=0.1", "--set", "ensemble=2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny.npz", per_subject=40)


def train_command(dataset, out):
    return [sys.executable, "-m", "bilm.train", "--data", str(dataset), "--out", str(out), "--epochs", str(EPOCHS),
            "--lr", "1e-2", *TINY, *EVERY]


def test_killed_and_resumed_run_ends_with_the_same_report(dataset, tmp_path):
    reference = train_tiny(dataset, tmp_path / "reference", *EVERY, epochs=EPOCHS)

    run = tmp_path / "killed"
    kill_after_a_checkpoint(train_command(dataset, run), run / "last.pt")
    progress = torch.load(run / "last.pt", weights_only=True)["train"]["progress"]
    assert (progress["epoch"], progress["step"]) == (0, 2)  # killed inside the first epoch
    # Killed a second time, now while running from a resumed state.
    kill_after_a_checkpoint([sys.executable, "-m", "bilm.train", "--out", str(run), "--resume"], run / "last.pt",
                            since=(run / "last.pt").stat().st_mtime)
    assert main(["--out", str(run), "--resume", "--no-progress"]) == 0

    assert json.loads((run / "report.json").read_text()) == json.loads((reference / "report.json").read_text())
    assert without_timings(metrics_rows(run)) == without_timings(metrics_rows(reference))
    for name in ("last.pt", "best.pt"):
        final, expected = (torch.load(r / name, weights_only=True)["model"] for r in (run, reference))
        assert all(torch.equal(final[k], expected[k]) for k in expected)


class Stopped(Exception):
    pass


def test_a_run_stopped_inside_a_self_training_epoch_resumes_with_its_pseudo_labels(dataset, tmp_path, monkeypatch):
    """The pseudo-labels of an epoch come from the model at its start, which a resumed run no
    longer has: last.pt carries them."""
    extra = ["--checkpoint-every", "2", "--set", "label_subjects=2", "--set", "pseudo_label_threshold=0.3"]
    reference = train_tiny(dataset, tmp_path / "reference", *extra, epochs=EPOCHS)
    assert all(row["pseudo_labels"] > 0 for row in metrics_rows(reference)[1:])  # the labeller was sure of some

    save_last = Trainer.save_last

    def save_then_stop(self, step, sums):
        save_last(self, step, sums)
        if (self.progress.epoch, step) == (1, 2):
            raise Stopped

    monkeypatch.setattr(Trainer, "save_last", save_then_stop)
    run = tmp_path / "stopped"
    with pytest.raises(Stopped):
        train_tiny(dataset, run, *extra, epochs=EPOCHS)
    monkeypatch.undo()
    assert torch.load(run / "last.pt", weights_only=True)["train"]["pseudo_labels"] is not None
    assert main(["--out", str(run), "--resume", "--no-progress"]) == 0

    assert json.loads((run / "report.json").read_text()) == json.loads((reference / "report.json").read_text())
    assert without_timings(metrics_rows(run)) == without_timings(metrics_rows(reference))


def test_resuming_a_finished_run_rewrites_the_same_report(dataset, tmp_path):
    run = train_tiny(dataset, tmp_path / "done", epochs=1)
    report = (run / "report.json").read_text()
    (run / "report.json").unlink()
    assert main(["--out", str(run), "--resume", "--no-progress"]) == 0
    assert (run / "report.json").read_text() == report
    assert len(metrics_rows(run)) == 1


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(dataset, tmp_path, capsys):
    run = tmp_path / "nan"
    # Adam moves every weight by ~lr on the first step: 1e30 overflows the second forward pass.
    code = main(["--data", str(dataset), "--out", str(run), *TINY, "--lr", "1e30", "--checkpoint-every", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "NaN or infinite at epoch 1, step 2" in err and "Traceback" not in err
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["train"]["progress"]["step"] == 1
    assert all(torch.isfinite(t).all() for t in last["model"].values() if t.is_floating_point())
    assert not (run / "report.json").exists()
