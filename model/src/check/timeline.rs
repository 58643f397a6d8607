//! Timelines: the events of a window (a violation's, say) as structured rows,
//! with the holder that the `Ok` calls imply so far.
//!
//! A [`Timeline`] is data: times are whole microseconds relative to the first
//! invoke shown, and its `Display` is one rendering of it (the table the
//! reports print, in milliseconds). Building one never judges the history
//! (that is the checker's job), never reads a clock, and never drops or
//! reorders an event of the window other than sorting by invoke.

use super::ms;
use crate::candidate::Candidate;
use crate::history::{Call, History, Outcome};
use crate::op::Op;
use serde::Serialize;
use std::fmt::{self, Write as _};

/// The events of a window of a history, sorted by invoke, relative to the
/// first invoke shown. `Display` renders the text table of the reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The history's TTL, in microseconds.
    pub ttl: i64,
    /// The origin: the first invoke shown, in microseconds on the history's
    /// clock (0 when no row is shown). Every time of a row is relative to it.
    pub t0: i64,
    /// One row per event, sorted by invoke (then by index), each event once.
    pub rows: Vec<TimelineRow>,
}

/// One event of a [`Timeline`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineRow {
    /// The event's index into `history.events`.
    pub event: usize,
    /// When the call was made, in microseconds after [`Timeline::t0`].
    pub invoke: i64,
    /// When it returned, in microseconds after [`Timeline::t0`].
    pub complete: i64,
    /// The server's `now()` that the call wrote, in microseconds after
    /// [`Timeline::t0`], where known.
    pub server: Option<i64>,
    /// The caller (the harness for resets and ages, the actor for actions).
    pub candidate: Candidate,
    /// The caller's display name: `"c3"`, or `"harness"`.
    pub who: String,
    /// What was called: a lease operation, a reset, an age (with `by` in
    /// microseconds) or an action (with its epoch and `seq` where known).
    /// Serialized flat, as in a history's JSON lines (`"call":"lease",
    /// "op":"try_acquire"`).
    #[serde(flatten)]
    pub call: Call,
    /// What came back.
    pub outcome: TimelineOutcome,
    /// The holder implied by the `Ok` calls of the rows so far, this one
    /// included.
    pub holder: Holder,
}

/// The outcome of a [`TimelineRow`]: the event's [`Outcome`], with a failed
/// action told apart as refused by the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineOutcome {
    /// The call returned true; an action was accepted.
    Ok,
    /// A lease call, reset or age returned false.
    Fail,
    /// The resource refused an action (a fence saw an older epoch).
    Refused,
    /// The connection broke mid-call: it may or may not have taken effect.
    Unknown,
}

impl TimelineOutcome {
    /// The outcome of an event with `call` that came back `outcome`.
    fn of(call: Call, outcome: Outcome) -> TimelineOutcome {
        match (outcome, call) {
            (Outcome::Ok, _) => TimelineOutcome::Ok,
            (Outcome::Fail, Call::Action { .. }) => TimelineOutcome::Refused,
            (Outcome::Fail, _) => TimelineOutcome::Fail,
            (Outcome::Unknown, _) => TimelineOutcome::Unknown,
        }
    }

    /// `"ok"`, `"fail"`, `"refused"` or `"unknown"` (also the `Display`).
    pub fn name(self) -> &'static str {
        match self {
            TimelineOutcome::Ok => "ok",
            TimelineOutcome::Fail => "fail",
            TimelineOutcome::Refused => "refused",
            TimelineOutcome::Unknown => "unknown",
        }
    }
}

impl fmt::Display for TimelineOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Who holds the lease as far as the `Ok` calls read so far say: an `Ok`
/// `try_acquire` or `renew` makes its caller the holder, an `Ok` `release`
/// or reset frees the lease, and nothing else changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// No row so far says (`?`).
    Unknown,
    /// The lease is free (`free`).
    Free,
    /// This candidate holds it (`c3`).
    Candidate(Candidate),
}

impl Holder {
    /// The holder after the event `call` by `candidate` came back `outcome`.
    fn after(self, candidate: Candidate, call: Call, outcome: Outcome) -> Holder {
        if outcome != Outcome::Ok {
            return self;
        }
        match call {
            Call::Lease {
                op: Op::TryAcquire | Op::Renew,
            } => Holder::Candidate(candidate),
            Call::Lease { op: Op::Release } | Call::Reset => Holder::Free,
            _ => self,
        }
    }
}

