//! The history checker on hand-made histories: legal ones pass, each kind of
//! violation is caught, and a brute-force search agrees on small random ones.

use leasecheck_model::check::{
    check, check_actions, check_linearizable, check_tenures, check_with, timeline, Options,
    Property, Verdict,
};
use leasecheck_model::history::{Call, Event, History, HistoryError, Outcome};
use leasecheck_model::{synthetic, Candidate, Lease, Op, Semantics, Span, Time};
use std::collections::HashSet;

use Op::{Release, Renew, TryAcquire};
use Outcome::{Fail, Ok as Won, Unknown};

const TTL: Span = Span::from_secs(10);
const HARNESS: u16 = 0;

/// Milliseconds to microseconds.
fn ms(x: f64) -> i64 {
    (x * 1000.0).round() as i64
}

/// A lease call by `c`, times in milliseconds.
fn call(
    c: u16,
    op: Op,
    invoke: f64,
    complete: f64,
    server: Option<f64>,
    outcome: Outcome,
) -> Event {
    Event {
        candidate: Candidate(c),
        call: Call::Lease { op },
        invoke: Time(ms(invoke)),
        complete: Time(ms(complete)),
        server_time: server.map(|s| Time(ms(s))),
        outcome,
    }
}

fn reset(invoke: f64, complete: f64) -> Event {
    harness(Call::Reset, invoke, complete)
}

fn age(by: Span, invoke: f64, complete: f64) -> Event {
    harness(Call::Age { by }, invoke, complete)
}

fn harness(call: Call, invoke: f64, complete: f64) -> Event {
    Event {
        candidate: Candidate(HARNESS),
        call,
        invoke: Time(ms(invoke)),
        complete: Time(ms(complete)),
        server_time: None,
        outcome: Won,
    }
}

fn hist(events: Vec<Event>) -> History {
    History {
        semantics: Default::default(),
        ttl: TTL,
        events,
    }
}

fn props(v: &Verdict) -> Vec<Property> {
    v.violations.iter().map(|v| v.property).collect()
}

#[track_caller]
fn assert_pass(h: &History) {
    let v = check(h);
    assert!(
        v.is_pass(),
        "expected a pass, got {:#?}\n{}",
        v,
        timeline(h, &(0..h.events.len()).collect::<Vec<_>>())
    );
    assert_eq!(v.ops_checked, h.events.len());
}

#[track_caller]
fn assert_p7_violation(h: &History) -> Verdict {
    let v = check(h);
    assert!(
        props(&v).contains(&Property::P7Linearizable),
        "expected a P7 violation, got {v:#?}"
    );
    assert!(v.inconclusive.is_empty(), "{v:#?}");
    v
}

// ---------------------------------------------------------------- legal

#[test]
fn p7_p6_accept_sequential_acquire_renew_release() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Renew, 3000.0, 3001.0, Some(3000.5), Won),
        call(2, TryAcquire, 5000.0, 5001.0, None, Fail),
        call(1, TryAcquire, 5002.0, 5003.0, None, Fail), // not re-entrant
        call(2, Renew, 5004.0, 5005.0, None, Fail),
        call(2, Release, 5006.0, 5007.0, None, Fail),
        call(1, Release, 6000.0, 6001.0, Some(6000.5), Won),
        call(2, TryAcquire, 6500.0, 6501.0, Some(6500.5), Won),
        call(2, Renew, 9000.0, 9001.0, Some(9000.5), Won),
        call(1, Renew, 9500.0, 9501.0, None, Fail),
        call(1, Release, 9600.0, 9601.0, None, Fail),
        call(2, Release, 9700.0, 9701.0, Some(9700.5), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p1_p7_accept_a_race_round_with_one_winner() {
    let mut events = vec![reset(0.0, 0.5)];
    for c in 1..=8u16 {
        let start = 1.0 + f64::from(c) * 0.01;
        let won = c == 5;
        events.push(call(
            c,
            TryAcquire,
            start,
            start + 2.0,
            won.then_some(1.5),
            if won { Won } else { Fail },
        ));
    }
    // the winner renews while the losers are still in flight
    events.push(call(5, Renew, 2.0, 2.5, Some(2.2), Won));
    assert_pass(&hist(events));
}

#[test]
fn p1_p7_accept_a_race_round_on_a_stale_lease() {
    let mut events = vec![call(3, TryAcquire, 0.0, 1.0, Some(0.5), Won)];
    events.push(age(Span(TTL.as_micros() + 1), 10.0, 10.5));
    for c in 1..=6u16 {
        let won = c == 3; // the old holder may take its own stale lease back
        events.push(call(
            c,
            TryAcquire,
            11.0,
            14.0,
            won.then_some(12.0),
            if won { Won } else { Fail },
        ));
    }
    assert_pass(&hist(events));
}

#[test]
fn p2_p6_p7_accept_a_stale_takeover_after_the_ttl() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, TryAcquire, 5000.0, 5001.0, None, Fail),
        call(2, TryAcquire, 10_000.0, 10_001.0, None, Fail), // 10 s old: still fresh
        call(2, TryAcquire, 10_001.0, 10_002.0, Some(10_001.5), Won),
        call(1, Renew, 12_000.0, 12_001.0, None, Fail), // the deposed leader learns
    ]);
    assert_pass(&h);
}

