//! The lease as a pure, deterministic state machine.
//!
//! # State model
//!
//! One lease is one row: a `leader` (`None` is the free marker, `''` in SQL),
//! the time `acquired_at` of the last acquire, renew or release, and an
//! `epoch` that grows by one with every successful `try_acquire` (a new
//! tenure; renew does not change it); under `repeat_release = true`, also
//! who released a free lease (`former`). The rules are exactly those of the
//! reference lease, one conditional `UPDATE` per operation judged by the
//! server's `now()`:
//!
//! - a lease is *stale* at `now` iff `acquired_at < now - ttl`, i.e. strictly
//!   older than the TTL; a lease exactly `ttl` old is still fresh;
//! - `try_acquire(c, now)` succeeds iff the lease is free or stale, whoever
//!   holds it (so the holder of a *fresh* lease fails: acquire is not
//!   re-entrant, and the holder of a *stale* lease may take it back);
//! - `renew(c, now)` succeeds iff `c` is the leader, stale or not;
//! - `release(c, now)` succeeds iff `c` is the leader, and frees the lease.
//!
//! Those are the default [`Semantics`]; [`Lease::with_semantics`] takes a
//! lease's declared rules instead (a re-entrant acquire, no expiry, ...), and
//! every operation goes through the one transition [`Semantics::step`].
//!
//! The model never reads the wall clock: every call is given its `now`.

use crate::candidate::Candidate;
use crate::op::Op;
use crate::semantics::{Row, Semantics};
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};

/// The state of one lease row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseState {
    /// The holder, or `None` when the lease is free.
    pub leader: Option<Candidate>,
    /// Of a free lease, the holder that released it, kept only under
    /// `repeat_release = true` (see [`Row::former`]).
    pub former: Option<Candidate>,
    /// Time of the last successful acquire, renew or release.
    pub acquired_at: Time,
    /// Number of successful acquires so far (the fencing epoch of the tenure).
    pub epoch: u64,
}

impl LeaseState {
    /// A free lease, as seeded.
    pub const FREE: LeaseState = LeaseState {
        leader: None,
        former: None,
        acquired_at: Time(0),
        epoch: 0,
    };
}

/// The lease state machine with its TTL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    ttl: Span,
    semantics: Semantics,
    state: LeaseState,
}

impl Lease {
    /// A free lease with the given TTL.
    ///
    /// # Panics
    /// If `ttl` is not positive: the callers validate user input first.
    pub fn new(ttl: Span) -> Lease {
        Lease::with_state(ttl, LeaseState::FREE)
    }

    /// A lease in a given state.
    ///
    /// # Panics
    /// If `ttl` is not positive.
    pub fn with_state(ttl: Span, state: LeaseState) -> Lease {
        assert!(ttl.as_micros() > 0, "the model's TTL must be positive");
        Lease {
            ttl,
            semantics: Semantics::REFERENCE,
            state,
        }
    }

    /// A free lease that follows `semantics` instead of the reference's rules.
    ///
    /// # Panics
    /// If `ttl` is not positive.
    ///
    /// ```
    /// use leasecheck_model::{Candidate, Lease, Semantics, Span, Time};
    /// let reentrant = Semantics { reentrant_acquire: true, ..Semantics::REFERENCE };
    /// let mut l = Lease::with_semantics(Span::from_secs(10), reentrant);
    /// assert!(l.try_acquire(Candidate(1), Time(0)));
    /// assert!(l.try_acquire(Candidate(1), Time(5)), "the holder's own fresh lease: extended");
    /// assert_eq!(l.epoch(), 1, "the same tenure");
    /// ```
    pub fn with_semantics(ttl: Span, semantics: Semantics) -> Lease {
        Lease {
            semantics,
            ..Lease::new(ttl)
        }
    }

    /// The rules this lease follows.
    pub fn semantics(&self) -> Semantics {
        self.semantics
    }
    /// The TTL.
    pub fn ttl(&self) -> Span {
        self.ttl
    }

