//! The checker's self-test on real histories (mutation testing).
//!
//! Histories are recorded by the real runners on the built-in reference
//! lease against real Postgres: a race of free and stale rounds, the release
//! and non-holder sequence, and takeovers under a client pause and a
//! connection stall. Each one, unmutated, must be accepted by the checker.
//! Then each is mutated one event at a time, at sites where the mutant is
//! illegal under the model whatever the linearization and whatever the
//! unknown server times, and the checker must reject every mutant with a
//! violation (not merely an inconclusive verdict). The kill rate is printed
//! (`--no-capture` shows it).
//!
//! Four kinds of mutant, each turning one `Fail` into `Ok`:
//!
//! - `stale-second-winner`: a loser of a race round on a stale lease wins too;
//! - `free-second-winner`: a loser of a race round on a free lease wins too;
//! - `deposed-renew`: a deposed leader's renew, invoked after another
//!   candidate's acquire completed, succeeds;
//! - `non-holder-release`: a release by a candidate that cannot hold the
//!   lease (another holds it, fresh) succeeds.
//!
//! Each mutant is made twice: with its server time unknown (`None`: the
//! checker may then pick any `now()` in the call's window widened by the
//! observed clock slack, the most lenient reading), and with a server time
//! at the middle of the call's window (what a real `Ok` of the reference
//! lease records). The second allows a subset of the first's explanations,
//! so the site conditions below, argued for `None`, cover both.
//!
//! Everything after the recording is a pure function of the recorded
//! histories: the sites are found in event order and nothing is random.

use leasecheck::battery::{Battery, Plan};
use leasecheck::fault::Fault;
use leasecheck::model::check::{self, Verdict};
use leasecheck::model::history::{Call, Event, History, Outcome};
use leasecheck::model::{Candidate, Op, Time};
use leasecheck::scenario::{race, semantics, takeover};
use leasecheck::settings::{Flags, Settings};
use leasecheck::{Postgres, Recorder, RunError, Subject};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::AtomicBool;

/// The seed of every choice the runners make.
const SEED: u64 = 0x1ea5_ec4e;
/// Race: candidates per round, and rounds (free and stale alternate).
const CANDIDATES: usize = 8;
const ROUNDS: usize = 10;
/// Takeover faults and trials per fault.
const FAULTS: [Fault; 2] = [Fault::ClientPause, Fault::ConnectionStall];
const TRIALS: usize = 2;

/// The run's settings: the defaults (TTL 0.2 s, intervals from the TTL, ...)
/// with the sizes above and a fixed seed.
fn settings() -> Settings {
    let flags = Flags {
        seed: Some(SEED),
        candidates: vec![CANDIDATES],
        rounds: Some(ROUNDS),
        faults: FAULTS.to_vec(),
        trials: Some(TRIALS),
        ..Flags::default()
    };
    Settings::build(&flags, None).expect("the self-test's settings are valid")
}

/// One scenario's history, under the battery's name for the scenario.
struct Recorded {
    name: String,
    history: History,
}

/// The scenarios recorded: the race, the release and non-holder sequence and
/// every takeover trial, in the battery's order (conformance and zombies are
/// left out).
fn plan(settings: &Settings) -> Vec<Plan> {
    Battery::All
        .plan(settings)
        .into_iter()
        .filter(|p| matches!(p, Plan::Race(_) | Plan::Semantics | Plan::Takeover(..)))
        .collect()
}

/// Record one history per scenario, each on a fresh reference lease in a
/// schema of its own, each with its own recorder: never one history of
/// several scenarios (their resets and candidates are unrelated, and judging
/// them as one is a false alarm).
///
/// This is the only function that knows how per-scenario histories are
/// obtained. It runs the runners directly, as the battery's `run_one` does;
/// with a battery `Outcome` that carries one section per scenario it can
/// become `battery::run(..)` and
/// `outcome.sections.into_iter().filter(..).map(|s| Recorded { name: s.header.scenario, history: s.history })`.
fn record_reference_histories(pg: &Postgres, settings: &Settings) -> Vec<Recorded> {
    let mut recorded = Vec::new();
    for step in plan(settings) {
        let name = step.name(settings);
        let mut subject = Subject::reference(pg, settings.ttl)
            .unwrap_or_else(|e| panic!("{name}: cannot install the reference lease: {e}"));
        let rec = Recorder::new(settings.ttl, true);
        let notes = run_scenario(pg, &mut subject, step, settings, &rec)
            .unwrap_or_else(|e| panic!("{name}: the scenario could not run: {e}"));
        for note in notes {
            println!("note: {name}: the runner itself reported: {note}");
        }
        let history = rec
            .history()
            .unwrap_or_else(|e| panic!("{name}: the history was not recorded whole: {e}"));
        subject
            .drop_schema()
            .unwrap_or_else(|e| panic!("{name}: cannot drop the schema: {e}"));
        recorded.push(Recorded { name, history });
    }
    recorded
}

