//! Recordings: what a whole run observed, one section per scenario, in one
//! JSON-lines file (`leasecheck ... --history FILE`).
//!
//! A battery runs its scenarios one after another, each against a fresh
//! schema, with its own resets and its own candidates. Their histories must
//! never be judged as one: candidate 3 of a race and candidate 3 of a
//! takeover are different actors on different rows. So a recording keeps
//! every scenario in a [`Section`] of its own, opened by a header line that
//! says what ran and how it is to be judged, and `leasecheck check-history`
//! judges each section alone, exactly as the run judged it.
//!
//! # The file, line by line
//!
//! UTF-8 text, one JSON object per line; blank lines are skipped and
//! unknown keys ignored; an error names the 1-based line. A line's kind is
//! told by its keys:
//!
//! - the **file header** (optional, first line only):
//!   `{"format":"leasecheck-history","version":4,"seed":7,"replay":"leasecheck check --seed 7"}`:
//!   the run's seed and the command that replays it;
//! - a **scenario header** (`"scenario"`) opens a section:
//!   `{"scenario":"takeover/client-pause","lease":"reference lease (built-in)","ttl":200000,"schema":"leasecheck_1f2e","fault":"client-pause","seed":7,"stale_writes":"violation","events":101,"findings":0}`.
//!   `ttl` (microseconds, > 0) is required; `semantics` (since version 4)
//!   is the lease's declared rules, `{"reentrant_acquire":true,...}`,
//!   absent for the reference's, and the checker judges by it; `lease`, `schema`, `fault` and
//!   `seed` are informational; `stale_writes` is how a zombie's stale writes
//!   are judged: `"violation"` (the default) or `"informational"` (the run
//!   was `leasecheck check` on a lease without fencing epochs); `events`
//!   and `findings`, where present, are how many lines of each the section
//!   holds, and a section holding another number is refused (the file was
//!   cut or edited);
//! - an **event** (`"call"`): one call of the section, in the shape of
//!   [`Event`] (see [`crate::history`]);
//! - a **finding** (`"finding"`): a property the scenario's runner found
//!   violated by what it saw while running (P1 in a race round, P3 against
//!   its deadline, P4, P5, epochs), with its message and the events that
//!   show it:
//!   `{"finding":"P3","message":"no standby won within 0.45 s","events":[{...event...}]}`;
//! - an **abort** (`"aborted"`): the scenario could not be done and has no
//!   verdict of its own: `{"aborted":"error","reason":"cannot reset: ..."}`
//!   (`"error"`, `"not_applicable"` or `"interrupted"`);
//! - a **fault window** (`"fault"`, since version 3): when a fault the
//!   harness injected was in force, and on whom:
//!   `{"fault":"client-pause","on":0,"from":1700000000100000,"until":1700000000700000}`
//!   (`on` the candidate it stalled; absent when it stalled everyone, as
//!   `database-pause` and `row-lock` do; `from <= until`, microseconds on
//!   the events' clock). Fault windows are for pictures and readers: no
//!   verdict reads them. A header's `faults`, where present, counts them;
//! - **unchecked** (`"unchecked"`, since version 3): the scenario ran to the
//!   end without checking what it exists to check:
//!   `{"unchecked":"no round of the trial staged a zombie, ..."}`. Its
//!   events are judged all the same; if they show no violation the
//!   scenario is an error (exit 2), never a pass.
//!
//! - the **closing line**: `{"end":"leasecheck-history","sections":2}`,
//!   last. A file that opens with a file header must end with it: a file
//!   cut short (an interrupted write or copy) is refused, never judged on
//!   what is left (missing scenarios could hide a violation, missing events
//!   could invent one).
//!
//! A file whose first line is `{"ttl":<micros>}` (the format before
//! scenario headers, and [`History::write_jsonl`]'s) is one section named
//! `history`, judged with the defaults.
//!
//! # What the offline verdict re-derives
//!
//! The checker's properties (P6, P7, and P8 on actions) are judged again
//! from the events. A runner's findings depend on what it knew while it ran
//! (when a fault began, its deadline) and are carried as recorded. Judging a
//! section therefore gives the verdict the run gave, and a newer checker can
//! re-judge old files.

