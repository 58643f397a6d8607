//! The lease's time-to-live, validated.
//!
//! A TTL comes from a flag, the environment or a spec file (which one wins
//! is [`crate::settings`]'s business; this type only validates). Zero, negative, NaN, infinite, non-numeric, too
//! small for Postgres's microsecond resolution and absurdly large values are
//! rejected with an error that quotes the value; nothing is ever clamped.

use leasecheck_model::Span;
use std::fmt;
use std::time::Duration;

/// The largest TTL accepted, in seconds (about 31 years).
pub const MAX_TTL_SECS: f64 = 1e9;

/// Why a TTL was rejected. The message quotes the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TtlError {
    /// The text is not a number.
    #[error("invalid lease TTL {value:?}{origin}: not a number of seconds")]
    NotANumber {
        /// The text as given.
        value: String,
        /// Where it came from (e.g. ` in LEASECHECK_LEASE_SECONDS`), possibly empty.
        origin: String,
    },
    /// The number is not usable as a TTL.
    #[error("invalid lease TTL {value:?}{origin}: {reason}")]
    OutOfRange {
        /// The value as given.
        value: String,
        /// Where it came from, possibly empty.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// A validated, positive lease TTL with at least microsecond length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(Duration);

impl Ttl {
    /// A TTL of `secs` seconds.
    ///
    /// ```
    /// use leasecheck::Ttl;
    /// assert_eq!(Ttl::from_secs_f64(0.2).unwrap().as_millis(), 200);
    /// assert!(Ttl::from_secs_f64(0.0).is_err());
    /// assert!(Ttl::from_secs_f64(f64::NAN).is_err());
    /// ```
    pub fn from_secs_f64(secs: f64) -> Result<Ttl, TtlError> {
        Ttl::checked(secs, &secs.to_string(), "")
    }

    /// Parse a TTL in seconds from text (`"10"`, `"0.2"`), quoting the text on error.
    ///
    /// ```
    /// use leasecheck::Ttl;
    /// assert_eq!(Ttl::parse("1.5").unwrap().as_millis(), 1500);
    /// let err = Ttl::parse("ten").unwrap_err().to_string();
    /// assert!(err.contains("\"ten\""), "{err}");
    /// ```
    pub fn parse(text: &str) -> Result<Ttl, TtlError> {
        Ttl::parse_from(text, "")
    }

    /// Parse a TTL from text that came from `origin` (e.g. ` in
    /// LEASECHECK_LEASE_SECONDS`), which the error then names.
    pub(crate) fn parse_from(text: &str, origin: &str) -> Result<Ttl, TtlError> {
        let secs: f64 = text.trim().parse().map_err(|_| TtlError::NotANumber {
            value: text.to_string(),
            origin: origin.to_string(),
        })?;
        Ttl::checked(secs, text, origin)
    }

    fn checked(secs: f64, shown: &str, origin: &str) -> Result<Ttl, TtlError> {
        let reason = if secs.is_nan() {
            Some("NaN is not a duration")
        } else if secs.is_infinite() {
            Some("an infinite TTL would never expire")
        } else if secs == 0.0 {
            Some("a zero TTL makes every tenure stale at once")
        } else if secs < 0.0 {
            Some("a TTL must be positive")
        } else if secs < 1e-6 {
            Some("shorter than Postgres's resolution of one microsecond")
        } else if secs > MAX_TTL_SECS {
            Some("longer than the maximum of 1e9 seconds")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(TtlError::OutOfRange {
                value: shown.to_string(),
                origin: origin.to_string(),
                reason,
            }),
            None => Ok(Ttl(Duration::from_secs_f64(secs))),
        }
    }

    /// The TTL as a duration.
    pub fn as_duration(self) -> Duration {
        self.0
    }

    /// The TTL in seconds, as bound to `$2` in SQL.
    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// The TTL in whole milliseconds.
    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }

    /// The TTL as the model's span (microseconds).
    pub fn as_span(self) -> Span {
        Span::from_duration(self.0)
    }
}

impl TryFrom<Duration> for Ttl {
    type Error = TtlError;
    fn try_from(d: Duration) -> Result<Ttl, TtlError> {
        Ttl::from_secs_f64(d.as_secs_f64())
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0.as_secs_f64())
    }
}
