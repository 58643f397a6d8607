//! Parsing a spec file: TOML to a validated [`Spec`], with every type error
//! naming its field and line. Static checks only: nothing here connects to
//! Postgres.

use super::scan::{scan, TRANSACTION_CONTROL};
use super::{Isolation, Operation, Spec, SpecError};
use crate::input::Ttl;
use leasecheck_model::Semantics;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::{Spanned, Value};

/// The file as TOML: every field kept with its span, so that every type error
/// names the field and its line; unknown fields are refused by serde.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    name: Option<Spanned<Value>>,
    description: Option<Spanned<Value>>,
    ttl_seconds: Option<Spanned<Value>>,
    schema: Option<Spanned<Value>>,
    reset: Option<Spanned<Value>>,
    age: Option<Spanned<Value>>,
    try_acquire: Option<Spanned<Value>>,
    renew: Option<Spanned<Value>>,
    release: Option<Spanned<Value>>,
    isolation: Option<Spanned<Value>>,
    epoch: Option<Spanned<Value>>,
    carry: Option<Spanned<Value>>,
    retry_lost_reply: Option<Spanned<Value>>,
    semantics: Option<Spanned<Value>>,
}

impl Spec {
    /// Parse and statically check a spec from text; `origin` (a file name)
    /// starts every error message.
    ///
    /// ```no_run
    /// use leasecheck::spec::Spec;
    /// let err = Spec::parse("name = \"x\"", "inline.toml").unwrap_err();
    /// assert!(err.to_string().starts_with("inline.toml: missing required field"));
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<Spec, SpecError> {
        let file: SpecFile = toml::from_str(text).map_err(|e| SpecError::Toml {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut p = Parser {
            text,
            origin,
            lines: BTreeMap::new(),
            op_params: Params::Op {
                epoch: false,
                carry: false,
            },
        };
        let epoch = file
            .epoch
            .map(|v| p.boolean("epoch", v))
            .transpose()?
            .unwrap_or(false);
        let carry = file
            .carry
            .clone()
            .map(|v| p.boolean("carry", v))
            .transpose()?
            .unwrap_or(false);
        if epoch && carry {
            return Err(p.invalid(
                "carry",
                file.carry.as_ref().map_or(1, |v| p.line(v.span().start)),
                "cannot be true beside `epoch = true`: try_acquire's first column is then \
                 the epoch (bound to $4 already)"
                    .to_string(),
            ));
        }
        p.op_params = Params::Op { epoch, carry };
        let semantics = file
            .semantics
            .map(|v| p.semantics(v))
            .transpose()?
            .unwrap_or_default();
        let name = p.string(
            "name",
            p.required("name", file.name, "the name shown in reports")?,
        )?;
        if name.0.trim().is_empty() {
            return Err(p.invalid("name", name.1, "is empty".to_string()));
        }
        let description = file
            .description
            .map(|v| p.string("description", v).map(|(text, _)| text))
            .transpose()?;
        let ttl = file.ttl_seconds.map(|v| p.ttl(v)).transpose()?;
        let schema = p.required(
            "schema",
            file.schema,
            "the SQL that creates the lease's tables in the check's fresh schema",
        )?;
        let schema = p.statement("schema", p.string("schema", schema)?, Params::Batch)?;
        let reset = p.required(
            "reset",
            file.reset,
            "the SQL that makes the lease free again",
        )?;
        let reset = p.statement("reset", p.string("reset", reset)?, Params::None)?;
        let age = file
            .age
            .map(|v| p.statement("age", p.string("age", v)?, Params::Age))
            .transpose()?;
        let try_acquire = p.operation(
            "try_acquire",
            p.required(
                "try_acquire",
                file.try_acquire,
                "the SQL that takes a free or stale lease",
            )?,
        )?;
        let renew = match (semantics.renew, file.renew) {
            (true, renew) => Some(p.operation(
                "renew",
                p.required(
                    "renew",
                    renew,
                    "the SQL that extends the holder's own tenure (a lease without one \
                     declares `renew = false` in its [semantics] table)",
                )?,
            )?),
            (false, None) => None,
            (false, Some(v)) => {
                return Err(p.invalid(
                    "renew",
                    p.line(v.span().start),
                    "is given, but the [semantics] table declares `renew = false` (the lease \
                     has no renew): remove one of the two"
                        .to_string(),
                ))
            }
        };
        let release = p.operation(
            "release",
            p.required("release", file.release, "the SQL that gives the lease up")?,
        )?;
        let isolation = file
            .isolation
            .map(|v| p.isolation(v))
            .transpose()?
            .unwrap_or_default();
        let retry_lost_reply = file
            .retry_lost_reply
            .map(|v| p.boolean("retry_lost_reply", v))
            .transpose()?
            .unwrap_or(false);
        Ok(Spec {
            origin: origin.to_string(),
            name: name.0,
            description,
            ttl,
            schema,
            reset,
            age,
            try_acquire,
            renew,
            release,
            isolation,
            epoch,
            carry,
            retry_lost_reply,
            semantics,
            lines: p.lines,
        })
    }
}

/// Which placeholders a field may use.
#[derive(Clone, Copy)]
enum Params {
    /// `try_acquire`, `renew`, `release`: `$1`..`$3`, `$4` with `epoch =
    /// true`, `$5` with `carry = true`; several statements refused.
    Op { epoch: bool, carry: bool },
    /// `age`: `$1` only.
    Age,
    /// `reset`: none.
    None,
    /// `schema`: none, several statements allowed.
    Batch,
}

impl Params {
    /// Whether `$n` is bound.
    fn binds(self, n: u32) -> bool {
        match self {
            Params::Op { epoch, carry } => {
                (1..=3).contains(&n) || (n == 4 && epoch) || (n == 5 && carry)
            }
            Params::Age => n == 1,
            Params::None | Params::Batch => false,
        }
    }

    fn allowed(self) -> &'static str {
        match self {
            Params::Op { .. } => {
                "an operation binds $1 (the holder id, text), $2 (the TTL in seconds, double \
                 precision) and $3 (the candidate's clock, timestamptz); $4 (the candidate's \
                 epoch, bigint) only with `epoch = true`, and $5 (the value carried from the \
                 candidate's last winning call, text) only with `carry = true`"
            }
            Params::Age => "age binds only $1 (the seconds to age by, double precision)",
            Params::None => "reset takes no parameters",
            Params::Batch => "schema runs without parameters",
        }
    }
}

/// Static checks over the file's values, with their lines.
struct Parser<'t> {
    text: &'t str,
    origin: &'t str,
    /// The line where each SQL field's text starts, for later messages.
    lines: BTreeMap<String, usize>,
    /// The placeholders of `try_acquire`, `renew` and `release`.
    op_params: Params,
}

