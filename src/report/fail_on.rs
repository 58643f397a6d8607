//! The gate's policy (`--fail-on`): which findings make a run exit 1.
//!
//! Every finding is reported whatever the policy; the policy decides only
//! the exit status (and says so in the report). The default fails on any
//! violation; `safety` lets findings of the lease's declared contract
//! (P5, P7) pass the gate, never a safety finding (P1-P4, P6, P8, P9).

use leasecheck_model::check::Class;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Which findings fail a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Any violation, of safety or of the declared contract (the default).
    #[default]
    Any,
    /// Only a violation of safety; contract findings are reported and pass.
    Safety,
}

impl FailOn {
    /// Both policies, in a fixed order.
    pub const ALL: [FailOn; 2] = [FailOn::Any, FailOn::Safety];

    /// The name used on the command line and in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::Any => "any",
            FailOn::Safety => "safety",
        }
    }

    /// One line on the policy, for `--help`.
    pub fn summary(self) -> &'static str {
        match self {
            FailOn::Any => "exit 1 on any violation, of safety or of the lease's declared contract",
            FailOn::Safety => "exit 1 only on a safety violation (P1-P4, P6, P8, P9); contract findings (P5, P7) are reported and exit 0",
        }
    }

    /// Whether a finding of `class` fails the run.
    ///
    /// ```
    /// use leasecheck::model::check::Class;
    /// use leasecheck::report::FailOn;
    /// assert!(FailOn::Any.fails(Class::Contract));
    /// assert!(!FailOn::Safety.fails(Class::Contract));
    /// assert!(FailOn::Safety.fails(Class::Safety));
    /// ```
    pub fn fails(self, class: Class) -> bool {
        match self {
            FailOn::Any => true,
            FailOn::Safety => class == Class::Safety,
        }
    }
}

impl fmt::Display for FailOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<FailOn, String> {
        FailOn::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("--fail-on {s:?} is not one of any, safety"))
    }
}
