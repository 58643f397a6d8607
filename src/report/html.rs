//! The report as one self-contained HTML page (`--report DIR` writes
//! `DIR/index.html`): the summary table of the scenarios, then for each
//! scenario its findings and its timeline, zoomed to the first violation,
//! above a coarse picture of its whole run.
//!
//! The page needs nothing but itself: no network, no script, its style
//! inline, every picture inline SVG. It is well-formed XML as well as
//! HTML, so that a test can parse it (and its pictures) as a tree.

use super::{Report, Status};
use crate::plot::{Detail, Node, Outline, Timeline};
use leasecheck_model::recording::Section;
use std::io;
use std::path::{Path, PathBuf};

/// How many characters of a finding's message show before it folds.
const BRIEF: usize = 240;

/// The page's file name inside the report's directory.
pub const PAGE: &str = "index.html";

/// The id of the `i`-th scenario's part of the page (0-based `i`): link to
/// `index.html#scenario-3`.
pub fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

/// Write the page of `report`, whose scenarios recorded `sections` (in the
/// same order), to `dir/index.html`, making `dir` if needed. The page is
/// written beside its place and renamed into it. Returns its path.
pub fn write_page(dir: &Path, report: &Report, sections: &[Section]) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(PAGE);
    let partial = dir.join(format!("{PAGE}.partial"));
    let text = page(report, sections);
    std::fs::write(&partial, text)
        .and_then(|()| std::fs::rename(&partial, &path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&partial);
        })?;
    Ok(path)
}

/// The page's text.
pub fn page(report: &Report, sections: &[Section]) -> String {
    let verdict = match report.exit_code() {
        0 => ("passed", "all properties held".to_string()),
        1 => {
            let n: usize = report.scenarios.iter().map(|s| s.findings.len()).sum();
            ("violated", format!("{n} violation(s)"))
        }
        _ => ("error", "the run could not be completed".to_string()),
    };
    let head = Node::new("head")
        .child(Node::new("meta").attr("charset", "utf-8"))
        .child(Node::new("title").text(format!("leasecheck: {}", report.subject)))
        .child(Node::new("style").verbatim(STYLE));
    let mut body = Node::new("body")
        .child(Node::new("h1").text(format!("leasecheck: {}", report.subject)))
        .child(
            Node::new("p")
                .attr("class", format!("verdict {}", verdict.0))
                .attr("id", "verdict")
                .text(format!("{} (exit {})", verdict.1, report.exit_code())),
        )
        .child(
            Node::new("dl")
                .attr("class", "run")
                .children(term("database", Node::new("span").text(&report.database)))
                .children(term(
                    "ttl",
                    Node::new("span").text(format!("{} s", report.ttl_seconds)),
                ))
                .children(term(
                    "seed",
                    Node::new("code")
                        .attr("id", "seed")
                        .text(report.seed.to_string()),
                ))
                .children(term(
                    "replay",
                    Node::new("code").attr("id", "replay").text(&report.replay),
                )),
        )
        .child(summary(report))
        .child(legend());
    for (i, scenario) in report.scenarios.iter().enumerate() {
        let mut part = Node::new("section")
            .attr("class", "scenario")
            .attr("id", anchor(i))
            .attr("data-status", scenario.status.name())
            .child(
                Node::new("h2")
                    .text(format!("{} ", scenario.name))
                    .child(badge(&scenario.status)),
            );
        let figures: Vec<String> = scenario.figures.iter().map(|f| f.to_string()).collect();
        if !figures.is_empty() {
            part.push(
                Node::new("p")
                    .attr("class", "figures")
                    .text(figures.join("   ")),
            );
        }
        match &scenario.status {
            Status::NotApplicable(why) => {
                part.push(Node::new("p").text(format!("not applicable: {why}")));
            }
            Status::Error(why) => part.push(Node::new("p").text(format!("could not run: {why}"))),
            Status::Interrupted => part.push(Node::new("p").text("interrupted (Ctrl-C)")),
            _ => {}
        }
        for (n, f) in scenario.findings.iter().enumerate() {
            let name = Node::new("strong").text(format!("#{} {}", n + 1, f.property));
            // a long message folds after its first words (click to unfold)
            let finding = match f.message.char_indices().nth(BRIEF) {
                None => Node::new("p").child(name).text(format!(": {}", f.message)),
                Some((cut, _)) => Node::new("details")
                    .child(
                        Node::new("summary")
                            .child(name)
                            .text(format!(": {}...", &f.message[..cut])),
                    )
                    .child(Node::new("p").text(&f.message)),
            };
            part.push(finding.attr("class", "finding"));
        }
        let outlines: Vec<Outline<'_>> = scenario
            .findings
            .iter()
            .enumerate()
            .map(|(n, f)| Outline {
                label: format!("#{} {}", n + 1, f.property.split(' ').next().unwrap_or("")),
                name: &f.property,
                sentence: &f.message,
                events: &f.events,
            })
            .collect();
        match sections.get(i) {
            Some(section) if !section.history.events.is_empty() => {
                let timeline = Timeline::new(section, outlines);
                let (focus, whole) = (timeline.focus(), timeline.whole());
                let zoomed = if scenario.findings.is_empty() {
                    "in detail"
                } else {
                    "in detail, around the first violation"
                };
                part.push(Node::new("h3").text(format!(
                    "{zoomed} ({} ms to {} ms)",
                    ms(focus.from.saturating_sub(whole.from)),
                    ms(focus.to.saturating_sub(whole.from))
                )));
                part.push(figure(timeline.draw(focus, Detail::Full, None)));
                if focus != whole {
                    part.push(Node::new("h3").text(format!(
                        "the whole run ({} ms; the blue frame is the part above)",
                        ms(whole.to.saturating_sub(whole.from))
                    )));
                    part.push(figure(timeline.draw(whole, Detail::Coarse, Some(focus))));
                }
            }
            _ => part.push(
                Node::new("p")
                    .attr("class", "empty")
                    .text("no events were recorded for this scenario"),
            ),
        }
        body.push(part);
    }
    let html = Node::new("html")
        .attr("xmlns", "http://www.w3.org/1999/xhtml")
        .attr("lang", "en")
        .child(head)
        .child(body);
    format!("<!DOCTYPE html>\n{html}\n")
}

