//! The plan: what flowform would do to bring AEP in line with the configuration.
//!
//! [`plan`] is a pure function of the desired resources, the recorded state, what AEP
//! showed (`Live`, from the refresh) and the options. No IO, no clock, no environment: the
//! same inputs give the same [`Plan`], which is why `plan`, `plan --out`, `show` and
//! `apply` agree, and why it is tested with plain tables of cases.
//!
//! Each resource is planned by its kind's declaration ([`diff`], [`compare`]); then the
//! graph: a resource replaced gives its dependents that cannot follow it in place a
//! replacement of their own ([`cascade`]), each with its cause. Each difference says where it
//! came from: the configuration changed (`Origin::Config`), or AEP changed outside flowform
//! (`Origin::Outside`, also listed as drift), as Terraform's "Objects have changed outside
//! of Terraform" keeps the two apart.

mod cascade;
mod compare;
mod diff;
mod drift;
#[cfg(test)]
pub(crate) mod fixtures;
mod moved;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{Desired, Resource};
use crate::flow::model::LiveObject;
use crate::kind::{self, Kind};
use crate::state::{Action as Mutation, State};

/// The version of the saved-plan and JSON format. 1.1: an error is `{message, help}`. 1.2:
/// state-only changes (`state-only`: protect), replaces asked for (`--replace`), params a
/// replace drops (`removed`), who last changed a drifted connection; `moves` (state-only
/// renames), the `forget_because_removed` reason, and the summary's `move`, `forget` and
/// `state_only` counts. 1.3: kinds (addresses `sandbox/kind:key`), a change's `depends_on`
/// and `cause` (a replacement it follows), fields `unknown` until applied, the
/// `replace_because_dependency_replaced` reason.
pub const FORMAT_VERSION: &str = "1.3";

/// Saved-plan formats this flowform still reads: each newer one only adds fields that an
/// older plan reads as absent.
const READABLE_VERSIONS: &[&str] = &["1.1", "1.2", FORMAT_VERSION];

pub use self::moved::{Move, by_target as moves_by_target, rekey};

/// How far back from an interrupted create's start a resource AEP made may be dated
/// (clocks differ).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// What an interrupted create (a timeout, a dropped answer, a crash) may have made.
#[derive(Debug, PartialEq)]
pub enum Interrupted<'a> {
    /// Nothing: it is safe to create again.
    Nothing,
    /// Exactly one: adopt it, never create another.
    One(&'a LiveObject),
    /// Several: flowform will not guess which is its own.
    Several(Vec<&'a LiveObject>),
}

/// The one rule, shared by the planner (a create left pending by a crashed run) and the
/// applier (a create whose answer was lost): among the resources seen of the create's kind,
/// sandbox and scope, those with its name, not already owned (`owned`), and created since it
/// began (give or take clock skew). Names are unique per kind, sandbox and scope in a
/// configuration, and a create whose name is taken is refused, so a name finds the create's
/// resource.
pub fn interrupted_create<'a>(
    seen: impl IntoIterator<Item = &'a LiveObject>,
    name: &str,
    owned: impl Fn(&str) -> bool,
    started_at: i64,
) -> Interrupted<'a> {
    let since = started_at.saturating_sub(CLOCK_SKEW_MS);
    let mut found: Vec<&LiveObject> = seen
        .into_iter()
        .filter(|l| l.name == name && !owned(&l.id))
        .filter(|l| l.created_at.is_none_or(|t| t >= since))
        .collect();
    match found.len() {
        0 => Interrupted::Nothing,
        1 => Interrupted::One(found.remove(0)),
        _ => Interrupted::Several(found),
    }
}

