//! What every integration test needs: a real Postgres and a schema of its own.

use leasecheck::database::Client;
use leasecheck::{HolderId, Lease, Postgres, Schema, TableName, Ttl};
use std::time::Duration;

/// A Postgres (from DATABASE_URL, a throwaway cluster, or a container) and a
/// fresh schema in it. Fields drop in order: the schema, then the server.
pub struct Db {
    pub schema: Schema,
    pub pg: Postgres,
    pub table: TableName,
}

/// Provision Postgres for one test, or fail the test loudly: never skip.
pub fn db() -> Db {
    let pg = match Postgres::provision() {
        Ok(pg) => pg,
        Err(e) => panic!("this test needs Postgres and none could be had:\n{e}"),
    };
    let client = pg.connect().expect("connect to the provisioned Postgres");
    let schema = Schema::create(client).expect("create the test's schema");
    let table = schema.table("lease_lock").expect("valid table name");
    let db = Db { schema, pg, table };
    db.lease("setup", 10.0)
        .ensure_table()
        .expect("create the lease table");
    db
}

impl Db {
    /// A lease on its own connection.
    pub fn lease(&self, holder: &str, ttl_secs: f64) -> Lease<'static> {
        Lease::connect(
            self.pg.url(),
            self.table.clone(),
            Ttl::from_secs_f64(ttl_secs).expect("valid TTL"),
            HolderId::new(holder).expect("valid holder"),
        )
        .expect("open a lease connection")
    }

    /// A new connection of the test's own.
    pub fn connect(&self) -> Client {
        self.pg.connect().expect("connect")
    }

    /// The harness's admin connection.
    pub fn admin(&mut self) -> &mut Client {
        self.schema.client()
    }

    /// Make the current tenure look older by `by` (simulated time, no sleeping).
    pub fn age(&mut self, by: Duration) {
        let sql = format!(
            "UPDATE {} SET acquired_at = acquired_at - make_interval(secs => $1)",
            self.table
        );
        let secs = by.as_secs_f64();
        self.admin().execute(&sql, &[&secs]).expect("age the lease");
    }

    /// Make the lease free.
    pub fn reset(&mut self) {
        let sql = format!("UPDATE {} SET leader = ''", self.table);
        self.admin().execute(&sql, &[]).expect("reset the lease");
    }

    /// The row as (leader, acquired_at in micros).
    pub fn row(&mut self) -> (String, i64) {
        let sql = format!(
            "SELECT leader, (extract(epoch FROM acquired_at) * 1000000)::int8 FROM {}",
            self.table
        );
        let row = self
            .admin()
            .query_one(&sql, &[])
            .expect("read the lease row");
        (row.get(0), row.get(1))
    }
}

/// Run the `leasecheck` binary from the crate's root (so `specs/...` resolve).
pub fn leasecheck(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run leasecheck")
}

/// What `--json` printed, parsed; a test fails showing both streams when it
/// is not JSON.
pub fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json must print JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}
