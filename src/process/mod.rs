//! The processes leasecheck starts and waits for: external tools run to
//! their end within a deadline ([`Tool`]), and the watchdog that undoes what
//! leasecheck made if leasecheck itself is killed ([`watchdog`]).
//!
//! Nothing here knows about Postgres or leases.

mod tool;
pub mod watchdog;

pub use tool::{Tool, ToolError};
