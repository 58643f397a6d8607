//! Timelines as data: the rows of a window with relative times, outcomes and
//! the implied holder, and the text table that `Display` renders from them.

use leasecheck_model::check::{timeline, Holder, Timeline, TimelineOutcome, TimelineRow};
use leasecheck_model::history::{Call, Event, History, Outcome};
use leasecheck_model::{Candidate, Op, Span, Time};

fn event(
    c: Candidate,
    call: Call,
    invoke: i64,
    complete: i64,
    server: Option<i64>,
    outcome: Outcome,
) -> Event {
    Event {
        candidate: c,
        call,
        invoke: Time(invoke),
        complete: Time(complete),
        server_time: server.map(Time),
        outcome,
    }
}

const ACQUIRE: Call = Call::Lease { op: Op::TryAcquire };

#[test]
fn two_events_give_two_rows_relative_to_the_first_invoke() {
    let h = History {
        semantics: Default::default(),
        ttl: Span::from_secs(10),
        events: vec![
            event(
                Candidate(1),
                ACQUIRE,
                1_000,
                1_500,
                Some(1_200),
                Outcome::Ok,
            ),
            event(Candidate(2), ACQUIRE, 1_100, 2_300, None, Outcome::Fail),
        ],
    };
    // out of range and repeated indices are skipped; rows sort by invoke
    let t = timeline(&h, &[1, 0, 7, 1]);
    assert_eq!(
        t,
        Timeline {
            ttl: 10_000_000,
            t0: 1_000,
            rows: vec![
                TimelineRow {
                    event: 0,
                    invoke: 0,
                    complete: 500,
                    server: Some(200),
                    candidate: Candidate(1),
                    who: "c1".to_string(),
                    call: ACQUIRE,
                    outcome: TimelineOutcome::Ok,
                    holder: Holder::Candidate(Candidate(1)),
                },
                TimelineRow {
                    event: 1,
                    invoke: 100,
                    complete: 1_300,
                    server: None,
                    candidate: Candidate(2),
                    who: "c2".to_string(),
                    call: ACQUIRE,
                    outcome: TimelineOutcome::Fail,
                    holder: Holder::Candidate(Candidate(1)),
                },
            ],
        }
    );
    assert_eq!(
        t.to_string(),
        "TTL 10000.000 ms; times in ms after 1000 µs (the first invoke shown)\n   \
         event      invoke    complete      server  who       call                 outcome  holder\n      \
         #0       0.000       0.500       0.200  c1        try_acquire          ok       c1\n      \
         #1       0.100       1.300           -  c2        try_acquire          fail     c1\n"
    );
}

#[test]
fn an_empty_window_is_a_header_without_rows() {
    let h = History {
        semantics: Default::default(),
        ttl: Span::from_millis(1500),
        events: vec![event(Candidate(1), ACQUIRE, 5, 6, None, Outcome::Ok)],
    };
    let t = timeline(&h, &[]);
    assert_eq!((t.ttl, t.t0, t.rows.len()), (1_500_000, 0, 0));
    assert_eq!(
        t.to_string(),
        "TTL 1500.000 ms; times in ms after 0 µs (the first invoke shown)\n   \
         event      invoke    complete      server  who       call                 outcome  holder\n"
    );
}

/// Every kind of call and outcome, the harness, a refused action, a server
/// time before the origin, and the holder as the `Ok` calls move it.
fn every_kind() -> History {
    let act = |epoch, seq| Call::Action { epoch, seq };
    let h = Candidate::HARNESS;
    History {
        semantics: Default::default(),
        ttl: Span::from_millis(100),
        events: vec![
            event(h, Call::Reset, 0, 40, None, Outcome::Ok),
            event(Candidate(3), ACQUIRE, 50, 320, Some(10), Outcome::Ok),
            event(
                h,
                Call::Age {
                    by: Span::from_micros(100_001),
                },
                400,
                430,
                None,
                Outcome::Ok,
            ),
            event(
                Candidate(3),
                act(Some(1), Some(1)),
                500,
                560,
                None,
                Outcome::Ok,
            ),
            event(Candidate(4), ACQUIRE, 600, 12_345, None, Outcome::Unknown),
            event(
                Candidate(3),
                act(Some(1), None),
                700,
                750,
                None,
                Outcome::Fail,
            ),
            event(
                Candidate(3),
                Call::Lease { op: Op::Renew },
                800,
                900,
                Some(850),
                Outcome::Fail,
            ),
            event(
                Candidate(4),
                Call::Lease { op: Op::Release },
                1_000,
                1_100,
                Some(1_050),
                Outcome::Ok,
            ),
            event(
                Candidate(9),
                act(None, Some(7)),
                1_200,
                1_300,
                None,
                Outcome::Ok,
            ),
        ],
    }
}

