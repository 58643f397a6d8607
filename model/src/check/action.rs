//! P8 (no stale action): the writes that leaders made to the resource their
//! lease protects, judged against the tenures their own lease calls show.
//!
//! It reads only the history: it never reads a clock, never searches for an
//! order of the lease calls (that is P7's job), and never blames a write that
//! some timing of the calls inside their windows explains. A refused or
//! `Unknown` write is never blamed.

use super::{minmax, ms, Property, Violation};
use crate::history::{Call, History, Outcome};
use crate::op::Op;
use rustc_hash::{FxHashMap, FxHashSet};

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
/// its actor's tenure, and every pair of actors that acted at once. A history
/// without actions passes.
///
/// A lease is only as safe as what its leaders *do*: a leader that pauses
/// between its last check and its write (a zombie leader: a GC pause or a
/// stalled connection that outlasts its lease) acts after a standby took
/// over, and no check of the lease calls alone can see it. This reads the
/// [`Call::Action`] events (writes to the resource the lease protects). Only
/// *accepted* (`Ok`) actions can be blamed: a refused one did not take
/// effect, and an `Unknown` one may not have.
///
/// The **tenure** of an action is its actor's latest acquire or renew that
/// may have taken effect before the action (`Ok` or `Unknown` `try_acquire`,
/// `Ok` `renew`), and the tenure **ended** when the lease definitely changed
/// hands after it: another candidate's `Ok` `try_acquire`, the actor's own
/// `Ok` `release`, or an `Ok` reset, invoked after the tenure's call
/// completed. A tenure is longer than the P6 claim: a stale lease that nobody
/// took over still belongs to its holder (the reference lets it renew), and a
/// write then harms no one. Two findings, both judged existentially (each
/// call took effect at *some* instant of its window, so nothing is blamed
/// that some timing explains):
///
/// - **an action outside its actor's tenure**: accepted, and invoked after
///   the end of its tenure had completed (the actor had been deposed: a
///   zombie's write); or accepted from an actor that never held the lease.
///   An action that carries an epoch (a fenced write) is blamed for this
///   only when it is also an overlap (below): the fence accepted it because
///   no newer epoch had reached the resource yet, which orders it before
///   every write of the new tenure, as if it had landed before the takeover.
///   That is what fencing promises, and all it can (the new leader's first
///   write closes the door). An unfenced write after a takeover has no such
///   order: nothing at the resource tells the two tenures apart;
/// - **overlapping actors**: an accepted action of one tenure that comes
///   *after* an accepted action of a later tenure of another actor (the
///   later tenure's `try_acquire` was invoked after the earlier one's
///   completed): two actors at once. "After" is the resource's own order
///   when both writes carry a `seq`, and otherwise real time (invoked after
///   the other completed). This catches a write that was sent in time but
///   landed late, past the new leader's first write.
///
/// A fenced resource makes both impossible: it refuses the older epoch once
/// the newer one wrote. The blamed actions are the **stale writes**
/// ([`ActionVerdict::stale`]). Each finding is a [`Property::P8FencingEpoch`]
/// violation with a window that [`timeline`](super::timeline()) renders: the
/// actor's last confirmation, the takeover, the new leader's write and the
/// stale one.
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
///     semantics: Default::default(),
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
    let mut confirms: FxHashMap<u16, Vec<usize>> = FxHashMap::default();
    let mut acquires: FxHashMap<u16, Vec<usize>> = FxHashMap::default();
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
        // tenure had written first (see the doc of `check_actions`).
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
    let mut tenures: FxHashMap<usize, Tenure> = FxHashMap::default();
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
    let mut reported: FxHashSet<(usize, usize)> = FxHashSet::default();
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