/// A kind, a sandbox and the first of the kind's scope values (lower case): what one listing
/// of AEP covers, with `property=SCOPE==value` (a base connection's spec, a source
/// connection's base connection).
pub type Group = (&'static str, String, String);

/// One resource AEP showed.
#[derive(Clone, Debug)]
pub struct Seen {
    pub kind: &'static Kind,
    pub sandbox: String,
    pub object: LiveObject,
}

/// What the refresh saw of AEP.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Whether AEP was asked at all (`--refresh=false`: no, and every presence is unknown).
    pub refreshed: bool,
    /// Every resource seen, by id.
    pub objects: BTreeMap<String, Seen>,
    /// Groups listed in full: a resource of that group not seen is absent.
    pub listed: BTreeSet<Group>,
    /// Ids read by id (one by one, or in batches by filter): one not seen is absent.
    pub fetched: BTreeSet<String>,
    /// Names looked up by filter, with their group: every resource of that group and name
    /// was seen, as if the group had been listed, for that name alone.
    pub named: BTreeSet<(&'static str, String, String, String)>,
    /// The client id flowform reaches AEP with (`x-api-key`): a resource AEP says it last
    /// updated was changed by flowform (this run's credential), not by a person.
    pub own_client: Option<String>,
}

/// The first scope value of `kind` as `object` shows it (lower case).
pub fn scope_of(kind: &Kind, object: &LiveObject) -> String {
    kind.scope
        .first()
        .and_then(|path| kind.field(path))
        .and_then(|f| object.text_at(f.api))
        .unwrap_or_default()
        .to_lowercase()
}

/// Every scope value of `kind` as `object` shows it (lower case).
pub fn scopes_of(kind: &Kind, object: &LiveObject) -> Vec<String> {
    kind.scope
        .iter()
        .map(|path| {
            kind.field(path)
                .and_then(|f| object.text_at(f.api))
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect()
}

impl Live {
    /// Records a resource seen in `sandbox`.
    pub fn see(&mut self, kind: &'static Kind, sandbox: &str, object: LiveObject) {
        self.objects.insert(
            object.id.clone(),
            Seen {
                kind,
                sandbox: sandbox.to_owned(),
                object,
            },
        );
    }

    /// Whether every resource of `kind` in `sandbox` whose scope is `scope` and whose name
    /// is `name` was seen (its group listed, or its name looked up).
    pub fn name_seen(&self, kind: &Kind, sandbox: &str, scope: &str, name: &str) -> bool {
        let group = (kind.name, sandbox.to_owned(), scope.to_lowercase());
        self.listed.contains(&group) || self.named.contains(&(group.0, group.1, group.2, name.to_owned()))
    }

    /// Whether AEP says `object` was last changed by this credential since `since` (give or
    /// take clock skew): the work of an interrupted flowform run, not of someone outside.
    pub fn changed_by_us_since(&self, object: &LiveObject, since: i64) -> bool {
        self.own_client.is_some()
            && object.updated_client == self.own_client
            && object
                .updated_at
                .is_some_and(|t| t >= since.saturating_sub(CLOCK_SKEW_MS))
    }

    /// Whether AEP has the resource `id` of `kind` in `sandbox`; `scope`: its first scope
    /// value, as recorded.
    pub fn presence(&self, kind: &Kind, sandbox: &str, scope: &str, id: &str) -> Presence<'_> {
        if let Some(seen) = self.objects.get(id)
            && seen.sandbox == sandbox
            && seen.kind == kind
        {
            return Presence::Found(&seen.object);
        }
        let listed = self
            .listed
            .contains(&(kind.name, sandbox.to_owned(), scope.to_lowercase()));
        if listed || self.fetched.contains(id) {
            Presence::Absent
        } else {
            Presence::Unknown
        }
    }

    /// The resources seen of `kind` in `sandbox` whose scope values are `scope` (lower case).
    pub fn in_scope<'a>(
        &'a self,
        kind: &'a Kind,
        sandbox: &'a str,
        scope: &'a [String],
    ) -> impl Iterator<Item = &'a LiveObject> {
        self.objects
            .values()
            .filter(move |s| s.kind == kind && s.sandbox == sandbox && scopes_of(kind, &s.object) == scope)
            .map(|s| &s.object)
    }
}

