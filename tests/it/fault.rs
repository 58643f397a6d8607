//! Faults that stall a leader: each stalls what it
//! should while applied, and is always undone, by its guard's drop too.
//!
//! "Does not complete while the fault is applied" is shown by a call on its
//! own thread whose result has not arrived after a bounded wait; every guard
//! is created inside the thread scope so that a failing assertion drops it
//! (undoing the fault) before the scope joins the stalled call.

use crate::support::{db, Db};
use leasecheck::fault::Proxy;
use leasecheck::fault::{BackendKill, BackendStall, DatabasePause, Fault, FaultError, RowLock};
use leasecheck::{HolderId, Lease, Source, Ttl};
use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::Scope;
use std::time::Duration;

const TTL: f64 = 10.0;
/// Ageing by this much makes a TTL-old tenure strictly stale.
const PAST_TTL: Duration = Duration::from_secs(11);
/// How long a stalled call is watched to show that it has not completed.
const STILL_PENDING: Duration = Duration::from_millis(300);
/// Bound on a call that must complete once the fault is undone.
const COMPLETES: Duration = Duration::from_secs(30);

/// A lease for `holder` connecting to `url` (e.g. through a proxy).
fn lease_at(db: &Db, config: &postgres::Config, holder: &str) -> Lease<'static> {
    Lease::connect_with(
        config,
        db.table.clone(),
        Ttl::from_secs_f64(TTL).expect("valid TTL"),
        HolderId::new(holder).expect("valid holder"),
    )
    .expect("open a lease connection")
}

