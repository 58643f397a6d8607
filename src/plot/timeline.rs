//! A scenario's timeline as an SVG picture: who held the lease when, every
//! call, the faults, the actions and the violations, on one time axis.
//!
//! # Design
//!
//! One lane per caller (the harness first, then the candidates in order).
//! In a lane, each tenure is a band from its win to its claim's end and
//! each call a bar from invoke to complete, coloured by outcome. The bands
//! are the claims P6 judges ([`leasecheck_model::check::claims`]), drawn,
//! never re-derived: two bands at the same time in two lanes is exactly
//! what P6 calls an overlap, and the strip above the lanes turns red
//! wherever two candidates claim at once. Where the harness aged the lease
//! (moved its time on, in a race's stale rounds and in conformance), a
//! claim P6 no longer counts ran on in real time until the age: that tail
//! is drawn apart (`tenure aged`). Such tenures turn the strip red only
//! where a finding names two of their holders (a free race round with
//! several winners, P1, aged by the next round): every red stretch says
//! which property judged it (`data-property`, and its tooltip). Fault windows are shaded over the
//! lane of whom they stalled (every lane when they stalled everyone), an
//! action is a diamond with its epoch and sequence number, and each
//! violation is outlined over its events, with the property's name.
//!
//! A picture shows a [`Window`] of the run: [`Timeline::focus`] (the first
//! violation with some context, else the first fault, else the start) at
//! full detail, and [`Timeline::whole`] coarsely, its calls and bands
//! merged where they would touch on screen, so that a long history never
//! makes a page of millions of elements.
//!
//! Drawing never judges: what is outlined is what the verdict found.

use super::markup::{Node, Px};
use super::scale::Linear;
use leasecheck_model::check::{claims, Claim};
use leasecheck_model::history::{Call, Event, Outcome};
use leasecheck_model::recording::Section;
use leasecheck_model::{Candidate, Op};
use std::collections::{BTreeMap, BTreeSet};

/// A violation to outline: its label (`#2 P6`), its name (`P6 no
/// overlapping tenure`), the sentence the text report prints, and the
/// events that show it.
#[derive(Clone, Debug)]
pub struct Outline<'a> {
    /// What marks it on the picture (short: outlines may be close).
    pub label: String,
    /// The property's full name.
    pub name: &'a str,
    /// What happened.
    pub sentence: &'a str,
    /// The events that show it.
    pub events: &'a [Event],
}

/// A stretch of the run, in microseconds on the events' clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Where it begins.
    pub from: i64,
    /// Where it ends (> `from`).
    pub to: i64,
}

/// How much a picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Every call as its own bar, labelled, with server times and tooltips.
    Full,
    /// Calls and bands merged where they touch on screen; no labels.
    Coarse,
}

/// A section's events, claims and outlines, ready to be drawn.
#[derive(Debug)]
pub struct Timeline<'a> {
    section: &'a Section,
    outlines: Vec<Outline<'a>>,
    lanes: Vec<Candidate>,
    /// The claims P6 judges: the tenure bands.
    claims: Vec<Claim>,
    /// `(who, from, to)`: where a claim an age made void to P6 still ran
    /// in real time (until the age).
    aged: Vec<(u16, i64, i64)>,
    /// `(who, from, to)`: every claim as it ran in real time, from its win
    /// to its end or, where an age voided it, to the age.
    held: Vec<(u16, i64, i64)>,
    origin: i64,
    end: i64,
}

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
/// Axis labels, then the strip that shows how many claim at once.
const AXIS: f64 = 22.0;
const STRIP: f64 = 10.0;
const BOTTOM: f64 = 8.0;
/// At most this many bars at full detail; more are merged.
const MAX_BARS: usize = 4000;

