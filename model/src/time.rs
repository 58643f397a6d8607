//! Explicit time for the model: the model never reads a clock.
//!
//! Every operation of the model is handed its `now`. Times are microseconds on
//! one axis chosen by the caller (a monotonic clock for histories, the server's
//! `now()` for the differential test); spans are microseconds too, which is
//! Postgres's own resolution for `timestamptz` and `interval`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, Sub};

/// A point in time, in microseconds since an epoch the caller chooses.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub i64);

/// A length of time in microseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Span(pub i64);

impl Time {
    /// The time `micros` microseconds after the epoch.
    pub const fn from_micros(micros: i64) -> Time {
        Time(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The span from `earlier` to `self` (negative if `earlier` is later).
    pub const fn since(self, earlier: Time) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }
}

impl Span {
    /// The span of `micros` microseconds.
    pub const fn from_micros(micros: i64) -> Span {
        Span(micros)
    }

    /// The span of `millis` milliseconds.
    pub const fn from_millis(millis: i64) -> Span {
        Span(millis.saturating_mul(1_000))
    }

    /// The span of `secs` whole seconds.
    pub const fn from_secs(secs: i64) -> Span {
        Span(secs.saturating_mul(1_000_000))
    }

    /// The span closest to `d`, saturating at `i64::MAX` microseconds.
    pub fn from_duration(d: std::time::Duration) -> Span {
        Span(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
    }

    /// Microseconds.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Seconds, as a float (for display and for binding as `$2`).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Add<Span> for Time {
    type Output = Time;
    fn add(self, rhs: Span) -> Time {
        Time(self.0.saturating_add(rhs.0))
    }
}

impl Sub<Span> for Time {
    type Output = Time;
    fn sub(self, rhs: Span) -> Time {
        Time(self.0.saturating_sub(rhs.0))
    }
}

impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0.saturating_add(rhs.0))
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}ms", self.0 as f64 / 1e3)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}ms", self.0 as f64 / 1e3)
    }
}
