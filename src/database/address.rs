//! The TCP address a server's connection settings name, for whatever must
//! stand in front of it (the connection-stall proxy, PgBouncer). It only
//! resolves and probes with a TCP connect; it never speaks the protocol.

use super::diagnostic::describe;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a probe connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why no TCP address could be found (the message names the server,
/// password masked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

/// The TCP address of the server `config` names: its first host (or
/// `hostaddr`) and port, the first resolved address that accepts a TCP
/// connection (so `localhost` finds whichever of `::1` and `127.0.0.1` the
/// server listens on).
///
/// ```no_run
/// let config: postgres::Config = "postgres://postgres@localhost:5432/postgres".parse()?;
/// let addr = leasecheck::database::upstream_of(&config)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn upstream_of(config: &postgres::Config) -> Result<SocketAddr, AddressError> {
    let bad = AddressError;
    let target = describe(config);
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let candidates: Vec<SocketAddr> =
        match (config.get_hostaddrs().first(), config.get_hosts().first()) {
            (Some(ip), _) => vec![SocketAddr::new(*ip, port)],
            (None, Some(postgres::config::Host::Tcp(host))) => (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| bad(format!("cannot resolve {host}: {e}")))?
                .collect(),
            (None, Some(postgres::config::Host::Unix(path))) => {
                return Err(bad(format!(
                    "{target} is a Unix socket ({}); the proxy only carries TCP",
                    path.display()
                )))
            }
            (None, None) => ("localhost", port)
                .to_socket_addrs()
                .map_err(|e| bad(format!("cannot resolve localhost: {e}")))?
                .collect(),
        };
    let mut errors = Vec::new();
    for addr in &candidates {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(_) => return Ok(*addr),
            Err(e) => errors.push(format!("{addr}: {e}")),
        }
    }
    Err(bad(format!(
        "no address of {target} accepts a TCP connection: {}",
        if errors.is_empty() {
            "it resolves to nothing".into()
        } else {
            errors.join("; ")
        }
    )))
}