/// Run `f` on a thread of the scope; its result arrives on the receiver.
fn call_in<'scope, T: Send + 'scope>(
    s: &'scope Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Receiver<T> {
    let (tx, rx) = mpsc::channel();
    s.spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

#[track_caller]
fn assert_pending<T: Debug>(call: &Receiver<T>, what: &str) {
    match call.recv_timeout(STILL_PENDING) {
        Err(RecvTimeoutError::Timeout) => {}
        Ok(result) => panic!("{what} completed while the fault was applied: {result:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what}: its thread died"),
    }
}

#[track_caller]
fn completed<T>(call: &Receiver<T>, what: &str) -> T {
    call.recv_timeout(COMPLETES)
        .unwrap_or_else(|e| panic!("{what} did not complete within {COMPLETES:?} of the undo: {e}"))
}

/// The state letter of a process (`T` = stopped), from `/proc/<pid>/stat`.
fn process_state(pid: i32) -> char {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/<pid>/stat");
    let rest = &text[text.rfind(')').expect("stat has (comm)") + 1..];
    rest.trim_start().chars().next().expect("a state letter")
}

fn backend_pid(client: &mut leasecheck::database::Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .expect("SELECT pg_backend_pid()")
        .get(0)
}

// --- names and applicability ---------------------------------------------

#[test]
fn every_fault_has_a_kebab_case_name_that_parses_back_and_a_description() {
    let names: Vec<String> = Fault::ALL.iter().map(|f| f.to_string()).collect();
    assert_eq!(
        names,
        [
            "client-pause",
            "connection-stall",
            "backend-stall",
            "row-lock",
            "database-pause",
            "connection-drop",
            "crash-restart",
            "failover",
            "backend-kill"
        ]
    );
    for fault in Fault::ALL {
        assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        assert!(!fault.description().is_empty());
    }
    for bad in [
        "",
        "BackendStall",
        "backend_stall",
        "Backend-Stall",
        "gc-pause",
    ] {
        let err = bad.parse::<Fault>().expect_err(bad);
        assert!(err.to_string().contains("database-pause"), "{err}");
    }
}

#[test]
fn applicability_follows_where_the_server_runs() {
    let db = db();
    let pg = &db.pg;
    assert_eq!(Fault::ClientPause.applicable(pg), Ok(()));
    assert_eq!(Fault::RowLock.applicable(pg), Ok(()));
    assert_eq!(
        Fault::ConnectionStall.applicable(pg),
        Ok(()),
        "the URL is TCP"
    );
    assert_eq!(
        Fault::ConnectionDrop.applicable(pg),
        Ok(()),
        "the URL is TCP"
    );
    let backend = Fault::BackendStall.applicable(pg);
    let pause = Fault::DatabasePause.applicable(pg);
    let ours = [Fault::CrashRestart, Fault::Failover].map(|f| f.applicable(pg));
    match pg.source() {
        Source::Local => {
            assert_eq!(backend, Ok(()));
            assert_eq!(pause, Ok(()));
            assert_eq!(ours, [Ok(()), Ok(())]);
        }
        Source::Container => {
            let why = backend.expect_err("a container's backend pids are not this host's");
            assert!(why.contains("container"), "{why}");
            assert_eq!(pause, Ok(()), "docker pause");
            for why in ours {
                let why = why.expect_err("leasecheck crashes only a cluster it runs");
                assert!(why.contains("container"), "{why}");
            }
        }
        Source::Url => {
            for why in [
                backend.expect_err("not our server"),
                pause.expect_err("not our server"),
            ]
            .into_iter()
            .chain(ours.map(|why| why.expect_err("not our server")))
            {
                assert!(why.contains("DATABASE_URL"), "{why}");
            }
        }
    }
}

// --- connection stall ----------------------------------------------------

#[test]
fn a_lease_through_an_unheld_proxy_behaves_like_a_direct_connection() {
    let mut db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let url = proxy.config_for(&db.pg.config());
    let mut leader = lease_at(&db, &url, "leader");
    assert_eq!(
        proxy.open_connections(),
        1,
        "the lease connects through the proxy"
    );
    assert!(leader.try_acquire().unwrap().is_some());
    assert_eq!(db.row().0, "leader");
    assert!(leader.renew().unwrap().is_some());
    // Holding is idempotent, and so is releasing; a released proxy forwards.
    proxy.hold();
    proxy.hold();
    assert!(proxy.is_held());
    proxy.release();
    proxy.release();
    assert!(!proxy.is_held());
    assert!(leader.release().unwrap().is_some());
    assert_eq!(db.row().0, "", "released through the proxy");
    assert!(leader.try_acquire().unwrap().is_some());
}

#[test]
fn a_renew_held_by_the_proxy_reaches_the_server_only_after_release_and_learns_it_was_deposed() {
    let mut db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let url = proxy.config_for(&db.pg.config());
    let mut leader = lease_at(&db, &url, "leader");
    let mut standby = db.lease("standby", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    let before = db.row();
    std::thread::scope(|s| {
        let hold = proxy.hold_guard();
        // Sent in time, while the lease is fresh.
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the held renew");
        assert_eq!(db.row(), before, "the held renew reached the server");
        db.age(PAST_TTL);
        assert!(
            standby.try_acquire().unwrap().is_some(),
            "the standby takes over the stalled leader's lease"
        );
        drop(hold);
        let renewed = completed(&renew, "the released renew").expect("renew");
        assert!(
            renewed.is_none(),
            "the deposed leader must learn it lost the lease"
        );
    });
    assert_eq!(db.row().0, "standby");
}

#[test]
fn dropping_a_hold_guard_while_unwinding_from_a_panic_releases_the_connection() {
    let db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let url = proxy.config_for(&db.pg.config());
    let mut leader = lease_at(&db, &url, "leader");
    assert!(leader.try_acquire().unwrap().is_some());
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let leader = &mut leader;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _hold = proxy.hold_guard();
            let renew = call_in(s, move || leader.renew());
            assert_pending(&renew, "the held renew");
            tx.send(renew).expect("hand the call out");
            panic!("a failure while the connection is held");
        }));
        assert!(outcome.is_err(), "the closure panicked");
        assert!(
            !proxy.is_held(),
            "the guard released the proxy while unwinding"
        );
        let renew = rx.recv().expect("the pending call");
        let renewed = completed(&renew, "the renew").expect("renew");
        assert!(renewed.is_some(), "the leader is still the leader");
    });
}

#[test]
fn closing_a_held_proxy_fails_the_stalled_call_instead_of_leaving_it_hanging() {
    let db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("start the proxy");
    let url = proxy.config_for(&db.pg.config());
    let mut leader = lease_at(&db, &url, "leader");
    assert!(leader.try_acquire().unwrap().is_some());
    std::thread::scope(|s| {
        proxy.hold();
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the held renew");
        proxy.close();
        let err = completed(&renew, "the renew").expect_err("the connection was shut down");
        assert!(err.is_connection_loss(), "{err}");
    });
}

