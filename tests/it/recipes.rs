//! The CI recipes in `examples/ci/` (and the README's "In CI" section) run
//! only commands these tests run: every `leasecheck <subcommand> ...` line in
//! them must be one of [`TESTED_COMMANDS`], and each of those is run here or
//! in `image.rs`, exactly as written. A recipe cannot drift from what is tested.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The all-in-one image as the whole CI step (`image.rs` runs it through
/// `sh -c` in a directory holding `lease.toml`).
pub const IMAGE_COMMAND: &str = r#"docker run --rm -v "$PWD:/data" leasecheck check --spec /data/lease.toml --junit /data/out.xml --report /data/report"#;

/// leasecheck installed on the CI machine, or run as the CI job's image. Run
/// here with `DATABASE_URL` set (the service-container recipes, through the
/// Makefile's target) and in `image.rs` inside the image without it (GitLab's
/// `image:` job).
pub const URL_COMMAND: &str =
    "leasecheck check --spec lease.toml --junit leasecheck.xml --report leasecheck-report";

/// Every command a recipe may contain.
pub const TESTED_COMMANDS: [&str; 2] = [IMAGE_COMMAND, URL_COMMAND];

const RECIPES: [&str; 3] = [
    "examples/ci/github-actions.yml",
    "examples/ci/gitlab-ci.yml",
    "examples/ci/Makefile",
];

const SUBCOMMANDS: [&str; 10] = [
    "check",
    "race",
    "takeover",
    "zombie",
    "reproduce",
    "check-history",
    "validate",
    "init",
    "doctor",
    "help",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `leasecheck <subcommand> ...` in `text`, one per line, from the
/// `docker run` that starts it if there is one, to the end of the line,
/// comments included (a commented-out command is a command a reader copies).
pub fn leasecheck_commands(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let invoked = words.windows(2).any(|w| {
            w[0].trim_start_matches(['#', '-', '`', '$']) == "leasecheck"
                && SUBCOMMANDS.contains(&w[1])
        });
        if !invoked {
            continue;
        }
        let at = line.find("leasecheck").unwrap_or(0);
        let start = line[..at].find("docker run").unwrap_or(at);
        let command = line[start..].trim().trim_end_matches('`');
        found.push(command.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    found
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// The README's "In CI" section: from its heading to the next `## ` heading.
fn readme_in_ci() -> String {
    let readme = read("README.md");
    let start = readme
        .lines()
        .position(|l| l.starts_with("##") && l.trim_start_matches('#').trim() == "In CI")
        .expect("the README has an \"In CI\" section");
    readme
        .lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines of the fenced code blocks in `markdown` (what a reader copies;
/// prose may name a command without running it).
fn code_blocks(markdown: &str) -> String {
    let mut inside = false;
    let mut code = Vec::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
        } else if inside {
            code.push(line);
        }
    }
    code.join("\n")
}

#[test]
fn every_leasecheck_command_in_the_ci_recipes_and_the_readme_is_one_the_tests_run() {
    let mut used = Vec::new();
    let mut sources: Vec<(String, String)> =
        RECIPES.iter().map(|r| (r.to_string(), read(r))).collect();
    sources.push((
        "README.md, \"In CI\" (code blocks)".into(),
        code_blocks(&readme_in_ci()),
    ));
    for (name, text) in &sources {
        let commands = leasecheck_commands(text);
        assert!(
            !commands.is_empty(),
            "{name} runs no leasecheck command at all"
        );
        for command in commands {
            assert!(
                TESTED_COMMANDS.contains(&command.as_str()),
                "{name} runs a command no test runs:\n  {command}\nthe tested ones (tests/it/recipes.rs):\n  {}",
                TESTED_COMMANDS.join("\n  ")
            );
            used.push(command);
        }
    }
    for tested in TESTED_COMMANDS {
        assert!(
            used.iter().any(|c| c == tested),
            "no recipe uses the tested command {tested}: drop it from TESTED_COMMANDS"
        );
    }
    // The scanner itself: it must see what a recipe line looks like.
    assert_eq!(
        leasecheck_commands(
            "      - run: leasecheck check --spec a.toml   # x\n  - cargo install leasecheck\n"
        ),
        ["leasecheck check --spec a.toml # x"]
    );
    assert_eq!(
        leasecheck_commands(r#"  run: docker run --rm -v "$PWD:/data" leasecheck race"#),
        [r#"docker run --rm -v "$PWD:/data" leasecheck race"#]
    );
}

#[test]
fn every_recipe_file_the_readme_links_exists() {
    let section = readme_in_ci();
    for recipe in RECIPES {
        assert!(
            section.contains(&format!("({recipe})")),
            "the README's \"In CI\" section links {recipe}"
        );
        assert!(root().join(recipe).is_file(), "{recipe} exists");
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `PATH` with the directory of the test build's `leasecheck` first, so a
/// recipe's `leasecheck` is this build.
pub fn path_with_leasecheck() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_leasecheck"));
    let dir = bin.parent().expect("the binary has a directory");
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)))
        .expect("PATH joins")
}

/// `spec` as `lease.toml` in a fresh directory, as a recipe expects it, with
/// the TTL a fast lease would declare (`ttl_seconds = 0.2`: the whole battery
/// in seconds, not a minute; the recipe's command is unchanged).
pub fn workdir_with_spec(spec: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(root().join(spec)).expect("read the spec");
    let fast = text.replacen("ttl_seconds = 1.0", "ttl_seconds = 0.2", 1);
    assert_ne!(fast, text, "{spec} declares ttl_seconds = 1.0");
    std::fs::write(dir.path().join("lease.toml"), fast).expect("write lease.toml");
    dir
}

/// The JUnit report a run wrote: its test cases, and whether any failed.
pub fn junit(path: &Path) -> (usize, bool) {
    let xml = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the run wrote no JUnit report {}: {e}", path.display()));
    let cases = xml.matches("<testcase").count();
    (cases, xml.contains("<failure"))
}

#[test]
fn the_makefile_target_passes_the_reference_spec_against_a_database_url() {
    let pg = leasecheck::Postgres::start_local()
        .unwrap_or_else(|e| panic!("this test needs the Postgres server binaries: {e}"));
    let dir = workdir_with_spec("specs/reference.toml");
    let makefile = root().join("examples/ci/Makefile");
    let o = Command::new("make")
        .arg("-f")
        .arg(&makefile)
        .arg("leasecheck")
        .current_dir(dir.path())
        .env("PATH", path_with_leasecheck())
        .env("DATABASE_URL", pg.url())
        .env_remove("LEASECHECK_POSTGRES")
        .env_remove("MAKEFLAGS")
        .output()
        .unwrap_or_else(|e| panic!("run make (install it: apt-get install make): {e}"));
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l == URL_COMMAND),
        "make ran exactly the tested command: {out}"
    );
    assert!(
        out.contains(&format!("({})", leasecheck::Source::Url)),
        "the run used DATABASE_URL: {out}"
    );
    let (cases, failed) = junit(&dir.path().join("leasecheck.xml"));
    assert!(cases >= 5, "one test case per scenario: {cases}\n{out}");
    assert!(!failed, "{out}");
    let page = dir.path().join("leasecheck-report/index.html");
    assert!(
        page.is_file(),
        "the HTML report at {}: {out}",
        page.display()
    );
}
