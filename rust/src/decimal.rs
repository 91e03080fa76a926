//! Fast, exact parsing of the decimal numbers of delimited text: every value has the bits of
//! Python's `float()` (and so of `np.loadtxt`), like [`crate::float::parse`], which is the
//! reference the tests hold these to.
//!
//! Three tiers, each declining what it cannot do exactly and leaving it to the next:
//! * [`quick_token`]: the usual `[+-]digits[.digits]` token, found, checked and converted
//!   with one look at the next 32 bytes (SSE2 on x86_64) and no branch on its bytes;
//! * [`decimal_prefix`]: any decimal of up to 19 digits with an exponent, a word (eight
//!   digits) at a time;
//! * [`token`]: anything else through the general parser ([`float::parse_general`]).
//!
//! Both fast tiers round exactly: by Clinger's fast path (an integer up to 2^53 and a power of
//! ten up to 10^22 are exact in f64, so one multiplication or division rounds correctly), or,
//! for larger integers divided by up to 10^27, by the Eisel-Lemire algorithm ([`div_pow10`]),
//! which is exact without a fallback for these powers.
use crate::float;

/// Exact powers of ten in f64: 10^22 is the last one (5^22 < 2^53). Padded to 32 entries
/// (with powers that are not exact, never used) so that an index masked with 31 needs no
/// bounds check.
pub(crate) const POW10: [f64; 32] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
];

/// `10^k` as u64 for `k` in 0..=19, padded like [`POW10`].
pub(crate) const POW10_INT: [u64; 32] = {
    let mut table = [1u64; 32];
    let mut k = 1;
    while k < 20 {
        table[k] = table[k - 1] * 10;
        k += 1;
    }
    table
};

/// Every byte of a word set to 1.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The eight bytes from `i` as a little-endian word (the first byte lowest), if there are.
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let eight: [u8; 8] = bytes.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(eight))
}

/// How many of the first bytes of `word` are ASCII digits (0..=8), without a branch per byte:
/// a byte is a digit iff its high nibble is 3 and stays 3 when 6 is added. A byte from 0xFA up
/// carries into the next one, but it is not a digit, so only bytes after the count change.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    let high = (word & (0xF0 * ONES)) ^ (0x30 * ONES);
    let low = (word.wrapping_add(0x06 * ONES) & (0xF0 * ONES)) ^ (0x30 * ONES);
    ((high | low).trailing_zeros() / 8) as usize
}

/// The value of the first `n` (0..=8) bytes of `word`, which are digits: the bytes after
/// them are shifted out and zeros shifted in before them.
#[inline(always)]
pub(crate) fn digits_value(word: u64, n: usize) -> u64 {
    (word & (0x0F * ONES))
        .checked_shl(8 * (8 - n as u32))
        .map_or(0, eight_digits)
}

/// Append the digits at `bytes[i..]` to `mantissa` (wrapping past 19 digits, which the caller
/// declines). Returns where they end and how many there were.
#[inline(always)]
fn eat_digits(bytes: &[u8], mut i: usize, mantissa: &mut u64) -> (usize, usize) {
    let start = i;
    while let Some(word) = word_at(bytes, i) {
        let n = leading_digits(word);
        *mantissa = mantissa
            .wrapping_mul(POW10_INT[n])
            .wrapping_add(digits_value(word, n));
        i += n;
        if n < 8 {
            return (i, i - start);
        }
    }
    // The last bytes of the text: one at a time.
    while let Some(d) = bytes
        .get(i)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|&d| d < 10)
    {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (i, i - start)
}

/// Approximations of 5^-k from above for `k` in 1..=27 (index 0 unused), as the high and low
/// words of `floor(2^(127 + z) / 5^k) + 1`, with `z` the bit length of 5^k: a 128-bit number
/// with its top bit set. This is the Eisel-Lemire table for these powers.
const FIFTHS: [(u64, u64); 28] = {
    let mut table = [(0, 0); 28];
    let mut k = 1;
    while k < table.len() {
        let five = 5u128.pow(k as u32);
        // 2^top with top = z + 127, divided by 5^k a bit at a time; the quotient fits 128 bits.
        let top = 128 + 127 - five.leading_zeros();
        let (mut quotient, mut rest) = (0u128, 0u128);
        let mut bit = top as i32;
        while bit >= 0 {
            rest = rest << 1 | (bit == top as i32) as u128;
            quotient <<= 1;
            if rest >= five {
                rest -= five;
                quotient |= 1;
            }
            bit -= 1;
        }
        let c = quotient + 1;
        table[k] = ((c >> 64) as u64, c as u64);
        k += 1;
    }
    table
};

