//! `connection-stall`: a loopback TCP proxy the harness owns, in front of
//! the server, whose [`Hold`] guard stops every byte both ways.
//!
//! [`Proxy::start`] listens on `127.0.0.1:<free port>`. Every client
//! connection gets one upstream connection and two pump threads, one per
//! direction. [`Proxy::hold`] (or the guard [`Proxy::hold_guard`]) makes
//! every pump stop forwarding: a pump keeps at most one read buffer and then
//! reads nothing more, so nothing reaches the other side (TCP flow control
//! holds the rest in the kernel) until [`Proxy::release`]. A renew sent in
//! time therefore reaches the server late, and its answer reaches the client
//! late.
//!
//! Two more faults use the same proxy:
//!
//! - `connection-drop`: [`Proxy::cut_next_commit`] arms a one-shot cut. The
//!   pump from the server then reads the server's messages one reply at a
//!   time (up to each `ReadyForQuery`) and, at the first reply that ends a
//!   transaction (a `CommandComplete` followed by `ReadyForQuery` with status
//!   idle: the statement ran and committed), drops that reply and closes the
//!   connection both ways. The call took effect; the client only sees its
//!   connection die: an unknown outcome. A client that first asks for
//!   encryption (libpq's `sslmode=prefer`, JDBC's default) gets a one-byte
//!   answer before any message: the pump from the client reads the startup
//!   packets and tells the other pump to pass that byte on unframed. If the
//!   server agrees to encrypt (`S`, `G`), or the client starts with anything
//!   but the protocol's startup packets (TLS at once, say), the connection
//!   is never framed or cut, so a trial that needed a cut says it made none.
//! - `failover`: [`Proxy::switch_upstream`] points the proxy at another
//!   server and closes every open connection, so every client reconnects to
//!   the new one (what a virtual IP, DNS or a pooler does in production).
//!
//! Dropping the proxy (or [`Proxy::close`]) releases any hold, stops the
//! listener, shuts every connection down and joins every thread: a client
//! blocked on a held connection gets a connection error rather than hanging.
//!
//! ```no_run
//! use leasecheck::fault::Proxy;
//! let pg = leasecheck::Postgres::provision()?;
//! let proxy = Proxy::in_front_of(&pg.config())?;
//! let mut client = proxy.config_for(&pg.config()).connect(postgres::NoTls)?;
//! {
//!     let _hold = proxy.hold_guard();
//!     // a statement sent now reaches the server only when `_hold` drops
//! }
//! client.simple_query("SELECT 1")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{Fault, FaultError};
use crate::database::upstream_of;
use std::collections::HashMap;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

const FAULT: Fault = Fault::ConnectionStall;
/// How long opening an upstream connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Size of each pump's buffer.
const BUFFER: usize = 16 * 1024;

/// A loopback TCP proxy in front of one upstream server; see the module docs.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    gate: Mutex<Gate>,
    changed: Condvar,
    conns: Mutex<Conns>,
    /// Where new connections go ([`Proxy::switch_upstream`] changes it).
    upstream: Mutex<SocketAddr>,
    /// A cut is armed ([`Proxy::cut_next_commit`]).
    cut_armed: AtomicBool,
    /// How many replies were cut.
    cuts: AtomicUsize,
}

struct Gate {
    held: bool,
    closed: bool,
}

