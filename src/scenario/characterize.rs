//! `leasecheck characterize`: what rules does a lease follow? Short
//! sequences of single calls by two candidates, each from a reset, whose
//! answers say which [`Semantics`] the lease has, so that a user does not
//! have to guess the `[semantics]` table of its spec file.
//!
//! Every probe is one question with a yes/no answer, asked on a lease no one
//! else touches; staleness comes from the lease's `age` statement, or from
//! waiting past the TTL where it has none. A probe that shows a safety
//! property broken (another candidate taking a fresh lease, a non-holder's
//! renew succeeding, a non-holder's release freeing the lease) is reported
//! as such: no declaration makes that safe.

use super::error::RunError;
use super::semantics::{Sequence, A, B};
use super::subject::Subject;
use crate::recorder::Recorder;
use leasecheck_model::check::Property;
use leasecheck_model::{Op, Semantics};
use std::time::Duration;

/// One question asked of the lease, and its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The question, e.g. "the holder's try_acquire of its own fresh lease".
    pub question: &'static str,
    /// Whether the last call of the probe reported success.
    pub answer: bool,
    /// The declaration it decides, `(field, value)`, if any.
    pub declares: Option<(&'static str, bool)>,
}

/// A safety property a probe showed broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsafe {
    /// The property.
    pub property: Property,
    /// What happened.
    pub what: String,
}

/// What the probes found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Characterization {
    /// The semantics the answers declare.
    pub semantics: Semantics,
    /// The questions, in the order asked.
    pub probes: Vec<Probe>,
    /// Safety properties the probes showed broken (none for a safe lease).
    pub unsafe_findings: Vec<Unsafe>,
    /// Remarks on answers no declaration expresses.
    pub remarks: Vec<String>,
}

