//! The checks behind the fuzz targets, shared with `rust/tests/fuzz_regressions.rs`.
//!
//! Every check takes arbitrary bytes, runs them through bilm_fast's public Rust API and
//! compares the outcome with a small, obviously correct reference written here from the
//! documented rules (the ones `np.loadtxt` follows). A panic anywhere -- in bilm_fast or in a
//! failed comparison -- is a finding. The file is also compiled as a plain module of the
//! stable regression test (`#[path]`), so it uses only `std` and `bilm_fast`, and no
//! `crate::` paths.
#![allow(dead_code)]

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bilm_fast::float::{self, Sample};
use bilm_fast::matrix;
use bilm_fast::{threads, uci, Error};

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------

/// The reference for one token: Rust's correctly rounded `str::parse`, which accepts the same
/// ASCII syntax as Python's `float()` (bilm_fast's documented contract for `float::parse`).
pub fn std_parse(token: &[u8]) -> Option<f64> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

fn same_f64(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
        (None, None) => true,
        _ => false,
    }
}

/// `float::parse`, `float::fixed_prefix` and `float::uci_field` on arbitrary bytes.
pub fn check_float(data: &[u8]) {
    let got = float::parse(data);
    let want = std_parse(data);
    assert!(
        same_f64(got, want),
        "float::parse({:?}) = {got:?}, str::parse gives {want:?}",
        String::from_utf8_lossy(data)
    );
    if let Some(v) = got {
        let single = <f32 as Sample>::from_f64(v);
        assert!(single.to_bits() == (v as f32).to_bits() || single.is_nan());
    }

    if let Some((value, len)) = float::fixed_prefix(data) {
        assert!(
            len <= data.len(),
            "fixed_prefix length {len} > {}",
            data.len()
        );
        let want = std_parse(&data[..len]);
        assert!(
            same_f64(Some(value), want),
            "fixed_prefix({:?}) = {value:?}, str::parse of its {len} bytes gives {want:?}",
            String::from_utf8_lossy(data)
        );
    }

    // A row of whole fields: accepted only if every field is, with each field's value.
    let fields = data.len() / float::FIELD_LEN;
    if fields > 0 {
        let mut out = vec![0.0f64; fields];
        if float::uci_row(data, &mut out) {
            for (chunk, &value) in data.chunks_exact(float::FIELD_LEN).zip(&out) {
                let field = chunk
                    .first_chunk::<{ float::FIELD_LEN }>()
                    .expect("16 bytes");
                let (ok, alone) = float::uci_field(field);
                assert!(
                    ok && alone.to_bits() == value.to_bits(),
                    "uci_row and uci_field disagree on {field:?}"
                );
            }
        }
        let mut single = vec![0.0f32; fields];
        if float::uci_row(data, &mut single) {
            for (s, d) in single.iter().zip(&out) {
                assert_eq!(s.to_bits(), (*d as f32).to_bits());
            }
        }
    }

    if let Some(field) = data.first_chunk::<{ float::FIELD_LEN }>() {
        if let (true, value) = float::uci_field(field) {
            // An accepted field is a blank, a blank or sign, then the number.
            let token = if field[1] == b' ' {
                &field[2..]
            } else {
                &field[1..]
            };
            let want = std_parse(token);
            assert!(
                same_f64(Some(value), want),
                "uci_field({:?}) = {value:?}, str::parse gives {want:?}",
                String::from_utf8_lossy(field)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Matrices
// ---------------------------------------------------------------------------------------

/// Blanks that separate values (np.loadtxt's ASCII whitespace minus line breaks).
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0B | 0x0C | 0x1C..=0x1F)
}

/// Lines with universal newlines (`\n`, `\r\n`, lone `\r`), as (1-based number, line).
fn ref_lines(text: &[u8]) -> Vec<(usize, &[u8])> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'\n' => {
                out.push((out.len() + 1, &text[start..i]));
                i += 1;
                start = i;
            }
            b'\r' => {
                out.push((out.len() + 1, &text[start..i]));
                i += if text.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < text.len() {
        out.push((out.len() + 1, &text[start..]));
    }
    out
}

/// The values of a line: everything before `#`, split on blanks.
fn ref_tokens(line: &[u8]) -> Vec<&[u8]> {
    let content = line.split(|&b| b == b'#').next().unwrap_or_default();
    content
        .split(|&b| is_blank(b))
        .filter(|t| !t.is_empty())
        .collect()
}

/// What the reference expects from a matrix text.
#[derive(Debug, Clone, PartialEq)]
pub struct RefMatrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
    /// 1-based line of each data row.
    pub row_lines: Vec<usize>,
}

/// Reference for `matrix::parse_matrix(text, cols)`: `Err(line)` is the 1-based line of the
/// first problem, i.e. of the first line that is not a row of `cols` numbers.
pub fn ref_matrix(text: &[u8], cols: Option<usize>) -> Result<RefMatrix, usize> {
    let mut cols = cols;
    let mut data = Vec::new();
    let mut row_lines = Vec::new();
    for (number, line) in ref_lines(text) {
        let tokens = ref_tokens(line);
        if tokens.is_empty() {
            continue;
        }
        let want = *cols.get_or_insert(tokens.len());
        for token in &tokens {
            data.push(std_parse(token).ok_or(number)?);
        }
        if tokens.len() != want {
            return Err(number);
        }
        row_lines.push(number);
    }
    if row_lines.is_empty() {
        return Err(1); // no data row at all (whatever `cols` says): reported at line 1
    }
    let cols = cols.unwrap_or_default();
    Ok(RefMatrix {
        rows: row_lines.len(),
        cols,
        data,
        row_lines,
    })
}

/// Number of data rows by the reference (what a row count must say, errors or not).
pub fn ref_data_rows(text: &[u8]) -> usize {
    ref_lines(text)
        .iter()
        .filter(|(_, line)| !ref_tokens(line).is_empty())
        .count()
}

fn matrix_agrees<T: Sample>(
    text: &[u8],
    cols: Option<usize>,
    want: &Result<RefMatrix, usize>,
    bits: impl Fn(T) -> u64,
    round: impl Fn(f64) -> u64,
) {
    let got = matrix::parse_matrix::<T>(text, cols);
    match (got, want) {
        (Ok(m), Ok(r)) => {
            assert_eq!((m.rows, m.cols), (r.rows, r.cols), "shape of {text:?}");
            assert_eq!(m.data.len(), r.data.len());
            for (i, (&g, &w)) in m.data.iter().zip(&r.data).enumerate() {
                assert!(
                    bits(g) == round(w) || (w.is_nan() && round(w) == round(f64::NAN)),
                    "value {i} of {:?}: got {:x}, want {:x}",
                    String::from_utf8_lossy(text),
                    bits(g),
                    round(w)
                );
            }
        }
        (Err(e), Err(line)) => {
            let got_line = matrix::line_number(text, e.offset);
            assert_eq!(
                got_line,
                *line,
                "error line for {:?}: got {got_line} ({}), want {line}",
                String::from_utf8_lossy(text),
                e.what
            );
            assert!(!e.what.is_empty());
        }
        (Ok(m), Err(line)) => panic!(
            "accepted {:?} as {}x{}, the reference rejects line {line}",
            String::from_utf8_lossy(text),
            m.rows,
            m.cols
        ),
        (Err(e), Ok(_)) => panic!(
            "rejected {:?} ({}: {}), the reference accepts it",
            String::from_utf8_lossy(text),
            matrix::line_number(text, e.offset),
            e.what
        ),
    }
}

fn nan_canonical_f64(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        v.to_bits()
    }
}

