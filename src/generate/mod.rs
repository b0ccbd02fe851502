//! `flowform generate`: configuration written from what AEP has, so an organisation whose
//! connections were made by hand comes under management in one reviewed pull request
//! (Terraform's `plan -generate-config-out`).
//!
//! [`generate`] is pure: the connections listed, the specs AEP gave, and what the project
//! already holds in; one file's text per sandbox, the variables those files need, and every
//! connection left out with why, out. Each connection it writes is read back through the
//! loader and compared with what AEP showed before it is kept, so a file `generate` writes
//! loads as it is and plans as exactly one import per connection.
//!
//! - [`emit`]: YAML scalars that read back exactly, whatever AEP's names and params hold.
//! - [`keys`]: keys from names, variable names for secrets; unique and stable.
//! - `linked` and `flows`: source and target connections, and the dataflows that join
//!   them, each naming what it refers to by the key the project gives it.

pub mod emit;
mod flows;
pub mod keys;
mod linked;
mod mappings;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use self::keys::{Keys, Variables};
use crate::catalog;
use crate::config::{LoadOptions, Loader, Param};
use crate::flow::model::{LiveConnection, LiveObject, LiveSpec, clean, is_masked};
use crate::settings::Environment;

/// A name, a description or a param's value longer than this is not written: no connection
/// needs it, and a reviewer could not read it.
pub const MAX_TEXT: usize = 64 * 1024;

/// More params than this on one connection are not written.
pub const MAX_PARAMS: usize = 256;

/// A param name longer than this is not written (it names a variable).
pub const MAX_PARAM_NAME: usize = 256;

/// What one sandbox's listing gave.
#[derive(Debug, Default)]
pub struct Listed {
    pub sandbox: String,
    pub connections: Vec<LiveConnection>,
    /// Source connections of the base connections managed or listed.
    pub sources: Vec<LiveObject>,
    /// Data-lake target connections, and those of the dataflows listed.
    pub targets: Vec<LiveObject>,
    /// Dataflows of the source connections listed or managed.
    pub flows: Vec<LiveObject>,
    /// The mapping sets those dataflows use that the project does not manage.
    pub mappings: Vec<LiveObject>,
    /// The flow specs of those dataflows that their name finds alone, by id in lower case:
    /// (name, version).
    pub flow_specs: BTreeMap<String, (String, String)>,
    /// The connection specs of those connections, by id in lower case (`None`: AEP has no
    /// such spec, or did not say).
    pub specs: BTreeMap<String, Option<Arc<LiveSpec>>>,
}

/// What the project already holds, which generated configuration must not collide with.
#[derive(Debug, Default)]
pub struct Existing {
    /// Connection ids the state manages, with their addresses.
    pub managed: BTreeMap<String, String>,
    /// Ids the configuration imports (`import: {id}`): base connections' with their keys,
    /// the other kinds' with their addresses.
    pub imported: BTreeMap<String, String>,
    /// Declared connections by (sandbox, spec id in lower case, name), with their keys.
    pub names: BTreeMap<(String, String, String), String>,
    /// Declared resources of the other kinds by (kind, sandbox, name), with their keys
    /// (`source:key`).
    pub linked_names: BTreeMap<(String, String, String), String>,
    /// Keys declared or in the state.
    pub keys: BTreeSet<String>,
    /// `${env:…}` variables the configuration references.
    pub variables: BTreeSet<String>,
}

/// One file to write: a sandbox's connections.
#[derive(Debug, PartialEq, Eq)]
pub struct File {
    pub sandbox: String,
    pub text: String,
    /// The connections it declares: (key, id).
    pub connections: Vec<(String, String)>,
}

/// A secret the generated configuration reads from the environment.
#[derive(Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// `sandbox/key`.
    pub address: String,
    pub param: String,
}

/// A connection AEP has that is not written, and why.
#[derive(Debug, PartialEq, Eq)]
pub struct Skipped {
    pub sandbox: String,
    pub id: String,
    /// As AEP names it, made safe to print.
    pub name: String,
    pub reason: String,
}

