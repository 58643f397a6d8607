//! Histories: what a run observed, one event per call.
//!
//! Times are microseconds on ONE clock for the whole run, aligned with the
//! server's clock: the recorder takes the wall-clock time once at the start of
//! the run and adds a monotonic clock's elapsed time to it, so `invoke` and
//! `complete` never go backwards and a server timestamp (`now()` of the
//! statement, which Postgres takes at transaction start) normally falls
//! between them.
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
//! `age`), `call` (`"lease"`, `"reset"` or `"age"`), `op` for a lease call
//! (`"try_acquire"`, `"renew"`, `"release"`), `by` for `age` (microseconds),
//! `invoke` and `complete` (microseconds, `complete >= invoke`),
//! `server_time` (microseconds, absent or `null` when unknown) and `outcome`
//! (`"ok"`, `"fail"`, `"unknown"`). Every time is an integer. Readers skip
//! blank lines and ignore unknown keys; an error names the 1-based line.

use crate::lease::{Candidate, Op};
use crate::time::{Span, Time};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, BufRead, Write};

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
    /// The harness made the current tenure look older by `by` (simulated time).
    Age {
        /// How much older.
        by: Span,
    },
}

/// One call: who, what, when, and what came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Event {
    /// The caller (for `Reset` and `Age`, the harness's own id).
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
        let mut line = String::with_capacity(160);
        writeln!(w, "{{\"ttl\":{}}}", self.ttl.as_micros())?;
        for e in &self.events {
            line.clear();
            e.write_json(&mut line);
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        w.flush()
    }

    /// Read a history written by [`History::write_jsonl`] (or by any writer of
    /// the same format, see the module documentation).
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
    /// assert!(matches!(err, HistoryError::Invalid { .. }));
    /// ```
    pub fn read_jsonl(r: impl BufRead) -> Result<History, HistoryError> {
        let mut ttl = None;
        let mut events = Vec::new();
        for (i, line) in r.lines().enumerate() {
            let line_no = i + 1;
            let line = line.map_err(|source| HistoryError::Io {
                line: line_no,
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            let fields = json::parse_object(&line).map_err(|message| HistoryError::Syntax {
                line: line_no,
                message,
            })?;
            let invalid = |message: String| HistoryError::Invalid {
                line: line_no,
                message,
            };
            match ttl {
                None => ttl = Some(parse_header(&fields).map_err(invalid)?),
                Some(_) => events.push(parse_event(&fields).map_err(invalid)?),
            }
        }
        match ttl {
            Some(ttl) => Ok(History { ttl, events }),
            None => Err(HistoryError::MissingHeader),
        }
    }
}

impl Event {
    /// Append this event as one JSON object (no newline), in the shape serde
    /// gives it (`call` flattened and tagged, `server_time` omitted if unknown).
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "{{\"candidate\":{}", self.candidate.0);
        match self.call {
            Call::Lease { op } => {
                let _ = write!(out, ",\"call\":\"lease\",\"op\":\"{}\"", op.name());
            }
            Call::Reset => out.push_str(",\"call\":\"reset\""),
            Call::Age { by } => {
                let _ = write!(out, ",\"call\":\"age\",\"by\":{}", by.as_micros());
            }
        }
        let _ = write!(
            out,
            ",\"invoke\":{},\"complete\":{}",
            self.invoke.as_micros(),
            self.complete.as_micros()
        );
        if let Some(st) = self.server_time {
            let _ = write!(out, ",\"server_time\":{}", st.as_micros());
        }
        let outcome = match self.outcome {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
        };
        let _ = write!(out, ",\"outcome\":\"{outcome}\"}}");
    }
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
    /// The line is not one JSON object.
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
}

impl HistoryError {
    /// The 1-based number of the offending line, if there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            HistoryError::Io { line, .. }
            | HistoryError::Syntax { line, .. }
            | HistoryError::Invalid { line, .. } => Some(*line),
            HistoryError::MissingHeader => None,
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
                f.write_str("empty history: expected a header line {\"ttl\": <micros>}")
            }
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

type Fields = Vec<(String, json::Value)>;

fn field<'a>(fields: &'a Fields, key: &str) -> Option<&'a json::Value> {
    fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn int(fields: &Fields, key: &str) -> Result<i64, String> {
    match field(fields, key) {
        Some(json::Value::Int(v)) => Ok(*v),
        Some(other) => Err(format!(
            "field \"{key}\" must be an integer (microseconds), found {}",
            other.kind()
        )),
        None => Err(format!("missing field \"{key}\"")),
    }
}

