//! The flags of a run (`race`, `takeover`, `zombie`, `durability`,
//! `check`, and the scenario of a `reproduce` entry), turned into the
//! library's [`Flags`] for [`leasecheck::settings::Settings::build`].

use super::choices;
use super::ttl_env;
use clap::Args;
use leasecheck::fault::{Durability, Fault, Replication};
use leasecheck::report::FailOn;
use leasecheck::settings::Flags;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The lease to check, as a spec file (default: the built-in reference lease).
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Check the built-in fenced lease (the reference lease plus an epoch column, P8) instead of the reference lease.
    #[arg(long, conflicts_with_all = ["spec", "exec"])]
    pub fenced: bool,
    /// Check a lease in any language: start CMD once per candidate and speak the adapter protocol (JSON lines on stdin/stdout; docs/adapter-protocol.md). Needs --spec for the lease's schema, reset and age.
    #[arg(long, value_name = "CMD", requires = "spec")]
    pub exec: Option<String>,
    /// The deadline of every call, milliseconds: a statement to Postgres, a connection being opened, an adapter's hello or answer. A lease call past it has an unknown outcome; any other call past it ends the run (exit 2) saying what hung (default: the stall + 30 s).
    #[arg(long, value_name = "MS", alias = "exec-timeout")]
    pub call_timeout: Option<u64>,
    /// Postgres to run against (default: DATABASE_URL, else a throwaway local cluster, else a container).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Lease TTL in seconds (default: LEASECHECK_LEASE_SECONDS, else the spec's ttl_seconds, else 0.2).
    #[arg(long, value_name = "SECS")]
    pub ttl: Option<String>,
    /// Candidates racing in each round; one race per size [default: 32].
    #[arg(long, value_delimiter = ',', num_args = 1.., value_name = "N[,N...]")]
    pub candidates: Vec<usize>,
    /// Race rounds [default: 50].
    #[arg(long, value_name = "N")]
    pub rounds: Option<usize>,
    /// Standbys polling during a takeover [default: 3].
    #[arg(long, value_name = "N")]
    pub standbys: Option<usize>,
    /// Faults to stall the leader with, comma-separated (default: all of them).
    #[arg(long, value_delimiter = ',', value_name = "FAULT", value_parser = choices::fault())]
    pub faults: Vec<Fault>,
    /// Takeover (and zombie) trials per fault [default: 1].
    #[arg(long, value_name = "N")]
    pub trials: Option<usize>,
    /// Scenarios run at once, each on a throwaway cluster of its own, when the server is a throwaway local cluster and no pooler is in front (otherwise, and with 1, one after another on one server; a race always runs alone) [default: 1].
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Zombie rounds per trial: lead, stall between check and write, stale write, learn [default: 3].
    #[arg(long, value_name = "N")]
    pub zombie_rounds: Option<usize>,
    /// Leader renew interval, milliseconds (default: TTL / 4).
    #[arg(long, value_name = "MS")]
    pub renew_interval: Option<u64>,
    /// Standby poll interval, milliseconds (default: TTL / 10).
    #[arg(long, value_name = "MS")]
    pub poll_interval: Option<u64>,
    /// How long a fault stalls the leader, milliseconds (default: 3 x TTL).
    #[arg(long, value_name = "MS")]
    pub stall: Option<u64>,
    /// Allowance over TTL + poll interval for a takeover, milliseconds [default: 250].
    #[arg(long, value_name = "MS")]
    pub slack: Option<u64>,
    /// Seed of every random choice (printed with every failure; default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Which findings make the run exit 1 (every finding is reported either way).
    #[arg(long, value_name = "POLICY", default_value = "any", value_parser = choices::fail_on())]
    pub fail_on: FailOn,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write every recorded operation as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Write an HTML report to DIR/index.html: every scenario's timeline (tenures, calls, faults, actions), violations outlined.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// How candidates reach Postgres.
    #[arg(long, value_enum, default_value = "direct")]
    pub via: Via,
    /// Give each candidate its own wall-clock offset of up to MS milliseconds, bound as $3.
    #[arg(long, value_name = "MS")]
    pub skew: Option<u64>,
    /// How the failover fault's replica is fed [default: sync].
    #[arg(long, value_name = "MODE", value_parser = choices::replication())]
    pub replication: Option<Replication>,
    /// synchronous_commit of the server while crash-restart and durability crash it [default: on].
    #[arg(long, value_name = "on|off", value_parser = choices::durability())]
    pub synchronous_commit: Option<Durability>,
    /// Do not record histories (faster; no P6/P7 checks).
    #[arg(long)]
    pub no_record: bool,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Each candidate on its own direct connection.
    Direct,
    /// Through PgBouncer in transaction pooling mode (started by leasecheck).
    Pgbouncer,
}

impl RunArgs {
    /// The settings as the user gave them, for `Settings::build`.
    pub fn flags(&self) -> Flags {
        Flags {
            ttl: self.ttl.clone(),
            ttl_env: ttl_env(),
            candidates: self.candidates.clone(),
            rounds: self.rounds,
            standbys: self.standbys,
            faults: self.faults.clone(),
            trials: self.trials,
            jobs: self.jobs,
            zombie_rounds: self.zombie_rounds,
            renew_interval_ms: self.renew_interval,
            poll_interval_ms: self.poll_interval,
            stall_ms: self.stall,
            slack_ms: self.slack,
            seed: self.seed,
            skew_ms: self.skew,
            no_record: self.no_record,
            replication: self.replication,
            durability: self.synchronous_commit,
            call_timeout_ms: self.call_timeout,
        }
    }
}
