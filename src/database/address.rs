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

/// `config` as a connection URL (`postgresql://user:password@host:port/db`),
/// for a process of another language to connect with (an adapter's
/// `DATABASE_URL`). Every part is percent-encoded; a Unix socket directory
/// goes in `host=`; the application name is left out (the process gets
/// its own in `PGAPPNAME`). It says `sslmode=disable`: leasecheck connects
/// without TLS, and the proxy a fault puts in front of the server reads
/// the protocol, which a TLS negotiation would hide from it.
///
/// ```
/// let config: postgres::Config = "host=127.0.0.1 port=5433 user=lease password='p@ss w' dbname=app".parse()?;
/// assert_eq!(leasecheck::database::url_of(&config),
///            "postgresql://lease:p%40ss%20w@127.0.0.1:5433/app?sslmode=disable");
/// let v6: postgres::Config = "host=::1 user=postgres dbname=postgres".parse()?;
/// assert_eq!(leasecheck::database::url_of(&v6),
///            "postgresql://postgres@[::1]/postgres?sslmode=disable");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn url_of(config: &postgres::Config) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    // Everything a URL gives a meaning to (and the space), nothing more:
    // a host or a name stays readable.
    const PART: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'&')
        .add(b'\'')
        .add(b'+')
        .add(b'/')
        .add(b':')
        .add(b';')
        .add(b'<')
        .add(b'=')
        .add(b'>')
        .add(b'?')
        .add(b'@')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    let enc = |s: &str| utf8_percent_encode(s, PART).to_string();
    let mut url = String::from("postgresql://");
    if let Some(user) = config.get_user() {
        url.push_str(&enc(user));
        if let Some(password) = config.get_password() {
            url.push(':');
            url.push_str(&percent_encoding::percent_encode(password, PART).to_string());
        }
        url.push('@');
    }
    let mut query = vec!["sslmode=disable".to_string()];
    match (config.get_hostaddrs().first(), config.get_hosts().first()) {
        (Some(std::net::IpAddr::V6(ip)), _) => url.push_str(&format!("[{ip}]")),
        (Some(ip), _) => url.push_str(&ip.to_string()),
        (None, Some(postgres::config::Host::Tcp(host))) => match host.parse::<std::net::Ipv6Addr>()
        {
            Ok(ip) => url.push_str(&format!("[{ip}]")),
            Err(_) => url.push_str(&enc(host)),
        },
        (None, Some(postgres::config::Host::Unix(path))) => {
            query.push(format!("host={}", enc(&path.to_string_lossy())));
        }
        (None, None) => {}
    }
    if let Some(port) = config.get_ports().first() {
        url.push_str(&format!(":{port}"));
    }
    url.push('/');
    if let Some(db) = config.get_dbname() {
        url.push_str(&enc(db));
    }
    if let Some(options) = config.get_options() {
        query.push(format!("options={}", enc(options)));
    }
    if let Some(timeout) = config.get_connect_timeout() {
        query.push(format!("connect_timeout={}", timeout.as_secs().max(1)));
    }
    url.push('?');
    url.push_str(&query.join("&"));
    url
}