#[test]
fn p7_accepts_an_unknown_acquire_that_took_effect() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 5.0, None, Unknown),
        call(1, Renew, 100.0, 101.0, Some(100.5), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_accepts_an_unknown_acquire_that_never_happened() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 5.0, None, Unknown),
        call(2, TryAcquire, 100.0, 101.0, Some(100.5), Won),
        call(1, Renew, 200.0, 201.0, None, Fail),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_rejects_an_unknown_acquire_needed_both_ways() {
    // c1's renew needs the acquire to have happened, c2's win needs it not to.
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 5.0, None, Unknown),
        call(1, Renew, 100.0, 101.0, Some(100.5), Won),
        call(2, TryAcquire, 200.0, 201.0, Some(200.5), Won),
    ]);
    assert_p7_violation(&h);
}

#[test]
fn p5_p7_accept_a_fail_try_acquire_concurrent_with_a_release() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Release, 5000.0, 5010.0, Some(5005.0), Won),
        call(2, TryAcquire, 5001.0, 5020.0, None, Fail), // linearizes before the release
        call(3, TryAcquire, 5030.0, 5031.0, Some(5030.5), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_accepts_now_values_out_of_commit_order() {
    // c1's statement took now() = 5 ms but reached the row after c2's, whose
    // now() is 6 ms: the row went to c2 and c1 failed. Postgres does this.
    let h = hist(vec![
        reset(0.0, 1.0),
        call(1, TryAcquire, 4.0, 20.0, Some(5.0), Fail),
        call(2, TryAcquire, 5.5, 8.0, Some(6.0), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_tolerates_a_server_time_slightly_outside_the_window() {
    let h = hist(vec![
        call(1, TryAcquire, 10.0, 11.0, Some(9.8), Won),
        call(2, TryAcquire, 10.5, 12.0, None, Fail),
        call(1, Renew, 20.0, 21.0, Some(21.3), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_accepts_any_start_when_told_the_initial_state_is_unknown() {
    let h = hist(vec![call(1, TryAcquire, 0.0, 1.0, None, Fail)]);
    let options = Options {
        start_free: false,
        ..Options::default()
    };
    assert!(check_with(&h, &options).is_pass());
    assert_p7_violation(&h);
}

// ---------------------------------------------------------------- violations

#[test]
fn p1_p7_reject_two_winners_on_a_free_lease() {
    let mut events = vec![reset(0.0, 0.5)];
    for c in 1..=6u16 {
        let won = c == 2 || c == 5;
        events.push(call(
            c,
            TryAcquire,
            1.0,
            3.0,
            won.then_some(1.0 + f64::from(c) * 0.1),
            if won { Won } else { Fail },
        ));
    }
    let h = hist(events);
    let v = assert_p7_violation(&h);
    let p7 = &v.violations[0];
    assert_eq!(p7.property, Property::P7Linearizable);
    // the window shows both winners (events 2 and 5), not the losers
    assert!(p7.window.contains(&2) && p7.window.contains(&5), "{p7:#?}");
    assert!(p7.window.len() <= 4, "{p7:#?}");
    assert!(p7.message.contains("fresh"), "{}", p7.message);
    let table = timeline(&h, &p7.window).to_string();
    assert!(table.contains("c2") && table.contains("c5"), "{table}");
}

/// The server ended candidate `c`'s session (a backend kill), in milliseconds.
fn session_end(c: u16, invoke: f64, complete: f64) -> Event {
    Event {
        candidate: Candidate(c),
        ..harness(Call::SessionEnd, invoke, complete)
    }
}

#[test]
fn p6_p7_accept_a_takeover_right_after_the_holders_session_ended() {
    // a session lease (an advisory lock) goes with its backend: another
    // candidate may take it at once, and the old holder's renew then fails
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        session_end(1, 2000.0, 2010.0),
        call(2, TryAcquire, 2020.0, 2021.0, Some(2020.5), Won),
        call(1, Renew, 2100.0, 2101.0, Some(2100.5), Fail),
    ]);
    assert_pass(&h);
}

#[test]
fn p6_p7_accept_a_row_lease_that_outlives_its_holders_session() {
    // a lease kept in a row stays: the holder's renew on a new connection
    // succeeds and a standby's acquire of the fresh lease fails
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        session_end(1, 2000.0, 2010.0),
        call(2, TryAcquire, 2020.0, 2021.0, Some(2020.5), Fail),
        call(1, Renew, 2100.0, 2101.0, Some(2100.5), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p6_p7_reject_the_old_holders_renew_ok_after_its_session_ended_and_another_took_over() {
    // Wolverine#2602: the killed session's lock was taken by c2, and c1 (on a
    // new connection) still reports that it holds it
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        session_end(1, 2000.0, 2010.0),
        call(2, TryAcquire, 2020.0, 2021.0, Some(2020.5), Won),
        call(1, Renew, 2100.0, 2101.0, Some(2100.5), Won),
    ]);
    let v = assert_p7_violation(&h);
    assert!(
        props(&v).contains(&Property::P6NoOverlappingTenure),
        "{v:#?}"
    );
}

#[test]
fn p7_an_ended_session_frees_only_its_own_lease() {
    // c2's session ending does not free c1's fresh lease
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        session_end(2, 2000.0, 2010.0),
        call(3, TryAcquire, 2020.0, 2021.0, Some(2020.5), Won),
    ]);
    assert_p7_violation(&h);
    // and a session end that failed (the backend was not terminated) frees nothing
    let mut failed = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        session_end(1, 2000.0, 2010.0),
        call(2, TryAcquire, 2020.0, 2021.0, Some(2020.5), Won),
    ]);
    failed.events[1].outcome = Fail;
    assert_p7_violation(&failed);
}

#[test]
fn p2_p6_p7_reject_a_takeover_while_fresh() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, TryAcquire, 5000.0, 5001.0, Some(5000.5), Won),
    ]);
    let v = assert_p7_violation(&h);
    assert!(
        props(&v).contains(&Property::P6NoOverlappingTenure),
        "{v:#?}"
    );
    assert_eq!(v.violations[0].window, vec![0, 1]);
}