fn nan_canonical_f32(v: f32) -> u64 {
    if v.is_nan() {
        u64::from(f32::NAN.to_bits())
    } else {
        u64::from(v.to_bits())
    }
}

/// Texts this size span several parse chunks (bilm_fast cuts at 1 MiB per chunk).
pub const BIG_TEXT: usize = (2 << 20) + 4096;

/// The control byte of a `matrix_file` input: bit 3 asks for a fixed column count of
/// `1 + (control >> 4) % 5`; bits 4 and 5 set and bit 3 clear: also through a real file
/// (`matrix::read_matrix`, which reads a fixed-layout file in pieces instead of whole).
fn matrix_cols(control: u8) -> Option<usize> {
    (control & 0x08 != 0).then_some(1 + usize::from(control >> 4) % 5)
}

/// Control byte, then the text: `matrix::parse_matrix` as f64 and f32 against
/// [`ref_matrix`], and (see [`matrix_cols`]) `matrix::read_matrix` on a real file.
pub fn check_matrix(data: &[u8]) {
    let Some((&control, text)) = data.split_first() else {
        return;
    };
    let cols = matrix_cols(control);
    let want = ref_matrix(text, cols);
    threads::run(NonZeroUsize::new(2), || {
        matrix_agrees::<f64>(text, cols, &want, nan_canonical_f64, nan_canonical_f64);
        matrix_agrees::<f32>(text, cols, &want, nan_canonical_f32, |v| {
            nan_canonical_f32(v as f32)
        });
    })
    .expect("thread pool");

    if cols.is_none() && control & 0x30 == 0x30 {
        let dir = ScratchDir::new("matrix");
        let path = dir.path().join("m.txt");
        std::fs::write(&path, text).expect("write scratch file");
        match (matrix::read_matrix::<f64>(&path), &want) {
            (Ok(m), Ok(r)) => {
                assert_eq!((m.rows, m.cols), (r.rows, r.cols));
                for (g, w) in m.data.iter().zip(&r.data) {
                    assert_eq!(
                        nan_canonical_f64(*g),
                        nan_canonical_f64(*w),
                        "read_matrix value"
                    );
                }
                let single = matrix::read_matrix::<f32>(&path).expect("f32 read of a valid file");
                for (g, w) in single.data.iter().zip(&r.data) {
                    assert_eq!(
                        nan_canonical_f32(*g),
                        nan_canonical_f32(*w as f32),
                        "read_matrix f32 value"
                    );
                }
            }
            (
                Err(Error::Parse {
                    path: p,
                    line,
                    what,
                }),
                Err(want_line),
            ) => {
                assert_eq!(p, path);
                assert_eq!(line, *want_line, "{what}");
                let message = Error::Parse {
                    path: p,
                    line,
                    what,
                }
                .to_string();
                assert!(message.starts_with(&format!("{}, line {line}: ", path.display())));
            }
            (got, want) => panic!("read_matrix: got {:?}, want {want:?}", got.map(|m| m.rows)),
        }
    }
}

