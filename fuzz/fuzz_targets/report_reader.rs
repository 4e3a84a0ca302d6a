//! Arbitrary bytes read as a report by `--resume`'s reader (the header check
//! and the row scan, in CSV and JSONL), checked against its invariants.
#![no_main]

use cognito_reset::resume::check_report_reader_invariants;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check_report_reader_invariants(data));
