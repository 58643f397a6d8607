//! The regression catalogue: every known-broken lease is caught, naming the
//! property it breaks, and the reference lease passes the same scenarios.

use crate::support::leasecheck;
use leasecheck::catalogue::CATALOGUE;
use std::process::Output;

const SEEDS: [u64; 2] = [1, 2];

fn report(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "--json must print JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn violated(report: &serde_json::Value) -> Vec<String> {
    report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["findings"].as_array().into_iter().flatten())
        .filter_map(|f| f["property"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_catalogue_entry_is_caught_with_exit_1_naming_the_property_it_breaks() {
    for entry in &CATALOGUE {
        for seed in SEEDS {
            let seed = seed.to_string();
            let o = leasecheck(&["reproduce", entry.name, "--seed", &seed, "--json"]);
            let r = report(&o);
            let props = violated(&r);
            assert_eq!(o.status.code(), Some(1), "{} seed {seed}: {r}", entry.name);
            assert!(
                props.iter().any(|p| p == entry.breaks.name()),
                "{} seed {seed} must break {}, found {props:?}",
                entry.name,
                entry.breaks
            );
            let replay = r["replay"].as_str().unwrap_or("");
            assert!(
                replay.contains(&format!("reproduce {} ", entry.name))
                    && replay.ends_with(&format!("--seed {seed}")),
                "{r}"
            );
        }
    }
}

#[test]
fn every_entrys_fixed_lease_passes_its_scenario_and_so_does_the_built_in_reference() {
    for entry in &CATALOGUE {
        for seed in SEEDS {
            let seed = seed.to_string();
            let fixed = leasecheck(&[
                "reproduce",
                entry.name,
                "--fixed",
                "--seed",
                &seed,
                "--json",
            ]);
            let r = report(&fixed);
            assert_eq!(
                fixed.status.code(),
                Some(0),
                "{}'s fixed lease {}, seed {seed}: {r}",
                entry.name,
                entry.fixed.path
            );
            if entry.incident.is_some() {
                continue;
            }
            // The entries written to show one mistake are fixed by the
            // reference lease: the built-in one passes too.
            let mut args: Vec<&str> = entry.scenario.to_vec();
            args.extend(["--seed", &seed, "--json"]);
            let o = leasecheck(&args);
            let r = report(&o);
            assert_eq!(
                o.status.code(),
                Some(0),
                "the built-in reference under {}'s scenario, seed {seed}: {r}",
                entry.name
            );
        }
    }
}

#[test]
fn the_catalogue_lists_every_entrys_incident_and_fixed_counterpart() {
    let o = leasecheck(&["reproduce", "--list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let list = report(&o);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), CATALOGUE.len());
    for (json, entry) in list.iter().zip(&CATALOGUE) {
        assert_eq!(json["name"], entry.name);
        assert_eq!(json["spec"], entry.spec.path);
        assert_eq!(json["fixed"]["spec"], entry.fixed.path);
        assert_eq!(
            json["fixed"]["command"],
            format!("leasecheck reproduce {} --fixed", entry.name)
        );
        assert!(
            std::path::Path::new(entry.spec.path).is_file()
                && std::path::Path::new(entry.fixed.path).is_file(),
            "{}: both spec files are in the repository",
            entry.name
        );
        match &entry.incident {
            Some(incident) => {
                assert_eq!(json["incident"]["reference"], incident.reference);
                assert!(
                    entry.spec.text.contains(incident.reference)
                        && entry.fixed.text.contains(incident.reference),
                    "{}: both spec files' headers name the incident {}",
                    entry.name,
                    incident.reference
                );
            }
            None => assert!(json["incident"].is_null(), "{json}"),
        }
    }
}

#[test]
fn the_advisory_lock_splits_its_brain_through_pgbouncer_but_not_on_direct_connections() {
    // The mutual-exclusion properties: which one sees the two leaders first
    // through the pooler depends on which server connection PgBouncer hands
    // each call (a foreign renew that "holds" the lock is P6, a foreign
    // release that frees the holder's lock is P5).
    let two_leaders =
        |p: &String| p.starts_with("P1") || p.starts_with("P5") || p.starts_with("P6");
    let direct = leasecheck(&[
        "check",
        "--spec",
        "specs/broken/advisory-lock.toml",
        "--faults",
        "client-pause",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "4",
        "--json",
    ]);
    let r = report(&direct);
    let props = violated(&r);
    assert!(
        !props.iter().any(two_leaders),
        "direct connections: mutual exclusion holds: {props:?}"
    );
    assert!(
        props.iter().any(|p| p.starts_with("P3")),
        "but a stalled holder is never taken over: {props:?}"
    );
    let pooled = leasecheck(&[
        "check",
        "--spec",
        "specs/broken/advisory-lock.toml",
        "--via",
        "pgbouncer",
        "--faults",
        "client-pause",
        "--candidates",
        "8",
        "--rounds",
        "10",
        "--seed",
        "4",
        "--json",
    ]);
    let props = violated(&report(&pooled));
    assert!(
        props.iter().any(two_leaders),
        "through the pooler: two leaders: {props:?}"
    );
}