/// What [`generate`] made.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Generated {
    pub files: Vec<File>,
    pub variables: Vec<Variable>,
    pub skipped: Vec<Skipped>,
    /// Params AEP showed that are not written: (address, param, why).
    pub left_out: Vec<(String, String, String)>,
}

/// The text printed for a name from AEP.
fn shown(name: &str) -> String {
    clean(name, 120)
}

/// A param as it will be written.
#[derive(Debug, Clone)]
enum Written {
    Plain(Value),
    Secret,
}

/// A connection that can be written, before it has a key.
#[derive(Debug)]
struct Candidate<'l> {
    live: &'l LiveConnection,
    spec_id: String,
    version: String,
    /// `source:` shorthand, when the catalog's spec and version are AEP's.
    source: Option<&'static str>,
    spec_name: String,
    params: BTreeMap<String, Written>,
    left_out: Vec<(String, String)>,
}

/// Writes configuration for every connection listed that the project does not have yet.
/// `sandboxes` come in the order they were asked for; that order and each sandbox's
/// connections by name (ignoring case), then id, decide who gets a key first.
pub fn generate(sandboxes: &[Listed], existing: &Existing) -> Generated {
    let mut out = Generated::default();
    let mut keys = Keys::default();
    for key in &existing.keys {
        keys.reserve(key);
    }
    let mut variables = Variables::default();
    for name in &existing.variables {
        variables.reserve(name);
    }
    for listed in sandboxes {
        let sandbox = &listed.sandbox;
        let mut live: Vec<&LiveConnection> = listed.connections.iter().collect();
        live.sort_by_cached_key(|l| (l.name.to_lowercase(), l.name.clone(), l.id.clone()));
        live.dedup_by(|a, b| a.id == b.id);
        let skip = |out: &mut Generated, l: &LiveConnection, reason: String| {
            out.skipped.push(Skipped {
                sandbox: sandbox.clone(),
                id: l.id.clone(),
                name: shown(&l.name),
                reason,
            });
        };
        // What the project has already, by id or by name.
        let mut fresh: Vec<&LiveConnection> = Vec::new();
        for l in live {
            let spec = l.spec_id().unwrap_or_default().to_ascii_lowercase();
            if let Some(address) = existing.managed.get(&l.id) {
                skip(&mut out, l, format!("already managed, as `{address}`"));
            } else if let Some(key) = existing.imported.get(&l.id) {
                skip(
                    &mut out,
                    l,
                    format!("already declared, as `{key}` (`import: {{id}}`)"),
                );
            } else if let Some(key) = existing.names.get(&(sandbox.clone(), spec, l.name.clone())) {
                skip(
                    &mut out,
                    l,
                    format!(
                        "the configuration declares `{key}` with this name (not yet applied); if it is this connection, add `import: {{id: {}}}` to `{key}`",
                        l.id
                    ),
                );
            } else {
                fresh.push(l);
            }
        }
        // A name names one connection: AEP's duplicates cannot all be managed, and flowform
        // will not guess which one is meant.
        let mut by_name: BTreeMap<(String, &str), Vec<&LiveConnection>> = BTreeMap::new();
        for l in &fresh {
            let spec = l.spec_id().unwrap_or_default().to_ascii_lowercase();
            by_name.entry((spec, l.name.as_str())).or_default().push(l);
        }
        let mut candidates = Vec::new();
        for l in fresh {
            let spec = l.spec_id().unwrap_or_default().to_ascii_lowercase();
            let twins = &by_name[&(spec, l.name.as_str())];
            if twins.len() > 1 {
                let ids: Vec<&str> = twins.iter().map(|t| t.id.as_str()).collect();
                skip(
                    &mut out,
                    l,
                    format!(
                        "AEP has {} connections of this name and spec here ({}); flowform manages a name once: rename all but one in AEP, then generate again",
                        twins.len(),
                        ids.join(", ")
                    ),
                );
                continue;
            }
            match candidate(
                l,
                listed
                    .specs
                    .get(&l.spec_id().unwrap_or_default().to_ascii_lowercase()),
            ) {
                Ok(c) => match round_trip(sandbox, &c) {
                    Ok(()) => candidates.push(c),
                    Err(reason) => skip(&mut out, l, reason),
                },
                Err(reason) => skip(&mut out, l, reason),
            }
        }
        // The linked kinds, already managed or imported, are left as they are.
        let fresh_linked = |kind: &str, all: &[LiveObject], out: &mut Generated| -> Vec<LiveObject> {
            let mut kept = Vec::new();
            for l in all {
                if let Some(address) = existing.managed.get(&l.id) {
                    out.skipped.push(Skipped {
                        sandbox: sandbox.clone(),
                        id: l.id.clone(),
                        name: shown(&l.name),
                        reason: format!("already managed, as `{address}`"),
                    });
                } else if existing.imported.contains_key(&l.id) {
                    // Declared with `import: {id}`: the plan takes it.
                } else if let Some(key) =
                    existing
                        .linked_names
                        .get(&(kind.to_owned(), sandbox.clone(), l.name.clone()))
                {
                    out.skipped.push(Skipped {
                        sandbox: sandbox.clone(),
                        id: l.id.clone(),
                        name: shown(&l.name),
                        reason: format!(
                            "the configuration declares `{key}` with this name, which the state does not manage; if it is this one, run `flowform import {key} {}`",
                            l.id
                        ),
                    });
                } else {
                    kept.push(l.clone());
                }
            }
            kept.sort_by_cached_key(|l| (l.name.to_lowercase(), l.id.clone()));
            kept
        };
        let sources = fresh_linked("source", &listed.sources, &mut out);
        let targets = fresh_linked("target", &listed.targets, &mut out);
        let flows = fresh_linked("flow", &listed.flows, &mut out);
        if candidates.is_empty() && sources.is_empty() && targets.is_empty() && flows.is_empty() {
            continue;
        }
        // Base connections by id → the key the project gives them.
        let mut base_keys: BTreeMap<String, String> = existing
            .managed
            .iter()
            .filter_map(|(id, address)| {
                let a = crate::kind::Address::parse(address)?;
                (a.kind.is_default() && a.sandbox == sandbox.as_str())
                    .then(|| (id.to_lowercase(), a.key.to_owned()))
            })
            .collect();
        let mut text = String::new();
        let mut written = Vec::new();
        if candidates.is_empty() {
            text.push_str("  {}\n");
        }
        for c in &candidates {
            let key = keys.take(&c.live.name, sandbox);
            base_keys.insert(c.live.id.to_lowercase(), key.clone());
            let address = crate::state::address(sandbox, &key);
            let mut vars = BTreeMap::new();
            for (param, w) in &c.params {
                if let Written::Secret = w {
                    let name = variables.take(sandbox, &key, param);
                    out.variables.push(Variable {
                        name: name.clone(),
                        address: address.clone(),
                        param: param.clone(),
                    });
                    vars.insert(param.clone(), name);
                }
            }
            for (param, why) in &c.left_out {
                out.left_out.push((address.clone(), shown(param), why.clone()));
            }
            text.push_str(&block(&key, c, &|param| vars.get(param).cloned()));
            written.push((key, c.live.id.clone()));
        }
        let (linked, linked_written) = linked::sections(
            sandbox,
            &sources,
            &targets,
            &base_keys,
            &mut out.skipped,
            &mut |name| keys.take(name, sandbox),
        );
        text.push_str(&linked);
        // What the dataflows join, by the key the project gives it: managed, imported by the
        // configuration, or written here.
        let mut joined: flows::Keys = BTreeMap::new();
        let addresses = existing
            .managed
            .iter()
            .map(|(id, address)| (id, address.as_str()))
            .chain(existing.imported.iter().map(|(id, key)| (id, key.as_str())));
        for (id, address) in addresses {
            let named = crate::kind::KeyRef::parse(address).ok();
            if let Some(k) = named
                && let Some(kind) = k.kind.filter(|k| !k.is_default())
                && k.sandbox.as_deref().is_none_or(|s| s == sandbox.as_str())
            {
                joined.insert((kind.name, id.to_lowercase()), k.key.clone());
            }
        }
        for (key, id) in &linked_written {
            if let Some((kind, key)) = key.split_once(':')
                && let Some(kind) = crate::kind::by_name(kind)
            {
                joined.insert((kind.name, id.to_lowercase()), key.to_owned());
            }
        }
        written.extend(linked_written);
        let (sets_text, sets_written) =
            mappings::section(sandbox, &listed.mappings, &mut out.skipped, &mut |name| {
                keys.take(name, sandbox)
            });
        text.push_str(&sets_text);
        for (key, id) in &sets_written {
            if let Some((_, key)) = key.split_once(':') {
                joined.insert(("mapping", id.to_lowercase()), key.to_owned());
            }
        }
        written.extend(sets_written);
        let (flows_text, flows_written) = flows::section(
            sandbox,
            &flows,
            &joined,
            &listed.flow_specs,
            &mut out.skipped,
            &mut |name| keys.take(name, sandbox),
        );
        text.push_str(&flows_text);
        written.extend(flows_written);
        let kinds = written.iter().map(|(key, _)| written_kind(key));
        let text = header(sandbox, written.len(), &crate::kind::tally(kinds)) + &text;
        out.files.push(File {
            sandbox: sandbox.clone(),
            text,
            connections: written,
        });
    }
    out
}

