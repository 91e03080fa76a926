//! bilm_fast: exact, parallel reading of numeric text (UCI HAR Inertial Signals, CSV) into
//! numpy arrays.
//!
//! This file is only the Python binding: argument conversion, releasing the GIL around the
//! work, and the single mapping from [`Error`] to Python exceptions. The work is in
//! [`float`] (number parsing), [`matrix`] (text to matrix), [`delimited`] (CSV and other
//! delimited text, its numbers by `block` and `decimal`), [`uci`] (dataset layout), [`window`] (sliding
//! windows) and [`threads`] (the thread pool).
mod block;
mod decimal;
pub mod delimited;
pub mod error;
mod field;
mod fixed;
pub mod float;
pub mod matrix;
pub mod threads;
pub mod uci;
pub mod window;

use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use numpy::ndarray::{Array2, Array3};
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use pyo3::Borrowed;

pub use error::{Error, Result};
use float::Sample;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            // (errno, strerror, filename) makes a proper OSError: `.filename` is set, and
            // OSError picks the subclass (PermissionError, IsADirectoryError, ...) by errno.
            Error::NotFound { path } => PyFileNotFoundError::new_err((
                2,
                "No such file or directory",
                path.display().to_string(),
            )),
            Error::Io { path, source } => match source.raw_os_error() {
                Some(errno) => {
                    let message = source.to_string();
                    let strerror = message
                        .strip_suffix(&format!(" (os error {errno})"))
                        .unwrap_or(&message);
                    PyOSError::new_err((errno, strerror.to_owned(), path.display().to_string()))
                }
                None => PyOSError::new_err(Error::Io { path, source }.to_string()),
            },
            Error::Runtime(what) => PyRuntimeError::new_err(what),
            Error::Parse { .. }
            | Error::Shape(_)
            | Error::UnknownSplit { .. }
            | Error::InvalidArgument(_) => PyValueError::new_err(e.to_string()),
        }
    }
}

/// Run `work` with the GIL released. A panic (a bug, never expected from any input) comes
/// back as an error instead of unwinding into Python as a PanicException.
fn detached<R: Send>(py: Python<'_>, work: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    py.detach(|| {
        catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Runtime(format!(
                "internal error in bilm_fast, please report it: {what}"
            )))
        })
    })
}

fn at_least_one(name: &str, value: i64) -> Result<NonZeroUsize> {
    usize::try_from(value)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| Error::InvalidArgument(format!("{name} must be at least 1, got {value}")))
}

fn num_threads(value: Option<i64>) -> Result<Option<NonZeroUsize>> {
    value.map(|v| at_least_one("num_threads", v)).transpose()
}

#[derive(Clone, Copy)]
enum Dtype {
    F32,
    F64,
}

/// Accept anything `numpy.dtype()` accepts ("float32", np.float64, ...); None means float32.
fn dtype_arg(dtype: Option<&Bound<'_, PyAny>>) -> PyResult<Dtype> {
    let Some(dtype) = dtype else {
        return Ok(Dtype::F32);
    };
    let py = dtype.py();
    let name: String = py
        .import("numpy")?
        .getattr("dtype")?
        .call1((dtype,))?
        .getattr("name")?
        .extract()?;
    match name.as_str() {
        "float32" => Ok(Dtype::F32),
        "float64" => Ok(Dtype::F64),
        _ => Err(PyValueError::new_err(format!(
            "dtype must be float32 or float64, got {name}"
        ))),
    }
}

type UciArrays<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
);

fn load_split<'py, T: Sample + Element>(
    py: Python<'py>,
    root: PathBuf,
    split: String,
    threads: Option<NonZeroUsize>,
) -> PyResult<UciArrays<'py>> {
    let data = detached(py, || {
        threads::run(threads, || uci::load::<T>(&root, &split))?
    })?;
    let x = Array3::from_shape_vec((data.y.len(), uci::CHANNELS.len(), uci::STEPS), data.x)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((
        x.into_pyarray(py).into_any(),
        data.y.into_pyarray(py),
        data.subject.into_pyarray(py),
    ))
}

