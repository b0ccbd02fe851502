//! The plan: what flowform would do to bring AEP in line with the configuration.
//!
//! [`plan`] is a pure function of the desired connections, the recorded state, what AEP
//! showed (`Live`, from the refresh) and the options. No IO, no clock, no environment: the
//! same inputs give the same [`Plan`], which is why `plan`, `plan --out`, `show` and
//! `apply` agree, and why it is tested with plain tables of cases.
//!
//! Each difference says where it came from: the configuration changed (`Origin::Config`), or
//! AEP changed outside flowform (`Origin::Outside`, also listed as drift), as Terraform's
//! "Objects have changed outside of Terraform" keeps the two apart.

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

use crate::config::{Connection, Desired};
use crate::flow::model::LiveConnection;
use crate::state::{Action as Mutation, State, address};

/// The version of the saved-plan and JSON format. 1.1: an error is `{message, help}`. 1.2:
/// state-only changes (`state-only`: protect), replaces asked for (`--replace`), params a
/// replace drops (`removed`), who last changed a drifted connection; `moves` (state-only
/// renames), the `forget_because_removed` reason, and the summary's `move`, `forget` and
/// `state_only` counts.
pub const FORMAT_VERSION: &str = "1.2";

/// Saved-plan formats this flowform still reads: each newer one only adds fields that an
/// older plan reads as absent.
const READABLE_VERSIONS: &[&str] = &["1.1", FORMAT_VERSION];

pub use self::moved::{Move, by_target as moves_by_target, rekey};

/// How far back from an interrupted create's start a connection AEP made may be dated
/// (clocks differ).
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;

/// What an interrupted create (a timeout, a dropped answer, a crash) may have made.
#[derive(Debug, PartialEq)]
pub enum Interrupted<'a> {
    /// Nothing: it is safe to create again.
    Nothing,
    /// Exactly one: adopt it, never create another.
    One(&'a LiveConnection),
    /// Several: flowform will not guess which is its own.
    Several(Vec<&'a LiveConnection>),
}

/// The one rule, shared by the planner (a create left pending by a crashed run) and the
/// applier (a create whose answer was lost): among the connections seen of the create's
/// sandbox and spec, those with its name, not already owned (`owned`), and created since it
/// began (give or take clock skew). Names are unique per sandbox and spec in a configuration,
/// and a create whose name is taken is refused, so a name finds the create's connection.
pub fn interrupted_create<'a>(
    seen: impl IntoIterator<Item = &'a LiveConnection>,
    name: &str,
    owned: impl Fn(&str) -> bool,
    started_at: i64,
) -> Interrupted<'a> {
    let since = started_at.saturating_sub(CLOCK_SKEW_MS);
    let mut found: Vec<&LiveConnection> = seen
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

/// What the refresh saw of AEP.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Whether AEP was asked at all (`--refresh=false`: no, and every presence is unknown).
    pub refreshed: bool,
    /// Every connection seen, by id, with the sandbox it was seen in.
    pub connections: BTreeMap<String, (String, LiveConnection)>,
    /// Sandbox and spec pairs listed in full: a connection of that pair not seen is absent.
    pub listed: BTreeSet<(String, String)>,
    /// Ids read by id (one by one, or in batches by filter): one not seen is absent.
    pub fetched: BTreeSet<String>,
    /// Names looked up by filter (`property=name==…`), with their sandbox and spec: every
    /// connection of that sandbox, spec and name was seen, as if the pair had been listed,
    /// for that name alone.
    pub named: BTreeSet<(String, String, String)>,
    /// The client id flowform reaches AEP with (`x-api-key`): a connection AEP says it last
    /// updated was changed by flowform (this run's credential), not by a person.
    pub own_client: Option<String>,
}

impl Live {
    /// Whether every connection of `sandbox` and `spec_id` named `name` was seen (listed
    /// with its pair, or looked up by name).
    pub fn name_seen(&self, sandbox: &str, spec_id: &str, name: &str) -> bool {
        self.listed.contains(&(sandbox.to_owned(), spec_id.to_owned()))
            || self
                .named
                .contains(&(sandbox.to_owned(), spec_id.to_owned(), name.to_owned()))
    }

    /// Whether AEP says `conn` was last changed by this credential since `since` (give or
    /// take clock skew): the work of an interrupted flowform run, not of someone outside.
    pub fn changed_by_us_since(&self, conn: &LiveConnection, since: i64) -> bool {
        self.own_client.is_some()
            && conn.updated_client == self.own_client
            && conn
                .updated_at
                .is_some_and(|t| t >= since.saturating_sub(CLOCK_SKEW_MS))
    }
}

/// Whether AEP has a connection.
#[derive(Clone, Copy, Debug)]
pub enum Presence<'a> {
    Found(&'a LiveConnection),
    Absent,
    /// Not looked at (no refresh).
    Unknown,
}

