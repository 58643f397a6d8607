//! The documentation's links: every relative link in `README.md`,
//! `ARCHITECTURE.md`, `docs/*.md` and `fuzz/README.md` resolves, inside a
//! clone of the repository, to a file that exists (and is not ignored by
//! git), and every `#anchor` to a heading of its target. No link leaves the
//! repository. `http(s)` links are listed, never fetched. No database.
//!
//! Links are found by a Markdown parser (`pulldown-cmark`), not a regex, so
//! a `[x](y)` inside a code block or inline code is not taken for a link,
//! and reference-style links (`[x][ref]`) and autolinks are.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files whose links are checked, relative to the root:
/// `README.md`, `ARCHITECTURE.md`, `fuzz/README.md` and every `docs/*.md`.
fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "fuzz/README.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let docs = root().join("docs");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&docs)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", docs.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| Path::new("docs").join(p.file_name().expect("a file name")))
        .collect();
    pages.sort();
    files.extend(pages);
    files
}

fn read(relative: &Path) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH
}

/// One link of a document: its destination as written, and its line.
#[derive(Debug)]
struct Link {
    dest: String,
    line: usize,
}

/// Every link and image destination of a Markdown text, with its line.
fn links(text: &str) -> Vec<Link> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    Parser::new_ext(text, options())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(Link {
                dest: dest_url.to_string(),
                line: line_of(range.start),
            }),
            _ => None,
        })
        .collect()
}

/// The anchors GitHub gives a Markdown text's headings: each heading's
/// slug, and `slug-1`, `slug-2`, ... for repeats.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    let slug = slug(&h);
                    let mut candidate = slug.clone();
                    let mut n = 0;
                    while out.contains(&candidate) {
                        n += 1;
                        candidate = format!("{slug}-{n}");
                    }
                    out.insert(candidate);
                }
            }
            _ => {}
        }
    }
    out
}

/// GitHub's slug of a heading's text: lowercase, spaces to `-`, every other
/// character but letters, digits, `-` and `_` dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// True for a link that leaves the repository by design (a URL).
fn is_external(dest: &str) -> bool {
    let lower = dest.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// `dest` (a relative link in `document`) as a path relative to the root,
/// or why it is not one.
fn resolve(document: &Path, dest: &str) -> Result<PathBuf, String> {
    if dest.starts_with('/') || dest.contains("://") || dest.contains(':') {
        return Err("is not a relative path (write links relative to the file)".into());
    }
    let base = document.parent().unwrap_or(Path::new(""));
    let mut parts: Vec<String> = Vec::new();
    for component in base.join(dest).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err("escapes the repository (too many `../`)".into());
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is not a relative path".into());
            }
        }
    }
    Ok(parts.iter().collect())
}

/// True if git ignores `relative` (so it would be missing from a clone).
/// `None` when git cannot tell (no git, or not a work tree).
fn ignored_by_git(relative: &Path) -> Option<bool> {
    let status = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["check-ignore", "-q", "--"])
        .arg(relative)
        .status()
        .ok()?;
    match status.code() {
        Some(0) => Some(true),
        Some(1) => Some(false),
        _ => None,
    }
}

