#![cfg(loom)]
//! Exhaustive loom checks of [`AtomicLease`] (P1 exactly one winner, P2 no
//! early takeover, P4 deposed leader learns, P5 release frees at once, P7
//! linearizable against the model), and a check that loom catches a
//! check-then-act lease; and of fencing (P8): [`AtomicFencedLease`]'s
//! epochs strictly increase across tenures, and [`AtomicFence`] never
//! accepts an older tenure's write after a newer one's, also when a zombie
//! leader races the takeover.
//!
//! Run (CI uses `LOOM_MAX_PREEMPTIONS=2`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     CARGO_TARGET_DIR=target/loom \
//!     cargo test -p leasecheck-model --release --test loom
//! ```
//!
//! Measured on a 2-core machine (build excluded; wall time of the `cargo
//! test` command / of the 7 tests; loom iterations of the 3-thread tests):
//!
//! | `LOOM_MAX_PREEMPTIONS` | wall   | tests  | iterations |
//! |------------------------|--------|--------|------------|
//! | 2 (CI)                 | 0.14 s | 0.03 s | 118        |
//! | 3                      | 0.17 s | 0.08 s | 352        |
//! | unset (unbounded)      | 0.41 s | 0.32 s | 1583       |
//!
//! Every operation is one load plus one compare-and-swap, so even the
//! unbounded, fully exhaustive exploration is cheap. The negative test takes
//! 145 / 432 / 1822 iterations and finds two winners at every bound >= 1.
//!
//! Every racing test runs the first racer on loom's main thread and the
//! others on spawned threads (at most 3 threads in all; loom's limit is 5),
//! then checks, for every execution:
//!
//! - the property the test is named after;
//! - that the results and the final state are those of SOME sequential order
//!   of the racers applied to the pure [`Lease`] (linearizability, P7);
//!
//! and, after `loom::model` returns, that every linearizable outcome was
//! reached by some execution, so loom really explored the interleavings.

use leasecheck_model::sync::atomic::{AtomicU64, Ordering};
use leasecheck_model::sync::Arc;
use leasecheck_model::{
    AtomicFence, AtomicFencedLease, AtomicLease, Candidate, Fence, Lease, Op, Semantics, Span, Time,
};
use std::collections::BTreeSet;
use std::sync::Mutex;

const TTL: Span = Span(10_000);
const OLD: Candidate = Candidate(0);
const B: Candidate = Candidate(1);
const C: Candidate = Candidate(2);

/// One racing call.
#[derive(Clone, Copy, Debug)]
struct Call {
    who: Candidate,
    op: Op,
    now: Time,
}

/// What one execution ended with: each racer's result (in racer order), the
/// final leader and `acquired_at`.
type Outcome = (Vec<bool>, Option<Candidate>, Time);

/// Runs `calls` concurrently on `lease`: the first on the current loom thread,
/// the others on spawned loom threads. Returns the results in `calls` order.
fn race(lease: &Arc<AtomicLease>, calls: &[Call]) -> Vec<bool> {
    let (first, rest) = calls.split_first().expect("a race needs a racer");
    let handles: Vec<_> = rest
        .iter()
        .map(|&Call { who, op, now }| {
            let lease = Arc::clone(lease);
            loom::thread::spawn(move || lease.apply(who, op, now))
        })
        .collect();
    let mut results = vec![lease.apply(first.who, first.op, first.now)];
    results.extend(
        handles
            .into_iter()
            .map(|h| h.join().expect("racer panicked")),
    );
    results
}

/// Every outcome of some sequential order of `calls` on the pure model, after
/// `setup` (applied in order, each of which must succeed).
fn linearizable_outcomes(
    semantics: Semantics,
    setup: &[Call],
    calls: &[Call],
) -> BTreeSet<Outcome> {
    let mut base = Lease::with_semantics(TTL, semantics);
    for s in setup {
        assert!(base.apply(s.who, s.op, s.now), "setup call {s:?} failed");
    }
    let mut outcomes = BTreeSet::new();
    for order in permutations(calls.len()) {
        let mut lease = base;
        let mut results = vec![false; calls.len()];
        for &i in &order {
            results[i] = lease.apply(calls[i].who, calls[i].op, calls[i].now);
        }
        let state = lease.state();
        outcomes.insert((results, state.leader, state.acquired_at));
    }
    outcomes
}

