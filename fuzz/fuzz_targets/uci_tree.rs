//! Fuzz target: uci::load on a UCI split written from fuzzed bytes (raw files, or a valid tree with edits) against a reference loader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bilm_fast_fuzz::check_uci_tree(data));
