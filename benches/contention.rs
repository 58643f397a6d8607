//! Contention benchmarks of the reference lease, each beside its physical floor.
//!
//! One Postgres for the whole process (provisioned on first need: `DATABASE_URL`,
//! else a throwaway local cluster, else a container), every benchmark in a
//! schema of its own. Groups:
//!
//! - `uncontended`: the reference [`Lease`]'s `try_acquire` / `renew` /
//!   `release` on one connection, as the harness runs it on a direct
//!   connection ([`Lease::prepared`]: statements prepared once per
//!   connection), next to a bare `SELECT 1` and a bare single-row `UPDATE`
//!   (both prepared once: one round trip, the floor) on the same connection.
//!   To show what the pooler-safe mode costs, the bare `UPDATE` also runs as
//!   an unnamed statement (`update_typed`: `query_typed`, parsed and planned
//!   on every call, as a lease without `prepared` sends it behind a
//!   transaction pooler), and the lease's SQL hand-prepared (`*_prepared`)
//!   cross-checks the lease's own prepared path.
//! - `contended`: N candidates (1..64) on N connections race `try_acquire` on
//!   a free lease in barrier-aligned rounds on a dedicated rayon pool, the
//!   lease made free again (untimed) before every round. The time of a round
//!   runs from the first call's start to the last call's reply. Beside it: N
//!   clients trying one conditional `UPDATE ... WHERE leader = '' RETURNING`
//!   of the freed row, which all but one fail (the floor: what a correct
//!   lease must cost at least), N clients doing a blind single-row `UPDATE`
//!   (every one writes), a session `pg_try_advisory_lock`, and an
//!   `INSERT ... ON CONFLICT DO UPDATE` lease with an expiry column.
//! - `takeover`: from the leader's last successful renew to a standby's win
//!   after the leader stalls ([`Fault::ClientPause`]), for a few TTL / poll
//!   interval settings; the floor is TTL + poll interval.
//! - `recording`: race throughput ([`stress::race`], 8 candidates) with the
//!   history recorder on and off, in back-to-back pairs of batteries (written
//!   to `paired.csv`), and the recorder's own cost per call.
//!
//! - `exec`: what the adapter protocol (`--exec`) costs. The same SQL
//!   (`specs/reference.toml`) races at N = 32 in two subjects of the same
//!   run: the spec lease in-process, and one reference adapter process per
//!   candidate (`leasecheck adapter --spec`, JSON lines over pipes), in
//!   back-to-back pairs of batteries, the order alternating (written to
//!   `paired.csv`); the goal is within 1.3x.
//!
//! The checker's throughput is `model/benches/check.rs`.
//!
//! Besides criterion's output, the process writes the latency distribution of
//! every benchmark (count, mean, p50, p99, max, anomalies) to
//! `$LEASECHECK_BENCH_OUT/samples.csv` (default `target/leasecheck-bench`),
//! which `scripts/bench.sh` turns into `bench-report/`.
//!
//! Run: `cargo bench --bench contention` (full) or `scripts/bench.sh` (short,
//! with the report).

use criterion::{black_box, BenchmarkId, Criterion, SamplingMode};
use hdrhistogram::Histogram;
use leasecheck::database::Client;
use leasecheck::fault::Fault;
use leasecheck::lease::ReferenceSql;
use leasecheck::model::history::Call;
use leasecheck::model::{Candidate, Op};
use leasecheck::plot::{LineChart, Series};
use leasecheck::scenario::race::{self as stress, RaceOptions};
use leasecheck::scenario::takeover::{self, TakeoverOptions};
use leasecheck::{HolderId, Lease, Postgres, Recorder, Reply, Schema, Subject, TableName, Ttl};
use postgres::Statement;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// Candidates per contended round.
const CANDIDATES: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];
/// TTL of the uncontended and contended benches (rounds reset the lease, so
/// it never expires during them).
const TTL_SECS: f64 = 10.0;
/// (TTL, poll interval) settings of the takeover bench, in milliseconds.
const TAKEOVERS: [(u64, u64); 3] = [(100, 10), (250, 50), (500, 100)];
/// Candidates of the recording bench.
const RECORDED_RACE: usize = 8;
/// Rounds of each battery of the recording bench.
const RECORDED_ROUNDS: usize = 40;
/// Candidates of the adapter-protocol race (`exec`).
const EXEC_RACE: usize = 32;
/// Rounds per battery of the adapter-protocol race.
const EXEC_ROUNDS: usize = 40;

/// The floor: a bare single-row `UPDATE` of the lease row.
fn bare_update_sql(t: &TableName) -> String {
    format!("UPDATE {t} SET acquired_at = now() WHERE id = 1")
}