/// All orders of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for shorter in permutations(n - 1) {
        for at in 0..=shorter.len() {
            let mut p = shorter.clone();
            p.insert(at, n - 1);
            all.push(p);
        }
    }
    all
}

/// Explores every interleaving of `calls` after `setup` on an `AtomicLease`;
/// `check` states the test's property for one execution's outcome. Asserts
/// linearizability of each execution and that every linearizable outcome was
/// reached; returns the set of outcomes seen.
fn explore(
    setup: &'static [Call],
    calls: &'static [Call],
    check: fn(&Outcome),
) -> BTreeSet<Outcome> {
    explore_with(Semantics::REFERENCE, setup, calls, check)
}

/// [`explore`] for a lease that follows `semantics`.
fn explore_with(
    semantics: Semantics,
    setup: &'static [Call],
    calls: &'static [Call],
    check: fn(&Outcome),
) -> BTreeSet<Outcome> {
    let allowed = linearizable_outcomes(semantics, setup, calls);
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let seen_in_model = std::sync::Arc::clone(&seen);
    let allowed_in_model = allowed.clone();
    loom::model(move || {
        let lease = Arc::new(AtomicLease::with_semantics(TTL, semantics));
        for s in setup {
            assert!(lease.apply(s.who, s.op, s.now), "setup call {s:?} failed");
        }
        let results = race(&lease, calls);
        let (leader, acquired_at) = lease.snapshot();
        let outcome = (results, leader, acquired_at);
        check(&outcome);
        assert!(
            allowed_in_model.contains(&outcome),
            "outcome {outcome:?} is not linearizable; allowed: {allowed_in_model:?}"
        );
        seen_in_model
            .lock()
            .expect("outcome recorder poisoned")
            .insert(outcome);
    });
    let seen = seen.lock().expect("outcome recorder poisoned").clone();
    assert_eq!(
        seen, allowed,
        "loom did not reach every linearizable outcome"
    );
    seen
}

/// Exactly one result is true, and the final state is that winner's tenure.
fn exactly_one_winner_who_holds_the_lease(calls: &[Call], outcome: &Outcome) {
    let (results, leader, acquired_at) = outcome;
    let winners: Vec<&Call> = calls
        .iter()
        .zip(results)
        .filter_map(|(c, &won)| won.then_some(c))
        .collect();
    assert_eq!(winners.len(), 1, "not exactly one winner: {outcome:?}");
    assert_eq!(*leader, Some(winners[0].who), "leader is not the winner");
    assert_eq!(*acquired_at, winners[0].now, "acquired_at is not the win");
}

#[test]
fn three_candidates_racing_try_acquire_on_a_free_lease_have_exactly_one_winner() {
    // Different `now`s, all within TTL of each other: whoever is first wins.
    static CALLS: [Call; 3] = [
        Call {
            who: OLD,
            op: Op::TryAcquire,
            now: Time(100),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(200),
        },
        Call {
            who: C,
            op: Op::TryAcquire,
            now: Time(300),
        },
    ];
    let seen = explore(&[], &CALLS, |o| {
        exactly_one_winner_who_holds_the_lease(&CALLS, o)
    });
    assert_eq!(seen.len(), 3, "each racer wins in some execution");
}

#[test]
fn three_candidates_racing_try_acquire_on_a_stale_lease_have_exactly_one_winner() {
    // OLD's tenure (acquired at 0) is older than TTL at every racer's `now`;
    // OLD itself races to retake it.
    static SETUP: [Call; 1] = [Call {
        who: OLD,
        op: Op::TryAcquire,
        now: Time(0),
    }];
    static CALLS: [Call; 3] = [
        Call {
            who: OLD,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 1),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 2),
        },
        Call {
            who: C,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 3),
        },
    ];
    let seen = explore(&SETUP, &CALLS, |o| {
        exactly_one_winner_who_holds_the_lease(&CALLS, o)
    });
    assert_eq!(seen.len(), 3, "each racer wins in some execution");
}

