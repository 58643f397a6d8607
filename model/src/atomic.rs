//! The lock-free in-memory lease: one compare-and-swap loop per operation.
//!
//! [`AtomicLease`] follows exactly the rules of [`Lease`](crate::Lease)
//! (both call [`Semantics::step`]); by default, the reference's: stale means strictly older than the TTL, `try_acquire`
//! succeeds iff the lease is free or stale, `renew` and `release` succeed iff
//! the caller is the leader. Every operation reads the whole state and
//! writes the whole state in ONE compare-and-swap on ONE `AtomicU64`, the
//! in-memory analogue of the reference design's single conditional `UPDATE`.
//! A failing operation writes nothing; it is linearized at the load that
//! showed the condition false.
//!
//! # Packing
//!
//! The word holds `code << 48 | released << 47 | acquired_at`:
//!
//! - `code` (high 16 bits) is `0` for a free lease (the `''` of the SQL)
//!   and `c + 1` for `Candidate(c)`; hence a candidate must be at most
//!   [`AtomicLease::MAX_CANDIDATE`] (`u16::MAX - 1`);
//! - `released` (bit 47) says that `code` is not the leader but the former
//!   holder of a free lease (kept only under `repeat_release = true`; see
//!   [`Row::former`](crate::Row::former));
//! - `acquired_at` (low 47 bits) is the [`Time`] in microseconds, which must
//!   lie in `0..=`[`AtomicLease::MAX_TIME`] (`2^47 - 1` µs, about 4.4 years
//!   after the caller's epoch: ample for test and harness clocks that start
//!   near zero, NOT enough for Unix or Postgres-epoch absolute times).
//!
//! An operation given a candidate or time outside these ranges panics before
//! touching the state: it never wraps, truncates or saturates, so it cannot
//! silently corrupt the lease. The callers are tests and the harness, which
//! choose their candidates and clock origin.
//!
//! # Epoch
//!
//! There is no room for the fencing epoch in the word, so `AtomicLease` does
//! not track it; [`Lease`](crate::Lease) does. Every other observable
//! (each call's result, the leader, `acquired_at`) matches `Lease` exactly.

use crate::candidate::Candidate;
use crate::op::Op;
use crate::semantics::{Row, Semantics};
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::time::{Span, Time};
use std::fmt;

/// Bits of the word that hold `acquired_at`.
const TIME_BITS: u32 = 47;
/// Mask of the `acquired_at` bits.
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
/// Where the code starts.
const CODE_SHIFT: u32 = 48;
/// The bit that says the code names the former holder of a free lease.
const RELEASED: u64 = 1 << TIME_BITS;

/// A concurrent in-memory lease with the rules of [`Lease`](crate::Lease),
/// where every operation is one compare-and-swap loop on one `AtomicU64`.
///
/// A new lease is free, with `acquired_at` = `Time(0)`, like
/// [`LeaseState::FREE`](crate::LeaseState::FREE). The fencing epoch is not
/// tracked (see the module notes on packing).
///
/// Orderings: a successful operation writes with `Release` (and reads with
/// `Acquire`), every read is `Acquire`, so a new leader sees everything its
/// predecessor did before the release, renew or acquire it observed.
///
/// ```
/// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
/// use std::sync::Arc;
///
/// let lease = Arc::new(AtomicLease::new(Span::from_secs(10)));
/// let racers: Vec<_> = (0..4)
///     .map(|c| {
///         let lease = Arc::clone(&lease);
///         std::thread::spawn(move || lease.try_acquire(Candidate(c), Time(5)))
///     })
///     .collect();
/// let winners = racers
///     .into_iter()
///     .map(|h| h.join().expect("racer panicked"))
///     .filter(|&won| won)
///     .count();
/// assert_eq!(winners, 1);
/// ```
pub struct AtomicLease {
    ttl: Span,
    semantics: Semantics,
    word: AtomicU64,
}

impl AtomicLease {
    /// The largest candidate the lease can hold (`Candidate(u16::MAX - 1)`):
    /// the leader is stored as `c + 1` in 16 bits, with `0` meaning free.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span::from_secs(10));
    /// assert!(lease.try_acquire(AtomicLease::MAX_CANDIDATE, Time(0)));
    /// assert_eq!(lease.leader(), Some(Candidate(u16::MAX - 1)));
    /// ```
    pub const MAX_CANDIDATE: Candidate = Candidate(u16::MAX - 1);

    /// The latest time an operation may be given (`2^47 - 1` µs): times are
    /// stored in 47 bits and must not be negative.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span};
    ///
    /// let lease = AtomicLease::new(Span::from_secs(10));
    /// assert!(lease.try_acquire(Candidate(1), AtomicLease::MAX_TIME));
    /// assert_eq!(lease.snapshot(), (Some(Candidate(1)), AtomicLease::MAX_TIME));
    /// ```
    pub const MAX_TIME: Time = Time(TIME_MASK as i64);