/// The table of every scenario: its verdict, what it violated, how long it
/// took and its figures.
fn summary(report: &Report) -> Node {
    let header = ["scenario", "verdict", "violated", "duration", "figures"]
        .into_iter()
        .fold(Node::new("tr"), |tr, h| tr.child(Node::new("th").text(h)));
    let mut table = Node::new("table")
        .attr("id", "summary")
        .child(Node::new("thead").child(header));
    let mut rows = Node::new("tbody");
    for (i, s) in report.scenarios.iter().enumerate() {
        let mut properties: Vec<&str> = Vec::new();
        for f in &s.findings {
            if !properties.contains(&f.property.as_str()) {
                properties.push(&f.property);
            }
        }
        let figures: Vec<String> = s.figures.iter().map(|f| f.to_string()).collect();
        rows.push(
            Node::new("tr")
                .attr("data-status", s.status.name())
                .child(
                    Node::new("td").child(
                        Node::new("a")
                            .attr("href", format!("#{}", anchor(i)))
                            .text(&s.name),
                    ),
                )
                .child(Node::new("td").child(badge(&s.status)))
                .child(Node::new("td").text(properties.join(", ")))
                .child(Node::new("td").text(format!("{:.1} s", s.duration.as_secs_f64())))
                .child(
                    Node::new("td")
                        .attr("class", "figures")
                        .text(figures.join("   ")),
                ),
        );
    }
    table.push(rows);
    table
}

/// What the colours and marks of the pictures mean.
fn legend() -> Node {
    let items = [
        ("tenure", "a tenure: from its win to its claim's end"),
        (
            "aged",
            "a tenure after the harness aged the lease (void to P6)",
        ),
        ("ok", "a call that took effect"),
        ("fail", "a call that did not"),
        ("unknown", "a call whose outcome is unknown"),
        ("refused", "an action refused by the fence"),
        ("fault", "a fault in force"),
        (
            "two-leaders",
            "two candidates hold the lease at once (P6's claims, or the holders a finding names, such as P1's winners)",
        ),
        ("violation", "a violation's events"),
    ];
    let mut list = Node::new("ul").attr("class", "legend");
    for (class, text) in items {
        list.push(
            Node::new("li")
                .child(
                    Node::new("span")
                        .attr("class", format!("swatch {class}"))
                        .text(" "),
                )
                .text(text),
        );
    }
    list
}

fn term(name: &str, value: Node) -> [Node; 2] {
    [Node::new("dt").text(name), Node::new("dd").child(value)]
}

fn figure(svg: Node) -> Node {
    Node::new("div").attr("class", "picture").child(svg)
}

