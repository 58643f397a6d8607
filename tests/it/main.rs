//! The one integration-test binary: every test here runs against a real
//! Postgres (see `support::db`), in a schema of its own.

mod browser;
mod catalogue;
mod characterize;
mod cli;
mod database_faults;
mod deadline;
mod differential;
mod docs;
mod exec;
mod fault;
mod fenced;
mod fuzz_regressions;
mod history;
mod image;
mod json_schema;
mod lease;
mod leftovers;
mod mutation;
mod provision;
mod real;
mod recipes;
mod report_page;
mod side_by_side;
mod spec;
mod support;
mod validation;
mod zombie;
