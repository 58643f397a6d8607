//! Bad input is rejected with an error that quotes it.

use leasecheck::settings::{Flags, Settings, TTL_ENV};
use leasecheck::{HolderId, Ident, TableName, Ttl};

#[test]
fn zero_negative_nan_infinite_and_non_numeric_ttls_are_rejected_quoting_the_value() {
    for bad in [
        "0",
        "0.0",
        "-1",
        "-0.5",
        "NaN",
        "nan",
        "inf",
        "-inf",
        "ten",
        "",
        "1s",
        "0.0000001",
        "1e12",
    ] {
        let err = Ttl::parse(bad).expect_err(bad).to_string();
        assert!(
            err.contains(&format!("{bad:?}")),
            "error for {bad:?} must quote it: {err}"
        );
    }
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(Ttl::from_secs_f64(bad).is_err(), "{bad} must be rejected");
    }
}

#[test]
fn valid_ttls_are_kept_exactly() {
    assert_eq!(Ttl::parse("0.2").unwrap().as_millis(), 200);
    assert_eq!(Ttl::parse(" 10 ").unwrap().as_millis(), 10_000);
    assert_eq!(Ttl::parse("0.000001").unwrap().as_duration().as_micros(), 1);
}

#[test]
fn the_ttl_comes_from_the_flag_then_the_environment_then_the_default() {
    let with = |ttl: Option<&str>, env: Option<&str>| {
        Settings::build(
            &Flags {
                ttl: ttl.map(str::to_string),
                ttl_env: env.map(str::to_string),
                ..Flags::default()
            },
            None,
        )
    };
    assert_eq!(with(None, None).unwrap().ttl.as_millis(), 200);
    assert_eq!(with(None, Some("2.5")).unwrap().ttl.as_millis(), 2_500);
    assert_eq!(with(Some("0.5"), Some("2.5")).unwrap().ttl.as_millis(), 500);
    let err = with(None, Some("-3")).unwrap_err().to_string();
    assert!(err.contains("\"-3\"") && err.contains(TTL_ENV), "{err}");
}

#[test]
fn the_binary_reads_the_ttl_from_the_environment_and_names_it_when_it_is_bad() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_leasecheck"))
        .args(["race", "--candidates", "2", "--rounds", "1"])
        .env(TTL_ENV, "ten")
        .output()
        .expect("run leasecheck");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(TTL_ENV) && stderr.contains("\"ten\""),
        "{stderr}"
    );
}

#[test]
fn blank_holder_ids_are_rejected_because_blank_marks_a_free_lease() {
    assert!(HolderId::new("").is_err());
    assert!(HolderId::new(" \t").is_err());
    assert!(HolderId::new("a").is_ok());
}

#[test]
fn the_process_holder_id_is_host_pid_random_and_fixed() {
    let id = HolderId::for_process();
    let parts: Vec<&str> = id.as_str().rsplitn(3, ':').collect();
    assert_eq!(parts.len(), 3, "{id}");
    assert_eq!(parts[1], std::process::id().to_string());
    assert_eq!(parts[0].len(), 16);
    assert_eq!(id, HolderId::for_process());
}

#[test]
fn table_names_are_validated_and_never_pasted_unchecked() {
    for bad in [
        "",
        "Lease",
        "lease-lock",
        "1lease",
        "lease lock",
        "x\"; DROP TABLE y; --",
        &"a".repeat(64),
    ] {
        let err = Ident::new(bad).expect_err(bad).to_string();
        assert!(err.contains(&format!("{bad:?}")), "{err}");
    }
    assert_eq!(
        TableName::qualified("s1", "lease_lock")
            .unwrap()
            .to_string(),
        "\"s1\".\"lease_lock\""
    );
}
