//! The catalog: opentrail's resources (trails, and later event data stores, channels,
//! dashboards) and their tags, in one SQLite database with full-sync transactions, so that a
//! configuration change that returned success survives a crash and a change that failed
//! leaves nothing behind.
//!
//! Resources are stored as JSON bodies keyed by ARN, with the columns queries filter on
//! (kind, account, region, name) beside them; each stage crate defines its own resource types.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Catalog failures.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// SQLite failed.
    #[error("catalog database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored body no longer parses as its type.
    #[error("catalog entry {arn} is damaged: {reason}")]
    Corrupt {
        /// The resource.
        arn: String,
        /// The parse error.
        reason: String,
    },
    /// A lock was poisoned by a panicking thread.
    #[error("catalog lock poisoned")]
    Poisoned,
}

/// Where a resource lives, for listing and lookup by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'a> {
    /// e.g. `trail`.
    pub kind: &'a str,
    /// The resource's ARN (its identity).
    pub arn: &'a str,
    /// Owning account.
    pub account: &'a str,
    /// Home region.
    pub region: &'a str,
    /// Name (unique per kind, account and region).
    pub name: &'a str,
}

/// A tag of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value (may be absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Checks tags against AWS's rules (the same for every CloudTrail resource); `Err` is the
/// message for the caller's `InvalidTagParameterException`.
pub fn check_tags(tags: &[Tag]) -> Result<(), String> {
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
    };
    for t in tags {
        let n = t.key.chars().count();
        if n == 0 || n > 128 || !ok_chars(&t.key) {
            return Err(format!(
                "Tag key {:?} is not valid: keys are 1 to 128 letters, digits, spaces and _.:/=+-@.",
                t.key
            ));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(format!(
                "Tag key {:?} is reserved: keys must not start with aws:.",
                t.key
            ));
        }
        if let Some(v) = &t.value
            && (v.chars().count() > 256 || !ok_chars(v))
        {
            return Err(format!(
                "Tag value {v:?} is not valid: values are up to 256 letters, digits, spaces and _.:/=+-@."
            ));
        }
    }
    Ok(())
}

/// The catalog database.
pub struct Catalog {
    conn: Mutex<Connection>,
}

/// Operations inside one transaction.
pub struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    arn TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_by_scope ON resources (kind, account, region, name);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT,
    PRIMARY KEY (arn, key)
);
";

impl Catalog {
    /// Opens (creating) the catalog at `path`.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let conn = Connection::open(path)?;
        // WAL with full sync: a committed change is on disk before the API answers.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "busy_timeout", 5000)?;
        conn.execute_batch(SCHEMA)?;
        Ok(Catalog {
            conn: Mutex::new(conn),
        })
    }

    /// Runs `f` in a transaction, committed only when `f` succeeds.
    pub fn transaction<T, E: From<CatalogError>>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn.lock().map_err(|_| CatalogError::Poisoned)?;
        let tx = conn.transaction().map_err(CatalogError::from)?;
        let t = Tx { tx };
        let out = f(&t)?;
        t.tx.commit().map_err(CatalogError::from)?;
        Ok(out)
    }

    /// A read in its own transaction.
    pub fn read<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, CatalogError>,
    ) -> Result<T, CatalogError> {
        self.transaction(f)
    }
}