#[derive(Default)]
struct Conns {
    next: u64,
    /// Clones of each open connection's sockets (client, upstream), to shut
    /// them down on close.
    open: HashMap<u64, (TcpStream, Option<TcpStream>)>,
    threads: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Shut every connection of `conns` down (both sockets, both ways).
fn shut(conns: &Conns) {
    for (client, upstream) in conns.open.values() {
        let _ = client.shutdown(Shutdown::Both);
        if let Some(upstream) = upstream {
            let _ = upstream.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn closed(&self) -> bool {
        lock(&self.gate).closed
    }

    /// Block while held; `false` once the proxy is closed.
    fn wait_open(&self) -> bool {
        let mut gate = lock(&self.gate);
        while gate.held && !gate.closed {
            gate = self
                .changed
                .wait(gate)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !gate.closed
    }

    fn upstream(&self) -> SocketAddr {
        *lock(&self.upstream)
    }

    /// Shut every open connection down (both sockets, both ways).
    fn shut_all(&self) {
        shut(&lock(&self.conns));
    }

    fn spawned(&self, handle: JoinHandle<()>) {
        let mut conns = lock(&self.conns);
        conns.threads.retain(|h| !h.is_finished());
        conns.threads.push(handle);
    }
}

impl Proxy {
    /// Listen on `127.0.0.1:0` and forward every accepted connection to `upstream`.
    ///
    /// ```no_run
    /// use leasecheck::fault::Proxy;
    /// let proxy = Proxy::start("127.0.0.1:5432".parse()?)?;
    /// println!("connect to {}", proxy.addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start(upstream: SocketAddr) -> Result<Proxy, FaultError> {
        let io = |what: String| {
            move |source| FaultError::Io {
                fault: FAULT,
                what,
                source,
            }
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(io("cannot listen on 127.0.0.1".into()))?;
        let addr = listener
            .local_addr()
            .map_err(io("cannot read the listening address".into()))?;
        let shared = Arc::new(Shared {
            gate: Mutex::new(Gate {
                held: false,
                closed: false,
            }),
            changed: Condvar::new(),
            conns: Mutex::new(Conns::default()),
            upstream: Mutex::new(upstream),
            cut_armed: AtomicBool::new(false),
            cuts: AtomicUsize::new(0),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("proxy-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))
                .map_err(io("cannot start the proxy's accept thread".into()))?
        };
        tracing::info!(fault = %FAULT, %addr, %upstream, "proxy listening");
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// A proxy in front of the server `config` names (see [`upstream_of`](crate::database::upstream_of)).
    ///
    /// ```no_run
    /// use leasecheck::fault::Proxy;
    /// let config: postgres::Config = "postgres://postgres@127.0.0.1:5432/postgres".parse()?;
    /// let proxy = Proxy::in_front_of(&config)?;
    /// let through = proxy.config_for(&config);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn in_front_of(config: &postgres::Config) -> Result<Proxy, FaultError> {
        let upstream = upstream_of(config).map_err(|e| FaultError::Url {
            fault: FAULT,
            reason: e.0,
        })?;
        Proxy::start(upstream)
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server new connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.shared.upstream()
    }

    /// Forward new connections to `to` from now on, and close every open
    /// connection (their clients see a connection error and reconnect, to
    /// `to`).
    pub fn switch_upstream(&self, to: SocketAddr) {
        let conns = lock(&self.shared.conns);
        let from = std::mem::replace(&mut *lock(&self.shared.upstream), to);
        shut(&conns);
        drop(conns);
        tracing::info!(proxy = %self.addr, %from, %to, "switched upstream; closed every connection");
    }

    /// Arm a one-shot cut: the first reply that ends a transaction (see the
    /// module docs) is dropped and its connection closed. Idempotent.
    pub fn cut_next_commit(&self) {
        self.shared.cut_armed.store(true, Ordering::SeqCst);
        tracing::info!(fault = %Fault::ConnectionDrop, proxy = %self.addr, "armed: the next committed reply is cut");
    }

    /// Disarm a cut that has not happened yet.
    pub fn disarm(&self) {
        self.shared.cut_armed.store(false, Ordering::SeqCst);
    }

    /// How many replies were cut so far.
    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// Stop forwarding on every connection, both ways, until [`Proxy::release`].
    /// Idempotent: holding a held proxy changes nothing.
    ///
    /// Bytes a pump read before this call may still be delivered; bytes it
    /// reads after it are delivered only after the release, in order.
    pub fn hold(&self) {
        let mut gate = lock(&self.shared.gate);
        if gate.closed || gate.held {
            return;
        }
        gate.held = true;
        drop(gate);
        tracing::info!(fault = %FAULT, proxy = %self.addr, upstream = %self.shared.upstream(), "holding every connection");
    }

    /// Forward again, starting with whatever was held. Idempotent.
    pub fn release(&self) {
        let mut gate = lock(&self.shared.gate);
        if !gate.held {
            return;
        }
        gate.held = false;
        drop(gate);
        self.shared.changed.notify_all();
        tracing::info!(fault = %FAULT, proxy = %self.addr, upstream = %self.shared.upstream(), "released every connection");
    }

    /// Hold every connection until the returned guard is dropped (also while
    /// unwinding from a panic). Holds are not counted: dropping any guard
    /// releases the proxy.
    ///
    /// ```no_run
    /// # fn f(proxy: &leasecheck::fault::Proxy) {
    /// let hold = proxy.hold_guard();
    /// assert!(proxy.is_held());
    /// drop(hold);
    /// assert!(!proxy.is_held());
    /// # }
    /// ```
    #[must_use = "dropping the guard releases the connections at once"]
    pub fn hold_guard(&self) -> Hold<'_> {
        self.hold();
        Hold { proxy: self }
    }

    /// Whether the proxy is holding its connections.
    pub fn is_held(&self) -> bool {
        lock(&self.shared.gate).held
    }

    /// How many client connections are open (an upstream connection may
    /// still be in progress for some).
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.conns).open.len()
    }

    /// `config` pointed at this proxy: the same settings (user, password,
    /// database, application name, timeouts, TLS mode, ...) with the proxy's
    /// address as the only host.
    ///
    /// The proxy forwards to [`Proxy::upstream`] whatever server `config`
    /// named: passing the settings of the server the proxy fronts is the
    /// caller's part.
    ///
    /// ```no_run
    /// # let proxy = leasecheck::fault::Proxy::start("127.0.0.1:5432".parse()?)?;
    /// let config: postgres::Config = "postgres://app:secret@db.internal:5432/app".parse()?;
    /// let through = proxy.config_for(&config);
    /// assert_eq!(through.get_ports(), [proxy.addr().port()]);
    /// assert_eq!(through.get_user(), Some("app"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config_for(&self, config: &postgres::Config) -> postgres::Config {
        let mut out = postgres::Config::new();
        if let Some(user) = config.get_user() {
            out.user(user);
        }
        if let Some(password) = config.get_password() {
            out.password(password);
        }
        if let Some(dbname) = config.get_dbname() {
            out.dbname(dbname);
        }
        if let Some(options) = config.get_options() {
            out.options(options);
        }
        if let Some(name) = config.get_application_name() {
            out.application_name(name);
        }
        if let Some(timeout) = config.get_connect_timeout() {
            out.connect_timeout(*timeout);
        }
        if let Some(timeout) = config.get_tcp_user_timeout() {
            out.tcp_user_timeout(*timeout);
        }
        if let Some(interval) = config.get_keepalives_interval() {
            out.keepalives_interval(interval);
        }
        if let Some(retries) = config.get_keepalives_retries() {
            out.keepalives_retries(retries);
        }
        out.ssl_mode(config.get_ssl_mode())
            .ssl_negotiation(config.get_ssl_negotiation())
            .keepalives(config.get_keepalives())
            .keepalives_idle(config.get_keepalives_idle())
            .target_session_attrs(config.get_target_session_attrs())
            .channel_binding(config.get_channel_binding())
            .host(&self.addr.ip().to_string())
            .port(self.addr.port());
        out
    }

    /// Release any hold, stop listening, shut every connection down and wait
    /// for every thread to end. Dropping the proxy does the same.
    pub fn close(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        {
            let mut gate = lock(&self.shared.gate);
            if gate.closed {
                return;
            }
            gate.closed = true;
            gate.held = false;
        }
        self.shared.changed.notify_all();
        if let Some(acceptor) = self.acceptor.take() {
            // Wake the blocking accept; the acceptor sees `closed` and ends.
            match TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                Ok(_) => {
                    let _ = acceptor.join();
                }
                Err(e) => tracing::warn!(proxy = %self.addr, %e,
                    "cannot wake the proxy's accept thread; leaving it behind"),
            }
        }
        self.shared.shut_all();
        // Connection threads may still add pump threads while we join.
        loop {
            let threads = std::mem::take(&mut lock(&self.shared.conns).threads);
            if threads.is_empty() {
                break;
            }
            for thread in threads {
                let _ = thread.join();
            }
        }
        tracing::info!(fault = %FAULT, proxy = %self.addr, upstream = %self.shared.upstream(), "proxy closed");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream())
            .field("held", &self.is_held())
            .finish()
    }
}

