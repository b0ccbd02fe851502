//! flowform's tables, versioned: created on first use and migrated by flowform itself, one
//! step per version, under a transaction-level advisory lock so that two first runs never
//! race. States of several projects live side by side in one schema, by name.
//!
//! - `states`: one row per state: lineage, serial, salt, org, pending mutations, the saved
//!   plans applied to it lately (version 2), and where it went if it was moved.
//! - `records`: one row per managed connection (the record, as in the file, as JSON).
//! - `journal`: the intents and outcomes of the run in progress (or of one that died),
//!   folded into `records` by the run's commit.
//! - `owners`: which state manages each connection (org, sandbox, id): at most one.
//! - `locks`: who holds each state's lock (the lock itself is an advisory lock).

use tokio_postgres::Client;

use super::db::query_error;
use super::error::PgError;

/// The schema version this flowform writes.
pub const VERSION: i32 = 2;

/// The tables flowform keeps (besides `flowform_schema`), to refuse a schema holding
/// someone else's tables of these names.
const TABLES: [&str; 5] = ["states", "records", "journal", "owners", "locks"];

/// Migration `i` takes a schema from version `i` to `i + 1`. `{s}` is the schema, quoted.
const MIGRATIONS: [&str; 2] = [
    r#"
CREATE TABLE {s}.states (
    name text PRIMARY KEY,
    lineage text NOT NULL,
    serial bigint NOT NULL CHECK (serial >= 0),
    salt text NOT NULL,
    org text,
    format integer NOT NULL,
    pending jsonb NOT NULL DEFAULT '[]'::jsonb,
    moved_to text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.records (
    state text NOT NULL REFERENCES {s}.states (name) ON DELETE CASCADE,
    address text NOT NULL,
    sandbox text NOT NULL,
    connection_id text NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (state, address)
);
CREATE TABLE {s}.journal (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    state text NOT NULL REFERENCES {s}.states (name) ON DELETE CASCADE,
    seq bigint NOT NULL,
    entry jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX journal_by_state ON {s}.journal (state, id);
CREATE TABLE {s}.owners (
    org text NOT NULL,
    sandbox text NOT NULL,
    connection_id text NOT NULL,
    state text NOT NULL REFERENCES {s}.states (name) ON DELETE CASCADE,
    address text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org, sandbox, connection_id)
);
CREATE INDEX owners_by_state ON {s}.owners (state);
CREATE TABLE {s}.locks (
    state text PRIMARY KEY,
    token text NOT NULL,
    pid integer NOT NULL,
    host text NOT NULL,
    "user" text NOT NULL,
    command text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    backend_pid integer NOT NULL
);
"#,
    r#"
ALTER TABLE {s}.states ADD COLUMN applied_plans jsonb NOT NULL DEFAULT '[]'::jsonb;
"#,
];

/// `schema` quoted as an identifier (it is checked to need no escaping: see
/// [`super::url::is_schema_name`]).
pub fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// The advisory lock key of a name: the first 8 bytes of its SHA-256.
pub fn key(name: &str) -> i64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// What [`ensure`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// The schema is at [`VERSION`] (created or migrated if `create`).
    Ready,
    /// There is no flowform schema and `create` was false.
    Absent,
}

/// Makes sure the schema is at [`VERSION`]: created when `create` (or migrated from an
/// older version whatever `create` says); refused when newer.
pub async fn ensure(client: &mut Client, url: &str, schema: &str, create: bool) -> Result<Found, PgError> {
    let err = |context: &str| {
        let (url, context) = (url.to_owned(), context.to_owned());
        move |e: tokio_postgres::Error| query_error(&url, &context, &e)
    };
    let s = quoted(schema);
    let version = current(client, url, schema).await?;
    match version {
        Some(v) if v == VERSION => return Ok(Found::Ready),
        Some(v) if v > VERSION => {
            return Err(PgError::SchemaNewer {
                url: url.to_owned(),
                found: v,
                known: VERSION,
            });
        }
        None if !create => return Ok(Found::Absent),
        _ => {}
    }
    let tx = client
        .transaction()
        .await
        .map_err(err("starting the schema migration"))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&key(&format!("flowform-schema:{schema}"))],
    )
    .await
    .map_err(err("waiting for another flowform migrating the schema"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s}; CREATE TABLE IF NOT EXISTS {s}.flowform_schema (version integer NOT NULL, migrated_at timestamptz NOT NULL DEFAULT now());"
    ))
    .await
    .map_err(err("creating the schema"))?;
    let row = tx
        .query_opt(&format!("SELECT max(version) FROM {s}.flowform_schema"), &[])
        .await
        .map_err(err("reading the schema version"))?;
    let mut at: i32 = row.and_then(|r| r.get::<_, Option<i32>>(0)).unwrap_or(0);
    if at == 0 {
        // A schema of someone else's that happens to hold tables by flowform's names.
        let taken: i64 = tx
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = ANY($2)",
                &[&schema, &TABLES.to_vec()],
            )
            .await
            .map_err(err("looking at the schema"))?
            .get(0);
        if taken > 0 {
            return Err(PgError::NotFlowform {
                url: url.to_owned(),
                schema: schema.to_owned(),
            });
        }
    }
    if at > VERSION {
        return Err(PgError::SchemaNewer {
            url: url.to_owned(),
            found: at,
            known: VERSION,
        });
    }
    while at < VERSION {
        let Some(step) = usize::try_from(at).ok().and_then(|i| MIGRATIONS.get(i)) else {
            break;
        };
        tx.batch_execute(&step.replace("{s}", &s))
            .await
            .map_err(err(&format!("migrating the schema to version {}", at + 1)))?;
        at += 1;
        tx.execute(
            &format!("INSERT INTO {s}.flowform_schema (version) VALUES ($1)"),
            &[&at],
        )
        .await
        .map_err(err("recording the schema version"))?;
    }
    tx.commit()
        .await
        .map_err(err("committing the schema migration"))?;
    Ok(Found::Ready)
}

/// The schema's version; `None` when there is no flowform schema.
async fn current(client: &Client, url: &str, schema: &str) -> Result<Option<i32>, PgError> {
    let err = |e: tokio_postgres::Error| query_error(url, "reading the schema version", &e);
    let exists: Option<String> = client
        .query_one(
            "SELECT to_regclass($1)::text",
            &[&format!("{}.flowform_schema", quoted(schema))],
        )
        .await
        .map_err(err)?
        .get(0);
    if exists.is_none() {
        return Ok(None);
    }
    let row = client
        .query_one(
            &format!("SELECT max(version) FROM {}.flowform_schema", quoted(schema)),
            &[],
        )
        .await
        .map_err(err)?;
    Ok(row.get::<_, Option<i32>>(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_stable() {
        assert_eq!(super::key("a"), super::key("a"));
        assert_ne!(super::key("flowform-state:s:a"), super::key("flowform-state:s:b"));
    }
}
