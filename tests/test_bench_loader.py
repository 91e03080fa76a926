"""The loader benchmark runs end to end on a small generated tree and checks its own rows."""

from __future__ import annotations

from bilm.bench import loader
from bilm.synth import write_uci_tree


def test_loader_benchmark_prints_every_method(tmp_path, capsys, isolated_data_dir):
    root = write_uci_tree(tmp_path / "UCI HAR Dataset", 40, 20, seed=1)
    files = sorted(root.rglob("*"))
    assert loader.main(["--root", str(root), "--repeats", "1", "--no-memory"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]
    names = [row.split("|")[1].strip() for row in rows]
    assert names[:3] == ["np.loadtxt", 'pandas.read_csv(sep=r"\\s+")', "bilm_fast, 1 thread"]
    assert names[-1] == "bilm.data.load_uci_har, cached"
    assert "outputs checked identical" in out
    # The warm-up load cached into the benchmark's scratch data folder: neither the dataset
    # folder nor the caller's cache directory gained a file.
    assert sorted(root.rglob("*")) == files
    assert not (isolated_data_dir / "cache").exists()
