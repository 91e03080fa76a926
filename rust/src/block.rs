//! 64-byte blocks of delimited text as bit masks, and the plain numbers in them, for the fast
//! path of [`crate::delimited`].
//!
//! A [`Block`] classifies its 64 bytes at once (SSE2, or AVX2 where the CPU has it: see
//! [`Isa`]): which may end a token (the delimiter, `#`, and every byte below `!` or from 0x80
//! up, as [`decimal::find_stop`]), which are digits and which are dots. The 5 to 8 fields a
//! block holds share that work, where [`decimal::quick_token`] classifies 32 bytes anew for
//! each field; and a field's end is the lowest of the stops left, so that finding the fields
//! of a row is a short chain of cheap steps which never waits for a conversion.
//!
//! [`Block::number`] converts the usual `[+-]digits[.digits]` field: up to 8 digits with no
//! branch on its bytes (the dot shifted out of the word after the sign, the digits combined
//! by three multiplications), up to 19 significant digits by [`Block::long_number`]. The
//! rounding is that of [`decimal::decimal_prefix`] (Clinger's fast path, else
//! `decimal::div_pow10`); anything else is declined, and the caller takes the slower ways.
use crate::decimal;

/// The bytes a block classifies.
pub(crate) const LEN: usize = 64;

/// The bytes a block holds: its [`LEN`] and what [`Block::number`] may read past a token
/// that ends within them (the sign, 16 bytes from the first digit, one word after them).
const SPAN: usize = 96;

/// Every byte of a word set to 1.
const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;

/// The [`LEN`] bytes of a text from `base`, classified.
pub(crate) struct Block<'t> {
    /// Where the block starts in the text.
    pub base: usize,
    bytes: &'t [u8; SPAN],
    /// Bytes that may end a token, bit `i` for byte `base + i`.
    pub stops: u64,
    digits: u64,
    dots: u64,
}

impl<'t> Block<'t> {
    /// The block of `text` from `base`, with `delimiter` among the stops; `None` within
    /// [`SPAN`] bytes of the end of the text (the caller then takes the slower ways).
    #[inline(always)]
    pub fn at(isa: impl Isa, text: &'t [u8], base: usize, delimiter: u8) -> Option<Self> {
        let bytes: &[u8; SPAN] = text.get(base..base.checked_add(SPAN)?)?.try_into().ok()?;
        let (stops, digits, dots) = isa.masks(bytes, delimiter);
        Some(Self {
            base,
            bytes,
            stops,
            digits,
            dots,
        })
    }

    /// The byte at `i` (below [`LEN`]).
    #[inline(always)]
    pub fn byte(&self, i: usize) -> u8 {
        self.bytes[i & (LEN - 1)]
    }

    /// The 16 bytes from `i + skip` (`i` below [`LEN`], `skip` at most 17) as a
    /// little-endian number. `i` is masked, not checked: the bytes are always there.
    #[inline(always)]
    fn sixteen(&self, i: usize, skip: usize) -> u128 {
        let i = (i & (LEN - 1)) + skip.min(17);
        let mut bytes = [0; 16];
        bytes.copy_from_slice(&self.bytes[i..i + 16]);
        u128::from_le_bytes(bytes)
    }

    /// The eight bytes from `i + skip`, as [`Block::sixteen`] reads them.
    #[inline(always)]
    fn eight(&self, i: usize, skip: usize) -> u64 {
        self.sixteen(i, skip) as u64
    }

