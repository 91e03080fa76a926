//! Fuzz target: matrix::parse_matrix (f32, f64) and matrix::read_matrix against a reference loadtxt.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bilm_fast_fuzz::check_matrix(data));