/// Probe `subject`'s lease (see the module notes).
///
/// ```no_run
/// use leasecheck::scenario::{characterize, Subject};
/// use leasecheck::spec::Spec;
/// use leasecheck::{Postgres, Recorder, Ttl};
/// let pg = Postgres::provision()?;
/// let spec = Spec::load("specs/reference.toml".as_ref())?;
/// let ttl = Ttl::parse("1")?;
/// let mut subject = Subject::from_spec(&pg, spec, ttl)?;
/// let found = characterize::probe(&mut subject, &Recorder::new(ttl, false))?;
/// assert!(found.semantics.is_reference());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn probe(subject: &mut Subject, rec: &Recorder) -> Result<Characterization, RunError> {
    let has_renew = subject.semantics().renew;
    let mut seq = Sequence::new(subject, rec)?;
    let mut found = Characterization {
        semantics: Semantics::REFERENCE,
        probes: Vec::new(),
        unsafe_findings: Vec::new(),
        remarks: Vec::new(),
    };
    found.semantics.renew = has_renew;

    // The holder, another candidate, and release.
    if !hold(&mut found, &mut seq)? {
        return Err(RunError::Settings(
            "the lease's try_acquire of a free lease (right after its reset) returned false: \
             it cannot be characterized (check its reset and try_acquire with `leasecheck \
             validate`)"
                .into(),
        ));
    }
    found.semantics.reentrant_acquire = ask(
        &mut found,
        &mut seq,
        A,
        Op::TryAcquire,
        "the holder's try_acquire of its own fresh lease",
        Some("reentrant_acquire"),
    )?;
    if ask(
        &mut found,
        &mut seq,
        B,
        Op::TryAcquire,
        "another candidate's try_acquire of a fresh lease",
        None,
    )? {
        found.unsafe_findings.push(Unsafe {
            property: Property::P2NoEarlyTakeover,
            what: "another candidate took a fresh lease from its holder".into(),
        });
    }
    if has_renew
        && ask(
            &mut found,
            &mut seq,
            B,
            Op::Renew,
            "a non-holder's renew of a fresh lease held by another",
            None,
        )?
    {
        found.unsafe_findings.push(Unsafe {
            property: Property::P6NoOverlappingTenure,
            what: "a non-holder's renew succeeded while another held the lease: both believe \
                   they lead (a renew not scoped to its owner)"
                .into(),
        });
    }
    let foreign_release = ask(
        &mut found,
        &mut seq,
        B,
        Op::Release,
        "a non-holder's release of a lease held by another",
        None,
    )?;
    if ask(
        &mut found,
        &mut seq,
        B,
        Op::TryAcquire,
        "another candidate's try_acquire after that release",
        None,
    )? {
        found.unsafe_findings.push(Unsafe {
            property: Property::P6NoOverlappingTenure,
            what: "a non-holder's release freed the holder's lease, and another candidate \
                   took it while the holder still believed it led (a release not scoped to \
                   its holder, as an unlock by name only)"
                .into(),
        });
    }

    // A second release.
    hold(&mut found, &mut seq)?;
    if !ask(
        &mut found,
        &mut seq,
        A,
        Op::Release,
        "the holder's release",
        None,
    )? {
        found
            .remarks
            .push("the holder's release of its own lease returned false".into());
    }
    // which declaration this answer decides depends on the next ones
    let second_at = found.probes.len();
    let second_release = ask(
        &mut found,
        &mut seq,
        A,
        Op::Release,
        "a second release of a lease already released",
        None,
    )?;
    let stranger_after = ask(
        &mut found,
        &mut seq,
        B,
        Op::Release,
        "another candidate's release of a lease its holder released",
        None,
    )?;
    let (idempotent, repeat, stale) = match (foreign_release, second_release, stranger_after) {
        (true, true, _) => (true, false, false),
        (false, true, true) => (false, false, true),
        (false, true, false) => (false, true, false),
        _ => (false, false, false),
    };
    found.semantics.idempotent_release = idempotent;
    found.semantics.repeat_release = repeat;
    found.semantics.stale_release = stale;
    found.probes[second_at].declares = Some(if repeat {
        ("repeat_release", true)
    } else {
        ("idempotent_release", idempotent)
    });
    if stale {
        found.probes[second_at + 1].declares = Some(("stale_release", true));
    }
    if foreign_release && !second_release {
        found.remarks.push(
            "a non-holder's release returned true but the holder's second release returned \
             false: no declaration says that (idempotent_release = true means both succeed); \
             declared false, P5 or P7 will name the one that differs"
                .into(),
        );
    }
    if idempotent && !stranger_after {
        found.remarks.push(
            "every release returned true but another candidate's release of a lease its \
             holder released: no declaration says that; declared idempotent_release = true, \
             P5 will name the one that differs"
                .into(),
        );
    }
    if stranger_after && !second_release && !foreign_release {
        found.remarks.push(
            "another candidate's release of a lease its holder released returned true, but \
             the holder's own second release returned false: no declaration says that; P5 \
             will name it"
                .into(),
        );
    }

    // A renew of a free lease.
    if has_renew {
        seq.reset()?;
        found.semantics.renew_acquires = ask(
            &mut found,
            &mut seq,
            A,
            Op::Renew,
            "renew of a free lease",
            Some("renew_acquires"),
        )?;
    }

    // Expiry, and the renew of one's own stale lease.
    let past = seq.ttl() + Duration::from_millis(1);
    let age = |seq: &mut Sequence, by: Duration| -> Result<(), RunError> {
        if seq.can_age() {
            seq.age(by)
        } else {
            std::thread::sleep(seq.ttl() + seq.ttl() / 2);
            Ok(())
        }
    };
    hold(&mut found, &mut seq)?;
    age(&mut seq, past * 10)?;
    found.semantics.expiry = ask(
        &mut found,
        &mut seq,
        B,
        Op::TryAcquire,
        "another candidate's try_acquire of a lease held far past its TTL",
        Some("expiry"),
    )?;
    if has_renew && found.semantics.expiry && !found.semantics.renew_acquires {
        hold(&mut found, &mut seq)?;
        age(&mut seq, past)?;
        found.semantics.stale_renew = ask(
            &mut found,
            &mut seq,
            A,
            Op::Renew,
            "the holder's renew of its own stale, untaken lease",
            Some("stale_renew"),
        )?;
    }
    if found.semantics.expiry {
        hold(&mut found, &mut seq)?;
        age(&mut seq, past)?;
        let answer = ask(
            &mut found,
            &mut seq,
            B,
            Op::Release,
            "a non-holder's release of a stale, untaken lease held by another",
            None,
        )?;
        let declared = found.semantics.idempotent_release || found.semantics.stale_release;
        if answer != declared {
            found.remarks.push(format!(
                "a non-holder's release of a stale lease returned {answer}, but its releases of \
                 a fresh and of a released lease say it should return {declared}: no \
                 declaration says that; P5 or P7 will name it"
            ));
        }
    }
    // the renew and staleness rules are asked only where the lease has a
    // renew and an expiry, so the answers never contradict each other
    debug_assert!(found.semantics.validate().is_ok(), "{}", found.semantics);
    seq.reset()?;
    Ok(found)
}

/// Ask one question: `who` calls `op`; the answer decides `field` if given.
fn ask(
    found: &mut Characterization,
    seq: &mut Sequence,
    who: leasecheck_model::Candidate,
    op: Op,
    question: &'static str,
    field: Option<&'static str>,
) -> Result<bool, RunError> {
    let answer = seq.call(who, op)?;
    found.probes.push(Probe {
        question,
        answer,
        declares: field.map(|f| (f, answer)),
    });
    Ok(answer)
}

/// Start a sequence: reset, then the first candidate takes the free lease.
fn hold(found: &mut Characterization, seq: &mut Sequence) -> Result<bool, RunError> {
    seq.reset()?;
    ask(
        found,
        seq,
        A,
        Op::TryAcquire,
        "try_acquire of a free lease",
        None,
    )
}