/// Whether AEP has a resource.
#[derive(Clone, Copy, Debug)]
pub enum Presence<'a> {
    Found(&'a LiveObject),
    Absent,
    /// Not looked at (no refresh).
    Unknown,
}

/// What kind of plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Normal,
    /// Delete everything managed (`flowform destroy`).
    Destroy,
    /// Change nothing in AEP; take what AEP has as the new state (`apply --refresh-only`).
    RefreshOnly,
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Limit the plan to these keys (or addresses), and what they depend on; all when empty.
    pub targets: BTreeSet<String>,
    /// Limit the plan to these addresses (`-c` narrowing to some of the project's files);
    /// all when `None`.
    pub scope: Option<BTreeSet<String>>,
    pub mode: Mode,
    /// Salts the secrets in the configuration digest (drawn at random by the caller: the
    /// planner itself uses no randomness).
    pub digest_salt: String,
    /// Replace these managed resources (keys or addresses) even if nothing forces it
    /// (`plan --replace KEY`, Terraform's `-replace`).
    pub replace: BTreeSet<String>,
}

/// The inputs a plan was made from (not part of the planning: filled by the command).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOrigin {
    /// The `-c` inputs, as given.
    pub config: Vec<std::path::PathBuf>,
    /// The state file.
    pub state: Option<std::path::PathBuf>,
    /// Made against the in-process emulator.
    pub emulator: bool,
}

/// A plan: serializable (saved plans, `--format json`), secret-free.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: String,
    pub mode: Mode,
    /// The state the plan was made against: a saved plan applies only to it.
    pub lineage: String,
    pub serial: u64,
    /// A digest of the resolved configuration (secrets by digest under `digest_salt`).
    pub config_digest: String,
    /// A random salt drawn for this plan.
    #[serde(default)]
    pub digest_salt: String,
    /// How the plan was made, so `apply FILE` can find the same configuration and state.
    #[serde(default)]
    pub origin: PlanOrigin,
    pub refreshed: bool,
    /// Every managed or declared resource in scope, by address, no-ops included.
    pub changes: Vec<Change>,
    /// Keys the state gives another key (`moved:`), made before anything else; state only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// Differences between AEP and the state made outside flowform.
    pub drift: Vec<Drift>,
    pub warnings: Vec<String>,
    /// Why the plan cannot be applied (a protected resource to delete, …).
    pub errors: Vec<Problem>,
}

/// Why a plan cannot be applied, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Problem {
        self.help = Some(help.into());
        self
    }

    /// Whether the message or the help says `text`.
    #[cfg(test)]
    pub fn says(&self, text: &str) -> bool {
        self.message.contains(text) || self.help.as_deref().is_some_and(|h| h.contains(text))
    }
}

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
    /// Adopt: an `import` block names it.
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

/// Counts in Terraform's summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub import: usize,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// State-only: keys moved (`moved:`).
    #[serde(default, rename = "move")]
    pub moved: usize,
    /// State-only: resources let go, kept in AEP (`removed:`, or deleted outside).
    #[serde(default)]
    pub forget: usize,
    /// Resources whose change is to the state alone.
    #[serde(default)]
    pub state_only: usize,
}

impl Plan {
    /// Reads a saved plan's bytes (`plan --out`): the format and its version checked. A
    /// saved plan is input like any other file: it may be damaged or hand-edited.
    pub fn from_saved(bytes: &[u8]) -> Result<Plan, String> {
        let plan: Plan =
            serde_json::from_slice(bytes).map_err(|e| format!("it is not a flowform saved plan: {e}"))?;
        if !READABLE_VERSIONS.contains(&plan.format_version.as_str()) {
            return Err(format!(
                "it is saved-plan format {}; this flowform reads {}",
                plan.format_version,
                READABLE_VERSIONS.join(", ")
            ));
        }
        Ok(plan)
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.add += 1,
                Action::Update => s.change += 1,
                Action::Replace => {
                    s.add += 1;
                    s.destroy += 1;
                }
                Action::Delete => s.destroy += 1,
                Action::Adopt => {
                    s.import += 1;
                    if c.then_update {
                        s.change += 1;
                    }
                }
                Action::Forget => s.forget += 1,
                Action::StateOnly => s.state_only += 1,
                Action::NoOp => {}
            }
        }
        s.moved = self.moves.len();
        s
    }

    /// Whether applying would change anything (in AEP or the state).
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::is_change)
            || !self.moves.is_empty()
            || (self.mode == Mode::RefreshOnly && !self.drift.is_empty())
    }

    /// Changes that do something, in address order.
    pub fn actions(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_change())
    }
}

