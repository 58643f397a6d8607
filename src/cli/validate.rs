//! `leasecheck validate FILE`: the checks `check --spec` makes of a spec
//! file, without a battery.

use super::{postgres, ttl_env};
use anyhow::Result;
use clap::Args;
use leasecheck::settings::{Flags, Settings};
use leasecheck::Subject;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The spec file.
    file: PathBuf,
    /// Only parse it (no Postgres needed; the statements are not prepared).
    #[arg(long)]
    offline: bool,
    /// Postgres to install it in (default: DATABASE_URL, else a throwaway local cluster, else a container).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

pub fn run(args: ValidateArgs) -> Result<u8> {
    let file = &args.file;
    let spec = leasecheck::spec::Spec::load(file)?;
    let settings = Settings::build(
        &Flags {
            ttl_env: ttl_env(),
            ..Flags::default()
        },
        Some(&spec),
    )?;
    let how = if args.offline {
        "parsed (not installed: --offline)".to_string()
    } else {
        let pg = postgres(args.database_url.as_deref())?;
        // What `check` does before any run: install it in a schema of its
        // own (Postgres prepares every statement), then drop that schema.
        Subject::from_spec(&pg, spec.clone(), settings.ttl)?.drop_schema()?;
        format!(
            "installed and prepared on {} ({})",
            pg.target(),
            pg.source()
        )
    };
    println!(
        "{}: a valid spec \"{}\" (ttl {}s); {how}",
        file.display(),
        spec.name(),
        settings.ttl.as_secs_f64()
    );
    Ok(0)
}
