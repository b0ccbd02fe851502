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
    /// AEP did it, and the state could not record it (the database went away): said with
    /// the id, so that nothing sent to AEP is forgotten.
    #[error("{done} in AEP as {id}, but the state could not record it: {source}")]
    Unrecorded {
        done: &'static str,
        id: String,
        key: String,
        #[source]
        source: Box<StateError>,
    },
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
    #[error("could not move `{from}` here: {reason}; nothing was moved or sent")]
    NotMoved { from: String, reason: String },
    #[error(
        "the plan asks to record `{path}` in the state, which flowform does not keep there; nothing was changed"
    )]
    NotRecordable { path: String },
    #[error("the create's outcome is unknown ({reason}), and listing to find out failed: {source}")]
    UnknownAndUnlisted {
        reason: String,
        #[source]
        source: Box<FlowError>,
    },
    #[error("AEP made nothing after {tries} attempts ({reason})")]
    NothingMade { tries: u32, reason: String },
    #[error(
        "the create's outcome was unknown, and AEP now has {} {noun}s named `{name}` created since: {}; flowform will not guess which is its own",
        ids.len(),
        ids.join(", ")
    )]
    Ambiguous {
        name: String,
        noun: &'static str,
        ids: Vec<String>,
    },
    #[error(
        "AEP now has a {noun} named `{name}` (id {id}) that this state does not manage; creating another (or renaming one to it) would make a duplicate, so nothing was sent"
    )]
    NameTaken {
        name: String,
        id: String,
        /// As `flowform import` takes it (`kind:key` for every kind but base connections).
        key: String,
        noun: &'static str,
    },
    #[error("{reason}; nothing was sent")]
    Incomplete { reason: String },
    #[error(
        "AEP answered the create with the id {id}, which the state already holds as `{other}`; it is not recorded a second time"
    )]
    IdHeld { id: String, other: String },
    /// Said already (a name taken, or not checked): nothing is sent for it.
    #[error("not sent")]
    Refused,
    #[error(
        "`{field}` refers to {target}, which the state does not hold: it was not created; nothing was sent"
    )]
    Unresolved { field: &'static str, target: String },
    #[error("the state says it depends, through others, on itself (at `{at}`); nothing was sent")]
    Circle { at: String },
    #[error("could not check with AEP that the name is still free ({reason}); nothing was sent")]
    NameUnchecked { reason: String },
    #[error(
        "created as {ours}, but AEP also has {} named `{name}` that this state does not manage ({}), created at the same moment by someone else (another clone or CI run applying with another state, or a person); {}",
        if others.len() == 1 { "another connection" } else { "other connections" },
        others.join(", "),
        match (kept == ours, deleted) {
            (true, _) => format!("flowform keeps its own ({ours}, created first): a flowform run that made another deletes its copy"),
            (false, Some(Ok(()))) => format!("{kept} was created first, so flowform deleted its own copy ({ours}) and forgot it"),
            (false, Some(Err(e))) => format!("{kept} was created first, but flowform could not delete its own copy ({ours}): {e}"),
            (false, None) => format!("{kept} was created first"),
        }
    )]
    Duplicated {
        name: String,
        ours: String,
        others: Vec<String>,
        /// The one that stays: the first created.
        kept: String,
        /// Whether flowform deleted its own copy, when it was not the first.
        deleted: Option<Result<(), String>>,
    },
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
                Some(1418) => Some("something still uses this connection: a dataflow, or a source connection this state does not manage (those it manages are deleted first): delete or move it, then apply again".into()),
                Some(1447) => Some("a dataflow uses it: delete or move the dataflow first".into()),
                Some(1417) => {
                    Some("the connection is still initializing; apply again once it is enabled".into())
                }
                _ => None,
            },
            ApplyError::State(StateError::Postgres(e)) => e.help(),
            ApplyError::State(_) => Some(
                "every id and etag is safe in the journal beside the state file; the next flowform run folds it in"
                    .into(),
            ),
            ApplyError::Unrecorded { done: "created" | "adopted", id, key, .. } => Some(format!(
                "the next apply finds {id} by its name before creating anything (the intent was recorded) and records it; should it not, `flowform import {key} {id}` records it by hand"
            )),
            ApplyError::Unrecorded { .. } => Some(
                "the next plan reads the connection from AEP and records what it finds".into(),
            ),
            ApplyError::MissingId { .. }
            | ApplyError::BadId { .. }
            | ApplyError::NotDeclared { .. }
            | ApplyError::NotInState { .. }
            | ApplyError::NotMoved { .. }
            | ApplyError::NotRecordable { .. }
            | ApplyError::Gone { .. } => Some("plan again".into()),
            ApplyError::UnknownAndUnlisted { .. } => {
                Some("the next plan finds out by listing, before anything is created again".into())
            }
            ApplyError::NothingMade { .. } => None,
            ApplyError::NameTaken { id, key, noun, .. } => {
                let bare = key.split_once(':').map_or(key.as_str(), |(_, k)| k);
                Some(format!(
                    "to manage that one, run `flowform import {key} {id}` (or add `import: {{id: {id}}}` to `{bare}`); if it is another {noun}, give `{bare}` another name"
                ))
            }
            ApplyError::Refused => None,
            ApplyError::IdHeld { other, .. } => Some(format!(
                "AEP gave one id to two resources, or its answer is wrong: check `{other}` in AEP; the next plan finds what this create made by its name before creating anything"
            )),
            ApplyError::Incomplete { .. } => Some("fix the configuration, then plan again".into()),
            ApplyError::Unresolved { .. } => Some("plan again: the plan creates what it refers to first".into()),
            ApplyError::Circle { .. } => Some(
                "the state's `dependsOn` goes round in a circle (edited by hand?): `flowform state rm` one of them, or restore the state".into(),
            ),
            ApplyError::NameUnchecked { .. } => Some("apply again once AEP answers".into()),
            ApplyError::Duplicated { ours, kept, .. } if kept == ours => Some(format!(
                "if a person made the other, delete it in AEP; flowform manages {ours}. Teams applying from several clones need one shared state (see the README's team section)"
            )),
            ApplyError::Duplicated { kept, .. } => Some(format!(
                "the connection that stays is {kept}, which another state (or nobody) manages: plan again, and import it where it belongs. Teams applying from several clones need one shared state (see the README's team section)"
            )),
            ApplyError::Ambiguous { .. } => Some(
                "delete the extra ones in AEP (or `import` the right one), then plan again".into(),
            ),
            ApplyError::OldNotDeleted { source, .. } => source.help(),
        }
    }
}
