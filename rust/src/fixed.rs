//! Fixed-layout text: every line is the same number of 16-byte UCI fields and the same line
//! break, as in all UCI HAR "Inertial Signals" files.
//!
//! Such a text needs no scan: the number of rows is its length divided by the line length,
//! and row `r` starts at byte `r * line_len`. So the rows can be parsed in any order, in
//! parallel, straight from pieces of the file read into a small per-thread buffer (no copy of
//! the whole file in memory, no pass that only counts lines).
//!
//! This is only a fast path. Whenever anything does not fit (a field in another format, a
//! different line break, a short last line, a file that changes length while being read),
//! it says so and the caller parses the text with the general parser of [`crate::matrix`],
//! which gives the values or the exact error. A text this path accepts is one the general
//! parser reads the same way: each line is blank-separated tokens with nothing else, and the
//! values come from the same [`float::uci_row`].
use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;

use memchr::memchr;
use rayon::prelude::*;

use crate::float::{self, Sample, FIELD_LEN};
use crate::matrix::Rows;

/// Text per read into the per-thread buffer: small enough to stay in the L2 cache between
/// the copy out of the page cache and the parse.
const BLOCK_BYTES: usize = 128 << 10;
/// Text per parallel task: big enough to amortise a task, small enough that the last task
/// to finish does not leave the other threads idle for long.
const PIECE_BYTES: usize = 1 << 20;

/// The shape of a fixed-layout text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub rows: usize,
    pub cols: usize,
    /// Bytes per line, line break included.
    line_len: usize,
    /// The line break: `b"\r\n"` or `b"\n"`.
    line_break: &'static [u8],
}

impl Layout {
    /// The layout of a text of `len` bytes whose first line begins `head`, if the first line
    /// is `cols` fields (or any number of them when `None`) ending in `\n` or `\r\n` and the
    /// length is a whole number of such lines. Only the first line is looked at: the other
    /// lines are checked while they are parsed.
    pub fn detect(head: &[u8], len: usize, cols: Option<usize>) -> Option<Self> {
        let newline = memchr(b'\n', head)?;
        let line_break: &'static [u8] = if newline > 0 && head[newline - 1] == b'\r' {
            b"\r\n"
        } else {
            b"\n"
        };
        let content = newline + 1 - line_break.len();
        let fields = content / FIELD_LEN;
        let line_len = newline + 1;
        let fits = content % FIELD_LEN == 0
            && fields > 0
            && cols.is_none_or(|c| c == fields)
            && len % line_len == 0;
        fits.then_some(Self {
            rows: len / line_len,
            cols: fields,
            line_len,
            line_break,
        })
    }

    /// Parse `lines`, whole lines starting with row `first_row`, into their rows of `dest`.
    /// False if some line is not in the layout (then the rows hold garbage).
    fn parse_lines<T: Sample>(&self, lines: &[u8], first_row: usize, dest: &Rows<'_, T>) -> bool {
        let content = self.cols * FIELD_LEN;
        lines
            .chunks_exact(self.line_len)
            .enumerate()
            .all(|(i, line)| {
                // SAFETY: pieces cover disjoint row ranges, so each row is borrowed once.
                let row = unsafe { dest.row(first_row + i) };
                line[content..] == *self.line_break
                    && row.is_some_and(|out| float::uci_row(&line[..content], out))
            })
            && lines.len() % self.line_len == 0
    }

    /// The rows of the parallel tasks: about [`PIECE_BYTES`] of text each.
    fn pieces(&self) -> impl IndexedParallelIterator<Item = std::ops::Range<usize>> + '_ {
        let rows_per_piece = (PIECE_BYTES / self.line_len).max(1);
        (0..self.rows.div_ceil(rows_per_piece))
            .into_par_iter()
            .map(move |p| p * rows_per_piece..((p + 1) * rows_per_piece).min(self.rows))
    }

    /// Parse all of `text` (which has this layout's length) into `dest`. False if any line is
    /// not in the layout.
    pub fn parse_text<T: Sample>(&self, text: &[u8], dest: &Rows<'_, T>) -> bool {
        self.fits(dest)
            && self.pieces().all(|rows| {
                let bytes = rows.start * self.line_len..rows.end * self.line_len;
                text.get(bytes)
                    .is_some_and(|lines| self.parse_lines(lines, rows.start, dest))
            })
    }

    /// Read and parse all of `file` (which had this layout's length) into `dest`, a block at a
    /// time into a per-thread buffer. False if any line is not in the layout or reading fails
    /// or comes up short; the caller then starts over with the general parser, which reports
    /// what is wrong.
    pub fn read_file<T: Sample>(&self, file: &File, dest: &Rows<'_, T>) -> bool {
        let rows_per_block = (BLOCK_BYTES / self.line_len).max(1);
        self.fits(dest)
            && self.pieces().all(|rows| {
                with_buffer(|buffer| {
                    rows.clone().step_by(rows_per_block).all(|first| {
                        let count = rows_per_block.min(rows.end - first);
                        let block = grown(buffer, count * self.line_len);
                        let offset = (first * self.line_len) as u64;
                        file.read_exact_at(block, offset).is_ok()
                            && self.parse_lines(block, first, dest)
                    })
                })
            })
    }

    fn fits<T>(&self, dest: &Rows<'_, T>) -> bool {
        (dest.rows(), dest.cols()) == (self.rows, self.cols)
    }

    /// The layout of an open file, from its length and its first line (looked for in the first
    /// [`BLOCK_BYTES`] when `cols` is not known). `None` for anything that cannot be read with
    /// `pread` (a pipe, a directory) or has no fixed layout.
    pub fn of_file(file: &File, cols: Option<usize>) -> Option<Self> {
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        let head_len = cols.map_or(BLOCK_BYTES, |c| c * FIELD_LEN + 2).min(len);
        with_buffer(|buffer| {
            let head = grown(buffer, head_len);
            file.read_exact_at(head, 0).ok()?;
            Self::detect(head, len, cols)
        })
    }
}

