//! What a run found, for people (a one-screen summary), for machines
//! (`--json`) and for CI systems (`--junit`). This is the only place that
//! formats numbers for people; nothing here runs or judges anything.
//!
//! Exit codes are an interface: [`Report::exit_code`] is 0 when every
//! property held, 1 when one was violated, 2 when the run could not be done.
//!
//! So is the JSON ([`Report::to_json`]): a versioned shape, documented field
//! by field in `docs/json-output.md` and described by the JSON Schema
//! `docs/report.schema.json`, which the tests validate real output against.
//! Every report says what it is ([`JSON_FORMAT`]) and which shape it has
//! ([`JSON_VERSION`]).

mod fail_on;
mod figure;
mod html;
mod junit;

pub use fail_on::FailOn;
pub use figure::{Figure, Quantity};
pub use html::{anchor, page, write_page, PAGE};

use leasecheck_model::check::{Class, Property, Timeline};
use leasecheck_model::history::Event;

use serde::Serialize;
use std::fmt::Write as _;
use std::time::Duration;

/// The `"format"` of every `--json` report: what the document is.
pub const JSON_FORMAT: &str = "leasecheck-report";

/// The `"version"` of the `--json` shape. Additive changes keep it (a new
/// field, figure, figure unit or timeline call); anything else bumps it:
/// removing or renaming a field, changing its type, unit or meaning, a new
/// scenario status (see `docs/json-output.md`).
pub const JSON_VERSION: u32 = 1;

/// How one scenario ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum Status {
    /// Every property it checks held.
    Passed,
    /// At least one property was violated (see the findings).
    Violated,
    /// It does not apply here (e.g. a backend stall against a remote server).
    NotApplicable(String),
    /// It could not be run.
    Error(String),
    /// Ctrl-C stopped the run before it finished.
    Interrupted,
}

impl Status {
    /// Its mark in reports: `ok`, `FAIL`, `n/a`, `ERR` or `INT`.
    pub fn mark(&self) -> &'static str {
        match self {
            Status::Passed => "ok",
            Status::Violated => "FAIL",
            Status::NotApplicable(_) => "n/a",
            Status::Error(_) => "ERR",
            Status::Interrupted => "INT",
        }
    }

    /// Its name in `--json` (the `status` field): `passed`, `violated`,
    /// `not_applicable`, `error` or `interrupted`.
    ///
    /// ```
    /// use leasecheck::report::Status;
    /// for s in [Status::Passed, Status::Violated, Status::NotApplicable("x".into()),
    ///           Status::Error("x".into()), Status::Interrupted] {
    ///     assert_eq!(serde_json::to_value(&s).unwrap()["status"], s.name());
    /// }
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Violated => "violated",
            Status::NotApplicable(_) => "not_applicable",
            Status::Error(_) => "error",
            Status::Interrupted => "interrupted",
        }
    }
}

/// One violated property, with the window of the history that shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The property, e.g. "P1 exactly one winner".
    pub property: String,
    /// Whether it is a safety property (a split brain or its cause) or the
    /// lease's own contract (it behaves as it declares): `"safety"` or
    /// `"contract"` in `--json`.
    #[serde(serialize_with = "class_name")]
    pub class: Class,
    /// What happened, in one sentence.
    pub message: String,
    /// The violating window as structured events (rendered as a table in
    /// text and JUnit, carried as data in `--json`).
    pub timeline: Timeline,
    /// The events that show it, exactly (the timeline adds a few around
    /// them): what the HTML report outlines.
    #[serde(skip)]
    pub events: Vec<Event>,
}

/// One scenario of a battery: a race, a takeover under one fault, ...
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Its name, e.g. "takeover/backend-stall".
    pub name: String,
    /// How it ended.
    #[serde(flatten)]
    pub status: Status,
    /// Figures worth printing (latencies, counts), in order.
    pub figures: Vec<Figure>,
    /// The violations it found.
    pub findings: Vec<Finding>,
    /// How long it took.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
}

impl Scenario {
    /// A scenario with no figures or findings yet.
    pub fn new(name: impl Into<String>) -> Scenario {
        Scenario {
            name: name.into(),
            status: Status::Passed,
            figures: Vec::new(),
            findings: Vec::new(),
            duration: Duration::ZERO,
        }
    }

