//! The throwaway local cluster (`initdb` + `postgres` from the server
//! binaries, as `nobody` when run as root, in its own process group and a
//! temporary data directory) and the process plumbing that starts servers
//! (PgBouncer uses it too). A cluster is stopped and its directory removed
//! on drop, panics included; nothing here touches a server it did not start.

use super::diagnostic::{describe, pg_message};
use super::Client;
use crate::process::watchdog::{self, WatchedGroup};
use crate::process::Tool;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Environment variable naming the directory of `initdb` and `postgres`.
pub const BINDIR_ENV: &str = "LEASECHECK_PG_BINDIR";
/// `max_connections` of clusters leasecheck starts: enough for 64 candidates,
/// their standbys, fault injectors and parallel tests.
pub const MAX_CONNECTIONS: u32 = 300;

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Poll until a connection to `url` succeeds, asking `alive` between attempts
/// whether the server process is still there.
pub(crate) fn wait_until_ready(
    config: &postgres::Config,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut config = config.clone();
    config.connect_timeout(Duration::from_secs(2));
    loop {
        match Client::connect(&config) {
            Ok(mut client) => match client.simple_query("SELECT 1") {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "{} never answered: {}",
                        describe(&config),
                        pg_message(&e)
                    ))
                }
                Err(_) => {}
            },
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "{} did not accept connections within {}s: {}",
                    describe(&config),
                    START_TIMEOUT.as_secs(),
                    pg_message(&e)
                ))
            }
            Err(_) => {}
        }
        alive()?;
        // Polling a server that is starting up, as `pg_ctl -w` does.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The settings of every cluster leasecheck starts, written to its
/// `postgresql.conf` (not the command line, so that a fault can change them
/// with `ALTER SYSTEM` and undo that): fast, because no check but a crash
/// needs durability, and the crash faults turn it back on first.
const FAST_SETTINGS: &str = "
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 64MB
";

/// A cluster in a temp dir, owned by this process.
pub(crate) struct LocalCluster {
    /// The postmaster; replaced when the cluster is started again after a crash.
    child: Mutex<Server>,
    port: u16,
    bindir: PathBuf,
    runas: Option<(u32, u32)>,
    /// Holds the data directory and log; removed when the cluster is dropped.
    dir: watchdog::TempDir,
    stopped: bool,
}

impl LocalCluster {
    pub(super) fn start() -> Result<LocalCluster, String> {
        let bindir = find_bindir()?;
        let runas = unprivileged_user()?;
        let dir = owned_tempdir("leasecheck-pg-", runas)?;
        let data = dir.path().join("data");
        let mut initdb = Command::new(bindir.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .current_dir(dir.path());
        run_tool(&mut initdb, "initdb", runas)?;
        append_settings(&data.join("postgresql.conf"), FAST_SETTINGS)?;
        let (child, port) = start_on_free_port(dir.path(), |port| {
            LocalCluster::spawn(&bindir, dir.path(), &data, port, runas, &[])
        })?;
        Ok(LocalCluster {
            child: Mutex::new(child),
            port,
            bindir,
            runas,
            dir,
            stopped: false,
        })
    }

    /// Spawn a postgres server on `data`, logging to `dir/postgres.log`
    /// (appending), listening on `127.0.0.1:port` and a socket in `dir`, with
    /// `extra` settings on its command line.
    pub(super) fn spawn(
        bindir: &Path,
        dir: &Path,
        data: &Path,
        port: u16,
        runas: Option<(u32, u32)>,
        extra: &[String],
    ) -> Result<Server, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("postgres.log"))
            .map_err(|e| format!("cannot create the server log: {e}"))?;
        if let Some((uid, gid)) = runas {
            let _ = nix::unistd::chown(
                &dir.join("postgres.log"),
                Some(uid.into()),
                Some(gid.into()),
            );
        }
        let err = log
            .try_clone()
            .map_err(|e| format!("cannot share the server log: {e}"))?;
        let mut cmd = Command::new(bindir.join("postgres"));
        cmd.arg("-D")
            .arg(data)
            .arg("-p")
            .arg(port.to_string())
            .args(["-h", "127.0.0.1", "-k"])
            .arg(dir)
            .args(["-c", &format!("max_connections={MAX_CONNECTIONS}")])
            .args(extra.iter().flat_map(|setting| ["-c", setting.as_str()]))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .current_dir(dir);
        as_user(&mut cmd, runas);
        cmd.spawn()
            .map(Server::watch)
            .map_err(|e| format!("cannot run {}: {e}", bindir.join("postgres").display()))
    }

    pub(super) fn url(&self) -> String {
        cluster_url(self.port)
    }

    fn child(&self) -> MutexGuard<'_, Server> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The postmaster's process id.
    pub(super) fn pid(&self) -> u32 {
        self.child().id()
    }

    /// The server binaries and the user the server runs as (a replica runs
    /// from the same).
    pub(super) fn parts(&self) -> (&Path, Option<(u32, u32)>) {
        (&self.bindir, self.runas)
    }

    /// Reap the postmaster after it was killed (see the `crash-restart`
    /// fault, which kills every process of the cluster).
    pub(super) fn reap(&self) -> Result<(), String> {
        self.child()
            .wait()
            .map(|_| ())
            .map_err(|e| format!("cannot reap the killed postmaster: {e}"))
    }

    /// Start the server again on the same data directory and port after
    /// a crash (it runs crash recovery), and wait until it
    /// answers. Returns how long that took.
    pub(super) fn start_again(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let data = self.dir.path().join("data");
        let mut child = self.child();
        *child = LocalCluster::spawn(
            &self.bindir,
            self.dir.path(),
            &data,
            self.port,
            self.runas,
            &[],
        )?;
        let waited = wait_for_server(&mut child, self.port);
        drop(child);
        waited.map_err(|e| {
            format!(
                "{e}; server log:\n{}",
                log_tail(&self.dir.path().join("postgres.log"))
            )
        })?;
        let took = started.elapsed();
        tracing::info!(
            took_ms = took.as_millis() as u64,
            "the cluster is back after crash recovery"
        );
        Ok(took)
    }

    pub(super) fn stop(&mut self) -> Result<(), String> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        stop_server(child)
    }
}

