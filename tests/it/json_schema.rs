//! The `--json` report is a published shape: `docs/report.schema.json` (JSON
//! Schema, draft 2020-12), documented in `docs/json-output.md`. Real output
//! of every kind of run validates against it, the schema itself is valid,
//! and a report that drifts from the shape fails it (the schema is not
//! vacuous).

use crate::support::leasecheck;
use leasecheck::model::check::{timeline, Property};
use leasecheck::model::history::{Call, Event, History, Outcome};
use leasecheck::model::{Candidate, Op, Span, Time};
use leasecheck::report::{Quantity, Report, Scenario, Status, JSON_FORMAT, JSON_VERSION};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Every unit a figure can have (`Quantity`'s variants).
const UNITS: [&str; 6] = ["count", "fraction", "seconds", "range", "flag", "text"];

/// The published schema.
fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The schema's `$defs/NAME` as a schema of its own.
fn schema_of(name: &str) -> Value {
    let schema = schema();
    json!({
        "$schema": schema["$schema"],
        "$defs": schema["$defs"],
        "$ref": format!("#/$defs/{name}"),
    })
}

/// What is wrong with `instance` as `schema` sees it, one line per error.
fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::new(schema)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("at {:?}: {e}", e.instance_path.to_string()))
        .collect()
}

/// Fail unless `report` validates against the published schema.
fn assert_valid(what: &str, report: &Value) {
    let errors = errors(&schema(), report);
    assert!(
        errors.is_empty(),
        "{what}: the report does not validate against docs/report.schema.json:\n{}\n\n{report:#}",
        errors.join("\n")
    );
}

/// Run `leasecheck ARGS` and return its JSON report, after checking that it
/// exited with `exit`, says it is a report of this version, and carries its
/// own exit status as `exit_code`.
fn report(args: &[&str], exit: i32) -> Value {
    let o = leasecheck(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "leasecheck {}: --json must print JSON ({e}):\n{}\n{stderr}",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout)
        )
    });
    assert_eq!(
        o.status.code(),
        Some(exit),
        "leasecheck {}: {report:#}\n{stderr}",
        args.join(" ")
    );
    assert_eq!(report["exit_code"], exit, "exit_code is the exit status");
    assert_eq!(report["format"], JSON_FORMAT, "{report:#}");
    assert_eq!(report["version"], JSON_VERSION, "{report:#}");
    report
}

/// Every `(figure unit, scenario status, timeline call)` seen in `reports`.
fn seen(reports: &[&Value]) -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    let (mut units, mut statuses, mut calls) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let text = |v: &Value| v.as_str().unwrap_or("?").to_string();
    for s in reports
        .iter()
        .flat_map(|r| r["scenarios"].as_array().into_iter().flatten())
    {
        statuses.insert(text(&s["status"]));
        for f in s["figures"].as_array().into_iter().flatten() {
            units.insert(text(&f["unit"]));
        }
        for f in s["findings"].as_array().into_iter().flatten() {
            for row in f["timeline"]["rows"].as_array().into_iter().flatten() {
                calls.insert(text(&row["call"]));
            }
        }
    }
    (units, statuses, calls)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_published_schema_is_itself_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "the schema says which draft it is"
    );
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("docs/report.schema.json is not a valid draft 2020-12 schema: {e}");
    }
    jsonschema::draft202012::new(&schema).expect("the schema compiles");
    // The unit enum is exactly Quantity's variants.
    assert_eq!(schema["$defs"]["unit"]["enum"], json!(UNITS));
}

