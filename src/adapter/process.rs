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
use super::error::{AdapterError, StderrTail};
use super::protocol::{quoted, Answer, Hello, LineError, ProtocolOp, Request, MAX_LINE};
use crate::process::watchdog::WatchedGroup;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How many of an adapter's last stderr lines are kept for messages.
pub const TAIL_LINES: usize = 20;

/// What the stdout reader sends: a line, or why there are no more.
#[derive(Debug)]
enum Line {
    Text(String),
    /// Not UTF-8 (shown with the bad bytes replaced).
    NotUtf8(String),
    /// Longer than [`MAX_LINE`]: its first 300 characters.
    TooLong(String),
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
    /// The first way it broke the protocol: every call after fails alike,
    /// never reading a line meant for an earlier request.
    broken: Option<String>,
    /// Its process group, for the watchdog (dropped after the reap).
    _watch: WatchedGroup,
    /// Where the first break of any adapter of the run is kept.
    breakage: Breakage,
}

/// The first break of the protocol among a set of adapters (a subject's):
/// whatever a scenario made of the call that saw it, the scenario cannot
/// be judged as done (exit 2).
#[derive(Clone, Debug, Default)]
pub struct Breakage(Arc<Mutex<Option<String>>>);

impl Breakage {
    fn record(&self, e: &AdapterError) {
        if let Ok(mut first) = self.0.lock() {
            first.get_or_insert_with(|| e.to_string());
        }
    }

    /// The first break, as its message, if any adapter broke.
    pub fn first(&self) -> Option<String> {
        self.0.lock().ok().and_then(|first| first.clone())
    }
}

impl AdapterProcess {
    /// Start `command` for `who` and read its hello; a break of the
    /// protocol, then or later, is also kept in `breakage`.
    pub fn start(
        command: &AdapterCommand,
        who: &Candidacy,
        breakage: &Breakage,
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
        // Watched from its start: if leasecheck dies without its drops
        // (SIGKILL, a second Ctrl-C), the watchdog kills the group.
        let spawned = cmd
            .spawn()
            .map(|child| (WatchedGroup::new(child.id()), child));
        let (watch, mut child) = spawned.map_err(|source| {
            let e = AdapterError::Spawn {
                candidate: who.candidate.clone(),
                command: command.text().to_string(),
                source,
            };
            breakage.record(&e);
            e
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
            _watch: watch,
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
            broken: None,
            breakage: breakage.clone(),
        };
        let waiting = "its hello (the first line an adapter writes)";
        let hello = process
            .next_line(waiting)
            .and_then(|line| {
                Hello::parse(&line).map_err(|reason| process.malformed(&line, reason, waiting))
            })
            .map_err(|e| process.broke(e))?;
        process.hello = hello;
        Ok(process)
    }

    /// Keep `e` as how this adapter broke (here and in the breakage).
    fn broke(&mut self, e: AdapterError) -> AdapterError {
        self.breakage.record(&e);
        self.broken.get_or_insert_with(|| e.to_string());
        e
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

    /// Ask for `op` and read the answer. After the adapter broke the
    /// protocol once, every call fails at once with how it broke.
    pub fn call(&mut self, op: ProtocolOp) -> Result<Answer, AdapterError> {
        if let Some(first) = &self.broken {
            return Err(AdapterError::Broken {
                candidate: self.candidate.clone(),
                first: first.clone(),
            });
        }
        let answer = self.exchange(op);
        answer.map_err(|e| self.broke(e))
    }

    fn exchange(&mut self, op: ProtocolOp) -> Result<Answer, AdapterError> {
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
            Ok(Line::TooLong(start)) => {
                self.ended = true;
                Err(self.malformed(&start, LineError::TooLong, waiting))
            }
            Ok(Line::NotUtf8(lossy)) => Err(self.malformed(&lossy, LineError::NotUtf8, waiting)),
            Ok(Line::End) | Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                // Give the process a moment to finish exiting, so the
                // message can say how (a status, a signal).
                let how = self
                    .ended_how()
                    .unwrap_or_else(|| "closed its stdout".into());
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

    /// How the process ended, if it has within a moment. It is not reaped
    /// here (`WNOWAIT`): until the drop reaps it, its pid, which is its
    /// process group's id, cannot be taken by another process, so the
    /// drop's kill of the group can only reach what this adapter started.
    fn ended_how(&self) -> Option<String> {
        use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
        let pid = Pid::from_raw(self.process_group());
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT | WaitPidFlag::WNOHANG;
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            match waitid(Id::Pid(pid), flags) {
                Ok(WaitStatus::Exited(_, code)) => {
                    return Some(format!("exited with status {code}"))
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    return Some(format!("was killed by {}", sig.as_str()))
                }
                Ok(_) if std::time::Instant::now() < deadline => {
                    // No notification short of SIGCHLD, which belongs to
                    // the whole process: poll, briefly.
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return None,
            }
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
        // The watch ends after this: the group was reaped.
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
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE => {
                Line::TooLong(String::from_utf8_lossy(&buf).chars().take(300).collect())
            }
            Ok(_) => {
                while matches!(buf.last(), Some(b'\n' | b'\r')) {
                    buf.pop();
                }
                match String::from_utf8(buf) {
                    Ok(text) => Line::Text(text),
                    Err(e) => Line::NotUtf8(String::from_utf8_lossy(e.as_bytes()).into_owned()),
                }
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
