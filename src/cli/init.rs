//! `leasecheck init`: write a starter spec file.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "lease.toml")]
    file: PathBuf,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

/// The starter spec `init` writes: the reference lease, renamed.
const STARTER_SPEC: &str = include_str!("../../specs/reference.toml");

pub fn run(args: InitArgs) -> Result<u8> {
    let file = &args.file;
    if file.exists() && !args.force {
        bail!(
            "{} already exists; choose another path or pass --force to overwrite it",
            file.display()
        );
    }
    let text = format!(
        "# A starter lease spec written by `leasecheck init`: the reference lease.\n\
         # Replace its SQL with your lease's, then:\n\
         #   leasecheck validate {path}\n\
         #   leasecheck check --spec {path}\n\
         # Every field is described in docs/spec-format.md of the leasecheck repository.\n\
         #\n{body}",
        path = file.display(),
        body = STARTER_SPEC.replacen("name = \"reference\"", "name = \"my-lease\"", 1)
    );
    std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))?;
    println!(
        "wrote {}: edit it, then run `leasecheck validate {}`",
        file.display(),
        file.display()
    );
    Ok(0)
}
