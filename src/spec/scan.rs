//! A lexical scan of SQL text: placeholders, statement count, transaction
//! control, with quoted text, quoted identifiers, dollar quotes and comments
//! skipped. It never parses SQL fully: Postgres judges the statements when a
//! spec is installed.

/// Commands that would end the transaction the schema SQL runs in.
pub(super) const TRANSACTION_CONTROL: [&str; 5] = ["BEGIN", "START", "COMMIT", "ROLLBACK", "ABORT"];

/// What a lexical scan of a SQL text found.
#[derive(Debug, Default)]
pub(super) struct Scan {
    /// Placeholders (`$n`): the number (saturating) and the text as written.
    pub(super) placeholders: Vec<(u32, String)>,
    /// Anything besides whitespace and comments.
    pub(super) code: bool,
    /// More code after a top-level `;`.
    pub(super) several: bool,
    /// The first word of each top-level statement.
    pub(super) first_words: Vec<String>,
}

/// Record a token: the text has code; more code after a `;` is a second
/// statement; the first token of a statement gives its first word.
fn token(out: &mut Scan, ended: &mut bool, started: &mut bool, word: Option<&str>) {
    out.code = true;
    if *ended {
        out.several = true;
        *ended = false;
    }
    if !*started {
        *started = true;
        out.first_words.push(word.unwrap_or_default().to_string());
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Scan SQL as Postgres's lexer would, enough to find placeholders and
/// statement boundaries outside string literals, quoted identifiers,
/// comments and dollar-quoted bodies.
pub(super) fn scan(sql: &str) -> Scan {
    let b = sql.as_bytes();
    let mut out = Scan::default();
    let mut i = 0;
    // A top-level `;` ended a statement that had code.
    let mut ended = false;
    // The statement under way has code (so its first word was recorded).
    let mut started = false;
    // The previous byte belongs to an identifier or number.
    let mut in_word = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                in_word = false;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                in_word = false;
                continue;
            }
            b'\'' => {
                token(&mut out, &mut ended, &mut started, None);
                // E'...' strings take backslash escapes.
                let escapes =
                    i >= 1 && matches!(b[i - 1], b'E' | b'e') && (i < 2 || !is_word_byte(b[i - 2]));
                i = skip_quoted(b, i, b'\'', escapes);
                in_word = false;
                continue;
            }
            b'"' => {
                token(&mut out, &mut ended, &mut started, None);
                i = skip_quoted(b, i, b'"', false);
                in_word = false;
                continue;
            }
            b'$' if !in_word => {
                token(&mut out, &mut ended, &mut started, None);
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    let text = &sql[i..i + 1 + digits];
                    let n = text[1..].parse::<u32>().unwrap_or(u32::MAX);
                    out.placeholders.push((n, text.to_string()));
                    i += 1 + digits;
                    in_word = true;
                    continue;
                }
                // A dollar-quote opener: $$ or $tag$.
                let tag_len = b[i + 1..]
                    .iter()
                    .enumerate()
                    .take_while(|(k, t)| {
                        t.is_ascii_alphabetic()
                            || **t == b'_'
                            || **t >= 0x80
                            || (*k > 0 && t.is_ascii_digit())
                    })
                    .count();
                if b.get(i + 1 + tag_len) == Some(&b'$') {
                    let tag = &sql[i..i + tag_len + 2];
                    let body = i + tag.len();
                    i = match sql[body..].find(tag) {
                        Some(end) => body + end + tag.len(),
                        None => b.len(),
                    };
                    in_word = false;
                    continue;
                }
                i += 1;
                in_word = false;
                continue;
            }
            b';' => {
                if started {
                    ended = true;
                    started = false;
                }
                in_word = false;
            }
            c if c.is_ascii_whitespace() => in_word = false,
            c => {
                if !in_word && (c.is_ascii_alphabetic() || c == b'_') {
                    let len = b[i..].iter().take_while(|&&w| is_word_byte(w)).count();
                    token(&mut out, &mut ended, &mut started, Some(&sql[i..i + len]));
                } else {
                    token(&mut out, &mut ended, &mut started, None);
                }
                in_word = is_word_byte(c);
            }
        }
        i += 1;
    }
    out
}

/// The index just past the quoted text that opens at `b[start]` with `quote`,
/// where a doubled quote stands for itself and, with `escapes` (an `E'...'`
/// string), a backslash escapes the next byte.
fn skip_quoted(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                break;
            }
        } else {
            i += 1;
        }
    }
    i + 1
}