/// Run one scenario; its runner's own findings as text (informational here:
/// this test is about the checker).
fn run_scenario(
    pg: &Postgres,
    subject: &mut Subject,
    step: Plan,
    settings: &Settings,
    rec: &Recorder,
) -> Result<Vec<String>, RunError> {
    let finding = |property: &dyn fmt::Display, message: &str| format!("{property}: {message}");
    Ok(match step {
        Plan::Race(candidates) => {
            let opts = race::RaceOptions {
                candidates,
                ..settings.race.clone()
            };
            let r = race::race(subject, &opts, rec, &AtomicBool::new(false), &|| {})?;
            r.bad_rounds
                .iter()
                .map(|b| format!("round {} had winners {:?}", b.round, b.winners))
                .collect()
        }
        Plan::Semantics => {
            semantics::run(subject, rec)?;
            rec.findings()
                .iter()
                .map(|f| finding(&f.property, &f.message))
                .collect()
        }
        Plan::Takeover(fault, _) => {
            takeover::trial(pg, subject, fault, &settings.takeover, rec)?;
            rec.findings()
                .iter()
                .map(|f| finding(&f.property, &f.message))
                .collect()
        }
        other => unreachable!("not planned: {other:?}"),
    })
}

/// Provision Postgres and record every scenario, or fail loudly.
fn recorded() -> (Settings, Vec<Recorded>) {
    let pg = Postgres::provision()
        .unwrap_or_else(|e| panic!("this test needs Postgres and none could be had:\n{e}"));
    let settings = settings();
    let recorded = record_reference_histories(&pg, &settings);
    assert_eq!(
        recorded.len(),
        1 + 1 + FAULTS.len() * TRIALS,
        "a race, the semantics sequence and every takeover trial"
    );
    (settings, recorded)
}

// ---------------------------------------------------------------------------
// The mutation engine: pure functions over a history.
// ---------------------------------------------------------------------------

/// The kinds of illegal single-event mutant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    StaleSecondWinner,
    FreeSecondWinner,
    DeposedRenew,
    NonHolderRelease,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::StaleSecondWinner,
        Kind::FreeSecondWinner,
        Kind::DeposedRenew,
        Kind::NonHolderRelease,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::StaleSecondWinner => "stale-second-winner",
            Kind::FreeSecondWinner => "free-second-winner",
            Kind::DeposedRenew => "deposed-renew",
            Kind::NonHolderRelease => "non-holder-release",
        }
    }
}

/// The server time the mutated event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stamp {
    /// `None`: the most lenient (any `now` in the window, give or take the slack).
    Unknown,
    /// The middle of the call's window, as a real `Ok` would record.
    Midpoint,
}

/// An event that may be turned from `Fail` into `Ok`, and why that is illegal.
#[derive(Clone, Debug)]
struct Site {
    kind: Kind,
    /// The event to mutate.
    index: usize,
    /// The event that makes the mutant illegal (the round's winner, the
    /// takeover, the holder's acquire).
    witness: usize,
    why: String,
}

/// One mutant: a site, a stamp, and the mutated history.
struct Mutant {
    scenario: String,
    site: Site,
    stamp: Stamp,
    history: History,
}

/// The window in which the checker may place a call in the order: its
/// recorded window, widened to contain its server time.
fn order(e: &Event) -> (i64, i64) {
    let (lo, hi) = (e.invoke.0.min(e.complete.0), e.invoke.0.max(e.complete.0));
    match e.server_time {
        Some(t) => (lo.min(t.0), hi.max(t.0)),
        None => (lo, hi),
    }
}

/// The `now()`s the checker may give a call: its server time, or (unknown)
/// its window widened by `slack` on both sides.
fn nows(e: &Event, slack: i64) -> (i64, i64) {
    match e.server_time {
        Some(t) => (t.0, t.0),
        None => (
            e.invoke.0.min(e.complete.0) - slack,
            e.invoke.0.max(e.complete.0) + slack,
        ),
    }
}

