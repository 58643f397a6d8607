//! An external command run to its end (`initdb`, `pg_basebackup`, `docker
//! pause`, `docker info`, `--version`), never waited on for longer than its
//! timeout: past it the command's whole process group is killed and the
//! error says which command hung and for how long.

use super::watchdog::WatchedGroup;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// Why an external command gave no output.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// It could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command line, as text.
        command: String,
        /// The system's reason.
        source: std::io::Error,
    },
    /// It did not end within its timeout, and was killed.
    #[error("{command} did not finish within {} s and was killed", .timeout.as_secs_f64())]
    Timeout {
        /// The command line, as text.
        command: String,
        /// How long it had.
        timeout: Duration,
    },
    /// Waiting for it failed.
    #[error("cannot wait for {command}: {source}")]
    Wait {
        /// The command line, as text.
        command: String,
        /// The system's reason.
        source: std::io::Error,
    },
}

/// A command and its timeout.
pub struct Tool<'c> {
    command: &'c mut Command,
    timeout: Duration,
}

impl<'c> Tool<'c> {
    /// `command`, to be run within `timeout`.
    pub fn new(command: &'c mut Command, timeout: Duration) -> Tool<'c> {
        Tool { command, timeout }
    }

    /// The command line as text (program and arguments).
    fn text(&self) -> String {
        std::iter::once(self.command.get_program())
            .chain(self.command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Run it to its end, stdin empty, stdout and stderr captured. It runs
    /// in a process group of its own, which is killed past the timeout (and
    /// by the watchdog if leasecheck dies meanwhile).
    pub fn output(self) -> Result<Output, ToolError> {
        use std::os::unix::process::CommandExt;
        let command = self.text();
        let mut child = self
            .command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| ToolError::Spawn {
                command: command.clone(),
                source,
            })?;
        let group = WatchedGroup::new(child.id());
        let read = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut bytes);
                }
                bytes
            })
        };
        let stdout = read(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = read(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let status = match child.wait_timeout(self.timeout) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                // Every process of the group held the pipes: both readers
                // end once the whole group is gone.
                let _ = (stdout.join(), stderr.join());
                drop(group);
                return Err(ToolError::Timeout {
                    command,
                    timeout: self.timeout,
                });
            }
            Err(source) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ToolError::Wait { command, source });
            }
        };
        drop(group);
        Ok(Output {
            status,
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_timeout_is_killed_and_named() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30"]);
        let err = Tool::new(&mut cmd, Duration::from_millis(200))
            .output()
            .expect_err("it cannot finish in time");
        assert!(matches!(err, ToolError::Timeout { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            "sh -c sleep 30 & sleep 30 did not finish within 0.2 s and was killed"
        );
        // It returned at all: the background sleep, which holds the pipes
        // too, was killed with the group (the readers are joined).
    }

    #[test]
    fn a_command_that_ends_gives_its_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let out = Tool::new(&mut cmd, Duration::from_secs(30))
            .output()
            .expect("it runs");
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }

    #[test]
    fn a_missing_command_is_a_spawn_error() {
        let mut cmd = Command::new("/nonexistent/leasecheck-tool");
        let err = Tool::new(&mut cmd, Duration::from_secs(1))
            .output()
            .expect_err("no such program");
        assert!(
            err.to_string()
                .starts_with("cannot run /nonexistent/leasecheck-tool: "),
            "{err}"
        );
    }
}
