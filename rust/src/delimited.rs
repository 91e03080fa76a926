//! Delimited numeric text (CSV, TSV, ...) to matrices, like numpy 2's
//! `np.loadtxt(path, delimiter=d, skiprows=s, usecols=u, ndmin=2)`, for many files at once.
//!
//! The work is parallel at two levels, both on the rayon pool: the files, and line-aligned
//! chunks of any file larger than [`MIN_CHUNK_BYTES`] (with many files, only of one larger
//! than [`MANY_FILES_MIN_CHUNK_BYTES`]). A chunk is parsed in one pass into rows
//! of its own, and the chunks of a file are joined in order at the end: copying the values
//! once costs less than a second pass over the text to count the rows first. Each thread
//! reads its files into one buffer that it keeps.
//!
//! A row goes through [`Parser::fast_row`] first: ASCII only, no allocation, each field's end
//! found before its number is converted (so that the next field does not wait for the
//! conversion). With a delimiter, the fields are found by [`Block`]s of 64 bytes and the
//! plain numbers converted by [`Block::number`]; a field they do not take (blanks around it,
//! an exponent, ...) goes to [`decimal`] on its own, and the rest of the row to the blocks
//! again. A row the fast path declines (an error, non-ASCII whitespace, anything unusual)
//! goes to [`Parser::slow_row`], which splits the line exactly as numpy does and gives the
//! values or the exact error. So the fast path only has to be right on the rows it accepts,
//! and the tests check it against the slow one.
//!
//! On x86_64 CPUs with AVX2, BMI1 and BMI2 (checked at run time), the rows are parsed by code
//! compiled for them ([`Parser::parse_chunk`]): the same code, 5-10% faster.
//!
//! Text rules, as numpy's:
//! * lines end in `\n`, `\r\n` or a lone `\r`; the last one needs no line break;
//! * the first `skip_rows` lines are skipped whatever they hold: blank and comment lines count;
//! * `#` starts a comment that runs to the end of the line, also in the middle of a field;
//! * with a delimiter, a line that is empty up to its comment is skipped and every other line
//!   is a row, split at every delimiter; a field is a number with optional whitespace
//!   (Python's `str.isspace`) around it, so an empty field, or a line of blanks, is an error;
//! * with no delimiter, fields are runs of non-whitespace and lines without any are skipped;
//! * every row has as many fields as the first one; `usecols` picks fields by index (negative
//!   ones count from the end, repeats allowed), and the fields it leaves out are not parsed;
//!   with `usecols`, rows may differ in length as long as each has the picked fields;
//! * numbers as Python's `float()` without underscores (see [`crate::float`]); float32 values
//!   are the float64 ones rounded, as numpy does.
use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};

use memchr::memchr2;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use crate::block::Avx2;
use crate::block::{self, Baseline, Block, Isa};
use crate::decimal;
use crate::error::{Error, Result};
use crate::float::{self, Sample};
use crate::matrix::{self, after_break, Matrix, ParseError, MIN_CHUNK_BYTES};

/// What separates the fields of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delimiter {
    /// One ASCII character: every occurrence ends a field.
    Char(u8),
    /// Runs of whitespace, as `np.loadtxt(delimiter=None)`.
    Whitespace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Part of a field.
    Text,
    /// ASCII whitespace within a line (around fields; between them with no delimiter).
    Space,
    Delimiter,
    Comment,
    Break,
    /// A non-ASCII byte with no delimiter: it may belong to whitespace that separates fields,
    /// which only [`Parser::slow_row`] decides.
    Unicode,
}

impl Class {
    /// Whether a field that ends at a byte of this class ends as field `field` of a row of
    /// `last + 1` fields must: every field but the last at a delimiter, the last at a line
    /// break or a comment.
    #[inline(always)]
    fn ends_field(self, field: usize, last: usize) -> bool {
        match self {
            Class::Delimiter => field < last,
            Class::Break | Class::Comment => field == last,
            _ => false,
        }
    }
}

/// The ASCII characters of Python's `str.isspace`, without the line breaks.
const ASCII_SPACE: [u8; 8] = [b'\t', 0x0B, 0x0C, 0x1C, 0x1D, 0x1E, 0x1F, b' '];

/// Characters [`decimal::decimal_prefix`] may read as part of a number: with one of them as
/// the delimiter, a field's end is found before its number is parsed.
const NUMBER_CHARS: &[u8] = b"0123456789+-.eE";

/// Python's `str.isspace`: what numpy strips around fields, and splits at with no delimiter.
fn is_py_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

fn is_ascii_space(b: u8) -> bool {
    ASCII_SPACE.contains(&b)
}

fn trim_ascii_space(token: &[u8]) -> &[u8] {
    let start = token.iter().position(|&b| !is_ascii_space(b));
    let end = token.iter().rposition(|&b| !is_ascii_space(b));
    match (start, end) {
        (Some(start), Some(end)) => &token[start..=end],
        _ => &[],
    }
}

/// How to read a text: its delimiter, the lines to skip and the fields to keep.
#[derive(Clone, Debug)]
pub struct Options {
    delimiter: Delimiter,
    skip_rows: usize,
    usecols: Option<Vec<i64>>,
    classes: [Class; 256],
}

impl Options {
    /// `delimiter` is one ASCII character other than `#` (the comment character) and the line
    /// breaks, or `None` for runs of whitespace. `usecols` are field indices; negative ones
    /// count from the end of the row, as in Python.
    pub fn new(
        delimiter: Option<char>,
        skip_rows: usize,
        usecols: Option<Vec<i64>>,
    ) -> Result<Self> {
        let delimiter = match delimiter {
            None => Delimiter::Whitespace,
            Some(c) if c.is_ascii() && !matches!(c, '#' | '\r' | '\n') => Delimiter::Char(c as u8),
            Some(c) => {
                return Err(Error::InvalidArgument(format!(
                    "delimiter must be one ASCII character other than '#', '\\r' and '\\n' \
                     (or None for whitespace), got {c:?}"
                )))
            }
        };
        Ok(Self {
            delimiter,
            skip_rows,
            usecols,
            classes: classes(delimiter),
        })
    }

