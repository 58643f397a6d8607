//! A lease in any language, as a black box: one candidate's adapter
//! process (`--exec`, [`crate::adapter`]), seen as a [`Contender`]. Its
//! answers become outcomes: `ok` took effect or not, an `error` is an
//! unknown outcome (like a lost connection), and an adapter that breaks
//! the protocol (dies, falls mute, writes a malformed line) is an error
//! that stops the run.
//!
//! The harness finds the candidate's backend by the application name it
//! gave the process (`PGAPPNAME`), on a connection of its own to the
//! server, opened only when a fault needs it.

use super::{Contender, LeaseError};
use crate::adapter::{AdapterCommand, AdapterProcess, Answer, Breakage, Candidacy};
use crate::input::HolderId;
use crate::recorder::Reply;
use leasecheck_model::Op;

/// One candidate's adapter process.
#[derive(Debug)]
pub struct ExecLease {
    process: AdapterProcess,
    holder: HolderId,
    app_name: String,
    server: postgres::Config,
    epoch: Option<u64>,
}

impl ExecLease {
    /// Start `command` as the candidate `who` describes and read its hello;
    /// `server` is where the harness looks up its backend; a break of the
    /// protocol is also kept in `breakage`.
    ///
    /// ```no_run
    /// # fn f(who: leasecheck::adapter::Candidacy, pg: &leasecheck::Postgres) -> Result<(), leasecheck::LeaseError> {
    /// use leasecheck::adapter::AdapterCommand;
    /// use leasecheck::lease::ExecLease;
    /// let command = AdapterCommand::parse("python3 examples/python/adapter.py").expect("a command");
    /// let breakage = leasecheck::adapter::Breakage::default();
    /// let lease = ExecLease::start(&command, who, &pg.config(), &breakage)?;
    /// # Ok(()) }
    /// ```
    pub fn start(
        command: &AdapterCommand,
        who: Candidacy,
        server: &postgres::Config,
        breakage: &Breakage,
    ) -> Result<ExecLease, LeaseError> {
        let process = AdapterProcess::start(command, &who, breakage)
            .map_err(|e| LeaseError::Adapter(Box::new(e)))?;
        Ok(ExecLease {
            process,
            holder: who.holder,
            app_name: who.app_name,
            server: server.clone(),
            epoch: None,
        })
    }

    /// The adapter process.
    pub fn process(&self) -> &AdapterProcess {
        &self.process
    }
}

impl Contender for ExecLease {
    fn call(&mut self, op: Op) -> Result<Reply, LeaseError> {
        match self.process.call(op.into()) {
            Ok(Answer::Done { ok, epoch }) => {
                if op == Op::TryAcquire && ok {
                    self.epoch = epoch;
                }
                Ok(Reply {
                    took_effect: ok,
                    server_time: None,
                })
            }
            Ok(Answer::Error(message)) => {
                if op == Op::TryAcquire {
                    // A tenure it cannot name is not one it holds.
                    self.epoch = None;
                }
                Err(LeaseError::Reported {
                    candidate: self.process.candidate().to_string(),
                    op: op.name(),
                    message,
                })
            }
            Err(e) => {
                self.epoch = None;
                Err(LeaseError::Adapter(Box::new(e)))
            }
        }
    }

    fn backend_pid(&mut self) -> Result<i32, LeaseError> {
        let fail = |reason: String| LeaseError::Backend {
            candidate: self.process.candidate().to_string(),
            app_name: self.app_name.clone(),
            reason,
        };
        let mut client = crate::database::Client::connect(&self.server)
            .map_err(|e| fail(crate::database::diagnostic::pg_message(&e)))?;
        let rows = client
            .query(
                "SELECT pid FROM pg_stat_activity \
                  WHERE application_name = $1 AND backend_type = 'client backend'",
                &[&self.app_name],
            )
            .map_err(|e| fail(crate::database::diagnostic::pg_message(&e)))?;
        match rows.as_slice() {
            [row] => row.try_get(0).map_err(|e| fail(e.to_string())),
            [] => Err(fail(
                "no backend carries it: the adapter's connections must keep the PGAPPNAME \
                 leasecheck sets (libpq-based drivers do by default)"
                    .into(),
            )),
            more => Err(fail(format!(
                "{} backends carry it: backend-stall stops one backend, so the adapter \
                 must use one connection",
                more.len()
            ))),
        }
    }

    fn holder(&self) -> &HolderId {
        &self.holder
    }

    fn epoch(&self) -> Option<u64> {
        self.epoch
    }

    fn process_group(&self) -> Option<i32> {
        Some(self.process.process_group())
    }
}
