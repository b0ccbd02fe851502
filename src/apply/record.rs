//! The records an apply writes: what flowform sent, and what AEP answered. Built here, where
//! a declared connection meets the state, so that the state knows nothing of the
//! configuration.

use crate::config::Connection;
use crate::flow::model::ConnectionState;
use crate::state::{Fingerprints, Record};

/// The record of a declared connection as flowform applied it to AEP: the non-secret
/// params as declared, the names of the secret ones, and the salted digest of their
/// values (under the state's salt). No secret value is copied.
pub fn applied(
    conn: &Connection,
    id: &str,
    etag: Option<&str>,
    live_state: Option<ConnectionState>,
    fingerprints: &Fingerprints,
    now: i64,
) -> Record {
    let split = conn.split_params();
    Record {
        key: conn.key.clone(),
        sandbox: conn.sandbox.clone(),
        id: id.to_owned(),
        etag: etag.map(str::to_owned),
        name: conn.name.clone(),
        description: conn.description.clone(),
        connection_spec: conn.connection_spec.clone(),
        auth_spec_name: conn.auth.spec_name.clone(),
        secrets_digest: declared_secrets_digest(conn, fingerprints),
        params: split.plain,
        secret_params: split.secret_names,
        state: live_state,
        created_at: None,
        updated_at: None,
        protect: conn.lifecycle.protect,
        applied_at: Some(now),
    }
}

/// The salted digest of a declared connection's secrets under the state's salt: `None` when
/// it has none, or when not all are resolved.
pub fn declared_secrets_digest(conn: &Connection, fingerprints: &Fingerprints) -> Option<String> {
    let split = conn.split_params();
    (split.all_resolved() && !split.secret_names.is_empty())
        .then(|| fingerprints.secrets_digest(&split.secrets))
}