    /// Columns of a text without data rows: numpy gives (0, len(usecols)), else (0, 1).
    fn empty_cols(&self) -> usize {
        self.usecols.as_ref().map_or(1, Vec::len)
    }

    /// The fields of a row's `content` (its line up to any comment), split and trimmed as
    /// numpy does; none if the line is not a row.
    fn fields<'t>(&self, content: &'t [u8]) -> Vec<&'t [u8]> {
        // Text that is not UTF-8 has no non-ASCII whitespace to look for.
        match (self.delimiter, std::str::from_utf8(content)) {
            (Delimiter::Char(_), _) if content.is_empty() => Vec::new(),
            (Delimiter::Char(d), Ok(text)) => text
                .split(char::from(d))
                .map(|field| field.trim_matches(is_py_space).as_bytes())
                .collect(),
            (Delimiter::Char(d), Err(_)) => {
                content.split(|&b| b == d).map(trim_ascii_space).collect()
            }
            (Delimiter::Whitespace, Ok(text)) => text
                .split(is_py_space)
                .filter(|field| !field.is_empty())
                .map(str::as_bytes)
                .collect(),
            (Delimiter::Whitespace, Err(_)) => content
                .split(|&b| is_ascii_space(b))
                .filter(|field| !field.is_empty())
                .collect(),
        }
    }

    /// For each output column, the field it takes in a row of `width` fields, or what is wrong
    /// with `usecols` for such a row.
    fn picks(&self, width: usize) -> Result<Vec<usize>, String> {
        match &self.usecols {
            None => Ok((0..width).collect()),
            Some(usecols) => usecols
                .iter()
                .map(|&index| field_index(index, width))
                .collect(),
        }
    }

    /// The first row at or after line start `pos`: where its line starts and how many fields
    /// it has.
    fn first_row(&self, text: &[u8], mut pos: usize) -> Option<(usize, usize)> {
        while pos < text.len() {
            let content = content(text, pos);
            let fields = match self.delimiter {
                // As many as `fields` gives, without splitting and trimming them.
                Delimiter::Char(_) if content.is_empty() => 0,
                Delimiter::Char(d) => memchr::memchr_iter(d, content).count() + 1,
                Delimiter::Whitespace => self.fields(content).len(),
            };
            if fields > 0 {
                return Some((pos, fields));
            }
            pos = next_line(text, pos);
        }
        None
    }
}

fn classes(delimiter: Delimiter) -> [Class; 256] {
    let mut table = [Class::Text; 256];
    for b in ASCII_SPACE {
        table[usize::from(b)] = Class::Space;
    }
    table[usize::from(b'#')] = Class::Comment;
    table[usize::from(b'\r')] = Class::Break;
    table[usize::from(b'\n')] = Class::Break;
    match delimiter {
        // Last, so that a blank as the delimiter is a delimiter, not space around fields.
        Delimiter::Char(d) => table[usize::from(d)] = Class::Delimiter,
        Delimiter::Whitespace => table[0x80..].fill(Class::Unicode),
    }
    table
}

/// The line that starts at `pos`, up to its comment or line break.
fn content(text: &[u8], pos: usize) -> &[u8] {
    let line = &text[pos..line_end(text, pos)];
    line.split(|&b| b == b'#').next().unwrap_or_default()
}

/// Where the line holding `pos` ends: its line break or the end of the text.
fn line_end(text: &[u8], pos: usize) -> usize {
    memchr2(b'\n', b'\r', &text[pos..]).map_or(text.len(), |i| pos + i)
}

/// The start of the line after the one holding `pos`, or the end of the text.
fn next_line(text: &[u8], pos: usize) -> usize {
    // Rows end at their line break almost always: no search needed.
    let end = match text.get(pos) {
        Some(b'\n' | b'\r') => pos,
        _ => line_end(text, pos),
    };
    after_break(text, end).min(text.len())
}

/// The start of line `n` (0-based), or the end of the text.
fn skip_lines(text: &[u8], n: usize) -> usize {
    let mut pos = 0;
    for _ in 0..n {
        if pos >= text.len() {
            break;
        }
        pos = next_line(text, pos);
    }
    pos
}

/// Marks a field that no output column takes.
const SKIP: usize = usize::MAX;

/// The parser for the rows of one text, once the width of its rows is known.
struct Parser<'o> {
    options: &'o Options,
    /// Fields per row.
    width: usize,
    /// For each output column, the field it takes.
    picks: Vec<usize>,
    /// For each field, the first output column that takes it, or [`SKIP`].
    plan: Vec<usize>,
    /// `(from, to)`: output column `to` repeats column `from` (a field picked twice).
    copies: Vec<(usize, usize)>,
    /// Whether [`decimal::decimal_prefix`] can run before the field's end is known.
    prefix_first: bool,
    /// The byte that ends tokens for [`decimal::find_stop`] besides the usual ones.
    stop: u8,
}

impl<'o> Parser<'o> {
    /// The parser for rows of `width` fields, or what is wrong with `usecols` for them.
    fn new(options: &'o Options, width: usize) -> Result<Self, String> {
        let picks = options.picks(width)?;
        let mut plan = vec![SKIP; width];
        let mut copies = Vec::new();
        for (col, &field) in picks.iter().enumerate() {
            match plan[field] {
                SKIP => plan[field] = col,
                first => copies.push((first, col)),
            }
        }
        let (prefix_first, stop) = match options.delimiter {
            Delimiter::Char(d) => (!NUMBER_CHARS.contains(&d), d),
            Delimiter::Whitespace => (true, b' '),
        };
        Ok(Self {
            options,
            width,
            picks,
            plan,
            copies,
            prefix_first,
            stop,
        })
    }

    #[inline(always)]
    fn class(&self, b: u8) -> Class {
        self.options.classes[usize::from(b)]
    }

    /// The class at `pos`; the end of the text ends a line.
    #[inline(always)]
    fn class_at(&self, text: &[u8], pos: usize) -> Class {
        text.get(pos).map_or(Class::Break, |&b| self.class(b))
    }

    /// The first position from `pos` whose class is not `skipped`.
    #[inline(always)]
    fn skip_while(&self, text: &[u8], pos: usize, skipped: impl Fn(Class) -> bool) -> usize {
        text[pos..]
            .iter()
            .position(|&b| !skipped(self.class(b)))
            .map_or(text.len(), |i| pos + i)
    }

