//! The history checker: does the pure model explain what a run observed?
//!
//! A pure function of a [`History`]: it never reads a clock, never does I/O,
//! and never rejects a history that the model explains. Where it cannot
//! decide within its budget it says so ([`Verdict::inconclusive`]) instead of
//! guessing a pass or a violation.
//!
//! [`check`] decides these properties of a leader-election lease:
//!
//! - **P7 conformance** ([`check_linearizable`]): some total order of the
//!   calls, consistent with real time, explains every `Ok`/`Fail` outcome
//!   under the model [`Lease`](crate::Lease) with the history's TTL;
//! - **P6 no overlapping tenure** ([`check_tenures`]): the claims of
//!   different candidates, computed from their own calls, never overlap;
//! - **P8 no stale action** ([`check_actions`], for histories with
//!   [`Call::Action`](crate::history::Call::Action) events): no write was
//!   accepted from a leader that had already been deposed, and no two actors
//!   acted at once.
//!
//! P1–P5 are checked by the runners that know what each round was meant to
//! do; [`Property`] names all eight so that every report uses the same words.
//! [`timeline()`] lays out the events of a violation's window as a
//! [`Timeline`], whose `Display` is the table the reports print.
//!
//! P7 is exact within its model of time (a call takes effect at one instant
//! of its recorded window; the server's `now()` need not grow along the
//! order). Its few relaxations (a `now` may lie a measured clock slack
//! outside its window, large frontiers are merged, the check restarts from
//! any state after a failed span, an ended session may or may not have
//! freed its candidate's lease) can only make it miss a violation, never
//! invent one. P6 and P8 likewise choose, at every doubt, the reading that
//! blames nothing. The exact rules are on each function.
//!
//! ```
//! use leasecheck_model::check::{check, timeline, Property};
//! use leasecheck_model::history::{Call, Event, History, Outcome};
//! use leasecheck_model::{Candidate, Op, Span, Time};
//!
//! let acquire = |c, invoke, complete, server: Option<i64>, outcome| Event {
//!     candidate: Candidate(c),
//!     call: Call::Lease { op: Op::TryAcquire },
//!     invoke: Time(invoke),
//!     complete: Time(complete),
//!     server_time: server.map(Time),
//!     outcome,
//! };
//! // Two candidates race on a free lease and both win: a split brain.
//! let h = History {
//!     semantics: Default::default(),
//!     ttl: Span::from_secs(10),
//!     events: vec![
//!         acquire(1, 0, 900, Some(400), Outcome::Ok),
//!         acquire(2, 100, 950, Some(420), Outcome::Ok),
//!     ],
//! };
//! let verdict = check(&h);
//! assert!(!verdict.is_pass());
//! let v = &verdict.violations[0];
//! assert_eq!(v.property, Property::P7Linearizable);
//! assert_eq!(v.window, vec![0, 1]);
//! println!("{v}\n{}", timeline(&h, &v.window));
//! ```

mod action;
mod linearizable;
mod sort;
mod tenure;
mod timeline;

pub use action::{check_actions, ActionVerdict};
pub use linearizable::check_linearizable;
pub use tenure::{check_tenures, claims, Claim};
pub use timeline::{timeline, Holder, Timeline, TimelineOutcome, TimelineRow};

use crate::history::History;
use crate::time::Span;
use std::fmt;

/// The nine properties of a leader-election lease that leasecheck checks:
/// P1–P5 and P9 by the runners, P6–P8 by this checker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// P1: candidates racing on a free or stale lease: exactly one wins.
    P1ExactlyOneWinner,
    /// P2: no other candidate wins while the holder's lease is fresh.
    P2NoEarlyTakeover,
    /// P3: after the holder stalls past the TTL, one standby wins in time.
    P3TakeoverHappens,
    /// P4: after a takeover, the old holder's renew returns false.
    P4DeposedLeaderLearns,
    /// P5: release frees at once; renew/release by a non-holder change nothing.
    P5ReleaseFreesAtOnce,
    /// P6: claims of different holders never overlap.
    P6NoOverlappingTenure,
    /// P7: every outcome is one the model allows for some order.
    P7Linearizable,
    /// P8: each tenure carries a larger epoch; a fenced resource rejects the
    /// old one: no write of a deposed leader is accepted (see [`check_actions`]).
    P8FencingEpoch,
    /// P9: an acquire the server acknowledged is still there after the
    /// server crashed and recovered (judged by the `durability` runner).
    P9AcknowledgedWriteSurvives,
}

impl Property {
    /// All nine, in order.
    pub const ALL: [Property; 9] = [
        Property::P1ExactlyOneWinner,
        Property::P2NoEarlyTakeover,
        Property::P3TakeoverHappens,
        Property::P4DeposedLeaderLearns,
        Property::P5ReleaseFreesAtOnce,
        Property::P6NoOverlappingTenure,
        Property::P7Linearizable,
        Property::P8FencingEpoch,
        Property::P9AcknowledgedWriteSurvives,
    ];