impl<'a> Timeline<'a> {
    /// Where two candidates hold the lease at once, by any property's
    /// judgement: `(from, to, property, what)`. P6's claims first; then the
    /// tenures as they ran in real time, where a finding's events name two
    /// of their holders (an age voided them for P6, not for the finding).
    /// Never where no judgement says so: drawing never judges.
    fn split_brains(&self) -> Vec<(i64, i64, String, String)> {
        let names = |who: &BTreeSet<u16>| {
            who.iter()
                .map(|w| Candidate(*w).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let spans: Vec<(u16, i64, i64)> = self
            .claims
            .iter()
            .map(|c| (c.who, c.start, c.end))
            .collect();
        let judged = overlaps(&spans);
        let mut out: Vec<(i64, i64, String, String)> = judged
            .iter()
            .map(|(from, to, who)| {
                let title = format!(
                    "P6 no overlapping tenure: {} claim the lease from {} ms to {} ms",
                    names(who),
                    self.after(*from),
                    self.after(*to)
                );
                (*from, *to, "P6".to_string(), title)
            })
            .collect();
        for (from, to, who) in overlaps(&self.held) {
            if judged.iter().any(|(a, b, _)| *a < to && from < *b) {
                continue;
            }
            let named = self.outlines.iter().find(|o| {
                let theirs: BTreeSet<u16> = o.events.iter().map(|e| e.candidate.0).collect();
                theirs.intersection(&who).count() >= 2
            });
            if let Some(o) = named {
                let property = o.name.split(' ').next().unwrap_or(o.name).to_string();
                let title = format!(
                    "{}: {} held the lease at once from {} ms to {} ms (tenures a later age voided for P6)",
                    o.name,
                    names(&who),
                    self.after(from),
                    self.after(to)
                );
                out.push((from, to, property, title));
            }
        }
        out
    }

    /// The timeline of `section`, with `outlines` to draw over it.
    pub fn new(section: &'a Section, outlines: Vec<Outline<'a>>) -> Timeline<'a> {
        let events = &section.history.events;
        let mut lanes: Vec<Candidate> = events.iter().map(|e| e.candidate).collect();
        lanes.extend(section.faults.iter().filter_map(|f| f.on));
        lanes.sort_by_key(|c| (*c != Candidate::HARNESS, c.0));
        lanes.dedup();
        // The origin is the first call (the text reports' too).
        let origin = events
            .iter()
            .map(|e| e.invoke.0)
            .min()
            .or_else(|| section.faults.iter().map(|f| f.start.0).min())
            .unwrap_or(0);
        let all = claims(&section.history);
        // The bands are the claims P6 judges. A claim that an age moved past
        // its own end (the harness made the lease's time run on) ran, in
        // real time, until the age: that tail is drawn apart, as aged.
        let aged = all
            .iter()
            .filter_map(|c| {
                let age = events.get(c.aged?)?.invoke.0;
                let from = c.start.max(c.end);
                (age > from).then_some((c.who, from, age))
            })
            .collect::<Vec<_>>();
        let held = all
            .iter()
            .map(|c| {
                let age = c.aged.and_then(|i| events.get(i)).map(|e| e.invoke.0);
                (c.who, c.start, c.end.max(age.unwrap_or(c.end)))
            })
            .filter(|&(_, from, to)| to > from)
            .collect();
        let claims: Vec<Claim> = all.into_iter().filter(|c| c.end > c.start).collect();
        let end = events
            .iter()
            .map(|e| e.complete.0)
            .chain(section.faults.iter().map(|f| f.end.0))
            .chain(claims.iter().map(|c| c.end))
            .chain(aged.iter().map(|a| a.2))
            .max()
            .unwrap_or(origin);
        Timeline {
            section,
            outlines,
            lanes,
            claims,
            aged,
            held,
            origin,
            end: end.max(origin.saturating_add(1)),
        }
    }

    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.section.history.events.is_empty()
    }

    /// The whole run.
    pub fn whole(&self) -> Window {
        Window {
            from: self.origin,
            to: self.end,
        }
    }