#[test]
fn renew_racing_a_stale_takeover_never_both_succeed() {
    // OLD's lease is stale but not taken over: its renew and two standbys'
    // takeovers race at the same instant. Exactly one of the three succeeds,
    // and the final leader is whoever did (P2, P4).
    static SETUP: [Call; 1] = [Call {
        who: OLD,
        op: Op::TryAcquire,
        now: Time(0),
    }];
    static CALLS: [Call; 3] = [
        Call {
            who: OLD,
            op: Op::Renew,
            now: Time(TTL.0 + 1),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 1),
        },
        Call {
            who: C,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 1),
        },
    ];
    let seen = explore(&SETUP, &CALLS, |o| {
        exactly_one_winner_who_holds_the_lease(&CALLS, o)
    });
    let renew_won = seen.iter().any(|(r, _, _)| r[0]);
    let takeover_won = seen.iter().any(|(r, _, _)| r[1] || r[2]);
    assert!(renew_won && takeover_won, "both orders were explored");
}

/// Under every declared semantics: a holder keeping its stale lease (its
/// renew, or its re-entrant acquire) races a standby's acquire and another's
/// renew-or-acquire; every execution is linearizable against the model with
/// those rules, every linearizable outcome is reached, and never do two
/// calls win: the one that did holds the lease.
#[test]
fn a_holder_keeping_a_stale_lease_racing_two_takeovers_never_gives_two_winners_under_any_semantics()
{
    for semantics in Semantics::all() {
        let at = Time(TTL.0 + 1);
        // a lease its holder cannot keep: its own acquire, which retakes it
        let keep = semantics.keepalive().unwrap_or(Op::TryAcquire);
        let other = if semantics.renew_acquires {
            Op::Renew
        } else {
            Op::TryAcquire
        };
        let setup: &'static [Call] = Box::leak(Box::new([Call {
            who: OLD,
            op: Op::TryAcquire,
            now: Time(0),
        }]));
        let calls: &'static [Call] = Box::leak(Box::new([
            Call {
                who: OLD,
                op: keep,
                now: at,
            },
            Call {
                who: B,
                op: Op::TryAcquire,
                now: at,
            },
            Call {
                who: C,
                op: other,
                now: at,
            },
        ]));
        let seen = explore_with(semantics, setup, calls, |_| {});
        for (results, leader, _) in &seen {
            let winners: Vec<Candidate> = calls
                .iter()
                .zip(results)
                .filter_map(|(c, &won)| won.then_some(c.who))
                .collect();
            assert!(winners.len() <= 1, "{semantics}: two winners {winners:?}");
            if let [w] = winners[..] {
                assert_eq!(*leader, Some(w), "{semantics}: the winner does not hold it");
            }
        }
    }
}

#[test]
fn release_racing_acquire_on_a_fresh_lease_gives_only_linearizable_outcomes() {
    // OLD holds a fresh lease and releases it while B tries to acquire it.
    // Release first: both succeed and B leads. Acquire first: B fails on the
    // fresh lease, the release succeeds and the lease is free (P5).
    static SETUP: [Call; 1] = [Call {
        who: OLD,
        op: Op::TryAcquire,
        now: Time(0),
    }];
    static CALLS: [Call; 2] = [
        Call {
            who: OLD,
            op: Op::Release,
            now: Time(1),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(1),
        },
    ];
    let seen = explore(&SETUP, &CALLS, |_| {});
    let expected: BTreeSet<Outcome> = [
        (vec![true, true], Some(B), Time(1)),
        (vec![true, false], None, Time(1)),
    ]
    .into();
    assert_eq!(seen, expected);
}

#[test]
fn release_racing_acquire_on_a_stale_lease_gives_only_linearizable_outcomes() {
    // OLD's lease is stale. Release first: both succeed. Acquire first: B
    // takes over and OLD's release fails, as a deposed leader's must (P4).
    // Either way B leads.
    static SETUP: [Call; 1] = [Call {
        who: OLD,
        op: Op::TryAcquire,
        now: Time(0),
    }];
    static CALLS: [Call; 2] = [
        Call {
            who: OLD,
            op: Op::Release,
            now: Time(TTL.0 + 1),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(TTL.0 + 1),
        },
    ];
    let seen = explore(&SETUP, &CALLS, |_| {});
    let expected: BTreeSet<Outcome> = [
        (vec![true, true], Some(B), Time(TTL.0 + 1)),
        (vec![false, true], Some(B), Time(TTL.0 + 1)),
    ]
    .into();
    assert_eq!(seen, expected);
}

