//! Recording histories: every call of every runner, on one clock.
//!
//! The [`Recorder`] reads the wall clock once, at the start of a run, and
//! from then on adds a monotonic clock's elapsed time to it: event times never
//! go backwards, and they sit on the same axis as the server's `now()` (same
//! machine, or a container sharing its kernel's clock).

use leasecheck_model::history::{Call, Event, History, Outcome};
use leasecheck_model::recording::{FaultWindow, Finding};
use leasecheck_model::{Candidate, Semantics, Time};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::input::Ttl;

/// The candidate id the harness's own calls (reset, age) are recorded under.
pub const HARNESS: Candidate = Candidate::HARNESS;

/// What a lease call returned: whether it took effect, and the server time it
/// wrote where the lease reports one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// True iff the call took effect.
    pub took_effect: bool,
    /// The server's `now()` the call wrote, where known.
    pub server_time: Option<Time>,
}

impl Reply {
    /// The reply of an operation that returns the server time it wrote
    /// (`None`: it did not take effect).
    pub fn written(server_time: Option<Time>) -> Reply {
        Reply {
            took_effect: server_time.is_some(),
            server_time,
        }
    }

    /// A harness call (reset, age) that took effect; it reports no server time.
    pub const DONE: Reply = Reply {
        took_effect: true,
        server_time: None,
    };
}

/// True iff a lease call returned and took effect (an error is not a success).
pub(crate) fn took_effect<E>(r: &Result<Reply, E>) -> bool {
    matches!(
        r,
        Ok(Reply {
            took_effect: true,
            ..
        })
    )
}

/// The history's record of a lease operation.
pub(crate) fn lease_call(op: leasecheck_model::Op) -> Call {
    Call::Lease { op }
}

/// The most events one scenario keeps (about 64 bytes each). A scenario
/// that records more is an error, never a history cut short.
pub const MAX_EVENTS: usize = 4_000_000;

/// Why a recorded history cannot be had whole: the scenario is then an
/// error (exit 2), never judged on what is left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A thread panicked while recording: events may be missing.
    #[error("a runner thread panicked while recording, so events may be missing from the history")]
    Poisoned,
    /// More events than [`MAX_EVENTS`].
    #[error("the history outgrew {limit} events (run fewer rounds, or --no-record)")]
    Full {
        /// The limit.
        limit: usize,
    },
}

/// Collects the events of a run; shared by all the runner's threads.
#[derive(Debug)]
pub struct Recorder {
    base: i64,
    start: Instant,
    enabled: bool,
    events: Mutex<Vec<Event>>,
    /// When the faults of the run were in force (drawn, never judged).
    faults: Mutex<Vec<FaultWindow>>,
    /// What the runner found violated, as it found it.
    findings: Mutex<Vec<Finding>>,
    /// An event was refused because `limit` was reached. (A poisoned lock
    /// needs no flag: it stays poisoned, and `history` sees it.)
    full: AtomicBool,
    limit: usize,
    ttl: Ttl,
    semantics: Semantics,
}

impl Recorder {
    /// A recorder for a run with this TTL; `enabled = false` only times calls.
    ///
    /// ```
    /// let rec = leasecheck::Recorder::new(leasecheck::Ttl::parse("1").unwrap(), true);
    /// assert!(rec.history().unwrap().events.is_empty());
    /// ```
    pub fn new(ttl: Ttl, enabled: bool) -> Recorder {
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Recorder {
            base,
            start: Instant::now(),
            enabled,
            events: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            findings: Mutex::new(Vec::new()),
            full: AtomicBool::new(false),
            limit: MAX_EVENTS,
            ttl,
            semantics: Semantics::REFERENCE,
        }
    }

    /// Record for a lease that declares `semantics` (the history carries
    /// them, and the checker judges by them).
    ///
    /// ```
    /// use leasecheck::model::Semantics;
    /// let lasting = Semantics { expiry: false, ..Semantics::REFERENCE };
    /// let rec = leasecheck::Recorder::new(leasecheck::Ttl::parse("1").unwrap(), true)
    ///     .with_semantics(lasting);
    /// assert_eq!(rec.history().unwrap().semantics, lasting);
    /// ```
    pub fn with_semantics(mut self, semantics: Semantics) -> Recorder {
        self.semantics = semantics;
        self
    }

    /// Keep at most `limit` events instead of [`MAX_EVENTS`]; one more makes
    /// the history an error.
    ///
    /// ```
    /// use leasecheck::model::history::{Call, Event, Outcome};
    /// use leasecheck::model::{Candidate, Time};
    /// use leasecheck::{RecordError, Recorder, Ttl};
    ///
    /// let rec = Recorder::new(Ttl::parse("1").unwrap(), true).with_limit(2);
    /// let event = Event { candidate: Candidate(1), call: Call::Reset, invoke: Time(5),
    ///                     complete: Time(9), server_time: None, outcome: Outcome::Ok };
    /// rec.push(event);
    /// rec.push(event);
    /// assert_eq!(rec.history().unwrap().events.len(), 2);
    /// rec.push(event);
    /// assert_eq!(rec.history().unwrap_err(), RecordError::Full { limit: 2 });
    /// ```
    pub fn with_limit(mut self, limit: usize) -> Recorder {
        self.limit = limit;
        self
    }