    #[inline(always)]
    fn skip_spaces(&self, text: &[u8], pos: usize) -> usize {
        self.skip_while(text, pos, |c| c == Class::Space)
    }

    /// Parse the rows of `text[range]` (whole lines). Returns the values and the number of
    /// rows, or the first error.
    fn parse_chunk<T: Sample>(
        &self,
        text: &[u8],
        range: std::ops::Range<usize>,
        row_bytes: usize,
    ) -> Result<(Vec<T>, usize), ParseError> {
        #[cfg(target_arch = "x86_64")]
        if let Some(isa) = Avx2::detect() {
            // SAFETY: `isa` proves that the CPU has the features.
            return unsafe { self.parse_chunk_avx2(isa, text, range, row_bytes) };
        }
        self.rows(Baseline, text, range, row_bytes)
    }

    /// [`Parser::rows`] compiled for AVX2, BMI1 and BMI2: the blocks' masks 32 bytes at a
    /// time, and shifts and bit counts in one instruction each.
    ///
    /// # Safety
    /// The CPU must have these features (`isa` is the proof).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi1,bmi2")]
    unsafe fn parse_chunk_avx2<T: Sample>(
        &self,
        isa: Avx2,
        text: &[u8],
        range: std::ops::Range<usize>,
        row_bytes: usize,
    ) -> Result<(Vec<T>, usize), ParseError> {
        self.rows(isa, text, range, row_bytes)
    }

    /// [`Parser::parse_chunk`] with the blocks' masks by `isa`.
    #[inline(always)]
    fn rows<T: Sample>(
        &self,
        isa: impl Isa,
        text: &[u8],
        range: std::ops::Range<usize>,
        row_bytes: usize,
    ) -> Result<(Vec<T>, usize), ParseError> {
        let base = range.start;
        let text = &text[range];
        let cols = self.picks.len();
        let mut data = Vec::new();
        // Room for the rows the first row's length foretells: growing past it is fine, and so
        // is not getting it.
        let _ = data.try_reserve_exact(rows_in(text.len(), row_bytes).saturating_mul(cols));
        // The values of the rows so far; `data` beyond them is zeroed room for more, made
        // [`ZEROED_BATCH`] values at a time: room never filled is never touched, so the kernel
        // neither faults in nor clears its pages.
        let mut filled = 0;
        let mut rows = 0;
        let mut pos = 0;
        let mut cursor = None;
        while pos < text.len() {
            let line = pos;
            if self.options.delimiter == Delimiter::Whitespace {
                pos = self.skip_spaces(text, pos);
            }
            if !matches!(self.class_at(text, pos), Class::Break | Class::Comment) {
                let error = |what| ParseError {
                    offset: base + line,
                    what,
                };
                if data.len() - filled < cols {
                    if data.capacity() - filled < cols {
                        // Room for the rest of the text at the rows' length so far, and a
                        // sixteenth more, rather than doubled: fewer pages to zero and fault
                        // in. Grown here, where running out of memory is an error: `resize`
                        // would abort.
                        let row_bytes = if rows > 0 { line / rows } else { row_bytes };
                        let rest = rows_in(text.len() - line, row_bytes);
                        let more = rest.saturating_add(rest / 16).saturating_mul(cols);
                        data.try_reserve_exact(more.max(cols))
                            .map_err(|_| error(too_big(rows + 1, cols)))?;
                    }
                    let zeroed = data.len().saturating_add(ZEROED_BATCH.max(cols));
                    data.resize(zeroed.min(data.capacity()), T::default());
                }
                let out = &mut data[filled..filled + cols];
                if let Some(end) = self.fast_row(isa, text, pos, out, &mut cursor) {
                    pos = end;
                    filled += cols;
                    rows += 1;
                } else {
                    match self.slow_row(content(text, line), out) {
                        Ok(true) => {
                            filled += cols;
                            rows += 1;
                        }
                        Ok(false) => {}
                        Err(what) => return Err(error(what)),
                    }
                }
            }
            // The usual line break, without a call.
            pos = match text.get(pos) {
                Some(b'\n') => pos + 1,
                _ => next_line(text, pos),
            };
        }
        data.truncate(filled);
        Ok((data, rows))
    }

    /// The row `content` (a line up to its comment) split as numpy does: its values into
    /// `out`, `Ok(false)` if the line is not a row (with no delimiter, a line of non-ASCII
    /// whitespace), or what is wrong, found in numpy's order: the number of fields first,
    /// then the picked fields in `usecols` order.
    ///
    /// Without `usecols` every row has as many fields as the first. With it, as in numpy, a
    /// row may have another number as long as it has the picked fields (negative indices
    /// count from the end of each row).
    fn slow_row<T: Sample>(&self, content: &[u8], out: &mut [T]) -> Result<bool, String> {
        let fields = self.options.fields(content);
        if fields.is_empty() {
            return Ok(false);
        }
        let other;
        let picks = match fields.len() {
            width if width == self.width => &self.picks,
            width if self.options.usecols.is_some() => {
                other = self.options.picks(width)?;
                &other
            }
            found => {
                let noun = if self.width == 1 { "field" } else { "fields" };
                return Err(format!("expected {} {noun}, found {found}", self.width));
            }
        };
        for (slot, &field) in out.iter_mut().zip(picks) {
            *slot = T::from_f64(value(fields[field], field)?);
        }
        Ok(true)
    }

