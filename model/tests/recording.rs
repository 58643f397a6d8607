//! Recordings keep every scenario in a section of its own, read back exactly
//! what was written, and refuse what they cannot read with the line.

use leasecheck_model::check::Property;
use leasecheck_model::history::{Call, Event, History, HistoryError, Outcome};
use leasecheck_model::recording::{
    AbortKind, Aborted, FaultWindow, Finding, Recording, Section, SectionHeader, StaleWrites,
};
use leasecheck_model::{Candidate, Op, Span, Time};

fn acquire(who: u16, invoke: i64, outcome: Outcome) -> Event {
    Event {
        candidate: Candidate(who),
        call: Call::Lease { op: Op::TryAcquire },
        invoke: Time(invoke),
        complete: Time(invoke + 10),
        server_time: (outcome == Outcome::Ok).then_some(Time(invoke + 5)),
        outcome,
    }
}

fn sample() -> Recording {
    let race = Section {
        header: SectionHeader {
            scenario: "race".into(),
            lease: Some("reference lease (built-in)".into()),
            schema: Some("leasecheck_1".into()),
            fault: None,
            seed: Some(7),
            stale_writes: StaleWrites::Violation,
        },
        history: History {
            semantics: Default::default(),
            ttl: Span::from_millis(200),
            events: vec![acquire(1, 100, Outcome::Ok), acquire(2, 101, Outcome::Ok)],
        },
        findings: vec![Finding {
            property: Property::P1ExactlyOneWinner,
            message: "round 0: 2 candidates raced on a free lease and 2 won [c1, c2]".into(),
            events: vec![acquire(1, 100, Outcome::Ok), acquire(2, 101, Outcome::Ok)],
        }],
        aborted: None,
        faults: Vec::new(),
        unchecked: None,
    };
    let zombie = Section {
        header: SectionHeader {
            scenario: "zombie/client-pause".into(),
            fault: Some("client-pause".into()),
            stale_writes: StaleWrites::Informational,
            ..SectionHeader::default()
        },
        history: History {
            semantics: Default::default(),
            ttl: Span::from_millis(200),
            events: vec![acquire(1, 500, Outcome::Fail)],
        },
        findings: Vec::new(),
        aborted: Some(Aborted {
            kind: AbortKind::NotApplicable,
            reason: "needs a local server".into(),
        }),
        unchecked: Some("no round of the trial staged a zombie".into()),
        faults: vec![
            FaultWindow {
                fault: "client-pause".into(),
                on: Some(Candidate(1)),
                start: Time(400),
                end: Time(700),
            },
            FaultWindow {
                fault: "database-pause".into(),
                on: None,
                start: Time(800),
                end: Time(800),
            },
        ],
    };
    Recording {
        seed: Some(7),
        replay: Some("leasecheck check --seed 7".into()),
        sections: vec![race, zombie],
    }
}

#[test]
fn a_recording_reads_back_exactly_what_was_written_section_by_section() {
    let rec = sample();
    let mut out = Vec::new();
    rec.write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.contains("\"scenario\"")).count(),
        2
    );
    assert_eq!(Recording::read_jsonl(text.as_bytes()).unwrap(), rec);
}

#[test]
fn a_file_of_one_ttl_header_is_one_section_named_history() {
    let h = History {
        semantics: Default::default(),
        ttl: Span::from_secs(1),
        events: vec![acquire(3, 0, Outcome::Ok)],
    };
    let mut out = Vec::new();
    h.write_jsonl(&mut out).unwrap();
    let rec = Recording::read_jsonl(&out[..]).unwrap();
    assert_eq!(rec.sections.len(), 1);
    assert_eq!(rec.sections[0].header.scenario, "history");
    assert_eq!(rec.sections[0].history, h);
}

#[test]
fn a_single_history_refuses_a_file_of_several_scenarios() {
    let mut out = Vec::new();
    sample().write_jsonl(&mut out).unwrap();
    let err = History::read_jsonl(&out[..]).unwrap_err();
    assert!(matches!(err, HistoryError::Scenarios { count: 2 }), "{err}");
    assert!(err.to_string().contains("2 scenarios"), "{err}");
}