/// A hold on every connection of a [`Proxy`], released when dropped.
#[derive(Debug)]
#[must_use = "dropping the guard releases the connections at once"]
pub struct Hold<'a> {
    proxy: &'a Proxy,
}

impl Hold<'_> {
    /// Release now (the same as dropping the guard).
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.proxy.release();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.closed() {
            break;
        }
        match incoming {
            Ok(client) => {
                let conn_shared = Arc::clone(&shared);
                let spawned = std::thread::Builder::new()
                    .name("proxy-conn".into())
                    .spawn(move || serve(client, conn_shared));
                match spawned {
                    Ok(handle) => shared.spawned(handle),
                    Err(e) => {
                        tracing::warn!(%e, "proxy: cannot start a connection thread; dropping the connection")
                    }
                }
            }
            Err(e)
                if e.kind() == ErrorKind::Interrupted
                    || e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => {
                tracing::warn!(%e, "proxy: accept failed");
                // Out of descriptors and the like: back off instead of spinning.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One client connection: connect upstream, then pump both ways.
fn serve(client: TcpStream, shared: Arc<Shared>) {
    // The upstream is read and the connection registered under one lock, as
    // `switch_upstream` switches and shuts down under it: a connection is
    // either shut by the switch or goes to the new upstream.
    let (id, upstream) = {
        let Ok(clone) = client.try_clone() else {
            return;
        };
        let mut conns = lock(&shared.conns);
        if shared.closed() {
            return;
        }
        conns.next += 1;
        let id = conns.next;
        conns.open.insert(id, (clone, None));
        (id, shared.upstream())
    };
    let forget = |shared: &Shared| {
        lock(&shared.conns).open.remove(&id);
    };
    let server = match TcpStream::connect_timeout(&upstream, CONNECT_TIMEOUT) {
        Ok(server) => server,
        Err(e) => {
            tracing::warn!(%upstream, %e, "proxy: cannot connect upstream; closing the client connection");
            let _ = client.shutdown(Shutdown::Both);
            forget(&shared);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(server_clone), Ok(server_reader), Ok(client_writer)) =
        (server.try_clone(), server.try_clone(), client.try_clone())
    else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
        forget(&shared);
        return;
    };
    {
        let mut conns = lock(&shared.conns);
        if shared.closed() {
            drop(conns);
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            forget(&shared);
            return;
        }
        if let Some(entry) = conns.open.get_mut(&id) {
            entry.1 = Some(server_clone);
        }
    }
    tracing::debug!(%upstream, id, "proxy: connection open");
    let pumps = Arc::new(AtomicUsize::new(2));
    let negotiation = Arc::new(Negotiation::default());
    let finish = {
        let shared = Arc::clone(&shared);
        let pumps = Arc::clone(&pumps);
        move || {
            if pumps.fetch_sub(1, Ordering::AcqRel) == 1 {
                lock(&shared.conns).open.remove(&id);
                tracing::debug!(id, "proxy: connection closed");
            }
        }
    };
    let back = {
        let shared = Arc::clone(&shared);
        let finish = finish.clone();
        let negotiation = Arc::clone(&negotiation);
        std::thread::Builder::new()
            .name("proxy-pump".into())
            .spawn(move || {
                pump(
                    server_reader,
                    client_writer,
                    &shared,
                    Way::Replies,
                    &negotiation,
                );
                finish();
            })
    };
    match back {
        Ok(handle) => shared.spawned(handle),
        Err(e) => {
            tracing::warn!(%e, "proxy: cannot start a pump thread; closing the connection");
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
            finish();
        }
    }
    pump(client, server, &shared, Way::Requests, &negotiation);
    finish();
}

/// The code of an `SSLRequest` startup packet.
const SSL_REQUEST: u32 = 80_877_103;
/// The code of a `GSSENCRequest` startup packet.
const GSSENC_REQUEST: u32 = 80_877_104;
/// The code of a `CancelRequest` packet.
const CANCEL_REQUEST: u32 = 80_877_102;
/// The protocol version 3.0 of a `StartupMessage`.
const PROTOCOL_3: u32 = 196_608;

/// A connection's encryption negotiation, between its two pumps: the
/// client's pump counts the requests for encryption it passes on, and the
/// server's pump passes each one-byte answer on unframed.
#[derive(Default)]
struct Negotiation {
    /// Answers the server owes (requests passed on, not yet answered).
    owed: AtomicUsize,
    /// Nothing after can be framed: the server agreed to encrypt, or the
    /// client opened with something the proxy cannot read.
    opaque: AtomicBool,
}

/// The client's startup packets, read until the `StartupMessage` (or a
/// `CancelRequest`): every `SSLRequest` and `GSSENCRequest` among them
/// is counted in [`Negotiation::owed`] before it is passed on.
#[derive(Default)]
struct Startup {
    packet: Vec<u8>,
    done: bool,
}

impl Startup {
    fn read(&mut self, mut bytes: &[u8], negotiation: &Negotiation) {
        while !self.done && !bytes.is_empty() {
            let want = 8 - self.packet.len().min(8);
            let take = want.min(bytes.len());
            self.packet.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.packet.len() < 8 {
                return;
            }
            let len = u32::from_be_bytes([
                self.packet[0],
                self.packet[1],
                self.packet[2],
                self.packet[3],
            ]);
            let code = u32::from_be_bytes([
                self.packet[4],
                self.packet[5],
                self.packet[6],
                self.packet[7],
            ]);
            if len == 8 && (code == SSL_REQUEST || code == GSSENC_REQUEST) {
                negotiation.owed.fetch_add(1, Ordering::SeqCst);
                self.packet.clear();
                continue;
            }
            if code != PROTOCOL_3 && code != CANCEL_REQUEST {
                // Not the protocol's startup (a TLS ClientHello sent at
                // once, another protocol version): leave it unread.
                negotiation.opaque.store(true, Ordering::SeqCst);
            }
            self.done = true;
        }
    }
}

/// Which way a pump copies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    /// Client to server.
    Requests,
    /// Server to client: where an armed cut happens.
    Replies,
}

/// The server's messages of one reply, read while a cut is armed: held back
/// until the reply's `ReadyForQuery`, then either passed on or cut.
#[derive(Default)]
struct Reply {
    pending: Vec<u8>,
    /// The last `CommandComplete` of this reply was not a `ROLLBACK`.
    completed: bool,
    /// An `ErrorResponse` came in this reply: its transaction did not commit.
    failed: bool,
    /// The stream did not frame as Postgres messages: pass everything on.
    unframed: bool,
}

/// What to do with the bytes read so far.
enum Step {
    /// Pass these bytes on (a whole reply, or bytes that are not framed).
    Forward(Vec<u8>),
    /// The reply ended a transaction: drop it and close the connection.
    Cut,
    /// Wait for more bytes.
    More,
}

impl Reply {
    /// Take in `bytes`; `armed` says whether a cut is still wanted.
    fn feed(&mut self, bytes: &[u8], take_cut: &dyn Fn() -> bool) -> Step {
        self.pending.extend_from_slice(bytes);
        if self.unframed {
            return match self.pending.is_empty() {
                true => Step::More,
                false => Step::Forward(std::mem::take(&mut self.pending)),
            };
        }
        let mut at = 0;
        while self.pending.len() >= at + 5 {
            let kind = self.pending[at];
            let len = u32::from_be_bytes([
                self.pending[at + 1],
                self.pending[at + 2],
                self.pending[at + 3],
                self.pending[at + 4],
            ]) as usize;
            if len < 4 {
                // Not the message stream we expected: stop framing for good.
                self.unframed = true;
                return Step::Forward(std::mem::take(&mut self.pending));
            }
            let end = at + 1 + len;
            if self.pending.len() < end {
                break;
            }
            match kind {
                // CommandComplete: the last one before ReadyForQuery says
                // whether the transaction ended in a ROLLBACK.
                b'C' => self.completed = !self.pending[at + 5..end].starts_with(b"ROLLBACK"),
                b'E' => self.failed = true,
                b'Z' => {
                    // ReadyForQuery, idle: no transaction is open any more.
                    let idle = self.pending.get(at + 5) == Some(&b'I');
                    if idle && self.completed && !self.failed && take_cut() {
                        return Step::Cut;
                    }
                    self.completed = false;
                    self.failed = false;
                    let rest = self.pending.split_off(end);
                    return Step::Forward(std::mem::replace(&mut self.pending, rest));
                }
                _ => {}
            }
            at = end;
        }
        Step::More
    }
}

/// Copy `from` to `to` until end of stream or an error, waiting at the gate
/// before every write (and before passing on the end of stream).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    shared: &Shared,
    way: Way,
    negotiation: &Negotiation,
) {
    let mut buf = vec![0u8; BUFFER];
    let mut reply: Option<Reply> = None;
    let mut startup = Startup::default();
    let take_cut = || {
        shared
            .cut_armed
            .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    };
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => {
                // Pass the half-close on, in order, after any held bytes
                // (and what an armed cut was reading: a FATAL error, say).
                if shared.wait_open() {
                    if let Some(framing) = reply.take() {
                        let _ = to.write_all(&framing.pending);
                    }
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut input = &buf[..n];
        match way {
            // Counted before the request reaches the server, so before
            // its answer can reach the other pump.
            Way::Requests => startup.read(input, negotiation),
            Way::Replies if negotiation.owed.load(Ordering::SeqCst) > 0 => {
                // The server answers a request for encryption before
                // anything else: one byte, `N` (no), `S` or `G` (yes), or an
                // ErrorResponse (a server too old to know the request),
                // which is a message and is framed as one.
                negotiation.owed.fetch_sub(1, Ordering::SeqCst);
                if matches!(input[0], b'N' | b'S' | b'G') {
                    if input[0] != b'N' {
                        negotiation.opaque.store(true, Ordering::SeqCst);
                    }
                    if !shared.wait_open() || to.write_all(&input[..1]).is_err() {
                        break;
                    }
                    input = &input[1..];
                    if input.is_empty() {
                        continue;
                    }
                }
            }
            Way::Replies => {}
        }
        let framed = way == Way::Replies && !negotiation.opaque.load(Ordering::SeqCst);
        if framed && (reply.is_some() || shared.cut_armed.load(Ordering::SeqCst)) {
            let framing = reply.get_or_insert_with(Reply::default);
            let mut failed = false;
            loop {
                match framing.feed(input, &take_cut) {
                    Step::Cut => {
                        shared.cuts.fetch_add(1, Ordering::SeqCst);
                        tracing::info!(fault = %Fault::ConnectionDrop,
                            "cut a connection after its transaction committed, before the reply");
                        failed = true;
                        break;
                    }
                    Step::More => break,
                    Step::Forward(bytes) => {
                        if !shared.wait_open() || to.write_all(&bytes).is_err() {
                            failed = true;
                            break;
                        }
                        input = &[];
                    }
                }
            }
            if failed {
                break;
            }
            if !framing.unframed
                && framing.pending.is_empty()
                && !shared.cut_armed.load(Ordering::SeqCst)
            {
                reply = None;
            }
            continue;
        }
        if !shared.wait_open() || to.write_all(input).is_err() {
            break;
        }
    }
    // An error or the proxy closing: end the whole connection, so the
    // other pump and both peers see it.
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