fn string<'a>(fields: &'a Fields, key: &str) -> Result<&'a str, String> {
    match field(fields, key) {
        Some(json::Value::Str(s)) => Ok(s),
        Some(other) => Err(format!(
            "field \"{key}\" must be a string, found {}",
            other.kind()
        )),
        None => Err(format!("missing field \"{key}\"")),
    }
}

fn parse_header(fields: &Fields) -> Result<Span, String> {
    if field(fields, "ttl").is_none() {
        return Err("the first line must be the header {\"ttl\": <micros>}".into());
    }
    let ttl = int(fields, "ttl")?;
    if ttl <= 0 {
        return Err(format!("the TTL must be positive, found {ttl}"));
    }
    Ok(Span(ttl))
}

fn parse_event(fields: &Fields) -> Result<Event, String> {
    let candidate = int(fields, "candidate")?;
    let candidate = u16::try_from(candidate)
        .map(Candidate)
        .map_err(|_| format!("candidate {candidate} is out of range 0..=65535"))?;
    let call = match string(fields, "call")? {
        "lease" => {
            let op = string(fields, "op")?;
            let op = Op::ALL
                .into_iter()
                .find(|o| o.name() == op)
                .ok_or_else(|| format!("unknown op \"{op}\""))?;
            Call::Lease { op }
        }
        "reset" => Call::Reset,
        "age" => Call::Age {
            by: Span(int(fields, "by")?),
        },
        other => return Err(format!("unknown call \"{other}\"")),
    };
    let invoke = Time(int(fields, "invoke")?);
    let complete = Time(int(fields, "complete")?);
    if complete < invoke {
        return Err(format!(
            "complete ({}) is before invoke ({})",
            complete.as_micros(),
            invoke.as_micros()
        ));
    }
    let server_time = match field(fields, "server_time") {
        None | Some(json::Value::Null) => None,
        Some(json::Value::Int(v)) => Some(Time(*v)),
        Some(other) => {
            return Err(format!(
                "field \"server_time\" must be an integer or null, found {}",
                other.kind()
            ))
        }
    };
    let outcome = match string(fields, "outcome")? {
        "ok" => Outcome::Ok,
        "fail" => Outcome::Fail,
        "unknown" => Outcome::Unknown,
        other => return Err(format!("unknown outcome \"{other}\"")),
    };
    Ok(Event {
        candidate,
        call,
        invoke,
        complete,
        server_time,
        outcome,
    })
}

/// A small JSON reader: enough for one flat object per line (nested values
/// are parsed and kept only as their kind). The model crate has no JSON
/// dependency, and this keeps it that way.
mod json {
    /// A parsed value; only integers, strings and null are kept.
    #[derive(Debug, PartialEq)]
    pub enum Value {
        Null,
        Bool,
        Int(i64),
        Number,
        Str(String),
        Array,
        Object,
    }

