//! The catalogue of real-world leases (`specs/real/`): each entry's verdict
//! under a process stall, a lost reply, failover and crash, through
//! PgBouncer and under client clock skew, as the README's table states it. A safe lease with non-reference semantics passes once
//! they are declared; every real split brain is caught with the property
//! it breaks named.

use crate::support::leasecheck;
use std::collections::BTreeSet;

/// How an entry is run: a short battery, fixed seed, and `extra` flags.
fn verdict(file: &str, extra: &[&str]) -> (i32, BTreeSet<String>, serde_json::Value) {
    let path = format!("specs/real/{file}.toml");
    let mut args = vec![
        "check",
        "--spec",
        &path,
        "--candidates",
        "4",
        "--rounds",
        "4",
        "--trials",
        "1",
        "--zombie-rounds",
        "1",
        "--seed",
        "7",
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = leasecheck(&args);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{file}: --json must print JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let broken = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["property"].as_str())
        .filter_map(|p| p.split(' ').next().map(str::to_string))
        .collect();
    (o.status.code().unwrap_or(-1), broken, report)
}

/// The entry passes: exit 0, nothing violated.
fn safe(file: &str, extra: &[&str]) {
    let (code, broken, report) = verdict(file, extra);
    assert_eq!(
        (code, broken.len()),
        (0, 0),
        "{file} {extra:?} must pass; it broke {broken:?}:\n{report:#}"
    );
}

/// The entry is caught: exit 1, naming at least every property of `breaks`.
fn caught(file: &str, extra: &[&str], breaks: &[&str]) {
    let (code, broken, report) = verdict(file, extra);
    assert_eq!(code, 1, "{file} {extra:?} must be caught:\n{report:#}");
    for p in breaks {
        assert!(
            broken.contains(*p),
            "{file} {extra:?} must break {p}; it broke {broken:?}:\n{report:#}"
        );
    }
}

const PAUSE: [&str; 2] = ["--faults", "client-pause"];
const SKEW: [&str; 4] = ["--faults", "client-pause", "--skew", "3000"];
const POOLED: [&str; 4] = ["--faults", "client-pause", "--via", "pgbouncer"];
const LOST_REPLY: [&str; 2] = ["--faults", "client-pause,connection-drop"];
const FAILOVER_AND_CRASH: [&str; 2] = ["--faults", "failover,crash-restart"];

/// River and Oban keep their leader in an UNLOGGED table: a streaming
/// replica never has its rows, so the promoted standby elects a second
/// leader while the deposed one's claim still runs (P6), and crash recovery
/// empties it, losing an acknowledged acquire (P9).
#[test]
fn river_and_oban_unlogged_leader_tables_split_on_failover_p6_and_forget_on_a_crash_p9() {
    caught("river-current", &FAILOVER_AND_CRASH, &["P6", "P9"]);
    caught("oban-after-1488", &FAILOVER_AND_CRASH, &["P6", "P9"]);
}

/// A logged table keeps the lease across failover and crash.
#[test]
fn vault_postgresql_ha_lock_in_a_logged_table_survives_failover_and_a_crash() {
    safe("vault-postgresql-ha", &FAILOVER_AND_CRASH);
}

#[test]
fn river_current_term_scoped_lease_is_safe_under_a_stall_pooled_and_under_skew() {
    safe("river-current", &PAUSE);
    safe("river-current", &POOLED);
    safe("river-current", &SKEW);
}

#[test]
fn river_before_its_term_scoped_reelect_is_safe_once_its_renew_that_acquires_is_declared() {
    safe("river-before-term", &PAUSE);
}

#[test]
fn oban_before_1488_renew_matched_by_name_only_is_a_split_brain_p4_p5_p6() {
    caught("oban-before-1488", &PAUSE, &["P4", "P5", "P6"]);
}

#[test]
fn oban_after_1488_is_safe_on_one_clock_and_splits_under_client_clock_skew() {
    safe("oban-after-1488", &PAUSE);
    caught("oban-after-1488", &SKEW, &["P2", "P6"]);
}

#[test]
fn shedlock_client_clock_loses_a_won_lock_on_a_lost_reply_and_splits_under_skew() {
    caught("shedlock-client-clock", &LOST_REPLY, &["P1"]);
    caught("shedlock-client-clock", &SKEW, &["P2", "P6"]);
}

