//! The reference lease against real Postgres: the reference implementation's own suite.

use crate::support::db;
use leasecheck::{HolderId, Lease, LeaseError, Ttl};
use std::sync::{Arc, Barrier};
use std::time::Duration;

const TTL: f64 = 10.0;
/// Ageing by this much makes a TTL-old tenure strictly stale.
const PAST_TTL: Duration = Duration::from_secs(11);

#[test]
fn concurrent_try_acquire_on_a_free_lease_has_exactly_one_winner() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 40;
    let mut db = db();
    let mut leases: Vec<Lease<'static>> = (0..THREADS)
        .map(|i| db.lease(&format!("candidate-{i}"), TTL))
        .collect();
    for round in 0..ROUNDS {
        // Alternate a free lease and a stale one held by somebody else.
        if round % 2 == 0 {
            db.reset();
        } else {
            db.age(PAST_TTL);
        }
        let barrier = Arc::new(Barrier::new(THREADS));
        let winners: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = leases
                .iter_mut()
                .map(|lease| {
                    let barrier = Arc::clone(&barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let won = lease.try_acquire().expect("try_acquire");
                        won.map(|_| lease.holder().to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("candidate thread"))
                .collect()
        });
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(
            db.row().0,
            winners[0],
            "round {round}: the row names the winner"
        );
    }
}

#[test]
fn a_standby_cannot_take_a_fresh_lease_but_takes_over_once_it_expires() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let mut standby = db.lease("standby", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    assert!(standby.try_acquire().unwrap().is_none(), "fresh lease");
    db.age(Duration::from_secs(9));
    assert!(standby.try_acquire().unwrap().is_none(), "9s old of 10s");
    db.age(Duration::from_secs(2));
    assert!(standby.try_acquire().unwrap().is_some(), "11s old: stale");
    assert_eq!(db.row().0, "standby");
}

#[test]
fn renew_returns_false_after_a_standby_took_over_a_stale_lease() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let mut standby = db.lease("standby", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    db.age(PAST_TTL);
    assert!(standby.try_acquire().unwrap().is_some());
    assert!(
        leader.renew().unwrap().is_none(),
        "deposed leader must learn"
    );
    assert_eq!(db.row().0, "standby");
}

#[test]
fn a_stale_holder_that_was_not_taken_over_renews_successfully() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    db.age(PAST_TTL);
    assert!(leader.renew().unwrap().is_some());
    let mut standby = db.lease("standby", TTL);
    assert!(
        standby.try_acquire().unwrap().is_none(),
        "renewed: fresh again"
    );
}

#[test]
fn release_frees_the_lease_at_once() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let mut next = db.lease("next", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    assert!(leader.release().unwrap().is_some());
    assert_eq!(db.row().0, "");
    assert!(
        next.try_acquire().unwrap().is_some(),
        "no waiting for the TTL"
    );
}

#[test]
fn renew_and_release_by_a_non_holder_change_nothing() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let mut other = db.lease("other", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    let before = db.row();
    assert!(other.renew().unwrap().is_none());
    assert!(other.release().unwrap().is_none());
    assert_eq!(db.row(), before, "row untouched, timestamp included");
}

#[test]
fn reacquire_by_the_holder_of_a_fresh_lease_fails_but_of_a_stale_one_succeeds() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    assert!(leader.try_acquire().unwrap().is_some());
    assert!(leader.try_acquire().unwrap().is_none(), "not re-entrant");
    db.age(PAST_TTL);
    assert!(leader.try_acquire().unwrap().is_some(), "own stale lease");
}

#[test]
fn release_after_a_takeover_is_a_no_op() {
    let mut db = db();
    let mut old = db.lease("old", TTL);
    let mut new = db.lease("new", TTL);
    assert!(old.try_acquire().unwrap().is_some());
    db.age(PAST_TTL);
    assert!(new.try_acquire().unwrap().is_some());
    let before = db.row();
    assert!(old.release().unwrap().is_none());
    assert_eq!(db.row(), before, "the new leader keeps the lease");
}

#[test]
fn each_operation_returns_the_server_time_it_wrote() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL);
    let acquired = leader.try_acquire().unwrap().expect("won");
    assert_eq!(db.row().1, acquired.as_micros());
    let renewed = leader.renew().unwrap().expect("renewed");
    assert_eq!(db.row().1, renewed.as_micros());
    assert!(renewed >= acquired);
    let released = leader.release().unwrap().expect("released");
    assert_eq!(db.row(), (String::new(), released.as_micros()));
}