/// The same input as [`check_matrix`], its text (plus a line break) tiled past
/// [`BIG_TEXT`] and parsed on 4 threads, so it is cut into several chunks that are scanned and
/// parsed in parallel. It must give the small text's rows repeated, or the small text's first
/// error. Too slow for the fuzz loop (megabytes per input); `cargo test` runs it on the corpus.
pub fn check_matrix_chunked(data: &[u8]) {
    let Some((&control, text)) = data.split_first() else {
        return;
    };
    if text.is_empty() {
        return;
    }
    let cols = matrix_cols(control);
    let unit = [text, b"\n"].concat();
    let copies = BIG_TEXT / unit.len() + 1;
    let big = unit.repeat(copies);
    threads::run(NonZeroUsize::new(4), || {
        let small = matrix::parse_matrix::<f64>(&unit, cols);
        let tiled = matrix::parse_matrix::<f64>(&big, cols);
        match (small, tiled) {
            (Ok(s), Ok(t)) => {
                assert_eq!((t.rows, t.cols), (s.rows * copies, s.cols));
                for (i, row) in t.data.chunks(s.data.len().max(1)).enumerate() {
                    assert!(
                        row.iter()
                            .zip(&s.data)
                            .all(|(a, b)| nan_canonical_f64(*a) == nan_canonical_f64(*b)),
                        "copy {i} differs"
                    );
                }
            }
            (Err(s), Err(t)) => {
                assert_eq!(
                    matrix::line_number(&big, t.offset),
                    matrix::line_number(&unit, s.offset),
                    "{} vs {}",
                    t.what,
                    s.what
                );
                assert_eq!(t.what, s.what);
            }
            (s, t) => panic!(
                "small text gives {:?}, tiled gives {:?}",
                s.map(|m| m.rows),
                t.map(|m| m.rows)
            ),
        }
    })
    .expect("thread pool");
}

