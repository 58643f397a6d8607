//! The takeover runner (P2-P6): a leader stalls past its TTL under a fault.
//!
//! A leader acquires and renews every `renew_interval`; standbys poll with
//! `try_acquire` every `poll_interval`. After a few renews a fault stalls the
//! leader for `stall` (longer than the TTL); afterwards it resumes and renews.
//! The fault is always undone, also when the run panics: every fault is a
//! guard whose `Drop` undoes it, dropped by a timer thread inside a scope.
//!
//! What must hold, depending on the fault:
//!
//! - the leader alone stalls (client pause, connection stall, backend stall):
//!   exactly one standby wins, within TTL + poll interval + slack of the
//!   leader's last successful renew (P3), and the leader's first renew after
//!   the stall returns false, also when it was sent before the takeover and
//!   delayed (P4);
//! - everyone stalls (row lock, database pause): who leads afterwards is a
//!   race the model allows either way, so only P6 and P7 are judged;
//! - a fault that ends the leader's calls (connection drop, crash-restart,
//!   failover, backend kill, [`Fault::ends_calls`]): the leader renews every
//!   `renew_interval` until a call fails, then stays quiet for the stall
//!   (the server is down, or replication is held until the failover). One
//!   standby must win within TTL + poll interval + slack, plus the outage
//!   (from the crash or the held replication until the server answered
//!   again), of the leader's last renew that may have taken effect (P3);
//!   afterwards the leader renews once more, on a fresh connection, and
//!   must learn it lost (P4). A backend kill is recorded as the end of the
//!   leader's session, which may free a lease kept with the session (an
//!   advisory lock): a standby may then win at once. A connection drop also cuts the leader's
//!   first acquire: the leader, not knowing whether it leads, renews to find
//!   out.
//!
//! P2 and P6 (no early takeover, no overlapping tenure) and P7 (the model
//! explains every outcome) are judged by the checker on the recorded history.

use super::error::{poisoned, RunError};
use super::stall::{during, seconds, takeover_bound, update, wait_until, Shared, LEADER};
use super::subject::Subject;
use crate::database::Postgres;
use crate::fault::{DatabaseSetup, Fault, FaultError, Injector, Outage, Stall};
use crate::lease::Contender;
use crate::recorder::{lease_call, took_effect, Recorder, Reply, HARNESS};
use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event, Outcome};
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Settings of one takeover trial.
#[derive(Clone, Debug)]
pub struct TakeoverOptions {
    /// How many standbys poll.
    pub standbys: usize,
    /// How often the leader renews.
    pub renew_interval: Duration,
    /// How often standbys poll.
    pub poll_interval: Duration,
    /// How long the fault stalls the leader (must exceed the TTL).
    pub stall: Duration,
    /// Allowance over TTL + poll interval for the takeover (scheduling, queries).
    pub slack: Duration,
    /// Renews before the fault.
    pub warmup_renews: u32,
    /// How the database faults are set up (failover's replication, the
    /// crashed server's durability).
    pub database: DatabaseSetup,
}

/// What one takeover trial observed.
#[derive(Clone, Debug)]
pub struct TakeoverResult {
    /// The fault injected.
    pub fault: Fault,
    /// The standby that took over, if any.
    pub winner: Option<Candidate>,
    /// From the leader's last successful renew (its start) to the winner's reply.
    pub takeover_latency: Option<Duration>,
    /// Whether the leader's first renew after the stall returned false.
    pub leader_learned: Option<bool>,
    /// How long the server was gone, for a crash or a failover.
    pub outage: Option<Outage>,
    /// Why the trial checked nothing of what its fault is for, if so (a
    /// connection drop that never cut a reply).
    pub unchecked: Option<String>,
}

