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

#[test]
fn init_writes_a_starter_spec_that_validates_and_never_overwrites_without_force() {
    let (_dir, file) = tmp("lease.toml");
    let path = file.to_str().unwrap();
    let o = leasecheck(&["init", path]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(written.contains("name = \"my-lease\""), "{written}");
    let o = leasecheck(&["validate", path]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("a valid spec \"my-lease\""));

    std::fs::write(&file, "# mine\n").unwrap();
    let o = leasecheck(&["init", path]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
    let o = leasecheck(&["init", path, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}

#[test]
fn validate_refuses_a_bad_spec_with_the_error_check_gives_and_exit_2() {
    let (_dir, file) = tmp("bad.toml");
    let path = file.to_str().unwrap();
    // Parses, but Postgres cannot prepare try_acquire.
    std::fs::write(
        &file,
        "name = \"typo\"\nschema = \"CREATE TABLE t (id int)\"\nreset = \"UPDATE t SET id = 1\"\n\
         try_acquire = \"SELEC 1\"\nrenew = \"SELECT true\"\nrelease = \"SELECT true\"\n",
    )
    .unwrap();
    let validate = leasecheck(&["validate", path]);
    let check = leasecheck(&["check", "--spec", path]);
    let (v, c) = (
        String::from_utf8_lossy(&validate.stderr),
        String::from_utf8_lossy(&check.stderr),
    );
    assert_eq!(validate.status.code(), Some(2), "{v}");
    assert_eq!(check.status.code(), Some(2), "{c}");
    assert!(
        v.contains("field `try_acquire`") && v.contains("SELEC"),
        "{v}"
    );
    assert_eq!(v, c, "validate and check give the same error");
    // --offline only parses: the statement is not prepared.
    let o = leasecheck(&["validate", "--offline", path]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A file that does not parse fails offline too, naming the line.
    std::fs::write(&file, "name = \"x\"\nttl_seconds = -1\n").unwrap();
    let o = leasecheck(&["validate", "--offline", path]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{path}:")), "{stderr}");
}

#[test]
fn doctor_names_the_server_it_would_use_and_whether_each_fault_is_available() {
    let o = leasecheck(&["doctor"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("Postgres for a run"), "{out}");
    for fault in leasecheck::fault::Fault::ALL {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("fault {fault} ")))
            .unwrap_or_else(|| panic!("no line for {fault}:\n{out}"));
        assert!(
            line.contains("available") || line.trim_start().starts_with("--"),
            "{line}"
        );
    }
}

#[test]
fn doctor_reports_a_docker_daemon_that_does_not_answer_instead_of_hanging() {
    // a `docker` first on PATH that never answers, as a stuck daemon's
    // client does
    let dir = tempfile::tempdir().expect("temp dir");
    let fake = dir.path().join("docker");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 600\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .arg("doctor")
        .env("PATH", path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run leasecheck doctor");
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("Docker engine"))
        .unwrap_or_else(|| panic!("a Docker line:\n{out}"));
    assert!(line.contains("did not answer within 10 s"), "{line}");
    assert!(out.contains("Postgres for a run"), "doctor went on: {out}");
}

/// Rust's `Debug` shapes that must never reach a user.
const DEBUG_SHAPES: [&str; 7] = ["Some(", "None)", "Ok(", "Err(", " { ", "secs:", "nanos:"];

#[test]
fn no_user_facing_message_shows_rust_debug_formatting() {
    let (_dir, bad) = tmp("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nttl_seconds = \"soon\"\n").unwrap();
    let bad = bad.to_str().unwrap();
    let mut runs: Vec<Vec<&str>> = leasecheck::catalogue::CATALOGUE
        .iter()
        .map(|e| vec!["reproduce", e.name, "--seed", "1"])
        .collect();
    runs.extend([
        vec!["zombie", "--faults", "client-pause", "--seed", "1"],
        vec!["takeover", "--stall", "100", "--ttl", "0.2"],
        vec!["race", "--renew-interval", "500"],
        vec!["validate", "--offline", bad],
        vec!["check-history", bad],
        vec!["race", "--faults", "nap"],
        // --exec: an adapter that cannot start, a command that does not
        // split, one that ends before its hello, a timeout shorter than
        // the stall.
        vec![
            "race",
            "--spec",
            "specs/reference.toml",
            "--exec",
            "/nonexistent/adapter",
        ],
        vec![
            "race",
            "--spec",
            "specs/reference.toml",
            "--exec",
            "'unclosed",
        ],
        vec!["race", "--spec", "specs/reference.toml", "--exec", "true"],
        vec![
            "race",
            "--spec",
            "specs/reference.toml",
            "--exec",
            "true",
            "--call-timeout",
            "100",
        ],
    ]);
    for args in runs {
        let o = leasecheck(&args);
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_ne!(o.status.code(), Some(101), "{args:?} panicked:\n{shown}");
        for line in shown.lines().filter(|l| !l.contains('|')) {
            for shape in DEBUG_SHAPES {
                assert!(!line.contains(shape), "{args:?} shows {shape:?}:\n{line}");
            }
        }
    }
}

#[test]
fn a_run_where_every_scenario_is_not_applicable_checks_nothing_and_exits_2() {
    let db = crate::support::db();
    let o = leasecheck(&[
        "takeover",
        "--faults",
        "backend-stall",
        "--database-url",
        db.pg.url(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(
        out.contains("n/a") && out.contains("nothing was checked"),
        "{out}"
    );
}

#[test]
fn counts_that_would_check_nothing_are_refused_naming_the_flag() {
    for flag in ["--rounds", "--trials", "--standbys", "--zombie-rounds"] {
        let o = leasecheck(&["check", flag, "0"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!("{flag} must be at least 1")),
            "{stderr}"
        );
    }
}

#[test]
fn a_history_that_cannot_be_written_still_prints_the_report_and_exits_2() {
    let o = leasecheck(&[
        "race",
        "--candidates",
        "2",
        "--rounds",
        "1",
        "--seed",
        "3",
        "--history",
        "/nonexistent-dir/h.jsonl",
    ]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(out.contains("ok   race"), "the verdict is shown: {out}");
    assert!(
        err.contains("cannot write the history to /nonexistent-dir/h.jsonl"),
        "{err}"
    );
}

#[test]
fn an_error_says_each_cause_once() {
    let (_dir, file) = tmp("ttl.toml");
    std::fs::write(&file, "name = \"x\"\nttl_seconds = -1\n").unwrap();
    let o = leasecheck(&["validate", "--offline", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("must be positive").count(), 1, "{stderr}");
}

#[test]
fn the_replay_command_pins_a_ttl_that_came_from_the_environment() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args([
            "race",
            "--spec",
            "specs/broken/check-then-act.toml",
            "--candidates",
            "8",
            "--rounds",
            "10",
            "--seed",
            "5",
            "--json",
        ])
        .env(leasecheck::settings::TTL_ENV, "0.3")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run leasecheck");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("a JSON report");
    assert_eq!(o.status.code(), Some(1), "{r}");
    assert_eq!(r["ttl_seconds"], 0.3, "{r}");
    let replay = r["replay"].as_str().unwrap_or("");
    assert!(replay.ends_with("--ttl 0.3 --seed 5"), "{replay}");
}

/// `--help` names every value a flag takes, with its line: every fault,
/// every `--via`, `--replication` and `--synchronous-commit` value.
#[test]
fn help_names_every_value_a_flag_takes_with_one_line_each() {
    use leasecheck::fault::{Durability, Fault, Replication};
    for command in ["race", "takeover", "zombie", "durability", "check"] {
        let out = crate::support::leasecheck(&[command, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = String::from_utf8_lossy(&out.stdout);
        let lists = |name: &str, summary: &str| {
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("- {name}:")) && l.contains(summary))
        };
        for f in Fault::ALL {
            assert!(
                lists(f.name(), f.summary()),
                "{command} --help: {f}\n{help}"
            );
        }
        for r in Replication::ALL {
            assert!(
                lists(r.name(), r.summary()),
                "{command} --help: {r}\n{help}"
            );
        }
        for d in Durability::ALL {
            assert!(
                lists(d.name(), d.summary()),
                "{command} --help: {d}\n{help}"
            );
        }
        for via in ["direct", "pgbouncer"] {
            assert!(
                help.lines()
                    .any(|l| l.trim_start().starts_with(&format!("- {via}:"))),
                "{command} --help: --via {via}\n{help}"
            );
        }
    }
}