    /// A free lease with the given TTL.
    ///
    /// # Panics
    /// If `ttl` is not positive, like [`Lease::new`](crate::Lease::new).
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span::from_millis(10));
    /// assert_eq!(lease.snapshot(), (None, Time(0)));
    /// ```
    pub fn new(ttl: Span) -> AtomicLease {
        assert!(ttl.as_micros() > 0, "the model's TTL must be positive");
        AtomicLease::with_semantics(ttl, Semantics::REFERENCE)
    }

    /// A free lease that follows `semantics` (see [`Lease::with_semantics`](crate::Lease::with_semantics)).
    ///
    /// # Panics
    /// If `ttl` is not positive.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Semantics, Span, Time};
    ///
    /// let lasting = Semantics { expiry: false, ..Semantics::REFERENCE };
    /// let lease = AtomicLease::with_semantics(Span(10), lasting);
    /// assert!(lease.try_acquire(Candidate(1), Time(0)));
    /// assert!(!lease.try_acquire(Candidate(2), Time(1_000)), "it never expires");
    /// ```
    pub fn with_semantics(ttl: Span, semantics: Semantics) -> AtomicLease {
        assert!(ttl.as_micros() > 0, "the model's TTL must be positive");
        AtomicLease {
            ttl,
            semantics,
            word: AtomicU64::new(pack(Row::free(Time(0)))),
        }
    }

    /// The TTL.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Span};
    ///
    /// assert_eq!(AtomicLease::new(Span::from_secs(3)).ttl(), Span::from_secs(3));
    /// ```
    pub fn ttl(&self) -> Span {
        self.ttl
    }

    /// Take the lease if it is free or stale (its `acquired_at` strictly
    /// older than the TTL at `now`), whoever holds it. Returns whether it
    /// took effect; on success `who` leads and `acquired_at = now`.
    ///
    /// # Panics
    /// If `who > MAX_CANDIDATE` or `now` is outside `0..=MAX_TIME`; the lease
    /// is then left untouched.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// assert!(lease.try_acquire(Candidate(1), Time(0)));
    /// assert!(!lease.try_acquire(Candidate(2), Time(10)), "exactly TTL old: fresh");
    /// assert!(lease.try_acquire(Candidate(2), Time(11)), "older than TTL: stale");
    /// ```
    pub fn try_acquire(&self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::TryAcquire, now)
    }

    /// Extend `who`'s tenure, stale or not: succeeds iff `who` is the leader,
    /// and then sets `acquired_at = now`.
    ///
    /// # Panics
    /// As [`try_acquire`](AtomicLease::try_acquire).
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// assert!(lease.try_acquire(Candidate(1), Time(0)));
    /// assert!(lease.renew(Candidate(1), Time(50)), "stale, not taken over");
    /// assert!(!lease.renew(Candidate(2), Time(51)));
    /// ```
    pub fn renew(&self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::Renew, now)
    }

    /// Free the lease if `who` holds it (then `acquired_at = now`); a no-op
    /// returning false for anyone else.
    ///
    /// # Panics
    /// As [`try_acquire`](AtomicLease::try_acquire).
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// assert!(lease.try_acquire(Candidate(1), Time(0)));
    /// assert!(!lease.release(Candidate(2), Time(1)));
    /// assert!(lease.release(Candidate(1), Time(1)));
    /// assert!(lease.try_acquire(Candidate(2), Time(1)), "free at once");
    /// ```
    pub fn release(&self, who: Candidate, now: Time) -> bool {
        self.apply(who, Op::Release, now)
    }

    /// Apply `op` for `who` at `now` in one compare-and-swap loop. Returns
    /// whether it took effect.
    ///
    /// # Panics
    /// As [`try_acquire`](AtomicLease::try_acquire).
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Op, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// assert!(lease.apply(Candidate(3), Op::TryAcquire, Time(1)));
    /// assert!(lease.apply(Candidate(3), Op::Renew, Time(2)));
    /// assert!(lease.apply(Candidate(3), Op::Release, Time(3)));
    /// assert!(!lease.apply(Candidate(3), Op::Renew, Time(4)));
    /// ```
    pub fn apply(&self, who: Candidate, op: Op, now: Time) -> bool {
        assert!(
            who <= Self::MAX_CANDIDATE,
            "AtomicLease: candidate {who} is out of range (at most {})",
            Self::MAX_CANDIDATE
        );
        assert!(
            (0..=Self::MAX_TIME.as_micros()).contains(&now.as_micros()),
            "AtomicLease: time {} µs is out of range (0..={} µs)",
            now.as_micros(),
            Self::MAX_TIME.as_micros()
        );
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                self.step(word, who, op, now)
            })
            .is_ok()
    }

    /// The current leader, stale or not.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// assert_eq!(lease.leader(), None);
    /// lease.try_acquire(Candidate(0), Time(0));
    /// assert_eq!(lease.leader(), Some(Candidate(0)));
    /// ```
    pub fn leader(&self) -> Option<Candidate> {
        self.snapshot().0
    }

    /// The leader and `acquired_at` (time of the last successful acquire,
    /// renew or release), read together in one load.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Span, Time};
    ///
    /// let lease = AtomicLease::new(Span(10));
    /// lease.try_acquire(Candidate(2), Time(7));
    /// lease.release(Candidate(2), Time(9));
    /// assert_eq!(lease.snapshot(), (None, Time(9)));
    /// ```
    pub fn snapshot(&self) -> (Option<Candidate>, Time) {
        let row = self.row();
        (row.leader, row.acquired_at)
    }

    /// The whole state, read in one load: [`AtomicLease::snapshot`] and who
    /// released a free lease, where the declaration keeps it.
    ///
    /// ```
    /// use leasecheck_model::{AtomicLease, Candidate, Semantics, Span, Time};
    ///
    /// let repeat = Semantics { repeat_release: true, ..Semantics::REFERENCE };
    /// let lease = AtomicLease::with_semantics(Span(10), repeat);
    /// lease.try_acquire(Candidate(2), Time(7));
    /// assert!(lease.release(Candidate(2), Time(9)));
    /// assert_eq!(lease.row().former, Some(Candidate(2)));
    /// assert!(lease.release(Candidate(2), Time(10)), "its repeat release");
    /// assert!(!lease.release(Candidate(3), Time(10)), "a stranger's");
    /// ```
    pub fn row(&self) -> Row {
        unpack(self.word.load(Ordering::Acquire))
    }

    /// The word after `op` by `who` at `now` on `word`, or `None` if the
    /// operation reports failure: [`Semantics::step`], as `Lease` does.
    fn step(&self, word: u64, who: Candidate, op: Op, now: Time) -> Option<u64> {
        self.semantics
            .step(self.ttl, unpack(word), who, op, now)
            .map(|e| pack(e.row))
    }
}

