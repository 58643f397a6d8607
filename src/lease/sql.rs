//! The reference lease's SQL, written once: the table, the seed row, the
//! three operations, and the harness's `reset` and `age`. The built-in
//! reference lease, the fenced lease (the same with an `epoch` column), the
//! harness and the benchmarks all take their statements from here (the
//! spec-file version, `specs/reference.toml`, is a user-facing example of the
//! same lease, and the test suite runs both through the same scenarios).
//!
//! This module only builds text from validated identifiers: it never runs a
//! statement and never pastes a value into SQL (values are always bound:
//! `$1` the holder id, `$2` the TTL in seconds, and for the fenced lease the
//! epoch).

use crate::input::TableName;

/// The server time a statement wrote, as whole microseconds since the Unix
/// epoch (`acquired_at` scaled), on the same axis as the model's `Time`.
pub const WRITTEN: &str = "(extract(epoch FROM acquired_at) * 1000000)::int8";

/// The statements of one lease table.
///
/// ```
/// use leasecheck::lease::ReferenceSql;
/// use leasecheck::TableName;
/// let sql = ReferenceSql::new(&TableName::new("lease_lock").unwrap());
/// assert!(sql.try_acquire.contains("acquired_at < now() - make_interval(secs => $2)"));
/// assert!(sql.renew.contains("leader = $1"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceSql {
    /// `CREATE TABLE IF NOT EXISTS`: one row (`id = 1`), `leader` ('' when
    /// free), `acquired_at` (and `epoch` for the fenced lease).
    pub create: String,
    /// Adds the `epoch` column to a table created without it (fenced only;
    /// empty otherwise).
    pub add_epoch: String,
    /// Seeds the one row if it is missing (self-healing bootstrap).
    pub seed: String,
    /// Takes a free or stale lease (`$1` holder, `$2` TTL seconds); the fenced
    /// lease also bumps and returns the epoch.
    pub try_acquire: String,
    /// Extends the holder's own tenure (`$1` holder; fenced: `$2` epoch).
    pub renew: String,
    /// Frees the lease if the caller holds it (`$1` holder; fenced: `$2` epoch).
    pub release: String,
    /// The harness's reset: the lease is free.
    pub reset: String,
    /// The harness's age: the current tenure looks `$1` seconds older.
    pub age: String,
}

impl ReferenceSql {
    /// The reference lease on `table`.
    pub fn new(table: &TableName) -> ReferenceSql {
        ReferenceSql {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                   id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                   leader text NOT NULL DEFAULT '',
                   acquired_at timestamptz NOT NULL DEFAULT now())"
            ),
            add_epoch: String::new(),
            seed: format!("INSERT INTO {table} (id) VALUES (1) ON CONFLICT DO NOTHING"),
            try_acquire: format!(
                "UPDATE {table} SET leader = $1, acquired_at = now()
                  WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2))
                  RETURNING {WRITTEN}"
            ),
            renew: format!(
                "UPDATE {table} SET acquired_at = now() WHERE id = 1 AND leader = $1 RETURNING {WRITTEN}"
            ),
            release: format!(
                "UPDATE {table} SET leader = '', acquired_at = now() WHERE id = 1 AND leader = $1 RETURNING {WRITTEN}"
            ),
            reset: format!("UPDATE {table} SET leader = ''"),
            age: format!("UPDATE {table} SET acquired_at = acquired_at - make_interval(secs => $1)"),
        }
    }

    /// The fenced lease on `table`: the reference plus an `epoch` column that
    /// every new tenure bumps; renew and release are scoped to the epoch.
    pub fn fenced(table: &TableName) -> ReferenceSql {
        let reference = ReferenceSql::new(table);
        ReferenceSql {
            create: format!(
                "CREATE TABLE IF NOT EXISTS {table} (
                   id int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
                   leader text NOT NULL DEFAULT '',
                   acquired_at timestamptz NOT NULL DEFAULT now(),
                   epoch bigint NOT NULL DEFAULT 0)"
            ),
            add_epoch: format!(
                "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0"
            ),
            try_acquire: format!(
                "UPDATE {table} SET leader = $1, acquired_at = now(), epoch = epoch + 1
                  WHERE id = 1 AND (leader = '' OR acquired_at < now() - make_interval(secs => $2))
                  RETURNING {WRITTEN}, epoch"
            ),
            renew: format!(
                "UPDATE {table} SET acquired_at = now()
                  WHERE id = 1 AND leader = $1 AND epoch = $2 RETURNING {WRITTEN}"
            ),
            release: format!(
                "UPDATE {table} SET leader = '', acquired_at = now()
                  WHERE id = 1 AND leader = $1 AND epoch = $2 RETURNING {WRITTEN}"
            ),
            ..reference
        }
    }
}
