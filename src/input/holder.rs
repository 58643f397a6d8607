//! Holder ids: who holds the lease.

use std::fmt;
use std::sync::OnceLock;

/// Why a holder id was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderError {
    /// Empty or blank: `''` is the free marker, so it can never name a holder.
    #[error("invalid holder id {0:?}: it must not be empty or blank ('' marks a free lease)")]
    Blank(String),
}

/// A validated, non-blank holder id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HolderId(String);

impl HolderId {
    /// A holder id from text; empty or blank ids are rejected.
    ///
    /// ```
    /// use leasecheck::HolderId;
    /// assert!(HolderId::new("worker-1").is_ok());
    /// assert!(HolderId::new("  ").is_err());
    /// ```
    pub fn new(id: impl Into<String>) -> Result<HolderId, HolderError> {
        let id = id.into();
        if id.trim().is_empty() {
            return Err(HolderError::Blank(id));
        }
        Ok(HolderId(id))
    }

    /// This process's holder id, `host:pid:random`, computed once per process.
    ///
    /// ```
    /// use leasecheck::HolderId;
    /// assert_eq!(HolderId::for_process(), HolderId::for_process());
    /// ```
    pub fn for_process() -> HolderId {
        static ID: OnceLock<HolderId> = OnceLock::new();
        ID.get_or_init(|| {
            let host = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.trim().is_empty())
                .unwrap_or_else(|| "localhost".to_string());
            HolderId(format!(
                "{host}:{}:{:016x}",
                std::process::id(),
                random_u64()
            ))
        })
        .clone()
    }

    /// A distinct id derived from this one, for several candidates in one process.
    ///
    /// ```
    /// use leasecheck::HolderId;
    /// let base = HolderId::new("node").unwrap();
    /// assert_eq!(base.derive("c3").as_str(), "node:c3");
    /// ```
    pub fn derive(&self, suffix: &str) -> HolderId {
        HolderId(format!("{}:{suffix}", self.0))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HolderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A random 64-bit number from the operating system (for ids and seeds).
pub(crate) fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // getrandom only fails when the OS has no entropy source at all; fall back
    // to time and pid, which still separates processes.
    if getrandom::getrandom(&mut buf).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return nanos ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_le_bytes(buf)
}