#[test]
fn p2_p7_reject_a_takeover_at_exactly_the_ttl() {
    // acquired_at = 0, now = ttl: exactly ttl old is still fresh
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.0), Won),
        call(2, TryAcquire, 9999.0, 10_001.0, Some(10_000.0), Won),
    ]);
    assert_p7_violation(&h);
    let mut ok = h.clone();
    ok.events[1].server_time = Some(Time(10_000_001));
    assert!(check_linearizable(&ok, &Options::default()).is_pass());
}

#[test]
fn p4_p7_reject_a_renew_ok_after_a_takeover() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, TryAcquire, 10_500.0, 10_501.0, Some(10_500.5), Won),
        call(1, Renew, 11_000.0, 11_001.0, Some(11_000.5), Won),
    ]);
    let v = assert_p7_violation(&h);
    assert!(v.violations[0].message.contains("not the leader"), "{v:#?}");
}

#[test]
fn p4_p7_reject_a_delayed_renew_ok_across_a_takeover() {
    // sent at 9 s, before the lease went stale, but answered after the takeover
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Renew, 9000.0, 12_000.0, None, Won),
        call(2, TryAcquire, 10_500.0, 10_501.0, Some(10_500.5), Won),
    ]);
    assert_p7_violation(&h);
}

#[test]
fn p5_p7_reject_a_release_ok_by_a_non_holder() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, Release, 100.0, 101.0, Some(100.5), Won),
    ]);
    let v = assert_p7_violation(&h);
    assert_eq!(v.violations[0].window, vec![0, 1]);
}

/// `repeat_release = true`: the holder that released may release again
/// with success until someone takes the lease; anyone else's release, and
/// its own after a new tenure or a reset, still fail.
#[test]
fn p7_judges_a_repeat_release_by_the_holder_that_released_and_only_by_it() {
    let repeat = Semantics {
        repeat_release: true,
        ..Semantics::REFERENCE
    };
    let with = |semantics, events| History {
        semantics,
        ttl: TTL,
        events,
    };
    let released = || {
        vec![
            call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
            call(1, Release, 10.0, 11.0, Some(10.5), Won),
        ]
    };
    let mut again = released();
    again.push(call(1, Release, 20.0, 21.0, Some(20.5), Won));
    again.push(call(1, Release, 30.0, 31.0, Some(30.5), Won));
    assert_pass(&with(repeat, again.clone()));
    assert_p7_violation(&with(Semantics::REFERENCE, again));

    let mut stranger = released();
    stranger.push(call(2, Release, 20.0, 21.0, Some(20.5), Won));
    assert_p7_violation(&with(repeat, stranger));

    let mut refused = released();
    refused.push(call(1, Release, 20.0, 21.0, Some(20.5), Fail));
    assert_p7_violation(&with(repeat, refused));

    let mut taken = released();
    taken.push(call(2, TryAcquire, 20.0, 21.0, Some(20.5), Won));
    taken.push(call(1, Release, 30.0, 31.0, Some(30.5), Won));
    assert_p7_violation(&with(repeat, taken));

    let mut after_reset = released();
    after_reset.push(reset(20.0, 21.0));
    after_reset.push(call(1, Release, 30.0, 31.0, Some(30.5), Won));
    assert_p7_violation(&with(repeat, after_reset));
}

#[test]
fn p7_rejects_a_fail_try_acquire_on_a_lease_that_must_be_free() {
    let h = hist(vec![
        reset(0.0, 1.0),
        call(1, TryAcquire, 2.0, 3.0, None, Fail),
    ]);
    let v = assert_p7_violation(&h);
    assert!(v.violations[0].message.contains("free"), "{v:#?}");
    // after a release, too
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Release, 5000.0, 5010.0, Some(5005.0), Won),
        call(2, TryAcquire, 5011.0, 5020.0, None, Fail),
    ]);
    assert_p7_violation(&h);
}

#[test]
fn p6_rejects_overlapping_claims() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, None, Won),
        call(2, TryAcquire, 5000.0, 5001.0, None, Won),
    ]);
    let v = check_tenures(&h);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].property, Property::P6NoOverlappingTenure);
    assert_eq!(v[0].window, vec![0, 1]);
    // a renew extends the claim past a takeover that the acquire alone allows
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Renew, 8000.0, 8001.0, Some(8000.5), Won),
        call(2, TryAcquire, 12_000.0, 12_001.0, Some(12_000.5), Won),
    ]);
    assert_eq!(check_tenures(&h).len(), 1);
    assert_p7_violation(&h);
}

#[test]
fn p6_claims_end_at_release_reset_and_age() {
    let released = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Release, 100.0, 101.0, Some(100.5), Won),
        call(2, TryAcquire, 101.0, 102.0, Some(101.5), Won),
    ]);
    let was_reset = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        reset(100.0, 101.0),
        call(2, TryAcquire, 101.5, 102.0, Some(101.7), Won),
    ]);
    let aged = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        age(Span(TTL.as_micros() + 1), 100.0, 101.0),
        call(2, TryAcquire, 101.5, 102.0, Some(101.7), Won),
    ]);
    for h in [released, was_reset, aged] {
        assert!(check_tenures(&h).is_empty());
        assert_pass(&h);
    }
    // an unknown renew does not extend the claim
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Renew, 8000.0, 8001.0, None, Unknown),
        call(2, TryAcquire, 10_001.0, 10_002.0, Some(10_001.5), Won),
    ]);
    assert_pass(&h);
}

