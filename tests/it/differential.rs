//! The differential test: the same random operations on the model and on the
//! Postgres lease must give the same outcome after every step.
//!
//! Time on Postgres moves forward by ageing the stored timestamp, never by
//! sleeping. The TTL is 2.5 s and time advances in whole seconds, so the
//! model's ages are whole seconds and never equal the TTL, while Postgres's
//! ages differ from them only by the milliseconds the test itself takes:
//! both sides always agree on which side of the TTL a tenure is.

use crate::support::db;
use leasecheck::model::{Candidate, Lease as Model, Op, Semantics, Span, Time};
use leasecheck::Lease;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use std::cell::RefCell;
use std::time::Duration;

const TTL_SECS: f64 = 2.5;
const CANDIDATES: u16 = 3;

#[derive(Clone, Debug)]
enum Step {
    Call(Candidate, Op),
    Advance(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..CANDIDATES, prop::sample::select(Op::ALL.to_vec()))
            .prop_map(|(c, op)| Step::Call(Candidate(c), op)),
        1 => (0u8..=3).prop_map(Step::Advance),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

#[test]
fn the_postgres_lease_and_the_model_agree_on_every_step() {
    let db = db();
    // c0 uses prepared statements, the others unnamed ones: both paths agree with the model.
    let leases: Vec<Lease<'static>> = (0..CANDIDATES)
        .map(|c| {
            db.lease(&Candidate(c).to_string(), TTL_SECS)
                .prepared(c == 0)
        })
        .collect();
    // The runner wants an `Fn`; the database and the leases are used one case at a time.
    let state = RefCell::new((db, leases));
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/it/proptest-regressions/differential.txt",
        ))),
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(step(), 1..40), |steps| {
        let mut state = state.borrow_mut();
        let (db, leases) = &mut *state;
        let sql = format!("UPDATE {} SET leader = '', acquired_at = now()", db.table);
        db.admin().execute(&sql, &[]).expect("reset");
        let mut model = Model::new(Span::from_micros((TTL_SECS * 1e6) as i64));
        let mut now = Time::from_micros(0);
        for (i, step) in steps.iter().enumerate() {
            match *step {
                Step::Advance(secs) => {
                    now = now + Span::from_secs(i64::from(secs));
                    db.age(Duration::from_secs(u64::from(secs)));
                }
                Step::Call(who, op) => {
                    let lease = &mut leases[usize::from(who.0)];
                    let real = match op {
                        Op::TryAcquire => lease.try_acquire(),
                        Op::Renew => lease.renew(),
                        Op::Release => lease.release(),
                    }
                    .expect("the lease call")
                    .is_some();
                    let expected = model.apply(who, op, now);
                    prop_assert_eq!(
                        real,
                        expected,
                        "step {}: {} {} returned {} on Postgres, the model says {}",
                        i,
                        who,
                        op,
                        real,
                        expected
                    );
                }
            }
            let leader = db.row().0;
            let modelled = model.leader().map(|c| c.to_string()).unwrap_or_default();
            prop_assert_eq!(&leader, &modelled, "after step {}: leader differs", i);
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("Postgres and the model diverge: {e}");
    }
}

