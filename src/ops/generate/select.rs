//! What `generate` reads: the sandboxes (by default the configuration's) and the sources or
//! specs asked for, checked before anything is sent; then each sandbox listed, keeping the
//! names that match, with the specs, source connections, target connections and dataflows
//! of what is left (a dataflow bringing what it joins).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::GenerateRequest;
use crate::catalog;
use crate::config::Desired;
use crate::flow::{CONNECTIONS, Client, Filter};
use crate::generate::Listed;
use crate::ops::Error;

/// Whether `name` matches a pattern of `*` (any run of characters) and `?` (one).
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative wildcard matching with one backtrack point: linear-ish, no recursion.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

fn valid_sandbox(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(super) fn settle_sandboxes(request: &GenerateRequest, desired: &Desired) -> Result<Vec<String>, Error> {
    let mut sandboxes: Vec<String> = Vec::new();
    let given: Vec<String> = if request.sandboxes.is_empty() {
        desired.sandboxes.iter().cloned().collect()
    } else {
        request
            .sandboxes
            .iter()
            .flat_map(|s| s.split(','))
            .map(|s| s.trim().to_owned())
            .collect()
    };
    for s in given {
        if !valid_sandbox(&s) {
            return Err(Error::message(
                format!("`{}` is not a sandbox name", crate::flow::model::clean(&s, 100)),
                Some(
                    "a sandbox name is lower-case letters, digits and `-`, e.g. `prod` or `dev-2`".to_owned(),
                ),
            ));
        }
        if !sandboxes.contains(&s) {
            sandboxes.push(s);
        }
    }
    if sandboxes.is_empty() {
        return Err(Error::message(
            "name the sandboxes to read: `--sandbox prod` (repeatable)",
            Some(
                "AEP silently falls back to `prod` when no sandbox is named, so flowform never assumes one"
                    .to_owned(),
            ),
        ));
    }
    Ok(sandboxes)
}

pub(super) fn settle_specs(request: &GenerateRequest) -> Result<Vec<String>, Error> {
    let mut specs = Vec::new();
    for source in &request.sources {
        match catalog::by_source(source) {
            Some(spec) => specs.push(spec.id.to_owned()),
            None => {
                let known: Vec<&str> = catalog::all().iter().map(|s| s.source).collect();
                return Err(Error::message(
                    format!("unknown source `{}`", crate::flow::model::clean(source, 100)),
                    Some(format!(
                        "known sources are {}; for any other, give `--spec ID`",
                        known.join(", ")
                    )),
                ));
            }
        }
    }
    for id in &request.specs {
        let valid = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !valid {
            return Err(Error::message(
                format!(
                    "`{}` is not a connection spec id",
                    crate::flow::model::clean(id, 100)
                ),
                Some(format!(
                    "a spec id is a UUID such as `{}` (Salesforce)",
                    catalog::SALESFORCE_ID
                )),
            ));
        }
        specs.push(id.to_ascii_lowercase());
    }
    specs.sort();
    specs.dedup();
    Ok(specs)
}

/// Lists each sandbox (counted first, so the walk is bounded), keeps the names that match,
/// and reads the specs of what is left.
pub(super) async fn list(
    client: &Arc<Client>,
    sandboxes: &[String],
    specs: &[String],
    names: &[String],
    state: &crate::state::State,
) -> Result<Vec<Listed>, crate::flow::FlowError> {
    let mut out = Vec::new();
    for sandbox in sandboxes {
        let filters: Vec<Filter> = if specs.is_empty() {
            Vec::new()
        } else {
            vec![Filter::new("connectionSpec.id", specs.iter().cloned())]
        };
        let count = client.count(CONNECTIONS, sandbox, &filters).await?;
        let mut connections = client.list_counted(CONNECTIONS, sandbox, &filters, count).await?;
        connections.retain(|c| {
            specs.is_empty()
                || c.spec_id()
                    .is_some_and(|id| specs.iter().any(|s| s.eq_ignore_ascii_case(id)))
        });
        // Every one's source connections are read, whatever its name: `--name` keeps each
        // kind's resources by their own names.
        let mut parents: BTreeSet<String> = connections.iter().map(|c| c.id.clone()).collect();
        if !names.is_empty() {
            connections.retain(|c| names.iter().any(|p| matches(p, &c.name)));
        }
        let mut listed = Listed {
            sandbox: sandbox.clone(),
            connections,
            ..Listed::default()
        };
        let ids: BTreeSet<String> = listed
            .connections
            .iter()
            .filter_map(|c| c.spec_id().map(str::to_ascii_lowercase))
            .collect();
        for id in ids {
            let spec = if crate::apply::is_connection_id(&id) {
                client.connection_spec(sandbox, &id).await?
            } else {
                None
            };
            listed.specs.insert(id, spec);
        }
        // The source connections of the base connections managed or listed here, and the
        // data-lake target connections.
        parents.extend(
            state
                .resources
                .values()
                .filter(|r| r.kind.is_default() && r.sandbox == *sandbox)
                .map(|r| r.id.clone()),
        );
        let parents: Vec<String> = parents.into_iter().filter(|p| crate::flow::listable(p)).collect();
        if let Some(source) = crate::kind::by_name("source") {
            for batch in client.batches(source.collection, &[], "baseConnectionId", parents) {
                let filter = [Filter::new("baseConnectionId", batch)];
                listed
                    .sources
                    .extend(client.list_all(source.collection, sandbox, &filter).await?);
            }
        }
        if let Some(target) = crate::kind::by_name("target") {
            let filter = [Filter::new(
                "connectionSpec.id",
                [crate::kind::target::DATA_LAKE_SPEC],
            )];
            let count = client.count(target.collection, sandbox, &filter).await?;
            listed.targets = client
                .list_counted(target.collection, sandbox, &filter, count)
                .await?;
        }
        // The dataflows of those source connections, and of the managed ones.
        let managed: BTreeSet<&str> = state.resources.values().map(|r| r.id.as_str()).collect();
        if let Some(flow) = crate::kind::by_name("flow") {
            let mut parents: BTreeSet<String> = listed.sources.iter().map(|s| s.id.clone()).collect();
            parents.extend(
                state
                    .resources
                    .values()
                    .filter(|r| r.kind.name == "source" && r.sandbox == *sandbox)
                    .map(|r| r.id.clone()),
            );
            let parents: Vec<String> = parents.into_iter().filter(|p| crate::flow::listable(p)).collect();
            let field = flow
                .filter_name("sourceConnectionId")
                .unwrap_or_else(|| "sourceConnectionIds".to_owned());
            for batch in client.batches(flow.collection, &[], &field, parents) {
                let filter = [Filter::new(field.clone(), batch)];
                listed
                    .flows
                    .extend(client.list_all(flow.collection, sandbox, &filter).await?);
            }
        }
        let all_sources = listed.sources.clone();
        let all_targets = listed.targets.clone();
        if !names.is_empty() {
            listed
                .sources
                .retain(|c| names.iter().any(|p| matches(p, &c.name)));
            listed
                .targets
                .retain(|c| names.iter().any(|p| matches(p, &c.name)));
            listed.flows.retain(|c| names.iter().any(|p| matches(p, &c.name)));
        }
        // A dataflow kept brings what it joins, whatever its name or its target's spec: the
        // pipeline is written whole.
        for (pointer, collection, kept, all) in [
            (
                "/sourceConnectionIds/0",
                "/sourceConnections",
                &mut listed.sources,
                &all_sources,
            ),
            (
                "/targetConnectionIds/0",
                "/targetConnections",
                &mut listed.targets,
                &all_targets,
            ),
        ] {
            let wanted: BTreeSet<String> = listed
                .flows
                .iter()
                .filter_map(|f| f.text_at(pointer))
                .filter(|id| !managed.contains(id) && !kept.iter().any(|k| k.id == *id))
                .map(str::to_owned)
                .collect();
            for id in wanted {
                match all.iter().find(|a| a.id == id) {
                    Some(found) => kept.push(found.clone()),
                    None if crate::apply::is_connection_id(&id) => {
                        if let Some(found) = client.get(collection, sandbox, &id).await? {
                            kept.push(found);
                        }
                    }
                    None => {}
                }
            }
        }
        // The mapping sets they use, read by id (Data Prep lists by offset only).
        let sets: BTreeSet<String> = listed
            .flows
            .iter()
            .filter_map(|f| f.text_at("/transformations/name=Mapping/params/mappingId"))
            .filter(|id| !managed.contains(id))
            .filter(|id| crate::kind::mapping::KIND.id.check(id))
            .map(str::to_owned)
            .collect();
        for id in sets {
            if let Some(found) = client
                .get(crate::kind::mapping::KIND.collection, sandbox, &id)
                .await?
            {
                listed.mappings.push(found);
            }
        }
        // Their flow specs: by name where the name finds that spec alone.
        let spec_ids: BTreeSet<String> = listed
            .flows
            .iter()
            .filter_map(|f| f.text_at("/flowSpec/id"))
            .filter(|id| crate::apply::is_connection_id(id))
            .map(str::to_ascii_lowercase)
            .collect();
        for id in spec_ids {
            let Some(spec) = client.get("/flowSpecs", sandbox, &id).await? else {
                continue;
            };
            let version = spec.text_at("/version").unwrap_or("1.0").to_owned();
            let named = if crate::flow::listable(&spec.name) {
                client
                    .list_all("/flowSpecs", sandbox, &[Filter::new("name", [spec.name.clone()])])
                    .await?
            } else {
                Vec::new()
            };
            let alone = named.iter().filter(|s| s.name == spec.name).count() == 1
                && named.iter().any(|s| s.id.eq_ignore_ascii_case(&id));
            if alone {
                listed.flow_specs.insert(id, (spec.name.clone(), version));
            }
        }
        crate::info!(
            "generate: sandbox {sandbox}: {} connection{}, {} source and {} target connections, {} dataflows listed",
            listed.connections.len(),
            if listed.connections.len() == 1 { "" } else { "s" },
            listed.sources.len(),
            listed.targets.len(),
            listed.flows.len()
        );
        out.push(listed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn name_patterns() {
        for (pattern, name, expected) in [
            ("*", "anything", true),
            ("*", "", true),
            ("ACME*", "ACME Salesforce", true),
            ("ACME*", "acme Salesforce", false),
            ("*(JWT)", "ACME (JWT)", true),
            ("A?ME", "ACME", true),
            ("A?ME", "AME", false),
            ("*a*b*c*", "xxaxxbxxcxx", true),
            ("*a*b*c*", "xxaxxcxxbxx", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(matches(pattern, name), expected, "{pattern} {name}");
        }
        // Hostile patterns stay quick.
        let name = "a".repeat(2000);
        assert!(!matches(&format!("{}b", "*a".repeat(200)), &name));
    }
}
