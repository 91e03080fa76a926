"""bilm_fast.read_csv: bit-identical to np.loadtxt with the same settings, on many files at once."""

from __future__ import annotations

import re
import tempfile
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bilm_fast

REPO = Path(__file__).resolve().parent.parent
MOTIONSENSE_ZIP = REPO.parent / "shared" / "motionsense" / "A_DeviceMotion_data.zip"


def write(folder: Path, data: bytes, name: str = "m.csv") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def loadtxt(path: Path, delimiter: str | None = ",", skip_rows: int = 0, usecols=None, dtype=np.float32) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data"
        return np.loadtxt(path, delimiter=delimiter, skiprows=skip_rows, usecols=usecols, dtype=dtype, ndmin=2)


def assert_bits_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape and got.dtype == want.dtype
    assert got.flags.c_contiguous
    unsigned = np.uint32 if want.dtype == np.float32 else np.uint64
    np.testing.assert_array_equal(got.view(unsigned), want.view(unsigned))


def assert_same_as_loadtxt(path: Path, **settings) -> None:
    """float32 and float64 results equal np.loadtxt's with the same settings, bit for bit."""
    for dtype in (np.float32, np.float64):
        want = loadtxt(path, dtype=dtype, **settings)
        (got,) = bilm_fast.read_csv([path], dtype=dtype, **settings)
        assert_bits_equal(got, want)


@pytest.mark.parametrize(
    "text, settings",
    [
        (b"1,2\n3,4\n", {}),  # LF
        (b"1,2\r\n3,4\r\n", {}),  # CRLF
        (b"1,2\r3,4\r", {}),  # lone CR
        (b"1,2\r\n3,4\n5,6\r7,8", {}),  # mixed, no final line break
        (b"# header\n1,2 # note\n#\n\n3,4#x\n", {}),  # comments and blank lines
        (b" 1 ,\t2\x0b\n3\x0c, 4 \n", {}),  # blanks around fields
        (b"1,\xc2\xa02\xe2\x80\x83\n", {}),  # and Unicode whitespace
        (b"+1.0,1e5,.5,5.,-0.0,-.5e-3\n1E+07,0.031672000000000006,1.0827639999999998,7,-0,+.5\n", {}),
        (b"inf,-Infinity,nan,-NaN\n1e400,-1e400,1e-400,4.9e-324\n", {}),
        (b"3.4028235677973366e38,1.0000000596046447753906251\n1.4e-45,7e-46\n", {}),  # float32 rounding
        (b"12345678901234567890,9007199254740993.0\n4503599627370496.5,0.1\n", {}),  # long, ties
        (b"9.9999999e+029,1.0000000e-016\n-1.2345678E-005,7.0000000e+022\n", {}),
        (b"1;2;3\n4;5;6\n", {"delimiter": ";"}),
        (b"1\t2\t3\n4\t 5\t6\n", {"delimiter": "\t"}),
        (b"1 2 3\n4 5 6\n", {"delimiter": " "}),
        (b"1|2\n3|4\n", {"delimiter": "|"}),
        (b"1e2.5\n3.4\n", {"delimiter": "."}),  # a delimiter that is part of numbers
        (b"  1\t2  3 # c\n\n \t\n4 5\xc2\xa06\n", {"delimiter": None}),  # whitespace-separated
        (b"a,b,c\n\n# c\n1,2,3\n4,5,6\n", {"skip_rows": 1}),
        (b"a,b,c\n\n# c\n1,2,3\n4,5,6\n", {"skip_rows": 4}),  # skipped lines count blank and comment lines
        (b"h\n1,2,3\n4,5,6\n", {"skip_rows": 1, "usecols": [2, 0, -1, 0]}),  # reorder, negative, repeat
        (b"1,x,3\n4,,6\n", {"usecols": (0, -1)}),  # fields left out are not parsed
        (b"1,2,3\n4,5,6\n", {"usecols": 1}),
        (b"1,2,3\n4,5\n6,x,7,8\n", {"usecols": [0, -1]}),  # with usecols, rows may differ in length
        (b"1,2,3\n4,5,6\n", {"usecols": []}),
        (b"7\n8\n9", {}),  # one column
        (b"1,2,3", {}),  # one row
    ],
)
def test_text_variants_match_loadtxt(tmp_path, text, settings):
    assert_same_as_loadtxt(write(tmp_path, text), **settings)