impl fmt::Debug for AtomicLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let row = self.row();
        f.debug_struct("AtomicLease")
            .field("ttl", &self.ttl)
            .field("leader", &row.leader)
            .field("former", &row.former)
            .field("acquired_at", &row.acquired_at)
            .finish()
    }
}

/// Packs a checked row (see the module notes).
fn pack(row: Row) -> u64 {
    let (named, released) = match (row.leader, row.former) {
        (Some(c), _) => (Some(c), 0),
        (None, Some(c)) => (Some(c), RELEASED),
        (None, None) => (None, 0),
    };
    let code = named.map_or(0, |c| u64::from(c.0) + 1);
    // `acquired_at` was checked to lie in 0..=MAX_TIME, so the cast is lossless.
    (code << CODE_SHIFT) | released | (row.acquired_at.as_micros() as u64 & TIME_MASK)
}

/// Unpacks a word written by [`pack`].
fn unpack(word: u64) -> Row {
    let code = word >> CODE_SHIFT;
    // `code` has at most 16 bits and is never `u16::MAX + 1` (checked on write).
    let named = code.checked_sub(1).map(|c| Candidate(c as u16));
    let acquired_at = Time((word & TIME_MASK) as i64);
    if word & RELEASED != 0 {
        Row {
            former: named,
            ..Row::free(acquired_at)
        }
    } else {
        Row {
            leader: named,
            former: None,
            acquired_at,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_at_the_range_ends() {
        for c in [Candidate(0), AtomicLease::MAX_CANDIDATE] {
            for at in [Time(0), Time(1), AtomicLease::MAX_TIME] {
                let released = Row {
                    former: Some(c),
                    ..Row::free(at)
                };
                for row in [Row::free(at), Row::held(c, at), released] {
                    assert_eq!(unpack(pack(row)), row);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "candidate harness is out of range")]
    fn a_candidate_that_would_wrap_to_the_free_marker_is_rejected() {
        AtomicLease::new(Span(10)).try_acquire(Candidate(u16::MAX), Time(0));
    }

    #[test]
    #[should_panic(expected = "time -1 µs is out of range")]
    fn a_negative_time_is_rejected() {
        AtomicLease::new(Span(10)).renew(Candidate(0), Time(-1));
    }

    #[test]
    #[should_panic(expected = "time 140737488355328 µs is out of range")]
    fn a_time_beyond_47_bits_is_rejected() {
        AtomicLease::new(Span(10)).release(Candidate(0), AtomicLease::MAX_TIME + Span(1));
    }

    #[test]
    fn a_rejected_call_leaves_the_lease_untouched() {
        let lease = AtomicLease::new(Span(10));
        assert!(lease.try_acquire(Candidate(4), Time(3)));
        let caught = std::panic::catch_unwind(|| lease.try_acquire(Candidate(5), Time(-20)));
        assert!(caught.is_err());
        assert_eq!(lease.snapshot(), (Some(Candidate(4)), Time(3)));
    }

    #[test]
    #[should_panic(expected = "TTL must be positive")]
    fn a_zero_ttl_is_rejected() {
        AtomicLease::new(Span(0));
    }
}
