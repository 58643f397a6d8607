//! The one integration-test binary: every test here runs against a real
//! Postgres (see `support::db`), in a schema of its own.

mod differential;
mod fault;
mod lease;
mod provision;
mod support;
mod validation;
