//! Provisioning: every source works, and what leasecheck starts it stops.

use leasecheck::database::DEFAULT_IMAGE;
use leasecheck::{HolderId, Lease, Postgres, Source, TableName, Ttl};

fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

fn serves_a_lease(pg: &Postgres) {
    let schema = leasecheck::Schema::create(pg.connect().expect("connect")).expect("schema");
    let mut lease = Lease::connect(
        pg.url(),
        schema.table("lease_lock").unwrap(),
        Ttl::from_secs_f64(5.0).unwrap(),
        HolderId::new("probe").unwrap(),
    )
    .expect("lease connection");
    lease.ensure_table().expect("table");
    assert!(lease.try_acquire().expect("try_acquire").is_some());
    drop(lease);
    schema.drop_schema().expect("drop schema");
}

#[test]
fn a_throwaway_cluster_serves_a_lease_and_is_gone_after_drop() {
    let pg = Postgres::start_local().expect("local binaries");
    assert_eq!(pg.source(), Source::Local);
    let pid = pg.postmaster_pid().expect("we run it");
    serves_a_lease(&pg);
    let url = pg.url().to_string();
    pg.stop().expect("clean stop");
    assert!(!alive(pid), "postmaster {pid} still running");
    assert!(postgres::Client::connect(&url, postgres::NoTls).is_err());
}

#[test]
fn a_throwaway_cluster_is_torn_down_when_a_test_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let pg = Postgres::start_local().expect("local binaries");
        tx.send((pg.postmaster_pid().expect("ours"), pg.url().to_string()))
            .unwrap();
        panic!("a failing check");
    });
    assert!(result.is_err());
    let (pid, url) = rx.recv().expect("the cluster started");
    assert!(!alive(pid), "postmaster {pid} survived the panic");
    assert!(postgres::Client::connect(&url, postgres::NoTls).is_err());
}

#[test]
fn a_container_from_the_locally_built_image_serves_a_lease() {
    let image = std::env::var(leasecheck::database::IMAGE_ENV)
        .unwrap_or_else(|_| DEFAULT_IMAGE.to_string());
    let pg = Postgres::start_container(&image)
        .unwrap_or_else(|e| panic!("{e}\n(build the image with scripts/build-postgres-image.sh)"));
    assert_eq!(pg.source(), Source::Container);
    serves_a_lease(&pg);
    pg.stop().expect("container removed");
}

#[test]
fn an_unreachable_database_url_is_a_clear_error() {
    let err = Postgres::from_url("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2")
        .expect_err("nothing listens on port 1")
        .to_string();
    assert!(
        err.contains("DATABASE_URL") && err.contains("127.0.0.1:1"),
        "{err}"
    );
    let err = Postgres::from_url("postgres://[::1")
        .expect_err("malformed")
        .to_string();
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn a_lease_table_name_outside_the_grammar_never_reaches_sql() {
    assert!(TableName::new("lease_lock; DROP SCHEMA public").is_err());
}

#[test]
fn pgbouncer_carries_a_user_and_password_of_any_characters_to_the_server() {
    let db = crate::support::db();
    let mut admin = db.connect();
    let suffix = std::process::id();
    // Quotes, spaces and URL delimiters in both: nothing may be spliced.
    let user = format!("lc odd\"user@x/{suffix}");
    let password = "p@ss w'rd?&=\"#%";
    let quoted_user = format!("\"{}\"", user.replace('"', "\"\""));
    admin
        .batch_execute(&format!(
            "CREATE ROLE {quoted_user} LOGIN PASSWORD '{}'",
            password.replace('\'', "''")
        ))
        .expect("create the test's role");
    struct DropRole(leasecheck::database::Client, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            let _ = self
                .0
                .batch_execute(&format!("DROP ROLE IF EXISTS {}", self.1));
        }
    }
    let _cleanup = DropRole(admin, quoted_user);

    let server = db.pg.config();
    let port = server.get_ports().first().copied().expect("a port");
    let dbname = server.get_dbname().unwrap_or("postgres");
    let kv = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let url = format!(
        "host=127.0.0.1 port={port} dbname={} user={} password={}",
        kv(dbname),
        kv(&user),
        kv(password)
    );
    let pg = Postgres::from_url(&url).expect("the server takes the odd role");
    let pooler = leasecheck::database::Pooler::start(&pg).expect("PgBouncer starts");
    let route = pooler.config();
    assert_eq!(route.get_user(), Some(user.as_str()));
    assert_eq!(route.get_password(), Some(password.as_bytes()));
    let mut client = route
        .connect(postgres::NoTls)
        .expect("connect through PgBouncer");
    let who: String = client
        .query_one("SELECT current_user::text", &[])
        .expect("a query through PgBouncer")
        .get(0);
    assert_eq!(who, user);
    assert!(!pooler.address().contains(password), "no password shown");
}