    impl Value {
        pub fn kind(&self) -> &'static str {
            match self {
                Value::Null => "null",
                Value::Bool => "a boolean",
                Value::Int(_) => "an integer",
                Value::Number => "a non-integer number",
                Value::Str(_) => "a string",
                Value::Array => "an array",
                Value::Object => "an object",
            }
        }
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
        depth: usize,
    }

    /// Parse a line holding exactly one JSON object into its key/value pairs.
    pub fn parse_object(line: &str) -> Result<Vec<(String, Value)>, String> {
        let mut p = Parser {
            s: line.as_bytes(),
            i: 0,
            depth: 0,
        };
        p.ws();
        if p.peek() != Some(b'{') {
            return Err(p.err("expected '{'"));
        }
        let mut fields = Vec::new();
        p.object(Some(&mut fields))?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err("trailing characters after the object"));
        }
        Ok(fields)
    }

    impl Parser<'_> {
        fn err(&self, what: &str) -> String {
            format!("{what} at column {}", self.i + 1)
        }

        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                self.i += 1;
            }
        }

        fn eat(&mut self, c: u8) -> Result<(), String> {
            self.ws();
            if self.peek() == Some(c) {
                self.i += 1;
                Ok(())
            } else {
                Err(self.err(&format!("expected '{}'", c as char)))
            }
        }

        fn object(&mut self, mut out: Option<&mut Vec<(String, Value)>>) -> Result<(), String> {
            self.enter()?;
            self.eat(b'{')?;
            self.ws();
            if self.peek() == Some(b'}') {
                self.i += 1;
                self.depth -= 1;
                return Ok(());
            }
            loop {
                self.ws();
                if self.peek() != Some(b'"') {
                    return Err(self.err("expected a string key"));
                }
                let key = self.string()?;
                self.eat(b':')?;
                let value = self.value()?;
                if let Some(out) = out.as_deref_mut() {
                    out.push((key, value));
                }
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        self.depth -= 1;
                        return Ok(());
                    }
                    _ => return Err(self.err("expected ',' or '}'")),
                }
            }
        }

        fn enter(&mut self) -> Result<(), String> {
            self.depth += 1;
            if self.depth > 64 {
                return Err(self.err("nested too deeply"));
            }
            Ok(())
        }

        fn array(&mut self) -> Result<(), String> {
            self.enter()?;
            self.eat(b'[')?;
            self.ws();
            if self.peek() == Some(b']') {
                self.i += 1;
                self.depth -= 1;
                return Ok(());
            }
            loop {
                self.value()?;
                self.ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b']') => {
                        self.i += 1;
                        self.depth -= 1;
                        return Ok(());
                    }
                    _ => return Err(self.err("expected ',' or ']'")),
                }
            }
        }

        fn value(&mut self) -> Result<Value, String> {
            self.ws();
            match self.peek() {
                Some(b'{') => self.object(None).map(|()| Value::Object),
                Some(b'[') => self.array().map(|()| Value::Array),
                Some(b'"') => self.string().map(Value::Str),
                Some(b't') => self.literal("true", Value::Bool),
                Some(b'f') => self.literal("false", Value::Bool),
                Some(b'n') => self.literal("null", Value::Null),
                Some(b'-' | b'0'..=b'9') => self.number(),
                _ => Err(self.err("expected a value")),
            }
        }

        fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                Err(self.err("invalid literal"))
            }
        }

        fn number(&mut self) -> Result<Value, String> {
            let start = self.i;
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            let digits = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == digits {
                return Err(self.err("expected a digit"));
            }
            let mut integer = true;
            if self.peek() == Some(b'.') {
                integer = false;
                self.i += 1;
                let frac = self.i;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
                if self.i == frac {
                    return Err(self.err("expected a digit after '.'"));
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                integer = false;
                self.i += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i += 1;
                }
                let exp = self.i;
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
                if self.i == exp {
                    return Err(self.err("expected a digit in the exponent"));
                }
            }
            if !integer {
                return Ok(Value::Number);
            }
            let text = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits");
            text.parse::<i64>()
                .map(Value::Int)
                .map_err(|_| format!("integer {text} out of range at column {}", start + 1))
        }

        fn hex4(&mut self) -> Result<u32, String> {
            let hex = self
                .s
                .get(self.i..self.i + 4)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .ok_or_else(|| self.err("invalid \\u escape"))?;
            self.i += 4;
            Ok(hex)
        }

        fn string(&mut self) -> Result<String, String> {
            self.i += 1; // the opening quote
            let mut out = String::new();
            loop {
                let start = self.i;
                while !matches!(self.peek(), Some(b'"' | b'\\') | None) {
                    if self.s[self.i] < 0x20 {
                        return Err(self.err("control character in a string"));
                    }
                    self.i += 1;
                }
                out.push_str(std::str::from_utf8(&self.s[start..self.i]).expect("a &str slice"));
                match self.peek() {
                    None => return Err(self.err("unterminated string")),
                    Some(b'"') => {
                        self.i += 1;
                        return Ok(out);
                    }
                    _ => {}
                }
                self.i += 1; // the backslash
                let c = self.peek().ok_or_else(|| self.err("unterminated escape"))?;
                self.i += 1;
                match c {
                    b'"' => out.push('"'),
                    b'\\' => out.push('\\'),
                    b'/' => out.push('/'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'u' => {
                        let mut code = self.hex4()?;
                        if (0xD800..0xDC00).contains(&code) && self.s[self.i..].starts_with(b"\\u")
                        {
                            self.i += 2;
                            let low = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return Err(self.err("invalid surrogate pair"));
                            }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        }
                        out.push(
                            char::from_u32(code).ok_or_else(|| self.err("invalid \\u escape"))?,
                        );
                    }
                    _ => return Err(self.err("invalid escape")),
                }
            }
        }
    }
}