#[test]
fn every_json_report_validates_against_the_published_schema() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let takeover_history = dir.path().join("takeover.jsonl");
    let zombie_history = dir.path().join("zombie.jsonl");
    let takeover_history = takeover_history.to_str().expect("UTF-8");
    let zombie_history = zombie_history.to_str().expect("UTF-8");

    let race = report(&["race", "--candidates", "4", "--rounds", "3", "--json"], 0);
    assert_valid("a passing race", &race);

    let failing = report(&["reproduce", "check-then-act", "--seed", "1", "--json"], 1);
    assert_valid("a failing reproduce", &failing);
    let rows = failing["scenarios"][0]["findings"][0]["timeline"]["rows"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(rows > 0, "a finding carries its timeline: {failing:#}");

    let takeover = report(
        &[
            "takeover",
            "--faults",
            "client-pause",
            "--history",
            takeover_history,
            "--json",
        ],
        0,
    );
    assert_valid("a takeover", &takeover);
    assert_eq!(takeover["history_file"], takeover_history);

    let zombie = report(
        &[
            "zombie",
            "--fenced",
            "--faults",
            "client-pause",
            "--history",
            zombie_history,
            "--json",
        ],
        0,
    );
    assert_valid("a fenced zombie", &zombie);

    let offline_takeover = report(&["check-history", takeover_history, "--json"], 0);
    assert_valid("check-history of a recorded takeover", &offline_takeover);
    let offline_zombie = report(&["check-history", zombie_history, "--json"], 0);
    assert_valid("check-history of a recorded zombie", &offline_zombie);

    // Between them, these runs use every unit a figure can have: the schema
    // is checked against real output of each, not just a few.
    let (units, statuses, _) = seen(&[
        &race,
        &failing,
        &takeover,
        &zombie,
        &offline_takeover,
        &offline_zombie,
    ]);
    assert_eq!(units, set(&UNITS), "every unit appears in a real report");
    assert_eq!(statuses, set(&["passed", "violated"]));
}

