//! One adapter process: started with a candidate's environment in a process
//! group of its own, spoken to one line at a time with a deadline on every
//! line it owes, paused and resumed as a whole (a client pause), and killed
//! and reaped when dropped (a run that ends, fails, panics or is
//! interrupted leaves none behind).
//!
//! Two threads per process read its stdout (line by line, bounded) and its
//! stderr (the last [`TAIL_LINES`] kept for messages); the process itself
//! never blocks the harness: a line not there by the deadline is an
//! [`AdapterError::Mute`].

use super::command::{AdapterCommand, Candidacy};
use super::error::{quoted, AdapterError, StderrTail};
use super::protocol::{Answer, Hello, LineError, ProtocolOp, Request, MAX_LINE};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wait_timeout::ChildExt;

/// How many of an adapter's last stderr lines are kept for messages.
pub const TAIL_LINES: usize = 20;

/// What the stdout reader sends: a line, or why there are no more.
#[derive(Debug)]
enum Line {
    Text(String),
    TooLong,
    End,
}

/// A running adapter that said hello.
#[derive(Debug)]
pub struct AdapterProcess {
    candidate: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Closed by the stderr reader when stderr ends.
    stderr_done: Receiver<()>,
    timeout: Duration,
    hello: Hello,
    next_id: u64,
    ended: bool,
}

