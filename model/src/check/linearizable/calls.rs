//! The calls the P7 search orders: each lease event preprocessed into an
//! order window and a `now` window, the search's state (the leader and an
//! interval for `acquired_at`), and the model's rules for one call on that
//! state.
//!
//! The rules are those of [`Lease`](crate::Lease) lifted to an interval:
//! a rule allows a result iff some `now` in the call's window and some value
//! of `acquired_at` in the interval allow it, and narrows the interval to
//! those values. They never pick one `now` (that would reject legal
//! histories), and they never read a clock.

use crate::check::{minmax, ms, Options};
use crate::history::{Call, History, Outcome};
use crate::lease::Op;

/// Sentinel leader: the lease is free.
pub(super) const NOBODY: u32 = u32::MAX;
/// Bounds of the time axis inside the search (no overflow in sums of two).
pub(super) const T_MIN: i64 = i64::MIN / 4;
pub(super) const T_MAX: i64 = i64::MAX / 4;

fn clamp(t: i64) -> i64 {
    t.clamp(T_MIN, T_MAX)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Acquire,
    Renew,
    Release,
    Reset,
    Age(i64),
}

/// One call, ready for the search.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rec {
    /// Order window: the call took effect at a position between these.
    pub(super) olo: i64,
    pub(super) ohi: i64,
    /// `now` window: the call's `now()` lies between these.
    nlo: i64,
    nhi: i64,
    kind: Kind,
    who: u32,
    pub(super) outcome: Outcome,
    /// Index into `history.events`.
    pub(super) ev: u32,
}

/// The lease state seen by the search: the leader, and the interval of
/// values `acquired_at` can still have (irrelevant, and canonical, when free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct St {
    pub(super) leader: u32,
    pub(super) lo: i64,
    pub(super) hi: i64,
}

impl Default for St {
    fn default() -> St {
        St::FREE
    }
}

impl St {
    pub(super) const FREE: St = St {
        leader: NOBODY,
        lo: T_MIN,
        hi: T_MAX,
    };

    pub(super) fn held(leader: u32, lo: i64, hi: i64) -> St {
        St { leader, lo, hi }
    }

    /// True iff every behaviour from `other` is possible from `self`.
    pub(super) fn covers(&self, other: &St) -> bool {
        self.leader == other.leader && self.lo <= other.lo && other.hi <= self.hi
    }
}

impl Rec {
    /// The state after the call took effect with result `true`, if the model
    /// allows that result for some `now` in the window and some value of
    /// `acquired_at` in the interval.
    pub(super) fn effect_true(&self, s: St, ttl: i64) -> Option<St> {
        match self.kind {
            Kind::Acquire => {
                if s.leader == NOBODY {
                    Some(St::held(self.who, self.nlo, self.nhi))
                } else if s.lo < self.nhi - ttl {
                    // stale: acquired_at < now - ttl, i.e. now >= acquired_at + ttl + 1
                    Some(St::held(self.who, self.nlo.max(s.lo + ttl + 1), self.nhi))
                } else {
                    None
                }
            }
            Kind::Renew => (s.leader == self.who).then(|| St::held(self.who, self.nlo, self.nhi)),
            Kind::Release => (s.leader == self.who).then_some(St::FREE),
            Kind::Reset => Some(St::FREE),
            Kind::Age(by) => Some(if s.leader == NOBODY {
                s
            } else {
                St::held(
                    s.leader,
                    clamp(s.lo.saturating_sub(by)),
                    clamp(s.hi.saturating_sub(by)),
                )
            }),
        }
    }

    /// The state after the call returned `false`, if the model allows that.
    pub(super) fn effect_false(&self, s: St, ttl: i64) -> Option<St> {
        match self.kind {
            Kind::Acquire => {
                // held and fresh: acquired_at >= now - ttl for some now >= nlo
                (s.leader != NOBODY && s.hi >= self.nlo - ttl).then(|| St {
                    lo: s.lo.max(self.nlo - ttl),
                    ..s
                })
            }
            Kind::Renew | Kind::Release => (s.leader != self.who).then_some(s),
            Kind::Reset | Kind::Age(_) => Some(s),
        }
    }

