//! `leasecheck doctor`: what this machine offers a run, and what it lacks.
//!
//! It looks for what a run would use (the Postgres server binaries,
//! `DATABASE_URL`, Docker and the image of the container fallback,
//! PgBouncer), then gets a Postgres exactly as a run would
//! ([`Postgres::provision`]) and asks each fault whether it can be injected
//! into that server, with the reason when not. It changes nothing and stops
//! what it started.

use crate::database::{find_bindir, find_pgbouncer, redact_url, Postgres, DATABASE_URL_ENV};
use crate::fault::Fault;
use crate::process::{Tool, ToolError};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// One thing looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// What it is ("Postgres server binaries", "fault backend-stall", ...).
    pub what: String,
    /// Whether it is there (or usable).
    pub found: bool,
    /// Where it is, or why it is not.
    pub detail: String,
}

/// What `doctor` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Examination {
    /// In the order they were looked for.
    pub items: Vec<Item>,
    /// Whether a run could get a Postgres here.
    pub postgres: bool,
}

impl Examination {
    /// Look at this machine (starts and stops a throwaway server when that
    /// is what a run would use).
    pub fn of_this_machine() -> Examination {
        let mut exam = Examination::default();
        match find_bindir() {
            Ok(dir) => {
                let version = program_version(&dir.join("postgres"));
                exam.add(
                    "Postgres server binaries",
                    true,
                    format!("{} ({version})", dir.display()),
                );
            }
            Err(why) => exam.add("Postgres server binaries", false, why),
        }
        match std::env::var(DATABASE_URL_ENV) {
            Ok(url) => exam.add(DATABASE_URL_ENV, true, format!("set: {}", redact_url(&url))),
            Err(_) => exam.add(DATABASE_URL_ENV, false, "not set".into()),
        }
        match find_pgbouncer() {
            Ok(bin) => {
                let version = program_version(&bin);
                exam.add(
                    "PgBouncer (--via pgbouncer)",
                    true,
                    format!("{} ({version})", bin.display()),
                );
            }
            Err(e) => exam.add("PgBouncer (--via pgbouncer)", false, e.0),
        }
        match docker_info(DOCKER_ANSWERS_WITHIN) {
            Ok(version) => exam.add("Docker engine", true, format!("server {version}")),
            Err(why) => exam.add("Docker engine", false, why),
        }
        match Postgres::provision() {
            Ok(pg) => {
                exam.postgres = true;
                let version = pg
                    .connect()
                    .and_then(|mut c| c.query_one("SHOW server_version", &[]))
                    .map(|row| row.get::<_, String>(0))
                    .unwrap_or_else(|e| crate::database::diagnostic::pg_message(&e));
                exam.add(
                    "Postgres for a run",
                    true,
                    format!("{} from {} (server {version})", pg.target(), pg.source()),
                );
                for fault in Fault::ALL {
                    match fault.applicable(&pg) {
                        Ok(()) => exam.add(&format!("fault {fault}"), true, "available".into()),
                        Err(why) => exam.add(&format!("fault {fault}"), false, why),
                    }
                }
            }
            Err(e) => exam.add("Postgres for a run", false, e.to_string()),
        }
        exam
    }

    fn add(&mut self, what: &str, found: bool, detail: String) {
        self.items.push(Item {
            what: what.to_string(),
            found,
            detail,
        });
    }

    /// For a terminal: one line per item, then what to do when no
    /// Postgres could be had.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "leasecheck {}", env!("CARGO_PKG_VERSION"));
        for item in &self.items {
            let mark = if item.found { "ok " } else { "-- " };
            let _ = writeln!(out, "  {mark} {:<30} {}", item.what, item.detail);
        }
        if self.postgres {
            let _ = writeln!(out, "\nresult: leasecheck can run here (exit 0)");
        } else {
            let _ = writeln!(
                out,
                "\nresult: no Postgres for a run (exit 2): set {DATABASE_URL_ENV}, install the \
                 server (Debian: apt-get install postgresql), or build the image with \
                 scripts/build-postgres-image.sh"
            );
        }
        out
    }
}

/// How long `PROGRAM --version` may take.
const VERSION_ANSWERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// `PROGRAM --version`, first line, or why it could not be had.
fn program_version(program: &Path) -> String {
    let mut cmd = Command::new(program);
    cmd.arg("--version");
    match Tool::new(&mut cmd, VERSION_ANSWERS_WITHIN).output() {
        Ok(out) if out.status.success() => first_line(&String::from_utf8_lossy(&out.stdout)),
        Ok(out) => format!(
            "--version failed: {}",
            first_line(&String::from_utf8_lossy(&out.stderr))
        ),
        Err(e) => e.to_string(),
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// How long `docker info` may take before the engine counts as not there.
const DOCKER_ANSWERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The Docker engine's version, from `docker info`, or why there is none.
/// A daemon that does not answer within `within` (a stuck socket, a hung
/// engine) is reported as such; the command is killed, never waited on.
fn docker_info(within: std::time::Duration) -> Result<String, String> {
    let mut cmd = Command::new("docker");
    cmd.args(["info", "--format", "{{.ServerVersion}}"]);
    let out = Tool::new(&mut cmd, within).output().map_err(|e| match e {
        ToolError::Spawn { source, .. } => format!("no `docker` command: {source}"),
        ToolError::Timeout { .. } => format!(
            "`docker info` did not answer within {} s (is the daemon stuck?)",
            within.as_secs()
        ),
        other => other.to_string(),
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(first_line(&String::from_utf8_lossy(&out.stderr)))
    }
}