impl AdapterProcess {
    /// Start `command` for `who` and read its hello.
    pub fn start(
        command: &AdapterCommand,
        who: &Candidacy,
    ) -> Result<AdapterProcess, AdapterError> {
        let mut cmd = Command::new(command.program());
        cmd.args(command.args())
            .envs(who.vars())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a pause stops the adapter and anything
            // it started (a shell wrapper's child), and so does the kill;
            // a Ctrl-C at the terminal reaches leasecheck, which kills it.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|source| AdapterError::Spawn {
            candidate: who.candidate.clone(),
            command: command.text().to_string(),
            source,
        })?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, lines) = mpsc::channel();
        let (done, stderr_done) = mpsc::channel();
        // The readers end when the pipes close (the process is gone); they
        // are never joined, so a grandchild that escaped the group and
        // holds a pipe cannot hang the harness.
        if let Some(stdout) = stdout {
            std::thread::spawn(move || read_lines(stdout, &tx));
        }
        if let Some(stderr) = stderr {
            let tail = Arc::clone(&tail);
            std::thread::spawn(move || {
                keep_tail(stderr, &tail);
                drop(done);
            });
        }
        let mut process = AdapterProcess {
            candidate: who.candidate.clone(),
            child,
            stdin,
            lines,
            tail,
            stderr_done,
            timeout: who.timeout,
            hello: Hello {
                protocol: String::new(),
                ops: Vec::new(),
                epoch: false,
            },
            next_id: 1,
            ended: false,
        };
        let waiting = "its hello (the first line an adapter writes)";
        let line = process.next_line(waiting)?;
        process.hello =
            Hello::parse(&line).map_err(|reason| process.malformed(&line, reason, waiting))?;
        Ok(process)
    }

    /// What the adapter said it supports.
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The candidate this process is.
    pub fn candidate(&self) -> &str {
        &self.candidate
    }

    /// The process group the adapter runs in (its own pid).
    pub fn process_group(&self) -> i32 {
        self.child.id() as i32
    }

    /// Ask for `op` and read the answer.
    pub fn call(&mut self, op: ProtocolOp) -> Result<Answer, AdapterError> {
        let request = Request {
            id: self.next_id,
            op,
        };
        self.next_id += 1;
        let waiting = format!("its answer to {}", request.to_line());
        let written = match &mut self.stdin {
            Some(stdin) => writeln!(stdin, "{}", request.to_line()).and_then(|()| stdin.flush()),
            None => Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)),
        };
        if let Err(source) = written {
            // A closed pipe means the process is gone: say how it ended.
            if let Some(how) = self.ended_how() {
                return Err(self.exited(how, &waiting));
            }
            return Err(AdapterError::Write {
                candidate: self.candidate.clone(),
                source,
                stderr: self.stderr_tail(),
            });
        }
        let line = self.next_line(&waiting)?;
        request
            .answer(&line, self.hello.epoch)
            .map_err(|reason| self.malformed(&line, reason, &waiting))
    }

    /// The next line of stdout, within the timeout.
    fn next_line(&mut self, waiting: &str) -> Result<String, AdapterError> {
        if self.ended {
            return Err(self.exited("had closed its stdout".into(), waiting));
        }
        match self.lines.recv_timeout(self.timeout) {
            Ok(Line::Text(line)) => Ok(line),
            Ok(Line::TooLong) => {
                self.ended = true;
                Err(self.malformed("", LineError::TooLong, waiting))
            }
            Ok(Line::End) | Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                // Give the process a moment to finish exiting, so the
                // message can say how (a status, a signal).
                let how = match self.child.wait_timeout(Duration::from_secs(2)) {
                    Ok(Some(status)) => describe(status),
                    _ => "closed its stdout".into(),
                };
                Err(self.exited(how, waiting))
            }
            Err(RecvTimeoutError::Timeout) => Err(AdapterError::Mute {
                candidate: self.candidate.clone(),
                waited: self.timeout,
                waiting: waiting.to_string(),
                stderr: self.stderr_tail(),
            }),
        }
    }

    /// How the process ended, if it has.
    fn ended_how(&mut self) -> Option<String> {
        match self.child.wait_timeout(Duration::from_secs(2)) {
            Ok(Some(status)) => Some(describe(status)),
            _ => None,
        }
    }

    fn exited(&self, how: String, waiting: &str) -> AdapterError {
        // The process is gone: let the stderr reader reach the end, so its
        // last words are in the message.
        let _ = self.stderr_done.recv_timeout(Duration::from_secs(2));
        AdapterError::Exited {
            candidate: self.candidate.clone(),
            how,
            waiting: waiting.to_string(),
            stderr: self.stderr_tail(),
        }
    }

    fn malformed(&self, line: &str, reason: LineError, waiting: &str) -> AdapterError {
        AdapterError::Malformed {
            candidate: self.candidate.clone(),
            line: quoted(line),
            reason: Box::new(reason),
            waiting: waiting.to_string(),
            stderr: self.stderr_tail(),
        }
    }

    /// Its last stderr lines, as read so far.
    pub fn stderr_tail(&self) -> StderrTail {
        StderrTail(match self.tail.lock() {
            Ok(tail) => tail.iter().cloned().collect(),
            Err(_) => Vec::new(),
        })
    }

    /// Send `sig` to the adapter's whole process group.
    pub fn signal(&self, sig: Signal) -> nix::Result<()> {
        killpg(Pid::from_raw(self.process_group()), sig)
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        // Closing stdin asks a well-behaved adapter to exit; the kill of its
        // group makes sure (a stopped one included), and the wait reaps it.
        drop(self.stdin.take());
        let _ = self.signal(Signal::SIGKILL);
        let _ = self.signal(Signal::SIGCONT);
        let _ = self.child.wait();
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(s) => format!("was killed by {}", s.as_str()),
            Err(_) => format!("was killed by signal {sig}"),
        },
        (None, None) => "ended".into(),
    }
}

/// Read `stdout` line by line (each at most [`MAX_LINE`] bytes) into `tx`.
fn read_lines(stdout: impl Read, tx: &mpsc::Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf);
        let line = match read {
            Ok(0) | Err(_) => Line::End,
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE => Line::TooLong,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                Line::Text(text.trim_end_matches(['\n', '\r']).to_string())
            }
        };
        let last = !matches!(line, Line::Text(_));
        if tx.send(line).is_err() || last {
            return;
        }
    }
}

/// Keep the last [`TAIL_LINES`] lines of `stderr` (each cut at 500 characters).
fn keep_tail(stderr: impl Read, tail: &Mutex<VecDeque<String>>) {
    let reader = BufReader::new(stderr);
    for line in reader.split(b'\n') {
        let Ok(line) = line else { return };
        let text: String = String::from_utf8_lossy(&line).chars().take(500).collect();
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(text.trim_end_matches('\r').to_string());
        }
    }
}
