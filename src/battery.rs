//! The batteries behind `leasecheck race`, `takeover`, `zombie` and `check`:
//! run the scenarios, judge each one's history with the checker, and build
//! the [`Report`].
//!
//! # The zombie scenario in `check`
//!
//! `zombie/<fault>` ([`crate::zombie`]) runs against the lease under test in
//! both `leasecheck zombie` and `leasecheck check`, but is judged differently
//! for a lease without fencing epochs (the reference lease, or a spec
//! without `epoch = true`). No lease alone can stop a leader whose work
//! outlasts it (DESIGN.md section 2a): P8 is a property of fenced leases
//! only. So:
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

use crate::fault::Fault;
use crate::history::{Recorder, Reply};
use crate::provision::Postgres;
use crate::report::{Scenario, Status};
use crate::stress::{self, RaceOptions};
use crate::subject::{RunError, Subject};
use crate::takeover::{self, TakeoverOptions};
use crate::zombie::{self, ZombieOptions};
use leasecheck_model::check::{self, Property};
use leasecheck_model::history::{Call, Event, History};
use leasecheck_model::{Candidate, Op};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Which scenarios to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Battery {
    /// P1: the race battery only.
    Race,
    /// P2-P6: takeovers under the chosen faults only.
    Takeover,
    /// P8 (DESIGN.md 2a): a leader whose work outlasts its lease, under the
    /// chosen faults only; stale writes are violations, fenced or not.
    Zombie,
    /// Everything: race, release and non-holder semantics, every takeover,
    /// every zombie (stale writes of an unfenced lease only informational).
    All,
}

/// Settings of a battery.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Race settings (seed included).
    pub race: RaceOptions,
    /// Takeover settings.
    pub takeover: TakeoverOptions,
    /// Zombie settings.
    pub zombie: ZombieOptions,
    /// Candidates per race: one race scenario for each (the race options'
    /// `candidates` is ignored when this is not empty).
    pub race_sizes: Vec<usize>,
    /// Faults to run takeovers under.
    pub faults: Vec<Fault>,
    /// Takeover trials per fault.
    pub trials: usize,
    /// Whether to record histories (and check them).
    pub record: bool,
}