    /// The current state.
    pub fn state(&self) -> LeaseState {
        self.state
    }

    /// The current leader, stale or not.
    pub fn leader(&self) -> Option<Candidate> {
        self.state.leader
    }

    /// True iff the last acquire/renew/release is strictly older than the TTL
    /// at `now` (never, for a lease without expiry).
    pub fn is_stale(&self, now: Time) -> bool {
        self.semantics
            .is_stale(self.ttl, self.state.acquired_at, now)
    }

    /// True iff another candidate's `try_acquire` would succeed at `now` (free or stale).
    pub fn is_available(&self, now: Time) -> bool {
        self.state.leader.is_none() || self.is_stale(now)
    }

    /// Take the lease if it is free or stale (or, with a re-entrant acquire,
    /// extend the caller's own). Returns whether it reported success.
    pub fn try_acquire(&mut self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::TryAcquire, now)
    }

    /// Extend `who`'s tenure (by the reference's rules: stale or not).
    /// Returns whether it reported success.
    pub fn renew(&mut self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::Renew, now)
    }

    /// Free the lease if `who` holds it. Returns whether it reported success.
    pub fn release(&mut self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::Release, now)
    }

    /// Apply `op` for `who` at `now` by [`Semantics::step`]. Returns whether
    /// it reported success.
    pub fn apply(&mut self, who: Candidate, op: Op, now: Time) -> bool {
        let s = self.state;
        let row = Row {
            leader: s.leader,
            former: s.former,
            acquired_at: s.acquired_at,
        };
        match self.semantics.step(self.ttl, row, who, op, now) {
            Some(e) => {
                self.state.leader = e.row.leader;
                self.state.former = e.row.former;
                self.state.acquired_at = e.row.acquired_at;
                self.state.epoch += u64::from(e.new_tenure);
                true
            }
            None => false,
        }
    }

    /// The fencing epoch of the current (or last) tenure: the number of
    /// successful acquires so far (P8).
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }

    /// The fenced lease's acquire (P8): [`Lease::try_acquire`], returning the
    /// new tenure's epoch, which the holder carries and hands to
    /// [`Lease::renew_fenced`], [`Lease::release_fenced`] and to every write it
    /// makes to a fenced resource ([`Fence`](crate::Fence)).
    ///
    /// ```
    /// use leasecheck_model::{Candidate, Lease, Span, Time};
    /// let mut l = Lease::new(Span::from_secs(10));
    /// assert_eq!(l.try_acquire_fenced(Candidate(1), Time(0)), Some(1));
    /// assert_eq!(l.try_acquire_fenced(Candidate(2), Time(5)), None, "fresh");
    /// assert_eq!(l.try_acquire_fenced(Candidate(2), Time(20_000_000)), Some(2), "a takeover is a new tenure");
    /// ```
    pub fn try_acquire_fenced(&mut self, who: Candidate, now: Time) -> Option<u64> {
        self.try_acquire(who, now).then_some(self.state.epoch)
    }

    /// The fenced lease's renew: like [`Lease::renew`], but scoped to the
    /// holder's own tenure: it succeeds iff `who` leads *and* `epoch` is the
    /// current tenure's. A holder that carries an old epoch (or none) fails.
    ///
    /// ```
    /// use leasecheck_model::{Candidate, Lease, Span, Time};
    /// let mut l = Lease::new(Span::from_secs(10));
    /// let e = l.try_acquire_fenced(Candidate(1), Time(0)).unwrap();
    /// assert!(l.renew_fenced(Candidate(1), Some(e), Time(1)));
    /// assert!(!l.renew_fenced(Candidate(1), Some(e - 1), Time(2)), "not its tenure");
    /// assert!(!l.renew_fenced(Candidate(1), None, Time(2)), "no epoch, no renew");
    /// ```
    pub fn renew_fenced(&mut self, who: Candidate, epoch: Option<u64>, now: Time) -> bool {
        if epoch != Some(self.state.epoch) {
            return false;
        }
        self.renew(who, now)
    }

    /// The fenced lease's release: like [`Lease::release`], scoped to the
    /// holder's own tenure as [`Lease::renew_fenced`] is.
    pub fn release_fenced(&mut self, who: Candidate, epoch: Option<u64>, now: Time) -> bool {
        if epoch != Some(self.state.epoch) {
            return false;
        }
        self.release(who, now)
    }

    /// Make the lease free, as a harness reset between rounds does.
    pub fn reset(&mut self) {
        self.state.leader = None;
        self.state.former = None;
    }

    /// Make the current tenure look older by `by`, as the `age` statement does.
    pub fn age(&mut self, by: Span) {
        self.state.acquired_at = self.state.acquired_at - by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Candidate = Candidate(1);
    const B: Candidate = Candidate(2);
    const TTL: Span = Span::from_secs(10);

    fn t(secs: i64) -> Time {
        Time(secs * 1_000_000)
    }

    #[test]
    fn a_lease_exactly_ttl_old_is_still_fresh() {
        let mut l = Lease::new(TTL);
        assert!(l.try_acquire(A, t(100)));
        assert!(!l.try_acquire(B, t(110)), "age == ttl is not stale");
        assert!(l.try_acquire(B, t(110) + Span(1)), "age > ttl is stale");
    }

    #[test]
    fn acquire_is_not_reentrant_but_a_stale_holder_may_retake() {
        let mut l = Lease::new(TTL);
        assert!(l.try_acquire(A, t(0)));
        assert!(!l.try_acquire(A, t(5)));
        assert!(l.try_acquire(A, t(11)));
        assert_eq!(l.state().epoch, 2);
    }

    #[test]
    fn renew_ignores_staleness_but_not_the_holder() {
        let mut l = Lease::new(TTL);
        assert!(l.try_acquire(A, t(0)));
        assert!(l.renew(A, t(50)), "stale but not taken over: renew works");
        assert!(!l.renew(B, t(51)));
        assert!(!l.release(B, t(51)));
        assert_eq!(l.leader(), Some(A));
        assert_eq!(l.state().epoch, 1, "renew keeps the epoch");
    }

    #[test]
    fn fenced_epochs_grow_by_one_per_tenure_and_scope_renew_and_release() {
        let mut l = Lease::new(TTL);
        assert_eq!(l.try_acquire_fenced(A, t(0)), Some(1));
        assert!(l.renew_fenced(A, Some(1), t(5)));
        assert_eq!(l.epoch(), 1, "renew keeps the epoch");
        // A stalls past the TTL; B takes over with a larger epoch.
        assert_eq!(l.try_acquire_fenced(B, t(16)), Some(2));
        assert!(
            !l.renew_fenced(A, Some(1), t(17)),
            "the deposed epoch is dead"
        );
        assert!(
            !l.release_fenced(B, Some(1), t(17)),
            "B's release needs B's epoch"
        );
        assert!(l.release_fenced(B, Some(2), t(18)));
        // A retakes the free lease: a new tenure, a new epoch, even for A.
        assert_eq!(l.try_acquire_fenced(A, t(18)), Some(3));
        assert!(
            !l.renew_fenced(A, Some(1), t(19)),
            "A's own old epoch is dead too"
        );
        assert!(l.renew_fenced(A, Some(3), t(19)));
    }

    #[test]
    fn release_frees_at_once_and_a_deposed_leader_learns() {
        let mut l = Lease::new(TTL);
        assert!(l.try_acquire(A, t(0)));
        assert!(l.release(A, t(1)));
        assert!(l.try_acquire(B, t(1)));
        assert!(!l.renew(A, t(2)));
        assert!(!l.release(A, t(2)));
        assert_eq!(l.leader(), Some(B));
    }
}