/// `m / 10^k` correctly rounded to f64, for `m >= 1` and `k` in 1..=27, by the Eisel-Lemire
/// algorithm: the normalised `m` times the 128-bit [`FIFTHS`] entry (one multiplication, a
/// second one when the first leaves the rounding open) gives the top bits of the quotient,
/// and for these powers (within -27..=55) the result is always exact, ties to even included,
/// so no fallback is needed. The tests check it against `str::parse` on random numbers and on
/// exact ties and their neighbours.
#[inline]
fn div_pow10(m: u64, k: usize) -> Option<f64> {
    if m == 0 || !(1..=27).contains(&k) {
        return None;
    }
    let zeros = m.leading_zeros();
    let w = m << zeros;
    let (high5, low5) = FIFTHS[k];
    let product = u128::from(w) * u128::from(high5);
    let (mut low, mut high) = (product as u64, (product >> 64) as u64);
    // 55 bits are kept: 52 stored, the hidden one, one to round and one for a leading zero.
    const KEPT: u64 = u64::MAX >> 55;
    if high & KEPT == KEPT {
        let second = ((u128::from(w) * u128::from(low5)) >> 64) as u64;
        low = low.wrapping_add(second);
        high += u64::from(second > low);
    }
    let upper = (high >> 63) as u32;
    let mut mantissa = high >> (upper + 9);
    let q = -(k as i64);
    // floor(q * log2(10)) + 63, then the f64 exponent bias
    let mut power =
        (((152_170 + 65_536) * q) >> 16) + 63 + i64::from(upper) - i64::from(zeros) + 1023;
    // An exact tie (only possible for k <= 4): round to even, not up.
    if low <= 1 && k <= 4 && mantissa & 3 == 1 && mantissa << (upper + 9) == high {
        mantissa &= !1;
    }
    mantissa += mantissa & 1;
    mantissa >>= 1;
    if mantissa >= 2 << 52 {
        mantissa = 1 << 52;
        power += 1;
    }
    let bits = (mantissa & !(1 << 52)) | (power as u64) << 52;
    Some(f64::from_bits(bits))
}

/// `value` with the sign bit set if `negative`. Not `if negative { -value }`: the signs of a
/// column of numbers follow no pattern, and a branch on them is mispredicted half the time.
#[inline(always)]
pub(crate) fn signed(value: f64, negative: bool) -> f64 {
    f64::from_bits(value.to_bits() | u64::from(negative) << 63)
}

/// 2^52: from it up, the spacing of f64 values is 1.
const TWO_52: f64 = 4_503_599_627_370_496.0;

/// `m` (below 2^52) as f64. Not `m as f64`: x86's conversion writes only half of its
/// register, so it waits for the last division that wrote there, and the conversions of a
/// row's fields would run one after the other. Below 2^52, `m` is exact as the low bits of
/// 2^52 + m.
#[inline(always)]
pub(crate) fn exact_f64(m: u64) -> f64 {
    f64::from_bits(TWO_52.to_bits() | m) - TWO_52
}

/// `m / 10^k` correctly rounded, for `k` up to 27: Clinger's fast path where it is exact (see
/// [`decimal_prefix`]), else the conversion (`k` = 0) or [`div_pow10`].
#[inline(always)]
pub(crate) fn exact_quotient(m: u64, k: usize) -> Option<f64> {
    if m < 1 << 52 && k <= 22 {
        Some(exact_f64(m) / POW10[k & 31])
    } else if k == 0 {
        Some(m as f64)
    } else {
        div_pow10(m, k)
    }
}