/// The kind of a written entry's key (`source:key`, or a bare base connection's key).
pub fn written_kind(key: &str) -> &'static crate::kind::Kind {
    key.split_once(':')
        .and_then(|(kind, _)| crate::kind::by_name(kind))
        .unwrap_or_else(crate::kind::default)
}

/// The top of a generated file. Nothing in it comes from AEP but counts.
fn header(sandbox: &str, count: usize, tally: &str) -> String {
    format!(
        "# Generated by `flowform generate` from what AEP has in sandbox `{sandbox}`:
# {tally}. Each is imported as it is (`import: {{id}}`): review,
# then `flowform plan` shows exactly {count} to import and `flowform apply` takes them under management.
# AEP never returns secrets: each is read from an environment variable named
# FLOWFORM_<SANDBOX>_<KEY>_<PARAM>, listed by `flowform generate`. They are not sent on import.
sandbox: {}
connections:
",
        emit::key(sandbox),
        sandbox = clean(sandbox, 256)
    )
}

/// What of a live connection can be written, or why it cannot.
fn candidate<'l>(
    l: &'l LiveConnection,
    spec: Option<&Option<Arc<LiveSpec>>>,
) -> Result<Candidate<'l>, String> {
    let Some(spec_id) = l.spec_id() else {
        return Err("AEP shows no connection spec for it".to_owned());
    };
    let Some(auth_spec_name) = l.auth_spec_name() else {
        return Err("AEP shows no auth for it".to_owned());
    };
    let empty = Map::new();
    let auth_params = l.params().unwrap_or(&empty);
    for (what, text) in [
        ("name", Some(l.name.as_str())),
        ("description", l.description.as_deref()),
    ] {
        if text.is_some_and(|t| t.len() > MAX_TEXT) {
            return Err(format!("its {what} is longer than {} KiB", MAX_TEXT / 1024));
        }
    }
    if auth_params.len() > MAX_PARAMS {
        return Err(format!(
            "it has {} params; flowform writes at most {MAX_PARAMS}",
            auth_params.len()
        ));
    }
    let catalog_spec = catalog::by_id(spec_id);
    let version = l
        .text_at("/connectionSpec/version")
        .map(str::to_owned)
        .or_else(|| catalog_spec.map(|s| s.version.to_owned()))
        .ok_or("AEP shows no version of its connection spec")?;
    let source = catalog_spec.filter(|s| s.version == version).map(|s| s.source);
    let live_auth = spec
        .and_then(Option::as_ref)
        .and_then(|s| s.auth_spec.iter().find(|a| a.name == auth_spec_name));
    let catalog_auth = catalog_spec.and_then(|s| s.auth_spec(auth_spec_name));
    // Which params the auth spec lists, when AEP or the catalog says.
    let listed: Option<BTreeSet<String>> = match (live_auth, catalog_auth) {
        (None, None) => None,
        (live, cat) => {
            let mut names: BTreeSet<String> = live
                .and_then(|a| a.spec["properties"].as_object())
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            names.extend(
                cat.iter()
                    .flat_map(|a| a.params.iter().map(|p| p.name.to_owned())),
            );
            Some(names)
        }
    };
    let live_secrets: BTreeSet<String> = live_auth
        .map(|a| a.secret_params().into_iter().collect())
        .unwrap_or_default();
    // What the specs say comes first: a plain param whose value merely looks masked
    // (`{placeholder}`) stays plain. Where no spec knows the param, a masked value or a
    // credential-like name makes it a secret, as the loader's rule does.
    let secret = |name: &str, value: Option<&Value>| {
        if live_secrets.contains(name) {
            return true;
        }
        match catalog_auth.and_then(|a| a.param(name)) {
            Some(p) => p.secret,
            None if live_auth.is_some_and(|a| a.spec["properties"].get(name).is_some()) => false,
            None => value.is_some_and(is_masked) || crate::config::looks_secret(name),
        }
    };
    let mut params = BTreeMap::new();
    let mut left_out = Vec::new();
    for (name, value) in auth_params {
        if name.len() > MAX_PARAM_NAME {
            return Err(format!(
                "a param's name is longer than {MAX_PARAM_NAME} characters"
            ));
        }
        if listed.as_ref().is_some_and(|l| !l.contains(name)) {
            left_out.push((
                name.clone(),
                format!("`{auth_spec_name}` does not list it: AEP sets it itself"),
            ));
            continue;
        }
        if secret(name, Some(value)) {
            params.insert(name.clone(), Written::Secret);
            continue;
        }
        if value.is_null() {
            left_out.push((name.clone(), "AEP shows it empty (null)".to_owned()));
            continue;
        }
        if value.as_str().is_some_and(|s| s.len() > MAX_TEXT) || value.to_string().len() > MAX_TEXT {
            return Err(format!(
                "param `{}` is longer than {} KiB",
                shown(name),
                MAX_TEXT / 1024
            ));
        }
        params.insert(name.clone(), Written::Plain(value.clone()));
    }
    // Secrets the auth spec requires, which AEP may leave out of its answer altogether.
    let mut required: Vec<String> = live_auth
        .and_then(|a| a.spec["required"].as_array())
        .map(|r| r.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    required.extend(
        catalog_auth
            .iter()
            .flat_map(|a| a.params.iter().filter(|p| p.required).map(|p| p.name.to_owned())),
    );
    for name in required {
        if !params.contains_key(&name) && secret(&name, None) {
            params.insert(name, Written::Secret);
        }
    }
    Ok(Candidate {
        live: l,
        spec_id: spec_id.to_owned(),
        version,
        source,
        spec_name: auth_spec_name.to_owned(),
        params,
        left_out,
    })
}

