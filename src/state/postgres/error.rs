//! What can go wrong with a PostgreSQL state, each with its fix.

use std::fmt;

use super::url::UrlError;

#[derive(Debug)]
pub enum PgError {
    Url(UrlError),
    /// The TLS settings cannot be used (an unreadable `sslrootcert`).
    Tls {
        url: String,
        reason: String,
    },
    /// The server could not be reached or refused the login.
    Connect {
        url: String,
        reason: String,
    },
    /// A statement failed, or the connection went away while flowform used it.
    Query {
        url: String,
        context: String,
        reason: String,
        /// The connection is gone (dropped, the server restarted or shut down).
        lost: bool,
    },
    /// The session that held the lock is gone, or another process holds the lock now:
    /// nothing more is written.
    LockLost {
        url: String,
    },
    /// Another state owns the connection (org, sandbox, id).
    Owned(Box<Conflict>),
    /// The state was moved elsewhere (`init --migrate-state`).
    Moved {
        url: String,
        to: String,
    },
    /// The database's flowform schema is newer than this flowform.
    SchemaNewer {
        url: String,
        found: i32,
        known: i32,
    },
    /// Holding a state in a schema that is not flowform's.
    NotFlowform {
        url: String,
        schema: String,
    },
}

/// A connection another state of the database manages.
#[derive(Debug)]
pub struct Conflict {
    pub id: String,
    pub sandbox: String,
    /// Ours: the address that would take it.
    pub address: String,
    pub owner: String,
    /// Its address in the state that owns it.
    pub theirs: String,
    pub url: String,
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PgError::Url(e) => write!(f, "{e}"),
            PgError::Tls { url, reason } => write!(f, "cannot set up TLS for `{url}`: {reason}"),
            PgError::Connect { url, reason } => write!(f, "cannot connect to the state `{url}`: {reason}"),
            PgError::Query {
                url,
                context,
                reason,
                lost: true,
            } => write!(
                f,
                "the connection to the state `{url}` was lost while {context} ({reason}); nothing more was written"
            ),
            PgError::Query {
                url, context, reason, ..
            } => write!(f, "the state `{url}`: {context} failed: {reason}"),
            PgError::LockLost { url } => write!(
                f,
                "the lock on the state `{url}` was lost (its session ended, or another flowform took it); nothing more was written"
            ),
            PgError::Owned(c) => write!(
                f,
                "the connection {} (sandbox `{}`) is managed by the state `{}` (as `{}`) in the same database as `{}`; `{}` cannot take it too, since two states managing one connection undo each other's changes",
                c.id, c.sandbox, c.owner, c.theirs, c.url, c.address
            ),
            PgError::Moved { url, to } => write!(f, "the state `{url}` was moved: {to}"),
            PgError::SchemaNewer { url, found, known } => write!(
                f,
                "the database of `{url}` holds flowform schema version {found}, made by a newer flowform; this one knows up to version {known}, and changes nothing"
            ),
            PgError::NotFlowform { url, schema } => write!(
                f,
                "the schema `{schema}` of `{url}` holds tables that are not flowform's; nothing was changed"
            ),
        }
    }
}

impl std::error::Error for PgError {}

impl PgError {
    pub fn help(&self) -> Option<String> {
        Some(match self {
            PgError::Url(e) => e.help(),
            PgError::Tls { .. } => "check `sslrootcert` (a PEM file of the CA that signed the server's certificate)".to_owned(),
            PgError::Connect { reason, .. } if reason.contains("password") => format!(
                "set `{}` (or `{}`) for the database user in the environment of this command",
                super::url::PASSWORD_VARS[0],
                super::url::PASSWORD_VARS[1]
            ),
            PgError::Connect { .. } => {
                "check that the server is up and reachable, and the URL's host, port, database and `sslmode`".to_owned()
            }
            PgError::Query { lost: true, .. } | PgError::LockLost { .. } => {
                "every id written before is safe in the state's journal, and what could not be written is listed above with its id; run flowform again once the database is back: it carries on from the journal and creates nothing twice".to_owned()
            }
            PgError::Query { .. } => return None,
            PgError::Owned(c) => format!(
                "a connection belongs to one state: if `{}` should manage it, run `flowform state rm {}` in the project of the state `{}` first; otherwise give `{}` a connection of its own",
                c.address, c.theirs, c.owner, c.address
            ),
            PgError::Moved { .. } => {
                "point the project's `state` in `flowform.toml` where it went (pull the latest project file)".to_owned()
            }
            PgError::SchemaNewer { .. } => "upgrade flowform".to_owned(),
            PgError::NotFlowform { .. } => "name another schema with `schema=` in the state URL".to_owned(),
        })
    }

    /// Whether the connection went away (rather than a statement being refused).
    pub fn is_lost(&self) -> bool {
        matches!(self, PgError::Query { lost: true, .. } | PgError::LockLost { .. })
    }
}
