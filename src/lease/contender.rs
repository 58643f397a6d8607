//! The one trait every lease kind implements: a candidate's handle on the
//! lease under test, whatever it is (the reference [`Lease`], the fenced
//! lease, a spec file's statements, an adapter process). Scenarios only
//! ever see this trait.

use super::{FencedLease, Lease, LeaseError, SpecLease};
use crate::input::HolderId;
use crate::recorder::Reply;
use leasecheck_model::Op;

/// One candidate's connection to the lease under test: the reference [`Lease`]
/// or a spec file's statements.
pub trait Contender: Send {
    /// Perform `op` for this candidate.
    fn call(&mut self, op: Op) -> Result<Reply, LeaseError>;
    /// The process id of the backend serving this candidate now.
    fn backend_pid(&mut self) -> Result<i32, LeaseError>;
    /// The holder id this candidate acts for.
    fn holder(&self) -> &HolderId;
    /// The fencing epoch of the tenure this candidate last won, for a lease
    /// with epochs (P8); `None` for a lease without them.
    fn epoch(&self) -> Option<u64> {
        None
    }
    /// The process group that runs this candidate's lease, when it runs in
    /// a process of its own (an adapter, [`crate::lease::ExecLease`]): a
    /// client pause stops it. `None` for a lease run in the harness.
    fn process_group(&self) -> Option<i32> {
        None
    }
}

impl Contender for Lease<'static> {
    fn call(&mut self, op: Op) -> Result<Reply, LeaseError> {
        Ok(Reply::written(match op {
            Op::TryAcquire => self.try_acquire()?,
            Op::Renew => self.renew()?,
            Op::Release => self.release()?,
        }))
    }

    fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        Lease::backend_pid(self)
    }

    fn holder(&self) -> &HolderId {
        Lease::holder(self)
    }
}

impl Contender for FencedLease {
    fn call(&mut self, op: Op) -> Result<Reply, LeaseError> {
        Ok(Reply::written(match op {
            Op::TryAcquire => self.try_acquire()?.map(|t| t.since),
            Op::Renew => self.renew()?,
            Op::Release => self.release()?,
        }))
    }

    fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        FencedLease::backend_pid(self)
    }

    fn holder(&self) -> &HolderId {
        FencedLease::holder(self)
    }

    fn epoch(&self) -> Option<u64> {
        FencedLease::epoch(self)
    }
}

impl Contender for SpecLease {
    fn call(&mut self, op: Op) -> Result<Reply, LeaseError> {
        Ok(Reply {
            took_effect: SpecLease::call(self, op)?,
            server_time: None,
        })
    }

    fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        SpecLease::backend_pid(self)
    }

    fn holder(&self) -> &HolderId {
        SpecLease::holder(self)
    }

    fn epoch(&self) -> Option<u64> {
        SpecLease::epoch(self)
    }
}
