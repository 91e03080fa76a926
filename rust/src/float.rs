//! Number parsing that agrees bit for bit with `np.loadtxt` (i.e. Python's `float()`).
//!
//! Two tiers:
//! * The fixed `d.ddddddde±ddd` layout every UCI HAR number has ([`fixed_prefix`], and
//!   [`uci_field`] for a whole 16-byte field). Eight significant digits fit an integer `m`
//!   exactly, and for `|exp - 7| <= 22` the power of ten is exact in f64 too, so
//!   `m * 10^(exp-7)` (or `m / 10^(7-exp)`) is one correctly rounded IEEE operation --
//!   Clinger's fast path, exact by construction.
//! * [`parse`]: anything else goes to `str::parse::<f64>`, which is correctly rounded and
//!   accepts the same syntax as Python's `float()` for ASCII input: optional sign, `1e5`,
//!   `.5`, `5.`, `inf`/`infinity`/`nan` in any case, overflow to `inf`, underflow to 0.
//!
//! float32 output is produced by rounding the f64 (see [`Sample`]), which is what
//! `np.loadtxt(path).astype(np.float32)` does; parsing straight to f32 would differ in rare
//! double-rounding cases.

/// Largest power of ten that is exact in f64 (5^22 < 2^53).
const MAX_EXACT_POWER: usize = 22;

/// `value = m * UP[i] / DOWN[i]` for `i = power + 22`: one of the two factors is 1, the other
/// an exact power of ten, so exactly one rounding happens whatever the sign of `power`.
const UP: [f64; 2 * MAX_EXACT_POWER + 1] = scale_table(true);
const DOWN: [f64; 2 * MAX_EXACT_POWER + 1] = scale_table(false);

const fn scale_table(up: bool) -> [f64; 2 * MAX_EXACT_POWER + 1] {
    let mut table = [1.0; 2 * MAX_EXACT_POWER + 1];
    let mut power = 1;
    let mut ten_to_power = 1.0;
    while power <= MAX_EXACT_POWER {
        ten_to_power *= 10.0; // exact up to 1e22
        let index = if up {
            MAX_EXACT_POWER + power
        } else {
            MAX_EXACT_POWER - power
        };
        table[index] = ten_to_power;
        power += 1;
    }
    table
}

/// Length of the fixed layout without a sign: `d.ddddddde±ddd`.
const FIXED_LEN: usize = 14;

/// Width of a UCI field: the fixed layout right-aligned in 16 characters.
pub const FIELD_LEN: usize = 16;

/// Parse the fixed `[±]d.ddddddde±ddd` layout at the start of `bytes`.
///
/// Returns the value and the number of bytes it spans, or `None` when the bytes do not have
/// that exact layout or the exponent is outside the exact fast-path range. The caller must
/// check that the number ends there (the next byte is a delimiter).
#[inline]
pub fn fixed_prefix(bytes: &[u8]) -> Option<(f64, usize)> {
    let first = *bytes.first()?;
    let negative = first == b'-';
    let sign_len = usize::from(negative || first == b'+');
    let body = bytes.get(sign_len..sign_len + FIXED_LEN)?.try_into().ok()?;
    let (ok, magnitude) = fixed_body(body);
    ok.then(|| (with_sign(magnitude, negative), sign_len + FIXED_LEN))
}

/// Parse one 16-byte UCI field: a blank, then a blank or a sign, then `d.ddddddde±ddd`
/// (`  1.8085150e-004`, ` -1.1474840e-003`). Returns `(ok, value)`; the value is garbage
/// when `ok` is false.
///
/// Branch-free on purpose: signs vary from value to value, and a mispredicted branch per
/// value costs more than the parsing. A caller checks `ok` once per row and re-parses that
/// row with the general parser if any field was not in this layout.
#[inline(always)]
pub fn uci_field(field: &[u8; FIELD_LEN]) -> (bool, f64) {
    let sign = field[1];
    let body = field[2..].try_into().unwrap_or(&[0; FIXED_LEN]);
    let (ok, magnitude) = fixed_body(body);
    let ok = ok & (field[0] == b' ') & ((sign == b' ') | (sign == b'-') | (sign == b'+'));
    (
        ok,
        f64::from_bits(magnitude.to_bits() | (u64::from(minus_bit(sign)) << 63)),
    )
}

