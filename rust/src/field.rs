//! The inner loop of the loader: one 16-byte UCI field, `  1.8085150e-004` or
//! ` -1.1474840e-003`, to an f64, exactly and without branches.
//!
//! A field is a blank, a blank or a sign, then `d.ddddddde±ddd`:
//!
//! ```text
//!   byte:   0    1     2   3    4  5  6  7    8  9  10  11   12  13   14  15
//!           ' '  sign  d0  '.'  d1 d2 d3 d4   d5 d6 d7  'e'  ±   '0'  e1  e2
//! ```
//!
//! Eight significant digits fit an integer `m` exactly, and with the exponent in -15..=29 the
//! power `p = exponent - 7` is in -22..=22, where `10^|p|` is exact in f64, so
//! `m * 10^p` (or `m / 10^-p`) is one correctly rounded IEEE operation: Clinger's fast path,
//! exact by construction. Anything else (other exponents, other layouts) is reported as bad,
//! and the caller parses that row with the general parser.
//!
//! Validation: `byte ^ TEMPLATE` turns every byte that is what the layout wants into a small
//! number (0 for a fixed character, the digit's value for a digit, 3/5/8 for '+'/'-'/' '),
//! and each byte of that may be at most its [`LIMIT`]. The limits are exact for digits and
//! fixed characters ('e' is OR-ed with 0x20 first, so 'E' passes too); for the two signs and
//! the exponent they allow a superset that [`POWER_CODE`] narrows down exactly.
//!
//! Implementations with the same tables and steps, so the same values and the same
//! verdicts: SSE2 (part of every x86_64 CPU), the same steps on two fields at once with AVX2
//! where the CPU has it, and a portable SWAR one on two `u64` words for other targets. The
//! tests check that all of them agree with a plain reference on every single-byte change of
//! a valid field, at every position of a row.
use crate::float::Sample;

/// Width of a UCI field.
pub const LEN: usize = 16;

const TEMPLATE: [u8; LEN] = *b" (0.0000000e(000";
const LIMIT: [u8; LEN] = [0, 8, 9, 0, 9, 9, 9, 9, 9, 9, 9, 0, 5, 0, 2, 9];
/// OR-ed into the field before the template: makes 'E' an 'e'.
const LOWER_E: [u8; LEN] = {
    let mut bits = [0; LEN];
    bits[11] = 0x20;
    bits
};

/// Largest power of ten that is exact in f64 (5^22 < 2^53).
const MAX_EXACT_POWER: i32 = 22;
/// Number of exact powers, -22..=22.
const POWERS: usize = 2 * MAX_EXACT_POWER as usize + 1;

/// Factors `(up, down)` with `value = m * up / down`, indexed by a code from [`POWER_CODE`]:
/// codes `0..45` are the powers -22..=22, `45..90` the same with a minus sign. One of the two
/// factors is ±1 and the other an exact power of ten, so exactly one rounding happens, and a
/// negative `up` is exact negation (giving -0.0 for a zero mantissa). Codes from [`INVALID`]
/// up mark a field outside the fast path; their factors give garbage that is never used.
const FACTORS: [(f64, f64); 256] = {
    let mut table = [(f64::NAN, 1.0); 256];
    let mut power = -MAX_EXACT_POWER;
    while power <= MAX_EXACT_POWER {
        let mut ten_to_power = 1.0;
        let mut i = 0;
        while i < power.abs() {
            ten_to_power *= 10.0; // exact up to 1e22
            i += 1;
        }
        let (up, down) = if power < 0 {
            (1.0, ten_to_power)
        } else {
            (ten_to_power, 1.0)
        };
        let code = (power + MAX_EXACT_POWER) as usize;
        table[code] = (up, down);
        table[code + POWERS] = (-up, down);
        power += 1;
    }
    table
};

/// Codes with this bit are not in the fast path; OR-ing codes over a row makes it one check.
const INVALID: u8 = 0x80;

