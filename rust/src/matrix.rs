//! Whitespace-separated numeric text to a row-major matrix, like `np.loadtxt(path)`.
//!
//! A text in UCI's fixed layout goes through [`crate::fixed`] (no scan; a file is read in
//! blocks, not whole). Anything else, and any text that path declines, goes through the
//! general parser here, which also finds and reports every error.
//!
//! The general parser makes two passes over line-aligned chunks of the text, both parallel
//! with rayon:
//! [`scan`] counts the data rows of every chunk (cheap: it only looks for the first
//! non-blank byte of each line), so each chunk knows the index of its first row;
//! [`parse_into`] then parses every chunk straight into its rows of the output.
//!
//! Text rules, all as in `np.loadtxt` with its defaults: values are separated by any run of
//! blanks (space, tab, vertical tab, form feed, 0x1C-0x1F); lines end in `\n`, `\r\n` or a
//! lone `\r`; lines that are empty or only blanks are skipped; `#` starts a comment that runs
//! to the end of the line; the last line needs no line break.
use std::fs::{self, File};
use std::io::Read;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::Path;

use memchr::memchr2;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fixed;
use crate::float::{self, Sample, FIELD_LEN};

/// Chunks smaller than this are not worth a task of their own.
pub(crate) const MIN_CHUNK_BYTES: usize = 1 << 20;
/// Offending tokens are quoted up to this many bytes.
const MAX_QUOTE: usize = 40;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Text,
    Blank,
    Comment,
    Break,
}

const CLASS: [Class; 256] = {
    let mut table = [Class::Text; 256];
    let blanks = [b' ', b'\t', 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F];
    let mut i = 0;
    while i < blanks.len() {
        table[blanks[i] as usize] = Class::Blank;
        i += 1;
    }
    table[b'#' as usize] = Class::Comment;
    table[b'\r' as usize] = Class::Break;
    table[b'\n' as usize] = Class::Break;
    table
};

#[inline]
fn class(b: u8) -> Class {
    CLASS[b as usize]
}

/// A problem in the text, located by the byte offset of its line. The offset becomes a
/// line number only when the error is reported, so the fast path never counts lines.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    pub offset: usize,
    pub what: String,
}

impl ParseError {
    /// Attach the file name and turn the offset into a 1-based line number.
    pub fn in_file(self, path: &Path, text: &[u8]) -> Error {
        Error::Parse {
            path: path.to_owned(),
            line: line_number(text, self.offset),
            what: self.what,
        }
    }
}

/// Read a whole file, mapping failures to errors that name it.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(path, e))
}

/// Open a file, mapping failures to errors that name it.
pub fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

/// Read the rest of an open file (all of it, if only `pread` has been used on it), like
/// [`read_file`]. Reusing the open file keeps a pipe or a file replaced meanwhile from being
/// opened a second time after the fixed-layout path declined it. std sizes the buffer from
/// the file's length with a fallible reservation: a huge file is an OutOfMemory error.
pub fn read_open(mut file: &File, path: &Path) -> Result<Vec<u8>> {
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| Error::io(path, e))?;
    Ok(text)
}

/// Lines of `text` as (offset of the line, line without its break).
fn lines(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= text.len() {
            return None;
        }
        let line_start = start;
        let end = memchr2(b'\n', b'\r', &text[start..]).map_or(text.len(), |i| start + i);
        start = after_break(text, end);
        Some((line_start, &text[line_start..end]))
    })
}

/// The offset just past the line break at `at` (`\r\n` counts as one break).
pub(crate) fn after_break(text: &[u8], at: usize) -> usize {
    if text.get(at) == Some(&b'\r') && text.get(at + 1) == Some(&b'\n') {
        at + 2
    } else {
        at + 1
    }
}

/// A line holds data unless it is empty, blanks only, or a comment.
fn has_data(line: &[u8]) -> bool {
    line.iter()
        .find(|&&b| class(b) != Class::Blank)
        .is_some_and(|&b| class(b) == Class::Text)
}

