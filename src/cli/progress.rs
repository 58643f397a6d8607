//! A progress bar that appears only once a run has lasted a couple of
//! seconds, and never when stderr is not a terminal; it names the
//! scenarios running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Progress {
    bar: indicatif::ProgressBar,
    enabled: bool,
    shown: AtomicBool,
    started: Instant,
}

impl Progress {
    const DELAY: Duration = Duration::from_secs(2);

    /// A bar of `total` steps; `off` (or a stderr that is no terminal)
    /// never shows it.
    pub fn new(total: u64, off: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {wide_msg}",
        ) {
            bar.set_style(style);
        }
        Progress {
            bar,
            enabled: !off && std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// Take the bar off the screen.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Put the bar on the screen once the run has lasted long enough.
    fn show_when_due(&self) {
        if self.enabled
            && self.started.elapsed() >= Self::DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }
}

impl leasecheck::battery::Watch for Progress {
    /// One step done.
    fn tick(&self) {
        self.bar.inc(1);
        self.show_when_due();
    }

    /// What runs now, after the count.
    fn running(&self, scenarios: &[String]) {
        self.bar.set_message(scenarios.join(", "));
        self.show_when_due();
    }
}
