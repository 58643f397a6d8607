//! The durability runner (P9): an acknowledged write survives a crash.
//!
//! Each round: the harness makes the lease free and checkpoints (so that
//! only what follows can be lost), `c0` acquires it (acknowledged), the
//! server is crashed at once (`SIGKILL` to every process) and started again
//! (crash recovery), and `c1` tries to acquire. The TTL is far longer than
//! the restart, so `c0`'s lease is still fresh: if `c1` wins, the server
//! forgot a write it had acknowledged, a violation of P9 (and of P2 on the
//! history). With `synchronous_commit = on` that never happens; with
//! `--synchronous-commit off` it is what a crash does, and this scenario
//! shows it on purpose.
//!
//! A round whose restart took longer than the TTL proves nothing (the lease
//! would be stale either way): it is counted, never judged.

use super::error::RunError;
use super::subject::Subject;
use crate::database::Postgres;
use crate::fault::{checkpoint, Crash, Durability, Fault, FaultError, Outage, OutageSlot};
use crate::recorder::{lease_call, took_effect, Recorder, Reply, HARNESS};
use leasecheck_model::check::Property;
use leasecheck_model::history::Call;
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op};
use std::time::Duration;

/// Settings of the durability scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurabilityOptions {
    /// Crashes, one per round.
    pub rounds: usize,
    /// How the server commits meanwhile.
    pub durability: Durability,
}

/// What the durability scenario observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurabilityResult {
    /// Rounds whose acquire was acknowledged and whose restart fit in the TTL.
    pub checked: usize,
    /// Of those, rounds whose acknowledged acquire was gone after the restart.
    pub lost: usize,
    /// The longest restart (crash recovery until the server answered).
    pub longest_restart: Duration,
    /// Why no round could be judged, if so.
    pub unchecked: Option<String>,
}

/// Run the scenario on `subject` in `pg` (a cluster leasecheck runs).
///
/// ```no_run
/// use leasecheck::fault::Durability;
/// use leasecheck::scenario::{durability, Subject};
/// use leasecheck::{Postgres, Recorder, Ttl};
/// let pg = Postgres::start_local()?;
/// let ttl = Ttl::parse("30")?;
/// let mut subject = Subject::reference(&pg, ttl)?;
/// let rec = Recorder::new(ttl, true);
/// let opts = durability::DurabilityOptions { rounds: 2, durability: Durability::Durable };
/// let result = durability::run(&pg, &mut subject, &opts, &rec)?;
/// assert_eq!(result.lost, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run(
    pg: &Postgres,
    subject: &mut Subject,
    opts: &DurabilityOptions,
    rec: &Recorder,
) -> Result<DurabilityResult, RunError> {
    Fault::CrashRestart.check_applicable(pg)?;
    if subject.is_pooled() {
        return Err(RunError::NotApplicable(
            "through a transaction pooler a crash of the server is PgBouncer's to recover from, \
             not the lease's: run durability on direct connections"
                .into(),
        ));
    }
    let ttl = subject.ttl().as_duration();
    let settings = opts.durability.apply(pg)?;
    let (owner, prober) = (Candidate(0), Candidate(1));
    let mut result = DurabilityResult::default();
    let mut why = None;
    for round in 0..opts.rounds {
        let (reset, _) = rec.call(HARNESS, Call::Reset, || {
            subject.reset().map(|_| Reply::DONE)
        });
        reset?;
        // Everything before the acquire is on disk: only the acquire can be lost.
        checkpoint(pg)?;
        let mut first = subject.contender(owner, None)?;
        let (acquired, acquire) = rec.call(owner, lease_call(Op::TryAcquire), || {
            first.call(Op::TryAcquire)
        });
        if !took_effect(&acquired) {
            // The checker judges a refused acquire of a free lease (P7).
            why = Some(format!(
                "round {round}: c0's try_acquire of the free lease did not succeed"
            ));
            continue;
        }
        drop(first);
        let crashed = rec.now();
        let slot = OutageSlot::default();
        // The guard starts the server again, also if the crash fails half way.
        let outage = Crash::now(pg, &slot).and_then(Crash::restart);
        rec.fault_window(Fault::CrashRestart.name(), None, crashed);
        let Outage {
            down,
            recovery: restart,
        } = outage?;
        result.longest_restart = result.longest_restart.max(restart);
        subject.reconnect()?;
        if down + Duration::from_millis(50) >= ttl {
            why = Some(format!(
                "round {round}: the restart took {:.3}s, not shorter than the TTL ({:.3}s): \
                 the lease would be stale either way (give a longer --ttl)",
                restart.as_secs_f64(),
                ttl.as_secs_f64()
            ));
            continue;
        }
        let mut second = subject.contender(prober, None)?;
        let (probed, probe) = rec.call(prober, lease_call(Op::TryAcquire), || {
            second.call(Op::TryAcquire)
        });
        if let Err(e) = &probed {
            return Err(RunError::Harness {
                what: "run c1's try_acquire after the restart",
                message: e.to_string(),
            });
        }
        result.checked += 1;
        if took_effect(&probed) {
            result.lost += 1;
            rec.finding(Finding {
                property: Property::P9AcknowledgedWriteSurvives,
                message: format!(
                    "round {round}: {owner}'s try_acquire was acknowledged, the server crashed \
                     and recovered, and {prober} then acquired the lease {owner} held fresh: the \
                     acknowledged acquire was gone after crash recovery (synchronous_commit = {}; \
                     a server that acknowledges commits before writing them, or a lease table \
                     that crash recovery empties, such as an UNLOGGED one, loses it)",
                    opts.durability
                ),
                events: vec![acquire, probe],
            });
        }
    }
    settings.undo().map_err(|reason| FaultError::Server {
        fault: Fault::CrashRestart,
        what: "reset the server's settings",
        reason,
    })?;
    if result.checked == 0 {
        result.unchecked = Some(why.unwrap_or_else(|| "no round ran".into()));
    }
    Ok(result)
}
