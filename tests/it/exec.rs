//! `--exec`: a lease in any language, one adapter process per candidate.
//! The Python example (examples/python/) holds every property under every
//! fault applied to its real processes; each of its broken variants is
//! caught with the right property; an adapter that dies, falls mute or
//! writes a malformed line ends the run with exit 2 and says which one and
//! what it last wrote to stderr; and no adapter process outlives a run,
//! an interrupted one included.

use crate::support::leasecheck;
use leasecheck::adapter::{AdapterCommand, AdapterProcess, Candidacy};
use leasecheck::fault::ClientPause;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The project-local Python with psycopg (scripts/python-env.sh, which the
/// test command runs first). Missing is a failure, never a skip.
fn python() -> PathBuf {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/python-venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/python-env.sh (scripts/test.sh does) to install the Python \
         example's dependencies into the project-local virtual environment",
        py.display()
    );
    py
}

/// The `--exec` command of the Python example, with lease class `class`
/// (`None`: the correct one).
fn python_adapter(class: Option<&str>) -> String {
    let mut cmd = format!("{} examples/python/adapter.py", python().display());
    if let Some(class) = class {
        cmd.push(' ');
        cmd.push_str(class);
    }
    cmd
}

/// A marker no other run carries: set in leasecheck's environment, it is
/// inherited by every adapter process it starts.
fn marker() -> String {
    format!("exec-test-{}-{}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

const MARKER_ENV: &str = "LEASECHECK_EXEC_TEST_MARKER";

/// Processes whose environment carries `marker`.
fn carrying(marker: &str) -> Vec<i32> {
    let needle = format!("{MARKER_ENV}={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(environ) = std::fs::read(entry.path().join("environ")) {
            if environ
                .split(|b| *b == 0)
                .any(|var| var == needle.as_bytes())
            {
                found.push(pid);
            }
        }
    }
    found
}

/// Run leasecheck with `args`, marked; asserts that no process it started
/// with the marker is left once it exited.
fn run_marked(args: &[&str]) -> Output {
    run_marked_with(args, &[])
}

/// [`run_marked`], with `vars` added to leasecheck's environment (which
/// its adapters inherit).
fn run_marked_with(args: &[&str], vars: &[(&str, &std::ffi::OsStr)]) -> Output {
    let marker = marker();
    let out = Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(MARKER_ENV, &marker)
        .envs(vars.iter().copied())
        .output()
        .expect("run leasecheck");
    let left = carrying(&marker);
    assert!(
        left.is_empty(),
        "adapter processes outlived the run: {left:?}\n{}",
        text(&out)
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const SPEC: &str = "examples/python/lease.toml";

#[test]
fn the_python_example_holds_every_property_under_every_fault_on_its_own_processes() {
    let exec = python_adapter(None);
    let out = run_marked(&[
        "check", "--spec", SPEC, "--exec", &exec, "--ttl", "0.5", "--json",
    ]);
    let r = crate::support::json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let scenarios = r["scenarios"].as_array().expect("scenarios");
    for fault in leasecheck::fault::Fault::ALL {
        let name = format!("takeover/{fault}");
        let s = scenarios
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no {name} in {r}"));
        assert_eq!(s["status"], "passed", "{s}");
        // The deposed leader's own process learned it (P4 was judged, not
        // skipped): its renew after the stall said false. Under row-lock
        // that renew may come before the standby's win, legitimately.
        if fault != leasecheck::fault::Fault::RowLock {
            let learned = s["figures"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["name"] == "leader renew after stall")
                .unwrap_or_else(|| panic!("no leader renew figure in {s}"));
            assert_eq!(learned["value"], false, "{s}");
        }
    }
    for name in [
        "race",
        "release-and-non-holder",
        "conformance",
        "durability",
    ] {
        let s = scenarios
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {r}"));
        assert_eq!(s["status"], "passed", "{s}");
    }
    // The zombie needs the adapter's consumer (`act`), which protocol
    // version 1 does not have: n/a, saying so, never a pass.
    let zombie = scenarios
        .iter()
        .find(|s| s["name"] == "zombie/client-pause")
        .unwrap_or_else(|| panic!("no zombie in {r}"));
    assert_eq!(zombie["status"], "not_applicable", "{zombie}");
}

/// The broken variant `class` under `command` with `faults` (and `extra`
/// flags, a TTL of 0.5 s unless they set one): exit 1 with `property`
/// named, a timeline, the seed and the replay command.
fn caught(class: &str, command: &str, faults: &str, property: &str, extra: &[&str]) {
    let exec = python_adapter(Some(class));
    let mut args = vec![
        command,
        "--spec",
        SPEC,
        "--exec",
        &exec,
        "--faults",
        faults,
        "--candidates",
        "4",
        "--rounds",
        "4",
    ];
    if !extra.contains(&"--ttl") {
        args.extend_from_slice(&["--ttl", "0.5"]);
    }
    args.extend_from_slice(extra);
    let out = run_marked(&args);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains(&format!("VIOLATION {property}")), "{s}");
    assert!(
        s.contains("event      invoke    complete"),
        "no timeline: {s}"
    );
    assert!(
        s.contains("seed: ") && s.contains("replay: leasecheck"),
        "{s}"
    );
}

#[test]
fn python_retry_of_a_lost_acquire_is_caught_as_p1_under_connection_drop() {
    caught(
        "broken.retry_acquire:RetryingLease",
        "takeover",
        "connection-drop",
        "P1 exactly one winner",
        &[],
    );
}

#[test]
fn python_leader_flag_kept_when_renew_raises_is_caught_as_split_brain_under_crash_restart() {
    caught(
        "broken.sticky_leader:StickyLeaderLease",
        "takeover",
        "crash-restart",
        "P6 no overlapping tenure",
        // The leader renews (and, the server gone, believes it renewed)
        // until the restart begins; a standby wins once the server is
        // back. Renewing every 50 ms under a TTL of 1 s, its last
        // believed renew is still fresh then unless the restart took
        // over 800 ms.
        &["--ttl", "1", "--renew-interval", "50", "--trials", "1"],
    );
}

#[test]
fn an_exec_run_judged_again_offline_gives_the_online_verdict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let history = dir.path().join("run.jsonl");
    let history = history.to_str().expect("a UTF-8 path");
    let exec = python_adapter(Some("broken.retry_acquire:RetryingLease"));
    let online = run_marked(&[
        "takeover",
        "--spec",
        SPEC,
        "--exec",
        &exec,
        "--ttl",
        "0.5",
        "--faults",
        "connection-drop,client-pause",
        "--history",
        history,
    ]);
    assert_eq!(online.status.code(), Some(1), "{}", text(&online));
    let offline = leasecheck(&["check-history", history]);
    assert_eq!(offline.status.code(), Some(1), "{}", text(&offline));
    assert!(
        text(&offline).contains("VIOLATION P1 exactly one winner"),
        "{}",
        text(&offline)
    );
}

#[test]
fn python_holder_id_shared_by_processes_is_caught_by_the_non_holder_checks() {
    caught(
        "broken.shared_holder:SharedHolderLease",
        "check",
        "client-pause",
        "P5 release frees at once",
        &[],
    );
}

/// A race of three candidates whose adapter is the shell script `body`
/// (the protocol's hello is `HELLO`), with `extra` flags: it must end with
/// exit 2, and leave no process behind; what it printed.
fn race_exits_2(body: &str, extra: &[&str]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("adapter.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let exec = path.display().to_string();
    let mut args = vec![
        "race",
        "--spec",
        "specs/reference.toml",
        "--exec",
        &exec,
        "--candidates",
        "3",
        "--rounds",
        "2",
        "--ttl",
        "0.2",
    ];
    args.extend_from_slice(extra);
    let out = run_marked(&args);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(2), "{s}");
    assert!(!s.contains("panicked"), "{s}");
    s
}

const HELLO: &str =
    r#"echo '{"protocol":"leasecheck-adapter/1","ops":["try_acquire","renew","release"]}'"#;

#[test]
fn a_leader_whose_process_dies_mid_takeover_ends_the_run_with_exit_2_not_a_pass() {
    // The call that saw the death is recorded as an unknown outcome; the
    // scenario is an error all the same: P4 was never judged.
    let exec = python_adapter(Some("leader_dies:LeaderDiesOnFourthRenew"));
    let adapters = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/adapters");
    let out = run_marked_with(
        &[
            "takeover",
            "--spec",
            SPEC,
            "--exec",
            &exec,
            "--ttl",
            "0.5",
            "--faults",
            "client-pause",
        ],
        &[("PYTHONPATH", adapters.as_os_str())],
    );
    let s = text(&out);
    assert_eq!(out.status.code(), Some(2), "{s}");
    assert!(s.contains("the adapter of c0 exited with status 4"), "{s}");
    assert!(s.contains("| leader: giving up at renew 4"), "{s}");
}

#[test]
fn a_race_in_which_every_call_errs_judged_nothing_and_exits_2() {
    let s = race_exits_2(
        &format!(
            "{HELLO}\nwhile read request; do\n  id=$(echo \"$request\" | sed 's/.*\"id\":\\([0-9]*\\).*/\\1/')\n  \
             echo \"{{\\\"id\\\":$id,\\\"error\\\":\\\"relation lease_lock does not exist\\\"}}\"\ndone"
        ),
        &[],
    );
    assert!(s.contains("decide any round of the race"), "{s}");
}

#[test]
fn an_adapter_that_dies_ends_the_run_with_exit_2_naming_it_and_its_last_stderr_lines() {
    let s = race_exits_2(
        &format!(
            "{HELLO}\nread request\necho 'connecting to the lease service' >&2\n\
             echo 'fatal: the lease service is gone' >&2\nexit 3"
        ),
        &[],
    );
    assert!(s.contains("the adapter of c"), "names the candidate: {s}");
    assert!(s.contains("exited with status 3"), "{s}");
    assert!(
        s.contains("| connecting to the lease service")
            && s.contains("| fatal: the lease service is gone"),
        "its last stderr lines: {s}"
    );
}

#[test]
fn a_mute_adapter_ends_the_run_with_exit_2_once_its_answer_is_overdue() {
    let s = race_exits_2(
        &format!("{HELLO}\necho 'thinking...' >&2\nexec sleep 600"),
        &["--call-timeout", "1000"],
    );
    assert!(s.contains("did not answer within 1 s"), "{s}");
    assert!(
        s.contains(r#"its answer to {"id":1,"op":"try_acquire"}"#),
        "{s}"
    );
    assert!(s.contains("| thinking..."), "{s}");
}

#[test]
fn an_adapter_that_never_says_hello_is_refused_before_any_run() {
    let s = race_exits_2("exec sleep 600", &["--call-timeout", "1000"]);
    assert!(s.contains("the adapter of c0 did not answer"), "{s}");
    assert!(s.contains("its hello"), "{s}");
    assert!(!s.contains("race "), "no scenario ran: {s}");
}

#[test]
fn a_malformed_answer_is_quoted_and_ends_the_run_with_exit_2() {
    let s = race_exits_2(
        &format!("{HELLO}\nwhile read request; do echo '{{\"id\":1,\"okay\":true}}'; done"),
        &[],
    );
    assert!(
        s.contains(r#""{\"id\":1,\"okay\":true}""#),
        "the line, quoted: {s}"
    );
    assert!(s.contains("unknown field `okay`"), "{s}");
}

#[test]
fn a_hello_for_another_protocol_is_refused_saying_which_one() {
    let s = race_exits_2(
        r#"echo '{"protocol":"leasecheck-adapter/2","ops":["try_acquire","renew","release"]}'; exec sleep 600"#,
        &[],
    );
    assert!(s.contains("leasecheck-adapter/2"), "{s}");
}

#[test]
fn exec_without_a_spec_for_the_schema_is_refused() {
    let out = leasecheck(&["race", "--exec", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--spec"), "{}", text(&out));
}

/// `leasecheck COMMAND` on `spec` through the reference adapter of the
/// same spec, under `faults`: every property holds (exit 0).
fn reference_adapter_passes(command: &str, spec: &str, faults: &str) {
    let exec = format!("{} adapter --spec {spec}", env!("CARGO_BIN_EXE_leasecheck"));
    let out = run_marked(&[
        command,
        "--spec",
        spec,
        "--exec",
        &exec,
        "--ttl",
        "0.3",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--faults",
        faults,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn the_reference_adapter_passes_the_reference_spec_through_exec() {
    reference_adapter_passes(
        "check",
        "specs/reference.toml",
        "client-pause,backend-stall,connection-stall",
    );
}

#[test]
fn a_fenced_adapter_hands_its_epochs_to_the_harness() {
    // The reference adapter of the fenced spec: its hello says "epoch":
    // true, so every won try_acquire must answer with the tenure's epoch (an
    // answer without one would end the run with exit 2).
    reference_adapter_passes(
        "takeover",
        "specs/fenced.toml",
        "client-pause,connection-drop",
    );
}

#[test]
fn sigterm_during_a_run_kills_every_adapter_process() {
    let marker = marker();
    let exec = python_adapter(None);
    let child = Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args([
            "race", "--spec", SPEC, "--exec", &exec, "--ttl", "0.5", "--rounds", "100000",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(MARKER_ENV, &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run leasecheck");
    // Wait for the race's 32 adapters to be there (polling /proc: there is
    // no notification for another process's children).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while carrying(&marker).len() < 32 {
        assert!(
            std::time::Instant::now() < deadline,
            "the race's adapters never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let out = child.wait_with_output().expect("wait for leasecheck");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let left = carrying(&marker);
    assert!(left.is_empty(), "adapters outlived SIGTERM: {left:?}");
}

/// The state letter of `pid` in /proc.
fn state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let after = stat.rsplit_once(") ").expect("stat has a comm").1;
    after.chars().next().expect("a state")
}

#[test]
fn client_pause_stops_the_adapter_process_and_its_end_continues_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exec = dir.path().join("idle.sh");
    std::fs::write(&exec, format!("#!/bin/sh\n{HELLO}\nexec sleep 600\n")).expect("write");
    let exec = format!("sh {}", exec.display());
    let who = Candidacy {
        candidate: "c0".into(),
        database_url: "postgresql://unused".into(),
        app_name: "unused".into(),
        schema: leasecheck::Ident::new("unused").expect("ident"),
        ttl: leasecheck::Ttl::parse("1").expect("ttl"),
        holder: leasecheck::HolderId::new("h").expect("holder"),
        clock_offset_micros: 0,
        timeout: Duration::from_secs(10),
    };
    let process = AdapterProcess::start(
        &AdapterCommand::parse(&exec).expect("command"),
        &who,
        &leasecheck::adapter::Breakage::default(),
    )
    .expect("start");
    let pid = process.process_group();
    assert_ne!(state(pid), 'T');
    let pause = ClientPause::of(Some(pid)).expect("pause");
    assert_eq!(state(pid), 'T', "stopped while the pause lasts");
    drop(pause);
    // SIGCONT is delivered before kill returns for a stopped process.
    assert_ne!(state(pid), 'T', "continued when the pause ends");
    drop(process);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "killed and reaped when dropped"
    );
}

/// `characterize --exec` probes the adapter's own code: the Python example
/// has the reference's semantics, and the variant whose processes share a
/// holder id is unsafe (exit 1, the replay naming the adapter).
#[test]
fn characterize_probes_the_adapters_own_code() {
    let exec = python_adapter(None);
    let out = run_marked(&["characterize", "--spec", SPEC, "--exec", &exec]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(
        s.contains("already declares these semantics (reference)"),
        "{s}"
    );
    assert!(
        s.contains("then: leasecheck check --spec examples/python/lease.toml --exec"),
        "{s}"
    );
    let shared = python_adapter(Some("broken.shared_holder:SharedHolderLease"));
    let out = run_marked(&["characterize", "--spec", SPEC, "--exec", &shared]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("UNSAFE (P6 no overlapping tenure)"), "{s}");
    assert!(
        s.contains("replay: leasecheck characterize --spec examples/python/lease.toml --exec"),
        "{s}"
    );
}

/// A lease without renew (`renew = false` under `[semantics]`): the
/// reference adapter's hello leaves renew out, and leasecheck accepts it.
#[test]
fn an_adapter_of_a_lease_without_renew_may_leave_renew_out_of_its_hello() {
    let bin = env!("CARGO_BIN_EXE_leasecheck");
    let spec = "specs/real/hangfire-postgresql-lock.toml";
    let exec = format!("{bin} adapter --spec {spec}");
    let out = run_marked(&[
        "race",
        "--spec",
        spec,
        "--exec",
        &exec,
        "--candidates",
        "4",
        "--rounds",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A hello without renew for a spec that declares one is refused before
/// any run, saying how to mend it.
#[test]
fn a_hello_without_renew_for_a_lease_that_renews_is_refused_before_any_run() {
    let s = race_exits_2(
        r#"echo '{"protocol":"leasecheck-adapter/1","ops":["try_acquire","release"]}'; exec sleep 600"#,
        &[],
    );
    assert!(
        s.contains("does not list \"renew\", but the spec declares that the lease renews"),
        "{s}"
    );
    assert!(s.contains("declare renew = false under [semantics]"), "{s}");
}

/// `reproduce NAME --exec CMD` runs the entry's scenario against a lease's
/// own code: the entry's SQL behind the reference adapter shows the same
/// bug; a correct lease behind it (its own spec) passes.
#[test]
fn reproduce_with_exec_runs_the_entrys_scenario_against_the_adapter() {
    let bin = env!("CARGO_BIN_EXE_leasecheck");
    let entry = "renew-without-holder-check";
    let broken = format!("{bin} adapter --spec specs/broken/{entry}.toml");
    let out = run_marked(&["reproduce", entry, "--exec", &broken, "--seed", "3"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("VIOLATION P4"), "{s}");
    assert!(
        s.contains(&format!("replay: leasecheck reproduce {entry} --exec")),
        "{s}"
    );
    let correct = format!("{bin} adapter --spec specs/reference.toml");
    let out = run_marked(&[
        "reproduce",
        entry,
        "--exec",
        &correct,
        "--spec",
        "specs/reference.toml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
