//! The command line: one file per command, the flags of a run in
//! [`run_args`], and the dispatch here. Every command turns what the user
//! typed into the library's settings (`leasecheck::settings`) and calls the
//! library; none of them judges or runs a scenario itself.
//!
//! Exit status: 0 every property held, 1 a property was violated, 2 the
//! run could not be done (every `Err` here).

mod characterize;
mod check_history;
mod choices;
mod init;
mod interrupt;
mod page;
mod progress;
mod replay;
mod reproduce;
mod run;
mod run_args;
mod synth_history;
mod validate;

use anyhow::Result;
use clap::{Parser, Subcommand};
use leasecheck::Postgres;
use run_args::RunArgs;
use std::path::PathBuf;

use leasecheck::battery::Battery;

#[derive(Parser, Debug)]
#[command(
    name = "leasecheck",
    version,
    about = "Prove, or refute with a replayable counterexample, that a Postgres-backed leader-election lease is safe",
    after_help = "Exit status: 0 every property held, 1 a property was violated, 2 the run could not be done."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// P1: N candidates on N connections race try_acquire on a free or stale lease; exactly one must win.
    Race(RunArgs),
    /// P2-P6: a leader stalls past its TTL under each fault; exactly one standby must take over and the leader must learn.
    Takeover(RunArgs),
    /// P8: a leader's work outlasts its lease (a stall between its check and its write) while a standby takes over and acts; every stale write is a violation (exit 1 unless the lease fences it: --fenced, or a spec with epoch = true).
    Zombie(RunArgs),
    /// P9: the server crashes right after an acknowledged acquire and is started again; the acquire must still be there (run with --synchronous-commit off to see a crash lose it). Needs a cluster leasecheck runs.
    Durability(RunArgs),
    /// Everything (the CI gate): race, release and non-holder semantics, takeover and zombie under every fault, history checks (a zombie's stale writes are informational for a lease without epochs).
    Check(RunArgs),
    /// Run the scenario that exposes a catalogued split-brain bug (a public incident from its buggy release, or a lease with one mistake) on the buggy lease, or with --fixed on its fixed one.
    Reproduce(reproduce::ReproduceArgs),
    /// Check a spec file without running a battery: the same checks and errors as `check --spec` (parsed, then installed in a throwaway schema so Postgres judges every statement), exit 2 on any error.
    Validate(validate::ValidateArgs),
    /// Probe a spec file's lease with single calls and print the semantics it has (re-entrant acquire, renew of a stale lease, ...) as the [semantics] table to paste into the file; exit 1 if a probe broke a safety property.
    Characterize(characterize::CharacterizeArgs),
    /// Write a starter spec file (the reference lease, commented) to edit into yours.
    Init(init::InitArgs),
    /// Say what this machine offers a run: server binaries, DATABASE_URL, PgBouncer, Docker, the Postgres a run would get, and which faults can be injected into it (and why not).
    Doctor,
    /// The adapter protocol's reference adapter: serve a spec file's lease on stdin/stdout for one candidate (started by `--exec`, which sets its environment); to compare a run with --exec against the same SQL without it.
    Adapter {
        /// The spec file whose statements it runs.
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
    },
    /// Check a recorded history (JSON lines, from --history) offline: each scenario on its own, with the verdicts the run gave (the checker's P6, P7 and P8 judged again from the events).
    CheckHistory(check_history::CheckHistoryArgs),
    /// Write a large valid history, deterministic by seed (for measuring check-history).
    #[command(hide = true)]
    SynthHistory(synth_history::SynthHistoryArgs),
}

/// Run the command line `cli`: the exit status, or the error (exit 2).
pub fn run(cli: Cli) -> Result<u8> {
    if let Command::Adapter { spec } = &cli.command {
        // An adapter process: leasecheck, its parent, stops it by closing
        // its stdin or killing it; it keeps the default signal handling.
        let spec = leasecheck::spec::Spec::load(spec)?;
        let stdin = std::io::stdin().lock();
        leasecheck::lease::serve(spec, stdin, std::io::stdout().lock())?;
        return Ok(0);
    }
    let cancel = interrupt::install()?;
    match cli.command {
        Command::Race(args) => run::battery(Battery::Race, args, None, &cancel),
        Command::Takeover(args) => run::battery(Battery::Takeover, args, None, &cancel),
        Command::Zombie(args) => run::battery(Battery::Zombie, args, None, &cancel),
        Command::Durability(args) => run::battery(Battery::Durability, args, None, &cancel),
        Command::Check(args) => run::battery(Battery::All, args, None, &cancel),
        Command::Reproduce(args) => reproduce::run(args, &cancel),
        Command::CheckHistory(args) => check_history::run(args),
        Command::SynthHistory(args) => synth_history::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Characterize(args) => characterize::run(args),
        Command::Init(args) => init::run(args),
        Command::Adapter { .. } => unreachable!("served before the handler is installed"),
        Command::Doctor => {
            let exam = leasecheck::doctor::Examination::of_this_machine();
            print!("{}", exam.render_text());
            Ok(if exam.postgres { 0 } else { 2 })
        }
    }
}

/// An error and its causes, each said once (a library error often quotes
/// its source in its own message already).
pub fn explain(e: &anyhow::Error) -> String {
    let mut said = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !said.contains(&cause) {
            said.push_str(": ");
            said.push_str(&cause);
        }
    }
    said
}

/// The server of `--database-url URL`, else what `Postgres::provision`
/// finds (DATABASE_URL, a throwaway local cluster, a container).
fn postgres(database_url: Option<&str>) -> Result<Postgres> {
    Ok(match database_url {
        Some(url) => Postgres::from_url(url)?,
        None => Postgres::provision()?,
    })
}

/// The TTL the environment sets ([`leasecheck::settings::TTL_ENV`]), as
/// found (text that is not UTF-8 is kept lossily, and then refused by the
/// settings with the variable's name).
fn ttl_env() -> Option<String> {
    std::env::var_os(leasecheck::settings::TTL_ENV).map(|v| v.to_string_lossy().into_owned())
}
