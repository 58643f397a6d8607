//! The adapter protocol's lines, as data: what an adapter says first (its
//! [`Hello`]), what the harness asks ([`Request`]) and what the adapter
//! answers ([`Answer`]). Each is one JSON object on one line; the full
//! contract is docs/adapter-protocol.md.
//!
//! This module only reads and writes lines: it never starts a process and
//! never waits. Reading is strict (unknown fields, a wrong type, a second
//! object on the line are refused), so a typo in an adapter is a clear error
//! rather than a silently ignored field.

use leasecheck_model::Op;
use serde::{Deserialize, Serialize};

/// The protocol's name and version, as an adapter's hello must give it.
pub const PROTOCOL: &str = "leasecheck-adapter/1";

/// The longest line the harness reads from an adapter, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// An operation of the protocol: the three lease operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolOp {
    /// `try_acquire`: take a free or stale lease.
    TryAcquire,
    /// `renew`: extend the candidate's own tenure.
    Renew,
    /// `release`: give the lease up.
    Release,
}

impl From<Op> for ProtocolOp {
    fn from(op: Op) -> ProtocolOp {
        match op {
            Op::TryAcquire => ProtocolOp::TryAcquire,
            Op::Renew => ProtocolOp::Renew,
            Op::Release => ProtocolOp::Release,
        }
    }
}

impl From<ProtocolOp> for Op {
    fn from(op: ProtocolOp) -> Op {
        match op {
            ProtocolOp::TryAcquire => Op::TryAcquire,
            ProtocolOp::Renew => Op::Renew,
            ProtocolOp::Release => Op::Release,
        }
    }
}

/// The operations every adapter must support; `renew` too, unless the
/// lease declares it has none (`renew = false` under the spec's
/// `[semantics]`, checked by the subject that knows the spec).
pub const REQUIRED_OPS: [ProtocolOp; 2] = [ProtocolOp::TryAcquire, ProtocolOp::Release];

/// An adapter's first line: the protocol it speaks, the operations it
/// supports, and whether its lease returns fencing epochs.
///
/// ```
/// use leasecheck::adapter::Hello;
/// let hello = Hello::parse(r#"{"protocol":"leasecheck-adapter/1","ops":["try_acquire","renew","release"]}"#)?;
/// assert!(!hello.epoch);
/// # Ok::<(), leasecheck::adapter::LineError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hello {
    /// Must be [`PROTOCOL`].
    pub protocol: String,
    /// The operations the adapter supports (all of [`REQUIRED_OPS`], and
    /// `renew` where the lease has one).
    pub ops: Vec<ProtocolOp>,
    /// Whether a won `try_acquire` answers with the tenure's `epoch`.
    #[serde(default)]
    pub epoch: bool,
}

/// One call the harness asks of an adapter.
///
/// ```
/// use leasecheck::adapter::{ProtocolOp, Request};
/// let line = Request { id: 3, op: ProtocolOp::Renew }.to_line();
/// assert_eq!(line, r#"{"id":3,"op":"renew"}"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Counts up from 1 per adapter; the answer must carry it back.
    pub id: u64,
    /// The operation.
    pub op: ProtocolOp,
}

/// What an adapter answered to one [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The operation ran: `true` if it took effect (the lease was won,
    /// renewed, released), with the won tenure's epoch for a fenced lease.
    Done {
        /// Whether it took effect.
        ok: bool,
        /// The epoch of the tenure a `try_acquire` won.
        epoch: Option<u64>,
    },
    /// The operation failed and may or may not have taken effect (a lost
    /// connection, a server error): the adapter's message.
    Error(String),
}

/// An answer line as written: exactly one of `ok` and `error`.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AnswerLine {
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Why a line from an adapter was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not one JSON object of the expected shape.
    #[error("is not a valid {what}: {reason}")]
    Shape {
        /// What the line should have been (`hello`, `answer`).
        what: &'static str,
        /// serde_json's reason.
        reason: String,
    },
    /// Longer than [`MAX_LINE`].
    #[error("is longer than {MAX_LINE} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("is not UTF-8")]
    NotUtf8,
    /// A hello for another protocol or version.
    #[error("names protocol {}; leasecheck speaks \"leasecheck-adapter/1\"", quoted(.0))]
    Protocol(String),
    /// A hello without an operation every adapter must support.
    #[error("does not list {0:?} among its ops (try_acquire and release are required, and renew unless the spec declares renew = false)")]
    MissingOp(&'static str),
    /// An answer to another request than the one asked.
    #[error("answers request {got}, but request {expected} was asked")]
    WrongId {
        /// The id asked.
        expected: u64,
        /// The id answered.
        got: u64,
    },
    /// An answer with both or neither of `ok` and `error`.
    #[error("must have exactly one of \"ok\" and \"error\"")]
    OkOrError,
    /// An `epoch` where none belongs.
    #[error("carries an epoch, which only a won try_acquire of an adapter whose hello says \"epoch\": true may")]
    UnexpectedEpoch,
    /// A won `try_acquire` of a fenced adapter without its epoch.
    #[error("is a won try_acquire without the tenure's \"epoch\" (the adapter's hello says \"epoch\": true)")]
    MissingEpoch,
}