#[test]
fn a_holder_renewing_while_a_standby_polls_a_fresh_lease_keeps_it() {
    // P2: while the holder's tenure is fresh no standby wins, whatever the
    // interleaving with the holder's own renew.
    static SETUP: [Call; 1] = [Call {
        who: OLD,
        op: Op::TryAcquire,
        now: Time(0),
    }];
    static CALLS: [Call; 3] = [
        Call {
            who: OLD,
            op: Op::Renew,
            now: Time(TTL.0),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(TTL.0),
        },
        Call {
            who: C,
            op: Op::TryAcquire,
            now: Time(TTL.0),
        },
    ];
    explore(&SETUP, &CALLS, |(results, leader, acquired_at)| {
        assert_eq!(results, &vec![true, false, false]);
        assert_eq!((*leader, *acquired_at), (Some(OLD), Time(TTL.0)));
    });
}

/// The deliberately broken lease of the negative test: check, then act, in
/// two separate atomic steps (a load, then a plain store), like a
/// `SELECT` followed by an unconditional `UPDATE`. Only `try_acquire` on a
/// free lease is modelled: the word is `0` for free, `c + 1` for `Candidate(c)`.
struct CheckThenActLease {
    word: AtomicU64,
}

impl CheckThenActLease {
    fn new() -> Self {
        CheckThenActLease {
            word: AtomicU64::new(0),
        }
    }

    fn try_acquire(&self, who: Candidate) -> bool {
        if self.word.load(Ordering::Acquire) != 0 {
            return false;
        }
        self.word.store(u64::from(who.0) + 1, Ordering::Release);
        true
    }
}

#[test]
fn check_then_act_lease_lets_two_candidates_win() {
    // The same race as the first test, on the broken lease: loom must FIND an
    // execution with more than one winner (and, being honest, also the
    // executions with exactly one).
    let most_winners = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fewest_winners = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let (most, fewest) = (most_winners.clone(), fewest_winners.clone());
    loom::model(move || {
        let lease = Arc::new(CheckThenActLease::new());
        let handles: Vec<_> = [B, C]
            .into_iter()
            .map(|who| {
                let lease = Arc::clone(&lease);
                loom::thread::spawn(move || lease.try_acquire(who))
            })
            .collect();
        let mut winners = usize::from(lease.try_acquire(OLD));
        for h in handles {
            winners += usize::from(h.join().expect("racer panicked"));
        }
        most.fetch_max(winners, std::sync::atomic::Ordering::Relaxed);
        fewest.fetch_min(winners, std::sync::atomic::Ordering::Relaxed);
    });
    let most = most_winners.load(std::sync::atomic::Ordering::Relaxed);
    let fewest = fewest_winners.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        most >= 2,
        "loom found no execution with two winners (most: {most})"
    );
    assert_eq!(fewest, 1, "some execution has a single winner");
}

// ---------------------------------------------------------------- fencing (P8)

/// What a fenced racer does.
#[derive(Clone, Copy, Debug)]
enum Fenced {
    /// `try_acquire` at `now`.
    Acquire(Candidate, Time),
    /// `renew` carrying `epoch` at `now`.
    Renew(Candidate, u64, Time),
}

/// A fenced racer's result: the epoch it won (acquire) or renewed in, if any.
type FencedResult = Option<u64>;

fn fenced_apply_model(lease: &mut Lease, call: Fenced) -> FencedResult {
    match call {
        Fenced::Acquire(who, now) => lease.try_acquire_fenced(who, now),
        Fenced::Renew(who, e, now) => lease.renew_fenced(who, Some(e), now).then_some(e),
    }
}

fn fenced_apply_atomic(lease: &AtomicFencedLease, call: Fenced) -> FencedResult {
    match call {
        Fenced::Acquire(who, now) => lease.try_acquire(who, now),
        Fenced::Renew(who, e, now) => lease.renew(who, Some(e), now).then_some(e),
    }
}

