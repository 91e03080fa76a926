"""`python -m bilm.bench time-to-accuracy`: the default preset, the notebook's loop and MiniRocket
timed on a tiny UCI HAR folder, their rows in the table and in --json."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import statistics
import sys
from pathlib import Path

import pytest
import torch

from bilm.bench import __main__ as bench_main
from bilm.bench import time_to_accuracy as tta
from bilm.synth import write_uci_tree

# Two batches of training windows and one epoch each: this checks the table, not the models.
TINY = ["--threads", "1", "--set", "epochs=1", "--epochs-notebook", "1"]
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<seeds>\d+) \| (?P<median>[\d.]+) \| (?P<low>[\d.]+)-(?P<high>[\d.]+) "
                 r"\| (?P<accuracy>[\d.]+)(?: ± (?P<std>[\d.]+))? \| (?P<f1>[\d.]+) \|(?: (?P<ratio>[\d.]+x) \|)?$")
AEON_MODULES = ("aeon", "aeon.classification", "aeon.classification.convolution_based",
                "aeon.transformations.collection.convolution_based")


@pytest.fixture(scope="module")
def uci(tmp_path_factory) -> Path:
    """Learnable windows; every class of its test split is also in its training split."""
    return write_uci_tree(tmp_path_factory.mktemp("uci") / "UCI HAR Dataset", 96, 48, seed=0, n_subjects=6)


def bench(argv: list[str], data_dir: Path) -> tuple[int, str]:
    """Exit code and stdout of the bench, with bilm's cache in `data_dir`."""
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("BILM_DATA_DIR", str(data_dir))
        code = bench_main.main(["time-to-accuracy", *argv])
    return code, out.getvalue()


def rows(table: str) -> dict[str, re.Match]:
    found = {m["label"]: m for m in map(ROW.match, table.splitlines()) if m}
    assert found, table
    return found


