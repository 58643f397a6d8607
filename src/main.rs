//! `leasecheck`: prove, or refute with a replayable counterexample, that a
//! Postgres-backed leader-election lease is safe.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use leasecheck::battery::{self, Battery};
use leasecheck::fault::Fault;
use leasecheck::model::recording::Recording;
use leasecheck::report::{Figure, Report};
use leasecheck::scenario::characterize;
use leasecheck::settings::{Flags, Settings};
use leasecheck::verdict;
use leasecheck::{Postgres, Subject};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "leasecheck",
    version,
    about = "Prove, or refute with a replayable counterexample, that a Postgres-backed leader-election lease is safe",
    after_help = "Exit status: 0 every property held, 1 a property was violated, 2 the run could not be done."
)]
struct Cli {
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
    /// Run the scenario that exposes a catalogued split-brain bug (specs/broken/) and show its timeline.
    Reproduce {
        /// The entry (see --list).
        #[arg(required_unless_present = "list")]
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
    },
    /// Check a spec file without running a battery: the same checks and errors as `check --spec` (parsed, then installed in a throwaway schema so Postgres judges every statement), exit 2 on any error.
    Validate {
        /// The spec file.
        file: PathBuf,
        /// Only parse it (no Postgres needed; the statements are not prepared).
        #[arg(long)]
        offline: bool,
        /// Postgres to install it in (default: DATABASE_URL, else a throwaway local cluster, else a container).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Probe a spec file's lease with single calls and print the semantics it has (re-entrant acquire, renew of a stale lease, ...) as the [semantics] table to paste into the file; exit 1 if a probe broke a safety property.
    Characterize {
        /// The spec file.
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
        /// Probe a lease in any language instead of the spec's SQL: start CMD once per candidate and speak the adapter protocol (the spec still gives the schema, reset and age).
        #[arg(long, value_name = "CMD")]
        exec: Option<String>,
        /// How long an --exec adapter may take for its hello and for each answer, milliseconds (default: 30 s over the stall).
        #[arg(long, value_name = "MS", requires = "exec")]
        exec_timeout: Option<u64>,
        /// Lease TTL in seconds (default: LEASECHECK_LEASE_SECONDS, else the spec's ttl_seconds, else 0.2).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<String>,
        /// Postgres to probe it on (default: DATABASE_URL, else a throwaway local cluster, else a container).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Write a starter spec file (the reference lease, commented) to edit into yours.
    Init {
        /// Where to write it.
        #[arg(default_value = "lease.toml")]
        file: PathBuf,
        /// Overwrite the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Say what this machine offers a run: server binaries, DATABASE_URL, PgBouncer, Docker, the Postgres a run would get, and which faults can be injected into it (and why not).
    Doctor,
    /// The adapter protocol's reference adapter: serve a spec file's lease on stdin/stdout for one candidate (started by `--exec`, which sets its environment); to compare a run with --exec against the same SQL without it.
    Adapter {
        /// The spec file whose statements it runs.
        #[arg(long, value_name = "FILE")]
        spec: PathBuf,
    },
    /// Check a recorded history (JSON lines, from --history) offline: each scenario on its own, with the verdicts the run gave (the checker's P6, P7 and P8 judged again from the events).
    CheckHistory {
        /// The history file.
        file: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
        /// Write an HTML report to DIR/index.html: every scenario's timeline, violations outlined.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
    },
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// The lease to check, as a spec file (default: the built-in reference lease).
    #[arg(long, value_name = "FILE")]
    spec: Option<PathBuf>,
    /// Check the built-in fenced lease (the reference lease plus an epoch column, P8) instead of the reference lease.
    #[arg(long, conflicts_with_all = ["spec", "exec"])]
    fenced: bool,
    /// Check a lease in any language: start CMD once per candidate and speak the adapter protocol (JSON lines on stdin/stdout; docs/adapter-protocol.md). Needs --spec for the lease's schema, reset and age.
    #[arg(long, value_name = "CMD", requires = "spec")]
    exec: Option<String>,
    /// How long an --exec adapter may take for its hello and for each answer, milliseconds (default: the stall + 30 s).
    #[arg(long, value_name = "MS", requires = "exec")]
    exec_timeout: Option<u64>,
    /// Postgres to run against (default: DATABASE_URL, else a throwaway local cluster, else a container).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Lease TTL in seconds (default: LEASECHECK_LEASE_SECONDS, else the spec's ttl_seconds, else 0.2).
    #[arg(long, value_name = "SECS")]
    ttl: Option<String>,
    /// Candidates racing in each round; one race per size [default: 32].
    #[arg(long, value_delimiter = ',', num_args = 1.., value_name = "N[,N...]")]
    candidates: Vec<usize>,
    /// Race rounds [default: 50].
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Standbys polling during a takeover [default: 3].
    #[arg(long, value_name = "N")]
    standbys: Option<usize>,
    /// Faults to stall the leader with (comma-separated; default: all).
    #[arg(long, value_delimiter = ',', value_name = "FAULT")]
    faults: Vec<Fault>,
    /// Takeover (and zombie) trials per fault [default: 1].
    #[arg(long, value_name = "N")]
    trials: Option<usize>,
    /// Zombie rounds per trial: lead, stall between check and write, stale write, learn [default: 3].
    #[arg(long, value_name = "N")]
    zombie_rounds: Option<usize>,
    /// Leader renew interval, milliseconds (default: TTL / 4).
    #[arg(long, value_name = "MS")]
    renew_interval: Option<u64>,
    /// Standby poll interval, milliseconds (default: TTL / 10).
    #[arg(long, value_name = "MS")]
    poll_interval: Option<u64>,
    /// How long a fault stalls the leader, milliseconds (default: 3 x TTL).
    #[arg(long, value_name = "MS")]
    stall: Option<u64>,
    /// Allowance over TTL + poll interval for a takeover, milliseconds [default: 250].
    #[arg(long, value_name = "MS")]
    slack: Option<u64>,
    /// Seed of every random choice (printed with every failure; default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Write every recorded operation as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Write an HTML report to DIR/index.html: every scenario's timeline (tenures, calls, faults, actions), violations outlined.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Route candidates directly to Postgres or through a PgBouncer in transaction pooling mode.
    #[arg(long, value_enum, default_value = "direct")]
    via: Via,
    /// Give each candidate its own wall-clock offset of up to MS milliseconds, bound as $3.
    #[arg(long, value_name = "MS")]
    skew: Option<u64>,
    /// How the failover fault's replica is fed: sync (the primary acknowledges a commit once the replica applied it) or async (the replica may lag, and a failover loses what it missed).
    #[arg(long, value_name = "MODE", value_parser = parse_replication)]
    replication: Option<leasecheck::fault::Replication>,
    /// synchronous_commit of the server while crash-restart and durability crash it: on, or off (a crash may lose acknowledged commits: run on purpose to see it).
    #[arg(long, value_name = "on|off", value_parser = parse_durability)]
    synchronous_commit: Option<leasecheck::fault::Durability>,
    /// Do not record histories (faster; no P6/P7 checks).
    #[arg(long)]
    no_record: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// Each candidate on its own direct connection.
    Direct,
    /// Through PgBouncer in transaction pooling mode (started by leasecheck).
    Pgbouncer,
}

fn parse_replication(s: &str) -> Result<leasecheck::fault::Replication, String> {
    s.parse()
}

fn parse_durability(s: &str) -> Result<leasecheck::fault::Durability, String> {
    s.parse()
}

/// The TTL the environment sets ([`leasecheck::settings::TTL_ENV`]), as
/// found (text that is not UTF-8 is kept lossily, and then refused by the
/// settings with the variable's name).
fn ttl_env() -> Option<String> {
    std::env::var_os(leasecheck::settings::TTL_ENV).map(|v| v.to_string_lossy().into_owned())
}

impl RunArgs {
    /// The settings as the user gave them, for [`Settings::build`].
    fn flags(&self) -> Flags {
        Flags {
            ttl: self.ttl.clone(),
            ttl_env: ttl_env(),
            candidates: self.candidates.clone(),
            rounds: self.rounds,
            standbys: self.standbys,
            faults: self.faults.clone(),
            trials: self.trials,
            zombie_rounds: self.zombie_rounds,
            renew_interval_ms: self.renew_interval,
            poll_interval_ms: self.poll_interval,
            stall_ms: self.stall,
            slack_ms: self.slack,
            seed: self.seed,
            skew_ms: self.skew,
            no_record: self.no_record,
            replication: self.replication,
            durability: self.synchronous_commit,
            exec_timeout_ms: self.exec_timeout,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEASECHECK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("leasecheck: error: {}", explain(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes, each said once (a library error often quotes
/// its source in its own message already).
fn explain(e: &anyhow::Error) -> String {
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

fn run(cli: Cli) -> Result<u8> {
    if let Command::Adapter { spec } = &cli.command {
        // An adapter process: leasecheck, its parent, stops it by closing
        // its stdin or killing it; it keeps the default signal handling.
        let spec = leasecheck::spec::Spec::load(spec)?;
        let stdin = std::io::stdin().lock();
        leasecheck::lease::serve(spec, stdin, std::io::stdout().lock())?;
        return Ok(0);
    }
    // Before anything is started: Ctrl-C (or SIGTERM, or SIGHUP: a CI job
    // cancelled, a `timeout`) then stops a run between steps and lets every
    // guard undo what leasecheck made (servers, faults, schemas); a second
    // one exits at once.
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                eprintln!("leasecheck: interrupted twice, exiting now");
                // No drop runs on this exit: the adapters' process groups
                // are killed here (servers leasecheck started are left).
                leasecheck::adapter::kill_every_adapter();
                std::process::exit(2);
            }
            eprintln!("leasecheck: interrupted: undoing what leasecheck started, then reporting what was done");
        })
        .context("cannot install the Ctrl-C (SIGINT, SIGTERM, SIGHUP) handler")?;
    }
    match cli.command {
        Command::Race(args) => battery_command(Battery::Race, args, None, &cancel),
        Command::Takeover(args) => battery_command(Battery::Takeover, args, None, &cancel),
        Command::Zombie(args) => battery_command(Battery::Zombie, args, None, &cancel),
        Command::Durability(args) => battery_command(Battery::Durability, args, None, &cancel),
        Command::Check(args) => battery_command(Battery::All, args, None, &cancel),
        Command::Reproduce {
            name,
            list,
            seed,
            json,
            report,
        } => reproduce(name, list, seed, json, report, &cancel),
        Command::CheckHistory { file, json, report } => check_history(&file, json, report),
        Command::Validate {
            file,
            offline,
            database_url,
        } => validate(&file, offline, database_url.as_deref()),
        Command::Characterize {
            spec,
            exec,
            exec_timeout,
            ttl,
            database_url,
        } => characterize(
            &spec,
            exec.as_deref(),
            exec_timeout,
            ttl,
            database_url.as_deref(),
        ),
        Command::Init { file, force } => init(&file, force),
        Command::Adapter { .. } => unreachable!("served before the handler is installed"),
        Command::Doctor => {
            let exam = leasecheck::doctor::Examination::of_this_machine();
            print!("{}", exam.render_text());
            Ok(if exam.postgres { 0 } else { 2 })
        }
    }
}

/// The starter spec `init` writes: the reference lease, renamed.
const STARTER_SPEC: &str = include_str!("../specs/reference.toml");

fn init(file: &std::path::Path, force: bool) -> Result<u8> {
    if file.exists() && !force {
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

fn validate(file: &std::path::Path, offline: bool, database_url: Option<&str>) -> Result<u8> {
    let spec = leasecheck::spec::Spec::load(file)?;
    let settings = Settings::build(
        &Flags {
            ttl_env: ttl_env(),
            ..Flags::default()
        },
        Some(&spec),
    )?;
    let how = if offline {
        "parsed (not installed: --offline)".to_string()
    } else {
        let pg = postgres(database_url)?;
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

/// The server of `--database-url URL`, else what `Postgres::provision`
/// finds (DATABASE_URL, a throwaway local cluster, a container).
fn postgres(database_url: Option<&str>) -> Result<Postgres> {
    Ok(match database_url {
        Some(url) => Postgres::from_url(url)?,
        None => Postgres::provision()?,
    })
}

fn characterize(
    file: &std::path::Path,
    exec: Option<&str>,
    exec_timeout_ms: Option<u64>,
    ttl: Option<String>,
    database_url: Option<&str>,
) -> Result<u8> {
    let spec = leasecheck::spec::Spec::load(file)?;
    let settings = Settings::build(
        &Flags {
            ttl,
            ttl_env: ttl_env(),
            exec_timeout_ms,
            ..Flags::default()
        },
        Some(&spec),
    )?;
    let command = exec
        .map(leasecheck::adapter::AdapterCommand::parse)
        .transpose()?;
    let pg = postgres(database_url)?;
    let mut subject = match command {
        Some(command) => Subject::exec(
            &pg,
            spec.clone(),
            command,
            settings.ttl,
            settings.exec_timeout,
        )?,
        None => Subject::from_spec(&pg, spec.clone(), settings.ttl)?,
    };
    let rec = leasecheck::Recorder::new(settings.ttl, false);
    let probed = characterize::probe(&mut subject, &rec);
    let probed = subject.unless_adapter_broke(probed);
    let name = subject.name().to_string();
    subject.drop_schema()?;
    let found = probed?;
    let lease = match exec {
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

fn check_history(file: &PathBuf, json: bool, page: Option<PathBuf>) -> Result<u8> {
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let recording = Recording::read_jsonl(std::io::BufReader::new(f))
        .with_context(|| format!("{} is not a leasecheck history", file.display()))?;
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
    };
    let written = match &page {
        Some(dir) => write_page(dir, &mut report, &recording.sections),
        None => Ok(()),
    };
    print_report(&report, json);
    written.context(
        "the history was checked (its report is above), but the HTML report could not be written",
    )?;
    Ok(report.exit_code() as u8)
}

/// Write the HTML report of `report` into `dir`, and name it in `report`.
fn write_page(
    dir: &std::path::Path,
    report: &mut Report,
    sections: &[leasecheck::model::recording::Section],
) -> Result<()> {
    let path = leasecheck::report::write_page(dir, report, sections)
        .with_context(|| format!("cannot write the HTML report to {}", dir.display()))?;
    report.report_page = Some(path.display().to_string());
    Ok(())
}

fn reproduce(
    name: Option<String>,
    list: bool,
    seed: Option<u64>,
    json: bool,
    page: Option<PathBuf>,
    cancel: &Arc<AtomicBool>,
) -> Result<u8> {
    use leasecheck::catalogue::{find, CATALOGUE};
    if list {
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
        return Ok(0);
    }
    let name = name.unwrap_or_default();
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
    if let Some(seed) = seed {
        argv.extend(["--seed".to_string(), seed.to_string()]);
    }
    if json {
        argv.push("--json".into());
    }
    if let Some(dir) = page {
        argv.push("--report".into());
        argv.push(dir.display().to_string());
    }
    if !json {
        println!(
            "reproducing {}: {}\nexpected: {} violated\n",
            entry.name, entry.bug, entry.breaks
        );
    }
    let (battery, args) = match Cli::try_parse_from(&argv)?.command {
        Command::Race(a) => (Battery::Race, a),
        Command::Takeover(a) => (Battery::Takeover, a),
        Command::Zombie(a) => (Battery::Zombie, a),
        Command::Durability(a) => (Battery::Durability, a),
        Command::Check(a) => (Battery::All, a),
        _ => bail!("catalogue entry {} has no runnable scenario", entry.name),
    };
    battery_command(battery, args, Some(spec), cancel)
}

fn battery_command(
    battery: Battery,
    args: RunArgs,
    embedded: Option<leasecheck::spec::Spec>,
    cancel: &Arc<AtomicBool>,
) -> Result<u8> {
    let spec = match (&args.spec, embedded) {
        (_, Some(spec)) => Some(spec),
        (Some(path), None) => Some(leasecheck::spec::Spec::load(path)?),
        (None, None) => None,
    };
    let flags = args.flags();
    let settings = Settings::build(&flags, spec.as_ref())?;
    let (ttl, seed) = (settings.ttl, settings.seed);
    // A TTL from the environment is pinned in the replay command, which
    // must run the same check wherever it is pasted.
    let pinned: Vec<String> = match (&flags.ttl, &flags.ttl_env) {
        (None, Some(text)) => vec!["--ttl".into(), text.clone()],
        _ => Vec::new(),
    };
    if args.history.is_some() && !settings.record {
        bail!("--history writes what the run records: drop --no-record");
    }
    if args.report.is_some() && !settings.record {
        bail!("--report draws what the run records: drop --no-record");
    }

    let pg = postgres(args.database_url.as_deref())?;
    let database = format!("{} ({})", pg.target(), pg.source());

    let total = battery.progress_total(&settings);
    let bar = Progress::new(total, args.no_progress || args.json);
    let tick = || bar.tick();

    let fenced = args.fenced;
    let exec = args
        .exec
        .as_deref()
        .map(leasecheck::adapter::AdapterCommand::parse)
        .transpose()?;
    let exec_timeout = settings.exec_timeout;
    let subject_name = match (&spec, &exec) {
        (Some(spec), Some(command)) => format!(
            "{} (--exec; schema, reset and age from spec {})",
            command.text(),
            spec.origin()
        ),
        (_, Some(_)) => unreachable!("clap requires --spec with --exec"),
        (Some(spec), None) => format!("{} (spec {})", spec.name(), spec.origin()),
        (None, None) if fenced => "fenced lease (built-in: reference + epoch column)".to_string(),
        (None, None) => "reference lease (built-in)".to_string(),
    };
    // what the lease declares is part of what is judged: say it
    let subject_name = match spec.as_ref().map(|s| s.semantics()) {
        Some(declared) if !declared.is_reference() => {
            format!("{subject_name}; declares {declared}")
        }
        _ => subject_name,
    };
    let pooler = match args.via {
        Via::Direct => None,
        Via::Pgbouncer => Some(leasecheck::database::Pooler::start(&pg)?),
    };
    let database = match &pooler {
        Some(p) => format!(
            "{database} via PgBouncer (transaction pooling) at {}",
            p.address()
        ),
        None => database,
    };
    let pg_ref = &pg;
    let route = pooler.as_ref().map(|p| p.config());
    let skew = settings.skew;
    let make: Box<dyn Fn() -> Result<Subject, leasecheck::RunError> + '_> = Box::new(move || {
        let mut subject = match (&spec, &exec) {
            (Some(spec), Some(command)) => {
                Subject::exec(pg_ref, spec.clone(), command.clone(), ttl, exec_timeout)?
            }
            (Some(spec), None) => Subject::from_spec(pg_ref, spec.clone(), ttl)?,
            (None, _) if fenced => Subject::fenced(pg_ref, ttl)?,
            (None, _) => Subject::reference(pg_ref, ttl)?,
        };
        if let Some(route) = &route {
            subject = subject.route_via_pooler(route.clone());
        }
        if let Some(max) = skew {
            subject = subject.with_skew(max, seed);
        }
        Ok(subject)
    });
    // Install the lease once before any run: a spec whose SQL fails is
    // rejected here, naming the field and quoting Postgres.
    make()?.drop_schema()?;
    let outcome = battery::run(
        &pg,
        make.as_ref(),
        &subject_name,
        battery,
        &settings,
        cancel,
        &tick,
    );
    bar.finish();

    // The report is printed whatever happens to the files below, so the
    // verdict, the seed and the replay command are never lost.
    let mut report = Report {
        subject: subject_name,
        database,
        ttl_seconds: ttl.as_secs_f64(),
        seed,
        replay: replay_command(seed, &pinned),
        scenarios: outcome.scenarios,
        history_file: None,
        report_page: None,
    };
    let recording = Recording {
        seed: Some(seed),
        replay: Some(report.replay.clone()),
        sections: outcome.sections,
    };
    let mut written = Ok(());
    if let Some(path) = &args.history {
        // Written beside the target and renamed into place: a file that is
        // there is whole (and a reader refuses one cut short anyway).
        let partial = path.with_extension("jsonl.partial");
        written = std::fs::File::create(&partial)
            .and_then(|f| recording.write_jsonl(f))
            .and_then(|()| std::fs::rename(&partial, path))
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&partial);
            })
            .with_context(|| format!("cannot write the history to {}", path.display()));
        if written.is_ok() {
            report.history_file = Some(path.display().to_string());
        }
    }
    if let (Ok(()), Some(dir)) = (&written, &args.report) {
        written = write_page(dir, &mut report, &recording.sections);
    }
    if let (Ok(()), Some(path)) = (&written, &args.junit) {
        written = std::fs::write(path, report.to_junit())
            .with_context(|| format!("cannot write the JUnit report to {}", path.display()));
    }
    print_report(&report, args.json);
    written.context("the run finished (its report is above), but not every file it was asked for could be written")?;
    Ok(report.exit_code() as u8)
}

fn print_report(report: &Report, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render_text());
    }
}

/// A progress bar that appears only once a run has lasted a couple of
/// seconds, and never when stderr is not a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    enabled: bool,
    shown: std::sync::atomic::AtomicBool,
    started: std::time::Instant,
}

impl Progress {
    const DELAY: Duration = Duration::from_secs(2);

    fn new(total: u64, off: bool) -> Progress {
        use std::io::IsTerminal;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::hidden(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len}",
        ) {
            bar.set_style(style);
        }
        Progress {
            bar,
            enabled: !off && std::io::stderr().is_terminal(),
            shown: std::sync::atomic::AtomicBool::new(false),
            started: std::time::Instant::now(),
        }
    }

    fn tick(&self) {
        self.bar.inc(1);
        if self.enabled
            && self.started.elapsed() >= Self::DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar
                .set_draw_target(indicatif::ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// The command line that replays this run: the same arguments, then
/// `pinned` (settings that came from elsewhere than the command line), with
/// the seed pinned.
fn replay_command(seed: u64, pinned: &[String]) -> String {
    let mut out = vec!["leasecheck".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--seed" {
            args.next();
            continue;
        }
        if a.starts_with("--seed=") {
            continue;
        }
        out.push(shell_quote(&a));
    }
    out.extend(pinned.iter().map(|a| shell_quote(a)));
    out.push(format!("--seed {seed}"));
    out.join(" ")
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
