//! The history checker: does the pure model explain what a run observed?
//!
//! [`check`] decides these properties of DESIGN.md on a [`History`]:
//!
//! - **P7 conformance** ([`check_linearizable`]): some total order of the
//!   calls, consistent with real time, explains every `Ok`/`Fail` outcome
//!   under the model [`Lease`](crate::Lease) with the history's TTL;
//! - **P6 no overlapping tenure** ([`check_tenures`]): the claims of
//!   different candidates, computed from their own calls, never overlap;
//! - **P8 no stale action** ([`check_actions`], for histories with
//!   [`Call::Action`] events): no write was accepted from a leader that had
//!   already been deposed, and no two actors acted at once.
//!
//! P1–P5 are checked by the runners that know what each round was meant to
//! do; [`Property`] names all eight so that every report uses the same words.
//!
//! ```
//! use leasecheck_model::check::{check, timeline, Property};
//! use leasecheck_model::history::{Call, Event, History, Outcome};
//! use leasecheck_model::{Candidate, Op, Span, Time};
//!
//! let acquire = |c, invoke, complete, server: Option<i64>, outcome| Event {
//!     candidate: Candidate(c),
//!     call: Call::Lease { op: Op::TryAcquire },
//!     invoke: Time(invoke),
//!     complete: Time(complete),
//!     server_time: server.map(Time),
//!     outcome,
//! };
//! // Two candidates race on a free lease and both win: a split brain.
//! let h = History {
//!     ttl: Span::from_secs(10),
//!     events: vec![
//!         acquire(1, 0, 900, Some(400), Outcome::Ok),
//!         acquire(2, 100, 950, Some(420), Outcome::Ok),
//!     ],
//! };
//! let verdict = check(&h);
//! assert!(!verdict.is_pass());
//! let v = &verdict.violations[0];
//! assert_eq!(v.property, Property::P7Linearizable);
//! assert_eq!(v.window, vec![0, 1]);
//! println!("{v}\n{}", timeline(&h, &v.window));
//! ```
//!
//! # The model of time (P7)
//!
//! Times are microseconds on one clock aligned with the server's. A call
//! takes effect atomically at one instant of its window `[invoke, complete]`
//! (widened to contain `server_time` when that lies outside, which also
//! tolerates small clock misalignment). Two things are chosen per call:
//!
//! - its **position** in the total order: if `a.complete < b.invoke` then `a`
//!   comes before `b`, otherwise either order is possible;
//! - its **`now`**, the time its staleness test and its write of
//!   `acquired_at` use: exactly `server_time` when known, otherwise any
//!   instant of `[invoke - slack, complete + slack]`.
//!
//! The `now`s are *not* required to increase along the order. This is
//! deliberate and faithful: Postgres's `now()` is the transaction's start,
//! taken before the `UPDATE` reaches the row (and before it waits for the row
//! lock), so two updates of the row can commit in the opposite order of their
//! `now()`s. Requiring monotone `now`s would reject such legal histories.
//!
//! `Unknown` calls are either left out entirely or take effect (result
//! `true`) at some position inside their window; a `false` result changes
//! nothing, so it is the same as leaving the call out. `Reset` and `Age`
//! take effect at some position in their window; a `Fail` one is ignored.
//! The initial state is a free lease (the seeded row), unless
//! [`Options::start_free`] is false, in which case it is any state.
//!
//! # Algorithm (P7)
//!
//! 1. **Preprocess** every event into a call with an order window and a `now`
//!    window, sorted by the window's start.
//! 2. **Segment** at quiescent points: where every earlier call completed
//!    before the next one was invoked, all earlier calls precede all later
//!    ones, so the history is cut there and checked span by span. Each span
//!    starts from the set of states in which the previous span can end (a
//!    *frontier*, normally one state). A race round (a reset, then N
//!    concurrent `try_acquire`s) is one span.
//! 3. **Search** each span with Wing & Gong / Lowe's algorithm (as in
//!    porcupine): depth-first over the *minimal* pending calls (those no
//!    pending call must precede), applying a call when the model allows its
//!    observed result, backtracking at dead ends. The state is the leader and
//!    an **interval** for `acquired_at`: a call's `now` is an unknown in its
//!    window, and the interval is the set of values the unknowns chosen so far
//!    still allow. A stale test narrows it (`acquired_at < now - ttl` for
//!    some `now` in the window) and so does a fresh one. Every constraint
//!    links only the current `acquired_at` and the new call's `now`, so
//!    carrying one interval forward is exact for a given order.
//! 4. **Prune**, without losing any legal order:
//!    - a `Fail` call that is minimal, allowed, and changes nothing (not even
//!      the interval) is applied at once, without branching: a race round's
//!      N−1 losers cost one pass, and the winner is the only choice on a free
//!      lease;
//!    - a `Fail` `try_acquire` that only narrows the interval is a choice;
//!      after one is taken, the ones it subsumes become no-ops and are
//!      applied at once, so k of them cost O(k) states, not 2^k;
//!    - an `Unknown` call is dropped only when it is minimal (dropping it
//!      earlier or later is the same);
//!    - a cache of visited (set of applied calls, leader, interval) with
//!      *dominance*: a state whose interval lies inside an already explored
//!      one with the same calls and leader is not explored again (all rules
//!      are monotone in the interval).
//! 5. **Join** the spans: for every span but the last, the search enumerates
//!    every state the span can end in (keeping only maximal intervals) and
//!    the next span starts from all of them.
//!
//! A span that no order explains is a P7 violation; its window is the calls
//! around the deepest dead end: the last two state-changing calls applied and
//! the minimal calls that could not go next, with the reason for each.
//! After a violation the next span is checked from *any* state, so one
//! violation does not hide or cause others.
//!
//! # Exact and relaxed
//!
//! Exact (within the model of time above): the order constraints, the
//! staleness arithmetic (strictly older than the TTL is stale), the interval
//! reasoning, the pruning rules and the joins. The checker never rejects a
//! history the model explains, and every history it accepts has an
//! explaining order (up to the relaxations below).
//!
//! Relaxed, in the permissive direction only (it may miss a violation, never
//! invent one):
//!
//! - `now`s are independent of the order (see above);
//! - without `server_time`, a `now` may lie `slack` outside the call's window:
//!   `slack` is [`Options::clock_slack`] plus the largest distance by which
//!   any recorded `server_time` falls outside its own window (the observed
//!   misalignment of the two clocks);
//! - when a span can end in more than 16 distinct states, the states of each
//!   leader are merged into the hull of their intervals;
//! - after a violation or an inconclusive span, the next span starts from
//!   any state.
//!
//! Assumed (a recorder that breaks this can cause false alarms): every call,
//! `Unknown` ones included, takes effect inside its recorded window, so an
//! `Unknown` call's `complete` must be a time after which the server can no
//! longer run it. The tests compare the checker with a brute-force search
//! (every order, every `now` in every window, on [`Lease`](crate::Lease)
//! itself) on thousands of small random histories: the verdicts are equal.
//!
//! Bounded: each span has a step budget of
//! `max(Options::min_steps, Options::steps_per_op × calls)` search states. A
//! span that exhausts it is reported in [`Verdict::inconclusive`], never as a
//! pass or a violation, and the next span is checked from any state.
//!
//! # P6 tenures
//!
//! The calls are read in time order: acquires and renews at their `invoke`;
//! releases, resets and ages at their `complete` (so after every call that
//! may have taken effect before them); the former first on ties. Then, per
//! candidate:
//!
//! - an `Ok` `try_acquire` opens a claim `[complete, invoke + ttl)`;
//! - an `Ok` `renew` that returns while the candidate's claim still runs
//!   sets the claim's end to `invoke + ttl`; one that returns when no claim
//!   runs (none was opened, or it ran out first) opens a claim
//!   `[complete, invoke + ttl)`, as the caller acts as leader after it but
//!   not in the gap;
//! - an `Ok` or `Unknown` `release` ends the claim at the release's `invoke`;
//! - a `Reset` (`Ok` or `Unknown`) ends every open claim at its `invoke`;
//! - an `Age { by }` (`Ok` or `Unknown`) moves `by` earlier the end of
//!   every claim still running at the age's `invoke`;
//! - `Unknown` acquires and renews never open or extend a claim.
//!
//! Claims of different candidates must not overlap; one that starts at or
//! after the other's end is fine. Every choice above errs towards shorter
//! claims, so a history the model explains with each `now()` at the instant
//! the call took effect never shows an overlap.
//!
//! # P8 actions
//!
//! A lease is only as safe as what its leaders *do*: a leader that pauses
//! between its last check and its write (DESIGN.md section 2a) acts after a
//! standby took over, and no check of the lease calls alone can see it.
//! [`check_actions`] reads the [`Call::Action`] events (writes to the resource
//! the lease protects). Only *accepted* (`Ok`) actions can be blamed: a
//! refused one did not take effect, and an `Unknown` one may not have.
//!
//! The **tenure** of an action is its actor's latest acquire or renew that
//! may have taken effect before the action (`Ok` or `Unknown` `try_acquire`,
//! `Ok` `renew`), and the tenure **ended** when the lease definitely changed
//! hands after it: another candidate's `Ok` `try_acquire`, the actor's own
//! `Ok` `release`, or an `Ok` reset, invoked after the tenure's call
//! completed. A tenure is longer than the P6 claim: a stale lease that nobody
//! took over still belongs to its holder (the reference lets it renew), and a
//! write then harms no one. Two findings, both judged existentially (each
//! call took effect at *some* instant of its window, so nothing is blamed
//! that some timing explains):
//!
//! - **an action outside its actor's tenure**: accepted, and invoked after
//!   the end of its tenure had completed (the actor had been deposed: a
//!   zombie's write); or accepted from an actor that never held the lease.
//!   An action that carries an epoch (a fenced write) is blamed for this
//!   only when it is also an overlap (below): the fence accepted it because
//!   no newer epoch had reached the resource yet, which orders it before
//!   every write of the new tenure, as if it had landed before the takeover.
//!   That is what fencing promises, and all it can (the new leader's first
//!   write closes the door). An unfenced write after a takeover has no such
//!   order: nothing at the resource tells the two tenures apart;
//! - **overlapping actors**: an accepted action of one tenure that comes
//!   *after* an accepted action of a later tenure of another actor (the
//!   later tenure's `try_acquire` was invoked after the earlier one's
//!   completed): two actors at once. "After" is the resource's own order
//!   when both writes carry a `seq`, and otherwise real time (invoked after
//!   the other completed). This catches a write that was sent in time but
//!   landed late, past the new leader's first write.
//!
//! A fenced resource makes both impossible: it refuses the older epoch once
//! the newer one wrote. The blamed actions are the **stale writes**
//! ([`ActionVerdict::stale`]). Each finding is a [`Property::P8FencingEpoch`]
//! violation with a window that [`timeline`] renders: the actor's last
//! confirmation, the takeover, the new leader's write and the stale one.