#[test]
fn reports_of_scenarios_that_errored_did_not_apply_or_were_interrupted_validate_against_the_published_schema(
) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("aborted.jsonl");
    // A recording with a scenario of every ending, the largest seed there
    // is, and a violation whose timeline has every kind of call but `age`.
    let lines = [
        r#"{"format":"leasecheck-history","version":2,"seed":18446744073709551615,"replay":"leasecheck check --seed 18446744073709551615"}"#,
        r#"{"scenario":"takeover/backend-stall","ttl":200000}"#,
        r#"{"aborted":"not_applicable","reason":"the server is remote"}"#,
        r#"{"scenario":"zombie/client-pause","ttl":200000}"#,
        r#"{"candidate":1,"call":"lease","op":"try_acquire","invoke":10,"complete":20,"outcome":"ok"}"#,
        r#"{"aborted":"error","reason":"a runner thread panicked"}"#,
        r#"{"scenario":"race","ttl":200000}"#,
        r#"{"aborted":"interrupted","reason":"interrupted (Ctrl-C)"}"#,
        r#"{"scenario":"zombie/database-pause","ttl":1000000}"#,
        r#"{"candidate":65535,"call":"reset","invoke":0,"complete":5,"outcome":"ok"}"#,
        r#"{"candidate":1,"call":"lease","op":"try_acquire","invoke":10,"complete":20,"server_time":15,"outcome":"ok"}"#,
        r#"{"candidate":1,"call":"action","epoch":1,"seq":1,"invoke":30,"complete":40,"outcome":"ok"}"#,
        r#"{"candidate":2,"call":"lease","op":"try_acquire","invoke":70,"complete":80,"server_time":75,"outcome":"ok"}"#,
        r#"{"candidate":1,"call":"lease","op":"renew","invoke":90,"complete":100,"outcome":"fail"}"#,
        r#"{"candidate":2,"call":"action","epoch":2,"invoke":130,"complete":140,"outcome":"fail"}"#,
        r#"{"candidate":2,"call":"lease","op":"release","invoke":150,"complete":160,"outcome":"unknown"}"#,
        r#"{"end":"leasecheck-history","sections":4}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").expect("write the file");
    // A violation outranks an error: exit 1.
    let r = report(
        &["check-history", file.to_str().expect("UTF-8"), "--json"],
        1,
    );
    assert_valid("check-history of aborted scenarios", &r);
    assert_eq!(
        r["seed"].as_u64(),
        Some(u64::MAX),
        "the seed stays an exact integer"
    );
    let (_, statuses, calls) = seen(&[&r]);
    assert_eq!(
        statuses,
        set(&["error", "interrupted", "not_applicable", "violated"])
    );
    assert_eq!(calls, set(&["action", "lease", "reset"]));
    let scenarios = r["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios[0]["reason"], "the server is remote");
    assert_eq!(scenarios[1]["reason"], "a runner thread panicked");
    assert!(scenarios[2].get("reason").is_none(), "{r:#}");
}

#[test]
fn the_catalogue_list_validates_against_its_published_schema() {
    let o = leasecheck(&["reproduce", "--list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let list: Value = serde_json::from_slice(&o.stdout).expect("--list --json is JSON");
    let errors = errors(&schema_of("catalogue"), &list);
    assert!(errors.is_empty(), "{}\n\n{list:#}", errors.join("\n"));
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(leasecheck::catalogue::CATALOGUE.len())
    );
}

/// A report with a figure of every unit, a noted figure, every status, and
/// a finding whose timeline has every kind of call, outcome and holder:
/// built in-process, so its drifts below are made from a known whole.
fn full_report() -> Value {
    let event = |candidate: u16, call: Call, at: i64, outcome: Outcome| Event {
        candidate: Candidate(candidate),
        call,
        invoke: Time(at),
        complete: Time(at + 5),
        server_time: (candidate != Candidate::HARNESS.0).then_some(Time(at + 2)),
        outcome,
    };
    let lease = |op| Call::Lease { op };
    let history = History {
        semantics: Default::default(),
        ttl: Span::from_millis(200),
        events: vec![
            event(1, lease(Op::Renew), 0, Outcome::Fail),
            event(u16::MAX, Call::Reset, 10, Outcome::Ok),
            event(1, lease(Op::TryAcquire), 20, Outcome::Ok),
            event(
                1,
                Call::Action {
                    epoch: Some(1),
                    seq: Some(1),
                },
                30,
                Outcome::Ok,
            ),
            event(
                u16::MAX,
                Call::Age {
                    by: Span::from_millis(300),
                },
                40,
                Outcome::Ok,
            ),
            event(2, lease(Op::TryAcquire), 50, Outcome::Ok),
            event(
                1,
                Call::Action {
                    epoch: Some(1),
                    seq: None,
                },
                60,
                Outcome::Fail,
            ),
            event(2, lease(Op::Release), 70, Outcome::Unknown),
        ],
    };
    let all: Vec<usize> = (0..history.events.len()).collect();
    let mut violated = Scenario::new("zombie/client-pause");
    violated.figure("stale writes", 1usize);
    violated.figure_noted("stale writes", 0u64, "no fencing: informational");
    violated.figure("rounds", Quantity::Fraction { value: 2, of: 3 });
    violated.figure("takeover", Duration::from_micros(12_500));
    violated.figure("epochs", Quantity::Range { from: 1, to: 2 });
    violated.figure("leader renew after stall", false);
    violated.figure("winner", "c2");
    violated.violation(
        Property::P8FencingEpoch,
        "c1's action #6 was refused",
        timeline(&history, &all),
        history.events.clone(),
    );
    violated.duration = Duration::from_millis(1_250);
    let with = |name: &str, status: Status| {
        let mut s = Scenario::new(name);
        s.status = status;
        s
    };
    let report = Report {
        subject: "reference lease (built-in)".into(),
        database: "127.0.0.1:5432/postgres (throwaway local cluster)".into(),
        ttl_seconds: 0.2,
        seed: u64::MAX,
        replay: format!("leasecheck check --seed {}", u64::MAX),
        scenarios: vec![
            with("race", Status::Passed),
            violated,
            with(
                "takeover/backend-stall",
                Status::NotApplicable("remote".into()),
            ),
            with("takeover/database-pause", Status::Error("lost".into())),
            with("release", Status::Interrupted),
        ],
        history_file: Some("run.jsonl".into()),
        report_page: Some("out/index.html".into()),
        fail_on: leasecheck::report::FailOn::Safety,
    };
    serde_json::from_str(&report.to_json()).expect("to_json is JSON")
}

#[test]
fn a_report_that_drifts_from_the_published_shape_fails_validation() {
    let full = full_report();
    assert_valid("the in-process report", &full);
    let (units, statuses, calls) = seen(&[&full]);
    assert_eq!(units, set(&UNITS));
    assert_eq!(statuses.len(), 5, "every status: {statuses:?}");
    assert_eq!(calls, set(&["action", "age", "lease", "reset"]));

    type Drift = fn(&mut Value);
    let drifts: Vec<(&str, Drift)> = vec![
        ("a figure with an unknown unit", |r| {
            r["scenarios"][1]["figures"][0]["unit"] = json!("minutes")
        }),
        ("a duration figure rendered for people", |r| {
            r["scenarios"][1]["figures"][3]["value"] = json!("12.5ms")
        }),
        ("a count figure with a field of another unit", |r| {
            r["scenarios"][1]["figures"][0]["of"] = json!(3)
        }),
        ("a fraction figure without `of`", |r| {
            let f = r["scenarios"][1]["figures"][2].as_object_mut().unwrap();
            f.remove("of");
        }),
        ("a scenario duration as text", |r| {
            r["scenarios"][0]["duration"] = json!("1.2s")
        }),
        ("a status in Rust Debug form", |r| {
            r["scenarios"][0]["status"] = json!("Passed")
        }),
        ("an unknown status", |r| {
            r["scenarios"][0]["status"] = json!("skipped")
        }),
        ("a passed scenario with a reason", |r| {
            r["scenarios"][0]["reason"] = json!("why")
        }),
        ("an error without its reason", |r| {
            let s = r["scenarios"][3].as_object_mut().unwrap();
            s.remove("reason");
        }),
        ("a violated scenario without findings", |r| {
            r["scenarios"][1]["findings"] = json!([])
        }),
        ("a passed scenario with findings", |r| {
            let f = r["scenarios"][1]["findings"][0].clone();
            r["scenarios"][0]["findings"] = json!([f]);
        }),
        ("no version", |r| {
            r.as_object_mut().unwrap().remove("version");
        }),
        ("another version", |r| r["version"] = json!(2)),
        ("another format", |r| r["format"] = json!("leasecheck")),
        ("an exit code that is none of 0, 1, 2", |r| {
            r["exit_code"] = json!(3)
        }),
        ("an undocumented top-level field", |r| {
            r["extra"] = json!(true)
        }),
        ("an undocumented scenario field", |r| {
            r["scenarios"][0]["extra"] = json!(true)
        }),
        ("a seed as text", |r| {
            r["seed"] = json!("18446744073709551615")
        }),
        ("a TTL in seconds in a timeline", |r| {
            r["scenarios"][1]["findings"][0]["timeline"]["ttl"] = json!(0.2)
        }),
        ("a reset row with a lease op", |r| {
            r["scenarios"][1]["findings"][0]["timeline"]["rows"][1]["op"] = json!("renew")
        }),
        ("a lease row without its op", |r| {
            let row = r["scenarios"][1]["findings"][0]["timeline"]["rows"][0]
                .as_object_mut()
                .unwrap();
            row.remove("op");
        }),
        ("an unknown call", |r| {
            r["scenarios"][1]["findings"][0]["timeline"]["rows"][1]["call"] = json!("vacuum")
        }),
        ("a holder in Rust Debug form", |r| {
            r["scenarios"][1]["findings"][0]["timeline"]["rows"][2]["holder"] =
                json!("Candidate(1)")
        }),
        ("an unknown outcome", |r| {
            r["scenarios"][1]["findings"][0]["timeline"]["rows"][0]["outcome"] = json!("maybe")
        }),
    ];
    // The drifts index into the report as built: check that they land.
    let figures = &full["scenarios"][1]["figures"];
    assert_eq!(
        (
            &figures[0]["unit"],
            &figures[2]["unit"],
            &figures[3]["unit"]
        ),
        (&json!("count"), &json!("fraction"), &json!("seconds"))
    );
    let rows = &full["scenarios"][1]["findings"][0]["timeline"]["rows"];
    assert_eq!(
        (&rows[0]["call"], &rows[1]["call"], &rows[2]["holder"]),
        (&json!("lease"), &json!("reset"), &json!({"candidate": 1}))
    );
    for (what, drift) in drifts {
        let mut drifted = full.clone();
        drift(&mut drifted);
        assert_ne!(drifted, full, "{what}: the drift changed nothing");
        assert!(
            !errors(&schema(), &drifted).is_empty(),
            "{what}: validates, but the schema must reject it"
        );
    }
}
