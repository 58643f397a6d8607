//! Ctrl-C, SIGTERM and SIGHUP (a CI job cancelled, a `timeout`): the first
//! stops a run between steps and lets every guard undo what leasecheck made
//! (servers, faults, schemas); a second one exits at once.

use anyhow::{Context, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Install the handler, before anything is started; the flag it sets.
pub fn install() -> Result<Arc<AtomicBool>> {
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("leasecheck: interrupted twice, exiting now");
            // No drop runs on this exit: the watchdog kills the adapters and
            // servers leasecheck started, and removes their directories,
            // once this process is gone (leasecheck::process::watchdog).
            std::process::exit(2);
        }
        eprintln!(
            "leasecheck: interrupted: undoing what leasecheck started, then reporting what was done"
        );
    })
    .context("cannot install the Ctrl-C (SIGINT, SIGTERM, SIGHUP) handler")?;
    Ok(cancel)
}
