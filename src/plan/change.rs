//! What a plan lists: each resource's [`Change`] (its action, the reason, the fields that
//! change and where each difference comes from) and each managed resource's [`Drift`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::kind::{self, Kind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    NoOp,
    Create,
    Update,
    /// Create the new resource, then delete the old (what cannot change in place).
    Replace,
    Delete,
    /// Take an existing resource under management (then update it if it differs).
    Adopt,
    /// Drop from the state without calling AEP (it is already gone).
    Forget,
    /// Change the state alone, sending nothing to AEP (`lifecycle.protect`, which the state
    /// remembers); its `fields` say what changes.
    StateOnly,
}

impl Action {
    /// The verb for messages: "to {verb}".
    pub fn verb(self) -> &'static str {
        match self {
            Action::NoOp => "leave",
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Adopt => "import",
            Action::Forget => "forget",
            Action::StateOnly => "record",
        }
    }

    /// Terraform's JSON `actions`.
    pub fn terraform_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Update => &["update"],
            Action::Replace => &["create", "delete"],
            Action::Delete => &["delete"],
            Action::Adopt => &["import"],
            Action::Forget => &["forget"],
            Action::StateOnly => &["state-only"],
        }
    }
}

/// Why an action was chosen (Terraform's `action_reason`, where it has one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Create again: it was deleted outside flowform.
    RecreateBecauseDeletedOutside,
    /// A field that cannot change in place changed (a connection spec, an auth spec, a
    /// table).
    ReplaceBecauseCannotUpdate,
    /// `plan --replace KEY` asked for it.
    ReplaceByRequest,
    /// A resource it refers to is replaced, and AEP cannot point it at the new one in place
    /// (its `cause`).
    ReplaceBecauseDependencyReplaced,
    DeleteBecauseNoResourceConfig,
    DeleteBecauseDestroy,
    /// Forget: gone from AEP (and from the configuration, or being destroyed).
    ForgetBecauseDeletedOutside,
    /// Forget: a `removed` entry lets it go; AEP keeps it.
    ForgetBecauseRemoved,
    /// Forget: AEP cannot delete it (Data Prep has no DELETE for a mapping set); AEP keeps it.
    ForgetBecauseUndeletable,
    /// Adopt: an `import` block names it, or what one names refers to it (see
    /// [`super::chain`]; a note says which).
    ImportBecauseImportBlock,
    /// Adopt: an interrupted apply created it; listing found it.
    ImportBecauseRecoveredFromInterruptedApply,
    /// Update: AEP's etag changed since the last apply, so the secrets are sent again.
    UpdateBecauseChangedOutside,
}

/// Where a difference comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The configuration changed since the last apply.
    Config,
    /// AEP changed outside flowform.
    Outside,
}

/// One attribute's change. Sensitive attributes carry no values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// `name`, `description`, `connectionSpec.id`, `auth.specName`, `auth.params.<name>`,
    /// `baseConnectionId`, `table`, …: the kind's field paths.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Changing it forces a replacement.
    #[serde(default)]
    pub forces_replacement: bool,
    /// It goes away: a param of the old resource that a replacement does not have.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// Its new value is known only once applied (the id of a resource created first).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

impl Field {
    /// A field with no origin and nothing special about it.
    pub fn new(path: impl Into<String>, before: Option<Value>, after: Option<Value>) -> Field {
        Field {
            path: path.into(),
            before,
            after,
            sensitive: false,
            origin: None,
            forces_replacement: false,
            removed: false,
            unknown: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub key: String,
    pub sandbox: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The resource acted on (the old one, for a replace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its etag when the plan was made: applying a saved plan checks it is unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub name: String,
    /// For a create, every attribute; for an update, what changes; for a delete, what goes.
    pub fields: Vec<Field>,
    /// Attributes that do not change (hidden in the text render).
    pub unchanged: usize,
    /// The update sends the auth params, secrets included.
    #[serde(default)]
    pub resend_secrets: bool,
    /// Also update after adopting.
    #[serde(default)]
    pub then_update: bool,
    #[serde(default)]
    pub initializing: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The addresses of the declared resources it refers to: created (or replaced) first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The replacement that forces this one (`replace_because_dependency_replaced`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Change {
    pub fn is_change(&self) -> bool {
        !matches!(self.action, Action::NoOp)
    }

    /// The kind of what it acts on.
    pub fn kind(&self) -> &'static Kind {
        kind::address::kind_of(&self.address)
    }

    /// A change of `action` to the resource at `address`, with nothing else said yet.
    pub fn bare(address: &str, key: &str, sandbox: &str, action: Action, name: &str) -> Change {
        Change {
            address: address.to_owned(),
            key: key.to_owned(),
            sandbox: sandbox.to_owned(),
            action,
            reason: None,
            id: None,
            etag: None,
            name: name.to_owned(),
            fields: Vec::new(),
            unchanged: 0,
            resend_secrets: false,
            then_update: false,
            initializing: false,
            notes: Vec::new(),
            depends_on: Vec::new(),
            cause: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    Changed,
    Deleted,
}

/// A managed resource AEP shows differently from the state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: String,
    pub id: String,
    pub kind: DriftKind,
    /// Before: as recorded; after: as AEP has it.
    pub fields: Vec<Field>,
    /// The etag moved (something changed, perhaps a secret, perhaps unseen).
    pub etag_changed: bool,
    /// Who last changed it, as AEP says: when (epoch ms), and with which client (`exc_app`
    /// is the AEP UI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// The last change was made with flowform's own credential (another run, perhaps from
    /// another clone), not by a person.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_flowform: bool,
    /// The secret params, which AEP never shows: a change nothing else explains may be theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_params: Vec<String>,
    /// A resource it refers to is gone from AEP (a source connection whose base connection
    /// was deleted outside flowform): the address or id of what is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dangling: Option<String>,
}
