//! The P7 search over one span: Wing & Gong / Lowe's depth-first search over
//! the minimal pending calls, with the pruning rules and the dominance cache
//! described in the parent module, and the report of its deepest dead end.
//!
//! It never reads a clock and never prunes an order that could explain the
//! span: a call is applied without branching only when it changes nothing,
//! and a state is skipped only when an explored one covers it. It never runs
//! past its step budget; it gives up with [`BudgetExhausted`] instead.

use super::calls::{Rec, Rules, St, NOBODY};
use super::{push_end, span_words, End};
use crate::check::ms;
use crate::history::Outcome;
use rustc_hash::FxHashMap;
use std::fmt::Write as _;

/// Most blocked calls remembered for a report.
const BLOCKED_CAP: usize = 8;

/// The span's step budget ran out before the search ended.
#[derive(Debug)]
pub(super) struct BudgetExhausted;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Take effect with result true (Ok calls, and Unknown calls that happened).
    Apply,
    /// Return false, narrowing the interval (a Fail try_acquire).
    Narrow,
    /// Leave an Unknown call out.
    Drop,
}

#[derive(Clone, Copy, Debug)]
struct Choice {
    idx: u32,
    mode: Mode,
    next: St,
    rank: (u8, i64, u32),
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    mark: usize,
    wmark: usize,
    st: St,
    p: usize,
    ndone: usize,
    next: usize,
    end: usize,
    start: usize,
}

/// The deepest dead end seen: for reports.
#[derive(Clone, Debug)]
struct DeadEnd {
    ndone: usize,
    st: St,
    writes: Vec<Rec>,
    blocked: Vec<Rec>,
}

/// Explored configurations, keyed by the first pending call, the leader and
/// the done bits from there to where the last pass stopped: the maximal
/// `acquired_at` intervals explored from each.
type Cache = FxHashMap<Box<[u64]>, Vec<(i64, i64)>>;

/// The search over one span, with buffers reused from span to span.
#[derive(Default)]
pub(super) struct Engine {
    /// Calls in the span.
    n: usize,
    /// Applied (or dropped) calls, as a bitset over the span.
    done: Vec<u64>,
    ndone: usize,
    /// First call not done.
    p: usize,
    /// Where the last pass stopped: no call at or after it is done.
    stop: usize,
    st: St,
    /// Calls done, in order, for undo.
    trail: Vec<u32>,
    /// State-changing calls applied, in order, for reports.
    writes: Vec<u32>,
    frames: Vec<Frame>,
    choices: Vec<Choice>,
    minimal: Vec<u32>,
    cache: Cache,
    key: Vec<u64>,
    steps: u64,
    budget: u64,
    deepest: Option<DeadEnd>,
    /// The call that produced the start state, in an earlier span.
    origin: Option<Rec>,
}

impl Engine {
    pub(super) fn begin(&mut self, n: usize, budget: u64) {
        self.done.clear();
        self.done.resize(n.div_ceil(64), 0);
        if !self.cache.is_empty() {
            self.cache.clear();
        }
        self.steps = 0;
        self.budget = budget;
        self.deepest = None;
    }

