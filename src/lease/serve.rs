//! `leasecheck adapter --spec FILE`: the protocol's reference adapter. It
//! runs a spec file's statements (the same [`SpecLease`] `check --spec`
//! runs in-process) behind the protocol, so a run with `--exec` can be
//! compared with the same SQL without it (the benchmark does), and an
//! adapter author has a working counterpart to read.

use super::{LeaseError, SpecLease};
use crate::adapter::{env, Answer, Hello, ProtocolOp, Request, PROTOCOL, REQUIRED_OPS};
use crate::input::{HolderId, Ident, Ttl};
use crate::spec::Spec;
use std::io::{BufRead, Write};
use std::sync::Arc;

/// Why the reference adapter stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An environment variable the harness sets is missing or wrong.
    #[error("environment variable {name}: {reason} (the reference adapter is started by `leasecheck ... --exec`, which sets it)")]
    Env {
        /// Its name.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The lease could not connect.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// A request could not be read or an answer written.
    #[error("protocol: {0}")]
    Protocol(String),
}

fn var(name: &'static str) -> Result<String, ServeError> {
    std::env::var(name).map_err(|e| ServeError::Env {
        name,
        reason: e.to_string(),
    })
}

/// The variable `name`, read with `parse`; either failing names it.
fn env_value<T, E: std::fmt::Display>(
    name: &'static str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, ServeError> {
    parse(var(name)?).map_err(|e| ServeError::Env {
        name,
        reason: e.to_string(),
    })
}

/// Serve `spec`'s lease on `input`/`output` for the candidate the
/// environment describes, until `input` ends.
pub fn serve(spec: Spec, input: impl BufRead, mut output: impl Write) -> Result<(), ServeError> {
    let schema = env_value(env::SCHEMA, Ident::new)?;
    let ttl = env_value(env::TTL, |text| Ttl::parse(&text))?;
    let holder = env_value(env::HOLDER, HolderId::new)?;
    let skew: i64 = match std::env::var(env::CLOCK_OFFSET) {
        Ok(_) => env_value(env::CLOCK_OFFSET, |text| text.parse())?,
        Err(_) => 0,
    };
    // Its calls to Postgres end no later than leasecheck stops waiting.
    if std::env::var_os(env::CALL_TIMEOUT).is_some() {
        let ms: u64 = env_value(env::CALL_TIMEOUT, |text| text.parse())?;
        crate::database::set_call_timeout(std::time::Duration::from_millis(ms));
    }
    let epoch = spec.has_epoch();
    let lease_renews = spec.semantics().renew;
    let mut config: postgres::Config = env_value(env::DATABASE_URL, |url| url.parse())?;
    // libpq reads PGAPPNAME by itself; the Rust driver must be told.
    if let Ok(app) = std::env::var(env::APP_NAME) {
        config.application_name(&app);
    }
    let mut lease = SpecLease::connect_with(&config, &schema, Arc::new(spec), ttl, holder)?;
    lease.set_skew(skew);
    // The operations the spec has: renew only where it declares one.
    let mut ops = REQUIRED_OPS.to_vec();
    if lease_renews {
        ops.insert(1, ProtocolOp::Renew);
    }
    let hello = Hello {
        protocol: PROTOCOL.into(),
        ops,
        epoch,
    };
    let io = |e: std::io::Error| ServeError::Protocol(e.to_string());
    let mut send = |line: String| {
        writeln!(output, "{line}")
            .and_then(|()| output.flush())
            .map_err(io)
    };
    send(hello.to_line())?;
    for line in input.lines() {
        let line = line.map_err(io)?;
        let request = Request::parse(&line)
            .map_err(|e| ServeError::Protocol(format!("request {line}: {e}")))?;
        let answer = match lease.call(request.op.into()) {
            Ok(ok) => Answer::Done {
                ok,
                epoch: (epoch && ok && request.op == ProtocolOp::TryAcquire)
                    .then(|| lease.epoch())
                    .flatten(),
            },
            // An unknown outcome is an answer; a statement the server
            // refused is not (it did not run, and will not): the adapter
            // stops, and leasecheck reports it with this message.
            Err(e) if e.is_connection_loss() => Answer::Error(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        send(answer.to_line(request.id))?;
    }
    Ok(())
}
