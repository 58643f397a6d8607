//! Markup: an element tree written as XML that is also valid HTML, with
//! every attribute value and every text escaped.
//!
//! The report page and every picture in it (and the benchmark plots) are
//! built as [`Node`]s and written once, here. Nothing else writes a tag.

use std::fmt::{self, Display, Write as _};

/// An element: a name, attributes in the order set, then children.
#[derive(Clone, Debug, Default)]
pub struct Node {
    name: String,
    attrs: Vec<(&'static str, String)>,
    children: Vec<Child>,
}

#[derive(Clone, Debug)]
enum Child {
    Node(Node),
    Text(String),
    /// Text from the program itself (a style sheet), written as is.
    Static(&'static str),
}

impl Node {
    /// An element named `name` with no attributes and no children.
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_string(),
            ..Node::default()
        }
    }

    /// Set the attribute `key` (a second `attr` with the same key adds a
    /// second attribute; don't).
    pub fn attr(mut self, key: &'static str, value: impl Display) -> Node {
        self.attrs.push((key, value.to_string()));
        self
    }

    /// Append a child element.
    pub fn child(mut self, child: Node) -> Node {
        self.children.push(Child::Node(child));
        self
    }

    /// Append child elements.
    pub fn children(mut self, children: impl IntoIterator<Item = Node>) -> Node {
        self.children.extend(children.into_iter().map(Child::Node));
        self
    }

    /// Append a child element in place.
    pub fn push(&mut self, child: Node) {
        self.children.push(Child::Node(child));
    }

    /// Append text (escaped when written).
    pub fn text(mut self, text: impl Into<String>) -> Node {
        self.children.push(Child::Text(text.into()));
        self
    }

    /// Append text that the program itself wrote (a style sheet): written
    /// as is, so it must hold no `<` or `&`.
    pub fn verbatim(mut self, text: &'static str) -> Node {
        debug_assert!(!text.contains(['<', '&']));
        self.children.push(Child::Static(text));
        self
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"");
            escape(v, out);
            out.push('"');
        }
        if self.children.is_empty() && VOID.contains(&self.name.as_str()) {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &self.children {
            match c {
                Child::Node(n) => n.write(out),
                Child::Text(t) => escape(t, out),
                Child::Static(t) => out.push_str(t),
            }
        }
        let _ = write!(out, "</{}>", self.name);
    }
}

/// Elements written as `<x/>` when empty. Every other element is written
/// with a closing tag, which HTML requires of non-void elements (`<div/>`
/// would open a div in HTML).
const VOID: &[&str] = &[
    "meta", "br", "hr", "rect", "line", "path", "circle", "polygon", "polyline", "use", "stop",
];

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // characters XML 1.0 does not allow: shown as the replacement
            c if ((c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{fffe}' | '\u{ffff}') =>
            {
                out.push('\u{fffd}')
            }
            c => out.push(c),
        }
    }
}

/// The tree as markup.
impl Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

/// A coordinate or length in pixels, written with one decimal at most.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Px(pub f64);

impl Display for Px {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // (a non-finite coordinate would make the browser drop the element
        // with an error: 0 instead)
        let v = if self.0.is_finite() {
            (self.0 * 10.0).round() / 10.0
        } else {
            0.0
        };
        if v.fract() == 0.0 {
            write!(f, "{}", v as i64)
        } else {
            write!(f, "{v:.1}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped_so_user_input_cannot_open_a_tag() {
        let n = Node::new("text")
            .attr("data-x", "a\"b<c>&'")
            .text("</svg><script>&");
        assert_eq!(
            n.to_string(),
            "<text data-x=\"a&quot;b&lt;c&gt;&amp;&#39;\">&lt;/svg&gt;&lt;script&gt;&amp;</text>"
        );
    }

    #[test]
    fn only_void_elements_close_themselves() {
        assert_eq!(Node::new("rect").to_string(), "<rect/>");
        assert_eq!(Node::new("div").to_string(), "<div></div>");
    }

    #[test]
    fn pixels_keep_one_decimal() {
        assert_eq!(Px(12.0).to_string(), "12");
        assert_eq!(Px(12.345).to_string(), "12.3");
        assert_eq!(Px(-0.04).to_string(), "0");
        assert_eq!(Px(f64::NAN).to_string(), "0");
    }
}