use crate::history::{Call, History, Outcome};
use crate::lease::Op;
use crate::time::Span;
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::hash::{BuildHasherDefault, Hasher};

/// The properties of DESIGN.md section 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// P1: candidates racing on a free or stale lease: exactly one wins.
    P1ExactlyOneWinner,
    /// P2: no other candidate wins while the holder's lease is fresh.
    P2NoEarlyTakeover,
    /// P3: after the holder stalls past the TTL, one standby wins in time.
    P3TakeoverHappens,
    /// P4: after a takeover, the old holder's renew returns false.
    P4DeposedLeaderLearns,
    /// P5: release frees at once; renew/release by a non-holder change nothing.
    P5ReleaseFreesAtOnce,
    /// P6: claims of different holders never overlap.
    P6NoOverlappingTenure,
    /// P7: every outcome is one the model allows for some order.
    P7Linearizable,
    /// P8: each tenure carries a larger epoch; a fenced resource rejects the
    /// old one: no write of a deposed leader is accepted (see [`check_actions`]).
    P8FencingEpoch,
}

impl Property {
    /// All eight, in order.
    pub const ALL: [Property; 8] = [
        Property::P1ExactlyOneWinner,
        Property::P2NoEarlyTakeover,
        Property::P3TakeoverHappens,
        Property::P4DeposedLeaderLearns,
        Property::P5ReleaseFreesAtOnce,
        Property::P6NoOverlappingTenure,
        Property::P7Linearizable,
        Property::P8FencingEpoch,
    ];

    /// The short id: `"P1"` … `"P8"`.
    pub fn id(self) -> &'static str {
        ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8"][self as usize]
    }

    /// The title without the id, e.g. `"no overlapping tenure"`.
    pub fn title(self) -> &'static str {
        match self {
            Property::P1ExactlyOneWinner => "exactly one winner",
            Property::P2NoEarlyTakeover => "no early takeover",
            Property::P3TakeoverHappens => "takeover happens",
            Property::P4DeposedLeaderLearns => "deposed leader learns",
            Property::P5ReleaseFreesAtOnce => "release frees at once",
            Property::P6NoOverlappingTenure => "no overlapping tenure",
            Property::P7Linearizable => "linearizable against the model",
            Property::P8FencingEpoch => "fencing epoch",
        }
    }

    /// The full name, e.g. `"P6 no overlapping tenure"` (also the `Display`).
    ///
    /// ```
    /// use leasecheck_model::check::Property;
    /// assert_eq!(Property::P6NoOverlappingTenure.name(), "P6 no overlapping tenure");
    /// assert_eq!(Property::P7Linearizable.to_string(), "P7 linearizable against the model");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Property::P1ExactlyOneWinner => "P1 exactly one winner",
            Property::P2NoEarlyTakeover => "P2 no early takeover",
            Property::P3TakeoverHappens => "P3 takeover happens",
            Property::P4DeposedLeaderLearns => "P4 deposed leader learns",
            Property::P5ReleaseFreesAtOnce => "P5 release frees at once",
            Property::P6NoOverlappingTenure => "P6 no overlapping tenure",
            Property::P7Linearizable => "P7 linearizable against the model",
            Property::P8FencingEpoch => "P8 fencing epoch",
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A property that the history refutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// What is wrong, in words.
    pub message: String,
    /// The events that show it: indices into `history.events`, ascending.
    /// Render them with [`timeline`].
    pub window: Vec<usize>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated: {}", self.property, self.message)
    }
}

/// A part of the history the checker could not decide within its budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inconclusive {
    /// Which property is undecided.
    pub property: Property,
    /// Why, in words.
    pub message: String,
    /// Events of the undecided part (indices into `history.events`, ascending).
    pub window: Vec<usize>,
}

impl fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} undecided: {}", self.property, self.message)
    }
}

/// The result of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Every violation found (P7 first, then P6).
    pub violations: Vec<Violation>,
    /// Parts that could not be decided: neither passed nor failed.
    pub inconclusive: Vec<Inconclusive>,
    /// The number of events checked.
    pub ops_checked: usize,
}

impl Verdict {
    /// True iff nothing was violated and nothing was left undecided.
    pub fn is_pass(&self) -> bool {
        self.violations.is_empty() && self.inconclusive.is_empty()
    }
}

