//! The one error type of the crate. Every message names the file (and, for content
//! problems, the 1-based line) so a user can go straight to the offending spot.
//! `lib.rs` maps the variants to Python exceptions in a single place.
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: no such file", path.display())]
    NotFound { path: PathBuf },

    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },

    /// Malformed content: `what` says what is wrong, quoting the offending token.
    #[error("{}, line {line}: {what}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        what: String,
    },

    /// Files that disagree with each other (row counts of channels, labels, subjects).
    #[error("{0}")]
    Shape(String),

    #[error("unknown split {split:?}; valid splits are: {}", valid.join(", "))]
    UnknownSplit {
        split: String,
        valid: &'static [&'static str],
    },

    /// A bad argument value from the caller (thread count, window size, dtype, ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// Something outside the input's control failed (e.g. spawning threads).
    #[error("{0}")]
    Runtime(String),
}

impl Error {
    /// Wrap an `io::Error` from opening or reading `path`, keeping "not found" distinct.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        let path = path.into();
        if source.kind() == io::ErrorKind::NotFound {
            Error::NotFound { path }
        } else {
            Error::Io { path, source }
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