@pytest.mark.parametrize(
    "text, settings, shape",
    [
        (b"", {}, (0, 1)),
        (b"\n\n# only comments\n", {}, (0, 1)),
        (b"a,b,c\n", {"skip_rows": 1}, (0, 1)),
        (b"1,2\n", {"skip_rows": 5}, (0, 1)),
        (b"", {"usecols": [0, 2]}, (0, 2)),
        (b"a,b,c\n", {"skip_rows": 1, "usecols": range(1, 3)}, (0, 2)),
        (b" \n\t\n", {"delimiter": None}, (0, 1)),
    ],
)
def test_no_data_rows_give_numpys_shape(tmp_path, text, settings, shape):
    path = write(tmp_path, text)
    (got,) = bilm_fast.read_csv(path, **settings)
    assert got.shape == shape
    assert_same_as_loadtxt(path, **settings)


def test_large_file_over_many_chunks_and_threads(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (60_000, 13)) * 10.0 ** rng.integers(-8, 8, (60_000, 13))
    path = tmp_path / "big.csv"
    np.savetxt(path, values, fmt="%.17g", delimiter=",", header="a header line")
    assert path.stat().st_size > 8 << 20
    assert_same_as_loadtxt(path, skip_rows=1)
    one, three = (bilm_fast.read_csv(path, skip_rows=1, dtype="float64", num_threads=n)[0] for n in (1, 3))
    np.testing.assert_array_equal(one, values)  # %.17g round-trips
    np.testing.assert_array_equal(one.view(np.uint64), three.view(np.uint64))
    # An error in a late chunk is found and reported at its line, whatever the thread count.
    lines = path.read_bytes().splitlines(keepends=True)
    lines[50_001] = b"1,2\n"
    path.write_bytes(b"".join(lines))
    for n in (1, 3):
        with pytest.raises(ValueError, match=re.escape(f"{path}, line 50002: expected 13 fields, found 2")):
            bilm_fast.read_csv(path, skip_rows=1, num_threads=n)


def test_many_files_in_parallel_keep_their_order(tmp_path):
    rng = np.random.default_rng(2)
    tables = [rng.normal(0, 1, (int(rng.integers(0, 40)), 5)).round(6) for _ in range(120)]
    paths = []
    for i, table in enumerate(tables):
        path = tmp_path / f"{i:03d}.csv"
        np.savetxt(path, table, fmt="%.6f", delimiter=",", header="a,b,c,d,e", comments="")
        paths.append(path)
    for threads in (1, 2, 5):
        got = bilm_fast.read_csv(paths[::-1], skip_rows=1, dtype=np.float64, num_threads=threads)
        assert len(got) == len(paths)
        for array, table in zip(got, tables[::-1]):
            if len(table):
                np.testing.assert_array_equal(array, table)
            else:
                assert array.shape == (0, 1)  # no data rows, as np.loadtxt
    # Any iterable of str or os.PathLike; one path gives a list of one array.
    firsts = bilm_fast.read_csv((str(p) for p in paths[:3]), skip_rows=1, dtype=np.float64)
    assert [a.shape for a in firsts] == [t.shape if len(t) else (0, 1) for t in tables[:3]]
    for one in (paths[4], str(paths[4])):
        (array,) = bilm_fast.read_csv(one, skip_rows=1, dtype=np.float64)
        np.testing.assert_array_equal(array.reshape(tables[4].shape), tables[4])
    assert bilm_fast.read_csv([]) == []


def test_gil_is_released_while_parsing(tmp_path):
    row = b"0,1.528132,-0.733896,0.696372,0.741895,0.669768,-0.031672000000000006\n"
    paths = [write(tmp_path, row * 150_000, f"{i}.csv") for i in range(4)]  # ~45 MB
    call: dict[str, float] = {}

    def read() -> None:
        call["start"] = time.perf_counter()
        bilm_fast.read_csv(paths, num_threads=1)
        call["end"] = time.perf_counter()

    worker = threading.Thread(target=read)
    worker.start()
    ticks = []
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    start, end = call["start"], call["end"]
    margin = (end - start) / 10
    # With the GIL held for the whole call, this thread could not have run during it.
    assert any(start + margin < t < end - margin for t in ticks), (end - start, len(ticks))


