//! The verdict on one recorded scenario: the only judge there is. A run
//! judges each scenario's [`Section`] as soon as it is recorded, and
//! `leasecheck check-history` judges the sections it reads from a file with
//! the same function, so the offline verdict of a recording is the online
//! one by construction.
//!
//! A section is judged on its own, never together with another scenario's
//! events: its runner's findings are reported as recorded (they depend on
//! what the runner knew while running: see [`leasecheck_model::recording`]),
//! then the checker judges its events (P6, P7, P8 on actions) with the
//! section's own options. A section that could not be done keeps the status
//! it was recorded with (unless its runner had already found a violation,
//! which stands) and its events are not judged: they may be missing the
//! calls of a thread that failed, and a history with a call missing could
//! show a violation that never happened.
//!
//! # Stale writes
//!
//! `zombie/<fault>` ([`crate::scenario::zombie`]) runs in `leasecheck zombie`
//! and in `leasecheck check`. No lease alone can stop a leader whose work
//! outlasts it: P8 is a property of fenced leases only. So a section
//! recorded by `leasecheck check` on a lease without fencing epochs says
//! `stale_writes = informational`, and its stale writes are a figure
//! (`stale writes N (no fencing: informational)`), not violations; every
//! other section reports each one as a P8 violation.

use crate::report::{Scenario, Status};
use leasecheck_model::check::{self, Property};
use leasecheck_model::history::{Event, History};
use leasecheck_model::recording::{AbortKind, Section, StaleWrites};
use leasecheck_model::Span;

/// How many of the checker's violations a scenario lists (the rest are
/// counted in the figure `checker violations`).
pub const SHOWN: usize = 3;

/// Judge one recorded scenario.
pub fn judge(section: &Section) -> Scenario {
    let mut scenario = Scenario::new(section.header.scenario.clone());
    let ttl = section.history.ttl;
    for f in &section.findings {
        scenario.violation(
            f.property,
            f.message.clone(),
            timeline_of(ttl, &f.events),
            f.events.clone(),
        );
    }
    match &section.aborted {
        // A violation the runner proved before the scenario broke off is
        // still a violation (exit 1, never a 2 a CI might retry); why it
        // broke off is shown beside it.
        Some(aborted) if !section.findings.is_empty() => {
            scenario.figure_noted(
                "could not finish",
                aborted.reason.clone(),
                "the violations above were found before",
            );
        }
        Some(aborted) => {
            scenario.status = match aborted.kind {
                AbortKind::Error => Status::Error(aborted.reason.clone()),
                AbortKind::NotApplicable => Status::NotApplicable(aborted.reason.clone()),
                AbortKind::Interrupted => Status::Interrupted,
            };
        }
        None => {
            judge_events(
                &section.history,
                &mut scenario,
                section.header.stale_writes == StaleWrites::Informational,
            );
            // A scenario that checked nothing of what it exists for never
            // passes (a violation its events show still stands).
            if let (Status::Passed, Some(why)) = (&scenario.status, &section.unchecked) {
                scenario.status = Status::Error(why.clone());
            }
        }
    }
    scenario
}

/// The checker's verdict on a scenario's events (P7, P6, P8 on actions).
/// With `p8_informational`, stale writes are a figure, not violations.
fn judge_events(history: &History, scenario: &mut Scenario, p8_informational: bool) {
    let mut verdict = check::check(history);
    let actions = check::check_actions(history);
    if actions.accepted + actions.refused > 0 {
        let stale = actions.stale.len();
        if p8_informational {
            scenario.figure_noted("stale writes", stale, "no fencing: informational");
        } else {
            scenario.figure("stale writes", stale);
        }
    }
    if p8_informational {
        verdict
            .violations
            .retain(|v| v.property != Property::P8FencingEpoch);
    }
    for v in verdict.violations.iter().take(SHOWN) {
        let window = context(history, &v.window);
        let shown = v
            .window
            .iter()
            .filter_map(|&i| history.events.get(i))
            .copied();
        scenario.violation(
            v.property,
            v.message.clone(),
            check::timeline(history, &window),
            shown.collect(),
        );
    }
    if verdict.violations.len() > SHOWN {
        scenario.figure("checker violations", verdict.violations.len());
    }
    // A history the checker could not decide (its search budget ran out)
    // makes a scenario with no violation an error, never a pass.
    if let Some(i) = verdict.inconclusive.first() {
        if scenario.status == Status::Passed {
            scenario.status = Status::Error(format!("the checker could not decide: {i}"));
        }
    }
}

/// The events of `window` and a few around them, at most 24.
fn context(history: &History, window: &[usize]) -> Vec<usize> {
    let (Some(&lo), Some(&hi)) = (window.iter().min(), window.iter().max()) else {
        return Vec::new();
    };
    if hi - lo >= 24 {
        return window.to_vec();
    }
    let lo = lo.saturating_sub(3);
    let hi = (hi + 3).min(history.events.len().saturating_sub(1));
    (lo..=hi).collect()
}

/// The timeline of a finding's events, in the order they were invoked.
fn timeline_of(ttl: Span, events: &[Event]) -> check::Timeline {
    let mut events = events.to_vec();
    events.sort_by_key(|e| (e.invoke, e.complete));
    let history = History {
        semantics: Default::default(),
        ttl,
        events,
    };
    let all: Vec<usize> = (0..history.events.len()).collect();
    check::timeline(&history, &all)
}