    /// Where to look first: the first violation's events with some context
    /// around them; else the first fault from a TTL before to a TTL after;
    /// else the first four TTLs of the run.
    pub fn focus(&self) -> Window {
        let ttl = self.section.history.ttl.as_micros().max(1);
        let shown = self.outlines.iter().find_map(|o| {
            let from = o.events.iter().map(|e| e.invoke.0).min()?;
            let to = o.events.iter().map(|e| e.complete.0).max()?;
            // as much again on either side, and at least a millisecond
            let pad = (to.saturating_sub(from) / 2).max(1_000);
            Some((from.saturating_sub(pad), to.saturating_add(pad)))
        });
        let (from, to) = shown
            .or_else(|| {
                let f = self.section.faults.first()?;
                Some((f.start.0.saturating_sub(ttl), f.end.0.saturating_add(ttl)))
            })
            .unwrap_or((
                self.origin,
                self.origin.saturating_add(ttl.saturating_mul(4)),
            ));
        let whole = self.whole();
        let (from, to) = (from.max(whole.from), to.min(whole.to));
        if to > from {
            Window { from, to }
        } else {
            whole
        }
    }

    /// `t` in milliseconds after the run's first call, for people.
    fn after(&self, t: i64) -> String {
        ms(t.saturating_sub(self.origin))
    }