@pytest.mark.parametrize(
    "text, settings, line, message",
    [
        (b"1,2,3\n4,5\n", {}, 2, "expected 3 fields, found 2"),
        (b"1,2\n\n# c\n3,4,5\n", {}, 4, "expected 2 fields, found 3"),  # blank and comment lines count
        (b"1,2\r\n3,abc\r\n", {}, 2, '"abc" is not a number (field 2)'),
        (b"1,2\r3,4\r5,1_0\r", {}, 3, '"1_0" is not a number (field 2)'),
        (b"1,2\n3,0x10\n", {}, 2, '"0x10" is not a number (field 2)'),
        (b"1,2\n3,4.5e-\n", {}, 2, '"4.5e-" is not a number (field 2)'),
        (b"1,2,3\n4,,6\n", {}, 2, "empty field 2"),
        (b"1,2\n3,4,\n", {}, 2, "expected 2 fields, found 3"),
        (b"1,2,\n", {}, 1, "empty field 3"),
        (b"1\n \n2\n", {}, 2, "empty field 1"),  # a line of blanks is a row with an empty field
        (b"1,2\n  # c\n", {}, 2, "expected 2 fields, found 1"),
        (b"1,2\n3,4\x00\n", {}, 2, "byte 0x00 is not text"),
        (b"1,2\n3,\xc3\xa9\n", {}, 2, "byte 0xC3 is not text"),
        (b",attitude.roll\n0,1.5\n", {}, 1, "empty field 1"),  # a header not skipped
        (b"x,attitude.roll\n0,1.5\n", {}, 1, '"x" is not a number (field 1)'),
        (b"h\n1,2,3\n", {"skip_rows": 1, "usecols": [3]}, 2, "usecols index 3 is out of range for a row of 3 fields (valid: -3 to 2)"),
        (b"1,2,3\n", {"usecols": [0, -4]}, 1, "usecols index -4 is out of range for a row of 3 fields"),
        (b"1,2,3\n4,5\n", {"usecols": [2]}, 2, "usecols index 2 is out of range for a row of 2 fields (valid: -2 to 1)"),
        (b"1 2\n3\n", {"delimiter": None}, 2, "expected 2 fields, found 1"),
        (b"1\t2\n\t\n", {"delimiter": "\t"}, 2, "empty field 1"),
    ],
)
def test_errors_name_file_line_and_problem(tmp_path, text, settings, line, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=re.escape(f"{path}, line {line}: {message}")):
        bilm_fast.read_csv([path], **settings)


def test_errors_come_from_the_first_bad_file_in_order(tmp_path):
    good = [write(tmp_path, b"1,2\n", f"good{i}.csv") for i in range(30)]
    bad1 = write(tmp_path, b"1,2\n3\n", "bad1.csv")
    bad2 = write(tmp_path, b"x,2\n", "bad2.csv")
    for threads in (1, 4):
        with pytest.raises(ValueError, match=re.escape(f"{bad1}, line 2: expected 2 fields, found 1")):
            bilm_fast.read_csv([*good, bad1, *good, bad2], num_threads=threads)
    missing = tmp_path / "absent.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))) as info:
        bilm_fast.read_csv([*good, missing, bad1])
    assert info.value.filename == str(missing)
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        bilm_fast.read_csv([tmp_path])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"delimiter": ",,"}, ValueError, "delimiter must be a single character"),
        ({"delimiter": ""}, ValueError, "delimiter must be a single character"),
        ({"delimiter": "#"}, ValueError, "delimiter must be one ASCII character other than '#'"),
        ({"delimiter": "\n"}, ValueError, "delimiter must be one ASCII character"),
        ({"delimiter": "µ"}, ValueError, "delimiter must be one ASCII character"),
        ({"delimiter": 44}, TypeError, "delimiter must be a str or None, got int"),
        ({"skip_rows": -1}, ValueError, "skip_rows must be at least 0, got -1"),
        ({"skip_rows": 1.5}, TypeError, "skip_rows must be an int, got float"),
        ({"usecols": [0.5]}, TypeError, "usecols must be an int or a sequence of ints, but it holds a float"),
        ({"usecols": "01"}, TypeError, "usecols must be an int or a sequence of ints, got str"),
        ({"usecols": 1.0}, TypeError, "usecols must be an int or a sequence of ints, got float"),
        ({"dtype": "int32"}, ValueError, "dtype must be float32 or float64, got int32"),
        ({"num_threads": 0}, ValueError, "num_threads must be at least 1, got 0"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, error, message):
    path = write(tmp_path, b"1,2\n")
    with pytest.raises(error, match=re.escape(message)):
        bilm_fast.read_csv([path], **kwargs)


def test_bad_paths_are_type_errors(tmp_path):
    for paths, kind in [(5, "int"), (b"m.csv", "bytes")]:
        message = f"paths must be a path (str or os.PathLike) or an iterable of paths, got {kind}"
        with pytest.raises(TypeError, match=re.escape(message)):
            bilm_fast.read_csv(paths)
    with pytest.raises(TypeError, match=re.escape("paths[1] must be a str or os.PathLike, got int")):
        bilm_fast.read_csv([write(tmp_path, b"1\n"), 5])