#[test]
fn the_single_row_constraint_rejects_a_second_row() {
    let mut db = db();
    let sql = format!(
        "INSERT INTO {} (id, leader) VALUES (2, 'intruder')",
        db.table
    );
    let err = db.admin().execute(&sql, &[]).expect_err("a second row");
    let code = err.code().expect("a server error");
    assert_eq!(code, &postgres::error::SqlState::CHECK_VIOLATION, "{err}");
    let sql = format!("INSERT INTO {} (leader) VALUES ('intruder')", db.table);
    let err = db
        .admin()
        .execute(&sql, &[])
        .expect_err("a duplicate default row");
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
    );
}

#[test]
fn table_setup_is_idempotent_and_restores_a_missing_seed_row() {
    let mut db = db();
    let mut lease = db.lease("leader", TTL);
    lease.ensure_table().unwrap();
    lease.ensure_table().unwrap();
    let sql = format!("DELETE FROM {}", db.table);
    db.admin().execute(&sql, &[]).unwrap();
    assert!(
        lease.try_acquire().unwrap().is_none(),
        "no row: nobody can lead"
    );
    lease.ensure_table().unwrap();
    assert!(
        lease.try_acquire().unwrap().is_some(),
        "the seed row is back"
    );
}

#[test]
fn an_owned_connection_recovers_after_its_backend_is_killed() {
    let mut db = db();
    let mut lease = db.lease("leader", TTL);
    let pid: i32 = lease
        .client()
        .expect("open")
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let killed: bool = db
        .admin()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let err = lease.try_acquire().expect_err("the backend is gone");
    assert!(
        matches!(
            err,
            LeaseError::Statement {
                what: "try_acquire",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        lease.client().is_none(),
        "the broken connection was discarded"
    );
    assert!(
        lease.try_acquire().unwrap().is_some(),
        "a new connection serves the next call"
    );
    let new_pid: i32 = lease
        .client()
        .expect("reopened")
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert_ne!(new_pid, pid);
}

#[test]
fn an_injected_connection_is_never_replaced() {
    let mut db = db();
    let mut client = db.connect();
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    {
        let mut lease = Lease::with_client(
            &mut client,
            db.table.clone(),
            Ttl::from_secs_f64(TTL).unwrap(),
            HolderId::new("leader").unwrap(),
        );
        assert!(lease.try_acquire().unwrap().is_some());
    }
    let _: bool = db
        .admin()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    let mut lease = Lease::with_client(
        &mut client,
        db.table.clone(),
        Ttl::from_secs_f64(TTL).unwrap(),
        HolderId::new("leader").unwrap(),
    );
    assert!(lease.renew().is_err());
    assert!(
        lease.renew().is_err(),
        "still the caller's broken connection"
    );
    drop(lease);
    assert!(
        client.is_closed(),
        "the caller's own connection, not a new one"
    );
}

#[test]
fn an_unreachable_database_is_a_clear_connect_error() {
    let err = match Lease::connect(
        "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2",
        leasecheck::TableName::new("lease_lock").unwrap(),
        Ttl::from_secs_f64(TTL).unwrap(),
        HolderId::new("x").unwrap(),
    ) {
        Ok(_) => panic!("port 1 has no Postgres"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("127.0.0.1:1"), "{err}");
}

#[test]
fn a_sql_error_names_the_operation_and_quotes_postgres() {
    let mut db = db();
    let mut lease = db.lease("leader", TTL);
    let sql = format!("DROP TABLE {}", db.table);
    db.admin().batch_execute(&sql).unwrap();
    let err = lease.try_acquire().expect_err("no table");
    let text = err.to_string();
    assert!(text.contains("try_acquire"), "{text}");
    assert!(
        text.contains("does not exist"),
        "Postgres's own message: {text}"
    );
}

#[test]
fn a_prepared_lease_keeps_the_semantics_and_prepares_again_on_a_new_connection() {
    let mut db = db();
    let mut leader = db.lease("leader", TTL).prepared(true);
    let mut other = db.lease("other", TTL).prepared(true);
    assert!(leader.try_acquire().unwrap().is_some());
    assert!(other.try_acquire().unwrap().is_none());
    assert!(other.renew().unwrap().is_none());
    assert!(leader.renew().unwrap().is_some());
    let pid = leader.backend_pid().unwrap();
    let _: bool = db
        .admin()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(leader.renew().is_err(), "the backend is gone");
    assert!(
        leader.renew().unwrap().is_some(),
        "the reopened connection has its own prepared statements"
    );
    assert!(leader.release().unwrap().is_some());
    assert!(other.try_acquire().unwrap().is_some());
}
