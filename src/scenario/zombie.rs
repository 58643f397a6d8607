//! The zombie runner (P8): a leader whose work outlasts
//! its lease.
//!
//! The lease's real consumer renews once per tick, *before* its work. Each
//! actor here does the same: every tick it renews, checks its
//! [`TrustWindow`] (start of its last successful acquire/renew + TTL −
//! margin, on its own monotonic clock), and only then acts: one step of work
//! on its own row of the harness's work table, then a write to the protected
//! resource ([`Resource`]), recorded as a
//! [`Call::Action`](leasecheck_model::history::Call::Action) with its epoch
//! (fenced leases) and the resource's `seq`.
//!
//! One round: the leader (`c0`) acquires and acts for a few ticks while
//! standbys poll; then, right after a successful renew and a passed trust
//! check, its work stalls under a fault, *between the check and the write*:
//!
//! | fault              | what stalls the leader's work                             |
//! |--------------------|-----------------------------------------------------------|
//! | `client-pause`     | its thread stops (a GC pause)                             |
//! | `connection-stall` | its resource connection is held by the harness's proxy    |
//! | `backend-stall`    | its resource backend is stopped (`SIGSTOP`)               |
//! | `row-lock`         | another session holds its work row (a slow query)         |
//! | `database-pause`   | the whole database stops (everyone stalls alike)          |
//! | `crash-restart`    | the server is down; its work resumes once a standby acted |
//!
//! A standby takes the stale lease over and acts at once (as a fenced leader
//! must: its first write raises the resource's fence). For every fault but
//! `database-pause` the stall ends exactly when that write completed (or at
//! the P3 deadline, TTL + poll interval + slack): the runner waits for it
//! instead of sleeping, so the order is not left to timing. The old leader
//! wakes and writes without checking again, then learns at its next renew
//! (P4). `database-pause` lasts `stall`; afterwards the leader's write and
//! the standby race, so it shows a stale write only by chance, and fencing
//! must hold whatever the order.
//!
//! Against the reference lease the stale write is accepted: the checker
//! ([`leasecheck_model::check::check_actions`]) reports it as an action
//! outside its actor's tenure and the two leaders as overlapping actors, with
//! a timeline. Against a fenced lease the resource refuses it in the same
//! statement as the write: no stale write over any number of rounds.
//!
//! The runner itself checks P3 (a standby took over and acted), P4 (the
//! leader's renew after the stall fails once a standby won) and, for fenced
//! leases, that every tenure won in a round carries a larger epoch than the
//! one before (P8). A round whose leader cannot acquire the lease after the
//! reset is not staged; the checker judges that refusal (P7).

use super::error::{harness, poisoned, RunError};
use super::resource::{Resource, Write};
use super::stall::{during, seconds, takeover_bound, update, wait_until, Shared, LEADER};
use super::subject::Subject;
use crate::database::diagnostic::is_connection_loss;
use crate::database::Client;
use crate::database::Postgres;
use crate::fault::{Fault, Injector};
use crate::lease::{backend_pid, Contender};
use crate::recorder::{lease_call, took_effect, Recorder, Reply, HARNESS};
use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event, Outcome};
use leasecheck_model::recording::Finding;
use leasecheck_model::{Candidate, Op, TrustWindow};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Settings of one zombie trial.
#[derive(Clone, Debug)]
pub struct ZombieOptions {
    /// How many standbys poll.
    pub standbys: usize,
    /// Rounds per trial (each: reset, lead, stall, stale write, learn).
    pub rounds: usize,
    /// The tick: every actor renews, checks and acts once per interval.
    pub renew_interval: Duration,
    /// How often standbys poll.
    pub poll_interval: Duration,
    /// How long `database-pause` lasts (must exceed the TTL).
    pub stall: Duration,
    /// Allowance over TTL + poll interval for a standby to take over and act.
    pub slack: Duration,
    /// Ticks the leader acts before the stalled one.
    pub warmup_ticks: u32,
    /// How far short of the TTL every actor's trust window ends.
    pub trust_margin: Duration,
}