/// Load one split of UCI HAR: (X float32 (N, 9, 128), y int64 (N,) in 0..5, subject int64 (N,)).
#[pyfunction]
#[pyo3(
    signature = (root, split = "train".to_owned(), *, dtype = None, num_threads = None),
    text_signature = "(root, split='train', *, dtype='float32', num_threads=None)"
)]
fn load_uci_har<'py>(
    py: Python<'py>,
    root: PathBuf,
    split: String,
    dtype: Option<&Bound<'py, PyAny>>,
    num_threads: Option<i64>,
) -> PyResult<UciArrays<'py>> {
    let threads = self::num_threads(num_threads)?;
    match dtype_arg(dtype)? {
        Dtype::F32 => load_split::<f32>(py, root, split, threads),
        Dtype::F64 => load_split::<f64>(py, root, split, threads),
    }
}

fn read_file_matrix<'py, T: Sample + Element>(
    py: Python<'py>,
    path: PathBuf,
    threads: Option<NonZeroUsize>,
) -> PyResult<Bound<'py, PyAny>> {
    let m = detached(py, || {
        threads::run(threads, || matrix::read_matrix::<T>(&path))?
    })?;
    let array = m.data.into_pyarray(py).reshape([m.rows, m.cols])?;
    Ok(array.into_any())
}

/// Read a whitespace-separated numeric text file into a 2-D array, like np.loadtxt.
#[pyfunction]
#[pyo3(
    signature = (path, dtype = None, *, num_threads = None),
    text_signature = "(path, dtype='float32', *, num_threads=None)"
)]
fn read_matrix<'py>(
    py: Python<'py>,
    path: PathBuf,
    dtype: Option<&Bound<'py, PyAny>>,
    num_threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let threads = self::num_threads(num_threads)?;
    match dtype_arg(dtype)? {
        Dtype::F32 => read_file_matrix::<f32>(py, path, threads),
        Dtype::F64 => read_file_matrix::<f64>(py, path, threads),
    }
}

fn type_name(value: &Bound<'_, PyAny>) -> PyResult<String> {
    Ok(value.get_type().name()?.to_string())
}

/// `paths` as a list: one path (str or os.PathLike) or an iterable of them.
fn paths_arg(paths: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    let wrong = || -> PyResult<PyErr> {
        Ok(PyTypeError::new_err(format!(
            "paths must be a path (str or os.PathLike) or an iterable of paths, got {}",
            type_name(paths)?
        )))
    };
    if paths.is_instance_of::<PyString>() || paths.hasattr("__fspath__")? {
        return paths
            .extract()
            .map(|path| vec![path])
            .or_else(|_| Err(wrong()?));
    }
    // Bytes are iterable too, but their items are numbers, never paths.
    let items = match paths.try_iter() {
        Ok(items) if !paths.is_instance_of::<PyBytes>() => items,
        _ => return Err(wrong()?),
    };
    items
        .enumerate()
        .map(|(i, item)| {
            let item = item?;
            item.extract().or_else(|_| {
                Err(PyTypeError::new_err(format!(
                    "paths[{i}] must be a str or os.PathLike, got {}",
                    type_name(&item)?
                )))
            })
        })
        .collect()
}

/// `usecols`: one field index or an iterable of them (a list, a range, a numpy array).
fn usecols_arg(usecols: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    let Some(usecols) = usecols else {
        return Ok(None);
    };
    if let Ok(index) = usecols.extract::<i64>() {
        return Ok(Some(vec![index]));
    }
    let wrong = |what: String| {
        PyTypeError::new_err(format!(
            "usecols must be an int or a sequence of ints, {what}"
        ))
    };
    // A str is iterable, but never a list of indices.
    let items = match usecols.try_iter() {
        Ok(items)
            if !usecols.is_instance_of::<PyString>() && !usecols.is_instance_of::<PyBytes>() =>
        {
            items
        }
        _ => return Err(wrong(format!("got {}", type_name(usecols)?))),
    };
    let mut indices = Vec::new();
    for item in items {
        let item = item?;
        match item.extract::<i64>() {
            Ok(index) => indices.push(index),
            Err(e) if e.is_instance_of::<PyTypeError>(item.py()) => {
                return Err(wrong(format!("but it holds a {}", type_name(&item)?)))
            }
            Err(e) => return Err(e), // an int beyond 64 bits: OverflowError
        }
    }
    Ok(Some(indices))
}

/// `delimiter`: one character, or None for runs of whitespace.
struct DelimiterArg(Option<char>);