# Generated files: every spelling of numbers, line ends, comments, blank lines, headers,
# skip_rows, usecols and delimiters together, against np.loadtxt.

tokens = st.one_of(
    st.floats(allow_nan=False).map(repr),
    st.floats(-10, 10).map(repr),  # 17-digit spellings, as in MotionSense
    st.floats(-1e6, 1e6).map(lambda v: f"{v:.6f}"),
    st.floats(allow_nan=False, width=32).map(lambda v: f"{v:.7e}"),
    st.floats(allow_nan=False).map(lambda v: f"{v:+.16E}"),
    st.integers(-(10**21), 10**21).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=12).map(str),
    st.sampled_from(["inf", "-inf", "nan", "+nan", "-0", ".5", "5.", "+.5e-3", "1E+07", "-Infinity", "0.00"]),
)
delimiters = st.sampled_from([",", ";", "\t", " ", "|", None])


@st.composite
def csv_files(draw):
    delimiter = draw(delimiters)
    width = draw(st.integers(1, 6))
    rows = draw(st.lists(st.lists(tokens, min_size=width, max_size=width), max_size=8))
    blanks = [""] if delimiter == " " else ["", "", " ", "\t " if delimiter != "\t" else "  "]
    sep = " \t " if delimiter is None else delimiter
    lines = []
    for row in rows:
        pad = draw(st.sampled_from(blanks))
        line = sep.join(pad + token + pad for token in row)
        tail = draw(st.sampled_from(["", "", " # note", "#"]))
        lines.append(line + tail)
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment", "#"])))
    header = draw(st.lists(st.sampled_from([",attitude.roll,x", "time;acc", "# c", ""]), max_size=2))
    skip_rows = len(header) + draw(st.integers(0, 2))
    ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=3))
    text = "".join(line + ends[i % len(ends)] for i, line in enumerate(header + lines))
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no final line break
    if draw(st.booleans()):
        text += "\n# " + "x" * 80  # room after every field for the parser's 64-byte look-ahead
    usecols = draw(
        st.one_of(
            st.none(),
            st.integers(-width, width - 1),
            st.lists(st.integers(-width, width - 1), max_size=4),
        )
    )
    return text.encode(), {"delimiter": delimiter, "skip_rows": skip_rows, "usecols": usecols}


@settings(max_examples=300, deadline=None)
@given(csv_files(), st.sampled_from([np.float32, np.float64]))
def test_generated_files_match_loadtxt(case, dtype):
    text, options = case
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), text)
        try:
            want = loadtxt(path, dtype=dtype, **options)
        except ValueError:
            with pytest.raises(ValueError, match=re.escape(f"{path}, line ")):
                bilm_fast.read_csv([path], dtype=dtype, **options)
            return
        (got,) = bilm_fast.read_csv([path], dtype=dtype, **options)
        assert_bits_equal(got, want)


# The real MotionSense files (a header and an unnamed index column, then 12 channels).


@pytest.fixture(scope="module")
def motionsense_csvs(tmp_path_factory) -> list[Path]:
    if not MOTIONSENSE_ZIP.is_file():
        pytest.skip(f"MotionSense not found at {MOTIONSENSE_ZIP}")
    folder = tmp_path_factory.mktemp("motionsense")
    wanted = ["dws_1/sub_1.csv", "jog_9/sub_5.csv", "sit_13/sub_24.csv", "wlk_15/sub_12.csv"]
    paths = []
    with zipfile.ZipFile(MOTIONSENSE_ZIP) as archive:
        names = {name.split("A_DeviceMotion_data/", 1)[-1]: name for name in archive.namelist()}
        for name in wanted:
            path = folder / name.replace("/", "_")
            path.write_bytes(archive.read(names[name]))
            paths.append(path)
    return paths


@pytest.mark.parametrize("usecols", [None, range(1, 13)])
def test_real_motionsense_csvs_match_loadtxt(motionsense_csvs, usecols):
    for dtype in (np.float32, np.float64):
        got = bilm_fast.read_csv(motionsense_csvs, skip_rows=1, usecols=usecols, dtype=dtype)
        for path, array in zip(motionsense_csvs, got):
            assert array.shape[1] == (13 if usecols is None else 12) and len(array) > 100
            assert_bits_equal(array, loadtxt(path, skip_rows=1, usecols=usecols, dtype=dtype))
    # The header is text: without skip_rows it is an error at line 1, as with np.loadtxt.
    with pytest.raises(ValueError, match=re.escape(f"{motionsense_csvs[0]}, line 1: empty field 1")):
        bilm_fast.read_csv(motionsense_csvs[:1])
