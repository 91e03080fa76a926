"""The real UCI HAR copy (skipped without it): shapes, label counts, subjects, and exact
equality with np.loadtxt for every signal file of both splits."""

from __future__ import annotations

import numpy as np
import pytest

import bilm_fast
from bilm.data import UCI_HAR_SIGNALS, signal_path

# From the dataset's NOTICE: windows, label counts for 1..6, subjects.
FACTS = {
    "train": (7352, [1226, 1073, 986, 1286, 1374, 1407], [1, 3, 5, 6, 7, 8, 11, 14, 15, 16, 17, 19, 21, 22, 23, 25, 26, 27, 28, 29, 30]),
    "test": (2947, [496, 471, 420, 491, 532, 537], [2, 4, 9, 10, 12, 13, 18, 20, 24]),
}


@pytest.mark.parametrize("split", ["train", "test"])
def test_real_split(uci_har_root, split):
    n, label_counts, subjects = FACTS[split]
    x32, y, subject = bilm_fast.load_uci_har(uci_har_root, split)
    x64, _, _ = bilm_fast.load_uci_har(uci_har_root, split, dtype="float64")
    assert x32.shape == x64.shape == (n, 9, 128) and y.shape == subject.shape == (n,)
    assert np.bincount(y, minlength=6).tolist() == label_counts
    assert np.unique(subject).tolist() == subjects
    np.testing.assert_array_equal(y + 1, np.loadtxt(uci_har_root / split / f"y_{split}.txt"))
    np.testing.assert_array_equal(subject, np.loadtxt(uci_har_root / split / f"subject_{split}.txt"))
    for i, channel in enumerate(UCI_HAR_SIGNALS):
        want = np.loadtxt(signal_path(uci_har_root, split, channel))
        np.testing.assert_array_equal(x64[:, i].view(np.uint64), want.view(np.uint64), err_msg=channel)
        np.testing.assert_array_equal(x32[:, i].view(np.uint32), want.astype(np.float32).view(np.uint32), err_msg=channel)
