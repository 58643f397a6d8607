//! Fuzz target `history`: arbitrary bytes as a history file (a recording,
//! `Recording::read_jsonl`, and a single history, `History::read_jsonl`).
//! Never a panic; an error says `line N` where it has a line and shows no
//! debug formatting; what reads writes back the same. See
//! `leasecheck_fuzz::check_history`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| leasecheck_fuzz::check_history(data));
