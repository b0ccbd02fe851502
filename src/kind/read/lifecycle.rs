//! `lifecycle:` and `import:`, which a resource of any kind may carry beside its fields: how
//! flowform manages it (protected, changes ignored; `acknowledge` is left to the kind's own
//! reader), and the resource in AEP it adopts.

use std::collections::BTreeSet;

use crate::diagnostic::did_you_mean;
use crate::kind::{Kind, Lifecycle, Places, Type};
use crate::reader::{At, Reader};
use crate::yaml::{self, Node};

const LIFECYCLE_FIELDS: &[&str] = &["protect", "ignoreChanges"];
const LIFECYCLE_FIELDS_ADVISED: &[&str] = &["protect", "ignoreChanges", "acknowledge"];
const IMPORT_FIELDS: &[&str] = &["id"];

pub(super) fn lifecycle(
    reader: &mut Reader<'_>,
    kind: &'static Kind,
    key: &str,
    node: &Node,
    resource: &Node,
) -> Option<Lifecycle> {
    let at = At::on(key, "lifecycle");
    let known = if kind.advisories {
        LIFECYCLE_FIELDS_ADVISED
    } else {
        LIFECYCLE_FIELDS
    };
    let fields = reader.fields(node, at, known, "`lifecycle`", false)?;
    let protect = match fields.get("protect") {
        Some(n) => match &n.value {
            yaml::Value::Bool(b) => Some(*b),
            other => {
                let found = match other.scalar_text() {
                    Some(text) => format!("{} `{text}`", other.kind()),
                    None => other.kind().to_owned(),
                };
                reader
                    .error(
                        At::on(key, "lifecycle.protect"),
                        n.location,
                        format!("expected `true` or `false`, found {found}"),
                    )
                    .help = Some("write `protect: true` or `protect: false`".to_owned());
                None
            }
        },
        None => Some(false),
    };
    let mut ignore_changes = BTreeSet::new();
    let mut valid = true;
    if let Some(n) = fields.get("ignoreChanges") {
        let at = At::on(key, "lifecycle.ignoreChanges");
        let yaml::Value::Sequence(items) = &n.value else {
            reader
                .error(
                    at,
                    n.location,
                    format!("expected a list of fields, found {}", n.value.kind()),
                )
                .help = Some("e.g. `ignoreChanges: [description]`".to_owned());
            return None;
        };
        let ignorable = ignorable(kind);
        for item in items {
            let Some(path) = reader.string(item, at) else {
                valid = false;
                continue;
            };
            let params = kind.params_field().map(|f| f.path);
            let below_params = params
                .and_then(|p| path.strip_prefix(p))
                .and_then(|rest| rest.strip_prefix('.'));
            if let Some(param) = below_params
                && !param.is_empty()
            {
                if let Err((message, help)) = kind.hooks.ignorable(&path, resource) {
                    reader.error(at, item.location, message).help = help;
                    valid = false;
                    continue;
                }
                ignore_changes.insert(path);
                continue;
            }
            if !ignorable.iter().any(|i| *i == path) {
                let mut names: Vec<String> = ignorable.iter().map(|i| format!("`{i}`")).collect();
                if let Some(p) = params {
                    names.push(format!("`{p}.<param>`"));
                }
                let listed = match names.as_slice() {
                    [] => String::new(),
                    [one] => one.clone(),
                    [init @ .., last] => format!("{} or {last}", init.join(", ")),
                };
                let help = match did_you_mean(&path, ignorable.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("changes can be ignored on {listed}"),
                };
                reader
                    .error(at, item.location, format!("`{path}` cannot be ignored"))
                    .help = Some(help);
                valid = false;
                continue;
            }
            ignore_changes.insert(path);
        }
    }
    if !valid {
        return None;
    }
    Some(Lifecycle {
        protect: protect?,
        ignore_changes,
        acknowledge: BTreeSet::new(),
    })
}

/// What `lifecycle.ignoreChanges` may name: the fields that change in place (a `Params`
/// field last), and `state` where AEP may disable the resource.
pub fn ignorable(kind: &Kind) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = kind
        .fields
        .iter()
        .filter(|f| f.update.in_place() && !matches!(f.ty, Type::Params))
        .map(|f| f.path)
        .collect();
    if kind.disables {
        out.push("state");
    }
    out.extend(kind.params_field().map(|f| f.path));
    out
}

pub(super) fn import(
    reader: &mut Reader<'_>,
    kind: &'static Kind,
    key: &str,
    node: &Node,
    places: &mut Places,
) -> Option<String> {
    let at = At::on(key, "import");
    let fields = reader.fields(node, at, IMPORT_FIELDS, "`import`", false)?;
    let Some(id_node) = fields.get("id") else {
        reader.error(at, node.location, "missing `id`").help =
            Some(format!("write `import: {{id: <the {}'s id in AEP>}}`", kind.noun));
        return None;
    };
    places.import_id = Some(id_node.location);
    let id_at = At::on(key, "import.id");
    let id = reader.non_empty_string(id_node, id_at)?;
    if !kind.id.check(&id) {
        reader
            .error(
                id_at,
                id_node.location,
                format!("`{id}` is not a {} id", kind.noun),
            )
            .help = Some(format!(
            "a {} id is {} such as `{}`",
            kind.noun,
            kind.id.described(),
            kind.id.example()
        ));
        return None;
    }
    Some(id.to_lowercase())
}