use crate::candidate::Candidate;
use crate::check::Property;
use crate::history::{Call, Event, History, HistoryError, Outcome};
use crate::op::Op;
use crate::semantics::Semantics;
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Write};

/// The `format` value of a recording's file header.
pub const FORMAT: &str = "leasecheck-history";

/// The version of the format written by [`Recording::write_jsonl`].
pub const VERSION: u32 = 4;

/// A whole run's recording: its sections, scenario after scenario.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recording {
    /// The run's seed, where known.
    pub seed: Option<u64>,
    /// The command that replays the run, where known.
    pub replay: Option<String>,
    /// One per scenario, in the order they ran.
    pub sections: Vec<Section>,
}

/// One scenario's part of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// What ran, and how it is judged.
    pub header: SectionHeader,
    /// Its events (with the TTL it ran with).
    pub history: History,
    /// What its runner found violated while running.
    pub findings: Vec<Finding>,
    /// Why it could not be done, if it could not.
    pub aborted: Option<Aborted>,
    /// When the faults it injected were in force (never judged).
    pub faults: Vec<FaultWindow>,
    /// Why it ran to the end without checking what it exists to check (a
    /// zombie trial that never staged a zombie). Its events are judged all
    /// the same; if they show no violation, the scenario is an error, never
    /// a pass.
    pub unchecked: Option<String>,
}

/// When an injected fault was in force, and on whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The fault's name (`client-pause`, ...).
    pub fault: String,
    /// The candidate it stalled; `None` when it stalled everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Candidate>,
    /// When it began, on the events' clock (`"from"` in the file).
    #[serde(rename = "from")]
    pub start: Time,
    /// When it was undone (`"until"` in the file).
    #[serde(rename = "until")]
    pub end: Time,
}

/// A scenario header: the name of what ran and the options it is judged with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionHeader {
    /// The scenario's name in reports (`race`, `takeover/client-pause`, ...).
    pub scenario: String,
    /// The lease under test, as the report names it.
    pub lease: Option<String>,
    /// The schema it ran in.
    pub schema: Option<String>,
    /// The fault it injected.
    pub fault: Option<String>,
    /// The run's seed.
    pub seed: Option<u64>,
    /// How stale writes (P8) are judged.
    pub stale_writes: StaleWrites,
}

/// How a section's stale writes (actions of a deposed leader, P8) are judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaleWrites {
    /// Each one is a P8 violation.
    #[default]
    Violation,
    /// They are counted, not violations: `leasecheck check` on a lease
    /// without fencing epochs (no lease alone can prevent them).
    Informational,
}

/// A property a runner found violated, with the events that show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Which property.
    pub property: Property,
    /// What happened, in one sentence.
    pub message: String,
    /// The events involved.
    pub events: Vec<Event>,
}

/// Why a scenario has no verdict of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aborted {
    /// How it ended.
    pub kind: AbortKind,
    /// Why, in words.
    pub reason: String,
}

/// How a scenario that could not be done ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AbortKind {
    /// It failed (exit 2).
    Error,
    /// It does not apply here (`n/a`, with the reason).
    NotApplicable,
    /// Ctrl-C.
    Interrupted,
}

#[derive(Serialize, Deserialize)]
struct FileHeader {
    format: String,
    #[serde(default)]
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replay: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct EndLine {
    end: String,
    sections: usize,
}

#[derive(Serialize, Deserialize)]
struct HeaderLine {
    scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease: Option<String>,
    ttl: Span,
    #[serde(default, skip_serializing_if = "Semantics::is_reference")]
    semantics: Semantics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default)]
    stale_writes: StaleWrites,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    events: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    findings: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    faults: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct FindingLine {
    finding: String,
    message: String,
    #[serde(default)]
    events: Vec<Event>,
}

#[derive(Serialize, Deserialize)]
struct UncheckedLine {
    unchecked: String,
}

#[derive(Serialize, Deserialize)]
struct AbortLine {
    aborted: AbortKind,
    #[serde(default)]
    reason: String,
}

