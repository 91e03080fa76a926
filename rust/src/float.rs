//! Number parsing that agrees bit for bit with `np.loadtxt` (i.e. Python's `float()`).
//!
//! Two tiers:
//! * The fixed `d.ddddddde±ddd` layout every UCI HAR number has ([`fixed_prefix`],
//!   [`uci_field`] for a whole 16-byte field, [`uci_row`] for a row of them), parsed by
//!   [`field`]: eight significant digits fit an integer `m` exactly, and for `|exp - 7| <= 22`
//!   the power of ten is exact in f64 too, so `m * 10^(exp-7)` (or `m / 10^(7-exp)`) is one
//!   correctly rounded IEEE operation -- Clinger's fast path, exact by construction.
//! * [`parse`]: anything else goes to `str::parse::<f64>`, which is correctly rounded and
//!   accepts the same syntax as Python's `float()` for ASCII input: optional sign, `1e5`,
//!   `.5`, `5.`, `inf`/`infinity`/`nan` in any case, overflow to `inf`, underflow to 0.
//!
//! float32 output is produced by rounding the f64 (see [`Sample`]), which is what
//! `np.loadtxt(path).astype(np.float32)` does; parsing straight to f32 would differ in rare
//! double-rounding cases.
use crate::field;

/// Width of a UCI field: `d.ddddddde±ddd` right-aligned in 16 characters.
pub const FIELD_LEN: usize = field::LEN;

/// Length of the fixed layout without a sign: `d.ddddddde±ddd`.
const FIXED_LEN: usize = 14;

/// Parse one 16-byte UCI field: a blank, then a blank or a sign, then `d.ddddddde±ddd`
/// (`  1.8085150e-004`, ` -1.1474840e-003`) with an exponent of -15..=29 (see [`field`]).
/// Returns `(ok, value)`; the value is garbage when `ok` is false.
#[inline]
pub fn uci_field(bytes: &[u8; FIELD_LEN]) -> (bool, f64) {
    let mut checks = field::Checks::default();
    let value = field::parse(bytes, &mut checks);
    (checks.ok(), value)
}

/// Parse `out.len()` consecutive UCI fields (see [`uci_field`]) from the start of `bytes`
/// into `out`. Returns false, leaving garbage in `out`, if `bytes` is too short or any field
/// is not in that layout; the caller then parses the row some other way.
#[inline]
pub fn uci_row<T: Sample>(bytes: &[u8], out: &mut [T]) -> bool {
    bytes
        .get(..FIELD_LEN * out.len())
        .is_some_and(|fields| field::parse_row(fields, out))
}

/// Parse the fixed `[±]d.ddddddde±ddd` layout at the start of `bytes`.
///
/// Returns the value and the number of bytes it spans, or `None` when the bytes do not have
/// that exact layout or the exponent is outside the exact fast-path range. The caller must
/// check that the number ends there (the next byte is a delimiter).
#[inline]
pub fn fixed_prefix(bytes: &[u8]) -> Option<(f64, usize)> {
    let first = *bytes.first()?;
    let sign_len = usize::from(first == b'-' || first == b'+');
    let body = bytes.get(sign_len..sign_len + FIXED_LEN)?;
    // As a UCI field, so that there is one source of truth for the value.
    let mut padded = [b' '; FIELD_LEN];
    padded[FIELD_LEN - FIXED_LEN - 1] = if sign_len == 1 { first } else { b' ' };
    padded[FIELD_LEN - FIXED_LEN..].copy_from_slice(body);
    let (ok, value) = uci_field(&padded);
    ok.then_some((value, sign_len + FIXED_LEN))
}

/// Parse one whole token (no surrounding blanks) the way Python's `float()` does.
#[inline]
pub fn parse(token: &[u8]) -> Option<f64> {
    match fixed_prefix(token) {
        Some((value, len)) if len == token.len() => Some(value),
        _ => parse_general(token),
    }
}

/// [`parse`] without the fixed-layout fast path, for a token known not to take it.
#[inline]
pub fn parse_general(token: &[u8]) -> Option<f64> {
    std::str::from_utf8(token).ok()?.parse().ok()
}

/// Output element type: the value is always parsed to f64 first, then rounded.
pub trait Sample: Copy + Default + Send + Sync + 'static {
    fn from_f64(value: f64) -> Self;
}

impl Sample for f64 {
    #[inline]
    fn from_f64(value: f64) -> Self {
        value
    }
}

