//! Bad input is rejected with an error that quotes it.

use leasecheck::{HolderId, Ident, TableName, Ttl, TTL_ENV};

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
fn the_ttl_comes_from_the_environment_with_a_default_of_ten_seconds() {
    // The only test that touches this variable; nextest runs each test in its own process.
    std::env::remove_var(TTL_ENV);
    assert_eq!(Ttl::from_env().unwrap().as_millis(), 10_000);
    std::env::set_var(TTL_ENV, "2.5");
    assert_eq!(Ttl::from_env().unwrap().as_millis(), 2_500);
    std::env::set_var(TTL_ENV, "-3");
    let err = Ttl::from_env().unwrap_err().to_string();
    assert!(err.contains("\"-3\"") && err.contains(TTL_ENV), "{err}");
    std::env::remove_var(TTL_ENV);
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
