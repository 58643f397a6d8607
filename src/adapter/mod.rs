//! The adapter protocol: how leasecheck checks a lease written in any
//! language, as a black box. Each candidate is one OS process (the user's
//! `--exec` command) that speaks JSON lines on stdin/stdout, the way
//! Maelstrom drives a binary; stderr is its log, kept for messages. The
//! contract is docs/adapter-protocol.md.
//!
//! - `protocol`: the lines ([`Hello`], [`Request`], [`Answer`]), read
//!   strictly; pure, and fuzzed (`fuzz/fuzz_targets/adapter_line.rs`).
//! - `command`: the `--exec` command and the environment of each
//!   candidate ([`Candidacy`]).
//! - `process`: one running adapter ([`AdapterProcess`]): a deadline on
//!   every line it owes, paused as a whole, killed and reaped on drop.
//! - `error`: [`AdapterError`], an adapter that broke the protocol.
//!
//! The lease side, [`ExecLease`](crate::lease::ExecLease), turns answers
//! into outcomes, and [`serve`](crate::lease::serve) is the reference
//! adapter (`leasecheck adapter --spec FILE`); this module knows nothing of
//! leases and never judges an outcome.

mod command;
mod error;
mod process;
mod protocol;

pub use command::{env, AdapterCommand, Candidacy};
pub use error::{AdapterError, StderrTail};
pub use process::{AdapterProcess, Breakage, TAIL_LINES};
pub use protocol::{
    Answer, Hello, LineError, ProtocolOp, Request, MAX_LINE, PROTOCOL, REQUIRED_OPS,
};
