//! Histories: what a run observed, one event per call.
//!
//! Times are microseconds on ONE clock for the whole run, aligned with the
//! server's clock: the recorder takes the wall-clock time once at the start of
//! the run and adds a monotonic clock's elapsed time to it, so `invoke` and
//! `complete` never go backwards and a server timestamp (`now()` of the
//! statement, which Postgres takes at transaction start) normally falls
//! between them.
//!
//! This module only records and stores what was observed: it never judges a
//! history (that is [`check`](crate::check)'s job) and never reorders its
//! events.
//!
//! # JSON lines
//!
//! [`History::write_jsonl`] and [`History::read_jsonl`] store a history as
//! UTF-8 text, one JSON object per line:
//!
//! - line 1, the header: `{"ttl":10000000}` (the TTL in microseconds, > 0);
//! - then one line per [`Event`], in the order of [`History::events`], in the
//!   shape serde gives an `Event` (so `serde_json::to_string(&event)` writes
//!   the same line and `serde_json::from_str` reads it back):
//!
//! ```text
//! {"ttl":10000000}
//! {"candidate":0,"call":"reset","invoke":100,"complete":140,"outcome":"ok"}
//! {"candidate":3,"call":"lease","op":"try_acquire","invoke":150,"complete":420,"server_time":201,"outcome":"ok"}
//! {"candidate":5,"call":"lease","op":"try_acquire","invoke":152,"complete":431,"outcome":"fail"}
//! {"candidate":0,"call":"age","by":10000001,"invoke":500,"complete":530,"outcome":"ok"}
//! ```
//!
//! Fields: `candidate` (0..=65535; the harness's own id for `reset` and
//! `age`), `call` (`"lease"`, `"reset"`, `"age"` or `"action"`), `op` for a
//! lease call (`"try_acquire"`, `"renew"`, `"release"`), `by` for `age`
//! (microseconds), `invoke` and `complete` (microseconds, `complete >=
//! invoke`), `server_time` (microseconds, absent or `null` when unknown) and
//! `outcome` (`"ok"`, `"fail"`, `"unknown"`). Every time is an integer.
//! Readers skip blank lines and ignore unknown keys; an error names the
//! 1-based line.
//!
//! ## Actions
//!
//! An `"action"` line is a leader's write to the resource its leadership
//! protects (P8: a deposed leader must not write), by `candidate` (the actor), with
//! two optional fields: `epoch`, the fencing epoch of the tenure the actor
//! acted for (its lease's, when the lease has one), and `seq`, the position
//! of the write in the resource's own order of accepted writes (1, 2, ...),
//! where the resource reports one. `outcome` is `"ok"` (the resource accepted
//! the write), `"fail"` (it refused it: a fence saw an older epoch) or
//! `"unknown"`. The actor's tenure is the epoch when there is one, and is
//! also derived from the actor's own lease calls by the checker.
//!
//! ```text
//! {"candidate":1,"call":"action","epoch":7,"seq":12,"invoke":900,"complete":960,"outcome":"ok"}
//! {"candidate":0,"call":"action","epoch":6,"invoke":1000,"complete":1050,"outcome":"fail"}
//! ```
//!
//! Action lines were added with fencing; a history without them reads and
//! checks exactly as before, and every line above is unchanged.
//!
//! ## Several scenarios in one file
//!
//! A whole run (`--history FILE`) records every scenario in a section of its
//! own, each opened by a scenario header: see the recording module, which
//! reads both forms (and so `History::read_jsonl`). A file in the form
//! above is one such section.

use crate::candidate::Candidate;
use crate::op::Op;
use crate::semantics::Semantics;
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Write};

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call returned true: it took effect.
    Ok,
    /// The call returned false: it did not take effect.
    Fail,
    /// The connection broke mid-call: it may or may not have taken effect.
    Unknown,
}

/// What was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// A lease operation by a candidate.
    Lease {
        /// The operation.
        op: Op,
    },
    /// The harness made the lease free (between rounds).
    Reset,
    /// The server ended the caller's session (its backend terminated, its
    /// connection closed): whatever the lease kept with the session (a
    /// session advisory lock) may be gone with it, and a lease kept in a
    /// row is untouched. Recorded by the harness, on the lane of the
    /// candidate whose session ended; the checker lets the caller's lease
    /// be freed at that moment or stay as it was (it cannot tell which the
    /// lease does), so a lease that wrongly loses its row lease there is
    /// missed, never one wrongly accused.
    SessionEnd,
    /// The harness made the current tenure look older by `by` (simulated time).
    Age {
        /// How much older.
        by: Span,
    },
    /// A leader's write to the protected resource (not a lease call): `Ok` it
    /// was accepted, `Fail` the resource refused it, `Unknown` either.
    Action {
        /// The fencing epoch the actor carried, when its lease has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        epoch: Option<u64>,
        /// The write's position in the resource's own order of accepted
        /// writes, when known (accepted writes only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
    },
}

