//! `owners`: which state of the schema manages each connection (org, sandbox, id), claimed
//! in the transaction that records it and released when the state lets it go.

use std::sync::Arc;

use super::PgStore;
use super::db::{Sessions, query_error};
use super::error::{self, PgError};
use super::schema::quoted;
use crate::state::file::StateError;

/// A resource as `owners` keys it (the org is the state's).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Owned {
    pub(super) sandbox: String,
    pub(super) id: String,
    pub(super) address: String,
}

pub(super) async fn release(
    tx: &tokio_postgres::Transaction<'_>,
    s: &str,
    name: &str,
    org: &str,
    releases: &[Owned],
) -> Result<(), tokio_postgres::Error> {
    if releases.is_empty() {
        return Ok(());
    }
    let sandboxes: Vec<&str> = releases.iter().map(|o| o.sandbox.as_str()).collect();
    let ids: Vec<&str> = releases.iter().map(|o| o.id.as_str()).collect();
    tx.execute(
        &format!(
            "DELETE FROM {s}.owners o USING unnest($3::text[], $4::text[]) AS t (sandbox, id) \
             WHERE o.state = $1 AND o.org IN ($2, '') AND o.sandbox = t.sandbox AND o.connection_id = t.id"
        ),
        &[&name, &org, &sandboxes, &ids],
    )
    .await?;
    Ok(())
}

/// Claims `claims` for state `name`; refused (the transaction to be rolled back) when
/// another state owns one of them.
pub(super) async fn claim(
    tx: &tokio_postgres::Transaction<'_>,
    s: &str,
    name: &str,
    org: &str,
    claims: &[Owned],
    shown: &str,
) -> Result<(), PgError> {
    if claims.is_empty() {
        return Ok(());
    }
    let err = |e: tokio_postgres::Error| query_error(shown, "claiming connections for the state", &e);
    let sandboxes: Vec<&str> = claims.iter().map(|o| o.sandbox.as_str()).collect();
    let ids: Vec<&str> = claims.iter().map(|o| o.id.as_str()).collect();
    let addresses: Vec<&str> = claims.iter().map(|o| o.address.as_str()).collect();
    let claimed = tx
        .execute(
            &format!(
                "INSERT INTO {s}.owners (org, sandbox, connection_id, state, address) \
                 SELECT $2, t.sandbox, t.id, $1, t.address FROM unnest($3::text[], $4::text[], $5::text[]) AS t (sandbox, id, address) \
                 ON CONFLICT (org, sandbox, connection_id) DO UPDATE SET address = EXCLUDED.address WHERE {s}.owners.state = EXCLUDED.state"
            ),
            &[&name, &org, &sandboxes, &ids, &addresses],
        )
        .await
        .map_err(err)?;
    if usize::try_from(claimed).unwrap_or(0) == claims.len() {
        return Ok(());
    }
    let taken = tx
        .query_opt(
            &format!(
                "SELECT o.connection_id, o.sandbox, o.state, t.address, o.address FROM {s}.owners o JOIN unnest($3::text[], $4::text[], $5::text[]) AS t (sandbox, id, address) \
                 ON o.sandbox = t.sandbox AND o.connection_id = t.id WHERE o.org = $2 AND o.state <> $1 ORDER BY o.connection_id LIMIT 1"
            ),
            &[&name, &org, &sandboxes, &ids, &addresses],
        )
        .await
        .map_err(err)?;
    Err(match taken {
        Some(row) => PgError::Owned(Box::new(error::Conflict {
            id: row.get(0),
            sandbox: row.get(1),
            owner: row.get(2),
            address: row.get(3),
            theirs: row.get(4),
            url: shown.to_owned(),
        })),
        None => PgError::Query {
            url: shown.to_owned(),
            context: "claiming connections for the state".to_owned(),
            reason: "a connection is named twice".to_owned(),
            lost: false,
        },
    })
}

impl PgStore {
    /// The state (of this schema) that manages connection `id` of `sandbox`, with the
    /// address it has there, if any.
    pub fn owner_of(&self, sandbox: &str, id: &str) -> Result<Option<(String, String)>, StateError> {
        let (s, shown) = (quoted(&self.url.schema), self.shown.clone());
        let org = self.state.org.clone().unwrap_or_default();
        let (sandbox, id) = (sandbox.to_owned(), id.to_owned());
        Ok(self.db.call("reading who manages a connection", move |sessions: Arc<Sessions>| async move {
            let client = sessions.data.lock().await;
            let row = client
                .query_opt(
                    &format!("SELECT state, address FROM {s}.owners WHERE org IN ($1, '') AND sandbox = $2 AND connection_id = $3"),
                    &[&org, &sandbox, &id],
                )
                .await
                .map_err(|e| query_error(&shown, "reading who manages a connection", &e))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })?)
    }
}
