//! The `leasecheck` binary end to end: verdicts, exit codes, replay, outputs.

use crate::support::leasecheck;
use std::path::PathBuf;
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    (dir, path)
}

#[test]
fn check_on_the_reference_lease_passes_every_fault_with_32_candidates() {
    let (_dir, junit) = tmp("junit.xml");
    let o = leasecheck(&[
        "check",
        "--candidates",
        "32",
        "--rounds",
        "20",
        "--seed",
        "11",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for fault in [
        "client-pause",
        "connection-stall",
        "backend-stall",
        "row-lock",
        "database-pause",
    ] {
        assert!(
            out.contains(&format!("ok   takeover/{fault}")),
            "{fault} must pass: {out}"
        );
    }
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(
        xml.contains("failures=\"0\"") && xml.contains("takeover/backend-stall"),
        "{xml}"
    );
}

#[test]
fn a_check_then_act_lease_is_caught_with_exit_1_a_timeline_and_a_replay_command() {
    let o = leasecheck(&[
        "race",
        "--spec",
        "specs/broken/check-then-act.toml",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "5",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("VIOLATION P1 exactly one winner"), "{out}");
    assert!(
        out.contains("try_acquire") && out.contains("ok"),
        "a timeline: {out}"
    );
    assert!(out.contains("seed: 5"), "{out}");
    assert!(
        out.contains("replay: leasecheck race --spec specs/broken/check-then-act.toml --candidates 8 --rounds 10 --seed 5"),
        "{out}"
    );
}

#[test]
fn renew_without_the_holder_check_is_caught_as_a_deposed_leader_that_keeps_renewing() {
    let o = leasecheck(&[
        "takeover",
        "--spec",
        "specs/broken/renew-without-holder-check.toml",
        "--ttl",
        "0.2",
        "--faults",
        "client-pause",
        "--seed",
        "9",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("VIOLATION P4 deposed leader learns"), "{out}");
    assert!(out.contains("replay: leasecheck takeover"), "{out}");
}

#[test]
fn the_reference_spec_file_gets_the_same_verdict_as_the_built_in_lease() {
    let o = leasecheck(&[
        "check",
        "--spec",
        "specs/reference.toml",
        "--ttl",
        "0.2",
        "--candidates",
        "16",
        "--rounds",
        "20",
        "--seed",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_recorded_history_is_written_and_passes_the_offline_checker() {
    let (_dir, history) = tmp("history.jsonl");
    let o = leasecheck(&[
        "race",
        "--candidates",
        "6",
        "--rounds",
        "10",
        "--history",
        history.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("--json is JSON");
    assert_eq!(report["exit_code"], 0);
    let o = leasecheck(&["check-history", history.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("events"), "{}", text(&o));
}

#[test]
fn a_history_with_two_winners_fails_the_offline_checker_with_exit_1() {
    let (_dir, history) = tmp("split.jsonl");
    let body = [
        r#"{"ttl":1000000}"#,
        r#"{"candidate":0,"call":"lease","op":"try_acquire","invoke":0,"complete":10,"outcome":"ok"}"#,
        r#"{"candidate":1,"call":"lease","op":"try_acquire","invoke":20,"complete":30,"outcome":"ok"}"#,
    ];
    std::fs::write(&history, body.join("\n")).unwrap();
    let o = leasecheck(&["check-history", history.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("P7") || out.contains("P6"), "{out}");
}

#[test]
fn bad_input_is_a_clear_error_and_exit_2_never_a_panic() {
    let cases: [(&[&str], &str); 5] = [
        (&["race", "--ttl", "0"], "\"0\""),
        (&["race", "--ttl", "abc"], "\"abc\""),
        (
            &["race", "--spec", "no/such/spec.toml"],
            "no/such/spec.toml",
        ),
        (
            &[
                "race",
                "--database-url",
                "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2",
            ],
            "127.0.0.1:1",
        ),
        (
            &["check-history", "no/such/history.jsonl"],
            "no/such/history.jsonl",
        ),
    ];
    for (args, quoted) in cases {
        let o = leasecheck(args);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}");
        assert!(out.contains(quoted), "{args:?} must name {quoted}: {out}");
        assert!(!out.contains("panicked"), "{args:?}: {out}");
    }
}

#[test]
fn a_malformed_spec_is_rejected_before_any_run_naming_the_field() {
    let (dir, spec) = tmp("bad.toml");
    let reference = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/reference.toml"),
    )
    .unwrap();
    let missing_renew: String = reference
        .lines()
        .filter(|l| !l.starts_with("renew"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&spec, missing_renew).unwrap();
    let o = leasecheck(&["check", "--spec", spec.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("renew"), "{}", text(&o));
    let broken_sql = dir.path().join("sql.toml");
    std::fs::write(
        &broken_sql,
        reference.replace(
            "SET acquired_at = now() WHERE id = 1 AND leader = $1",
            "SET no_such_column = now() WHERE id = 1 AND leader = $1",
        ),
    )
    .unwrap();
    let o = leasecheck(&["check", "--spec", broken_sql.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("no_such_column") && out.contains("does not exist"),
        "{out}"
    );
}

#[test]
fn a_spec_statement_that_fails_at_run_time_is_exit_2_showing_the_statement_and_postgres() {
    let (_dir, spec) = tmp("runtime.toml");
    let reference = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/reference.toml"),
    )
    .unwrap();
    // Prepares fine, divides by zero when it runs.
    let broken = reference.replace(
        "WHERE id = 1 AND (leader = '' OR",
        "WHERE id = 1 / (length($1) - length($1)) AND (leader = '' OR",
    );
    assert_ne!(broken, reference, "the reference spec changed shape");
    std::fs::write(&spec, broken).unwrap();
    let o = leasecheck(&[
        "race",
        "--spec",
        spec.to_str().unwrap(),
        "--rounds",
        "2",
        "--seed",
        "1",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("division by zero"),
        "Postgres's message: {out}"
    );
    assert!(
        out.contains("length($1) - length($1)"),
        "the statement: {out}"
    );
    assert!(out.contains("try_acquire"), "the field: {out}");
}
