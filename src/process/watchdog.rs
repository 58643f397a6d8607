//! Nothing leasecheck starts outlives it, even a `SIGKILL` of leasecheck.
//!
//! Every guard undoes what it made when it is dropped, on an error, a panic
//! or Ctrl-C; a process that is killed outright runs no drop. For that case
//! each leasecheck process has one watchdog: a small `awk` program, in a
//! process group of its own (a Ctrl-C at the terminal does not reach it),
//! that reads one line per thing leasecheck made and unmade from a pipe
//! only leasecheck holds. When leasecheck is gone, however it went, the
//! pipe ends, and the watchdog kills the process groups and containers
//! still registered and removes the directories still registered. (A
//! postmaster's children run in sessions of their own; they exit by
//! themselves once their postmaster is gone.) A run
//! that undid everything itself leaves nothing registered, and the watchdog
//! then does nothing.
//!
//! Lines (tab-separated, one thing each): `group PGID` / `ungroup PGID`,
//! `dir PATH` / `undir PATH`, `container ID` / `uncontainer ID`; each is
//! counted, so that a number the system hands out again (a server started
//! again after a crash) is forgotten only as often as it was registered.
//! Invariant: a thing is unregistered only after leasecheck itself undid it
//! (the group reaped, the directory removed), so the watchdog never acts on
//! a process group number or a path that is no longer leasecheck's, except
//! in the instant between the two.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The watchdog's program: remember, forget, and at the end undo.
const PROGRAM: &str = r#"
BEGIN { FS = "\t" }
$1 == "group" { groups[$2]++ }
$1 == "ungroup" && --groups[$2] <= 0 { delete groups[$2] }
$1 == "dir" { dirs[$2]++ }
$1 == "undir" && --dirs[$2] <= 0 { delete dirs[$2] }
$1 == "container" { containers[$2]++ }
$1 == "uncontainer" && --containers[$2] <= 0 { delete containers[$2] }
END {
  for (g in groups) system("kill -CONT -" g " 2>/dev/null; kill -KILL -" g " 2>/dev/null")
  for (c in containers) system("timeout 60 docker rm -f -v " c " >/dev/null 2>&1")
  for (d in dirs) { gsub(/'/, "'\\''", d); system("rm -rf -- '" d "'") }
}
"#;

/// The pipe to this process's watchdog, once started (`None`: it could not
/// be started, said once on stderr).
fn pipe() -> &'static Mutex<Option<ChildStdin>> {
    static PIPE: OnceLock<Mutex<Option<ChildStdin>>> = OnceLock::new();
    PIPE.get_or_init(|| Mutex::new(start()))
}

fn start() -> Option<ChildStdin> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("awk");
    // Nothing of leasecheck's environment but the PATH its commands need:
    // it is no process of the run's.
    cmd.env_clear()
        .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
        .arg(PROGRAM)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    match cmd.spawn() {
        // The child is never waited for: it outlives this process by
        // design, and init reaps it then.
        Ok(mut child) => child.stdin.take(),
        Err(e) => {
            eprintln!(
                "leasecheck: warning: cannot start the watchdog (awk: {e}); \
                 servers leasecheck starts would outlive a SIGKILL of it"
            );
            None
        }
    }
}

fn send(kind: &str, value: &str) {
    if value.contains(['\t', '\n']) {
        // Never ours: leasecheck names its directories itself.
        tracing::warn!(%value, "not registered with the watchdog: a tab or newline in it");
        return;
    }
    let mut pipe = pipe().lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(stdin) = pipe.as_mut() {
        if let Err(e) = writeln!(stdin, "{kind}\t{value}").and_then(|()| stdin.flush()) {
            tracing::warn!(error = %e, "the watchdog is gone");
            *pipe = None;
        }
    }
}

/// A process group leasecheck started (a server, a pooler, an adapter),
/// killed by the watchdog if leasecheck dies first. Drop it once the group's
/// leader has been reaped.
#[derive(Debug)]
pub struct WatchedGroup(i32);

impl WatchedGroup {
    /// Watch the process group `pgid` (the pid of a child started with
    /// `process_group(0)`).
    pub fn new(pgid: u32) -> WatchedGroup {
        send("group", &pgid.to_string());
        WatchedGroup(pgid as i32)
    }
}

impl Drop for WatchedGroup {
    fn drop(&mut self) {
        send("ungroup", &self.0.to_string());
    }
}

/// A directory leasecheck made, removed by the watchdog if leasecheck dies
/// before it removes it itself. Drop it after the directory is gone.
#[derive(Debug)]
pub struct WatchedDir(PathBuf);

impl WatchedDir {
    /// Watch `path`.
    pub fn new(path: &Path) -> WatchedDir {
        send("dir", &path.to_string_lossy());
        WatchedDir(path.to_path_buf())
    }
}

impl Drop for WatchedDir {
    fn drop(&mut self) {
        send("undir", &self.0.to_string_lossy());
    }
}

/// A container leasecheck started, removed by the watchdog if leasecheck
/// dies first.
#[derive(Debug)]
pub struct WatchedContainer(String);

impl WatchedContainer {
    /// Watch the container `id`.
    pub fn new(id: &str) -> WatchedContainer {
        send("container", id);
        WatchedContainer(id.to_string())
    }
}

impl Drop for WatchedContainer {
    fn drop(&mut self) {
        send("uncontainer", &self.0);
    }
}

/// A temporary directory that the watchdog removes if leasecheck is killed
/// before the directory is dropped.
#[derive(Debug)]
pub struct TempDir {
    // Field order is drop order: the directory is removed, then forgotten.
    dir: tempfile::TempDir,
    _watch: WatchedDir,
}

impl TempDir {
    /// Watch `dir`.
    pub fn watch(dir: tempfile::TempDir) -> TempDir {
        let watch = WatchedDir::new(dir.path());
        TempDir { dir, _watch: watch }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
