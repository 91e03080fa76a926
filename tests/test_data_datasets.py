"""The registry of built-in datasets, their common form, and the command line around them:
`download NAME`, `info NAME [--json]`, `windows --dataset NAME`.

Each dataset's own format is tested in its file (test_data_motionsense.py, ...); their
generators are reused here.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from test_data_download import _zip, server  # noqa: F401  (server: the 127.0.0.1 fixture)
from test_data_dsads import write_dsads_tree
from test_data_motionsense import write_motionsense_tree
from test_data_usc_had import write_usc_had_tree
from test_data_wisdm import write_wisdm_file

from bilm.data import load_dataset, load_npz, load_uci_har
from bilm.data.__main__ import main
from bilm.data.datasets import DATASETS, RecordingSet, dataset, load, split_unit
from bilm.data.datasets.recordings import Recording, join_recordings
from bilm.synth import write_uci_tree

KEYS = {"recordings", "samples", "subjects", "classes", "channels"}


def _write(name: str, folder):
    if name == "uci-har":
        write_uci_tree(folder, 6, 4, seed=1, n_subjects=5)
    else:
        {"motionsense": write_motionsense_tree, "usc-had": write_usc_had_tree, "wisdm": write_wisdm_file,
         "dsads": write_dsads_tree}[name](folder)
    return folder


def test_the_registry():
    assert list(DATASETS) == ["uci-har", "motionsense", "usc-had", "wisdm", "dsads"]
    expected = {"uci-har": (50, 6, 9, 30), "motionsense": (50, 6, 15, 24), "usc-had": (100, 12, 6, 14),
                "wisdm": (20, 6, 3, 36), "dsads": (25, 19, 45, 8)}
    for name, spec in DATASETS.items():
        assert (spec.sampling_rate, len(spec.classes), len(spec.channels), spec.subjects) == expected[name]
        assert all(split_unit(channel)[1] for channel in spec.channels), name  # every channel has a unit
        assert spec.source.url.startswith("https://") and spec.source.url_env.startswith("BILM_")
        assert spec.source.licence and spec.source.citation
    with pytest.raises(ValueError, match="no built-in dataset 'pamap2'; there are: uci-har, motionsense, usc-had"):
        dataset("pamap2")


def test_split_unit():
    assert split_unit("userAcceleration.x [g]") == ("userAcceleration.x", "g")
    assert split_unit("acc_x [m/s^2]") == ("acc_x", "m/s^2")
    assert split_unit("ax") == ("ax", "")


def test_a_recording_set_checks_its_arrays():
    rec = Recording(np.zeros((4, 2), np.float32), np.array([0, 0, 1, 1]), 7, "r")
    data = join_recordings([rec, rec], classes=("a", "b"), channels=("x [g]", "y [g]"), sampling_rate=10, source="s")
    assert len(data) == 2 and data[1].name == "r" and data.bounds.tolist() == [0, 4, 8]
    assert data.select_channels(["y"]).channels == ("y [g]",)
    with pytest.raises(ValueError, match=r"no channel 'z'; channels: x \[g\], y \[g\]"):
        data.select_channels(["z"])
    with pytest.raises(ValueError, match="labels must index the 1 classes"):
        join_recordings([rec], classes=("a",), channels=("x", "y"), sampling_rate=10, source="s")
    with pytest.raises(ValueError, match="recording bounds must rise from 0 to 8"):
        RecordingSet(data.signal, data.labels, np.array([0, 5, 9]), data.subjects, data.names, data.classes,
                     data.channels, 10.0, "s")
    with pytest.raises(ValueError, match="the sampling rate must be a positive number"):
        join_recordings([rec], classes=("a", "b"), channels=("x", "y"), sampling_rate=0, source="s")


def test_uci_har_windows_are_its_recordings(tmp_path):
    root = _write("uci-har", tmp_path / "UCI HAR Dataset")
    data = load("uci-har", tmp_path)
    X, y, subjects = load_uci_har(root, "train", cache=False)
    assert len(data) == 10 and data.names[0] == "train/0" and data.names[6] == "test/0"
    np.testing.assert_array_equal(data[2].signal, X[2].T)
    assert set(data[2].labels.tolist()) == {y[2]} and data[2].subject == subjects[2]
    _, _, test_subjects = load_uci_har(root, "test", cache=False)
    assert data.test_subjects == tuple(np.unique(test_subjects).tolist())
    assert data.channels[3] == "body_gyro_x [rad/s]" and data.sampling_rate == 50.0


def test_windows_of_uci_har_are_the_published_windows(tmp_path, capsys):
    root = _write("uci-har", tmp_path / "UCI HAR Dataset")
    out = tmp_path / "uci.npz"
    assert main(["windows", "--dataset", "uci-har", "--root", str(root), "--out", str(out)]) == 0
    assert "sampling rate: 50 Hz" in capsys.readouterr().out
    ours, theirs = load_npz(out), load_dataset(root)
    for key in ("X_train", "y_train", "X_test", "y_test", "subject_train", "subject_test"):
        np.testing.assert_array_equal(getattr(ours, key), getattr(theirs, key))
    assert ours.channels == DATASETS["uci-har"].channels and ours.sampling_rate == 50.0


@pytest.mark.parametrize("name", list(DATASETS))
def test_info_json(name, tmp_path, capsys):
    folder = _write(name, tmp_path / DATASETS[name].source.folder)
    assert main(["info", name, "--root", str(folder), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert KEYS <= set(info) and info["dataset"] == name
    data = load(name, folder)
    assert (info["recordings"], info["samples"], info["subjects"]) == (len(data), len(data.signal),
                                                                      len(data.subject_ids))
    assert info["classes"] == list(DATASETS[name].classes) and info["channels"] == list(DATASETS[name].channels)
    assert info["sampling_rate"] == DATASETS[name].sampling_rate


def test_info_of_the_downloaded_copy_and_without_one(isolated_data_dir, capsys):
    assert main(["info", "motionsense"]) == 1
    err = capsys.readouterr().err
    assert f"no MotionSense copy in {isolated_data_dir}: get it with `python -m bilm.data download motionsense`" in err
    _write("motionsense", isolated_data_dir / "A_DeviceMotion_data")
    assert main(["info", "motionsense"]) == 0
    printed = capsys.readouterr().out
    assert "5 recordings, 25 samples (0.0 h at 50 Hz), 2 subjects" in printed
    assert "  downstairs: 11 samples" in printed and "licence: MIT" in printed and "cite: Mohammad" in printed
    assert f"cache: {isolated_data_dir / 'cache'}" in printed


def test_info_errors(tmp_path, capsys):
    assert main(["info", "wisdm", "--root", str(tmp_path)]) == 1
    assert f"{tmp_path}: not a WISDM folder" in capsys.readouterr().err
    assert main(["info", str(tmp_path), "--root", str(tmp_path)]) == 1
    assert "--root goes with a built-in dataset's name" in capsys.readouterr().err


def test_info_json_of_a_uci_folder_and_an_npz(tmp_path, capsys):
    root = _write("uci-har", tmp_path / "UCI HAR Dataset")
    assert main(["info", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recordings"] == 10
    main(["windows", "--dataset", "uci-har", "--root", str(root), "--out", str(tmp_path / "d.npz")])
    capsys.readouterr()
    assert main(["info", str(tmp_path / "d.npz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["train_windows"], info["test_windows"], info["steps"], info["sampling_rate"]) == (6, 4, 128, 50.0)
    assert info["channels"] == list(DATASETS["uci-har"].channels)


def test_windows_of_a_dataset_by_subject(tmp_path, capsys):
    root = _write("motionsense", tmp_path / "A_DeviceMotion_data")
    for path in root.rglob("*.csv"):  # longer recordings: repeat the rows
        header, *rows = path.read_text().splitlines()
        path.write_text("\n".join([header, *(rows * 40)]) + "\n")
    out = tmp_path / "ms.npz"
    argv = ["windows", "--dataset", "motionsense", "--root", str(root), "--size", "50", "--step", "25",
            "--test-subjects", "2", "--channels", "userAcceleration.x,userAcceleration.y [g],rotationRate.z",
            "--out", str(out)]
    assert main(argv) == 0
    data = load_npz(out)
    assert data.channels == ("userAcceleration.x [g]", "userAcceleration.y [g]", "rotationRate.z [rad/s]")
    assert data.sampling_rate == 50.0 and data.X_train.shape[1:] == (3, 50)
    assert set(data.subject_train.tolist()) == {1} and set(data.subject_test.tolist()) == {2}
    assert data.classes == DATASETS["motionsense"].classes
    full = load("motionsense", root)
    first = full[0]  # dws_1/sub_1, subject 1: its first window
    np.testing.assert_array_equal(data.X_train[0], first.signal[:50, [9, 10, 8]].T)


@pytest.mark.parametrize("extra,message", [
    (["--label", "walk"], "--label cannot be used with --dataset"),
    (["--sampling-rate", "100"], "--sampling-rate cannot be used with --dataset"),
    (["--test-subjects", "9"], "test subjects [9] match no recording"),
    (["--channels", "acc_x"], "no channel 'acc_x'"),
])
def test_windows_of_a_dataset_refuses_what_does_not_apply(tmp_path, capsys, extra, message):
    root = _write("motionsense", tmp_path / "A_DeviceMotion_data")
    argv = ["windows", "--dataset", "motionsense", "--root", str(root), "--out", str(tmp_path / "x.npz"), *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_cli_download_of_a_dataset_with_a_sums_file(server, tmp_path, capsys):
    root = _write("usc-had", tmp_path / "src" / "USC-HAD")
    archive = _zip({f"USC-HAD/{p.relative_to(root).as_posix()}": p.read_bytes() for p in root.rglob("*.mat")})
    sums = tmp_path / "usc-had.sha256"
    sums.write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}\n"
                            for p in root.rglob("*.mat")))
    url = server("USC-HAD.zip", archive)
    argv = ["download", "usc-had", "--dest", str(tmp_path / "d"), "--url", url, "--sha256sums", str(sums), "--quiet"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(tmp_path / "d" / "USC-HAD")
    assert "USC-HAD licence:" in err and "warning" not in err
    sums.write_text(sums.read_text().replace(sums.read_text()[:64], "0" * 64, 1))
    assert main([*argv[:3], str(tmp_path / "e"), *argv[4:]]) == 1
    assert "error: SHA-256 mismatch for" in capsys.readouterr().err
    assert main(["download", "pamap2"]) == 1
    assert "no built-in dataset 'pamap2'" in capsys.readouterr().err


def test_cli_download_names_the_mirror_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BILM_DSADS_URL", "http://127.0.0.1:1/dsads.zip")
    assert main(["download", "dsads", "--dest", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach http://127.0.0.1:1/dsads.zip" in err and "$BILM_DSADS_URL" in err


def test_the_real_uci_har_through_the_registry(uci_har_root, tmp_path):
    data = load("uci-har", uci_har_root)
    assert (len(data), len(data.signal), len(data.subject_ids)) == (10299, 10299 * 128, 30)
    assert data.test_subjects == (2, 4, 9, 10, 12, 13, 18, 20, 24)
    out = tmp_path / "uci.npz"
    assert main(["windows", "--dataset", "uci-har", "--root", str(uci_har_root), "--out", str(out)]) == 0
    ours, theirs = load_npz(out), load_dataset(uci_har_root)
    for key in ("X_train", "y_train", "X_test", "y_test", "subject_train", "subject_test"):
        np.testing.assert_array_equal(getattr(ours, key), getattr(theirs, key))
