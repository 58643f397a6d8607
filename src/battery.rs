//! The batteries behind `leasecheck race`, `takeover`, `zombie` and `check`:
//! plan which scenarios run, run each against a fresh subject, and judge
//! what it observed (its own findings and the checker's verdict on its
//! history) into a [`Scenario`] of the report.
//!
//! The battery only plans and judges: the scenarios run the calls, the
//! settings come validated from [`crate::settings`], and the report formats.
//!
//! # The zombie scenario in `check`
//!
//! `zombie/<fault>` ([`crate::scenario::zombie`]) runs against the lease
//! under test in both `leasecheck zombie` and `leasecheck check`, but is
//! judged differently for a lease without fencing epochs (the reference
//! lease, or a spec without `epoch = true`). No lease alone can stop a
//! leader whose work outlasts it: P8 is a property of fenced leases only.
//! So:
//!
//! - `leasecheck zombie` reports every stale write as a P8 violation
//!   (exit 1 on the reference lease: that is its point);
//! - `leasecheck check` reports them, for an unfenced lease, as an
//!   informational figure (`stale writes N (no fencing: informational)`),
//!   so that the reference lease still passes the CI gate; for a fenced
//!   lease (`--fenced`, or a spec with `epoch = true`) they are violations
//!   there too.
//!
//! Every other property (P1-P7, and the runner's P3, P4 and epoch checks)
//! is judged in the zombie scenario as everywhere else.

use crate::database::Postgres;
use crate::fault::Fault;
use crate::recorder::Recorder;
use crate::report::{Quantity, Scenario, Status};
use crate::scenario::{conformance, race, semantics, takeover, zombie};
use crate::scenario::{RunError, Subject, TrialFinding};
use crate::settings::Settings;
use leasecheck_model::check::{self, Property};
use leasecheck_model::history::{Event, History};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Which scenarios to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Battery {
    /// P1: the race battery only.
    Race,
    /// P2-P6: takeovers under the chosen faults only.
    Takeover,
    /// P8: a leader whose work outlasts its lease, under the chosen faults
    /// only; stale writes are violations, fenced or not.
    Zombie,
    /// Everything: race, release and non-holder semantics, every takeover,
    /// every zombie (stale writes of an unfenced lease only informational).
    All,
}

/// Everything a battery produced.
pub struct Outcome {
    /// The verdicts.
    pub scenarios: Vec<Scenario>,
    /// All recorded events, scenario after scenario.
    pub history: History,
}

/// One scenario of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A race of this many candidates.
    Race(usize),
    /// The release and non-holder rules.
    Semantics,
    /// Random sequential calls.
    Conformance,
    /// A takeover under a fault (trial number from 0).
    Takeover(Fault, usize),
    /// A zombie under a fault (trial number from 0).
    Zombie(Fault, usize),
}

impl Battery {
    /// The scenarios this battery runs with `settings`, in order.
    pub fn plan(self, settings: &Settings) -> Vec<Plan> {
        let mut plan = Vec::new();
        if matches!(self, Battery::Race | Battery::All) {
            plan.extend(settings.race_sizes.iter().map(|&n| Plan::Race(n)));
        }
        if self == Battery::All {
            plan.push(Plan::Semantics);
            plan.push(Plan::Conformance);
        }
        // Every trial of every fault, in the order of `--faults`.
        let per_fault = |make: fn(Fault, usize) -> Plan| {
            let trials = 0..settings.trials;
            settings
                .faults
                .iter()
                .flat_map(move |&fault| trials.clone().map(move |trial| make(fault, trial)))
        };
        if matches!(self, Battery::Takeover | Battery::All) {
            plan.extend(per_fault(Plan::Takeover));
        }
        if matches!(self, Battery::Zombie | Battery::All) {
            plan.extend(per_fault(Plan::Zombie));
        }
        plan
    }

    /// How many progress ticks a run of this battery makes (a race ticks
    /// once per round and once at its end, every other scenario once).
    pub fn progress_total(self, settings: &Settings) -> u64 {
        self.plan(settings)
            .iter()
            .map(|p| match p {
                Plan::Race(_) => settings.race.rounds as u64 + 1,
                _ => 1,
            })
            .sum()
    }
}

