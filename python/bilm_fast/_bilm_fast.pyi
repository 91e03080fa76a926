"""Exact, parallel reading of numeric text (UCI HAR "Inertial Signals", CSV) into numpy arrays.

Exactness: every value is bit-identical to ``np.loadtxt(path)`` (float64) and to
``np.loadtxt(path).astype(np.float32)`` (float32): text is parsed to the correctly rounded
float64 first and then rounded to float32, never parsed to float32 directly.

Accepted text, as ``np.loadtxt`` with its defaults: values separated by runs of blanks
(space, tab, vertical tab, form feed, and the separators 0x1C-0x1F); lines ending in LF, CRLF or a lone CR; blank lines
and ``#`` comments skipped; no final newline needed. Numbers use Python's ``float()``
syntax: ``1.8085150e-004``, ``+1.0``, ``1e5``, ``.5``, ``-0.0``, ``inf``, ``nan`` (any case);
overflow gives ``inf`` like ``np.loadtxt``. Anything else is a ``ValueError`` naming the
file, the 1-based line and the offending token.

Threads: parsing runs on a pool of ``num_threads`` threads if given, else
``BILM_NUM_THREADS`` if set (read on every call), else as many as this process may use CPUs.
The GIL is released while parsing. Pools are kept between calls: one for each of the last
four sizes asked for.

Fork safety: the pool remembers the process that built it. In a child made by ``os.fork()``
(e.g. a PyTorch ``DataLoader`` worker) the first call builds a new pool instead of using the
parent's, whose threads do not exist in the child, so loading in workers works and does not
hang, also when another thread of the parent was inside a bilm_fast call at the fork: each
process has its own pool lock.
"""

import os
from collections.abc import Iterable
from typing import Literal

import numpy as np
import numpy.typing as npt

__version__: str

