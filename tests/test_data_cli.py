"""python -m bilm.data synth|windows|info|cache (download is tested with its server in test_data_download)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from bilm.data import load_dataset, load_npz
from bilm.data.__main__ import main

# The UCI HAR number format: 16 characters per value, d.ddddddde±ddd, 128 per line, CRLF.
UCI_LINE = re.compile(rb"(?:(?:  \d| -\d)\.\d{7}e[+-]\d{3}){128}\r\n")


def test_synth_writes_a_loadable_tree_in_the_exact_format(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(["synth", "--out", str(out), "--train", "6", "--test", "3", "--seed", "2", "--subjects", "4"]) == 0
    assert "wrote 6 training and 3 test windows" in capsys.readouterr().out
    data = load_dataset(out)
    assert data.X_train.shape == (6, 9, 128) and data.X_test.shape == (3, 9, 128)
    assert set(data.subject_train.tolist()) | set(data.subject_test.tolist()) <= {1, 2, 3, 4}
    lines = (out / "test" / "Inertial Signals" / "total_acc_z_test.txt").read_bytes().splitlines(keepends=True)
    assert len(lines) == 3 and all(UCI_LINE.fullmatch(line) for line in lines)


def _phone_csv(path, subject_offset: float) -> None:
    """A phone export: a time column, three axes, one activity per stretch of 300 samples."""
    t = np.arange(600)
    activity = np.where(t < 300, "walking", "sitting")
    ax = np.sin(t / 5) * (activity == "walking") + subject_offset
    rows = "".join(f"{i / 50:.2f},{x:.4f},{x / 2:.4f},{1 - x:.4f},{a}\n" for i, x, a in zip(t, ax, activity))
    path.write_text("time,ax,ay,az,activity\n" + rows)


def test_windows_turns_phone_csvs_into_a_dataset(tmp_path, capsys):
    for name, offset in (("anna", 0.0), ("ben", 0.1)):
        _phone_csv(tmp_path / f"{name}.csv", offset)
    out = tmp_path / "mine.npz"
    argv = ["windows", str(tmp_path / "anna.csv"), str(tmp_path / "ben.csv"), "--out", str(out),
            "--label-column", "activity", "--channels", "ax,ay,az",
            "--subject", "1", "--subject", "2", "--test-subjects", "2"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "sitting: 3 train, 3 test" in printed
    data = load_npz(out)
    assert data.classes == ("sitting", "walking")
    assert data.X_train.shape == (6, 3, 128)
    assert set(data.subject_train.tolist()) == {1} and set(data.subject_test.tolist()) == {2}


def test_windows_from_npy_with_one_label_per_recording(tmp_path):
    for name in ("walk", "sit"):
        np.save(tmp_path / f"{name}.npy", np.random.default_rng(0).normal(size=(512, 6)))
    out = tmp_path / "mine.npz"
    argv = ["windows", str(tmp_path / "walk.npy"), str(tmp_path / "sit.npy"), "--out", str(out),
            "--label", "walk", "--label", "sit", "--classes", "walk,sit", "--size", "64", "--step", "32"]
    assert main(argv) == 0
    data = load_npz(out)
    assert data.classes == ("walk", "sit") and data.X_train.shape[1:] == (6, 64)
    assert set(data.y_test.tolist()) == {0, 1}  # the default split holds out the end of each recording


def test_windows_errors_exit_1_with_the_reason(tmp_path, capsys):
    _phone_csv(tmp_path / "a.csv", 0.0)
    argv = ["windows", str(tmp_path / "a.csv"), str(tmp_path / "a.csv"), "--out", str(tmp_path / "x.npz"),
            "--subject", "1"]
    assert main(argv) == 1
    assert "--subject was given 1 times for 2 recordings" in capsys.readouterr().err
    assert main(["windows", str(tmp_path / "a.csv"), "--out", str(tmp_path / "x.npz")]) == 1
    assert "no label column 'label'" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_info_describes_a_folder_and_its_cache(tmp_path, capsys, isolated_data_dir):
    out = tmp_path / "synth"
    main(["synth", "--out", str(out), "--train", "6", "--test", "3"])
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "train: 6 windows of 9 channels x 128 steps" in printed
    cache = re.escape(str(isolated_data_dir / "cache"))
    assert re.search(rf"^cache: {cache}/synth-[0-9a-f]{{16}}$", printed, re.M)
    assert re.search(rf"^cache \(test\): {cache}/synth-[0-9a-f]{{16}}/uci-har-test-[0-9a-f]{{20}}$", printed, re.M)
    assert "left over" not in printed and not (out / ".bilm-cache").exists()
    assert main(["info", str(out), "--no-cache"]) == 0
    assert "cache: off" in capsys.readouterr().out


def test_info_names_a_leftover_cache_in_the_dataset_folder(tmp_path, capsys):
    out = tmp_path / "synth"
    main(["synth", "--out", str(out), "--train", "6", "--test", "3"])
    legacy = out / ".bilm-cache" / "train-0123456789abcdef0123"
    legacy.mkdir(parents=True)
    np.save(legacy / "X.npy", np.zeros((6, 9, 128), np.float32))
    capsys.readouterr()
    for argv in (["info", str(out)], ["info", str(out), "--no-cache"]):
        assert main(argv) == 0
        printed = capsys.readouterr().out
        assert (f"left over: {out / '.bilm-cache'} was written by an earlier version of bilm and is no "
                "longer used; it can be deleted") in printed
    assert [p.name for p in legacy.iterdir()] == ["X.npy"]  # named, never read nor removed


def test_cache_lists_and_clears_only_bilms_cache(tmp_path, capsys, isolated_data_dir):
    assert main(["cache"]) == 0
    assert capsys.readouterr().out == f"cache: {isolated_data_dir / 'cache'}\n0 entries, 0 bytes in all\n"
    # The downloaded copy's place, beside the cache in the data folder.
    out = isolated_data_dir / "UCI HAR Dataset"
    main(["synth", "--out", str(out), "--train", "6", "--test", "3"])
    files = sorted(p.relative_to(out) for p in out.rglob("*"))
    assert main(["info"]) == 0
    capsys.readouterr()
    assert main(["cache"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^  UCI HAR Dataset-[0-9a-f]{16}/uci-har-train-[0-9a-f]{20}  \d+\.\d kB  from .*UCI HAR Dataset$",
                     printed, re.M)
    assert re.search(r"^2 entries, \d+\.\d kB in all; clear them with `python -m bilm.data cache --clear`$",
                     printed, re.M)
    assert main(["cache", "--clear"]) == 0
    assert re.fullmatch(rf"removed 2 entries \(\d+\.\d kB\) from {re.escape(str(isolated_data_dir / 'cache'))}\n",
                        capsys.readouterr().out)
    assert list((isolated_data_dir / "cache").iterdir()) == []
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == files
    assert main(["info"]) == 0
    assert re.search(r"^cache \(train\): .*/uci-har-train-[0-9a-f]{20}$", capsys.readouterr().out, re.M)


def test_info_on_an_npz_and_without_a_dataset(tmp_path, capsys):
    assert main(["info"]) == 1
    assert "python -m bilm.data download" in capsys.readouterr().err
    X = np.zeros((4, 2, 8), dtype=np.float32)
    np.savez(tmp_path / "d.npz", X_train=X, y_train=np.array([0, 1, 0, 1]), X_test=X, y_test=np.array([1, 0, 1, 0]))
    assert main(["info", str(tmp_path / "d.npz")]) == 0
    printed = capsys.readouterr().out
    assert "test: 4 windows of 2 channels x 8 steps" in printed and "cache" not in printed


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "bilm.data", "--help"], capture_output=True, text=True, check=True)
    assert all(command in result.stdout for command in ("download", "synth", "windows", "info", "cache"))


def test_windows_keeps_channel_names_and_the_sampling_rate(tmp_path, capsys):
    _phone_csv(tmp_path / "a.csv", 0.0)
    out = tmp_path / "mine.npz"
    argv = ["windows", str(tmp_path / "a.csv"), "--out", str(out), "--label-column", "activity",
            "--channels", "az,ax", "--sampling-rate", "50", "--size", "64", "--step", "16"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "channels: az, ax" in printed and "sampling rate: 50 Hz" in printed
    data = load_npz(out)
    assert data.channels == ("az", "ax") and data.sampling_rate == 50.0


def test_windows_names_npy_columns(tmp_path, capsys):
    np.save(tmp_path / "walk.npy", np.random.default_rng(0).normal(size=(512, 3)))
    np.save(tmp_path / "sit.npy", np.random.default_rng(1).normal(size=(512, 3)))
    out = tmp_path / "mine.npz"
    argv = ["windows", str(tmp_path / "walk.npy"), str(tmp_path / "sit.npy"), "--out", str(out),
            "--label", "walk", "--label", "sit", "--channels", "acc_x [g],acc_y [g],acc_z [g]"]
    assert main(argv) == 0
    assert load_npz(out).channels == ("acc_x [g]", "acc_y [g]", "acc_z [g]") and load_npz(out).sampling_rate is None
    assert main([*argv[:-1], "acc_x,acc_y"]) == 1
    assert "walk.npy: 2 channel names for 3 columns" in capsys.readouterr().err


def test_windows_without_recordings_or_dataset(tmp_path, capsys):
    assert main(["windows", "--out", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "give the recordings to cut into windows, or a built-in dataset with --dataset NAME" in err