/// What one zombie trial observed.
#[derive(Clone, Debug)]
pub struct ZombieResult {
    /// The fault that stalled the leader's work.
    pub fault: Fault,
    /// Whether the lease has epochs (the writes were fenced).
    pub fenced: bool,
    /// Rounds in which the leader stalled between a passed trust check and
    /// its write (the zombie was staged).
    pub staged: usize,
    /// Of those, rounds where a standby had taken over and acted before the
    /// stalled leader wrote.
    pub taken_over: usize,
    /// The stalled leaders' writes that the resource accepted.
    pub accepted: usize,
    /// The stalled leaders' writes that the resource refused (the fence).
    pub refused: usize,
    /// Rounds where the leader's renew after its write returned false.
    pub learned: usize,
    /// The epoch of every tenure won, in order (fenced leases).
    pub epochs: Vec<u64>,
    /// Why the last round that was not staged was not (a trial with no
    /// round staged checked nothing of P8: see [`ZombieResult::unchecked`]).
    pub not_staged: Option<String>,
}

impl ZombieResult {
    /// Why this trial checked nothing of what it exists to check, when no
    /// round was staged: the leader never stalled between its check and
    /// its write, so no stale write could be made or refused.
    pub fn unchecked(&self) -> Option<String> {
        (self.staged == 0).then(|| {
            format!(
                "no round of the trial staged a zombie, so nothing of P8 was checked (the last \
                 round: {})",
                self.not_staged.as_deref().unwrap_or("no round ran")
            )
        })
    }
}

/// One actor: its lease handle, its resource connection (and where it
/// goes, to reopen it after the server dropped it) and its trust window.
struct Actor {
    who: Candidate,
    lease: Box<dyn Contender>,
    resource: Client,
    route: postgres::Config,
    trust: TrustWindow,
}

impl Actor {
    /// Reopen the resource connection after it was lost (a crash of the
    /// server); on failure the old one stays, and the next use fails again.
    fn reconnect(&mut self) {
        match Client::connect(&self.route) {
            Ok(fresh) => self.resource = fresh,
            Err(e) => {
                tracing::warn!(actor = %self.who, error = %crate::database::diagnostic::pg_message(&e),
                "cannot reopen the resource connection")
            }
        }
    }
}

/// What the standbys of a round share with the leader.
#[derive(Default)]
struct Round {
    /// Tenures won by standbys: the acquire and its epoch.
    wins: Vec<(Event, Option<u64>)>,
    /// A standby's first write after winning (the new leader has acted).
    acted: Option<Event>,
}

