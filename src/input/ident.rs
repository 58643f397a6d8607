//! SQL identifiers, validated before they go anywhere near a statement.
//!
//! Table and schema names cannot be bound as parameters, so they are checked
//! against a conservative grammar (lower-case ASCII letters, digits and `_`,
//! not starting with a digit, at most 63 bytes, Postgres's limit) and always
//! rendered double-quoted. Nothing unchecked is ever pasted into SQL.

use std::fmt;

/// Why an identifier was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid SQL identifier {value:?}: {reason}")]
pub struct IdentError {
    /// The identifier as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A validated SQL identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl Ident {
    /// Validate an identifier.
    ///
    /// ```
    /// use leasecheck::Ident;
    /// assert_eq!(Ident::new("lease_lock").unwrap().to_string(), "\"lease_lock\"");
    /// assert!(Ident::new("lease; DROP TABLE x").is_err());
    /// assert!(Ident::new("Lease").is_err());
    /// ```
    pub fn new(value: impl Into<String>) -> Result<Ident, IdentError> {
        let value = value.into();
        let reason = if value.is_empty() {
            Some("it is empty")
        } else if value.len() > 63 {
            Some("it is longer than Postgres's 63-byte limit")
        } else if value.starts_with(|c: char| c.is_ascii_digit()) {
            Some("it starts with a digit")
        } else if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            Some("only lower-case ASCII letters, digits and '_' are allowed")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(IdentError { value, reason }),
            None => Ok(Ident(value)),
        }
    }

    /// The bare name, unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Renders the identifier double-quoted, ready for SQL.
impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0)
    }
}

/// A table name, optionally qualified by its schema.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableName {
    /// The schema, or `None` to follow `search_path`.
    pub schema: Option<Ident>,
    /// The table.
    pub table: Ident,
}

impl TableName {
    /// An unqualified table name.
    ///
    /// ```
    /// use leasecheck::TableName;
    /// assert_eq!(TableName::new("lease_lock").unwrap().to_string(), "\"lease_lock\"");
    /// ```
    pub fn new(table: &str) -> Result<TableName, IdentError> {
        Ok(TableName {
            schema: None,
            table: Ident::new(table)?,
        })
    }

    /// A schema-qualified table name.
    ///
    /// ```
    /// use leasecheck::TableName;
    /// let t = TableName::qualified("app", "lease_lock").unwrap();
    /// assert_eq!(t.to_string(), "\"app\".\"lease_lock\"");
    /// ```
    pub fn qualified(schema: &str, table: &str) -> Result<TableName, IdentError> {
        Ok(TableName {
            schema: Some(Ident::new(schema)?),
            table: Ident::new(table)?,
        })
    }

    /// The same table in another schema.
    pub fn in_schema(&self, schema: Ident) -> TableName {
        TableName {
            schema: Some(schema),
            table: self.table.clone(),
        }
    }
}

/// Renders the name quoted and qualified, ready for SQL.
impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.table),
            None => write!(f, "{}", self.table),
        }
    }
}
