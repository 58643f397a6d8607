//! The HTML report (`--report DIR`), looked at as a tree: the page and its
//! SVG timelines are parsed, never grepped, and what a person must see at
//! a glance is asserted on the parsed elements: who led when (tenure
//! bands per lane), where two led at once (overlapping bands, the red
//! strip), the faults, the actions, and each violation outlined over its
//! events with its property's name.

use crate::support::{json, leasecheck};
use roxmltree::{Document, Node, ParsingOptions};
use std::path::Path;

/// The page at `dir/index.html`, read.
fn page_text(dir: &Path) -> String {
    let path = dir.join("index.html");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The page as a tree (its `<!DOCTYPE html>` is a DTD to an XML parser).
fn parse(text: &str) -> Document<'_> {
    let options = ParsingOptions {
        allow_dtd: true,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options)
        .unwrap_or_else(|e| panic!("the page must be well-formed: {e}"))
}

fn has_class(n: &Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

fn all<'a, 'i>(root: Node<'a, 'i>, name: &str, class: &str) -> Vec<Node<'a, 'i>> {
    root.descendants()
        .filter(|n| n.is_element())
        .filter(|n| name.is_empty() || n.tag_name().name() == name)
        .filter(|n| class.is_empty() || has_class(n, class))
        .collect()
}

fn num(n: &Node, attr: &str) -> f64 {
    n.attribute(attr)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("<{}> has a numeric {attr}", n.tag_name().name()))
}

fn text_of(n: Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

/// `(x0, x1)` of a rect.
fn span(n: &Node) -> (f64, f64) {
    let x = num(n, "x");
    (x, x + num(n, "width"))
}

/// Run leasecheck with `args` then `--report DIR/out`, assert it exits
/// `exit` (showing what it printed if not), and return what it printed and
/// the page's text.
fn with_report(dir: &Path, args: &[&str], exit: i32) -> (std::process::Output, String) {
    let out = dir.join("out");
    let mut run = args.to_vec();
    run.extend(["--report", out.to_str().expect("a UTF-8 temp path")]);
    let o = leasecheck(&run);
    assert_eq!(
        o.status.code(),
        Some(exit),
        "{args:?}:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let page = page_text(&out);
    (o, page)
}

/// The scenario parts of the page: `(name, status, section node)`.
fn scenarios<'a, 'i>(doc: &'a Document<'i>) -> Vec<(String, String, Node<'a, 'i>)> {
    all(doc.root(), "section", "scenario")
        .into_iter()
        .map(|s| {
            let h2 = all(s, "h2", "")[0];
            let name = h2.text().unwrap_or_default().trim().to_string();
            (
                name,
                s.attribute("data-status").unwrap_or_default().to_string(),
                s,
            )
        })
        .collect()
}

#[test]
fn a_split_brain_page_shows_two_overlapping_tenures_and_outlines_the_violation() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let args = ["reproduce", "check-then-act", "--seed", "1", "--json"];
    let (o, text) = with_report(dir.path(), &args, 1);
    let report = json(&o);
    let page = dir.path().join("out/index.html");
    assert_eq!(report["report_page"], page.display().to_string());
    let doc = parse(&text);

    // the summary names every scenario with its verdict
    let rows = all(doc.root(), "tr", "")
        .into_iter()
        .filter(|r| r.attribute("data-status").is_some())
        .count();
    assert_eq!(rows, report["scenarios"].as_array().unwrap().len());
    let seed = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("seed"))
        .unwrap();
    assert_eq!(text_of(seed), "1");
    let replay = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("replay"))
        .unwrap();
    assert!(text_of(replay).contains("--seed 1"), "{}", text_of(replay));

    let (name, status, race) = scenarios(&doc).into_iter().next().expect("a scenario");
    assert_eq!((name.as_str(), status.as_str()), ("race", "violated"));
    // (`p` or, for a long message, `details`)
    let findings: Vec<String> = all(race, "", "finding").into_iter().map(text_of).collect();
    assert!(
        findings.iter().any(|f| f.contains("P1 exactly one winner")),
        "{findings:?}"
    );

    let zoomed = all(race, "svg", "zoomed");
    assert_eq!(zoomed.len(), 1, "one detailed timeline");
    let svg = zoomed[0];
    let lanes: Vec<&str> = all(svg, "g", "lane")
        .iter()
        .filter_map(|l| l.attribute("data-candidate"))
        .collect();
    assert_eq!(lanes[0], "harness", "the harness's lane first: {lanes:?}");
    assert!(
        lanes.len() >= 9,
        "a lane per candidate of the race: {lanes:?}"
    );

    // the first violation is outlined over the events that show it
    let violation = all(svg, "g", "violation")
        .into_iter()
        .find(|v| v.attribute("data-property") == Some("P1"))
        .expect("the P1 violation outlined");
    let window = all(violation, "rect", "window")[0];
    let (w0, w1) = span(&window);
    let marked = all(violation, "rect", "violating");
    assert!(marked.len() >= 2, "a P1 violation has two winners or more");
    for m in &marked {
        let (m0, m1) = span(m);
        assert!(
            w0 - 4.0 <= m0 && m1 <= w1 + 4.0,
            "{m0}..{m1} outside {w0}..{w1}"
        );
    }
    let title = all(window, "title", "")[0];
    assert!(text_of(title).starts_with("P1 exactly one winner: "));
    // calls drawn as bars, coloured by outcome
    assert!(!all(svg, "g", "ok").is_empty());
    // the winners of that free round hold the lease at once: the strip is
    // red over them, and says P1 judged it (their tenures are voided for
    // P6 once the next round ages the lease)
    let red: Vec<Node> = all(svg, "rect", "two-leaders")
        .into_iter()
        .filter(|r| r.attribute("data-property") == Some("P1"))
        .collect();
    assert!(
        red.iter().any(|r| {
            let (r0, r1) = span(r);
            r0 < w1 && w0 < r1
        }),
        "a red P1 strip over the P1 window {w0}..{w1}: {:?}",
        red.iter().map(span).collect::<Vec<_>>()
    );
    for r in &red {
        let title = text_of(all(*r, "title", "")[0]);
        assert!(title.starts_with("P1 exactly one winner: "), "{title}");
    }

    // and the coarse picture of the whole run frames the zoomed part, and
    // shows two candidates' tenures (P6's claims, not aged tails) at once,
    // under the red strip
    let whole = all(race, "svg", "whole");
    assert_eq!(whole.len(), 1, "the whole run, coarsely");
    let whole = whole[0];
    assert_eq!(all(whole, "rect", "focus").len(), 1);
    let bands: Vec<(String, (f64, f64))> = all(whole, "rect", "tenure")
        .iter()
        .filter(|b| !has_class(b, "aged"))
        .map(|b| (b.attribute("data-who").unwrap().to_string(), span(b)))
        .collect();
    let both: Vec<(f64, f64)> = bands
        .iter()
        .flat_map(|(a, (a0, a1))| {
            bands
                .iter()
                .filter(move |(b, (b0, b1))| a != b && a0 < b1 && b0 < a1)
                .map(move |(_, (b0, b1))| (a0.max(*b0), a1.min(*b1)))
        })
        .collect();
    assert!(!both.is_empty(), "two tenure bands at once: {bands:?}");
    let strip: Vec<(f64, f64)> = all(whole, "rect", "two-leaders").iter().map(span).collect();
    for (o0, o1) in &both {
        assert!(
            strip
                .iter()
                .any(|(s0, s1)| s0 - 1.0 <= *o0 && *o1 <= s1 + 1.0),
            "the red strip over {o0}..{o1}: {strip:?}"
        );
    }
}