#[test]
fn display_is_the_table_of_the_rows() {
    let h = every_kind();
    let t = timeline(&h, &(0..h.events.len()).collect::<Vec<_>>());
    let expected = "\
TTL 100.000 ms; times in ms after 0 µs (the first invoke shown)
   event      invoke    complete      server  who       call                 outcome  holder
      #0       0.000       0.040           -  harness   reset                ok       free
      #1       0.050       0.320       0.010  c3        try_acquire          ok       c3
      #2       0.400       0.430           -  harness   age 100.001          ok       c3
      #3       0.500       0.560           -  c3        act epoch=1 seq=1    ok       c3
      #4       0.600      12.345           -  c4        try_acquire          unknown  c3
      #5       0.700       0.750           -  c3        act epoch=1          refused  c3
      #6       0.800       0.900       0.850  c3        renew                fail     c3
      #7       1.000       1.100       1.050  c4        release              ok       free
      #8       1.200       1.300           -  c9        act seq=7            ok       free
";
    assert_eq!(t.to_string(), expected);
    let outcomes: Vec<TimelineOutcome> = t.rows.iter().map(|r| r.outcome).collect();
    use TimelineOutcome::{Fail, Ok, Refused, Unknown};
    assert_eq!(outcomes, [Ok, Ok, Ok, Ok, Unknown, Refused, Fail, Ok, Ok]);
    assert_eq!(t.rows[0].candidate, Candidate::HARNESS);
    assert_eq!(t.rows[0].who, "harness");
    assert_eq!(t.rows[2].holder, Holder::Candidate(Candidate(3)));
    assert_eq!(t.rows[7].holder, Holder::Free);

    // a window that starts later: times move with the origin, and the holder
    // is unknown until a row says
    let t = timeline(&h, &[5, 2]);
    assert_eq!(t.t0, 400);
    assert_eq!(t.rows[1].server, None);
    assert_eq!(
        t.rows.iter().map(|r| r.holder).collect::<Vec<_>>(),
        [Holder::Unknown, Holder::Unknown]
    );
    let t = timeline(&h, &[1, 6]);
    assert_eq!((t.t0, t.rows[0].server), (50, Some(-40)));
    assert!(t.to_string().contains("      -0.040  c3"), "{t}");
}

#[test]
fn serializes_as_numbers_with_the_call_flat() {
    let h = every_kind();
    let t = timeline(&h, &[1, 2, 5]);
    let json = serde_json::to_value(&t).expect("serializes");
    assert_eq!(json["ttl"], 100_000);
    assert_eq!(json["t0"], 50);
    assert_eq!(
        json["rows"][0],
        serde_json::json!({
            "event": 1, "invoke": 0, "complete": 270, "server": -40,
            "candidate": 3, "who": "c3", "call": "lease", "op": "try_acquire",
            "outcome": "ok", "holder": {"candidate": 3},
        })
    );
    assert_eq!(json["rows"][1]["call"], "age");
    assert_eq!(json["rows"][1]["by"], 100_001);
    assert_eq!(json["rows"][1]["server"], serde_json::Value::Null);
    assert_eq!(json["rows"][2]["call"], "action");
    assert_eq!(json["rows"][2]["epoch"], 1);
    assert_eq!(json["rows"][2]["outcome"], "refused");
}
