//! `leasecheck synth-history FILE` (hidden): write a large valid history,
//! deterministic by seed, for measuring `check-history` on more events than
//! a run records (`scripts/bench.sh`).

use anyhow::{bail, Context, Result};
use clap::Args;
use leasecheck::model::recording::{Recording, Section, SectionHeader};
use leasecheck::model::synthetic;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SynthHistoryArgs {
    /// The file to write (JSON lines, as --history writes them).
    file: PathBuf,
    /// How many events (at least; a race history ends on a whole round).
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    events: usize,
    /// The generator's seed.
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    seed: u64,
    /// A stress history of this many candidates with no quiescent point,
    /// instead of race rounds.
    #[arg(long, value_name = "CANDIDATES")]
    stress: Option<u16>,
    /// Give every K-th race round a second winner (a P6 and P7 violation each).
    #[arg(long, value_name = "K")]
    second_winner_every: Option<usize>,
}

pub fn run(args: SynthHistoryArgs) -> Result<u8> {
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let (scenario, history) = match (args.stress, args.second_winner_every) {
        (Some(_), Some(_)) => {
            bail!("--second-winner-every applies to race rounds, not to --stress")
        }
        (Some(0), None) => bail!("--stress needs at least 1 candidate"),
        (Some(n), None) => (
            "synthetic/stress",
            synthetic::stress(args.events, n, args.seed),
        ),
        (None, every) => (
            "synthetic/race",
            synthetic::race_with_second_winners(args.events, args.seed, every.unwrap_or(0)),
        ),
    };
    let header = SectionHeader {
        scenario: scenario.into(),
        lease: Some("synthetic history".into()),
        schema: None,
        fault: None,
        seed: Some(args.seed),
        stale_writes: Default::default(),
    };
    let recording = Recording {
        seed: Some(args.seed),
        replay: None,
        sections: vec![Section::new(header, history)],
    };
    let file = &args.file;
    let out =
        std::fs::File::create(file).with_context(|| format!("cannot create {}", file.display()))?;
    recording
        .write_jsonl(out)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(0)
}