impl Parser<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn required(
        &self,
        field: &'static str,
        value: Option<Spanned<Value>>,
        meaning: &'static str,
    ) -> Result<Spanned<Value>, SpecError> {
        value.ok_or_else(|| SpecError::Missing {
            origin: self.origin.to_string(),
            field,
            meaning,
        })
    }

    fn type_error(
        &self,
        field: String,
        line: usize,
        expected: &'static str,
        found: &Value,
    ) -> SpecError {
        SpecError::Type {
            origin: self.origin.to_string(),
            line,
            field,
            expected,
            found: found.type_str(),
        }
    }

    fn invalid(&self, field: &str, line: usize, problem: String) -> SpecError {
        SpecError::Invalid {
            origin: self.origin.to_string(),
            line,
            field: field.to_string(),
            problem,
        }
    }

    /// The line where a string value's text starts: a multi-line string's
    /// first newline right after its opening quotes is not part of it.
    fn text_line(&self, span: &std::ops::Range<usize>) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or_default();
        let trimmed = ["\"\"\"\n", "\"\"\"\r\n", "\'\'\'\n", "\'\'\'\r\n"]
            .iter()
            .any(|opener| raw.starts_with(opener));
        self.line(span.start) + usize::from(trimmed)
    }

    /// A string field, with the line where its text starts.
    fn string(&self, field: &str, value: Spanned<Value>) -> Result<(String, usize), SpecError> {
        let line = self.text_line(&value.span());
        match value.into_inner() {
            Value::String(s) => Ok((s, line)),
            other => Err(self.type_error(field.to_string(), line, "a string", &other)),
        }
    }

    fn ttl(&self, value: Spanned<Value>) -> Result<Ttl, SpecError> {
        let line = self.line(value.span().start);
        let secs = match value.get_ref() {
            Value::Float(f) => *f,
            Value::Integer(i) => *i as f64,
            other => {
                return Err(self.type_error(
                    "ttl_seconds".to_string(),
                    line,
                    "a number of seconds",
                    other,
                ))
            }
        };
        Ttl::from_secs_f64(secs).map_err(|source| SpecError::Ttl {
            origin: self.origin.to_string(),
            line,
            source,
        })
    }

    fn boolean(&self, field: &str, value: Spanned<Value>) -> Result<bool, SpecError> {
        let line = self.line(value.span().start);
        match value.into_inner() {
            Value::Boolean(b) => Ok(b),
            other => Err(self.type_error(field.to_string(), line, "true or false", &other)),
        }
    }

    /// The `[semantics]` table: known fields only, each `true` or `false`,
    /// and no contradiction between them.
    fn semantics(&self, value: Spanned<Value>) -> Result<Semantics, SpecError> {
        let line = self.line(value.span().start);
        let table = match value.into_inner() {
            Value::Table(t) => t,
            other => {
                return Err(self.type_error(
                    "semantics".to_string(),
                    line,
                    "a table ([semantics] with fields such as `reentrant_acquire = true`)",
                    &other,
                ))
            }
        };
        let mut semantics = Semantics::REFERENCE;
        for (key, v) in table {
            let field = format!("semantics.{key}");
            let flag = match v {
                Value::Boolean(b) => b,
                other => return Err(self.type_error(field, line, "true or false", &other)),
            };
            let Some(slot) = semantics.field_mut(&key) else {
                return Err(self.invalid(
                    &field,
                    line,
                    format!(
                        "is not a declaration leasecheck knows; the [semantics] table takes {}",
                        Semantics::FIELDS.join(", ")
                    ),
                ));
            };
            *slot = flag;
        }
        semantics
            .validate()
            .map_err(|c| self.invalid("semantics", line, format!("contradicts itself: {c}")))?;
        Ok(semantics)
    }

    fn isolation(&self, value: Spanned<Value>) -> Result<Isolation, SpecError> {
        let (name, line) = self.string("isolation", value)?;
        Isolation::from_name(&name).ok_or_else(|| {
            self.invalid(
                "isolation",
                line,
                format!(
                    "is {name:?}, expected one of \"read committed\" (the default), \
                     \"repeatable read\", \"serializable\""
                ),
            )
        })
    }

    /// An operation: a string, or a non-empty array of strings.
    fn operation(
        &mut self,
        field: &'static str,
        value: Spanned<Value>,
    ) -> Result<Operation, SpecError> {
        let span = value.span();
        let line = self.text_line(&span);
        match value.into_inner() {
            Value::String(sql) => Ok(Operation {
                statements: vec![self.statement(field, (sql, line), self.op_params)?],
                array: false,
            }),
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(self.invalid(
                        field,
                        line,
                        "is an empty array: give at least one statement".to_string(),
                    ));
                }
                let lines = self.item_lines(span, items.len());
                let mut statements = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let item_field = format!("{field}[{i}]");
                    let item_line = lines.get(i).copied().unwrap_or(line);
                    match item {
                        Value::String(sql) => statements.push(self.statement(
                            &item_field,
                            (sql, item_line),
                            self.op_params,
                        )?),
                        other => {
                            return Err(self.type_error(
                                item_field,
                                item_line,
                                "a string (one SQL statement)",
                                &other,
                            ))
                        }
                    }
                }
                Ok(Operation {
                    statements,
                    array: true,
                })
            }
            other => Err(self.type_error(
                field.to_string(),
                line,
                "a string or an array of strings (SQL statements)",
                &other,
            )),
        }
    }

    /// The line where each item of the array at `span` starts, where toml
    /// can tell (it keeps spans of array items only within a document).
    fn item_lines(&self, span: std::ops::Range<usize>, count: usize) -> Vec<usize> {
        #[derive(Deserialize)]
        struct Wrapper {
            v: Vec<Spanned<Value>>,
        }
        const PREFIX: &str = "v = ";
        let Some(slice) = self.text.get(span.clone()) else {
            return Vec::new();
        };
        match toml::from_str::<Wrapper>(&format!("{PREFIX}{slice}")) {
            Ok(w) if w.v.len() == count => {
                w.v.iter()
                    .map(|item| {
                        let start = (span.start + item.span().start).saturating_sub(PREFIX.len());
                        self.text_line(&(start..start + item.span().len()))
                    })
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Check one SQL text: not empty, one statement unless a batch, and only
    /// the placeholders that are bound.
    fn statement(
        &mut self,
        field: &str,
        (sql, line): (String, usize),
        params: Params,
    ) -> Result<String, SpecError> {
        self.lines.insert(field.to_string(), line);
        let scan = scan(&sql);
        if !scan.code {
            return Err(self.invalid(
                field,
                line,
                "is empty (no SQL outside comments)".to_string(),
            ));
        }
        if scan.several && !matches!(params, Params::Batch) {
            let hint = match params {
                Params::Op { .. } => {
                    "use an array of strings instead, one statement each (they run in order in one transaction)"
                }
                _ => "give exactly one statement",
            };
            return Err(self.invalid(
                field,
                line,
                format!("holds several statements separated by `;`: {hint}"),
            ));
        }
        if let Some(placeholder) = scan.placeholders.iter().find(|(n, _)| !params.binds(*n)) {
            return Err(SpecError::Placeholder {
                origin: self.origin.to_string(),
                line,
                field: field.to_string(),
                placeholder: placeholder.1.clone(),
                allowed: params.allowed(),
            });
        }
        if let Params::Batch = params {
            if let Some(word) = scan.first_words.iter().find(|w| {
                TRANSACTION_CONTROL
                    .iter()
                    .any(|t| w.eq_ignore_ascii_case(t))
            }) {
                return Err(self.invalid(
                    field,
                    line,
                    format!(
                        "contains `{word}`: the harness runs the schema SQL in its own transaction \
                         (so that it lands in the check's schema); leave transaction control out"
                    ),
                ));
            }
        }
        Ok(sql)
    }
}
