//! PgBouncer in transaction pooling mode, in front of a Postgres.
//!
//! `--via pgbouncer` routes every candidate through a PgBouncer that the
//! harness starts on loopback (Debian package `pgbouncer`), with fewer server
//! connections than clients, so that consecutive transactions of one client
//! land on different backends. Session state does not survive that: a session
//! advisory lock stays with the backend, not with the client, which is how
//! such a lease splits its brain. The reference lease, one autocommit
//! `UPDATE` per operation, is unaffected.

use crate::database::{
    as_user, free_port, log_tail, owned_tempdir, unprivileged_user, wait_until_ready, Postgres,
    Server,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Server connections PgBouncer keeps per database/user pair: fewer than the
/// candidates of a race, so transactions of different clients share backends.
pub const POOL_SIZE: u32 = 4;

/// Why PgBouncer could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start PgBouncer: {0}")]
pub struct PoolerError(pub String);

/// A PgBouncer process the harness owns, stopped on drop.
pub struct Pooler {
    child: Server,
    config: postgres::Config,
    _dir: crate::process::watchdog::TempDir,
}

impl Pooler {
    /// Start PgBouncer in transaction mode in front of `pg`.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let pooler = leasecheck::database::Pooler::start(&pg)?;
    /// let route = pooler.config();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(pg: &Postgres) -> Result<Pooler, PoolerError> {
        let bin = find_pgbouncer()?;
        let config = pg.config();
        let upstream = super::upstream_of(&config).map_err(|e| PoolerError(e.to_string()))?;
        let user = config.get_user().unwrap_or("postgres").to_string();
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        let runas = unprivileged_user().map_err(PoolerError)?;
        let dir = owned_tempdir("leasecheck-pgbouncer-", runas).map_err(PoolerError)?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port().map_err(PoolerError)?;
            let ini = write_config(dir.path(), upstream, port, &user, &password, runas)?;
            let log = std::fs::File::create(dir.path().join("pgbouncer.log"))
                .map_err(|e| PoolerError(format!("cannot create its log: {e}")))?;
            let err = log
                .try_clone()
                .map_err(|e| PoolerError(format!("cannot share its log: {e}")))?;
            let mut cmd = Command::new(&bin);
            cmd.arg(&ini)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .current_dir(dir.path());
            as_user(&mut cmd, runas);
            let mut child = cmd
                .spawn()
                .map(Server::watch)
                .map_err(|e| PoolerError(format!("cannot run {}: {e}", bin.display())))?;
            // Built field by field, never spliced into a URL: a user,
            // password or database name may hold any character.
            let mut route = postgres::Config::new();
            route
                .host("127.0.0.1")
                .port(port)
                .user(&user)
                .dbname(&dbname)
                .connect_timeout(Duration::from_secs(10));
            if !password.is_empty() {
                route.password(&password);
            }
            let ready = wait_until_ready(&route, || match child.try_wait() {
                Ok(None) => Ok(()),
                Ok(Some(status)) => Err(format!("pgbouncer exited ({status})")),
                Err(e) => Err(format!("cannot watch pgbouncer: {e}")),
            });
            match ready {
                Ok(()) => {
                    return Ok(Pooler {
                        child,
                        config: route,
                        _dir: dir,
                    })
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let tail = log_tail(&dir.path().join("pgbouncer.log"));
                    last = format!("{e}; its log:\n{tail}");
                    if !tail.contains("Address already in use") {
                        return Err(PoolerError(last));
                    }
                }
            }
        }
        Err(PoolerError(format!(
            "no usable loopback port after 5 tries: {last}"
        )))
    }

    /// Where candidates connect, for people: `postgres://USER@HOST:PORT/DB`
    /// (no password).
    pub fn address(&self) -> String {
        let c = &self.config;
        let port = c.get_ports().first().copied().unwrap_or(0);
        format!(
            "postgres://{}@127.0.0.1:{port}/{}",
            c.get_user().unwrap_or(""),
            c.get_dbname().unwrap_or("")
        )
    }

    /// The connection settings candidates use (same user, password and
    /// database as the server's).
    pub fn config(&self) -> postgres::Config {
        self.config.clone()
    }

    /// Stop PgBouncer now (dropping does the same).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        // SIGINT: PgBouncer's "safe shutdown"; SIGTERM would wait for clients.
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Pooler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn write_config(
    dir: &Path,
    upstream: std::net::SocketAddr,
    port: u16,
    user: &str,
    password: &str,
    runas: Option<(u32, u32)>,
) -> Result<PathBuf, PoolerError> {
    let users = dir.join("userlist.txt");
    // PgBouncer's auth file: each field in double quotes, a quote inside
    // doubled.
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    std::fs::write(&users, format!("{} {}\n", quoted(user), quoted(password)))
        .map_err(|e| PoolerError(format!("cannot write its user list: {e}")))?;
    let ini = dir.join("pgbouncer.ini");
    let text = format!(
        "[databases]\n\
         * = host={host} port={uport}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {users}\n\
         pool_mode = transaction\n\
         default_pool_size = {POOL_SIZE}\n\
         min_pool_size = 0\n\
         reserve_pool_size = 0\n\
         max_client_conn = 1000\n\
         server_reset_query =\n\
         ignore_startup_parameters = extra_float_digits,options,search_path\n\
         logfile = {log}\n\
         pidfile = {pid}\n",
        host = upstream.ip(),
        uport = upstream.port(),
        users = users.display(),
        log = dir.join("pgbouncer.file.log").display(),
        pid = dir.join("pgbouncer.pid").display(),
    );
    std::fs::write(&ini, text).map_err(|e| PoolerError(format!("cannot write its config: {e}")))?;
    if let Some((uid, gid)) = runas {
        for f in [&users, &ini] {
            let _ = nix::unistd::chown(f.as_path(), Some(uid.into()), Some(gid.into()));
        }
    }
    Ok(ini)
}

/// The PgBouncer binary `--via pgbouncer` starts, or why there is none.
pub fn find_pgbouncer() -> Result<PathBuf, PoolerError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let candidates = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("pgbouncer"));
    for path in candidates {
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(PoolerError(
        "no pgbouncer binary on PATH or in /usr/sbin (install the Debian package pgbouncer, or run scripts/setup.sh)".into(),
    ))
}