    /// Now, on the run's clock (microseconds since the Unix epoch).
    pub fn now(&self) -> Time {
        let elapsed = i64::try_from(self.start.elapsed().as_micros()).unwrap_or(i64::MAX);
        Time::from_micros(self.base.saturating_add(elapsed))
    }

    /// Time `f` as `call` by `who` and record it. An `Err` is recorded as an
    /// unknown outcome (the call may or may not have taken effect).
    pub fn call<E>(
        &self,
        who: Candidate,
        call: Call,
        f: impl FnOnce() -> Result<Reply, E>,
    ) -> (Result<Reply, E>, Event) {
        let invoke = self.now();
        let result = f();
        let complete = self.now();
        let (outcome, server_time) = match &result {
            Ok(r) if r.took_effect => (Outcome::Ok, r.server_time),
            Ok(r) => (Outcome::Fail, r.server_time),
            Err(_) => (Outcome::Unknown, None),
        };
        let event = Event {
            candidate: who,
            call,
            invoke,
            complete,
            server_time,
            outcome,
        };
        self.push(event);
        (result, event)
    }

    /// Record an event made elsewhere. An event that cannot be kept (a
    /// poisoned lock, a full buffer) makes [`Recorder::history`] an error.
    pub fn push(&self, event: Event) {
        if !self.enabled {
            return;
        }
        // A poisoned lock keeps the event out and stays poisoned: `history`
        // reports it.
        if let Ok(mut events) = self.events.lock() {
            if events.len() < self.limit {
                events.push(event);
            } else {
                self.full.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Note that `fault` was in force on `on` (everyone: `None`) from
    /// `start` until now. Fault windows are drawn, never judged.
    pub fn fault_window(&self, fault: &str, on: Option<Candidate>, start: Time) {
        if !self.enabled {
            return;
        }
        let end = self.now();
        if let Ok(mut faults) = self.faults.lock() {
            faults.push(FaultWindow {
                fault: fault.to_string(),
                on,
                start,
                end,
            });
        }
    }

    /// Keep a property the runner found violated, as soon as it is found
    /// (recording on or off): an error later in the scenario never loses
    /// it, and a proven violation stands (exit 1) beside that error.
    ///
    /// ```
    /// use leasecheck::model::check::Property;
    /// use leasecheck::model::recording::Finding;
    /// // recording off (--no-record): findings are kept all the same
    /// let rec = leasecheck::Recorder::new(leasecheck::Ttl::parse("1").unwrap(), false);
    /// rec.finding(Finding {
    ///     property: Property::P3TakeoverHappens,
    ///     message: "no standby won".into(),
    ///     events: vec![],
    /// });
    /// assert_eq!(rec.findings().len(), 1);
    /// assert!(rec.history().unwrap().events.is_empty());
    /// ```
    pub fn finding(&self, finding: Finding) {
        match self.findings.lock() {
            Ok(mut findings) => findings.push(finding),
            Err(poisoned) => poisoned.into_inner().push(finding),
        }
    }

    /// The runner's findings so far, in the order found.
    pub fn findings(&self) -> Vec<Finding> {
        match self.findings.lock() {
            Ok(findings) => findings.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The fault windows noted so far, in the order they ended.
    pub fn fault_windows(&self) -> Result<Vec<FaultWindow>, RecordError> {
        Ok(self
            .faults
            .lock()
            .map_err(|_| RecordError::Poisoned)?
            .clone())
    }

    /// The whole history so far, events in order of completion, or why it
    /// cannot be had whole.
    ///
    /// ```
    /// use leasecheck::model::history::{Call, Event, Outcome};
    /// use leasecheck::model::{Candidate, Time};
    ///
    /// let rec = leasecheck::Recorder::new(leasecheck::Ttl::parse("1").unwrap(), true);
    /// let event = Event { candidate: Candidate(1), call: Call::Reset, invoke: Time(5),
    ///                     complete: Time(9), server_time: None, outcome: Outcome::Ok };
    /// rec.push(event);
    /// assert_eq!(rec.history().unwrap().events, vec![event]);
    /// ```
    pub fn history(&self) -> Result<History, RecordError> {
        let events = self.events.lock().map_err(|_| RecordError::Poisoned)?;
        if self.full.load(Ordering::SeqCst) {
            return Err(RecordError::Full { limit: self.limit });
        }
        let mut events = events.clone();
        events.sort_by_key(|e| (e.complete, e.invoke));
        Ok(History {
            semantics: self.semantics,
            ttl: self.ttl.as_span(),
            events,
        })
    }

    /// The TTL of the run, as the model's span.
    pub fn ttl_span(&self) -> leasecheck_model::Span {
        self.ttl.as_span()
    }

    /// Whether events are kept.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
}