#[test]
fn shedlock_using_db_time_is_immune_to_skew_but_loses_a_won_lock_on_a_lost_reply() {
    safe("shedlock-db-time", &SKEW);
    caught("shedlock-db-time", &LOST_REPLY, &["P1"]);
}

#[test]
fn spring_jdbc_lock_registry_is_safe_on_one_clock_and_splits_under_skew() {
    safe("spring-jdbc-lock", &PAUSE);
    caught("spring-jdbc-lock", &SKEW, &["P2", "P6"]);
}

#[test]
fn vault_postgresql_ha_lock_is_safe_under_a_stall_pooled_and_under_skew() {
    safe("vault-postgresql-ha", &PAUSE);
    safe("vault-postgresql-ha", &POOLED);
    safe("vault-postgresql-ha", &SKEW);
}

#[test]
fn pglock_record_version_lease_carrying_its_rvn_is_safe() {
    safe("pglock", &PAUSE);
}

#[test]
fn hangfire_unlock_by_name_only_lets_another_take_a_fresh_lock_p2() {
    caught("hangfire-postgresql-lock", &PAUSE, &["P2"]);
}

/// The README's table lists every entry of `specs/real/`, and nothing else.
#[test]
fn the_readme_table_lists_every_real_world_lease() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/specs/real");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("specs/real")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 16,
        "at least sixteen real-world leases: {files:?}"
    );
    for f in &files {
        assert!(
            readme.contains(&format!("specs/real/{f}")),
            "README's table of real-world leases does not list specs/real/{f}"
        );
    }
}

/// One row of the README's real-world table: the command it prints and
/// what it says that command prints.
struct Row {
    command: String,
    exit: i32,
    safety: BTreeSet<String>,
}

/// The rows of the README's "Real-world leases" table: every line of the
/// section that links a spec of `specs/real/`, its last two cells the
/// command (`leasecheck ...`, in backticks) and what it prints (`exit N`,
/// then the safety properties it breaks: `exit 1: P6, P9`).
fn scoreboard() -> Vec<Row> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find("\n## Real-world leases")
        .expect("README has a section \"Real-world leases\"");
    let section = &readme[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
    section
        .lines()
        .filter(|l| l.starts_with('|') && l.contains("(specs/real/"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let [.., command, prints] = cells[..] else {
                panic!("a scoreboard row has a command and what it prints: {line}")
            };
            let command = command
                .strip_prefix("`leasecheck ")
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("the row's command is `leasecheck ...`: {line}"));
            let (exit, properties) = prints.split_once(':').unwrap_or((prints, ""));
            let exit = exit
                .strip_prefix("exit ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("the row says `exit N` it prints: {line}"));
            let safety = properties
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect();
            Row {
                command: command.to_string(),
                exit,
                safety,
            }
        })
        .collect()
}

/// The safety properties a text report names in its VIOLATION lines.
fn safety_violations(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("VIOLATION "))
        .filter(|l| l.contains("(safety)"))
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect()
}