impl Section {
    /// A section with no findings that ran to its end.
    pub fn new(header: SectionHeader, history: History) -> Section {
        Section {
            header,
            history,
            findings: Vec::new(),
            aborted: None,
            faults: Vec::new(),
            unchecked: None,
        }
    }
}

impl Recording {
    /// Write the recording as JSON lines (see the module documentation).
    ///
    /// ```
    /// use leasecheck_model::history::History;
    /// use leasecheck_model::recording::{Recording, Section, SectionHeader};
    /// use leasecheck_model::Span;
    ///
    /// let section = |name: &str| Section::new(
    ///     SectionHeader { scenario: name.into(), ..SectionHeader::default() },
    ///     History { semantics: Default::default(), ttl: Span::from_secs(1), events: vec![] },
    /// );
    /// let rec = Recording { seed: Some(7), replay: None, sections: vec![section("race"), section("semantics")] };
    /// let mut out = Vec::new();
    /// rec.write_jsonl(&mut out).unwrap();
    /// assert_eq!(
    ///     String::from_utf8(out.clone()).unwrap(),
    ///     "{\"format\":\"leasecheck-history\",\"version\":4,\"seed\":7}\n\
    ///      {\"scenario\":\"race\",\"ttl\":1000000,\"stale_writes\":\"violation\",\"events\":0,\"findings\":0}\n\
    ///      {\"scenario\":\"semantics\",\"ttl\":1000000,\"stale_writes\":\"violation\",\"events\":0,\"findings\":0}\n\
    ///      {\"end\":\"leasecheck-history\",\"sections\":2}\n"
    /// );
    /// assert_eq!(Recording::read_jsonl(&out[..]).unwrap(), rec);
    /// ```
    pub fn write_jsonl(&self, w: impl Write) -> io::Result<()> {
        let mut w = io::BufWriter::new(w);
        let header = FileHeader {
            format: FORMAT.into(),
            version: VERSION,
            seed: self.seed,
            replay: self.replay.clone(),
        };
        line(&mut w, &header)?;
        for s in &self.sections {
            let h = &s.header;
            line(
                &mut w,
                &HeaderLine {
                    scenario: h.scenario.clone(),
                    lease: h.lease.clone(),
                    ttl: s.history.ttl,
                    semantics: s.history.semantics,
                    schema: h.schema.clone(),
                    fault: h.fault.clone(),
                    seed: h.seed,
                    stale_writes: h.stale_writes,
                    events: Some(s.history.events.len()),
                    findings: Some(s.findings.len()),
                    faults: (!s.faults.is_empty()).then_some(s.faults.len()),
                },
            )?;
            for e in &s.history.events {
                line(&mut w, e)?;
            }
            for f in &s.findings {
                line(
                    &mut w,
                    &FindingLine {
                        finding: f.property.id().into(),
                        message: f.message.clone(),
                        events: f.events.clone(),
                    },
                )?;
            }
            for f in &s.faults {
                line(&mut w, f)?;
            }
            if let Some(why) = &s.unchecked {
                line(
                    &mut w,
                    &UncheckedLine {
                        unchecked: why.clone(),
                    },
                )?;
            }
            if let Some(a) = &s.aborted {
                line(
                    &mut w,
                    &AbortLine {
                        aborted: a.kind,
                        reason: a.reason.clone(),
                    },
                )?;
            }
        }
        line(
            &mut w,
            &EndLine {
                end: FORMAT.into(),
                sections: self.sections.len(),
            },
        )?;
        w.flush()
    }

    /// Read a recording (or a single history in the older `{"ttl":...}`
    /// form, as one section named `history`).
    ///
    /// ```
    /// use leasecheck_model::recording::Recording;
    ///
    /// let text = "{\"scenario\":\"race\",\"ttl\":1000}\n{\"finding\":\"P10\",\"message\":\"?\"}\n";
    /// let err = Recording::read_jsonl(text.as_bytes()).unwrap_err();
    /// assert_eq!(err.line(), Some(2));
    /// assert!(err.to_string().contains("unknown property \"P10\""), "{err}");
    /// ```
    pub fn read_jsonl(mut r: impl BufRead) -> Result<Recording, HistoryError> {
        let mut reading = Reading::default();
        // one buffer for every line (a million events are a million lines)
        let mut buffer = String::new();
        for line_no in 1.. {
            buffer.clear();
            let read = r
                .read_line(&mut buffer)
                .map_err(|source| HistoryError::Io {
                    line: line_no,
                    source,
                })?;
            if read == 0 {
                break;
            }
            let text = buffer.strip_suffix('\n').unwrap_or(&buffer);
            let text = text.strip_suffix('\r').unwrap_or(text);
            if text.trim().is_empty() {
                continue;
            }
            reading.line(text, line_no)?;
            reading.last_line = line_no;
        }
        reading.finish()
    }
}

