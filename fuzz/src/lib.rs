//! The properties every fuzz target checks, in one place: the targets in
//! `fuzz_targets/` call these functions on libFuzzer's inputs, and the
//! regression test (`tests/it/fuzz_regressions.rs`, which includes this file
//! as a module) calls them on every saved crash in `fuzz/regressions/`, so a
//! crash found once is checked by `cargo nextest` for good.
//!
//! The property, for every parser a user feeds: bad input gives an error
//! whose message is not empty, names where the problem is, and shows no Rust
//! debug formatting; it never panics (a panic fails the target or the test
//! by itself). This file uses only `leasecheck`, `leasecheck_model` and std,
//! so it compiles in both places.

use leasecheck::spec::{Spec, SpecError};
use leasecheck_model::history::History;
use leasecheck_model::recording::Recording;

/// The origin a fuzzed spec is parsed under: every spec error starts with it.
pub const SPEC_ORIGIN: &str = "fuzz.toml";

/// Rust debug formatting that must never reach a user: an `Option` or
/// `Result` printed with `{:?}`, or a struct's debug form. A pattern counts
/// only when the input does not contain its text without the surrounding
/// spaces: an error may quote the input, and toml's messages show the
/// offending line after a `|` (`22 | { `).
const DEBUG_PATTERNS: [&str; 6] = ["Some(", "Ok(", "Err(", " { ", "Spanned", "Value::"];

/// Panic (so libFuzzer records a crash) if `message` is empty or shows debug
/// formatting that does not come from `input`.
fn assert_readable(message: &str, input: &str) {
    assert!(!message.trim().is_empty(), "an error with an empty message");
    for pattern in DEBUG_PATTERNS {
        assert!(
            !message.contains(pattern) || input.contains(pattern.trim()),
            "an error shows Rust debug formatting ({pattern:?}): {message}"
        );
    }
}

/// The number of lines an error may name in `input` (1-based, a last line
/// without a newline counts, so does the empty line after a final newline).
fn line_count(input: &[u8]) -> usize {
    input.iter().filter(|&&b| b == b'\n').count() + 1
}

/// The line a spec error names in the form `origin:line:`, if it has one.
fn spec_error_line(err: &SpecError) -> Option<usize> {
    match err {
        SpecError::Type { line, .. }
        | SpecError::Ttl { line, .. }
        | SpecError::Placeholder { line, .. }
        | SpecError::Invalid { line, .. } => Some(*line),
        SpecError::Statement { line, .. } => *line,
        _ => None,
    }
}

/// Parse `data` as a spec file. Input that is not UTF-8 is skipped (a spec
/// file is read as a string: `Spec::load` rejects such a file before
/// parsing); returns whether the input was used.
///
/// Checks that an error starts with the file's name, names a line that
/// exists when it names one (toml's own errors always name one), and is
/// readable.
pub fn check_spec(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Err(err) = Spec::parse(text, SPEC_ORIGIN) else {
        return true;
    };
    let message = err.to_string();
    assert_readable(&message, text);
    assert!(
        message.starts_with(SPEC_ORIGIN),
        "a spec error that does not start with the file: {message}"
    );
    if let Some(line) = spec_error_line(&err) {
        assert!(
            (1..=line_count(data)).contains(&line),
            "a spec error names line {line} of {} lines: {message}",
            line_count(data)
        );
        assert!(
            message.starts_with(&format!("{SPEC_ORIGIN}:{line}:")),
            "a spec error with line {line} that does not name it: {message}"
        );
    }
    if let SpecError::Toml { .. } = err {
        assert!(
            message.contains("line "),
            "a TOML error that names no line: {message}"
        );
    }
    true
}

