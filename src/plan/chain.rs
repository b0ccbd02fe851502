//! What an import takes with it: the declared resources it refers to by key that the state
//! does not manage yet, each with the id AEP shows at the reference (a dataflow's
//! `sourceConnectionIds[0]` and `targetConnectionIds[0]`, a source connection's
//! `baseConnectionId`), and what those refer to in turn, down the chain.
//!
//! Importing a dataflow alone would leave its source connection to be created anew, and the
//! dataflow, which reads the old one, to be replaced on the next plan. So the chain is taken
//! whole. It is walked over the kinds' references (`Type::Ref`), never over named kinds: a
//! kind added later is taken by the same walk. `flowform import`, the refresh (which reads
//! the chain's resources) and the plan (an `import:` block) all walk it here.

use std::collections::BTreeMap;

use super::{Live, Problem};
use crate::config::{Desired, Reference, Resource};
use crate::flow::model::LiveObject;
use crate::kind::{self, Kind};
use crate::state::{Action as Mutation, State};

/// One resource an import takes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub kind: &'static Kind,
    pub sandbox: String,
    /// Its id in AEP, as the resource that refers to it shows it.
    pub id: String,
    /// The address of the resource that refers to it, and the field it does so through.
    pub by: String,
    pub field: &'static str,
}

impl Link {
    /// Why it is imported, for plans and the import's output.
    pub fn why(&self) -> String {
        format!("taken with `{}`, whose `{}` it is in AEP", self.by, self.field)
    }
}

/// The chain of some imports.
#[derive(Debug, Default)]
pub struct Chain {
    /// By address, in address order.
    pub links: BTreeMap<String, Link>,
    /// Links whose resource AEP has not shown yet, so that what it refers to is not known:
    /// `(kind, sandbox, id)`, to read before walking again.
    pub unread: Vec<(&'static Kind, String, String)>,
    /// Why some of the chain cannot be imported as it is declared.
    pub problems: Vec<Problem>,
}

/// Walks the chain of `roots` (each a declared resource being imported, with what AEP shows
/// of it); `seen` gives what AEP shows of a resource by kind, sandbox and id, when it was
/// read.
pub fn walk<'a>(
    desired: &'a Desired,
    state: &State,
    roots: impl IntoIterator<Item = (&'a Resource, &'a LiveObject)>,
    seen: impl Fn(&Kind, &str, &str) -> Option<&'a LiveObject>,
) -> Chain {
    let mut chain = Chain::default();
    let mut queue: Vec<(&Resource, &LiveObject)> = roots.into_iter().collect();
    while let Some((d, l)) = queue.pop() {
        for f in d.kind.refs() {
            let (Some(Reference::Key(key)), Some(target)) =
                (d.reference(f.path), kind::resource::ref_kind(f))
            else {
                continue;
            };
            let address = kind::address::format(target, &d.sandbox, key);
            // Managed already: the import compares the id it holds with AEP's.
            let Some(member) = desired.resources.get(&address) else {
                continue;
            };
            if state.resources.contains_key(&address) {
                continue;
            }
            // AEP shows nothing there: nothing to take.
            let Some(id) = l.text_at(f.api).filter(|id| !id.is_empty()) else {
                continue;
            };
            if let Some(own) = &member.import {
                if !own.eq_ignore_ascii_case(id) {
                    chain.problems.push(
                        Problem::new(format!(
                            "`{}` is imported as {}, whose `{}` in AEP is {id}; but `{address}` imports {own}",
                            d.address(),
                            l.id,
                            f.path
                        ))
                        .with_help(format!(
                            "import `{address}` as {id} (its `import: {{id}}`), or import another {}",
                            d.kind.noun
                        )),
                    );
                }
                // Its own `import:` takes it.
                continue;
            }
            // An interrupted create of it is found again by its name, as ever.
            if state
                .pending
                .iter()
                .any(|p| p.address == address && p.action == Mutation::Create)
            {
                continue;
            }
            match chain.links.get(&address) {
                Some(link) if link.id.eq_ignore_ascii_case(id) => continue,
                Some(link) => {
                    chain.problems.push(
                        Problem::new(format!(
                            "`{address}` would be imported twice: as {} (the `{}` of `{}` in AEP) and as {id} (the `{}` of `{}`)",
                            link.id,
                            link.field,
                            link.by,
                            f.path,
                            d.address()
                        ))
                        .with_help(format!(
                            "in AEP the two use different {}s: declare one of them apart, under its own key",
                            target.noun
                        )),
                    );
                    continue;
                }
                None => {}
            }
            chain.links.insert(
                address,
                Link {
                    kind: target,
                    sandbox: d.sandbox.clone(),
                    id: id.to_owned(),
                    by: d.address(),
                    field: f.path,
                },
            );
            match seen(target, &d.sandbox, id) {
                Some(ml) => queue.push((member, ml)),
                None => chain.unread.push((target, d.sandbox.clone(), id.to_owned())),
            }
        }
    }
    chain
}

