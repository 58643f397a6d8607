//! Zombie leaders (P8): a leader whose work outlasts its lease
//! writes after a standby took over and acted. Without fencing the stale
//! write is accepted and the checker shows it; with fencing it is refused,
//! under every fault, round after round.

use crate::support::leasecheck;
use leasecheck::fault::Fault;
use leasecheck::model::check::{check, check_actions, Property};
use leasecheck::scenario::zombie::{self, ZombieOptions, ZombieResult};
use leasecheck::{Postgres, Recorder, Subject, Ttl};
use std::process::Output;
use std::time::Duration;

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const TTL: f64 = 0.2;

fn options(rounds: usize) -> ZombieOptions {
    ZombieOptions {
        standbys: 2,
        rounds,
        renew_interval: Duration::from_millis(50),
        poll_interval: Duration::from_millis(20),
        stall: Duration::from_millis(600),
        slack: Duration::from_millis(250),
        warmup_ticks: 1,
        trust_margin: Duration::from_millis(20),
    }
}

/// One trial on a fresh subject; returns the runner's result and the
/// checker's verdict on the recorded actions.
fn run(
    pg: &Postgres,
    fenced: bool,
    fault: Fault,
    rounds: usize,
) -> (
    ZombieResult,
    leasecheck::model::check::ActionVerdict,
    Vec<leasecheck::model::recording::Finding>,
) {
    let ttl = Ttl::from_secs_f64(TTL).unwrap();
    let mut subject = if fenced {
        Subject::fenced(pg, ttl)
    } else {
        Subject::reference(pg, ttl)
    }
    .expect("install the lease");
    let rec = Recorder::new(ttl, true);
    let result = zombie::trial(pg, &mut subject, fault, &options(rounds), &rec)
        .unwrap_or_else(|e| panic!("{fault}: the trial could not run: {e}"));
    let history = rec.history().expect("every event recorded");
    let lease_verdict = check(&history);
    let lease_violations: Vec<_> = lease_verdict
        .violations
        .iter()
        .filter(|v| v.property != Property::P8FencingEpoch)
        .collect();
    assert!(
        lease_violations.is_empty() && lease_verdict.inconclusive.is_empty(),
        "{fault}: the lease itself must pass P6/P7: {lease_verdict:#?}"
    );
    subject.drop_schema().expect("drop the schema");
    (result, check_actions(&history), rec.findings())
}

#[test]
fn fencing_leaves_zero_stale_writes_over_many_rounds_under_every_fault_and_without_it_they_are_found(
) {
    const ROUNDS: usize = 6;
    let pg = Postgres::provision().expect("Postgres");
    for fault in Fault::STALLS {
        let (r, actions, findings) = run(&pg, true, fault, ROUNDS);
        assert!(findings.is_empty(), "fenced {fault}: {findings:#?}");
        assert_eq!(r.staged, ROUNDS, "fenced {fault}: every round staged");
        if fault == Fault::DatabasePause {
            // Everyone stalls: whether a standby wins before the leader's
            // next renew is a race the model allows either way. Whenever one
            // did (it acted first), the leader must learn; a renew that
            // returned true after a takeover is a P4 finding, asserted above.
            assert!(
                r.learned >= r.taken_over,
                "fenced {fault}: the leader learns (P4) after every takeover: {r:#?}"
            );
        } else {
            assert_eq!(r.learned, ROUNDS, "fenced {fault}: the leader learns (P4)");
        }
        assert!(
            actions.stale.is_empty() && actions.violations.is_empty(),
            "fenced {fault}: {actions:#?}"
        );
        if fault == Fault::DatabasePause {
            // A round where the leader renewed before any standby won has
            // one tenure, not two (the race above).
            assert!(
                (ROUNDS + r.taken_over..=2 * ROUNDS).contains(&r.epochs.len()),
                "fenced {fault}: a leader per round and a standby per takeover: {r:#?}"
            );
        } else {
            assert_eq!(
                r.epochs.len(),
                2 * ROUNDS,
                "fenced {fault}: a leader and a standby per round"
            );
        }
        assert!(
            r.epochs.windows(2).all(|w| w[1] == w[0] + 1),
            "fenced {fault}: epochs grow by one per tenure: {:?}",
            r.epochs
        );
        if fault != Fault::DatabasePause {
            // the new leader wrote first: every stalled write was refused
            assert_eq!(
                (r.taken_over, r.refused, r.accepted),
                (ROUNDS, ROUNDS, 0),
                "fenced {fault}"
            );
        }
    }
    // The same rounds on the reference lease: the stalled leader's write is
    // accepted after the new leader's, every round, and the checker blames it.
    for fault in [
        Fault::ClientPause,
        Fault::ConnectionStall,
        Fault::BackendStall,
        Fault::RowLock,
    ] {
        let (r, actions, findings) = run(&pg, false, fault, 3);
        assert!(findings.is_empty(), "unfenced {fault}: {findings:#?}");
        assert_eq!((r.taken_over, r.accepted), (3, 3), "unfenced {fault}");
        assert_eq!(actions.stale.len(), 3, "unfenced {fault}: {actions:#?}");
        assert!(actions
            .violations
            .iter()
            .any(|v| v.message.contains("acted at once")));
    }
}

