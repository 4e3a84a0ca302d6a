//! Arbitrary bytes read as JSONL through `ItemReader`, checked against the
//! invariants every reader keeps (the library's shared check).
#![no_main]

use cognito_reset::input::{Format, check_reader_invariants};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check_reader_invariants(Format::Jsonl, data));
