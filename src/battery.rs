//! The batteries behind `leasecheck race`, `takeover`, `zombie` and `check`:
//! plan which scenarios run, run each against a fresh subject, and judge
//! what it observed (its own findings and the checker's verdict on its
//! history) into a [`Scenario`] of the report.
//!
//! The battery only plans and judges: the scenarios run the calls, the
//! settings come validated from [`crate::settings`], and the report formats.
//!
//! Every scenario is recorded in a [`Section`] of its own (its events, its
//! runner's findings, how it ended) and judged by [`verdict::judge`], the
//! same function `leasecheck check-history` applies to a recorded file.
//! A zombie's stale writes are informational in `check` for a lease without
//! fencing epochs (see [`crate::verdict`]).

use crate::database::{Postgres, Source};
use crate::fault::{Durability, Fault};
use crate::recorder::Recorder;
use crate::report::{Figure, Quantity, Scenario, Status};
use crate::scenario::{conformance, durability, race, semantics, takeover, zombie};
use crate::scenario::{RunError, Subject};
use crate::settings::Settings;
use crate::verdict;
use leasecheck_model::history::History;
use leasecheck_model::recording::{
    AbortKind, Aborted, Finding, Section, SectionHeader, StaleWrites,
};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
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
    /// P9: an acknowledged acquire across a crash of the server only.
    Durability,
    /// Everything: race, release and non-holder semantics, every takeover,
    /// every zombie under a stall fault (stale writes of an unfenced lease
    /// only informational), and durability when `crash-restart` is among
    /// the faults.
    All,
}

/// Everything a battery produced.
pub struct Outcome {
    /// The verdicts.
    pub scenarios: Vec<Scenario>,
    /// What each scenario recorded, in the same order (one section per
    /// scenario, never one history of them all).
    pub sections: Vec<Section>,
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
    /// Acknowledged acquires across crashes of the server.
    Durability,
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
        // A fault the zombie does not take is planned only when `zombie
        // --faults` names it (and then n/a, saying why).
        let stalls = |p: &Plan| !matches!(p, Plan::Zombie(f, _) if !f.in_zombie());
        match self {
            Battery::Zombie if settings.faults_given => plan.extend(per_fault(Plan::Zombie)),
            Battery::Zombie | Battery::All => plan.extend(per_fault(Plan::Zombie).filter(stalls)),
            _ => {}
        }
        let crashes = settings.faults.contains(&Fault::CrashRestart);
        if self == Battery::Durability || (self == Battery::All && crashes) {
            plan.push(Plan::Durability);
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
    /// The fault it injects, if any.
    pub fn fault(self) -> Option<Fault> {
        match self {
            Plan::Takeover(f, _) | Plan::Zombie(f, _) => Some(f),
            Plan::Durability => Some(Fault::CrashRestart),
            Plan::Race(_) | Plan::Semantics | Plan::Conformance => None,
        }
    }

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
            Plan::Durability => match settings.durability.durability {
                Durability::Durable => "durability".into(),
                Durability::AsyncCommit => "durability/synchronous-commit=off".into(),
            },
        }
    }
}

/// What a battery runs against: the lease under test and how to make a
/// fresh subject of it.
pub struct Subjects<'a> {
    /// The lease under test, as the recording's headers name it.
    pub lease: &'a str,
    /// A fresh subject of the lease on the given server.
    pub make: &'a (dyn Fn(&Postgres) -> Result<Subject, RunError> + Sync),
    /// Whether a subject may be made on a throwaway cluster of its own
    /// rather than on the battery's server: not when its calls go through
    /// a pooler in front of that server.
    pub movable: bool,
}

/// Who watches a battery run (the progress bar).
pub trait Watch: Sync {
    /// One step done (see [`Battery::progress_total`]).
    fn tick(&self);
    /// The scenarios running now, by name, in the order they started.
    fn running(&self, scenarios: &[String]);
}