impl Plan {
    /// The scenario's name in reports.
    pub fn name(self, settings: &Settings) -> String {
        let trial = |t: usize| {
            if settings.trials <= 1 {
                String::new()
            } else {
                format!("#{}", t + 1)
            }
        };
        match self {
            Plan::Race(_) if settings.race_sizes.len() <= 1 => "race".into(),
            Plan::Race(n) => format!("race/N={n}"),
            Plan::Semantics => "release-and-non-holder".into(),
            Plan::Conformance => "conformance".into(),
            Plan::Takeover(f, t) => format!("takeover/{f}{}", trial(t)),
            Plan::Zombie(f, t) => format!("zombie/{f}{}", trial(t)),
        }
    }
}

/// Run `battery` against a fresh subject made by `make` for each scenario.
/// Errors of one scenario are reported in it; the others still run.
pub fn run(
    pg: &Postgres,
    make: &dyn Fn() -> Result<Subject, RunError>,
    battery: Battery,
    settings: &Settings,
    cancel: &AtomicBool,
    tick: &(dyn Fn() + Sync),
) -> Outcome {
    let mut scenarios = Vec::new();
    let mut all = History::default();
    for step in battery.plan(settings) {
        let mut scenario = Scenario::new(step.name(settings));
        if cancel.load(Ordering::Relaxed) {
            scenario.status = Status::Interrupted;
            scenarios.push(scenario);
            continue;
        }
        let started = Instant::now();
        let result = make().and_then(|mut subject| {
            let ttl = subject.ttl();
            all.ttl = ttl.as_span();
            let rec = Recorder::new(ttl, settings.record);
            let ran = run_one(
                pg,
                &mut subject,
                step,
                settings,
                &rec,
                cancel,
                tick,
                &mut scenario,
            );
            tick();
            let history = rec.history();
            if ran.is_ok() && settings.record {
                // see the module docs: P8 is informational in `check` for a
                // lease without epochs
                let informational = battery == Battery::All && !subject.is_fenced();
                judge(&history, &mut scenario, informational);
            }
            all.events.extend(history.events);
            subject.drop_schema()?;
            ran
        });
        scenario.duration = started.elapsed();
        match result {
            Ok(()) => {}
            Err(RunError::NotApplicable(why)) => scenario.status = Status::NotApplicable(why),
            Err(RunError::Interrupted) => scenario.status = Status::Interrupted,
            Err(e) => scenario.status = Status::Error(e.to_string()),
        }
        if cancel.load(Ordering::Relaxed) && scenario.status == Status::Passed {
            scenario.status = Status::Interrupted;
        }
        scenarios.push(scenario);
    }
    Outcome {
        scenarios,
        history: all,
    }
}

