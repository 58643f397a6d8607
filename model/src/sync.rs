//! Synchronization primitives that loom can see.
//!
//! A tiny shim in the style of tokio's `src/loom`: the paths mirror
//! `std::sync`, and under `--cfg loom` every item comes from `loom::sync`
//! instead, so the same code ([`AtomicLease`](crate::AtomicLease)) runs in
//! production and is explored exhaustively by `loom::model` in
//! `model/tests/loom.rs`.
//!
//! Under `--cfg loom` these types only work inside `loom::model`, and loom's
//! atomics have no `const fn new`.
//!
//! ```
//! use leasecheck_model::sync::atomic::{AtomicU64, Ordering};
//! use leasecheck_model::sync::Arc;
//!
//! let word = Arc::new(AtomicU64::new(1));
//! assert_eq!(word.fetch_add(1, Ordering::AcqRel), 1);
//! assert_eq!(word.load(Ordering::Acquire), 2);
//! ```

#[cfg(loom)]
pub use loom::sync::Arc;
#[cfg(not(loom))]
pub use std::sync::Arc;

/// Atomic types: `std::sync::atomic`, or `loom::sync::atomic` under `--cfg loom`.
///
/// ```
/// use leasecheck_model::sync::atomic::{AtomicBool, Ordering};
///
/// let flag = AtomicBool::new(false);
/// flag.store(true, Ordering::Release);
/// assert!(flag.load(Ordering::Acquire));
/// ```
pub mod atomic {
    #[cfg(loom)]
    pub use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    #[cfg(not(loom))]
    pub use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
}