/// Run one takeover trial under `fault`.
///
/// ```no_run
/// use leasecheck::scenario::{takeover, Subject};
/// use leasecheck::{fault::Fault, Postgres, Recorder, Ttl};
/// use std::time::Duration;
/// let pg = Postgres::provision()?;
/// let ttl = Ttl::parse("0.2")?;
/// let mut subject = Subject::reference(&pg, ttl)?;
/// let rec = Recorder::new(ttl, true);
/// let opts = takeover::TakeoverOptions {
///     standbys: 3,
///     renew_interval: Duration::from_millis(50),
///     poll_interval: Duration::from_millis(20),
///     stall: Duration::from_millis(600),
///     slack: Duration::from_millis(300),
///     warmup_renews: 3,
///     database: Default::default(),
/// };
/// let result = takeover::trial(&pg, &mut subject, Fault::ClientPause, &opts, &rec)?;
/// assert!(result.winner.is_some());
/// assert!(rec.findings().is_empty()); // the runner's own findings (P3, P4)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn trial(
    pg: &Postgres,
    subject: &mut Subject,
    fault: Fault,
    opts: &TakeoverOptions,
    rec: &Recorder,
) -> Result<TakeoverResult, RunError> {
    let ttl = subject.ttl().as_duration();
    if opts.stall <= ttl {
        return Err(RunError::Settings(format!(
            "the stall ({}) must be longer than the TTL ({})",
            seconds(opts.stall),
            seconds(ttl)
        )));
    }
    if opts.standbys == 0 {
        return Err(RunError::Settings(
            "a takeover needs at least one standby".into(),
        ));
    }
    let keep = keeping(subject)?;
    let row = match fault {
        Fault::RowLock => subject.lease_table()?,
        _ => None,
    };
    let injector = Injector::prepare_with(
        pg,
        fault,
        subject.route(),
        subject.is_pooled(),
        row,
        opts.database,
    )?;
    let leader_route = injector.stalled_route(subject.route());
    let others_route = injector.others_route(subject.route());
    let mut leader = subject.contender(LEADER, Some(&leader_route))?;
    let mut standbys: Vec<(Candidate, Box<dyn Contender>)> = (1..=opts.standbys)
        .map(|i| {
            let who = Candidate(i as u16);
            subject
                .contender(who, Some(&others_route))
                .map(|c| (who, c))
        })
        .collect::<Result<_, _>>()?;

    let (reset, _) = rec.call(HARNESS, Call::Reset, || {
        subject.reset().map(|_| Reply::DONE)
    });
    reset?;
    let bound = takeover_bound(ttl, opts.poll_interval, opts.slack);
    // A connection drop cuts the first acquire's reply (after it committed).
    let cut = injector.cut_next_commit();
    let (mut first, mut first_event) = rec.call(LEADER, lease_call(Op::TryAcquire), || {
        leader.call(Op::TryAcquire)
    });
    drop(cut);
    let mut result = TakeoverResult {
        fault,
        winner: None,
        takeover_latency: None,
        leader_learned: None,
        outage: None,
        unchecked: None,
    };
    if first.as_ref().is_err_and(|e| !e.is_connection_loss()) {
        if let Err(e) = first {
            return Err(e.into());
        }
    }
    if let Err(e) = &first {
        if fault != Fault::ConnectionDrop {
            return Err(RunError::Harness {
                what: "run the leader's first try_acquire",
                message: e.to_string(),
            });
        }
        // The reply was lost: the leader does not know whether it leads, and
        // asks the lease (its connection reopens).
        // A fenced lease (or one that carries a value) cannot: its renew
        // needs the epoch or value the lost reply carried (the leader has
        // none, and would only ask a question it cannot word).
        if !subject.carries_a_token() {
            (first, first_event) = rec.call(LEADER, lease_call(keep), || leader.call(keep));
        }
        if !took_effect(&first) {
            // The lease cannot tell (a fenced lease's renew needs the epoch
            // the lost reply carried): the leader waits for the tenure it may
            // hold to run out, and takes the lease again.
            let deadline = Instant::now() + bound;
            loop {
                (first, first_event) = rec.call(LEADER, lease_call(Op::TryAcquire), || {
                    leader.call(Op::TryAcquire)
                });
                if took_effect(&first) {
                    break;
                }
                if Instant::now() > deadline {
                    rec.finding(Finding {
                        property: Property::P3TakeoverHappens,
                        message: format!(
                            "after its first try_acquire's reply was lost, the leader could \
                             neither renew nor take the lease again within TTL + poll interval \
                             + slack = {}",
                            seconds(bound)
                        ),
                        events: vec![first_event],
                    });
                    return Ok(result);
                }
                std::thread::sleep(opts.poll_interval);
            }
        }
    }
    if !took_effect(&first) {
        rec.finding(Finding {
            property: Property::P1ExactlyOneWinner,
            message: "the leader's try_acquire of a free lease returned false".to_string(),
            events: vec![first_event],
        });
        return Ok(result);
    }

    let stop = AtomicBool::new(false);
    let won: Shared<Vec<Event>> = (Mutex::new(Vec::new()), Condvar::new());
    let refused: Mutex<Option<String>> = Mutex::new(None);
    let mut last_ok = first_event;
    let mut after_stall: Option<Event> = None;
    let mut session_end: Option<Event> = None;
    let ends_calls = fault.ends_calls();

    std::thread::scope(|s| -> Result<(), RunError> {
        for (who, standby) in standbys.iter_mut() {
            let (stop, won, refused, who) = (&stop, &won, &refused, *who);
            s.spawn(move || {
                standby_loop(who, keep, standby.as_mut(), opts, rec, stop, won, refused)
            });
        }
        let outcome = (|| -> Result<(), RunError> {
            for _ in 0..opts.warmup_renews {
                std::thread::sleep(opts.renew_interval);
                let (r, e) = rec.call(LEADER, lease_call(keep), || leader.call(keep));
                if took_effect(&r) {
                    last_ok = e;
                }
            }
            // The stall: the leader renews under the fault, which ends after
            // `opts.stall` (a client pause renews only then).
            let cuts_before = injector.cuts();
            let process = leader.process_group();
            let stall;
            (stall, session_end) = begin(rec, &injector, LEADER, process, || {
                leader.backend_pid().map_err(|e| e.to_string())
            })?;
            let stalled = opts.stall;
            if ends_calls {
                // The leader renews until a call fails or the fault's
                // undo begins, then stays quiet: a renew sent while the
                // server comes back (a restart, a promotion) would belong
                // to neither the fault nor the leader's return, and the
                // leader renewing for real in that gap would hide a lease
                // that trusts a renew that failed.
                let over = AtomicBool::new(false);
                let maybe = during(
                    rec,
                    fault,
                    LEADER,
                    stall,
                    || {
                        std::thread::sleep(stalled);
                        over.store(true, Ordering::SeqCst);
                    },
                    || renew_until_error(&mut *leader, keep, rec, opts.renew_interval, &over),
                );
                // After a kill, the leader's session was gone before its
                // next renew was sent: a renew that failed then did not
                // take effect, and P3 runs from the last one that did.
                if let Some(e) = maybe {
                    if !(fault.ends_session() && e.outcome == Outcome::Unknown) {
                        last_ok = e;
                    }
                }
                if fault == Fault::ConnectionDrop && injector.cuts() == cuts_before {
                    result.unchecked = Some(
                        "no reply of the leader's renews was cut during the stall: none of them \
                         committed a transaction"
                            .into(),
                    );
                }
                result.outage = injector.outage()?;
            } else {
                let renewed = during(
                    rec,
                    fault,
                    LEADER,
                    stall,
                    || std::thread::sleep(stalled),
                    || rec.call(LEADER, lease_call(keep), || leader.call(keep)).1,
                );
                after_stall = Some(renewed);
            }
            // Wait for a standby to win, bounded by the P3 deadline measured
            // from the leader's last successful renew.
            let deadline = Instant::now() + bound;
            wait_until(&won, deadline, |winners| !winners.is_empty())?;
            if ends_calls {
                // The leader comes back (on a fresh connection) and renews
                // once: it must learn it lost.
                after_stall = Some(rec.call(LEADER, lease_call(keep), || leader.call(keep)).1);
            }
            Ok(())
        })();
        stop.store(true, Ordering::SeqCst);
        outcome
    })?;
    injector.close()?;

    if let Some(message) = refused.into_inner().map_err(|_| poisoned())? {
        return Err(RunError::Harness {
            what: "run a standby's try_acquire",
            message,
        });
    }
    let winners = won.0.into_inner().map_err(|_| poisoned())?;
    let leader_alone = fault.expects_takeover();
    // A crash or failover adds its outage to the time a takeover may take.
    let bound = bound + result.outage.map_or(Duration::ZERO, |o| o.down);
    result.winner = winners.first().map(|e| e.candidate);
    if let Some(w) = winners.first() {
        let latency = w.complete.since(last_ok.invoke);
        result.takeover_latency = Some(Duration::from_micros(latency.as_micros().max(0) as u64));
    }
    if let Some(e) = after_stall {
        result.leader_learned = match e.outcome {
            Outcome::Ok => Some(false),
            Outcome::Fail => Some(true),
            Outcome::Unknown => None,
        };
    }
    if leader_alone {
        match winners.len() {
            0 => rec.finding(Finding {
                property: Property::P3TakeoverHappens,
                message: match result.outage {
                    None => format!(
                        "no standby took over within TTL + poll interval + slack = {} after the leader stalled for {}",
                        seconds(bound),
                        seconds(opts.stall)
                    ),
                    Some(outage) => format!(
                        "no standby took over within TTL + poll interval + slack + the outage = {} \
                         (the server was gone for {}, back {} after the {fault})",
                        seconds(bound),
                        seconds(outage.down),
                        seconds(outage.recovery)
                    ),
                },
                events: vec![last_ok],
            }),
            1 => {
                if let Some(latency) = result.takeover_latency {
                    if latency > bound {
                        rec.finding(Finding {
                            property: Property::P3TakeoverHappens,
                            message: format!(
                                "the takeover took {}, over TTL + poll interval + slack = {}",
                                seconds(latency),
                                seconds(bound)
                            ),
                            events: vec![last_ok, winners[0]],
                        });
                    }
                }
            }
            _ => rec.finding(Finding {
                property: Property::P3TakeoverHappens,
                message: format!(
                    "{} standbys won after one stall: {}",
                    winners.len(),
                    winners.iter().map(|e| e.candidate.to_string()).collect::<Vec<_>>().join(", ")
                ),
                events: winners.clone(),
            }),
        }
        if let (Some(false), Some(e)) = (result.leader_learned, after_stall) {
            if !winners.is_empty() {
                let mut events = vec![last_ok, winners[0], e];
                events.extend(session_end);
                events.sort_by_key(|e| e.invoke);
                rec.finding(Finding {
                    property: Property::P4DeposedLeaderLearns,
                    message: format!(
                        "after {} took over, the deposed leader {LEADER}'s renew returned true",
                        winners[0].candidate
                    ),
                    events,
                });
            }
        }
    }
    Ok(result)
}