    /// Explore the span from `start`. With `enumerate`, every reachable end
    /// state is pushed to `ends`; otherwise the search stops at the first.
    /// Returns whether any order explains the span.
    pub(super) fn run(
        &mut self,
        recs: &[Rec],
        rules: Rules,
        start: St,
        origin: Option<Rec>,
        enumerate: bool,
        ends: &mut Vec<End>,
    ) -> Result<bool, BudgetExhausted> {
        let n = recs.len();
        self.n = n;
        self.origin = origin;
        self.done.iter_mut().for_each(|w| *w = 0);
        self.ndone = 0;
        self.p = 0;
        self.st = start;
        self.trail.clear();
        self.writes.clear();
        self.frames.clear();
        self.choices.clear();
        let mut found = false;
        'descend: loop {
            self.steps += 1;
            if self.steps > self.budget {
                return Err(BudgetExhausted);
            }
            self.pass(recs, rules);
            if self.ndone == n {
                found = true;
                let last = self.writes.last().map(|&i| recs[i as usize]);
                push_end(ends, self.st, last.or(origin));
                if !enumerate {
                    return Ok(true);
                }
            } else {
                let c0 = self.choices.len();
                self.gen_choices(recs, rules);
                let k = self.choices.len() - c0;
                if k == 0 {
                    self.note_dead_end(recs);
                } else if k == 1 {
                    let c = self.choices.pop().expect("one choice");
                    self.take(c);
                    continue 'descend;
                } else if self.seen() {
                    self.choices.truncate(c0);
                } else {
                    self.frames.push(Frame {
                        mark: self.trail.len(),
                        wmark: self.writes.len(),
                        st: self.st,
                        p: self.p,
                        ndone: self.ndone,
                        next: c0 + 1,
                        end: c0 + k,
                        start: c0,
                    });
                    let c = self.choices[c0];
                    self.take(c);
                    continue 'descend;
                }
            }
            // backtrack
            loop {
                let Some(f) = self.frames.last_mut() else {
                    return Ok(found);
                };
                if f.next < f.end {
                    let c = self.choices[f.next];
                    f.next += 1;
                    let f = *f;
                    self.undo(&f);
                    self.take(c);
                    continue 'descend;
                }
                let start = f.start;
                self.frames.pop();
                self.choices.truncate(start);
            }
        }
    }

    fn mark(&mut self, i: usize) {
        self.done[i / 64] |= 1 << (i % 64);
        self.trail.push(i as u32);
        self.ndone += 1;
    }

    /// The first call at or after `i` that is not done (or `n`).
    fn next_undone(&self, i: usize, n: usize) -> usize {
        let mut w = i / 64;
        if w >= self.done.len() {
            return n;
        }
        let mut bits = !self.done[w] & (!0u64 << (i % 64));
        loop {
            if bits != 0 {
                return (w * 64 + bits.trailing_zeros() as usize).min(n);
            }
            w += 1;
            if w >= self.done.len() {
                return n;
            }
            bits = !self.done[w];
        }
    }

    /// Collect the minimal pending calls, applying at once every minimal
    /// `Fail` call that the state allows and that changes nothing.
    fn pass(&mut self, recs: &[Rec], rules: Rules) {
        let n = recs.len();
        self.minimal.clear();
        let mut m = i64::MAX;
        let mut i = self.next_undone(self.p, n);
        while i < n {
            let r = &recs[i];
            if r.olo > m {
                break;
            }
            if r.outcome == Outcome::Fail && r.effect_false(self.st, rules) == Some(self.st) {
                self.mark(i);
            } else {
                m = m.min(r.ohi);
                self.minimal.push(i as u32);
            }
            i = self.next_undone(i + 1, n);
        }
        self.stop = i;
        self.p = self.next_undone(self.p, n);
    }

    fn gen_choices(&mut self, recs: &[Rec], rules: Rules) {
        let c0 = self.choices.len();
        let st = self.st;
        for k in 0..self.minimal.len() {
            let idx = self.minimal[k];
            let r = &recs[idx as usize];
            match r.outcome {
                Outcome::Ok => {
                    if let Some(next) = r.effect_true(st, rules) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Apply,
                            next,
                            rank: (1, r.ohi, idx),
                        });
                    }
                }
                Outcome::Fail => {
                    if let Some(next) = r.effect_false(st, rules) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Narrow,
                            next,
                            rank: (2, next.lo, idx),
                        });
                    }
                }
                Outcome::Unknown => {
                    self.choices.push(Choice {
                        idx,
                        mode: Mode::Drop,
                        next: st,
                        rank: (0, r.ohi, idx),
                    });
                    if let Some(next) = r.effect_true(st, rules) {
                        self.choices.push(Choice {
                            idx,
                            mode: Mode::Apply,
                            next,
                            rank: (3, r.ohi, idx),
                        });
                    }
                }
            }
        }
        if self.choices.len() - c0 >= 2 {
            self.choices[c0..].sort_unstable_by_key(|c| c.rank);
        }
    }

    fn take(&mut self, c: Choice) {
        self.mark(c.idx as usize);
        self.st = c.next;
        if c.mode == Mode::Apply {
            self.writes.push(c.idx);
        }
        if c.idx as usize == self.p {
            self.p = self.next_undone(self.p, self.n);
        }
    }

    fn undo(&mut self, f: &Frame) {
        while self.trail.len() > f.mark {
            let i = self.trail.pop().expect("trail entry") as usize;
            self.done[i / 64] &= !(1 << (i % 64));
        }
        self.ndone = f.ndone;
        self.p = f.p;
        self.st = f.st;
        self.writes.truncate(f.wmark);
    }

    /// Whether this configuration, or one that covers it, was explored
    /// already; if not, remember it.
    fn seen(&mut self) -> bool {
        debug_assert!(self.stop > self.p);
        self.key.clear();
        self.key
            .push(self.p as u64 | u64::from(self.st.code()) << 32);
        let (a, b) = (self.p / 64, (self.stop - 1) / 64);
        self.key.extend_from_slice(&self.done[a..=b]);
        let (lo, hi) = (self.st.lo, self.st.hi);
        if let Some(list) = self.cache.get_mut(&self.key[..]) {
            if list.iter().any(|&(l, h)| l <= lo && hi <= h) {
                return true;
            }
            list.retain(|&(l, h)| !(lo <= l && h <= hi));
            list.push((lo, hi));
            false
        } else {
            self.cache
                .insert(self.key.clone().into_boxed_slice(), vec![(lo, hi)]);
            false
        }
    }

    fn note_dead_end(&mut self, recs: &[Rec]) {
        if self.deepest.as_ref().is_some_and(|d| d.ndone >= self.ndone) {
            return;
        }
        let w = self.writes.len();
        let mut writes: Vec<Rec> = self.origin.iter().copied().collect();
        writes.extend(
            self.writes[w.saturating_sub(2)..]
                .iter()
                .map(|&i| recs[i as usize]),
        );
        let writes = writes.split_off(writes.len().saturating_sub(2));
        self.deepest = Some(DeadEnd {
            ndone: self.ndone,
            st: self.st,
            writes,
            blocked: self
                .minimal
                .iter()
                .take(BLOCKED_CAP)
                .map(|&i| recs[i as usize])
                .collect(),
        });
    }

    /// The report window: around the deepest dead end, else the span's start.
    pub(super) fn window(&self, seg: &[Rec]) -> Vec<usize> {
        let mut w: Vec<usize> = match &self.deepest {
            Some(d) => d
                .writes
                .iter()
                .chain(&d.blocked)
                .map(|r| r.ev as usize)
                .collect(),
            None => seg.iter().take(16).map(|r| r.ev as usize).collect(),
        };
        w.sort_unstable();
        w.dedup();
        w
    }

    pub(super) fn explain(&self, seg: &[Rec], rules: Rules, t0: i64) -> String {
        let mut msg = format!(
            "no order of the {} calls {} explains their outcomes (TTL {} ms)",
            seg.len(),
            span_words(seg, t0),
            ms(rules.ttl)
        );
        let Some(d) = &self.deepest else {
            return msg;
        };
        let _ = write!(msg, "; the longest explanation orders {} of them", d.ndone);
        if !d.writes.is_empty() {
            let w: Vec<String> = d.writes.iter().map(Rec::label).collect();
            let _ = write!(msg, ", last changed by {}", w.join(" then "));
        }
        if d.st.leader == NOBODY {
            msg.push_str(", leaving the lease free");
        } else {
            let _ = write!(msg, ", leaving c{} the leader", d.st.leader);
        }
        msg.push_str("; then none of these could go next:");
        for r in &d.blocked {
            let _ = write!(msg, " {} ({});", r.label(), r.why_not(d.st, rules));
        }
        msg.pop();
        msg
    }
}