/// A digest of what a create or update of `r` sends, secrets by fingerprint: the journal's
/// request fingerprint.
pub fn fingerprint(r: &Resource, state: &State) -> String {
    fingerprint_with(r, &state.fingerprints())
}

/// [`fingerprint`], with the state's salt and scheme only.
pub fn fingerprint_with(r: &Resource, fingerprints: &crate::state::Fingerprints) -> String {
    let split = r.split_params();
    // `{"connection":…,"secrets":…}`, written as the JSON value of that would print.
    let mut canonical = b"{\"connection\":".to_vec();
    write_plain_form(&mut canonical, r, &split);
    canonical.extend(b",\"secrets\":");
    let _ = serde_json::to_writer(&mut canonical, &fingerprints.secrets_digest(&split.secrets));
    canonical.push(b'}');
    crate::state::hex(&Sha256::digest(&canonical))
}

/// Everything of a declared base connection but its secrets' values, as JSON: the keys in
/// the order a JSON value sorts them, so that the bytes are those [`plain_form`]'s value
/// prints (saved plans and journals made before flowform knew other kinds keep their
/// digests), without building the value.
#[derive(Serialize)]
struct ConnectionForm<'a> {
    #[serde(rename = "connectionSpec")]
    connection_spec: SpecForm<'a>,
    description: Option<&'a str>,
    #[serde(rename = "ignoreChanges")]
    ignore_changes: &'a BTreeSet<String>,
    import: &'a Option<String>,
    key: &'a str,
    name: &'a str,
    params: &'a serde_json::Map<String, Value>,
    protect: bool,
    sandbox: &'a str,
    #[serde(rename = "secretNames")]
    secret_names: &'a BTreeSet<String>,
    #[serde(rename = "specName")]
    spec_name: &'a str,
}

#[derive(Serialize)]
struct SpecForm<'a> {
    id: &'a str,
    version: &'a str,
}

/// Every other kind's form: its kind, and its declared values by path (a reference as
/// `key:KEY` or `id:ID`), keys sorted.
#[derive(Serialize)]
struct ResourceForm<'a> {
    #[serde(rename = "ignoreChanges")]
    ignore_changes: &'a BTreeSet<String>,
    import: &'a Option<String>,
    key: &'a str,
    kind: &'a str,
    params: &'a serde_json::Map<String, Value>,
    protect: bool,
    sandbox: &'a str,
    #[serde(rename = "secretNames")]
    secret_names: &'a BTreeSet<String>,
    values: BTreeMap<&'a str, Value>,
}

fn write_plain_form(out: &mut Vec<u8>, r: &Resource, split: &crate::config::SplitParams<'_>) {
    // Strings, maps of JSON values and booleans: nothing here fails to serialize.
    if r.kind.is_default() {
        let form = ConnectionForm {
            connection_spec: SpecForm {
                id: kind::connection::spec_id(r),
                version: kind::connection::spec_version(r),
            },
            description: r.text("description"),
            ignore_changes: &r.lifecycle.ignore_changes,
            import: &r.import,
            key: &r.key,
            name: r.name(),
            params: &split.plain,
            protect: r.lifecycle.protect,
            sandbox: &r.sandbox,
            secret_names: &split.secret_names,
            spec_name: kind::connection::auth_spec_name(r),
        };
        let _ = serde_json::to_writer(out, &form);
        return;
    }
    let values = r
        .values
        .iter()
        .filter_map(|(path, v)| {
            let v = match v {
                crate::config::Value::Plain(v) => v.clone(),
                crate::config::Value::Ref(crate::config::Reference::Key(k)) => {
                    Value::String(format!("key:{k}"))
                }
                crate::config::Value::Ref(crate::config::Reference::Id(id)) => {
                    Value::String(format!("id:{id}"))
                }
                crate::config::Value::Params(_) => return None,
            };
            Some((*path, v))
        })
        .collect();
    let form = ResourceForm {
        ignore_changes: &r.lifecycle.ignore_changes,
        import: &r.import,
        key: &r.key,
        kind: r.kind.name,
        params: &split.plain,
        protect: r.lifecycle.protect,
        sandbox: &r.sandbox,
        secret_names: &split.secret_names,
        values,
    };
    let _ = serde_json::to_writer(out, &form);
}

