//! The lease's rules, one call at a time (P5 and the declared semantics,
//! with P1 and P2 on the way): short sequences of calls by two candidates
//! on a real lease, each from a reset, where what each call must return
//! follows from the rules the lease declares
//! ([`Semantics`](leasecheck_model::Semantics)); the history
//! checker judges the rest (P6, P7).
//!
//! A wrong answer is named by what it breaks: another candidate winning a
//! fresh lease is P2 (safety) whatever the declaration; the holder's own
//! re-acquire, a renew of a stale or free lease, a second release are the
//! lease's contract (P7): it does not behave as it declares.
//!
//! It never waits on time: staleness comes from the lease's `age`
//! statement, and the steps that need it are left out without one (the
//! conformance scenario then covers them in real time).

use super::error::RunError;
use super::subject::Subject;
use crate::lease::Contender;
use crate::recorder::{Recorder, Reply, HARNESS};
use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event};
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op, Span};
use std::time::Duration;

/// The two candidates of every sequence.
pub(crate) const A: Candidate = Candidate(0);
/// The second candidate.
pub(crate) const B: Candidate = Candidate(1);

/// Calls by two candidates, one at a time, each recorded: what the
/// semantics scenario and `leasecheck characterize` are made of.
pub(crate) struct Sequence<'s> {
    subject: &'s mut Subject,
    rec: &'s Recorder,
    a: Box<dyn Contender>,
    b: Box<dyn Contender>,
    /// The events of the current sequence (since the last reset).
    pub(crate) seen: Vec<Event>,
}

impl<'s> Sequence<'s> {
    /// Two contenders of `subject`, recorded in `rec`.
    pub(crate) fn new(
        subject: &'s mut Subject,
        rec: &'s Recorder,
    ) -> Result<Sequence<'s>, RunError> {
        let a = subject.contender(A, None)?;
        let b = subject.contender(B, None)?;
        Ok(Sequence {
            subject,
            rec,
            a,
            b,
            seen: Vec::new(),
        })
    }

    /// Make the lease free and start a new sequence.
    pub(crate) fn reset(&mut self) -> Result<(), RunError> {
        let subject = &mut *self.subject;
        let (r, _) = self.rec.call(HARNESS, Call::Reset, || {
            subject.reset().map(|_| Reply::DONE)
        });
        self.seen.clear();
        r.map(|_| ())
    }

    /// Make the current tenure look `by` older (the lease's `age`).
    pub(crate) fn age(&mut self, by: Duration) -> Result<(), RunError> {
        let subject = &mut *self.subject;
        let (r, e) = self.rec.call(
            HARNESS,
            Call::Age {
                by: Span::from_duration(by),
            },
            || subject.age(by).map(|_| Reply::DONE),
        );
        self.seen.push(e);
        r.map(|_| ())
    }

    /// `who` calls `op`: whether it reported success. An unknown outcome
    /// (a lost connection) makes the sequence impossible to judge: an error.
    pub(crate) fn call(&mut self, who: Candidate, op: Op) -> Result<bool, RunError> {
        let c = if who == A { &mut self.a } else { &mut self.b };
        let (r, e) = self.rec.call(who, Call::Lease { op }, || c.call(op));
        self.seen.push(e);
        Ok(r?.took_effect)
    }

    /// Whether the lease can be aged without waiting.
    pub(crate) fn can_age(&self) -> bool {
        self.subject.can_age()
    }

    /// The TTL the lease runs with.
    pub(crate) fn ttl(&self) -> Duration {
        self.subject.ttl().as_duration()
    }
}

/// The declaration that says what a second release by the holder that
/// released returns: `repeat_release` or `stale_release` where declared.
fn release_rule(s: leasecheck_model::Semantics) -> &'static str {
    if s.repeat_release {
        "repeat_release"
    } else {
        stranger_rule(s)
    }
}

/// The declaration that says what a non-holder's release of a free or
/// stale lease returns: `stale_release` where declared.
fn stranger_rule(s: leasecheck_model::Semantics) -> &'static str {
    if s.stale_release {
        "stale_release"
    } else {
        "idempotent_release"
    }
}

