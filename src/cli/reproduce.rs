//! `leasecheck reproduce NAME`: run the scenario that exposes a catalogued
//! split-brain bug; `--fixed` runs it on the entry's fixed lease, which
//! must pass; `--exec CMD` runs the same scenario against a lease's own code
//! instead of the entry's SQL.

use super::run_args::RunArgs;
use super::Cli;
use super::Command;
use anyhow::{bail, Result};
use clap::{Args, Parser};
use leasecheck::battery::Battery;
use leasecheck::catalogue::{find, Entry, CATALOGUE};
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
    /// Run the scenario on the entry's fixed lease (the release that fixed the incident, or the reference lease): every property must hold.
    #[arg(long, conflicts_with_all = ["list", "exec"])]
    fixed: bool,
    /// Print the report (with --list: the catalogue) as JSON.
    #[arg(long)]
    json: bool,
    /// Write an HTML report to DIR/index.html: the timeline, the violation outlined.
    #[arg(long, value_name = "DIR", conflicts_with = "list")]
    report: Option<PathBuf>,
    /// Run the entry's scenario against a lease in any language: start CMD once per candidate and speak the adapter protocol (docs/adapter-protocol.md). The schema, reset and age come from --spec, else from the entry's own spec file.
    #[arg(long, value_name = "CMD", conflicts_with = "list")]
    exec: Option<String>,
    /// With --exec: the spec file that gives the lease's schema, reset and age (default: the entry's own spec file, see --list).
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
    let file = if args.fixed { entry.fixed } else { entry.spec };
    let spec = leasecheck::spec::Spec::parse(file.text, file.path)?;
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
        if let Some(incident) = &entry.incident {
            println!("incident: {} ({})", incident.reference, incident.url());
        }
        if args.fixed {
            println!(
                "reproducing {} on its fixed lease {}: {}\nexpected: every property holds\n",
                entry.name,
                file.path,
                fix_of(entry)
            );
        } else {
            let lease = match &args.exec {
                Some(command) => format!(" against --exec {command}"),
                None => format!(" ({})", file.path),
            };
            println!(
                "reproducing {}{lease}: {}\nexpected: {} violated\n",
                entry.name, entry.bug, entry.breaks
            );
        }
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

/// What the fixed lease is: the incident's fix, or the reference lease.
fn fix_of(entry: &Entry) -> String {
    match &entry.incident {
        Some(incident) => format!("the fix, {}", incident.fix),
        None => "the reference lease, which does it right".into(),
    }
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
                    "spec": e.spec.path,
                    "incident": e.incident.map(|i| serde_json::json!({
                        "reference": i.reference,
                        "url": i.url(),
                        "buggy": i.buggy,
                        "fix": i.fix,
                    })),
                    "fixed": {
                        "spec": e.fixed.path,
                        "command": format!("leasecheck reproduce {} --fixed", e.name),
                    },
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(entries));
    } else {
        for e in &CATALOGUE {
            println!("{:<28} breaks {}: {}", e.name, e.breaks, e.bug);
            if let Some(i) = &e.incident {
                println!(
                    "{:<28} incident: {}, reproduced from {}; fixed by {}",
                    "", i.reference, i.buggy, i.fix
                );
            }
            println!("{:<28} scenario: leasecheck {}", "", e.scenario.join(" "));
            println!("{:<28} lease: {}, fixed: {}", "", e.spec.path, e.fixed.path);
        }
    }
}
