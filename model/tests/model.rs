#![cfg(not(loom))]
//! Property tests of the pure [`Lease`] against an independent oracle, and of
//! [`AtomicLease`] against [`Lease`].
//!
//! The oracle is written from the properties P1–P8 of a leader-election
//! lease, not from `lease.rs`: it tracks tenures (who won when, when they
//! last refreshed) and the claims of P6, and predicts each call's result
//! from the age of the current tenure. Every sequential property is checked
//! after every call: P1/P2 (a `try_acquire` succeeds iff the lease is free or its
//! tenure is strictly older than the TTL), P4 (a deposed holder's renew and
//! release fail), P5 (a release frees at once; a failed call changes
//! nothing), P6 (claims of different holders never overlap) and the epoch of
//! P8 (one more per won `try_acquire`, never on renew or release).
//!
//! Cases: 512 by default, or `PROPTEST_CASES` when set. A failing case is
//! shrunk and its seed appended to `model/proptest-regressions/model.txt`
//! (replayed first on every later run). proptest's default location does
//! not work for an integration test of a workspace member (it looks for a
//! `lib.rs` beside the test, finds none and falls back to
//! `tests/model.proptest-regressions`), so the path is given explicitly.

use leasecheck_model::check::check;
use leasecheck_model::history::{Call, Event, History, Outcome};
use leasecheck_model::{AtomicLease, Candidate, Lease, Op, Semantics, Span, Time};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::BTreeSet;

/// The TTL of every test, in microseconds.
const TTL: i64 = 10_000;
/// Candidates `0..CANDIDATES` take part.
const CANDIDATES: u16 = 4;
/// Cases per property unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 512;
/// Where failing cases are persisted (`Direct`: used as is).
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/proptest-regressions/model.txt"
);

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads PROPTEST_CASES; `with_cases` would
    // override it, so only use it when the variable is unset.
    let mut config = if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(DEFAULT_CASES)
    };
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS)));
    config
}

/// One call of a sequential history: wait `advance` µs, then `who` does `op`.
#[derive(Clone, Copy, Debug)]
struct Step {
    advance: i64,
    who: Candidate,
    op: Op,
}

/// Advances around the TTL boundary, and anything up to three TTLs.
fn advance() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(TTL - 1),
        Just(TTL),
        Just(TTL + 1),
        0..3 * TTL,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop::sample::select(Op::ALL.to_vec())
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (0..CANDIDATES).prop_map(Candidate)
}

fn step() -> impl Strategy<Value = Step> {
    (advance(), candidate(), op()).prop_map(|(advance, who, op)| Step { advance, who, op })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step(), 1..64)
}

/// The start time of a history.
fn start() -> impl Strategy<Value = i64> {
    0..3 * TTL
}

/// A tenure as the oracle sees it.
#[derive(Clone, Copy, Debug)]
struct Tenure {
    holder: Candidate,
    /// Start of the last successful acquire or renew.
    refreshed_at: i64,
}

/// A holder's claim (P6): from its win to last refresh + TTL, or to its
/// release; `until` is exclusive (a tenure exactly TTL old is still fresh).
#[derive(Clone, Copy, Debug)]
struct Claim {
    holder: Candidate,
    from: i64,
    until: i64,
}

/// The independent oracle: the properties P1–P8 applied to a sequential history.
#[derive(Debug, Default)]
struct Oracle {
    tenure: Option<Tenure>,
    /// Holders taken over who have not won since (P4).
    deposed: BTreeSet<Candidate>,
    /// Successful acquires so far (the epoch, P8).
    wins: u64,
    /// Claims from observed results: the open one is the last of its holder.
    claims: Vec<Claim>,
    /// Index in `claims` of the current holder's claim.
    open: Option<usize>,
}

impl Oracle {
    /// The oracle's prediction of `op` by `who` at `now`.
    fn predict(&self, who: Candidate, op: Op, now: i64) -> bool {
        match (op, self.tenure) {
            (Op::TryAcquire, None) => true,
            (Op::TryAcquire, Some(t)) => now - t.refreshed_at > TTL,
            (Op::Renew | Op::Release, t) => t.is_some_and(|t| t.holder == who),
        }
    }