/// Knobs of the checker; [`Options::default`] suits recorded histories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Extra tolerance for the alignment of the recorder's clock with the
    /// server's, applied to calls without `server_time` (default 0: the
    /// observed misalignment is always added, see the module docs).
    pub clock_slack: Span,
    /// Whether the history starts on a free lease (default true, as seeded);
    /// if false it may start in any state.
    pub start_free: bool,
    /// Search steps allowed per call of a span (default 200).
    pub steps_per_op: u64,
    /// Search steps allowed for any span at least (default 100 000).
    pub min_steps: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock_slack: Span(0),
            start_free: true,
            steps_per_op: 200,
            min_steps: 100_000,
        }
    }
}

/// Check P7, P6 and (for histories with actions) P8, with default options.
pub fn check(history: &History) -> Verdict {
    check_with(history, &Options::default())
}

/// Check P7, P6 and (for histories with actions) P8; violations in that order.
pub fn check_with(history: &History, options: &Options) -> Verdict {
    let mut verdict = check_linearizable(history, options);
    if history.ttl.as_micros() > 0 {
        verdict.violations.extend(check_tenures(history));
    }
    verdict.violations.extend(check_actions(history).violations);
    verdict
}

/// Check P7 only: is the history linearizable against the model?
///
/// ```
/// use leasecheck_model::check::{check_linearizable, Options};
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// // A try_acquire that fails on a lease nobody could hold (the seed row is
/// // missing, say) is a violation: the model lets it win.
/// let h = History {
///     ttl: Span::from_secs(10),
///     events: vec![Event {
///         candidate: Candidate(1),
///         call: Call::Lease { op: Op::TryAcquire },
///         invoke: Time(0),
///         complete: Time(500),
///         server_time: None,
///         outcome: Outcome::Fail,
///     }],
/// };
/// let verdict = check_linearizable(&h, &Options::default());
/// assert_eq!(verdict.violations.len(), 1);
/// assert!(verdict.violations[0].message.contains("free"));
/// ```
pub fn check_linearizable(history: &History, options: &Options) -> Verdict {
    let mut verdict = Verdict {
        ops_checked: history.events.len(),
        ..Verdict::default()
    };
    if history.ttl.as_micros() <= 0 {
        verdict.inconclusive.push(Inconclusive {
            property: Property::P7Linearizable,
            message: format!("the TTL must be positive, the history has {}", history.ttl),
            window: Vec::new(),
        });
        return verdict;
    }
    let prep = prepare(history, options);
    let recs = &prep.recs;
    let ttl = prep.ttl;
    let any: Vec<St> = std::iter::once(St::FREE)
        .chain(prep.leaders.iter().map(|&c| St::held(c, T_MIN, T_MAX)))
        .collect();
    let any: Vec<(St, Option<Rec>)> = any.into_iter().map(|s| (s, None)).collect();
    let mut frontier = if options.start_free {
        vec![(St::FREE, None)]
    } else {
        any.clone()
    };
    let mut engine = Engine::default();
    let mut ends = Vec::new();
    let mut start = 0;
    while start < recs.len() {
        let mut end = start + 1;
        let mut reach = recs[start].ohi;
        while end < recs.len() && recs[end].olo <= reach {
            reach = reach.max(recs[end].ohi);
            end += 1;
        }
        let seg = &recs[start..end];
        let last = end == recs.len();
        let budget = options
            .min_steps
            .max(options.steps_per_op.saturating_mul(seg.len() as u64));
        engine.begin(seg.len(), budget);
        ends.clear();
        let mut found = false;
        let mut exhausted = false;
        for &(s, origin) in &frontier {
            match engine.run(seg, ttl, s, origin, !last, &mut ends) {
                Ok(f) => found |= f,
                Err(BudgetExhausted) => {
                    exhausted = true;
                    break;
                }
            }
            if found && last {
                break;
            }
        }
        if exhausted {
            verdict.inconclusive.push(Inconclusive {
                property: Property::P7Linearizable,
                message: format!(
                    "the search budget of {budget} steps ran out in the {} calls {}; \
                     the calls after them were checked from any state",
                    seg.len(),
                    span_words(seg, prep.t0),
                ),
                window: engine.window(seg),
            });
            frontier.clone_from(&any);
        } else if !found {
            verdict.violations.push(Violation {
                property: Property::P7Linearizable,
                message: engine.explain(seg, ttl, prep.t0),
                window: engine.window(seg),
            });
            frontier.clone_from(&any);
        } else {
            frontier.clone_from(&ends);
            if frontier.len() > FRONTIER_CAP {
                frontier = hull_by_leader(&frontier);
            }
        }
        start = end;
    }
    verdict
}

/// Check P6 only: do the claims of different candidates overlap?
///
/// ```
/// use leasecheck_model::check::check_tenures;
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// let acquire = |c, invoke, complete| Event {
///     candidate: Candidate(c),
///     call: Call::Lease { op: Op::TryAcquire },
///     invoke: Time(invoke),
///     complete: Time(complete),
///     server_time: None,
///     outcome: Outcome::Ok,
/// };
/// let ttl = Span::from_secs(10);
/// // c1 claims [1 ms, 10 s); c2 takes over at 5 s: they overlap.
/// let h = History { ttl, events: vec![acquire(1, 0, 1_000), acquire(2, 5_000_000, 5_001_000)] };
/// assert_eq!(check_tenures(&h).len(), 1);
/// // c2 takes over after c1's claim ended: fine.
/// let h = History { ttl, events: vec![acquire(1, 0, 1_000), acquire(2, 10_000_000, 10_001_000)] };
/// assert!(check_tenures(&h).is_empty());
/// ```
pub fn check_tenures(history: &History) -> Vec<Violation> {
    let ttl = history.ttl.as_micros();
    let events = &history.events;
    let t0 = events
        .iter()
        .map(|e| e.invoke.0.min(e.complete.0))
        .min()
        .unwrap_or(0);
    // (time, calls that open or extend a claim first, index): a call that
    // ends or shortens claims is placed at its completion, after every call
    // that may have taken effect before it
    let mut order: Vec<(i64, u8, usize)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e.call, Call::Action { .. }))
        .map(|(i, e)| {
            let (inv, comp) = minmax(e.invoke.0, e.complete.0);
            match e.call {
                Call::Lease {
                    op: Op::TryAcquire | Op::Renew,
                } => (inv, 0, i),
                _ => (comp, 1, i),
            }
        })
        .collect();
    order.sort_unstable();

    // The longest call: a claim that ended before `now - longest` can no
    // longer be shortened by a call read at `now` or later.
    let longest = events
        .iter()
        .map(|e| e.complete.0.abs_diff(e.invoke.0))
        .max()
        .unwrap_or(0)
        .min(i64::MAX as u64) as i64;
    let mut claims: Vec<Claim> = Vec::new();
    // claims that a later release, reset or age may still shorten (a call
    // read later may have taken effect earlier, so ending a claim does not
    // take it out of this list; only the horizon below does)
    let mut open: Vec<usize> = Vec::new();
    let mut prune_at = 64;
    // each candidate's latest claim, which its renews extend
    let mut latest: HashMap<u16, usize, BuildHasherDefault<FxHasher>> = HashMap::default();
    for &(now, _, i) in &order {
        let e = &events[i];
        let (inv, comp) = minmax(e.invoke.0, e.complete.0);
        let who = e.candidate.0;
        match (e.call, e.outcome) {
            (Call::Lease { op: Op::TryAcquire }, Outcome::Ok) => {
                latest.insert(who, claims.len());
                open.push(claims.len());
                claims.push(Claim::new(who, comp, inv.saturating_add(ttl), i));
            }
            (Call::Lease { op: Op::Renew }, Outcome::Ok) => match latest.get(&who) {
                // answered while the claim still ran: it extends the claim
                Some(&c) if comp <= claims[c].end => {
                    claims[c].end = inv.saturating_add(ttl);
                    claims[c].extended = Some(i);
                }
                // no claim, or it ran out before the answer: a new one
                _ => {
                    latest.insert(who, claims.len());
                    open.push(claims.len());
                    claims.push(Claim::new(who, comp, inv.saturating_add(ttl), i));
                }
            },
            (Call::Lease { op: Op::Release }, Outcome::Ok | Outcome::Unknown) => {
                latest.remove(&who);
                for &c in &open {
                    if claims[c].who == who && claims[c].end > inv {
                        claims[c].end = inv;
                        claims[c].ended = Some(i);
                    }
                }
            }
            (Call::Reset, Outcome::Ok | Outcome::Unknown) => {
                latest.clear();
                for &c in &open {
                    if claims[c].end > inv {
                        claims[c].end = inv;
                        claims[c].ended = Some(i);
                    }
                }
            }
            (Call::Age { by }, Outcome::Ok | Outcome::Unknown) => {
                for &c in &open {
                    if claims[c].end > inv {
                        claims[c].end = claims[c].end.saturating_sub(by.as_micros());
                        claims[c].aged = Some(i);
                    }
                }
            }
            _ => {}
        }
        if open.len() >= prune_at {
            let horizon = now.saturating_sub(longest);
            open.retain(|&c| claims[c].end > horizon || latest.get(&claims[c].who) == Some(&c));
            prune_at = 64.max(2 * open.len());
        }
    }

    claims.retain(|c| c.end > c.start);
    claims.sort_by_key(|c| (c.start, c.end, c.acquired));
    let mut violations = Vec::new();
    let mut active: Vec<usize> = Vec::new();
    for b in 0..claims.len() {
        let cb = &claims[b];
        active.retain(|&a| claims[a].end > cb.start);
        for &a in &active {
            let ca = &claims[a];
            if ca.who == cb.who {
                continue;
            }
            let mut window: Vec<usize> = ca.events().chain(cb.events()).collect();
            window.sort_unstable();
            window.dedup();
            let overlap = ca.end.min(cb.end) - cb.start;
            violations.push(Violation {
                property: Property::P6NoOverlappingTenure,
                message: format!(
                    "c{}'s claim [{}, {}) (from event #{}) overlaps c{}'s claim [{}, {}) \
                     (from event #{}) by {} ms (times in ms after the history's first call)",
                    cb.who,
                    ms(cb.start - t0),
                    ms(cb.end - t0),
                    cb.acquired,
                    ca.who,
                    ms(ca.start - t0),
                    ms(ca.end - t0),
                    ca.acquired,
                    ms(overlap),
                ),
                window,
            });
        }
        active.push(b);
    }
    violations
}

