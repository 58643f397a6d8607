#![cfg(loom)]
//! Exhaustive loom checks of [`AtomicLease`] (DESIGN.md section 2: P1, P2,
//! P4, P5, P7), and a check that loom catches a check-then-act lease.
//!
//! Run (CI uses `LOOM_MAX_PREEMPTIONS=2`):
//!
//! ```text
//! cd /work/main && RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
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
use leasecheck_model::{AtomicLease, Candidate, Lease, Op, Span, Time};
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
fn linearizable_outcomes(setup: &[Call], calls: &[Call]) -> BTreeSet<Outcome> {
    let mut base = Lease::new(TTL);
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
    let allowed = linearizable_outcomes(setup, calls);
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let seen_in_model = std::sync::Arc::clone(&seen);
    let allowed_in_model = allowed.clone();
    loom::model(move || {
        let lease = Arc::new(AtomicLease::new(TTL));
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
