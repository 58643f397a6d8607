//! Fuzz target `adapter_line`: arbitrary bytes as a line an adapter process
//! wrote (`--exec`): its hello, or its answer to a request. Never a panic; an
//! error shows no debug formatting; what reads writes back the same. See
//! `leasecheck_fuzz::check_adapter_line`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| leasecheck_fuzz::check_adapter_line(data));