    /// The short id: `"P1"` … `"P9"`.
    pub fn id(self) -> &'static str {
        ["P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"][self as usize]
    }

    /// The title without the id, e.g. `"no overlapping tenure"`.
    pub fn title(self) -> &'static str {
        match self {
            Property::P1ExactlyOneWinner => "exactly one winner",
            Property::P2NoEarlyTakeover => "no early takeover",
            Property::P3TakeoverHappens => "takeover happens",
            Property::P4DeposedLeaderLearns => "deposed leader learns",
            Property::P5ReleaseFreesAtOnce => "release frees at once",
            Property::P6NoOverlappingTenure => "no overlapping tenure",
            Property::P7Linearizable => "linearizable against the model",
            Property::P8FencingEpoch => "fencing epoch",
            Property::P9AcknowledgedWriteSurvives => "acknowledged write survives a crash",
        }
    }

    /// The full name, e.g. `"P6 no overlapping tenure"` (also the `Display`).
    ///
    /// ```
    /// use leasecheck_model::check::Property;
    /// assert_eq!(Property::P6NoOverlappingTenure.name(), "P6 no overlapping tenure");
    /// assert_eq!(Property::P7Linearizable.to_string(), "P7 linearizable against the model");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Property::P1ExactlyOneWinner => "P1 exactly one winner",
            Property::P2NoEarlyTakeover => "P2 no early takeover",
            Property::P3TakeoverHappens => "P3 takeover happens",
            Property::P4DeposedLeaderLearns => "P4 deposed leader learns",
            Property::P5ReleaseFreesAtOnce => "P5 release frees at once",
            Property::P6NoOverlappingTenure => "P6 no overlapping tenure",
            Property::P7Linearizable => "P7 linearizable against the model",
            Property::P8FencingEpoch => "P8 fencing epoch",
            Property::P9AcknowledgedWriteSurvives => "P9 acknowledged write survives a crash",
        }
    }
}

/// What a property guards: the lease's safety, or its own declared contract.
///
/// A safety property holds for every correct lease, whatever it declares: a
/// violation is a split brain or its cause. A contract property says the
/// lease does what it declares (P5, P7): a violation is a lease that works
/// differently from its declaration, safe or not, and is fixed by mending
/// the lease *or* its declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Never relaxed by a declaration.
    Safety,
    /// Judged against the lease's declared semantics.
    Contract,
}

impl Class {
    /// `"safety"` or `"contract"`, as reports and `--json` write it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Safety => "safety",
            Class::Contract => "contract",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Property {
    /// Whether the property is safety or contract.
    ///
    /// ```
    /// use leasecheck_model::check::{Class, Property};
    /// assert_eq!(Property::P6NoOverlappingTenure.class(), Class::Safety);
    /// assert_eq!(Property::P7Linearizable.class(), Class::Contract);
    /// ```
    pub fn class(self) -> Class {
        match self {
            Property::P5ReleaseFreesAtOnce | Property::P7Linearizable => Class::Contract,
            _ => Class::Safety,
        }
    }
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A property that the history refutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which property.
    pub property: Property,
    /// What is wrong, in words.
    pub message: String,
    /// The events that show it: indices into `history.events`, ascending.
    /// Render them with [`timeline()`].
    pub window: Vec<usize>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} violated: {}", self.property, self.message)
    }
}

/// A part of the history the checker could not decide within its budget.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inconclusive {
    /// Which property is undecided.
    pub property: Property,
    /// Why, in words.
    pub message: String,
    /// Events of the undecided part (indices into `history.events`, ascending).
    pub window: Vec<usize>,
}

impl fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} undecided: {}", self.property, self.message)
    }
}

/// The result of checking a history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Every violation found (P7 first, then P6, then P8).
    pub violations: Vec<Violation>,
    /// Parts that could not be decided: neither passed nor failed.
    pub inconclusive: Vec<Inconclusive>,
    /// The number of events checked.
    pub ops_checked: usize,
}

impl Verdict {
    /// True iff nothing was violated and nothing was left undecided.
    pub fn is_pass(&self) -> bool {
        self.violations.is_empty() && self.inconclusive.is_empty()
    }
}

/// Knobs of the checker; [`Options::default`] suits recorded histories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Extra tolerance for the alignment of the recorder's clock with the
    /// server's, applied to calls without `server_time` (default 0: the
    /// observed misalignment is always added, see [`check_linearizable`]).
    pub clock_slack: Span,
    /// Whether the history starts on a free lease (default true, as seeded);
    /// if false it may start in any state.
    pub start_free: bool,
    /// Search steps allowed per call of a span (default 200).
    pub steps_per_op: u64,
    /// Search steps allowed for any span at least (default 100 000).
    pub min_steps: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            clock_slack: Span(0),
            start_free: true,
            steps_per_op: 200,
            min_steps: 100_000,
        }
    }
}

/// Check P7, P6 and (for histories with actions) P8, with default options.
pub fn check(history: &History) -> Verdict {
    check_with(history, &Options::default())
}

/// Check P7, P6 and (for histories with actions) P8; violations in that order.
///
/// On a long history P6 is checked on a second thread while P7 is (they
/// read the history and nothing else); the verdict is the same either way.
pub fn check_with(history: &History, options: &Options) -> Verdict {
    let tenures = || match history.ttl.as_micros() > 0 {
        true => check_tenures(history),
        false => Vec::new(),
    };
    let (mut verdict, overlaps) = if history.events.len() >= ON_TWO_THREADS_FROM {
        std::thread::scope(|s| {
            let overlaps = s.spawn(tenures);
            let verdict = check_linearizable(history, options);
            match overlaps.join() {
                Ok(overlaps) => (verdict, overlaps),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    } else {
        (check_linearizable(history, options), tenures())
    };
    verdict.violations.extend(overlaps);
    verdict.violations.extend(check_actions(history).violations);
    verdict
}

/// The length from which a history's P6 and P7 are checked on two threads
/// (below it, starting a thread costs more than it saves).
const ON_TWO_THREADS_FROM: usize = 20_000;

/// A call's window as `(earliest, latest)`, whichever way it was recorded.
fn minmax(a: i64, b: i64) -> (i64, i64) {
    (a.min(b), a.max(b))
}

/// Microseconds as milliseconds with three decimals.
fn ms(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let m = micros.unsigned_abs();
    format!("{sign}{}.{:03}", m / 1000, m % 1000)
}
