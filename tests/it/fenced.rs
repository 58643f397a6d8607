//! Fencing (P8) against real Postgres: the fenced lease's epochs, its
//! epoch-scoped renew and release, the protected resource's fence, and the
//! spec format's `epoch` contract.

use crate::support::db;
use leasecheck::lease::FencedLease;
use leasecheck::lease::SpecLease;
use leasecheck::model::Op;
use leasecheck::scenario::{Resource, Write};
use leasecheck::spec::{Spec, SpecError};
use leasecheck::{Contender, HolderId, Schema, TableName, Ttl};
use std::sync::Arc;
use std::time::Duration;

fn fenced(db: &crate::support::Db, table: &TableName, holder: &str) -> FencedLease {
    FencedLease::connect(
        db.pg.url(),
        table.clone(),
        Ttl::from_secs_f64(10.0).expect("ttl"),
        HolderId::new(holder).expect("holder"),
    )
    .expect("connect a fenced lease")
}

/// A fenced lease table `fenced_lock` in the test's schema, with its handles.
fn fenced_table(db: &mut crate::support::Db) -> TableName {
    let table = db.schema.table("fenced_lock").expect("name");
    fenced(db, &table, "setup").ensure_table().expect("create");
    table
}

fn age(db: &mut crate::support::Db, table: &TableName, by: Duration) {
    let sql = format!("UPDATE {table} SET acquired_at = acquired_at - make_interval(secs => $1)");
    db.admin().execute(&sql, &[&by.as_secs_f64()]).expect("age");
}

#[test]
fn fenced_lease_epoch_grows_by_one_per_new_tenure_and_never_on_renew_or_release() {
    let mut db = db();
    let table = fenced_table(&mut db);
    let (mut a, mut b) = (fenced(&db, &table, "a"), fenced(&db, &table, "b"));
    let first = a.try_acquire().unwrap().expect("free lease");
    assert_eq!(first.epoch, 1);
    assert_eq!(a.epoch(), Some(1));
    assert!(a.renew().unwrap().is_some());
    assert!(b.try_acquire().unwrap().is_none(), "fresh");
    assert_eq!(b.epoch(), None, "a failed acquire carries no epoch");
    // a stalls past the TTL: b takes over, one epoch up
    age(&mut db, &table, Duration::from_secs(11));
    assert_eq!(b.try_acquire().unwrap().expect("stale").epoch, 2);
    assert!(b.release().unwrap().is_some());
    // a takes the free lease: a new tenure, one more again
    assert_eq!(a.try_acquire().unwrap().expect("free").epoch, 3);
    // a retakes its own stale lease: also a new tenure
    age(&mut db, &table, Duration::from_secs(11));
    assert_eq!(a.try_acquire().unwrap().expect("stale").epoch, 4);
    for _ in 0..3 {
        assert!(a.renew().unwrap().is_some());
    }
    let epoch: i64 = db
        .admin()
        .query_one(&format!("SELECT epoch FROM {table}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(epoch, 4, "renews never move the epoch");
}

#[test]
fn fenced_lease_renew_and_release_are_scoped_to_the_holders_own_epoch() {
    let mut db = db();
    let table = fenced_table(&mut db);
    // Two handles with ONE holder id (two threads of one process, or the
    // shared-holder-id bug of oban-py #32): the reference lease would let
    // both renew; with epochs only the tenure's own handle can.
    let (mut first, mut second) = (fenced(&db, &table, "p"), fenced(&db, &table, "p"));
    assert_eq!(first.try_acquire().unwrap().expect("free").epoch, 1);
    age(&mut db, &table, Duration::from_secs(11));
    assert_eq!(second.try_acquire().unwrap().expect("stale").epoch, 2);
    assert!(first.renew().unwrap().is_none(), "epoch 1 is over");
    assert!(
        first.release().unwrap().is_none(),
        "epoch 1 cannot release epoch 2"
    );
    assert!(second.renew().unwrap().is_some());
    assert!(second.release().unwrap().is_some());
    // A handle that never won renews nothing, even with the right holder id.
    let mut third = fenced(&db, &table, "p");
    assert_eq!(third.try_acquire().unwrap().expect("free").epoch, 3);
    let mut stranger = fenced(&db, &table, "p");
    assert!(stranger.renew().unwrap().is_none(), "no epoch, no renew");
}

#[test]
fn fenced_resource_refuses_a_lower_epoch_in_the_same_statement_as_the_write() {
    let mut db = db();
    let resource = Resource::in_schema(db.schema.name());
    resource.install(db.admin(), 2).expect("install");
    let mut writer = db.connect();
    assert_eq!(
        resource.write(&mut writer, "c0", Some(1)).unwrap(),
        Write::Accepted(1)
    );
    assert_eq!(
        resource.write(&mut writer, "c1", Some(2)).unwrap(),
        Write::Accepted(2)
    );
    // the zombie of epoch 1 wakes: refused, and nothing changed
    assert_eq!(
        resource.write(&mut writer, "c0", Some(1)).unwrap(),
        Write::Refused
    );
    assert_eq!(
        resource.write(&mut writer, "c1", Some(2)).unwrap(),
        Write::Accepted(3)
    );
    let sql = format!(
        "SELECT seq, fence, writer FROM {}.\"zombie_resource\"",
        db.schema.name()
    );
    let row = db.admin().query_one(&sql, &[]).unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, String>(2)
        ),
        (3, 2, "c1".to_string())
    );
    // unfenced writes (a lease without epochs) are always accepted
    assert_eq!(
        resource.write(&mut writer, "c0", None).unwrap(),
        Write::Accepted(4)
    );
}

