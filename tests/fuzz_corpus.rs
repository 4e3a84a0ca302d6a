//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the
//! same invariant check the fuzz targets assert, on stable Rust, so every
//! input the fuzzer found interesting (and every past finding) is rechecked
//! by a plain `cargo test`.

use std::path::Path;

use cognito_reset::input::{Format, check_reader_invariants};
use cognito_reset::resume::check_report_reader_invariants;

/// Runs every file of one target's corpus through `check`; returns how many
/// there were.
fn replay_with(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} breaks an invariant", path.display());
        count += 1;
    }
    count
}

fn replay(target: &str, format: Format) -> usize {
    replay_with(target, |bytes| check_reader_invariants(format, bytes))
}

#[test]
fn report_reader_corpus_keeps_the_invariants() {
    assert!(
        replay_with("report_reader", check_report_reader_invariants) > 0,
        "empty corpus"
    );
}

#[test]
fn csv_corpus_keeps_the_invariants() {
    assert!(replay("csv_reader", Format::Csv) > 0, "empty corpus");
}

#[test]
fn jsonl_corpus_keeps_the_invariants() {
    assert!(replay("jsonl_reader", Format::Jsonl) > 0, "empty corpus");
}

#[test]
fn lines_corpus_keeps_the_invariants() {
    assert!(replay("lines_reader", Format::Lines) > 0, "empty corpus");
}