    /// Add a figure.
    pub fn figure(&mut self, name: impl Into<String>, value: impl Into<Quantity>) {
        self.figures.push(Figure::new(name, value));
    }

    /// Add a figure with a remark shown after its value.
    pub fn figure_noted(
        &mut self,
        name: impl Into<String>,
        value: impl Into<Quantity>,
        note: impl Into<String>,
    ) {
        self.figures.push(Figure {
            name: name.into(),
            quantity: value.into(),
            note: Some(note.into()),
        });
    }

    /// Add a finding shown by `events` (and, with some context, by
    /// `timeline`); the scenario is then violated.
    pub fn violation(
        &mut self,
        property: Property,
        message: impl Into<String>,
        timeline: Timeline,
        events: Vec<Event>,
    ) {
        self.findings.push(Finding {
            property: property.to_string(),
            class: property.class(),
            message: message.into(),
            timeline,
            events,
        });
        self.status = Status::Violated;
    }
}

fn class_name<S: serde::Serializer>(c: &Class, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.name())
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The lease under test.
    pub subject: String,
    /// Where Postgres came from and where it is.
    pub database: String,
    /// The TTL the lease ran with, in seconds.
    pub ttl_seconds: f64,
    /// The seed of every random choice of the run.
    pub seed: u64,
    /// The one command that replays this run.
    pub replay: String,
    /// The scenarios, in the order they ran.
    pub scenarios: Vec<Scenario>,
    /// The history file written, if any.
    pub history_file: Option<String>,
    /// The HTML report written (`--report DIR`: `DIR/index.html`), if any.
    pub report_page: Option<String>,
    /// Which findings fail the run (`--fail-on`).
    pub fail_on: FailOn,
}

impl Report {
    /// 0 every property held, 1 a property was violated, 2 the run could not be done.
    ///
    /// A run where no scenario could be checked (none at all, or every one
    /// `n/a`) is a 2, never a pass: a CI gate must not pass on nothing.
    ///
    /// Under [`FailOn::Safety`] a scenario violated only in the lease's
    /// declared contract counts as checked and passing.
    pub fn exit_code(&self) -> i32 {
        if self.scenarios.iter().any(|s| self.fails(s)) {
            1
        } else if self
            .scenarios
            .iter()
            .any(|s| matches!(s.status, Status::Error(_) | Status::Interrupted))
            || !self
                .scenarios
                .iter()
                .any(|s| matches!(s.status, Status::Passed | Status::Violated))
        {
            2
        } else {
            0
        }
    }

    /// Whether `scenario` fails the run under its policy.
    fn fails(&self, scenario: &Scenario) -> bool {
        // A violated scenario without a finding to weigh fails under any
        // policy: a relaxation may only pass what it can name.
        scenario.status == Status::Violated
            && (scenario.findings.is_empty()
                || scenario
                    .findings
                    .iter()
                    .any(|f| self.fail_on.fails(f.class)))
    }

