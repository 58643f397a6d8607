//! The HTML report in a real browser: `scripts/screenshot.sh` opens a page
//! in headless Chromium (installed by `scripts/setup.sh`), takes a
//! screenshot and fails if the page logged anything. Without Chromium these
//! tests fail, naming what to install: they are never skipped.

use crate::support::leasecheck;
use std::path::Path;
use std::process::{Command, Output};

fn screenshot(page: &Path, png: &Path) -> Output {
    Command::new("bash")
        .arg("scripts/screenshot.sh")
        .arg(page)
        .arg(png)
        .arg("1200x900")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/screenshot.sh")
}

/// Width and height of a PNG, from its header.
fn png_size(png: &Path) -> (u32, u32) {
    let bytes = std::fs::read(png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

fn says(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_violation_s_report_opens_in_chromium_without_logging_an_error() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let out = dir.path().join("out");
    let run = leasecheck(&[
        "reproduce",
        "check-then-act",
        "--seed",
        "4",
        "--report",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", says(&run));
    let png = dir.path().join("shot.png");
    let shot = screenshot(&out.join("index.html"), &png);
    assert_eq!(
        shot.status.code(),
        Some(0),
        "scripts/screenshot.sh (Chromium from scripts/setup.sh):\n{}",
        says(&shot)
    );
    assert_eq!(png_size(&png), (1200, 900));
}

#[test]
fn a_page_that_logs_an_error_fails_the_browser_check() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("index.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>broken</p>\
         <script>console.error('drawn wrong'); notDefined();</script></body></html>",
    )
    .unwrap();
    let shot = screenshot(&page, &dir.path().join("shot.png"));
    assert_eq!(shot.status.code(), Some(1), "{}", says(&shot));
    assert!(says(&shot).contains("drawn wrong"), "{}", says(&shot));
}