impl Live {
    pub fn presence(&self, sandbox: &str, spec_id: &str, id: &str) -> Presence<'_> {
        if let Some((seen_in, conn)) = self.connections.get(id)
            && seen_in == sandbox
        {
            return Presence::Found(conn);
        }
        let listed = self.listed.contains(&(sandbox.to_owned(), spec_id.to_owned()));
        if listed || self.fetched.contains(id) {
            Presence::Absent
        } else {
            Presence::Unknown
        }
    }

    /// The connections seen in a sandbox for a spec.
    pub fn in_sandbox<'a>(
        &'a self,
        sandbox: &'a str,
        spec_id: &'a str,
    ) -> impl Iterator<Item = &'a LiveConnection> {
        self.connections
            .values()
            .filter(move |(s, c)| {
                s == sandbox && c.spec_id().is_some_and(|id| id.eq_ignore_ascii_case(spec_id))
            })
            .map(|(_, c)| c)
    }
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
    /// Limit the plan to these keys (or addresses); all when empty.
    pub targets: BTreeSet<String>,
    /// Limit the plan to these addresses (`-c` narrowing to some of the project's files);
    /// all when `None`.
    pub scope: Option<BTreeSet<String>>,
    pub mode: Mode,
    /// Salts the secrets in the configuration digest (drawn at random by the caller: the
    /// planner itself uses no randomness).
    pub digest_salt: String,
    /// Replace these managed connections (keys or addresses) even if nothing forces it
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
    /// Every managed or declared connection in scope, by address, no-ops included.
    pub changes: Vec<Change>,
    /// Keys the state gives another key (`moved:`), made before anything else; state only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<Move>,
    /// Differences between AEP and the state made outside flowform.
    pub drift: Vec<Drift>,
    pub warnings: Vec<String>,
    /// Why the plan cannot be applied (a protected connection to delete, …).
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
    /// Create the new connection, then delete the old (the spec cannot change in place).
    Replace,
    Delete,
    /// Take an existing connection under management (then update it if it differs).
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
    /// The connection spec or auth spec changed; AEP cannot change them in place.
    ReplaceBecauseCannotUpdate,
    /// `plan --replace KEY` asked for it.
    ReplaceByRequest,
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
    /// `name`, `description`, `connectionSpec.id`, `auth.specName`, `auth.params.<name>`.
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
    /// It goes away: a param of the old connection that a replacement does not have.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: String,
    pub key: String,
    pub sandbox: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The connection acted on (the old one, for a replace).
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
}

