//! The command line that replays a run, and the shell quoting it uses.

/// The command line that replays this run: the same arguments, then
/// `pinned` (settings that came from elsewhere than the command line), with
/// the seed pinned.
pub fn command(seed: u64, pinned: &[String]) -> String {
    let mut out = vec!["leasecheck".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--seed" {
            args.next();
            continue;
        }
        if a.starts_with("--seed=") {
            continue;
        }
        out.push(shell_quote(&a));
    }
    out.extend(pinned.iter().map(|a| shell_quote(a)));
    out.push(format!("--seed {seed}"));
    out.join(" ")
}

/// `s` as one shell word.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