#[test]
fn a_passing_takeover_page_shows_the_fault_on_the_leader_and_no_violation() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let junit = dir.path().join("junit.xml");
    let junit_arg = junit.to_str().unwrap();
    let args = [
        "takeover",
        "--faults",
        "client-pause",
        "--seed",
        "3",
        "--junit",
        junit_arg,
    ];
    let (o, text) = with_report(dir.path(), &args, 0);
    let out = dir.path().join("out");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("report written to "), "{stdout}");
    let junit_text = std::fs::read_to_string(&junit).unwrap();
    let junit_doc = Document::parse(&junit_text).unwrap();
    let named = junit_doc
        .descendants()
        .find(|n| n.tag_name().name() == "property" && n.attribute("name") == Some("report"))
        .and_then(|n| n.attribute("value"))
        .map(str::to_string);
    assert_eq!(named, Some(out.join("index.html").display().to_string()));

    let doc = parse(&text);
    let verdict = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("verdict"))
        .unwrap();
    assert!(has_class(&verdict, "passed"));
    let (name, status, part) = scenarios(&doc).into_iter().next().unwrap();
    assert_eq!(
        (name.as_str(), status.as_str()),
        ("takeover/client-pause", "passed")
    );
    let svg = all(part, "svg", "zoomed")[0];
    assert!(all(part, "g", "violation").is_empty());
    assert!(
        all(part, "rect", "two-leaders").is_empty(),
        "never two leaders, in either picture"
    );
    let faults = all(svg, "g", "fault");
    assert_eq!(faults.len(), 1, "the pause, once");
    assert_eq!(faults[0].attribute("data-fault"), Some("client-pause"));
    assert_eq!(faults[0].attribute("data-on"), Some("c0"), "on the leader");
    // the leader's tenure, then a standby's, one after the other
    let who: std::collections::BTreeSet<&str> = all(svg, "rect", "tenure")
        .iter()
        .filter_map(|b| b.attribute("data-who"))
        .collect();
    assert!(who.contains("c0") && who.len() >= 2, "{who:?}");
}