fn spec(text: &str) -> Result<Spec, SpecError> {
    Spec::parse(text, "inline.toml")
}

const FENCED: &str = include_str!("../../specs/fenced.toml");

#[test]
fn epoch_placeholder_without_epoch_true_is_rejected_naming_the_field() {
    let text = FENCED.replace("epoch = true\n", "");
    let err = spec(&text).unwrap_err().to_string();
    assert!(
        err.contains("field `renew` uses placeholder `$4`")
            && err.contains("only with `epoch = true`"),
        "{err}"
    );
    let err = spec(&FENCED.replace("epoch = true", "epoch = \"yes\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `epoch` must be true or false, found string"),
        "{err}"
    );
}

#[test]
fn epoch_spec_whose_try_acquire_returns_no_integer_is_rejected_at_install() {
    let db = db();
    let mut schema = Schema::create(db.pg.connect().unwrap()).expect("schema");
    let text = FENCED.replace("RETURNING epoch\"\"\"", "RETURNING leader\"\"\"");
    let s = spec(&text).expect("well-formed statically");
    let name = schema.name().clone();
    let err = s.install(schema.client(), &name).unwrap_err().to_string();
    assert!(
        err.contains("field `try_acquire`")
            && err.contains("must return the new tenure's epoch as its first column")
            && err.contains("returns text"),
        "{err}"
    );
}

#[test]
fn fenced_spec_lease_carries_the_epoch_try_acquire_returned_and_binds_it_as_4() {
    let db = db();
    let mut schema = Schema::create(db.pg.connect().unwrap()).expect("schema");
    let name = schema.name().clone();
    let s = Arc::new(spec(FENCED).expect("fenced.toml parses"));
    assert!(s.has_epoch());
    s.install(schema.client(), &name).expect("install");
    let ttl = Ttl::from_secs_f64(10.0).unwrap();
    let lease = |holder: &str| {
        SpecLease::connect(
            db.pg.url(),
            &name,
            s.clone(),
            ttl,
            HolderId::new(holder).unwrap(),
        )
        .expect("connect")
    };
    let (mut a, mut b) = (lease("a"), lease("b"));
    assert!(a.try_acquire().unwrap());
    assert_eq!(Contender::epoch(&a), Some(1));
    assert!(a.renew().unwrap(), "renew with $4 = 1");
    assert!(!b.renew().unwrap(), "b holds no epoch: $4 is NULL");
    s.age(schema.client(), &name, Duration::from_secs(11))
        .unwrap();
    assert!(b.try_acquire().unwrap());
    assert_eq!(b.epoch(), Some(2));
    assert!(!a.renew().unwrap(), "a's epoch 1 is over");
    assert!(!a.call(Op::Release).unwrap());
    assert!(b.release().unwrap());
}