    /// Records an observed success of `op` by `who` at `now`.
    fn record_success(&mut self, who: Candidate, op: Op, now: i64) {
        match op {
            Op::TryAcquire => {
                if let Some(old) = self.tenure {
                    if old.holder != who {
                        self.deposed.insert(old.holder);
                    }
                }
                self.deposed.remove(&who);
                self.tenure = Some(Tenure {
                    holder: who,
                    refreshed_at: now,
                });
                self.wins += 1;
                self.open = Some(self.claims.len());
                self.claims.push(Claim {
                    holder: who,
                    from: now,
                    until: now + TTL + 1,
                });
            }
            Op::Renew => {
                self.tenure = Some(Tenure {
                    holder: who,
                    refreshed_at: now,
                });
                if let Some(i) = self.open {
                    self.claims[i].until = now + TTL + 1;
                }
            }
            Op::Release => {
                self.tenure = None;
                if let Some(i) = self.open.take() {
                    self.claims[i].until = self.claims[i].until.min(now);
                }
            }
        }
    }

    /// P6: claims of different holders never overlap.
    fn check_claims(&self) -> Result<(), TestCaseError> {
        for (i, a) in self.claims.iter().enumerate() {
            for b in &self.claims[i + 1..] {
                let overlap = a.from < b.until && b.from < a.until;
                prop_assert!(
                    a.holder == b.holder || !overlap,
                    "P6: claims overlap: {a:?} and {b:?}"
                );
            }
        }
        Ok(())
    }
}

/// Runs `steps` from `start` on a `Lease`, checking every call against the
/// oracle and the properties of section 2.
fn check_history(start: i64, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut lease = Lease::new(Span(TTL));
    let mut oracle = Oracle::default();
    let mut now = start;
    for (i, s) in steps.iter().enumerate() {
        now += s.advance;
        let before = lease.state();
        let expected = oracle.predict(s.who, s.op, now);
        let got = lease.apply(s.who, s.op, Time(now));
        let after = lease.state();
        let at = format!("step {i} at {now}: {} {}", s.who, s.op);

        // P1/P2, P4, P5 (holder side): the result is the oracle's.
        prop_assert_eq!(got, expected, "{} (before: {:?})", at, before);
        // P4: a deposed holder cannot renew or release.
        if oracle.deposed.contains(&s.who) && s.op != Op::TryAcquire {
            prop_assert!(!got, "P4: deposed {} succeeded: {}", s.who, at);
        }
        // P2: no takeover of a fresh tenure, by anyone.
        if s.op == Op::TryAcquire {
            if let Some(t) = oracle.tenure {
                if now - t.refreshed_at <= TTL {
                    prop_assert!(!got, "P2: early takeover of {:?}: {}", t, at);
                }
            }
        }
        // P5: a call that fails changes nothing (non-holder renew/release
        // included).
        if !got {
            prop_assert_eq!(after, before, "failed call changed the state: {}", at);
        }
        // P8 epoch: one more per won acquire, never otherwise.
        let won_acquire = got && s.op == Op::TryAcquire;
        prop_assert_eq!(after.epoch, before.epoch + u64::from(won_acquire), "{}", at);

        if got {
            oracle.record_success(s.who, s.op, now);
        }
        prop_assert_eq!(after.epoch, oracle.wins, "{}", at);
        prop_assert_eq!(lease.leader(), oracle.tenure.map(|t| t.holder), "{}", at);

        // P5: a release frees the lease at once: anyone may acquire at `now`.
        if got && s.op == Op::Release {
            for c in 0..CANDIDATES {
                let mut probe = lease;
                prop_assert!(
                    probe.try_acquire(Candidate(c), Time(now)),
                    "P5: c{} could not acquire right after {}",
                    c,
                    at
                );
            }
        }
        oracle.check_claims()?;
    }
    Ok(())
}

/// Candidates for the differential test, including the packing limits.
fn wide_candidate() -> impl Strategy<Value = Candidate> {
    prop_oneof![
        4 => candidate(),
        1 => Just(AtomicLease::MAX_CANDIDATE),
        1 => Just(Candidate(AtomicLease::MAX_CANDIDATE.0 - 1)),
    ]
}

/// Start times for the differential test: near zero, or near the top of the
/// 48-bit range (leaving room for 64 advances of at most 3 TTL).
fn wide_start() -> impl Strategy<Value = i64> {
    let top = AtomicLease::MAX_TIME.as_micros() - 64 * 3 * TTL;
    prop_oneof![0..3 * TTL, (top - 3 * TTL)..=top]
}

