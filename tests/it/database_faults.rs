//! Faults of the database itself (connection-drop, crash-restart, failover)
//! and the durability scenario, against real Postgres clusters leasecheck
//! runs: the reference lease survives what a correct setup survives, and the
//! broken setups (asynchronous failover with lag, `synchronous_commit = off`
//! across a crash) are caught, with the property named.

use crate::support::{db, json, leasecheck};
use leasecheck::fault::{Fault, Proxy};
use std::path::Path;

/// The scenario called `name` in a `--json` report.
fn scenario<'r>(report: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no scenario {name} in {report}"))
}

/// The names of the properties a scenario's findings violate.
fn violated(scenario: &serde_json::Value) -> Vec<String> {
    scenario["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["property"].as_str().map(str::to_string))
        .collect()
}

/// The value of a scenario's figure called `name`.
fn figure<'r>(scenario: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    scenario["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == name)
        .map(|f| &f["value"])
        .unwrap_or_else(|| panic!("no figure {name} in {scenario}"))
}

/// The lines of a recorded history file, parsed.
fn history_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read the history")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every history line is JSON"))
        .collect()
}

#[test]
fn a_reply_cut_after_commit_leaves_the_write_done_and_the_client_with_a_connection_error() {
    let mut db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let mut through = proxy
        .config_for(&db.pg.config())
        .connect(postgres::NoTls)
        .expect("connect through the proxy");
    let table = db.table.clone();
    through
        .execute(&format!("UPDATE {table} SET leader = 'before'"), &[])
        .expect("an update while unarmed is answered");
    proxy.cut_next_commit();
    // Replies that commit nothing pass: an error, a rolled-back transaction.
    let refused = through.batch_execute("SELECT 1/0");
    assert!(
        refused.is_err_and(|e| e.as_db_error().is_some()),
        "the server's error arrives"
    );
    through
        .batch_execute(&format!(
            "BEGIN; UPDATE {table} SET leader = 'rolled back'; ROLLBACK"
        ))
        .expect("a rolled-back transaction is answered");
    assert_eq!(proxy.cuts(), 0, "nothing committed, nothing cut");
    let cut = through.execute(&format!("UPDATE {table} SET leader = 'cut'"), &[]);
    let err = cut.expect_err("the cut reply never reaches the client");
    assert!(
        err.as_db_error().is_none(),
        "a connection error, not the server's: {err}"
    );
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(
        db.row().0,
        "cut",
        "the statement committed before its reply was cut"
    );
    // One-shot: a new connection through the proxy is answered again.
    let mut again = proxy
        .config_for(&db.pg.config())
        .connect(postgres::NoTls)
        .expect("reconnect through the proxy");
    again
        .execute(&format!("UPDATE {table} SET leader = 'after'"), &[])
        .expect("the cut was one-shot");
    assert_eq!(db.row().0, "after");
}

#[test]
fn a_client_that_first_asks_for_encryption_is_framed_and_cut_like_any_other() {
    // libpq with sslmode=prefer (JDBC's default too) sends SSLRequest
    // before its startup packet; the server answers one byte, not a
    // message. The cut must still find the commit's reply.
    let mut db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let url = leasecheck::database::url_of(&proxy.config_for(&db.pg.config()))
        .replace("sslmode=disable", "sslmode=prefer");
    let psql = leasecheck::database::find_bindir()
        .expect("the server binaries")
        .join("psql");
    let table = db.table.clone();
    proxy.cut_next_commit();
    let out = std::process::Command::new(&psql)
        .args([
            &format!("{url}&connect_timeout=10"),
            "-c",
            &format!("UPDATE {table} SET leader = 'negotiated'"),
        ])
        .output()
        .expect("run psql");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the reply was cut: {stderr}");
    assert!(
        !stderr.contains("timeout"),
        "the connection was set up through the negotiation: {stderr}"
    );
    assert_eq!(proxy.cuts(), 1, "{stderr}");
    assert_eq!(db.row().0, "negotiated", "the update committed");
}

#[test]
fn the_reference_lease_passes_connection_drop_and_crash_restart_with_real_unknown_outcomes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("run.jsonl");
    let o = leasecheck(&[
        "takeover",
        "--faults",
        "connection-drop,crash-restart",
        "--ttl",
        "0.2",
        "--seed",
        "3",
        "--json",
        "--history",
        history.to_str().expect("utf-8 path"),
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}");
    let crash = scenario(&r, "takeover/crash-restart");
    assert!(
        figure(crash, "restart").as_f64().expect("seconds") > 0.0,
        "{crash}"
    );
    assert!(figure(crash, "down").as_f64() >= figure(crash, "restart").as_f64());
    assert_eq!(figure(crash, "leader renew after stall"), false);
    // The cut replies are unknown outcomes in the history, and the checker
    // still finds the history consistent.
    let lines = history_lines(&history);
    let unknown_of_the_leader = lines
        .iter()
        .skip_while(|l| l["scenario"] != "takeover/connection-drop")
        .take_while(|l| l["scenario"].is_null() || l["scenario"] == "takeover/connection-drop")
        .filter(|l| l["candidate"] == 0 && l["outcome"] == "unknown")
        .count();
    assert!(
        unknown_of_the_leader >= 2,
        "the acquire and a renew were cut: {lines:?}"
    );
    let offline = leasecheck(&["check-history", history.to_str().expect("utf-8"), "--json"]);
    assert_eq!(offline.status.code(), Some(0), "{}", json(&offline));
}

