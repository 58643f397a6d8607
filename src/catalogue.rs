//! The catalogue of split-brain regressions: leases with known bugs, each a
//! spec file, the scenario that exposes it and the lease that passes it.
//!
//! Two kinds of entry: leases written to show one mistake (`specs/broken/`,
//! fixed by the reference lease), and public incidents reproduced from the
//! project's buggy release (`specs/incidents/`, fixed by the release that
//! fixed it), each with its upstream reference.
//!
//! `leasecheck reproduce NAME` runs an entry's scenario on its buggy lease,
//! `reproduce NAME --fixed` on its fixed one; the test suite asserts that
//! every buggy lease is caught with the property named here and that every
//! fixed one passes the same scenario.

use leasecheck_model::check::Property;

/// A spec file of the repository, its path and its text.
#[derive(Clone, Copy, Debug)]
pub struct SpecFile {
    /// Its path in the repository (`specs/broken/check-then-act.toml`).
    pub path: &'static str,
    /// Its text.
    pub text: &'static str,
}

/// The spec file at `$path` (relative to the repository), built in.
macro_rules! spec_file {
    ($path:literal) => {
        SpecFile {
            path: $path,
            text: include_str!(concat!("../", $path)),
        }
    };
}

/// A public report of the bug in a real project.
#[derive(Clone, Copy, Debug)]
pub struct Incident {
    /// The upstream reference, `owner/project#number` (a GitHub issue or
    /// pull request).
    pub reference: &'static str,
    /// The release (or commit) the buggy lease is translated from.
    pub buggy: &'static str,
    /// The change and release that fixed it, which the fixed lease is
    /// translated from.
    pub fix: &'static str,
}

impl Incident {
    /// Where to read it: the GitHub page of [`Incident::reference`].
    ///
    /// ```
    /// use leasecheck::catalogue::find;
    /// let incident = find("oban-1488").and_then(|e| e.incident).unwrap();
    /// assert_eq!(incident.url(), "https://github.com/oban-bg/oban/issues/1488");
    /// ```
    pub fn url(&self) -> String {
        let (repository, number) = self
            .reference
            .split_once('#')
            .unwrap_or((self.reference, ""));
        format!("https://github.com/{repository}/issues/{number}")
    }
}

/// One known-broken lease.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Its name, for `leasecheck reproduce NAME`.
    pub name: &'static str,
    /// The buggy lease.
    pub spec: SpecFile,
    /// The lease with the bug fixed, which passes the same scenario.
    pub fixed: SpecFile,
    /// The public incident, for an entry reproduced from a real project.
    pub incident: Option<Incident>,
    /// What is wrong with it, in one line.
    pub bug: &'static str,
    /// The property its scenario violates.
    pub breaks: Property,
    /// The `leasecheck` arguments of the scenario that exposes it (without
    /// `--spec` and `--seed`).
    pub scenario: &'static [&'static str],
}

/// The reference lease: the fix of every entry written to show one mistake.
const REFERENCE: SpecFile = spec_file!("specs/reference.toml");

/// The scenario of a leader stalled past its TTL, whose renew afterwards
/// must fail.
const STALLED_LEADER: &[&str] = &["takeover", "--faults", "client-pause", "--ttl", "0.2"];

