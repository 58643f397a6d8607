//! Flags that take one of a fixed set of values name every value in
//! `--help`, with one line each: the library's own names and summaries,
//! parsed by the library's own `FromStr`.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use leasecheck::catalogue::CATALOGUE;
use leasecheck::fault::{Durability, Fault, Replication};
use leasecheck::report::FailOn;
use std::str::FromStr;

/// A parser that accepts exactly `values` (name, one line of help) and
/// turns each into a `T` through `T::from_str`.
fn of<T>(
    values: impl IntoIterator<Item = (&'static str, &'static str)>,
) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    PossibleValuesParser::new(
        values
            .into_iter()
            .map(|(name, help)| PossibleValue::new(name).help(help)),
    )
    .try_map(|name: String| name.parse::<T>())
}

/// `--faults`.
pub fn fault() -> impl TypedValueParser<Value = Fault> {
    of(Fault::ALL.map(|f| (f.name(), f.summary())))
}

/// `--replication`.
pub fn replication() -> impl TypedValueParser<Value = Replication> {
    of(Replication::ALL.map(|r| (r.name(), r.summary())))
}

/// `--synchronous-commit`.
pub fn durability() -> impl TypedValueParser<Value = Durability> {
    of(Durability::ALL.map(|d| (d.name(), d.summary())))
}

/// `reproduce NAME`: the catalogue's entries, each with its bug.
pub fn entry() -> impl TypedValueParser<Value = String> {
    of(CATALOGUE.map(|e| (e.name, e.bug)))
}

/// `--fail-on`.
pub fn fail_on() -> impl TypedValueParser<Value = FailOn> {
    of(FailOn::ALL.map(|p| (p.name(), p.summary())))
}