    /// The one-screen summary for a terminal.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "leasecheck: {}", self.subject);
        let _ = writeln!(
            out,
            "  database {}   ttl {}s   seed {}",
            self.database, self.ttl_seconds, self.seed
        );
        for s in &self.scenarios {
            let mark = s.status.mark();
            let figures: Vec<String> = s.figures.iter().map(|f| f.to_string()).collect();
            let _ = writeln!(
                out,
                "  {mark:<4} {:<28} {:>6.1}s  {}",
                s.name,
                s.duration.as_secs_f64(),
                figures.join("  ")
            );
            let said = match &s.status {
                Status::NotApplicable(why) => Some(format!("not applicable: {why}")),
                Status::Error(why) => Some(format!("could not run: {why}")),
                _ => None,
            };
            // Every line of a reason under its scenario (an adapter's
            // stderr tail, a server log), not only the first.
            for line in said.iter().flat_map(|text| text.lines()) {
                let _ = writeln!(out, "         {line}");
            }
        }
        // One screen: the first two findings of each scenario with their
        // timelines, the rest by name (all of them are in --json and --junit).
        for s in &self.scenarios {
            for (i, f) in s.findings.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "\nVIOLATION {} ({}) in {}: {}",
                    f.property,
                    f.class,
                    s.name,
                    brief(&f.message)
                );
                if i < 2 {
                    for line in f.timeline.to_string().lines() {
                        let _ = writeln!(out, "    {line}");
                    }
                }
            }
        }
        if let Some(h) = &self.history_file {
            let _ = writeln!(out, "\nhistory written to {h}");
        }
        if let Some(page) = &self.report_page {
            let _ = writeln!(out, "report written to {page}");
        }
        let count = |class| {
            self.scenarios
                .iter()
                .flat_map(|s| &s.findings)
                .filter(|f| f.class == class)
                .count()
        };
        let (safety, contract) = (count(Class::Safety), count(Class::Contract));
        let verdict = match self.exit_code() {
            0 if contract > 0 => format!(
                "no safety property was violated; {contract} violation(s) of the lease's declared \
                 contract, reported and passed (--fail-on {})",
                self.fail_on
            ),
            0 => "all properties held".to_string(),
            1 => {
                format!(
                    "{} violation(s): {safety} of safety, {contract} of the lease's declared contract",
                    safety + contract
                )
            }
            _ if self
                .scenarios
                .iter()
                .all(|s| matches!(s.status, Status::NotApplicable(_))) =>
            {
                "nothing was checked: every scenario was n/a here".to_string()
            }
            _ => "the run could not be completed".to_string(),
        };
        let _ = writeln!(out, "\nresult: {verdict} (exit {})", self.exit_code());
        if self.exit_code() != 0 || safety + contract > 0 {
            let _ = writeln!(out, "seed: {}", self.seed);
            let _ = writeln!(out, "replay: {}", self.replay);
        }
        out
    }

    /// The report as JSON, on one line: `format` ([`JSON_FORMAT`]),
    /// `version` ([`JSON_VERSION`]) and `exit_code` first, then the report's
    /// fields (the shape of `docs/report.schema.json`).
    ///
    /// ```
    /// use leasecheck::report::{FailOn, Report, Scenario, JSON_FORMAT, JSON_VERSION};
    /// let report = Report {
    ///     subject: "reference lease (built-in)".into(),
    ///     database: "none".into(),
    ///     ttl_seconds: 0.2,
    ///     seed: 7,
    ///     replay: "leasecheck race --seed 7".into(),
    ///     scenarios: vec![Scenario::new("race")],
    ///     history_file: None,
    ///     report_page: None,
    ///     fail_on: FailOn::Any,
    /// };
    /// let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    /// assert_eq!(json["format"], JSON_FORMAT);
    /// assert_eq!(json["version"], JSON_VERSION);
    /// assert_eq!(json["exit_code"], 0);
    /// assert_eq!(json["scenarios"][0]["status"], "passed");
    /// ```
    pub fn to_json(&self) -> String {
        let envelope = Envelope {
            format: JSON_FORMAT,
            version: JSON_VERSION,
            exit_code: self.exit_code(),
            report: self,
        };
        match serde_json::to_string(&envelope) {
            Ok(json) => json,
            Err(e) => unreachable!("a report always serialises: {e}"),
        }
    }
}

/// What `--json` prints: the report with what it is and how it ended.
#[derive(Serialize)]
struct Envelope<'a> {
    format: &'static str,
    version: u32,
    exit_code: i32,
    #[serde(flatten)]
    report: &'a Report,
}

/// A message cut to a few lines for the terminal (the whole of it is in --json).
fn brief(message: &str) -> String {
    const MAX: usize = 400;
    if message.chars().count() <= MAX {
        return message.to_string();
    }
    let cut: String = message.chars().take(MAX).collect();
    format!("{cut}... (the full message is in --json)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_a_multi_line_error_is_indented_under_its_scenario() {
        let mut scenario = Scenario::new("race");
        scenario.status = Status::Error("the adapter of c1 exited\nTraceback:\n  boom".into());
        let report = Report {
            subject: "s".into(),
            database: "d".into(),
            ttl_seconds: 1.0,
            seed: 7,
            replay: "leasecheck race --seed 7".into(),
            scenarios: vec![scenario],
            history_file: None,
            report_page: None,
            fail_on: FailOn::Any,
        };
        let text = report.render_text();
        assert!(
            text.contains(
                "         could not run: the adapter of c1 exited\n         Traceback:\n           boom\n"
            ),
            "{text}"
        );
    }
}