/// The factor code for sign `s` and exponent key `es * 30 + 10 * e1 + e2` (template-relative
/// byte values, see the module docs), at index `(s << 8) | key`. Every other index, e.g. a
/// sign byte of '(' (which passes the limit 8), is [`INVALID`].
const POWER_CODE: [u8; 4096] = {
    let mut table = [INVALID; 4096];
    let signs = [(8, 0), (3, 0), (5, POWERS)]; // ' ', '+', '-'
    let exponent_signs = [(3, 1), (5, -1)]; // '+', '-'
    let mut i = 0;
    while i < signs.len() {
        let (sign, offset) = signs[i];
        let mut j = 0;
        while j < exponent_signs.len() {
            let (es, direction) = exponent_signs[j];
            let mut e = 0;
            while e < 30 {
                let power = direction * e - 7;
                if power >= -MAX_EXACT_POWER && power <= MAX_EXACT_POWER {
                    let code = offset + (power + MAX_EXACT_POWER) as usize;
                    table[(sign << 8) | (es * 30 + e) as usize] = code as u8;
                }
                e += 1;
            }
            j += 1;
        }
        i += 1;
    }
    table
};

/// `m * up / down` for the factors of `code`.
#[inline(always)]
fn scale(mantissa: f64, code: u8) -> f64 {
    let (up, down) = FACTORS[usize::from(code)];
    mantissa * up / down
}

#[cfg(target_arch = "x86_64")]
pub use sse2::{parse, Checks};
#[cfg(not(target_arch = "x86_64"))]
pub use swar::{parse, Checks};

/// Parse consecutive fields into `out` (one per field; `fields` has `LEN * out.len()` bytes).
/// Returns whether all of them were in the layout; if not, `out` holds garbage.
///
/// No branches per field: signs vary from value to value, and a mispredicted branch costs
/// more than the parsing. The checks are accumulated and looked at once at the end.
#[inline(always)]
fn parse_all<T: Sample>(fields: &[u8], out: &mut [T]) -> bool {
    let mut checks = Checks::default();
    for (bytes, slot) in fields.chunks_exact(LEN).zip(out) {
        let bytes = bytes.first_chunk().unwrap_or(&[0; LEN]);
        *slot = T::from_f64(parse(bytes, &mut checks));
    }
    checks.ok()
}

