//! The processes a fault may signal, read from `/proc` (through the `procfs`
//! crate), and the signals themselves.
//!
//! Nothing here signals a pid it has not just checked: callers look up a
//! process's name and parent first, `0` and negative pids (a whole process
//! group) are refused, and a process that exits between the check and the
//! signal is reported as gone, never mistaken for another.

use super::{Fault, FaultError};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use procfs::process::Process;
use std::time::{Duration, Instant};

/// How long a process may take to reach the stopped state after `SIGSTOP`.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(5);

fn proc_error(fault: Fault, pid: i32, source: procfs::ProcError) -> FaultError {
    FaultError::Proc {
        fault,
        path: format!("/proc/{pid}"),
        source,
    }
}

/// `(state, ppid)` of a process.
pub(super) fn stat(fault: Fault, pid: i32) -> Result<(char, i32), FaultError> {
    let stat = Process::new(pid)
        .and_then(|p| p.stat())
        .map_err(|e| proc_error(fault, pid, e))?;
    Ok((stat.state, stat.ppid))
}

/// A process's command name (`comm`).
pub(super) fn comm(fault: Fault, pid: i32) -> Result<String, FaultError> {
    Process::new(pid)
        .and_then(|p| p.stat())
        .map(|s| s.comm)
        .map_err(|e| proc_error(fault, pid, e))
}

/// Every descendant of `root`, parents before their children.
pub(super) fn descendants(fault: Fault, root: i32) -> Result<Vec<i32>, FaultError> {
    let all = procfs::process::all_processes().map_err(|source| FaultError::Proc {
        fault,
        path: "/proc".into(),
        source,
    })?;
    // A process may exit between the listing and the read: skip it.
    let parent_of: Vec<(i32, i32)> = all
        .flatten()
        .filter_map(|p| p.stat().ok().map(|s| (s.pid, s.ppid)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, _) in parent_of.iter().filter(|(_, ppid)| *ppid == parent) {
            if pid != root && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    Ok(found)
}

/// `pid` as a process id that names one process: never 0 or negative, which
/// `kill` reads as a whole process group.
pub(super) fn pid_of(fault: Fault, pid: i64) -> Result<Pid, FaultError> {
    match i32::try_from(pid) {
        Ok(p) if p > 0 => Ok(Pid::from_raw(p)),
        _ => Err(FaultError::WrongProcess {
            fault,
            pid,
            reason: "not a positive process id".into(),
        }),
    }
}

/// Send `sig` to `pid` (already checked by the caller).
pub(super) fn signal(
    fault: Fault,
    role: &'static str,
    pid: i32,
    sig: Signal,
) -> Result<(), FaultError> {
    kill(Pid::from_raw(pid), sig).map_err(|source| FaultError::Signal {
        fault,
        signal: sig,
        role,
        pid,
        source,
    })
}

/// Wait until `pid` is gone (or a zombie: dead, not yet reaped by whoever
/// adopted it). `false` if it is still alive at the deadline.
pub(super) fn wait_dead(pid: i32, deadline: Instant) -> bool {
    loop {
        match Process::new(pid).and_then(|p| p.stat()) {
            Err(_) => return true,
            Ok(stat) if stat.state == 'Z' || stat.state == 'X' => return true,
            Ok(_) if Instant::now() > deadline => return false,
            // No notification for another process's death: poll /proc.
            Ok(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Wait until `pid` is stopped (`T`), or gone. `Err(state)` if it is not
/// stopped by the deadline. There is no notification for another process's
/// stop short of ptrace, so this polls `/proc`, briefly.
pub(super) fn wait_stopped(pid: i32, deadline: Instant) -> Result<(), char> {
    let mut spins = 0u32;
    loop {
        let state = match Process::new(pid).and_then(|p| p.stat()) {
            Ok(stat) => stat.state,
            Err(_) => return Ok(()), // exited
        };
        if matches!(state, 'T' | 't' | 'Z' | 'X') {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(state);
        }
        spins += 1;
        if spins < 100 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_as_running_with_its_parent() {
        let me = std::process::id() as i32;
        let (state, ppid) = stat(Fault::BackendStall, me).expect("read our own stat");
        assert!(matches!(state, 'R' | 'S'), "state {state}");
        assert_eq!(ppid, nix::unistd::getppid().as_raw());
    }

    #[test]
    fn zero_and_negative_pids_are_refused() {
        assert!(pid_of(Fault::BackendStall, 0).is_err());
        assert!(pid_of(Fault::BackendStall, -1).is_err());
        assert!(pid_of(Fault::BackendStall, i64::from(i32::MAX) + 1).is_err());
    }
}
