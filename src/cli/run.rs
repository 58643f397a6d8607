//! A battery run: `race`, `takeover`, `zombie`, `durability`, `check`, and
//! the scenario of a `reproduce` entry. Builds the settings, gets a
//! Postgres, runs the battery, prints the report and writes its files.

use super::page;
use super::postgres;
use super::progress::Progress;
use super::replay;
use super::run_args::{RunArgs, Via};
use anyhow::{bail, Context, Result};
use leasecheck::battery::{self, Battery};
use leasecheck::model::recording::Recording;
use leasecheck::report::Report;
use leasecheck::settings::Settings;
use leasecheck::spec::Spec;
use leasecheck::{Postgres, Subject};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Run `battery` as `args` say; `embedded` is a spec given by the caller
/// (a catalogue entry) rather than by `--spec`.
pub fn battery(
    battery: Battery,
    args: RunArgs,
    embedded: Option<Spec>,
    cancel: &Arc<AtomicBool>,
) -> Result<u8> {
    let spec = match (&args.spec, embedded) {
        (Some(path), _) => Some(Spec::load(path)?),
        (None, Some(spec)) => Some(spec),
        (None, None) => None,
    };
    let flags = args.flags();
    let settings = Settings::build(&flags, spec.as_ref())?;
    leasecheck::database::set_call_timeout(settings.call_timeout);
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

    let fenced = args.fenced;
    let exec = args
        .exec
        .as_deref()
        .map(leasecheck::adapter::AdapterCommand::parse)
        .transpose()?;
    let call_timeout = settings.call_timeout;
    let subject_name = match (&spec, &exec) {
        (Some(spec), Some(command)) => format!(
            "{} (--exec; schema, reset and age from spec {})",
            command.text(),
            spec.origin()
        ),
        (None, Some(_)) => bail!("--exec needs --spec FILE: the lease's schema, reset and age"),
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
    let route = pooler.as_ref().map(|p| p.config());
    let skew = settings.skew;
    let movable = route.is_none();
    let make = move |pg_ref: &Postgres| -> Result<Subject, leasecheck::RunError> {
        let mut subject = match (&spec, &exec) {
            (Some(spec), Some(command)) => {
                Subject::exec(pg_ref, spec.clone(), command.clone(), ttl, call_timeout)?
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
    };
    // Install the lease once before any run: a spec whose SQL fails is
    // rejected here, naming the field and quoting Postgres.
    make(&pg)?.drop_schema()?;
    let subjects = battery::Subjects {
        lease: &subject_name,
        make: &make,
        movable,
    };
    let outcome = battery::run(&pg, &subjects, battery, &settings, cancel, &bar);
    bar.finish();

    // The report is printed whatever happens to the files below, so the
    // verdict, the seed and the replay command are never lost.
    let mut report = Report {
        subject: subject_name,
        database,
        ttl_seconds: ttl.as_secs_f64(),
        seed,
        replay: replay::command(seed, &pinned),
        scenarios: outcome.scenarios,
        history_file: None,
        report_page: None,
        fail_on: args.fail_on,
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
        written = page::write(dir, &mut report, &recording.sections);
    }
    if let (Ok(()), Some(path)) = (&written, &args.junit) {
        written = std::fs::write(path, report.to_junit())
            .with_context(|| format!("cannot write the JUnit report to {}", path.display()));
    }
    page::print(&report, args.json);
    written.context("the run finished (its report is above), but not every file it was asked for could be written")?;
    Ok(report.exit_code() as u8)
}