/// Read `data` as a recording ([`Recording::read_jsonl`], every history file
/// `leasecheck check-history` takes) and as a single history
/// ([`History::read_jsonl`]); any bytes, UTF-8 or not.
///
/// Checks that an error is readable and, when it has a line, says `line N`
/// for a line the input has; and that what was read writes back to the same
/// value.
pub fn check_history(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match Recording::read_jsonl(data) {
        Ok(recording) => {
            assert!(
                !recording.sections.is_empty(),
                "a recording with no section"
            );
            let mut out = Vec::new();
            recording
                .write_jsonl(&mut out)
                .expect("writing to a Vec cannot fail");
            let again = Recording::read_jsonl(&out[..]).unwrap_or_else(|e| {
                panic!("a recording that was read does not read back once written: {e}")
            });
            assert_eq!(again, recording, "a recording changed by a write and read");
            // `check-history` judges what it read: the checker must take any
            // history a file can hold without panicking.
            // ...and `check-history --report` draws it: the page must be
            // drawn for any history too.
            let scenarios = recording
                .sections
                .iter()
                .map(leasecheck::verdict::judge)
                .collect();
            let report = leasecheck::report::Report {
                subject: "fuzz".into(),
                database: "none (offline)".into(),
                ttl_seconds: 0.0,
                seed: recording.seed.unwrap_or(0),
                replay: recording.replay.clone().unwrap_or_default(),
                scenarios,
                history_file: None,
                report_page: None,
                fail_on: Default::default(),
            };
            let page = leasecheck::report::page(&report, &recording.sections);
            assert!(page.starts_with("<!DOCTYPE html>"), "a page");
            // text from the file never opens a tag of its own
            assert!(
                !page.contains("<script"),
                "markup from the file reached the page"
            );
        }
        Err(err) => check_history_error(&err, data, &text),
    }
    match History::read_jsonl(data) {
        Ok(history) => {
            let mut out = Vec::new();
            history
                .write_jsonl(&mut out)
                .expect("writing to a Vec cannot fail");
            let again = History::read_jsonl(&out[..]).unwrap_or_else(|e| {
                panic!("a history that was read does not read back once written: {e}")
            });
            assert_eq!(again, history, "a history changed by a write and read");
        }
        Err(err) => check_history_error(&err, data, &text),
    }
}

fn check_history_error(err: &leasecheck_model::history::HistoryError, data: &[u8], text: &str) {
    let message = err.to_string();
    assert_readable(&message, text);
    if let Some(line) = err.line() {
        assert!(
            (1..=line_count(data)).contains(&line),
            "a history error names line {line} of {} lines: {message}",
            line_count(data)
        );
        assert!(
            message.contains(&format!("line {line}")),
            "a history error with line {line} that does not name it: {message}"
        );
    }
}

/// Read `data` as a line an adapter wrote (`--exec`): the first byte picks
/// what the harness waits for (a hello, or the answer to a request of each
/// operation, for an adapter with or without epochs), the rest is the line,
/// read as the harness reads it (lossy UTF-8). Bad lines give a readable
/// error; what reads writes back to a line that reads the same.
pub fn check_adapter_line(data: &[u8]) {
    use leasecheck::adapter::{Hello, ProtocolOp, Request};
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let line = String::from_utf8_lossy(rest);
    if pick % 7 == 6 {
        match Hello::parse(&line) {
            Ok(hello) => assert_eq!(Hello::parse(&hello.to_line()).as_ref(), Ok(&hello)),
            Err(e) => assert_readable(&e.to_string(), &line),
        }
        return;
    }
    let op = [
        ProtocolOp::TryAcquire,
        ProtocolOp::Renew,
        ProtocolOp::Release,
    ][usize::from(pick % 3)];
    let epoch = pick % 7 >= 3;
    let request = Request {
        id: u64::from(pick),
        op,
    };
    match request.answer(&line, epoch) {
        Ok(answer) => assert_eq!(
            request.answer(&answer.to_line(request.id), epoch).as_ref(),
            Ok(&answer)
        ),
        Err(e) => assert_readable(&e.to_string(), &line),
    }
}