/// The data rows of `text` as (offset of the line, line).
fn data_rows(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    lines(text).filter(|(_, line)| has_data(line))
}

/// 1-based number of the line that starts at `offset`.
pub fn line_number(text: &[u8], offset: usize) -> usize {
    1 + lines(&text[..offset.min(text.len())]).count()
}

/// 1-based line number of data row `row` (0-based), for errors found after parsing.
pub fn row_line(text: &[u8], row: usize) -> usize {
    data_rows(text).nth(row).map_or_else(
        || line_number(text, text.len()),
        |(offset, _)| line_number(text, offset),
    )
}

/// Split `text` into about `parts` byte ranges that each start at a line start.
pub(crate) fn chunk_ranges(text: &[u8], parts: usize) -> Vec<Range<usize>> {
    let mut bounds = vec![0];
    for k in 1..parts {
        let target = text.len() / parts * k;
        let next = memchr2(b'\n', b'\r', &text[target..])
            .map_or(text.len(), |i| after_break(text, target + i));
        if next > *bounds.last().unwrap_or(&0) && next < text.len() {
            bounds.push(next);
        }
    }
    bounds.push(text.len());
    bounds.windows(2).map(|w| w[0]..w[1]).collect()
}

/// Where the rows of a text are: its shape and its chunks with their first row index.
pub struct Layout {
    pub rows: usize,
    pub cols: usize,
    chunks: Vec<(Range<usize>, usize)>,
}

/// Count the rows of `text` in parallel and fix the number of columns: `cols` if given,
/// else the number of values on the first data row (every row must then have that many).
pub fn scan(text: &[u8], cols: Option<usize>) -> Result<Layout, ParseError> {
    let (_, first) = data_rows(text).next().ok_or_else(|| ParseError {
        offset: 0,
        what: "no numbers: the file is empty or has only blank lines".into(),
    })?;
    let cols = cols.unwrap_or_else(|| count_values(first));
    let parts = (text.len() / MIN_CHUNK_BYTES).clamp(1, 4 * rayon::current_num_threads());
    let ranges = chunk_ranges(text, parts);
    let counts: Vec<usize> = ranges
        .par_iter()
        .map(|r| data_rows(&text[r.clone()]).count())
        .collect();
    let mut rows = 0;
    let chunks = ranges
        .into_iter()
        .zip(counts)
        .map(|(range, count)| {
            let first_row = rows;
            rows += count;
            (range, first_row)
        })
        .collect();
    Ok(Layout { rows, cols, chunks })
}

/// Parse every row of `text` into `dest`, which must have the shape of `layout`.
/// On error the output is partly written and must be discarded by the caller; the error is
/// the first one in the file.
pub fn parse_into<T: Sample>(
    text: &[u8],
    layout: &Layout,
    dest: Rows<'_, T>,
) -> Result<(), ParseError> {
    if (dest.rows, dest.cols) != (layout.rows, layout.cols) {
        return Err(ParseError {
            offset: 0,
            what: format!(
                "{} rows of {} values, but the destination holds {} rows of {}",
                layout.rows, layout.cols, dest.rows, dest.cols
            ),
        });
    }
    let results: Vec<Result<(), ParseError>> = layout
        .chunks
        .par_iter()
        .map(|(range, first_row)| parse_chunk(&text[range.clone()], range.start, *first_row, &dest))
        .collect();
    results.into_iter().collect()
}