/// Every row of the README's scoreboard is what its own command prints: run
/// verbatim, it exits as the row says and breaks exactly the safety
/// properties the row names (contract findings are not listed there). Two
/// rows run at a time, the longest first.
#[test]
fn every_readme_scoreboard_row_is_what_its_own_command_prints() {
    let mut rows = scoreboard();
    assert!(
        rows.len() >= 16,
        "the scoreboard has a row per lease of specs/real/: {} rows",
        rows.len()
    );
    // The full checks (no --faults) take longest.
    rows.sort_by_key(|r| r.command.contains("--faults"));
    let queue = std::sync::Mutex::new(rows.into_iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(row) = queue.lock().expect("queue").next() else {
                    break;
                };
                let args = shell_words::split(&row.command).expect("the command is shell words");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let o = leasecheck(&args);
                let stdout = String::from_utf8_lossy(&o.stdout);
                let found = safety_violations(&stdout);
                let exit = o.status.code().unwrap_or(-1);
                if exit != row.exit || found != row.safety {
                    failures.lock().expect("failures").push(format!(
                        "`leasecheck {}`: the README says exit {} breaking {:?}; it printed exit {exit} breaking {found:?}\n{stdout}{}",
                        row.command,
                        row.exit,
                        row.safety,
                        String::from_utf8_lossy(&o.stderr)
                    ));
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `path`'s text without its `[semantics]` table, in a file of its own.
fn undeclared(file: &str) -> tempfile::TempPath {
    let text = std::fs::read_to_string(format!(
        "{}/specs/real/{file}.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("read the spec");
    let cut = text
        .find("\n[semantics]")
        .expect("the spec declares its semantics");
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    std::io::Write::write_all(&mut f, &text.as_bytes()[..cut]).expect("write");
    f.into_temp_path()
}

/// Spring's lock is re-entrant: undeclared, it fails its contract (P7, with
/// the declaration to mend it named), never as a takeover (P2) or any other
/// safety property.
#[test]
fn an_undeclared_reentrant_acquire_is_a_contract_finding_never_a_takeover() {
    let path = undeclared("spring-jdbc-lock");
    let o = leasecheck(&[
        "check",
        "--spec",
        path.to_str().expect("utf-8 path"),
        "--candidates",
        "4",
        "--rounds",
        "4",
        "--trials",
        "1",
        "--zombie-rounds",
        "1",
        "--faults",
        "client-pause",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let findings: Vec<&serde_json::Value> = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["findings"].as_array().into_iter().flatten())
        .collect();
    assert!(!findings.is_empty());
    for f in &findings {
        assert_eq!(f["class"], "contract", "only the contract is broken: {f:#}");
    }
    assert!(
        findings.iter().any(|f| f["message"]
            .as_str()
            .is_some_and(|m| m.contains("reentrant_acquire = false"))),
        "the finding names the declaration: {findings:#?}"
    );
}

#[test]
fn characterize_proposes_the_declaration_an_undeclared_lease_needs() {
    let path = undeclared("vault-postgresql-ha");
    let o = leasecheck(&["characterize", "--spec", path.to_str().expect("utf-8 path")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let declaration = "[semantics]\nreentrant_acquire = true\nstale_renew = true\n\
                       renew_acquires = true\nrenew = true\nexpiry = true\nidempotent_release = true\n";
    assert!(out.contains(declaration), "{out}");
}

#[test]
fn characterize_recognises_a_declared_lease_and_exits_1_on_an_unsafe_one() {
    let o = leasecheck(&["characterize", "--spec", "specs/real/river-current.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("already declares these semantics"), "{out}");
    let o = leasecheck(&["characterize", "--spec", "specs/real/oban-before-1488.toml"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("UNSAFE (P6 no overlapping tenure)"), "{out}");
    assert!(
        out.contains("replay: leasecheck characterize --spec specs/real/oban-before-1488.toml"),
        "{out}"
    );
}

/// `--fail-on safety`: the same contract-only findings are reported, and
/// the run (and the offline check of its history, given the same policy)
/// exits 0; a safety violation still exits 1.
#[test]
fn fail_on_safety_passes_contract_findings_and_never_a_safety_one() {
    let path = undeclared("spring-jdbc-lock");
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("run.jsonl");
    let history = history.to_str().expect("utf-8 path");
    let o = leasecheck(&[
        "check",
        "--spec",
        path.to_str().expect("utf-8 path"),
        "--candidates",
        "4",
        "--rounds",
        "4",
        "--zombie-rounds",
        "1",
        "--faults",
        "client-pause",
        "--fail-on",
        "safety",
        "--history",
        history,
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(report["fail_on"], "safety");
    assert_eq!(report["exit_code"], 0);
    let classes: Vec<&serde_json::Value> = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["findings"].as_array().into_iter().flatten())
        .map(|f| &f["class"])
        .collect();
    assert!(!classes.is_empty(), "the findings are still reported");
    assert!(classes.iter().all(|c| *c == "contract"), "{classes:?}");

    let offline = leasecheck(&["check-history", history]);
    assert_eq!(
        offline.status.code(),
        Some(1),
        "the default policy fails them"
    );
    let offline = leasecheck(&["check-history", history, "--fail-on", "safety"]);
    let text = String::from_utf8_lossy(&offline.stdout);
    assert_eq!(offline.status.code(), Some(0), "{text}");
    assert!(
        text.contains("of the lease's declared contract, reported and passed (--fail-on safety)"),
        "{text}"
    );
    assert!(text.contains("replay: "), "the replay is printed: {text}");

    let broken = leasecheck(&[
        "race",
        "--spec",
        "specs/broken/check-then-act.toml",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--fail-on",
        "safety",
    ]);
    assert_eq!(
        broken.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&broken.stdout)
    );
}