#[test]
fn p7_budget_exhaustion_is_inconclusive_not_a_pass() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 5.0, None, Unknown),
        call(2, TryAcquire, 0.0, 5.0, None, Unknown),
        call(1, Renew, 4.0, 11.0, None, Won),
    ]);
    let tight = Options {
        steps_per_op: 0,
        min_steps: 2,
        ..Options::default()
    };
    let v = check_linearizable(&h, &tight);
    assert!(v.violations.is_empty(), "{v:#?}");
    assert_eq!(v.inconclusive.len(), 1, "{v:#?}");
    assert!(!v.is_pass());
    assert!(check(&h).is_pass());
}

#[test]
fn p7_a_non_positive_ttl_is_inconclusive() {
    let h = History {
        semantics: Default::default(),
        ttl: Span(0),
        events: vec![call(1, TryAcquire, 0.0, 1.0, None, Won)],
    };
    let v = check(&h);
    assert!(v.violations.is_empty());
    assert_eq!(v.inconclusive.len(), 1);
}

#[test]
fn property_names_cover_p1_to_p9() {
    let names: Vec<String> = Property::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(names.len(), 9);
    assert_eq!(names[0], "P1 exactly one winner");
    assert_eq!(names[5], "P6 no overlapping tenure");
    for (i, p) in Property::ALL.iter().enumerate() {
        assert_eq!(p.id(), format!("P{}", i + 1));
        assert!(p.name().ends_with(p.title()));
    }
}

// ---------------------------------------------------------------- JSON lines

#[test]
fn history_jsonl_round_trips() {
    let mut h = synthetic::race(300, 7);
    h.events.push(call(9, Renew, 1.0, 2.0, None, Unknown));
    h.events.push(age(Span(12), 3.0, 4.0));
    let mut out = Vec::new();
    h.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("{\"ttl\":10000000}\n"));
    assert_eq!(text.lines().count(), h.events.len() + 1);
    let back = History::read_jsonl(text.as_bytes()).unwrap();
    assert_eq!(back, h);
}

#[test]
fn history_jsonl_reads_extra_keys_blank_lines_and_null() {
    let text = "\n{ \"ttl\" : 5000, \"version\": [1, {\"x\": null}] }\n\n\
        {\"candidate\":2,\"call\":\"lease\",\"op\":\"release\",\"invoke\":1,\"complete\":2,\
         \"server_time\":null,\"outcome\":\"fail\",\"note\":\"a \\\"quoted\\\" \\u00e9\"}\n";
    let h = History::read_jsonl(text.as_bytes()).unwrap();
    assert_eq!(h.ttl, Span(5000));
    assert_eq!(
        h.events,
        vec![Event {
            candidate: Candidate(2),
            call: Call::Lease { op: Release },
            invoke: Time(1),
            complete: Time(2),
            server_time: None,
            outcome: Fail,
        }]
    );
}

#[test]
fn history_jsonl_errors_name_the_line() {
    let good =
        "{\"candidate\":1,\"call\":\"reset\",\"invoke\":1,\"complete\":2,\"outcome\":\"ok\"}";
    let cases: &[(&str, Option<usize>)] = &[
        ("", None),
        ("\n\n", None),
        (good, Some(1)), // no header
        ("{\"ttl\":0}", Some(1)),
        ("{\"ttl\":1.5}", Some(1)),
        ("{\"ttl\":10}\n{\"candidate\":1,", Some(2)),
        ("{\"ttl\":10}\n\n{\"candidate\":1,\"call\":\"reset\"}", Some(3)),
        ("{\"ttl\":10}\n{\"candidate\":70000,\"call\":\"reset\",\"invoke\":1,\"complete\":2,\"outcome\":\"ok\"}", Some(2)),
        ("{\"ttl\":10}\n{\"candidate\":1,\"call\":\"reset\",\"invoke\":3,\"complete\":2,\"outcome\":\"ok\"}", Some(2)),
        ("{\"ttl\":10}\n{\"candidate\":1,\"call\":\"lease\",\"op\":\"steal\",\"invoke\":1,\"complete\":2,\"outcome\":\"ok\"}", Some(2)),
        ("{\"ttl\":10}\n{\"candidate\":1,\"call\":\"reset\",\"invoke\":1,\"complete\":2,\"outcome\":\"maybe\"}", Some(2)),
        ("{\"ttl\":10}\n{\"candidate\":1,\"call\":\"reset\",\"invoke\":1,\"complete\":2,\"outcome\":\"ok\"} x", Some(2)),
    ];
    for &(text, line) in cases {
        let err = History::read_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!(err.line(), line, "{text:?}: {err}");
        if line.is_none() {
            assert!(matches!(err, HistoryError::MissingHeader));
        }
        let shown = err.to_string();
        if let Some(l) = line {
            assert!(shown.starts_with(&format!("line {l}:")), "{shown}");
        }
    }
}

// ---------------------------------------------------------------- scale

#[test]
fn p7_p6_accept_a_race_history_of_100k_ops() {
    let h = synthetic::race(100_000, 42);
    assert!(h.events.len() >= 100_000);
    assert_pass(&h);
}