    /// The value of the token `start..end` of the block (`start <= end < LEN`), and whether
    /// it is `[+-]digits[.digits]` with at most 19 digits after the leading zeros, 24 in all
    /// and 16 before the dot, which are exactly rounded. The value is meaningless when the
    /// token is not such a number: the caller looks at the answer once the value is
    /// computed, so that the work on the usual token has no branch on its bytes.
    #[inline(always)]
    pub fn number(&self, start: usize, end: usize) -> (f64, bool) {
        let first = self.byte(start);
        let negative = first == b'-';
        // A sign is a byte before the stop at `end`, unless the delimiter is one.
        let digits_start = (start + usize::from(negative || first == b'+')).min(end);
        // The bytes after the sign (`end < 64`: the shifts do not overflow).
        let body = (1u64 << end) - (1u64 << digits_start);
        let dots = self.dots & body;
        let has_dot = dots != 0;
        // Digits before the dot, all of them without one.
        let whole = (dots | 1 << end).trailing_zeros() as usize - digits_start;
        let digits = end - digits_start - usize::from(has_dot);
        let plain =
            (self.digits | dots) & body == body && dots & dots.wrapping_sub(1) == 0 && digits != 0;
        let value = if digits <= 8 {
            // The usual case, with no branch: the digits without the dot (the bytes from the
            // dot on come one byte later) below 10^8, a power of ten up to 10^8, both exact.
            // `whole <= digits <= 8`: the shifts do not overflow.
            let kept = (1u64 << (4 * whole) << (4 * whole)).wrapping_sub(1);
            let bytes =
                (self.eight(digits_start, 0) & kept) | (self.eight(digits_start, 1) & !kept);
            // The digits' values, shifted up so that the bytes after them are dropped (a
            // token without digits is not plain: its shift wraps around, and it is dropped).
            let values = (bytes & (0x0F * ONES as u64)).wrapping_shl(8 * (8 - digits as u32));
            let mantissa = decimal::exact_f64(decimal::eight_digits(values));
            mantissa / decimal::POW10[(digits - whole) & 31]
        } else {
            match self.long_number(digits_start, whole, digits) {
                Some(value) => value,
                None => return (0.0, false),
            }
        };
        (decimal::signed(value, negative), plain)
    }

    /// The value of the `digits` (9..) digits from `start`, `whole` of them before the dot,
    /// exactly rounded; `None` beyond 19 digits after the leading zeros, 24 in all or 16
    /// before the dot.
    #[inline(always)]
    fn long_number(&self, start: usize, whole: usize, digits: usize) -> Option<f64> {
        if whole > 16 || digits > 24 {
            return None;
        }
        let kept = !u128::MAX.checked_shl(8 * whole as u32).unwrap_or(0);
        let first16 = (self.sixteen(start, 0) & kept) | (self.sixteen(start, 1) & !kept);
        let mantissa = if digits <= 16 {
            sixteen_digits(first16, digits)
        } else {
            if digits > 19 {
                // Leading zeros do not count (0.0050880000000000005 has 17 significant
                // digits); with at most 19 that do, no sum below overflows.
                let zeros = ((first16 & (0x0F * ONES)).trailing_zeros() / 8) as usize;
                if digits - zeros > 19 {
                    return None;
                }
            }
            // The 17th to 24th digits follow the dot (`whole <= 16`).
            let rest = digits - 16;
            sixteen_digits(first16, 16) * decimal::POW10_INT[rest]
                + decimal::digits_value(self.eight(start, 17), rest)
        };
        decimal::exact_quotient(mantissa, digits - whole)
    }
}

/// The value of the first `n` (1..=16) bytes of `digits`, which are ASCII digits, the first
/// the most significant: the bytes after them are shifted out and zeros shifted in before
/// them, and the two halves combined by [`decimal::eight_digits`].
#[inline(always)]
fn sixteen_digits(digits: u128, n: usize) -> u64 {
    let values = (digits & (0x0F * ONES)) << (8 * (16 - n as u32));
    decimal::eight_digits(values as u64) * 100_000_000
        + decimal::eight_digits((values >> 64) as u64)
}

/// How a block's bytes are classified: with the instructions every CPU of the target has
/// ([`Baseline`]), or with AVX2 ([`Avx2`], x86_64 only), 32 bytes at a time.
pub(crate) trait Isa: Copy {
    /// The stop, digit and dot masks of the first [`LEN`] bytes.
    fn masks(self, bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64);
}

/// SSE2 on x86_64 (part of it), one byte at a time elsewhere.
#[derive(Clone, Copy)]
pub(crate) struct Baseline;

impl Isa for Baseline {
    #[inline(always)]
    fn masks(self, bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64) {
        simd::masks(bytes, delimiter)
    }
}

