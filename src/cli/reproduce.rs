//! `leasecheck reproduce NAME`: run the scenario that exposes a catalogued
//! split-brain bug; `--exec CMD` runs the same scenario against a lease's
//! own code instead of the entry's SQL.

use super::run_args::RunArgs;
use super::Cli;
use super::Command;
use anyhow::{bail, Result};
use clap::{Args, Parser};
use leasecheck::battery::Battery;
use leasecheck::catalogue::{find, CATALOGUE};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The entry (see --list).
    #[arg(required_unless_present = "list", value_parser = super::choices::entry())]
    name: Option<String>,
    /// List the catalogue.
    #[arg(long)]
    list: bool,
    /// Seed of the scenario.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report (with --list: the catalogue) as JSON.
    #[arg(long)]
    json: bool,
    /// Write an HTML report to DIR/index.html: the timeline, the violation outlined.
    #[arg(long, value_name = "DIR", conflicts_with = "list")]
    report: Option<PathBuf>,
    /// Run the entry's scenario against a lease in any language: start CMD once per candidate and speak the adapter protocol (docs/adapter-protocol.md). The schema, reset and age come from --spec, else from the entry's own spec file.
    #[arg(long, value_name = "CMD", conflicts_with = "list")]
    exec: Option<String>,
    /// With --exec: the spec file that gives the lease's schema, reset and age (default: the entry's, specs/broken/NAME.toml).
    #[arg(long, value_name = "FILE", requires = "exec")]
    spec: Option<PathBuf>,
    /// The deadline of every call, milliseconds (see `leasecheck check --help`).
    #[arg(long, value_name = "MS", alias = "exec-timeout")]
    call_timeout: Option<u64>,
}

pub fn run(args: ReproduceArgs, cancel: &Arc<AtomicBool>) -> Result<u8> {
    if args.list {
        list(args.json);
        return Ok(0);
    }
    let name = args.name.unwrap_or_default();
    let Some(entry) = find(&name) else {
        let names: Vec<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        bail!(
            "no catalogue entry {name:?}; there are: {}",
            names.join(", ")
        );
    };
    let spec =
        leasecheck::spec::Spec::parse(entry.spec, &format!("specs/broken/{}.toml", entry.name))?;
    let mut argv: Vec<String> = vec!["leasecheck".into()];
    argv.extend(entry.scenario.iter().map(|s| s.to_string()));
    if let Some(seed) = args.seed {
        argv.extend(["--seed".to_string(), seed.to_string()]);
    }
    if let Some(ms) = args.call_timeout {
        argv.extend(["--call-timeout".to_string(), ms.to_string()]);
    }
    if args.json {
        argv.push("--json".into());
    }
    if let Some(dir) = &args.report {
        argv.push("--report".into());
        argv.push(dir.display().to_string());
    }
    if !args.json {
        let lease = match &args.exec {
            Some(command) => format!(" against --exec {command}"),
            None => String::new(),
        };
        println!(
            "reproducing {}{lease}: {}\nexpected: {} violated\n",
            entry.name, entry.bug, entry.breaks
        );
    }
    let (battery, mut run_args): (Battery, RunArgs) = match Cli::try_parse_from(&argv)?.command {
        Command::Race(a) => (Battery::Race, a),
        Command::Takeover(a) => (Battery::Takeover, a),
        Command::Zombie(a) => (Battery::Zombie, a),
        Command::Durability(a) => (Battery::Durability, a),
        Command::Check(a) => (Battery::All, a),
        _ => bail!("catalogue entry {} has no runnable scenario", entry.name),
    };
    if args.exec.is_some() && run_args.fenced {
        bail!(
            "catalogue entry {} checks the built-in fenced lease; --exec cannot replace it",
            entry.name
        );
    }
    run_args.exec = args.exec;
    run_args.spec = args.spec;
    super::run::battery(battery, run_args, Some(spec), cancel)
}

/// `--list`: the catalogue, as text or JSON.
fn list(json: bool) {
    if json {
        let entries: Vec<serde_json::Value> = CATALOGUE
            .iter()
            .map(|e| {
                serde_json::json!({
                    "name": e.name,
                    "breaks": e.breaks.name(),
                    "bug": e.bug,
                    "scenario": e.scenario,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(entries));
    } else {
        for e in &CATALOGUE {
            println!("{:<28} breaks {}: {}", e.name, e.breaks, e.bug);
            println!("{:<28} scenario: leasecheck {}", "", e.scenario.join(" "));
        }
    }
}
