"""The CSV benchmark runs end to end on small generated files and checks its own outputs."""

from __future__ import annotations

import pytest
from test_data_motionsense import write_motionsense_tree

from bilm.bench import csv_files


def test_csv_benchmark_times_every_method_on_both_sets(tmp_path, capsys):
    write_motionsense_tree(tmp_path / "A_DeviceMotion_data")
    argv = ["--motionsense", str(tmp_path / "A_DeviceMotion_data"), "--dsads-files", "12", "--repeats", "1"]
    assert csv_files.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line.split("|")[1:3] for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [files.strip() for files, _ in rows] == ["MotionSense (5)"] * 4 + ["DSADS-sized tree (12)"] * 4
    assert rows[0][1].strip() == "np.loadtxt" and rows[2][1].strip() == "bilm_fast.read_csv, 1 thread"
    assert "outputs checked against np.loadtxt (bilm_fast: identical; pandas: to 1e-15 relative + 1e-15 absolute)" in out


def test_a_named_folder_that_is_not_motionsense_is_an_error(tmp_path, capsys):
    assert csv_files.main(["--motionsense", str(tmp_path), "--dsads-files", "2", "--repeats", "1"]) == 1
    assert "not a MotionSense folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        csv_files.main(["--repeats", "0"])
