//! Synthetic histories: valid, large and deterministic by seed, for
//! measuring the checker and testing it on more than a run records.
//!
//! - [`race`]: race rounds, each a reset (or an age past the TTL) and then
//!   2..=64 candidates calling `try_acquire` at once; the earliest write
//!   wins; half the rounds the winner renews 1..=3 times. Every round is a
//!   span of its own (the history has a quiescent point between rounds).
//! - [`stress`]: `n` candidates calling back to back with no quiescent
//!   point, a leader renewing, sometimes releasing or stalling past the
//!   TTL, 1 % of the outcomes lost.
//!
//! Both explain themselves under the reference [`Semantics`]: the checker
//! must pass them. [`race_with_second_winners`] breaks every k-th round
//! with a second winner, a P7 and P6 violation in each. Nothing here reads
//! a clock or the environment: the same arguments give the same history.
//!
//! ```
//! use leasecheck_model::{check::check, synthetic};
//! let h = synthetic::race(1_000, 7);
//! assert!(h.events.len() >= 1_000);
//! assert_eq!(h, synthetic::race(1_000, 7));
//! assert!(check(&h).is_pass());
//! ```

use crate::history::{Call, Event, History, Outcome};
use crate::{Candidate, Lease, Op, Semantics, Span, Time};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The harness's candidate id, as the recorder writes it.
const HARNESS: u16 = Candidate::HARNESS.0;

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

fn event(c: u16, call: Call, inv: i64, comp: i64, st: Option<i64>, outcome: Outcome) -> Event {
    Event {
        candidate: Candidate(c),
        call,
        invoke: Time(inv),
        complete: Time(comp),
        server_time: st.map(Time),
        outcome,
    }
}

/// A race history of at least `events` events (see the module), TTL 10 s.
pub fn race(events: usize, seed: u64) -> History {
    race_with_second_winners(events, seed, 0)
}

/// [`race`], every `every`-th round (if not 0) with a second winner.
pub fn race_with_second_winners(events: usize, seed: u64, every: usize) -> History {
    let ops = events;
    let bad_every = every;
    let ttl = Span::from_secs(10).as_micros();
    let acquire = Call::Lease { op: Op::TryAcquire };
    let mut rng = Rng(seed);
    let mut t = 1_000_000_000i64;
    let mut events = Vec::with_capacity(ops + 80);
    let mut held = false;
    let mut round = 0;
    while events.len() < ops {
        round += 1;
        let end = t + rng.range(5, 30);
        let harness = if held && rng.range(0, 2) == 0 {
            Call::Age { by: Span(ttl + 1) }
        } else {
            Call::Reset
        };
        events.push(event(HARNESS, harness, t, end, None, Outcome::Ok));
        t = end + 10;
        let n = rng.range(2, 64) as u16;
        let calls: Vec<(u16, i64, i64, i64)> = (1..=n)
            .map(|c| {
                let inv = t + rng.range(0, 30);
                let point = inv + rng.range(1, 40);
                (c, inv, point, point + rng.range(1, 40))
            })
            .collect();
        let w = (0..calls.len()).min_by_key(|&i| (calls[i].2, i)).unwrap();
        let bad = bad_every > 0 && round % bad_every == 0;
        let mut last = t;
        for (i, &(c, inv, point, comp)) in calls.iter().enumerate() {
            let won = i == w || (bad && i == (w + 1) % calls.len());
            let outcome = if won { Outcome::Ok } else { Outcome::Fail };
            events.push(event(c, acquire, inv, comp, won.then_some(point), outcome));
            last = last.max(comp);
        }
        if rng.range(0, 1) == 0 {
            let (c, _, _, comp) = calls[w];
            let mut at = comp + rng.range(1, 20);
            for _ in 0..rng.range(1, 3) {
                let point = at + rng.range(1, 30);
                let done = point + rng.range(1, 30);
                let renew = Call::Lease { op: Op::Renew };
                events.push(event(c, renew, at, done, Some(point), Outcome::Ok));
                last = last.max(done);
                at = done + rng.range(1, 20);
            }
        }
        held = true;
        t = last + rng.range(10, 100);
    }
    events.sort_by_key(|e| (e.complete, e.invoke));
    History {
        semantics: Semantics::default(),
        ttl: Span(ttl),
        events,
    }
}

/// A stress history of exactly `events` events among `n` candidates (see
/// the module), TTL 5 ms: the leader renews, sometimes releases or stalls
/// past the TTL, the others poll `try_acquire`; each call takes effect at a
/// random instant of its window with `now()` that instant; 1 % of the
/// outcomes are lost (`Unknown`, the call having taken effect or not).
pub fn stress(events: usize, n: u16, seed: u64) -> History {
    let ops = events;
    let ttl = Span::from_millis(5);
    let mut rng = Rng(seed);
    let mut lease = Lease::new(ttl);
    let mut believes = vec![false; usize::from(n) + 1];
    // (point, candidate, invoke, complete, op as an index into Op::ALL)
    let mut queue = BinaryHeap::new();
    let schedule = |rng: &mut Rng, queue: &mut BinaryHeap<_>, c: u16, at: i64, op: Op| {
        let point = at + rng.range(20, 400);
        queue.push(Reverse((
            point,
            c,
            at,
            point + rng.range(20, 400),
            op as u8,
        )));
    };
    for c in 1..=n {
        let at = rng.range(0, 500);
        schedule(&mut rng, &mut queue, c, at, Op::TryAcquire);
    }
    let mut events = Vec::with_capacity(ops);
    while events.len() < ops {
        let Reverse((point, c, invoke, complete, op)) = queue.pop().unwrap();
        let op = Op::ALL[usize::from(op)];
        let lost = rng.range(0, 99) == 0;
        let took = if lost && rng.range(0, 1) == 0 {
            false
        } else {
            lease.apply(Candidate(c), op, Time(point))
        };
        let outcome = match (lost, took) {
            (true, _) => Outcome::Unknown,
            (false, true) => Outcome::Ok,
            (false, false) => Outcome::Fail,
        };
        events.push(Event {
            candidate: Candidate(c),
            call: Call::Lease { op },
            invoke: Time(invoke),
            complete: Time(complete),
            server_time: (outcome == Outcome::Ok).then_some(Time(point)),
            outcome,
        });
        let leads = outcome == Outcome::Ok && op != Op::Release
            || outcome == Outcome::Unknown && believes[usize::from(c)];
        believes[usize::from(c)] = leads;
        let (gap, next) = if leads {
            match rng.range(0, 99) {
                0..=1 => (rng.range(5_000, 8_000), Op::Renew), // a stall past the TTL
                2..=4 => (rng.range(0, 100), Op::Release),
                _ => (rng.range(500, 1_500), Op::Renew),
            }
        } else {
            (rng.range(0, 300), Op::TryAcquire)
        };
        schedule(&mut rng, &mut queue, c, complete + gap, next);
    }
    events.sort_by_key(|e| (e.complete, e.invoke));
    History {
        semantics: Semantics::default(),
        ttl,
        events,
    }
}