impl Sample for f32 {
    #[inline]
    fn from_f64(value: f64) -> Self {
        // Round-to-nearest-even, like numpy's astype(np.float32).
        value as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn std_parse(token: &str) -> Option<f64> {
        token.parse().ok()
    }

    /// Format like the UCI files (and C's `%.7e` with a 3-digit exponent): `1.8085150e-004`.
    fn uci_format(value: f64) -> String {
        let s = format!("{value:.7e}");
        let (mantissa, exponent) = s.split_once('e').unwrap();
        let exponent: i32 = exponent.parse().unwrap();
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:03}", exponent.unsigned_abs())
    }

    #[test]
    fn fixed_layout_values() {
        assert_eq!(fixed_prefix(b"1.8085150e-004"), Some((1.808515e-4, 14)));
        assert_eq!(fixed_prefix(b"-1.1474840e-003 "), Some((-1.147484e-3, 15)));
        assert_eq!(fixed_prefix(b"+9.9999999E+029"), Some((9.9999999e29, 15)));
        let (zero, _) = fixed_prefix(b"-0.0000000e+000").unwrap();
        assert_eq!(zero.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn fixed_layout_rejects_near_misses() {
        for token in [
            &b"1.808515e-004"[..], // seven digits
            b"1,8085150e-004",
            b"1.8085150d-004",
            b"1.8085150e*004",
            b"1.80851a0e-004",
            b"1.8085150e-0a4",
            b"1.8085150e+030", // power 23: not exact any more, left to the general parser
            b"1.8085150e-016",
            b"--1.8085150e-004",
        ] {
            assert_eq!(
                fixed_prefix(token),
                None,
                "{}",
                String::from_utf8_lossy(token)
            );
        }
    }

    #[test]
    fn general_syntax_matches_python_float() {
        for (token, expected) in [
            ("+1.0", 1.0),
            ("1e5", 1e5),
            (".5", 0.5),
            ("5.", 5.0),
            ("-Infinity", f64::NEG_INFINITY),
            ("inf", f64::INFINITY),
            ("1e400", f64::INFINITY),
            ("1e-400", 0.0),
            ("1.8085150e-016", 1.808515e-16),
        ] {
            assert_eq!(parse(token.as_bytes()), Some(expected), "{token}");
        }
        assert!(parse(b"NaN").unwrap().is_nan());
        for bad in [
            "", "1_0", "0x10", "1e", "e5", "1.0e+", "1d5", "nan(1)", ".", "+-1", "1 2",
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn uci_layout_agrees_with_std(bits in any::<u64>()) {
            let value = f64::from_bits(bits);
            prop_assume!(value.is_finite());
            let token = uci_format(value);
            let expected = std_parse(&token).unwrap();
            prop_assert_eq!(parse(token.as_bytes()).map(f64::to_bits), Some(expected.to_bits()));
            prop_assert_eq!(
                parse(token.as_bytes()).map(|v| f32::from_f64(v).to_bits()),
                Some((expected as f32).to_bits())
            );
        }

        #[test]
        fn uci_layout_in_data_range_takes_fast_path(m in 0u32..100_000_000, e in -15i32..=29, neg: bool) {
            let token = format!(
                "{}{}.{:07}e{}{:03}", if neg { "-" } else { "" }, m / 10_000_000, m % 10_000_000,
                if e < 0 { '-' } else { '+' }, e.unsigned_abs()
            );
            let fast = fixed_prefix(token.as_bytes()).map(|(v, _)| v.to_bits());
            prop_assert_eq!(fast, std_parse(&token).map(f64::to_bits));
        }

        #[test]
        fn uci_fields_agree_with_std(bits in any::<u64>(), plus: bool) {
            let value = f64::from_bits(bits);
            prop_assume!(value.is_finite());
            let token = uci_format(value);
            let token = if plus && value.is_sign_positive() { format!("+{token}") } else { token };
            let field: [u8; FIELD_LEN] = format!("{token:>16}").into_bytes().try_into().unwrap();
            let expected = std_parse(&token).map(f64::to_bits);
            match uci_field(&field) {
                (true, v) => prop_assert_eq!(Some(v.to_bits()), expected),
                // Only exponents outside the exact range may decline.
                (false, _) => prop_assert!(!(-15..=29).contains(&token[token.len() - 4..].parse::<i32>().unwrap())),
            }
        }

        #[test]
        fn decimal_tokens_agree_with_std(token in "[+-]?[0-9]{0,12}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,4})?") {
            prop_assert_eq!(parse(token.as_bytes()).map(f64::to_bits), std_parse(&token).map(f64::to_bits));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let expected = std::str::from_utf8(&bytes).ok().and_then(std_parse);
            prop_assert_eq!(parse(&bytes).map(f64::to_bits), expected.map(f64::to_bits));
        }
    }
}