/// One connection's entry under `connections:`. `variable` names each secret's variable.
fn block(key: &str, c: &Candidate<'_>, variable: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  {}:", emit::key(key));
    let _ = writeln!(out, "    name: {}", emit::quoted(&c.live.name));
    if let Some(d) = &c.live.description {
        let _ = writeln!(out, "    description: {}", emit::quoted(d));
    }
    match c.source {
        Some(source) => {
            let _ = writeln!(out, "    source: {source}");
        }
        None => {
            let _ = writeln!(out, "    connectionSpec:");
            let _ = writeln!(out, "      id: {}", emit::quoted(&c.spec_id));
            let _ = writeln!(out, "      version: {}", emit::quoted(&c.version));
        }
    }
    let _ = writeln!(out, "    auth:");
    let _ = writeln!(out, "      specName: {}", emit::quoted(&c.spec_name));
    if c.params.is_empty() {
        let _ = writeln!(out, "      params: {{}}");
    } else {
        let _ = writeln!(out, "      params:");
    }
    for (name, w) in &c.params {
        let value = match w {
            // Written already once, by `round_trip`: it cannot fail here.
            Written::Plain(v) => emit::value(v).unwrap_or_default(),
            Written::Secret => {
                let var = variable(name).unwrap_or_else(|| "FLOWFORM_SECRET".to_owned());
                emit::quoted(&format!("${{env:{var}}}"))
            }
        };
        let _ = writeln!(out, "        {}: {value}", emit::key(name));
    }
    let _ = writeln!(out, "    import:");
    let _ = writeln!(out, "      id: {}", emit::quoted(&c.live.id));
    out
}

