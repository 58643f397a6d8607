//! `leasecheck characterize --spec FILE`: probe a lease with single calls
//! and print the `[semantics]` table it has.

use super::replay::shell_quote;
use super::{postgres, ttl_env};
use anyhow::Result;
use clap::Args;
use leasecheck::scenario::characterize;
use leasecheck::settings::{Flags, Settings};
use leasecheck::Subject;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CharacterizeArgs {
    /// The spec file.
    #[arg(long, value_name = "FILE")]
    spec: PathBuf,
    /// Probe a lease in any language instead of the spec's SQL: start CMD once per candidate and speak the adapter protocol (the spec still gives the schema, reset and age).
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
    /// The deadline of every call, milliseconds: a statement to Postgres, a connection being opened, an adapter's hello or answer (default: 30 s over the stall).
    #[arg(long, value_name = "MS", alias = "exec-timeout")]
    call_timeout: Option<u64>,
    /// Lease TTL in seconds (default: LEASECHECK_LEASE_SECONDS, else the spec's ttl_seconds, else 0.2).
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<String>,
    /// Postgres to probe it on (default: DATABASE_URL, else a throwaway local cluster, else a container).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

pub fn run(args: CharacterizeArgs) -> Result<u8> {
    let file = &args.spec;
    let spec = leasecheck::spec::Spec::load(file)?;
    let settings = Settings::build(
        &Flags {
            ttl: args.ttl.clone(),
            ttl_env: ttl_env(),
            call_timeout_ms: args.call_timeout,
            ..Flags::default()
        },
        Some(&spec),
    )?;
    leasecheck::database::set_call_timeout(settings.call_timeout);
    let command = args
        .exec
        .as_deref()
        .map(leasecheck::adapter::AdapterCommand::parse)
        .transpose()?;
    let pg = postgres(args.database_url.as_deref())?;
    let mut subject = match command {
        Some(command) => Subject::exec(
            &pg,
            spec.clone(),
            command,
            settings.ttl,
            settings.call_timeout,
        )?,
        None => Subject::from_spec(&pg, spec.clone(), settings.ttl)?,
    };
    let rec = leasecheck::Recorder::new(settings.ttl, false);
    let probed = characterize::probe(&mut subject, &rec);
    let probed = subject.unless_adapter_broke(probed);
    let name = subject.name().to_string();
    subject.drop_schema()?;
    let found = probed?;
    let lease = match &args.exec {
        Some(command) => format!("--spec {} --exec {}", file.display(), shell_quote(command)),
        None => format!("--spec {}", file.display()),
    };
    let replay = format!("leasecheck characterize {lease}");
    println!(
        "leasecheck characterize: {name}, ttl {}s, on {}",
        settings.ttl.as_secs_f64(),
        pg.target()
    );
    for p in &found.probes {
        let declares = p
            .declares
            .map(|(field, value)| format!("  -> {field} = {value}"))
            .unwrap_or_default();
        println!("  {:<66} {:<5}{declares}", p.question, p.answer);
    }
    for r in &found.remarks {
        println!("\nnote: {r}");
    }
    if !found.unsafe_findings.is_empty() {
        for u in &found.unsafe_findings {
            println!("\nUNSAFE ({}): {}", u.property, u.what);
        }
        println!(
            "\nno declaration makes this lease safe: `leasecheck check {lease}` shows it \
             under concurrency, with a timeline"
        );
        println!("replay: {replay}");
        return Ok(1);
    }
    let declared = spec.semantics();
    if declared == found.semantics {
        println!(
            "\n{} already declares these semantics ({}).",
            file.display(),
            found.semantics
        );
    } else {
        println!(
            "\nThe lease's semantics ({}); {} declares {}. Paste this into {} (replacing any [semantics] table):\n",
            found.semantics,
            file.display(),
            declared,
            file.display()
        );
        print!("{}", found.semantics.declaration());
    }
    println!("\nthen: leasecheck check {lease}");
    Ok(0)
}