/// Run `battery` against a fresh subject of `subjects` for each scenario.
/// Errors of one scenario are reported in it; the others still run.
///
/// Most scenarios spend their time waiting out TTLs. When the battery's
/// server is a throwaway local cluster and the subject can move (no pooler
/// in front of that server), they run `settings.jobs` at a time, each on a
/// throwaway cluster of its own, started for it and stopped after it: no
/// state can pass between them (a schema would not hold a constant advisory
/// lock key, a pooler's server connections, the backend another's reset
/// ends, nor a crash or failover of the whole server). A race (whose
/// latencies and CPU would disturb the others) runs alone on `pg`, after
/// them. Otherwise (`--jobs 1`, a server from `DATABASE_URL` or a
/// container, a pooler) every scenario runs on `pg`, one after another.
/// The report lists every scenario in the order of the plan either way.
pub fn run(
    pg: &Postgres,
    subjects: &Subjects,
    battery: Battery,
    settings: &Settings,
    cancel: &AtomicBool,
    watch: &dyn Watch,
) -> Outcome {
    let siblings = settings.jobs > 1 && subjects.movable && pg.source() == Source::Local;
    let runner = Runner {
        pg,
        subjects,
        battery,
        settings,
        cancel,
        watch,
        siblings,
        running: Mutex::new(Vec::new()),
    };
    let plan = battery.plan(settings);
    let done: Vec<Mutex<Option<(Scenario, Section)>>> =
        plan.iter().map(|_| Mutex::new(None)).collect();
    let step = |i: usize| {
        let ran = runner.step(plan[i]);
        if let Ok(mut slot) = done[i].lock() {
            *slot = Some(ran);
        }
    };
    let (shared, alone): (Vec<usize>, Vec<usize>) =
        (0..plan.len()).partition(|&i| !runner.runs_alone(plan[i]));
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..settings.jobs.min(shared.len()) {
            s.spawn(|| {
                while let Some(&i) = shared.get(next.fetch_add(1, Ordering::Relaxed)) {
                    step(i);
                }
            });
        }
    });
    alone.into_iter().for_each(step);
    let (scenarios, sections) = done
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .expect("every planned scenario ran (a panic in one is its error)")
        })
        .unzip();
    Outcome {
        scenarios,
        sections,
    }
}

/// What every scenario of one battery run shares.
struct Runner<'a> {
    pg: &'a Postgres,
    subjects: &'a Subjects<'a>,
    battery: Battery,
    settings: &'a Settings,
    cancel: &'a AtomicBool,
    watch: &'a dyn Watch,
    /// Whether scenarios run side by side, each on a cluster of its own.
    siblings: bool,
    /// The names of the scenarios running now.
    running: Mutex<Vec<String>>,
}

impl Runner<'_> {
    /// Whether `step` must run with no other scenario beside it: every
    /// scenario without clusters of their own (on one server, scenarios
    /// side by side could share state no schema holds: a constant advisory
    /// lock key, a pooler's server connections, a backend another's reset
    /// ends), and a race (its latencies are figures, and its N busy
    /// candidates would slow the others' takeovers).
    fn runs_alone(&self, step: Plan) -> bool {
        !self.siblings || matches!(step, Plan::Race(_))
    }

    /// Run one planned scenario against a fresh subject and judge it,
    /// saying to the watcher that it runs while it does.
    fn step(&self, step: Plan) -> (Scenario, Section) {
        let name = step.name(self.settings);
        self.show(|running| running.push(name.clone()));
        let ran = self.judge(step, name.clone());
        self.show(|running| {
            if let Some(at) = running.iter().position(|n| *n == name) {
                running.remove(at);
            }
        });
        ran
    }

    /// The throwaway cluster a scenario run side by side runs on (`None`:
    /// it runs alone, on the battery's server).
    fn own_server(&self, step: Plan) -> Result<Option<Postgres>, RunError> {
        if self.runs_alone(step) {
            Ok(None)
        } else {
            Postgres::start_local()
                .map(Some)
                .map_err(RunError::OwnServer)
        }
    }

    /// Change the list of running scenarios and show it.
    fn show(&self, change: impl FnOnce(&mut Vec<String>)) {
        if let Ok(mut running) = self.running.lock() {
            change(&mut running);
            self.watch.running(&running);
        }
    }

    /// Run one planned scenario, named `name` in the report, against a
    /// fresh subject (on a cluster of its own if it runs side by side) and
    /// judge it.
    fn judge(&self, step: Plan, name: String) -> (Scenario, Section) {
        let Runner {
            subjects,
            battery,
            settings,
            cancel,
            watch,
            ..
        } = *self;
        let tick = &|| watch.tick();
        let started = Instant::now();
        let mut observed = Observed::default();
        let mut section = Section::new(
            SectionHeader {
                scenario: name,
                lease: Some(subjects.lease.to_string()),
                schema: None,
                fault: step.fault().map(|f| f.to_string()),
                seed: Some(settings.seed),
                stale_writes: StaleWrites::Violation,
            },
            History {
                semantics: Default::default(),
                ttl: settings.ttl.as_span(),
                events: Vec::new(),
            },
        );
        let result = if cancel.load(Ordering::Relaxed) {
            Err(RunError::Interrupted)
        } else {
            self.own_server(step).and_then(|own| {
                // `own` outlives the subject: its schema is dropped before
                // the cluster stops.
                let pg = own.as_ref().unwrap_or(self.pg);
                let mut subject = (subjects.make)(pg)?;
                // see crate::verdict: P8 is informational in `check` for a
                // lease without epochs
                if battery == Battery::All && !subject.is_fenced() {
                    section.header.stale_writes = StaleWrites::Informational;
                }
                if step == Plan::Durability {
                    subject.for_durability(settings.durability_ttl);
                }
                section.header.schema = Some(subject.schema_name().as_str().to_string());
                section.history.ttl = subject.ttl().as_span();
                section.history.semantics = subject.semantics();
                let rec = Recorder::new(subject.ttl(), settings.record)
                    .with_semantics(subject.semantics());
                // A panicking runner thread is an error of this scenario
                // (exit 2, with its message), never a shorter history.
                let ran = panic::catch_unwind(AssertUnwindSafe(|| {
                    run_one(
                        pg,
                        &mut subject,
                        step,
                        settings,
                        &rec,
                        cancel,
                        tick,
                        &mut observed,
                    )
                }))
                .unwrap_or_else(|payload| Err(RunError::Panicked(panic_message(&*payload))));
                // An adapter that broke the protocol makes the scenario an
                // error, whatever the runner made of the call that saw it
                // (an unknown outcome, a lost P4 check).
                let ran = subject.unless_adapter_broke(ran);
                tick();
                // What the runner found stands, whatever happened after.
                observed.findings.extend(rec.findings());
                // A lost event makes the scenario an error, never a shorter
                // history that could pass (and its events are then not kept).
                let ran = match rec.history().and_then(|h| Ok((h, rec.fault_windows()?))) {
                    Ok((history, faults)) => {
                        section.history.events = history.events;
                        section.faults = faults;
                        ran
                    }
                    Err(lost) => ran.and(Err(lost.into())),
                };
                let dropped = subject.drop_schema();
                ran.and(dropped)
            })
        };
        section.aborted = match result {
            Ok(()) => None,
            Err(e) => Some(aborted(e)),
        };
        section.findings = observed.findings;
        section.unchecked = observed.unchecked;
        let mut scenario = verdict::judge(&section);
        if scenario.status == Status::Passed && cancel.load(Ordering::Relaxed) {
            // Stopped by Ctrl-C: what ran held, but the scenario is not done.
            section.aborted = Some(aborted(RunError::Interrupted));
            scenario = verdict::judge(&section);
        }
        scenario.figures.splice(0..0, observed.figures);
        scenario.duration = started.elapsed();
        (scenario, section)
    }
}