#[test]
fn the_trust_window_alone_still_loses_to_a_pause_between_check_and_write() {
    // The leader checks its trust window right before its work (it passed:
    // the round is staged only then), a client pause outlasts the lease, and
    // the write that follows is accepted after the new leader's.
    let pg = Postgres::provision().expect("Postgres");
    let (r, actions, _) = run(&pg, false, Fault::ClientPause, 1);
    assert_eq!(r.staged, 1, "the trust check passed before the pause");
    assert_eq!((r.taken_over, r.accepted), (1, 1), "{r:#?}");
    assert_eq!(actions.stale.len(), 1, "{actions:#?}");
    assert!(
        actions.violations[0]
            .message
            .contains("was accepted after its tenure had ended"),
        "{actions:#?}"
    );
}

#[test]
fn zombie_on_the_reference_lease_shows_the_stale_write_with_a_timeline_and_exits_1() {
    let o = leasecheck(&[
        "zombie",
        "--faults",
        "client-pause",
        "--zombie-rounds",
        "2",
        "--seed",
        "5",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL zombie/client-pause"), "{out}");
    assert!(
        out.contains("VIOLATION P8 fencing epoch (safety) in zombie/client-pause")
            && out.contains("was accepted after its tenure had ended")
            && out.contains("acted at once"),
        "{out}"
    );
    // the timeline: the takeover, the new leader's write, the stale write
    // while a standby holds the lease, and the renew where c0 learns
    assert!(out.contains("try_acquire          ok"), "{out}");
    let stale = out
        .lines()
        .find(|l| l.contains(" c0 ") && l.contains("act seq=") && l.contains(" ok "))
        .unwrap_or_else(|| panic!("no row of c0's write: {out}"));
    let holder = stale.split_whitespace().last().unwrap_or_default();
    assert!(
        holder != "c0" && holder.starts_with('c'),
        "the stale write happens under the new holder: {stale}"
    );
    assert!(out.contains("renew                fail"), "{out}");
    assert!(
        out.contains("seed: 5")
            && out.contains(
                "replay: leasecheck zombie --faults client-pause --zombie-rounds 2 --seed 5"
            ),
        "{out}"
    );
}

#[test]
fn zombie_on_the_fenced_lease_refuses_every_stale_write_and_exits_0() {
    let o = leasecheck(&["zombie", "--fenced", "--seed", "5"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for fault in Fault::STALLS {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("zombie/{fault} ")))
            .unwrap_or_else(|| panic!("no line for {fault}: {out}"));
        assert!(
            line.contains("ok ") && line.contains("stale writes 0"),
            "{line}"
        );
        if fault != Fault::DatabasePause {
            assert!(line.contains("stalled writes refused 3/3"), "{line}");
        }
    }
}

#[test]
fn zombie_with_the_fenced_spec_file_exits_0_directly_and_through_pgbouncer() {
    for via in ["direct", "pgbouncer"] {
        let o = leasecheck(&[
            "zombie",
            "--spec",
            "specs/fenced.toml",
            "--ttl",
            "0.2",
            "--faults",
            "client-pause,connection-stall,row-lock",
            "--via",
            via,
            "--seed",
            "6",
        ]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "{via}: {out}");
        assert_eq!(
            out.matches("stalled writes refused 3/3").count(),
            3,
            "{via}: {out}"
        );
    }
}

#[test]
fn check_reports_the_reference_leases_zombie_as_informational_and_still_exits_0() {
    let o = leasecheck(&[
        "check",
        "--faults",
        "client-pause",
        "--candidates",
        "4",
        "--rounds",
        "5",
        "--zombie-rounds",
        "2",
        "--seed",
        "7",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("zombie/client-pause"))
        .unwrap_or_else(|| panic!("check runs the zombie scenario: {out}"));
    assert!(
        line.contains("ok ") && line.contains("stale writes 2 (no fencing: informational)"),
        "{line}"
    );
    assert!(!out.contains("VIOLATION"), "{out}");
}

#[test]
fn zombie_history_fails_the_offline_checker_and_the_fenced_one_passes() {
    let dir = tempfile::tempdir().unwrap();
    for (fenced, expected) in [(false, 1), (true, 0)] {
        let path = dir.path().join(format!("zombie-{fenced}.jsonl"));
        let path = path.to_str().unwrap();
        let mut args = vec![
            "zombie",
            "--faults",
            "client-pause",
            "--zombie-rounds",
            "1",
            "--history",
            path,
            "--seed",
            "8",
        ];
        if fenced {
            args.push("--fenced");
        }
        let o = leasecheck(&args);
        assert_eq!(o.status.code(), Some(expected), "{}", text(&o));
        let written = std::fs::read_to_string(path).unwrap();
        assert!(written.contains("\"call\":\"action\""), "{written}");
        let o = leasecheck(&["check-history", path]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(expected), "fenced {fenced}: {out}");
        if !fenced {
            assert!(out.contains("VIOLATION P8 fencing epoch"), "{out}");
        }
    }
}

#[test]
fn a_zombie_trial_that_stages_no_zombie_says_why_and_never_passes() {
    // A trial that staged its zombie checked P8: nothing to say.
    let pg = Postgres::provision().expect("Postgres");
    let ttl = Ttl::from_secs_f64(TTL).unwrap();
    let mut subject = Subject::reference(&pg, ttl).expect("install the lease");
    let rec = Recorder::new(ttl, true);
    let r = zombie::trial(&pg, &mut subject, Fault::ClientPause, &options(1), &rec)
        .unwrap_or_else(|e| panic!("the trial could not run: {e}"));
    subject.drop_schema().expect("drop the schema");
    assert_eq!((r.staged, r.unchecked()), (1, None), "{r:#?}");

    // One that staged none (its leader's trust window ran out every round,
    // say, on a machine too slow for the TTL) checked nothing of P8, and
    // says why.
    let none = ZombieResult {
        staged: 0,
        not_staged: Some("the leader's trust window had run out when it checked".into()),
        ..r
    };
    let why = none
        .unchecked()
        .expect("a trial that staged nothing says so");
    assert!(why.contains("nothing of P8 was checked"), "{why}");
    assert!(why.contains("trust window had run out"), "{why}");

    // Judged as the battery and check-history judge it: an error with that
    // reason (exit 2), never a pass...
    let mut section = leasecheck::model::recording::Section::new(
        leasecheck::model::recording::SectionHeader {
            scenario: "zombie/client-pause".into(),
            ..Default::default()
        },
        rec.history().expect("every event recorded"),
    );
    let judged = leasecheck::verdict::judge(&section);
    assert_eq!(
        judged.status,
        leasecheck::report::Status::Violated,
        "the stale write"
    );
    let first = section.history.events.iter().position(|e| {
        e.call
            == leasecheck::model::history::Call::Lease {
                op: leasecheck::model::Op::TryAcquire,
            }
    });
    // keep the calls up to the leader's first acquire: a history that passes
    section
        .history
        .events
        .truncate(first.expect("the leader's acquire") + 1);
    assert_eq!(
        leasecheck::verdict::judge(&section).status,
        leasecheck::report::Status::Passed
    );
    section.unchecked = Some(why.clone());
    assert_eq!(
        leasecheck::verdict::judge(&section).status,
        leasecheck::report::Status::Error(why)
    );

    // ...but a violation its events show still stands (exit 1, not 2):
    // a second candidate's acquire of the fresh lease
    let mut second = *section.history.events.last().unwrap();
    second.candidate = leasecheck::model::Candidate(9);
    second.invoke = leasecheck::model::Time(second.complete.0 + 1_000);
    second.complete = leasecheck::model::Time(second.complete.0 + 2_000);
    second.server_time = None;
    section.history.events.push(second);
    assert_eq!(
        leasecheck::verdict::judge(&section).status,
        leasecheck::report::Status::Violated
    );
}