    /// [`Parser::slow_row`] for the usual row, in one pass and without allocating: a row of
    /// `width` fields starting at `pos` (not at a comment or a line break), the picked fields
    /// parsed into `out`. Returns where the row ends (a comment, a line break or the end of
    /// the text), or `None` for anything else, which is then left to [`Parser::slow_row`].
    ///
    /// `cursor`: the [`Block`] the last row ended in, if any (see [`Parser::block_row`]).
    #[inline(always)]
    fn fast_row<'t, T: Sample>(
        &self,
        isa: impl Isa,
        text: &'t [u8],
        pos: usize,
        out: &mut [T],
        cursor: &mut Option<Block<'t>>,
    ) -> Option<usize> {
        let end = match self.options.delimiter {
            // By blocks, or if they decline the row, a field at a time.
            Delimiter::Char(_) => self
                .block_row(isa, text, pos, out, cursor)
                .or_else(|| self.field_row(text, pos, out)),
            Delimiter::Whitespace => self.fast_whitespace(text, pos, out),
        }?;
        for &(from, to) in &self.copies {
            *out.get_mut(to)? = *out.get(from)?;
        }
        Some(end)
    }

    /// A row by [`Block`]s: each field ends at the next stop of the block, its number by
    /// [`Block::number`]; a field that is not a plain number ending at a delimiter (the last
    /// one at a line break or a comment) goes to [`Parser::field`], and the block's stops
    /// are taken up again after it. `None` for a row that [`Parser::field`] cannot read
    /// either (`out` then holds garbage), and near the end of the text.
    ///
    /// `cursor`: the block the last row ended in, if any, and at the end the one this row
    /// ended in.
    #[inline(always)]
    fn block_row<'t, T: Sample>(
        &self,
        isa: impl Isa,
        text: &'t [u8],
        mut pos: usize,
        out: &mut [T],
        cursor: &mut Option<Block<'t>>,
    ) -> Option<usize> {
        let mut block = match cursor.take() {
            Some(block) if pos.wrapping_sub(block.base) < block::LEN => block,
            _ => Block::at(isa, text, pos, self.stop)?,
        };
        // The block's stops from `pos` on.
        let mut stops = block.stops & (u64::MAX << (pos - block.base));
        let last = self.width.checked_sub(1)?;
        for (field, &col) in self.plan.iter().enumerate() {
            if stops == 0 {
                // The field goes past the block: a new block from its start.
                block = Block::at(isa, text, pos, self.stop)?;
                stops = block.stops;
            }
            // No stop in a whole block: a field too long for one, left to the slower ways.
            let quick = (stops != 0).then(|| {
                let end = stops.trailing_zeros() as usize;
                let ends = self.class(block.byte(end)).ends_field(field, last);
                let (value, plain) = match col {
                    SKIP => (0.0, true),
                    _ => block.number(pos - block.base, end),
                };
                (value, block.base + end, plain && ends)
            });
            let end = match quick {
                Some((value, end, true)) => {
                    if col != SKIP {
                        *out.get_mut(col)? = T::from_f64(value);
                    }
                    stops &= stops - 1;
                    end
                }
                _ => {
                    let (end, class) = self.field(text, pos, col, out)?;
                    if !class.ends_field(field, last) {
                        return None;
                    }
                    // The block's stops after this field, if it ends within the block.
                    let next = (end + 1).wrapping_sub(block.base);
                    stops = if next < block::LEN {
                        block.stops & (u64::MAX << next)
                    } else {
                        0
                    };
                    end
                }
            };
            pos = end + 1;
        }
        *cursor = Some(block);
        // The last field's end: its line break or comment.
        Some(pos - 1)
    }

    /// [`Parser::block_row`] a field at a time, each by [`Parser::field`].
    #[inline]
    fn field_row<T: Sample>(&self, text: &[u8], mut pos: usize, out: &mut [T]) -> Option<usize> {
        let last = self.width.checked_sub(1)?;
        for (field, &col) in self.plan.iter().enumerate() {
            let (end, class) = self.field(text, pos, col, out)?;
            if !class.ends_field(field, last) {
                return None;
            }
            pos = end + 1;
        }
        // The last field's end: its line break or comment.
        Some(pos - 1)
    }

    /// The field at `pos` without a block: where it ends and the class of the byte there,
    /// its number (if picked) into `out`. Its end is found apart from its number
    /// ([`decimal::quick_token`] or [`decimal::find_stop`]).
    #[inline]
    fn field<T: Sample>(
        &self,
        text: &[u8],
        pos: usize,
        col: usize,
        out: &mut [T],
    ) -> Option<(usize, Class)> {
        let quick = (col != SKIP)
            .then(|| decimal::quick_token(text, pos, self.stop))
            .flatten()
            .map(|(value, end)| (value, end, self.class_at(text, end)));
        match quick {
            Some((value, end, class @ (Class::Delimiter | Class::Break | Class::Comment))) => {
                *out.get_mut(col)? = T::from_f64(value);
                Some((end, class))
            }
            _ => {
                let end = self.slower_field(text, pos, col, out)?;
                Some((end, self.class_at(text, end)))
            }
        }
    }

    /// The field at `pos` the slower ways: for a field not picked, for a number that is not
    /// plain, and where [`decimal::quick_token`] cannot look far enough. Returns where it ends.
    #[inline]
    fn slower_field<T: Sample>(
        &self,
        text: &[u8],
        pos: usize,
        col: usize,
        out: &mut [T],
    ) -> Option<usize> {
        let stop = decimal::find_stop(text, pos, self.stop);
        Some(
            if matches!(
                self.class_at(text, stop),
                Class::Delimiter | Class::Break | Class::Comment
            ) {
                if col != SKIP {
                    *out.get_mut(col)? = T::from_f64(decimal::token(text, pos, stop)?);
                }
                stop
            } else if col == SKIP {
                self.field_end(text, pos)
            } else {
                // Blanks around the number, or unusual bytes: the careful way.
                let (value, end) = self.delimited_field(text, pos)?;
                *out.get_mut(col)? = T::from_f64(value);
                end
            },
        )
    }

    /// The end of the field at `pos`: its delimiter, or the end of the row.
    #[inline(always)]
    fn field_end(&self, text: &[u8], pos: usize) -> usize {
        self.skip_while(text, pos, |c| matches!(c, Class::Text | Class::Space))
    }

    /// The value of the field at `pos` and where it ends (its delimiter or the end of the row).
    #[inline(always)]
    fn delimited_field(&self, text: &[u8], pos: usize) -> Option<(f64, usize)> {
        let start = self.skip_spaces(text, pos);
        if self.prefix_first {
            if let Some((value, len)) = decimal::decimal_prefix(&text[start..]) {
                let end = self.skip_spaces(text, start + len);
                if matches!(
                    self.class_at(text, end),
                    Class::Delimiter | Class::Break | Class::Comment
                ) {
                    return Some((value, end));
                }
            }
        }
        let end = self.field_end(text, start);
        let value = float::parse_general(trim_ascii_space(&text[start..end]))?;
        Some((value, end))
    }

    #[inline]
    fn fast_whitespace<T: Sample>(
        &self,
        text: &[u8],
        mut pos: usize,
        out: &mut [T],
    ) -> Option<usize> {
        for &col in &self.plan {
            let start = self.skip_spaces(text, pos);
            let quick = (col != SKIP)
                .then(|| decimal::quick_token(text, start, self.stop))
                .flatten()
                .filter(|&(_, end)| self.ends_token(text, end));
            if let Some((value, end)) = quick {
                *out.get_mut(col)? = T::from_f64(value);
                pos = end;
                continue;
            }
            let stop = decimal::find_stop(text, start, self.stop);
            if stop == start || !self.ends_token(text, stop) {
                return None; // too few fields, or unusual bytes
            }
            if col != SKIP {
                *out.get_mut(col)? = T::from_f64(decimal::token(text, start, stop)?);
            }
            pos = stop;
        }
        let end = self.skip_spaces(text, pos);
        matches!(self.class_at(text, end), Class::Break | Class::Comment).then_some(end)
    }

    /// Whether a token without a delimiter may end at `pos`.
    #[inline(always)]
    fn ends_token(&self, text: &[u8], pos: usize) -> bool {
        matches!(
            self.class_at(text, pos),
            Class::Space | Class::Break | Class::Comment
        )
    }
}

