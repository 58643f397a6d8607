//! Server settings a fault changes on a cluster leasecheck runs
//! (`ALTER SYSTEM SET` and a reload), undone on drop, panics included
//! (`ALTER SYSTEM RESET` and a reload). Never used on a server leasecheck
//! does not run: the faults that need it apply only to a local cluster.

use super::diagnostic::pg_message;
use super::Postgres;
use std::time::{Duration, Instant};

/// How long a reload may take to reach new sessions.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings changed on a server; reset when dropped.
#[must_use = "dropping the settings resets them at once"]
pub struct SystemSettings<'p> {
    pg: &'p Postgres,
    names: Vec<&'static str>,
    undone: bool,
}

impl<'p> SystemSettings<'p> {
    /// Set each `(name, value)` with `ALTER SYSTEM`, reload, and wait until a
    /// new session sees every value (`current_setting(name) = value`, so give
    /// values in the form Postgres shows them: `on`, `10s`).
    ///
    /// ```no_run
    /// use leasecheck::database::SystemSettings;
    /// let pg = leasecheck::Postgres::start_local()?;
    /// let durable = SystemSettings::apply(&pg, &[("fsync", "on")])?;
    /// durable.undo()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(
        pg: &'p Postgres,
        settings: &[(&'static str, &'static str)],
    ) -> Result<SystemSettings<'p>, String> {
        pg.local_cluster()?;
        let mut guard = SystemSettings {
            pg,
            names: Vec::new(),
            undone: false,
        };
        let mut client = pg.connect().map_err(|e| {
            format!(
                "cannot connect to change server settings: {}",
                pg_message(&e)
            )
        })?;
        for &(name, value) in settings {
            let quoted = value.replace('\'', "''");
            guard.names.push(name);
            client
                .batch_execute(&format!("ALTER SYSTEM SET {name} = '{quoted}'"))
                .map_err(|e| format!("cannot set {name} = {value}: {}", pg_message(&e)))?;
        }
        reload(&mut client)?;
        let deadline = Instant::now() + RELOAD_TIMEOUT;
        for &(name, value) in settings {
            loop {
                let mut fresh = pg
                    .connect()
                    .map_err(|e| format!("cannot connect after a reload: {}", pg_message(&e)))?;
                let now: String = fresh
                    .query_one("SELECT current_setting($1)", &[&name])
                    .and_then(|row| row.try_get(0))
                    .map_err(|e| format!("cannot read {name}: {}", pg_message(&e)))?;
                if now == value {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{name} is still {now} {}s after setting it to {value} and reloading",
                        RELOAD_TIMEOUT.as_secs()
                    ));
                }
                // Polling for the postmaster to act on the reload signal.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        tracing::info!(?settings, "changed server settings");
        Ok(guard)
    }

    /// Reset the settings now, reporting failure (dropping does the same but
    /// can only log).
    pub fn undo(mut self) -> Result<(), String> {
        self.undo_now()
    }

    fn undo_now(&mut self) -> Result<(), String> {
        if self.undone || self.names.is_empty() {
            self.undone = true;
            return Ok(());
        }
        self.undone = true;
        let mut client = self.pg.connect().map_err(|e| {
            format!(
                "cannot connect to reset server settings: {}",
                pg_message(&e)
            )
        })?;
        for name in &self.names {
            client
                .batch_execute(&format!("ALTER SYSTEM RESET {name}"))
                .map_err(|e| format!("cannot reset {name}: {}", pg_message(&e)))?;
        }
        reload(&mut client)?;
        tracing::info!(names = ?self.names, "reset server settings");
        Ok(())
    }
}

fn reload(client: &mut super::Client) -> Result<(), String> {
    client
        .batch_execute("SELECT pg_reload_conf()")
        .map_err(|e| {
            format!(
                "cannot reload the server's configuration: {}",
                pg_message(&e)
            )
        })
}

impl Drop for SystemSettings<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.undo_now() {
            tracing::warn!("{e}");
        }
    }
}

impl std::fmt::Debug for SystemSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemSettings")
            .field("names", &self.names)
            .finish()
    }
}
