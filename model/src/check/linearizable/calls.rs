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

use crate::check::sort::InOrder;
use crate::check::{minmax, ms, Options};
use crate::history::{Call, Event, History, Outcome};
use crate::op::Op;
use crate::semantics::Semantics;

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
    /// The caller's session ended: its lease may be gone (always recorded
    /// as unknown, so the search tries both).
    SessionEnd,
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

/// The lease state seen by the search: the leader, the interval of values
/// `acquired_at` can still have (irrelevant, and canonical, when free), and
/// of a free lease the holder that released it (kept only under
/// `repeat_release = true`; `NOBODY` otherwise and while the lease is held).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct St {
    pub(super) leader: u32,
    pub(super) lo: i64,
    pub(super) hi: i64,
    pub(super) former: u32,
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
        former: NOBODY,
    };

    pub(super) fn held(leader: u32, lo: i64, hi: i64) -> St {
        St {
            leader,
            lo,
            hi,
            former: NOBODY,
        }
    }

    /// A free lease that `former` released.
    pub(super) fn released_by(former: u32) -> St {
        St { former, ..St::FREE }
    }

    /// Who the state names, as one number: the leader, or of a free lease
    /// its former holder (with the top bit set), or `NOBODY`. Candidates
    /// are 16-bit, so no two states share a code.
    pub(super) fn code(&self) -> u32 {
        if self.leader == NOBODY && self.former != NOBODY {
            1 << 31 | self.former
        } else {
            self.leader
        }
    }

    /// True iff every behaviour from `other` is possible from `self`.
    pub(super) fn covers(&self, other: &St) -> bool {
        self.code() == other.code() && self.lo <= other.lo && other.hi <= self.hi
    }
}

/// What the search judges a call by: the TTL and the lease's declared rules.
#[derive(Clone, Copy, Debug)]
pub(super) struct Rules {
    pub(super) ttl: i64,
    pub(super) semantics: Semantics,
}

/// `[lo, hi]` if it is not empty.
fn range(lo: i64, hi: i64) -> Option<(i64, i64)> {
    (lo <= hi).then_some((lo, hi))
}

impl Rec {
    /// True iff this call is a release that the lease's former holder
    /// repeats on the free lease it released (`repeat_release = true`).
    fn repeats(&self, s: St, r: Rules) -> bool {
        r.semantics.repeat_release
            && self.kind == Kind::Release
            && s.leader == NOBODY
            && s.former == self.who
    }

    /// The `now`s of this call at which the lease held in `s` can be stale
    /// (`acquired_at < now - ttl` for some `acquired_at` in `[s.lo, s.hi]`).
    fn stale_nows(&self, s: St, r: Rules) -> Option<(i64, i64)> {
        if s.leader == NOBODY || !r.semantics.expiry {
            return None;
        }
        range(self.nlo.max(s.lo + r.ttl + 1), self.nhi)
    }

    /// The `now`s of this call at which the lease held in `s` can be fresh.
    fn fresh_nows(&self, s: St, r: Rules) -> Option<(i64, i64)> {
        if s.leader == NOBODY {
            return None;
        }
        if !r.semantics.expiry {
            return range(self.nlo, self.nhi);
        }
        range(self.nlo, self.nhi.min(s.hi + r.ttl))
    }

    /// `s` narrowed to the values of `acquired_at` that leave the lease
    /// fresh at some `now` of this call (already known to be possible).
    fn as_fresh(&self, s: St, r: Rules) -> St {
        if r.semantics.expiry {
            St {
                lo: s.lo.max(self.nlo - r.ttl),
                ..s
            }
        } else {
            s
        }
    }