/// What a scenario header says its section holds.
struct Declared {
    line: usize,
    events: Option<usize>,
    findings: Option<usize>,
    faults: Option<usize>,
}

/// What a reader knows between lines.
#[derive(Default)]
struct Reading {
    recording: Recording,
    /// The last non-blank line read.
    last_line: usize,
    /// A file header was read (a closing line is then required).
    headed: bool,
    /// The closing line was read.
    ended: bool,
    /// Per section: its header's line and the counts it declared.
    declared: Vec<Declared>,
}

impl Reading {
    fn line(&mut self, text: &str, line: usize) -> Result<(), HistoryError> {
        if self.ended {
            return Err(HistoryError::Invalid {
                line,
                message: "a line after the closing {\"end\":...} line".into(),
            });
        }
        let first = self.last_line == 0;
        read_line(self, text, line, first)
    }

    /// The section that just ended holds what its header declared.
    fn close_section(&self) -> Result<(), HistoryError> {
        let (Some(section), Some(declared)) =
            (self.recording.sections.last(), self.declared.last())
        else {
            return Ok(());
        };
        let line = declared.line;
        let held = [
            ("events", declared.events, section.history.events.len()),
            ("findings", declared.findings, section.findings.len()),
            ("fault windows", declared.faults, section.faults.len()),
        ];
        for (what, declared, found) in held {
            if let Some(declared) = declared.filter(|&d| d != found) {
                return Err(HistoryError::Invalid {
                    line,
                    message: format!(
                        "scenario {:?} declares {declared} {what} but the file holds {found}: \
                         it was cut short or edited",
                        section.header.scenario
                    ),
                });
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Recording, HistoryError> {
        self.close_section()?;
        if self.headed && !self.ended {
            return Err(HistoryError::CutShort {
                line: self.last_line,
            });
        }
        if self.recording.sections.is_empty() {
            return Err(HistoryError::MissingHeader);
        }
        Ok(self.recording)
    }
}

/// One line into what is being read.
fn read_line(
    reading: &mut Reading,
    text: &str,
    line: usize,
    first: bool,
) -> Result<(), HistoryError> {
    let syntax = |e: serde_json::Error| HistoryError::Syntax {
        line,
        message: e.to_string(),
    };
    let invalid = |message: String| HistoryError::Invalid { line, message };
    // Nearly every line is an event as leasecheck writes it: read it
    // straight, and anything else the general way below (which refuses
    // what the fast reading cannot take, with its own words).
    if let Some(event) = plain_event(text) {
        if let Some(s) = reading.recording.sections.len().checked_sub(1) {
            reading.recording.sections[s].history.events.push(event);
            return Ok(());
        }
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
    let Some(object) = value.as_object() else {
        return Err(invalid("expected a JSON object".into()));
    };
    let has = |key: &str| object.contains_key(key);
    let current = |recording: &mut Recording| -> Result<usize, HistoryError> {
        match recording.sections.len() {
            0 => Err(HistoryError::Invalid {
                line,
                message: "an event, finding or abort before any scenario header \
                          (the first line must be a header with \"ttl\")"
                    .into(),
            }),
            n => Ok(n - 1),
        }
    };
    if has("call") {
        let event: Event = serde_json::from_value(value).map_err(syntax)?;
        if event.complete < event.invoke {
            return Err(invalid(format!(
                "complete ({}) is before invoke ({})",
                event.complete.as_micros(),
                event.invoke.as_micros()
            )));
        }
        if let crate::history::Call::Age { by } = event.call {
            if by.as_micros() < 0 {
                return Err(invalid(format!(
                    "an age by a negative span ({})",
                    by.as_micros()
                )));
            }
        }
        let s = current(&mut reading.recording)?;
        reading.recording.sections[s].history.events.push(event);
    } else if has("end") {
        let e: EndLine = serde_json::from_value(value).map_err(syntax)?;
        if e.end != FORMAT {
            return Err(invalid(format!("end {:?} is not {FORMAT:?}", e.end)));
        }
        if e.sections != reading.recording.sections.len() {
            return Err(invalid(format!(
                "the closing line counts {} scenarios but the file holds {}: it was edited",
                e.sections,
                reading.recording.sections.len()
            )));
        }
        reading.close_section()?;
        reading.ended = true;
    } else if has("scenario") {
        let h: HeaderLine = serde_json::from_value(value).map_err(syntax)?;
        let ttl = positive(h.ttl, line)?;
        let semantics = declared(h.semantics, line)?;
        reading.close_section()?;
        reading.declared.push(Declared {
            line,
            events: h.events,
            findings: h.findings,
            faults: h.faults,
        });
        reading.recording.sections.push(Section::new(
            SectionHeader {
                scenario: h.scenario,
                lease: h.lease,
                schema: h.schema,
                fault: h.fault,
                seed: h.seed,
                stale_writes: h.stale_writes,
            },
            History {
                semantics,
                ttl,
                events: Vec::new(),
            },
        ));
    } else if has("finding") {
        let f: FindingLine = serde_json::from_value(value).map_err(syntax)?;
        let property = Property::ALL
            .into_iter()
            .find(|p| p.id() == f.finding)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown property {:?} (expected P1 to P9)",
                    f.finding
                ))
            })?;
        if let Some(e) = f.events.iter().find(|e| e.complete < e.invoke) {
            return Err(invalid(format!(
                "a finding's event completes ({}) before it is invoked ({})",
                e.complete.as_micros(),
                e.invoke.as_micros()
            )));
        }
        let s = current(&mut reading.recording)?;
        reading.recording.sections[s].findings.push(Finding {
            property,
            message: f.message,
            events: f.events,
        });
    } else if has("fault") {
        let f: FaultWindow = serde_json::from_value(value).map_err(syntax)?;
        if f.end < f.start {
            return Err(invalid(format!(
                "a fault window until {} that starts later, from {}",
                f.end.as_micros(),
                f.start.as_micros()
            )));
        }
        let s = current(&mut reading.recording)?;
        reading.recording.sections[s].faults.push(f);
    } else if has("unchecked") {
        let u: UncheckedLine = serde_json::from_value(value).map_err(syntax)?;
        let s = current(&mut reading.recording)?;
        if reading.recording.sections[s].unchecked.is_some() {
            return Err(invalid("a second unchecked line in one scenario".into()));
        }
        reading.recording.sections[s].unchecked = Some(u.unchecked);
    } else if has("aborted") {
        let a: AbortLine = serde_json::from_value(value).map_err(syntax)?;
        let s = current(&mut reading.recording)?;
        if reading.recording.sections[s].aborted.is_some() {
            return Err(invalid("a second abort line in one scenario".into()));
        }
        reading.recording.sections[s].aborted = Some(Aborted {
            kind: a.aborted,
            reason: a.reason,
        });
    } else if has("format") {
        if !first {
            return Err(invalid("a file header after the first line".into()));
        }
        let h: FileHeader = serde_json::from_value(value).map_err(syntax)?;
        reading.headed = true;
        if h.format != FORMAT {
            return Err(invalid(format!("format {:?} is not {FORMAT:?}", h.format)));
        }
        if h.version > VERSION {
            return Err(invalid(format!(
                "version {} is newer than this leasecheck reads ({VERSION})",
                h.version
            )));
        }
        reading.recording.seed = h.seed;
        reading.recording.replay = h.replay;
    } else if has("ttl") {
        if !first {
            return Err(invalid(
                "a second {\"ttl\":...} header: separate scenarios with \"scenario\" headers"
                    .into(),
            ));
        }
        let h: crate::history::Header = serde_json::from_value(value).map_err(syntax)?;
        let ttl = positive(h.ttl, line)?;
        let semantics = declared(h.semantics, line)?;
        reading.recording.sections.push(Section::new(
            SectionHeader {
                scenario: "history".into(),
                ..SectionHeader::default()
            },
            History {
                semantics,
                ttl,
                events: Vec::new(),
            },
        ));
    } else {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "not a header, event, finding, fault, unchecked or abort line (it has the keys [{}]; \
             an event has \"call\", a scenario header \"scenario\")",
            keys.join(", ")
        )));
    }
    Ok(())
}

