//! `characterize`, paste, `check`: a fixpoint. For every lease in
//! `specs/real/`, the `[semantics]` table that `leasecheck characterize`
//! proposes, pasted into the file as its output says, gives a `check` with
//! no contract finding in the scenarios made of single calls from a reset
//! (`release-and-non-holder`, and `conformance`'s sequential calls): what
//! characterize observed, the declaration says, and check judges by it.
//!
//! A lease that characterize finds UNSAFE gets no table (no declaration
//! makes it safe); its check must then exit 1 with a safety violation.

use crate::support::leasecheck;
use std::path::{Path, PathBuf};

/// The scenarios whose calls are single calls, one at a time.
const SINGLE_CALLS: [&str; 2] = ["release-and-non-holder", "conformance"];

/// Every spec file of `specs/real/`, sorted.
fn real_leases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/real");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read specs/real")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The table characterize printed to paste, if it printed one.
fn proposed(stdout: &str) -> Option<String> {
    let start = stdout.find("\n[semantics]\n")? + 1;
    let table: Vec<&str> = stdout[start..]
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect();
    Some(table.join("\n") + "\n")
}

/// `text` with its `[semantics]` table (the last table of every file in
/// `specs/real/`) replaced by `table`, as the user pastes it.
fn pasted(text: &str, table: &str) -> String {
    let body = match text.find("\n[semantics]") {
        Some(cut) => &text[..cut + 1],
        None => text,
    };
    format!("{body}\n{table}")
}

/// What went wrong for one lease, or `None` when its fixpoint holds.
fn fixpoint(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_string_lossy().to_string();
    let path = file.to_str().expect("utf-8 path");
    let o = leasecheck(&["characterize", "--spec", path]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let code = o.status.code();
    if code != Some(0) && code != Some(1) {
        return Some(format!(
            "{name}: characterize exited {code:?}:\n{out}{}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let unsafe_lease = code == Some(1);
    if unsafe_lease != out.contains("UNSAFE") {
        return Some(format!(
            "{name}: exit {code:?} and its words disagree:\n{out}"
        ));
    }
    let text = std::fs::read_to_string(file).expect("read the spec");
    let dir = tempfile::tempdir().expect("temp dir");
    let checked = dir.path().join(&name);
    let spec = match proposed(&out) {
        Some(table) if !unsafe_lease => pasted(&text, &table),
        Some(_) => return Some(format!("{name}: UNSAFE, yet a table to paste:\n{out}")),
        None if unsafe_lease || out.contains("already declares these semantics") => text,
        None => return Some(format!("{name}: no table and no verdict:\n{out}")),
    };
    std::fs::write(&checked, spec).expect("write the pasted spec");
    let o = leasecheck(&[
        "check",
        "--spec",
        checked.to_str().expect("utf-8 path"),
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
        "--seed",
        "11",
        "--json",
        "--no-progress",
    ]);
    let report: serde_json::Value = match serde_json::from_slice(&o.stdout) {
        Ok(r) => r,
        Err(e) => {
            return Some(format!(
                "{name}: check --json printed no JSON ({e}):\n{}",
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    };
    let scenarios = report["scenarios"].as_array().cloned().unwrap_or_default();
    let single: Vec<&serde_json::Value> = scenarios
        .iter()
        .filter(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| SINGLE_CALLS.contains(&n))
        })
        .collect();
    if single.len() != SINGLE_CALLS.len() {
        return Some(format!(
            "{name}: check ran {} of the single-call scenarios:\n{report:#}",
            single.len()
        ));
    }
    let safety = scenarios
        .iter()
        .flat_map(|s| s["findings"].as_array().cloned().unwrap_or_default())
        .any(|f| f["class"] == "safety");
    if unsafe_lease {
        // no table was printed: the split brain is what check must show
        return (o.status.code() != Some(1) || !safety).then(|| {
            format!(
                "{name}: characterize found it UNSAFE, but check exited {:?} without a safety \
                 violation:\n{report:#}",
                o.status.code()
            )
        });
    }
    let contract: Vec<String> = single
        .iter()
        .flat_map(|s| s["findings"].as_array().cloned().unwrap_or_default())
        .filter(|f| f["class"] == "contract")
        .map(|f| format!("{} {}", f["property"], f["message"]))
        .collect();
    if !contract.is_empty() {
        return Some(format!(
            "{name}: characterize, paste, check gives contract findings from single calls:\n  {}\n\
             characterize printed:\n{out}",
            contract.join("\n  ")
        ));
    }
    None
}

/// At least 16 real leases, each checked on two threads at a time (most of
/// a check is waiting out TTLs).
#[test]
fn every_real_lease_characterized_and_pasted_gives_a_check_without_contract_findings_from_single_calls(
) {
    let files = real_leases();
    let queue = std::sync::Mutex::new(files.iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(file) = queue.lock().expect("queue").next() else {
                    break;
                };
                if let Some(why) = fixpoint(file) {
                    failures.lock().expect("failures").push(why);
                }
            });
        }
    });
    let failures = failures.into_inner().expect("failures");
    assert!(
        failures.is_empty(),
        "{} of {} leases are not a fixpoint:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
    assert!(
        files.len() >= 16,
        "specs/real/ holds {} leases, the fixpoint is asserted for at least 16",
        files.len()
    );
}

/// ShedLock 7's unlock is scoped to `locked_by` and leaves the holder's
/// name in the row: a release that reports its update count succeeds again
/// for the holder that released, and fails for anyone else. characterize
/// proposes `repeat_release = true`, and check then passes what it failed
/// before (P7 on the second release).
#[test]
fn a_release_that_succeeds_again_only_for_the_holder_that_released_is_declarable() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/real/shedlock-db-time.toml"),
    )
    .expect("read the spec");
    // the unlock's update count, as a caller that looks at it sees it
    let start = text.find("release = \"\"\"").expect("a release");
    let end = start + text[start..].find("SELECT true\"\"\"").expect("its end") + 14;
    let counted = format!(
        "{}release = \"\"\"\nUPDATE shedlock SET lock_until = timezone('utc', CURRENT_TIMESTAMP)\n \
         WHERE name = 'leasecheck' AND locked_by = $1\nRETURNING name\"\"\"{}",
        &text[..start],
        &text[end..]
    );
    let body = &counted[..counted.find("\n[semantics]").expect("a table") + 1];
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("shedlock-counted.toml");
    std::fs::write(&file, format!("{body}\n[semantics]\nstale_renew = false\n")).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let o = leasecheck(&["characterize", "--spec", path]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("a second release of a lease already released")
            && out.contains("-> repeat_release = true"),
        "{out}"
    );
    let table = proposed(&out).expect("a table to paste");
    assert!(table.contains("repeat_release = true\n"), "{table}");
    assert!(table.contains("idempotent_release = false\n"), "{table}");
    assert!(!out.contains("no declaration says that"), "{out}");
    let before = fixpoint(&file);
    assert!(before.is_none(), "{}", before.unwrap_or_default());
    // without the declaration, the repeat release is a contract finding
    let o = leasecheck(&[
        "check",
        "--spec",
        path,
        "--candidates",
        "2",
        "--rounds",
        "2",
        "--trials",
        "1",
        "--zombie-rounds",
        "1",
        "--faults",
        "client-pause",
        "--json",
        "--no-progress",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report = crate::support::json(&o);
    let repeat_named = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["findings"].as_array().into_iter().flatten())
        .any(|f| {
            f["class"] == "contract"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("a second release"))
        });
    assert!(repeat_named, "{report:#}");
}

