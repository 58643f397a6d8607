//! The race runner (P1): N candidates on N connections, racing `try_acquire`.
//!
//! Each candidate has its own connection and its own thread of a dedicated
//! rayon pool sized for N (never the global pool: a barrier across more tasks
//! than threads would deadlock). Rounds are aligned by a barrier; before each
//! round the harness makes the lease free or, on alternate rounds where the
//! lease can be aged, stale with the last winner still named. All N call
//! `try_acquire` at once; exactly one must win.

use super::error::{poisoned, RunError};
use super::subject::Subject;
use crate::lease::Contender;
use crate::recorder::{Recorder, Reply, HARNESS};
use hdrhistogram::Histogram;
use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event, Outcome};
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::Duration;

/// Settings of a race battery.
#[derive(Clone, Debug)]
pub struct RaceOptions {
    /// How many candidates race (at least 2).
    pub candidates: usize,
    /// How many rounds.
    pub rounds: usize,
    /// Seed for the battery's choices (free or stale rounds, start order).
    pub seed: u64,
}

/// How many bad rounds become findings (P1); the rest are counted (the
/// figure `bad rounds`).
pub const SHOWN_BAD_ROUNDS: usize = 3;

/// A round that did not have exactly one winner.
#[derive(Clone, Debug)]
pub struct BadRound {
    /// Round number, from 0.
    pub round: usize,
    /// Whether the lease was stale (rather than free) before the round.
    pub stale: bool,
    /// The candidates whose `try_acquire` returned true.
    pub winners: Vec<Candidate>,
    /// How many calls failed with an unknown outcome.
    pub unknown: usize,
    /// The round's events, for the timeline.
    pub events: Vec<Event>,
}

/// What a race battery observed.
#[derive(Debug)]
pub struct RaceResult {
    /// Candidates per round.
    pub candidates: usize,
    /// Rounds completed.
    pub rounds: usize,
    /// Rounds without exactly one winner.
    pub bad_rounds: Vec<BadRound>,
    /// Latency of each `try_acquire`, in microseconds.
    pub latency: Histogram<u64>,
    /// Latency of whole rounds (barrier release to the last reply), in microseconds.
    pub round_latency: Histogram<u64>,
    /// Wall time of the battery.
    pub elapsed: Duration,
}

fn histogram() -> Histogram<u64> {
    match Histogram::new(3) {
        Ok(h) => h,
        Err(e) => unreachable!("3 significant figures is a valid histogram: {e}"),
    }
}