/// The field `index` of rows of `width` fields, counting from the end if negative.
fn field_index(index: i64, width: usize) -> Result<usize, String> {
    let width = i64::try_from(width).unwrap_or(i64::MAX);
    let field = if index < 0 { index + width } else { index };
    usize::try_from(field)
        .ok()
        .filter(|_| field < width)
        .ok_or_else(|| {
            let noun = if width == 1 { "field" } else { "fields" };
            format!(
                "usecols index {index} is out of range for a row of {width} {noun} \
                 (valid: {} to {})",
                -width,
                width - 1
            )
        })
}

/// The value of a trimmed field (0-based `index`), or what is wrong with it.
fn value(token: &[u8], index: usize) -> Result<f64, String> {
    if token.is_empty() {
        return Err(format!("empty field {}", index + 1));
    }
    float::parse(token).ok_or_else(|| format!("{} (field {})", matrix::bad_token(token), index + 1))
}

/// Parse a whole text (see the module docs for the rules), its chunks in parallel.
pub fn parse<T: Sample>(text: &[u8], options: &Options) -> Result<Matrix<T>, ParseError> {
    parse_in_chunks(text, options, MIN_CHUNK_BYTES)
}

/// With this many files per thread, the files alone keep every thread busy.
const MANY_FILES_PER_THREAD: usize = 4;

/// The least bytes of a chunk when there are many files: only a file that takes long on its
/// own is split, and the others are spared joining their chunks' rows (a copy of them all).
const MANY_FILES_MIN_CHUNK_BYTES: usize = 16 << 20;

/// [`parse`] in chunks of at least `min_chunk` bytes.
fn parse_in_chunks<T: Sample>(
    text: &[u8],
    options: &Options,
    min_chunk: usize,
) -> Result<Matrix<T>, ParseError> {
    let start = skip_lines(text, options.skip_rows);
    let Some((first, width)) = options.first_row(text, start) else {
        return Ok(Matrix {
            data: Vec::new(),
            rows: 0,
            cols: options.empty_cols(),
        });
    };
    let parser = Parser::new(options, width).map_err(|what| ParseError {
        offset: first,
        what,
    })?;
    let row_bytes = next_line(text, first) - first;
    let parts = ((text.len() - first) / min_chunk).clamp(1, 4 * rayon::current_num_threads());
    if parts == 1 {
        let rows = parser.parse_chunk::<T>(text, first..text.len(), row_bytes);
        return join(vec![rows], parser.picks.len(), first);
    }
    let chunks: Vec<_> = matrix::chunk_ranges(&text[first..], parts)
        .into_iter()
        .map(|r| r.start + first..r.end + first)
        .collect();
    let results: Vec<_> = chunks
        .into_par_iter()
        .map(|range| parser.parse_chunk::<T>(text, range, row_bytes))
        .collect();
    join(results, parser.picks.len(), first)
}

/// The values [`Parser::rows`] zeroes at a time as room for rows: 32 KiB of float64.
const ZEROED_BATCH: usize = 4096;

/// The rows in `bytes` of text whose rows are about `row_bytes` long, and one more.
fn rows_in(bytes: usize, row_bytes: usize) -> usize {
    bytes / row_bytes.max(1) + 1
}

/// Why a text's values cannot be kept.
fn too_big(rows: usize, cols: usize) -> String {
    format!("{rows} rows of {cols} values do not fit in memory")
}

/// The chunks' rows in order, or the first error in the text (`first`: where its rows begin).
fn join<T: Sample>(
    chunks: Vec<Result<(Vec<T>, usize), ParseError>>,
    cols: usize,
    first: usize,
) -> Result<Matrix<T>, ParseError> {
    let chunks = chunks.into_iter().collect::<Result<Vec<_>, _>>()?;
    let rows = chunks.iter().map(|(_, rows)| rows).sum();
    let data = if chunks.len() == 1 {
        let mut data = chunks
            .into_iter()
            .next()
            .map(|(data, _)| data)
            .unwrap_or_default();
        data.shrink_to_fit();
        data
    } else {
        let mut data = Vec::new();
        data.try_reserve_exact(rows * cols)
            .map_err(|_| ParseError {
                offset: first,
                what: too_big(rows, cols),
            })?;
        for (values, _) in chunks {
            data.extend_from_slice(&values);
        }
        data
    };
    Ok(Matrix { data, rows, cols })
}

/// Read and parse one file.
pub fn read_file<T: Sample>(path: &Path, options: &Options) -> Result<Matrix<T>> {
    read_file_in_chunks(path, options, MIN_CHUNK_BYTES)
}

