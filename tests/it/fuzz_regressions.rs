//! Fuzzing regressions: every input a fuzz target ever failed on, saved in
//! `fuzz/regressions/<target>/` (one file each, with a few hand-made nasty
//! inputs), goes through the same parser and the same checks as the target
//! (`fuzz/src/lib.rs`, included here as a module), so a parser bug fixed once
//! stays fixed without libFuzzer. No database: these tests only parse.
//!
//! To add one: copy the crashing input that `scripts/fuzz.sh` names into the
//! target's directory, under a name that says what it is.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The saved inputs of one fuzz target, sorted by name (hidden files skipped).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data =
                std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

/// Run `check` on every input of `target`; fail naming every input that
/// panicked (the check's own message is printed by the panic hook).
fn check_all(target: &str, check: impl Fn(&[u8])) {
    let failed: Vec<String> = inputs(target)
        .into_iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(path, _)| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "the {target} parser or its checks failed on: {}",
        failed.join(", ")
    );
}

#[test]
fn every_saved_spec_input_parses_or_gives_a_clean_error_naming_the_file() {
    check_all("spec", |data| {
        assert!(
            checks::check_spec(data),
            "a spec regression input that is not UTF-8 tests nothing"
        );
    });
}

#[test]
fn every_saved_history_input_reads_or_gives_a_clean_error_naming_the_line() {
    check_all("history", checks::check_history);
}

#[test]
fn every_saved_adapter_line_reads_or_gives_a_clean_error() {
    check_all("adapter_line", checks::check_adapter_line);
}