/// The call a leader keeps its lease with ([`Semantics::keepalive`](leasecheck_model::Semantics::keepalive)), or why
/// a takeover does not apply to this lease: one that never expires (P3 does
/// not apply), or one a leader cannot keep (no renew, no re-entrant acquire).
pub(crate) fn keeping(subject: &Subject) -> Result<Op, RunError> {
    let semantics = subject.semantics();
    if !semantics.expiry {
        return Err(RunError::NotApplicable(
            "the lease declares expiry = false: a stalled leader keeps it until it releases, \
             so takeover (P3) does not apply"
                .into(),
        ));
    }
    semantics.keepalive().ok_or_else(|| {
        RunError::NotApplicable(
            "the lease declares renew = false and its acquire is not re-entrant: a leader \
             cannot keep its lease, so there is no stalled leader to take over from"
                .into(),
        )
    })
}

/// Start `injector`'s fault on `leader` ([`Injector::begin`]) and, for a
/// fault that ends the leader's session ([`Fault::ends_session`]), record
/// that end in the history: whatever the lease kept with the session may be
/// gone from then on. Returns that event with the stall.
fn begin<'i>(
    rec: &Recorder,
    injector: &'i Injector<'_>,
    leader: Candidate,
    process: Option<i32>,
    backend: impl FnOnce() -> Result<i32, String>,
) -> Result<(Stall<'i>, Option<Event>), FaultError> {
    let invoke = rec.now();
    let stall = injector.begin(process, backend)?;
    let ended = injector.fault().ends_session().then(|| Event {
        candidate: leader,
        call: Call::SessionEnd,
        invoke,
        complete: rec.now(),
        server_time: None,
        outcome: Outcome::Ok,
    });
    if let Some(event) = ended {
        rec.push(event);
    }
    Ok((stall, ended))
}