    /// The picture of `window` at `detail`; `focus`, if given, is marked
    /// (on the coarse picture of the whole run: where the detailed one is).
    pub fn draw(&self, window: Window, detail: Detail, focus: Option<Window>) -> Node {
        let lane_height = match detail {
            Detail::Full => 20.0,
            Detail::Coarse => 9.0,
        };
        let top = AXIS + STRIP + 4.0;
        let height = top + lane_height * self.lanes.len() as f64 + BOTTOM;
        let x = Axis::new(window);
        let lane_of: BTreeMap<Candidate, usize> = self
            .lanes
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i))
            .collect();
        let lane_y =
            |c: Candidate| top + lane_of.get(&c).copied().unwrap_or(0) as f64 * lane_height;
        let visible = |from: i64, to: i64| to >= window.from && from <= window.to;
        let mut calls: Vec<&Event> = self
            .section
            .history
            .events
            .iter()
            .filter(|e| visible(e.invoke.0, e.complete.0))
            .collect();
        calls.sort_by_key(|e| (e.invoke, e.complete));
        let merged = detail == Detail::Coarse || calls.len() > MAX_BARS;
        let full = !merged;

        let class = match detail {
            Detail::Full => "timeline zoomed",
            Detail::Coarse => "timeline whole",
        };
        let mut svg = Node::new("svg")
            .attr("xmlns", "http://www.w3.org/2000/svg")
            .attr("class", class)
            .attr("width", Px(WIDTH))
            .attr("height", Px(height))
            .attr("viewBox", format!("0 0 {} {}", Px(WIDTH), Px(height)))
            .attr("data-from-ms", self.after(window.from))
            .attr("data-to-ms", self.after(window.to));

        // the axis: milliseconds after the run's first call
        let mut axis = Node::new("g").attr("class", "axis");
        let in_ms = Linear::new(
            window.from.saturating_sub(self.origin) as f64 / 1000.0,
            window.to.saturating_sub(self.origin) as f64 / 1000.0,
            LEFT,
            WIDTH - RIGHT,
        );
        for t in in_ms.ticks(8) {
            let px = Px(in_ms.at(t));
            axis.push(
                Node::new("line")
                    .attr("x1", px)
                    .attr("x2", px)
                    .attr("y1", Px(AXIS - 4.0))
                    .attr("y2", Px(height - BOTTOM)),
            );
            axis.push(
                Node::new("text")
                    .attr("x", px)
                    .attr("y", Px(AXIS - 8.0))
                    .text(format!("{} ms", trim(t))),
            );
        }
        axis.push(
            Node::new("text")
                .attr("class", "lane-name")
                .attr("x", Px(LEFT - 6.0))
                .attr("y", Px(AXIS + STRIP - 1.0))
                .text("leaders"),
        );
        svg.push(axis);

        // lanes: backgrounds and names
        let mut lanes = Node::new("g").attr("class", "lanes");
        for (i, c) in self.lanes.iter().enumerate() {
            let y = top + i as f64 * lane_height;
            lanes.push(
                Node::new("g")
                    .attr("class", "lane")
                    .attr("data-candidate", c)
                    .child(
                        rect(Px(LEFT), Px(y), Px(WIDTH - RIGHT - LEFT), Px(lane_height))
                            .attr("class", if i % 2 == 0 { "lane-bg" } else { "lane-bg odd" }),
                    )
                    .child(
                        Node::new("text")
                            .attr("class", "lane-name")
                            .attr("x", Px(LEFT - 6.0))
                            .attr("y", Px(y + lane_height * 0.75))
                            .text(c.to_string()),
                    ),
            );
        }
        svg.push(lanes);

        // fault windows
        let mut faults = Node::new("g").attr("class", "faults");
        for f in &self.section.faults {
            if !visible(f.start.0, f.end.0) {
                continue;
            }
            let (y, h) = match f.on {
                Some(c) => (lane_y(c), lane_height),
                None => (top, lane_height * self.lanes.len() as f64),
            };
            let on =
                f.on.map_or_else(|| "everyone".to_string(), |c| c.to_string());
            let (x0, x1) = (x.clamped(f.start.0), x.clamped(f.end.0));
            let mut g = Node::new("g")
                .attr("class", "fault")
                .attr("data-fault", &f.fault)
                .attr("data-on", &on)
                .child(rect(Px(x0), Px(y), Px((x1 - x0).max(1.0)), Px(h)).child(
                    Node::new("title").text(format!(
                        "{} on {on}, {} ms to {} ms",
                        f.fault,
                        self.after(f.start.0),
                        self.after(f.end.0)
                    )),
                ));
            if full {
                g.push(
                    Node::new("text")
                        .attr("x", Px(x0 + 3.0))
                        .attr("y", Px(y + lane_height * 0.75))
                        .text(format!("{} on {on}", f.fault)),
                );
            }
            faults.push(g);
        }
        svg.push(faults);

        // tenures: the claims P6 judges
        let mut tenures = Node::new("g").attr("class", "tenures");
        let shown_claims = self.claims.iter().filter(|c| visible(c.start, c.end));
        let bands = shown_claims.map(|c| {
            let who = Candidate(c.who);
            (
                who,
                c.start,
                c.end,
                format!(
                    "{who} leads {} ms to {} ms",
                    self.after(c.start),
                    self.after(c.end)
                ),
            )
        });
        let tails = self
            .aged
            .iter()
            .filter(|a| visible(a.1, a.2))
            .map(|&(who, from, to)| {
                let who = Candidate(who);
                let title = format!(
                    "{who}'s claim went on until the harness aged the lease at {} ms \
                 (void to P6 from then on)",
                    self.after(to)
                );
                (who, from, to, title)
            });
        let drawn = [
            ("tenure", spans(bands, &x, merged)),
            ("tenure aged", spans(tails, &x, merged)),
        ];
        for (class, spans) in drawn {
            for (who, x0, x1, title) in spans {
                let mut band = rect(
                    Px(x0),
                    Px(lane_y(who) + 1.0),
                    Px((x1 - x0).max(1.0)),
                    Px(lane_height - 2.0),
                )
                .attr("class", class)
                .attr("data-who", who);
                if let Some(title) = title {
                    band = band.child(Node::new("title").text(title));
                }
                tenures.push(band);
            }
        }
        svg.push(tenures);

        // where two candidates hold the lease at once: by the claims P6
        // judges, or, where an age voided those for P6 (a free race round
        // with several winners, aged by the next round), by the finding
        // that names them (P1's winners)
        let mut strip = Node::new("g").attr("class", "leaders");
        strip.push(
            rect(Px(LEFT), Px(AXIS), Px(WIDTH - RIGHT - LEFT), Px(STRIP)).attr("class", "strip"),
        );
        for (from, to, property, title) in self.split_brains() {
            if !visible(from, to) {
                continue;
            }
            let (x0, x1) = (x.clamped(from), x.clamped(to));
            strip.push(
                rect(Px(x0), Px(AXIS), Px((x1 - x0).max(2.0)), Px(STRIP))
                    .attr("class", "two-leaders")
                    .attr("data-property", property)
                    .child(Node::new("title").text(title)),
            );
        }
        svg.push(strip);

        // calls
        let mut bars = Node::new("g").attr("class", "calls");
        let bar = |y: f64| (y + lane_height * 0.25, lane_height * 0.5);
        if merged {
            for outcome in [Outcome::Fail, Outcome::Ok, Outcome::Unknown] {
                let these = calls
                    .iter()
                    .filter(|e| e.outcome == outcome)
                    .map(|e| (e.candidate, e.invoke.0, e.complete.0, String::new()));
                for (who, x0, x1, _) in spans(these, &x, true) {
                    let (y, h) = bar(lane_y(who));
                    bars.push(
                        rect(Px(x0), Px(y), Px((x1 - x0).max(1.0)), Px(h))
                            .attr("class", format!("call {}", outcome_name(outcome))),
                    );
                }
            }
        } else {
            for e in &calls {
                let (y, h) = bar(lane_y(e.candidate));
                let (x0, x1) = (x.clamped(e.invoke.0), x.clamped(e.complete.0));
                let what = call_name(e.call);
                let outcome = match (e.call, e.outcome) {
                    (Call::Action { .. }, Outcome::Fail) => "refused",
                    (_, o) => outcome_name(o),
                };
                let mut title = format!(
                    "{} {what} {outcome}, {} ms to {} ms",
                    e.candidate,
                    self.after(e.invoke.0),
                    self.after(e.complete.0)
                );
                if let Some(s) = e.server_time {
                    title.push_str(&format!(", server time {} ms", self.after(s.0)));
                }
                let mut g = Node::new("g")
                    .attr("class", format!("call {outcome}"))
                    .attr("data-call", what)
                    .child(
                        rect(Px(x0), Px(y), Px((x1 - x0).max(1.5)), Px(h))
                            .child(Node::new("title").text(title)),
                    );
                if x1 - x0 >= 8.0 * short_name(e.call).len() as f64 {
                    g.push(
                        Node::new("text")
                            .attr("x", Px((x0 + x1) / 2.0))
                            .attr("y", Px(y + h - 2.0))
                            .text(short_name(e.call)),
                    );
                }
                if let Some(s) = e.server_time.filter(|s| visible(s.0, s.0)) {
                    let sx = Px(x.at(s.0));
                    g.push(
                        Node::new("line")
                            .attr("class", "server-time")
                            .attr("x1", sx)
                            .attr("x2", sx)
                            .attr("y1", Px(y - 2.0))
                            .attr("y2", Px(y + h + 2.0)),
                    );
                }
                let completed_here = e.complete.0 >= window.from && e.complete.0 <= window.to;
                if let (Call::Action { epoch, seq }, true) = (e.call, completed_here) {
                    let cx = x1;
                    let cy = y + h / 2.0;
                    let r = h / 2.0 + 2.0;
                    g.push(Node::new("path").attr("class", "action").attr(
                        "d",
                        format!(
                            "M{} {}L{} {}L{} {}L{} {}Z",
                            Px(cx),
                            Px(cy - r),
                            Px(cx + r),
                            Px(cy),
                            Px(cx),
                            Px(cy + r),
                            Px(cx - r),
                            Px(cy)
                        ),
                    ));
                    let label = match (epoch, seq) {
                        (Some(e), Some(s)) => format!("e{e} seq {s}"),
                        (Some(e), None) => format!("e{e}"),
                        (None, Some(s)) => format!("seq {s}"),
                        (None, None) => String::new(),
                    };
                    if !label.is_empty() {
                        g.push(
                            Node::new("text")
                                .attr("class", "action-label")
                                .attr("x", Px(cx + r + 2.0))
                                .attr("y", Px(y + h))
                                .text(label),
                        );
                    }
                }
                bars.push(g);
            }
        }
        svg.push(bars);

        // violations, outlined over their events
        let mut marks = Node::new("g").attr("class", "violations");
        for o in &self.outlines {
            let (Some(from), Some(to)) = (
                o.events.iter().map(|e| e.invoke.0).min(),
                o.events.iter().map(|e| e.complete.0).max(),
            ) else {
                continue;
            };
            if !visible(from, to) {
                continue;
            }
            let rows: Vec<usize> = o
                .events
                .iter()
                .filter_map(|e| lane_of.get(&e.candidate).copied())
                .collect();
            let (lo, hi) = (
                rows.iter().copied().min().unwrap_or(0),
                rows.iter()
                    .copied()
                    .max()
                    .unwrap_or(self.lanes.len().saturating_sub(1)),
            );
            let (x0, x1) = (x.clamped(from), x.clamped(to));
            let (x0, x1) = if x1 - x0 < 6.0 {
                (x0 - 3.0, x1 + 3.0)
            } else {
                (x0, x1)
            };
            let y0 = top + lo as f64 * lane_height - 2.0;
            let y1 = top + (hi + 1) as f64 * lane_height + 2.0;
            let property = o.name.split(' ').next().unwrap_or(o.name);
            let mut g = Node::new("g")
                .attr("class", "violation")
                .attr("data-property", property)
                .child(
                    rect(Px(x0), Px(y0), Px(x1 - x0), Px(y1 - y0))
                        .attr("class", "window")
                        .child(Node::new("title").text(format!("{}: {}", o.name, o.sentence))),
                );
            if detail == Detail::Full {
                g.push(
                    Node::new("text")
                        .attr("x", Px(x0))
                        .attr("y", Px((y0 - 3.0).max(AXIS + STRIP + 8.0)))
                        .text(&o.label),
                );
            }
            if full {
                for e in o.events {
                    if !lane_of.contains_key(&e.candidate) || !visible(e.invoke.0, e.complete.0) {
                        continue;
                    }
                    let (y, h) = bar(lane_y(e.candidate));
                    let (a, b) = (x.clamped(e.invoke.0), x.clamped(e.complete.0));
                    g.push(
                        rect(
                            Px(a - 1.5),
                            Px(y - 1.5),
                            Px((b - a).max(1.5) + 3.0),
                            Px(h + 3.0),
                        )
                        .attr("class", "violating")
                        .attr("data-who", e.candidate),
                    );
                }
            }
            marks.push(g);
        }
        svg.push(marks);

        if let Some(f) = focus {
            let (x0, x1) = (x.clamped(f.from), x.clamped(f.to));
            svg.push(
                rect(
                    Px(x0),
                    Px(AXIS - 2.0),
                    Px((x1 - x0).max(2.0)),
                    Px(height - BOTTOM - AXIS + 2.0),
                )
                .attr("class", "focus")
                .child(Node::new("title").text("the stretch shown in detail above")),
            );
        }
        svg
    }
}