/// Everything a battery produced.
pub struct Outcome {
    /// The verdicts.
    pub scenarios: Vec<Scenario>,
    /// All recorded events, scenario after scenario.
    pub history: History,
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
    let mut plan: Vec<Plan> = Vec::new();
    if matches!(battery, Battery::Race | Battery::All) {
        if settings.race_sizes.is_empty() {
            plan.push(Plan::Race(settings.race.candidates));
        }
        for &n in &settings.race_sizes {
            plan.push(Plan::Race(n));
        }
    }
    if battery == Battery::All {
        plan.push(Plan::Semantics);
        plan.push(Plan::Conformance);
    }
    if matches!(battery, Battery::Takeover | Battery::All) {
        for &fault in &settings.faults {
            for trial in 0..settings.trials {
                plan.push(Plan::Takeover(fault, trial));
            }
        }
    }
    if matches!(battery, Battery::Zombie | Battery::All) {
        for &fault in &settings.faults {
            for trial in 0..settings.trials {
                plan.push(Plan::Zombie(fault, trial));
            }
        }
    }
    for step in plan {
        let name = step.name(settings.trials, settings.race_sizes.len());
        let mut scenario = Scenario::new(name);
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
            let ran = match step {
                Plan::Race(n) => race(&mut subject, settings, n, &rec, cancel, tick, &mut scenario),
                Plan::Semantics => semantics(&mut subject, &rec, &mut scenario),
                Plan::Conformance => {
                    conformance(&mut subject, settings, &rec, cancel, &mut scenario)
                }
                Plan::Takeover(fault, _) => {
                    takeover(pg, &mut subject, fault, settings, &rec, &mut scenario)
                }
                Plan::Zombie(fault, _) => {
                    zombie(pg, &mut subject, fault, settings, &rec, &mut scenario)
                }
            };
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

#[derive(Clone, Copy)]
enum Plan {
    Race(usize),
    Semantics,
    Conformance,
    Takeover(Fault, usize),
    Zombie(Fault, usize),
}

impl Plan {
    fn name(self, trials: usize, sizes: usize) -> String {
        match self {
            Plan::Race(_) if sizes <= 1 => "race".into(),
            Plan::Race(n) => format!("race/N={n}"),
            Plan::Semantics => "release-and-non-holder".into(),
            Plan::Conformance => "conformance".into(),
            Plan::Takeover(f, _) if trials <= 1 => format!("takeover/{f}"),
            Plan::Takeover(f, t) => format!("takeover/{f}#{}", t + 1),
            Plan::Zombie(f, _) if trials <= 1 => format!("zombie/{f}"),
            Plan::Zombie(f, t) => format!("zombie/{f}#{}", t + 1),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn race(
    subject: &mut Subject,
    settings: &Settings,
    candidates: usize,
    rec: &Recorder,
    cancel: &AtomicBool,
    tick: &(dyn Fn() + Sync),
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    let opts = RaceOptions {
        candidates,
        ..settings.race.clone()
    };
    let r = stress::race(subject, &opts, rec, cancel, tick)?;
    scenario.figure("candidates", r.candidates);
    scenario.figure("rounds", r.rounds);
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
            timeline_of(rec.ttl_span(), &bad.events),
        );
    }
    if r.bad_rounds.len() > 3 {
        scenario.figure("bad rounds", r.bad_rounds.len());
    }
    if cancel.load(Ordering::Relaxed) {
        return Err(RunError::Interrupted);
    }
    Ok(())
}

/// Operations of the conformance scenario.
pub const CONFORMANCE_STEPS: usize = 300;

/// P7 on a random sequential history: three candidates call random
/// operations while the harness moves time forward, with `age` where the
/// lease has it (no sleeping) and by waiting past the TTL where it has not
/// (a few times only). The checker then judges the history against the
/// model: with one call at a time there is a single order, so every outcome
/// is compared with the model's, and time is judged within each call's window.
fn conformance(
    subject: &mut Subject,
    settings: &Settings,
    rec: &Recorder,
    cancel: &AtomicBool,
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.race.seed ^ 0xC0FF_EE00);
    let ttl = subject.ttl().as_duration();
    let mut contenders = (0..3)
        .map(|i| subject.contender(Candidate(i), None))
        .collect::<Result<Vec<_>, _>>()?;
    let (reset, _) = rec.call(crate::history::HARNESS, Call::Reset, || {
        subject.reset().map(|_| Reply::DONE)
    });
    reset?;
    let can_age = subject.can_age();
    let mut waits = 0;
    for _ in 0..CONFORMANCE_STEPS {
        if cancel.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        if rng.gen_bool(0.15) {
            if can_age {
                // Half a TTL or one and a half: both sides of the boundary.
                let by = if rng.gen_bool(0.5) {
                    ttl / 2
                } else {
                    ttl * 3 / 2
                };
                let (r, _) = rec.call(
                    crate::history::HARNESS,
                    Call::Age {
                        by: leasecheck_model::Span::from_duration(by),
                    },
                    || subject.age(by).map(|_| Reply::DONE),
                );
                r?;
            } else if waits < 3 {
                waits += 1;
                std::thread::sleep(ttl + ttl / 2);
            }
            continue;
        }
        let who = rng.gen_range(0..contenders.len());
        let op = Op::ALL[rng.gen_range(0..Op::ALL.len())];
        let c = &mut contenders[who];
        let (r, _) = rec.call(Candidate(who as u16), Call::Lease { op }, || c.call(op));
        r?;
    }
    scenario.figure("operations", CONFORMANCE_STEPS);
    scenario.figure("time moved by", if can_age { "age" } else { "waiting" });
    Ok(())
}

/// P5 and the non-holder rules, as one short sequence on a real lease.
fn semantics(
    subject: &mut Subject,
    rec: &Recorder,
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    let (a, b) = (Candidate(0), Candidate(1));
    let mut ca = subject.contender(a, None)?;
    let mut cb = subject.contender(b, None)?;
    subject.reset()?;
    let steps: [(Candidate, Op, bool, Property, &str); 7] = [
        (
            a,
            Op::TryAcquire,
            true,
            Property::P1ExactlyOneWinner,
            "acquire of a free lease",
        ),
        (
            a,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "re-acquire by the holder of a fresh lease",
        ),
        (
            b,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "acquire of a fresh lease held by another",
        ),
        (
            b,
            Op::Renew,
            false,
            Property::P5ReleaseFreesAtOnce,
            "renew by a non-holder",
        ),
        (
            b,
            Op::Release,
            false,
            Property::P5ReleaseFreesAtOnce,
            "release by a non-holder",
        ),
        (
            a,
            Op::Release,
            true,
            Property::P5ReleaseFreesAtOnce,
            "release by the holder",
        ),
        (
            b,
            Op::TryAcquire,
            true,
            Property::P5ReleaseFreesAtOnce,
            "acquire right after a release",
        ),
    ];
    let mut seen: Vec<Event> = Vec::new();
    for (who, op, expect, property, what) in steps {
        let c = if who == a { &mut ca } else { &mut cb };
        let (r, e) = rec.call(who, Call::Lease { op }, || c.call(op));
        seen.push(e);
        let Reply { took_effect, .. } = r?;
        if took_effect != expect {
            scenario.violation(
                property,
                format!("{what}: {who} {op} returned {took_effect}, expected {expect}"),
                timeline_of(rec.ttl_span(), &seen),
            );
        }
    }
    Ok(())
}

fn takeover(
    pg: &Postgres,
    subject: &mut Subject,
    fault: Fault,
    settings: &Settings,
    rec: &Recorder,
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    let r = takeover::trial(pg, subject, fault, &settings.takeover, rec)?;
    if let Some(w) = r.winner {
        scenario.figure("winner", w);
    }
    if let Some(l) = r.takeover_latency {
        scenario.figure("takeover", format!("{:.0}ms", l.as_secs_f64() * 1e3));
        let floor = subject.ttl().as_duration() + settings.takeover.poll_interval;
        scenario.figure("floor", format!("{:.0}ms", floor.as_secs_f64() * 1e3));
    }
    if let Some(learned) = r.leader_learned {
        scenario.figure(
            "leader renew after stall",
            if learned { "false" } else { "true" },
        );
    }
    for f in r.findings {
        scenario.violation(
            f.property,
            f.message,
            timeline_of(rec.ttl_span(), &f.events),
        );
    }
    Ok(())
}

/// The zombie scenario (DESIGN.md 2a, P8): see [`crate::zombie`].
fn zombie(
    pg: &Postgres,
    subject: &mut Subject,
    fault: Fault,
    settings: &Settings,
    rec: &Recorder,
    scenario: &mut Scenario,
) -> Result<(), RunError> {
    let r = zombie::trial(pg, subject, fault, &settings.zombie, rec)?;
    scenario.figure("rounds", format!("{}/{}", r.staged, settings.zombie.rounds));
    if let (Some(first), Some(last)) = (r.epochs.first(), r.epochs.last()) {
        scenario.figure("epochs", format!("{first}..{last}"));
    }
    let writes = r.accepted + r.refused;
    if r.fenced {
        scenario.figure("stalled writes refused", format!("{}/{writes}", r.refused));
    } else {
        scenario.figure(
            "stalled writes accepted",
            format!("{}/{writes}", r.accepted),
        );
    }
    if writes > 0 {
        scenario.figure("leader learned", format!("{}/{writes}", r.learned));
    }
    for f in r.findings.into_iter().take(3) {
        scenario.violation(
            f.property,
            f.message,
            timeline_of(rec.ttl_span(), &f.events),
        );
    }
    Ok(())
}

/// Judge a scenario's history with the checker (P7, P6, P8 on actions).
/// With `p8_informational`, stale writes are a figure, not violations (see
/// the module docs).
fn judge(history: &History, scenario: &mut Scenario, p8_informational: bool) {
    let mut verdict = check::check(history);
    let actions = check::check_actions(history);
    if actions.accepted + actions.refused > 0 {
        let note = if p8_informational {
            " (no fencing: informational)"
        } else {
            ""
        };
        scenario.figure("stale writes", format!("{}{note}", actions.stale.len()));
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

fn timeline_of(ttl: leasecheck_model::Span, events: &[Event]) -> String {
    let mut events = events.to_vec();
    events.sort_by_key(|e| (e.invoke, e.complete));
    let history = History { ttl, events };
    let all: Vec<usize> = (0..history.events.len()).collect();
    check::timeline(&history, &all)
}

fn micros(v: u64) -> String {
    if v >= 10_000 {
        format!("{:.1}ms", v as f64 / 1e3)
    } else {
        format!("{:.2}ms", v as f64 / 1e3)
    }
}