/// The contended floor: the one conditional `UPDATE` a correct lease must
/// cost at least, taking a free row (the round's reset frees it), which all
/// but the first of N fail.
fn conditional_update_sql(t: &TableName) -> String {
    format!(
        "UPDATE {t} SET leader = $1, acquired_at = now() WHERE id = 1 AND leader = '' RETURNING id"
    )
}

/// The alternative lease: one row per name with an expiry column, taken by an
/// upsert that only overwrites an expired row.
fn upsert_sql(t: &TableName) -> String {
    format!(
        "INSERT INTO {t} AS l (name, holder, expires_at)
              VALUES ('bench', $1, now() + make_interval(secs => $2))
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
               WHERE l.expires_at < now()
         RETURNING (extract(epoch FROM expires_at) * 1000000)::int8"
    )
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let mut pg = Lazy::default();
    let mut stats = Stats::default();
    uncontended(&mut criterion, &mut pg, &mut stats);
    contended(&mut criterion, &mut pg, &mut stats);
    takeover_latency(&mut criterion, &mut pg, &mut stats);
    recording(&mut criterion, &mut pg, &mut stats);
    exec(&mut criterion, &mut pg, &mut stats);
    criterion.final_summary();
    if let Some(pg) = pg.0.as_ref() {
        stats.write(pg);
    }
}

/// The one Postgres of the process, provisioned when a benchmark first needs it
/// (so `--list`, or a filter matching nothing here, starts nothing).
#[derive(Default)]
struct Lazy(Option<Postgres>);

impl Lazy {
    fn get(&mut self) -> &Postgres {
        self.0.get_or_insert_with(|| {
            let pg = Postgres::provision().unwrap_or_else(|e| panic!("{e}"));
            eprintln!("benchmarking against {} ({})", pg.target(), pg.source());
            pg
        })
    }
}

fn schema(pg: &Postgres) -> Schema {
    let client = pg.connect().expect("connect the harness connection");
    Schema::create(client).expect("create a schema for the benchmark")
}

/// A lease table (the reference design) in `schema`, seeded.
fn lease_table(schema: &mut Schema) -> TableName {
    let table = schema.table("lease_lock").expect("valid table name");
    let holder = HolderId::new("bench-setup").expect("valid holder");
    Lease::with_client(schema.client(), table.clone(), ttl(TTL_SECS), holder)
        .ensure_table()
        .expect("create the lease table");
    table
}

fn ttl(secs: f64) -> Ttl {
    Ttl::from_secs_f64(secs).expect("valid TTL")
}

// ---------------------------------------------------------------------------
// Latency distributions, written next to criterion's estimates.

struct Row {
    hist: Histogram<u64>,
    anomalies: u64,
    floor: Option<Duration>,
}

/// Per benchmark id and metric: every measured call or round, in nanoseconds.
/// Includes criterion's warm-up, which runs on warm connections too.
#[derive(Default)]
struct Stats {
    rows: BTreeMap<(String, &'static str), Row>,
    /// Paired measurements (a, b) per benchmark id, in order.
    pairs: BTreeMap<String, Vec<(Duration, Duration)>>,
}

impl Stats {
    fn row(&mut self, id: &str, metric: &'static str) -> &mut Row {
        self.rows
            .entry((id.to_string(), metric))
            .or_insert_with(|| Row {
                hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                    .expect("valid histogram bounds"),
                anomalies: 0,
                floor: None,
            })
    }

    fn record(&mut self, id: &str, metric: &'static str, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.row(id, metric).hist.saturating_record(ns);
    }

    fn anomaly(&mut self, id: &str, metric: &'static str) {
        self.row(id, metric).anomalies += 1;
    }

    fn pair(&mut self, id: &str, a: Duration, b: Duration) {
        self.pairs.entry(id.to_string()).or_default().push((a, b));
    }

    fn floor(&mut self, id: &str, metric: &'static str, floor: Duration) {
        self.row(id, metric).floor = Some(floor);
    }