#[test]
fn epochs_strictly_increase_across_tenures_whatever_the_interleaving() {
    // OLD won epoch 1 at time 0 and stalled. Its renew (carrying epoch 1)
    // races two takeovers: B's at TTL + 1 and C's at 3 TTL + 3, which is
    // stale even against a tenure B or OLD started at TTL + 1. So one, two
    // or (renew first, then both) tenures can follow, in any order.
    static CALLS: [Fenced; 3] = [
        Fenced::Renew(OLD, 1, Time(TTL.0 + 1)),
        Fenced::Acquire(B, Time(TTL.0 + 1)),
        Fenced::Acquire(C, Time(3 * TTL.0 + 3)),
    ];
    type Seen = (Vec<FencedResult>, leasecheck_model::LeaseState);
    let mut allowed: BTreeSet<(Vec<FencedResult>, Option<Candidate>, Time, u64)> = BTreeSet::new();
    for order in permutations(CALLS.len()) {
        let mut lease = Lease::new(TTL);
        assert_eq!(lease.try_acquire_fenced(OLD, Time(0)), Some(1));
        let mut results = vec![None; CALLS.len()];
        for &i in &order {
            results[i] = fenced_apply_model(&mut lease, CALLS[i]);
        }
        let s = lease.state();
        allowed.insert((results, s.leader, s.acquired_at, s.epoch));
    }
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let (seen_in_model, allowed_in_model) = (std::sync::Arc::clone(&seen), allowed.clone());
    loom::model(move || {
        let lease = Arc::new(AtomicFencedLease::new(TTL));
        assert_eq!(lease.try_acquire(OLD, Time(0)), Some(1));
        let handles: Vec<_> = CALLS[1..]
            .iter()
            .map(|&call| {
                let lease = Arc::clone(&lease);
                loom::thread::spawn(move || fenced_apply_atomic(&lease, call))
            })
            .collect();
        let mut results = vec![fenced_apply_atomic(&lease, CALLS[0])];
        results.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("racer panicked")),
        );
        let state = lease.snapshot();
        let (results, state): Seen = (results, state);
        // The property: every won tenure has its own epoch, larger than the
        // one it replaced, and the lease ends in the largest.
        let won: Vec<u64> = results[1..].iter().flatten().copied().collect();
        let mut distinct = won.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            won.len(),
            "two tenures share an epoch: {results:?}"
        );
        assert!(
            won.iter().all(|&e| e > 1),
            "a takeover kept the old epoch: {results:?}"
        );
        assert_eq!(
            state.epoch,
            won.iter().copied().max().unwrap_or(1),
            "{results:?}"
        );
        assert_eq!(
            state.epoch,
            1 + won.len() as u64,
            "one more per tenure: {results:?}"
        );
        let outcome = (results, state.leader, state.acquired_at, state.epoch);
        assert!(
            allowed_in_model.contains(&outcome),
            "outcome {outcome:?} is not linearizable; allowed: {allowed_in_model:?}"
        );
        seen_in_model.lock().expect("poisoned").insert(outcome);
    });
    let seen = seen.lock().expect("poisoned").clone();
    assert_eq!(
        seen, allowed,
        "loom did not reach every linearizable outcome"
    );
    assert!(
        seen.iter().any(|(r, ..)| r[1].is_some() && r[2].is_some()),
        "some execution has two successive takeovers"
    );
}

#[test]
fn a_fence_never_accepts_a_deposed_leaders_write_after_a_newer_tenures_write() {
    // Three tenures' holders write at once: OLD (epoch 1, deposed twice),
    // B (epoch 2, deposed) and C (epoch 3, the current leader). In every
    // interleaving the accepted writes, in the fence's own order, carry
    // nondecreasing epochs: no write of an older tenure lands after one of
    // a newer tenure.
    const EPOCHS: [u64; 3] = [1, 2, 3];
    let mut allowed: BTreeSet<Vec<Option<u64>>> = BTreeSet::new();
    for order in permutations(EPOCHS.len()) {
        let mut fence = Fence::new();
        let mut results = vec![None; EPOCHS.len()];
        for &i in &order {
            results[i] = fence.write(EPOCHS[i]);
        }
        allowed.insert(results);
    }
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let (seen_in_model, allowed_in_model) = (std::sync::Arc::clone(&seen), allowed.clone());
    loom::model(move || {
        let fence = Arc::new(AtomicFence::new());
        let handles: Vec<_> = EPOCHS[1..]
            .iter()
            .map(|&e| {
                let fence = Arc::clone(&fence);
                loom::thread::spawn(move || fence.write(e))
            })
            .collect();
        let mut results = vec![fence.write(EPOCHS[0])];
        results.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("writer panicked")),
        );
        let mut by_seq: Vec<(u64, u64)> = results
            .iter()
            .zip(EPOCHS)
            .filter_map(|(seq, e)| seq.map(|s| (s, e)))
            .collect();
        by_seq.sort_unstable();
        assert!(
            by_seq.windows(2).all(|w| w[0].1 <= w[1].1),
            "an older tenure's write was accepted after a newer one's: {by_seq:?}"
        );
        assert!(
            results[2].is_some(),
            "the current leader's write is always accepted"
        );
        assert_eq!(fence.snapshot(), (3, by_seq.len() as u64));
        assert!(
            allowed_in_model.contains(&results),
            "{results:?} is not linearizable"
        );
        seen_in_model.lock().expect("poisoned").insert(results);
    });
    let seen = seen.lock().expect("poisoned").clone();
    assert_eq!(
        seen, allowed,
        "loom did not reach every linearizable outcome"
    );
}