impl Change {
    pub fn is_change(&self) -> bool {
        !matches!(self.action, Action::NoOp)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    Changed,
    Deleted,
}

/// A managed connection AEP shows differently from the state.
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
    /// State-only: connections let go, kept in AEP (`removed:`, or deleted outside).
    #[serde(default)]
    pub forget: usize,
    /// Connections whose change is to the state alone.
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
                READABLE_VERSIONS.join(" and ")
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

/// A digest of what a create or update of `conn` sends, secrets by fingerprint: the
/// journal's request fingerprint.
pub fn fingerprint(conn: &Connection, state: &State) -> String {
    fingerprint_with(conn, &state.fingerprints())
}

/// [`fingerprint`], with the state's salt and scheme only.
pub fn fingerprint_with(conn: &Connection, fingerprints: &crate::state::Fingerprints) -> String {
    let split = conn.split_params();
    // `{"connection":…,"secrets":…}`, written as the JSON value of that would print.
    let mut canonical = b"{\"connection\":".to_vec();
    write_plain_form(&mut canonical, conn, &split);
    canonical.extend(b",\"secrets\":");
    let _ = serde_json::to_writer(&mut canonical, &fingerprints.secrets_digest(&split.secrets));
    canonical.push(b'}');
    crate::state::hex(&Sha256::digest(&canonical))
}

/// Everything of a declared connection but its secrets' values, as JSON: the keys in the
/// order a JSON value sorts them, so that the bytes are those [`plain_form`]'s value prints
/// (saved plans and journals made before keep their digests), without building the value.
#[derive(Serialize)]
struct PlainForm<'a> {
    #[serde(rename = "connectionSpec")]
    connection_spec: &'a crate::config::SpecRef,
    description: &'a Option<String>,
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

fn write_plain_form(out: &mut Vec<u8>, conn: &Connection, split: &crate::config::SplitParams<'_>) {
    let form = PlainForm {
        connection_spec: &conn.connection_spec,
        description: &conn.description,
        ignore_changes: &conn.lifecycle.ignore_changes,
        import: &conn.import,
        key: &conn.key,
        name: &conn.name,
        params: &split.plain,
        protect: conn.lifecycle.protect,
        sandbox: &conn.sandbox,
        secret_names: &split.secret_names,
        spec_name: &conn.auth.spec_name,
    };
    // Strings, maps of JSON values and booleans: nothing here fails to serialize.
    let _ = serde_json::to_writer(out, &form);
}

/// Everything of a declared connection but its secrets' values (the form [`PlainForm`]
/// writes directly).
#[cfg(test)]
fn plain_form(conn: &Connection, split: &crate::config::SplitParams<'_>) -> Value {
    serde_json::json!({
        "sandbox": conn.sandbox,
        "key": conn.key,
        "name": conn.name,
        "description": conn.description,
        "connectionSpec": conn.connection_spec,
        "specName": conn.auth.spec_name,
        "params": split.plain,
        "secretNames": split.secret_names,
        "protect": conn.lifecycle.protect,
        "ignoreChanges": conn.lifecycle.ignore_changes,
        "import": conn.import,
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
    for conn in desired.connections.values() {
        let split = conn.split_params();
        form.clear();
        write_plain_form(&mut form, conn, &split);
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
fn prepare_fingerprints(declared: &BTreeMap<String, &Connection>, state: &State) {
    let pending: BTreeSet<&str> = state.pending.iter().map(|p| p.address.as_str()).collect();
    let splits: Vec<(crate::config::SplitParams<'_>, Option<&str>)> = declared
        .iter()
        .filter_map(|(address, conn)| {
            let split = conn.split_params();
            if !split.all_resolved() || split.secret_names.is_empty() {
                return None;
            }
            let stored = state
                .connections
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
    let declared: BTreeMap<String, &Connection> = desired
        .connections
        .values()
        .map(|c| (address(&c.sandbox, &c.key), c))
        .collect();
    let in_scope = |address: &str, key: &str| {
        (options.targets.is_empty() || options.targets.contains(address) || options.targets.contains(key))
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
    prepare_fingerprints(&declared, state);
    let removals = moved::removals(desired, state);
    let mut addresses: BTreeSet<&String> = declared.keys().collect();
    addresses.extend(state.connections.keys());
    addresses.extend(state.pending.iter().map(|p| &p.address));
    // Keys and addresses `--replace` may name.
    let mut replaceable: BTreeSet<&str> = BTreeSet::new();
    for address in addresses {
        let d = declared.get(address).copied();
        let r = state.connections.get(address);
        let key = d
            .map(|c| c.key.as_str())
            .or(r.map(|r| r.key.as_str()))
            .unwrap_or_else(|| address.split_once('/').map_or(address.as_str(), |(_, k)| k));
        // A connection whose move cannot be made is kept as it is, never planned away.
        if !in_scope(address, key) || held.contains(address.as_str()) {
            continue;
        }
        if options.mode == Mode::Normal && d.is_some() && r.is_some() {
            replaceable.insert(address.as_str());
            replaceable.insert(key);
        }
        let mut ctx = diff::Context {
            state,
            live,
            plan: &mut out,
            replace: options.replace.contains(address) || options.replace.contains(key),
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
        if !replaceable.contains(wanted.as_str()) {
            out.errors.push(
                Problem::new(format!(
                    "--replace `{wanted}` names no connection that is both declared and managed"
                ))
                .with_help("name a key from `flowform state list` that the configuration still declares"),
            );
        }
    }
    out.changes.sort_by(|a, b| a.address.cmp(&b.address));
    if out
        .changes
        .iter()
        .any(|c| matches!(c.action, Action::Delete | Action::Replace))
    {
        out.warnings.push(
            "AEP refuses to delete a connection that a dataflow still uses (FLOW-1418): delete or move such dataflows first, or the delete fails (and, for a replace, the old connection stays managed as `<address>#deposed` until it can go)"
                .to_owned(),
        );
    }
    out.drift.sort_by(|a, b| a.address.cmp(&b.address));
    out
}

/// Connections AEP has for the declared sandboxes and specs that flowform does not manage
/// (for `flowform drift`).
pub fn unmanaged<'a>(
    desired: &'a Desired,
    state: &'a State,
    live: &'a Live,
) -> Vec<(&'a str, &'a LiveConnection)> {
    let managed: BTreeSet<&str> = state.connections.values().map(|r| r.id.as_str()).collect();
    let imports: BTreeSet<&str> = desired
        .connections
        .values()
        .filter_map(|c| c.import.as_deref())
        .collect();
    let pairs: BTreeSet<(&str, &str)> = desired
        .connections
        .values()
        .map(|c| (c.sandbox.as_str(), c.connection_spec.id.as_str()))
        .collect();
    let mut found = Vec::new();
    for (id, (sandbox, conn)) in &live.connections {
        let spec = conn.spec_id().unwrap_or_default();
        // Only where the pair was listed in full: a connection seen by name or id alone says
        // nothing of the others.
        let declared_pair = pairs.iter().any(|(s, p)| {
            *s == sandbox
                && p.eq_ignore_ascii_case(spec)
                && live.listed.contains(&((*s).to_owned(), (*p).to_owned()))
        });
        if declared_pair && !managed.contains(id.as_str()) && !imports.contains(id.as_str()) {
            found.push((sandbox.as_str(), conn));
        }
    }
    found.sort_by(|a, b| (a.0, &a.1.name, &a.1.id).cmp(&(b.0, &b.1.name, &b.1.id)));
    found
}

pub use self::compare::ignored;
pub use self::drift::unapplied;