/// The chain of the configuration's `import:` blocks that the state does not hold yet,
/// from what the refresh read.
pub fn of_imports(desired: &Desired, state: &State, live: &Live) -> Chain {
    let seen = |kind: &Kind, sandbox: &str, id: &str| {
        live.objects
            .get(id)
            .filter(|s| s.kind == kind && s.sandbox == sandbox)
            .map(|s| &s.object)
    };
    let roots = desired.resources.values().filter_map(|d| {
        let id = d.import.as_deref()?;
        if state.resources.contains_key(&d.address()) {
            return None;
        }
        seen(d.kind, &d.sandbox, id).map(|l| (d, l))
    });
    walk(desired, state, roots, seen)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::config::{LoadOptions, Loader};
    use crate::settings::Environment;

    const BASE: &str = "11111111-1111-4111-8111-111111111111";
    const SOURCE: &str = "22222222-2222-4222-8222-222222222222";
    const TARGET: &str = "33333333-3333-4333-8333-333333333333";
    const FLOW: &str = "44444444-4444-4444-8444-444444444444";

    /// A pipeline, the flow imported; `extra` is added to the source connection.
    fn desired(extra: &str) -> Desired {
        let text = format!(
            "sandbox: prod
connections:
  sf:
    name: SF
    source: salesforce
    auth:
      specName: Basic Authentication
      params: {{username: u, password: \"${{env:P}}\", securityToken: \"${{env:T}}\"}}
sources:
  contacts:
    name: Contacts
    connection: sf
    table: Contact
{extra}targets:
  lake:
    name: Lake
    dataset: 65d4c1f0a1b2c3d4e5f60101
flows:
  contacts-flow:
    name: Contacts flow
    source: contacts
    target: lake
    flowSpec: {{id: 14518937-270c-4525-bdec-c2ba7cce3860, version: \"1.0\"}}
    deltaColumn: {{name: LastModifiedDate}}
    schedule: {{frequency: hour, interval: 1, startTime: 1796104800}}
    import: {{id: {FLOW}}}
"
        );
        let env = Environment::from_pairs([("P", "p"), ("T", "t")]);
        let options = LoadOptions::default();
        let mut loader = Loader::new(&env, &options);
        loader.add(Path::new("c.yaml"), &text);
        loader.finish().unwrap().desired
    }

    fn object(value: serde_json::Value) -> LiveObject {
        LiveObject::from_json(value).unwrap()
    }

    /// AEP's pipeline: the flow, its source and target connections, the base connection.
    fn live(kinds: &[&str]) -> Live {
        let mut live = Live::default();
        let all = [
            (
                "flow",
                json!({"id": FLOW, "name": "Contacts flow", "sourceConnectionIds": [SOURCE], "targetConnectionIds": [TARGET]}),
            ),
            (
                "source",
                json!({"id": SOURCE, "name": "Contacts", "baseConnectionId": BASE}),
            ),
            ("target", json!({"id": TARGET, "name": "Lake"})),
            ("connection", json!({"id": BASE, "name": "SF"})),
        ];
        for (kind, value) in all {
            if kinds.contains(&kind) {
                live.see(kind::by_name(kind).unwrap(), "prod", object(value));
            }
        }
        live
    }

    fn taken(chain: &Chain) -> Vec<(&str, &str)> {
        chain
            .links
            .iter()
            .map(|(a, l)| (a.as_str(), l.id.as_str()))
            .collect()
    }

    #[test]
    fn an_imported_flow_takes_its_chain_down_to_the_base_connection() {
        let desired = desired("");
        let state = State::default();
        let chain = of_imports(
            &desired,
            &state,
            &live(&["flow", "source", "target", "connection"]),
        );
        assert_eq!(
            taken(&chain),
            [
                ("prod/sf", BASE),
                ("prod/source:contacts", SOURCE),
                ("prod/target:lake", TARGET)
            ]
        );
        assert!(chain.unread.is_empty() && chain.problems.is_empty());
        assert_eq!(chain.links["prod/sf"].by, "prod/source:contacts");
        assert_eq!(chain.links["prod/sf"].field, "baseConnectionId");

        // What is not read yet is asked for, a link at a time.
        let chain = of_imports(&desired, &state, &live(&["flow"]));
        assert_eq!(chain.links.len(), 2);
        let mut unread: Vec<&str> = chain.unread.iter().map(|(k, _, _)| k.name).collect();
        unread.sort_unstable();
        assert_eq!(unread, ["source", "target"]);
    }

    #[test]
    fn what_is_managed_or_imported_by_its_own_block_is_not_taken() {
        let desired_own = desired(&format!("    import: {{id: {SOURCE}}}\n"));
        let chain = of_imports(
            &desired_own,
            &State::default(),
            &live(&["flow", "source", "target"]),
        );
        // The source connection's own block takes it, and it takes its base connection.
        assert_eq!(taken(&chain), [("prod/sf", BASE), ("prod/target:lake", TARGET)]);
        assert_eq!(chain.links["prod/sf"].by, "prod/source:contacts");

        let other = "55555555-5555-4555-8555-555555555555";
        let desired_other = desired(&format!("    import: {{id: {other}}}\n"));
        let chain = of_imports(&desired_other, &State::default(), &live(&["flow", "target"]));
        assert_eq!(chain.problems.len(), 1, "{:?}", chain.problems);
        assert!(
            chain.problems[0].says("but `prod/source:contacts` imports"),
            "{:?}",
            chain.problems
        );

        let mut state = State::default();
        state.resources.insert(
            "prod/source:contacts".to_owned(),
            crate::state::Record {
                kind: kind::by_name("source").unwrap(),
                key: "contacts".to_owned(),
                sandbox: "prod".to_owned(),
                id: SOURCE.to_owned(),
                etag: None,
                name: "Contacts".to_owned(),
                attrs: Default::default(),
                secret_params: Default::default(),
                secrets_digest: None,
                state: None,
                created_at: None,
                updated_at: None,
                protect: false,
                applied_at: None,
                depends_on: Vec::new(),
            },
        );
        let chain = of_imports(
            &desired(""),
            &state,
            &live(&["flow", "source", "target", "connection"]),
        );
        assert_eq!(taken(&chain), [("prod/target:lake", TARGET)]);
    }
}