#[test]
fn unreadable_lines_are_refused_naming_the_line_and_what_is_wrong() {
    let event =
        r#"{"candidate":1,"call":"lease","op":"renew","invoke":1,"complete":2,"outcome":"ok"}"#;
    let cases: &[(&str, usize, &str)] = &[
        (event, 1, "before any scenario header"),
        ("{\"scenario\":\"race\"}", 1, "missing field `ttl`"),
        ("{\"scenario\":\"race\",\"ttl\":0}", 1, "must be positive"),
        (
            "{\"scenario\":\"race\",\"ttl\":5}\n{\"format\":\"leasecheck-history\"}",
            2,
            "after the first line",
        ),
        ("{\"format\":\"other\"}", 1, "is not \"leasecheck-history\""),
        (
            "{\"format\":\"leasecheck-history\",\"version\":99}",
            1,
            "newer than this leasecheck reads",
        ),
        (
            "{\"scenario\":\"race\",\"ttl\":5}\n[1,2]",
            2,
            "expected a JSON object",
        ),
        (
            "{\"scenario\":\"race\",\"ttl\":5}\n{\"x\":1}",
            2,
            "keys [x]",
        ),
        (
            "{\"scenario\":\"race\",\"ttl\":5}\n{\"aborted\":\"exploded\"}",
            2,
            "unknown variant `exploded`",
        ),
        (
            "{\"ttl\":5}\n{\"ttl\":6}",
            2,
            "a second {\"ttl\":...} header",
        ),
        (
            "{\"ttl\":5}\n{\"unchecked\":\"a\"}\n{\"unchecked\":\"b\"}",
            3,
            "a second unchecked line",
        ),
        (
            "{\"ttl\":5}\n{\"fault\":\"client-pause\",\"from\":9,\"until\":3}",
            2,
            "a fault window until 3 that starts later, from 9",
        ),
    ];
    for (text, line, says) in cases {
        let err = Recording::read_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!(err.line(), Some(*line), "{text}: {err}");
        let shown = err.to_string();
        assert!(shown.contains(says), "{text}: {shown}");
        assert!(shown.starts_with(&format!("line {line}: ")), "{shown}");
    }
    assert!(matches!(
        Recording::read_jsonl("\n\n".as_bytes()).unwrap_err(),
        HistoryError::MissingHeader
    ));
}

#[test]
fn a_recording_cut_short_or_edited_is_refused_never_judged_on_what_is_left() {
    let mut out = Vec::new();
    sample().write_jsonl(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Cut at every line boundary: never read as a whole recording.
    for keep in 1..lines.len() {
        let cut = lines[..keep].join("\n");
        let err = Recording::read_jsonl(cut.as_bytes()).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("cut short") || shown.contains("before any scenario header"),
            "cut after {keep} lines: {shown}"
        );
    }
    // An event removed from the middle: the section's count says so.
    let event = lines
        .iter()
        .position(|l| l.contains("\"call\""))
        .expect("an event line");
    let edited: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != event)
        .map(|(_, l)| *l)
        .collect();
    let err = Recording::read_jsonl(edited.join("\n").as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("declares 2 events but the file holds 1"),
        "{err}"
    );
    // A fault window removed: its count says so too.
    let fault = lines
        .iter()
        .position(|l| l.starts_with("{\"fault\""))
        .expect("a fault line");
    let edited: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != fault)
        .map(|(_, l)| *l)
        .collect();
    let err = Recording::read_jsonl(edited.join("\n").as_bytes()).unwrap_err();
    assert!(
        err.to_string()
            .contains("declares 2 fault windows but the file holds 1"),
        "{err}"
    );
    // Nothing may follow the closing line.
    let extra = format!("{text}{}\n", lines[1]);
    let err = Recording::read_jsonl(extra.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("after the closing"), "{err}");
}

/// A section's declared semantics travel in its header, and the offline
/// verdict judges by them: a holder's re-entrant acquire is explained under
/// the declaration it ran with, and is a P7 violation without it.
#[test]
fn declared_semantics_round_trip_and_the_offline_verdict_judges_by_them() {
    use leasecheck_model::check::{check, Property};
    use leasecheck_model::Semantics;
    let reentrant = Semantics {
        reentrant_acquire: true,
        ..Semantics::REFERENCE
    };
    let event = |complete: i64| Event {
        candidate: Candidate(1),
        call: Call::Lease {
            op: leasecheck_model::Op::TryAcquire,
        },
        invoke: Time(complete - 10),
        complete: Time(complete),
        server_time: Some(Time(complete - 5)),
        outcome: Outcome::Ok,
    };
    let history = History {
        semantics: reentrant,
        ttl: Span::from_secs(10),
        events: vec![event(100), event(200)],
    };
    let rec = Recording {
        seed: Some(1),
        replay: None,
        sections: vec![Section::new(
            SectionHeader {
                scenario: "semantics".into(),
                ..SectionHeader::default()
            },
            history.clone(),
        )],
    };
    let mut out = Vec::new();
    rec.write_jsonl(&mut out).expect("write");
    let text = String::from_utf8(out.clone()).expect("utf-8");
    assert!(
        text.contains("\"semantics\":{\"reentrant_acquire\":true"),
        "{text}"
    );
    let back = Recording::read_jsonl(&out[..]).expect("read");
    assert_eq!(back, rec);
    assert!(check(&back.sections[0].history).is_pass());
    let undeclared = History {
        semantics: Semantics::REFERENCE,
        ..history
    };
    let verdict = check(&undeclared);
    assert_eq!(verdict.violations[0].property, Property::P7Linearizable);
    assert!(
        verdict.violations[0]
            .message
            .contains("reentrant_acquire = false"),
        "{}",
        verdict.violations[0].message
    );
    let contradiction = text.replace(
        "\"renew_acquires\":false,\"renew\":true",
        "\"renew_acquires\":true,\"renew\":false",
    );
    let err = Recording::read_jsonl(contradiction.as_bytes()).expect_err("refused");
    assert!(err.to_string().contains("contradict"), "{err}");
}
