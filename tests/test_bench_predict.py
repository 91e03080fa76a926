"""`python -m bilm.bench predict`: a row per backend and thread count, the backends compared."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import torch
from test_train_fixtures import make_dataset, train_tiny
from test_train_fixtures import single_thread  # noqa: F401  (autouse: one CPU thread per test module)

from bilm.bench import __main__ as bench_main
from bilm.bench import predict as bench_predict

# Few calls: this checks the table, not the speed.
QUICK = ["--repeats", "3", "--batch", "8", "--batches", "2"]
ROW = re.compile(r"\| (PyTorch eager|TorchScript|ONNX Runtime) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d,]+) "
                 r"\| ([\d.e+-]+) \|")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench-predict")
    return train_tiny(make_dataset(folder / "data.npz", per_subject=10), folder / "run", epochs=1)


@pytest.fixture(scope="module")
def table(run) -> str:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # module-scoped: capsys is per test
        assert bench_main.main(["predict", str(run), "--threads", "1,2", *QUICK]) == 0
    return out.getvalue()


def test_the_table_has_a_timed_row_per_backend_and_thread_count(table):
    rows = [ROW.match(line) for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert all(rows), table
    assert [(r[1], int(r[2])) for r in rows] == [(b, t) for t in (1, 2) for b in bench_predict.BACKENDS]
    for r in rows:
        median, p99, per_second = float(r[3]), float(r[4]), float(r[5].replace(",", ""))
        assert 0 < median <= p99 and per_second > 0


def test_the_backends_are_compared_on_the_same_windows(table):
    diffs = [float(m[6]) for m in map(ROW.match, table.splitlines()) if m]
    assert len(diffs) == 6 and all(d <= bench_predict.AGREEMENT["cpu"] for d in diffs)
    assert "max abs diff from eager" in table


def test_the_header_names_the_machine_versions_and_goals(table):
    assert f"torch {torch.__version__}, onnxruntime " in table
    assert "9 channels x 32 samples -> 6 classes" in table and "logical CPUs" in table
    assert re.search(r"Goal, one window in <= 1 ms with ONNX Runtime on 1 thread: (met|missed)", table)
    assert re.search(r"Goal, >= 5,000 windows/s on 2 threads: (met|missed) \([\d,]+ with ", table)


def test_a_backend_that_disagrees_fails_the_bench(run, monkeypatch, capsys):
    def off_by_a_bit(classifier, folder, device):
        return lambda x: classifier.module(x) + 1e-3

    monkeypatch.setattr(bench_predict, "torchscript_module", off_by_a_bit)
    monkeypatch.setattr(bench_predict, "onnx_file", lambda classifier, folder: "skipped in this test")
    assert bench_predict.main([str(run), "--threads", "1", *QUICK]) == 1
    out, err = capsys.readouterr()
    assert "| ONNX Runtime | 1 | n/a | n/a | n/a | skipped in this test |" in out
    assert "the backends disagree: TorchScript on 1 thread(s) by 1.0e-03" in err


@pytest.mark.parametrize("argv", [[], ["--repeats", "0"], ["--threads", "0"], ["--threads", "one"]])
def test_bad_arguments_exit_2(run, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench_predict.main([str(run), *argv] if argv else [])
    assert exit_info.value.code == 2