/// Run one zombie trial (`opts.rounds` rounds) under `fault`.
///
/// ```no_run
/// use leasecheck::scenario::{zombie, Subject};
/// use leasecheck::{fault::Fault, Postgres, Recorder, Ttl};
/// use std::time::Duration;
/// let pg = Postgres::provision()?;
/// let ttl = Ttl::parse("0.2")?;
/// let mut subject = Subject::fenced(&pg, ttl)?;
/// let rec = Recorder::new(ttl, true);
/// let opts = zombie::ZombieOptions {
///     standbys: 2,
///     rounds: 3,
///     renew_interval: Duration::from_millis(50),
///     poll_interval: Duration::from_millis(20),
///     stall: Duration::from_millis(600),
///     slack: Duration::from_millis(250),
///     warmup_ticks: 2,
///     trust_margin: Duration::from_millis(20),
/// };
/// let result = zombie::trial(&pg, &mut subject, Fault::ClientPause, &opts, &rec)?;
/// assert_eq!(result.accepted, 0, "the fence refused every stale write");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn trial(
    pg: &Postgres,
    subject: &mut Subject,
    fault: Fault,
    opts: &ZombieOptions,
    rec: &Recorder,
) -> Result<ZombieResult, RunError> {
    let ttl = subject.ttl().as_duration();
    if subject.is_exec() {
        // The stall falls between the leader's trust check and its write,
        // both inside the adapter's consumer: the protocol has no `act`
        // yet to hand that window to the harness.
        return Err(RunError::NotApplicable(
            "the zombie scenario stalls a leader between its trust check and its protected \
             write; with --exec both are the adapter's own code, and the adapter protocol \
             (version 1) has no `act` operation that would let leasecheck stall it there"
                .into(),
        ));
    }
    if super::takeover::keeping(subject)? != Op::Renew {
        return Err(RunError::NotApplicable(
            "the lease declares renew = false: the zombie scenario's leader renews before \
             every tick of work"
                .into(),
        ));
    }
    if opts.standbys == 0 {
        return Err(RunError::Settings(
            "a zombie needs at least one standby".into(),
        ));
    }
    if opts.trust_margin >= ttl || opts.renew_interval >= ttl - opts.trust_margin {
        return Err(RunError::Settings(format!(
            "the tick ({}) must be shorter than the TTL ({}) minus the trust margin ({})",
            seconds(opts.renew_interval),
            seconds(ttl),
            seconds(opts.trust_margin)
        )));
    }
    if matches!(fault, Fault::DatabasePause | Fault::CrashRestart) && opts.stall <= ttl {
        return Err(RunError::Settings(format!(
            "the stall ({}) must be longer than the TTL ({})",
            seconds(opts.stall),
            seconds(ttl)
        )));
    }
    let fenced = subject.is_fenced();
    let bound = takeover_bound(ttl, opts.poll_interval, opts.slack);
    let resource = Resource::in_schema(subject.schema_name());
    let row = match fault {
        Fault::RowLock => Some(resource.work_table().clone()),
        _ => None,
    };
    let injector = Injector::prepare(pg, fault, subject.route(), subject.is_pooled(), row)?;

    // The protected resource, installed over a direct connection of the harness's own.
    let mut admin = pg.connect().map_err(|e| harness("connect", &e))?;
    let actors = u16::try_from(opts.standbys + 1)
        .map_err(|_| RunError::Settings(format!("too many standbys: {}", opts.standbys)))?;
    resource
        .install(&mut admin, actors)
        .map_err(|e| harness("create the protected resource", &e))?;

    let leader_resource_route = injector.stalled_route(subject.route());
    let new_actor =
        |who: Candidate, resource_route: &postgres::Config| -> Result<Actor, RunError> {
            Ok(Actor {
                who,
                lease: subject.contender(who, None)?,
                resource: Client::connect(resource_route)
                    .map_err(|e| harness("connect an actor's resource connection", &e))?,
                route: resource_route.clone(),
                trust: TrustWindow::new(ttl, opts.trust_margin),
            })
        };
    let mut leader = new_actor(LEADER, &leader_resource_route)?;
    let mut standbys = (1..=opts.standbys)
        .map(|i| new_actor(Candidate(i as u16), subject.route()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut result = ZombieResult {
        fault,
        fenced,
        staged: 0,
        taken_over: 0,
        accepted: 0,
        refused: 0,
        learned: 0,
        epochs: Vec::new(),
        not_staged: None,
    };
    for round in 0..opts.rounds {
        if fault == Fault::CrashRestart && round > 0 {
            // The crash of the round before dropped the harness's connections.
            subject.reconnect()?;
            admin = pg.connect().map_err(|e| harness("reconnect", &e))?;
        }
        let (reset, _) = rec.call(HARNESS, Call::Reset, || {
            subject.reset().map(|_| Reply::DONE)
        });
        reset?;
        resource
            .reset(&mut admin)
            .map_err(|e| harness("reset the protected resource", &e))?;
        leader.trust.lost();
        for s in standbys.iter_mut() {
            s.trust.lost();
        }

        let sent = Instant::now();
        let (first, first_event) = rec.call(LEADER, lease_call(Op::TryAcquire), || {
            leader.lease.call(Op::TryAcquire)
        });
        if !took_effect(&first) {
            // Not staged (the figure `rounds k/N` shows it). A lease that
            // refuses an acquire right after the reset made it free is
            // judged by the checker (P7) on the recorded calls.
            result.not_staged = Some(refused("try_acquire after the reset", &first));
            continue;
        }
        leader.trust.confirmed(sent);
        let mut wins: Vec<(Event, Option<u64>)> = vec![(first_event, leader.lease.epoch())];
        act(&mut leader, &resource, fenced, rec);

        let stop = AtomicBool::new(false);
        let shared: Shared<Round> = (Mutex::new(Round::default()), Condvar::new());
        let mut zombie_write: Option<Event> = None;
        let mut learned: Option<Event> = None;
        std::thread::scope(|s| -> Result<(), RunError> {
            for standby in standbys.iter_mut() {
                let (stop, shared, resource) = (&stop, &shared, &resource);
                s.spawn(move || standby_loop(standby, resource, fenced, opts, rec, stop, shared));
            }
            let outcome = (|| -> Result<(), RunError> {
                for _ in 0..opts.warmup_ticks {
                    std::thread::sleep(opts.renew_interval);
                    tick(&mut leader, &resource, fenced, rec);
                }
                // The tick whose work outlasts the lease: renew, check, stall, write.
                std::thread::sleep(opts.renew_interval);
                let sent = Instant::now();
                let (renewed, _) = rec.call(LEADER, lease_call(Op::Renew), || {
                    leader.lease.call(Op::Renew)
                });
                if !took_effect(&renewed) {
                    leader.trust.lost();
                    result.not_staged = Some(refused("renew before its work", &renewed));
                    return Ok(()); // not staged; the checker judges the renew
                }
                leader.trust.confirmed(sent);
                if !leader.trust.trusts(Instant::now()) {
                    result.not_staged = Some(
                        "the leader's trust window had run out when it checked (its renew took \
                         longer than the TTL minus the trust margin)"
                            .into(),
                    );
                    return Ok(());
                }
                if !can_act(&leader, fenced) {
                    result.not_staged =
                        Some("the fenced lease gave the leader no epoch to act with".into());
                    return Ok(());
                }
                // The check passed: from here on the leader believes it leads.
                let deadline = Instant::now() + bound;
                let worked = stall_then_work(
                    rec,
                    &injector,
                    opts,
                    &resource,
                    &mut leader,
                    &shared,
                    deadline,
                )?;
                result.staged += 1;
                if !worked {
                    return Ok(()); // the work failed: a leader does not write then
                }
                let acted = lock(&shared.0)?.acted.is_some();
                if acted {
                    result.taken_over += 1;
                } else if fault != Fault::DatabasePause {
                    rec.finding(Finding {
                        property: Property::P3TakeoverHappens,
                        message: format!(
                            "round {round}: no standby took over and acted within TTL + poll \
                             interval + slack = {} of the leader's stall{}",
                            seconds(bound),
                            match fault {
                                Fault::CrashRestart => " (counted from the server being back)",
                                _ => "",
                            }
                        ),
                        events: Vec::new(),
                    });
                }
                // It wakes and writes, without checking again.
                let e = write(&mut leader, &resource, rec);
                match e.outcome {
                    Outcome::Ok => result.accepted += 1,
                    Outcome::Fail => result.refused += 1,
                    Outcome::Unknown => {}
                }
                zombie_write = Some(e);
                // Its next tick: the renew where it learns (once more on a
                // fresh connection if the server dropped the old one).
                let (mut r, mut e) = rec.call(LEADER, lease_call(Op::Renew), || {
                    leader.lease.call(Op::Renew)
                });
                if r.as_ref().is_err_and(|e| e.is_connection_loss()) {
                    (r, e) = rec.call(LEADER, lease_call(Op::Renew), || {
                        leader.lease.call(Op::Renew)
                    });
                }
                if took_effect(&r) {
                    leader.trust.confirmed(sent);
                } else {
                    leader.trust.lost();
                }
                learned = Some(e);
                Ok(())
            })();
            stop.store(true, Ordering::SeqCst);
            outcome
        })?;

        let round_state = shared.0.into_inner().map_err(|_| poisoned())?;
        wins.extend(round_state.wins);
        wins.sort_by_key(|(e, _)| (e.complete, e.invoke));
        if let (Some(renew), Some(first_win)) = (learned, wins.get(1)) {
            if renew.outcome == Outcome::Fail {
                result.learned += 1;
            } else if renew.outcome == Outcome::Ok && first_win.0.complete < renew.invoke {
                let mut events = vec![first_win.0, renew];
                events.extend(zombie_write);
                events.sort_by_key(|e| e.invoke);
                rec.finding(Finding {
                    property: Property::P4DeposedLeaderLearns,
                    message: format!(
                        "round {round}: after {} took over, the deposed leader {LEADER}'s renew \
                         returned true",
                        first_win.0.candidate
                    ),
                    events,
                });
            }
        }
        if fenced {
            for pair in wins.windows(2) {
                let ((a, ea), (b, eb)) = (&pair[0], &pair[1]);
                if !matches!((ea, eb), (Some(x), Some(y)) if y > x) {
                    rec.finding(Finding {
                        property: Property::P8FencingEpoch,
                        message: format!(
                            "round {round}: {}'s tenure got epoch {} after {}'s tenure had \
                             epoch {}: every new tenure must carry a larger epoch",
                            b.candidate,
                            epoch_text(*eb),
                            a.candidate,
                            epoch_text(*ea)
                        ),
                        events: vec![*a, *b],
                    });
                }
            }
            result.epochs.extend(wins.iter().filter_map(|(_, e)| *e));
        }
    }
    injector.close()?;
    Ok(result)
}

/// One tick of a leader that is not stalled: renew, then act if trusted.
fn tick(actor: &mut Actor, resource: &Resource, fenced: bool, rec: &Recorder) -> bool {
    let sent = Instant::now();
    let (r, _) = rec.call(actor.who, lease_call(Op::Renew), || {
        actor.lease.call(Op::Renew)
    });
    if !took_effect(&r) {
        actor.trust.lost();
        return false;
    }
    actor.trust.confirmed(sent);
    act(actor, resource, fenced, rec);
    true
}

/// Act if the trust window allows it (and, fenced, with an epoch): work,
/// then write. Returns the write's event.
fn act(actor: &mut Actor, resource: &Resource, fenced: bool, rec: &Recorder) -> Option<Event> {
    if !actor.trust.trusts(Instant::now()) || !can_act(actor, fenced) {
        return None;
    }
    match resource.work(&mut actor.resource, actor.who.0) {
        Ok(()) => Some(write(actor, resource, rec)),
        Err(e) => {
            if is_connection_loss(&e) {
                // The server dropped it (a crash): the next tick acts again.
                actor.reconnect();
            }
            None
        }
    }
}

/// A fenced leader writes only with the epoch of a tenure it won.
fn can_act(actor: &Actor, fenced: bool) -> bool {
    !fenced || actor.lease.epoch().is_some()
}

/// One write to the resource, recorded as an action with the actor's epoch.
fn write(actor: &mut Actor, resource: &Resource, rec: &Recorder) -> Event {
    let epoch = actor.lease.epoch();
    let invoke = rec.now();
    let written = resource.write(&mut actor.resource, &actor.who.to_string(), epoch);
    let complete = rec.now();
    let (outcome, seq) = match written {
        Ok(Write::Accepted(seq)) => (Outcome::Ok, Some(seq)),
        Ok(Write::Refused) => (Outcome::Fail, None),
        Err(_) => (Outcome::Unknown, None),
    };
    let event = Event {
        candidate: actor.who,
        call: Call::Action { epoch, seq },
        invoke,
        complete,
        server_time: None,
        outcome,
    };
    rec.push(event);
    event
}

fn standby_loop(
    actor: &mut Actor,
    resource: &Resource,
    fenced: bool,
    opts: &ZombieOptions,
    rec: &Recorder,
    stop: &AtomicBool,
    shared: &Shared<Round>,
) {
    let mut leading = false;
    while !stop.load(Ordering::SeqCst) {
        if leading {
            std::thread::sleep(opts.renew_interval);
            if stop.load(Ordering::SeqCst) {
                break;
            }
            leading = tick(actor, resource, fenced, rec);
            continue;
        }
        let sent = Instant::now();
        let (r, e) = rec.call(actor.who, lease_call(Op::TryAcquire), || {
            actor.lease.call(Op::TryAcquire)
        });
        if !took_effect(&r) {
            std::thread::sleep(opts.poll_interval);
            continue;
        }
        // Won: act at once (a fenced leader's first write raises the fence).
        leading = true;
        actor.trust.confirmed(sent);
        let epoch = actor.lease.epoch();
        // A resource connection the server dropped (a crash) is reopened by
        // the first try, and the second acts.
        let acted = act(actor, resource, fenced, rec).or_else(|| act(actor, resource, fenced, rec));
        update(shared, |round| {
            round.wins.push((e, epoch));
            if round.acted.is_none() {
                round.acted = acted;
            }
        });
    }
}

/// Stall the leader's work under the injector's fault until a standby has
/// acted (or the deadline; `database-pause`: for `opts.stall`), then let the
/// work finish. Returns whether the work step succeeded.
fn stall_then_work(
    rec: &Recorder,
    injector: &Injector<'_>,
    opts: &ZombieOptions,
    resource: &Resource,
    leader: &mut Actor,
    shared: &Shared<Round>,
    deadline: Instant,
) -> Result<bool, RunError> {
    let bound = deadline.saturating_duration_since(Instant::now());
    let stall = injector.begin(leader.lease.process_group(), || {
        backend_pid(&mut leader.resource).map_err(|e| crate::database::diagnostic::pg_message(&e))
    })?;
    let who = leader.who.0;
    let worked = match injector.fault() {
        Fault::DatabasePause => {
            // Everyone stalls: the pause lasts its length, and afterwards the
            // leader's write and the standbys race.
            let pause = opts.stall;
            let work = || resource.work(&mut leader.resource, who).is_ok();
            during(
                rec,
                Fault::DatabasePause,
                leader.who,
                stall,
                move || std::thread::sleep(pause),
                work,
            )
        }
        Fault::CrashRestart => {
            // The server is down for the stall. Once it is back, a standby
            // takes over and acts (or the deadline passes), and only then
            // does the leader's work, stalled all along, go on: on a fresh
            // connection, as its old one died with the server.
            let down = opts.stall;
            during(
                rec,
                Fault::CrashRestart,
                leader.who,
                stall,
                move || std::thread::sleep(down),
                || (),
            );
            injector.outage()?;
            let _ = wait_until(shared, Instant::now() + bound, |round| {
                round.acted.is_some()
            });
            leader.reconnect();
            resource.work(&mut leader.resource, who).is_ok()
        }
        fault => {
            // The stall ends exactly when a standby acted (or at the deadline).
            let work = || resource.work(&mut leader.resource, who).is_ok();
            during(
                rec,
                fault,
                leader.who,
                stall,
                || {
                    let _ = wait_until(shared, deadline, |round| round.acted.is_some());
                },
                work,
            )
        }
    };
    Ok(worked)
}

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>, RunError> {
    m.lock().map_err(|_| poisoned())
}

/// Why the leader's `call` did not take effect, in words.
fn refused<E: std::fmt::Display>(call: &str, result: &Result<Reply, E>) -> String {
    match result {
        Err(e) => format!("the leader's {call} failed: {e}"),
        Ok(_) => format!("the leader's {call} returned false"),
    }
}

/// An epoch in a finding's message (`none` when the lease gave none).
fn epoch_text(epoch: Option<u64>) -> String {
    epoch.map_or_else(|| "none".to_string(), |e| e.to_string())
}