/// What [`check_actions`] found in a history's actions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionVerdict {
    /// Every P8 violation, in the order of the actions they blame: for each,
    /// being outside its actor's tenure first, then overlapping another actor.
    pub violations: Vec<Violation>,
    /// The accepted actions that some violation blames (the stale writes):
    /// indices into `history.events`, ascending.
    pub stale: Vec<usize>,
    /// How many actions the resource accepted (`Ok`).
    pub accepted: usize,
    /// How many it refused (`Fail`).
    pub refused: usize,
}

/// Check P8 on the actions of a history: every accepted action taken outside
/// its actor's tenure, and every pair of actors that acted at once (see the
/// module documentation, "P8 actions"). A history without actions passes.
///
/// ```
/// use leasecheck_model::check::{check_actions, timeline};
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// let ev = |c, call, invoke, complete, outcome| Event {
///     candidate: Candidate(c),
///     call,
///     invoke: Time(invoke),
///     complete: Time(complete),
///     server_time: None,
///     outcome,
/// };
/// let acquire = Call::Lease { op: Op::TryAcquire };
/// let act = Call::Action { epoch: None, seq: None };
/// // c0 leads and acts, then pauses past the TTL; c1 takes over and acts;
/// // c0 wakes up and writes: accepted, though c0 had been deposed.
/// let h = History {
///     ttl: Span::from_millis(100),
///     events: vec![
///         ev(0, acquire, 0, 1_000, Outcome::Ok),
///         ev(0, act, 2_000, 3_000, Outcome::Ok),
///         ev(1, acquire, 150_000, 151_000, Outcome::Ok),
///         ev(1, act, 152_000, 153_000, Outcome::Ok),
///         ev(0, act, 300_000, 301_000, Outcome::Ok),
///     ],
/// };
/// let verdict = check_actions(&h);
/// assert_eq!(verdict.stale, vec![4]);
/// assert_eq!(verdict.violations.len(), 2, "outside its tenure, and two actors at once");
/// println!("{}", timeline(&h, &verdict.violations[0].window));
/// ```
pub fn check_actions(history: &History) -> ActionVerdict {
    let events = &history.events;
    let mut verdict = ActionVerdict::default();
    if !events.iter().any(|e| matches!(e.call, Call::Action { .. })) {
        return verdict;
    }
    let ttl = history.ttl.as_micros();
    let window = |i: usize| minmax(events[i].invoke.0, events[i].complete.0);
    let lease_op = |i: usize| match events[i].call {
        Call::Lease { op } => Some(op),
        _ => None,
    };
    // Per candidate: calls that show it may hold the lease (confirmations)
    // and those that may have started a tenure (acquires).
    let mut confirms: HashMap<u16, Vec<usize>, BuildHasherDefault<FxHasher>> = HashMap::default();
    let mut acquires: HashMap<u16, Vec<usize>, BuildHasherDefault<FxHasher>> = HashMap::default();
    // Calls after which the lease definitely changed hands.
    let mut ends: Vec<usize> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let who = e.candidate.0;
        match (e.call, e.outcome) {
            (Call::Lease { op: Op::TryAcquire }, Outcome::Ok | Outcome::Unknown) => {
                confirms.entry(who).or_default().push(i);
                acquires.entry(who).or_default().push(i);
                if e.outcome == Outcome::Ok {
                    ends.push(i);
                }
            }
            (Call::Lease { op: Op::Renew }, Outcome::Ok) => {
                confirms.entry(who).or_default().push(i)
            }
            (Call::Lease { op: Op::Release }, Outcome::Ok) | (Call::Reset, Outcome::Ok) => {
                ends.push(i)
            }
            _ => {}
        }
    }
    ends.sort_by_key(|&i| (window(i).1, i));
    // The call of `list` that may have taken effect before an action ending
    // at `comp` and completed last (the most recent one it can rely on).
    let latest = |list: Option<&Vec<usize>>, comp: i64| -> Option<usize> {
        list?
            .iter()
            .copied()
            .filter(|&c| window(c).0 <= comp)
            .max_by_key(|&c| (window(c).1, c))
    };

    struct Act {
        ev: usize,
        who: u16,
        inv: i64,
        seq: Option<u64>,
        /// The call that started its tenure (an acquire, else a renew).
        tenure: Option<usize>,
    }
    let mut acts: Vec<Act> = Vec::new();
    let mut stale: Vec<usize> = Vec::new();
    // each finding keyed by the action it blames, then its kind
    let mut found: Vec<((usize, u8), Violation)> = Vec::new();
    // fenced actions invoked after their tenure ended at the lease
    let mut fenced_late: Vec<usize> = Vec::new();
    let who_name = |c: u16| format!("c{c}");
    for (i, e) in events.iter().enumerate() {
        let Call::Action { epoch, seq } = e.call else {
            continue;
        };
        match e.outcome {
            Outcome::Ok => verdict.accepted += 1,
            Outcome::Fail => {
                verdict.refused += 1;
                continue;
            }
            Outcome::Unknown => continue,
        }
        let who = e.candidate.0;
        let (inv, comp) = window(i);
        let epoch_words = epoch.map(|e| format!(" (epoch {e})")).unwrap_or_default();
        let confirm = latest(confirms.get(&who), comp);
        let tenure = latest(acquires.get(&who), comp).or(confirm);
        acts.push(Act {
            ev: i,
            who,
            inv,
            seq,
            tenure,
        });
        let Some(c) = confirm else {
            stale.push(i);
            found.push((
                (i, 0),
                Violation {
                    property: Property::P8FencingEpoch,
                    message: format!(
                    "{}'s action #{i}{epoch_words} was accepted, but {} held no tenure: none of \
                     its own acquires or renews could have taken effect before it",
                    who_name(who),
                    who_name(who)
                ),
                    window: vec![i],
                },
            ));
            continue;
        };
        let c_comp = window(c).1;
        // the first call that ended the tenure, definitely after it was
        // confirmed and definitely before the action
        let ended = ends
            .iter()
            .copied()
            .take_while(|&x| window(x).1 < inv)
            .find(|&x| {
                window(x).0 > c_comp
                    && match events[x].call {
                        Call::Lease { op: Op::TryAcquire } => events[x].candidate.0 != who,
                        Call::Lease { op: Op::Release } => events[x].candidate.0 == who,
                        _ => true,
                    }
            });
        let Some(x) = ended else {
            continue;
        };
        // A fenced write is the resource's call: kept below only if a newer
        // tenure had written first (see the module docs).
        if epoch.is_some() {
            fenced_late.push(i);
        } else {
            stale.push(i);
        }
        let by = match (events[x].call, lease_op(x)) {
            (_, Some(Op::TryAcquire)) => format!(
                "{}'s try_acquire #{x} took the lease over",
                who_name(events[x].candidate.0)
            ),
            (_, Some(_)) => format!("{} released the lease (#{x})", who_name(who)),
            _ => format!("the harness reset the lease (#{x})"),
        };
        let mut win = vec![c, x, i];
        // the new leader's first accepted action before this one, and the
        // actor's next lease call (where it learns)
        let successor = events[x].candidate.0;
        if lease_op(x) == Some(Op::TryAcquire) {
            win.extend(
                events
                    .iter()
                    .enumerate()
                    .filter(|(j, f)| {
                        f.candidate.0 == successor
                            && f.outcome == Outcome::Ok
                            && matches!(f.call, Call::Action { .. })
                            && window(*j).0 >= window(x).1
                            && window(*j).1 < inv
                    })
                    .map(|(j, _)| j)
                    .min_by_key(|&j| window(j)),
            );
        }
        win.extend(
            events
                .iter()
                .enumerate()
                .filter(|(j, f)| {
                    f.candidate.0 == who && lease_op(*j).is_some() && window(*j).0 >= comp
                })
                .map(|(j, _)| j)
                .min_by_key(|&j| window(j)),
        );
        win.sort_unstable();
        win.dedup();
        found.push((
            (i, 0),
            Violation {
                property: Property::P8FencingEpoch,
                message: format!(
                    "{}'s action #{i}{epoch_words} was accepted after its tenure had ended: {by} \
                     {} ms after {}'s last acquire or renew (#{c}) was sent (TTL {} ms), and the \
                     action was invoked {} ms after that",
                    who_name(who),
                    ms(window(x).1 - window(c).0),
                    who_name(who),
                    ms(ttl),
                    ms(inv - window(x).1),
                ),
                window: win,
            },
        ));
    }

    // Overlapping actors: per tenure with a definite start (an Ok acquire),
    // its earliest accepted action in real time and in the resource's order.
    struct Tenure {
        who: u16,
        first_done: (i64, usize),
        first_seq: Option<(u64, usize)>,
    }
    let mut tenures: HashMap<usize, Tenure, BuildHasherDefault<FxHasher>> = HashMap::default();
    for a in &acts {
        let Some(t) = a.tenure else { continue };
        if events[t].outcome != Outcome::Ok || lease_op(t) != Some(Op::TryAcquire) {
            continue;
        }
        let done = (window(a.ev).1, a.ev);
        let entry = tenures.entry(t).or_insert(Tenure {
            who: a.who,
            first_done: done,
            first_seq: None,
        });
        entry.first_done = entry.first_done.min(done);
        if let Some(s) = a.seq {
            entry.first_seq = Some(entry.first_seq.map_or((s, a.ev), |f| f.min((s, a.ev))));
        }
    }
    let mut later: Vec<(usize, &Tenure)> = tenures.iter().map(|(&t, v)| (t, v)).collect();
    later.sort_unstable_by_key(|(t, _)| *t);
    let mut reported: HashSet<(usize, usize), BuildHasherDefault<FxHasher>> = HashSet::default();
    for a in &acts {
        let Some(ta) = a.tenure else { continue };
        for &(tb, b) in &later {
            if b.who == a.who || window(ta).1 >= window(tb).0 {
                continue; // same actor, or not a definitely later tenure
            }
            let after = match (a.seq, b.first_seq) {
                (Some(sa), Some((sb, ev))) if sb < sa => Some((
                    ev,
                    format!("the resource ordered it after that write (seq {sa} after seq {sb})"),
                )),
                _ if b.first_done.0 < a.inv => Some((
                    b.first_done.1,
                    format!(
                        "it was invoked {} ms after that write completed",
                        ms(a.inv - b.first_done.0)
                    ),
                )),
                _ => None,
            };
            let Some((bev, how)) = after else { continue };
            stale.push(a.ev);
            if !reported.insert((ta, tb)) {
                continue;
            }
            let mut win = vec![ta, tb, bev, a.ev];
            win.sort_unstable();
            win.dedup();
            found.push((
                (a.ev, 1),
                Violation {
                    property: Property::P8FencingEpoch,
                    message: format!(
                    "{} and {} acted at once: {}'s action #{} (tenure from #{ta}) was accepted \
                     after {}'s action #{bev} of a later tenure (from #{tb}): {how}",
                    who_name(a.who),
                    who_name(b.who),
                    who_name(a.who),
                    a.ev,
                    who_name(b.who),
                ),
                    window: win,
                },
            ));
        }
    }
    stale.sort_unstable();
    stale.dedup();
    // a fenced write after its tenure ended that no newer tenure's write
    // preceded was ordered before the new tenure by the fence: not blamed
    found.retain(|((i, kind), _)| {
        *kind != 0 || !fenced_late.contains(i) || stale.binary_search(i).is_ok()
    });
    found.sort_by_key(|(key, _)| *key);
    verdict.violations = found.into_iter().map(|(_, v)| v).collect();
    verdict.stale = stale;
    verdict
}

