//! A connection to Postgres whose every call has a deadline.
//!
//! The `postgres` crate's blocking client waits for an answer as long as
//! the server takes: a server, pooler or network that accepts and never
//! answers hangs the caller for good, and with it the run. This client is
//! the same thin blocking layer over `tokio-postgres` (one current-thread
//! runtime per connection, as `postgres` has), with one difference: opening
//! the connection and every call are bounded by the call deadline
//! ([`call_timeout`], `--call-timeout`). Past it the connection is closed
//! (the socket is shut, so nothing more of that call can land) and the call
//! returns the driver's timeout error, which a lease reads as an unknown
//! outcome and the harness reports as what hung.
//!
//! The method names and signatures are those of `postgres::Client`, so the
//! leases and the harness read the same; only what they use is here.
//!
//! Invariant: no call made through this type waits longer than the
//! deadline in force when it began (plus the closing of its socket).

use postgres::types::{ToSql, Type};
use postgres::{Error, Row, SimpleQueryMessage, Statement, ToStatement};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The call deadline until a run sets its own ([`set_call_timeout`]),
/// milliseconds: for the library's direct users and its tests.
pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 60_000;

static CALL_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_CALL_TIMEOUT_MS);

/// Set the deadline of every call opened or made from now on, in this
/// process (a run sets it once from its settings, `--call-timeout`).
pub fn set_call_timeout(deadline: Duration) {
    let ms = u64::try_from(deadline.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    CALL_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The deadline of every call.
pub fn call_timeout() -> Duration {
    Duration::from_millis(CALL_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Whether `e` is a call given up at its deadline (see the module note).
pub fn is_deadline(e: &Error) -> bool {
    e.as_db_error().is_none() && !e.is_closed() && e.to_string() == DEADLINE_TEXT
}

/// The driver's words for its timeout error.
const DEADLINE_TEXT: &str = "timeout waiting for server";

/// An open connection; see the module note.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    /// The task that drives the socket; aborted (the socket closed) when a
    /// call passes its deadline.
    connection: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Connect to `config`; the connect (socket, startup, authentication)
    /// is bounded by the call deadline.
    pub fn connect(config: &postgres::Config) -> Result<Client, Error> {
        let config = async_config(config);
        // The same runtime as `postgres::Config::connect` builds (which
        // unwraps it): it fails only when the process has no descriptors
        // left for its epoll and event fds.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime (out of file descriptors?)");
        let deadline = call_timeout();
        let (client, connection) = runtime.block_on(async {
            match tokio::time::timeout(deadline, config.connect(tokio_postgres::NoTls)).await {
                Ok(connected) => connected,
                Err(_) => Err(Error::__private_api_timeout()),
            }
        })?;
        let connection = runtime.spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a Postgres connection ended with an error");
            }
        });
        Ok(Client {
            runtime,
            client,
            connection,
        })
    }

    /// Run `call` to its end or its deadline; past the deadline the socket
    /// is closed and the driver's timeout error returned.
    fn block_on<T>(
        runtime: &tokio::runtime::Runtime,
        connection: &mut tokio::task::JoinHandle<()>,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let deadline = call_timeout();
        // The timer is made inside the runtime, which owns the clock.
        match runtime.block_on(async { tokio::time::timeout(deadline, call).await }) {
            Ok(answered) => answered,
            Err(_) => {
                tracing::warn!(
                    deadline_ms = deadline.as_millis() as u64,
                    "a Postgres call passed its deadline: closing its connection"
                );
                connection.abort();
                // The aborted task drops the socket when it is next polled.
                let _ = runtime.block_on(&mut *connection);
                Err(Error::__private_api_timeout())
            }
        }
    }

    /// `postgres::Client::batch_execute`.
    pub fn batch_execute(&mut self, query: &str) -> Result<(), Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.batch_execute(query),
        )
    }

    /// `postgres::Client::simple_query`.
    pub fn simple_query(&mut self, query: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.simple_query(query),
        )
    }

    /// `postgres::Client::execute`.
    pub fn execute<T>(&mut self, query: &T, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error>
    where
        T: ?Sized + ToStatement,
    {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.execute(query, params),
        )
    }

    /// `postgres::Client::query`.
    pub fn query<T>(&mut self, query: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + ToStatement,
    {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query(query, params),
        )
    }

    /// `postgres::Client::query_one`.
    pub fn query_one<T>(&mut self, query: &T, params: &[&(dyn ToSql + Sync)]) -> Result<Row, Error>
    where
        T: ?Sized + ToStatement,
    {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query_one(query, params),
        )
    }

    /// `postgres::Client::query_opt`.
    pub fn query_opt<T>(
        &mut self,
        query: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>
    where
        T: ?Sized + ToStatement,
    {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query_opt(query, params),
        )
    }

    /// `postgres::Client::query_typed`.
    pub fn query_typed(
        &mut self,
        query: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query_typed(query, params),
        )
    }

    /// `postgres::Client::query_typed_one`.
    pub fn query_typed_one(
        &mut self,
        query: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Row, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query_typed_one(query, params),
        )
    }

    /// `postgres::Client::query_typed_opt`.
    pub fn query_typed_opt(
        &mut self,
        query: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Option<Row>, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.query_typed_opt(query, params),
        )
    }

    /// `postgres::Client::prepare`.
    pub fn prepare(&mut self, query: &str) -> Result<Statement, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.prepare(query),
        )
    }

    /// `postgres::Client::prepare_typed`.
    pub fn prepare_typed(&mut self, query: &str, types: &[Type]) -> Result<Statement, Error> {
        Self::block_on(
            &self.runtime,
            &mut self.connection,
            self.client.prepare_typed(query, types),
        )
    }

    /// Begin a transaction; it rolls back unless committed.
    pub fn transaction(&mut self) -> Result<Transaction<'_>, Error> {
        self.batch_execute("BEGIN")?;
        Ok(Transaction {
            client: self,
            open: true,
        })
    }

    /// Whether the connection is gone (closed by the server, by an error,
    /// or at a deadline).
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Close the connection, saying goodbye to the server (bounded by the
    /// deadline like any call).
    pub fn close(self) -> Result<(), Error> {
        let Client {
            runtime,
            client,
            mut connection,
        } = self;
        // Dropping the client sends Terminate; the connection task then ends.
        drop(client);
        let deadline = call_timeout();
        let _ = runtime.block_on(async { tokio::time::timeout(deadline, &mut connection).await });
        Ok(())
    }
}