/// Run a race battery against `subject`, recording into `rec`. `tick` is
/// called after every round (for progress bars); `cancel` stops between rounds.
///
/// ```no_run
/// use leasecheck::{scenario::race as stress, Postgres, Recorder, Subject, Ttl};
/// let pg = Postgres::provision()?;
/// let ttl = Ttl::parse("1")?;
/// let mut subject = Subject::reference(&pg, ttl)?;
/// let rec = Recorder::new(ttl, true);
/// let opts = stress::RaceOptions { candidates: 8, rounds: 20, seed: 1 };
/// let result = stress::race(&mut subject, &opts, &rec, &Default::default(), &|| {})?;
/// assert!(result.bad_rounds.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn race(
    subject: &mut Subject,
    opts: &RaceOptions,
    rec: &Recorder,
    cancel: &AtomicBool,
    tick: &(dyn Fn() + Sync),
) -> Result<RaceResult, RunError> {
    if opts.candidates < 2 {
        return Err(RunError::Settings(format!(
            "a race needs at least 2 candidates, not {}",
            opts.candidates
        )));
    }
    let n = opts.candidates;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("candidate-{i}"))
        .build()
        .map_err(|e| RunError::Threads {
            threads: n,
            message: e.to_string(),
        })?;
    let mut contenders: Vec<(Candidate, Box<dyn Contender>)> = Vec::with_capacity(n);
    for i in 0..n {
        let who = Candidate(i as u16);
        contenders.push((who, subject.contender(who, None)?));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(opts.seed);
    let started = std::time::Instant::now();
    let mut result = RaceResult {
        candidates: n,
        rounds: 0,
        bad_rounds: Vec::new(),
        latency: histogram(),
        round_latency: histogram(),
        elapsed: Duration::ZERO,
    };
    let stale_margin = Duration::from_millis(1) + subject.ttl().as_duration();
    let mut someone_holds = false;
    // Rounds with no winner in which some call's outcome is unknown: fine
    // one by one, but a race made only of them judged nothing.
    let mut undecided = 0;
    for round in 0..opts.rounds {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        // Alternate free and stale rounds (stale needs a holder and `age`).
        let stale =
            round % 2 == 1 && someone_holds && subject.can_age() && subject.semantics().expiry;
        let (prep, _) = rec.call(HARNESS, harness_call(stale, stale_margin), || {
            if stale {
                subject.age(stale_margin).map(|_| Reply::DONE)
            } else {
                subject.reset().map(|_| Reply::DONE)
            }
        });
        prep?;
        contenders.shuffle(&mut rng);
        let barrier = Barrier::new(n);
        let events: Mutex<Vec<(Event, u64)>> = Mutex::new(Vec::with_capacity(n));
        // A server that refuses the lease's SQL makes the run impossible
        // (exit 2), unlike a lost connection, whose outcome is just unknown.
        let refused: Mutex<Option<crate::lease::LeaseError>> = Mutex::new(None);
        let round_start = rec.now();
        pool.scope(|s| {
            for (who, contender) in contenders.iter_mut() {
                let (barrier, events, refused, who) = (&barrier, &events, &refused, *who);
                s.spawn(move |_| {
                    barrier.wait();
                    let (r, event) = rec.call(who, Call::Lease { op: Op::TryAcquire }, || {
                        contender.call(Op::TryAcquire)
                    });
                    if let Err(e) = r {
                        if !e.is_connection_loss() {
                            if let Ok(mut slot) = refused.lock() {
                                slot.get_or_insert(e);
                            }
                        }
                    }
                    let micros = event.complete.since(event.invoke).as_micros().max(0) as u64;
                    if let Ok(mut e) = events.lock() {
                        e.push((event, micros));
                    }
                });
            }
        });
        if let Some(e) = refused.into_inner().map_err(|_| poisoned())? {
            return Err(e.into());
        }
        let events = events.into_inner().map_err(|_| poisoned())?;
        let mut last = round_start;
        for (event, micros) in &events {
            let _ = result.latency.record(*micros);
            last = last.max(event.complete);
        }
        let _ = result
            .round_latency
            .record(last.since(round_start).as_micros().max(0) as u64);
        let winners: Vec<Candidate> = events
            .iter()
            .filter(|(e, _)| e.outcome == Outcome::Ok)
            .map(|(e, _)| e.candidate)
            .collect();
        let unknown = events
            .iter()
            .filter(|(e, _)| e.outcome == Outcome::Unknown)
            .count();
        someone_holds = !winners.is_empty();
        if winners.is_empty() && unknown > 0 {
            undecided += 1;
        }
        let fine = winners.len() == 1 || (winners.is_empty() && unknown > 0);
        if !fine {
            // The first few bad rounds are findings (P1), kept as found;
            // the rest are counted.
            if result.bad_rounds.len() < SHOWN_BAD_ROUNDS {
                let names: Vec<String> = winners.iter().map(|c| c.to_string()).collect();
                let what = if stale { "a stale" } else { "a free" };
                rec.finding(Finding {
                    property: Property::P1ExactlyOneWinner,
                    message: format!(
                        "round {round}: {} candidates raced on {what} lease and {} won [{}]",
                        result.candidates,
                        winners.len(),
                        names.join(", ")
                    ),
                    events: events.iter().map(|(e, _)| *e).collect(),
                });
            }
            result.bad_rounds.push(BadRound {
                round,
                stale,
                winners,
                unknown,
                events: events.iter().map(|(e, _)| *e).collect(),
            });
        }
        result.rounds += 1;
        tick();
    }
    result.elapsed = started.elapsed();
    if result.rounds > 0 && undecided == result.rounds {
        return Err(RunError::Harness {
            what: "decide any round of the race",
            message: format!(
                "in every one of its {} rounds no candidate won and some call's outcome was \
                 unknown (an error), so nothing of P1 was judged: is every call failing?",
                result.rounds
            ),
        });
    }
    Ok(result)
}

fn harness_call(stale: bool, by: Duration) -> Call {
    if stale {
        Call::Age {
            by: leasecheck_model::Span::from_duration(by),
        }
    } else {
        Call::Reset
    }
}
