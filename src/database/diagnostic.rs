//! Turning connection settings and driver errors into text a person can act on.

/// True if the connection broke (a statement may or may not have
/// committed), as opposed to the server refusing the statement (it did not
/// take effect). A backend terminated by an administrator or by a crash of
/// the server sends a FATAL error (SQLSTATE class 57) before closing: that
/// is a loss too, as is any class 08 connection exception.
pub(crate) fn is_connection_loss(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let class = db.code().code().get(..2).unwrap_or("");
            e.is_closed()
                || class == "57"
                || class == "08"
                || db.severity() == "FATAL"
                || db.severity() == "PANIC"
        }
    }
}

/// Postgres's own message for a driver error: severity, message, detail, hint
/// and SQLSTATE for a server error; the underlying cause otherwise (the
/// driver's own `Display` says only "db error").
pub(crate) fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; detail: {detail}"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    if super::is_deadline(e) {
        return format!(
            "timeout waiting for server: no answer within {} s (the call deadline, --call-timeout); the connection was closed",
            super::call_timeout().as_secs_f64()
        );
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// `host:port/dbname` of a configuration, never its password.
pub(crate) fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// A connection string with any password masked.
pub(crate) fn redact(url: &str) -> String {
    match url.parse::<postgres::Config>() {
        Ok(config) => describe(&config),
        Err(_) => match url.split_once('@') {
            Some((_, rest)) => format!("…@{rest}"),
            None => url.to_string(),
        },
    }
}