#[test]
fn p7_p6_find_an_injected_second_winner_in_a_race_history() {
    let mut h = synthetic::race(100_000, 43);
    // turn a loser in the middle into a second winner
    let mid = h.events.len() / 2;
    let i = (mid..h.events.len())
        .find(|&i| h.events[i].outcome == Fail)
        .unwrap();
    h.events[i].outcome = Won;
    h.events[i].server_time = Some(h.events[i].complete);
    let v = check(&h);
    assert!(v.inconclusive.is_empty(), "{v:#?}");
    let p7: Vec<_> = v
        .violations
        .iter()
        .filter(|v| v.property == Property::P7Linearizable)
        .collect();
    assert_eq!(p7.len(), 1, "{v:#?}");
    assert!(p7[0].window.contains(&i), "{:#?}", p7[0]);
    assert!(p7[0].window.len() <= 10, "{:#?}", p7[0]);
}

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

#[test]
fn p7_p6_accept_a_stress_history_without_quiescent_points() {
    for (n, seed) in [(2, 1), (8, 2), (32, 3)] {
        let h = synthetic::stress(20_000, n, seed);
        let v = check(&h);
        assert!(v.is_pass(), "{n} candidates: {v:#?}");
    }
}

#[test]
fn p4_p7_find_a_renew_ok_after_takeover_in_a_stress_history() {
    let mut h = synthetic::stress(20_000, 8, 4);
    // a deposed leader's renew that comes back Ok: find a Fail renew after
    // some other candidate's Ok acquire, and flip it
    let i = (h.events.len() / 2..h.events.len())
        .find(|&i| {
            let e = &h.events[i];
            e.call == Call::Lease { op: Renew } && e.outcome == Fail
        })
        .unwrap();
    h.events[i].outcome = Won;
    let v = check(&h);
    assert!(v.inconclusive.is_empty(), "{v:#?}");
    assert!(props(&v).contains(&Property::P7Linearizable), "{v:#?}");
    assert!(
        v.violations[0].window.contains(&i),
        "{:#?}",
        v.violations[0]
    );
}

// ---------------------------------------------------------------- brute force

/// Decide P7 by brute force: every order consistent with real time, every
/// now() in each window, each Unknown call left out or applied, on the real
/// model `Lease`.
fn brute_force(h: &History) -> bool {
    struct C {
        olo: i64,
        ohi: i64,
        nows: Vec<i64>,
        e: Event,
    }
    let calls: Vec<C> = h
        .events
        .iter()
        .filter(|e| matches!(e.call, Call::Lease { .. }) || e.outcome != Fail)
        .map(|e| {
            let (olo, ohi, nows) = match e.server_time {
                Some(st) => (e.invoke.0.min(st.0), e.complete.0.max(st.0), vec![st.0]),
                None => (
                    e.invoke.0,
                    e.complete.0,
                    (e.invoke.0..=e.complete.0).collect(),
                ),
            };
            C {
                olo,
                ohi,
                nows,
                e: *e,
            }
        })
        .collect();
    fn go(calls: &[C], done: u32, lease: Lease, dead: &mut HashSet<(u32, Lease)>) -> bool {
        if done.count_ones() as usize == calls.len() {
            return true;
        }
        if dead.contains(&(done, lease)) {
            return false;
        }
        let pending = |j: usize| done & (1 << j) == 0;
        for (i, c) in calls.iter().enumerate() {
            if !pending(i) || (0..calls.len()).any(|j| pending(j) && calls[j].ohi < c.olo) {
                continue;
            }
            let next = done | (1 << i);
            // an ended session may or may not have taken its lease along
            let unknown =
                c.e.outcome == Unknown || (c.e.call == Call::SessionEnd && c.e.outcome == Won);
            if unknown && go(calls, next, lease, dead) {
                return true;
            }
            for &now in &c.nows {
                let mut l = lease;
                let result = match c.e.call {
                    Call::Lease { op } => l.apply(c.e.candidate, op, Time(now)),
                    Call::Reset => {
                        l.reset();
                        true
                    }
                    Call::Age { by } => {
                        l.age(by);
                        true
                    }
                    // a session end that failed changed nothing
                    Call::SessionEnd if c.e.outcome == Fail => false,
                    Call::SessionEnd => {
                        if l.leader() == Some(c.e.candidate) {
                            l.reset();
                        }
                        true
                    }
                    Call::Action { .. } => true,
                };
                let allowed = match c.e.outcome {
                    Won => result,
                    Fail => !result,
                    Unknown => true,
                };
                if allowed && go(calls, next, l, dead) {
                    return true;
                }
            }
        }
        dead.insert((done, lease));
        false
    }
    go(
        &calls,
        0,
        Lease::with_semantics(h.ttl, h.semantics),
        &mut HashSet::new(),
    )
}

