//! Every call has a deadline (`--call-timeout`): a server that accepts and
//! never answers ends a run with exit 2 saying what hung, and a lease call
//! past its deadline is an unknown outcome the lease recovers from.

use crate::support::db;
use leasecheck::database::{is_deadline, set_call_timeout};
use leasecheck::fault::Proxy;
use leasecheck::{HolderId, Lease, Ttl};
use std::net::TcpListener;
use std::time::Duration;

/// A loopback server that accepts every connection and never says a word;
/// its connections stay open until the test process ends.
fn mute_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_server_that_accepts_and_never_answers_ends_the_run_with_exit_2_naming_it() {
    let port = mute_server();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let out = crate::support::leasecheck(&[
        "race",
        "--database-url",
        &url,
        "--call-timeout",
        "1000",
        "--no-progress",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(
        stderr.contains("no answer within 1 s (the call deadline, --call-timeout)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_lease_call_past_its_deadline_is_an_unknown_outcome_and_the_next_call_reconnects() {
    let db = db();
    let proxy = Proxy::in_front_of(&db.pg.config()).expect("a proxy in front of Postgres");
    let mut lease = Lease::connect_with(
        &proxy.config_for(&db.pg.config()),
        db.table.clone(),
        Ttl::from_secs_f64(30.0).expect("ttl"),
        HolderId::new("c0").expect("holder"),
    )
    .expect("a lease through the proxy");
    set_call_timeout(Duration::from_millis(500));
    assert!(lease.try_acquire().expect("acquire").is_some());
    let hold = proxy.hold_guard();
    let err = lease
        .renew()
        .expect_err("the proxy holds every byte: no answer");
    assert!(err.is_connection_loss(), "an unknown outcome: {err}");
    assert!(
        err.postgres_error().is_some_and(is_deadline),
        "given up at the deadline: {err}"
    );
    assert!(
        err.to_string().contains("no answer within 0.5 s"),
        "it says what hung: {err}"
    );
    drop(hold);
    // Whether the held renew landed or not, the lease is still c0's.
    assert!(lease
        .renew()
        .expect("renew on a fresh connection")
        .is_some());
}
