//! Declared semantics: the rules a lease says it follows, where real leases
//! differ from the reference on purpose.
//!
//! The reference lease's rules ([`Semantics::REFERENCE`], the default) are
//! one choice among several safe ones. Real leases differ: an acquire that is
//! re-entrant (the holder's acquire of its own fresh lease extends it), a
//! renew that refuses a lease gone stale even when nobody took it, one
//! statement that both acquires and renews, no renew at all, no expiry, a
//! release that reports success twice, or only to the holder that just
//! released, or to anyone on an expired lease. None of these is a split
//! brain, so none may be reported as one: the model, the checker and the
//! runners take a [`Semantics`] and judge the lease by the rules it declares.
//!
//! [`Semantics::step`] is the one transition function of the model: the pure
//! [`Lease`](crate::Lease) and the concurrent
//! [`AtomicLease`](crate::AtomicLease) both call it.
//!
//! # What no declaration changes
//!
//! The safety properties hold under every declaration: no candidate takes a
//! *fresh* lease held by another; at most one holder at a time; a renew or
//! release by a non-holder never changes who holds the lease. A declaration
//! only says what a call returns to its own caller, and whether a lease ever
//! expires.

use crate::candidate::Candidate;
use crate::op::Op;
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The rules a lease declares (see the module notes). Every field's default
/// is the reference lease's rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Semantics {
    /// `true`: the holder's `try_acquire` of its own *fresh* lease succeeds
    /// and extends it (the same tenure). `false` (reference): it fails.
    pub reentrant_acquire: bool,
    /// `true` (reference): the holder's `renew` succeeds whether or not its
    /// lease went stale, as long as nobody took it. `false`: a stale lease
    /// is not renewed.
    pub stale_renew: bool,
    /// `true`: `renew` also takes a free or stale lease (a new tenure), as
    /// one statement that both acquires and renews. `false` (reference):
    /// only the holder renews.
    pub renew_acquires: bool,
    /// `false`: the lease has no `renew` operation at all.
    pub renew: bool,
    /// `false`: the lease never expires; only `release` (or a reset) frees
    /// it, so takeover (P3) does not apply.
    pub expiry: bool,
    /// `true`: `release` reports success whoever calls it (it still frees
    /// the lease only for its holder). `false` (reference): it reports
    /// whether the caller held the lease.
    pub idempotent_release: bool,
    /// `true`: the last holder's release of the lease it released itself,
    /// which nobody has taken (or reset) since, reports success again and
    /// changes nothing; anyone else's release of a lease it does not hold
    /// still reports failure, as an unlock scoped to its holder that leaves
    /// the holder's name in the row (ShedLock's `WHERE locked_by = ?`).
    /// `false` (reference): only the holder's release reports success.
    /// Contradicts `idempotent_release = true`, which already says more.
    pub repeat_release: bool,
    /// `true`: a release of a lease that is free or stale reports success
    /// whoever calls it, and changes nothing (the holder's own release still
    /// frees it); a non-holder's release of a *fresh* lease still reports
    /// failure. As a release statement that also matches an expired row
    /// (ZITADEL's unlock is its lock upsert with a zero duration, `WHERE
    /// locker_id = $1 OR locked_until < now()`), counted. `false`
    /// (reference). Says more than `repeat_release` and less than
    /// `idempotent_release`, and contradicts both.
    pub stale_release: bool,
}

/// The part of a lease's state its rules read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Row {
    /// The holder, or `None` when the lease is free.
    pub leader: Option<Candidate>,
    /// Of a free lease, the holder that released it, which the lease still
    /// knows under `repeat_release = true`; `None` otherwise (always `None`
    /// while the lease is held, after a reset, and without that declaration).
    pub former: Option<Candidate>,
    /// Time of the last successful acquire, renew or release.
    pub acquired_at: Time,
}

impl Row {
    /// A free lease nobody released, last touched at `acquired_at`.
    pub const fn free(acquired_at: Time) -> Row {
        Row {
            leader: None,
            former: None,
            acquired_at,
        }
    }