#[test]
fn a_killed_backend_is_a_session_end_in_the_history_and_correct_leases_row_or_session_pass_it() {
    // The reference lease keeps its row: the standby wins only after the TTL.
    // A session advisory lock goes with the backend: a standby wins at once,
    // and the old leader, asking on its new session, learns it lost.
    for (spec, at_once) in [
        (None, false),
        (Some("specs/broken/advisory-lock.toml"), true),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let history = dir.path().join("run.jsonl");
        let mut args = vec![
            "takeover",
            "--faults",
            "backend-kill",
            "--seed",
            "3",
            "--json",
        ];
        args.extend(["--history", history.to_str().expect("utf-8 path")]);
        match spec {
            Some(spec) => args.extend(["--spec", spec]),
            None => args.extend(["--ttl", "0.2"]),
        }
        let o = leasecheck(&args);
        let r = json(&o);
        assert_eq!(o.status.code(), Some(0), "{spec:?}: {r}");
        let kill = scenario(&r, "takeover/backend-kill");
        assert_eq!(figure(kill, "leader renew after stall"), false, "{kill}");
        let lines = history_lines(&history);
        let ends: Vec<_> = lines
            .iter()
            .filter(|l| l["call"] == "session_end")
            .collect();
        assert_eq!(ends.len(), 1, "one session ended: {lines:?}");
        assert_eq!(ends[0]["candidate"], 0, "the leader's");
        let killed_at = ends[0]["invoke"].as_i64().expect("invoke");
        let won = lines
            .iter()
            .find(|l| {
                l["candidate"] != 0
                    && l["op"] == "try_acquire"
                    && l["outcome"] == "ok"
                    && l["complete"].as_i64() > Some(killed_at)
            })
            .expect("a standby won after the kill");
        if !at_once {
            // The row outlived the session: the standby's win came more than
            // a TTL after the leader's last renew that succeeded.
            let last_renew = lines
                .iter()
                .filter(|l| l["candidate"] == 0 && l["outcome"] == "ok")
                .filter_map(|l| l["invoke"].as_i64())
                .filter(|&t| t < killed_at)
                .max()
                .expect("the leader renewed before the kill");
            let waited = won["complete"].as_i64().expect("complete") - last_renew;
            assert!(waited > 200_000, "{waited} µs: {lines:?}");
        }
        // (A session advisory lock never expires: a standby that won at all
        // won because the kill freed it.)
        let offline = leasecheck(&["check-history", history.to_str().expect("utf-8"), "--json"]);
        assert_eq!(offline.status.code(), Some(0), "{}", json(&offline));
    }
}

