//! P7 on a random sequential history: three candidates call random
//! operations while the harness moves time forward, with `age` where the
//! lease has it (no sleeping) and by waiting past the TTL where it has not
//! (a few times only). The checker then judges the history against the
//! model: with one call at a time there is a single order, so every outcome
//! is compared with the model's, and time is judged within each call's
//! window.
//!
//! The runner itself judges nothing: the verdict is the checker's.

use super::error::RunError;
use super::subject::Subject;
use crate::recorder::{Recorder, Reply, HARNESS};
use leasecheck_model::history::Call;
use leasecheck_model::{Candidate, Op, Span};
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, Ordering};

/// Operations of the conformance scenario.
pub const CONFORMANCE_STEPS: usize = 300;

/// What a conformance run did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConformanceResult {
    /// Calls made (lease operations and time moves).
    pub operations: usize,
    /// Whether time moved by the lease's `age` (else by waiting).
    pub aged: bool,
}

/// Run [`CONFORMANCE_STEPS`] random calls, seeded by `seed`.
pub fn run(
    subject: &mut Subject,
    seed: u64,
    rec: &Recorder,
    cancel: &AtomicBool,
) -> Result<ConformanceResult, RunError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xC0FF_EE00);
    let ttl = subject.ttl().as_duration();
    let mut contenders = (0..3)
        .map(|i| subject.contender(Candidate(i), None))
        .collect::<Result<Vec<_>, _>>()?;
    let (reset, _) = rec.call(HARNESS, Call::Reset, || {
        subject.reset().map(|_| Reply::DONE)
    });
    reset?;
    let can_age = subject.can_age();
    // only the operations the lease has (a lease may declare no renew)
    let semantics = subject.semantics();
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|&op| semantics.has(op))
        .collect();
    let mut waits = 0;
    for _ in 0..CONFORMANCE_STEPS {
        if cancel.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        if rng.gen_bool(0.15) {
            if can_age {
                // Half a TTL or one and a half: both sides of the boundary.
                let by = if rng.gen_bool(0.5) {
                    ttl / 2
                } else {
                    ttl * 3 / 2
                };
                let (r, _) = rec.call(
                    HARNESS,
                    Call::Age {
                        by: Span::from_duration(by),
                    },
                    || subject.age(by).map(|_| Reply::DONE),
                );
                r?;
            } else if waits < 3 {
                // No `age`: the lease's own clock must move, and only real
                // time moves it.
                waits += 1;
                std::thread::sleep(ttl + ttl / 2);
            }
            continue;
        }
        let who = rng.gen_range(0..contenders.len());
        let op = ops[rng.gen_range(0..ops.len())];
        let c = &mut contenders[who];
        let (r, _) = rec.call(Candidate(who as u16), Call::Lease { op }, || c.call(op));
        r?;
    }
    Ok(ConformanceResult {
        operations: CONFORMANCE_STEPS,
        aged: can_age,
    })
}