/// The first `len` bytes of `buffer`, growing it if needed.
fn grown(buffer: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buffer.len() < len {
        buffer.resize(len, 0);
    }
    &mut buffer[..len]
}

/// Run `work` with this thread's read buffer, kept between calls so that reading allocates
/// (and faults in) nothing after the first block.
fn with_buffer<R>(work: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => work(&mut buffer),
        // Only if `work` itself asked for the buffer again; never the case, but not a panic.
        Err(_) => work(&mut Vec::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = "  1.8085150e-004 -1.1474840e-003  9.2755740e-003";

    fn text(rows: usize, line_break: &str) -> String {
        format!("{ROW}{line_break}").repeat(rows)
    }

    fn parse(text: &str, cols: Option<usize>) -> Option<Vec<f64>> {
        let layout = Layout::detect(text.as_bytes(), text.len(), cols)?;
        let mut out = vec![0.0; layout.rows * layout.cols];
        layout
            .parse_text(text.as_bytes(), &Rows::matrix(&mut out, layout.cols))
            .then_some(out)
    }

    #[test]
    fn rows_come_from_the_length() {
        for line_break in ["\r\n", "\n"] {
            let t = text(5, line_break);
            let layout = Layout::detect(t.as_bytes(), t.len(), None).unwrap();
            assert_eq!((layout.rows, layout.cols), (5, 3));
            let values = parse(&t, Some(3)).unwrap();
            assert!(values
                .chunks(3)
                .all(|r| r == [1.808515e-4, -1.147484e-3, 9.275574e-3]));
        }
    }

    #[test]
    fn anything_else_is_declined() {
        let crlf = text(4, "\r\n");
        let line = ROW.len() + 2;
        let mut mixed = text(2, "\r\n") + &text(2, "\n");
        mixed.push_str("\n\n"); // same length as four CRLF lines
        let mut bad_byte = crlf.clone();
        bad_byte.replace_range(line + 20..line + 21, "x");
        let mut plus = crlf.clone();
        plus.replace_range(line + 17..line + 18, "+"); // fine for the layout, and for numpy
        for (what, t, cols) in [
            ("short last line", crlf[..crlf.len() - 2].to_string(), None),
            ("no final line break", format!("{crlf}{ROW}"), None),
            ("other column count", crlf.clone(), Some(4)),
            ("mixed line breaks", mixed, None),
            ("bad byte mid-row", bad_byte, None),
            ("lone CR", text(4, "\r"), None),
            ("blank line", format!("\n{crlf}"), None),
            ("not 16-byte fields", "1 2\n3 4\n".into(), None),
            ("empty", String::new(), None),
        ] {
            assert_eq!(parse(&t, cols), None, "{what}");
        }
        assert_eq!(parse(&plus, None).unwrap()[4], 1.147484e-3);
    }

    #[test]
    fn file_is_read_in_blocks_and_pieces() {
        // Rows of 100 fields: several rows per block, several blocks per piece, several pieces.
        let row: String = (0..100)
            .map(|i| format!(" -{}.{:07}e-003", i % 10, i))
            .collect();
        let t = format!("{row}\r\n").repeat(700);
        let path = std::env::temp_dir().join(format!("bilm-fixed-{}.txt", std::process::id()));
        std::fs::write(&path, &t).unwrap();
        let file = File::open(&path).unwrap();
        let layout = Layout::detect(t.as_bytes(), t.len(), Some(100)).unwrap();
        let mut out = vec![0.0f32; 700 * 100];
        assert!(layout.read_file(&file, &Rows::matrix(&mut out, 100)));
        let expected = parse(&t, None).unwrap();
        assert!(out.iter().zip(&expected).all(|(&a, &b)| a == b as f32));
        // A file shorter than its layout says (it shrank) is declined, not a panic.
        let shorter = Layout::detect(t.as_bytes(), t.len() + 2 * (row.len() + 2), None).unwrap();
        let mut out = vec![0.0f32; shorter.rows * 100];
        assert!(!shorter.read_file(&file, &Rows::matrix(&mut out, 100)));
        std::fs::remove_file(&path).unwrap();
    }
}