@pytest.fixture(scope="module")
def two_seeds(uci, tmp_path_factory) -> dict:
    """The default preset and the notebook's loop for seeds 0 and 1, with --out and --json."""
    folder = tmp_path_factory.mktemp("tta")
    threads, omp = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    code, table = bench(["--data", str(uci), "--seeds", "2", "--only", "notebook,default", *TINY,
                         "--out", str(folder / "runs"), "--json", str(folder / "rows.json")], folder / "data-dir")
    return {"code": code, "table": table, "json": json.loads((folder / "rows.json").read_text()),
            "runs": folder / "runs", "threads_after": (torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")),
            "threads_before": (threads, omp)}


def test_each_seed_runs_the_methods_one_after_the_other(two_seeds):
    assert two_seeds["code"] == 0
    got = [(r["method"], r["seed"]) for r in two_seeds["json"]["rows"]]
    assert got == [("default", 0), ("notebook", 0), ("default", 1), ("notebook", 1)]
    for r in two_seeds["json"]["rows"]:
        assert r["wall_seconds"] > 0 and 0 <= r["test_accuracy"] <= 1 and 0 <= r["test_macro_f1"] <= 1
        assert r["device"] == "cpu"


def test_the_table_summarises_the_json_rows(two_seeds):
    table, found = two_seeds["table"], rows(two_seeds["table"])
    assert set(found) == {tta.LABELS["default"], tta.LABELS["notebook"]}
    for method in ("default", "notebook"):
        runs = [r for r in two_seeds["json"]["rows"] if r["method"] == method]
        walls, accuracies = [r["wall_seconds"] for r in runs], [r["test_accuracy"] for r in runs]
        row = found[tta.LABELS[method]]
        assert int(row["seeds"]) == 2
        assert float(row["median"]) == pytest.approx(statistics.median(walls), abs=0.05)
        assert float(row["low"]) == pytest.approx(min(walls), abs=0.05)
        assert float(row["high"]) == pytest.approx(max(walls), abs=0.05)
        assert float(row["accuracy"]) == pytest.approx(100 * statistics.fmean(accuracies), abs=0.005)
        assert float(row["std"]) == pytest.approx(100 * statistics.stdev(accuracies), abs=0.005)
        assert float(row["f1"]) == pytest.approx(statistics.fmean(r["test_macro_f1"] for r in runs), abs=5e-5)
        assert row["ratio"] is None  # no MiniRocket row to compare with
    assert "MiniRocket" not in table and "aeon" not in table and "pip install" not in table
    assert "Default preset: 1 epoch (--set epochs=1); notebook: 1 epoch, the last one scored." in table


def test_the_header_names_the_date_machine_threads_device_and_torch(two_seeds):
    first = two_seeds["table"].splitlines()[0]
    assert re.match(r"Time to a UCI HAR model, \d{4}-\d\d-\d\d; CPU: .+; 1 threads for every method", first)
    assert f"device: cpu; torch {torch.__version__}" in first
    assert "96 training and 48 test windows" in two_seeds["table"]
    header = two_seeds["json"]["header"]
    assert header["threads"] == 1 and header["seeds"] == [0, 1] and header["default_epochs"] == 1


def test_the_default_rows_are_the_reports_of_real_runs(two_seeds):
    for r in (r for r in two_seeds["json"]["rows"] if r["method"] == "default"):
        report = json.loads((two_seeds["runs"] / f"default-seed{r['seed']}" / "report.json").read_text())
        assert report["test_accuracy"] == r["test_accuracy"] and report["test_macro_f1"] == r["test_macro_f1"]
        config = json.loads((two_seeds["runs"] / f"default-seed{r['seed']}" / "config.json").read_text())["config"]
        assert config["seed"] == r["seed"] and config["epochs"] == 1 and config["gravity_frame"]  # the default preset


def test_the_thread_settings_are_restored(two_seeds):
    assert two_seeds["threads_after"] == two_seeds["threads_before"]


def test_minirocket_is_timed_beside_the_default_preset(uci, tmp_path):
    pytest.importorskip("aeon")
    code, table = bench(["--data", str(uci), "--only", "minirocket,default", *TINY, "--json", str(tmp_path / "r.json")],
                        tmp_path / "data-dir")
    assert code == 0
    found = rows(table)
    assert set(found) == {tta.LABELS["default"], tta.LABELS["minirocket"]}
    runs = {r["method"]: r for r in json.loads((tmp_path / "r.json").read_text())["rows"]}
    assert runs["minirocket"]["device"] == "cpu" and runs["minirocket"]["wall_seconds"] > 0
    assert runs["minirocket"]["test_accuracy"] >= 0.9  # its predictions are scored against the right labels
    assert found[tta.LABELS["minirocket"]]["ratio"] == "1.00x"
    ratio = runs["default"]["wall_seconds"] / runs["minirocket"]["wall_seconds"]
    assert float(found[tta.LABELS["default"]]["ratio"][:-1]) == pytest.approx(ratio, abs=0.006)
    assert f"Default preset / MiniRocket, median wall time: {ratio:.2f}x." in table
    import aeon

    assert "1 threads for every method (torch, OpenMP/BLAS)" in table and "n_jobs = 1" in table
    assert f", aeon {aeon.__version__};" in table and "MiniRocket: aeon's defaults, n_jobs = 1, random_state = seed." in table


def without_aeon(monkeypatch) -> None:
    for name in AEON_MODULES:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError


def test_without_aeon_the_minirocket_row_is_skipped_with_the_install_hint(uci, tmp_path, monkeypatch):
    without_aeon(monkeypatch)
    code, table = bench(["--data", str(uci), *TINY], tmp_path / "data-dir")
    assert code == 0
    found = rows(table)
    assert set(found) == {tta.LABELS["default"], tta.LABELS["notebook"]}
    assert all(row["ratio"] is None for row in found.values())
    assert table.rstrip().endswith('pip install "bilm[bench]" (or pip install aeon)')
    assert "aeon " not in table.splitlines()[0]  # no aeon version in the header


def test_without_aeon_asking_for_minirocket_fails_before_any_work(uci, tmp_path, monkeypatch, capsys):
    without_aeon(monkeypatch)
    monkeypatch.setattr(tta, "load_dataset", lambda path: pytest.fail("loaded data"))
    assert tta.main(["--data", str(uci), "--only", "minirocket"]) == 1
    assert 'pip install "bilm[bench]"' in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--seeds", "0"], ["--threads", "0"], ["--epochs-notebook", "0"],
                                  ["--minirocket-jobs", "0"],
                                  ["--only", "default,forest"], ["--set", "seed=3"], ["--set", "no_such_field=1"],
                                  ["--device", "tpu"], ["--data", "no/such/folder"]])
def test_bad_arguments_exit_2_before_any_work(uci, argv, monkeypatch, capsys):
    monkeypatch.setattr(tta, "load_dataset", lambda path: pytest.fail("loaded data"))
    with pytest.raises(SystemExit) as exit_info:
        tta.main(["--data", str(uci), *argv])
    assert exit_info.value.code == 2
    assert "usage: python -m bilm.bench time-to-accuracy" in capsys.readouterr().err


def test_an_out_folder_that_holds_runs_is_refused(uci, tmp_path, monkeypatch):
    (tmp_path / "default-seed0").mkdir()
    monkeypatch.setattr(tta, "load_dataset", lambda path: pytest.fail("loaded data"))
    with pytest.raises(SystemExit) as exit_info:
        tta.main(["--data", str(uci), "--only", "default", "--out", str(tmp_path)])
    assert exit_info.value.code == 2


def test_the_bench_is_registered():
    assert bench_main.BENCHMARKS["time-to-accuracy"] == "bilm.bench.time_to_accuracy"