    /// The state after the call took effect with result `true`, if the
    /// declared rules allow that result for some `now` in the window and
    /// some value of `acquired_at` in the interval.
    pub(super) fn effect_true(&self, s: St, r: Rules) -> Option<St> {
        let sem = r.semantics;
        let mine = s.leader == self.who;
        let all = (self.nlo, self.nhi);
        let take = |nows: Option<(i64, i64)>| nows.map(|(lo, hi)| St::held(self.who, lo, hi));
        match self.kind {
            Kind::Acquire if s.leader == NOBODY || (mine && sem.reentrant_acquire) => {
                take(Some(all))
            }
            Kind::Acquire => take(self.stale_nows(s, r)),
            Kind::Renew if !sem.renew => None,
            // fresh or stale, the holder's renew extends it (or takes it anew)
            Kind::Renew if mine && (sem.stale_renew || sem.renew_acquires) => take(Some(all)),
            Kind::Renew if mine => take(self.fresh_nows(s, r)),
            Kind::Renew if sem.renew_acquires && s.leader == NOBODY => take(Some(all)),
            Kind::Renew if sem.renew_acquires => take(self.stale_nows(s, r)),
            Kind::Renew => None,
            Kind::Release if mine && sem.repeat_release => Some(St::released_by(self.who)),
            Kind::Release if mine => Some(St::FREE),
            Kind::Release if self.repeats(s, r) || sem.idempotent_release => Some(s),
            Kind::Release if sem.stale_release && s.leader == NOBODY => Some(s),
            // stale: acquired_at < now - ttl for some now <= nhi
            Kind::Release if sem.stale_release => self.stale_nows(s, r).map(|_| St {
                hi: s.hi.min(self.nhi - r.ttl - 1),
                ..s
            }),
            Kind::Release => None,
            Kind::Reset => Some(St::FREE),
            Kind::SessionEnd if mine => Some(St::FREE),
            Kind::SessionEnd => Some(s),
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

    /// The state after the call returned `false`, if the declared rules
    /// allow that.
    pub(super) fn effect_false(&self, s: St, r: Rules) -> Option<St> {
        let sem = r.semantics;
        let mine = s.leader == self.who;
        match self.kind {
            Kind::Acquire if s.leader == NOBODY || (mine && sem.reentrant_acquire) => None,
            // held and fresh: acquired_at >= now - ttl for some now >= nlo
            Kind::Acquire => self.fresh_nows(s, r).map(|_| self.as_fresh(s, r)),
            Kind::Renew if !sem.renew => Some(s),
            Kind::Renew if mine => {
                if sem.stale_renew || sem.renew_acquires {
                    return None;
                }
                // stale: acquired_at < now - ttl for some now <= nhi
                self.stale_nows(s, r).map(|_| St {
                    hi: s.hi.min(self.nhi - r.ttl - 1),
                    ..s
                })
            }
            Kind::Renew if sem.renew_acquires && s.leader == NOBODY => None,
            Kind::Renew if sem.renew_acquires => self.fresh_nows(s, r).map(|_| self.as_fresh(s, r)),
            Kind::Renew => Some(s),
            Kind::Release if mine || sem.idempotent_release || self.repeats(s, r) => None,
            Kind::Release if sem.stale_release && s.leader == NOBODY => None,
            Kind::Release if sem.stale_release => {
                self.fresh_nows(s, r).map(|_| self.as_fresh(s, r))
            }
            Kind::Release => Some(s),
            Kind::Reset | Kind::SessionEnd | Kind::Age(_) => Some(s),
        }
    }

    pub(super) fn label(&self) -> String {
        let call = match self.kind {
            Kind::Acquire => "try_acquire".to_string(),
            Kind::Renew => "renew".to_string(),
            Kind::Release => "release".to_string(),
            Kind::Reset => "reset".to_string(),
            Kind::SessionEnd => "session ended".to_string(),
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
    pub(super) fn why_not(&self, s: St, r: Rules) -> String {
        let (ttl, sem) = (r.ttl, r.semantics);
        let leader = if s.leader == NOBODY {
            "nobody".to_string()
        } else {
            format!("c{}", s.leader)
        };
        let mine = s.leader == self.who;
        match (self.kind, self.outcome) {
            (Kind::Acquire, Outcome::Ok) if mine => format!(
                "c{} already held the lease and it was fresh, and the lease declares \
                 reentrant_acquire = false: the holder's own acquire must fail",
                self.who
            ),
            (Kind::Acquire | Kind::Renew, Outcome::Ok) if !sem.expiry => format!(
                "{leader} held the lease, which declares expiry = false: it never goes stale"
            ),
            (Kind::Acquire, Outcome::Ok) => format!(
                "{leader} held the lease and it was fresh: its last acquire/renew was at most \
                 {} ms old at this call's latest possible now(), not older than the TTL {} ms",
                ms(self.nhi.saturating_sub(s.lo)),
                ms(ttl)
            ),
            (Kind::Acquire, _) if s.leader == NOBODY => {
                "the lease was free, so try_acquire would have won".to_string()
            }
            (Kind::Acquire, _) if mine && sem.reentrant_acquire => format!(
                "c{} held the lease, which declares reentrant_acquire = true: its own \
                 acquire would have succeeded",
                self.who
            ),
            (Kind::Acquire, _) => format!(
                "{leader}'s lease was stale: at least {} ms old at this call's earliest \
                 possible now(), older than the TTL {} ms, so try_acquire would have won",
                ms(self.nlo.saturating_sub(s.hi)),
                ms(ttl)
            ),
            (Kind::Renew, Outcome::Ok) if !sem.renew => {
                "the lease declares renew = false: it has no renew".to_string()
            }
            (Kind::Renew, Outcome::Ok) if mine => format!(
                "c{}'s lease was stale (older than the TTL {} ms), and the lease declares \
                 stale_renew = false",
                self.who,
                ms(ttl)
            ),
            (Kind::Renew, Outcome::Ok) if sem.renew_acquires => format!(
                "{leader} held the lease and it was fresh, so not even a renew that acquires \
                 may take it"
            ),
            (Kind::Release, Outcome::Ok) if sem.stale_release => format!(
                "{leader} held the lease and it was fresh: with stale_release = true only a \
                 release of a free or stale lease succeeds for c{}, who was not the leader",
                self.who
            ),
            (Kind::Release, _) if !mine && sem.stale_release => format!(
                "the lease was free or stale (leader: {leader}), and the lease declares \
                 stale_release = true, so c{}'s release reports success",
                self.who
            ),
            (Kind::Release, Outcome::Ok) if sem.repeat_release && s.leader == NOBODY => {
                let former = if s.former == NOBODY {
                    "nobody, or it was reset since".to_string()
                } else {
                    format!("c{}", s.former)
                };
                format!(
                    "c{} was not the leader (leader: nobody), nor the holder that released it \
                     (released by: {former}), so the lease's repeat_release does not apply",
                    self.who
                )
            }
            (Kind::Renew | Kind::Release, Outcome::Ok) => {
                format!("c{} was not the leader (leader: {leader})", self.who)
            }
            (Kind::Release, _) if !mine && sem.idempotent_release => {
                "the lease declares idempotent_release = true, so release reports success"
                    .to_string()
            }
            (Kind::Release, _) if !mine => format!(
                "c{} released the lease and nobody took it since, and the lease declares \
                 repeat_release = true, so its release again reports success",
                self.who
            ),
            (Kind::Renew, _) if !mine => format!(
                "the lease was free or stale (leader: {leader}), and the lease declares \
                 renew_acquires = true, so the renew would have taken it"
            ),
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

/// What the search needs to know of a history before its first call: the
/// rules, the candidates and where its time starts.
pub(super) struct Prepared {
    pub(super) rules: Rules,
    /// Every candidate of a lease call.
    pub(super) leaders: Vec<u32>,
    /// The earliest time of the history (reports are relative to it).
    pub(super) t0: i64,
}

/// Preprocess the events of `h`: each lease call's order and `now` windows,
/// with the clock slack of `o` and the observed misalignment added to the
/// `now` windows of calls without a `server_time`. Returns what holds for
/// the whole history, and its lease calls (actions and failed resets, ages
/// and session ends left out) in the order of `(olo, event)`, one at a
/// time.
pub(super) fn prepare<'h>(
    h: &'h History,
    o: &Options,
) -> (Prepared, impl Iterator<Item = Rec> + 'h) {
    let ttl = h.ttl.as_micros().min(T_MAX);
    // One pass for what holds for the whole history: the observed clock
    // misalignment, the candidates, the earliest time.
    let mut excursion = 0i64;
    // every candidate that made a lease call: bit c of the set
    let mut seen = [0u64; (u16::MAX as usize + 1) / 64];
    let mut t0 = None::<i64>;
    for e in &h.events {
        if let (Some(st), false) = (e.server_time, matches!(e.call, Call::Action { .. })) {
            let (inv, comp) = minmax(e.invoke.0, e.complete.0);
            excursion = excursion
                .max(inv.saturating_sub(st.0))
                .max(st.0.saturating_sub(comp));
        }
        let Some(harness) = searched(e) else {
            continue;
        };
        if !harness {
            let c = usize::from(e.candidate.0);
            seen[c / 64] |= 1 << (c % 64);
        }
        let olo = start(e);
        t0 = Some(t0.map_or(olo, |t| t.min(olo)));
    }
    let slack = o.clock_slack.as_micros().max(0).saturating_add(excursion);
    let leaders = seen
        .iter()
        .enumerate()
        .filter(|(_, &bits)| bits != 0)
        .flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & 1 << b != 0)
                .map(move |b| (w * 64 + b) as u32)
        })
        .collect();
    let events = &h.events[..];
    // (a call the search leaves out is ordered with the others, and skipped)
    let calls = InOrder::new(events.len(), move |i| start(&events[i]))
        .filter_map(move |i| rec(&events[i], i, slack));
    let prepared = Prepared {
        rules: Rules {
            ttl,
            semantics: h.semantics,
        },
        leaders,
        t0: t0.unwrap_or(0),
    };
    (prepared, calls)
}

/// Whether the search sees event `e`, and if so whether it is the
/// harness's (a reset or an age): actions are not lease calls (P8 reads
/// them), and a failed reset, age or session end did not take effect.
fn searched(e: &Event) -> Option<bool> {
    match (e.call, e.outcome) {
        (Call::Action { .. }, _) => None,
        (Call::Reset | Call::Age { .. } | Call::SessionEnd, Outcome::Fail) => None,
        (Call::Reset | Call::Age { .. }, _) => Some(true),
        _ => Some(false),
    }
}

/// The start of event `e`'s order window.
fn start(e: &Event) -> i64 {
    let inv = e.invoke.0.min(e.complete.0);
    clamp(e.server_time.map_or(inv, |st| inv.min(st.0)))
}

/// The call the search sees of event `i`, if any: its order and `now`
/// windows (with `slack` around a `now` the event did not record).
fn rec(e: &Event, i: usize, slack: i64) -> Option<Rec> {
    searched(e)?;
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
        Call::SessionEnd => Kind::SessionEnd,
        Call::Age { by } => Kind::Age(by.as_micros()),
        Call::Action { .. } => return None,
    };
    // An ended session may or may not have taken the lease with it.
    let outcome = match kind {
        Kind::SessionEnd => Outcome::Unknown,
        _ => e.outcome,
    };
    Some(Rec {
        olo: clamp(olo),
        ohi: clamp(ohi),
        nlo: clamp(nlo),
        nhi: clamp(nhi),
        kind,
        who: u32::from(e.candidate.0),
        outcome,
        ev: u32::try_from(i).expect("fewer than 2^32 events"),
    })
}