    pub(super) fn label(&self) -> String {
        let call = match self.kind {
            Kind::Acquire => "try_acquire".to_string(),
            Kind::Renew => "renew".to_string(),
            Kind::Release => "release".to_string(),
            Kind::Reset => "reset".to_string(),
            Kind::Age(by) => format!("age by {} ms", ms(by)),
        };
        let outcome = match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        };
        match self.kind {
            Kind::Reset | Kind::Age(_) => format!("#{} harness {call} -> {outcome}", self.ev),
            _ => format!("#{} c{} {call} -> {outcome}", self.ev, self.who),
        }
    }

    /// Why the call cannot go next in state `s` with its observed result.
    pub(super) fn why_not(&self, s: St, ttl: i64) -> String {
        let leader = if s.leader == NOBODY {
            "nobody".to_string()
        } else {
            format!("c{}", s.leader)
        };
        match (self.kind, self.outcome) {
            (Kind::Acquire, Outcome::Ok) => format!(
                "{leader} held the lease and it was fresh: its last acquire/renew was at most \
                 {} ms old at this call's latest possible now(), not older than the TTL {} ms",
                ms(self.nhi.saturating_sub(s.lo)),
                ms(ttl)
            ),
            (Kind::Acquire, _) if s.leader == NOBODY => {
                "the lease was free, so try_acquire would have won".to_string()
            }
            (Kind::Acquire, _) => format!(
                "{leader}'s lease was stale: at least {} ms old at this call's earliest \
                 possible now(), older than the TTL {} ms, so try_acquire would have won",
                ms(self.nlo.saturating_sub(s.hi)),
                ms(ttl)
            ),
            (Kind::Renew | Kind::Release, Outcome::Ok) => {
                format!("c{} was not the leader (leader: {leader})", self.who)
            }
            (Kind::Renew | Kind::Release, _) => {
                format!(
                    "c{} was the leader, so the call would have succeeded",
                    self.who
                )
            }
            _ => "it must come later".to_string(),
        }
    }
}

/// The lease calls of a history, ready for the search (actions and failed
/// resets and ages left out), sorted by the start of their order window.
pub(super) struct Prepared {
    pub(super) recs: Vec<Rec>,
    pub(super) ttl: i64,
    /// Every candidate of a lease call.
    pub(super) leaders: Vec<u32>,
    /// The earliest time of the history (reports are relative to it).
    pub(super) t0: i64,
}

/// Preprocess the events of `h`: each lease call's order and `now` windows,
/// with the clock slack of `o` and the observed misalignment added to the
/// `now` windows of calls without a `server_time`.
pub(super) fn prepare(h: &History, o: &Options) -> Prepared {
    let ttl = h.ttl.as_micros().min(T_MAX);
    let mut excursion = 0i64;
    for e in h
        .events
        .iter()
        .filter(|e| !matches!(e.call, Call::Action { .. }))
    {
        if let Some(st) = e.server_time {
            let (inv, comp) = minmax(e.invoke.0, e.complete.0);
            excursion = excursion
                .max(inv.saturating_sub(st.0))
                .max(st.0.saturating_sub(comp));
        }
    }
    let slack = o.clock_slack.as_micros().max(0).saturating_add(excursion);
    let mut leaders = Vec::new();
    let mut recs = Vec::with_capacity(h.events.len());
    for (i, e) in h.events.iter().enumerate() {
        let (inv, comp) = minmax(e.invoke.0, e.complete.0);
        let (olo, ohi) = match e.server_time {
            Some(st) => (inv.min(st.0), comp.max(st.0)),
            None => (inv, comp),
        };
        let (nlo, nhi) = match e.server_time {
            Some(st) => (st.0, st.0),
            None => (inv.saturating_sub(slack), comp.saturating_add(slack)),
        };
        let kind = match e.call {
            Call::Lease { op: Op::TryAcquire } => Kind::Acquire,
            Call::Lease { op: Op::Renew } => Kind::Renew,
            Call::Lease { op: Op::Release } => Kind::Release,
            Call::Reset => Kind::Reset,
            Call::Age { by } => Kind::Age(by.as_micros()),
            // not a lease call: the lease never sees it (P8 reads actions)
            Call::Action { .. } => continue,
        };
        if matches!(kind, Kind::Reset | Kind::Age(_)) {
            if e.outcome == Outcome::Fail {
                continue; // it did not take effect
            }
        } else {
            leaders.push(u32::from(e.candidate.0));
        }
        recs.push(Rec {
            olo: clamp(olo),
            ohi: clamp(ohi),
            nlo: clamp(nlo),
            nhi: clamp(nhi),
            kind,
            who: u32::from(e.candidate.0),
            outcome: e.outcome,
            ev: u32::try_from(i).expect("fewer than 2^32 events"),
        });
    }
    recs.sort_unstable_by_key(|r| (r.olo, r.ev));
    leaders.sort_unstable();
    leaders.dedup();
    let t0 = recs.iter().map(|r| r.olo).min().unwrap_or(0);
    Prepared {
        recs,
        ttl,
        leaders,
        t0,
    }
}
