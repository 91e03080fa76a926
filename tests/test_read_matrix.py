"""bilm_fast.read_matrix: bit-identical to np.loadtxt on any whitespace-separated numeric text."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bilm_fast


def write(tmp_path: Path, data: bytes, name: str = "m.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_same_as_loadtxt(path: Path) -> None:
    """float64 bits equal np.loadtxt's, float32 bits equal np.loadtxt(...).astype(float32)'s."""
    want = np.loadtxt(path, ndmin=2)
    got64 = bilm_fast.read_matrix(path, "float64")
    got32 = bilm_fast.read_matrix(path)
    assert got64.shape == want.shape == got32.shape
    assert got32.dtype == np.float32 and got64.dtype == np.float64
    np.testing.assert_array_equal(got64.view(np.uint64), want.view(np.uint64))
    with np.errstate(over="ignore"):  # values beyond float32 become inf, as they should
        want32 = want.astype(np.float32)
    np.testing.assert_array_equal(got32.view(np.uint32), want32.view(np.uint32))


@pytest.mark.parametrize(
    "text",
    [
        b"  1.8085150e-004 -1.1474840e-003\r\n  2.0000000e+000  3.0000000e-001\r\n",  # UCI, CRLF
        b"1 2\n3 4\n",  # LF
        b"1 2\n3 4",  # no final newline
        b"   1\t\t2   \n\t3 4\t  \n",  # leading, trailing, repeated blanks and tabs
        b"\n\n1 2\n\n\r\n3 4\n\n",  # blank lines
        b"# header\n1 2 # note\n#\n3 4\n",  # comments
        b"1 2\r3 4\r",  # old Mac line ends
        b"1\x0b2\x0c\n3 4\n",  # vertical tab and form feed are blanks too
        b"+1.0 1e5\n.5 5.\n",
        b"-0.0 0.0\n1e400 -1e400\n",  # signed zero, overflow to +-inf
        b"1e-400 4.9e-324\n2.2250738585072014e-308 1.7976931348623157e308\n",  # underflow, subnormal, extremes
        b"inf -Infinity\nnan -NaN\n",
        b"9.9999999e+029 1.0000000e-016\n-1.2345678E-005 7.0000000e+022\n",  # fast-path edges
        b"3.4028235677973366e38 3.4028236e38\n1.4e-45 7e-46\n",  # float32 overflow and underflow
    ],
)
def test_text_variants_match_loadtxt(tmp_path, text):
    assert_same_as_loadtxt(write(tmp_path, text))


def test_always_two_dimensional(tmp_path):
    assert bilm_fast.read_matrix(write(tmp_path, b"1\n2\n3\n")).shape == (3, 1)
    assert bilm_fast.read_matrix(write(tmp_path, b"1 2 3\n")).shape == (1, 3)


def test_large_file_over_many_chunks_and_threads(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (30_000, 12)) * 10.0 ** rng.integers(-20, 20, (30_000, 12))
    path = tmp_path / "big.txt"
    np.savetxt(path, values, fmt="%16.7e")  # 2-digit exponents: the general parser's path
    assert path.stat().st_size > 4 << 20
    assert_same_as_loadtxt(path)
    np.testing.assert_array_equal(bilm_fast.read_matrix(path, num_threads=1), bilm_fast.read_matrix(path, num_threads=3))


tokens = st.one_of(
    st.floats(allow_nan=False).map(repr),
    st.floats(allow_nan=False, width=32).map(lambda v: f"{v:.7e}"),
    st.floats(allow_nan=False).map(lambda v: f"{v:+.16E}"),
    st.floats(min_value=-1e30, max_value=1e30).map(lambda v: f"{v:g}"),
    st.integers(-(10**20), 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=12).map(str),
    st.sampled_from(["inf", "-inf", "nan", "+nan", "-0", ".5", "5.", "+.5e-3", "1E+07"]),
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(1, 4).flatmap(lambda cols: st.lists(st.lists(tokens, min_size=cols, max_size=cols), min_size=1, max_size=6)),
    blank=st.sampled_from([" ", "  ", "\t", " \t "]),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    final=st.booleans(),
)
def test_random_tokens_match_loadtxt(rows, blank, end, final):
    text = end.join(blank + blank.join(row) for row in rows) + (end if final else "")
    with tempfile.TemporaryDirectory() as folder:
        assert_same_as_loadtxt(write(Path(folder), text.encode()))


@pytest.mark.parametrize(
    "text, line, message",
    [
        (b"1 2\n3 4 5\n", 2, "expected 2 values, found 3"),
        (b"1 2\n\n# c\n3\n", 4, "expected 2 values, found 1"),  # blank and comment lines still count
        (b"1 2\r\n\r\n3 x\r\n", 3, '"x" is not a number'),
        (b"1 2\n3 1,5\n", 2, '"1,5" is not a number'),
        (b"1 2\n3 0x10\n", 2, '"0x10" is not a number'),
        (b"1 2\n3 4.5e-\n", 2, '"4.5e-" is not a number'),
        (b"1 2\n3 4\x00\n", 2, "byte 0x00 is not text"),
        (b"1 2\n3 \xc3\xa9\n", 2, "byte 0xC3 is not text"),
        (b"\xff\xfe1\x002\x00", 1, "byte 0xFF is not text"),  # UTF-16
        (b"", 1, "no numbers: the file is empty or has only blank lines"),
        (b"\n \n# only a comment\n", 1, "no numbers"),
    ],
)
def test_errors_name_file_line_and_problem(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(f"{path}, line {line}: {message}")):
        bilm_fast.read_matrix(path)


def test_long_tokens_are_quoted_shortened(tmp_path):
    path = write(tmp_path, b"1 " + b"y" * 100 + b"\n")
    with pytest.raises(ValueError, match=re.escape('"' + "y" * 40 + '"... is not a number')):
        bilm_fast.read_matrix(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        bilm_fast.read_matrix(tmp_path / "absent.txt")
    assert info.value.filename == str(tmp_path / "absent.txt")
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        bilm_fast.read_matrix(tmp_path)


def test_reads_the_561_feature_layout(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "X_train.txt"
    np.savetxt(path, rng.uniform(-1, 1, (7, 561)), fmt="%15.7e", delimiter=" ")
    assert bilm_fast.read_matrix(path).shape == (7, 561)
    assert_same_as_loadtxt(path)