/// The decimal number at the start of `bytes`, `[+-]digits[.digits][(e|E)[+-]digits]` with
/// at most 19 digits, and the bytes it spans, when it can be rounded exactly without the
/// general parser:
/// * Clinger's fast path: the digits as an integer `m <= 2^53` and a power `p` in -22..=22
///   are both exact in f64, so `m * 10^p` (or `m / 10^-p`) is one correctly rounded operation;
/// * a larger `m` with `p` = 0 (the conversion rounds correctly), or `p` in -27..0
///   ([`div_pow10`]).
///
/// `None` for anything else (more digits, other powers, no digits, `inf`, `nan`); the caller
/// then asks the general parser. The caller also checks that the number ends where this stops.
#[inline]
pub(crate) fn decimal_prefix(bytes: &[u8]) -> Option<(f64, usize)> {
    let negative = bytes.first() == Some(&b'-');
    let mut mantissa = 0u64;
    let sign = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let (mut i, mut digits) = eat_digits(bytes, sign, &mut mantissa);
    let mut power = 0i64;
    if bytes.get(i) == Some(&b'.') {
        let (end, fraction) = eat_digits(bytes, i + 1, &mut mantissa);
        (i, digits, power) = (end, digits + fraction, -(fraction as i64));
    }
    if digits == 0 || digits > 19 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exponent = bytes.get(i) == Some(&b'-');
        i += usize::from(matches!(bytes.get(i), Some(b'-' | b'+')));
        let first = i;
        let mut exponent = 0i64;
        while let Some(d) = bytes
            .get(i)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|&d| d < 10)
        {
            // Capped: any exponent this large is declined anyway.
            exponent = (exponent * 10 + i64::from(d)).min(1 << 20);
            i += 1;
        }
        if i == first {
            return None;
        }
        power += if negative_exponent {
            -exponent
        } else {
            exponent
        };
    }
    let value = if mantissa <= 1 << 53 && power.abs() <= 22 {
        let (m, ten) = (mantissa as f64, POW10[power.unsigned_abs() as usize]);
        if power < 0 {
            m / ten
        } else {
            m * ten
        }
    } else if power == 0 {
        mantissa as f64
    } else if power < 0 {
        div_pow10(mantissa, power.unsigned_abs() as usize)?
    } else {
        return None;
    };
    Some((signed(value, negative), i))
}

/// The value of the token `text[start..end]`: by [`decimal_prefix`] (which reads on from
/// `start` and must stop at `end`), else by the general parser.
#[inline(always)]
pub(crate) fn token(text: &[u8], start: usize, end: usize) -> Option<f64> {
    match decimal_prefix(&text[start..]) {
        Some((value, len)) if start + len == end => Some(value),
        _ => float::parse_general(text.get(start..end)?),
    }
}