    /// `who`'s lease, acquired, renewed or released at `acquired_at`.
    pub const fn held(who: Candidate, acquired_at: Time) -> Row {
        Row {
            leader: Some(who),
            former: None,
            acquired_at,
        }
    }
}

impl Default for Semantics {
    fn default() -> Semantics {
        Semantics::REFERENCE
    }
}

/// What a call that reported success did to the lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    /// The lease afterwards.
    pub row: Row,
    /// True iff the call began a new tenure (the fencing epoch grows).
    pub new_tenure: bool,
}

/// A combination of declarations that means nothing (see
/// [`Semantics::validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contradiction {
    /// The field that needs another.
    pub field: &'static str,
    /// Why, in words.
    pub reason: &'static str,
}

impl fmt::Display for Contradiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.reason)
    }
}

impl Semantics {
    /// The reference lease's rules.
    pub const REFERENCE: Semantics = Semantics {
        reentrant_acquire: false,
        stale_renew: true,
        renew_acquires: false,
        renew: true,
        expiry: true,
        idempotent_release: false,
        repeat_release: false,
        stale_release: false,
    };

    /// The field names, in the order of the declaration.
    pub const FIELDS: [&'static str; 8] = [
        "reentrant_acquire",
        "stale_renew",
        "renew_acquires",
        "renew",
        "expiry",
        "idempotent_release",
        "repeat_release",
        "stale_release",
    ];

