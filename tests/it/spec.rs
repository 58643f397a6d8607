//! Lease spec files: static validation, installation against real Postgres,
//! and the spec lease's operation semantics (README, "Spec files").

use crate::support::{db, Db};
use leasecheck::lease::SpecLease;
use leasecheck::model::Op;
use leasecheck::spec::{Isolation, Spec, SpecError};
use leasecheck::{HolderId, Ident, Lease, Schema, Ttl};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const TTL: f64 = 10.0;
/// Ageing by this much makes a TTL-old tenure strictly stale.
const PAST_TTL: Duration = Duration::from_secs(11);

fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
}

fn broken_specs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(specs_dir().join("broken"))
        .expect("specs/broken exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The reference spec's text with one line replaced (or removed with "").
fn reference_with(line_prefix: &str, replacement: &str) -> String {
    let text = std::fs::read_to_string(specs_dir().join("reference.toml")).expect("read reference");
    assert!(
        text.lines().any(|l| l.starts_with(line_prefix)),
        "no line starts with {line_prefix:?}"
    );
    text.lines()
        .map(|l| {
            if l.starts_with(line_prefix) {
                replacement
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A minimal valid spec over the reference table with the given operations
/// (TOML values, written as-is) and extra top-level lines.
fn spec_text(try_acquire: &str, renew: &str, release: &str, extra: &str) -> String {
    format!(
        r#"name = "test"
schema = """
CREATE TABLE lease_lock (
  id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  leader text NOT NULL DEFAULT '',
  acquired_at timestamptz NOT NULL DEFAULT now());
INSERT INTO lease_lock DEFAULT VALUES;
"""
reset = "UPDATE lease_lock SET leader = ''"
age = "UPDATE lease_lock SET acquired_at = acquired_at - make_interval(secs => $1)"
try_acquire = {try_acquire}
renew = {renew}
release = {release}
{extra}
"#
    )
}

fn parse_err(text: &str) -> String {
    match Spec::parse(text, "test.toml") {
        Ok(spec) => panic!("expected an error, the spec parsed: {spec:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with("test.toml"),
                "the message must start with the file: {msg}"
            );
            msg
        }
    }
}

/// A spec installed in a fresh schema of its own, beside the support `Db`.
/// Fields drop in order: the spec's schema, then the database.
struct Installed {
    schema: Schema,
    db: Db,
    spec: Arc<Spec>,
}

fn installed(spec: Spec) -> Installed {
    let db = db();
    let mut schema = Schema::create(db.connect()).expect("create the spec's schema");
    let name = schema.name().clone();
    spec.install(schema.client(), &name)
        .unwrap_or_else(|e| panic!("install {}: {e}", spec.origin()));
    Installed {
        schema,
        db,
        spec: Arc::new(spec),
    }
}

impl Installed {
    fn name(&self) -> Ident {
        self.schema.name().clone()
    }

    fn lease(&self, holder: &str, ttl_secs: f64) -> SpecLease {
        SpecLease::connect(
            self.db.pg.url(),
            &self.name(),
            Arc::clone(&self.spec),
            Ttl::from_secs_f64(ttl_secs).expect("valid TTL"),
            HolderId::new(holder).expect("valid holder"),
        )
        .expect("open a spec lease")
    }

    fn reset(&mut self) {
        let name = self.name();
        self.spec.reset(self.schema.client(), &name).expect("reset");
    }

    fn age(&mut self, by: Duration) {
        let name = self.name();
        assert!(
            self.spec.age(self.schema.client(), &name, by).expect("age"),
            "the spec has age"
        );
    }

    fn leader(&mut self) -> String {
        let sql = format!("SELECT leader FROM {}.lease_lock", self.name());
        self.schema
            .client()
            .query_one(&sql, &[])
            .expect("read the row")
            .get(0)
    }
}

// ---------------------------------------------------------------------------
// Parsing and static validation

#[test]
fn the_reference_spec_parses_with_its_documented_contents() {
    let spec = Spec::reference();
    assert_eq!(spec.name(), "reference");
    assert_eq!(spec.ttl().map(|t| t.as_millis()), Some(1000));
    assert_eq!(spec.isolation(), Isolation::ReadCommitted);
    assert!(spec.can_age());
    let release = spec.operation(Op::Release).expect("a release").statements();
    assert_eq!(release.len(), 1);
    assert!(
        release[0].contains("acquired_at = now()"),
        "release stamps acquired_at: {release:?}"
    );
    let loaded = Spec::load(&specs_dir().join("reference.toml")).expect("load reference");
    assert_eq!(
        loaded.operation(Op::TryAcquire),
        spec.operation(Op::TryAcquire)
    );
}

#[test]
fn every_broken_spec_parses_and_says_what_is_wrong_in_its_header() {
    let files = broken_specs();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "advisory-lock.toml",
        "check-then-act.toml",
        "client-clock.toml",
        "renew-without-holder-check.toml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing {expected} in {names:?}"
        );
    }
    for file in files {
        let spec = Spec::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&file).unwrap();
        let header = text.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("# BROKEN"),
            "{}: header {header:?}",
            file.display()
        );
        assert!(
            text.contains("Breaks P"),
            "{}: names the property it breaks",
            file.display()
        );
        assert!(!spec.name().is_empty());
    }
}