/// How a scenario that could not be done is recorded.
fn aborted(e: RunError) -> Aborted {
    let (kind, reason) = match e {
        RunError::NotApplicable(why) => (AbortKind::NotApplicable, why),
        RunError::Interrupted => (AbortKind::Interrupted, "interrupted (Ctrl-C)".into()),
        e => (AbortKind::Error, e.to_string()),
    };
    Aborted { kind, reason }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a runner thread panicked".into(),
    }
}

/// What a scenario's runner saw: figures for the report, and the findings
/// it judged itself (recorded with its section).
#[derive(Default)]
struct Observed {
    figures: Vec<Figure>,
    findings: Vec<Finding>,
    /// Why the scenario checked nothing of what it exists for, if so.
    unchecked: Option<String>,
}

impl Observed {
    fn figure(&mut self, name: impl Into<String>, value: impl Into<Quantity>) {
        self.figures.push(Figure::new(name, value));
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
    scenario: &mut Observed,
) -> Result<(), RunError> {
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
            if r.bad_rounds.len() > race::SHOWN_BAD_ROUNDS {
                scenario.figure("bad rounds", r.bad_rounds.len());
            }
            if cancel.load(Ordering::Relaxed) {
                return Err(RunError::Interrupted);
            }
        }
        Plan::Semantics => semantics::run(subject, rec)?,
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
            if let Some(outage) = r.outage {
                scenario.figure("down", outage.down);
                let recovery = match fault {
                    Fault::Failover => "promotion",
                    _ => "restart",
                };
                scenario.figure(recovery, outage.recovery);
            }
            scenario.unchecked = r.unchecked;
        }
        Plan::Durability => {
            let r = durability::run(pg, subject, &settings.durability, rec)?;
            scenario.figure(
                "crashes judged",
                Quantity::Fraction {
                    value: r.checked as u64,
                    of: settings.durability.rounds as u64,
                },
            );
            scenario.figure("acknowledged acquires lost", r.lost);
            scenario.figure("longest restart", r.longest_restart);
            scenario.figure("ttl", settings.durability_ttl.as_duration());
            scenario.unchecked = r.unchecked;
        }
        Plan::Zombie(fault, _) if !fault.in_zombie() => {
            let why = match fault {
                Fault::Failover => "a trial fails over once, and a zombie trial has rounds",
                Fault::BackendKill => {
                    "a killed backend ends the leader's session, and its work with it, instead \
                     of stalling it"
                }
                _ => "a cut reply ends the leader's work instead of stalling it",
            };
            return Err(RunError::NotApplicable(format!(
                "the zombie scenario stalls a leader's work between its check and its write; \
                 {fault} does not ({why}): run it with takeover"
            )));
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
            scenario.unchecked = r.unchecked();
        }
    }
    Ok(())
}