    /// The contended round latency (p50, p99) of each kind against N, on
    /// log axes, the floor dashed: `contended_p50.svg`, `contended_p99.svg`
    /// (drawn by the library's plotting code, as the HTML report is).
    fn plots(&self) -> Vec<(&'static str, String)> {
        const KINDS: [(Kind, &str, &str); 6] = [
            (
                Kind::ConditionalUpdate,
                "conditional UPDATE (floor)",
                "#000000",
            ),
            (Kind::Update, "blind UPDATE", "#7f7f7f"),
            (Kind::Lease, "reference lease", "#d62728"),
            (Kind::LeasePrepared, "lease SQL, prepared", "#ff9896"),
            (Kind::Advisory, "pg_try_advisory_lock", "#1f77b4"),
            (Kind::Upsert, "upsert lease", "#2ca02c"),
        ];
        let mut out = Vec::new();
        for (file, q, quantile) in [
            ("contended_p50.svg", "p50", 0.5),
            ("contended_p99.svg", "p99", 0.99),
        ] {
            let series = KINDS
                .iter()
                .map(|&(kind, label, color)| Series {
                    label: label.to_string(),
                    color,
                    dashed: kind == Kind::ConditionalUpdate,
                    bold: matches!(kind, Kind::ConditionalUpdate | Kind::Lease),
                    points: CANDIDATES
                        .iter()
                        .filter_map(|&n| {
                            let key = (format!("contended/{}/{n}", kind.name()), "round");
                            let row = self.rows.get(&key)?;
                            let micros = row.hist.value_at_quantile(quantile) as f64 / 1000.0;
                            Some((n as f64, micros))
                        })
                        .collect(),
                })
                .collect();
            let chart = LineChart {
                title: format!("Contended round latency, {q} (floor dashed)"),
                x_label: "candidates (N)".into(),
                y_label: format!("round latency ({q})"),
                x_ticks: CANDIDATES.iter().map(|&n| n as f64).collect(),
                y_format: micros_text,
                series,
            };
            if let Some(svg) = chart.to_svg_file() {
                out.push((file, svg));
            }
        }
        out
    }