/// One call: who, what, when, and what came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The caller (for `Reset` and `Age`, the harness's own id; for `Action`, the actor).
    pub candidate: Candidate,
    /// What was called.
    #[serde(flatten)]
    pub call: Call,
    /// When the call was made.
    pub invoke: Time,
    /// When it returned (or failed).
    pub complete: Time,
    /// The server's `now()` that the call wrote, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<Time>,
    /// What it returned.
    pub outcome: Outcome,
}

/// A whole run's history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The rules the lease declared (the reference's unless a spec file said
    /// otherwise): the checker judges P6 and P7 by them.
    pub semantics: Semantics,
    /// The TTL the lease ran with.
    pub ttl: Span,
    /// The events in the order they completed.
    pub events: Vec<Event>,
}

impl History {
    /// Write the history as JSON lines: a header line `{"ttl":<micros>}`, then
    /// one line per event, in the order of [`History::events`].
    ///
    /// The output is buffered internally and flushed before returning.
    ///
    /// ```
    /// use leasecheck_model::history::{Call, Event, History, Outcome};
    /// use leasecheck_model::{Candidate, Op, Span, Time};
    ///
    /// let h = History {
    ///     semantics: Default::default(),
    ///     ttl: Span::from_secs(10),
    ///     events: vec![Event {
    ///         candidate: Candidate(1),
    ///         call: Call::Lease { op: Op::TryAcquire },
    ///         invoke: Time(0),
    ///         complete: Time(9),
    ///         server_time: Some(Time(4)),
    ///         outcome: Outcome::Ok,
    ///     }],
    /// };
    /// let mut out = Vec::new();
    /// h.write_jsonl(&mut out).unwrap();
    /// assert_eq!(
    ///     String::from_utf8(out.clone()).unwrap(),
    ///     "{\"ttl\":10000000}\n\
    ///      {\"candidate\":1,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":0,\"complete\":9,\"server_time\":4,\"outcome\":\"ok\"}\n"
    /// );
    /// assert_eq!(History::read_jsonl(&out[..]).unwrap(), h);
    /// ```
    pub fn write_jsonl(&self, w: impl Write) -> io::Result<()> {
        let mut w = io::BufWriter::new(w);
        serde_json::to_writer(
            &mut w,
            &Header {
                ttl: self.ttl,
                semantics: self.semantics,
            },
        )?;
        w.write_all(b"\n")?;
        for e in &self.events {
            serde_json::to_writer(&mut w, e)?;
            w.write_all(b"\n")?;
        }
        w.flush()
    }
}

/// The first line of a JSON-lines history (also read by the recording
/// module, which reads whole runs).
#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) ttl: Span,
    #[serde(default, skip_serializing_if = "Semantics::is_reference")]
    pub(crate) semantics: Semantics,
}

/// Why a JSON-lines history could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum HistoryError {
    /// Reading failed.
    Io {
        /// The 1-based line being read.
        line: usize,
        /// The underlying error.
        source: io::Error,
    },
    /// The line is not a JSON object of the right shape (serde_json says what is missing or wrong).
    Syntax {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The line is a JSON object but not a valid header or event.
    Invalid {
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The input has no header line (it is empty or blank).
    MissingHeader,
    /// The file opens with a file header but ends before its closing line:
    /// it was cut short.
    CutShort {
        /// The last line read.
        line: usize,
    },
    /// The file records several scenarios (read it as a recording: see the
    /// recording module).
    Scenarios {
        /// How many.
        count: usize,
    },
}

impl HistoryError {
    /// The 1-based number of the offending line, if there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            HistoryError::Io { line, .. }
            | HistoryError::Syntax { line, .. }
            | HistoryError::Invalid { line, .. }
            | HistoryError::CutShort { line } => Some(*line),
            HistoryError::MissingHeader | HistoryError::Scenarios { .. } => None,
        }
    }
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io { line, source } => write!(f, "line {line}: read error: {source}"),
            HistoryError::Syntax { line, message } => {
                write!(f, "line {line}: not a JSON object: {message}")
            }
            HistoryError::Invalid { line, message } => write!(f, "line {line}: {message}"),
            HistoryError::MissingHeader => {
                f.write_str(
                "empty history: expected a header line ({\"scenario\": ..., \"ttl\": <micros>} or {\"ttl\": <micros>})",
            )
            }
            HistoryError::CutShort { line } => write!(
                f,
                "line {line}: the file ends without its closing line \
                 {{\"end\":\"leasecheck-history\",...}}: it was cut short \
                 (an interrupted write or copy), so it is not judged"
            ),
            HistoryError::Scenarios { count } => write!(
                f,
                "the file records {count} scenarios; one history was expected"
            ),
        }
    }
}

impl std::error::Error for HistoryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HistoryError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
