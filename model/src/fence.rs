//! Fencing (P8, no stale action): epochs that grow with every tenure, and a
//! resource that refuses a write from an older tenure than one it accepted.
//!
//! A lease alone cannot stop a deposed leader that is still *acting*: it
//! learns that it was deposed only at its next renew, and a pause between its
//! last check and its write (a GC pause, a slow query) can outlast the lease
//! (the "zombie leader"). Fencing moves the check to the resource: every new
//! tenure gets a strictly larger epoch
//! ([`Lease::try_acquire_fenced`](crate::Lease::try_acquire_fenced)), the
//! holder sends its epoch with every write, and the resource remembers the
//! highest epoch it accepted and refuses lower ones *in the same step as the
//! write* ([`Fence::write`]). Once the new leader has written, nothing the
//! old one sends is accepted again, however long it slept.
//!
//! - [`Fence`]: the resource's rule as a pure value.
//! - [`AtomicFence`]: the same rule as one compare-and-swap on one word (the
//!   analogue of the one conditional `UPDATE` of the harness's resource),
//!   checked by loom.
//! - [`AtomicFencedLease`]: a concurrent lease that carries the epoch in its
//!   word, with renew and release scoped to the holder's epoch, checked by
//!   loom against [`Lease`](crate::Lease).
//!
//! Nothing here reads a clock (the lease is given its `now`), and a fence
//! never accepts an epoch lower than one it accepted.

use crate::candidate::Candidate;
use crate::lease::LeaseState;
use crate::sync::atomic::{AtomicU64, Ordering};
use crate::time::{Span, Time};
use std::fmt;

/// The fencing rule of a protected resource: accept a write iff its epoch is
/// at least the highest accepted so far.
///
/// ```
/// use leasecheck_model::Fence;
/// let mut fence = Fence::new();
/// assert_eq!(fence.write(1), Some(1), "the old leader writes (1st accepted write)");
/// assert_eq!(fence.write(2), Some(2), "the new leader writes");
/// assert_eq!(fence.write(1), None, "the old leader wakes up: refused");
/// assert_eq!(fence.write(2), Some(3), "the new leader goes on");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fence {
    highest: u64,
    accepted: u64,
}

impl Fence {
    /// A resource that accepted nothing yet.
    pub const fn new() -> Fence {
        Fence {
            highest: 0,
            accepted: 0,
        }
    }

    /// Write with `epoch`: accepted iff `epoch >= highest()`, and then
    /// `highest()` becomes `epoch`. Returns the write's sequence number (1 for
    /// the first accepted write, and so on: the resource's own order), or
    /// `None` when the write is refused (it changes nothing).
    pub fn write(&mut self, epoch: u64) -> Option<u64> {
        if epoch < self.highest {
            return None;
        }
        self.highest = epoch;
        self.accepted += 1;
        Some(self.accepted)
    }

    /// The highest epoch accepted so far (0 before any write).
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// How many writes were accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }
}

/// Bits of the [`AtomicFence`] word that count accepted writes.
const COUNT_BITS: u32 = 32;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// [`Fence`] as one compare-and-swap loop on one `AtomicU64` (the word holds
/// `highest << 32 | accepted`), so racing writers are linearized by the CAS.
///
/// Epochs must be at most `u32::MAX` and at most `u32::MAX` writes may be
/// accepted; beyond that a write panics before touching the word.
///
/// ```
/// use leasecheck_model::AtomicFence;
/// let fence = AtomicFence::new();
/// assert_eq!(fence.write(3), Some(1));
/// assert_eq!(fence.write(2), None);
/// assert_eq!(fence.snapshot(), (3, 1));
/// ```
pub struct AtomicFence {
    word: AtomicU64,
}

impl Default for AtomicFence {
    fn default() -> AtomicFence {
        AtomicFence::new()
    }
}

impl AtomicFence {
    /// A resource that accepted nothing yet.
    pub fn new() -> AtomicFence {
        AtomicFence {
            word: AtomicU64::new(0),
        }
    }

    /// [`Fence::write`] in one compare-and-swap loop.
    ///
    /// # Panics
    /// If `epoch > u32::MAX`, or when `u32::MAX` writes were accepted already.
    pub fn write(&self, epoch: u64) -> Option<u64> {
        assert!(
            epoch <= COUNT_MASK,
            "AtomicFence: epoch {epoch} is out of range (at most {COUNT_MASK})"
        );
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let (highest, accepted) = (word >> COUNT_BITS, word & COUNT_MASK);
                if epoch < highest {
                    return None;
                }
                assert!(accepted < COUNT_MASK, "AtomicFence: too many writes");
                Some(epoch << COUNT_BITS | (accepted + 1))
            })
            .ok()
            .map(|old| (old & COUNT_MASK) + 1)
    }

    /// The highest epoch accepted and the number of accepted writes, read in one load.
    pub fn snapshot(&self) -> (u64, u64) {
        let word = self.word.load(Ordering::Acquire);
        (word >> COUNT_BITS, word & COUNT_MASK)
    }
}