// ---------------------------------------------------------------------------------------
// UCI trees
// ---------------------------------------------------------------------------------------

/// A folder under /dev/shm (or the temp dir), removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(what: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("bilm-fuzz-{what}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The 11 files of a split, in the order the fuzz input fills them: labels, subjects, then
/// the 9 signal channels. `None` leaves the file out.
pub type TreeFiles = [Option<Vec<u8>>; 11];

fn split_paths(root: &Path, split: &str) -> Vec<PathBuf> {
    let dir = root.join(split);
    let signals = dir.join("Inertial Signals");
    let mut paths = vec![
        dir.join(format!("y_{split}.txt")),
        dir.join(format!("subject_{split}.txt")),
    ];
    paths.extend(
        uci::CHANNELS
            .iter()
            .map(|c| signals.join(format!("{c}_{split}.txt"))),
    );
    paths
}

/// A tiny deterministic generator for the "valid tree" mode.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// `mantissa` (8 digits) as UCI writes a number, `d.ddddddde±ddd`, unpadded.
pub fn uci_number(mantissa: u64, exponent: i64, negative: bool) -> String {
    format!(
        "{}{}.{:07}e{}{:03}",
        if negative { "-" } else { "" },
        mantissa / 10_000_000,
        mantissa % 10_000_000,
        if exponent < 0 { '-' } else { '+' },
        exponent.unsigned_abs()
    )
}

/// A valid split of `n` windows in the exact UCI format, values derived from `seed`.
pub fn valid_tree(n: usize, seed: u64, crlf: bool) -> TreeFiles {
    let mut rng = Lcg(seed ^ 0x9E37_79B9_7F4A_7C15);
    let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut files: TreeFiles = Default::default();
    let mut labels = Vec::new();
    let mut subjects = Vec::new();
    for _ in 0..n {
        labels.extend_from_slice(format!("{}", 1 + rng.next() % 6).as_bytes());
        labels.push(b'\n');
        subjects.extend_from_slice(format!("{}", 1 + rng.next() % 30).as_bytes());
        subjects.push(b'\n');
    }
    files[0] = Some(labels);
    files[1] = Some(subjects);
    for slot in files.iter_mut().skip(2) {
        let mut text = Vec::with_capacity(n * (16 * uci::STEPS + 2));
        for _ in 0..n {
            for _ in 0..uci::STEPS {
                let mantissa = rng.next() % 100_000_000;
                let exponent = (rng.next() % 45) as i64 - 16; // some outside the fast path
                let negative = rng.next() % 2 == 0;
                let number = uci_number(mantissa, exponent, negative);
                text.extend_from_slice(format!("{number:>16}").as_bytes());
            }
            text.extend_from_slice(end);
        }
        *slot = Some(text);
    }
    files
}

