//! The command that starts one adapter process, as the user wrote it
//! (`--exec "CMD ARGS"`, split by shell rules but run without a shell), and
//! the environment each candidate's process gets.

use super::error::AdapterError;
use crate::input::{HolderId, Ident, Ttl};
use std::time::Duration;

/// An adapter command: a program and its arguments.
///
/// ```
/// use leasecheck::adapter::AdapterCommand;
/// let cmd = AdapterCommand::parse("python3 'my adapter.py' --verbose")?;
/// assert_eq!(cmd.program(), "python3");
/// assert_eq!(cmd.args(), ["my adapter.py", "--verbose"]);
/// assert!(AdapterCommand::parse("  ").is_err());
/// # Ok::<(), leasecheck::adapter::AdapterError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterCommand {
    text: String,
    words: Vec<String>,
}

impl AdapterCommand {
    /// Split `text` into a program and its arguments (quotes and
    /// backslashes as a POSIX shell reads them; no expansion, no pipes).
    pub fn parse(text: &str) -> Result<AdapterCommand, AdapterError> {
        let words = shell_words::split(text).map_err(|e| AdapterError::Command {
            command: text.to_string(),
            reason: e.to_string(),
        })?;
        if words.is_empty() {
            return Err(AdapterError::Command {
                command: text.to_string(),
                reason: "it is empty".into(),
            });
        }
        Ok(AdapterCommand {
            text: text.to_string(),
            words,
        })
    }

    /// The command as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The program to run.
    pub fn program(&self) -> &str {
        &self.words[0]
    }

    /// Its arguments.
    pub fn args(&self) -> &[String] {
        &self.words[1..]
    }
}

/// The environment variable names the harness sets for every adapter
/// process (docs/adapter-protocol.md).
pub mod env {
    /// A connection URL of the candidate's own (through the harness's proxy
    /// when a fault needs it).
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// The application name its connections must carry (libpq reads it).
    pub const APP_NAME: &str = "PGAPPNAME";
    /// The schema the lease's tables live in.
    pub const SCHEMA: &str = "LEASECHECK_SCHEMA";
    /// The TTL, in seconds.
    pub const TTL: &str = "LEASECHECK_TTL_SECONDS";
    /// The holder id the candidate acts for.
    pub const HOLDER: &str = "LEASECHECK_HOLDER";
    /// The candidate's name (`c0`, `c1`, ...).
    pub const CANDIDATE: &str = "LEASECHECK_CANDIDATE";
    /// The candidate's clock offset, in microseconds (`--skew`; 0 without).
    pub const CLOCK_OFFSET: &str = "LEASECHECK_CLOCK_OFFSET_MICROS";
    /// How long leasecheck waits for each answer (`--call-timeout`), in
    /// milliseconds: an adapter may bound its own calls to Postgres by it.
    pub const CALL_TIMEOUT: &str = "LEASECHECK_CALL_TIMEOUT_MS";
}

/// What one candidate's adapter process is told.
#[derive(Clone, Debug)]
pub struct Candidacy {
    /// The candidate's name (`c3`), used in every message about it.
    pub candidate: String,
    /// Where it connects.
    pub database_url: String,
    /// The application name its connections carry, unique to this
    /// candidate of this subject (the harness finds its backend by it).
    pub app_name: String,
    /// The lease's schema.
    pub schema: Ident,
    /// The TTL.
    pub ttl: Ttl,
    /// Its holder id.
    pub holder: HolderId,
    /// Its clock offset in microseconds.
    pub clock_offset_micros: i64,
    /// How long the harness waits for its hello and for each answer.
    pub timeout: Duration,
}

impl Candidacy {
    /// The environment variables, name and value.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            (env::DATABASE_URL, self.database_url.clone()),
            (env::APP_NAME, self.app_name.clone()),
            (env::SCHEMA, self.schema.as_str().to_string()),
            (env::TTL, self.ttl.as_secs_f64().to_string()),
            (env::HOLDER, self.holder.as_str().to_string()),
            (env::CANDIDATE, self.candidate.clone()),
            (env::CLOCK_OFFSET, self.clock_offset_micros.to_string()),
            (env::CALL_TIMEOUT, self.timeout.as_millis().to_string()),
        ]
    }
}