/// [`parse_all`], or two fields at a time with AVX2 where the CPU has it (see
/// [`sse2::parse_pairs`]): about 20 instructions a value instead of 35.
#[cfg(target_arch = "x86_64")]
pub fn parse_row<T: Sample>(fields: &[u8], out: &mut [T]) -> bool {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        unsafe { sse2::parse_pairs(fields, out) }
    } else {
        parse_all(fields, out)
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn parse_row<T: Sample>(fields: &[u8], out: &mut [T]) -> bool {
    parse_all(fields, out)
}

#[cfg(target_arch = "x86_64")]
mod sse2 {
    //! The whole field in one 128-bit register. The digits are combined by three rounds of
    //! `pmaddwd` (multiply 16-bit lanes, add neighbours), which also yields the exponent key.
    use std::arch::x86_64::*;

    use super::{scale, INVALID, LEN, LIMIT, LOWER_E, POWER_CODE, TEMPLATE};
    use crate::float::Sample;

    /// 16-bit lanes, as `pmaddwd` wants its factors.
    const fn lanes(words: [i16; 8]) -> __m128i {
        // SAFETY: both are 16 plain bytes.
        unsafe { std::mem::transmute(words) }
    }

    const fn bytes(bytes: [u8; LEN]) -> __m128i {
        // SAFETY: both are 16 plain bytes.
        unsafe { std::mem::transmute(bytes) }
    }

    // Round 1 on the template-relative bytes, widened to 16 bits:
    //   [0, s, d0, 0, d1, d2, d3, d4] -> [0, d0, 10d1+d2, 10d3+d4]
    //   [d5, d6, d7, 0, es, 0, e1, e2] -> [10d5+d6, d7, 30es, 10e1+e2]
    const ROUND1_LO: __m128i = lanes([0, 0, 1, 0, 10, 1, 10, 1]);
    const ROUND1_HI: __m128i = lanes([10, 1, 1, 0, 30, 0, 10, 1]);
    // Round 2 on those (packed to 16 bits): [d0, d1..d4, d5..d7, exponent key]
    const ROUND2: __m128i = lanes([0, 1, 100, 1, 10, 1, 1, 1]);
    // Round 3 on those (packed again): [10^4 d0 + d1..d4, d5..d7, ..]; the rest in f64.
    const ROUND3: __m128i = lanes([10_000, 1, 1, 0, 0, 0, 0, 0]);

    /// What went wrong over a row of fields, checked once at its end.
    #[derive(Clone, Copy)]
    pub struct Checks {
        /// Nonzero bytes: some byte of some field was over its limit.
        over: __m128i,
        /// OR of the power codes: [`INVALID`] if some sign or exponent was.
        codes: u8,
    }

    impl Default for Checks {
        #[inline(always)]
        fn default() -> Self {
            Self {
                over: bytes([0; LEN]),
                codes: 0,
            }
        }
    }

    impl Checks {
        #[inline(always)]
        pub fn ok(&self) -> bool {
            // SAFETY: SSE2 is part of x86_64.
            let over = unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.over, bytes([0; LEN]))) };
            over == 0xFFFF && self.codes & INVALID == 0
        }
    }

    /// Parse one field (see the module docs); the value is garbage unless `checks` stays ok.
    #[inline(always)]
    pub fn parse(field: &[u8; LEN], checks: &mut Checks) -> f64 {
        // SAFETY: SSE2 is part of x86_64, and the load reads the 16 bytes of `field`.
        unsafe {
            let raw = _mm_loadu_si128(field.as_ptr().cast());
            let x = _mm_xor_si128(_mm_or_si128(raw, bytes(LOWER_E)), bytes(TEMPLATE));
            checks.over = _mm_or_si128(checks.over, _mm_subs_epu8(x, bytes(LIMIT)));

            let zero = _mm_setzero_si128();
            let round1 = _mm_packs_epi32(
                _mm_madd_epi16(_mm_unpacklo_epi8(x, zero), ROUND1_LO),
                _mm_madd_epi16(_mm_unpackhi_epi8(x, zero), ROUND1_HI),
            );
            let groups = _mm_madd_epi16(round1, ROUND2);
            let key = _mm_extract_epi16::<6>(groups) as usize;
            let sign = _mm_extract_epi16::<0>(x) as usize & 0x0F00;
            let code = POWER_CODE[(sign | key) & 0xFFF];
            checks.codes |= code;

            let parts = _mm_cvtepi32_pd(_mm_madd_epi16(_mm_packs_epi32(groups, groups), ROUND3));
            let mantissa = _mm_add_sd(
                _mm_mul_sd(parts, _mm_set_sd(1000.0)),
                _mm_unpackhi_pd(parts, parts),
            );
            scale(_mm_cvtsd_f64(mantissa), code)
        }
    }

    /// Both 128-bit halves set to `half`.
    fn twice(half: __m128i) -> __m256i {
        // SAFETY: plain bytes; no CPU feature needed to build a constant.
        unsafe { std::mem::transmute([half, half]) }
    }

    /// [`parse`] for two fields at once, one in each 128-bit half of an AVX2 register: every
    /// byte and word operation of [`parse`] works within halves, so the steps are the same;
    /// only the factor lookup and the final scaling are per field. Fields come in pairs; an
    /// odd last one goes through [`parse`].
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn parse_pairs<T: Sample>(fields: &[u8], out: &mut [T]) -> bool {
        let mut over = twice(bytes([0; LEN]));
        let mut codes = 0;
        let pairs = fields.chunks_exact(2 * LEN).zip(out.chunks_exact_mut(2));
        for (pair, slots) in pairs {
            // SAFETY: the load reads the 32 bytes of `pair`.
            let raw = unsafe { _mm256_loadu_si256(pair.as_ptr().cast()) };
            let x = _mm256_xor_si256(
                _mm256_or_si256(raw, twice(bytes(LOWER_E))),
                twice(bytes(TEMPLATE)),
            );
            over = _mm256_or_si256(over, _mm256_subs_epu8(x, twice(bytes(LIMIT))));

            let zero = _mm256_setzero_si256();
            let round1 = _mm256_packs_epi32(
                _mm256_madd_epi16(_mm256_unpacklo_epi8(x, zero), twice(ROUND1_LO)),
                _mm256_madd_epi16(_mm256_unpackhi_epi8(x, zero), twice(ROUND1_HI)),
            );
            let groups = _mm256_madd_epi16(round1, twice(ROUND2));
            // Word 0 of each half: the sign byte's value << 8 | the exponent key (word 6).
            let index = _mm256_or_si256(
                _mm256_and_si256(x, twice(lanes([0x0F00, 0, 0, 0, 0, 0, 0, 0]))),
                _mm256_and_si256(
                    _mm256_bsrli_epi128::<12>(groups),
                    twice(lanes([0xFF, 0, 0, 0, 0, 0, 0, 0])),
                ),
            );
            let code_a = POWER_CODE[_mm256_cvtsi256_si32(index) as usize & 0xFFF];
            let code_b = POWER_CODE[_mm256_extract_epi32::<4>(index) as usize & 0xFFF];
            codes |= code_a | code_b;

            // [10^4 d0 + d1..d4, d5..d7] of both fields side by side, then m = 1000 a + b.
            let parts = _mm256_madd_epi16(_mm256_packs_epi32(groups, groups), twice(ROUND3));
            let parts = _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(parts));
            let parts = _mm256_mul_pd(
                _mm256_cvtepi32_pd(parts),
                _mm256_setr_pd(1000.0, 1.0, 1000.0, 1.0),
            );
            let mantissas = _mm256_hadd_pd(parts, parts);
            let m_a = _mm256_cvtsd_f64(mantissas);
            let m_b = _mm_cvtsd_f64(_mm256_extractf128_pd::<1>(mantissas));
            slots[0] = T::from_f64(scale(m_a, code_a));
            slots[1] = T::from_f64(scale(m_b, code_b));
        }
        let mut checks = Checks {
            over: _mm_or_si128(
                _mm256_castsi256_si128(over),
                _mm256_extracti128_si256::<1>(over),
            ),
            codes,
        };
        let odd = (out.len() % 2 == 1).then(|| out.len() - 1);
        if let (Some(last), Some(field)) = (odd, odd.and_then(|i| fields.get(i * LEN..))) {
            let field = field.first_chunk().unwrap_or(&[0; LEN]);
            out[last] = T::from_f64(parse(field, &mut checks));
        }
        checks.ok()
    }
}