/// The same with the fenced lease (P8): every outcome, the leader after every
/// step, and the epoch, which Postgres returns from each won `try_acquire`
/// and the model counts; renew and release on both sides carry the epoch of
/// the candidate's last won tenure. The table keeps its epoch from case to
/// case, so Postgres's epochs are the model's plus the epoch the case
/// started from.
#[test]
fn the_fenced_postgres_lease_and_the_model_agree_on_every_step_and_every_epoch() {
    use leasecheck::lease::FencedLease;
    use leasecheck::{HolderId, Ttl};
    let db = db();
    let table = db.schema.table("fenced_lock").expect("table name");
    let fenced = |c: u16| {
        FencedLease::connect(
            db.pg.url(),
            table.clone(),
            Ttl::from_secs_f64(TTL_SECS).expect("ttl"),
            HolderId::new(Candidate(c).to_string()).expect("holder"),
        )
        .expect("connect")
    };
    let mut leases: Vec<FencedLease> = (0..CANDIDATES).map(fenced).collect();
    leases[0].ensure_table().expect("create the fenced table");
    let row_sql = format!("SELECT leader, epoch FROM {table}");
    let reset_sql = format!("UPDATE {table} SET leader = '', acquired_at = now()");
    let age_sql =
        format!("UPDATE {table} SET acquired_at = acquired_at - make_interval(secs => $1)");
    let state = RefCell::new((db, leases));
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/it/proptest-regressions/differential-fenced.txt",
        ))),
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(step(), 1..40), |steps| {
        let mut state = state.borrow_mut();
        let (db, leases) = &mut *state;
        db.admin().execute(&reset_sql, &[]).expect("reset");
        let base: i64 = db.admin().query_one(&row_sql, &[]).expect("row").get(1);
        let base = u64::try_from(base).expect("epochs are not negative");
        let mut model = Model::new(Span::from_micros((TTL_SECS * 1e6) as i64));
        // the epoch each candidate carries, on the model's scale
        let mut carried: Vec<Option<u64>> = leases
            .iter()
            .map(|l| l.epoch().map(|e| e.saturating_sub(base)))
            .collect();
        let mut now = Time::from_micros(0);
        for (i, step) in steps.iter().enumerate() {
            match *step {
                Step::Advance(secs) => {
                    now = now + Span::from_secs(i64::from(secs));
                    let by = Duration::from_secs(u64::from(secs)).as_secs_f64();
                    db.admin().execute(&age_sql, &[&by]).expect("age");
                }
                Step::Call(who, op) => {
                    let c = usize::from(who.0);
                    let lease = &mut leases[c];
                    let (real, expected) = match op {
                        Op::TryAcquire => {
                            let real = lease.try_acquire().expect("try_acquire").map(|t| t.epoch);
                            let expected = model.try_acquire_fenced(who, now).map(|e| e + base);
                            if let Some(e) = expected {
                                carried[c] = Some(e - base);
                            }
                            prop_assert_eq!(
                                real,
                                expected,
                                "step {}: {} try_acquire epoch",
                                i,
                                who
                            );
                            (real.is_some(), expected.is_some())
                        }
                        Op::Renew => (
                            lease.renew().expect("renew").is_some(),
                            model.renew_fenced(who, carried[c], now),
                        ),
                        Op::Release => (
                            lease.release().expect("release").is_some(),
                            model.release_fenced(who, carried[c], now),
                        ),
                    };
                    prop_assert_eq!(
                        real,
                        expected,
                        "step {}: {} {} returned {} on Postgres, the model says {}",
                        i,
                        who,
                        op,
                        real,
                        expected
                    );
                }
            }
            let row = db.admin().query_one(&row_sql, &[]).expect("row");
            let (leader, epoch): (String, i64) = (row.get(0), row.get(1));
            let modelled = model.leader().map(|c| c.to_string()).unwrap_or_default();
            prop_assert_eq!(&leader, &modelled, "after step {}: leader differs", i);
            prop_assert_eq!(
                epoch as u64,
                model.epoch() + base,
                "after step {}: epoch differs",
                i
            );
        }
        Ok::<(), TestCaseError>(())
    });
    if let Err(e) = result {
        panic!("the fenced Postgres lease and the model diverge: {e}");
    }
}

/// The reference lease's SQL rewritten to follow `s`: what a lease with
/// those declared semantics looks like, one conditional statement per
/// operation on the reference's table.
fn spec_for(s: Semantics) -> String {
    let stale = if s.expiry {
        "acquired_at < now() - make_interval(secs => $2)"
    } else {
        "false"
    };
    let mut takes = format!("leader = '' OR {stale}");
    if s.reentrant_acquire {
        takes.push_str(" OR leader = $1");
    }
    let mut keeps = if s.stale_renew {
        "leader = $1".to_string()
    } else {
        format!("(leader = $1 AND NOT ({stale}))")
    };
    if s.renew_acquires {
        keeps.push_str(&format!(" OR leader = '' OR {stale}"));
    }
    // the holder that released is remembered in `former`; a repeat release
    // by it matches the free row and changes nothing
    // a release of a free or stale lease by anyone matches and changes nothing
    let frees = if s.repeat_release {
        "UPDATE lease_lock SET acquired_at = CASE WHEN leader = $1 THEN now() ELSE acquired_at END, \
         leader = '', former = $1 WHERE id = 1 AND (leader = $1 OR (leader = '' AND former = $1))"
            .to_string()
    } else if s.stale_release {
        format!(
            "UPDATE lease_lock SET acquired_at = CASE WHEN leader = $1 THEN now() ELSE acquired_at END, \
             leader = CASE WHEN leader = $1 THEN '' ELSE leader END \
             WHERE id = 1 AND (leader = $1 OR leader = '' OR {stale})"
        )
    } else {
        "UPDATE lease_lock SET leader = '', acquired_at = now() WHERE id = 1 AND leader = $1"
            .to_string()
    };
    let release = if s.idempotent_release {
        format!("WITH freed AS ({frees} RETURNING id) SELECT true")
    } else {
        format!("{frees} RETURNING id")
    };
    let renew = if s.renew {
        format!(
            "renew = \"UPDATE lease_lock SET leader = $1, acquired_at = now() WHERE id = 1 AND ({keeps}) RETURNING id\"\n"
        )
    } else {
        String::new()
    };
    format!(
        "name = \"generated\"\n\
         schema = \"\"\"\n\
         CREATE TABLE lease_lock (id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),\n\
           leader text NOT NULL DEFAULT '', acquired_at timestamptz NOT NULL DEFAULT now(),\n\
           former text NOT NULL DEFAULT '');\n\
         INSERT INTO lease_lock DEFAULT VALUES;\"\"\"\n\
         reset = \"UPDATE lease_lock SET leader = '', former = '', acquired_at = now()\"\n\
         age = \"UPDATE lease_lock SET acquired_at = acquired_at - make_interval(secs => $1)\"\n\
         try_acquire = \"UPDATE lease_lock SET leader = $1, acquired_at = now() WHERE id = 1 AND ({takes}) RETURNING id\"\n\
         {renew}\
         release = \"{release}\"\n\
         {}",
        s.declaration()
    )
}