/// A small random history of up to `calls_max` calls invoked in
/// `0..=spread`, each lasting up to `length`: simulated on the model (each call at a random
/// point of its window, with a random now() in the window, or exactly the
/// point when `now_is_point`), some outcomes made Unknown, and when `mutate`
/// one outcome changed at random.
fn small_history(
    rng: &mut Rng,
    (spread, length, calls_max): (i64, i64, i64),
    now_is_point: bool,
    mutate: bool,
    semantics: Semantics,
) -> History {
    let ttl = rng.range(1, 6);
    let n = rng.range(1, calls_max) as usize;
    let mut calls = Vec::new();
    for _ in 0..n {
        let inv = rng.range(0, spread);
        let comp = inv + rng.range(0, length);
        let kind = rng.range(0, 99);
        let call = match kind {
            0..=44 => Call::Lease { op: TryAcquire },
            45..=69 => Call::Lease { op: Renew },
            70..=84 => Call::Lease { op: Release },
            85..=92 => Call::Reset,
            93..=95 => Call::SessionEnd,
            _ => Call::Age {
                by: Span(rng.range(1, 6)),
            },
        };
        let candidate = match call {
            Call::Lease { .. } | Call::SessionEnd => Candidate(rng.range(1, 3) as u16),
            _ => Candidate(HARNESS),
        };
        let point = rng.range(inv, comp);
        let now = if now_is_point {
            point
        } else {
            rng.range(inv, comp)
        };
        calls.push((
            point,
            rng.next(),
            now,
            Event {
                candidate,
                call,
                invoke: Time(inv),
                complete: Time(comp),
                server_time: None,
                outcome: Won,
            },
        ));
    }
    calls.sort_by_key(|c| (c.0, c.1));
    let mut lease = Lease::with_semantics(Span(ttl), semantics);
    let mut events = Vec::new();
    for (_, r, now, mut e) in calls {
        let unknown = r % 7 == 0;
        let skip = unknown && r % 2 == 0;
        let result = if skip {
            false
        } else {
            match e.call {
                Call::Lease { op } => lease.apply(e.candidate, op, Time(now)),
                Call::Reset => {
                    lease.reset();
                    true
                }
                Call::Age { by } => {
                    lease.age(by);
                    true
                }
                // a session lease goes with its session, a row lease stays
                Call::SessionEnd => {
                    if r % 3 == 0 && lease.leader() == Some(e.candidate) {
                        lease.reset();
                    }
                    true
                }
                Call::Action { .. } => true,
            }
        };
        e.outcome = if unknown {
            Unknown
        } else if result {
            Won
        } else {
            Fail
        };
        if matches!(e.call, Call::Lease { .. }) && (r >> 8) % 2 == 0 && !unknown {
            e.server_time = Some(Time(now));
        }
        events.push(e);
    }
    if mutate && !events.is_empty() {
        let i = rng.range(0, events.len() as i64 - 1) as usize;
        events[i].outcome = [Won, Fail, Unknown][rng.range(0, 2) as usize];
        if rng.range(0, 1) == 0 {
            events[i].server_time = None;
        }
    }
    // recorded in completion order
    events.sort_by_key(|e| e.complete);
    History {
        semantics,
        ttl: Span(ttl),
        events,
    }
}

/// P7's verdict on `h` is the brute force's (asserted, naming `case`);
/// returns whether `h` is legal.
fn agrees_with_brute_force(h: &History, case: &str) -> bool {
    let expected = brute_force(h);
    let v = check_linearizable(h, &Options::default());
    assert!(v.inconclusive.is_empty(), "{v:#?}");
    assert_eq!(
        v.violations.is_empty(),
        expected,
        "{case}: brute force says {expected}, checker says {v:#?}\n{h:#?}\n{}",
        timeline(h, &(0..h.events.len()).collect::<Vec<_>>())
    );
    expected
}

#[test]
fn p7_agrees_with_brute_force_on_small_random_histories() {
    let mut rng = Rng(2024);
    let (mut legal, mut illegal) = (0, 0);
    for case in 0..9000 {
        // sparse, dense and very dense windows
        let shape = [(16, 4, 7), (8, 6, 9), (5, 8, 9)][case % 3];
        let h = small_history(
            &mut rng,
            shape,
            case % 5 == 0,
            case % 2 == 1,
            Semantics::REFERENCE,
        );
        if agrees_with_brute_force(&h, &format!("case {case}")) {
            legal += 1;
        } else {
            illegal += 1;
        }
    }
    assert!(
        legal > 1000 && illegal > 500,
        "{legal} legal, {illegal} illegal"
    );
}

/// The same for every declared semantics: the checker, parameterised, and
/// a brute force on the parameterised model agree.
#[test]
fn p7_agrees_with_brute_force_under_every_declared_semantics() {
    let mut rng = Rng(2026);
    let all = Semantics::all();
    for (k, &semantics) in all.iter().enumerate() {
        let (mut legal, mut illegal) = (0, 0);
        for case in 0..600 {
            let shape = [(16, 4, 7), (8, 6, 8), (5, 8, 8)][case % 3];
            let h = small_history(&mut rng, shape, case % 5 == 0, case % 2 == 1, semantics);
            if agrees_with_brute_force(&h, &format!("semantics #{k} ({semantics}), case {case}")) {
                legal += 1;
            } else {
                illegal += 1;
            }
        }
        assert!(
            legal > 60 && illegal > 30,
            "semantics {semantics}: {legal} legal, {illegal} illegal"
        );
    }
}

#[test]
fn p6_p7_accept_every_simulated_history() {
    let mut rng = Rng(99);
    let all = Semantics::all();
    for case in 0..6000 {
        let semantics = all[case % all.len()];
        let h = small_history(
            &mut rng,
            [(16, 4, 8), (6, 6, 8)][case % 2],
            true,
            false,
            semantics,
        );
        let v = check(&h);
        assert!(
            v.is_pass(),
            "case {case} ({semantics}): {v:#?}\n{}",
            timeline(&h, &(0..h.events.len()).collect::<Vec<_>>())
        );
    }
}

// ---------------------------------------------------------------- P8 actions

