//! A line chart on logarithmic axes, as a standalone SVG file: the
//! benchmark report's plots (latency against candidates), drawn with the
//! same markup and scales as the report's timelines.

use super::markup::{Node, Px};
use super::scale::Log;

/// One line of a [`LineChart`].
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's text.
    pub label: String,
    /// A CSS colour.
    pub color: &'static str,
    /// Drawn dashed (a floor to compare against).
    pub dashed: bool,
    /// Drawn thicker.
    pub bold: bool,
    /// `(x, y)`, both > 0; drawn in order of x.
    pub points: Vec<(f64, f64)>,
}

/// Lines of `y` against `x`, both on logarithmic axes.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Above the plot.
    pub title: String,
    /// Under the x axis.
    pub x_label: String,
    /// Beside the y axis.
    pub y_label: String,
    /// The x values marked on the axis.
    pub x_ticks: Vec<f64>,
    /// How a y value is written on its axis.
    pub y_format: fn(f64) -> String,
    /// The lines, drawn in order, each with its legend entry.
    pub series: Vec<Series>,
}

const W: f64 = 640.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

impl LineChart {
    /// The chart as an `<svg>` element; `None` when there is no point to
    /// draw.
    pub fn draw(&self) -> Option<Node> {
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let (lo, hi) = Log::decades(ys)?;
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.x_ticks.iter().copied())
            .filter(|v| *v > 0.0);
        let (x_lo, x_hi) = xs.fold((f64::INFINITY, 0f64), |(a, b), v| (a.min(v), b.max(v)));
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let x = Log::new(x_lo, x_hi.max(x_lo * 2.0), LEFT, LEFT + pw);
        let y = Log::new(lo, hi, TOP + ph, TOP);
        let mut svg = Node::new("svg")
            .attr("xmlns", "http://www.w3.org/2000/svg")
            .attr("class", "chart")
            .attr("width", Px(W))
            .attr("height", Px(H))
            .attr("viewBox", format!("0 0 {} {}", Px(W), Px(H)))
            .attr("font-family", "sans-serif")
            .attr("font-size", 12)
            .child(
                Node::new("rect")
                    .attr("width", Px(W))
                    .attr("height", Px(H))
                    .attr("fill", "white"),
            )
            .child(
                Node::new("text")
                    .attr("x", Px(LEFT + pw / 2.0))
                    .attr("y", 22)
                    .attr("text-anchor", "middle")
                    .attr("font-size", 14)
                    .text(&self.title),
            )
            .child(
                Node::new("rect")
                    .attr("x", Px(LEFT))
                    .attr("y", Px(TOP))
                    .attr("width", Px(pw))
                    .attr("height", Px(ph))
                    .attr("fill", "none")
                    .attr("stroke", "#888"),
            );
        let mut grid = Node::new("g").attr("class", "grid");
        for v in y.ticks() {
            let py = Px(y.at(v));
            grid.push(grid_line(Px(LEFT), Px(LEFT + pw), py, py));
            grid.push(
                Node::new("text")
                    .attr("x", Px(LEFT - 6.0))
                    .attr("y", Px(y.at(v) + 4.0))
                    .attr("text-anchor", "end")
                    .text((self.y_format)(v)),
            );
        }
        for &v in &self.x_ticks {
            let px = Px(x.at(v));
            grid.push(grid_line(px, px, Px(TOP), Px(TOP + ph)));
            grid.push(
                Node::new("text")
                    .attr("x", px)
                    .attr("y", Px(TOP + ph + 16.0))
                    .attr("text-anchor", "middle")
                    .text(format!("{v}")),
            );
        }
        svg.push(grid);
        svg.push(
            Node::new("text")
                .attr("x", Px(LEFT + pw / 2.0))
                .attr("y", Px(H - 12.0))
                .attr("text-anchor", "middle")
                .text(&self.x_label),
        );
        svg.push(
            Node::new("text")
                .attr("x", 16)
                .attr("y", Px(TOP + ph / 2.0))
                .attr("text-anchor", "middle")
                .attr(
                    "transform",
                    format!("rotate(-90 16 {})", Px(TOP + ph / 2.0)),
                )
                .text(&self.y_label),
        );
        let mut legend_y = TOP + 10.0;
        for s in &self.series {
            let mut points: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0 > 0.0 && p.1 > 0.0)
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let width = if s.bold { 3.0 } else { 1.5 };
            let d: Vec<String> = points
                .iter()
                .enumerate()
                .map(|(i, (px, py))| {
                    let m = if i == 0 { 'M' } else { 'L' };
                    format!("{m}{},{}", Px(x.at(*px)), Px(y.at(*py)))
                })
                .collect();
            let mut line = Node::new("g")
                .attr("class", "series")
                .attr("data-label", &s.label);
            let mut path = Node::new("path")
                .attr("d", d.join(" "))
                .attr("fill", "none")
                .attr("stroke", s.color)
                .attr("stroke-width", width);
            if s.dashed {
                path = path.attr("stroke-dasharray", "6 4");
            }
            line.push(path);
            for (px, py) in &points {
                line.push(
                    Node::new("circle")
                        .attr("cx", Px(x.at(*px)))
                        .attr("cy", Px(y.at(*py)))
                        .attr("r", 2.5)
                        .attr("fill", s.color),
                );
            }
            let lx = LEFT + pw + 12.0;
            let mut key = Node::new("line")
                .attr("x1", Px(lx))
                .attr("x2", Px(lx + 22.0))
                .attr("y1", Px(legend_y))
                .attr("y2", Px(legend_y))
                .attr("stroke", s.color)
                .attr("stroke-width", width);
            if s.dashed {
                key = key.attr("stroke-dasharray", "6 4");
            }
            line.push(key);
            line.push(
                Node::new("text")
                    .attr("x", Px(lx + 28.0))
                    .attr("y", Px(legend_y + 4.0))
                    .text(&s.label),
            );
            legend_y += 18.0;
            svg.push(line);
        }
        Some(svg)
    }

    /// The chart as a standalone SVG file's text; `None` when there is no
    /// point to draw.
    pub fn to_svg_file(&self) -> Option<String> {
        self.draw()
            .map(|svg| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{svg}\n"))
    }
}

fn grid_line(x1: Px, x2: Px, y1: Px, y2: Px) -> Node {
    Node::new("line")
        .attr("x1", x1)
        .attr("x2", x2)
        .attr("y1", y1)
        .attr("y2", y2)
        .attr("stroke", "#eee")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_one_group_per_series_with_points() {
        let chart = LineChart {
            title: "p50".into(),
            x_label: "candidates (N)".into(),
            y_label: "latency".into(),
            x_ticks: vec![1.0, 2.0, 4.0],
            y_format: |v| format!("{v} µs"),
            series: vec![Series {
                label: "lease".into(),
                color: "#d62728",
                dashed: false,
                bold: true,
                points: vec![(1.0, 80.0), (4.0, 150.0), (2.0, 100.0)],
            }],
        };
        let svg = chart.to_svg_file().expect("points to draw");
        assert!(svg.contains("data-label=\"lease\""));
        assert_eq!(svg.matches("<circle").count(), 3);
        let empty = LineChart {
            series: Vec::new(),
            ..chart
        };
        assert!(empty.draw().is_none());
    }
}
