"""Cutting raw recordings into labelled windows, and reading them from CSV or .npy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bilm.data.windows import Recording, cut_windows, read_recording


def _recording(labels: list[tuple[str, int]], name="rec", subject=None, channels=2) -> Recording:
    """Channel 0 holds each sample's index, so a window shows where it was cut from."""
    names = np.concatenate([np.full(count, label) for label, count in labels])
    signal = np.stack([np.arange(len(names)) + 1000 * c for c in range(channels)], axis=1).astype(np.float32)
    return Recording(name, signal, names, subject)


def test_uci_cut_keeps_only_windows_of_one_label():
    # 320 walk then 320 sit: windows start every 64 samples; the one at 256 straddles.
    walk_sit = _recording([("walk", 320), ("sit", 320)], name="a.csv")
    held_out = _recording([("sit", 200), ("walk", 200)], name="b.csv")
    data = cut_windows([walk_sit, held_out], test_recordings=["b.csv"])
    assert data.classes == ("sit", "walk")
    assert data.X_train.shape == (8, 2, 128) and data.X_train.dtype == np.float32
    np.testing.assert_array_equal(data.X_train[:, 0, 0], [0, 64, 128, 192, 320, 384, 448, 512])
    np.testing.assert_array_equal(data.y_train, [1, 1, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(data.X_train[1, 1], np.arange(64, 192) + 1000)  # (C, T) per window
    np.testing.assert_array_equal(data.X_test[:, 0, 0], [0, 64, 256])
    np.testing.assert_array_equal(data.y_test, [0, 0, 1])
    assert data.subject_train is None


def test_test_fraction_takes_the_end_of_every_labelled_stretch():
    data = cut_windows([_recording([("walk", 1024), ("sit", 1024)])], test_fraction=0.25)
    train, test = data.X_train[:, 0, :], data.X_test[:, 0, :]
    assert set(data.y_train.tolist()) == set(data.y_test.tolist()) == {0, 1}
    assert not set(train.ravel().tolist()) & set(test.ravel().tolist())  # no shared samples
    assert test.min() >= 768 and (train.max(axis=1) < 768).sum() == (data.y_train == 1).sum()
    with pytest.raises(ValueError, match=r"test fraction must be in \(0, 1\)"):
        cut_windows([_recording([("walk", 1024)])], test_fraction=1.0)


def test_subjects_follow_their_windows_and_can_be_held_out():
    recordings = [_recording([("a", 256), ("b", 256)], name=f"r{s}", subject=s) for s in (1, 2, 3)]
    data = cut_windows(recordings, test_subjects=[2])
    assert sorted(set(data.subject_train.tolist())) == [1, 3]
    assert set(data.subject_test.tolist()) == {2}
    assert data.subject_train.dtype == np.int64 and len(data.subject_test) == len(data.y_test)


def test_unlabelled_samples_are_never_in_a_window():
    rec = _recording([("walk", 300), ("", 300), ("walk", 300)])
    data = cut_windows([rec, _recording([("walk", 128)], name="t")], test_recordings=["t"])
    starts = data.X_train[:, 0, 0]
    assert len(starts) and all(stop <= 300 or start >= 600 for start, stop in zip(starts, starts + 128))
    assert data.classes == ("walk",)


def test_classes_option_fixes_the_order_and_rejects_strangers():
    recs = [_recording([("sit", 256), ("walk", 256)], name="x"), _recording([("walk", 256)], name="y")]
    data = cut_windows(recs, classes=["walk", "sit", "run"], test_recordings=["y"])
    assert data.classes == ("walk", "sit", "run")
    assert set(data.y_train.tolist()) == {0, 1}
    with pytest.raises(ValueError, match=r"x: labels \['sit'\] are not among the classes \['walk'\]"):
        cut_windows(recs, classes=["walk"])


def test_numeric_labels_sort_as_numbers():
    data = cut_windows([_recording([("10", 512), ("9", 512), ("2", 512)])])
    assert data.classes == ("2", "9", "10")


def test_errors():
    with pytest.raises(ValueError, match="no test windows"):
        cut_windows([_recording([("walk", 600)], name="a"), _recording([("walk", 100)], name="b")],
                    test_recordings=["b"])
    with pytest.raises(ValueError, match="different numbers of channels"):
        cut_windows([_recording([("a", 300)], name="x"), _recording([("a", 300)], name="y", channels=3)])
    with pytest.raises(ValueError, match="test subjects needs the subject of every recording"):
        cut_windows([_recording([("a", 300)], subject=1), _recording([("a", 300)])], test_subjects=[1])
    with pytest.raises(ValueError, match="no recordings"):
        cut_windows([])


def test_read_csv(tmp_path):
    path = tmp_path / "phone.csv"
    rows = "".join(f"{t},{t * 0.5},{-t},{'walk' if t < 3 else 'sit'}\n" for t in range(5))
    path.write_text("\ufefftime, ax ,ay,activity\n" + rows + "\n", encoding="utf-8")
    rec = read_recording(path, label_column="activity", channels=["ax", "ay"], subject=7)
    np.testing.assert_array_equal(rec.signal, [[t * 0.5, -t] for t in range(5)])
    assert rec.signal.dtype == np.float32 and rec.subject == 7
    assert rec.labels.tolist() == ["walk"] * 3 + ["sit"] * 2
    whole = read_recording(path, label="run", channels=["ax"])
    assert whole.labels.tolist() == ["run"] * 5 and whole.signal.shape == (5, 1)


@pytest.mark.parametrize("text,options,message", [
    ("a,b\n1,2\n", {}, r"no label column 'label' among \['a', 'b'\]"),
    ("a,label\n1,x\n", {"channels": ["a", "c"]}, r"channel columns \['c'\] not among"),
    ("a,label\n1,x\nq,y\n", {}, r"line 3: channel values must be numbers; got \['q'\]"),
    ("a,label\n1,x\nnan,y\n", {}, "line 3: NaN or infinite"),
    ("a,label\n1,x\n2\n", {}, "line 3: 1 fields, but the header has 2"),
    ("a,label\n", {}, "no samples"),
    ("", {}, "empty file"),
])
def test_read_csv_errors_name_file_and_line(tmp_path, text, options, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_recording(path, **options)
    assert str(path) in str(info.value)


def test_read_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(12.0).reshape(6, 2))
    np.save(tmp_path / "y.npy", np.array([1, 1, 1, 2, 2, 2]))
    rec = read_recording(tmp_path / "x.npy", labels_path=tmp_path / "y.npy")
    assert rec.signal.shape == (6, 2) and rec.labels.tolist() == ["1"] * 3 + ["2"] * 3
    np.save(tmp_path / "short.npy", np.array([1, 2]))
    with pytest.raises(ValueError, match=r"short.npy: .*x.npy has 6 samples, so its labels must have shape \(6,\)"):
        read_recording(tmp_path / "x.npy", labels_path=tmp_path / "short.npy")
    with pytest.raises(ValueError, match="x.npy: a .npy recording needs its labels"):
        read_recording(tmp_path / "x.npy")
    np.save(tmp_path / "flat.npy", np.zeros(5))
    with pytest.raises(ValueError, match=r"flat.npy: a recording must be a numeric \(samples, channels\) array"):
        read_recording(tmp_path / "flat.npy", label="a")
    with pytest.raises(ValueError, match="must be a .csv or a .npy"):
        read_recording(tmp_path / "rec.txt")


def test_held_out_subjects_and_recordings_must_exist():
    def rec(name, subject):
        labels = np.array(["A"] * 300 + ["B"] * 300)
        return Recording(name=name, signal=np.zeros((600, 3), np.float32), labels=labels, subject=subject)

    recordings = [rec("one.csv", 1), rec("two.csv", 2)]
    with pytest.raises(ValueError, match=r"test subjects \[3\] match no recording \(subjects: \[1, 2\]\)"):
        cut_windows(recordings, test_subjects=[3])
    with pytest.raises(ValueError, match=r"test recordings .*three.csv.* match no recording"):
        cut_windows(recordings, test_recordings=["three.csv"])
    # Relative and absolute spellings of the same recording agree.
    data = cut_windows(recordings, test_recordings=[str(Path("two.csv").resolve())])
    assert len(data.y_test) > 0 and len(data.y_train) > 0