/// Where throwaway data directories go unless `TMPDIR` says otherwise:
/// memory, when there is enough of it. A cluster is written to all the
/// time (its WAL, its catalogue at `initdb`) and never needs to outlive
/// this process; on the 2-core machine this was measured on, `initdb` took
/// 0.6 s there against 1.5 s on disk.
const IN_MEMORY_ROOT: &str = "/dev/shm";

/// How much room [`IN_MEMORY_ROOT`] must have left for leasecheck to use it
/// (a cluster takes about 60 MB; a container's default `/dev/shm` of 64 MB
/// is too small and is passed over).
const IN_MEMORY_ROOM: u64 = 1 << 30;

/// The directory new throwaway dirs are made in: `TMPDIR` when it is set,
/// else [`IN_MEMORY_ROOT`] when it is a writable directory with
/// [`IN_MEMORY_ROOM`] free, else the system's temp dir.
fn scratch_root() -> PathBuf {
    if std::env::var_os("TMPDIR").is_some() {
        return std::env::temp_dir();
    }
    let memory = Path::new(IN_MEMORY_ROOT);
    let roomy = nix::sys::statvfs::statvfs(memory)
        .is_ok_and(|fs| fs.blocks_available().saturating_mul(fs.fragment_size()) >= IN_MEMORY_ROOM);
    let writable = nix::unistd::access(memory, nix::unistd::AccessFlags::W_OK).is_ok();
    if roomy && writable && memory.is_dir() {
        memory.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A new temp dir named `prefix...` (in [`scratch_root`]), handed to the
/// user a server runs as (`runas`), removed when dropped.
pub(crate) fn owned_tempdir(
    prefix: &str,
    runas: Option<(u32, u32)>,
) -> Result<watchdog::TempDir, String> {
    let root = scratch_root();
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&root)
        .map_err(|e| format!("cannot create a temp dir in {}: {e}", root.display()))?;
    let dir = watchdog::TempDir::watch(dir);
    if let Some((uid, gid)) = runas {
        nix::unistd::chown(dir.path(), Some(uid.into()), Some(gid.into()))
            .map_err(|e| format!("cannot hand {} to uid {uid}: {e}", dir.path().display()))?;
    }
    Ok(dir)
}

/// How long one of the server's tools may run (`initdb`, `pg_basebackup`
/// of a throwaway cluster take a second or two).
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// Run one of the server's tools (`initdb`, `pg_basebackup`) to its end, as
/// the user the server runs as, within [`TOOL_TIMEOUT`]; its stderr is the
/// error when it fails.
pub(super) fn run_tool(
    cmd: &mut Command,
    name: &str,
    runas: Option<(u32, u32)>,
) -> Result<(), String> {
    as_user(cmd, runas);
    let out = Tool::new(cmd, TOOL_TIMEOUT)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// A server process leasecheck started (a postmaster, PgBouncer), in a
/// process group of its own that the watchdog kills if leasecheck dies
/// before it stops the server ([`stop_server`]).
pub(crate) struct Server {
    // Field order is drop order: the process is forgotten by the watchdog
    // only after whoever stopped it reaped it.
    child: Child,
    _watch: WatchedGroup,
}

impl Server {
    /// Watch `child`, started by [`as_user`] (a process group of its own).
    pub(crate) fn watch(child: Child) -> Server {
        let watch = WatchedGroup::new(child.id());
        Server {
            child,
            _watch: watch,
        }
    }
}

impl std::ops::Deref for Server {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.child
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

/// Start a server with `spawn` on a free loopback port and wait until it
/// answers (it logs to `dir/postgres.log`). When another process took the
/// port between the probe and the server's bind, another port is tried, up
/// to 5 in all.
pub(super) fn start_on_free_port(
    dir: &Path,
    mut spawn: impl FnMut(u16) -> Result<Server, String>,
) -> Result<(Server, u16), String> {
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let mut child = spawn(port)?;
        match wait_for_server(&mut child, port) {
            Ok(()) => return Ok((child, port)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let tail = log_tail(&dir.join("postgres.log"));
                last = format!("{e}; server log:\n{tail}");
                if !tail.contains("could not bind") {
                    return Err(last);
                }
            }
        }
    }
    Err(format!("no usable loopback port after 5 tries: {last}"))
}

/// Wait until the server `child` started on `port` answers, or has exited.
fn wait_for_server(child: &mut Child, port: u16) -> Result<(), String> {
    let config: postgres::Config = cluster_url(port)
        .parse()
        .map_err(|e| format!("the server's URL does not parse: {e}"))?;
    wait_until_ready(&config, || match child.try_wait() {
        Ok(None) => Ok(()),
        Ok(Some(status)) => Err(format!("postgres exited ({status})")),
        Err(e) => Err(format!("cannot watch postgres: {e}")),
    })
}

/// The URL of a server leasecheck runs on `port`.
pub(super) fn cluster_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres?connect_timeout=10")
}

/// Append `settings` to a `postgresql.conf`.
pub(super) fn append_settings(conf: &Path, settings: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(conf)
        .and_then(|mut f| f.write_all(settings.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", conf.display()))
}

/// Stop a server leasecheck started: fast shutdown, then `SIGKILL` after
/// [`STOP_TIMEOUT`]; reaps it.
pub(super) fn stop_server(child: &mut Child) -> Result<(), String> {
    // Already exited (and reaped: a crash): its pid may be another process's now.
    if let Ok(Some(_)) = child.try_wait() {
        return Ok(());
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    // A stopped (SIGSTOPped) postmaster would ignore SIGINT: continue it first.
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
    // SIGINT is Postgres's "fast shutdown".
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "postgres did not stop within {}s and was killed",
                    STOP_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for postgres: {e}")),
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("stopping the throwaway cluster: {e}");
        }
        // The TempDir field removes the directory after this.
    }
}

pub(crate) fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(10);
    lines[start..].join("\n")
}

pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Postgres refuses to run as root: pick `nobody` then.
pub(crate) fn unprivileged_user() -> Result<Option<(u32, u32)>, String> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name("nobody")
        .map_err(|e| format!("running as root and cannot look up user nobody: {e}"))?
        .ok_or("running as root and there is no user nobody to run postgres as")?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

pub(crate) fn as_user(cmd: &mut Command, runas: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    // A process group of its own: a Ctrl-C at the terminal reaches leasecheck,
    // which then stops the server itself, after undoing faults and dropping
    // its schema, instead of the server shutting down under the run.
    cmd.process_group(0);
    if let Some((uid, gid)) = runas {
        cmd.uid(uid)
            .gid(gid)
            .env("HOME", "/tmp")
            .env_remove("PGDATA");
    }
}

/// The directory of the Postgres server binaries (`initdb`, `postgres`) a
/// throwaway cluster is started from, or why there is none.
pub fn find_bindir() -> Result<PathBuf, String> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(dir) = std::env::var(BINDIR_ENV) {
        let dir = PathBuf::from(dir);
        return if has(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{BINDIR_ENV}={} has no initdb and postgres",
                dir.display()
            ))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| has(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if has(&dir) {
            return Ok(dir);
        }
    }
    Err("no initdb and postgres in /usr/lib/postgresql/*/bin or PATH (install the Debian package postgresql)".into())
}
