//! Scenarios side by side (`--jobs`): a battery run several scenarios at a
//! time, each on a throwaway cluster of its own, gives the verdicts of the
//! same battery run one scenario at a time on one server.
//! `scripts/agreement.sh` does the same over 20 seeds.

use crate::support::json;
use std::collections::BTreeMap;

/// Every scenario's status and the properties of its findings, by name.
fn verdicts(jobs: &str, seed: &str) -> (i32, BTreeMap<String, (String, Vec<String>)>) {
    // Side by side needs throwaway clusters: the run's own, whatever this
    // test was given.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args([
            "check",
            "--spec",
            "specs/real/river-current.toml",
            "--ttl",
            "0.3",
            "--seed",
            seed,
            "--jobs",
            jobs,
            "--json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LEASECHECK_POSTGRES", "local")
        .env_remove("DATABASE_URL")
        .output()
        .expect("run leasecheck");
    let report = json(&out);
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let verdicts = scenarios
        .iter()
        .map(|s| {
            let mut properties: Vec<String> = s["findings"]
                .as_array()
                .expect("findings")
                .iter()
                .map(|f| f["property"].as_str().expect("property").to_string())
                .collect();
            properties.sort();
            properties.dedup();
            let name = s["name"].as_str().expect("name").to_string();
            let status = s["status"].as_str().expect("status").to_string();
            (name, (status, properties))
        })
        .collect();
    (out.status.code().expect("an exit code"), verdicts)
}

#[test]
fn a_battery_side_by_side_gives_the_verdicts_of_one_scenario_at_a_time() {
    let (one_code, one) = verdicts("1", "5");
    let (many_code, many) = verdicts("8", "5");
    // Not vacuous: river-current's UNLOGGED table loses the lease on
    // failover and in crash recovery, which side by side happen on
    // clusters of the scenarios' own.
    for server_wide in ["takeover/failover", "durability"] {
        assert_eq!(
            one.get(server_wide).map(|v| v.0.as_str()),
            Some("violated"),
            "{server_wide} with --jobs 1: {one:?}"
        );
    }
    assert_eq!(one_code, 1);
    assert_eq!(many_code, one_code);
    assert_eq!(many, one);
}