/// The `now()`s the checker may give the mutated event: those of an unknown
/// server time (a midpoint stamp lies inside them).
fn mutated_nows(e: &Event, slack: i64) -> (i64, i64) {
    nows(
        &Event {
            server_time: None,
            ..*e
        },
        slack,
    )
}

/// The clock slack the checker adds to unknown `now()`s: the largest
/// distance by which a recorded server time lies outside its own window
/// (`Options::default()` adds nothing to it). Mutants only remove server
/// times or add ones inside the window, so a mutant's slack is at most this.
fn slack(h: &History) -> i64 {
    h.events
        .iter()
        .filter(|e| !matches!(e.call, Call::Action { .. }))
        .filter_map(|e| {
            let t = e.server_time?.0;
            let (lo, hi) = (e.invoke.0.min(e.complete.0), e.invoke.0.max(e.complete.0));
            Some((lo - t).max(t - hi).max(0))
        })
        .max()
        .unwrap_or(0)
}

/// Whether the event may have changed the lease (a `Fail` never does;
/// actions are not lease calls).
fn may_write(e: &Event) -> bool {
    e.outcome != Outcome::Fail && !matches!(e.call, Call::Action { .. })
}

fn is_op(e: &Event, op: Op) -> bool {
    e.call == Call::Lease { op }
}

