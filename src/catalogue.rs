//! The catalogue of split-brain regressions: leases with known bugs, each a
//! spec file in `specs/broken/` and the scenario that exposes it.
//!
//! `leasecheck reproduce NAME` runs an entry's scenario; the test suite
//! asserts that every entry is caught with the property named here and that
//! the reference lease passes the same scenarios.

use leasecheck_model::check::Property;

/// One known-broken lease.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Its name (the file name in `specs/broken/` without `.toml`).
    pub name: &'static str,
    /// The spec file's text.
    pub spec: &'static str,
    /// What is wrong with it, in one line.
    pub bug: &'static str,
    /// The property its scenario violates.
    pub breaks: Property,
    /// The `leasecheck` arguments of the scenario that exposes it (without
    /// `--spec` and `--seed`).
    pub scenario: &'static [&'static str],
}

/// Every entry, in a fixed order.
pub const CATALOGUE: [Entry; 6] = [
    Entry {
        name: "check-then-act",
        spec: include_str!("../specs/broken/check-then-act.toml"),
        bug: "the guard is read by a SELECT, then an unconditional UPDATE takes the row: two winners",
        breaks: Property::P1ExactlyOneWinner,
        scenario: &["race", "--candidates", "8", "--rounds", "10"],
    },
    Entry {
        name: "renew-without-holder-check",
        spec: include_str!("../specs/broken/renew-without-holder-check.toml"),
        bug: "renew matches the row, not the holder: a deposed leader renews and keeps acting",
        breaks: Property::P4DeposedLeaderLearns,
        scenario: &["takeover", "--faults", "client-pause", "--ttl", "0.2"],
    },
    Entry {
        name: "advisory-lock",
        spec: include_str!("../specs/broken/advisory-lock.toml"),
        bug: "a session advisory lock: through a transaction pooler the lock stays with a backend, and whoever gets that backend next holds it too: two leaders",
        breaks: Property::P6NoOverlappingTenure,
        scenario: &[
            "check", "--via", "pgbouncer", "--faults", "client-pause", "--candidates", "8", "--rounds", "10",
        ],
    },
    Entry {
        name: "client-clock",
        spec: include_str!("../specs/broken/client-clock.toml"),
        bug: "staleness judged by the client's clock ($3) instead of now(): a standby whose clock runs ahead takes over a fresh lease",
        breaks: Property::P6NoOverlappingTenure,
        scenario: &["takeover", "--faults", "client-pause", "--ttl", "0.2", "--skew", "1000"],
    },
    Entry {
        name: "retry-after-lost-reply",
        spec: include_str!("../specs/broken/retry-after-lost-reply.toml"),
        bug: "the client re-runs a try_acquire whose reply was lost; the first had committed, so the retry returns false: the holder believes it lost while the row names it",
        breaks: Property::P1ExactlyOneWinner,
        scenario: &["takeover", "--faults", "connection-drop", "--ttl", "0.2"],
    },
    Entry {
        name: "unlogged-table",
        spec: include_str!("../specs/broken/unlogged-table.toml"),
        bug: "the lease table is UNLOGGED: crash recovery empties it, the UPDATE-only statements never find the row again, and nobody can lead",
        breaks: Property::P3TakeoverHappens,
        scenario: &["takeover", "--faults", "crash-restart", "--ttl", "0.2"],
    },
];

/// The entry called `name`.
///
/// ```
/// assert!(leasecheck::catalogue::find("check-then-act").is_some());
/// assert!(leasecheck::catalogue::find("nope").is_none());
/// ```
pub fn find(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.name == name)
}