#[test]
fn a_zombie_write_racing_a_takeover_and_the_new_leaders_write_never_lands_after_it() {
    // A zombie leader on the in-memory lease: OLD won epoch 1 and checked
    // in time, then slept; B takes the stale lease over and writes with its
    // epoch; OLD wakes and writes with epoch 1. Whatever the interleaving,
    // OLD's write is accepted only before B's.
    let zombie_first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let zombie_refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (first, refused) = (zombie_first.clone(), zombie_refused.clone());
    loom::model(move || {
        let lease = Arc::new(AtomicFencedLease::new(TTL));
        let fence = Arc::new(AtomicFence::new());
        let old_epoch = lease.try_acquire(OLD, Time(0)).expect("free lease");
        assert_eq!(fence.write(old_epoch), Some(1));
        let standby = {
            let (lease, fence) = (Arc::clone(&lease), Arc::clone(&fence));
            loom::thread::spawn(move || {
                let epoch = lease
                    .try_acquire(B, Time(TTL.0 + 1))
                    .expect("the stale lease is taken over");
                (epoch, fence.write(epoch))
            })
        };
        let zombie = fence.write(old_epoch);
        let (new_epoch, standby_write) = standby.join().expect("standby panicked");
        assert!(new_epoch > old_epoch);
        let standby_seq = standby_write.expect("the new leader's write is accepted");
        match zombie {
            Some(seq) => {
                assert!(
                    seq < standby_seq,
                    "the zombie's write landed after the new leader's"
                );
                first.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            None => refused.store(true, std::sync::atomic::Ordering::Relaxed),
        }
        assert!(
            !lease.renew(OLD, Some(old_epoch), Time(TTL.0 + 2)),
            "OLD learns"
        );
    });
    assert!(
        zombie_first.load(std::sync::atomic::Ordering::Relaxed),
        "explored: zombie first"
    );
    assert!(
        zombie_refused.load(std::sync::atomic::Ordering::Relaxed),
        "explored: zombie refused"
    );
}

/// `repeat_release = true`: the holder that released repeats its release
/// while a standby takes the lease and a stranger releases. Every execution
/// is linearizable against the model and every linearizable outcome is
/// reached: the repeat succeeds iff it ran before the take, and the
/// stranger's release never succeeds.
#[test]
fn a_repeat_release_racing_a_takeover_succeeds_only_before_it() {
    let semantics = Semantics {
        repeat_release: true,
        ..Semantics::REFERENCE
    };
    static SETUP: [Call; 2] = [
        Call {
            who: OLD,
            op: Op::TryAcquire,
            now: Time(0),
        },
        Call {
            who: OLD,
            op: Op::Release,
            now: Time(1),
        },
    ];
    static CALLS: [Call; 3] = [
        Call {
            who: OLD,
            op: Op::Release,
            now: Time(2),
        },
        Call {
            who: B,
            op: Op::TryAcquire,
            now: Time(2),
        },
        Call {
            who: C,
            op: Op::Release,
            now: Time(2),
        },
    ];
    let seen = explore_with(semantics, &SETUP, &CALLS, |(results, leader, _)| {
        assert!(results[1], "the free lease is taken: {results:?}");
        assert_eq!(*leader, Some(B));
        assert!(!results[2], "a stranger's release never succeeds");
    });
    assert!(seen.iter().any(|(r, _, _)| r[0]) && seen.iter().any(|(r, _, _)| !r[0]));
}
