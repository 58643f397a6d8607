//! The connection a lease owns: opened up front, discarded after any error,
//! reopened on the next call (logging both), so that one broken backend never
//! poisons the rest of a run.

use super::error::LeaseError;
use crate::database::diagnostic::{describe, pg_message, redact};
use crate::database::Client;

/// The process id of the backend serving `client`.
pub(crate) fn backend_pid(client: &mut Client) -> Result<i32, postgres::Error> {
    client
        .query_typed_one("SELECT pg_backend_pid()", &[])?
        .try_get(0)
}

/// An owned, self-healing connection.
pub(crate) struct Reconnecting {
    config: Box<postgres::Config>,
    target: String,
    client: Option<Client>,
    /// Bumped on every reopen: state tied to a connection (prepared
    /// statements) is valid only for the generation it was made in.
    generation: u64,
}

impl Reconnecting {
    /// Parse `url` (a `postgres://` URL or a `key=value` string); the error
    /// names the server with its password masked.
    pub(crate) fn parse(url: &str) -> Result<postgres::Config, LeaseError> {
        url.parse().map_err(|source| LeaseError::Connect {
            target: redact(url),
            source,
        })
    }

    /// Connect to `config` now.
    pub(crate) fn open(config: &postgres::Config) -> Result<Reconnecting, LeaseError> {
        let target = describe(config);
        let client = Client::connect(config).map_err(|source| LeaseError::Connect {
            target: target.clone(),
            source,
        })?;
        Ok(Reconnecting {
            config: Box::new(config.clone()),
            target,
            client: Some(client),
            generation: 0,
        })
    }

    /// The open connection, if there is one (none between an error and the next call).
    pub(crate) fn client(&mut self) -> Option<&mut Client> {
        self.client.as_mut()
    }

    /// Run `f` on the connection, reopening it first if an earlier error
    /// discarded it, and discarding it after an error; `wrap` turns the
    /// driver's error into the caller's. `who` names the lease in the logs.
    /// `f` also gets the connection's generation.
    pub(crate) fn run<T>(
        &mut self,
        who: &dyn std::fmt::Display,
        f: impl FnOnce(&mut Client, u64) -> Result<T, postgres::Error>,
        wrap: impl FnOnce(postgres::Error) -> LeaseError,
    ) -> Result<T, LeaseError> {
        let client = match &mut self.client {
            Some(client) => client,
            empty => {
                let fresh =
                    Client::connect(&self.config).map_err(|source| LeaseError::Connect {
                        target: self.target.clone(),
                        source,
                    })?;
                tracing::info!(server = %self.target, %who, "reopened the lease connection");
                self.generation += 1;
                empty.insert(fresh)
            }
        };
        let result = f(client, self.generation);
        if let Err(error) = &result {
            tracing::warn!(server = %self.target, %who, error = %pg_message(error),
                "discarding the lease connection after an error; the next call reopens it");
            self.client = None;
        }
        result.map_err(wrap)
    }
}