/// The value of eight digit values (0..=9, one a byte, the most significant lowest), by
/// combining them in pairs, fours and eights with three multiplications.
#[inline(always)]
pub(crate) fn eight_digits(digits: u64) -> u64 {
    let pairs = (digits.wrapping_mul(10 << 8 | 1) >> 8) & 0x00FF_00FF_00FF_00FF;
    let fours = (pairs.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_FFFF_0000_FFFF;
    fours.wrapping_mul(10_000 << 32 | 1) >> 32
}

/// Bytes [`quick_token`] looks at: the token and its digits are within them.
const WINDOW: usize = 64;

/// The value of the token at `pos` and where it ends (its first byte that [`is_stop`]), when
/// it is the usual `[+-]digits[.digits]` with at most 8 digits before the dot, 24 after it
/// and 19 from the first that is not a zero. One look at the next 32 bytes gives where the
/// token ends, where its digits are and where its dot is, so that it is checked whole and
/// converted with no branch on its bytes, and the next field's start does not wait for the
/// conversion. The rounding is that of [`decimal_prefix`]. `None` for anything else, and
/// within [`WINDOW`] bytes of the end of the text; the caller then takes the slower ways.
#[inline(always)]
pub(crate) fn quick_token(text: &[u8], pos: usize, delimiter: u8) -> Option<(f64, usize)> {
    let window: &[u8; WINDOW] = text.get(pos..pos.checked_add(WINDOW)?)?.try_into().ok()?;
    let masks = simd::masks(window, delimiter);
    let len = masks.stops.trailing_zeros() as usize;
    if len >= 32 {
        return None;
    }
    let ones = |n: usize| (1u32 << n) - 1; // n < 32 here
    let negative = window[0] == b'-';
    let sign = usize::from(negative || window[0] == b'+');
    let body = ones(len) & !ones(sign);
    // The first dot, or the end of the token; the sign is not in `body`, so `dot >= sign`.
    let dot = ((masks.dots & body) | 1 << len).trailing_zeros() as usize;
    let whole = dot - sign;
    let fraction = len.saturating_sub(dot + 1);
    let plain = (masks.digits | 1 << dot) & body == body;
    if !plain || whole > 8 || fraction > 24 || whole + fraction == 0 {
        return None;
    }
    if whole + fraction > 19 {
        // Rare: leading zeros do not count (0.0050880000000000005 has 17 significant digits),
        // and then the digits, read as one number, fit 64 bits.
        let zeros = window[sign..len]
            .iter()
            .take_while(|&&b| b == b'0' || b == b'.')
            .filter(|&&b| b == b'0')
            .count();
        if whole + fraction - zeros > 19 {
            return None;
        }
    }
    let int = digits_value(window_word(window, sign), whole);
    let value = if fraction == 0 {
        int as f64 // at most 8 digits: exact
    } else {
        // With more than 19 digits `int` is 0, so the padding of POW10_INT does not matter.
        let mantissa = int * POW10_INT[fraction & 31] + window_digits(window, dot + 1, fraction);
        exact_quotient(mantissa, fraction)?
    };
    Some((signed(value, negative), pos + len))
}

/// The eight bytes of `window` from `i` (at most `WINDOW - 8`) as a little-endian word.
#[inline(always)]
fn window_word(window: &[u8; WINDOW], i: usize) -> u64 {
    let i = i.min(WINDOW - 8);
    let mut word = [0; 8];
    word.copy_from_slice(&window[i..i + 8]);
    u64::from_le_bytes(word)
}

/// The value of the `n` (at most 24) digits of `window` from `i` (below 32), if it fits 64
/// bits (the caller makes sure).
#[inline(always)]
fn window_digits(window: &[u8; WINDOW], i: usize, n: usize) -> u64 {
    let first = window_word(window, i);
    if n <= 8 {
        return digits_value(first, n);
    }
    // Up to 16 more in two words, without a branch on how many. Each partial sum is a prefix
    // of the digits, so none overflows when the whole does not.
    let (n2, n3) = ((n - 8).min(8), n.saturating_sub(16));
    let high = eight_digits(first & (0x0F * ONES)) * POW10_INT[n2];
    (high + digits_value(window_word(window, i + 8), n2)) * POW10_INT[n3]
        + digits_value(window_word(window, i + 16), n3)
}

/// Whether `b` may end a token: `delimiter`, `#`, or any byte below `!` or from 0x80 up
/// (blanks, line breaks, control bytes, non-ASCII). A superset of the bytes that end a field:
/// the caller looks at the byte found and takes the careful way unless it ends the field.
#[inline(always)]
pub(crate) fn is_stop(b: u8, delimiter: u8) -> bool {
    (b as i8) < 0x21 || b == b'#' || b == delimiter
}

/// The first byte at or after `pos` that [`is_stop`], or the end of the text.
#[inline(always)]
pub(crate) fn find_stop(text: &[u8], pos: usize, delimiter: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    let pos = match sse2::find_stop(text, pos, delimiter) {
        Ok(stop) => return stop,
        Err(rest) => rest,
    };
    text.get(pos..)
        .and_then(|rest| rest.iter().position(|&b| is_stop(b, delimiter)))
        .map_or(text.len(), |i| pos + i)
}

/// Bit masks over the 32 bytes at a position of the text, for [`quick_token`].
struct Masks {
    /// Bytes that [`is_stop`].
    stops: u32,
    digits: u32,
    dots: u32,
}

/// The masks one byte at a time, where there is no SSE2.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::{is_stop, Masks, WINDOW};

    #[inline(always)]
    pub fn masks(window: &[u8; WINDOW], delimiter: u8) -> Masks {
        let mut masks = Masks {
            stops: 0,
            digits: 0,
            dots: 0,
        };
        for (i, &b) in window[..32].iter().enumerate() {
            masks.stops |= u32::from(is_stop(b, delimiter)) << i;
            masks.digits |= u32::from(b.is_ascii_digit()) << i;
            masks.dots |= u32::from(b == b'.') << i;
        }
        masks
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod simd {
    use std::arch::x86_64::*;

    use super::{Masks, WINDOW};

    /// The stop, digit and dot masks of 16 bytes, bit `i` for byte `i`: the one place that
    /// says in SSE2 (part of x86_64) which bytes are which; [`crate::block`] shares it.
    #[inline(always)]
    pub(crate) fn classify(x: __m128i, delimiter: u8) -> (u32, u32, u32) {
        // SAFETY: SSE2 is part of x86_64; nothing here reads memory.
        unsafe {
            let stops = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(x, _mm_set1_epi8(delimiter as i8)),
                    _mm_cmpeq_epi8(x, _mm_set1_epi8(b'#' as i8)),
                ),
                _mm_cmplt_epi8(x, _mm_set1_epi8(0x21)), // signed: bytes from 0x80 up too
            );
            // Digits: `x - '0'` below 10 unsigned, which is `x - '0' - 128` below -118 signed.
            let shifted = _mm_xor_si128(_mm_sub_epi8(x, _mm_set1_epi8(b'0' as i8)), _mm_set1_epi8(i8::MIN));
            let digits = _mm_cmplt_epi8(shifted, _mm_set1_epi8(i8::MIN + 10));
            let dots = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'.' as i8));
            let mask = |m: __m128i| _mm_movemask_epi8(m) as u32;
            (mask(stops), mask(digits), mask(dots))
        }
    }

    /// The masks of the first 32 bytes of `window`, 16 at a time.
    #[inline(always)]
    pub(super) fn masks(window: &[u8; WINDOW], delimiter: u8) -> Masks {
        let bytes = window.as_ptr();
        // SAFETY: the loads read the first 32 bytes of `window`.
        let (low, high) = unsafe { (_mm_loadu_si128(bytes.cast()), _mm_loadu_si128(bytes.add(16).cast())) };
        let (low, high) = (classify(low, delimiter), classify(high, delimiter));
        Masks {
            stops: low.0 | high.0 << 16,
            digits: low.1 | high.1 << 16,
            dots: low.2 | high.2 << 16,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::*;

    use super::simd::classify;

    /// [`super::find_stop`] 16 bytes at a time (SSE2 is part of x86_64): the stop, or where
    /// fewer than 16 bytes are left, to be searched the portable way.
    #[inline(always)]
    pub fn find_stop(text: &[u8], mut pos: usize, delimiter: u8) -> Result<usize, usize> {
        while pos + 16 <= text.len() {
            // SAFETY: the load reads 16 bytes inside `text`.
            let x = unsafe { _mm_loadu_si128(text.as_ptr().add(pos).cast()) };
            let (stops, _, _) = classify(x, delimiter); // inlined: the unused masks are optimised away
            if stops != 0 {
                return Ok(pos + stops.trailing_zeros() as usize);
            }
            pos += 16;
        }
        Err(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_prefix_is_exact_or_declines() {
        for (token, len) in [
            ("1.528132", 8),
            ("-0.5,", 4),
            ("+12e-3 ", 6),
            ("5.", 2),
            (".5", 2),
            ("1.e5", 4),
            ("9007199254740992", 16),
            ("1e22", 4),
            ("12345678", 8),
            ("1234567.89012345678", 19),
            ("123E+004x", 8),
            ("9007199254740993", 16),
            ("0.031672000000000006", 20),
            ("-1.0827639999999998,", 19),
            ("9999999999999999999e-19", 23),
            ("1000000000000000001e-19", 23),
            ("-9007199254740993e-1", 20),
            ("9007199254740993e-23", 20),
            ("-2.9999999999999997e-05", 23),
            ("12345678901234567e-27", 21),
            ("1e-23", 5),
            // Ties, to even: 2^53 + 1, 2^53 + 3, 2^52 + 0.5 and 2^52 + 1.5.
            ("9007199254740993.0", 18),
            ("9007199254740995.0", 18),
            ("9007199254740993.00", 19),
            ("4503599627370496.5", 18),
            ("4503599627370497.5", 18),
        ] {
            let (value, got) = decimal_prefix(token.as_bytes()).unwrap();
            assert_eq!(got, len, "{token}");
            let expected: f64 = token[..len].parse().unwrap();
            assert_eq!(value.to_bits(), expected.to_bits(), "{token}");
        }
        assert_eq!(
            decimal_prefix(b"-0").map(|(v, _)| v.to_bits()),
            Some((-0.0f64).to_bits())
        );
        for token in [
            "",
            "+",
            "-",
            ".",
            ".e5",
            "e5",
            "1e",
            "1e+",
            "inf",
            "nan",
            "1e23",
            "12345678901234567890",
            "0.0316720000000000006",
            "9007199254740993e1",
            "9007199254740993e-28",
            "1e99999999999999999999",
        ] {
            assert_eq!(decimal_prefix(token.as_bytes()), None, "{token}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Every number the exact shortcuts take has the bits of the general parser's value.
        #[test]
        fn decimal_prefix_agrees_with_std(
            token in "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?([eE][+-]?[0-9]{1,3})?",
            long in 1u64..,
            k in 1usize..=27,
        ) {
            if let Some((value, len)) = decimal_prefix(token.as_bytes()) {
                prop_assert_eq!(len, token.len());
                prop_assert_eq!(Some(value.to_bits()), token.parse::<f64>().ok().map(f64::to_bits));
            }
            let expected: f64 = format!("{long}e-{k}").parse().unwrap();
            prop_assert_eq!(div_pow10(long, k).map(f64::to_bits), Some(expected.to_bits()));
        }

        /// Exact ties (a quotient halfway between two doubles) exist for k <= 4 only:
        /// `t * 5^k * 2^(k-j) / 10^k = t / 2^j`, with `t` odd and of 54 bits.
        #[test]
        fn div_pow10_rounds_ties_to_even(
            t in (1u64 << 53)..(1 << 54),
            k in 1u32..=4,
            j in 0u32..=4,
            step in -1i64..=1,
        ) {
            let j = j.min(k);
            let tie = (u128::from(t | 1) * 5u128.pow(k)) << (k - j);
            let Some(m) = u64::try_from(tie).ok().and_then(|m| m.checked_add_signed(step)) else {
                return Ok(());
            };
            let expected: f64 = format!("{m}e-{k}").parse().unwrap();
            prop_assert_eq!(div_pow10(m, k as usize).map(f64::to_bits), Some(expected.to_bits()));
        }

        /// [`quick_token`] takes every plain number, stops where the token ends and gives the
        /// general parser's bits, and declines everything else.
        #[test]
        fn quick_token_agrees_with_std(
            token in "[+-]?[0-9]{0,21}(\\.[0-9]{0,21})?([eE][+-]?[0-9]{1,3})?|[+-]?(inf|nan|\\.)|-?0?\\.0{0,20}[0-9]{0,20}",
            end in proptest::sample::select(vec![",", "\n", "\r", "#", " ", "x", "\u{a0}"]),
        ) {
            let text = format!("{token}{end}{}", "5".repeat(WINDOW));
            let got = quick_token(text.as_bytes(), 0, b',');
            let (body, _) = token.split_at(usize::from(token.starts_with(['+', '-'])));
            let body = &token[body.len()..];
            let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
            let digits = format!("{whole}{fraction}");
            let significant = digits.trim_start_matches('0').len();
            let plain = !body.contains(['e', 'E', 'i', 'n'])
                && whole.len() <= 8
                && fraction.len() <= 24
                && !digits.is_empty()
                && significant <= 19
                && end != "x";
            prop_assert_eq!(got.is_some(), plain, "{:?}", text);
            if let Some((value, stop)) = got {
                prop_assert_eq!(stop, token.len());
                prop_assert_eq!(Some(value.to_bits()), token.parse::<f64>().ok().map(f64::to_bits));
            }
        }
    }
}