/// 1 for '-', 0 for '+' and ' ' (bit 2 of their codes). Reading a sign with bit operations
/// instead of a comparison keeps the compiler from turning it into a mispredicted branch.
#[inline(always)]
fn minus_bit(sign: u8) -> u8 {
    (sign >> 2) & 1
}

/// `d.ddddddde±ddd` to `(ok, magnitude)`, without branches.
#[inline(always)]
fn fixed_body(t: &[u8; FIXED_LEN]) -> (bool, f64) {
    let exponent_sign = t[10];
    let mut ok = (t[1] == b'.')
        & ((t[9] | 0x20) == b'e')
        & ((exponent_sign == b'+') | (exponent_sign == b'-'));
    // The eight significant digits are t[0] and t[2..9]: load t[1..9] and put t[0] where the
    // '.' was, so the first digit is the lowest byte.
    let mantissa = (u64::from_le_bytes(*first_n(&t[1..])) & !0xFF) | u64::from(t[0]);
    // The three exponent digits t[11..14], first digit in the lowest byte.
    let exponent = u32::from_le_bytes(*first_n(&t[10..])) >> 8;
    ok &= all_digits(mantissa)
        & ((exponent & 0xF0F0F0) == 0x303030)
        & ((exponent + 0x060606) & 0xF0F0F0 == 0x303030);
    let e = exponent.wrapping_sub(0x303030);
    let exponent = ((e & 0xFF) * 100 + ((e >> 8) & 0xFF) * 10 + (e >> 16)) as i32;
    // Two's complement negation by a mask of all ones (for '-') or zeros.
    let negate = -i32::from(minus_bit(exponent_sign));
    let power = ((exponent ^ negate) - negate) - 7;
    let index = power + MAX_EXACT_POWER as i32;
    ok &= (0..=2 * MAX_EXACT_POWER as i32).contains(&index);
    let index = index.clamp(0, 2 * MAX_EXACT_POWER as i32) as usize;
    (
        ok,
        f64::from(digits_value(mantissa)) * UP[index] / DOWN[index],
    )
}

/// The first `N` bytes of a slice known to be long enough.
#[inline(always)]
fn first_n<const N: usize>(bytes: &[u8]) -> &[u8; N] {
    bytes.first_chunk().unwrap_or(&[0; N])
}

/// Setting the sign bit is exact negation (and gives -0.0 for "-0.0000000e+000").
#[inline(always)]
fn with_sign(magnitude: f64, negative: bool) -> f64 {
    f64::from_bits(magnitude.to_bits() | (u64::from(negative) << 63))
}

/// Parse one whole token (no surrounding blanks) the way Python's `float()` does.
#[inline]
pub fn parse(token: &[u8]) -> Option<f64> {
    match fixed_prefix(token) {
        Some((value, len)) if len == token.len() => Some(value),
        _ => std::str::from_utf8(token).ok()?.parse().ok(),
    }
}

const ZEROS: u64 = 0x3030_3030_3030_3030;

/// Whether all eight bytes are ASCII digits: high nibble 3, and adding 6 does not leave it.
/// (A byte with high nibble 3 is at most 0x3F, so the addition cannot carry between bytes.)
#[inline(always)]
fn all_digits(word: u64) -> bool {
    let high = word & 0xF0F0_F0F0_F0F0_F0F0;
    let carried = word.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    (high == ZEROS) & (carried == ZEROS)
}

/// The value of eight ASCII digits packed little-endian (first digit in the lowest byte).
/// SWAR: three multiplies instead of eight steps. Garbage (but no panic) for non-digits.
#[inline(always)]
fn digits_value(word: u64) -> u32 {
    let mut v = word.wrapping_sub(ZEROS);
    v = v.wrapping_mul(10).wrapping_add(v >> 8); // pairs of digits
    let mask = 0x0000_00FF_0000_00FF;
    let mul_hi = 100 + (1_000_000 << 32);
    let mul_lo = 1 + (10_000 << 32);
    v = ((v & mask).wrapping_mul(mul_hi)).wrapping_add(((v >> 16) & mask).wrapping_mul(mul_lo))
        >> 32;
    v as u32
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