/// Everything of a declared base connection but its secrets' values (the form
/// [`ConnectionForm`] writes directly).
#[cfg(test)]
fn plain_form(r: &Resource, split: &crate::config::SplitParams<'_>) -> Value {
    serde_json::json!({
        "sandbox": r.sandbox,
        "key": r.key,
        "name": r.name(),
        "description": r.text("description"),
        "connectionSpec": {"id": kind::connection::spec_id(r), "version": kind::connection::spec_version(r)},
        "specName": kind::connection::auth_spec_name(r),
        "params": split.plain,
        "secretNames": split.secret_names,
        "protect": r.lifecycle.protect,
        "ignoreChanges": r.lifecycle.ignore_changes,
        "import": r.import,
    })
}

/// A digest of the resolved configuration, secrets included, under `salt` (a saved plan
/// carries its own salt, so the digest does not depend on a state that may not exist yet).
/// Everything is hashed together first and the result fingerprinted once, keyed or
/// stretched ([`crate::state::digest::Digester::once`]): guessing it back would mean guessing
/// every secret at once.
pub fn config_digest(desired: &Desired, salt: &str, digester: &crate::state::Digester) -> String {
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    let mut form = Vec::new();
    // Base connections in key order first, as before other kinds (the digests of saved
    // plans of base connections alone stay what they were), then the rest by address.
    let mut connections: Vec<&Resource> = desired.of(kind::default()).collect();
    connections.sort_by(|a, b| a.key.cmp(&b.key));
    let others = desired.resources.values().filter(|r| !r.kind.is_default());
    for r in connections.into_iter().chain(others) {
        let split = r.split_params();
        form.clear();
        write_plain_form(&mut form, r, &split);
        put(&form);
        for (name, value) in &split.secrets {
            put(name.as_bytes());
            put(value.expose().as_bytes());
        }
    }
    for sandbox in &desired.sandboxes {
        put(sandbox.as_bytes());
    }
    for m in &desired.moved {
        put(format!("moved {} {}", m.from, m.to).as_bytes());
    }
    for r in &desired.removed {
        put(format!("removed {}", r.key).as_bytes());
    }
    digester.once(salt, &hasher.finalize())
}

