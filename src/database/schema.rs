//! A schema of the harness's own: every check runs in one and drops only that.

use super::diagnostic::is_connection_loss;
use super::Client;
use crate::input::random_u64;
use crate::input::{Ident, TableName};

/// Why a schema could not be created or dropped.
#[derive(Debug, thiserror::Error)]
#[error("cannot {what} schema {schema}: {}", crate::database::diagnostic::pg_message(.source))]
pub struct SchemaError {
    /// `create` or `drop`.
    pub what: &'static str,
    /// The schema.
    pub schema: String,
    /// The driver's error, with Postgres's message.
    #[source]
    pub source: postgres::Error,
}

/// A freshly created, uniquely named schema (`leasecheck_<random>`), dropped
/// with everything in it when this value is dropped or [`Schema::drop_schema`]
/// is called. Nothing outside it is ever touched.
pub struct Schema {
    name: Ident,
    client: Client,
    /// Where to reconnect after the server dropped the connection (a crash).
    reconnect: Option<postgres::Config>,
    dropped: bool,
}

impl Schema {
    /// Create a new schema over `client`, which the schema keeps for dropping it.
    ///
    /// ```no_run
    /// let pg = leasecheck::Postgres::provision()?;
    /// let schema = leasecheck::Schema::create(pg.connect()?)?;
    /// let table = schema.table("lease_lock")?;
    /// schema.drop_schema()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(mut client: Client) -> Result<Schema, SchemaError> {
        let raw = format!("leasecheck_{:016x}", random_u64());
        let name = match Ident::new(raw) {
            Ok(name) => name,
            Err(e) => unreachable!("generated schema names are valid identifiers: {e}"),
        };
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .map_err(|source| SchemaError {
                what: "create",
                schema: name.to_string(),
                source,
            })?;
        Ok(Schema {
            name,
            client,
            reconnect: None,
            dropped: false,
        })
    }

    /// Reconnect to `config` (the server the schema is in) when the
    /// connection was lost, as after a crash of the server.
    pub fn reconnecting(mut self, config: postgres::Config) -> Schema {
        self.reconnect = Some(config);
        self
    }

    /// Open a new connection for the schema's own statements now (after the
    /// server crashed and came back, say). Without a
    /// [`Schema::reconnecting`] config this does nothing.
    pub fn reconnect(&mut self) -> Result<(), SchemaError> {
        let Some(config) = &self.reconnect else {
            return Ok(());
        };
        self.client = Client::connect(config).map_err(|source| SchemaError {
            what: "reconnect to",
            schema: self.name.to_string(),
            source,
        })?;
        Ok(())
    }

    /// The schema's name.
    pub fn name(&self) -> &Ident {
        &self.name
    }

    /// A table name qualified by this schema.
    ///
    /// ```no_run
    /// # fn f(schema: &leasecheck::Schema) -> Result<(), leasecheck::IdentError> {
    /// let table = schema.table("lease_lock")?;
    /// # Ok(()) }
    /// ```
    pub fn table(&self, table: &str) -> Result<TableName, crate::input::IdentError> {
        Ok(TableName {
            schema: Some(self.name.clone()),
            table: Ident::new(table)?,
        })
    }

    /// The connection the schema was created over (the harness's admin connection).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Drop the schema and everything in it, reporting failure.
    ///
    /// ```no_run
    /// # fn f(schema: leasecheck::Schema) -> Result<(), leasecheck::SchemaError> {
    /// schema.drop_schema()?;
    /// # Ok(()) }
    /// ```
    pub fn drop_schema(mut self) -> Result<(), SchemaError> {
        self.drop_now()
    }

    fn drop_now(&mut self) -> Result<(), SchemaError> {
        if self.dropped {
            return Ok(());
        }
        self.dropped = true;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let dropped = match self.client.batch_execute(&sql) {
            // The server dropped the connection (a crash and restart): once more.
            Err(e) if is_connection_loss(&e) && self.reconnect.is_some() => {
                self.reconnect()?;
                self.client.batch_execute(&sql)
            }
            other => other,
        };
        dropped.map_err(|source| SchemaError {
            what: "drop",
            schema: self.name.to_string(),
            source,
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Err(e) = self.drop_now() {
            tracing::warn!("{e}");
        }
    }
}