#[cfg(any(test, not(target_arch = "x86_64")))]
mod swar {
    //! The field as two little-endian words, `lo` = bytes 0..8 and `hi` = bytes 8..16.
    use super::{scale, LEN, LIMIT, LOWER_E, POWER_CODE, TEMPLATE};

    /// The high bit of every byte, where [`over_limit`] marks a byte over its limit.
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

    /// Bit 7 of byte `i` is set iff byte `i` of `x` exceeds `limit[i]`. For bytes below 0x80
    /// the sum stays below 0x100, so nothing carries into the next byte; a byte from 0x80 up
    /// is flagged by `| x` whatever a carry does to its neighbours.
    #[inline(always)]
    fn over_limit(x: u64, limit: &[u8]) -> u64 {
        let mut add = [0; 8];
        for (a, l) in add.iter_mut().zip(limit) {
            *a = 0x7F - l;
        }
        x.wrapping_add(u64::from_le_bytes(add)) | x
    }

    fn word(bytes: &[u8]) -> u64 {
        u64::from_le_bytes(*bytes.first_chunk().unwrap_or(&[0; 8]))
    }

    /// `(es * 30 + 10 * e1 + e2) << 24` from the bytes `es, e0 = 0, e1, e2` of a `u32`, in one
    /// multiplication: for bytes within their limits the partial products below bit 24 add up
    /// to less than 2^24, so bits 24..32 hold exactly the sum (at most 5 * 30 + 29 < 256).
    const EXPONENT_MULTIPLIER: u32 = (30 << 24) + (10 << 8) + 1;

    /// What went wrong over a row of fields: [`HIGH_BITS`] over a limit, and the OR of the
    /// power codes.
    #[derive(Clone, Copy, Default)]
    pub struct Checks(u64);

    impl Checks {
        pub fn ok(&self) -> bool {
            self.0 & HIGH_BITS == 0
        }
    }

