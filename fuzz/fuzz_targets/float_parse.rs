//! Fuzz target: float::parse, float::fixed_prefix and float::uci_field against str::parse.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bilm_fast_fuzz::check_float(data));