def load_uci_har(
    root: str | os.PathLike[str],
    split: Literal["train", "test"] = "train",
    *,
    dtype: npt.DTypeLike = "float32",
    num_threads: int | None = None,
) -> tuple[npt.NDArray[np.floating], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Load one split of UCI HAR from its "Inertial Signals" text files.

    Args:
        root: the folder that holds ``train/`` and ``test/`` (``UCI HAR Dataset``).
        split: ``"train"`` or ``"test"``.
        dtype: ``float32`` (default) or ``float64``, as a string or numpy dtype.
        num_threads: threads to parse with (see the module docstring for the default).

    Returns:
        ``(X, y, subject)``: ``X`` of shape (N, 9, 128), C-contiguous, channels in the
        order body_acc x, y, z, body_gyro x, y, z, total_acc x, y, z; ``y`` int64 (N,)
        with labels 0..5 (the files' 1..6 minus one); ``subject`` int64 (N,).

    Reads ``<split>/y_<split>.txt``, ``<split>/subject_<split>.txt`` and the 9 files of
    ``<split>/Inertial Signals/``; never needs ``X_<split>.txt`` and never writes a file.
    A file rewritten in place during the load may be read partly old, partly new (as by
    ``np.loadtxt``); replace files atomically (write a new one, rename it over the old).

    Raises:
        FileNotFoundError: a file is missing (``.filename`` is its path).
        ValueError: an unknown split (the message lists the valid ones); malformed text
            (file, line, token); a row without exactly 128 values; signal files, labels
            and subjects with different row counts (files and counts); a label outside
            1..6 or a subject that is not a whole number (file and line); a dtype other than
            float32/float64 or ``num_threads < 1``; an invalid ``BILM_NUM_THREADS``.
        TypeError: a dtype name numpy does not know.
        OSError: any other failure to read a file.

    Example:
        >>> X, y, subject = bilm_fast.load_uci_har("UCI HAR Dataset", "train")
        >>> X.shape, X.dtype, y[:3]
        ((7352, 9, 128), dtype('float32'), array([4, 4, 4]))
    """

def read_matrix(
    path: str | os.PathLike[str],
    dtype: npt.DTypeLike = "float32",
    *,
    num_threads: int | None = None,
) -> npt.NDArray[np.floating]:
    """Read a whitespace-separated numeric text file into a 2-D array, like ``np.loadtxt``.

    Every row must have as many values as the first. Unlike ``np.loadtxt``, the result is
    always 2-D (``ndmin=2``): one column gives (rows, 1), one row gives (1, cols). Reads
    UCI HAR's ``X_train.txt`` (561 features) too, for users who have it.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file is empty or has only blank lines, a token is not a number,
            bytes are not text, or a row has the wrong number of values (file, line, what).
        OSError: any other failure to read the file.
    """

def read_csv(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    delimiter: str | None = ",",
    skip_rows: int = 0,
    usecols: int | Iterable[int] | None = None,
    dtype: npt.DTypeLike = "float32",
    num_threads: int | None = None,
) -> list[npt.NDArray[np.floating]]:
    """Read numeric CSV (or other delimited text) files into one 2-D array each.

    Each array is bit-identical to ``np.loadtxt(path, delimiter=delimiter,
    skiprows=skip_rows, usecols=usecols, dtype=dtype, ndmin=2)`` (numpy 2), with float32
    values rounded from the float64 ones as numpy does. The files are read in parallel, a
    large file in line-aligned chunks, with the GIL released.

    Args:
        paths: an iterable of paths (the result is in the same order), or a single path (the
            result is still a list, of one array).
        delimiter: one ASCII character other than ``#`` and the line breaks (``","``,
            ``";"``, a tab, ...); every occurrence ends a field. ``None``: fields are runs of
            whitespace, as ``np.loadtxt``'s default.
        skip_rows: physical lines to skip first, whatever they hold (a header; blank and
            comment lines count too).
        usecols: the fields to keep, in this order: an index or an iterable of indices
            (``range(1, 13)``, a numpy array); negative ones count from the end, repeats are
            allowed. Fields left out are not parsed, so they may hold anything. Default: all.
        dtype: ``float32`` (default) or ``float64``, as a string or numpy dtype.
        num_threads: threads to parse with (see the module docstring for the default).

    Returns:
        One C-contiguous array per file, of shape (rows, fields) or (rows, len(usecols)). A
        file without data rows gives shape (0, len(usecols)), or (0, 1) without usecols, as
        ``np.loadtxt`` does (without its warning).

    Text rules, as ``np.loadtxt``: lines end in LF, CRLF or a lone CR; ``#`` starts a
    comment, also mid-line; with a delimiter, lines that are empty up to their comment are
    skipped and fields may have whitespace around the number, but an empty field (``1,,2``,
    a trailing delimiter, a line of blanks) is an error; with ``delimiter=None`` lines of
    whitespace are skipped. Numbers use Python's ``float()`` syntax (``1e5``, ``.5``,
    ``-0.0``, ``inf``, ``nan``, no underscores); overflow gives ``inf``. Every row must have
    as many fields as the first; with ``usecols``, as in numpy, rows may differ in length as
    long as each has the picked fields (negative indices count from each row's end).

    Raises:
        FileNotFoundError: a file is missing (``.filename`` is its path); with several bad
            files, the error is that of the first in ``paths`` order.
        ValueError: malformed content, as ``"<file>, line <n>: <what>"`` with the 1-based
            physical line and e.g. ``expected 13 fields, found 12``, ``"abc" is not a
            number (field 3)``, ``empty field 3`` or ``usecols index 13 is out of range for
            a row of 13 fields (valid: -13 to 12)``; a delimiter that is not one ASCII
            character (or is ``#`` or a line break); ``skip_rows < 0``; a dtype other than
            float32/float64; ``num_threads < 1``; an invalid ``BILM_NUM_THREADS``.
        TypeError: ``paths``, ``delimiter``, ``skip_rows`` or ``usecols`` of the wrong type
            (e.g. bytes paths, a ``usecols`` of floats or a str); a dtype name numpy does not
            know.
        OSError: any other failure to read a file (``IsADirectoryError``, ...).

    Example:
        >>> x, = bilm_fast.read_csv(["dws_1/sub_1.csv"], skip_rows=1, usecols=range(1, 13))
        >>> x.shape, x.dtype
        ((1751, 12), dtype('float32'))
    """

def sliding_windows(
    signal: npt.NDArray[np.float32] | npt.NDArray[np.float64],
    size: int,
    step: int,
) -> npt.NDArray[np.float32] | npt.NDArray[np.float64]:
    """Cut a (T, C) recording into (N, C, size) windows of the same dtype.

    Window ``w`` is ``signal[w*step : w*step+size].T``, for ``N = (T - size) // step + 1``
    windows; a recording shorter than ``size`` gives an empty (0, C, size) array rather
    than an error, so short recordings can be skipped by concatenating results. UCI HAR
    was cut with ``size=128, step=64`` (2.56 s windows at 50 Hz, 50% overlap). The result
    is a new C-contiguous array; any strides of ``signal`` are accepted.

    Raises:
        ValueError: ``size`` or ``step`` below 1, or ``signal`` not 2-D.
        TypeError: ``signal`` is not a float32/float64 numpy array.
    """