/// An action (a write to the protected resource) by `c`, times in milliseconds.
fn act(
    c: u16,
    epoch: Option<u64>,
    seq: Option<u64>,
    invoke: f64,
    complete: f64,
    outcome: Outcome,
) -> Event {
    Event {
        candidate: Candidate(c),
        call: Call::Action { epoch, seq },
        invoke: Time(ms(invoke)),
        complete: Time(ms(complete)),
        server_time: None,
        outcome,
    }
}

/// c1 leads and acts, renews at 3 s, acts, then pauses past the TTL; c2 takes
/// over at 13.5 s and acts; c1 wakes and writes with `zombie_outcome`, then
/// learns at its next renew. Event 6 is the zombie's write.
fn zombie_history(zombie_outcome: Outcome) -> History {
    hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        act(1, Some(1), Some(1), 2.0, 3.0, Won),
        call(1, Renew, 3000.0, 3001.0, Some(3000.5), Won),
        act(1, Some(1), Some(2), 3002.0, 3003.0, Won),
        call(2, TryAcquire, 13500.0, 13501.0, Some(13500.5), Won),
        act(2, Some(2), Some(3), 13502.0, 13503.0, Won),
        act(
            1,
            Some(1),
            (zombie_outcome == Won).then_some(4),
            14000.0,
            14001.0,
            zombie_outcome,
        ),
        call(1, Renew, 14002.0, 14003.0, None, Fail),
    ])
}

#[test]
fn zombie_write_after_a_takeover_is_an_action_outside_its_tenure_and_an_overlap_of_actors() {
    let h = zombie_history(Won);
    // the lease itself behaved: P6 and P7 hold
    assert!(check_linearizable(&h, &Options::default()).is_pass());
    assert!(check_tenures(&h).is_empty());
    let v = check_actions(&h);
    assert_eq!(v.stale, vec![6], "{v:#?}");
    assert_eq!((v.accepted, v.refused), (4, 0));
    assert_eq!(v.violations.len(), 2, "{v:#?}");
    assert!(v
        .violations
        .iter()
        .all(|x| x.property == Property::P8FencingEpoch));
    let outside = &v.violations[0];
    assert!(
        outside
            .message
            .contains("c1's action #6 (epoch 1) was accepted after its tenure had ended")
            && outside
                .message
                .contains("c2's try_acquire #4 took the lease over"),
        "{}",
        outside.message
    );
    // the timeline shows the confirmation, the takeover, the new leader's
    // write, the stale write and the renew where c1 learns
    assert_eq!(outside.window, vec![2, 4, 5, 6, 7]);
    let table = timeline(&h, &outside.window).to_string();
    assert!(table.contains("act epoch=1 seq=4"), "{table}");
    let stale_row = table.lines().find(|l| l.contains("#6")).expect("row #6");
    assert!(
        stale_row.trim_end().ends_with("c2"),
        "c2 holds the lease: {table}"
    );
    let overlap = &v.violations[1];
    assert!(
        overlap.message.contains("c1 and c2 acted at once")
            && overlap.message.contains("seq 4 after seq 3"),
        "{}",
        overlap.message
    );
    assert_eq!(overlap.window, vec![0, 4, 5, 6]);
    // check() reports them after P7 and P6 (none here)
    assert_eq!(
        props(&check(&h)),
        vec![Property::P8FencingEpoch, Property::P8FencingEpoch]
    );
}

#[test]
fn fenced_zombie_write_refused_by_the_resource_is_not_a_stale_write() {
    let h = zombie_history(Fail);
    let v = check_actions(&h);
    assert!(v.violations.is_empty(), "{v:#?}");
    assert_eq!((v.accepted, v.refused), (3, 1));
    assert_pass(&h);
    let table = timeline(&h, &[6]).to_string();
    assert!(table.contains("refused"), "{table}");
}

#[test]
fn zombie_write_sent_in_time_that_lands_after_the_new_leaders_write_is_caught_by_resource_order() {
    // c1's write leaves inside its tenure (at 3.005 s) but is held on the way
    // (a stalled connection) and lands after c2's first write.
    let late = |seq: Option<u64>, c2_seq: Option<u64>| {
        hist(vec![
            call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
            call(1, Renew, 3000.0, 3001.0, Some(3000.5), Won),
            act(1, None, seq, 3005.0, 14010.0, Won),
            call(2, TryAcquire, 13500.0, 13501.0, Some(13500.5), Won),
            act(2, None, c2_seq, 13502.0, 13503.0, Won),
        ])
    };
    let v = check_actions(&late(Some(2), Some(1)));
    assert_eq!(v.stale, vec![2], "{v:#?}");
    assert_eq!(
        v.violations.len(),
        1,
        "not outside its tenure when sent: {v:#?}"
    );
    assert!(v.violations[0].message.contains("c1 and c2 acted at once"));
    // Without the resource's order the two windows overlap: either order is
    // possible, so nothing is blamed.
    assert!(check_actions(&late(None, None)).violations.is_empty());
    // The resource put c1's write first: legal.
    assert!(check_actions(&late(Some(1), Some(2))).violations.is_empty());
}

#[test]
fn zombie_check_lets_a_stale_lease_that_nobody_took_over_act() {
    // c1 pauses past the TTL and writes; nobody took over: still its tenure.
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        act(1, None, None, 25000.0, 25001.0, Won),
        call(1, Renew, 25002.0, 25003.0, Some(25002.5), Won),
        act(1, None, None, 25004.0, 25005.0, Won),
    ]);
    assert_pass(&h);
}

#[test]
fn zombie_check_reports_an_actor_that_never_held_the_lease() {
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        act(3, None, None, 2.0, 3.0, Won),
    ]);
    let v = check_actions(&h);
    assert_eq!(v.stale, vec![1]);
    assert!(
        v.violations[0].message.contains("c3 held no tenure"),
        "{v:#?}"
    );
}