/// A rectangle at `x`, `y`, `width` wide and `height` high.
fn rect(x: Px, y: Px, width: Px, height: Px) -> Node {
    Node::new("rect")
        .attr("x", x)
        .attr("y", y)
        .attr("width", width)
        .attr("height", height)
}

/// The time axis of a picture: microseconds on the events' clock to
/// pixels, computed relative to the window's start (so that times far from
/// zero keep their precision in floating point).
struct Axis {
    from: i64,
    scale: Linear,
}

impl Axis {
    fn new(window: Window) -> Axis {
        let span = window.to.saturating_sub(window.from).max(1) as f64;
        Axis {
            from: window.from,
            scale: Linear::new(0.0, span, LEFT, WIDTH - RIGHT),
        }
    }

    fn at(&self, t: i64) -> f64 {
        self.scale.at(t.saturating_sub(self.from) as f64)
    }

    fn clamped(&self, t: i64) -> f64 {
        self.scale.clamped(t.saturating_sub(self.from) as f64)
    }
}

/// Intervals `(who, from, to, title)` as pixel spans per lane; with
/// `merge`, spans of one lane that touch on screen become one (and lose
/// their titles).
fn spans(
    items: impl Iterator<Item = (Candidate, i64, i64, String)>,
    x: &Axis,
    merge: bool,
) -> Vec<(Candidate, f64, f64, Option<String>)> {
    let mut out: Vec<(Candidate, f64, f64, Option<String>)> = Vec::new();
    let mut items: Vec<_> = items
        .map(|(who, from, to, title)| (who, x.clamped(from), x.clamped(to), title))
        .collect();
    if !merge {
        return items
            .into_iter()
            .map(|(w, a, b, t)| (w, a, b, Some(t)))
            .collect();
    }
    items.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    for (who, a, b, _) in items {
        match out.last_mut() {
            Some(last) if last.0 == who && a <= last.2 + 1.0 => last.2 = last.2.max(b),
            _ => out.push((who, a, b, None)),
        }
    }
    out
}

