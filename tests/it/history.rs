//! Recorded histories are judged offline exactly as the run judged them:
//! for every scenario kind, on passing and on failing leases, the verdicts
//! of `leasecheck check-history FILE` are the verdicts the run printed.

use crate::support::{json, leasecheck};
use serde_json::Value;
use std::path::Path;

/// What a scenario's verdict is: its name, status (with the reason), and
/// each finding's property and message.
fn verdicts(report: &Value) -> Vec<Value> {
    report["scenarios"]
        .as_array()
        .unwrap_or_else(|| panic!("a report has scenarios: {report}"))
        .iter()
        .map(|s| {
            let findings: Vec<Value> = s["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| serde_json::json!([f["property"], f["message"], f["timeline"]]))
                .collect();
            serde_json::json!({
                "name": s["name"],
                "status": s["status"],
                "reason": s["reason"],
                "findings": findings,
            })
        })
        .collect()
}

/// Run `args` with `--history`, check the file offline, and assert both
/// verdicts are the same; returns the online exit code.
fn online_equals_offline(args: &[&str]) -> i32 {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("run.jsonl");
    let file_arg = file.to_str().expect("a UTF-8 temp path");
    let mut run: Vec<&str> = args.to_vec();
    run.extend(["--history", file_arg, "--json"]);
    let online = leasecheck(&run);
    let online_report = json(&online);
    let offline = leasecheck(&["check-history", file_arg, "--json"]);
    let offline_report = json(&offline);
    assert_eq!(
        verdicts(&offline_report),
        verdicts(&online_report),
        "{args:?}: offline verdicts differ from the online ones\nonline: {online_report}\noffline: {offline_report}"
    );
    assert_eq!(online.status.code(), offline.status.code(), "{args:?}");
    assert_eq!(offline_report["seed"], online_report["seed"], "{args:?}");
    assert_eq!(
        offline_report["replay"], online_report["replay"],
        "{args:?}"
    );
    assert_sections_match(&file, &online_report);
    online.status.code().expect("an exit code")
}

/// One section per scenario, in order, named as in the report.
fn assert_sections_match(file: &Path, report: &Value) {
    let recording = leasecheck::model::recording::Recording::read_jsonl(std::io::BufReader::new(
        std::fs::File::open(file).expect("the history file"),
    ))
    .expect("the history file reads back");
    let names: Vec<&str> = recording
        .sections
        .iter()
        .map(|s| s.header.scenario.as_str())
        .collect();
    let reported: Vec<&str> = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, reported);
}

#[test]
fn the_whole_battery_on_the_reference_lease_passes_online_and_offline() {
    let code = online_equals_offline(&[
        "check",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "7",
    ]);
    assert_eq!(code, 0, "the reference lease passes the CI gate");
}