#[test]
fn a_zombie_page_marks_every_action_and_outlines_the_stale_write() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let args = [
        "zombie",
        "--faults",
        "client-pause",
        "--zombie-rounds",
        "1",
        "--seed",
        "5",
    ];
    let (_, text) = with_report(dir.path(), &args, 1);
    let doc = parse(&text);
    let (_, status, part) = scenarios(&doc).into_iter().next().unwrap();
    assert_eq!(status, "violated");
    let svg = all(part, "svg", "zoomed")[0];
    let actions = all(svg, "path", "action");
    assert!(
        actions.len() >= 2,
        "the zombie's write and the new leader's"
    );
    let p8 = all(svg, "g", "violation")
        .into_iter()
        .find(|v| v.attribute("data-property") == Some("P8"))
        .expect("the stale write framed");
    // the frame holds the deposed leader's write
    assert!(
        all(p8, "rect", "violating")
            .iter()
            .any(|r| r.attribute("data-who") == Some("c0")),
        "c0's stale write is framed"
    );
}

#[test]
fn the_offline_page_of_a_recording_draws_what_the_run_drew() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (online, offline) = (dir.path().join("online"), dir.path().join("offline"));
    let history = dir.path().join("run.jsonl");
    let args = [
        "takeover",
        "--spec",
        "specs/broken/renew-without-holder-check.toml",
        "--faults",
        "client-pause",
        "--ttl",
        "0.2",
        "--seed",
        "2",
        "--history",
        history.to_str().unwrap(),
        "--report",
        online.to_str().unwrap(),
    ];
    let run = leasecheck(&args);
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let check = leasecheck(&[
        "check-history",
        history.to_str().unwrap(),
        "--report",
        offline.to_str().unwrap(),
    ]);
    assert_eq!(check.status.code(), Some(1));
    let (a, b) = (page_text(&online), page_text(&offline));
    // every picture, drawn the same, mark for mark
    let pictures = |text: &str| -> Vec<String> {
        text.split("<svg ")
            .skip(1)
            .map(|s| s.split("</svg>").next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        pictures(&a),
        pictures(&b),
        "the offline page draws what the run drew"
    );
    let doc = parse(&a);
    let (_, status, part) = scenarios(&doc).into_iter().next().unwrap();
    assert_eq!(status, "violated");
    assert!(!all(part, "rect", "tenure").is_empty());
    assert!(!all(part, "g", "call").is_empty());
    assert!(!all(part, "g", "violation").is_empty());
    let fault = all(part, "g", "fault");
    assert!(
        !fault.is_empty(),
        "the fault window, recorded and drawn offline too"
    );
}

#[test]
fn a_long_history_makes_a_page_of_a_few_megabytes_at_most() {
    // 200 000 calls by 32 candidates over 200 s, judged offline
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("long.jsonl");
    let mut text = String::from("{\"ttl\":200000}\n");
    for i in 0..200_000i64 {
        let c = i % 32;
        let t = i * 1_000;
        let (op, outcome) = if c == 0 {
            ("renew", "ok")
        } else {
            ("try_acquire", "fail")
        };
        let first = if i == 0 { "try_acquire" } else { op };
        text.push_str(&format!(
            "{{\"candidate\":{c},\"call\":\"lease\",\"op\":\"{first}\",\"invoke\":{t},\"complete\":{},\"outcome\":\"{outcome}\"}}\n",
            t + 400
        ));
    }
    std::fs::write(&file, text).unwrap();
    let out = dir.path().join("out");
    let o = leasecheck(&[
        "check-history",
        file.to_str().unwrap(),
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let size = std::fs::metadata(out.join("index.html")).unwrap().len();
    assert!(size < 3_000_000, "the page is {size} bytes");
    let text = page_text(&out);
    let doc = parse(&text);
    assert_eq!(all(doc.root(), "svg", "zoomed").len(), 1);
    assert_eq!(all(doc.root(), "svg", "whole").len(), 1);
}

#[test]
fn a_report_of_a_run_that_records_nothing_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let o = leasecheck(&[
        "race",
        "--no-record",
        "--report",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("--report draws what the run records"),
        "{stderr}"
    );
}

#[test]
fn an_unwritable_report_directory_is_a_clear_exit_2_after_the_report() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let history = dir.path().join("h.jsonl");
    std::fs::write(
        &history,
        "{\"ttl\":200000}\n{\"candidate\":1,\"call\":\"lease\",\"op\":\"try_acquire\",\"invoke\":0,\"complete\":10,\"outcome\":\"ok\"}\n",
    )
    .unwrap();
    let o = leasecheck(&[
        "check-history",
        history.to_str().unwrap(),
        "--report",
        blocker.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stdout.contains("all properties held"), "{stdout}");
    assert!(
        stderr.contains("cannot write the HTML report to"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
