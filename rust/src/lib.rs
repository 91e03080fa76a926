//! bilm_fast: exact, parallel reading of UCI HAR Inertial Signals into numpy arrays.
//!
//! This file is only the Python binding: argument conversion, releasing the GIL around the
//! work, and the single mapping from [`Error`] to Python exceptions. The work is in
//! [`float`] (number parsing), [`matrix`] (text to matrix), [`uci`] (dataset layout),
//! [`window`] (sliding windows) and [`threads`] (the thread pool).
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

use numpy::ndarray::Array3;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

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
    m.add_function(wrap_pyfunction!(sliding_windows, m)?)?;
    Ok(())
}