/// Parse the rows of one chunk (which starts at byte `base` of the text and whose first data
/// row is `first_row`). One pass over the bytes: values are parsed up to the line break.
fn parse_chunk<T: Sample>(
    chunk: &[u8],
    base: usize,
    first_row: usize,
    dest: &Rows<'_, T>,
) -> Result<(), ParseError> {
    let mut pos = 0;
    let mut row = first_row;
    while pos < chunk.len() {
        let line_start = pos;
        while pos < chunk.len() && class(chunk[pos]) == Class::Blank {
            pos += 1;
        }
        if pos < chunk.len() && class(chunk[pos]) == Class::Text {
            let error = |what| ParseError {
                offset: base + line_start,
                what,
            };
            // SAFETY: chunks hold disjoint row ranges, so each row is borrowed once.
            let out = unsafe { dest.row(row) }
                .ok_or_else(|| error(format!("row {row} is past the last row")))?;
            pos = parse_line(chunk, line_start, out).map_err(error)?;
            row += 1;
        }
        // Now at a comment, a line break or the end: go to the next line.
        let end = memchr2(b'\n', b'\r', &chunk[pos..]).map_or(chunk.len(), |i| pos + i);
        pos = after_break(chunk, end);
    }
    Ok(())
}

/// A whole matrix parsed from text.
#[derive(Debug)]
pub struct Matrix<T> {
    pub data: Vec<T>,
    pub rows: usize,
    pub cols: usize,
}

/// Parse `text` into a new row-major matrix (see [`scan`] for `cols`).
pub fn parse_matrix<T: Sample>(text: &[u8], cols: Option<usize>) -> Result<Matrix<T>, ParseError> {
    let fixed = fixed::Layout::detect(text, text.len(), cols)
        .and_then(|layout| Matrix::fill(&layout, |dest| layout.parse_text(text, dest)));
    fixed.map_or_else(|| parse_general(text, cols), Ok)
}

/// [`parse_matrix`] without the fixed-layout fast path: the parser that finds every error.
fn parse_general<T: Sample>(text: &[u8], cols: Option<usize>) -> Result<Matrix<T>, ParseError> {
    let layout = scan(text, cols)?;
    let mut data = vec![T::default(); layout.rows * layout.cols];
    parse_into(text, &layout, Rows::matrix(&mut data, layout.cols))?;
    Ok(Matrix {
        data,
        rows: layout.rows,
        cols: layout.cols,
    })
}

