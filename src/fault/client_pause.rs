//! `client-pause`: the leader's client stops (a GC pause, a
//! stop-the-world). For a lease the harness runs in its own threads, the
//! stalled party simply makes no call until the pause ends, so its
//! connection and backend stay idle and healthy: there is nothing to undo.
//! For a lease in a process of its own (an adapter, `--exec`), the pause is
//! real: the process group gets `SIGSTOP`, and `SIGCONT` when the pause
//! ends, so anything it does in the background stops too.

use super::process::{pid_of, wait_stopped, STOP_TIMEOUT};
use super::{Fault, FaultError};
use nix::sys::signal::{killpg, Signal};
use std::time::Instant;

/// A client pause in force (see [`Stall`](super::Stall)): the stalled party
/// waits for the end of the pause before its next call, and its process
/// group, if it has one, is stopped until this is dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientPause {
    group: Option<i32>,
}

impl ClientPause {
    /// Pause the party; `group` is the process group running its lease,
    /// stopped now (`None`: the lease runs in the harness).
    pub fn of(group: Option<i32>) -> Result<ClientPause, FaultError> {
        if let Some(group) = group {
            signal_group(group, Signal::SIGSTOP)?;
            let pause = ClientPause { group: Some(group) };
            if let Err(state) = wait_stopped(group, Instant::now() + STOP_TIMEOUT) {
                return Err(FaultError::NotStopped {
                    fault: Fault::ClientPause,
                    role: "adapter",
                    pid: group,
                    state,
                });
            }
            return Ok(pause);
        }
        Ok(ClientPause { group: None })
    }
}

fn signal_group(group: i32, sig: Signal) -> Result<(), FaultError> {
    let leader = pid_of(Fault::ClientPause, i64::from(group))?;
    killpg(leader, sig).map_err(|source| FaultError::Signal {
        fault: Fault::ClientPause,
        signal: sig,
        role: "the adapter's process group",
        pid: group,
        source,
    })
}

impl Drop for ClientPause {
    fn drop(&mut self) {
        if let Some(group) = self.group {
            if let Err(e) = signal_group(group, Signal::SIGCONT) {
                tracing::error!("{e}");
            }
        }
    }
}
