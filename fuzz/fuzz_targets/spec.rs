//! Fuzz target `spec`: arbitrary text as a spec file (`Spec::parse`). Never
//! a panic; an error names the file (and its line, where it has one) and
//! shows no debug formatting. See `leasecheck_fuzz::check_spec`.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if leasecheck_fuzz::check_spec(data) {
        Corpus::Keep
    } else {
        // Not UTF-8: no spec file reaches the parser as such.
        Corpus::Reject
    }
});
