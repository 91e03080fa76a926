//! The UCI HAR layout: which files make a split, and how they stack into (N, 9, 128).
//!
//! Each of the 9 "Inertial Signals" files is an (N, 128) matrix; channel `c` is parsed
//! straight into `x[:, c, :]` of the final array, all channels (and pieces of each) in
//! parallel. In the fixed layout of the real files the only memory besides the outputs is a
//! small read buffer per thread (see [`crate::fixed`]); a file the fast path declines is
//! read whole and parsed by the general parser.
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fixed;
use crate::float::Sample;
use crate::matrix::{self, Rows};

pub const SPLITS: &[&str] = &["train", "test"];

/// Channel order of `X`: body_acc x, y, z, body_gyro x, y, z, total_acc x, y, z.
pub const CHANNELS: [&str; 9] = [
    "body_acc_x",
    "body_acc_y",
    "body_acc_z",
    "body_gyro_x",
    "body_gyro_y",
    "body_gyro_z",
    "total_acc_x",
    "total_acc_y",
    "total_acc_z",
];

/// Readings per window (2.56 s at 50 Hz).
pub const STEPS: usize = 128;

/// Activity labels in the files run 1..=LABELS.
const LABELS: f64 = 6.0;

/// One split: `x` is (n, 9, 128) row-major, `y` holds labels 0..=5, `subject` the subject ids.
pub struct Split<T> {
    pub x: Vec<T>,
    pub y: Vec<i64>,
    pub subject: Vec<i64>,
}

struct SplitFiles {
    labels: PathBuf,
    subjects: PathBuf,
    signals: Vec<PathBuf>,
}

impl SplitFiles {
    fn new(root: &Path, split: &str) -> Result<Self> {
        if !SPLITS.contains(&split) {
            return Err(Error::UnknownSplit {
                split: split.to_owned(),
                valid: SPLITS,
            });
        }
        let dir = root.join(split);
        let signals = dir.join("Inertial Signals");
        Ok(Self {
            labels: dir.join(format!("y_{split}.txt")),
            subjects: dir.join(format!("subject_{split}.txt")),
            signals: CHANNELS
                .iter()
                .map(|c| signals.join(format!("{c}_{split}.txt")))
                .collect(),
        })
    }
}

/// Load one split of the dataset under `root` (the folder holding `train/` and `test/`).
pub fn load<T: Sample>(root: &Path, split: &str) -> Result<Split<T>> {
    let files = SplitFiles::new(root, split)?;
    let (y, subject) = rayon::join(
        || {
            read_whole_numbers(&files.labels, "label", "a whole number in 1..6", |v| {
                (1.0..=LABELS).contains(&v)
            })
        },
        || read_whole_numbers(&files.subjects, "subject", "a whole number", |_| true),
    );
    let (y, subject) = (y?, subject?);
    let n = y.len();
    if subject.len() != n {
        return Err(Error::Shape(format!(
            "{} has {n} rows but {} has {}; they need one row per window each",
            files.labels.display(),
            files.subjects.display(),
            subject.len()
        )));
    }

    // Sized from the label file alone, before any signal is read: a wrong or damaged label
    // file must give an error, not abort the process on a failed allocation.
    let too_many = || {
        Error::Shape(format!(
            "{} has {n} labels, and {n} windows of {} x {STEPS} values do not fit in memory; \
             check that it is the split's label file",
            files.labels.display(),
            CHANNELS.len()
        ))
    };
    let len = n.checked_mul(CHANNELS.len() * STEPS).ok_or_else(too_many)?;
    let mut x = Vec::new();
    x.try_reserve_exact(len).map_err(|_| too_many())?;
    x.resize(len, T::default());
    let dests = Rows::interleaved(&mut x, CHANNELS.len(), STEPS);
    let results: Vec<Result<()>> = files
        .signals
        .par_iter()
        .zip(dests)
        .map(|(path, dest)| read_channel(path, dest, n, &files.labels))
        .collect();
    // The first failing channel in channel order, so the message does not depend on timing.
    results.into_iter().collect::<Result<()>>()?;

    Ok(Split {
        x,
        y: y.into_iter().map(|label| label - 1).collect(),
        subject,
    })
}

/// Parse one (n, 128) signal file into its channel of the output: by the fixed-layout fast
/// path if it applies and the file has `n` rows, else (also to report any problem exactly)
/// by the general parser.
fn read_channel<T: Sample>(path: &Path, dest: Rows<'_, T>, n: usize, labels: &Path) -> Result<()> {
    let file = matrix::open(path)?;
    if fixed::Layout::of_file(&file, Some(STEPS))
        .is_some_and(|layout| layout.rows == n && layout.read_file(&file, &dest))
    {
        return Ok(());
    }
    let text = matrix::read_open(&file, path)?;
    let layout = matrix::scan(&text, Some(STEPS)).map_err(|e| e.in_file(path, &text))?;
    if layout.rows != n {
        return Err(Error::Shape(format!(
            "{} has {} rows but {} has {n}; every signal file needs one row per label",
            path.display(),
            layout.rows,
            labels.display()
        )));
    }
    matrix::parse_into(&text, &layout, dest).map_err(|e| e.in_file(path, &text))
}

/// Read a one-column file of whole numbers; `valid` adds a range check, `expected` says what
/// a value must be in the error message.
fn read_whole_numbers(
    path: &Path,
    kind: &str,
    expected: &str,
    valid: impl Fn(f64) -> bool,
) -> Result<Vec<i64>> {
    let text = matrix::read_file(path)?;
    let column = matrix::parse_matrix::<f64>(&text, Some(1)).map_err(|e| e.in_file(path, &text))?;
    // Whole numbers below 2^53 convert to i64 exactly.
    let whole = |v: f64| v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0;
    column
        .data
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            if whole(v) && valid(v) {
                Ok(v as i64)
            } else {
                Err(Error::Parse {
                    path: path.to_owned(),
                    line: matrix::row_line(&text, row),
                    what: format!("{kind} {v} is not {expected}"),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_split_lists_valid_ones() {
        let e = load::<f32>(Path::new("/nonexistent"), "validation")
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "unknown split \"validation\"; valid splits are: train, test"
        );
    }

    #[test]
    fn missing_root_names_the_labels_file() {
        let e = load::<f32>(Path::new("/nonexistent"), "test")
            .err()
            .unwrap();
        assert!(
            matches!(e, Error::NotFound { ref path } if path.ends_with("test/y_test.txt")),
            "{e}"
        );
    }
}