/// Proof that the CPU has AVX2, BMI1 and BMI2: only [`Avx2::detect`] makes one. Code
/// compiled for these features (see `delimited`) may run once it has one.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// The proof, if this CPU has the features (the check is cached by std).
    #[inline]
    pub fn detect() -> Option<Self> {
        let found = std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2");
        found.then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Isa for Avx2 {
    #[inline(always)]
    fn masks(self, bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64) {
        // SAFETY: an `Avx2` exists only where the CPU has AVX2 (see `Avx2::detect`).
        unsafe { avx2::masks(bytes, delimiter) }
    }
}

/// The masks one byte at a time, where there is no SSE2.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::{LEN, SPAN};
    use crate::decimal::is_stop;

    #[inline(always)]
    pub fn masks(bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64) {
        let (mut stops, mut digits, mut dots) = (0, 0, 0);
        for (i, &b) in bytes[..LEN].iter().enumerate() {
            stops |= u64::from(is_stop(b, delimiter)) << i;
            digits |= u64::from(b.is_ascii_digit()) << i;
            dots |= u64::from(b == b'.') << i;
        }
        (stops, digits, dots)
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use super::SPAN;
    use crate::decimal::simd::classify;

    /// The stop, digit and dot masks of the first 64 bytes of `bytes`, 16 at a time.
    #[inline(always)]
    pub fn masks(bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64) {
        let bytes = bytes.as_ptr();
        let (mut stops, mut digits, mut dots) = (0, 0, 0);
        for k in 0..4 {
            // SAFETY: SSE2 is part of x86_64, and the loads read the first 64 of the SPAN bytes.
            let x = unsafe { _mm_loadu_si128(bytes.add(16 * k).cast()) };
            let (stop, digit, dot) = classify(x, delimiter);
            stops |= u64::from(stop) << (16 * k);
            digits |= u64::from(digit) << (16 * k);
            dots |= u64::from(dot) << (16 * k);
        }
        (stops, digits, dots)
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::SPAN;

    /// [`super::simd::masks`] 32 bytes at a time.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn masks(bytes: &[u8; SPAN], delimiter: u8) -> (u64, u64, u64) {
        let bytes = bytes.as_ptr();
        let (delimiter, hash, bang, zero, dot) = (
            _mm256_set1_epi8(delimiter as i8),
            _mm256_set1_epi8(b'#' as i8),
            _mm256_set1_epi8(0x21),
            _mm256_set1_epi8(b'0' as i8),
            _mm256_set1_epi8(b'.' as i8),
        );
        let (flip, ten) = (_mm256_set1_epi8(i8::MIN), _mm256_set1_epi8(i8::MIN + 10));
        let (mut stops, mut digits, mut dots) = (0, 0, 0);
        for k in 0..2 {
            // SAFETY: the loads read the first 64 of the SPAN bytes.
            let x = unsafe { _mm256_loadu_si256(bytes.add(32 * k).cast()) };
            let stop = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(x, delimiter), _mm256_cmpeq_epi8(x, hash)),
                _mm256_cmpgt_epi8(bang, x), // signed: bytes from 0x80 up too
            );
            let digit = _mm256_cmpgt_epi8(ten, _mm256_xor_si256(_mm256_sub_epi8(x, zero), flip));
            let dot = _mm256_cmpeq_epi8(x, dot);
            stops |= u64::from(_mm256_movemask_epi8(stop) as u32) << (32 * k);
            digits |= u64::from(_mm256_movemask_epi8(digit) as u32) << (32 * k);
            dots |= u64::from(_mm256_movemask_epi8(dot) as u32) << (32 * k);
        }
        (stops, digits, dots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A block over `token` and the stop after it, padded with digits to the span.
    fn number(token: &str, end: &str) -> Option<(f64, usize)> {
        let text = format!("{token}{end}{}", "5".repeat(SPAN));
        let block = Block::at(Baseline, text.as_bytes(), 0, b',').unwrap();
        let stop = block.stops.trailing_zeros() as usize;
        match block.number(0, stop.min(LEN - 1)) {
            (value, true) if stop < LEN => Some((value, stop)),
            _ => None,
        }
    }

    #[test]
    fn plain_numbers_and_their_ends() {
        for token in [
            "1.528132",
            "-0.733896",
            "+12",
            "5.",
            ".5",
            "-.5",
            "0.031672000000000006",
            "-0.18449300000000002",
            "1.0827639999999998",
            "9007199254740993",
            "9007199254740993.0",
            "4503599627370497.5",
            "1234567890123456.789",
            "0.0050880000000000005",
            "-0.00000001234567890123456",
            "0.000",
            "-11.62515",
        ] {
            let (value, stop) = number(token, ",").unwrap();
            assert_eq!(stop, token.len(), "{token}");
            let expected: f64 = token.parse().unwrap();
            assert_eq!(value.to_bits(), expected.to_bits(), "{token}");
        }
        assert_eq!(
            number("-0", "\n").map(|(v, _)| v.to_bits()),
            Some((-0.0f64).to_bits())
        );
        for token in [
            "-",
            "+",
            ".",
            "1.2.3",
            "1e5",
            "inf",
            "nan",
            "--1",
            "1-",
            "12345678901234567890",
            "0.10508800000000000005",
            "0.000000000000000000000001",
            "12345678901234567.5",
            "1_0",
        ] {
            assert_eq!(number(token, ","), None, "{token}");
        }
    }

    #[test]
    fn blocks_end_where_the_text_is_too_short() {
        let text = "1,".repeat(SPAN / 2);
        assert!(Block::at(Baseline, text.as_bytes(), 0, b',').is_some());
        assert!(Block::at(Baseline, text.as_bytes(), 1, b',').is_none());
        assert!(Block::at(Baseline, text.as_bytes(), usize::MAX, b',').is_none());
    }

    #[test]
    fn masks_agree_with_the_byte_rules() {
        let bytes: Vec<u8> = (0..=255u8)
            .chain(b"0123456789.,#".iter().copied())
            .collect();
        for base in [0, 64, 128, 150, bytes.len() - SPAN] {
            let block = Block::at(Baseline, &bytes, base, b';').unwrap();
            for i in 0..LEN {
                let b = bytes[base + i];
                assert_eq!(block.stops >> i & 1 == 1, decimal::is_stop(b, b';'), "{b}");
                assert_eq!(block.digits >> i & 1 == 1, b.is_ascii_digit(), "{b}");
                assert_eq!(block.dots >> i & 1 == 1, b == b'.', "{b}");
            }
            #[cfg(target_arch = "x86_64")]
            if let Some(isa) = Avx2::detect() {
                let wide = Block::at(isa, &bytes, base, b';').unwrap();
                assert_eq!(
                    (wide.stops, wide.digits, wide.dots),
                    (block.stops, block.digits, block.dots)
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        /// Every number taken has the bits of the standard parser's value, at any place in
        /// the block; declined are only tokens that are not plain or have too many digits.
        #[test]
        fn numbers_agree_with_std(
            token in "[+-]?[0-9]{0,20}(\\.[0-9]{0,20})?|[+-]?0?\\.0{0,20}[0-9]{0,20}|[+-]?[0-9]{0,3}[.eE]?[0-9.e+-]{0,4}",
            at in 0usize..40,
            end in proptest::sample::select(vec![",", "\n", "\r", "#", " ", "\u{a0}"]),
        ) {
            let text = format!("{}{token}{end}{}", "7".repeat(at), "5".repeat(SPAN));
            let block = Block::at(Baseline, text.as_bytes(), 0, b',').unwrap();
            let stop = at + (block.stops >> at).trailing_zeros() as usize;
            prop_assume!(stop < LEN && stop > at);
            prop_assert_eq!(stop, at + token.len());
            let got = match block.number(at, stop) {
                (value, true) => Some(value),
                _ => None,
            };
            let body = token.trim_start_matches(['+', '-']);
            let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
            let digits = format!("{whole}{fraction}");
            let significant = digits.trim_start_matches('0').len();
            let plain = token.len() - body.len() <= 1
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.is_empty() && significant <= 19 && digits.len() <= 24 && whole.len() <= 16
                // An exact quotient by 10^23 or 10^24 needs a numerator.
                && (significant > 0 || fraction.len() <= 22);
            prop_assert_eq!(got.is_some(), plain, "{:?}", token);
            if let Some(value) = got {
                prop_assert_eq!(Some(value.to_bits()), token.parse::<f64>().ok().map(f64::to_bits));
            }
        }
    }
}