/// Where spans `(who, from, to)` of two different candidates run at once,
/// merged, with every candidate that held in each merged stretch.
fn overlaps(spans: &[(u16, i64, i64)]) -> Vec<(i64, i64, BTreeSet<u16>)> {
    // +1 at each start, -1 at each end; ends before starts at one instant
    let mut edges: Vec<(i64, i8, u16)> = spans
        .iter()
        .flat_map(|&(who, from, to)| [(from, 1, who), (to, -1, who)])
        .collect();
    edges.sort_by_key(|&(t, d, w)| (t, d, w));
    let mut active: BTreeMap<u16, usize> = BTreeMap::new();
    let mut out: Vec<(i64, i64, BTreeSet<u16>)> = Vec::new();
    let mut since: Option<(i64, BTreeSet<u16>)> = None;
    for (t, d, who) in edges {
        if d > 0 {
            *active.entry(who).or_default() += 1;
        } else if let Some(n) = active.get_mut(&who) {
            *n -= 1;
            if *n == 0 {
                active.remove(&who);
            }
        }
        let at_once = active.len() >= 2;
        match (at_once, since.take()) {
            (true, None) => since = Some((t, active.keys().copied().collect())),
            (true, Some((s, mut who))) => {
                who.extend(active.keys().copied());
                since = Some((s, who));
            }
            (false, Some((s, who))) => {
                if t > s {
                    match out.last_mut() {
                        Some(last) if last.1 >= s => {
                            last.1 = t;
                            last.2.extend(who);
                        }
                        _ => out.push((s, t, who)),
                    }
                }
            }
            (false, None) => {}
        }
    }
    out
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::Fail => "fail",
        Outcome::Unknown => "unknown",
    }
}