/// A short human-readable table of the events in `window` (indices into
/// `history.events`), sorted by invoke: times relative to the first invoke
/// in the window, in milliseconds, and the holder implied by the `Ok` calls
/// read in that order (`?` until one says). An action shows as `act` with
/// its epoch and resource `seq` where known; a refused one as `refused`.
///
/// ```
/// use leasecheck_model::check::timeline;
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// let h = History {
///     ttl: Span::from_secs(10),
///     events: vec![Event {
///         candidate: Candidate(3),
///         call: Call::Lease { op: Op::TryAcquire },
///         invoke: Time(1_000),
///         complete: Time(1_500),
///         server_time: Some(Time(1_200)),
///         outcome: Outcome::Ok,
///     }],
/// };
/// let table = timeline(&h, &[0]);
/// assert!(table.contains("c3"));
/// assert!(table.contains("try_acquire"));
/// ```
pub fn timeline(history: &History, window: &[usize]) -> String {
    let mut rows: Vec<usize> = window
        .iter()
        .copied()
        .filter(|&i| i < history.events.len())
        .collect();
    rows.sort_by_key(|&i| (history.events[i].invoke, i));
    rows.dedup();
    let t0 = rows
        .iter()
        .map(|&i| history.events[i].invoke.0)
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "TTL {} ms; times in ms after {} µs (the first invoke shown)",
        ms(history.ttl.as_micros()),
        t0
    );
    let _ = writeln!(
        out,
        "{:>8} {:>11} {:>11} {:>11}  {:<9} {:<20} {:<8} holder",
        "event", "invoke", "complete", "server", "who", "call", "outcome"
    );
    let mut holder = String::from("?");
    for i in rows {
        let e = &history.events[i];
        let call = match e.call {
            Call::Lease { op } => op.name().to_string(),
            Call::Reset => "reset".to_string(),
            Call::Age { by } => format!("age {}", ms(by.as_micros())),
            Call::Action { epoch, seq } => {
                let mut call = "act".to_string();
                if let Some(epoch) = epoch {
                    let _ = write!(call, " epoch={epoch}");
                }
                if let Some(seq) = seq {
                    let _ = write!(call, " seq={seq}");
                }
                call
            }
        };
        let outcome = match (e.outcome, e.call) {
            (Outcome::Ok, _) => "ok",
            (Outcome::Fail, Call::Action { .. }) => "refused",
            (Outcome::Fail, _) => "fail",
            (Outcome::Unknown, _) => "unknown",
        };
        if e.outcome == Outcome::Ok {
            match e.call {
                Call::Lease {
                    op: Op::TryAcquire | Op::Renew,
                } => holder = e.candidate.to_string(),
                Call::Lease { op: Op::Release } | Call::Reset => holder = "free".to_string(),
                _ => {}
            }
        }
        let server = e
            .server_time
            .map_or_else(|| "-".to_string(), |t| ms(t.0 - t0));
        let _ = writeln!(
            out,
            "{:>8} {:>11} {:>11} {:>11}  {:<9} {:<20} {:<8} {}",
            format!("#{i}"),
            ms(e.invoke.0 - t0),
            ms(e.complete.0 - t0),
            server,
            e.candidate.to_string(),
            call,
            outcome,
            holder
        );
    }
    out
}