impl Tx<'_> {
    /// Inserts or replaces a resource.
    pub fn put<T: Serialize>(&self, key: &Key<'_>, body: &T) -> Result<(), CatalogError> {
        let body = serde_json::to_string(body).map_err(|e| CatalogError::Corrupt {
            arn: key.arn.into(),
            reason: e.to_string(),
        })?;
        self.tx.execute(
            "INSERT INTO resources (arn, kind, account, region, name, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(arn) DO UPDATE SET kind = ?2, account = ?3, region = ?4, name = ?5, body = ?6",
            params![key.arn, key.kind, key.account, key.region, key.name, body],
        )?;
        Ok(())
    }

    /// The resource with this ARN.
    pub fn get<T: DeserializeOwned>(&self, arn: &str) -> Result<Option<T>, CatalogError> {
        let body: Option<String> = self
            .tx
            .query_row(
                "SELECT body FROM resources WHERE arn = ?1",
                params![arn],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| parse(arn, &b)).transpose()
    }

    /// Every resource of `kind` in `account` (and `region`, when given), ordered by name.
    pub fn list<T: DeserializeOwned>(
        &self,
        kind: &str,
        account: &str,
        region: Option<&str>,
    ) -> Result<Vec<T>, CatalogError> {
        let mut stmt = self.tx.prepare(
            "SELECT arn, body FROM resources WHERE kind = ?1 AND account = ?2 AND (?3 IS NULL OR region = ?3) ORDER BY region, name",
        )?;
        let rows = stmt.query_map(params![kind, account, region], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (arn, body) = row?;
            out.push(parse(&arn, &body)?);
        }
        Ok(out)
    }

    /// Every resource of `kind` in any account.
    pub fn list_all<T: DeserializeOwned>(&self, kind: &str) -> Result<Vec<T>, CatalogError> {
        let mut stmt = self.tx.prepare(
            "SELECT arn, body FROM resources WHERE kind = ?1 ORDER BY account, region, name",
        )?;
        let rows = stmt.query_map(params![kind], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (arn, body) = row?;
            out.push(parse(&arn, &body)?);
        }
        Ok(out)
    }

    /// How many resources of `kind` the account has in `region`.
    pub fn count(&self, kind: &str, account: &str, region: &str) -> Result<usize, CatalogError> {
        let n: i64 = self.tx.query_row(
            "SELECT count(*) FROM resources WHERE kind = ?1 AND account = ?2 AND region = ?3",
            params![kind, account, region],
            |r| r.get(0),
        )?;
        Ok(n as usize)
    }

    /// Deletes a resource and its tags; whether it existed.
    pub fn delete(&self, arn: &str) -> Result<bool, CatalogError> {
        self.tx
            .execute("DELETE FROM tags WHERE arn = ?1", params![arn])?;
        Ok(self
            .tx
            .execute("DELETE FROM resources WHERE arn = ?1", params![arn])?
            > 0)
    }

    /// Sets tags (replacing values of existing keys).
    pub fn add_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), CatalogError> {
        for t in tags {
            self.tx.execute(
                "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3) ON CONFLICT(arn, key) DO UPDATE SET value = ?3",
                params![arn, t.key, t.value],
            )?;
        }
        Ok(())
    }

    /// Removes tags by key (a value given must match too, as in AWS).
    pub fn remove_tags(&self, arn: &str, tags: &[Tag]) -> Result<(), CatalogError> {
        for t in tags {
            match &t.value {
                Some(v) => self.tx.execute(
                    "DELETE FROM tags WHERE arn = ?1 AND key = ?2 AND value = ?3",
                    params![arn, t.key, v],
                )?,
                None => self.tx.execute(
                    "DELETE FROM tags WHERE arn = ?1 AND key = ?2",
                    params![arn, t.key],
                )?,
            };
        }
        Ok(())
    }

    /// The resource's tags, by key.
    pub fn tags(&self, arn: &str) -> Result<Vec<Tag>, CatalogError> {
        let mut stmt = self
            .tx
            .prepare("SELECT key, value FROM tags WHERE arn = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![arn], |r| {
            Ok(Tag {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(CatalogError::from)
    }
}

fn parse<T: DeserializeOwned>(arn: &str, body: &str) -> Result<T, CatalogError> {
    serde_json::from_str(body).map_err(|e| CatalogError::Corrupt {
        arn: arn.into(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Thing {
        n: u32,
    }

    fn key<'a>(arn: &'a str, region: &'a str, name: &'a str) -> Key<'a> {
        Key {
            kind: "thing",
            arn,
            account: "1",
            region,
            name,
        }
    }

    #[test]
    fn resources_persist_and_failed_transactions_leave_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("catalog.db");
        {
            let c = Catalog::open(&path).expect("open");
            c.transaction(|tx| {
                tx.put(&key("a1", "r1", "a"), &Thing { n: 1 })?;
                tx.put(&key("b1", "r2", "b"), &Thing { n: 2 })?;
                tx.add_tags(
                    "a1",
                    &[Tag {
                        key: "k".into(),
                        value: Some("v".into()),
                    }],
                )?;
                Ok::<_, CatalogError>(())
            })
            .expect("commit");
            let failed: Result<(), CatalogError> = c.transaction(|tx| {
                tx.put(&key("c1", "r1", "c"), &Thing { n: 3 })?;
                Err(CatalogError::Poisoned)
            });
            assert!(failed.is_err());
        }
        let c = Catalog::open(&path).expect("reopen");
        c.read(|tx| {
            assert_eq!(tx.get::<Thing>("a1")?, Some(Thing { n: 1 }));
            assert_eq!(tx.get::<Thing>("c1")?, None, "rolled back");
            assert_eq!(tx.list::<Thing>("thing", "1", Some("r1"))?.len(), 1);
            assert_eq!(tx.list::<Thing>("thing", "1", None)?.len(), 2);
            assert_eq!(tx.count("thing", "1", "r2")?, 1);
            assert_eq!(
                tx.tags("a1")?,
                vec![Tag {
                    key: "k".into(),
                    value: Some("v".into())
                }]
            );
            tx.remove_tags(
                "a1",
                &[Tag {
                    key: "k".into(),
                    value: Some("other".into()),
                }],
            )?;
            assert_eq!(tx.tags("a1")?.len(), 1, "a value given must match");
            tx.remove_tags(
                "a1",
                &[Tag {
                    key: "k".into(),
                    value: None,
                }],
            )?;
            assert!(tx.tags("a1")?.is_empty());
            assert!(tx.delete("b1")?);
            assert!(!tx.delete("b1")?);
            Ok(())
        })
        .expect("read");
    }
}
