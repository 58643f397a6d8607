//! P6 (no overlapping tenure): the claims each candidate can make from its
//! own calls, and the overlaps between claims of different candidates.
//!
//! A single pass over the lease calls in time order. It never searches for an
//! order of the calls (that is P7's job), never reads a clock, and never
//! lengthens a claim on a doubt: every choice errs towards shorter claims, so
//! an overlap it reports is one that no timing of the calls explains.

use super::sort::InOrder;
use super::{minmax, ms, Property, Violation};
use crate::history::{Call, History, Outcome};
use crate::op::Op;
use rustc_hash::FxHashMap;

/// Check P6 only: do the claims of different candidates overlap?
///
/// The calls are read in time order: acquires and renews at their `invoke`;
/// releases, resets and ages at their `complete` (so after every call that
/// may have taken effect before them); the former first on ties. Then, per
/// candidate:
///
/// - an `Ok` `try_acquire` opens a claim `[complete, invoke + ttl)`;
/// - an `Ok` `renew` that returns while the candidate's claim still runs
///   sets the claim's end to `invoke + ttl`; one that returns when no claim
///   runs (none was opened, or it ran out first) opens a claim
///   `[complete, invoke + ttl)`, as the caller acts as leader after it but
///   not in the gap;
/// - an `Ok` or `Unknown` `release` ends the claim at the release's `invoke`;
/// - a `Reset` (`Ok` or `Unknown`) ends every open claim at its `invoke`;
/// - an `Age { by }` (`Ok` or `Unknown`) moves `by` earlier the end of
///   every claim still running at the age's `invoke`;
/// - `Unknown` acquires and renews never open or extend a claim;
/// - for a lease that declares `expiry = false`, the TTL above is endless:
///   a claim runs until a release or reset ends it.
///
/// The other declared [`Semantics`](crate::Semantics) need no rule of their
/// own: a re-entrant acquire or a renew that acquires is an `Ok` call that
/// opens or extends the caller's claim like any other, and an idempotent
/// release by a non-holder ends only the caller's own (absent) claim.
///
/// Claims of different candidates must not overlap; one that starts at or
/// after the other's end is fine. Every choice above errs towards shorter
/// claims, so a history the model explains with each `now()` at the instant
/// the call took effect never shows an overlap.
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
/// let h = History { semantics: Default::default(), ttl, events: vec![acquire(1, 0, 1_000), acquire(2, 5_000_000, 5_001_000)] };
/// assert_eq!(check_tenures(&h).len(), 1);
/// // c2 takes over after c1's claim ended: fine.
/// let h = History { semantics: Default::default(), ttl, events: vec![acquire(1, 0, 1_000), acquire(2, 10_000_000, 10_001_000)] };
/// assert!(check_tenures(&h).is_empty());
/// ```
pub fn check_tenures(history: &History) -> Vec<Violation> {
    let events = &history.events;
    let t0 = events
        .iter()
        .map(|e| e.invoke.0.min(e.complete.0))
        .min()
        .unwrap_or(0);
    let mut claims = claims(history);
    claims.retain(|c| c.end > c.start);
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
            let overlap = ca.end.min(cb.end).saturating_sub(cb.start);
            violations.push(Violation {
                property: Property::P6NoOverlappingTenure,
                message: format!(
                    "c{}'s claim [{}, {}) (from event #{}) overlaps c{}'s claim [{}, {}) \
                     (from event #{}) by {} ms (times in ms after the history's first call)",
                    cb.who,
                    ms(cb.start.saturating_sub(t0)),
                    ms(cb.end.saturating_sub(t0)),
                    cb.acquired,
                    ca.who,
                    ms(ca.start.saturating_sub(t0)),
                    ms(ca.end.saturating_sub(t0)),
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

/// The claims each candidate can make from its own calls, by the rules of
/// [`check_tenures`] (which judges exactly these), sorted by start: the
/// tenures a picture of the history shows. A claim an age moved past its
/// own start (`end <= start`) is kept here; P6 ignores it.
pub fn claims(history: &History) -> Vec<Claim> {
    // a lease that declares no expiry is held until it is released or reset
    let ttl = if history.semantics.expiry {
        history.ttl.as_micros()
    } else {
        i64::MAX / 4
    };
    let events = &history.events;
    // By (time, calls that open or extend a claim first, index): a call that
    // ends or shortens claims is placed at its completion, after every call
    // that may have taken effect before it. Actions are skipped.
    let at = |i: usize| {
        let e = &events[i];
        let (inv, comp) = minmax(e.invoke.0, e.complete.0);
        match e.call {
            Call::Lease {
                op: Op::TryAcquire | Op::Renew,
            } => (inv, false),
            _ => (comp, true),
        }
    };
    let order = InOrder::new(events.len(), at)
        .filter(|&i| !matches!(events[i].call, Call::Action { .. }))
        .map(|i| (at(i).0, i));

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
    let mut latest: FxHashMap<u16, usize> = FxHashMap::default();
    for (now, i) in order {
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
            // a session that ended may have taken its lease with it
            (
                Call::Lease { op: Op::Release } | Call::SessionEnd,
                Outcome::Ok | Outcome::Unknown,
            ) => {
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

    claims.sort_by_key(|c| (c.start, c.end, c.acquired));
    claims
}

/// One candidate's claim to the lease: `[start, end)` in microseconds on the
/// history's clock, with the events (indices into `history.events`) that
/// shaped it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The claimant's id.
    pub who: u16,
    /// When the claim begins: the completion of the call that opened it.
    pub start: i64,
    /// When it ends: the last acquire or renew's invoke + TTL, shortened by
    /// releases, resets, ages and the end of the claimant's session (which
    /// may have taken the lease with it).
    pub end: i64,
    /// The acquire (or renew) that opened it.
    pub acquired: usize,
    /// The last renew that extended it.
    pub extended: Option<usize>,
    /// The last age that shortened it.
    pub aged: Option<usize>,
    /// The release, reset or session end that ended it.
    pub ended: Option<usize>,
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

    /// The events that shaped it: the opening call, then the last renew,
    /// age and ending call where there are.
    pub fn events(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.acquired)
            .chain(self.extended)
            .chain(self.aged)
            .chain(self.ended)
    }
}