/// Loads a generated entry's text as the loader reads a file (secrets unresolved); `Err`:
/// why it would not load, its first error.
pub(super) fn load_entry(text: &str) -> Result<crate::config::Loaded, String> {
    let env = Environment::default();
    let options = LoadOptions {
        resolve_secrets: false,
        secrets_only_in: None,
    };
    let mut loader = Loader::new(&env, &options);
    loader.add(Path::new("generated.yaml"), text);
    loader.finish().map_err(|d| {
        let first = d.iter().find(|d| d.is_error()).map(|d| {
            let field = d.field.as_deref().map(|f| format!("`{f}`: ")).unwrap_or_default();
            format!("{field}{}", d.message)
        });
        format!(
            "the configuration written for it would not load: {}",
            clean(&first.unwrap_or_default(), 300)
        )
    })
}

/// Reads the candidate's entry back through the loader and checks it says what AEP showed:
/// what is written loads, and plans as an import that changes nothing.
fn round_trip(sandbox: &str, c: &Candidate<'_>) -> Result<(), String> {
    for (name, w) in &c.params {
        if let Written::Plain(v) = w {
            emit::value(v).map_err(|e| format!("param `{}` cannot be written: {e}", shown(name)))?;
        }
    }
    let text = format!(
        "sandbox: {}\nconnections:\n{}",
        emit::key(sandbox),
        block("k", c, &|_| Some("FLOWFORM_CHECK".to_owned()))
    );
    let loaded = load_entry(&text)?;
    let Some(conn) = loaded.desired.find(crate::kind::default(), "k") else {
        return Err("the configuration written for it would not load".to_owned());
    };
    same(conn, c).map_err(|what| format!("its {what} would not read back as AEP has it"))
}