    /// Parse one field (see the module docs); the value is garbage unless `checks` stays ok.
    #[inline(always)]
    pub fn parse(field: &[u8; LEN], checks: &mut Checks) -> f64 {
        let (lo, hi) = field.split_at(8);
        let x_lo = word(lo) ^ word(&TEMPLATE[..8]);
        let x_hi = (word(hi) | word(&LOWER_E[8..])) ^ word(&TEMPLATE[8..]);

        // The eight digits d0, d1..d4, d5..d7 into one word, d0 in the lowest byte (byte 3 of
        // `x_lo`, the '.', is 0), then combined pairwise: three multiplies for eight digits.
        let digits = ((x_lo >> 16) & 0xFF) | (x_lo >> 24) | (x_hi << 40);
        let pairs = (digits.wrapping_mul(10 * 256 + 1) >> 8) & 0x00FF_00FF_00FF_00FF;
        let quads = (pairs.wrapping_mul(100 * 65536 + 1) >> 16) & 0x0000_FFFF_0000_FFFF;
        let mantissa = (quads.wrapping_mul((10_000 << 32) + 1) >> 32) as u32;

        let key = ((x_hi >> 32) as u32).wrapping_mul(EXPONENT_MULTIPLIER) >> 24;
        let code = POWER_CODE[(x_lo & 0x0F00) as usize | key as usize];
        checks.0 |= over_limit(x_lo, &LIMIT[..8]) | over_limit(x_hi, &LIMIT[8..]);
        checks.0 |= u64::from(code);
        scale(f64::from(mantissa), code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout written out plainly: what the fast path must accept, and nothing else.
    fn in_layout(f: &[u8; LEN]) -> bool {
        let digits = |r: std::ops::Range<usize>| f[r].iter().all(u8::is_ascii_digit);
        let exponent: i32 = std::str::from_utf8(&f[12..])
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(99);
        f[0] == b' '
            && b" +-".contains(&f[1])
            && digits(2..3)
            && f[3] == b'.'
            && digits(4..11)
            && b"eE".contains(&f[11])
            && b"+-".contains(&f[12])
            && digits(13..16)
            && (-15..=29).contains(&exponent)
    }

    /// The verdict of the implementation in use, and its value if ok, checked against the
    /// portable one (the same on other targets).
    fn both(f: &[u8; LEN]) -> (bool, Option<u64>) {
        let (mut a, mut b) = (Checks::default(), swar::Checks::default());
        let (va, vb) = (parse(f, &mut a), swar::parse(f, &mut b));
        let shown = String::from_utf8_lossy(f);
        assert_eq!(a.ok(), b.ok(), "{shown:?}");
        assert!(!a.ok() || va.to_bits() == vb.to_bits(), "{shown:?}");
        // And in every position of a row (pairs, and the odd last field), as `parse_row` does.
        let good = *b" -3.1415926e+001";
        for at in 0..3 {
            let mut row = [good; 3];
            row[at] = *f;
            let mut out = [0.0f64; 3];
            assert_eq!(
                parse_row(row.as_flattened(), &mut out),
                a.ok(),
                "{shown:?} at {at}"
            );
            assert!(
                !a.ok() || out[at].to_bits() == va.to_bits(),
                "{shown:?} at {at}"
            );
            assert!(
                !a.ok() || out[(at + 1) % 3] == -31.415926,
                "{shown:?} at {at}"
            );
        }
        (a.ok(), a.ok().then_some(va.to_bits()))
    }

    #[test]
    fn every_single_byte_change_is_judged_exactly() {
        for base in [
            b"  1.8085150e-004",
            b" -9.9999999E+029",
            b" +0.0000000e-015",
            b"  5.0000001e+007",
        ] {
            for pos in 0..LEN {
                for byte in 0..=255 {
                    let mut f = *base;
                    f[pos] = byte;
                    let (ok, bits) = both(&f);
                    assert_eq!(ok, in_layout(&f), "{:?}", String::from_utf8_lossy(&f));
                    if let Some(bits) = bits {
                        let text = std::str::from_utf8(&f).unwrap().trim_start();
                        assert_eq!(bits, text.parse::<f64>().unwrap().to_bits(), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_sign_and_exponent_pair_is_judged_exactly() {
        // The bytes the code table decides on, two at a time.
        for (p, q) in [(1, 12), (12, 14), (12, 15), (1, 14), (13, 14)] {
            for a in 0..=255 {
                for b in 0..=255 {
                    let mut f = *b"  1.2345678e-003";
                    f[p] = a;
                    f[q] = b;
                    assert_eq!(
                        both(&f).0,
                        in_layout(&f),
                        "{:?}",
                        String::from_utf8_lossy(&f)
                    );
                }
            }
        }
    }
}