#[test]
fn zombie_check_never_blames_an_unknown_action() {
    assert!(check_actions(&zombie_history(Unknown))
        .violations
        .is_empty());
}

#[test]
fn zombie_check_reports_actions_after_a_release_or_a_reset() {
    let released = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(1, Release, 2.0, 3.0, Some(2.5), Won),
        act(1, None, None, 4.0, 5.0, Won),
    ]);
    let v = check_actions(&released);
    assert_eq!(v.stale, vec![2]);
    assert!(
        v.violations[0]
            .message
            .contains("c1 released the lease (#1)"),
        "{v:#?}"
    );
    let reset = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        harness(Call::Reset, 2.0, 3.0),
        act(1, None, None, 4.0, 5.0, Won),
    ]);
    let v = check_actions(&reset);
    assert!(
        v.violations[0]
            .message
            .contains("the harness reset the lease (#1)"),
        "{v:#?}"
    );
}

#[test]
fn zombie_check_accepts_leaders_that_take_turns() {
    // c1 leads, c2 takes over and releases, c1 leads again: three tenures,
    // never two at once.
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        act(1, Some(1), Some(1), 2.0, 3.0, Won),
        call(2, TryAcquire, 10100.0, 10101.0, Some(10100.5), Won),
        act(2, Some(2), Some(2), 10102.0, 10103.0, Won),
        call(2, Release, 10104.0, 10105.0, Some(10104.5), Won),
        call(1, TryAcquire, 10106.0, 10107.0, Some(10106.5), Won),
        act(1, Some(3), Some(3), 10108.0, 10109.0, Won),
    ]);
    assert_pass(&h);
}

#[test]
fn zombie_check_gives_an_action_concurrent_with_the_takeover_the_benefit_of_the_doubt() {
    // c1's write and c2's takeover overlap in time: the write may have
    // landed first.
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, TryAcquire, 10100.0, 10110.0, None, Won),
        act(1, None, None, 10105.0, 10106.0, Won),
        act(2, None, None, 10111.0, 10112.0, Won),
    ]);
    assert_pass(&h);
}

#[test]
fn action_lines_round_trip_through_json_lines_and_older_lines_read_unchanged() {
    let h = zombie_history(Won);
    let mut out = Vec::new();
    h.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains(r#"{"candidate":1,"call":"action","epoch":1,"seq":4,"invoke":14000000,"complete":14001000,"outcome":"ok"}"#),
        "{text}"
    );
    assert_eq!(History::read_jsonl(text.as_bytes()).unwrap(), h);
    // epoch and seq are optional; a line without them reads as None
    let minimal = "{\"ttl\":5}\n{\"candidate\":0,\"call\":\"action\",\"invoke\":1,\"complete\":2,\"outcome\":\"fail\"}\n\
                   {\"candidate\":0,\"call\":\"lease\",\"op\":\"renew\",\"invoke\":3,\"complete\":4,\"outcome\":\"ok\"}\n";
    let read = History::read_jsonl(minimal.as_bytes()).unwrap();
    assert_eq!(
        read.events[0].call,
        Call::Action {
            epoch: None,
            seq: None
        }
    );
    assert_eq!(read.events[1].call, Call::Lease { op: Renew });
}

#[test]
fn fenced_write_after_a_takeover_but_before_the_new_leaders_first_write_is_ordered_by_the_fence() {
    // The database paused with c1's work in flight; on resume c2's queued
    // takeover completes first, then c1's write lands before c2's first
    // write. A fence accepts it (no newer epoch yet): it is ordered before
    // the whole new tenure, so it is not blamed. Unfenced, nothing at the
    // resource orders it: it is.
    let h = |epoch: Option<u64>, c2_epoch: Option<u64>| {
        hist(vec![
            call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
            call(2, TryAcquire, 5.0, 11000.0, Some(10999.0), Won),
            act(1, epoch, Some(1), 11001.0, 11002.0, Won),
            act(2, c2_epoch, Some(2), 11003.0, 11004.0, Won),
            call(1, Renew, 11005.0, 11006.0, None, Fail),
        ])
    };
    assert_pass(&h(Some(1), Some(2)));
    let unfenced = check_actions(&h(None, None));
    assert_eq!(unfenced.stale, vec![2], "{unfenced:#?}");
    assert_eq!(unfenced.violations.len(), 1);
    assert!(unfenced.violations[0]
        .message
        .contains("c2's try_acquire #1 took the lease over"));
}

#[test]
fn fenced_write_that_lands_after_the_new_leaders_write_is_blamed_both_ways() {
    // A broken fence (it records epochs but does not compare them) accepts
    // the zombie's epoch-1 write after the epoch-2 write.
    let h = hist(vec![
        call(1, TryAcquire, 0.0, 1.0, Some(0.5), Won),
        call(2, TryAcquire, 10100.0, 10101.0, Some(10100.5), Won),
        act(2, Some(2), Some(1), 10102.0, 10103.0, Won),
        act(1, Some(1), Some(2), 10104.0, 10105.0, Won),
    ]);
    let v = check_actions(&h);
    assert_eq!(v.stale, vec![3]);
    assert_eq!(v.violations.len(), 2, "{v:#?}");
    assert!(v.violations[0]
        .message
        .contains("after its tenure had ended"));
    assert!(v.violations[1].message.contains("c1 and c2 acted at once"));
}
