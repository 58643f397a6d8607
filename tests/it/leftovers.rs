//! Nothing leasecheck starts outlives it, even a `SIGKILL`: its cluster,
//! its PgBouncer and its adapter processes die, and their directories are
//! removed, by the watchdog (`leasecheck::process::watchdog`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MARKER_ENV: &str = "LEASECHECK_LEFTOVER_TEST_MARKER";

/// A live process (not a zombie waiting for a reaper).
struct Proc {
    pid: i32,
    ppid: i32,
    cmdline: String,
    environ: Vec<u8>,
}

fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((_, after)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = after.split(' ').collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        let ppid = fields.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let cmdline = std::fs::read(entry.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        out.push(Proc {
            pid,
            ppid,
            cmdline,
            environ,
        });
    }
    out
}

fn carries(p: &Proc, marker: &str) -> bool {
    let needle = format!("{MARKER_ENV}={marker}");
    p.environ
        .split(|b| *b == 0)
        .any(|var| var == needle.as_bytes())
}

/// Poll `/proc` until `done` holds (there is no notification for another
/// process's exit), for at most a minute.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sigkill_of_leasecheck_leaves_no_server_pooler_adapter_or_directory() {
    let marker = format!("leftovers-{}", std::process::id());
    let bin = env!("CARGO_BIN_EXE_leasecheck");
    let adapter = format!("{bin} adapter --spec specs/reference.toml");
    let mut child = Command::new(bin)
        .args([
            "race",
            "--spec",
            "specs/reference.toml",
            "--exec",
            &adapter,
            "--via",
            "pgbouncer",
            "--candidates",
            "2",
            "--rounds",
            "100000000",
            "--no-progress",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(MARKER_ENV, &marker)
        // its own cluster, whatever this test was given
        .env("LEASECHECK_POSTGRES", "local")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run leasecheck");
    let leasecheck = child.id() as i32;
    // The run is under way once its adapters race through PgBouncer.
    let mut started = Vec::new();
    wait_until("the cluster, PgBouncer and both adapters run", || {
        started = processes()
            .into_iter()
            .filter(|p| carries(p, &marker) && p.pid != leasecheck)
            .collect();
        let count = |needle: &str| {
            started
                .iter()
                .filter(|p| p.cmdline.contains(needle))
                .count()
        };
        count("postgres -D") == 1 && count("pgbouncer") == 1 && count(" adapter --spec") == 2
    });
    let postmaster = started
        .iter()
        .find(|p| p.cmdline.contains("postgres -D"))
        .expect("the postmaster");
    let data = postmaster
        .cmdline
        .split(' ')
        .skip_while(|a| *a != "-D")
        .nth(1)
        .map(PathBuf::from)
        .expect("the data directory on its command line");
    let cluster_dir = data
        .parent()
        .expect("the cluster's directory")
        .to_path_buf();
    let pooler = started
        .iter()
        .find(|p| p.cmdline.contains("pgbouncer"))
        .expect("PgBouncer");
    let pooler_dir = PathBuf::from(
        pooler
            .cmdline
            .split(' ')
            .find(|a| a.ends_with("pgbouncer.ini"))
            .expect("its ini on its command line"),
    )
    .parent()
    .expect("its directory")
    .to_path_buf();
    // Every process of the run: the marked ones and the postmaster's
    // children (which rewrite their environment for their titles).
    let postmaster_pid = postmaster.pid;
    let mut ours: Vec<i32> = started.iter().map(|p| p.pid).collect();
    ours.extend(
        processes()
            .iter()
            .filter(|p| p.ppid == postmaster_pid)
            .map(|p| p.pid),
    );
    assert!(cluster_dir.is_dir() && pooler_dir.is_dir());

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(leasecheck),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL leasecheck");
    child.wait().expect("reap leasecheck");

    wait_until("every process of the run is gone", || {
        let live: Vec<i32> = processes().iter().map(|p| p.pid).collect();
        ours.iter().all(|pid| !live.contains(pid))
    });
    wait_until("their directories are removed", || {
        !cluster_dir.exists() && !pooler_dir.exists()
    });
    let marked: Vec<String> = processes()
        .into_iter()
        .filter(|p| carries(p, &marker))
        .map(|p| p.cmdline)
        .collect();
    assert!(marked.is_empty(), "outlived leasecheck: {marked:?}");
}