    /// Refuse a declaration whose parts contradict each other: a renew rule
    /// without a renew, a staleness rule without expiry, two release rules.
    ///
    /// ```
    /// use leasecheck_model::Semantics;
    /// let no_renew = Semantics { renew: false, renew_acquires: true, ..Semantics::REFERENCE };
    /// assert_eq!(no_renew.validate().unwrap_err().field, "renew_acquires");
    /// assert!(Semantics::REFERENCE.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Contradiction> {
        if !self.renew && self.renew_acquires {
            return Err(Contradiction {
                field: "renew_acquires",
                reason: "= true needs a renew, but the lease declares `renew = false`",
            });
        }
        if !self.renew && !self.stale_renew {
            return Err(Contradiction {
                field: "stale_renew",
                reason: "= false needs a renew, but the lease declares `renew = false`",
            });
        }
        if !self.expiry && !self.stale_renew {
            return Err(Contradiction {
                field: "stale_renew",
                reason: "= false needs an expiry (a lease that never expires is never stale), \
                         but the lease declares `expiry = false`",
            });
        }
        if self.idempotent_release && self.repeat_release {
            return Err(Contradiction {
                field: "repeat_release",
                reason: "= true says a stranger's release fails, but the lease declares \
                         `idempotent_release = true` (every release succeeds): declare one",
            });
        }
        if self.stale_release && (self.idempotent_release || self.repeat_release) {
            return Err(Contradiction {
                field: "stale_release",
                reason: "= true is a release rule of its own, but the lease also declares \
                         `idempotent_release = true` or `repeat_release = true`: declare one",
            });
        }
        Ok(())
    }

    /// Every valid declaration (64 of them), the reference first.
    ///
    /// ```
    /// use leasecheck_model::Semantics;
    /// let all = Semantics::all();
    /// assert_eq!(all.len(), 64);
    /// assert_eq!(all[0], Semantics::REFERENCE);
    /// assert!(all.iter().all(|s| s.validate().is_ok()));
    /// ```
    pub fn all() -> Vec<Semantics> {
        let mut all = Vec::new();
        for bits in 0u16..256 {
            let flip = |i: u16| bits & (1 << i) != 0;
            let s = Semantics {
                reentrant_acquire: flip(0),
                stale_renew: !flip(1),
                renew_acquires: flip(2),
                renew: !flip(3),
                expiry: !flip(4),
                idempotent_release: flip(5),
                repeat_release: flip(6),
                stale_release: flip(7),
            };
            if s.validate().is_ok() {
                all.push(s);
            }
        }
        all
    }

    /// True iff `op` exists in a lease with these rules (only `renew` may not).
    pub fn has(&self, op: Op) -> bool {
        op != Op::Renew || self.renew
    }

    /// The call a holder keeps its lease with: `renew`, or for a lease
    /// without one whose acquire is re-entrant, `try_acquire`; `None` when
    /// it has neither (it holds its lease until it expires).
    ///
    /// ```
    /// use leasecheck_model::{Op, Semantics};
    /// assert_eq!(Semantics::REFERENCE.keepalive(), Some(Op::Renew));
    /// let lock = Semantics { renew: false, ..Semantics::REFERENCE };
    /// assert_eq!(lock.keepalive(), None);
    /// assert_eq!(Semantics { reentrant_acquire: true, ..lock }.keepalive(), Some(Op::TryAcquire));
    /// ```
    pub fn keepalive(&self) -> Option<Op> {
        if self.renew {
            Some(Op::Renew)
        } else if self.reentrant_acquire {
            Some(Op::TryAcquire)
        } else {
            None
        }
    }

    /// True iff a lease last acquired, renewed or released at `acquired_at`
    /// is stale at `now`: strictly older than `ttl`, and never without expiry.
    pub fn is_stale(&self, ttl: Span, acquired_at: Time, now: Time) -> bool {
        self.expiry && acquired_at < now - ttl
    }

    /// The one transition of the model: `op` by `who` at `now` on the lease
    /// `row`. `Some` iff the call reports success, with what it did; `None`
    /// iff it reports failure, which never changes the lease.
    ///
    /// ```
    /// use leasecheck_model::{Candidate, Op, Row, Semantics, Span, Time};
    /// let (a, b, ttl) = (Candidate(1), Candidate(2), Span(10));
    /// let reentrant = Semantics { reentrant_acquire: true, ..Semantics::REFERENCE };
    /// let held = Row::held(a, Time(0));
    /// // the holder's acquire of its own fresh lease: refused by the reference, an extension here
    /// assert!(Semantics::REFERENCE.step(ttl, held, a, Op::TryAcquire, Time(5)).is_none());
    /// let e = reentrant.step(ttl, held, a, Op::TryAcquire, Time(5)).unwrap();
    /// assert_eq!((e.row, e.new_tenure), (Row::held(a, Time(5)), false));
    /// // nobody else takes a fresh lease, whatever the declaration
    /// assert!(reentrant.step(ttl, held, b, Op::TryAcquire, Time(5)).is_none());
    /// ```
    pub fn step(&self, ttl: Span, row: Row, who: Candidate, op: Op, now: Time) -> Option<Effect> {
        let stale = self.is_stale(ttl, row.acquired_at, now);
        let available = row.leader.is_none() || stale;
        let mine = row.leader == Some(who);
        let take = Effect {
            row: Row::held(who, now),
            new_tenure: true,
        };
        let extend = Effect {
            new_tenure: false,
            ..take
        };
        let unchanged = Effect {
            row,
            new_tenure: false,
        };
        match op {
            Op::TryAcquire if available => Some(take),
            Op::TryAcquire => (mine && self.reentrant_acquire).then_some(extend),
            Op::Renew if !self.renew => None,
            Op::Renew if mine && (!stale || self.stale_renew) => Some(extend),
            Op::Renew => (self.renew_acquires && available).then_some(take),
            Op::Release if mine => Some(Effect {
                row: Row {
                    former: self.repeat_release.then_some(who),
                    ..Row::free(now)
                },
                new_tenure: false,
            }),
            Op::Release if self.idempotent_release => Some(unchanged),
            Op::Release if self.stale_release && available => Some(unchanged),
            Op::Release => (self.repeat_release && row.leader.is_none() && row.former == Some(who))
                .then_some(unchanged),
        }
    }

    /// The declarations that differ from the reference, as `field = value`.
    ///
    /// ```
    /// use leasecheck_model::Semantics;
    /// let s = Semantics { expiry: false, ..Semantics::REFERENCE };
    /// assert_eq!(s.differences(), vec!["expiry = false".to_string()]);
    /// assert!(Semantics::REFERENCE.differences().is_empty());
    /// ```
    pub fn differences(&self) -> Vec<String> {
        Semantics::FIELDS
            .iter()
            .zip(self.values())
            .zip(Semantics::REFERENCE.values())
            .filter(|((_, v), r)| v != r)
            .map(|((name, v), _)| format!("{name} = {v}"))
            .collect()
    }

    /// The values in the order of [`Semantics::FIELDS`].
    pub fn values(&self) -> [bool; 8] {
        [
            self.reentrant_acquire,
            self.stale_renew,
            self.renew_acquires,
            self.renew,
            self.expiry,
            self.idempotent_release,
            self.repeat_release,
            self.stale_release,
        ]
    }

    /// The declaration named `name` (one of [`Semantics::FIELDS`]), to set
    /// it; `None` for a name that is not a declaration.
    ///
    /// ```
    /// use leasecheck_model::Semantics;
    /// let mut s = Semantics::REFERENCE;
    /// *s.field_mut("expiry").unwrap() = false;
    /// assert!(!s.expiry);
    /// assert!(s.field_mut("reentrant").is_none());
    /// ```
    pub fn field_mut(&mut self, name: &str) -> Option<&mut bool> {
        match name {
            "reentrant_acquire" => Some(&mut self.reentrant_acquire),
            "stale_renew" => Some(&mut self.stale_renew),
            "renew_acquires" => Some(&mut self.renew_acquires),
            "renew" => Some(&mut self.renew),
            "expiry" => Some(&mut self.expiry),
            "idempotent_release" => Some(&mut self.idempotent_release),
            "repeat_release" => Some(&mut self.repeat_release),
            "stale_release" => Some(&mut self.stale_release),
            _ => None,
        }
    }

    /// The `[semantics]` table that declares these rules in a spec file,
    /// every field written out.
    ///
    /// ```
    /// use leasecheck_model::Semantics;
    /// let text = Semantics::REFERENCE.declaration();
    /// assert!(text.starts_with("[semantics]\nreentrant_acquire = false\n"));
    /// ```
    pub fn declaration(&self) -> String {
        let mut out = String::from("[semantics]\n");
        for (name, v) in Semantics::FIELDS.iter().zip(self.values()) {
            out.push_str(&format!("{name} = {v}\n"));
        }
        out
    }

    /// True iff these are the reference's rules.
    pub fn is_reference(&self) -> bool {
        *self == Semantics::REFERENCE
    }
}