#[test]
fn a_spec_missing_renew_is_rejected_naming_renew() {
    let msg = parse_err(&reference_with("renew", ""));
    assert!(msg.contains("`renew`"), "{msg}");
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn a_ttl_of_the_wrong_type_is_rejected_naming_the_field_and_line() {
    let msg = parse_err(&reference_with("ttl_seconds", "ttl_seconds = \"x\""));
    assert!(msg.contains("ttl_seconds"), "{msg}");
    assert!(msg.contains("string"), "{msg}");
    let line = reference_with("ttl_seconds", "ttl_seconds = \"x\"")
        .lines()
        .position(|l| l.starts_with("ttl_seconds"))
        .unwrap()
        + 1;
    assert!(msg.starts_with(&format!("test.toml:{line}:")), "{msg}");
}

#[test]
fn an_unusable_ttl_is_rejected_quoting_it() {
    for bad in ["0", "-1.0", "nan", "inf"] {
        let msg = parse_err(&reference_with(
            "ttl_seconds",
            &format!("ttl_seconds = {bad}"),
        ));
        assert!(msg.contains("ttl_seconds"), "{msg}");
    }
    // A whole number of seconds is fine.
    let spec = Spec::parse(&reference_with("ttl_seconds", "ttl_seconds = 2"), "t.toml").unwrap();
    assert_eq!(spec.ttl().unwrap().as_millis(), 2000);
}

#[test]
fn a_placeholder_beyond_dollar_3_is_rejected_naming_the_field_and_quoting_it() {
    let text = spec_text(
        r#""UPDATE lease_lock SET leader = $1 WHERE id = 1 RETURNING id""#,
        r#""UPDATE lease_lock SET acquired_at = now() WHERE leader = $1 AND id = $4 RETURNING id""#,
        r#""SELECT 1""#,
        "",
    );
    let msg = parse_err(&text);
    assert!(msg.contains("`renew`"), "{msg}");
    assert!(msg.contains("`$4`"), "{msg}");

    let in_array = spec_text(
        r#"["SELECT 1", "SELECT $10"]"#,
        r#""SELECT 1""#,
        r#""SELECT 1""#,
        "",
    );
    let msg = parse_err(&in_array);
    assert!(
        msg.contains("`try_acquire[1]`") && msg.contains("`$10`"),
        "{msg}"
    );

    let zero = spec_text(r#""SELECT $0""#, r#""SELECT 1""#, r#""SELECT 1""#, "");
    assert!(parse_err(&zero).contains("`$0`"));
}

#[test]
fn placeholders_inside_literals_comments_and_identifiers_are_not_placeholders() {
    let text = spec_text(
        r#"'''
SELECT '$4' AS "col$5", $$ $6 $$, $x$ $12 $x$, E'\'$7' -- $8
  /* $9 /* nested $10 */ */ , 1 AS a$11 WHERE $1 <> '' AND $2 > 0 AND $3 IS NOT NULL'''
"#,
        r#""SELECT 1""#,
        r#""SELECT 1""#,
        "",
    );
    let spec = Spec::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    // Postgres agrees: the statement prepares with three parameters.
    installed(spec);
    // ... while a real placeholder after each of those constructs is found.
    for sql in [
        "SELECT 'a' || $4",
        "SELECT $$ $1 $$ || $4",
        "SELECT \"a\" FROM (SELECT 1 AS a) t WHERE $4",
        "SELECT 1 /* c */ + $4",
        "SELECT 1 -- c\n + $4",
        "SELECT E'\\\\' || $4",
    ] {
        let text = spec_text(&format!("{sql:?}"), r#""SELECT 1""#, r#""SELECT 1""#, "");
        let msg = parse_err(&text);
        assert!(msg.contains("`$4`"), "{sql}: {msg}");
    }
}

#[test]
fn placeholders_in_reset_and_beyond_dollar_1_in_age_are_rejected() {
    let reset = reference_with("reset", "reset = \"UPDATE lease_lock SET leader = $1\"");
    let msg = parse_err(&reset);
    assert!(msg.contains("`reset`") && msg.contains("`$1`"), "{msg}");

    let age = reference_with(
        "age",
        "age = \"UPDATE lease_lock SET acquired_at = acquired_at - make_interval(secs => $2)\"",
    );
    let msg = parse_err(&age);
    assert!(msg.contains("`age`") && msg.contains("`$2`"), "{msg}");
}

#[test]
fn empty_statements_and_empty_arrays_are_rejected_naming_the_field() {
    let msg = parse_err(&reference_with("renew", "renew = \"  \""));
    assert!(msg.contains("`renew`") && msg.contains("empty"), "{msg}");
    let msg = parse_err(&reference_with("renew", "renew = \"-- nothing here\""));
    assert!(msg.contains("`renew`") && msg.contains("empty"), "{msg}");
    let msg = parse_err(&reference_with("renew", "renew = []"));
    assert!(
        msg.contains("`renew`") && msg.contains("empty array"),
        "{msg}"
    );
    let msg = parse_err(&reference_with("renew", "renew = [\"SELECT 1\", \"\"]"));
    assert!(msg.contains("`renew[1]`") && msg.contains("empty"), "{msg}");
    let msg = parse_err(&reference_with("reset", "reset = \"\""));
    assert!(msg.contains("`reset`"), "{msg}");
}

#[test]
fn wrong_types_unknown_fields_and_unknown_isolation_are_rejected_naming_the_field() {
    let msg = parse_err(&reference_with("renew", "renew = 5"));
    assert!(msg.contains("`renew`") && msg.contains("integer"), "{msg}");
    let msg = parse_err(&reference_with("renew", "renew = [\"SELECT 1\", 2]"));
    assert!(
        msg.contains("`renew[1]`") && msg.contains("integer"),
        "{msg}"
    );
    let msg = parse_err(&reference_with("name", "name = 1"));
    assert!(msg.contains("`name`"), "{msg}");
    let msg = parse_err(&format!(
        "{}\nisolation = \"snapshot\"",
        Spec::reference_text()
    ));
    assert!(
        msg.contains("`isolation`") && msg.contains("snapshot"),
        "{msg}"
    );
    let msg = parse_err(&format!("{}\nrenw = \"SELECT 1\"", Spec::reference_text()));
    assert!(msg.contains("renw"), "{msg}");
    let msg = parse_err("name = \"x\"\nschema = \"\"\"unterminated");
    assert!(msg.contains("line"), "{msg}");
}

#[test]
fn several_statements_in_one_string_are_rejected_in_favour_of_an_array() {
    let msg = parse_err(&reference_with(
        "renew",
        "renew = \"SELECT 1; UPDATE lease_lock SET acquired_at = now() RETURNING id\"",
    ));
    assert!(msg.contains("`renew`") && msg.contains("array"), "{msg}");
    // A trailing semicolon is still one statement.
    Spec::parse(
        &reference_with("renew", "renew = \"SELECT true;\""),
        "t.toml",
    )
    .unwrap();
}

#[test]
fn transaction_control_in_the_schema_sql_is_rejected() {
    let text = reference_with(
        "INSERT INTO lease_lock",
        "INSERT INTO lease_lock DEFAULT VALUES; COMMIT;",
    );
    let msg = parse_err(&text);
    assert!(msg.contains("`schema`") && msg.contains("COMMIT"), "{msg}");
}

#[test]
fn isolation_is_parsed() {
    let text = format!("{}\nisolation = \"serializable\"", Spec::reference_text());
    assert_eq!(
        Spec::parse(&text, "t.toml").unwrap().isolation(),
        Isolation::Serializable
    );
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let err = Spec::load(Path::new("/nonexistent/lease.toml")).unwrap_err();
    assert!(matches!(err, SpecError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("/nonexistent/lease.toml"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------
// Installation

#[test]
fn the_reference_spec_installs_without_leaking_its_search_path() {
    let mut installed = installed(Spec::reference());
    let path: String = installed
        .schema
        .client()
        .query_one("SHOW search_path", &[])
        .unwrap()
        .get(0);
    assert!(
        !path.contains("leasecheck_"),
        "SET LOCAL must not outlive install: {path}"
    );
    assert_eq!(installed.leader(), "", "the seed row is there");
}

#[test]
fn every_broken_spec_installs() {
    for file in broken_specs() {
        let spec = Spec::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let mut installed = installed(spec);
        installed.reset();
    }
}

#[test]
fn a_statement_that_does_not_prepare_is_rejected_naming_the_field_and_quoting_postgres() {
    let spec = Spec::parse(
        &reference_with(
            "renew",
            "renew = \"UPDATE lease_lock SET acquired_at = now() WHERE holder = $1 RETURNING id\"",
        ),
        "bad.toml",
    )
    .unwrap();
    let db = db();
    let mut schema = Schema::create(db.connect()).unwrap();
    let name = schema.name().clone();
    let err = spec.install(schema.client(), &name).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, SpecError::Statement { field, .. } if field == "renew"),
        "{err:?}"
    );
    let renew_line = reference_with("renew", "renew = \"\"")
        .lines()
        .position(|l| l.starts_with("renew"))
        .unwrap()
        + 1;
    assert!(
        msg.starts_with(&format!("bad.toml:{renew_line}:")),
        "names the line: {msg}"
    );
    assert!(msg.contains("`renew`"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(
        msg.contains("WHERE holder = $1"),
        "the statement is shown: {msg}"
    );
    // Nothing of the failed install stays behind.
    let left: i64 = schema
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&name.as_str()],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn a_failing_array_item_is_named_with_its_index() {
    let text = spec_text(
        r#"["SELECT 1", "UPDATE nowhere SET x = 1 RETURNING 1"]"#,
        r#""SELECT 1""#,
        r#""SELECT 1""#,
        "",
    );
    let spec = Spec::parse(&text, "arr.toml").unwrap();
    let db = db();
    let mut schema = Schema::create(db.connect()).unwrap();
    let name = schema.name().clone();
    let msg = spec
        .install(schema.client(), &name)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`try_acquire[1]`") && msg.contains("does not exist"),
        "{msg}"
    );
}

#[test]
fn an_operation_that_returns_no_rows_is_rejected_at_install() {
    let spec = Spec::parse(
        &reference_with(
            "renew",
            "renew = \"UPDATE lease_lock SET acquired_at = now() WHERE leader = $1\"",
        ),
        "norows.toml",
    )
    .unwrap();
    let db = db();
    let mut schema = Schema::create(db.connect()).unwrap();
    let name = schema.name().clone();
    let msg = spec
        .install(schema.client(), &name)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`renew`") && msg.contains("RETURNING"),
        "{msg}"
    );
}

#[test]
fn a_schema_sql_error_is_rejected_naming_schema() {
    let spec = Spec::parse(
        &reference_with(
            "INSERT INTO lease_lock",
            "INSERT INTO lease_lok DEFAULT VALUES;",
        ),
        "schema.toml",
    )
    .unwrap();
    let db = db();
    let mut schema = Schema::create(db.connect()).unwrap();
    let name = schema.name().clone();
    let msg = spec
        .install(schema.client(), &name)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("`schema`") && msg.contains("does not exist"),
        "{msg}"
    );
    let insert_line = Spec::reference_text()
        .lines()
        .position(|l| l.starts_with("INSERT INTO lease_lock"))
        .unwrap()
        + 1;
    assert!(
        msg.starts_with(&format!("schema.toml:{insert_line}:")),
        "the failing line: {msg}"
    );
}

// ---------------------------------------------------------------------------
// Running a spec

#[test]
fn the_reference_spec_lease_behaves_like_the_built_in_lease() {
    let mut spec_db = installed(Spec::reference());
    // The built-in lease runs on the support table in the other schema.
    let builtin = |db: &Db, holder: &str| -> Lease<'static> { db.lease(holder, TTL) };
    let mut a = spec_db.lease("a", TTL);
    let mut b = spec_db.lease("b", TTL);
    let mut ra = builtin(&spec_db.db, "a");
    let mut rb = builtin(&spec_db.db, "b");

    let mut steps: Vec<(&str, bool, bool)> = Vec::new();
    let mut both = |what: &'static str,
                    spec_lease: &mut SpecLease,
                    reference: &mut Lease<'static>,
                    op: Op|
     -> bool {
        let got = spec_lease.call(op).unwrap();
        let want = match op {
            Op::TryAcquire => reference.try_acquire(),
            Op::Renew => reference.renew(),
            Op::Release => reference.release(),
        }
        .unwrap()
        .is_some();
        steps.push((what, got, want));
        got
    };
    assert!(both("acquire free", &mut a, &mut ra, Op::TryAcquire));
    assert!(!both("second acquire", &mut b, &mut rb, Op::TryAcquire));
    assert!(!both(
        "re-acquire by the holder",
        &mut a,
        &mut ra,
        Op::TryAcquire
    ));
    assert!(both("renew by holder", &mut a, &mut ra, Op::Renew));
    assert!(!both("renew by other", &mut b, &mut rb, Op::Renew));
    assert!(!both("release by other", &mut b, &mut rb, Op::Release));
    assert_eq!(spec_db.leader(), "a");
    assert!(both("release", &mut a, &mut ra, Op::Release));
    assert_eq!(spec_db.leader(), "");
    assert!(both(
        "acquire after release",
        &mut b,
        &mut rb,
        Op::TryAcquire
    ));
    // Stale takeover: age both by less than, then more than, the TTL.
    spec_db.age(Duration::from_secs(9));
    spec_db.db.age(Duration::from_secs(9));
    assert!(!both(
        "acquire at 9s of 10s",
        &mut a,
        &mut ra,
        Op::TryAcquire
    ));
    spec_db.age(Duration::from_secs(2));
    spec_db.db.age(Duration::from_secs(2));
    assert!(both(
        "acquire a stale lease",
        &mut a,
        &mut ra,
        Op::TryAcquire
    ));
    assert!(!both("renew by the deposed", &mut b, &mut rb, Op::Renew));
    assert!(!both(
        "release by the deposed",
        &mut b,
        &mut rb,
        Op::Release
    ));
    assert!(both("renew by the new holder", &mut a, &mut ra, Op::Renew));
    for (what, got, want) in &steps {
        assert_eq!(got, want, "{what}: spec lease {got}, built-in lease {want}");
    }
    assert_eq!(spec_db.leader(), "a");
}

#[test]
fn concurrent_try_acquire_of_the_reference_spec_has_exactly_one_winner() {
    const THREADS: usize = 8;
    let mut spec_db = installed(Spec::reference());
    let mut leases: Vec<SpecLease> = (0..THREADS)
        .map(|i| spec_db.lease(&format!("c{i}"), TTL))
        .collect();
    for round in 0..10 {
        if round % 2 == 0 {
            spec_db.reset();
        } else {
            spec_db.age(PAST_TTL);
        }
        let winners = race(&mut leases);
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        assert_eq!(spec_db.leader(), winners[0]);
    }
}

/// All leases call try_acquire at once; the holders that won.
fn race(leases: &mut [SpecLease]) -> Vec<String> {
    let barrier = Arc::new(Barrier::new(leases.len()));
    std::thread::scope(|s| {
        let handles: Vec<_> = leases
            .iter_mut()
            .map(|lease| {
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    let won = lease.try_acquire().expect("try_acquire");
                    won.then(|| lease.holder().to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("candidate thread"))
            .collect()
    })
}

#[test]
fn an_array_operation_stops_at_the_first_statement_returning_no_row_and_rolls_back() {
    let text = spec_text(
        // Stops at the empty SELECT: the UPDATE never runs.
        r#"["SELECT 1 WHERE false", "UPDATE lease_lock SET leader = $1 WHERE id = 1 RETURNING id"]"#,
        // The UPDATE runs, then the last statement returns no row: rolled back.
        r#"["UPDATE lease_lock SET leader = $1 WHERE id = 1 RETURNING id", "SELECT 1 WHERE false"]"#,
        // Both return rows: success.
        r#"["SELECT 1", "UPDATE lease_lock SET leader = $1 WHERE id = 1 RETURNING id"]"#,
        "",
    );
    let mut spec_db = installed(Spec::parse(&text, "arrays.toml").unwrap());
    let mut lease = spec_db.lease("x", TTL);
    assert!(!lease.try_acquire().unwrap());
    assert_eq!(
        spec_db.leader(),
        "",
        "the second statement must not have run"
    );
    assert!(!lease.renew().unwrap());
    assert_eq!(spec_db.leader(), "", "a failed operation is rolled back");
    assert!(lease.release().unwrap());
    assert_eq!(spec_db.leader(), "x");
}

#[test]
fn a_first_column_false_or_null_is_a_failure_and_anything_else_a_success() {
    let cases: [(&str, bool); 9] = [
        ("SELECT true", true),
        ("SELECT false", false),
        ("SELECT NULL::bool", false),
        ("SELECT NULL::int", false),
        ("SELECT NULL::text, true", false),
        ("SELECT 0", true),
        ("SELECT ''::text", true),
        ("SELECT false WHERE false", false),
        ("SELECT true, false", true),
    ];
    // Each case gets a spec of its own (one try_acquire array would stop early).
    let db = db();
    for (sql, want) in cases {
        let text = spec_text(
            &format!("{sql:?}"),
            r#""SELECT true""#,
            r#""SELECT true""#,
            "",
        );
        let spec = Arc::new(Spec::parse(&text, "verdict.toml").unwrap());
        let mut schema = Schema::create(db.connect()).unwrap();
        let name = schema.name().clone();
        spec.install(schema.client(), &name).unwrap();
        let mut lease = SpecLease::connect(
            db.pg.url(),
            &name,
            spec,
            Ttl::from_secs_f64(TTL).unwrap(),
            HolderId::new("v").unwrap(),
        )
        .unwrap();
        assert_eq!(lease.try_acquire().unwrap(), want, "{sql}");
    }
}

#[test]
fn statements_may_use_any_subset_of_the_three_placeholders() {
    let text = spec_text(
        r#"["SELECT 1", "SELECT $2 > 0", "SELECT $3 <= now() + interval '1 minute'", "SELECT $1 = 'p'"]"#,
        r#""SELECT $1 || '' = 'p' AND $3 IS NOT NULL""#,
        r#""UPDATE lease_lock SET leader = $1 RETURNING $2::float8 = 10""#,
        "",
    );
    let mut spec_db = installed(Spec::parse(&text, "subset.toml").unwrap());
    let mut lease = spec_db.lease("p", TTL);
    assert!(lease.try_acquire().unwrap());
    assert!(lease.renew().unwrap());
    assert!(lease.release().unwrap());
    assert_eq!(spec_db.leader(), "p");
}

#[test]
fn a_candidate_whose_clock_runs_an_hour_ahead_takes_over_a_fresh_client_clock_lease() {
    let spec = Spec::load(&specs_dir().join("broken/client-clock.toml")).unwrap();
    let mut spec_db = installed(spec);
    let mut leader = spec_db.lease("leader", TTL);
    let mut honest = spec_db.lease("honest", TTL);
    let mut ahead = spec_db.lease("ahead", TTL);
    ahead.set_skew(3_600_000_000);
    assert_eq!(ahead.skew(), 3_600_000_000);
    assert!(leader.try_acquire().unwrap());
    assert!(
        !honest.try_acquire().unwrap(),
        "a fresh lease is not taken without skew"
    );
    assert!(
        ahead.try_acquire().unwrap(),
        "early takeover: the skewed clock is bound to $3"
    );
    assert_eq!(spec_db.leader(), "ahead");
    // The reference lease ignores the client's clock.
    let mut reference = installed(Spec::reference());
    let mut leader = reference.lease("leader", TTL);
    let mut ahead = reference.lease("ahead", TTL);
    ahead.set_skew(3_600_000_000);
    assert!(leader.try_acquire().unwrap());
    assert!(!ahead.try_acquire().unwrap());
    assert_eq!(reference.leader(), "leader");
}

#[test]
fn check_then_act_lets_several_candidates_win_a_free_lease() {
    const THREADS: usize = 8;
    let spec = Spec::load(&specs_dir().join("broken/check-then-act.toml")).unwrap();
    let mut spec_db = installed(spec);
    let mut leases: Vec<SpecLease> = (0..THREADS)
        .map(|i| spec_db.lease(&format!("c{i}"), TTL))
        .collect();
    let mut most = 0;
    for _ in 0..20 {
        spec_db.reset();
        most = most.max(race(&mut leases).len());
        if most > 1 {
            break;
        }
    }
    assert!(
        most > 1,
        "the check-then-act race never produced two winners"
    );
}

#[test]
fn under_repeatable_read_a_serialization_failure_is_a_definite_failure() {
    // check-then-act, but REPEATABLE READ: the losers' UPDATEs hit rows
    // changed since their snapshot and fail with SQLSTATE 40001.
    let text = std::fs::read_to_string(specs_dir().join("broken/check-then-act.toml"))
        .unwrap()
        .replace(
            "isolation = \"read committed\"",
            "isolation = \"repeatable read\"",
        )
        .replace("pg_sleep(0.005)", "pg_sleep(0.05)");
    let spec = Spec::parse(&text, "rr.toml").unwrap();
    assert_eq!(spec.isolation(), Isolation::RepeatableRead);
    let mut spec_db = installed(spec);
    let mut leases: Vec<SpecLease> = (0..4)
        .map(|i| spec_db.lease(&format!("c{i}"), TTL))
        .collect();
    for round in 0..5 {
        spec_db.reset();
        // `race` panics on Err: every loser must be a definite Ok(false).
        let winners = race(&mut leases);
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
    }
}

#[test]
fn a_deposed_leader_keeps_renewing_when_renew_does_not_check_the_holder() {
    let spec = Spec::load(&specs_dir().join("broken/renew-without-holder-check.toml")).unwrap();
    let mut spec_db = installed(spec);
    let mut old = spec_db.lease("old", TTL);
    let mut new = spec_db.lease("new", TTL);
    assert!(old.try_acquire().unwrap());
    spec_db.age(PAST_TTL);
    assert!(new.try_acquire().unwrap());
    assert!(
        old.renew().unwrap(),
        "the bug: the deposed leader's renew succeeds"
    );
    assert_eq!(spec_db.leader(), "new");
}

#[test]
fn an_advisory_lock_spec_excludes_but_never_expires_and_reset_frees_it() {
    let spec = Spec::load(&specs_dir().join("broken/advisory-lock.toml")).unwrap();
    assert!(!spec.can_age());
    let mut spec_db = installed(spec);
    let mut a = spec_db.lease("a", 0.05);
    let mut b = spec_db.lease("b", 0.05);
    assert!(a.try_acquire().unwrap());
    assert!(!a.try_acquire().unwrap(), "not re-entrant");
    assert!(!b.try_acquire().unwrap());
    assert!(a.renew().unwrap());
    assert!(!b.renew().unwrap());
    assert!(!b.release().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !b.try_acquire().unwrap(),
        "the bug: a lease 4 TTLs old is never taken over"
    );
    // reset terminates the holder's backend.
    spec_db.reset();
    assert!(b.try_acquire().unwrap());
    let err = a
        .renew()
        .expect_err("the holder's connection was terminated");
    assert!(
        err.is_connection_loss()
            || err
                .postgres_error()
                .is_some_and(|e| e.as_db_error().is_some()),
        "{err}"
    );
    assert!(!a.renew().unwrap(), "reconnected: no longer the holder");
    assert!(b.release().unwrap());
    assert!(a.try_acquire().unwrap());
}

#[test]
fn a_spec_lease_reopens_its_connection_after_its_backend_is_killed() {
    let mut spec_db = installed(Spec::reference());
    let mut lease = spec_db.lease("k", TTL);
    let pid = lease.backend_pid().unwrap();
    let killed: bool = spec_db
        .schema
        .client()
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let err = lease.try_acquire().expect_err("the backend is gone");
    // Postgres says why (FATAL 57P01) before the socket closes.
    assert!(
        matches!(
            err,
            leasecheck::LeaseError::Statement {
                what: "try_acquire",
                ..
            }
        ),
        "{err}"
    );
    assert!(lease.try_acquire().unwrap(), "a fresh connection works");
    assert_ne!(lease.backend_pid().unwrap(), pid);
}

#[test]
fn a_sql_error_while_running_is_an_error_naming_the_operation() {
    let mut spec_db = installed(Spec::reference());
    let mut lease = spec_db.lease("e", TTL);
    let drop = format!("DROP TABLE {}.lease_lock", spec_db.name());
    spec_db.schema.client().batch_execute(&drop).unwrap();
    let err = lease.renew().expect_err("the table is gone");
    let msg = err.to_string();
    assert!(
        msg.contains("renew") && msg.contains("does not exist"),
        "{msg}"
    );
    assert!(!err.is_connection_loss());
}

// ---------------------------------------------------------------------------
// Declared semantics and carried values

const REF_ACQUIRE: &str = r#""UPDATE lease_lock SET leader = $1, acquired_at = now() WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2)) RETURNING id""#;
const REF_RENEW: &str =
    r#""UPDATE lease_lock SET acquired_at = now() WHERE id = 1 AND leader = $1 RETURNING id""#;
const REF_RELEASE: &str =
    r#""UPDATE lease_lock SET leader = '' WHERE id = 1 AND leader = $1 RETURNING id""#;

#[test]
fn a_semantics_table_is_read_and_defaults_to_the_reference_rules() {
    let spec = Spec::parse(
        &spec_text(
            REF_ACQUIRE,
            REF_RENEW,
            REF_RELEASE,
            "[semantics]\nreentrant_acquire = true\nidempotent_release = true",
        ),
        "test.toml",
    )
    .expect("parses");
    let s = spec.semantics();
    assert!(s.reentrant_acquire && s.idempotent_release);
    assert!(s.stale_renew && s.renew && s.expiry && !s.renew_acquires);
    let plain = Spec::parse(
        &spec_text(REF_ACQUIRE, REF_RENEW, REF_RELEASE, ""),
        "test.toml",
    )
    .expect("parses");
    assert!(plain.semantics().is_reference());
}

#[test]
fn an_unknown_declaration_is_rejected_naming_it_and_listing_the_known_ones() {
    let msg = parse_err(&spec_text(
        REF_ACQUIRE,
        REF_RENEW,
        REF_RELEASE,
        "[semantics]\nreentrant = true",
    ));
    assert!(msg.contains("semantics.reentrant"), "{msg}");
    assert!(msg.contains("reentrant_acquire, stale_renew"), "{msg}");
}

#[test]
fn a_declaration_that_is_not_a_boolean_is_rejected_naming_it() {
    let msg = parse_err(&spec_text(
        REF_ACQUIRE,
        REF_RENEW,
        REF_RELEASE,
        "[semantics]\nexpiry = \"no\"",
    ));
    assert!(msg.contains("semantics.expiry"), "{msg}");
    assert!(msg.contains("true or false"), "{msg}");
}

#[test]
fn contradictory_declarations_are_rejected_saying_why() {
    let msg = parse_err(&spec_text(
        REF_ACQUIRE,
        REF_RENEW,
        REF_RELEASE,
        "[semantics]\nexpiry = false\nstale_renew = false",
    ));
    assert!(msg.contains("contradicts itself"), "{msg}");
    assert!(msg.contains("stale_renew"), "{msg}");
}

#[test]
fn a_lease_without_renew_declares_it_and_then_must_not_give_one() {
    let no_renew = reference_with("renew", "") + "\n[semantics]\nrenew = false\n";
    let spec = Spec::parse(&no_renew, "test.toml").expect("parses");
    assert!(spec.operation(leasecheck::model::Op::Renew).is_none());
    let both = spec_text(
        REF_ACQUIRE,
        REF_RENEW,
        REF_RELEASE,
        "[semantics]\nrenew = false",
    );
    let msg = parse_err(&both);
    assert!(msg.contains("`renew`"), "{msg}");
    assert!(msg.contains("renew = false"), "{msg}");
}

#[test]
fn carry_binds_dollar_5_and_refuses_it_without_carry_or_beside_epoch() {
    let uses_5 = r#""UPDATE lease_lock SET acquired_at = now() WHERE id = 1 AND leader = $1 AND $5 IS NOT NULL RETURNING id""#;
    let msg = parse_err(&spec_text(REF_ACQUIRE, uses_5, REF_RELEASE, ""));
    assert!(msg.contains("$5"), "{msg}");
    assert!(msg.contains("carry = true"), "{msg}");
    let acquire_text = r#""UPDATE lease_lock SET leader = $1, acquired_at = now() WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2)) RETURNING acquired_at::text""#;
    Spec::parse(
        &spec_text(acquire_text, uses_5, REF_RELEASE, "carry = true"),
        "test.toml",
    )
    .expect("with carry = true, $5 is bound");
    let msg = parse_err(&spec_text(
        REF_ACQUIRE,
        REF_RENEW,
        REF_RELEASE,
        "carry = true\nepoch = true",
    ));
    assert!(msg.contains("`carry`"), "{msg}");
}

/// A lease that takes over only with the value its win returned: the value
/// is carried from the winning call into the holder's later ones (kept
/// across a failed call), and a candidate that never won has none.
#[test]
fn a_carried_value_is_bound_into_the_holders_later_calls_and_survives_a_failed_call() {
    let acquire = r#""UPDATE lease_lock SET leader = $1, acquired_at = clock_timestamp() WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2)) RETURNING acquired_at::text""#;
    let renew = r#""UPDATE lease_lock SET acquired_at = clock_timestamp() WHERE id = 1 AND leader = $1 AND acquired_at = $5::timestamptz RETURNING acquired_at::text""#;
    let release = r#""UPDATE lease_lock SET leader = '' WHERE id = 1 AND acquired_at = $5::timestamptz RETURNING id""#;
    let spec = Spec::parse(
        &spec_text(acquire, renew, release, "carry = true"),
        "test.toml",
    )
    .expect("parses");
    let mut db = installed(spec);
    db.reset();
    let mut a = db.lease("a", 10.0);
    let mut b = db.lease("b", 10.0);
    assert!(
        !b.renew().expect("renew"),
        "b never won: it carries nothing"
    );
    assert!(a.try_acquire().expect("acquire"));
    assert!(!a.try_acquire().expect("acquire"), "not re-entrant");
    assert!(
        a.renew().expect("renew"),
        "the value survived the failed acquire"
    );
    assert!(
        a.renew().expect("renew"),
        "each renew hands back the new value"
    );
    assert!(!b.release().expect("release"), "b cannot name a's tenure");
    assert!(a.release().expect("release"));
    assert_eq!(db.leader(), "");
}

#[test]
fn a_carried_value_that_is_not_text_is_refused_when_the_spec_is_installed() {
    let spec = Spec::parse(
        &spec_text(REF_ACQUIRE, REF_RENEW, REF_RELEASE, "carry = true"),
        "test.toml",
    )
    .expect("parses");
    let db = db();
    let mut schema = Schema::create(db.connect()).expect("schema");
    let name = schema.name().clone();
    let msg = spec
        .install(schema.client(), &name)
        .expect_err("an int4 first column cannot be carried")
        .to_string();
    assert!(msg.contains("carry = true"), "{msg}");
    assert!(msg.contains("::text"), "{msg}");
}
