"""bilm_fast.sliding_windows: (T, C) recordings to (N, C, size) windows."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import bilm_fast


def reference(signal: np.ndarray, size: int, step: int) -> np.ndarray:
    return sliding_window_view(signal, size, axis=0)[::step]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps, channels, size, step", [(1000, 9, 128, 64), (10, 2, 4, 3), (5, 1, 5, 1), (7, 3, 2, 10)])
def test_matches_numpy_windows(dtype, steps, channels, size, step):
    signal = np.random.default_rng(0).normal(size=(steps, channels)).astype(dtype)
    windows = bilm_fast.sliding_windows(signal, size, step)
    assert windows.dtype == dtype and windows.flags.c_contiguous
    assert windows.shape == ((steps - size) // step + 1, channels, size)
    np.testing.assert_array_equal(windows, reference(signal, size, step))


def test_small_example_by_hand():
    signal = np.array([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14]], dtype=np.float32)
    np.testing.assert_array_equal(
        bilm_fast.sliding_windows(signal, 3, 2),
        [[[0, 1, 2], [10, 11, 12]], [[2, 3, 4], [12, 13, 14]]],
    )


def test_uci_cut_overlaps_by_half():
    signal = np.random.default_rng(1).normal(size=(50 * 60, 9))  # a minute at 50 Hz
    windows = bilm_fast.sliding_windows(signal, 128, 64)
    assert windows.shape == ((3000 - 128) // 64 + 1, 9, 128)
    np.testing.assert_array_equal(windows[1:, :, :64], windows[:-1, :, 64:])


def test_strided_and_fortran_inputs():
    base = np.random.default_rng(2).normal(size=(60, 8))
    for signal in (base[::2, 1::3], np.asfortranarray(base), base[::-1]):
        np.testing.assert_array_equal(bilm_fast.sliding_windows(signal, 5, 2), reference(signal, 5, 2))


def test_recording_shorter_than_a_window_gives_no_windows():
    windows = bilm_fast.sliding_windows(np.zeros((100, 9), np.float32), 128, 64)
    assert windows.shape == (0, 9, 128) and windows.dtype == np.float32


@pytest.mark.parametrize("size, step, name, value", [(0, 1, "size", 0), (4, 0, "step", 0), (-3, 1, "size", -3), (4, -1, "step", -1)])
def test_size_and_step_below_one(size, step, name, value):
    with pytest.raises(ValueError, match=f"{name} must be at least 1, got {value}"):
        bilm_fast.sliding_windows(np.zeros((10, 2)), size, step)


@pytest.mark.parametrize("shape", [(10,), (2, 10, 3), ()])
def test_not_two_dimensional(shape):
    with pytest.raises(ValueError, match="signal must be a 2-D \\(T, C\\) array"):
        bilm_fast.sliding_windows(np.zeros(shape), 2, 1)


def test_wrong_types():
    with pytest.raises(TypeError, match="float32 or float64, got int64"):
        bilm_fast.sliding_windows(np.zeros((10, 2), np.int64), 2, 1)
    with pytest.raises(TypeError, match="must be a numpy.ndarray, got list"):
        bilm_fast.sliding_windows([[1.0, 2.0]] * 4, 2, 1)