proptest! {
    #![proptest_config(config())]

    /// Every call of a random sequential history behaves as section 2 says.
    #[test]
    fn a_sequential_history_satisfies_every_sequential_property(
        start in start(),
        steps in steps(),
    ) {
        check_history(start, &steps)?;
    }

    /// P1, sequentially: after any history, a burst of `try_acquire` by
    /// distinct candidates at one instant has exactly one winner if the lease
    /// was free or stale at that instant, and none otherwise.
    #[test]
    fn a_burst_of_try_acquire_at_one_instant_has_at_most_one_winner(
        start in start(),
        steps in steps(),
        gap in advance(),
        burst in Just((0..CANDIDATES).map(Candidate).collect::<Vec<_>>()).prop_shuffle(),
        size in 2..=CANDIDATES as usize,
    ) {
        let mut lease = Lease::new(Span(TTL));
        let mut now = start;
        for s in &steps {
            now += s.advance;
            lease.apply(s.who, s.op, Time(now));
        }
        now += gap;
        let available = match (lease.leader(), lease.state().acquired_at) {
            (None, _) => true,
            (Some(_), at) => now - at.as_micros() > TTL,
        };
        let winners: Vec<Candidate> = burst[..size]
            .iter()
            .copied()
            .filter(|&c| lease.try_acquire(c, Time(now)))
            .collect();
        if available {
            prop_assert_eq!(winners, vec![burst[0]]);
        } else {
            prop_assert!(winners.is_empty(), "won a fresh lease: {:?}", winners);
        }
    }

    /// `AtomicLease` driven sequentially returns what `Lease` returns and
    /// ends every call in the same (leader, acquired_at).
    #[test]
    fn atomic_lease_driven_sequentially_agrees_with_lease(
        start in wide_start(),
        steps in prop::collection::vec((advance(), wide_candidate(), op()), 1..64),
    ) {
        let mut lease = Lease::new(Span(TTL));
        let atomic = AtomicLease::new(Span(TTL));
        let mut now = start;
        for (i, &(advance, who, op)) in steps.iter().enumerate() {
            now += advance;
            let expected = lease.apply(who, op, Time(now));
            let got = atomic.apply(who, op, Time(now));
            prop_assert_eq!(got, expected, "step {} at {}: {} {}", i, now, who, op);
            let state = lease.state();
            prop_assert_eq!(atomic.snapshot(), (state.leader, state.acquired_at));
            prop_assert_eq!(atomic.leader(), lease.leader());
        }
    }
}

fn semantics() -> impl Strategy<Value = Semantics> {
    prop::sample::select(Semantics::all())
}

proptest! {
    #![proptest_config(config())]

    /// `AtomicLease` and `Lease` follow the same declared rules, whichever.
    #[test]
    fn atomic_lease_agrees_with_lease_under_every_declared_semantics(
        semantics in semantics(),
        start in wide_start(),
        steps in prop::collection::vec((advance(), wide_candidate(), op()), 1..64),
    ) {
        let mut lease = Lease::with_semantics(Span(TTL), semantics);
        let atomic = AtomicLease::with_semantics(Span(TTL), semantics);
        let mut now = start;
        for (i, &(advance, who, op)) in steps.iter().enumerate() {
            now += advance;
            let expected = lease.apply(who, op, Time(now));
            let got = atomic.apply(who, op, Time(now));
            prop_assert_eq!(got, expected, "{}: step {} at {}: {} {}", semantics, i, now, who, op);
            let (state, row) = (lease.state(), atomic.row());
            prop_assert_eq!(
                (row.leader, row.former, row.acquired_at),
                (state.leader, state.former, state.acquired_at)
            );
        }
    }

    /// Safety under every declaration: nobody takes a fresh lease held by
    /// another; a failed call changes nothing; a renew or release by a
    /// non-holder never moves the lease; the epoch grows only with a new
    /// holder or a retaken lease; and the history of the calls passes the
    /// checker (P6, P7) judged by the same declaration.
    #[test]
    fn no_declared_semantics_relaxes_safety_and_the_checker_explains_the_model(
        semantics in semantics(),
        start in start(),
        steps in steps(),
    ) {
        let mut lease = Lease::with_semantics(Span(TTL), semantics);
        let mut now = start;
        let mut events = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            now += s.advance;
            let before = lease.state();
            let fresh = before.leader.is_some()
                && !(semantics.expiry && before.acquired_at.as_micros() < now - TTL);
            let got = lease.apply(s.who, s.op, Time(now));
            let after = lease.state();
            let at = format!("{semantics}: step {i} at {now}: {} {}", s.who, s.op);
            if !got {
                prop_assert_eq!(after, before, "a failed call changed the state: {}", at);
            }
            if fresh && before.leader != Some(s.who) {
                prop_assert_eq!(after.leader, before.leader, "a fresh lease changed hands: {}", at);
                prop_assert_eq!(after.acquired_at, before.acquired_at, "another's call refreshed it: {}", at);
            }
            if after.epoch != before.epoch {
                prop_assert_eq!(after.epoch, before.epoch + 1, "{}", at);
                prop_assert!(s.op != Op::Release, "{}", at);
            }
            events.push(Event {
                candidate: s.who,
                call: Call::Lease { op: s.op },
                invoke: Time(now),
                complete: Time(now),
                server_time: Some(Time(now)),
                outcome: if got { Outcome::Ok } else { Outcome::Fail },
            });
        }
        let history = History { semantics, ttl: Span(TTL), events };
        let verdict = check(&history);
        prop_assert!(verdict.is_pass(), "{}: {:?}", semantics, verdict);
    }
}