/// Whether the loaded connection says what AEP showed; else the first field that does not.
fn same(conn: &crate::config::Resource, c: &Candidate<'_>) -> Result<(), &'static str> {
    use crate::kind::connection::{auth_spec_name, spec_id, spec_version};
    let l = c.live;
    if conn.name() != l.name {
        return Err("name");
    }
    if conn.text("description") != l.description.as_deref() {
        return Err("description");
    }
    if !spec_id(conn).eq_ignore_ascii_case(&c.spec_id) || spec_version(conn) != c.version {
        return Err("connection spec");
    }
    if auth_spec_name(conn) != c.spec_name {
        return Err("auth spec");
    }
    if conn.import.as_deref() != Some(l.id.as_str()) {
        return Err("id");
    }
    let mut plain = Map::new();
    let mut secrets = BTreeSet::new();
    for (name, p) in conn.params().into_iter().flatten() {
        match p {
            Param::Plain(v) => {
                plain.insert(name.clone(), v.clone());
            }
            Param::Secret { .. } => {
                secrets.insert(name.clone());
            }
        }
    }
    let mut want_plain = Map::new();
    let mut want_secrets = BTreeSet::new();
    for (name, w) in &c.params {
        match w {
            Written::Plain(v) => {
                want_plain.insert(name.clone(), v.clone());
            }
            Written::Secret => {
                want_secrets.insert(name.clone());
            }
        }
    }
    if plain != want_plain || secrets != want_secrets {
        return Err("params");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