/// An event line as leasecheck writes it, every field flat.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainEvent {
    candidate: Candidate,
    call: PlainCall,
    op: Option<Op>,
    by: Option<Span>,
    epoch: Option<u64>,
    seq: Option<u64>,
    invoke: Time,
    complete: Time,
    server_time: Option<Time>,
    outcome: Outcome,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum PlainCall {
    Lease,
    Reset,
    SessionEnd,
    Age,
    Action,
}

/// `text` as an event, if it is one that needs no checking beyond its
/// syntax: each field once, those of its call and no other, its window in
/// order, an age by a span that is not negative. `None` for anything else,
/// which the general reading then accepts or refuses.
fn plain_event(text: &str) -> Option<Event> {
    let e: PlainEvent = serde_json::from_str(text).ok()?;
    let call = match (e.call, e.op, e.by, e.epoch, e.seq) {
        (PlainCall::Lease, Some(op), None, None, None) => Call::Lease { op },
        (PlainCall::Reset, None, None, None, None) => Call::Reset,
        (PlainCall::SessionEnd, None, None, None, None) => Call::SessionEnd,
        (PlainCall::Age, None, Some(by), None, None) if by.as_micros() >= 0 => Call::Age { by },
        (PlainCall::Action, None, None, epoch, seq) => Call::Action { epoch, seq },
        _ => return None,
    };
    (e.complete >= e.invoke).then_some(Event {
        candidate: e.candidate,
        call,
        invoke: e.invoke,
        complete: e.complete,
        server_time: e.server_time,
        outcome: e.outcome,
    })
}