/// Run one planned scenario and turn what it observed into the report's
/// figures and findings.
#[allow(clippy::too_many_arguments)]
fn run_one(
    pg: &Postgres,
    subject: &mut Subject,
    step: Plan,
    settings: &Settings,
    rec: &Recorder,
    cancel: &AtomicBool,
    tick: &(dyn Fn() + Sync),
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    let ttl = rec.ttl_span();
    match step {
        Plan::Race(candidates) => {
            let opts = race::RaceOptions {
                candidates,
                ..settings.race.clone()
            };
            let r = race::race(subject, &opts, rec, cancel, tick)?;
            scenario.figure("candidates", r.candidates);
            scenario.figure("rounds", r.rounds);
            let micros = |v: u64| Duration::from_micros(v);
            scenario.figure("p50", micros(r.latency.value_at_quantile(0.5)));
            scenario.figure("p99", micros(r.latency.value_at_quantile(0.99)));
            scenario.figure("max", micros(r.latency.max()));
            for bad in r.bad_rounds.iter().take(3) {
                let winners: Vec<String> = bad.winners.iter().map(|c| c.to_string()).collect();
                let what = if bad.stale { "a stale" } else { "a free" };
                scenario.violation(
                    Property::P1ExactlyOneWinner,
                    format!(
                        "round {}: {} candidates raced on {what} lease and {} won [{}]",
                        bad.round,
                        r.candidates,
                        bad.winners.len(),
                        winners.join(", ")
                    ),
                    timeline_of(ttl, &bad.events),
                );
            }
            if r.bad_rounds.len() > 3 {
                scenario.figure("bad rounds", r.bad_rounds.len());
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(RunError::Interrupted);
            }
        }
        Plan::Semantics => {
            let findings = semantics::run(subject, rec)?;
            report_findings(scenario, ttl, findings, usize::MAX);
        }
        Plan::Conformance => {
            let r = conformance::run(subject, settings.seed, rec, cancel)?;
            scenario.figure("operations", r.operations);
            scenario.figure("time moved by", if r.aged { "age" } else { "waiting" });
        }
        Plan::Takeover(fault, _) => {
            let r = takeover::trial(pg, subject, fault, &settings.takeover, rec)?;
            if let Some(w) = r.winner {
                scenario.figure("winner", w.to_string());
            }
            if let Some(latency) = r.takeover_latency {
                scenario.figure("takeover", latency);
                let floor = subject.ttl().as_duration() + settings.takeover.poll_interval;
                scenario.figure("floor", floor);
            }
            if let Some(learned) = r.leader_learned {
                scenario.figure("leader renew after stall", !learned);
            }
            report_findings(scenario, ttl, r.findings, usize::MAX);
        }
        Plan::Zombie(fault, _) => {
            let r = zombie::trial(pg, subject, fault, &settings.zombie, rec)?;
            scenario.figure(
                "rounds",
                Quantity::Fraction {
                    value: r.staged as u64,
                    of: settings.zombie.rounds as u64,
                },
            );
            if let (Some(&from), Some(&to)) = (r.epochs.first(), r.epochs.last()) {
                scenario.figure("epochs", Quantity::Range { from, to });
            }
            let writes = (r.accepted + r.refused) as u64;
            let fraction = |value: usize| Quantity::Fraction {
                value: value as u64,
                of: writes,
            };
            if r.fenced {
                scenario.figure("stalled writes refused", fraction(r.refused));
            } else {
                scenario.figure("stalled writes accepted", fraction(r.accepted));
            }
            if writes > 0 {
                scenario.figure("leader learned", fraction(r.learned));
            }
            report_findings(scenario, ttl, r.findings, 3);
        }
    }
    Ok(())
}

/// A runner's own findings as violations, at most `most` of them.
fn report_findings(
    scenario: &mut Scenario,
    ttl: leasecheck_model::Span,
    findings: Vec<TrialFinding>,
    most: usize,
) {
    for f in findings.into_iter().take(most) {
        scenario.violation(f.property, f.message, timeline_of(ttl, &f.events));
    }
}

/// Judge a scenario's history with the checker (P7, P6, P8 on actions).
/// With `p8_informational`, stale writes are a figure, not violations (see
/// the module docs).
fn judge(history: &History, scenario: &mut Scenario, p8_informational: bool) {
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
    for v in verdict.violations.iter().take(3) {
        let window = context(history, &v.window);
        scenario.violation(
            v.property,
            v.message.clone(),
            check::timeline(history, &window),
        );
    }
    if verdict.violations.len() > 3 {
        scenario.figure("checker violations", verdict.violations.len());
    }
    undecided(&verdict, scenario);
}

/// The offline verdict on a recorded history (`leasecheck check-history`):
/// P6, P7, and P8 on its actions.
pub fn judge_recorded(name: impl Into<String>, history: &History) -> Scenario {
    let verdict = check::check(history);
    let mut scenario = Scenario::new(name);
    scenario.figure("events", history.events.len());
    for v in &verdict.violations {
        scenario.violation(
            v.property,
            v.message.clone(),
            check::timeline(history, &v.window),
        );
    }
    undecided(&verdict, &mut scenario);
    scenario
}

/// A history the checker could not decide (its search budget ran out) makes
/// a scenario with no violation an error, never a pass.
fn undecided(verdict: &check::Verdict, scenario: &mut Scenario) {
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

fn timeline_of(ttl: leasecheck_model::Span, events: &[Event]) -> check::Timeline {
    let mut events = events.to_vec();
    events.sort_by_key(|e| (e.invoke, e.complete));
    let history = History { ttl, events };
    let all: Vec<usize> = (0..history.events.len()).collect();
    check::timeline(&history, &all)
}