// ---------------------------------------------------------------------------
// P6 helpers

struct Claim {
    who: u16,
    start: i64,
    end: i64,
    acquired: usize,
    extended: Option<usize>,
    aged: Option<usize>,
    ended: Option<usize>,
}

impl Claim {
    fn new(who: u16, start: i64, end: i64, acquired: usize) -> Claim {
        Claim {
            who,
            start,
            end,
            acquired,
            extended: None,
            aged: None,
            ended: None,
        }
    }

    fn events(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.acquired)
            .chain(self.extended)
            .chain(self.aged)
            .chain(self.ended)
    }
}

fn minmax(a: i64, b: i64) -> (i64, i64) {
    (a.min(b), a.max(b))
}

/// Microseconds as milliseconds with three decimals.
fn ms(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:03}", m / 1000, m % 1000)
}

// ---------------------------------------------------------------------------
// P7: preprocessing

/// Sentinel leader: the lease is free.
const NOBODY: u32 = u32::MAX;
/// Bounds of the time axis inside the search (no overflow in sums of two).
const T_MIN: i64 = i64::MIN / 4;
const T_MAX: i64 = i64::MAX / 4;
/// Most end states carried from one span to the next before merging.
const FRONTIER_CAP: usize = 16;
/// Most blocked calls remembered for a report.
const BLOCKED_CAP: usize = 8;

fn clamp(t: i64) -> i64 {
    t.clamp(T_MIN, T_MAX)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Acquire,
    Renew,
    Release,
    Reset,
    Age(i64),
}

/// One call, ready for the search.
#[derive(Clone, Copy, Debug)]
struct Rec {
    /// Order window: the call took effect at a position between these.
    olo: i64,
    ohi: i64,
    /// `now` window: the call's `now()` lies between these.
    nlo: i64,
    nhi: i64,
    kind: Kind,
    who: u32,
    outcome: Outcome,
    /// Index into `history.events`.
    ev: u32,
}

/// The lease state seen by the search: the leader, and the interval of
/// values `acquired_at` can still have (irrelevant, and canonical, when free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct St {
    leader: u32,
    lo: i64,
    hi: i64,
}

impl Default for St {
    fn default() -> St {
        St::FREE
    }
}

impl St {
    const FREE: St = St {
        leader: NOBODY,
        lo: T_MIN,
        hi: T_MAX,
    };

    fn held(leader: u32, lo: i64, hi: i64) -> St {
        St { leader, lo, hi }
    }

    /// True iff every behaviour from `other` is possible from `self`.
    fn covers(&self, other: &St) -> bool {
        self.leader == other.leader && self.lo <= other.lo && other.hi <= self.hi
    }
}

impl Rec {
    /// The state after the call took effect with result `true`, if the model
    /// allows that result for some `now` in the window and some value of
    /// `acquired_at` in the interval.
    fn effect_true(&self, s: St, ttl: i64) -> Option<St> {
        match self.kind {
            Kind::Acquire => {
                if s.leader == NOBODY {
                    Some(St::held(self.who, self.nlo, self.nhi))
                } else if s.lo < self.nhi - ttl {
                    // stale: acquired_at < now - ttl, i.e. now >= acquired_at + ttl + 1
                    Some(St::held(self.who, self.nlo.max(s.lo + ttl + 1), self.nhi))
                } else {
                    None
                }
            }
            Kind::Renew => (s.leader == self.who).then(|| St::held(self.who, self.nlo, self.nhi)),
            Kind::Release => (s.leader == self.who).then_some(St::FREE),
            Kind::Reset => Some(St::FREE),
            Kind::Age(by) => Some(if s.leader == NOBODY {
                s
            } else {
                St::held(
                    s.leader,
                    clamp(s.lo.saturating_sub(by)),
                    clamp(s.hi.saturating_sub(by)),
                )
            }),
        }
    }

    /// The state after the call returned `false`, if the model allows that.
    fn effect_false(&self, s: St, ttl: i64) -> Option<St> {
        match self.kind {
            Kind::Acquire => {
                // held and fresh: acquired_at >= now - ttl for some now >= nlo
                (s.leader != NOBODY && s.hi >= self.nlo - ttl).then(|| St {
                    lo: s.lo.max(self.nlo - ttl),
                    ..s
                })
            }
            Kind::Renew | Kind::Release => (s.leader != self.who).then_some(s),
            Kind::Reset | Kind::Age(_) => Some(s),
        }
    }

    fn label(&self) -> String {
        let call = match self.kind {
            Kind::Acquire => "try_acquire".to_string(),
            Kind::Renew => "renew".to_string(),
            Kind::Release => "release".to_string(),
            Kind::Reset => "reset".to_string(),
            Kind::Age(by) => format!("age by {} ms", ms(by)),
        };
        let outcome = match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        };
        match self.kind {
            Kind::Reset | Kind::Age(_) => format!("#{} harness {call} -> {outcome}", self.ev),
            _ => format!("#{} c{} {call} -> {outcome}", self.ev, self.who),
        }
    }

    /// Why the call cannot go next in state `s` with its observed result.
    fn why_not(&self, s: St, ttl: i64) -> String {
        let leader = if s.leader == NOBODY {
            "nobody".to_string()
        } else {
            format!("c{}", s.leader)
        };
        match (self.kind, self.outcome) {
            (Kind::Acquire, Outcome::Ok) => format!(
                "{leader} held the lease and it was fresh: its last acquire/renew was at most \
                 {} ms old at this call's latest possible now(), not older than the TTL {} ms",
                ms(self.nhi.saturating_sub(s.lo)),
                ms(ttl)
            ),
            (Kind::Acquire, _) if s.leader == NOBODY => {
                "the lease was free, so try_acquire would have won".to_string()
            }
            (Kind::Acquire, _) => format!(
                "{leader}'s lease was stale: at least {} ms old at this call's earliest \
                 possible now(), older than the TTL {} ms, so try_acquire would have won",
                ms(self.nlo.saturating_sub(s.hi)),
                ms(ttl)
            ),
            (Kind::Renew | Kind::Release, Outcome::Ok) => {
                format!("c{} was not the leader (leader: {leader})", self.who)
            }
            (Kind::Renew | Kind::Release, _) => {
                format!(
                    "c{} was the leader, so the call would have succeeded",
                    self.who
                )
            }
            _ => "it must come later".to_string(),
        }
    }
}