#[test]
fn config_for_points_any_connection_settings_at_the_proxy_and_keeps_the_rest() {
    // The upstream is never contacted: no client connects.
    let proxy = Proxy::start("127.0.0.1:9".parse().unwrap()).expect("start the proxy");
    let port = proxy.addr().port();
    let cases = [
        "postgres://app:s%40cret@db.internal:5432,db2:5433/app?sslmode=disable&host=/tmp&port=1&application_name=x&connect_timeout=7",
        "postgresql:///app?host=%2Fvar%2Frun%2Fpostgresql",
        "postgres://[::1]:5432",
        "host=db.internal port = 5432 user=app password='a b\\' c' hostaddr=10.0.0.1 dbname=app options='-c x=1'",
        "dbname=app",
    ];
    for given in cases {
        let before: postgres::Config = given.parse().unwrap_or_else(|e| panic!("{given}: {e}"));
        let after = proxy.config_for(&before);
        assert_eq!(
            after.get_hosts(),
            [postgres::config::Host::Tcp("127.0.0.1".into())],
            "{given}"
        );
        assert!(after.get_hostaddrs().is_empty(), "{given}");
        assert_eq!(after.get_ports(), [port], "{given}");
        assert_eq!(after.get_user(), before.get_user(), "{given}");
        assert_eq!(after.get_password(), before.get_password(), "{given}");
        assert_eq!(after.get_dbname(), before.get_dbname(), "{given}");
        assert_eq!(after.get_options(), before.get_options(), "{given}");
        assert_eq!(
            after.get_application_name(),
            before.get_application_name(),
            "{given}"
        );
        assert_eq!(
            after.get_connect_timeout(),
            before.get_connect_timeout(),
            "{given}"
        );
        assert_eq!(after.get_ssl_mode(), before.get_ssl_mode(), "{given}");
    }
}

// --- backend stall -------------------------------------------------------

#[test]
fn sigstop_of_the_leaders_backend_stalls_its_renew_until_the_guard_continues_it() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    if let Err(why) = Fault::BackendStall.applicable(&db.pg) {
        assert!(
            db.pg.postmaster_pid().is_none(),
            "a local cluster must allow it: {why}"
        );
        let client = leader.client().expect("open connection");
        let err = BackendStall::stop_backend_of(client, &db.pg).expect_err("not applicable");
        assert!(matches!(err, FaultError::NotApplicable { .. }), "{err}");
        return;
    }
    assert!(leader.try_acquire().unwrap().is_some());
    let before = db.row();
    std::thread::scope(|s| {
        let client = leader.client().expect("open connection");
        let stall = BackendStall::stop_backend_of(client, &db.pg).expect("stop the backend");
        let pid = stall.pid();
        assert_eq!(process_state(pid), 'T', "the backend is stopped");
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the renew on the stopped backend");
        assert_eq!(
            db.row(),
            before,
            "other sessions work; the stopped backend wrote nothing"
        );
        drop(stall);
        assert_ne!(
            process_state(pid),
            'T',
            "the guard's drop continued the backend"
        );
        let renewed = completed(&renew, "the renew").expect("renew");
        assert!(renewed.is_some(), "nobody took over: the renew succeeds");
    });
}

#[test]
fn an_undone_backend_stall_leaves_the_backend_serving() {
    let db = db();
    if Fault::BackendStall.applicable(&db.pg).is_err() {
        return; // reported by the test above
    }
    let mut client = db.connect();
    let before = backend_pid(&mut client);
    let stall = BackendStall::stop_backend_of(&mut client, &db.pg).expect("stop the backend");
    assert_eq!(stall.pid(), before, "the connection's own backend");
    stall.undo().expect("SIGCONT");
    assert_ne!(process_state(before), 'T', "continued");
    std::thread::scope(|s| {
        let query = call_in(s, || backend_pid(&mut client));
        assert_eq!(
            completed(&query, "a query after the undo"),
            before,
            "the same backend serves"
        );
    });
}