/// ZITADEL's unlock is its lock upsert with a zero duration (`WHERE
/// locker_id = $1 OR locked_until < now()`): counted, it succeeds for the
/// holder, and for anyone on a free or expired lock, but not for a stranger
/// on a fresh one. characterize proposes `stale_release = true`, and the
/// pasted table's check has no contract finding from single calls.
#[test]
fn a_release_that_also_matches_an_expired_lock_is_declarable() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/real/zitadel-projection-lock.toml"),
    )
    .expect("read the spec");
    let counted = text
        .replacen(
            "release = \"\"\"\nWITH unlocked AS (\n",
            "release = \"\"\"\n",
            1,
        )
        .replacen(
            "  RETURNING 1)\nSELECT true\"\"\"",
            "  RETURNING true\"\"\"",
            1,
        );
    assert_ne!(counted, text, "the release statement was found");
    let body = &counted[..counted.find("\n[semantics]").expect("a table") + 1];
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("zitadel-counted.toml");
    std::fs::write(
        &file,
        format!("{body}\n[semantics]\nreentrant_acquire = true\nrenew_acquires = true\n"),
    )
    .expect("write");
    let o = leasecheck(&["characterize", "--spec", file.to_str().expect("utf-8 path")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let table = proposed(&out).expect("a table to paste");
    assert!(table.contains("stale_release = true\n"), "{out}");
    assert!(table.contains("repeat_release = false\n"), "{table}");
    assert!(table.contains("idempotent_release = false\n"), "{table}");
    assert!(!out.contains("note:"), "{out}");
    let fixed = fixpoint(&file);
    assert!(fixed.is_none(), "{}", fixed.unwrap_or_default());
}

#[test]
fn a_pasted_table_replaces_the_files_own() {
    let text = "name = \"x\"\nrelease = \"y\"\n\n[semantics]\nexpiry = false\n";
    let out = "blah\n\n[semantics]\nexpiry = true\nrenew = true\n\nthen: leasecheck check\n";
    let table = proposed(out).expect("a table");
    assert_eq!(table, "[semantics]\nexpiry = true\nrenew = true\n");
    assert_eq!(
        pasted(text, &table),
        "name = \"x\"\nrelease = \"y\"\n\n\n[semantics]\nexpiry = true\nrenew = true\n"
    );
}
