//! Installing a spec in the harness's schema and checking it against the
//! server (its `schema` SQL run, every statement prepared), and the harness's
//! own `reset` and `age`. Every statement runs in a transaction that sets
//! `search_path` to the harness's schema alone: nothing outside it is touched.

use super::{Operation, Spec, SpecError};
use crate::database::diagnostic::pg_message;
use crate::database::Client;
use crate::input::Ident;
use leasecheck_model::Op;
use postgres::types::{ToSql, Type};
use std::time::Duration;

/// The type bound to `$1` of `age`.
const AGE_PARAMS: [Type; 1] = [Type::FLOAT8];

impl Spec {
    /// Install the spec in `schema` (which must exist) and check it: run the
    /// `schema` SQL there, then prepare every statement (`reset`, `age`, each
    /// operation statement, with the types bound at run time), all in one
    /// transaction with `SET LOCAL search_path TO <schema>`, committed only if
    /// everything prepared. A statement Postgres refuses is reported with its
    /// field, the statement and Postgres's message; so is an operation
    /// statement that returns no columns (it could never return a row, so the
    /// operation could never succeed: add `RETURNING`).
    ///
    /// ```no_run
    /// use leasecheck::spec::Spec;
    /// let pg = leasecheck::Postgres::provision()?;
    /// let mut schema = leasecheck::Schema::create(pg.connect()?)?;
    /// let name = schema.name().clone();
    /// Spec::reference().install(schema.client(), &name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn install(&self, client: &mut Client, schema: &Ident) -> Result<(), SpecError> {
        const WHAT: &str = "install the spec";
        let db = |source| self.database(WHAT, schema, source);
        let mut tx = client.transaction().map_err(db)?;
        tx.batch_execute(&set_local(schema)).map_err(db)?;
        tx.batch_execute(&self.schema)
            .map_err(|e| self.statement_error("schema", &self.schema, e))?;
        // The schema SQL must leave the transaction, and its search_path, alone.
        let current: Option<String> = tx
            .query_typed_one("SELECT current_schema()::text", &[])
            .map_err(db)?
            .get(0);
        if current.as_deref() != Some(schema.as_str()) {
            return Err(SpecError::Statement {
                origin: self.origin.clone(),
                line: self.error_line("schema", &self.schema, None),
                field: "schema".to_string(),
                sql: self.schema.clone(),
                message: format!(
                    "after it ran, the current schema is {} instead of {:?}: \
                     the schema SQL must not end the transaction or change search_path",
                    current
                        .as_deref()
                        .map_or("none".to_string(), |c| format!("{c:?}")),
                    schema.as_str()
                ),
                source: None,
            });
        }
        tx.prepare_typed(&self.reset, &[])
            .map_err(|e| self.statement_error("reset", &self.reset, e))?;
        if let Some(age) = &self.age {
            tx.prepare_typed(age, &AGE_PARAMS)
                .map_err(|e| self.statement_error("age", age, e))?;
        }
        for op in Op::ALL {
            let Some(operation) = self.operation(op) else {
                continue;
            };
            for (i, sql) in operation.statements.iter().enumerate() {
                let field = field_name(op, operation, i);
                let statement = tx
                    .prepare_typed(sql, self.op_params())
                    .map_err(|e| self.statement_error(&field, sql, e))?;
                if statement.columns().is_empty() {
                    return Err(SpecError::Statement {
                        origin: self.origin.clone(),
                        line: self.error_line(&field, sql, None),
                        field,
                        sql: sql.clone(),
                        message: "the statement returns no columns, so it can never return a row \
                                  and the operation can never succeed: success is decided from \
                                  the rows a statement returns (add `RETURNING ...`)"
                            .to_string(),
                        source: None,
                    });
                }
                let last = i + 1 == operation.statements.len();
                // with `carry` or `epoch`, try_acquire's row hands a value back
                let wanted = match (self.carry, self.epoch) {
                    (true, _) => Some((
                        &super::CARRIED_TYPES[..],
                        "`carry = true`",
                        "the value to carry as its first column, as text",
                        "cast it, e.g. `RETURNING version::text`",
                    )),
                    (_, true) => Some((
                        &[Type::INT2, Type::INT4, Type::INT8][..],
                        "`epoch = true`",
                        "the new tenure's epoch as its first column, an integer (smallint, \
                         int or bigint)",
                        "e.g. `RETURNING epoch`",
                    )),
                    _ => None,
                };
                if let (Some((types, with, what, hint)), true) =
                    (wanted, op == Op::TryAcquire && last)
                {
                    let ty = statement.columns()[0].type_();
                    if !types.contains(ty) {
                        return Err(SpecError::Statement {
                            origin: self.origin.clone(),
                            line: self.error_line(&field, sql, None),
                            field,
                            sql: sql.clone(),
                            message: format!(
                                "with {with}, try_acquire's last statement must return {what}; \
                                 it returns {ty} ({hint})"
                            ),
                            source: None,
                        });
                    }
                }
            }
        }
        tx.commit().map_err(db)
    }

    /// Make the lease free again (run `reset`) over the harness's admin
    /// connection, in a transaction with `SET LOCAL search_path TO <schema>`.
    ///
    /// ```no_run
    /// # fn f(spec: &leasecheck::spec::Spec, schema: &mut leasecheck::Schema) -> Result<(), leasecheck::spec::SpecError> {
    /// let name = schema.name().clone();
    /// spec.reset(schema.client(), &name)?;
    /// # Ok(()) }
    /// ```
    pub fn reset(&self, client: &mut Client, schema: &Ident) -> Result<(), SpecError> {
        self.admin(client, schema, "reset the lease", "reset", &self.reset, &[])
    }

    /// Make the current tenure look older by `by` (run `age` with `$1` the
    /// seconds). `Ok(false)` if the spec has no `age`: the caller must then
    /// wait in real time.
    ///
    /// ```no_run
    /// # fn f(spec: &leasecheck::spec::Spec, schema: &mut leasecheck::Schema) -> Result<(), leasecheck::spec::SpecError> {
    /// let name = schema.name().clone();
    /// if !spec.age(schema.client(), &name, std::time::Duration::from_secs(11))? {
    ///     std::thread::sleep(std::time::Duration::from_secs(11));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn age(
        &self,
        client: &mut Client,
        schema: &Ident,
        by: Duration,
    ) -> Result<bool, SpecError> {
        let Some(sql) = &self.age else {
            return Ok(false);
        };
        let secs = by.as_secs_f64();
        self.admin(
            client,
            schema,
            "age the lease",
            "age",
            sql,
            &[(&secs, Type::FLOAT8)],
        )?;
        Ok(true)
    }

    fn admin(
        &self,
        client: &mut Client,
        schema: &Ident,
        what: &'static str,
        field: &str,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<(), SpecError> {
        let db = |source| self.database(what, schema, source);
        let mut tx = client.transaction().map_err(db)?;
        tx.batch_execute(&set_local(schema)).map_err(db)?;
        tx.query_typed(sql, params)
            .map_err(|e| self.statement_error(field, sql, e))?;
        tx.commit().map_err(db)
    }

    /// The line in the file of a problem in a field's SQL: where the field's
    /// text starts, plus the lines before the position Postgres reports.
    fn error_line(
        &self,
        field: &str,
        sql: &str,
        source: Option<&postgres::Error>,
    ) -> Option<usize> {
        let start = *self.lines.get(field)?;
        let position = source
            .and_then(|e| e.as_db_error())
            .and_then(|db| match db.position() {
                Some(postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
                _ => None,
            });
        let before = match position {
            Some(p) => sql
                .chars()
                .take(p.saturating_sub(1))
                .filter(|&c| c == '\n')
                .count(),
            None => 0,
        };
        Some(start + before)
    }

    fn statement_error(&self, field: &str, sql: &str, source: postgres::Error) -> SpecError {
        SpecError::Statement {
            origin: self.origin.clone(),
            line: self.error_line(field, sql, Some(&source)),
            field: field.to_string(),
            sql: sql.to_string(),
            message: pg_message(&source),
            source: Some(source),
        }
    }

    fn database(&self, what: &'static str, schema: &Ident, source: postgres::Error) -> SpecError {
        SpecError::Database {
            origin: self.origin.clone(),
            what,
            schema: schema.to_string(),
            source,
        }
    }
}

/// `try_acquire`, or `try_acquire[i]` for an item of an array.
pub(crate) fn field_name(op: Op, operation: &Operation, i: usize) -> String {
    if operation.array {
        format!("{}[{i}]", op.name())
    } else {
        op.name().to_string()
    }
}

/// The command that makes `schema` (alone) visible for one transaction.
pub(crate) fn set_local(schema: &Ident) -> String {
    format!("SET LOCAL search_path TO {schema}")
}