#[test]
fn backend_stall_refuses_pids_that_are_not_backends_and_signals_nothing() {
    let db = db();
    for pid in [0, -1, i32::MIN] {
        let err = BackendStall::stop(pid).expect_err("not a process id");
        assert!(
            matches!(err, FaultError::WrongProcess { .. }),
            "{pid}: {err}"
        );
    }
    let mut sleeper = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let pid = i32::try_from(sleeper.id()).unwrap();
    let err = BackendStall::stop(pid).expect_err("sleep is not postgres");
    assert!(matches!(err, FaultError::WrongProcess { .. }), "{err}");
    assert_ne!(process_state(pid), 'T', "nothing was signalled");
    sleeper.kill().expect("kill sleep");
    let _ = sleeper.wait();
    if let Some(postmaster) = db.pg.postmaster_pid() {
        let postmaster = i32::try_from(postmaster).unwrap();
        let err = BackendStall::stop(postmaster).expect_err("the postmaster is not a backend");
        assert!(matches!(err, FaultError::WrongProcess { .. }), "{err}");
        assert_ne!(
            process_state(postmaster),
            'T',
            "the postmaster was not signalled"
        );
    }
}

// --- row lock ------------------------------------------------------------

// --- backend kill ------------------------------------------------------------

/// Whether the server has a backend with this pid.
fn backend_exists(db: &mut Db, pid: i32) -> bool {
    db.admin()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .expect("read pg_stat_activity")
        .get::<_, i64>(0)
        == 1
}

#[test]
fn a_backend_kill_ends_the_leaders_session_its_advisory_lock_and_its_next_call_but_not_its_row() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    let client = leader.client().expect("open connection");
    let pid = backend_pid(client);
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock(4243, 1)", &[])
        .expect("take a session advisory lock")
        .get(0);
    assert!(locked);
    let row = db.row();
    let kill = BackendKill::terminate(db.admin(), pid).expect("terminate the leader's backend");
    assert_eq!(kill.pid(), pid);
    assert!(!backend_exists(&mut db, pid), "the backend is gone");
    let mut other = db.connect();
    let taken: bool = other
        .query_one("SELECT pg_try_advisory_lock(4243, 1)", &[])
        .expect("try the advisory lock from another session")
        .get(0);
    assert!(taken, "the killed session's advisory lock went with it");
    let err = leader
        .renew()
        .expect_err("the next call fails on the closed connection");
    assert!(err.is_connection_loss(), "{err}");
    assert_eq!(db.row(), row, "a lease kept in a row outlives the session");
    assert!(
        leader.renew().expect("renew on a new connection").is_some(),
        "the leader's row lease is still its own"
    );
}

#[test]
fn backend_kill_refuses_the_harness_own_session_and_pids_that_are_not_client_backends() {
    let mut db = db();
    let own = backend_pid(db.admin());
    for (pid, why) in [
        (own, "harness's own session"),
        (0, "no backend"),
        (i32::MAX, "no backend"),
    ] {
        let err = BackendKill::terminate(db.admin(), pid).expect_err("refused");
        assert!(
            matches!(err, FaultError::WrongProcess { .. }) && err.to_string().contains(why),
            "pid {pid}: {err}"
        );
    }
    let background: Option<i32> = db
        .admin()
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type <> 'client backend' LIMIT 1",
            &[],
        )
        .expect("read pg_stat_activity")
        .map(|r| r.get(0));
    if let Some(pid) = background {
        let err = BackendKill::terminate(db.admin(), pid).expect_err("refused");
        assert!(err.to_string().contains("not a client backend"), "{err}");
        assert!(
            backend_exists(&mut db, pid),
            "a server process is never terminated"
        );
    }
    assert!(
        backend_exists(&mut db, own),
        "the harness's session still works"
    );
}