/// What one call must return, and what a wrong answer breaks.
struct Expect {
    who: Candidate,
    op: Op,
    expect: bool,
    property: Property,
    what: &'static str,
    /// The declaration the expectation comes from, if any.
    declared: Option<(&'static str, bool)>,
}

/// Run the sequences; each call that returns the wrong answer is a finding,
/// kept in `rec` ([`Recorder::finding`]).
///
/// ```no_run
/// use leasecheck::scenario::{semantics, Subject};
/// use leasecheck::{Postgres, Recorder, Ttl};
/// let pg = Postgres::provision()?;
/// let ttl = Ttl::parse("1")?;
/// let mut subject = Subject::reference(&pg, ttl)?;
/// let rec = Recorder::new(ttl, true);
/// semantics::run(&mut subject, &rec)?;
/// assert!(rec.findings().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(subject: &mut Subject, rec: &Recorder) -> Result<(), RunError> {
    let s = subject.semantics();
    let mut seq = Sequence::new(subject, rec)?;
    let step = |who, op, expect, property, what| Expect {
        who,
        op,
        expect,
        property,
        what,
        declared: None,
    };
    let declared = |who, op, what, field, value| Expect {
        who,
        op,
        expect: value,
        property: Property::P7Linearizable,
        what,
        declared: Some((field, value)),
    };
    // every sequence opens with the first candidate taking the free lease
    let free = || {
        step(
            A,
            Op::TryAcquire,
            true,
            Property::P1ExactlyOneWinner,
            "acquire of a free lease",
        )
    };
    let mut sequences: Vec<(Option<Duration>, Vec<Expect>)> = Vec::new();
    let mut basic = vec![
        free(),
        declared(
            A,
            Op::TryAcquire,
            "re-acquire by the holder of its own fresh lease",
            "reentrant_acquire",
            s.reentrant_acquire,
        ),
        step(
            B,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "acquire of a fresh lease held by another",
        ),
    ];
    if s.renew {
        basic.push(step(
            B,
            Op::Renew,
            false,
            Property::P5ReleaseFreesAtOnce,
            "renew by a non-holder",
        ));
    }
    basic.extend([
        Expect {
            property: Property::P5ReleaseFreesAtOnce,
            ..declared(
                B,
                Op::Release,
                "release by a non-holder",
                "idempotent_release",
                s.idempotent_release,
            )
        },
        step(
            B,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "acquire of a fresh lease after a non-holder's release of it",
        ),
        step(
            A,
            Op::Release,
            true,
            Property::P5ReleaseFreesAtOnce,
            "release by the holder",
        ),
        step(
            B,
            Op::TryAcquire,
            true,
            Property::P5ReleaseFreesAtOnce,
            "acquire right after a release",
        ),
    ]);
    sequences.push((None, basic));
    sequences.push((
        None,
        vec![
            free(),
            step(
                A,
                Op::Release,
                true,
                Property::P5ReleaseFreesAtOnce,
                "release by the holder",
            ),
            declared(
                A,
                Op::Release,
                "a second release of a lease already released",
                release_rule(s),
                s.idempotent_release || s.repeat_release || s.stale_release,
            ),
            Expect {
                property: Property::P5ReleaseFreesAtOnce,
                ..declared(
                    B,
                    Op::Release,
                    "release by another candidate of a lease its holder released",
                    stranger_rule(s),
                    s.idempotent_release || s.stale_release,
                )
            },
        ],
    ));
    if s.renew {
        sequences.push((
            None,
            vec![declared(
                A,
                Op::Renew,
                "renew of a free lease",
                "renew_acquires",
                s.renew_acquires,
            )],
        ));
    }
    if seq.can_age() {
        let past = seq.ttl() + Duration::from_millis(1);
        if s.expiry && s.renew {
            // the renew of one's own stale, untaken lease
            let field = if s.renew_acquires {
                ("renew_acquires", true)
            } else {
                ("stale_renew", s.stale_renew)
            };
            sequences.push((
                Some(past),
                vec![
                    free(),
                    declared(
                        A,
                        Op::Renew,
                        "renew of the holder's own stale lease",
                        field.0,
                        field.1,
                    ),
                ],
            ));
        }
        if s.expiry {
            // a non-holder's release of a stale lease
            sequences.push((
                Some(past),
                vec![
                    free(),
                    Expect {
                        property: Property::P5ReleaseFreesAtOnce,
                        ..declared(
                            B,
                            Op::Release,
                            "release by a non-holder of a stale, untaken lease",
                            stranger_rule(s),
                            s.idempotent_release || s.stale_release,
                        )
                    },
                ],
            ));
        }
        if !s.expiry {
            sequences.push((
                Some(past * 10),
                vec![
                    free(),
                    declared(
                        B,
                        Op::TryAcquire,
                        "acquire of a lease held far longer than the TTL",
                        "expiry",
                        false,
                    ),
                ],
            ));
        }
    }
    for (age, steps) in sequences {
        seq.reset()?;
        for (i, e) in steps.iter().enumerate() {
            // the age goes right before the sequence's last call
            if let (Some(by), true) = (age, i + 1 == steps.len()) {
                seq.age(by)?;
            }
            let got = seq.call(e.who, e.op)?;
            if got != e.expect {
                let why = match e.declared {
                    Some((field, value)) => format!(
                        " (the lease declares {field} = {value}: mend the lease, or its \
                         [semantics] table if it means to; `leasecheck characterize` proposes one)"
                    ),
                    None => String::new(),
                };
                rec.finding(Finding {
                    property: e.property,
                    message: format!(
                        "{}: {} {} returned {got}, expected {}{why}",
                        e.what, e.who, e.op, e.expect
                    ),
                    events: seq.seen.clone(),
                });
            }
        }
    }
    Ok(())
}