/// Computes ahead, in parallel, the secret fingerprints the plan compares (a record's, and
/// an interrupted mutation's), so that each distinct one is stretched once.
fn prepare_fingerprints(desired: &Desired, state: &State) {
    let pending: BTreeSet<&str> = state.pending.iter().map(|p| p.address.as_str()).collect();
    let splits: Vec<(crate::config::SplitParams<'_>, Option<&str>)> = desired
        .resources
        .iter()
        .filter_map(|(address, r)| {
            let split = r.split_params();
            if !split.all_resolved() || split.secret_names.is_empty() {
                return None;
            }
            let stored = state
                .resources
                .get(address)
                .and_then(|r| r.secrets_digest.as_deref());
            match (stored, pending.contains(address.as_str())) {
                (Some(stored), _) => Some((split, Some(stored))),
                (None, true) => Some((split, None)),
                (None, false) => None,
            }
        })
        .collect();
    state.digester.prepare(
        &state.salt,
        splits.iter().map(|(split, stored)| (&split.secrets, *stored)),
    );
}

/// The addresses `targets` name (keys, `kind:key`, addresses) and everything they depend on
/// through declared references, as Terraform's `-target` pulls in dependencies.
fn targeted(desired: &Desired, state: &State, targets: &BTreeSet<String>) -> BTreeSet<String> {
    let mut wanted: Vec<String> = Vec::new();
    for t in targets {
        let key = kind::KeyRef::parse(t).ok();
        for address in desired.resources.keys().chain(state.resources.keys()) {
            if address == t || key.as_ref().is_some_and(|k| k.names_address(address)) {
                wanted.push(address.clone());
            }
        }
    }
    let mut out = BTreeSet::new();
    while let Some(address) = wanted.pop() {
        if !out.insert(address.clone()) {
            continue;
        }
        if let Some(r) = desired.resources.get(&address) {
            wanted.extend(cascade::references(r));
        }
    }
    out
}

/// Where a kind stands among the kinds, in dependency order.
fn kind_order(kind: &Kind) -> usize {
    kind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

/// Plans. Pure: see the module documentation.
pub fn plan(desired: &Desired, state: &State, live: &Live, options: &Options) -> Plan {
    let mut out = Plan {
        format_version: FORMAT_VERSION.to_owned(),
        mode: options.mode,
        lineage: state.lineage.clone(),
        serial: state.serial,
        config_digest: config_digest(desired, &options.digest_salt, &state.digester),
        digest_salt: options.digest_salt.clone(),
        origin: PlanOrigin::default(),
        refreshed: live.refreshed,
        changes: Vec::new(),
        moves: Vec::new(),
        drift: Vec::new(),
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let targets = (!options.targets.is_empty()).then(|| targeted(desired, state, &options.targets));
    let in_scope = |address: &str, _key: &str| {
        targets.as_ref().is_none_or(|t| t.contains(address))
            && options.scope.as_ref().is_none_or(|scope| scope.contains(address))
    };
    // Moves first: the rest is planned against the state as the moves leave it.
    let view;
    let mut held = BTreeSet::new();
    let state = if options.mode == Mode::Normal && !desired.moved.is_empty() {
        let resolved = moved::resolve(desired, state, in_scope);
        out.errors.extend(resolved.problems);
        held = resolved.held;
        view = moved::view(state, &resolved.moves);
        out.moves = resolved.moves;
        &view
    } else {
        state
    };
    prepare_fingerprints(desired, state);
    let removals = moved::removals(desired, state);
    let mut addresses: BTreeSet<&String> = desired.resources.keys().collect();
    addresses.extend(state.resources.keys());
    addresses.extend(state.pending.iter().map(|p| &p.address));
    // Keys and addresses `--replace` may name.
    let mut replaceable: BTreeSet<&str> = BTreeSet::new();
    for address in addresses {
        let d = desired.resources.get(address);
        let r = state.resources.get(address);
        let key = d
            .map(|c| c.key.as_str())
            .or(r.map(|r| r.key.as_str()))
            .or_else(|| kind::Address::parse(address).map(|a| a.key))
            .unwrap_or(address.as_str());
        // A resource whose move cannot be made is kept as it is, never planned away.
        if !in_scope(address, key) || held.contains(address.as_str()) {
            continue;
        }
        if options.mode == Mode::Normal && d.is_some() && r.is_some() {
            replaceable.insert(address.as_str());
            replaceable.insert(key);
        }
        let replace = options.replace.contains(address.as_str())
            || options.replace.contains(key)
            || options
                .replace
                .iter()
                .any(|w| kind::KeyRef::parse(w).is_ok_and(|k| k.kind.is_some() && k.names_address(address)));
        let mut ctx = diff::Context {
            desired,
            state,
            live,
            plan: &mut out,
            replace,
        };
        if let Some(r) = r {
            ctx.drift(address, r, d);
        }
        // Let go, not deleted, whatever the mode: AEP keeps it.
        if let (Some(r), None, Some(removed)) = (r, d, removals.get(address.as_str()))
            && options.mode != Mode::RefreshOnly
        {
            out.changes.push(moved::forget(address, r, removed));
            continue;
        }
        match options.mode {
            Mode::RefreshOnly => {}
            Mode::Destroy => {
                if let Some(r) = r {
                    ctx.destroy(address, r, d, Reason::DeleteBecauseDestroy);
                }
            }
            Mode::Normal => match (d, r) {
                (Some(d), None) => {
                    let pending = state
                        .pending
                        .iter()
                        .find(|p| p.address == *address && p.action == Mutation::Create);
                    ctx.declared_unmanaged(address, d, pending);
                }
                (Some(d), Some(r)) => ctx.managed(address, d, r),
                (None, Some(r)) => ctx.destroy(address, r, None, Reason::DeleteBecauseNoResourceConfig),
                (None, None) => ctx.orphaned_pending(address),
            },
        }
    }
    for wanted in &options.replace {
        let named = replaceable.contains(wanted.as_str())
            || kind::KeyRef::parse(wanted)
                .is_ok_and(|k| replaceable.iter().any(|a| k.kind.is_some() && k.names_address(a)));
        if !named {
            out.errors.push(
                Problem::new(format!(
                    "--replace `{wanted}` names no resource that is both declared and managed"
                ))
                .with_help("name a key from `flowform state list` that the configuration still declares"),
            );
        }
    }
    if options.mode == Mode::Normal {
        cascade::cascade(desired, state, &mut out);
    }
    // In dependency order: a kind refers only to the kinds before it.
    out.changes
        .sort_by(|a, b| (kind_order(a.kind()), &a.address).cmp(&(kind_order(b.kind()), &b.address)));
    cascade::warn_unmanaged_dependents(state, live, &mut out);
    out.drift.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// Resources AEP has that flowform does not manage, where flowform looked at every resource
/// (for `flowform drift`): base connections of the declared sandboxes and specs, source
/// connections of a managed base connection, and target connections of a dataset a managed
/// one receives into (a data-lake target connection has no base connection: the docs'
/// examples give it none).
pub fn unmanaged<'a>(
    desired: &'a Desired,
    state: &'a State,
    live: &'a Live,
) -> Vec<(&'a str, &'a LiveObject)> {
    let managed: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
    let imports: BTreeSet<&str> = desired
        .resources
        .values()
        .filter_map(|c| c.import.as_deref())
        .collect();
    let mut found = Vec::new();
    for (id, seen) in &live.objects {
        if managed.contains(id.as_str()) || imports.contains(id.as_str()) {
            continue;
        }
        // Only where its group was listed in full: a resource seen by name or id alone says
        // nothing of the others.
        let group = (
            seen.kind.name,
            seen.sandbox.clone(),
            scope_of(seen.kind, &seen.object),
        );
        if !live.listed.contains(&group) {
            continue;
        }
        let relevant = match seen.kind.refresh {
            // Of the declared sandboxes and specs.
            _ if seen.kind.is_default() => desired.of(seen.kind).any(|c| {
                c.sandbox == seen.sandbox
                    && seen
                        .object
                        .spec_id()
                        .is_some_and(|s| s.eq_ignore_ascii_case(kind::connection::spec_id(c)))
            }),
            // Listed by parent: its parent is one flowform manages.
            kind::Refresh::ByParent(_) => true,
            // Of what the managed ones share (a data-lake target connection of a dataset a
            // managed one receives into): all its scope values.
            kind::Refresh::ById => {
                let theirs = scopes_of(seen.kind, &seen.object);
                state
                    .resources
                    .values()
                    .any(|r| r.kind == seen.kind && r.sandbox == seen.sandbox && r.scope() == theirs)
            }
        };
        if relevant {
            found.push((seen.sandbox.as_str(), &seen.object));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1.name, &a.1.id).cmp(&(b.0, &b.1.name, &b.1.id)));
    found
}

pub use self::cascade::references;
pub use self::compare::ignored;
pub use self::drift::unapplied;