/// [`read_file`], the text in chunks of at least `min_chunk` bytes.
fn read_file_in_chunks<T: Sample>(
    path: &Path,
    options: &Options,
    min_chunk: usize,
) -> Result<Matrix<T>> {
    with_text(path, |text| {
        parse_in_chunks(text, options, min_chunk).map_err(|e| e.in_file(path, text))
    })
}

/// A thread's read buffer is dropped after a file larger than this, not kept for the next.
const KEEP_BUFFER_BYTES: usize = 64 << 20;

/// Run `work` on the text of `path`, read into this thread's buffer: with many files, reusing
/// it spares the kernel faulting in and zeroing fresh pages for every one of them.
fn with_text<R>(path: &Path, work: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => {
            buffer.clear();
            let read = matrix::open(path)?.read_to_end(&mut buffer);
            let result = read
                .map_err(|e| Error::io(path, e))
                .and_then(|_| work(&buffer));
            if buffer.capacity() > KEEP_BUFFER_BYTES {
                *buffer = Vec::new();
            }
            result
        }
        // In use further up this thread's stack: rayon ran this file's task while the thread
        // waited for the chunks of another file.
        Err(_) => work(&matrix::read_file(path)?),
    })
}

/// Read and parse many files in parallel; the results are in the order of `paths`, and an
/// error is the one of the first failing file in that order, whatever the timing.
pub fn read_files<T: Sample>(paths: &[PathBuf], options: &Options) -> Result<Vec<Matrix<T>>> {
    let many = paths.len() >= MANY_FILES_PER_THREAD * rayon::current_num_threads();
    let min_chunk = if many {
        MANY_FILES_MIN_CHUNK_BYTES
    } else {
        MIN_CHUNK_BYTES
    };
    let results: Vec<Result<Matrix<T>>> = paths
        .par_iter()
        .map(|path| read_file_in_chunks(path, options, min_chunk))
        .collect();
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn options(delimiter: Option<char>, skip_rows: usize, usecols: Option<Vec<i64>>) -> Options {
        Options::new(delimiter, skip_rows, usecols).unwrap()
    }

    fn csv(text: &str) -> Result<Matrix<f64>, ParseError> {
        parse(text.as_bytes(), &options(Some(','), 0, None))
    }

    fn shape_and_data(m: &Matrix<f64>) -> (usize, usize, Vec<f64>) {
        (m.rows, m.cols, m.data.clone())
    }

    /// The 1-based line and message of an error.
    fn error_at(text: &str, options: &Options) -> (usize, String) {
        let e = parse::<f64>(text.as_bytes(), options).unwrap_err();
        (matrix::line_number(text.as_bytes(), e.offset), e.what)
    }

    #[test]
    fn blanks_comments_and_line_ends() {
        let m = csv(" 1 ,\t2\r\n\n# note\r3,4 # tail\n\n5\x0b,6#x\r\n7,8").unwrap();
        assert_eq!(
            shape_and_data(&m),
            (4, 2, vec![1., 2., 3., 4., 5., 6., 7., 8.])
        );
    }

    #[test]
    fn skip_rows_counts_every_physical_line() {
        let text = "a,b\n\n# c\n1,2\r\n3,4\r5,6";
        let o = |n| options(Some(','), n, None);
        assert_eq!(parse::<f64>(text.as_bytes(), &o(1)).unwrap().rows, 3);
        assert_eq!(
            parse::<f64>(text.as_bytes(), &o(4)).unwrap().data,
            [3., 4., 5., 6.]
        );
        assert_eq!(parse::<f64>(text.as_bytes(), &o(5)).unwrap().data, [5., 6.]);
        for n in [6, usize::MAX] {
            let none = parse::<f64>(text.as_bytes(), &o(n)).unwrap();
            assert_eq!((none.rows, none.cols), (0, 1));
        }
    }

    #[test]
    fn usecols_pick_reorder_and_repeat() {
        let o = options(Some(';'), 0, Some(vec![2, 0, -1, 0]));
        let m = parse::<f64>(b"1;x;3\n4;;6\n", &o).unwrap();
        assert_eq!(
            shape_and_data(&m),
            (2, 4, vec![3., 1., 3., 1., 6., 4., 6., 4.])
        );
        let o = options(Some(','), 0, Some(vec![]));
        assert_eq!(
            shape_and_data(&parse(b"1,2\n3,4\n", &o).unwrap()),
            (2, 0, vec![])
        );
    }

    #[test]
    fn no_data_rows_give_numpys_shapes() {
        for (text, usecols, cols) in [
            ("", None, 1),
            ("\n\n# only comments\n", None, 1),
            ("", Some(vec![0, 5]), 2),
            ("# x\n", Some(vec![]), 0),
        ] {
            let m = parse::<f32>(text.as_bytes(), &options(Some(','), 0, usecols)).unwrap();
            assert_eq!((m.rows, m.cols, m.data.len()), (0, cols, 0), "{text:?}");
        }
    }

    #[test]
    fn whitespace_delimiter_splits_runs_of_any_whitespace() {
        let o = options(None, 1, Some(vec![-1, 0]));
        let m = parse::<f64>(
            "h\n\n  1\t 2 3 # c\n\u{a0}\n4\u{a0}5\u{3000}6\n".as_bytes(),
            &o,
        )
        .unwrap();
        assert_eq!(shape_and_data(&m), (2, 2, vec![3., 1., 6., 4.]));
    }

    #[test]
    fn unicode_whitespace_around_fields_is_stripped() {
        let m = csv("1,\u{a0}2\u{2003}\n").unwrap();
        assert_eq!(m.data, [1., 2.]);
    }

    #[test]
    fn errors_name_the_line_and_the_problem() {
        let comma = options(Some(','), 0, None);
        for (text, line, what) in [
            ("1,2\n3,4,5\n", 2, "expected 2 fields, found 3"),
            ("1,2\n\n# c\n3\n", 4, "expected 2 fields, found 1"),
            ("1\n \n", 2, "empty field 1"),
            ("1,2\n  # c\n", 2, "expected 2 fields, found 1"),
            ("1,2\r\n3,\r\n", 2, "empty field 2"),
            ("1,2\r3,abc\r", 2, "\"abc\" is not a number (field 2)"),
            (
                "1,2\n3,4\x00\n",
                2,
                "byte 0x00 is not text (in \"4\\0\") (field 2)",
            ),
            ("1,2\n3,1_0\n", 2, "\"1_0\" is not a number (field 2)"),
            // The field count is checked before the values, as numpy does.
            ("1,2\nx,y,z\n", 2, "expected 2 fields, found 3"),
            (",a\n", 1, "empty field 1"),
        ] {
            assert_eq!(error_at(text, &comma), (line, what.to_string()), "{text:?}");
        }
        let picked = options(Some(','), 1, Some(vec![1, -4]));
        assert_eq!(
            error_at("a,b\n\n1,2,3\n", &picked),
            (
                3,
                "usecols index -4 is out of range for a row of 3 fields (valid: -3 to 2)".into()
            )
        );
        // Fields that are not picked are not parsed, but still counted.
        let first = options(Some(','), 0, Some(vec![0]));
        assert_eq!(parse::<f64>(b"1,x\n2,\n", &first).unwrap().data, [1., 2.]);
        // With usecols, rows may differ in length if they have the picked fields, as in numpy.
        let o = options(Some(','), 0, Some(vec![0, -1]));
        assert_eq!(
            parse::<f64>(b"1,x,2\n3,4\n", &o).unwrap().data,
            [1., 2., 3., 4.]
        );
        assert_eq!(
            error_at(
                "1,2,3\n4,5,6\n7\n8,9\n",
                &options(Some(','), 0, Some(vec![1]))
            ),
            (
                3,
                "usecols index 1 is out of range for a row of 1 field (valid: -1 to 0)".into()
            )
        );
        assert_eq!(
            error_at("1,2\n3\n", &options(Some(','), 0, None)),
            (2, "expected 2 fields, found 1".into())
        );
        let ws = options(None, 0, None);
        assert_eq!(
            error_at("1 2\n3\n", &ws),
            (2, "expected 2 fields, found 1".into())
        );
        assert_eq!(
            error_at("1\n2 3\n", &ws),
            (2, "expected 1 field, found 2".into())
        );
    }

    #[test]
    fn delimiters_that_can_be_part_of_a_number() {
        for d in ['.', 'e', '-', '5'] {
            let text = format!("1{d}2\n3{d}4\n");
            let got = parse::<f64>(text.as_bytes(), &options(Some(d), 0, None)).unwrap();
            assert_eq!(got.data, [1., 2., 3., 4.], "{d}");
        }
    }

    #[test]
    fn bad_delimiters_are_refused() {
        for d in ['#', '\n', '\r', 'µ'] {
            let e = Options::new(Some(d), 0, None).unwrap_err().to_string();
            assert!(
                e.starts_with("delimiter must be one ASCII character"),
                "{e}"
            );
        }
    }

    #[test]
    fn chunks_and_files_give_what_one_pass_gives() {
        let row = "0,1.528132,-0.733896,0.696372,-0.031672000000000006,nan,1e-30\r\n";
        let text = format!("h\n{}", row.repeat(50_000)); // ~3 MB: several chunks
        let o = options(Some(','), 1, Some((1..7).collect()));
        let m = parse::<f64>(text.as_bytes(), &o).unwrap();
        assert_eq!((m.rows, m.cols), (50_000, 6));
        let expected = [1.528132, -0.733896, 0.696372, -0.031672000000000006];
        assert!(m
            .data
            .chunks(6)
            .all(|r| r[..4] == expected && r[4].is_nan() && r[5] == 1e-30));
        // The first error wins, even when a later chunk also has one.
        let mut bad = text.clone();
        bad.replace_range(2 + row.len() * 45_000..2 + row.len() * 45_000 + 1, "x");
        bad.replace_range(2 + row.len() * 10 + 2..2 + row.len() * 10 + 3, "?");
        assert_eq!(
            error_at(&bad, &o),
            (12, "\"?.528132\" is not a number (field 2)".into())
        );
    }

    #[test]
    fn rows_shorter_or_longer_than_the_first_all_arrive() {
        // The first row's length foretells the room: far too little here, so it grows many
        // times, the rows beyond each batch of zeroed room landing where they belong.
        let ones = "1".repeat(300);
        let long_first = format!("{ones},-2.5\n{}", "3,4\n".repeat(20_000));
        let m = csv(&long_first).unwrap();
        assert_eq!((m.rows, m.cols), (20_001, 2));
        assert_eq!(&m.data[..2], &[ones.parse().unwrap(), -2.5]);
        assert!(m.data[2..].chunks(2).all(|r| r == [3., 4.]));
        // And far too much room: what is given back is the rows alone.
        let short_first = format!("1,2\n{}", "0.0000000001,200000000000\n".repeat(5_000));
        let m = csv(&short_first).unwrap();
        assert_eq!((m.rows, m.data.len()), (5_001, 10_002));
        assert!(m.data[2..].chunks(2).all(|r| r == [1e-10, 2e11]));
    }

    #[test]
    fn files_in_order_and_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("bilm-delimited-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = (0..20).map(|i| dir.join(format!("{i}.csv"))).collect();
        for (i, path) in paths.iter().enumerate() {
            std::fs::write(path, format!("i,v\n{i},{}\n", i * 2)).unwrap();
        }
        let o = options(Some(','), 1, None);
        let all = read_files::<f32>(&paths, &o).unwrap();
        assert!(all
            .iter()
            .enumerate()
            .all(|(i, m)| m.data == [i as f32, 2.0 * i as f32]));
        std::fs::write(&paths[7], "i,v\n1,2\n3;4\n").unwrap();
        std::fs::write(&paths[12], "i,v\n1,").unwrap();
        let e = read_files::<f32>(&paths, &o).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("{}, line 3: expected 2 fields, found 1", paths[7].display())
        );
        let missing = dir.join("missing.csv");
        let e = read_files::<f32>(&[paths[0].clone(), missing.clone()], &o).unwrap_err();
        assert!(
            matches!(e, Error::NotFound { ref path } if *path == missing),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A field in one of the spellings files have, with blanks around it.
    fn field() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            any::<f64>().prop_map(|v| format!("{v}")),
            any::<f64>().prop_map(|v| format!("{v:e}")),
            any::<f32>().prop_map(|v| format!("{v}")),
            (-100_000i64..100_000, 0u32..8)
                .prop_map(|(m, k)| format!("{}", m as f64 / 10f64.powi(k as i32))),
            "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?",
            proptest::sample::select(vec![
                "inf",
                "-Infinity",
                "nan",
                "+1.",
                ".5",
                "-0",
                "x",
                "",
                "1e",
                "\u{a0}1"
            ])
            .prop_map(str::to_owned),
        ];
        let blank = proptest::sample::select(vec!["", "", "", " ", "\t", "\u{a0}"]);
        (blank.clone(), number, blank).prop_map(|(a, n, b)| format!("{a}{n}{b}"))
    }

    /// A field as files of measurements mostly have them: short decimals and Python's
    /// `repr` of float64s, now and then something else.
    fn plain_field() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (-10_000_000i64..10_000_000, 0u32..8)
                .prop_map(|(m, k)| format!("{:.*}", k as usize, m as f64 / 10f64.powi(k as i32))),
            3 => (-1e3f64..1e3).prop_map(|v| format!("{v}")),
            2 => "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?",
            1 => field(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Texts of many rows of mostly plain numbers, the way [`Parser::block_row`] reads
        /// them (a block carried from row to row), give the reference tokenizer's values,
        /// with each way of classifying a block's bytes.
        #[test]
        fn block_rows_agree_with_the_reference(
            rows in proptest::collection::vec(
                proptest::collection::vec(plain_field(), 6),
                1..12,
            ),
            width in 1usize..=6,
            crlf: bool,
        ) {
            let end = if crlf { "\r\n" } else { "\n" };
            let lines: Vec<String> = rows.iter().map(|row| row[..width].join(",")).collect();
            let text = lines.iter().map(|line| format!("{line}{end}")).collect::<String>();
            let o = options(Some(','), 0, None);
            let parser = Parser::new(&o, width).unwrap();
            let (mut expected, mut count) = (Vec::new(), 0);
            let mut wanted = Ok(());
            for line in &lines {
                let mut values = vec![0.0f64; width];
                match parser.slow_row(line.as_bytes(), &mut values) {
                    Ok(true) => {
                        expected.extend(values);
                        count += 1;
                    }
                    Ok(false) => {}
                    Err(what) => {
                        wanted = Err(what);
                        break;
                    }
                }
            }
            let bits = |v: &[f64]| {
                v.iter().map(|x| if x.is_nan() { 1 } else { x.to_bits() }).collect::<Vec<_>>()
            };
            let check = |got: Result<(Vec<f64>, usize), ParseError>| -> Result<(), TestCaseError> {
                match (&wanted, got) {
                    (Ok(()), Ok((values, rows))) => {
                        prop_assert_eq!(rows, count);
                        prop_assert_eq!(bits(&values), bits(&expected));
                    }
                    (Err(what), Err(e)) => prop_assert_eq!(what, &e.what),
                    (wanted, got) => prop_assert!(false, "{:?} but {:?}", wanted, got.map(|_| ())),
                }
                Ok(())
            };
            check(parser.rows(Baseline, text.as_bytes(), 0..text.len(), 1))?;
            #[cfg(target_arch = "x86_64")]
            if let Some(isa) = Avx2::detect() {
                check(parser.rows(isa, text.as_bytes(), 0..text.len(), 1))?;
            }
        }

        /// The fast path agrees with the reference tokenizer on every row it accepts, and
        /// declines only rows that the reference rejects or that hold non-ASCII bytes; at the
        /// end of a text and with more text after the row (where [`decimal::quick_token`]
        /// and [`Block`]s can look), with a block carried from the line before, and with
        /// each way of classifying a block's bytes.
        #[test]
        fn fast_rows_agree_with_the_reference(
            fields in proptest::collection::vec(field(), 1..6),
            whitespace: bool,
            pick_last: bool,
            more: bool,
            after: bool,
        ) {
            let (delimiter, sep) = if whitespace { (None, " ") } else { (Some(','), ",") };
            let line = fields.join(sep);
            // With `after`, a line before this one, whose block the row may start in.
            let before = if after { "1,2\n" } else { "" };
            let tail = if more { format!("\n{}", "7,".repeat(64)) } else { String::new() };
            let text = format!("{before}{line}{tail}");
            let usecols = pick_last.then(|| vec![-1, 0]);
            let o = options(delimiter, 0, usecols);
            let Some((_, width)) = o.first_row(line.as_bytes(), 0) else {
                prop_assert!(line.chars().all(is_py_space) && (whitespace || line.is_empty()));
                return Ok(());
            };
            let parser = Parser::new(&o, width).unwrap();
            let cols = parser.picks.len();
            let mut slow = vec![0.0f64; cols];
            let skipped = if whitespace { parser.skip_spaces(line.as_bytes(), 0) } else { 0 };
            let start = before.len() + skipped;
            let reference = parser.slow_row(content(line.as_bytes(), 0), &mut slow);
            let bits = |v: &[f64]| {
                v.iter().map(|x| if x.is_nan() { 1 } else { x.to_bits() }).collect::<Vec<_>>()
            };

            /// The fast path's end and values, with the block of the text's start carried.
            fn fast<I: Isa>(isa: I, parser: &Parser, text: &[u8], start: usize) -> (Option<usize>, Vec<f64>) {
                let mut out = vec![0.0f64; parser.picks.len()];
                let mut cursor = Block::at(isa, text, 0, parser.stop);
                (parser.fast_row(isa, text, start, &mut out, &mut cursor), out)
            }
            let mut runs = vec![fast(Baseline, &parser, text.as_bytes(), start)];
            #[cfg(target_arch = "x86_64")]
            if let Some(isa) = Avx2::detect() {
                runs.push(fast(isa, &parser, text.as_bytes(), start));
            }
            for (accepted, got) in runs {
                if line.is_ascii() {
                    prop_assert_eq!(accepted.is_some(), reference == Ok(true), "{:?}", line);
                }
                if let Some(end) = accepted {
                    prop_assert_eq!(end, before.len() + line.len());
                    prop_assert_eq!(&reference, &Ok(true));
                    prop_assert_eq!(bits(&got), bits(&slow));
                }
            }
        }

    }
}