#[test]
fn asynchronous_failover_with_lag_splits_the_reference_leases_brain_and_draws_the_failover() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("page");
    let o = leasecheck(&[
        "takeover",
        "--faults",
        "failover",
        "--replication",
        "async",
        "--ttl",
        "0.2",
        "--seed",
        "5",
        "--json",
        "--report",
        page.to_str().expect("utf-8 path"),
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(1), "{r}");
    let failover = scenario(&r, "takeover/failover");
    let props = violated(failover);
    assert!(
        props
            .iter()
            .any(|p| p.starts_with("P6") || p.starts_with("P2")),
        "a standby won on the new primary while the leader's lease was fresh: {props:?}"
    );
    assert!(figure(failover, "promotion").as_f64().expect("seconds") > 0.0);
    let html = std::fs::read_to_string(page.join("index.html")).expect("the page");
    assert!(
        html.contains(r#"data-fault="failover""#),
        "the failover is on the timeline"
    );
    assert!(
        r["replay"]
            .as_str()
            .unwrap_or("")
            .contains("--replication async"),
        "{r}"
    );
}

#[test]
fn synchronous_failover_passes_the_same_scenario() {
    let o = leasecheck(&[
        "takeover",
        "--faults",
        "failover",
        "--replication",
        "sync",
        "--ttl",
        "0.2",
        "--seed",
        "5",
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}");
    let failover = scenario(&r, "takeover/failover");
    assert!(
        figure(failover, "takeover").as_f64().is_some(),
        "{failover}"
    );
}

#[test]
fn a_crash_keeps_acknowledged_acquires_with_synchronous_commit_and_loses_them_without() {
    let o = leasecheck(&["durability", "--seed", "1", "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}");
    let durable = scenario(&r, "durability");
    assert_eq!(figure(durable, "acknowledged acquires lost"), 0);

    let o = leasecheck(&[
        "durability",
        "--synchronous-commit",
        "off",
        "--seed",
        "1",
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(1), "{r}");
    let lossy = scenario(&r, "durability/synchronous-commit=off");
    assert!(
        violated(lossy)
            .iter()
            .any(|p| p == "P9 acknowledged write survives a crash"),
        "{lossy}"
    );
}

#[test]
fn an_unlogged_lease_that_seeds_its_row_leads_again_after_a_crash_but_forgets_its_tenure() {
    let o = leasecheck(&[
        "takeover",
        "--spec",
        "specs/unlogged-upsert.toml",
        "--faults",
        "crash-restart",
        "--ttl",
        "0.2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", json(&o));
    // Crash recovery empties the table: an acknowledged acquire is gone.
    let o = leasecheck(&[
        "durability",
        "--spec",
        "specs/unlogged-upsert.toml",
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(1), "{r}");
    assert!(
        violated(scenario(&r, "durability"))
            .iter()
            .any(|p| p == "P9 acknowledged write survives a crash"),
        "{r}"
    );
}

#[test]
fn against_a_server_leasecheck_does_not_run_crash_and_failover_are_not_applicable_with_the_reason()
{
    // A server given by URL: leasecheck never crashes or replicates it.
    let db = db();
    let url = db.pg.url().to_string();
    let o = leasecheck(&[
        "takeover",
        "--database-url",
        &url,
        "--faults",
        "crash-restart,failover",
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(2), "nothing was checked: {r}");
    for name in ["takeover/crash-restart", "takeover/failover"] {
        let s = scenario(&r, name);
        assert_eq!(s["status"], "not_applicable", "{s}");
        let why = s["reason"].as_str().unwrap_or_default();
        assert!(why.contains("leasecheck does not run it"), "{why}");
    }
    drop(db);
}

#[test]
fn a_zombie_across_a_crash_writes_stale_unless_fenced_and_failover_is_not_a_zombie_fault() {
    // The leader's work waits out the crash; a standby leads and acts once
    // the server is back; the leader's write then comes too late.
    let o = leasecheck(&[
        "zombie",
        "--faults",
        "crash-restart",
        "--zombie-rounds",
        "1",
        "--json",
    ]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(1), "{r}");
    let unfenced = scenario(&r, "zombie/crash-restart");
    assert!(
        violated(unfenced).iter().any(|p| p.starts_with("P8")),
        "the stale write is accepted: {unfenced}"
    );
    let o = leasecheck(&["zombie", "--fenced", "--faults", "crash-restart", "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(0), "{r}");
    let fenced = scenario(&r, "zombie/crash-restart");
    assert!(
        figure(fenced, "stalled writes refused").as_u64() > Some(0),
        "the fence refused the stale writes: {fenced}"
    );
    let o = leasecheck(&["zombie", "--faults", "failover", "--json"]);
    let r = json(&o);
    assert_eq!(o.status.code(), Some(2), "{r}");
    let s = scenario(&r, "zombie/failover");
    assert_eq!(s["status"], "not_applicable", "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("run it with takeover"),
        "{s}"
    );
    assert!(!Fault::Failover.in_zombie() && Fault::CrashRestart.in_zombie());
}

#[test]
fn sigterm_during_a_failover_stops_the_replica_and_the_cluster_and_reports_interrupted() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args([
            "takeover",
            "--faults",
            "failover,crash-restart",
            "--ttl",
            "0.2",
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LEASECHECK_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run leasecheck");
    // The log says when the replica streams; its port is in the line before.
    let mut replica_port = None;
    let mut log = Vec::new();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = plain(&line.expect("read the log"));
        if line.contains("replica started") {
            replica_port = line
                .split("port=")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse::<u16>().ok());
        }
        let ready = line.contains("failover ready");
        log.push(line);
        if ready {
            break;
        }
    }
    let replica_port = replica_port.unwrap_or_else(|| panic!("no replica port in {log:#?}"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    // Drain the log so that the run never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let out = child.wait_with_output().expect("wait for leasecheck");
    drain.join().expect("the log drained");
    let r = json(&out);
    assert_eq!(out.status.code(), Some(2), "{r}");
    let crash = scenario(&r, "takeover/crash-restart");
    assert_eq!(crash["status"], "interrupted", "{crash}");
    let primary_port: u16 = r["database"]
        .as_str()
        .and_then(|d| d.split(':').nth(1))
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {r}"));
    for (what, port) in [("replica", replica_port), ("cluster", primary_port)] {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the {what} on port {port} still accepts connections after the run"
        );
    }
}

/// `line` without terminal colour escapes (`ESC [ ... m`).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