/// Every relative link of every document, with what is wrong with it.
fn broken_links() -> Vec<String> {
    let mut broken = Vec::new();
    for document in documents() {
        let text = read(&document);
        for link in links(&text) {
            if is_external(&link.dest) {
                continue;
            }
            let at = format!("{}:{}: link `{}`", document.display(), link.line, link.dest);
            let (path, anchor) = match link.dest.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (link.dest.as_str(), None),
            };
            let target = if path.is_empty() {
                document.clone()
            } else {
                match resolve(&document, path) {
                    Ok(target) => target,
                    Err(why) => {
                        broken.push(format!("{at} {why}"));
                        continue;
                    }
                }
            };
            let full = root().join(&target);
            if !full.exists() {
                broken.push(format!("{at}: {} does not exist", target.display()));
                continue;
            }
            if ignored_by_git(&target) == Some(true) {
                broken.push(format!(
                    "{at}: {} is ignored by git, so a clone does not have it",
                    target.display()
                ));
                continue;
            }
            if let Some(anchor) = anchor {
                if !full.extension().is_some_and(|x| x == "md") {
                    broken.push(format!(
                        "{at}: an anchor into {}, which is not a Markdown file",
                        target.display()
                    ));
                    continue;
                }
                let headings = anchors(&read(&target));
                if !headings.contains(anchor) {
                    broken.push(format!(
                        "{at}: {} has no heading with the anchor #{anchor} (it has: {})",
                        target.display(),
                        headings.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_in_the_docs_resolves_inside_the_repository() {
    let broken = broken_links();
    assert!(
        broken.is_empty(),
        "{} broken link(s):\n{}",
        broken.len(),
        broken.join("\n")
    );
}

#[test]
fn the_link_check_reads_every_docs_page_and_finds_their_links() {
    let documents = documents();
    for page in [
        "docs/README.md",
        "docs/properties.md",
        "docs/scenarios.md",
        "docs/faults.md",
        "docs/spec-format.md",
        "docs/history-format.md",
        "docs/exit-codes.md",
    ] {
        assert!(
            documents.iter().any(|d| d == Path::new(page)),
            "{page} is not among the checked documents: {documents:?}"
        );
    }
    let index = links(&read(Path::new("docs/README.md")));
    assert!(
        index.len() >= 7,
        "the docs index should link every page, found {index:?}"
    );
    let readme = links(&read(Path::new("README.md")));
    assert!(
        readme.iter().any(|l| l.dest.starts_with("docs/")),
        "README.md should link into docs/, found {readme:?}"
    );
}

#[test]
fn every_docs_page_is_linked_from_the_docs_index() {
    let index: BTreeSet<String> = links(&read(Path::new("docs/README.md")))
        .into_iter()
        .filter(|l| !is_external(&l.dest))
        .map(|l| l.dest.split('#').next().unwrap_or_default().to_string())
        .collect();
    let missing: Vec<PathBuf> = documents()
        .into_iter()
        .filter(|d| d.starts_with("docs") && d != Path::new("docs/README.md"))
        .filter(|d| {
            let name = d.file_name().expect("a file name").to_string_lossy();
            !index.contains(name.as_ref())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "docs/README.md does not link {missing:?}"
    );
}

#[test]
fn external_links_are_listed_and_never_fetched() {
    // No network: each URL is only checked to be well-formed, and listed.
    let mut external = Vec::new();
    for document in documents() {
        for link in links(&read(&document)) {
            if is_external(&link.dest) {
                let host = link
                    .dest
                    .split_once("://")
                    .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default());
                assert!(
                    link.dest.starts_with("mailto:") || host.is_some_and(|h| !h.is_empty()),
                    "{}:{}: `{}` has no host",
                    document.display(),
                    link.line,
                    link.dest
                );
                external.push(format!(
                    "{}:{}: {}",
                    document.display(),
                    link.line,
                    link.dest
                ));
            }
        }
    }
    println!("{} external link(s), not fetched:", external.len());
    for e in &external {
        println!("  {e}");
    }
}

#[test]
fn links_in_code_are_not_links_and_reference_links_are() {
    let text = "[a](x.md)\n\n```text\n[b](y.md)\n```\n\n`[c](z.md)`\n\n[d][r]\n\n[r]: w.md#part\n";
    let found: Vec<String> = links(text).into_iter().map(|l| l.dest).collect();
    assert_eq!(found, ["x.md", "w.md#part"]);
}

#[test]
fn anchors_follow_githubs_slug_rules() {
    let text = "# Exit codes\n\n## 2: the run could not be done\n\n## `--json` output, v1\n\n\
                ## P1 exactly one winner\n\n## Errors\n\n## Errors\n\n### `SpecError::Type`\n";
    let got = anchors(text);
    let want: BTreeSet<String> = [
        "exit-codes",
        "2-the-run-could-not-be-done",
        "--json-output-v1",
        "p1-exactly-one-winner",
        "errors",
        "errors-1",
        "specerrortype",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(got, want);
}

#[test]
fn a_link_that_escapes_the_repository_is_refused() {
    let doc = Path::new("docs/faults.md");
    assert_eq!(resolve(doc, "../README.md"), Ok(PathBuf::from("README.md")));
    assert_eq!(
        resolve(doc, "./spec-format.md"),
        Ok(PathBuf::from("docs/spec-format.md"))
    );
    assert!(resolve(doc, "../../elsewhere.md").is_err());
    assert!(resolve(Path::new("README.md"), "../notes/NOTES.md").is_err());
    assert!(resolve(doc, "/etc/passwd").is_err());
}