fn call_name(c: Call) -> &'static str {
    match c {
        Call::Lease { op } => op.name(),
        Call::Reset => "reset",
        Call::SessionEnd => "session ended",
        Call::Age { .. } => "age",
        Call::Action { .. } => "act",
    }
}

fn short_name(c: Call) -> &'static str {
    match c {
        Call::Lease { op: Op::TryAcquire } => "acq",
        Call::Lease { op: Op::Renew } => "renew",
        Call::Lease { op: Op::Release } => "rel",
        Call::Reset => "reset",
        Call::SessionEnd => "ended",
        Call::Age { .. } => "age",
        Call::Action { .. } => "act",
    }
}

/// Microseconds as milliseconds with up to three decimals.
fn ms(micros: i64) -> String {
    trim(micros as f64 / 1000.0)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps_are_where_two_different_candidates_claim_at_once() {
        let c = [(1, 0, 10), (2, 5, 20), (3, 30, 40), (3, 35, 50)];
        assert_eq!(overlaps(&c), vec![(5, 10, BTreeSet::from([1, 2]))]);
        assert!(overlaps(&[(1, 0, 10), (2, 10, 20)]).is_empty());
        let three = [(1, 0, 10), (2, 5, 20), (3, 8, 30)];
        assert_eq!(overlaps(&three), vec![(5, 20, BTreeSet::from([1, 2, 3]))]);
    }

    #[test]
    fn milliseconds_lose_trailing_zeros() {
        assert_eq!(ms(1_500), "1.5");
        assert_eq!(ms(2_000), "2");
        assert_eq!(ms(-1), "-0.001");
    }
}