fn badge(status: &Status) -> Node {
    Node::new("span")
        .attr("class", format!("badge {}", status.name()))
        .text(status.mark())
}

fn ms(micros: i64) -> String {
    format!("{:.1}", micros as f64 / 1000.0)
}

/// The page's style sheet (no `<` or `&` in it: it is written as is).
const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 28px 0 6px; border-top: 1px solid #ddd; padding-top: 14px; }
h3 { font-size: 13px; font-weight: normal; color: #555; margin: 10px 0 4px; }
code { font-family: ui-monospace, monospace; background: #f4f4f4; padding: 1px 4px; }
dl.run { display: grid; grid-template-columns: max-content auto; gap: 2px 12px; font-size: 13px; }
dl.run dt { color: #666; }
dl.run dd { margin: 0; }
.verdict { font-size: 16px; font-weight: bold; padding: 6px 10px; display: inline-block; border-radius: 4px; }
.verdict.passed { background: #e3f4e3; color: #1b6e1b; }
.verdict.violated { background: #fbe3e3; color: #a11; }
.verdict.error { background: #fdf0dc; color: #8a5300; }
table#summary { border-collapse: collapse; font-size: 13px; margin: 12px 0; }
table#summary th, table#summary td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
.figures { color: #555; font-size: 12px; }
.badge { font-size: 11px; font-weight: bold; padding: 1px 6px; border-radius: 3px; }
.badge.passed { background: #2ca02c; color: #fff; }
.badge.violated { background: #d62728; color: #fff; }
.badge.error, .badge.interrupted { background: #ff7f0e; color: #fff; }
.badge.not_applicable { background: #bbb; color: #fff; }
.finding { font-size: 13px; border-left: 3px solid #d62728; padding-left: 8px; margin: 8px 0; }
details.finding p { margin: 4px 0 0; }
summary { cursor: pointer; }
.finding strong { color: #a11; }
.picture { overflow-x: auto; }
ul.legend { list-style: none; padding: 0; font-size: 12px; display: flex; flex-wrap: wrap; gap: 4px 16px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: middle; }
.swatch.tenure { background: #9ecae1; }
.swatch.aged { background: repeating-linear-gradient(90deg, #9ecae1, #9ecae1 3px, #fff 3px, #fff 5px); }
.swatch.ok { background: #2ca02c; }
.swatch.fail { background: #c7c7c7; }
.swatch.unknown { background: #ff7f0e; }
.swatch.refused { background: #9467bd; }
.swatch.fault { background: repeating-linear-gradient(45deg, #bbb, #bbb 2px, #eee 2px, #eee 4px); }
.swatch.two-leaders { background: #d62728; }
.swatch.violation { border: 2px dashed #d62728; width: 10px; height: 6px; }
svg.timeline { font-size: 10px; }
svg.timeline text { fill: #444; }
.axis line { stroke: #e6e6e6; }
.axis text { text-anchor: middle; fill: #777; }
text.lane-name { text-anchor: end; font-size: 11px; fill: #333; }
.lane-bg { fill: #fbfbfb; }
.lane-bg.odd { fill: #f2f2f2; }
.fault rect { fill: #999; fill-opacity: 0.28; stroke: #777; stroke-dasharray: 3 2; }
.fault text { fill: #444; font-style: italic; }
.tenure { fill: #9ecae1; fill-opacity: 0.75; }
.tenure.aged { fill-opacity: 0.3; stroke: #9ecae1; stroke-dasharray: 3 2; }
.strip { fill: #eee; }
.two-leaders { fill: #d62728; }
.calls .ok { fill: #2ca02c; }
.calls .fail { fill: #c7c7c7; }
.calls .unknown { fill: #ff7f0e; }
.calls .refused { fill: #9467bd; }
.calls text { text-anchor: middle; fill: #fff; font-size: 9px; }
.calls .fail text { fill: #333; }
.server-time { stroke: #000; stroke-width: 1; }
.action { fill: #d62728; stroke: #fff; stroke-width: 1; }
.calls .refused .action { fill: #9467bd; }
text.action-label { fill: #a11; font-weight: bold; }
.violation .window { fill: none; stroke: #d62728; stroke-width: 2; stroke-dasharray: 5 3; }
.violation text { fill: #d62728; font-weight: bold; font-size: 11px; }
.violating { fill: none; stroke: #d62728; stroke-width: 1.5; }
.focus { fill: none; stroke: #1f77b4; stroke-width: 1.5; }
";
