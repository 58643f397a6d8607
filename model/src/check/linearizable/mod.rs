//! P7 (linearizable against the model): is there a total order of the lease
//! calls, consistent with real time, whose outcomes the model explains?
//!
//! This file holds the entry point, the segmentation and the frontier joins;
//! `calls.rs` turns events into the calls the search orders, with the
//! model's rules on an interval of `acquired_at`; `search.rs` is the search
//! over one span. None of it reads a clock, and none of it may reject a
//! history that the model explains: every pruning rule and relaxation below
//! only ever lets more orders through. A span it cannot decide within its
//! budget is reported as inconclusive, never as a pass or a violation.
//!
//! # The model of time
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
//! Actions are not lease calls and are left out (P8 reads them). The rules
//! are the history's declared [`Semantics`](crate::Semantics) (the
//! reference's by default): a re-entrant acquire, a renew that refuses a
//! stale lease or takes a free one, no expiry, an idempotent release are
//! each exact rules on the interval, not relaxations. The initial
//! state is a free lease (the seeded row), unless [`Options::start_free`] is
//! false, in which case it is any state.
//!
//! # Algorithm
//!
//! 1. **Preprocess** every event into a call with an order window and a `now`
//!    window, sorted by the window's start (`calls.rs`).
//! 2. **Segment** at quiescent points: where every earlier call completed
//!    before the next one was invoked, all earlier calls precede all later
//!    ones, so the history is cut there and checked span by span. Each span
//!    starts from the set of states in which the previous span can end (a
//!    *frontier*, normally one state). A race round (a reset, then N
//!    concurrent `try_acquire`s) is one span.
//! 3. **Search** each span with Wing & Gong / Lowe's algorithm (as in
//!    porcupine): depth-first over the *minimal* pending calls (those no
//!    pending call must precede), applying a call when the model allows its
//!    observed result, backtracking at dead ends (`search.rs`). The state is
//!    the leader and an **interval** for `acquired_at`: a call's `now` is an
//!    unknown in its window, and the interval is the set of values the
//!    unknowns chosen so far still allow. A stale test narrows it
//!    (`acquired_at < now - ttl` for some `now` in the window) and so does a
//!    fresh one. Every constraint links only the current `acquired_at` and
//!    the new call's `now`, so carrying one interval forward is exact for a
//!    given order.
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
//!   any state;
//! - a [`SessionEnd`](crate::history::Call::SessionEnd) of the leader may or
//!   may not free its lease (the checker cannot tell a lease kept with the
//!   session, an advisory lock, from one kept in a row): a row lease that
//!   wrongly vanishes with its session is missed.
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

mod calls;
mod search;

use super::{ms, Inconclusive, Options, Property, Verdict, Violation};
use crate::history::History;
use calls::{prepare, Rec, St, T_MAX, T_MIN};
use search::{BudgetExhausted, Engine};

/// Most end states carried from one span to the next before merging.
const FRONTIER_CAP: usize = 16;

/// Check P7 only: is the history linearizable against the model?
///
/// A call takes effect at one instant of its recorded window (widened to
/// its `server_time`), and its `now()` is its `server_time`, or any instant
/// of its window give or take the clock slack (see [`Options::clock_slack`]);
/// the `now`s need not grow along the order, as Postgres's `now()` is taken
/// at the transaction's start. The search is exact within that model, and
/// its few relaxations (the slack; merging more than 16 end states of a span
/// per leader; restarting from any state after a failed span) may only miss
/// a violation, never invent one. A span that exhausts the step budget of
/// [`Options`] is reported in [`Verdict::inconclusive`].
///
/// ```
/// use leasecheck_model::check::{check_linearizable, Options};
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// // A try_acquire that fails on a lease nobody could hold (the seed row is
/// // missing, say) is a violation: the model lets it win.
/// let h = History {
///     semantics: Default::default(),
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
    let (prep, calls) = prepare(history, options);
    let rules = prep.rules;
    let released = prep
        .leaders
        .iter()
        .filter(|_| rules.semantics.repeat_release)
        .map(|&c| St::released_by(c));
    let any: Vec<St> = std::iter::once(St::FREE)
        .chain(prep.leaders.iter().map(|&c| St::held(c, T_MIN, T_MAX)))
        .chain(released)
        .collect();
    let any: Vec<(St, Option<Rec>)> = any.into_iter().map(|s| (s, None)).collect();
    let mut frontier = if options.start_free {
        vec![(St::FREE, None)]
    } else {
        any.clone()
    };
    let mut engine = Engine::default();
    let mut ends = Vec::new();
    // one span at a time: a call that starts after every earlier one ended
    // begins the next
    let mut calls = calls.peekable();
    let mut seg: Vec<Rec> = Vec::new();
    while let Some(first) = calls.next() {
        seg.clear();
        seg.push(first);
        let mut reach = first.ohi;
        while let Some(r) = calls.next_if(|r| r.olo <= reach) {
            reach = reach.max(r.ohi);
            seg.push(r);
        }
        let seg = &seg[..];
        let last = calls.peek().is_none();
        let budget = options
            .min_steps
            .max(options.steps_per_op.saturating_mul(seg.len() as u64));
        engine.begin(seg.len(), budget);
        ends.clear();
        let mut found = false;
        let mut exhausted = false;
        for &(s, origin) in &frontier {
            match engine.run(seg, rules, s, origin, !last, &mut ends) {
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
                message: engine.explain(seg, rules, prep.t0),
                window: engine.window(seg),
            });
            frontier.clone_from(&any);
        } else {
            frontier.clone_from(&ends);
            if frontier.len() > FRONTIER_CAP {
                frontier = hull_by_leader(&frontier);
            }
        }
    }
    verdict
}

/// A one-line account of where a span lies, for reports.
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

/// Merge the states of each leader (or former holder of a free lease) into
/// the hull of their intervals.
fn hull_by_leader(states: &[End]) -> Vec<End> {
    let mut out: Vec<End> = Vec::new();
    for &(s, origin) in states {
        match out.iter_mut().find(|o| o.0.code() == s.code()) {
            Some(o) => {
                o.0.lo = o.0.lo.min(s.lo);
                o.0.hi = o.0.hi.max(s.hi);
            }
            None => out.push((s, origin)),
        }
    }
    out
}
