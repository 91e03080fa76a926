//! Replays the fuzz corpus (`fuzz/corpus/<target>/`) and every saved crash input
//! (`fuzz/regressions/<target>/`) through the very checks the fuzz targets run
//! (`fuzz/src/lib.rs`), on stable Rust with plain `cargo test` -- no cargo-fuzz, no nightly.
//! Plus property tests of the same checks on structured random inputs.
use std::path::Path;

use proptest::prelude::*;

#[path = "../../fuzz/src/lib.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{} fails its check", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target} under {}", fuzz.display());
}

#[test]
fn float_parse_corpus() {
    replay("float_parse", checks::check_float);
}

#[test]
fn matrix_file_corpus() {
    replay("matrix_file", checks::check_matrix);
}

#[test]
fn matrix_file_corpus_in_several_chunks() {
    replay("matrix_file", checks::check_matrix_chunked);
}

#[test]
fn uci_tree_corpus() {
    replay("uci_tree", checks::check_uci_tree);
}

/// One value in one of the spellings users' files have.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        // UCI's fixed layout, sometimes with an exponent outside the fast path.
        (0u64..100_000_000, -40i64..40, any::<bool>())
            .prop_map(|(m, e, neg)| checks::uci_number(m, e, neg)),
        any::<f64>().prop_map(|v| format!("{v:e}")),
        any::<f32>().prop_map(|v| format!("{v}")),
        (-1000i64..1000).prop_map(|v| v.to_string()),
        proptest::sample::select(vec!["inf", "-Infinity", "nan", "+1.", ".5", "-0", "1E5"])
            .prop_map(str::to_owned),
    ]
}

/// A matrix text: rows of `cols` tokens with mixed blanks, line ends, comments, blank lines.
fn matrix_text() -> impl Strategy<Value = String> {
    (1usize..6).prop_flat_map(|cols| {
        let row = (
            proptest::collection::vec(token(), cols),
            proptest::sample::select(vec![" ", "  ", "\t", " \t "]),
            proptest::sample::select(vec!["\n", "\r\n", "\r", " # note\n", "\n\n", "\n  \n"]),
        )
            .prop_map(|(tokens, sep, end)| format!("{}{}", tokens.join(sep), end));
        proptest::collection::vec(row, 1..20).prop_map(|rows| rows.concat())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn valid_matrices_agree_with_the_reference(text in matrix_text(), big in any::<bool>()) {
        let want = checks::ref_matrix(text.as_bytes(), None);
        prop_assert!(want.is_ok(), "the generator made an invalid text");
        let input = [&[0x01][..], text.as_bytes()].concat();
        checks::check_matrix(&input);
        if big {
            checks::check_matrix_chunked(&input);
        }
    }

    #[test]
    fn corrupted_matrices_fail_at_the_right_line(
        text in matrix_text(),
        at in any::<prop::sample::Index>(),
        junk in proptest::sample::select(vec!["x", "1.0.0", "\u{0}", "e5", "--1", " 7 ", "#", "\n", "1e+", "\u{ff}"]),
    ) {
        let mut bytes = text.into_bytes();
        let at = at.index(bytes.len() + 1);
        bytes.splice(at..at, junk.bytes());
        // check_matrix compares the outcome (values or the error's line) with the reference.
        let input = [&[0x01u8][..], &bytes].concat();
        checks::check_matrix(&input);
        checks::check_matrix_chunked(&input);
    }

    #[test]
    fn edited_uci_trees_agree_with_the_reference(
        n in 0u8..4,
        seed in any::<u64>(),
        edits in proptest::collection::vec(any::<u8>(), 0..24),
    ) {
        let mut data = vec![0x01, n];
        data.extend_from_slice(&seed.to_le_bytes());
        data.extend_from_slice(&edits);
        checks::check_uci_tree(&data);
    }
}
