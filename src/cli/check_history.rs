//! `leasecheck check-history FILE`: judge a recorded history offline, with
//! the verdicts the run gave.

use super::page;
use super::replay::shell_quote;
use anyhow::{Context, Result};
use clap::Args;
use leasecheck::model::recording::Recording;
use leasecheck::report::{Figure, Report};
use leasecheck::verdict;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckHistoryArgs {
    /// The history file.
    file: PathBuf,
    /// Print the verdict as JSON.
    #[arg(long)]
    json: bool,
    /// Which findings make it exit 1, as for the run (every finding is reported either way).
    #[arg(long, value_name = "POLICY", default_value = "any", value_parser = super::choices::fail_on())]
    fail_on: leasecheck::report::FailOn,
    /// Write an HTML report to DIR/index.html: every scenario's timeline, violations outlined.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Read and parse the file, check nothing, print the count of events
    /// (the floor `scripts/bench.sh` compares a check with).
    #[arg(long, hide = true, conflicts_with_all = ["json", "report"])]
    parse_only: bool,
}

pub fn run(args: CheckHistoryArgs) -> Result<u8> {
    let file = &args.file;
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let recording = Recording::read_jsonl(std::io::BufReader::new(f))
        .with_context(|| format!("{} is not a leasecheck history", file.display()))?;
    if args.parse_only {
        let events: usize = recording
            .sections
            .iter()
            .map(|s| s.history.events.len())
            .sum();
        println!(
            "{events} events in {} sections, not checked",
            recording.sections.len()
        );
        return Ok(0);
    }
    // Each scenario on its own, with the options it ran with: the verdicts
    // the run printed (see leasecheck::verdict).
    let scenarios = recording
        .sections
        .iter()
        .map(|section| {
            let mut scenario = verdict::judge(section);
            let events = Figure::new("events", section.history.events.len());
            scenario.figures.insert(0, events);
            scenario
        })
        .collect();
    let first = recording.sections.first().map(|s| &s.header);
    let mut report = Report {
        subject: match first.and_then(|h| h.lease.as_deref()) {
            Some(lease) => format!("{lease}, recorded in {}", file.display()),
            None => format!("recorded history {}", file.display()),
        },
        database: "none (offline)".into(),
        ttl_seconds: recording
            .sections
            .first()
            .map_or(0.0, |s| s.history.ttl.as_secs_f64()),
        seed: recording
            .seed
            .or_else(|| first.and_then(|h| h.seed))
            .unwrap_or(0),
        replay: recording.replay.clone().unwrap_or_else(|| {
            format!(
                "leasecheck check-history {}",
                shell_quote(&file.display().to_string())
            )
        }),
        scenarios,
        history_file: None,
        report_page: None,
        fail_on: args.fail_on,
    };
    let written = match &args.report {
        Some(dir) => page::write(dir, &mut report, &recording.sections),
        None => Ok(()),
    };
    page::print(&report, args.json);
    written.context(
        "the history was checked (its report is above), but the HTML report could not be written",
    )?;
    Ok(report.exit_code() as u8)
}