/// The leader's renews under a fault that ends calls: one every `every`
/// until a call fails with an error or returns false, or `over` says the
/// fault's undo has begun. Returns the last renew that may have taken effect
/// (`Ok`, or an error: unknown).
fn renew_until_error(
    leader: &mut dyn Contender,
    keep: Op,
    rec: &Recorder,
    every: Duration,
    over: &AtomicBool,
) -> Option<Event> {
    let mut maybe = None;
    while !over.load(Ordering::SeqCst) {
        let (r, e) = rec.call(LEADER, lease_call(keep), || leader.call(keep));
        match r {
            Ok(reply) if reply.took_effect => maybe = Some(e),
            Ok(_) => return maybe,
            Err(_) => return Some(e),
        }
        std::thread::sleep(every);
    }
    maybe
}

#[allow(clippy::too_many_arguments)]
fn standby_loop(
    who: Candidate,
    keep: Op,
    standby: &mut dyn Contender,
    opts: &TakeoverOptions,
    rec: &Recorder,
    stop: &AtomicBool,
    won: &Shared<Vec<Event>>,
    refused: &Mutex<Option<String>>,
) {
    let mut leading = false;
    while !stop.load(Ordering::SeqCst) {
        if leading {
            // A standby that won acts as the new leader: it keeps renewing.
            let (r, _) = rec.call(who, lease_call(keep), || standby.call(keep));
            if !took_effect(&r) {
                leading = false;
            }
            std::thread::sleep(opts.renew_interval);
            continue;
        }
        let (r, e) = rec.call(who, lease_call(Op::TryAcquire), || {
            standby.call(Op::TryAcquire)
        });
        if let Err(error) = &r {
            if !error.is_connection_loss() {
                // The server refuses the lease's SQL: polling on cannot help.
                if let Ok(mut slot) = refused.lock() {
                    slot.get_or_insert(error.to_string());
                }
                return;
            }
        }
        if took_effect(&r) {
            leading = true;
            update(won, |winners| winners.push(e));
            continue;
        }
        std::thread::sleep(opts.poll_interval);
    }
}