struct Prepared {
    recs: Vec<Rec>,
    ttl: i64,
    /// Every candidate of a lease call.
    leaders: Vec<u32>,
    /// The earliest time of the history (reports are relative to it).
    t0: i64,
}

fn prepare(h: &History, o: &Options) -> Prepared {
    let ttl = h.ttl.as_micros().min(T_MAX);
    let mut excursion = 0i64;
    for e in h
        .events
        .iter()
        .filter(|e| !matches!(e.call, Call::Action { .. }))
    {
        if let Some(st) = e.server_time {
            let (inv, comp) = minmax(e.invoke.0, e.complete.0);
            excursion = excursion
                .max(inv.saturating_sub(st.0))
                .max(st.0.saturating_sub(comp));
        }
    }
    let slack = o.clock_slack.as_micros().max(0).saturating_add(excursion);
    let mut leaders = Vec::new();
    let mut recs = Vec::with_capacity(h.events.len());
    for (i, e) in h.events.iter().enumerate() {
        let (inv, comp) = minmax(e.invoke.0, e.complete.0);
        let (olo, ohi) = match e.server_time {
            Some(st) => (inv.min(st.0), comp.max(st.0)),
            None => (inv, comp),
        };
        let (nlo, nhi) = match e.server_time {
            Some(st) => (st.0, st.0),
            None => (inv.saturating_sub(slack), comp.saturating_add(slack)),
        };
        let kind = match e.call {
            Call::Lease { op: Op::TryAcquire } => Kind::Acquire,
            Call::Lease { op: Op::Renew } => Kind::Renew,
            Call::Lease { op: Op::Release } => Kind::Release,
            Call::Reset => Kind::Reset,
            Call::Age { by } => Kind::Age(by.as_micros()),
            // not a lease call: the lease never sees it (P8 reads actions)
            Call::Action { .. } => continue,
        };
        if matches!(kind, Kind::Reset | Kind::Age(_)) {
            if e.outcome == Outcome::Fail {
                continue; // it did not take effect
            }
        } else {
            leaders.push(u32::from(e.candidate.0));
        }
        recs.push(Rec {
            olo: clamp(olo),
            ohi: clamp(ohi),
            nlo: clamp(nlo),
            nhi: clamp(nhi),
            kind,
            who: u32::from(e.candidate.0),
            outcome: e.outcome,
            ev: u32::try_from(i).expect("fewer than 2^32 events"),
        });
    }
    recs.sort_unstable_by_key(|r| (r.olo, r.ev));
    leaders.sort_unstable();
    leaders.dedup();
    let t0 = recs.iter().map(|r| r.olo).min().unwrap_or(0);
    Prepared {
        recs,
        ttl,
        leaders,
        t0,
    }
}

fn span_words(seg: &[Rec], t0: i64) -> String {
    let lo = seg.iter().map(|r| r.olo).min().unwrap_or(0);
    let hi = seg.iter().map(|r| r.ohi).max().unwrap_or(0);
    format!(
        "invoked between {} ms and {} ms after the history's first call",
        ms(lo - t0),
        ms(hi - t0)
    )
}

/// A state a span can end in, with the last call that changed it (for reports).
type End = (St, Option<Rec>);

/// Keep only maximal states: push `s` unless covered, dropping what it covers.
fn push_end(ends: &mut Vec<End>, s: St, origin: Option<Rec>) {
    if ends.iter().any(|e| e.0.covers(&s)) {
        return;
    }
    ends.retain(|e| !s.covers(&e.0));
    ends.push((s, origin));
}