impl FromPyObject<'_, '_> for DelimiterArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(Self(None));
        }
        let Ok(text) = obj.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "delimiter must be a str or None, got {}",
                type_name(&obj)?
            )));
        };
        let text = text.to_cow()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => Ok(Self(Some(c))),
            _ => Err(PyValueError::new_err(format!(
                "delimiter must be a single character (or None for whitespace), got {text:?}"
            ))),
        }
    }
}

/// `skip_rows`: a count of lines, at least 0.
struct SkipRows(usize);

impl FromPyObject<'_, '_> for SkipRows {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let Ok(count) = obj.extract::<i64>() else {
            return Err(PyTypeError::new_err(format!(
                "skip_rows must be an int, got {}",
                type_name(&obj)?
            )));
        };
        usize::try_from(count).map(Self).map_err(|_| {
            PyValueError::new_err(format!("skip_rows must be at least 0, got {count}"))
        })
    }
}

fn read_csv_as<'py, T: Sample + Element>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    options: delimited::Options,
    threads: Option<NonZeroUsize>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let matrices = detached(py, || {
        threads::run(threads, || delimited::read_files::<T>(&paths, &options))?
    })?;
    matrices
        .into_iter()
        .map(|m| {
            let array = Array2::from_shape_vec((m.rows, m.cols), m.data)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            Ok(array.into_pyarray(py).into_any())
        })
        .collect()
}

/// Read delimited numeric text files (CSV, TSV, ...) into one 2-D array each, like
/// np.loadtxt(path, delimiter=..., skiprows=..., usecols=..., ndmin=2).
#[pyfunction]
#[pyo3(
    signature = (
        paths, delimiter = DelimiterArg(Some(',')), skip_rows = SkipRows(0), usecols = None,
        dtype = None, num_threads = None
    ),
    text_signature = "(paths, delimiter=',', skip_rows=0, usecols=None, dtype='float32', num_threads=None)"
)]
fn read_csv<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    delimiter: DelimiterArg,
    skip_rows: SkipRows,
    usecols: Option<&Bound<'py, PyAny>>,
    dtype: Option<&Bound<'py, PyAny>>,
    num_threads: Option<i64>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let options = delimited::Options::new(delimiter.0, skip_rows.0, usecols_arg(usecols)?)?;
    let dtype = dtype_arg(dtype)?;
    let threads = self::num_threads(num_threads)?;
    let paths = paths_arg(paths)?;
    match dtype {
        Dtype::F32 => read_csv_as::<f32>(py, paths, options, threads),
        Dtype::F64 => read_csv_as::<f64>(py, paths, options, threads),
    }
}

fn windows_of<'py, T: Element + Copy + Sync + Send>(
    signal: &Bound<'py, PyArray2<T>>,
    size: NonZeroUsize,
    step: NonZeroUsize,
) -> PyResult<Bound<'py, PyAny>> {
    let py = signal.py();
    let signal = signal
        .try_readonly()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let view = signal.as_array();
    let out = detached(py, || window::sliding_windows(view, size, step))?;
    Ok(out.into_pyarray(py).into_any())
}

/// Cut a (T, C) float32/float64 recording into (N, C, size) windows, N = (T - size) // step + 1.
#[pyfunction]
fn sliding_windows<'py>(
    signal: &Bound<'py, PyAny>,
    size: i64,
    step: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let (size, step) = (at_least_one("size", size)?, at_least_one("step", step)?);
    if let Ok(signal) = signal.cast::<PyArray2<f32>>() {
        return windows_of(signal, size, step);
    }
    if let Ok(signal) = signal.cast::<PyArray2<f64>>() {
        return windows_of(signal, size, step);
    }
    Err(match signal.cast::<PyUntypedArray>() {
        Ok(array) if array.ndim() != 2 => PyValueError::new_err(format!(
            "signal must be a 2-D (T, C) array, got {} dimensions with shape {:?}",
            array.ndim(),
            array.shape()
        )),
        Ok(array) => PyTypeError::new_err(format!(
            "signal must be float32 or float64, got {}",
            array.dtype()
        )),
        Err(_) => PyTypeError::new_err(format!(
            "signal must be a numpy.ndarray, got {}",
            signal.get_type().name()?
        )),
    })
}

#[pymodule]
fn _bilm_fast(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(load_uci_har, m)?)?;
    m.add_function(wrap_pyfunction!(read_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(read_csv, m)?)?;
    m.add_function(wrap_pyfunction!(sliding_windows, m)?)?;
    Ok(())
}