impl fmt::Debug for AtomicFence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (highest, accepted) = self.snapshot();
        f.debug_struct("AtomicFence")
            .field("highest", &highest)
            .field("accepted", &accepted)
            .finish()
    }
}

/// Bits of the [`AtomicFencedLease`] word: `leader << 48 | epoch << 32 | acquired_at`.
const F_TIME_BITS: u32 = 32;
const F_EPOCH_BITS: u32 = 16;
const F_TIME_MASK: u64 = (1 << F_TIME_BITS) - 1;
const F_EPOCH_MASK: u64 = (1 << F_EPOCH_BITS) - 1;

/// A concurrent fenced lease: the rules of [`Lease`](crate::Lease) with its
/// fenced operations ([`Lease::try_acquire_fenced`](crate::Lease::try_acquire_fenced),
/// [`Lease::renew_fenced`](crate::Lease::renew_fenced),
/// [`Lease::release_fenced`](crate::Lease::release_fenced)), every operation
/// one compare-and-swap loop on one `AtomicU64`, like
/// [`AtomicLease`](crate::AtomicLease).
///
/// The word holds `leader_code << 48 | epoch << 32 | acquired_at`, so the
/// ranges are narrower than `AtomicLease`'s: a candidate at most
/// [`AtomicFencedLease::MAX_CANDIDATE`], an epoch at most
/// [`AtomicFencedLease::MAX_EPOCH`] (an acquire that would go past it
/// panics instead of wrapping) and times in `0..=`[`AtomicFencedLease::MAX_TIME`]
/// (about 71 minutes of microseconds: for tests and loom, not for absolute
/// clocks). An operation given values out of range panics before touching the
/// lease.
///
/// ```
/// use leasecheck_model::{AtomicFencedLease, Candidate, Span, Time};
/// let lease = AtomicFencedLease::new(Span(10));
/// let e = lease.try_acquire(Candidate(1), Time(0)).unwrap();
/// assert!(lease.renew(Candidate(1), Some(e), Time(5)));
/// assert_eq!(lease.try_acquire(Candidate(2), Time(16)), Some(e + 1), "stale: taken over");
/// assert!(!lease.renew(Candidate(1), Some(e), Time(17)), "the deposed epoch is dead");
/// ```
pub struct AtomicFencedLease {
    ttl: Span,
    word: AtomicU64,
}

impl AtomicFencedLease {
    /// The largest candidate the lease can hold.
    pub const MAX_CANDIDATE: Candidate = Candidate(u16::MAX - 1);
    /// The largest epoch the lease can reach.
    pub const MAX_EPOCH: u64 = F_EPOCH_MASK;
    /// The latest time an operation may be given (`2^32 - 1` µs).
    pub const MAX_TIME: Time = Time(F_TIME_MASK as i64);

    /// A free lease with epoch 0 and `acquired_at = Time(0)`, like
    /// [`LeaseState::FREE`].
    ///
    /// # Panics
    /// If `ttl` is not positive.
    pub fn new(ttl: Span) -> AtomicFencedLease {
        assert!(ttl.as_micros() > 0, "the model's TTL must be positive");
        AtomicFencedLease {
            ttl,
            word: AtomicU64::new(0),
        }
    }

    /// Take the lease if it is free or stale; returns the new tenure's epoch.
    ///
    /// # Panics
    /// If `who` or `now` is out of range, or the epoch would pass `MAX_EPOCH`.
    pub fn try_acquire(&self, who: Candidate, now: Time) -> Option<u64> {
        self.check(who, now);
        let ttl = self.ttl;
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let s = unpack_fenced(word);
                let stale = s.acquired_at < now - ttl;
                if s.leader.is_some() && !stale {
                    return None;
                }
                assert!(
                    s.epoch < Self::MAX_EPOCH,
                    "AtomicFencedLease: the epoch would pass {}",
                    Self::MAX_EPOCH
                );
                Some(pack_fenced(Some(who), s.epoch + 1, now))
            })
            .ok()
            .map(|old| unpack_fenced(old).epoch + 1)
    }

    /// Extend `who`'s tenure iff `who` leads and `epoch` is the current one.
    ///
    /// # Panics
    /// If `who` or `now` is out of range.
    pub fn renew(&self, who: Candidate, epoch: Option<u64>, now: Time) -> bool {
        self.check(who, now);
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let s = unpack_fenced(word);
                (s.leader == Some(who) && epoch == Some(s.epoch))
                    .then(|| pack_fenced(Some(who), s.epoch, now))
            })
            .is_ok()
    }

    /// Free the lease iff `who` leads and `epoch` is the current one.
    ///
    /// # Panics
    /// If `who` or `now` is out of range.
    pub fn release(&self, who: Candidate, epoch: Option<u64>, now: Time) -> bool {
        self.check(who, now);
        self.word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let s = unpack_fenced(word);
                (s.leader == Some(who) && epoch == Some(s.epoch))
                    .then(|| pack_fenced(None, s.epoch, now))
            })
            .is_ok()
    }

    /// The whole state, read in one load (comparable with [`Lease::state`](crate::Lease::state)).
    pub fn snapshot(&self) -> LeaseState {
        unpack_fenced(self.word.load(Ordering::Acquire))
    }

    fn check(&self, who: Candidate, now: Time) {
        assert!(
            who <= Self::MAX_CANDIDATE,
            "AtomicFencedLease: candidate {who} is out of range (at most {})",
            Self::MAX_CANDIDATE
        );
        assert!(
            (0..=Self::MAX_TIME.as_micros()).contains(&now.as_micros()),
            "AtomicFencedLease: time {} µs is out of range (0..={} µs)",
            now.as_micros(),
            Self::MAX_TIME.as_micros()
        );
    }
}