/// Merge the states of each leader into the hull of their intervals.
fn hull_by_leader(states: &[End]) -> Vec<End> {
    let mut out: Vec<End> = Vec::new();
    for &(s, origin) in states {
        match out.iter_mut().find(|o| o.0.leader == s.leader) {
            Some(o) => {
                o.0.lo = o.0.lo.min(s.lo);
                o.0.hi = o.0.hi.max(s.hi);
            }
            None => out.push((s, origin)),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// P7: the search

#[derive(Debug)]
struct BudgetExhausted;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Take effect with result true (Ok calls, and Unknown calls that happened).
    Apply,
    /// Return false, narrowing the interval (a Fail try_acquire).
    Narrow,
    /// Leave an Unknown call out.
    Drop,
}

#[derive(Clone, Copy, Debug)]
struct Choice {
    idx: u32,
    mode: Mode,
    next: St,
    rank: (u8, i64, u32),
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    mark: usize,
    wmark: usize,
    st: St,
    p: usize,
    ndone: usize,
    next: usize,
    end: usize,
    start: usize,
}

/// The deepest dead end seen: for reports.
#[derive(Clone, Debug)]
struct DeadEnd {
    ndone: usize,
    st: St,
    writes: Vec<Rec>,
    blocked: Vec<Rec>,
}

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

type Cache = HashMap<Box<[u64]>, Vec<(i64, i64)>, BuildHasherDefault<FxHasher>>;

/// The search over one span, with buffers reused from span to span.
#[derive(Default)]
struct Engine {
    /// Calls in the span.
    n: usize,
    /// Applied (or dropped) calls, as a bitset over the span.
    done: Vec<u64>,
    ndone: usize,
    /// First call not done.
    p: usize,
    /// Where the last pass stopped: no call at or after it is done.
    stop: usize,
    st: St,
    /// Calls done, in order, for undo.
    trail: Vec<u32>,
    /// State-changing calls applied, in order, for reports.
    writes: Vec<u32>,
    frames: Vec<Frame>,
    choices: Vec<Choice>,
    minimal: Vec<u32>,
    cache: Cache,
    key: Vec<u64>,
    steps: u64,
    budget: u64,
    deepest: Option<DeadEnd>,
    /// The call that produced the start state, in an earlier span.
    origin: Option<Rec>,
}

impl Engine {
    fn begin(&mut self, n: usize, budget: u64) {
        self.done.clear();
        self.done.resize(n.div_ceil(64), 0);
        if !self.cache.is_empty() {
            self.cache.clear();
        }
        self.steps = 0;
        self.budget = budget;
        self.deepest = None;
    }

    /// Explore the span from `start`. With `enumerate`, every reachable end
    /// state is pushed to `ends`; otherwise the search stops at the first.
    /// Returns whether any order explains the span.
    fn run(
        &mut self,
        recs: &[Rec],
        ttl: i64,
        start: St,
        origin: Option<Rec>,
        enumerate: bool,
        ends: &mut Vec<End>,
    ) -> Result<bool, BudgetExhausted> {
        let n = recs.len();
        self.n = n;
        self.origin = origin;
        self.done.iter_mut().for_each(|w| *w = 0);
        self.ndone = 0;
        self.p = 0;
        self.st = start;
        self.trail.clear();
        self.writes.clear();
        self.frames.clear();
        self.choices.clear();
        let mut found = false;
        'descend: loop {
            self.steps += 1;
            if self.steps > self.budget {
                return Err(BudgetExhausted);
            }
            self.pass(recs, ttl);
            if self.ndone == n {
                found = true;
                let last = self.writes.last().map(|&i| recs[i as usize]);
                push_end(ends, self.st, last.or(origin));
                if !enumerate {
                    return Ok(true);
                }
            } else {
                let c0 = self.choices.len();
                self.gen_choices(recs, ttl);
                let k = self.choices.len() - c0;
                if k == 0 {
                    self.note_dead_end(recs);
                } else if k == 1 {
                    let c = self.choices.pop().expect("one choice");
                    self.take(c);
                    continue 'descend;
                } else if self.seen() {
                    self.choices.truncate(c0);
                } else {
                    self.frames.push(Frame {
                        mark: self.trail.len(),
                        wmark: self.writes.len(),
                        st: self.st,
                        p: self.p,
                        ndone: self.ndone,
                        next: c0 + 1,
                        end: c0 + k,
                        start: c0,
                    });
                    let c = self.choices[c0];
                    self.take(c);
                    continue 'descend;
                }
            }
            // backtrack
            loop {
                let Some(f) = self.frames.last_mut() else {
                    return Ok(found);
                };
                if f.next < f.end {
                    let c = self.choices[f.next];
                    f.next += 1;
                    let f = *f;
                    self.undo(&f);
                    self.take(c);
                    continue 'descend;
                }
                let start = f.start;
                self.frames.pop();
                self.choices.truncate(start);
            }
        }
    }

    fn mark(&mut self, i: usize) {
        self.done[i / 64] |= 1 << (i % 64);
        self.trail.push(i as u32);
        self.ndone += 1;
    }

    /// The first call at or after `i` that is not done (or `n`).
    fn next_undone(&self, i: usize, n: usize) -> usize {
        let mut w = i / 64;
        if w >= self.done.len() {
            return n;
        }
        let mut bits = !self.done[w] & (!0u64 << (i % 64));
        loop {
            if bits != 0 {
                return (w * 64 + bits.trailing_zeros() as usize).min(n);
            }
            w += 1;
            if w >= self.done.len() {
                return n;
            }
            bits = !self.done[w];
        }
    }

    /// Collect the minimal pending calls, applying at once every minimal
    /// `Fail` call that the state allows and that changes nothing.
    fn pass(&mut self, recs: &[Rec], ttl: i64) {
        let n = recs.len();
        self.minimal.clear();
        let mut m = i64::MAX;
        let mut i = self.next_undone(self.p, n);
        while i < n {
            let r = &recs[i];
            if r.olo > m {
                break;
            }
            if r.outcome == Outcome::Fail && r.effect_false(self.st, ttl) == Some(self.st) {
                self.mark(i);
            } else {
                m = m.min(r.ohi);
                self.minimal.push(i as u32);
            }
            i = self.next_undone(i + 1, n);
        }
        self.stop = i;
        self.p = self.next_undone(self.p, n);
    }

    fn gen_choices(&mut self, recs: &[Rec], ttl: i64) {
        let c0 = self.choices.len();
        let st = self.st;
        for k in 0..self.minimal.len() {
            let idx = self.minimal[k];
            let r = &recs[idx as usize];
            match r.outcome {
                Outcome::Ok => {
                    if let Some(next) = r.effect_true(st, ttl) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Apply,
                            next,
                            rank: (1, r.ohi, idx),
                        });
                    }
                }
                Outcome::Fail => {
                    if let Some(next) = r.effect_false(st, ttl) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Narrow,
                            next,
                            rank: (2, next.lo, idx),
                        });
                    }
                }
                Outcome::Unknown => {
                    self.choices.push(Choice {
                        idx,
                        mode: Mode::Drop,
                        next: st,
                        rank: (0, r.ohi, idx),
                    });
                    if let Some(next) = r.effect_true(st, ttl) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Apply,
                            next,
                            rank: (3, r.ohi, idx),
                        });
                    }
                }
            }
        }
        if self.choices.len() - c0 >= 2 {
            self.choices[c0..].sort_unstable_by_key(|c| c.rank);
        }
    }

    fn take(&mut self, c: Choice) {
        self.mark(c.idx as usize);
        self.st = c.next;
        if c.mode == Mode::Apply {
            self.writes.push(c.idx);
        }
        if c.idx as usize == self.p {
            self.p = self.next_undone(self.p, self.n);
        }
    }

    fn undo(&mut self, f: &Frame) {
        while self.trail.len() > f.mark {
            let i = self.trail.pop().expect("trail entry") as usize;
            self.done[i / 64] &= !(1 << (i % 64));
        }
        self.ndone = f.ndone;
        self.p = f.p;
        self.st = f.st;
        self.writes.truncate(f.wmark);
    }

    /// Whether this configuration, or one that covers it, was explored
    /// already; if not, remember it.
    fn seen(&mut self) -> bool {
        debug_assert!(self.stop > self.p);
        self.key.clear();
        self.key
            .push(self.p as u64 | u64::from(self.st.leader) << 32);
        let (a, b) = (self.p / 64, (self.stop - 1) / 64);
        self.key.extend_from_slice(&self.done[a..=b]);
        let (lo, hi) = (self.st.lo, self.st.hi);
        if let Some(list) = self.cache.get_mut(&self.key[..]) {
            if list.iter().any(|&(l, h)| l <= lo && hi <= h) {
                return true;
            }
            list.retain(|&(l, h)| !(lo <= l && h <= hi));
            list.push((lo, hi));
            false
        } else {
            self.cache
                .insert(self.key.clone().into_boxed_slice(), vec![(lo, hi)]);
            false
        }
    }

    fn note_dead_end(&mut self, recs: &[Rec]) {
        if self.deepest.as_ref().is_some_and(|d| d.ndone >= self.ndone) {
            return;
        }
        let w = self.writes.len();
        let mut writes: Vec<Rec> = self.origin.iter().copied().collect();
        writes.extend(
            self.writes[w.saturating_sub(2)..]
                .iter()
                .map(|&i| recs[i as usize]),
        );
        let writes = writes.split_off(writes.len().saturating_sub(2));
        self.deepest = Some(DeadEnd {
            ndone: self.ndone,
            st: self.st,
            writes,
            blocked: self
                .minimal
                .iter()
                .take(BLOCKED_CAP)
                .map(|&i| recs[i as usize])
                .collect(),
        });
    }

    /// The report window: around the deepest dead end, else the span's start.
    fn window(&self, seg: &[Rec]) -> Vec<usize> {
        let mut w: Vec<usize> = match &self.deepest {
            Some(d) => d
                .writes
                .iter()
                .chain(&d.blocked)
                .map(|r| r.ev as usize)
                .collect(),
            None => seg.iter().take(16).map(|r| r.ev as usize).collect(),
        };
        w.sort_unstable();
        w.dedup();
        w
    }

    fn explain(&self, seg: &[Rec], ttl: i64, t0: i64) -> String {
        let mut msg = format!(
            "no order of the {} calls {} explains their outcomes (TTL {} ms)",
            seg.len(),
            span_words(seg, t0),
            ms(ttl)
        );
        let Some(d) = &self.deepest else {
            return msg;
        };
        let _ = write!(msg, "; the longest explanation orders {} of them", d.ndone);
        if !d.writes.is_empty() {
            let w: Vec<String> = d.writes.iter().map(Rec::label).collect();
            let _ = write!(msg, ", last changed by {}", w.join(" then "));
        }
        if d.st.leader == NOBODY {
            msg.push_str(", leaving the lease free");
        } else {
            let _ = write!(msg, ", leaving c{} the leader", d.st.leader);
        }
        msg.push_str("; then none of these could go next:");
        for r in &d.blocked {
            let _ = write!(msg, " {} ({});", r.label(), r.why_not(d.st, ttl));
        }
        msg.pop();
        msg
    }
}
