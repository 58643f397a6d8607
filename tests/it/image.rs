//! The all-in-one image (`scripts/build-image.sh`): built with this test
//! build's binary, then run with exactly the CI recipes' commands
//! ([`IMAGE_COMMAND`], and [`URL_COMMAND`] as a CI job's image). Needs a
//! Docker engine: without one these tests fail, saying how to get one.

use crate::recipes::{junit, workdir_with_spec, IMAGE_COMMAND, URL_COMMAND};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The image the recipes run (`leasecheck`, i.e. `leasecheck:latest`).
const IMAGE: &str = "leasecheck";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Build (or find up to date) the image with the test build's binary; fail
/// loudly when there is no Docker engine.
fn image() {
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match engine {
        Ok(o) if o.status.success() => {}
        other => panic!(
            "these tests need a Docker engine and none is reachable ({}).\n\
             Install and start one (Debian: `apt-get install docker.io && dockerd &`, or\n\
             `systemctl start docker`), make sure this user may use it (group docker),\n\
             then rerun. No image is pulled: scripts/build-image.sh builds it locally.",
            match other {
                Ok(o) => text(&o).trim().to_string(),
                Err(e) => format!("cannot run `docker`: {e}"),
            }
        ),
    }
    // Never replace an image these tests did not make: a `leasecheck`
    // image without scripts/build-image.sh's label is someone's own.
    let existing = Command::new("docker")
        .args([
            "image",
            "inspect",
            IMAGE,
            "--format",
            "{{index .Config.Labels \"leasecheck.image-inputs-sha256\"}}",
        ])
        .output()
        .expect("run docker image inspect");
    if existing.status.success() {
        let label = String::from_utf8_lossy(&existing.stdout).trim().to_string();
        assert!(
            !label.is_empty() && label != "<no value>",
            "an image `{IMAGE}` that scripts/build-image.sh did not build is here; these \
             tests build and run their own `{IMAGE}` and will not replace it. Retag or \
             remove it (`docker tag {IMAGE} my-{IMAGE} && docker rmi {IMAGE}`), then rerun."
        );
    }
    let o = Command::new("bash")
        .arg(root().join("scripts/build-image.sh"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_leasecheck"))
        .env_remove("IMAGE")
        .output()
        .expect("run scripts/build-image.sh");
    assert!(
        o.status.success(),
        "scripts/build-image.sh failed:\n{}",
        text(&o)
    );
}

/// `docker run ... --entrypoint chown`: files the container wrote into the
/// mounted `dir` as root go back to the owner of `dir` (the test's user), so
/// the temp dir's cleanup can remove them; then check that it worked.
fn hand_back(dir: &Path) {
    let meta = std::fs::metadata(dir).expect("stat the work dir");
    let o = Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/data", dir.display()))
        .args(["--entrypoint", "chown", IMAGE, "-R"])
        .arg(format!("{}:{}", meta.uid(), meta.gid()))
        .arg("/data")
        .output()
        .expect("run docker");
    assert!(o.status.success(), "chown in the image: {}", text(&o));
    for entry in std::fs::read_dir(dir).expect("list the work dir") {
        let entry = entry.expect("a directory entry");
        let m = entry.metadata().expect("stat an entry");
        assert_eq!(
            (m.uid(), m.gid()),
            (meta.uid(), meta.gid()),
            "{} belongs to the test's user",
            entry.path().display()
        );
    }
}

/// The recipe's docker command, as a CI shell runs it, in `dir`.
fn run_image_command(dir: &Path) -> Output {
    let o = Command::new("sh")
        .args(["-c", IMAGE_COMMAND])
        .current_dir(dir)
        .env("PWD", dir)
        .output()
        .expect("run sh");
    hand_back(dir);
    o
}

#[test]
fn the_one_docker_run_of_the_recipes_passes_the_reference_spec_with_a_junit_report() {
    image();
    let dir = workdir_with_spec("specs/reference.toml");
    let o = run_image_command(dir.path());
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{IMAGE_COMMAND}\n{out}");
    assert!(out.contains("(throwaway local cluster)"), "{out}");
    for fault in ["backend-stall", "database-pause"] {
        assert!(
            out.contains(&format!("ok   takeover/{fault}")),
            "every fault applies in the image ({fault}): {out}"
        );
    }
    let (cases, failed) = junit(&dir.path().join("out.xml"));
    assert!(cases >= 13, "one test case per scenario: {cases}\n{out}");
    assert!(!failed, "{out}");
    let page = dir.path().join("report/index.html");
    assert!(
        page.is_file(),
        "the HTML report at {}: {out}",
        page.display()
    );
}

#[test]
fn the_one_docker_run_of_the_recipes_fails_a_check_then_act_spec_with_exit_1() {
    image();
    let dir = workdir_with_spec("specs/broken/check-then-act.toml");
    let o = run_image_command(dir.path());
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{IMAGE_COMMAND}\n{out}");
    assert!(out.contains("VIOLATION P1 exactly one winner"), "{out}");
    let (cases, failed) = junit(&dir.path().join("out.xml"));
    assert!(
        cases >= 1 && failed,
        "the JUnit report has the failure: {out}"
    );
}

#[test]
fn the_image_as_a_ci_jobs_image_runs_the_recipe_command_with_its_own_cluster() {
    image();
    let dir = workdir_with_spec("specs/reference.toml");
    // What GitLab does with `image: {name: ..., entrypoint: [""]}`: the job's
    // script through the image's shell, in the checked-out directory.
    let o = Command::new("docker")
        .args(["run", "--rm", "-v"])
        .arg(format!("{}:/data", dir.path().display()))
        .args(["--entrypoint", "sh", IMAGE, "-c", URL_COMMAND])
        .output()
        .expect("run docker");
    hand_back(dir.path());
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{URL_COMMAND}\n{out}");
    assert!(out.contains("(throwaway local cluster)"), "{out}");
    let (cases, failed) = junit(&dir.path().join("leasecheck.xml"));
    assert!(cases >= 13, "one test case per scenario: {cases}\n{out}");
    assert!(!failed, "{out}");
}
