//! The leader-side trust window: how long a leader may go on acting, on its
//! own clock, after its last successful acquire or renew.
//!
//! A leader cannot see the lease row while it works, so it must decide on its
//! own clock how long it may go on acting. The only safe bound it knows is the
//! *start* of its last successful acquire or renew: the server wrote
//! `acquired_at` at some instant after that start, so no standby can take
//! over before `start + TTL`. Subtracting a margin (for the server's and the
//! leader's clocks running at slightly different rates, and for the time
//! between the check and the action) gives the window:
//!
//! ```text
//! trusted until = (start of the last successful acquire/renew) + TTL - margin
//! ```
//!
//! measured on the leader's own monotonic clock. Two consequences, both
//! tested below and in the integration suite:
//!
//! - a *slow* successful renew does not extend the window past that bound:
//!   the reply's arrival says nothing about when the server wrote, so a renew
//!   that took longer than `TTL - margin` leaves the leader untrusted the
//!   moment it returns;
//! - the window alone does not make a leader safe: it is checked *before*
//!   each action, and a pause between the check and the write (a GC pause, a
//!   slow query) can outlast it. Only a fenced resource ([`Fence`](crate::Fence))
//!   stops that write.
//!
//! [`TrustWindow`] is pure: it never reads a clock; every method is given the
//! `Instant` it concerns, so tests drive it with explicit times.

use std::time::{Duration, Instant};

/// When a leader may still act, on its own monotonic clock.
///
/// ```
/// use leasecheck_model::TrustWindow;
/// use std::time::{Duration, Instant};
///
/// let ttl = Duration::from_millis(1000);
/// let mut w = TrustWindow::new(ttl, Duration::from_millis(100));
/// let t0 = Instant::now();
/// assert!(!w.trusts(t0), "nothing acquired yet");
/// w.confirmed(t0); // an acquire sent at t0 succeeded
/// assert!(w.trusts(t0 + Duration::from_millis(899)));
/// assert!(!w.trusts(t0 + Duration::from_millis(900)), "TTL - margin after the send");
/// w.lost(); // a renew returned false or failed
/// assert!(!w.trusts(t0 + Duration::from_millis(1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustWindow {
    length: Duration,
    until: Option<Instant>,
}

impl TrustWindow {
    /// A window for a lease with `ttl`, kept `margin` short of it. Nothing is
    /// trusted until [`TrustWindow::confirmed`] is called.
    ///
    /// # Panics
    /// If `margin >= ttl` (the window would be empty): callers validate their
    /// settings first.
    pub fn new(ttl: Duration, margin: Duration) -> TrustWindow {
        assert!(
            margin < ttl,
            "the trust margin ({margin:?}) must be shorter than the TTL ({ttl:?})"
        );
        TrustWindow {
            length: ttl - margin,
            until: None,
        }
    }

    /// An acquire or renew *sent* at `sent` succeeded: trust until
    /// `sent + TTL - margin`. Only the send time counts, never the reply's;
    /// a confirmation sent before the current one (a late reply) never
    /// shortens or extends the window.
    pub fn confirmed(&mut self, sent: Instant) {
        let until = sent + self.length;
        self.until = Some(self.until.map_or(until, |u| u.max(until)));
    }

    /// A renew returned false, or any lease call failed (leadership unknown):
    /// trust nothing until the next confirmation.
    pub fn lost(&mut self) {
        self.until = None;
    }

    /// Whether the leader may act at `now`: strictly before the window's end.
    pub fn trusts(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// The end of the window, if anything is trusted.
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// `TTL - margin`: how long one confirmation is trusted from its send.
    pub fn length(&self) -> Duration {
        self.length
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(1000);
    const MARGIN: Duration = Duration::from_millis(100);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_slow_successful_renew_does_not_extend_the_trust_window_past_its_start_plus_ttl_minus_margin(
    ) {
        let t0 = Instant::now();
        let mut w = TrustWindow::new(TTL, MARGIN);
        w.confirmed(t0); // the acquire, sent at t0
                         // A renew sent at t0 + 200 ms answers "ok" only at t0 + 1500 ms: it
                         // was slow (a stalled connection, a locked row), but it succeeded.
        let renew_sent = t0 + ms(200);
        let renew_returned = t0 + ms(1500);
        w.confirmed(renew_sent);
        let bound = renew_sent + TTL - MARGIN;
        assert_eq!(w.until(), Some(bound));
        assert!(
            !w.trusts(renew_returned),
            "the reply came after the bound: not trusted, though the renew succeeded"
        );
        assert!(w.trusts(bound - ms(1)) && !w.trusts(bound));
    }

    #[test]
    fn a_late_reply_to_an_older_renew_neither_shortens_nor_extends_the_trust_window() {
        let t0 = Instant::now();
        let mut w = TrustWindow::new(TTL, MARGIN);
        w.confirmed(t0 + ms(500));
        w.confirmed(t0 + ms(100)); // an older renew's reply, processed later
        assert_eq!(w.until(), Some(t0 + ms(500) + TTL - MARGIN));
    }

    #[test]
    fn a_lost_renew_ends_trust_at_once_until_the_next_confirmation() {
        let t0 = Instant::now();
        let mut w = TrustWindow::new(TTL, MARGIN);
        w.confirmed(t0);
        w.lost();
        assert!(!w.trusts(t0 + ms(1)));
        w.confirmed(t0 + ms(10));
        assert!(w.trusts(t0 + ms(11)));
    }

    #[test]
    #[should_panic(expected = "must be shorter than the TTL")]
    fn a_trust_margin_as_long_as_the_ttl_is_rejected() {
        TrustWindow::new(TTL, TTL);
    }
}