impl fmt::Debug for AtomicFencedLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicFencedLease")
            .field("ttl", &self.ttl)
            .field("state", &self.snapshot())
            .finish()
    }
}

fn pack_fenced(leader: Option<Candidate>, epoch: u64, at: Time) -> u64 {
    let code = leader.map_or(0, |c| u64::from(c.0) + 1);
    // every part was range-checked by the caller
    code << (F_TIME_BITS + F_EPOCH_BITS)
        | (epoch & F_EPOCH_MASK) << F_TIME_BITS
        | (at.as_micros() as u64 & F_TIME_MASK)
}

fn unpack_fenced(word: u64) -> LeaseState {
    let code = word >> (F_TIME_BITS + F_EPOCH_BITS);
    LeaseState {
        leader: code.checked_sub(1).map(|c| Candidate(c as u16)),
        former: None,
        acquired_at: Time((word & F_TIME_MASK) as i64),
        epoch: (word >> F_TIME_BITS) & F_EPOCH_MASK,
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::Lease;

    #[test]
    fn a_fence_refuses_every_epoch_below_the_highest_it_accepted() {
        let mut fence = Fence::new();
        assert_eq!(fence.write(5), Some(1));
        for e in 0..5 {
            assert_eq!(fence.write(e), None, "epoch {e}");
        }
        assert_eq!(fence.write(5), Some(2), "the current tenure writes again");
        assert_eq!((fence.highest(), fence.accepted()), (5, 2));
    }

    #[test]
    fn the_atomic_fence_agrees_with_the_pure_fence() {
        let (mut pure, atomic) = (Fence::new(), AtomicFence::new());
        for e in [0, 3, 1, 3, 7, 2, 7, 8, 0] {
            assert_eq!(atomic.write(e), pure.write(e), "epoch {e}");
        }
        assert_eq!(atomic.snapshot(), (pure.highest(), pure.accepted()));
    }

    #[test]
    fn the_atomic_fenced_lease_agrees_with_the_fenced_model_on_a_zombie_sequence() {
        let ttl = Span(10);
        let (mut model, atomic) = (Lease::new(ttl), AtomicFencedLease::new(ttl));
        let (a, b) = (Candidate(1), Candidate(2));
        assert_eq!(
            atomic.try_acquire(a, Time(0)),
            model.try_acquire_fenced(a, Time(0))
        );
        assert_eq!(
            atomic.renew(a, Some(1), Time(4)),
            model.renew_fenced(a, Some(1), Time(4))
        );
        assert_eq!(
            atomic.try_acquire(b, Time(15)),
            model.try_acquire_fenced(b, Time(15))
        );
        assert_eq!(
            atomic.renew(a, Some(1), Time(16)),
            model.renew_fenced(a, Some(1), Time(16))
        );
        assert_eq!(
            atomic.release(b, Some(2), Time(17)),
            model.release_fenced(b, Some(2), Time(17))
        );
        assert_eq!(
            atomic.try_acquire(a, Time(17)),
            model.try_acquire_fenced(a, Time(17))
        );
        assert_eq!(atomic.snapshot(), model.state());
        assert_eq!(atomic.snapshot().epoch, 3);
    }

    #[test]
    #[should_panic(expected = "the epoch would pass 65535")]
    fn an_epoch_that_would_overflow_its_bits_panics_instead_of_wrapping() {
        let lease = AtomicFencedLease::new(Span(1));
        for i in 0..=AtomicFencedLease::MAX_EPOCH {
            // each acquire is a takeover of the previous (stale) tenure
            lease.try_acquire(Candidate(0), Time(i as i64 * 2));
        }
    }
}
