//! A figure of a scenario (a latency, a count, a winner): a name and a
//! number with its unit, kept as data until a rendering formats it. The
//! JSON report carries the numbers (durations in seconds); only the text
//! rendering writes "12.5ms".

use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// A figure's value, with its unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "unit", rename_all = "snake_case")]
pub enum Quantity {
    /// A number of things.
    Count {
        /// How many.
        value: u64,
    },
    /// `value` of `of` (e.g. rounds staged of rounds run).
    Fraction {
        /// How many.
        value: u64,
        /// Out of.
        of: u64,
    },
    /// A length of time, in seconds.
    Seconds {
        /// Seconds.
        value: f64,
    },
    /// An inclusive range of integers (e.g. the epochs seen).
    Range {
        /// The first.
        from: u64,
        /// The last.
        to: u64,
    },
    /// A yes/no observation.
    Flag {
        /// The observation.
        value: bool,
    },
    /// A name (a candidate, how time was moved).
    Text {
        /// The name.
        value: String,
    },
}

/// One named figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    /// Its name, e.g. "p99".
    pub name: String,
    /// Its value.
    #[serde(flatten)]
    pub quantity: Quantity,
    /// A remark shown after the value (e.g. "no fencing: informational").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Figure {
    /// A figure without a remark.
    ///
    /// ```
    /// let f = leasecheck::report::Figure::new("events", 3usize);
    /// assert_eq!(f.to_string(), "events 3");
    /// ```
    pub fn new(name: impl Into<String>, value: impl Into<Quantity>) -> Figure {
        Figure {
            name: name.into(),
            quantity: value.into(),
            note: None,
        }
    }
}

impl From<usize> for Quantity {
    fn from(value: usize) -> Quantity {
        Quantity::Count {
            value: value as u64,
        }
    }
}

impl From<u64> for Quantity {
    fn from(value: u64) -> Quantity {
        Quantity::Count { value }
    }
}

impl From<Duration> for Quantity {
    fn from(d: Duration) -> Quantity {
        Quantity::Seconds {
            value: d.as_secs_f64(),
        }
    }
}

impl From<bool> for Quantity {
    fn from(value: bool) -> Quantity {
        Quantity::Flag { value }
    }
}

impl From<&str> for Quantity {
    fn from(value: &str) -> Quantity {
        Quantity::Text {
            value: value.to_string(),
        }
    }
}

impl From<String> for Quantity {
    fn from(value: String) -> Quantity {
        Quantity::Text { value }
    }
}

impl fmt::Display for Quantity {
    /// The text rendering: durations in milliseconds with the precision
    /// their size warrants.
    ///
    /// ```
    /// use leasecheck::report::Quantity;
    /// use std::time::Duration;
    /// assert_eq!(Quantity::from(Duration::from_micros(90)).to_string(), "0.09ms");
    /// assert_eq!(Quantity::from(Duration::from_micros(12_500)).to_string(), "12.5ms");
    /// assert_eq!(Quantity::from(Duration::from_millis(215)).to_string(), "215ms");
    /// assert_eq!(Quantity::Fraction { value: 3, of: 3 }.to_string(), "3/3");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Quantity::Count { value } => write!(f, "{value}"),
            Quantity::Fraction { value, of } => write!(f, "{value}/{of}"),
            Quantity::Seconds { value } => {
                let ms = value * 1e3;
                if ms >= 100.0 {
                    write!(f, "{ms:.0}ms")
                } else if ms >= 10.0 {
                    write!(f, "{ms:.1}ms")
                } else {
                    write!(f, "{ms:.2}ms")
                }
            }
            Quantity::Range { from, to } => write!(f, "{from}..{to}"),
            Quantity::Flag { value } => write!(f, "{value}"),
            Quantity::Text { value } => f.write_str(value),
        }
    }
}

impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.quantity)?;
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}