/// Fuzz input to a split: byte 0 picks the mode.
/// * even: "raw": the rest, cut at 0xFF bytes, fills the files in order; files past the
///   last piece are missing.
/// * odd: a valid tree of `1 + (byte 1 % 4)` windows (seeded by bytes 2..10), then edits of
///   4 bytes each: file, operation, position (2 bytes, scaled to the file).
pub fn tree_from_bytes(data: &[u8]) -> TreeFiles {
    let Some((&mode, rest)) = data.split_first() else {
        return Default::default();
    };
    if mode & 1 == 0 {
        let mut files: TreeFiles = Default::default();
        for (slot, piece) in files.iter_mut().zip(rest.split(|&b| b == 0xFF)) {
            *slot = Some(piece.to_vec());
        }
        return files;
    }
    let n = 1 + usize::from(rest.first().copied().unwrap_or(0) % 4);
    let mut seed = [0u8; 8];
    for (s, b) in seed.iter_mut().zip(rest.iter().skip(1)) {
        *s = *b;
    }
    let mut files = valid_tree(n, u64::from_le_bytes(seed), mode & 2 != 0);
    // Edits may grow a file (duplicating its only "line" doubles it): stop growing past this.
    const MAX_FILE: usize = 64 << 10;
    for edit in rest.get(9..).unwrap_or_default().chunks_exact(4) {
        let file = usize::from(edit[0]) % files.len();
        let op = edit[1];
        let Some(text) = files[file].as_mut() else {
            continue;
        };
        let at = (usize::from(u16::from_le_bytes([edit[2], edit[3]])) * (text.len() + 1)) >> 16;
        // The byte written/inserted: a few meaningful ones, or the op's upper bits raw.
        let byte = match op >> 3 {
            0 => b' ',
            1 => b'\n',
            2 => b'\r',
            3 => b'#',
            4 => b'-',
            5 => b'e',
            6 => b'.',
            7 => b'0' + (edit[2] % 10),
            8 => b'\t',
            9 => 0,
            10 => b'+',
            11 => b'n',
            12 => b'i',
            _ => edit[3],
        };
        match op & 0x07 {
            0 | 1 => {
                if at < text.len() {
                    text[at] = byte;
                }
            }
            2 | 3 if text.len() < MAX_FILE => text.insert(at.min(text.len()), byte),
            2 | 3 => {}
            4 => {
                if at < text.len() {
                    text.remove(at);
                }
            }
            5 => text.truncate(at),
            6 => {
                // Duplicate or drop the line around `at`.
                let start = text[..at.min(text.len())]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = text[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(text.len(), |i| start + i + 1);
                if op & 0x80 != 0 {
                    text.drain(start..end);
                } else if text.len() + (end - start) <= MAX_FILE {
                    let line = text[start..end].to_vec();
                    text.splice(start..start, line);
                }
            }
            _ => {
                if op & 0x80 != 0 {
                    files[file] = None; // delete the file
                }
            }
        }
    }
    files
}

/// What the reference expects from loading a split.
#[derive(Debug, PartialEq)]
pub enum RefOutcome {
    Ok {
        n: usize,
        x: Vec<f64>,
        y: Vec<i64>,
        subject: Vec<i64>,
    },
    NotFound(PathBuf),
    Parse(PathBuf, usize),
    Shape,
}

/// A one-column file of whole numbers (labels or subjects).
fn ref_whole(
    path: &Path,
    text: &[u8],
    valid: impl Fn(f64) -> bool,
) -> Result<Vec<i64>, RefOutcome> {
    let m = ref_matrix(text, Some(1)).map_err(|line| RefOutcome::Parse(path.into(), line))?;
    m.data
        .iter()
        .zip(&m.row_lines)
        .map(|(&v, &line)| {
            if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 && valid(v) {
                Ok(v as i64)
            } else {
                Err(RefOutcome::Parse(path.into(), line))
            }
        })
        .collect()
}

/// The reference loader: same files, same order of checks as documented for `uci::load`
/// (labels, then subjects, then their row counts, then the channels in order; for each
/// channel: empty file, then its row count, then its content).
pub fn ref_load(paths: &[PathBuf], files: &TreeFiles) -> RefOutcome {
    let missing = |i: usize| RefOutcome::NotFound(paths[i].clone());
    let labels = files[0].as_deref().ok_or_else(|| missing(0));
    let subjects = files[1].as_deref().ok_or_else(|| missing(1));
    let y = labels.and_then(|t| ref_whole(&paths[0], t, |v| (1.0..=6.0).contains(&v)));
    let subject = subjects.and_then(|t| ref_whole(&paths[1], t, |_| true));
    let (y, subject) = match (y, subject) {
        (Err(e), _) | (Ok(_), Err(e)) => return e,
        (Ok(y), Ok(s)) => (y, s),
    };
    let n = y.len();
    if subject.len() != n {
        return RefOutcome::Shape;
    }
    let mut x = vec![0.0; n * 9 * uci::STEPS];
    for c in 0..9 {
        let path = &paths[2 + c];
        let Some(text) = files[2 + c].as_deref() else {
            return missing(2 + c);
        };
        let rows = ref_data_rows(text);
        if rows == 0 {
            return RefOutcome::Parse(path.clone(), 1);
        }
        if rows != n {
            return RefOutcome::Shape;
        }
        match ref_matrix(text, Some(uci::STEPS)) {
            Err(line) => return RefOutcome::Parse(path.clone(), line),
            Ok(m) => {
                for (r, row) in m.data.chunks(uci::STEPS).enumerate() {
                    let at = (r * 9 + c) * uci::STEPS;
                    x[at..at + uci::STEPS].copy_from_slice(row);
                }
            }
        }
    }
    RefOutcome::Ok {
        n,
        x,
        y: y.into_iter().map(|v| v - 1).collect(),
        subject,
    }
}

fn outcome_of<T: Sample>(
    result: Result<uci::Split<T>, Error>,
    to_f64: impl Fn(T) -> f64,
) -> RefOutcome {
    match result {
        Ok(s) => {
            assert_eq!(s.x.len(), s.y.len() * 9 * uci::STEPS);
            assert_eq!(s.subject.len(), s.y.len());
            RefOutcome::Ok {
                n: s.y.len(),
                x: s.x.into_iter().map(to_f64).collect(),
                y: s.y,
                subject: s.subject,
            }
        }
        Err(Error::NotFound { path }) => RefOutcome::NotFound(path),
        Err(Error::Parse { path, line, what }) => {
            assert!(!what.is_empty());
            RefOutcome::Parse(path, line)
        }
        Err(Error::Shape(message)) => {
            assert!(message.contains(" rows but "), "{message}");
            RefOutcome::Shape
        }
        Err(other) => panic!("unexpected error kind: {other:?}"),
    }
}

/// Values compare by bits, with every NaN equal to every NaN.
fn same_outcome(got: &RefOutcome, want: &RefOutcome) -> bool {
    match (got, want) {
        (
            RefOutcome::Ok { n, x, y, subject },
            RefOutcome::Ok {
                n: n2,
                x: x2,
                y: y2,
                subject: s2,
            },
        ) => {
            n == n2
                && y == y2
                && subject == s2
                && x.len() == x2.len()
                && x.iter()
                    .zip(x2)
                    .all(|(a, b)| nan_canonical_f64(*a) == nan_canonical_f64(*b))
        }
        _ => got == want,
    }
}

/// Write the split described by `data` under a scratch root, load it with `uci::load` as
/// float32 and float64 on a 2-thread pool, and compare with [`ref_load`].
pub fn check_uci_tree(data: &[u8]) {
    let files = tree_from_bytes(data);
    let dir = ScratchDir::new("uci");
    let root = dir.path().join("UCI HAR Dataset");
    let split = "train";
    let paths = split_paths(&root, split);
    for (path, text) in paths.iter().zip(&files) {
        if let Some(text) = text {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    }
    let want = ref_load(&paths, &files);
    let two = NonZeroUsize::new(2);
    let got64 = threads::run(two, || uci::load::<f64>(&root, split)).expect("pool");
    let got64 = outcome_of(got64, |v| v);
    assert!(
        same_outcome(&got64, &want),
        "float64 load: got {}, want {}",
        brief(&got64),
        brief(&want)
    );
    let got32 = threads::run(two, || uci::load::<f32>(&root, split)).expect("pool");
    let got32 = outcome_of(got32, f64::from);
    let want32 = match want {
        RefOutcome::Ok { n, x, y, subject } => RefOutcome::Ok {
            n,
            x: x.into_iter().map(|v| f64::from(v as f32)).collect(),
            y,
            subject,
        },
        other => other,
    };
    assert!(
        same_outcome(&got32, &want32),
        "float32 load: got {}, want {}",
        brief(&got32),
        brief(&want32)
    );
}

fn brief(o: &RefOutcome) -> String {
    match o {
        RefOutcome::Ok { n, .. } => format!("Ok(n={n})"),
        other => format!("{other:?}"),
    }
}
