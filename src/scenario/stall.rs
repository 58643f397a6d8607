//! What the stall scenarios (takeover, zombie) share: who leads, the bound
//! within which a standby must take over (computed once), and the wait for
//! a standby's event up to that bound.
//!
//! Waiting here is always on a condition variable with a deadline, never a
//! sleep standing in for an event; applying and undoing a fault is
//! [`crate::fault::Injector`]'s.

use super::error::{poisoned, RunError};
use crate::fault::{Fault, Stall};
use crate::recorder::Recorder;
use leasecheck_model::Candidate;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The leader of a stall scenario; standbys are `c1..`.
pub const LEADER: Candidate = Candidate(0);

/// P3's bound: a standby must take over within TTL + poll interval + slack
/// of the leader's last successful acquire or renew.
///
/// ```
/// use leasecheck::scenario::takeover_bound;
/// use std::time::Duration;
/// let ms = Duration::from_millis;
/// assert_eq!(takeover_bound(ms(200), ms(20), ms(250)), ms(470));
/// ```
pub fn takeover_bound(ttl: Duration, poll_interval: Duration, slack: Duration) -> Duration {
    ttl + poll_interval + slack
}

/// [`Stall::during`], with the fault's window noted in `rec`: from now
/// until the fault is undone (after `until` returns). `on` is whom it
/// stalls: the leader for a fault of its own (a pause, its connection, its
/// backend), `None` for one that stalls everyone (the row, the database).
pub(crate) fn during<T>(
    rec: &Recorder,
    fault: Fault,
    leader: Candidate,
    stall: Stall<'_>,
    until: impl FnOnce() + Send,
    work: impl FnOnce() -> T,
) -> T {
    let on = fault.stalls_leader_only().then_some(leader);
    let start = rec.now();
    stall.during(until, || rec.fault_window(fault.name(), on, start), work)
}

/// State shared between a stall scenario's leader and its standbys, with
/// the condition variable that signals each change.
pub(crate) type Shared<T> = (Mutex<T>, Condvar);

/// Wait until `done` holds of the shared state, or `deadline`.
pub(crate) fn wait_until<T>(
    shared: &Shared<T>,
    deadline: Instant,
    done: impl Fn(&T) -> bool,
) -> Result<(), RunError> {
    let (lock, cvar) = shared;
    let mut state = lock.lock().map_err(|_| poisoned())?;
    while !done(&state) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        state = cvar
            .wait_timeout(state, deadline - now)
            .map_err(|_| poisoned())?
            .0;
    }
    Ok(())
}

/// Change the shared state and wake every waiter.
pub(crate) fn update<T>(shared: &Shared<T>, change: impl FnOnce(&mut T)) {
    let (lock, cvar) = shared;
    if let Ok(mut state) = lock.lock() {
        change(&mut state);
    }
    cvar.notify_all();
}

/// A duration in a finding's message, in seconds (`0.450s`).
pub(crate) fn seconds(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}
