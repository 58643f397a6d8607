//! A streaming replica of the throwaway cluster, for the `failover` fault:
//! `pg_basebackup` into a second temp directory, a server on another
//! loopback port that streams from the primary, promoted on demand. It is
//! stopped and its directory removed on drop, panics included.
//!
//! The replica's walreceiver connects to the primary through an address the
//! caller gives (the fault's replication proxy), so that the caller can hold
//! replication back and make the replica lag.

use super::cluster::{
    cluster_url, owned_tempdir, run_tool, start_on_free_port, stop_server, LocalCluster, Server,
};
use super::diagnostic::pg_message;
use super::Client;
use super::Postgres;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long streaming may take to start, and a promotion to end.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A hot standby of a cluster leasecheck runs; see the module docs.
pub struct Replica {
    child: Server,
    port: u16,
    dir: crate::process::watchdog::TempDir,
    stopped: bool,
}

impl Replica {
    /// Copy `primary` with `pg_basebackup` (through `via`, an address that
    /// forwards to it) and start a hot standby from the copy, streaming
    /// through `via` as `application_name = name`. Returns once the standby
    /// answers queries; whether it streams yet is the primary's to say
    /// (`pg_stat_replication`).
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::start_local()?;
    /// let primary = leasecheck::database::upstream_of(&pg.config())?;
    /// let replica = leasecheck::database::Replica::start(&pg, primary, "standby")?;
    /// replica.promote()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(primary: &Postgres, via: SocketAddr, name: &str) -> Result<Replica, String> {
        let cluster: &LocalCluster = primary.local_cluster()?;
        let (bindir, runas) = cluster.parts();
        let dir = owned_tempdir("leasecheck-replica-", runas)?;
        let data = dir.path().join("data");
        let mut backup = Command::new(bindir.join("pg_basebackup"));
        backup
            .arg("-D")
            .arg(&data)
            .args(["-h", &via.ip().to_string(), "-p", &via.port().to_string()])
            .args([
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "--no-sync",
            ])
            .stdin(Stdio::null())
            .current_dir(dir.path());
        run_tool(&mut backup, "pg_basebackup", runas)?;
        let conninfo = format!(
            "primary_conninfo=host={} port={} user=postgres application_name={name}",
            via.ip(),
            via.port()
        );
        let (child, port) = start_on_free_port(dir.path(), |port| {
            LocalCluster::spawn(
                bindir,
                dir.path(),
                &data,
                port,
                runas,
                &[conninfo.clone(), "hot_standby=on".into()],
            )
        })
        .map_err(|e| format!("the replica did not start: {e}"))?;
        tracing::info!(port, %via, "replica started");
        Ok(Replica {
            child,
            port,
            dir,
            stopped: false,
        })
    }

    /// The replica's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The replica's connection settings.
    pub fn config(&self) -> postgres::Config {
        match replica_config(self.port) {
            Ok(config) => config,
            Err(e) => unreachable!("the replica's URL parses: {e}"),
        }
    }

    /// Promote the replica to a primary (`pg_promote`, waiting until it
    /// accepts writes). WAL it has not received is never applied.
    pub fn promote(&self) -> Result<(), String> {
        let started = Instant::now();
        let mut client = Client::connect(&self.config())
            .map_err(|e| format!("cannot connect to the replica: {}", pg_message(&e)))?;
        let wait = READY_TIMEOUT.as_secs() as i32;
        let promoted: bool = client
            .query_one("SELECT pg_promote(true, $1)", &[&wait])
            .and_then(|row| row.try_get(0))
            .map_err(|e| format!("cannot promote the replica: {}", pg_message(&e)))?;
        if !promoted {
            return Err(format!(
                "the replica did not finish its promotion within {wait}s"
            ));
        }
        tracing::info!(
            took_ms = started.elapsed().as_millis() as u64,
            port = self.port,
            "promoted the replica"
        );
        Ok(())
    }

    /// Stop the replica and remove its directory, reporting a failure to stop
    /// (dropping does the same but can only log).
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> Result<(), String> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        stop_server(&mut self.child)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Err(e) = self.stop_now() {
            tracing::warn!(dir = %self.dir.path().display(), "stopping the replica: {e}");
        }
        // The TempDir field removes the directory after this.
    }
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").field("port", &self.port).finish()
    }
}

fn replica_config(port: u16) -> Result<postgres::Config, String> {
    cluster_url(port)
        .parse()
        .map_err(|e| format!("the replica's URL does not parse: {e}"))
}