/// `?`, `free`, or the candidate's name (`c3`, `harness`).
impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Unknown => f.pad("?"),
            Holder::Free => f.pad("free"),
            Holder::Candidate(c) => f.pad(&c.to_string()),
        }
    }
}

/// The events of `window` (indices into `history.events`; out-of-range ones
/// are skipped, repeated ones shown once) as a [`Timeline`]: sorted by
/// invoke, times relative to the first invoke shown, and the holder implied
/// by the `Ok` calls read in that order (unknown until one says).
///
/// Its `Display` is a short human-readable table, in milliseconds. An action
/// shows as `act` with its epoch and resource `seq` where known; a refused
/// one as `refused`.
///
/// ```
/// use leasecheck_model::check::{timeline, Holder, TimelineOutcome};
/// use leasecheck_model::history::{Call, Event, History, Outcome};
/// use leasecheck_model::{Candidate, Op, Span, Time};
///
/// let h = History {
///     semantics: Default::default(),
///     ttl: Span::from_secs(10),
///     events: vec![Event {
///         candidate: Candidate(3),
///         call: Call::Lease { op: Op::TryAcquire },
///         invoke: Time(1_000),
///         complete: Time(1_500),
///         server_time: Some(Time(1_200)),
///         outcome: Outcome::Ok,
///     }],
/// };
/// let t = timeline(&h, &[0]);
/// assert_eq!((t.ttl, t.t0), (10_000_000, 1_000));
/// let row = &t.rows[0];
/// assert_eq!((row.invoke, row.complete, row.server), (0, 500, Some(200)));
/// assert_eq!(row.outcome, TimelineOutcome::Ok);
/// assert_eq!(row.holder, Holder::Candidate(Candidate(3)));
/// let table = t.to_string();
/// assert!(table.contains("c3"));
/// assert!(table.contains("try_acquire"));
/// ```
pub fn timeline(history: &History, window: &[usize]) -> Timeline {
    let mut shown: Vec<usize> = window
        .iter()
        .copied()
        .filter(|&i| i < history.events.len())
        .collect();
    shown.sort_by_key(|&i| (history.events[i].invoke, i));
    shown.dedup();
    let t0 = shown
        .iter()
        .map(|&i| history.events[i].invoke.0)
        .min()
        .unwrap_or(0);
    let mut holder = Holder::Unknown;
    let rows = shown
        .into_iter()
        .map(|i| {
            let e = &history.events[i];
            holder = holder.after(e.candidate, e.call, e.outcome);
            TimelineRow {
                event: i,
                // (saturating: a file can hold any i64, and a report must
                // never panic on one)
                invoke: e.invoke.0.saturating_sub(t0),
                complete: e.complete.0.saturating_sub(t0),
                server: e.server_time.map(|t| t.0.saturating_sub(t0)),
                candidate: e.candidate,
                who: e.candidate.to_string(),
                call: e.call,
                outcome: TimelineOutcome::of(e.call, e.outcome),
                holder,
            }
        })
        .collect();
    Timeline {
        ttl: history.ttl.as_micros(),
        t0,
        rows,
    }
}

/// The call column of the table: `try_acquire`, `reset`, `age 5000.000`,
/// `act epoch=2 seq=7`.
fn call_words(call: Call) -> String {
    match call {
        Call::Lease { op } => op.name().to_string(),
        Call::Reset => "reset".to_string(),
        Call::SessionEnd => "session ended".to_string(),
        Call::Age { by } => format!("age {}", ms(by.as_micros())),
        Call::Action { epoch, seq } => {
            let mut words = "act".to_string();
            if let Some(epoch) = epoch {
                let _ = write!(words, " epoch={epoch}");
            }
            if let Some(seq) = seq {
                let _ = write!(words, " seq={seq}");
            }
            words
        }
    }
}

/// The table: a header line with the TTL and the origin, a line of column
/// names, then one line per row (times in milliseconds after the origin).
impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "TTL {} ms; times in ms after {} µs (the first invoke shown)",
            ms(self.ttl),
            self.t0
        )?;
        writeln!(
            f,
            "{:>8} {:>11} {:>11} {:>11}  {:<9} {:<20} {:<8} holder",
            "event", "invoke", "complete", "server", "who", "call", "outcome"
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:>8} {:>11} {:>11} {:>11}  {:<9} {:<20} {:<8} {}",
                format!("#{}", row.event),
                ms(row.invoke),
                ms(row.complete),
                row.server.map_or_else(|| "-".to_string(), ms),
                row.who,
                call_words(row.call),
                row.outcome,
                row.holder
            )?;
        }
        Ok(())
    }
}