fn shape(what: &'static str) -> impl FnOnce(serde_json::Error) -> LineError {
    move |e| LineError::Shape {
        what,
        reason: e.to_string(),
    }
}

fn op_name(op: ProtocolOp) -> &'static str {
    match op {
        ProtocolOp::TryAcquire => "try_acquire",
        ProtocolOp::Renew => "renew",
        ProtocolOp::Release => "release",
    }
}

impl Hello {
    /// Read an adapter's first line.
    ///
    /// ```
    /// use leasecheck::adapter::Hello;
    /// let err = Hello::parse(r#"{"protocol":"leasecheck-adapter/1","ops":["renew"]}"#).unwrap_err();
    /// assert!(err.to_string().contains("try_acquire"));
    /// ```
    pub fn parse(line: &str) -> Result<Hello, LineError> {
        if line.len() > MAX_LINE {
            return Err(LineError::TooLong);
        }
        let hello: Hello = serde_json::from_str(line).map_err(shape("hello"))?;
        if hello.protocol != PROTOCOL {
            return Err(LineError::Protocol(hello.protocol));
        }
        if let Some(missing) = REQUIRED_OPS.into_iter().find(|op| !hello.ops.contains(op)) {
            return Err(LineError::MissingOp(op_name(missing)));
        }
        Ok(hello)
    }

    /// Whether the adapter says it serves `renew`.
    pub fn renews(&self) -> bool {
        self.ops.contains(&ProtocolOp::Renew)
    }

    /// The hello as one line (what an adapter writes first).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Request {
    /// The request as one line (without its newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Read a request (what an adapter does with each line it is sent).
    pub fn parse(line: &str) -> Result<Request, LineError> {
        serde_json::from_str(line).map_err(shape("request"))
    }

    /// Read the answer to this request: its id must match, and an `epoch`
    /// comes exactly with a won `try_acquire` of a fenced adapter
    /// (`epoch`: the adapter's hello said so).
    ///
    /// ```
    /// use leasecheck::adapter::{Answer, ProtocolOp, Request};
    /// let asked = Request { id: 1, op: ProtocolOp::TryAcquire };
    /// assert_eq!(asked.answer(r#"{"id":1,"ok":true}"#, false)?, Answer::Done { ok: true, epoch: None });
    /// assert!(asked.answer(r#"{"id":2,"ok":true}"#, false).is_err());
    /// # Ok::<(), leasecheck::adapter::LineError>(())
    /// ```
    pub fn answer(&self, line: &str, epoch: bool) -> Result<Answer, LineError> {
        if line.len() > MAX_LINE {
            return Err(LineError::TooLong);
        }
        let a: AnswerLine = serde_json::from_str(line).map_err(shape("answer"))?;
        if a.id != self.id {
            return Err(LineError::WrongId {
                expected: self.id,
                got: a.id,
            });
        }
        match (a.ok, a.error) {
            (Some(ok), None) => {
                let won_fenced = epoch && ok && self.op == ProtocolOp::TryAcquire;
                match (won_fenced, a.epoch) {
                    (true, None) => Err(LineError::MissingEpoch),
                    (false, Some(_)) => Err(LineError::UnexpectedEpoch),
                    (_, epoch) => Ok(Answer::Done { ok, epoch }),
                }
            }
            (None, Some(message)) if a.epoch.is_none() => Ok(Answer::Error(message)),
            (None, Some(_)) => Err(LineError::UnexpectedEpoch),
            _ => Err(LineError::OkOrError),
        }
    }
}

impl Answer {
    /// The answer to request `id` as one line (what an adapter writes).
    ///
    /// ```
    /// use leasecheck::adapter::Answer;
    /// assert_eq!(Answer::Error("server closed the connection".into()).to_line(4),
    ///            r#"{"id":4,"error":"server closed the connection"}"#);
    /// ```
    pub fn to_line(&self, id: u64) -> String {
        let line = match self {
            Answer::Done { ok, epoch } => AnswerLine {
                id,
                ok: Some(*ok),
                epoch: *epoch,
                error: None,
            },
            Answer::Error(message) => AnswerLine {
                id,
                ok: None,
                epoch: None,
                error: Some(message.clone()),
            },
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// `line` quoted for a message: a JSON string, cut at 300 characters.
pub(super) fn quoted(line: &str) -> String {
    let cut: String = line.chars().take(300).collect();
    let mut q = serde_json::to_string(&cut).unwrap_or_default();
    if cut.len() < line.len() {
        q.push_str(" (cut)");
    }
    q
}
