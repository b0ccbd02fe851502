//! Why one action of an apply failed. Each error says whether anything was sent, and where
//! the truth now is; its `help` (rendered once, by the command) says what to do.

use crate::flow::{ApiError, FlowError};
use crate::state::file::StateError;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// AEP refused, or could not be reached.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The state could not record an outcome (what was journalled is safe).
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the plan has no connection id to {verb}; nothing was sent")]
    MissingId { verb: &'static str },
    #[error(
        "the plan names `{id}` as the connection to {verb}, which is not a connection id; nothing was sent"
    )]
    BadId { id: String, verb: &'static str },
    #[error("`{address}` is not in the configuration")]
    NotDeclared { address: String },
    #[error("`{address}` is no longer in the state")]
    NotInState { address: String },
    #[error("{id} {when}")]
    Gone { id: String, when: &'static str },
    #[error("the create's outcome is unknown ({reason}), and listing to find out failed: {source}")]
    UnknownAndUnlisted {
        reason: String,
        #[source]
        source: FlowError,
    },
    #[error("AEP made nothing after {tries} attempts ({reason})")]
    NothingMade { tries: u32, reason: String },
    #[error(
        "the create's outcome was unknown, and AEP now has {} connections named `{name}` created since: {}; flowform will not guess which is its own",
        ids.len(),
        ids.join(", ")
    )]
    Ambiguous { name: String, ids: Vec<String> },
    #[error(
        "the new connection was created, but the old one ({old}) could not be deleted: {source}; it stays in the state as `{deposed}`, and the next apply deletes it"
    )]
    OldNotDeleted {
        old: String,
        deposed: String,
        #[source]
        source: Box<ApplyError>,
    },
}

impl ApplyError {
    /// What to do about it, when there is an obvious fix.
    pub fn help(&self) -> Option<String> {
        match self {
            ApplyError::Flow(e) => match e.api().and_then(ApiError::flow_code) {
                Some(1418) => Some("a dataflow uses this connection; delete or move the dataflow first".into()),
                Some(1417) => {
                    Some("the connection is still initializing; apply again once it is enabled".into())
                }
                _ => None,
            },
            ApplyError::State(_) => Some(
                "every id and etag is safe in the journal beside the state file; the next flowform run folds it in"
                    .into(),
            ),
            ApplyError::MissingId { .. }
            | ApplyError::BadId { .. }
            | ApplyError::NotDeclared { .. }
            | ApplyError::NotInState { .. }
            | ApplyError::Gone { .. } => Some("plan again".into()),
            ApplyError::UnknownAndUnlisted { .. } => {
                Some("the next plan finds out by listing, before anything is created again".into())
            }
            ApplyError::NothingMade { .. } => None,
            ApplyError::Ambiguous { .. } => Some(
                "delete the extra ones in AEP (or `import` the right one), then plan again".into(),
            ),
            ApplyError::OldNotDeleted { source, .. } => source.help(),
        }
    }
}