/// Whether two closed intervals meet.
fn meet(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Every site of every kind in one scenario's history, in event order.
fn sites(scenario: &str, h: &History) -> Vec<Site> {
    let slack = slack(h);
    let mut all = Vec::new();
    if scenario.starts_with("race") {
        all.extend(second_winner_sites(h, slack));
    }
    all.extend(deposed_renew_sites(h));
    all.extend(non_holder_release_sites(h, slack));
    all.sort_by_key(|s| (s.index, s.kind));
    all
}

/// Kinds 1 and 2: a loser F of a race round that has a winner W (another
/// candidate) turned into a second winner.
///
/// Why it is illegal whatever the linearization and the unknown `now()`s:
/// say P of {W, F} takes effect first and Q second (either order). P wrote
/// `acquired_at = now_P`. Every call that might take effect between them
/// (its order window meets the hull of theirs) is required to be a
/// `try_acquire` or `renew`, whose write is again a `now()`; no reset, age
/// or release can intervene. So just before Q, `acquired_at` is the `now()`
/// of one of these calls, and all of their possible `now()`s (W's server
/// time, F's window widened by the slack, the others' windows or server
/// times) lie within TTL/2 of each other, so `acquired_at >= now_Q - TTL`:
/// the lease is held and fresh, and Q's `try_acquire` must fail. It does
/// not matter whether the round began on a free or a stale lease; that only
/// names the kind (the harness's reset or age that opened the round). The
/// model needs spread <= TTL; TTL/2 leaves room for any error of ours in
/// computing the checker's slack.
fn second_winner_sites(h: &History, slack: i64) -> Vec<Site> {
    let ttl = h.ttl.as_micros();
    // Rounds: the events after each reset or age, up to the next one.
    let mut rounds: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, e) in h.events.iter().enumerate() {
        match e.call {
            Call::Reset | Call::Age { .. } => rounds.push((i, Vec::new())),
            _ => {
                if let Some((_, members)) = rounds.last_mut() {
                    members.push(i);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (prep, members) in rounds {
        let opener = &h.events[prep];
        let kind = match opener.call {
            Call::Age { .. } => Kind::StaleSecondWinner,
            _ => Kind::FreeSecondWinner,
        };
        if opener.outcome != Outcome::Ok {
            continue;
        }
        let acquires: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| is_op(&h.events[i], Op::TryAcquire))
            .collect();
        let winners: Vec<usize> = acquires
            .iter()
            .copied()
            .filter(|&i| h.events[i].outcome == Outcome::Ok)
            .collect();
        let [w] = winners[..] else {
            continue; // no single winner: no witness (the runner reports such a round)
        };
        let we = &h.events[w];
        for &f in &acquires {
            let fe = &h.events[f];
            if fe.outcome != Outcome::Fail || fe.candidate == we.candidate {
                continue;
            }
            let (ow, of) = (order(we), order(fe));
            let hull = (ow.0.min(of.0), ow.1.max(of.1));
            let between: Vec<usize> = (0..h.events.len())
                .filter(|&j| j != w && j != f)
                .filter(|&j| may_write(&h.events[j]) && meet(order(&h.events[j]), hull))
                .collect();
            let only_writes_now = between.iter().all(|&j| {
                let e = &h.events[j];
                is_op(e, Op::TryAcquire) || is_op(e, Op::Renew)
            });
            if !only_writes_now {
                continue;
            }
            let windows = between
                .iter()
                .map(|&j| nows(&h.events[j], slack))
                .chain([nows(we, slack), mutated_nows(fe, slack)]);
            let (lo, hi) = windows.fold((i64::MAX, i64::MIN), |(lo, hi), (a, b)| {
                (lo.min(a), hi.max(b))
            });
            if hi - lo > ttl / 2 {
                continue;
            }
            out.push(Site {
                kind,
                index: f,
                witness: w,
                why: format!(
                    "{} already won this round (event #{w}); every possible now() of the round's \
                     writers lies within {} us < TTL/2, so whichever of the two goes second finds \
                     the lease held and fresh",
                    we.candidate,
                    hi - lo
                ),
            });
        }
    }
    out
}

/// Kind 3: a deposed leader's failed renew R turned into a success.
///
/// The site: candidate c held the lease (an `Ok` `try_acquire` A of c), then
/// another candidate d's `try_acquire` W succeeded, and R was invoked after W
/// completed (W's order window ends before R's begins, so W precedes R in
/// every linearization; A's ends before W's begins, so c led before W). No
/// `try_acquire` of c that may have taken effect (`Ok` or `Unknown`) can be
/// placed between W and R.
///
/// Why it is illegal: after W the leader is d. Only c's own successful
/// `try_acquire` can make c the leader again (renew and release need c to
/// lead already, reset frees, age changes no leader), and none can take
/// effect between W and R; so at R the leader is not c, whatever the order
/// of everything else and whatever any `now()`, and `renew` succeeds only
/// for the leader (stale or not), so R cannot be `Ok`.
///
/// Not sites: a renew that may be ordered before the takeover (invoked
/// before W completed: the connection stall's renew, sent in time and held
/// by the proxy). Then "R renewed c's tenure, and W still found it stale"
/// is legal whenever R's `now()` may be early enough, and with an unknown
/// server time the checker may give R any `now()` in its long window: the
/// model cannot know the server saw the renew only after the stall.
fn deposed_renew_sites(h: &History) -> Vec<Site> {
    let ev = &h.events;
    let mut out = Vec::new();
    for (r, re) in ev.iter().enumerate() {
        if !is_op(re, Op::Renew) || re.outcome != Outcome::Fail {
            continue;
        }
        let c = re.candidate;
        let or = order(re);
        let acquires_of = |who: Candidate| {
            ev.iter()
                .enumerate()
                .filter(move |(_, e)| e.candidate == who && is_op(e, Op::TryAcquire))
        };
        // The latest takeover W by another candidate that precedes R for
        // certain and deposes c for certain.
        let takeover = ev.iter().enumerate().rev().find(|&(_, we)| {
            let ow = order(we);
            let precedes_r = ow.1 < or.0;
            let c_led_before =
                acquires_of(c).any(|(_, a)| a.outcome == Outcome::Ok && order(a).1 < ow.0);
            let c_cannot_retake = acquires_of(c)
                .filter(|(_, t)| t.outcome != Outcome::Fail)
                .all(|(_, t)| order(t).1 < ow.0 || order(t).0 > or.1);
            is_op(we, Op::TryAcquire)
                && we.outcome == Outcome::Ok
                && we.candidate != c
                && precedes_r
                && c_led_before
                && c_cannot_retake
        });
        if let Some((w, we)) = takeover {
            out.push(Site {
                kind: Kind::DeposedRenew,
                index: r,
                witness: w,
                why: format!(
                    "{} took over (event #{w}) before {c}'s renew was invoked, and {c} made no \
                     try_acquire that could take effect in between, so {c} cannot lead at the renew",
                    we.candidate
                ),
            });
        }
    }
    out
}

/// Kind 4: a failed release R by a candidate c that cannot be the holder,
/// turned into a success.
///
/// The site, two conditions:
///
/// - c cannot lead at R: every `try_acquire` of c that may have taken
///   effect (`Ok` or `Unknown`) and may be ordered before R (its order
///   window begins no later than R's ends) is followed, for certain, by
///   another candidate's `Ok` `try_acquire` that precedes R for certain;
/// - (the brief's extra care; the model does not need it) the lease is held
///   by someone else and fresh throughout R: another candidate d's `Ok`
///   `try_acquire` W precedes R for certain, nothing but d's own renews may
///   write between W's start and R's end, and R's latest possible `now()`
///   is within TTL/2 of W's earliest.
///
/// Why it is illegal: the history starts on a free lease (each scenario has
/// a fresh schema; `Options::default().start_free`), and only c's own
/// successful `try_acquire` can make c the leader (renew and release need c
/// to lead already, reset frees, age changes no leader). Take the last of
/// c's acquires placed before R in a linearization: a takeover by another
/// candidate follows it and precedes R for certain, and no acquire of c can
/// come after that takeover and before R (it would be a later "last"). So c
/// does not lead at R, and `release` succeeds only for the leader: R cannot
/// be `Ok`, whatever the order and whatever any `now()` (the model's release
/// ignores staleness).
fn non_holder_release_sites(h: &History, slack: i64) -> Vec<Site> {
    let ev = &h.events;
    let ttl = h.ttl.as_micros();
    let mut out = Vec::new();
    for (r, re) in ev.iter().enumerate() {
        if !is_op(re, Op::Release) || re.outcome != Outcome::Fail {
            continue;
        }
        let c = re.candidate;
        let or = order(re);
        let takeover_between = |after: (i64, i64)| {
            ev.iter().any(|w| {
                is_op(w, Op::TryAcquire)
                    && w.outcome == Outcome::Ok
                    && w.candidate != c
                    && after.1 < order(w).0
                    && order(w).1 < or.0
            })
        };
        let c_cannot_lead = ev
            .iter()
            .filter(|t| t.candidate == c && is_op(t, Op::TryAcquire))
            .filter(|t| t.outcome != Outcome::Fail && order(t).0 <= or.1)
            .all(|t| takeover_between(order(t)));
        if !c_cannot_lead {
            continue;
        }
        let holder = ev.iter().enumerate().rev().find(|&(w, we)| {
            let ow = order(we);
            let quiet = ev.iter().enumerate().all(|(j, x)| {
                j == w
                    || j == r
                    || !may_write(x)
                    || !meet(order(x), (ow.0, or.1))
                    || (x.candidate == we.candidate && is_op(x, Op::Renew))
            });
            let fresh = mutated_nows(re, slack).1 - nows(we, slack).0 <= ttl / 2;
            is_op(we, Op::TryAcquire)
                && we.outcome == Outcome::Ok
                && we.candidate != c
                && ow.1 < or.0
                && quiet
                && fresh
        });
        if let Some((w, we)) = holder {
            out.push(Site {
                kind: Kind::NonHolderRelease,
                index: r,
                witness: w,
                why: format!(
                    "{} holds the lease, fresh, since event #{w}, and {c} cannot have \
                     acquired it, so {c} is not the holder",
                    we.candidate
                ),
            });
        }
    }
    out
}

/// The history with one event changed: the site's `Fail` becomes `Ok`, with
/// the stamp's server time. The events keep their order.
fn mutate(h: &History, site: &Site, stamp: Stamp) -> History {
    let mut m = h.clone();
    let e = &mut m.events[site.index];
    assert_eq!(e.outcome, Outcome::Fail, "a site is a failed call");
    e.outcome = Outcome::Ok;
    e.server_time = match stamp {
        Stamp::Unknown => None,
        Stamp::Midpoint => Some(Time(e.invoke.0 + (e.complete.0 - e.invoke.0) / 2)),
    };
    m
}

/// Every mutant of every recorded history.
fn mutants(recorded: &[Recorded]) -> Vec<Mutant> {
    let mut out = Vec::new();
    for r in recorded {
        for site in sites(&r.name, &r.history) {
            for stamp in [Stamp::Unknown, Stamp::Midpoint] {
                out.push(Mutant {
                    scenario: r.name.clone(),
                    history: mutate(&r.history, &site, stamp),
                    site: site.clone(),
                    stamp,
                });
            }
        }
    }
    out
}

/// Why the checker does not accept a history, if it does not.
fn not_accepted(verdict: &Verdict) -> Option<String> {
    if verdict.violations.is_empty() && verdict.inconclusive.is_empty() {
        return None;
    }
    let lines: Vec<String> = verdict
        .violations
        .iter()
        .map(|v| v.to_string())
        .chain(verdict.inconclusive.iter().map(|i| i.to_string()))
        .collect();
    Some(lines.join("\n  "))
}

/// The events around `index` (and the witness), for a report.
fn excerpt(h: &History, site: &Site) -> String {
    let lo = site.index.min(site.witness).saturating_sub(3);
    let hi = (site.index.max(site.witness) + 3).min(h.events.len() - 1);
    let window: Vec<usize> = (lo..=hi).collect();
    check::timeline(h, &window).to_string()
}

fn percent(killed: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * killed as f64 / of as f64
    }
}

#[test]
fn the_checker_accepts_every_unmutated_reference_history() {
    let (_, recorded) = recorded();
    let mut rejected = Vec::new();
    for r in &recorded {
        let verdict = check::check(&r.history);
        println!(
            "{}: {} events, {} checked: {}",
            r.name,
            r.history.events.len(),
            verdict.ops_checked,
            if verdict.is_pass() {
                "accepted"
            } else {
                "NOT accepted"
            }
        );
        assert!(
            !r.history.events.is_empty(),
            "{}: nothing was recorded",
            r.name
        );
        if let Some(why) = not_accepted(&verdict) {
            rejected.push(format!("{}:\n  {why}", r.name));
        }
    }
    assert!(
        rejected.is_empty(),
        "the checker must accept every history the reference lease produced, but did not accept:\n{}",
        rejected.join("\n")
    );
}

#[test]
fn the_checker_rejects_every_illegal_single_event_mutant_of_real_reference_histories() {
    let (_, recorded) = recorded();
    // A mutant of a history the checker already rejects would be "killed"
    // for nothing: the originals must pass first.
    for r in &recorded {
        if let Some(why) = not_accepted(&check::check(&r.history)) {
            panic!(
                "{}: the unmutated history is not accepted, so its mutants prove nothing:\n  {why}",
                r.name
            );
        }
    }
    let mutants = mutants(&recorded);
    // kind -> (mutants, killed, killed by a violation naming the mutated event)
    let mut tally: BTreeMap<Kind, (usize, usize, usize)> =
        Kind::ALL.iter().map(|&k| (k, (0, 0, 0))).collect();
    let mut survivors = Vec::new();
    for m in &mutants {
        let verdict = check::check(&m.history);
        let entry = tally.entry(m.site.kind).or_default();
        entry.0 += 1;
        if verdict.violations.is_empty() {
            let undecided: Vec<String> =
                verdict.inconclusive.iter().map(|i| i.to_string()).collect();
            survivors.push(format!(
                "{} mutant of {} event #{} ({:?} server time): {:?}\n  why illegal: {}\n  \
                 verdict: no violation{}\n{}",
                m.site.kind.name(),
                m.scenario,
                m.site.index,
                m.stamp,
                m.history.events[m.site.index],
                m.site.why,
                if undecided.is_empty() {
                    String::new()
                } else {
                    format!(", undecided: {}", undecided.join("; "))
                },
                excerpt(&m.history, &m.site)
            ));
            continue;
        }
        entry.1 += 1;
        if verdict
            .violations
            .iter()
            .any(|v| v.window.contains(&m.site.index))
        {
            entry.2 += 1;
        }
    }
    let total: usize = tally.values().map(|t| t.0).sum();
    let killed: usize = tally.values().map(|t| t.1).sum();
    let named: usize = tally.values().map(|t| t.2).sum();
    let per_kind: Vec<String> = tally
        .iter()
        .map(|(k, (n, kd, _))| format!("{} {kd}/{n}", k.name()))
        .collect();
    println!(
        "checker self-test: killed {killed}/{total} mutants ({:.1}%): {}",
        percent(killed, total),
        per_kind.join(", ")
    );
    println!("  of the kills, {named}/{killed} name the mutated event in a violation's window");
    for (scenario, n) in recorded.iter().map(|r| {
        let n = mutants.iter().filter(|m| m.scenario == r.name).count();
        (&r.name, n)
    }) {
        println!("  {scenario}: {n} mutants");
    }

    let missing: Vec<&str> = tally
        .iter()
        .filter(|(_, t)| t.0 == 0)
        .map(|(k, _)| k.name())
        .collect();
    assert!(
        missing.is_empty(),
        "the self-test must not pass vacuously: no site for {missing:?} in the recorded histories ({})",
        recorded
            .iter()
            .map(|r| format!("{}: {} events", r.name, r.history.events.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert!(
        survivors.is_empty(),
        "the checker accepted {} illegal mutant(s) (a checker bug):\n\n{}",
        survivors.len(),
        survivors.join("\n\n")
    );
}
