"""The dataset .npz format: round trip and every validation error."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bilm.data import HARData, load_dataset, load_npz, save_npz


def _data(**changes) -> HARData:
    rng = np.random.default_rng(0)
    data = HARData(
        X_train=rng.normal(size=(6, 3, 16)),  # float64: saving converts to float32
        y_train=np.array([0, 1, 2, 0, 1, 2], dtype=np.int32),
        X_test=rng.normal(size=(3, 3, 16)).astype(np.float32),
        y_test=np.array([2, 1, 0]),
        subject_train=np.array([1, 1, 2, 2, 3, 3]),
        subject_test=np.array([4, 4, 4]),
        classes=("walk", "sit", "lie"),
        source="test",
    )
    return dataclasses.replace(data, **changes)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _arrays(**changes):
    data = _data()
    arrays = {"X_train": data.X_train, "y_train": data.y_train, "X_test": data.X_test, "y_test": data.y_test,
              "classes": np.array(data.classes)}
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


def test_round_trip(tmp_path):
    path = save_npz(tmp_path / "d.npz", _data())
    data = load_npz(path)
    original = _data()
    assert data.classes == original.classes and data.source == str(path)
    assert data.X_train.dtype == np.float32 and data.X_train.flags.c_contiguous
    np.testing.assert_allclose(data.X_train, original.X_train.astype(np.float32))
    for key in ("y_train", "y_test", "subject_train", "subject_test"):
        assert getattr(data, key).dtype == np.int64
        np.testing.assert_array_equal(getattr(data, key), getattr(original, key))
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # no temporary file left


def test_subjects_and_class_names_are_optional(tmp_path):
    path = _write(tmp_path / "d.npz", **_arrays(classes=None))
    data = load_npz(path)
    assert data.subject_train is None and data.subject_test is None
    assert data.classes == ("0", "1", "2")
    assert load_dataset(path).classes == ("0", "1", "2")


@pytest.mark.parametrize("changes,message", [
    ({"X_train": None}, "missing X_train"),
    ({"extra": np.zeros(2)}, "unknown keys extra"),
    ({"X_train": np.zeros((6, 48))}, r"X_train must be a non-empty 3-D array .* got shape \(6, 48\)"),
    ({"X_test": np.zeros((0, 3, 16))}, "X_test must be a non-empty 3-D array"),
    ({"X_train": np.ones((6, 3, 16), dtype=np.int16)}, "X_train must hold floats; got dtype int16"),
    ({"X_test": np.zeros((3, 4, 16))}, r"X_train windows are \(3, 16\) .* X_test windows are \(4, 16\)"),
    ({"y_train": np.zeros(5, dtype=int)}, r"y_train must have shape \(6,\), one per window; got \(5,\)"),
    ({"y_test": np.array([0.0, 1.0, 2.0])}, "y_test must hold integers; got dtype float64"),
    ({"y_test": np.array([0, 3, 1])}, "y_test must be in 0..2 .* found 3 at index 1"),
    ({"y_train": np.array([0, 1, 2, -1, 1, 2])}, "found -1 at index 3"),
    ({"subject_test": np.array([1, 2])}, r"subject_test must have shape \(3,\)"),
    ({"classes": np.array(["walk", "walk", "sit"])}, "class names repeat"),
    ({"classes": np.array(["walk"]), "y_train": np.zeros(6, int), "y_test": np.zeros(3, int)}, "at least 2 classes"),
    ({"classes": np.array([1, 2, 3])}, "classes must be a 1-D array of strings"),
    ({"classes": np.array(["a", "b", "c"], dtype=object)}, "not a readable .npz of plain arrays"),
])
def test_invalid_files_are_rejected_with_the_reason(tmp_path, changes, message):
    path = _write(tmp_path / "bad.npz", **_arrays(**changes))
    with pytest.raises(ValueError, match=message) as info:
        load_npz(path)
    assert str(path) in str(info.value)


def test_nan_names_the_window(tmp_path):
    X = _data().X_train.copy()
    X[4, 1, 7] = np.nan
    X[5, 0, 0] = np.inf
    with pytest.raises(ValueError, match="X_train has NaN or infinite values in 2 windows .the first is window 4."):
        load_npz(_write(tmp_path / "nan.npz", **_arrays(X_train=X)))


def test_not_an_npz(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ValueError, match="text.npz: not a readable .npz"):
        load_npz(tmp_path / "text.npz")
    with pytest.raises(FileNotFoundError, match="absent.npz: no such .npz file"):
        load_npz(tmp_path / "absent.npz")
    with pytest.raises(FileNotFoundError, match="absent.npz: no such .npz file"):
        load_dataset(tmp_path / "absent.npz")


def test_save_validates_before_writing(tmp_path):
    with pytest.raises(ValueError, match="y_test must be in 0..2"):
        save_npz(tmp_path / "d.npz", _data(y_test=np.array([0, 1, 7])))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_no_temporary_file(tmp_path):
    (tmp_path / "d.npz").mkdir()  # the final rename fails: a folder is in the way
    with pytest.raises(OSError):
        save_npz(tmp_path / "d.npz", _data())
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_channel_names_and_sampling_rate_round_trip(tmp_path):
    path = save_npz(tmp_path / "d.npz", _data(), channels=["acc_x [g]", "acc_y [g]", "gyro_z [rad/s]"],
                    sampling_rate=50)
    data = load_npz(path)
    assert data.channels == ("acc_x [g]", "acc_y [g]", "gyro_z [rad/s]") and data.sampling_rate == 50.0
    # Saved again without being told: the data's own names and rate are kept.
    again = load_npz(save_npz(tmp_path / "e.npz", data))
    assert again.channels == data.channels and again.sampling_rate == 50.0
    assert isinstance(load_dataset(path).sampling_rate, float)


def test_files_without_channel_names_or_rate_still_load(tmp_path):
    data = load_npz(_write(tmp_path / "old.npz", **_arrays()))
    assert data.channels is None and data.sampling_rate is None
    with np.load(save_npz(tmp_path / "new.npz", data)) as npz:
        assert "channels" not in npz.files and "sampling_rate" not in npz.files


@pytest.mark.parametrize("changes,message", [
    ({"channels": np.array(["a", "b"])}, "channels names 2 channels but the windows have 3"),
    ({"channels": np.array(["a", "b", "a"])}, r"channel names repeat: \['a', 'b', 'a'\]"),
    ({"channels": np.array(["a", " ", "c"])}, "channel names must be non-empty strings"),
    ({"channels": np.array([1, 2, 3])}, "channels must be a 1-D array of strings; got dtype int64"),
    ({"sampling_rate": np.array([50.0, 50.0])}, r"sampling_rate must be one number .* shape \(2,\)"),
    ({"sampling_rate": np.array("50 Hz")}, "sampling_rate must be one number"),
    ({"sampling_rate": np.array(-50.0)}, "sampling_rate must be a positive number of Hz; got -50.0"),
    ({"sampling_rate": np.array(np.nan)}, "sampling_rate must be a positive number of Hz; got nan"),
])
def test_invalid_channel_names_or_rate_are_rejected(tmp_path, changes, message):
    path = _write(tmp_path / "bad.npz", **_arrays(channels=np.array(["a", "b", "c"]), sampling_rate=np.array(20.0),
                                                  **{}) | changes)
    with pytest.raises(ValueError, match=message) as info:
        load_npz(path)
    assert str(path) in str(info.value)


def test_save_checks_channel_names_and_rate(tmp_path):
    with pytest.raises(ValueError, match="channels names 1 channels but the windows have 3"):
        save_npz(tmp_path / "d.npz", _data(), channels=["x"])
    with pytest.raises(ValueError, match="sampling_rate must be a positive number of Hz; got 0"):
        save_npz(tmp_path / "d.npz", _data(), sampling_rate=0)
    assert list(tmp_path.iterdir()) == []
