"""Property tests (hypothesis): random valid files agree with np.loadtxt bit for bit; random
corruptions of them fail with a ValueError that names the file and the corrupted line.

Kept small (tens of examples each) so the module runs in seconds; the Rust fuzz targets and
`rust/tests/fuzz_regressions.rs` cover the byte level far more widely.
"""

from __future__ import annotations

import atexit
import itertools
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bilm_fast
from bilm.data import UCI_HAR_SIGNALS, signal_path
from bilm.synth import write_uci_tree
from uci_text import uci_field

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_scratch = Path(tempfile.mkdtemp(prefix="bilm-props-"))
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)
_names = itertools.count()


def new_path(suffix: str = ".txt") -> Path:
    """A fresh file name per example (hypothesis and function-scoped tmp_path do not mix)."""
    return _scratch / f"f{next(_names)}{suffix}"


FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64)
TOKENS = st.one_of(
    FINITE.map(repr),
    FINITE.map(uci_field),
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(lambda v: f"{v:.7e}"),
    st.floats(width=32, allow_nan=False).map(lambda v: f"{v:g}"),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["inf", "-inf", "+Infinity", "nan", "NaN", "-0", "+.5", "5.", "1E5", "1e-400", "1e400"]),
)
BLANKS = st.text(alphabet=" \t\x0b\x0c\x1c\x1f", min_size=1, max_size=3)
LINE_ENDS = st.sampled_from(["\n", "\r\n", "\r"])
COMMENT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10).map(lambda s: "#" + s)


@st.composite
def matrix_files(draw, min_rows: int = 1):
    """(lines, cols, data_row_lines): text lines of a valid matrix file, with blank and comment
    lines between rows, and the 1-based line number of each data row."""
    cols = draw(st.integers(1, 6))
    rows = draw(st.integers(min_rows, 8))
    lines: list[str] = []
    data_lines: list[int] = []
    for _ in range(rows):
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "  ", "\t"])) + draw(st.sampled_from(["", "# note", "#"])))
        tokens = draw(st.lists(TOKENS, min_size=cols, max_size=cols))
        separators = draw(st.lists(BLANKS, min_size=cols, max_size=cols))
        line = draw(st.sampled_from(["", " ", "\t"])) + "".join(t + s for t, s in zip(tokens, separators))
        if draw(st.booleans()):
            line += draw(COMMENT)
        lines.append(line)
        data_lines.append(len(lines))
    return lines, cols, data_lines


def write(lines: list[str], end: str, final_break: bool) -> Path:
    path = new_path()
    path.write_bytes((end.join(lines) + (end if final_break else "")).encode("ascii"))
    return path


def assert_bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    uint = np.uint64 if want.dtype == np.float64 else np.uint32
    np.testing.assert_array_equal(got[~nan].view(uint), want[~nan].view(uint))


@SETTINGS
@given(matrix_files(), LINE_ENDS, st.booleans())
def test_valid_files_match_loadtxt(spec, end, final_break):
    lines, cols, data_lines = spec
    path = write(lines, end, final_break)
    want = np.loadtxt(path, ndmin=2, dtype=np.float64)
    assert want.shape == (len(data_lines), cols)
    assert_bits_equal(bilm_fast.read_matrix(path, dtype="float64"), want)
    with np.errstate(over="ignore"):  # 1e300 -> inf in float32 is the expected rounding
        want32 = want.astype(np.float32)
    assert_bits_equal(bilm_fast.read_matrix(path), want32)


JUNK = ["abc", "1.0.0", "1e", "--1", "0x10", "1_0", "nan(1)", "1,5", "e5", ".", "1e+", "infinit", "+-1"]


@st.composite
def corruptions(draw):
    """A valid file, one data row damaged: (lines, row line number, expected message)."""
    lines, cols, data_lines = draw(matrix_files(min_rows=2))
    row = draw(st.integers(1, len(data_lines) - 1))  # not row 0: it fixes the column count
    number = data_lines[row]
    tokens = lines[number - 1].split("#")[0].split()
    kind = draw(st.sampled_from(["junk", "byte", "drop", "extra"] if cols > 1 else ["junk", "byte", "extra"]))
    at = draw(st.integers(0, cols - 1))
    if kind == "junk":
        junk = draw(st.sampled_from(JUNK))
        tokens[at] = junk
        message = f'"{junk}" is not a number'
    elif kind == "byte":
        byte = draw(st.sampled_from(["\x00", "\x7f", "\x01"]))
        tokens[at] = tokens[at][:1] + byte + tokens[at][1:]
        message = f"byte 0x{ord(byte):02X} is not text"
    elif kind == "drop":
        del tokens[at]
        message = f"expected {cols} values, found {cols - 1}"
    else:
        tokens.insert(at, "1.0")
        noun = "value" if cols == 1 else "values"
        message = f"expected {cols} {noun}, found {cols + 1}"
    lines[number - 1] = " ".join(tokens)
    return lines, number, message


@SETTINGS
@given(corruptions(), LINE_ENDS, st.booleans())
def test_corrupted_files_name_file_and_line(spec, end, final_break):
    lines, number, message = spec
    path = write(lines, end, final_break)
    for dtype in ("float32", "float64"):
        with pytest.raises(ValueError, match=re.escape(f"{path}, line {number}: ") + ".*" + re.escape(message)):
            bilm_fast.read_matrix(path, dtype=dtype)
    with pytest.raises(ValueError):
        np.loadtxt(path, ndmin=2)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """Small UCI trees of a few sizes and seeds, shared by the examples (generated once)."""
    base = tmp_path_factory.mktemp("prop-trees")
    return {
        (n, seed): write_uci_tree(base / f"{n}-{seed}", n, n, seed=seed)
        for n in (1, 3, 7)
        for seed in (0, 1)
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([1, 3, 7]), st.sampled_from([0, 1]), st.sampled_from(["train", "test"]), st.integers(1, 4))
def test_uci_trees_match_loadtxt(trees, n, seed, split, threads):
    root = trees[(n, seed)]
    folder = root / split
    x_ref = np.stack([np.loadtxt(signal_path(root, split, c), ndmin=2) for c in UCI_HAR_SIGNALS], axis=1)
    x, y, subject = bilm_fast.load_uci_har(root, split, num_threads=threads)
    assert_bits_equal(x, x_ref.astype(np.float32))
    np.testing.assert_array_equal(y, np.loadtxt(folder / f"y_{split}.txt", ndmin=1).astype(np.int64) - 1)
    np.testing.assert_array_equal(subject, np.loadtxt(folder / f"subject_{split}.txt", ndmin=1).astype(np.int64))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from([3, 7]),
    st.sampled_from(UCI_HAR_SIGNALS),
    st.integers(0, 6),
    st.integers(0, 127),
    st.sampled_from(JUNK + ["\x00"]),
)
def test_corrupted_uci_signal_names_file_and_line(trees, tmp_path_factory, n, channel, row, column, junk):
    root = Path(shutil.copytree(trees[(n, 0)], tmp_path_factory.mktemp("corrupt") / "UCI HAR Dataset"))
    row = row % n
    path = signal_path(root, "test", channel)
    lines = path.read_bytes().split(b"\r\n")
    fields = [lines[row][i : i + 16] for i in range(0, len(lines[row]), 16)]
    fields[column] = b" " + junk.encode()
    lines[row] = b"".join(fields)
    path.write_bytes(b"\r\n".join(lines))
    with pytest.raises(ValueError, match=re.escape(f"{path}, line {row + 1}: ")):
        bilm_fast.load_uci_har(root, "test")
