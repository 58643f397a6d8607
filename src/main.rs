//! `leasecheck`: prove, or refute with a replayable counterexample, that a
//! Postgres-backed leader-election lease is safe. The commands live in
//! [`cli`], one file each.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEASECHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::run(cli::Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("leasecheck: error: {}", cli::explain(&e));
            ExitCode::from(2)
        }
    }
}