#[test]
fn the_whole_battery_on_the_fenced_lease_passes_online_and_offline() {
    let code = online_equals_offline(&[
        "check",
        "--fenced",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 0, "the fenced lease passes the CI gate");
}

#[test]
fn a_zombies_stale_writes_fail_the_reference_lease_online_and_offline() {
    let code = online_equals_offline(&[
        "zombie",
        "--faults",
        "client-pause,connection-stall",
        "--seed",
        "5",
    ]);
    assert_eq!(code, 1, "stale writes are P8 violations in `zombie`");
}

#[test]
fn a_race_with_two_winners_fails_online_and_offline() {
    let code = online_equals_offline(&[
        "race",
        "--spec",
        "specs/broken/check-then-act.toml",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_takeover_whose_leader_never_learns_fails_online_and_offline() {
    let code = online_equals_offline(&[
        "takeover",
        "--spec",
        "specs/broken/renew-without-holder-check.toml",
        "--faults",
        "client-pause",
        "--seed",
        "2",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_split_brain_from_a_skewed_client_clock_fails_online_and_offline() {
    let code = online_equals_offline(&[
        "takeover",
        "--spec",
        "specs/broken/client-clock.toml",
        "--faults",
        "client-pause",
        "--skew",
        "1000",
        "--seed",
        "1",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_history_needs_the_run_to_record() {
    let o = leasecheck(&["race", "--no-record", "--history", "/dev/null"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--no-record"), "{stderr}");
}

#[test]
fn an_aborted_scenario_stays_an_error_offline_and_is_not_judged() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("aborted.jsonl");
    // Two candidates that both "won" (a violation if it were judged), in a
    // scenario recorded as aborted: the verdict is the abort, exit 2.
    std::fs::write(
        &file,
        concat!(
            "{\"format\":\"leasecheck-history\",\"version\":2,\"seed\":9,\"replay\":\"leasecheck race --seed 9\"}\n",
            "{\"scenario\":\"race\",\"ttl\":200000}\n",
            "{\"candidate\":1,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":10,\"complete\":20,\"outcome\":\"ok\"}\n",
            "{\"candidate\":2,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":30,\"complete\":40,\"outcome\":\"ok\"}\n",
            "{\"aborted\":\"error\",\"reason\":\"a runner thread panicked\"}\n",
            "{\"end\":\"leasecheck-history\",\"sections\":1}\n",
        ),
    )
    .expect("write the file");
    let o = leasecheck(&["check-history", file.to_str().expect("UTF-8"), "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(2), "{r}");
    assert_eq!(r["scenarios"][0]["status"], "error", "{r}");
    assert_eq!(
        r["scenarios"][0]["reason"], "a runner thread panicked",
        "{r}"
    );
    assert_eq!(r["replay"], "leasecheck race --seed 9", "{r}");
}

#[test]
fn scenarios_in_one_file_are_judged_apart_so_reused_candidate_ids_never_collide() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("two.jsonl");
    // Candidate 1 wins in each of two scenarios (different schemas): one
    // history of both would show two overlapping tenures, which never
    // happened.
    let section = |name: &str, t: i64| {
        format!(
            "{{\"scenario\":\"{name}\",\"ttl\":10000000}}\n\
             {{\"candidate\":1,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":{t},\"complete\":{},\"outcome\":\"ok\"}}\n\
             {{\"candidate\":2,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":{},\"complete\":{},\"outcome\":\"fail\"}}\n",
            t + 10,
            t + 20,
            t + 30
        )
    };
    let mixed = section("race", 100) + &section("takeover/client-pause", 200);
    std::fs::write(&file, &mixed).expect("write the file");
    let o = leasecheck(&["check-history", file.to_str().expect("UTF-8"), "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}");
    assert_eq!(r["scenarios"].as_array().map(Vec::len), Some(2), "{r}");
    // The same events as one history: the checker does see a violation.
    let one = file.with_file_name("one.jsonl");
    let merged: String = mixed
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || !l.contains("\"scenario\""))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&one, merged).expect("write the file");
    let o = leasecheck(&["check-history", one.to_str().expect("UTF-8"), "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", json(&o));
}

#[test]
fn a_violation_found_before_a_scenario_broke_off_still_fails_the_run() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("broke-off.jsonl");
    std::fs::write(
        &file,
        concat!(
            "{\"format\":\"leasecheck-history\",\"version\":2,\"seed\":4}\n",
            "{\"scenario\":\"race\",\"ttl\":200000,\"events\":0,\"findings\":1}\n",
            "{\"finding\":\"P1\",\"message\":\"round 3: 2 candidates raced on a free lease and 2 won [c0, c1]\",\"events\":[]}\n",
            "{\"aborted\":\"error\",\"reason\":\"cannot reset: the connection was closed\"}\n",
            "{\"end\":\"leasecheck-history\",\"sections\":1}\n",
        ),
    )
    .expect("write the file");
    let o = leasecheck(&["check-history", file.to_str().expect("UTF-8"), "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(1), "{r}");
    let scenario = &r["scenarios"][0];
    assert_eq!(scenario["status"], "violated", "{r}");
    assert!(
        scenario["figures"].to_string().contains("cannot reset"),
        "why it broke off is shown: {r}"
    );
}

#[test]
fn a_history_file_cut_short_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("run.jsonl");
    let file_arg = file.to_str().expect("UTF-8");
    let o = leasecheck(&[
        "race",
        "--candidates",
        "4",
        "--rounds",
        "2",
        "--seed",
        "8",
        "--history",
        file_arg,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&file).expect("the history file");
    let cut: String = text
        .lines()
        .take(text.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, cut).expect("cut the file");
    let o = leasecheck(&["check-history", file_arg]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cut short"), "{stderr}");
}

#[test]
fn every_scenario_of_a_broken_lease_gets_its_online_verdict_offline() {
    // Renew not scoped to its holder: the semantics (a non-holder's renew
    // succeeds), conformance, takeover and zombie scenarios all see it.
    let code = online_equals_offline(&[
        "check",
        "--spec",
        "specs/broken/renew-without-holder-check.toml",
        "--faults",
        "client-pause",
        "--candidates",
        "4",
        "--rounds",
        "4",
        "--seed",
        "6",
    ]);
    assert_eq!(code, 1);
}

#[test]
fn a_synthetic_history_is_the_same_for_a_seed_and_judged_by_check_history() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("UTF-8").to_string();
    let (a, b, bad) = (path("a.jsonl"), path("b.jsonl"), path("bad.jsonl"));
    for (file, extra) in [(&a, None), (&b, None), (&bad, Some("25"))] {
        let mut args = vec!["synth-history", file, "--events", "20000", "--seed", "5"];
        if let Some(k) = extra {
            args.extend(["--second-winner-every", k]);
        }
        let o = leasecheck(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let read = |f: &str| std::fs::read(f).expect("the history");
    assert_eq!(read(&a), read(&b), "one seed, one history");
    assert_ne!(read(&a), read(&bad));

    let o = leasecheck(&["check-history", &a, "--parse-only"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("in 1 sections, not checked"), "{out}");
    let events: usize = out
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(events >= 20_000, "{out}");

    let o = leasecheck(&["check-history", &a]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = leasecheck(&["check-history", &bad]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    // a second winner every 25 rounds: more violations than are shown
    assert!(out.contains("VIOLATION P7 linearizable"), "{out}");
    assert!(out.contains("checker violations"), "{out}");

    let o = leasecheck(&["synth-history", &a, "--stress", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--stress needs at least 1 candidate"));
}