/// Every combination of declared semantics, written as SQL that way
/// ([`spec_for`]) and run as a spec on Postgres, gives the outcome the
/// model with those semantics gives, on every step of random sequences.
#[test]
fn every_declared_semantics_written_as_sql_agrees_with_the_model_on_every_step() {
    use leasecheck::lease::SpecLease;
    use leasecheck::spec::Spec;
    use leasecheck::{HolderId, Schema, Ttl};
    use std::sync::Arc;
    let db = db();
    let per = (cases() / 16).max(4);
    for (k, semantics) in Semantics::all().into_iter().enumerate() {
        let spec = Arc::new(
            Spec::parse(&spec_for(semantics), "generated.toml")
                .unwrap_or_else(|e| panic!("{semantics}: {e}")),
        );
        assert_eq!(spec.semantics(), semantics);
        let mut schema = Schema::create(db.connect()).expect("schema");
        let name = schema.name().clone();
        spec.install(schema.client(), &name)
            .unwrap_or_else(|e| panic!("{semantics}: {e}"));
        let ttl = Ttl::from_secs_f64(TTL_SECS).expect("ttl");
        let leases: Vec<SpecLease> = (0..CANDIDATES)
            .map(|c| {
                let holder = HolderId::new(Candidate(c).to_string()).expect("holder");
                SpecLease::connect(db.pg.url(), &name, Arc::clone(&spec), ttl, holder)
                    .expect("connect")
            })
            .collect();
        let state = RefCell::new((schema, leases));
        let mut runner = TestRunner::new(Config {
            cases: per,
            failure_persistence: None,
            rng_seed: proptest::test_runner::RngSeed::Fixed(k as u64),
            ..Config::default()
        });
        let result = runner.run(&prop::collection::vec(step(), 1..30), |steps| {
            let mut state = state.borrow_mut();
            let (schema, leases) = &mut *state;
            spec.reset(schema.client(), &name).expect("reset");
            let mut model =
                Model::with_semantics(Span::from_micros((TTL_SECS * 1e6) as i64), semantics);
            let mut now = Time::from_micros(0);
            for (i, step) in steps.iter().enumerate() {
                match *step {
                    Step::Advance(secs) => {
                        now = now + Span::from_secs(i64::from(secs));
                        spec.age(schema.client(), &name, Duration::from_secs(u64::from(secs)))
                            .expect("age");
                    }
                    Step::Call(_, op) if !semantics.has(op) => {}
                    Step::Call(who, op) => {
                        let real = leases[usize::from(who.0)].call(op).expect("the lease call");
                        let expected = model.apply(who, op, now);
                        prop_assert_eq!(
                            real,
                            expected,
                            "{}: step {}: {} {} returned {} on Postgres, the model says {}",
                            semantics,
                            i,
                            who,
                            op,
                            real,
                            expected
                        );
                    }
                }
                let leader: String = schema
                    .client()
                    .query_one(&format!("SELECT leader FROM {name}.lease_lock"), &[])
                    .expect("row")
                    .get(0);
                let modelled = model.leader().map(|c| c.to_string()).unwrap_or_default();
                prop_assert_eq!(
                    &leader,
                    &modelled,
                    "{}: after step {}: leader differs",
                    semantics,
                    i
                );
            }
            Ok::<(), TestCaseError>(())
        });
        if let Err(e) = result {
            panic!("semantics {semantics}: Postgres and the model diverge: {e}");
        }
        let (schema, _) = state.into_inner();
        schema.drop_schema().expect("drop the schema");
    }
}