/// A transaction on a [`Client`]: every call of the client, then `commit`;
/// dropped uncommitted, it rolls back (within the deadline).
pub struct Transaction<'a> {
    client: &'a mut Client,
    open: bool,
}

impl Transaction<'_> {
    /// Commit it.
    pub fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        self.client.batch_execute("COMMIT")
    }

    /// Roll it back.
    pub fn rollback(mut self) -> Result<(), Error> {
        self.open = false;
        self.client.batch_execute("ROLLBACK")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
    }
}

impl std::ops::DerefMut for Transaction<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open && !self.client.is_closed() {
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

/// The `tokio-postgres` configuration of a `postgres` one (which keeps its
/// own private): every setting, read through its getter.
pub fn async_config(c: &postgres::Config) -> tokio_postgres::Config {
    let mut out = tokio_postgres::Config::new();
    if let Some(user) = c.get_user() {
        out.user(user);
    }
    if let Some(password) = c.get_password() {
        out.password(password);
    }
    if let Some(dbname) = c.get_dbname() {
        out.dbname(dbname);
    }
    if let Some(options) = c.get_options() {
        out.options(options);
    }
    if let Some(name) = c.get_application_name() {
        out.application_name(name);
    }
    out.ssl_mode(c.get_ssl_mode());
    out.ssl_negotiation(c.get_ssl_negotiation());
    for host in c.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => out.host(name),
            tokio_postgres::config::Host::Unix(path) => out.host_path(path),
        };
    }
    for addr in c.get_hostaddrs() {
        out.hostaddr(*addr);
    }
    for port in c.get_ports() {
        out.port(*port);
    }
    if let Some(d) = c.get_connect_timeout() {
        out.connect_timeout(*d);
    }
    if let Some(d) = c.get_tcp_user_timeout() {
        out.tcp_user_timeout(*d);
    }
    out.keepalives(c.get_keepalives());
    out.keepalives_idle(c.get_keepalives_idle());
    if let Some(d) = c.get_keepalives_interval() {
        out.keepalives_interval(d);
    }
    if let Some(n) = c.get_keepalives_retries() {
        out.keepalives_retries(n);
    }
    out.target_session_attrs(c.get_target_session_attrs());
    out.channel_binding(c.get_channel_binding());
    out.load_balance_hosts(c.get_load_balance_hosts());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_config_keeps_every_setting_of_a_url() {
        for url in [
            "postgres://u:p%40ss@127.0.0.1:5433/db?application_name=x&connect_timeout=3&options=-c%20a%3Db",
            "host=/tmp,h2 port=1,2 user=postgres dbname=d keepalives=0 target_session_attrs=read-write",
            "postgresql://[::1]:6000/x?sslmode=disable&channel_binding=disable&load_balance_hosts=random&tcp_user_timeout=5&keepalives_idle=7&hostaddr=::1",
        ] {
            let sync: postgres::Config = url.parse().unwrap();
            let expected: tokio_postgres::Config = url.parse().unwrap();
            assert!(async_config(&sync) == expected, "{url}");
        }
    }

    #[test]
    fn set_call_timeout_rounds_to_at_least_a_millisecond() {
        let before = call_timeout();
        set_call_timeout(Duration::from_micros(10));
        assert_eq!(call_timeout(), Duration::from_millis(1));
        set_call_timeout(before);
    }
}