#[test]
fn a_row_lock_blocks_the_leaders_renew_but_not_a_standby_polling_the_fresh_lease() {
    let db = db();
    let mut leader = db.lease("leader", TTL);
    let mut standby = db.lease("standby", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    std::thread::scope(|s| {
        let lock = RowLock::hold(db.connect(), &db.table).expect("lock the row");
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the leader's renew behind the row lock");
        // The standby's UPDATE matches no row (the lease is fresh), so it
        // waits for no lock: it is answered while the row is still locked.
        let acquire = call_in(s, || standby.try_acquire());
        let acquired =
            completed(&acquire, "the standby's acquire of a fresh lease").expect("try_acquire");
        assert!(acquired.is_none(), "the lease is fresh");
        assert_pending(&renew, "the leader's renew behind the row lock");
        lock.undo().expect("ROLLBACK");
        let renewed = completed(&renew, "the renew").expect("renew");
        assert!(renewed.is_some(), "the leader keeps the lease");
    });
}

#[test]
fn a_row_lock_holds_back_a_takeover_of_a_stale_lease_and_after_the_undo_exactly_one_wins() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let mut standby = db.lease("standby", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    db.age(PAST_TTL);
    let (renewed, acquired) = std::thread::scope(|s| {
        let lock = RowLock::hold(db.connect(), &db.table).expect("lock the row");
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the stale leader's renew behind the row lock");
        let acquire = call_in(s, || standby.try_acquire());
        assert_pending(
            &acquire,
            "the takeover of the stale lease behind the row lock",
        );
        lock.undo().expect("ROLLBACK");
        (
            completed(&renew, "the renew").expect("renew").is_some(),
            completed(&acquire, "the acquire")
                .expect("try_acquire")
                .is_some(),
        )
    });
    assert!(
        renewed != acquired,
        "exactly one wins: renewed {renewed}, acquired {acquired}"
    );
    let want = if renewed { "leader" } else { "standby" };
    assert_eq!(db.row().0, want);
}

#[test]
fn dropping_a_row_lock_releases_the_row() {
    let db = db();
    let mut leader = db.lease("leader", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    std::thread::scope(|s| {
        let lock = RowLock::hold(db.connect(), &db.table).expect("lock the row");
        let renew = call_in(s, || leader.renew());
        assert_pending(&renew, "the renew behind the row lock");
        drop(lock);
        assert!(completed(&renew, "the renew").expect("renew").is_some());
    });
}

#[test]
fn a_row_lock_on_a_table_without_its_seed_row_is_an_error_not_a_silent_no_op() {
    let mut db = db();
    let delete = format!("DELETE FROM {}", db.table);
    db.admin()
        .execute(&delete, &[])
        .expect("delete the seed row");
    let err = RowLock::hold(db.connect(), &db.table).expect_err("nothing to lock");
    assert!(matches!(err, FaultError::RowMissing { .. }), "{err}");
    assert_eq!(err.fault(), Fault::RowLock);
}

// --- database pause ------------------------------------------------------

#[test]
fn pausing_the_database_stalls_a_query_on_an_existing_connection_until_the_guard_resumes_it() {
    let db = db();
    if let Err(why) = Fault::DatabasePause.applicable(&db.pg) {
        assert_eq!(
            db.pg.source(),
            Source::Url,
            "only a DATABASE_URL server cannot be paused: {why}"
        );
        let err = DatabasePause::of(&db.pg).expect_err("not applicable");
        assert!(matches!(err, FaultError::NotApplicable { .. }), "{err}");
        return;
    }
    let mut client = db.connect();
    let backend = backend_pid(&mut client);
    std::thread::scope(|s| {
        let pause = DatabasePause::of(&db.pg).expect("pause the database");
        let stopped = pause.stopped_pids().to_vec();
        if let Some(postmaster) = db.pg.postmaster_pid() {
            assert_eq!(
                stopped.first().copied(),
                i32::try_from(postmaster).ok(),
                "postmaster first"
            );
            assert!(
                stopped.contains(&backend),
                "the client's backend is stopped too"
            );
            for &pid in &stopped {
                // 'Z': a worker that exited just before its stopped parent could reap it.
                let state = process_state(pid);
                assert!(
                    matches!(state, 'T' | 'Z'),
                    "cluster process {pid} is not stopped: {state}"
                );
            }
        }
        let query = call_in(s, || {
            client
                .query_one("SELECT 41 + 1", &[])
                .map(|r| r.get::<_, i32>(0))
        });
        assert_pending(&query, "a query on the paused database");
        drop(pause);
        for &pid in &stopped {
            if std::path::Path::new(&format!("/proc/{pid}")).exists() {
                assert_ne!(
                    process_state(pid),
                    'T',
                    "cluster process {pid} was continued"
                );
            }
        }
        assert_eq!(completed(&query, "the query").expect("query"), 42);
    });
}

#[test]
fn an_undone_database_pause_accepts_new_connections_again() {
    let db = db();
    if Fault::DatabasePause.applicable(&db.pg).is_err() {
        return; // reported by the test above
    }
    let pause = DatabasePause::of(&db.pg).expect("pause the database");
    pause.undo().expect("resume the database");
    let mut lease = db.lease("after-the-pause", TTL);
    assert!(lease.try_acquire().unwrap().is_some());
}
