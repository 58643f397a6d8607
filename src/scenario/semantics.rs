//! The release and non-holder rules (P5, with P1 and P2 on the way), as one
//! short sequence of calls by two candidates on a real lease: what each call
//! must return is written here; the history checker judges the rest.
//!
//! It never waits on time: every step's expected result holds at any speed.

use super::error::RunError;
use super::subject::Subject;
use crate::recorder::Recorder;
use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event};
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op};

/// One step: who calls what, what it must return, and the property a wrong
/// answer violates.
struct Step {
    who: Candidate,
    op: Op,
    expect: bool,
    property: Property,
    what: &'static str,
}

/// Run the sequence; each call that returns the wrong answer is a finding,
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
    let (a, b) = (Candidate(0), Candidate(1));
    let mut ca = subject.contender(a, None)?;
    let mut cb = subject.contender(b, None)?;
    subject.reset()?;
    let step = |who, op, expect, property, what| Step {
        who,
        op,
        expect,
        property,
        what,
    };
    let steps = [
        step(
            a,
            Op::TryAcquire,
            true,
            Property::P1ExactlyOneWinner,
            "acquire of a free lease",
        ),
        step(
            a,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "re-acquire by the holder of a fresh lease",
        ),
        step(
            b,
            Op::TryAcquire,
            false,
            Property::P2NoEarlyTakeover,
            "acquire of a fresh lease held by another",
        ),
        step(
            b,
            Op::Renew,
            false,
            Property::P5ReleaseFreesAtOnce,
            "renew by a non-holder",
        ),
        step(
            b,
            Op::Release,
            false,
            Property::P5ReleaseFreesAtOnce,
            "release by a non-holder",
        ),
        step(
            a,
            Op::Release,
            true,
            Property::P5ReleaseFreesAtOnce,
            "release by the holder",
        ),
        step(
            b,
            Op::TryAcquire,
            true,
            Property::P5ReleaseFreesAtOnce,
            "acquire right after a release",
        ),
    ];
    let mut seen: Vec<Event> = Vec::new();
    for s in steps {
        let c = if s.who == a { &mut ca } else { &mut cb };
        let (r, e) = rec.call(s.who, Call::Lease { op: s.op }, || c.call(s.op));
        seen.push(e);
        let took_effect = r?.took_effect;
        if took_effect != s.expect {
            rec.finding(Finding {
                property: s.property,
                message: format!(
                    "{}: {} {} returned {took_effect}, expected {}",
                    s.what, s.who, s.op, s.expect
                ),
                events: seen.clone(),
            });
        }
    }
    Ok(())
}