/// What a step of the fenced test does.
#[derive(Clone, Copy, Debug)]
enum FencedOp {
    Acquire,
    Renew,
    Release,
    /// Write to the fenced resource with the epoch the candidate carries.
    Write,
}

fn fenced_op() -> impl Strategy<Value = FencedOp> {
    prop::sample::select(vec![
        FencedOp::Acquire,
        FencedOp::Renew,
        FencedOp::Release,
        FencedOp::Write,
        FencedOp::Write,
    ])
}

proptest! {
    #![proptest_config(config())]

    /// P8 sequentially: every new tenure's epoch is the previous one plus one
    /// (renew and release never change it); renew and release succeed iff the
    /// caller leads *and* carries the current epoch; `AtomicFencedLease`
    /// agrees with `Lease` on every call; and the fence accepts epochs in
    /// nondecreasing order only, so once a tenure has written, no holder of
    /// an older epoch (a deposed leader, however long it slept) is accepted.
    #[test]
    fn fenced_epochs_grow_by_one_per_tenure_and_the_fence_never_accepts_an_older_tenure(
        steps in prop::collection::vec((0..3 * TTL, candidate(), fenced_op()), 1..64),
    ) {
        use leasecheck_model::{AtomicFencedLease, Fence};
        let mut lease = Lease::new(Span(TTL));
        let atomic = AtomicFencedLease::new(Span(TTL));
        let mut fence = Fence::new();
        let mut carried: [Option<u64>; CANDIDATES as usize] = [None; CANDIDATES as usize];
        let mut accepted: Vec<u64> = Vec::new();
        let mut now = 0i64;
        for (i, &(advance, who, op)) in steps.iter().enumerate() {
            now += advance;
            let t = Time(now);
            let mine = carried[usize::from(who.0)];
            let before = lease.epoch();
            match op {
                FencedOp::Acquire => {
                    let got = lease.try_acquire_fenced(who, t);
                    prop_assert_eq!(atomic.try_acquire(who, t), got, "step {}", i);
                    if let Some(e) = got {
                        prop_assert_eq!(e, before + 1, "step {}: a new tenure is one more", i);
                        carried[usize::from(who.0)] = Some(e);
                    } else {
                        prop_assert_eq!(lease.epoch(), before);
                    }
                }
                FencedOp::Renew | FencedOp::Release => {
                    let leads = lease.leader() == Some(who) && mine == Some(before);
                    let got = if matches!(op, FencedOp::Renew) {
                        prop_assert_eq!(atomic.renew(who, mine, t), leads, "step {}", i);
                        lease.renew_fenced(who, mine, t)
                    } else {
                        prop_assert_eq!(atomic.release(who, mine, t), leads, "step {}", i);
                        lease.release_fenced(who, mine, t)
                    };
                    prop_assert_eq!(got, leads, "step {}: {:?} by {} carrying {:?}", i, op, who, mine);
                    prop_assert_eq!(lease.epoch(), before, "step {}: only acquires move the epoch", i);
                }
                FencedOp::Write => {
                    let Some(e) = mine else { continue };
                    let highest = fence.highest();
                    match fence.write(e) {
                        Some(seq) => {
                            prop_assert!(e >= highest, "step {}: accepted {} below {}", i, e, highest);
                            prop_assert_eq!(seq, accepted.len() as u64 + 1);
                            accepted.push(e);
                        }
                        None => prop_assert!(e < highest, "step {}: refused {} at {}", i, e, highest),
                    }
                }
            }
            prop_assert_eq!(atomic.snapshot(), lease.state(), "after step {}", i);
        }
        prop_assert!(accepted.windows(2).all(|w| w[0] <= w[1]), "accepted epochs went down: {:?}", accepted);
    }
}