/// `reference`, or the declarations that differ from it, comma-separated.
impl fmt::Display for Semantics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_reference() {
            f.write_str("reference")
        } else {
            f.write_str(&self.differences().join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Candidate = Candidate(1);
    const B: Candidate = Candidate(2);
    const TTL: Span = Span(10);

    #[test]
    fn fields_values_and_field_mut_name_the_same_declarations_in_order() {
        for (i, name) in Semantics::FIELDS.iter().enumerate() {
            let mut s = Semantics::REFERENCE;
            let slot = s.field_mut(name).expect("every field is settable");
            *slot = !*slot;
            let flipped: Vec<usize> = (0..Semantics::FIELDS.len())
                .filter(|&j| s.values()[j] != Semantics::REFERENCE.values()[j])
                .collect();
            assert_eq!(flipped, vec![i], "{name}");
        }
    }

    #[test]
    fn no_declaration_lets_another_candidate_take_a_fresh_lease() {
        for s in Semantics::all() {
            for op in Op::ALL {
                if let Some(e) = s.step(TTL, Row::held(A, Time(0)), B, op, Time(10)) {
                    assert_eq!(e.row, Row::held(A, Time(0)), "{s}: {op} by B touched it");
                }
            }
        }
    }

    #[test]
    fn without_expiry_a_lease_never_goes_stale() {
        let s = Semantics {
            expiry: false,
            ..Semantics::REFERENCE
        };
        assert!(s
            .step(
                TTL,
                Row::held(A, Time(0)),
                B,
                Op::TryAcquire,
                Time(1_000_000)
            )
            .is_none());
    }

    #[test]
    fn a_renew_that_acquires_begins_a_new_tenure_only_when_it_takes() {
        let s = Semantics {
            renew_acquires: true,
            ..Semantics::REFERENCE
        };
        let took = s
            .step(TTL, Row::free(Time(0)), A, Op::Renew, Time(1))
            .unwrap();
        assert!(took.new_tenure);
        let kept = s
            .step(TTL, Row::held(A, Time(1)), A, Op::Renew, Time(2))
            .unwrap();
        assert!(!kept.new_tenure);
        assert!(s
            .step(TTL, Row::held(A, Time(2)), B, Op::Renew, Time(3))
            .is_none());
    }

    #[test]
    fn a_renew_that_refuses_stale_leases_refuses_only_stale_ones() {
        let s = Semantics {
            stale_renew: false,
            ..Semantics::REFERENCE
        };
        assert!(s
            .step(TTL, Row::held(A, Time(0)), A, Op::Renew, Time(10))
            .is_some());
        assert!(s
            .step(TTL, Row::held(A, Time(0)), A, Op::Renew, Time(11))
            .is_none());
    }

    #[test]
    fn an_idempotent_release_reports_success_but_frees_only_for_the_holder() {
        let s = Semantics {
            idempotent_release: true,
            ..Semantics::REFERENCE
        };
        let e = s
            .step(TTL, Row::held(A, Time(0)), B, Op::Release, Time(1))
            .unwrap();
        assert_eq!(e.row.leader, Some(A));
        let e = s
            .step(TTL, Row::free(Time(0)), B, Op::Release, Time(1))
            .unwrap();
        assert_eq!(e.row.leader, None);
    }

    #[test]
    fn a_repeat_release_succeeds_only_for_the_holder_that_released_and_only_until_the_lease_is_taken(
    ) {
        let s = Semantics {
            repeat_release: true,
            ..Semantics::REFERENCE
        };
        let released = s
            .step(TTL, Row::held(A, Time(0)), A, Op::Release, Time(1))
            .unwrap()
            .row;
        assert_eq!((released.leader, released.former), (None, Some(A)));
        let again = s.step(TTL, released, A, Op::Release, Time(50)).unwrap();
        assert_eq!(again.row, released, "the repeat changes nothing");
        assert!(s.step(TTL, released, B, Op::Release, Time(2)).is_none());
        let taken = s
            .step(TTL, released, B, Op::TryAcquire, Time(2))
            .unwrap()
            .row;
        assert_eq!(taken.former, None);
        assert!(s.step(TTL, taken, A, Op::Release, Time(3)).is_none());
        assert!(s
            .step(TTL, Row::free(Time(0)), A, Op::Release, Time(1))
            .is_none());
        // the reference forgets who released
        let forgot = Semantics::REFERENCE
            .step(TTL, Row::held(A, Time(0)), A, Op::Release, Time(1))
            .unwrap()
            .row;
        assert_eq!(forgot, Row::free(Time(1)));
    }

    #[test]
    fn a_stale_release_succeeds_for_anyone_on_a_free_or_stale_lease_and_changes_nothing() {
        let s = Semantics {
            stale_release: true,
            ..Semantics::REFERENCE
        };
        let held = Row::held(A, Time(0));
        assert!(
            s.step(TTL, held, B, Op::Release, Time(10)).is_none(),
            "fresh"
        );
        let stale = s.step(TTL, held, B, Op::Release, Time(11)).unwrap();
        assert_eq!(stale.row, held, "the stale lease is still A's");
        let free = Row::free(Time(0));
        assert_eq!(
            s.step(TTL, free, B, Op::Release, Time(1)).unwrap().row,
            free
        );
        let released = s.step(TTL, held, A, Op::Release, Time(1)).unwrap().row;
        assert_eq!(
            released,
            Row::free(Time(1)),
            "the holder's own still frees it"
        );
    }

    #[test]
    fn the_release_rules_contradict_each_other() {
        let s = Semantics {
            repeat_release: true,
            idempotent_release: true,
            ..Semantics::REFERENCE
        };
        assert_eq!(s.validate().unwrap_err().field, "repeat_release");
        for other in ["idempotent_release", "repeat_release"] {
            let mut s = Semantics {
                stale_release: true,
                ..Semantics::REFERENCE
            };
            *s.field_mut(other).expect("a field") = true;
            assert_eq!(s.validate().unwrap_err().field, "stale_release", "{other}");
        }
    }
}