impl<T: Sample> Matrix<T> {
    /// A matrix of the shape of `layout`, if `parse` fills it.
    fn fill(layout: &fixed::Layout, parse: impl FnOnce(&Rows<'_, T>) -> bool) -> Option<Self> {
        let mut data = vec![T::default(); layout.rows * layout.cols];
        parse(&Rows::matrix(&mut data, layout.cols)).then_some(Matrix {
            data,
            rows: layout.rows,
            cols: layout.cols,
        })
    }
}

/// Read and parse a whole file, like `np.loadtxt(path, ndmin=2)`.
pub fn read_matrix<T: Sample>(path: &Path) -> Result<Matrix<T>> {
    let file = open(path)?;
    let fixed = fixed::Layout::of_file(&file, None)
        .and_then(|layout| Matrix::fill(&layout, |dest| layout.read_file(&file, dest)));
    if let Some(matrix) = fixed {
        return Ok(matrix);
    }
    let text = read_open(&file, path)?;
    parse_general(&text, None).map_err(|e| e.in_file(path, &text))
}

/// Number of values on a line (tokens before any comment).
fn count_values(line: &[u8]) -> usize {
    let content = line
        .split(|&b| class(b) == Class::Comment)
        .next()
        .unwrap_or_default();
    content
        .split(|&b| class(b) == Class::Blank)
        .filter(|token| !token.is_empty())
        .count()
}

/// Parse the data line that starts at `text[start..]` into `out`, which must receive exactly
/// `out.len()` values. Returns where the values end: a comment, a line break or the end.
#[inline]
fn parse_line<T: Sample>(text: &[u8], start: usize, out: &mut [T]) -> Result<usize, String> {
    match uci_fields(&text[start..], out) {
        Some(len)
            if text
                .get(start + len)
                .is_none_or(|&b| class(b) == Class::Break) =>
        {
            Ok(start + len)
        }
        _ => parse_values(text, start, out),
    }
}

/// Fast path for rows of UCI's fixed 16-byte fields: fill `out` from the first
/// `16 * out.len()` bytes and return that length, or `None` if any field is different
/// (then `out` holds garbage and the caller re-parses the row).
#[inline]
fn uci_fields<T: Sample>(bytes: &[u8], out: &mut [T]) -> Option<usize> {
    float::uci_row(bytes, out).then_some(FIELD_LEN * out.len())
}

/// General path: parse the values of the line at `text[pos..]` into `out`, which must receive exactly
/// `out.len()` values. Returns where the values end: a comment, a line break or the end.
#[inline]
fn parse_values<T: Sample>(text: &[u8], mut pos: usize, out: &mut [T]) -> Result<usize, String> {
    let mut found = 0;
    loop {
        while pos < text.len() && class(text[pos]) == Class::Blank {
            pos += 1;
        }
        if pos == text.len() || class(text[pos]) != Class::Text {
            break;
        }
        let value = match float::fixed_prefix(&text[pos..]) {
            Some((value, len)) if text.get(pos + len).is_none_or(|&b| class(b) != Class::Text) => {
                pos += len;
                value
            }
            _ => {
                let start = pos;
                while pos < text.len() && class(text[pos]) == Class::Text {
                    pos += 1;
                }
                let token = &text[start..pos];
                // Not a fixed-layout number (just tried): straight to the general parser.
                float::parse_general(token).ok_or_else(|| bad_token(token))?
            }
        };
        if let Some(slot) = out.get_mut(found) {
            *slot = T::from_f64(value);
        }
        found += 1;
    }
    if found == out.len() {
        Ok(pos)
    } else {
        let noun = if out.len() == 1 { "value" } else { "values" };
        Err(format!("expected {} {noun}, found {found}", out.len()))
    }
}

/// Say why a token is not a number, quoting it.
pub(crate) fn bad_token(token: &[u8]) -> String {
    let shown = &token[..token.len().min(MAX_QUOTE)];
    let ellipsis = if token.len() > MAX_QUOTE { "..." } else { "" };
    let quoted = format!("{:?}{ellipsis}", String::from_utf8_lossy(shown));
    match token.iter().find(|b| !b.is_ascii_graphic()) {
        Some(b) => format!("byte 0x{b:02X} is not text (in {quoted})"),
        None => format!("{quoted} is not a number"),
    }
}

/// Where parsed rows go: row `r` is `buf[r * stride + offset..][..cols]`.
///
/// This lets the rows of one file land directly in their strided place of a larger array,
/// e.g. channel `c` of UCI HAR's (N, 9, 128) array, while other channels are parsed into
/// the same buffer by other threads.
pub struct Rows<'a, T> {
    ptr: *mut T,
    rows: usize,
    cols: usize,
    stride: usize,
    offset: usize,
    _buf: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Rows` is an exclusive borrow of its elements (distinct `Rows` from one buffer
// never overlap), and `parse_into` hands each row to exactly one task.
unsafe impl<T: Send> Send for Rows<'_, T> {}
unsafe impl<T: Send> Sync for Rows<'_, T> {}

impl<'a, T> Rows<'a, T> {
    /// `buf` as a plain row-major matrix with `cols` columns.
    pub fn matrix(buf: &'a mut [T], cols: usize) -> Self {
        let rows = buf.len().checked_div(cols).unwrap_or(0);
        Self {
            ptr: buf.as_mut_ptr(),
            rows,
            cols,
            stride: cols,
            offset: 0,
            _buf: PhantomData,
        }
    }

    /// `buf` laid out as (rows, groups, cols), split into one destination per group.
    pub fn interleaved(buf: &'a mut [T], groups: usize, cols: usize) -> Vec<Self> {
        let stride = groups * cols;
        let rows = buf.len().checked_div(stride).unwrap_or(0);
        let ptr = buf.as_mut_ptr();
        (0..groups)
            .map(|g| Self {
                ptr,
                rows,
                cols,
                stride,
                offset: g * cols,
                _buf: PhantomData,
            })
            .collect()
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r`, or `None` past the end.
    ///
    /// # Safety
    /// The caller must not hold two references to the same row at once.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn row(&self, r: usize) -> Option<&mut [T]> {
        // In bounds: (r * stride + offset + cols) <= rows * stride <= buf.len().
        (r < self.rows).then(|| unsafe {
            std::slice::from_raw_parts_mut(self.ptr.add(r * self.stride + self.offset), self.cols)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Matrix<f64>, ParseError> {
        parse_matrix(text.as_bytes(), None)
    }

    fn error_line(text: &str) -> (usize, String) {
        let e = parse(text).unwrap_err();
        (line_number(text.as_bytes(), e.offset), e.what)
    }

    #[test]
    fn blanks_line_ends_and_comments() {
        let m = parse("  1.0\t2.0 \r\n\r\n# note\n3e0 +4 # tail\n\x0b5 6").unwrap();
        assert_eq!((m.rows, m.cols), (3, 2));
        assert_eq!(m.data, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // A lone '\r' ends a line, as with Python's universal newlines.
        assert_eq!(parse("1 2\r3 4").unwrap().data, [1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn uci_row_takes_fast_path_and_fallback_alike() {
        let m = parse("  1.8085150e-004 -1.1474840e-003\n  2.5e-4  1.0000000e-030\n").unwrap();
        assert_eq!(m.data, [1.808515e-4, -1.147484e-3, 2.5e-4, 1e-30]);
    }

    #[test]
    fn errors_name_line_and_problem() {
        for (text, line, what) in [
            ("1 2\n3\n", 2, "expected 2 values, found 1"),
            ("1 2\r\n\r\n3 4 5\r\n", 3, "expected 2 values, found 3"),
            ("1\n2 3\n", 2, "expected 1 value, found 2"),
            ("1 2\n3 x\n", 2, "\"x\" is not a number"),
            ("1 2\n3 4\x00\n", 2, "byte 0x00 is not text (in \"4\\0\")"),
            ("1 2\n3 4.5e-\n", 2, "\"4.5e-\" is not a number"),
            (
                "",
                1,
                "no numbers: the file is empty or has only blank lines",
            ),
        ] {
            assert_eq!(error_line(text), (line, what.to_string()), "{text:?}");
        }
        assert_eq!(error_line(" \n# only a comment\n").0, 1);
    }

    #[test]
    fn many_chunks_give_the_same_result_as_one() {
        let row = "  1.8085150e-004 -1.1474840e-003  9.2755740e-003\r\n";
        let text = row.repeat(60_000); // ~3 MB: several chunks
        let layout = scan(text.as_bytes(), None).unwrap();
        assert!(layout.chunks.len() > 1);
        let m = parse(&text).unwrap();
        assert_eq!((m.rows, m.cols), (60_000, 3));
        assert!(m
            .data
            .chunks(3)
            .all(|r| r == [1.808515e-4, -1.147484e-3, 9.275574e-3]));
        // The first error wins, even when a later chunk also has one.
        let mut bad = text.clone();
        bad.replace_range(row.len() * 59_000..row.len() * 59_000 + 3, "  x");
        bad.replace_range(row.len() * 10..row.len() * 10 + 3, "  y");
        assert_eq!(
            error_line(&bad),
            (11, "\"y.8085150e-004\" is not a number".into())
        );
    }

    #[test]
    fn interleaved_rows_fill_their_own_channel() {
        let mut buf = vec![0.0f32; 2 * 3 * 2];
        let dests = Rows::interleaved(&mut buf, 3, 2);
        for (g, dest) in dests.into_iter().enumerate() {
            let text = format!("{g}1 {g}2\n{g}3 {g}4\n");
            let layout = scan(text.as_bytes(), Some(2)).unwrap();
            parse_into(text.as_bytes(), &layout, dest).unwrap();
        }
        assert_eq!(
            buf,
            [1., 2., 11., 12., 21., 22., 3., 4., 13., 14., 23., 24.]
        );
    }

    /// What the general parser alone says: the reference for the fixed-layout fast path.
    fn general(text: &str) -> Result<Matrix<f64>, ParseError> {
        parse_general(text.as_bytes(), None)
    }

    #[test]
    fn fixed_layout_gives_what_the_general_parser_gives() {
        let row = "  1.8085150e-004 -1.1474840e-003  9.2755740e-003";
        for line_break in ["\r\n", "\n"] {
            let line = row.len() + line_break.len();
            let text = format!("{row}{line_break}").repeat(50_000); // several pieces
            let m = parse(&text).unwrap();
            assert_eq!((m.rows, m.cols), (50_000, 3));
            assert_eq!(m.data, general(&text).unwrap().data);

            let mut edits: Vec<(&str, String)> = Vec::new();
            let mut bad = text.clone();
            bad.replace_range(line * 30_000 + 20..line * 30_000 + 21, "x");
            edits.push(("a bad byte mid-row", bad));
            let mut short = text.clone();
            short.truncate(text.len() - line_break.len() - 16);
            edits.push(("a short last line", short));
            edits.push((
                "no final line break",
                text[..text.len() - line_break.len()].into(),
            ));
            let mut other = text.clone();
            other.replace_range(line * 20_000 + 1..line * 20_000 + 2, "+");
            edits.push(("a '+' sign", other));
            let mut wide = text.clone();
            wide.replace_range(line * 40_000 + 12..line * 40_000 + 16, "e+30");
            edits.push(("an exponent outside the fast path", wide));
            let mut split = text.clone();
            split.replace_range(line * 10_000 + 16..line * 10_000 + 17, "\n");
            edits.push(("a line break inside a row", split));
            for (what, text) in edits {
                match (parse(&text), general(&text)) {
                    (Ok(fast), Ok(slow)) => {
                        assert_eq!((fast.rows, fast.cols), (slow.rows, slow.cols), "{what}");
                        let bits = |m: &Matrix<f64>| {
                            m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
                        };
                        assert_eq!(bits(&fast), bits(&slow), "{what}");
                    }
                    (fast, slow) => assert_eq!(fast.err(), slow.err(), "{what}"),
                }
            }
            let mut bad = text.clone();
            bad.replace_range(line * 30_000 + 20..line * 30_000 + 21, "x");
            assert_eq!(
                error_line(&bad),
                (30_001, "\"-1.x474840e-003\" is not a number".into())
            );
        }
    }

    #[test]
    fn read_matrix_falls_back_with_the_same_error() {
        let row = "  1.8085150e-004 -1.1474840e-003\r\n";
        let mut text = row.repeat(1000);
        let path = std::env::temp_dir().join(format!("bilm-matrix-{}.txt", std::process::id()));
        std::fs::write(&path, &text).unwrap();
        let m = read_matrix::<f32>(&path).unwrap();
        assert_eq!((m.rows, m.cols), (1000, 2));
        text.replace_range(row.len() * 700 + 5..row.len() * 700 + 6, "?");
        std::fs::write(&path, &text).unwrap();
        let e = read_matrix::<f32>(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            e,
            format!(
                "{}, line 701: \"1.8?85150e-004\" is not a number",
                path.display()
            )
        );
    }

    #[test]
    fn row_lines_skip_blank_lines() {
        let text = b"1\n\n# c\n2\r\n3";
        assert_eq!([0, 1, 2].map(|r| row_line(text, r)), [1, 4, 5]);
    }
}