    fn write(&self, pg: &Postgres) {
        let dir = std::env::var_os("LEASECHECK_BENCH_OUT")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "target/leasecheck-bench".into());
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("cannot create {}: {e}", dir.display());
            return;
        }
        let us = |ns: f64| format!("{:.3}", ns / 1000.0);
        let mut csv =
            String::from("id,metric,count,mean_us,p50_us,p99_us,max_us,anomalies,floor_us\n");
        for ((id, metric), row) in &self.rows {
            let h = &row.hist;
            let _ = writeln!(
                csv,
                "{id},{metric},{},{},{},{},{},{},{}",
                h.len(),
                us(h.mean()),
                us(h.value_at_quantile(0.5) as f64),
                us(h.value_at_quantile(0.99) as f64),
                us(h.max() as f64),
                row.anomalies,
                row.floor
                    .map(|f| us(f.as_nanos() as f64))
                    .unwrap_or_default(),
            );
        }
        let version = pg
            .connect()
            .and_then(|mut c| c.query_one("SHOW server_version", &[]))
            .and_then(|r| r.try_get::<_, String>(0))
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let server = format!(
            "server_version={version}\nsource={}\ntarget={}\n",
            pg.source(),
            pg.target()
        );
        let mut paired = String::from("id,pair,a_us,b_us\n");
        for (id, pairs) in &self.pairs {
            for (i, (a, b)) in pairs.iter().enumerate() {
                let (a, b) = (a.as_nanos() as f64, b.as_nanos() as f64);
                let _ = writeln!(paired, "{id},{i},{},{}", us(a), us(b));
            }
        }
        let mut files = vec![
            ("samples.csv", csv),
            ("paired.csv", paired),
            ("server.txt", server),
        ];
        files.extend(self.plots());
        for (name, text) in files {
            let path = dir.join(name);
            match std::fs::write(&path, text) {
                Ok(()) => eprintln!("wrote {}", path.display()),
                Err(e) => eprintln!("cannot write {}: {e}", path.display()),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Uncontended: one connection, one holder.

/// One lease on its own connection; the floors and the prepared variants run
/// on that same connection.
struct Solo {
    select_1: Statement,
    update: Statement,
    acquire: Statement,
    renew: Statement,
    release: Statement,
    update_sql: String,
    holder: String,
    lease: Lease<'static>,
    _schema: Schema,
}

impl Solo {
    fn new(pg: &Postgres) -> Solo {
        let mut schema = schema(pg);
        let table = lease_table(&mut schema);
        let holder = HolderId::new("bench-solo").expect("valid holder");
        let mut lease = Lease::connect(pg.url(), table.clone(), ttl(TTL_SECS), holder.clone())
            .expect("connect the lease")
            .prepared(true);
        let client = lease.client().expect("an open connection");
        let mut prepare = |sql: &str| client.prepare(sql).expect("prepare");
        Solo {
            select_1: prepare("SELECT 1"),
            update: prepare(&bare_update_sql(&table)),
            acquire: prepare(&ReferenceSql::new(&table).try_acquire),
            renew: prepare(&ReferenceSql::new(&table).renew),
            release: prepare(&ReferenceSql::new(&table).release),
            update_sql: bare_update_sql(&table),
            holder: holder.as_str().to_string(),
            lease,
            _schema: schema,
        }
    }

    fn client(&mut self) -> &mut Client {
        self.lease.client().expect("the lease's connection is open")
    }

    /// A lease statement prepared once (named), as a lease that may keep
    /// prepared statements (no transaction pooler in between) could run it.
    fn prepared(&mut self, st: &Statement, with_ttl: bool) -> bool {
        let holder = self.holder.clone();
        let client = self.client();
        let row = if with_ttl {
            client.query_opt(st, &[&holder, &TTL_SECS])
        } else {
            client.query_opt(st, &[&holder])
        };
        row.expect("lease statement").is_some()
    }
}

/// What an uncontended benchmark times.
#[derive(Clone, Copy, Debug)]
enum Solo1 {
    /// Floor: a prepared `SELECT 1`.
    Select1,
    /// Floor: a prepared bare single-row `UPDATE`.
    Update,
    /// The bare `UPDATE` as the lease sends its statements: `query_typed`
    /// (the unnamed statement, parsed and planned on every call).
    UpdateTyped,
    /// The reference lease: take a free lease.
    TryAcquire,
    /// The reference lease: fail to take a held lease (a standby's poll).
    TryAcquireBusy,
    /// The reference lease: renew a held lease.
    Renew,
    /// The reference lease: release a held lease.
    Release,
    /// The lease's statements prepared once (named).
    TryAcquirePrepared,
    RenewPrepared,
    ReleasePrepared,
}

impl Solo1 {
    const ALL: [Solo1; 10] = [
        Solo1::Select1,
        Solo1::Update,
        Solo1::UpdateTyped,
        Solo1::TryAcquire,
        Solo1::TryAcquireBusy,
        Solo1::Renew,
        Solo1::Release,
        Solo1::TryAcquirePrepared,
        Solo1::RenewPrepared,
        Solo1::ReleasePrepared,
    ];

    fn name(self) -> &'static str {
        match self {
            Solo1::Select1 => "select_1",
            Solo1::Update => "update",
            Solo1::UpdateTyped => "update_typed",
            Solo1::TryAcquire => "try_acquire",
            Solo1::TryAcquireBusy => "try_acquire_busy",
            Solo1::Renew => "renew",
            Solo1::Release => "release",
            Solo1::TryAcquirePrepared => "try_acquire_prepared",
            Solo1::RenewPrepared => "renew_prepared",
            Solo1::ReleasePrepared => "release_prepared",
        }
    }

    /// Whether the timed call is expected to take effect.
    fn takes_effect(self) -> bool {
        !matches!(self, Solo1::TryAcquireBusy)
    }

    /// Untimed, once per batch: a renew or a busy acquire needs the lease held.
    fn before_batch(self, s: &mut Solo) {
        if matches!(
            self,
            Solo1::TryAcquireBusy | Solo1::Renew | Solo1::RenewPrepared
        ) {
            s.lease.try_acquire().expect("untimed acquire");
        }
    }

    /// Untimed, before every call: an acquire needs the lease free, a release
    /// needs it held (one reference-lease call each).
    fn before_call(self, s: &mut Solo) {
        let result = match self {
            Solo1::TryAcquire | Solo1::TryAcquirePrepared => s.lease.release(),
            Solo1::Release | Solo1::ReleasePrepared => s.lease.try_acquire(),
            _ => return,
        };
        result.expect("untimed setup call");
    }

    /// The timed call; whether it took effect.
    fn run(self, s: &mut Solo) -> bool {
        match self {
            Solo1::Select1 => {
                let st = s.select_1.clone();
                let row = s.client().query_one(&st, &[]).expect("SELECT 1");
                black_box(row);
                true
            }
            Solo1::Update => {
                let st = s.update.clone();
                s.client().execute(&st, &[]).expect("bare UPDATE") == 1
            }
            Solo1::UpdateTyped => {
                let sql = s.update_sql.clone();
                let rows = s.client().query_typed(&sql, &[]).expect("bare UPDATE");
                black_box(rows);
                true
            }
            Solo1::TryAcquire | Solo1::TryAcquireBusy => {
                s.lease.try_acquire().expect("try_acquire").is_some()
            }
            Solo1::Renew => s.lease.renew().expect("renew").is_some(),
            Solo1::Release => s.lease.release().expect("release").is_some(),
            Solo1::TryAcquirePrepared => {
                let st = s.acquire.clone();
                s.prepared(&st, true)
            }
            Solo1::RenewPrepared => {
                let st = s.renew.clone();
                s.prepared(&st, false)
            }
            Solo1::ReleasePrepared => {
                let st = s.release.clone();
                s.prepared(&st, false)
            }
        }
    }
}

fn uncontended(c: &mut Criterion, pg: &mut Lazy, stats: &mut Stats) {
    let mut group = c.benchmark_group("uncontended");
    let mut solo: Option<Solo> = None;
    for bench in Solo1::ALL {
        let id = format!("uncontended/{}", bench.name());
        group.bench_function(bench.name(), |b| {
            let s = solo.get_or_insert_with(|| Solo::new(pg.get()));
            b.iter_custom(|iters| {
                bench.before_batch(s);
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    bench.before_call(s);
                    let t = Instant::now();
                    let effect = bench.run(s);
                    let d = t.elapsed();
                    if effect != bench.takes_effect() {
                        stats.anomaly(&id, "call");
                    }
                    stats.record(&id, "call", d);
                    total += d;
                }
                total
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Contended: N candidates, barrier-aligned rounds.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The reference `Lease::try_acquire`.
    Lease,
    /// The reference lease's statement, prepared once (named).
    LeasePrepared,
    /// The floor: N clients try the same conditional update of a free row;
    /// one takes it.
    ConditionalUpdate,
    /// The blind floor: N clients update the same row, all of them writing.
    Update,
    /// `pg_try_advisory_lock` on each candidate's session.
    Advisory,
    /// An upsert lease with an expiry column.
    Upsert,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::ConditionalUpdate,
        Kind::Update,
        Kind::Lease,
        Kind::LeasePrepared,
        Kind::Advisory,
        Kind::Upsert,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Lease => "lease",
            Kind::LeasePrepared => "lease_prepared",
            Kind::ConditionalUpdate => "conditional_update",
            Kind::Update => "update",
            Kind::Advisory => "advisory",
            Kind::Upsert => "upsert",
        }
    }

    /// How many calls of a round should take effect.
    fn winners(self, n: usize) -> usize {
        match self {
            Kind::Update => n,
            _ => 1,
        }
    }
}

/// One candidate's connection and statements.
enum Racer {
    Lease(Box<Lease<'static>>),
    Sql {
        kind: Kind,
        client: Box<Client>,
        statement: Statement,
        unlock: Option<Statement>,
        holder: String,
        key: i64,
    },
}

impl Racer {
    fn race(&mut self) -> Result<bool, String> {
        match self {
            Racer::Lease(lease) => lease
                .try_acquire()
                .map(|w| w.is_some())
                .map_err(|e| e.to_string()),
            Racer::Sql {
                kind,
                client,
                statement,
                holder,
                key,
                ..
            } => {
                let ttl = TTL_SECS;
                let result = match (kind, statement) {
                    (Kind::Update, st) => client.execute(st, &[]).map(|n| n == 1),
                    (Kind::ConditionalUpdate, st) => {
                        client.query_opt(st, &[&*holder]).map(|r| r.is_some())
                    }
                    (Kind::Advisory, st) => {
                        client.query_one(st, &[&*key]).and_then(|r| r.try_get(0))
                    }
                    (Kind::LeasePrepared | Kind::Upsert, st) => {
                        client.query_opt(st, &[&*holder, &ttl]).map(|r| r.is_some())
                    }
                    (Kind::Lease, _) => unreachable!("the reference lease is its own racer"),
                };
                result.map_err(|e| e.to_string())
            }
        }
    }

    /// Untimed, after the round: give back what the round took that the
    /// coordinator's reset cannot (a session's advisory lock).
    fn cleanup(&mut self, won: bool) -> Result<(), String> {
        match self {
            Racer::Sql {
                client,
                unlock: Some(unlock),
                key,
                ..
            } if won => client
                .query_one(unlock, &[&*key])
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }
}

#[derive(Default)]
struct Slot {
    invoke: AtomicU64,
    complete: AtomicU64,
    won: AtomicBool,
    error: Mutex<Option<String>>,
}

/// N candidates on N connections and a pool of N threads, in a schema of
/// their own; the schema's connection is the coordinator's.
struct Arena {
    kind: Kind,
    racers: Vec<Racer>,
    slots: Vec<Slot>,
    reset: Option<Statement>,
    pool: rayon::ThreadPool,
    schema: Schema,
}

impl Arena {
    fn new(pg: &Postgres, kind: Kind, n: usize) -> Arena {
        let mut schema = schema(pg);
        let lease = lease_table(&mut schema);
        let upsert = schema.table("upsert_lease").expect("valid table name");
        schema
            .client()
            .batch_execute(&format!(
                "CREATE TABLE {upsert} (name text PRIMARY KEY, holder text NOT NULL,
                                        expires_at timestamptz NOT NULL);
                 INSERT INTO {upsert} VALUES ('bench', '', '-infinity');"
            ))
            .expect("create the upsert lease");
        let reset = match kind {
            Kind::Lease | Kind::LeasePrepared | Kind::ConditionalUpdate => {
                Some(ReferenceSql::new(&lease).reset)
            }
            Kind::Upsert => Some(format!("UPDATE {upsert} SET expires_at = '-infinity'")),
            Kind::Update | Kind::Advisory => None,
        }
        .map(|sql| schema.client().prepare(&sql).expect("prepare the reset"));
        let key: i64 = rand::random();
        let racers = (0..n)
            .map(|i| {
                let holder = HolderId::new(format!("bench-{}-{i}", kind.name())).expect("holder");
                if kind == Kind::Lease {
                    let lease = Lease::connect(pg.url(), lease.clone(), ttl(TTL_SECS), holder)
                        .expect("connect a candidate")
                        .prepared(true);
                    return Racer::Lease(Box::new(lease));
                }
                let mut client = pg.connect().expect("connect a candidate");
                let (sql, unlock) = match kind {
                    Kind::LeasePrepared => (ReferenceSql::new(&lease).try_acquire, None),
                    Kind::Update => (bare_update_sql(&lease), None),
                    Kind::ConditionalUpdate => (conditional_update_sql(&lease), None),
                    Kind::Advisory => (
                        "SELECT pg_try_advisory_lock($1)".to_string(),
                        Some("SELECT pg_advisory_unlock($1)"),
                    ),
                    Kind::Upsert => (upsert_sql(&upsert), None),
                    Kind::Lease => unreachable!("handled above"),
                };
                let statement = client.prepare(&sql).expect("prepare");
                let unlock = unlock.map(|u| client.prepare(u).expect("prepare"));
                Racer::Sql {
                    kind,
                    client: Box::new(client),
                    statement,
                    unlock,
                    holder: holder.as_str().to_string(),
                    key,
                }
            })
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("candidate-{i}"))
            .build()
            .expect("a pool of candidate threads");
        Arena {
            kind,
            racers,
            slots: (0..n).map(|_| Slot::default()).collect(),
            reset,
            pool,
            schema,
        }
    }

    /// Run `rounds` rounds; the summed time of the rounds.
    fn rounds(&mut self, rounds: u64, stats: &mut Stats, id: &str) -> Duration {
        let n = self.racers.len();
        let start = Barrier::new(n + 1);
        let end = Barrier::new(n + 1);
        let base = Instant::now();
        let nanos = |i: Instant| u64::try_from(i.duration_since(base).as_nanos()).unwrap_or(0);
        let mut total = Duration::ZERO;
        let mut errors: Vec<String> = Vec::new();
        let Arena {
            kind,
            racers,
            slots,
            reset,
            pool,
            schema,
        } = self;
        let kind = *kind;
        pool.in_place_scope(|s| {
            for (racer, slot) in racers.iter_mut().zip(slots.iter()) {
                let (start, end) = (&start, &end);
                // Never panic in here: the others would wait at the barrier forever.
                s.spawn(move |_| {
                    for _ in 0..rounds {
                        start.wait();
                        let invoke = Instant::now();
                        let result = racer.race();
                        let complete = Instant::now();
                        slot.invoke.store(nanos(invoke), Ordering::Relaxed);
                        slot.complete.store(nanos(complete), Ordering::Relaxed);
                        let won = matches!(result, Ok(true));
                        slot.won.store(won, Ordering::Relaxed);
                        end.wait();
                        // After the round, so that no one still racing can win
                        // what the winner gives back.
                        let cleanup = racer.cleanup(won);
                        if let Err(e) = result.and(cleanup.map(|_| true)) {
                            if let Ok(mut error) = slot.error.lock() {
                                error.get_or_insert(e);
                            }
                        }
                    }
                });
            }
            for _ in 0..rounds {
                if let Some(reset) = reset.as_ref() {
                    if let Err(e) = schema.client().execute(reset, &[]) {
                        errors.push(format!("reset: {e}"));
                    }
                }
                start.wait();
                end.wait();
                let first = slots.iter().map(|s| s.invoke.load(Ordering::Relaxed)).min();
                let last = slots
                    .iter()
                    .map(|s| s.complete.load(Ordering::Relaxed))
                    .max();
                let round = Duration::from_nanos(last.unwrap_or(0) - first.unwrap_or(0));
                total += round;
                stats.record(id, "round", round);
                // The winner's own call (for the floor: the first reply).
                let winner = slots
                    .iter()
                    .filter(|s| s.won.load(Ordering::Relaxed))
                    .min_by_key(|s| s.complete.load(Ordering::Relaxed));
                if let Some(w) = winner {
                    let call =
                        w.complete.load(Ordering::Relaxed) - w.invoke.load(Ordering::Relaxed);
                    stats.record(id, "winner", Duration::from_nanos(call));
                }
                let winners = slots
                    .iter()
                    .filter(|s| s.won.load(Ordering::Relaxed))
                    .count();
                if winners != kind.winners(n) {
                    stats.anomaly(id, "round");
                }
            }
        });
        for slot in slots.iter() {
            if let Ok(mut error) = slot.error.lock() {
                errors.extend(error.take());
            }
        }
        if let Some(e) = errors.first() {
            panic!("{id}: {} calls failed, first: {e}", errors.len());
        }
        total
    }
}

fn contended(c: &mut Criterion, pg: &mut Lazy, stats: &mut Stats) {
    let mut group = c.benchmark_group("contended");
    // Rounds are long (up to tens of milliseconds at 64 candidates): the same
    // number of rounds per sample.
    group.sampling_mode(SamplingMode::Flat);
    for n in CANDIDATES {
        for kind in Kind::ALL {
            let id = format!("contended/{}/{n}", kind.name());
            let mut arena: Option<Arena> = None;
            group.bench_function(BenchmarkId::new(kind.name(), n), |b| {
                let arena = arena.get_or_insert_with(|| Arena::new(pg.get(), kind, n));
                b.iter_custom(|rounds| arena.rounds(rounds, stats, &id))
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// Takeover latency under a client pause.

fn takeover_latency(c: &mut Criterion, pg: &mut Lazy, stats: &mut Stats) {
    let mut group = c.benchmark_group("takeover");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    // One trial per sample: the time is set by the TTL, not by the budget.
    group.measurement_time(Duration::from_millis(100));
    for (ttl_ms, poll_ms) in TAKEOVERS {
        let setting = format!("ttl{ttl_ms}ms_poll{poll_ms}ms");
        let id = format!("takeover/client_pause/{setting}");
        let floor = Duration::from_millis(ttl_ms + poll_ms);
        let opts = TakeoverOptions {
            standbys: 2,
            renew_interval: Duration::from_millis(ttl_ms / 4),
            poll_interval: Duration::from_millis(poll_ms),
            stall: floor + Duration::from_millis(100),
            slack: Duration::from_millis(250),
            warmup_renews: 2,
            database: Default::default(),
        };
        let mut subject: Option<Subject> = None;
        group.bench_function(BenchmarkId::new("client_pause", &setting), |b| {
            let pg = pg.get();
            let subject = subject.get_or_insert_with(|| {
                Subject::reference(pg, ttl(ttl_ms as f64 / 1000.0)).expect("install the lease")
            });
            b.iter_custom(|trials| {
                let mut total = Duration::ZERO;
                let mut measured = 0;
                let mut misses = 0;
                while measured < trials {
                    let rec = Recorder::new(subject.ttl(), false);
                    let result = takeover::trial(pg, subject, Fault::ClientPause, &opts, &rec)
                        .expect("takeover trial");
                    match result.takeover_latency {
                        Some(latency) if result.winner.is_some() => {
                            stats.record(&id, "latency", latency);
                            total += latency;
                            measured += 1;
                        }
                        _ => {
                            // P3 missed: count it, and try again (never loop forever).
                            stats.anomaly(&id, "latency");
                            misses += 1;
                            assert!(misses < 3, "{id}: no takeover in 3 trials in a row");
                        }
                    }
                }
                stats.floor(&id, "latency", floor);
                total
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// The cost of recording histories.

fn recording(c: &mut Criterion, pg: &mut Lazy, stats: &mut Stats) {
    let mut group = c.benchmark_group("recording");
    group.sampling_mode(SamplingMode::Flat);
    // The recorder alone, no database: what one call costs it, on and off.
    for recorded in [true, false] {
        let name = if recorded { "enabled" } else { "disabled" };
        group.bench_function(BenchmarkId::new("recorder_call", name), |b| {
            b.iter_custom(|iters| {
                let call = Call::Lease { op: Op::TryAcquire };
                let reply = Reply {
                    took_effect: true,
                    server_time: None,
                };
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    // A fresh recorder every 100k calls keeps memory flat.
                    let batch = left.min(100_000);
                    let rec = Recorder::new(ttl(TTL_SECS), recorded);
                    let t = Instant::now();
                    for _ in 0..batch {
                        let _ = black_box(
                            rec.call(Candidate(1), call, || Ok::<_, ()>(black_box(reply))),
                        );
                    }
                    total += t.elapsed();
                    left -= batch;
                }
                total
            })
        });
    }
    // Paired batteries, recorded and not, back to back (order alternating),
    // so that the machine's drift between two separate benchmarks cannot pass
    // for a cost: one iteration is one pair of RECORDED_ROUNDS rounds each.
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    let id = format!("recording/race_n{RECORDED_RACE}");
    let mut subject: Option<Subject> = None;
    let race_ttl = ttl(TTL_SECS);
    group.bench_function(
        BenchmarkId::new(format!("race_n{RECORDED_RACE}"), "paired"),
        |b| {
            let subject = subject.get_or_insert_with(|| {
                Subject::reference(pg.get(), race_ttl).expect("install the lease")
            });
            b.iter_custom(|pairs| {
                let mut total = Duration::ZERO;
                for pair in 0..pairs {
                    let mut elapsed = [Duration::ZERO; 2];
                    let order = if pair % 2 == 0 {
                        [true, false]
                    } else {
                        [false, true]
                    };
                    for recorded in order {
                        let rec = Recorder::new(race_ttl, recorded);
                        let opts = RaceOptions {
                            candidates: RECORDED_RACE,
                            rounds: RECORDED_ROUNDS,
                            seed: pair,
                        };
                        let result =
                            stress::race(subject, &opts, &rec, &AtomicBool::new(false), &|| {})
                                .expect("race");
                        let metric = if recorded { "recorded" } else { "unrecorded" };
                        if !result.bad_rounds.is_empty() || result.rounds != RECORDED_ROUNDS {
                            stats.anomaly(&id, metric);
                        }
                        // The battery's wall time, per round (connections are
                        // opened before it starts).
                        stats.record(&id, metric, result.elapsed / RECORDED_ROUNDS as u32);
                        elapsed[usize::from(!recorded)] = result.elapsed;
                        total += result.elapsed;
                    }
                    stats.pair(&id, elapsed[0], elapsed[1]);
                }
                total
            })
        },
    );
    group.finish();
}

// ---------------------------------------------------------------------------
// The adapter protocol's cost: the same SQL in-process and behind `--exec`.

fn exec(c: &mut Criterion, pg: &mut Lazy, stats: &mut Stats) {
    use leasecheck::adapter::AdapterCommand;
    use leasecheck::spec::Spec;
    let mut group = c.benchmark_group("exec");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let id = format!("exec/race_n{EXEC_RACE}");
    let race_ttl = ttl(TTL_SECS);
    let spec_file = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/reference.toml");
    let mut subjects: Option<[Subject; 2]> = None;
    group.bench_function(
        BenchmarkId::new(format!("race_n{EXEC_RACE}"), "paired"),
        |b| {
            let subjects = subjects.get_or_insert_with(|| {
                let spec = Spec::load(spec_file.as_ref()).expect("load the reference spec");
                let command = AdapterCommand::parse(&format!(
                    "{} adapter --spec {spec_file}",
                    env!("CARGO_BIN_EXE_leasecheck")
                ))
                .expect("the adapter command");
                [
                    Subject::from_spec(pg.get(), spec.clone(), race_ttl).expect("install the spec"),
                    Subject::exec(pg.get(), spec, command, race_ttl, Duration::from_secs(60))
                        .expect("start the reference adapter"),
                ]
            });
            b.iter_custom(|pairs| {
                let mut total = Duration::ZERO;
                for pair in 0..pairs {
                    let mut elapsed = [Duration::ZERO; 2];
                    let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
                    for which in order {
                        let metric = ["spec", "exec"][which];
                        let rec = Recorder::new(race_ttl, false);
                        let opts = RaceOptions {
                            candidates: EXEC_RACE,
                            rounds: EXEC_ROUNDS,
                            seed: pair,
                        };
                        let result = stress::race(
                            &mut subjects[which],
                            &opts,
                            &rec,
                            &AtomicBool::new(false),
                            &|| {},
                        )
                        .expect("race");
                        if !result.bad_rounds.is_empty() || result.rounds != EXEC_ROUNDS {
                            stats.anomaly(&id, metric);
                        }
                        // Per round (the adapters are started before the
                        // battery's clock runs), and each call's latency.
                        stats.record(&id, metric, result.elapsed / EXEC_ROUNDS as u32);
                        let call = ["spec_call", "exec_call"][which];
                        for v in result.latency.iter_recorded() {
                            for _ in 0..v.count_at_value() {
                                stats.record(
                                    &id,
                                    call,
                                    Duration::from_micros(v.value_iterated_to()),
                                );
                            }
                        }
                        elapsed[which] = result.elapsed;
                        total += result.elapsed;
                    }
                    stats.pair(&id, elapsed[1], elapsed[0]);
                }
                total
            })
        },
    );
    group.finish();
}

/// A latency in microseconds as an axis label (`50 µs`, `2 ms`).
fn micros_text(us: f64) -> String {
    if us >= 1000.0 {
        format!("{} ms", us / 1000.0)
    } else {
        format!("{us} µs")
    }
}