/// Every entry, in a fixed order.
pub const CATALOGUE: [Entry; 10] = [
    Entry {
        name: "check-then-act",
        spec: spec_file!("specs/broken/check-then-act.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "the guard is read by a SELECT, then an unconditional UPDATE takes the row: two winners",
        breaks: Property::P1ExactlyOneWinner,
        scenario: &["race", "--candidates", "8", "--rounds", "10"],
    },
    Entry {
        name: "renew-without-holder-check",
        spec: spec_file!("specs/broken/renew-without-holder-check.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "renew matches the row, not the holder: a deposed leader renews and keeps acting",
        breaks: Property::P4DeposedLeaderLearns,
        scenario: STALLED_LEADER,
    },
    Entry {
        name: "advisory-lock",
        spec: spec_file!("specs/broken/advisory-lock.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "a session advisory lock: through a transaction pooler the lock stays with a backend, and whoever gets that backend next holds it too: two leaders",
        breaks: Property::P6NoOverlappingTenure,
        scenario: &[
            "check", "--via", "pgbouncer", "--faults", "client-pause", "--candidates", "8", "--rounds", "10",
        ],
    },
    Entry {
        name: "client-clock",
        spec: spec_file!("specs/broken/client-clock.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "staleness judged by the client's clock ($3) instead of now(): a standby whose clock runs ahead takes over a fresh lease",
        breaks: Property::P6NoOverlappingTenure,
        scenario: &["takeover", "--faults", "client-pause", "--ttl", "0.2", "--skew", "1000"],
    },
    Entry {
        name: "retry-after-lost-reply",
        spec: spec_file!("specs/broken/retry-after-lost-reply.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "the client re-runs a try_acquire whose reply was lost; the first had committed, so the retry returns false: the holder believes it lost while the row names it",
        breaks: Property::P1ExactlyOneWinner,
        scenario: &["takeover", "--faults", "connection-drop", "--ttl", "0.2"],
    },
    Entry {
        name: "unlogged-table",
        spec: spec_file!("specs/broken/unlogged-table.toml"),
        fixed: REFERENCE,
        incident: None,
        bug: "the lease table is UNLOGGED: crash recovery empties it, the UPDATE-only statements never find the row again, and nobody can lead",
        breaks: Property::P3TakeoverHappens,
        scenario: &["takeover", "--faults", "crash-restart", "--ttl", "0.2"],
    },
    Entry {
        name: "river-197",
        spec: spec_file!("specs/incidents/river-197.toml"),
        fixed: spec_file!("specs/incidents/river-197-fixed.toml"),
        incident: Some(Incident {
            reference: "riverqueue/river#197",
            buggy: "v0.0.19",
            fix: "#199 (fb9e738), released in v0.0.20",
        }),
        bug: "the reelect's ON CONFLICT ... WHERE EXCLUDED.leader_id = @leader_id is always true: a deposed leader's reelect extends the new leader's lease and reports that it still leads",
        breaks: Property::P4DeposedLeaderLearns,
        scenario: STALLED_LEADER,
    },
    Entry {
        name: "oban-1488",
        spec: spec_file!("specs/real/oban-before-1488.toml"),
        fixed: spec_file!("specs/real/oban-after-1488.toml"),
        incident: Some(Incident {
            reference: "oban-bg/oban#1488",
            buggy: "v2.23.0",
            fix: "9a0b729 \"Scope peer lease renewal to the owning node\", released in v2.23.1",
        }),
        bug: "a node that believes it leads renews the peer row by name alone: after a standby took over, the deposed node extends the new leader's lease and keeps leading (cron ran twice for 19 days)",
        breaks: Property::P4DeposedLeaderLearns,
        scenario: STALLED_LEADER,
    },
    Entry {
        name: "shedlock-231",
        spec: spec_file!("specs/real/shedlock-client-clock.toml"),
        fixed: spec_file!("specs/real/shedlock-db-time.toml"),
        incident: Some(Incident {
            reference: "lukas-krecan/ShedLock#231",
            buggy: "7.9.0's default mode (the JVM's clock), the statements of 4.6.0",
            fix: "usingDbTime() (2f5bcb517), first in shedlock-parent-4.9.0",
        }),
        bug: "lock_until and the expiry test come from each JVM's clock: a node whose clock runs ahead sees a fresh lock as expired and locks too (clocks 3 minutes apart, both nodes ran the task)",
        breaks: Property::P6NoOverlappingTenure,
        scenario: &["takeover", "--faults", "client-pause", "--ttl", "0.2", "--skew", "1000"],
    },
    Entry {
        name: "wolverine-2602",
        spec: spec_file!("specs/incidents/wolverine-2602.toml"),
        fixed: spec_file!("specs/incidents/wolverine-2602-fixed.toml"),
        incident: Some(Incident {
            reference: "JasperFx/wolverine#2602",
            buggy: "releases before V5.33.0 (HasLock answered from the process's memory)",
            fix: "#2607 \"Fix #2602: leader split-brain via stale advisory-lock state\" (HasLock pings the lock's connection), released in V5.33.0",
        }),
        bug: "leadership is a session advisory lock and HasLock answers from memory: after the leader's backend was terminated, Postgres freed the lock, another node took it, and the old leader still said it led (one agent ran on two nodes)",
        breaks: Property::P4DeposedLeaderLearns,
        scenario: &["takeover", "--faults", "backend-kill"],
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