/// The declared semantics of a header, refused when they contradict each other.
fn declared(semantics: Semantics, line: usize) -> Result<Semantics, HistoryError> {
    semantics.validate().map_err(|c| HistoryError::Invalid {
        line,
        message: format!("the declared semantics contradict each other: {c}"),
    })?;
    Ok(semantics)
}

fn positive(ttl: Span, line: usize) -> Result<Span, HistoryError> {
    if ttl.as_micros() <= 0 {
        return Err(HistoryError::Invalid {
            line,
            message: format!("the TTL must be positive, found {}", ttl.as_micros()),
        });
    }
    Ok(ttl)
}

fn line(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")
}

/// A history of one scenario is read as a recording of one section: one
/// reader for both forms.
impl History {
    /// Read a history written by [`History::write_jsonl`] (or by any writer of
    /// the same format, see the module documentation): a file of exactly one
    /// scenario, read by [`Recording::read_jsonl`].
    ///
    /// Blank lines are skipped and unknown keys are ignored. Errors name the
    /// 1-based line number of the offending line.
    ///
    /// ```
    /// use leasecheck_model::history::{History, HistoryError};
    ///
    /// let text = "{\"ttl\":1000}\n{\"candidate\":1,\"call\":\"lease\",\"op\":\"renew\"}\n";
    /// let err = History::read_jsonl(text.as_bytes()).unwrap_err();
    /// assert_eq!(err.line(), Some(2));
    /// assert!(matches!(err, HistoryError::Syntax { .. }), "{err}");
    /// assert!(err.to_string().contains("missing field `invoke`"), "{err}");
    /// ```
    pub fn read_jsonl(r: impl BufRead) -> Result<History, HistoryError> {
        let mut recording = Recording::read_jsonl(r)?;
        match recording.sections.len() {
            1 => Ok(recording.sections.remove(0).history),
            count => Err(HistoryError::Scenarios { count }),
        }
    }
}
