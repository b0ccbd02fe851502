//! A plan as a graph of steps, the order an apply keeps whatever kinds it holds.
//!
//! Each change is one step, but a replacement, which is two: the new resource created (the
//! old record stepping aside as `<address>#deposed`), then the old one deleted. Edges:
//!
//! - a step that creates, updates or adopts a resource waits for the step that creates (or
//!   adopts, or replaces) each declared resource it refers to: their ids go in its body;
//! - a delete waits for the deletes of every resource the state says depends on the one it
//!   deletes (by id): AEP refuses to delete what something still uses (FLOW-1418);
//! - a replacement's delete waits for its own create: create before destroy, along the
//!   whole chain — the new chain first, then the old deleted from the top down; so does the
//!   delete of a deposed record an apply cut short left, for the create of its address.
//!
//! Independent branches run at once (within `--parallelism`); a step that fails stops
//! only what depends on it, and each step skipped says which failure it waited for.

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change};
use crate::state::State;

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// The change as planned (a create, an update, a delete, an adoption, a state-only
    /// change, or a forget).
    Change,
    /// A replacement's first half: the old record steps aside, the new resource is created.
    ReplaceCreate,
    /// A replacement's second half: the old resource, deposed, is deleted.
    ReplaceDelete,
}

/// One step.
#[derive(Clone, Debug)]
pub struct Step {
    pub change: Change,
    pub work: Work,
    /// The steps it waits for, by index.
    pub after: BTreeSet<usize>,
}

impl Step {
    /// The address it acts on (a replacement's delete acts on the deposed record).
    pub fn address(&self) -> String {
        match self.work {
            Work::ReplaceDelete => format!("{}#deposed", self.change.address),
            _ => self.change.address.clone(),
        }
    }

    /// Whether it gives its resource an id (what dependents wait for).
    fn creates(&self) -> bool {
        match self.work {
            Work::ReplaceCreate => true,
            Work::ReplaceDelete => false,
            Work::Change => matches!(self.change.action, Action::Create | Action::Adopt),
        }
    }

    /// Whether it deletes a resource in AEP, and which (by id).
    fn deletes(&self) -> Option<&str> {
        match (self.work, self.change.action) {
            (Work::ReplaceDelete, _) | (Work::Change, Action::Delete) => self.change.id.as_deref(),
            _ => None,
        }
    }
}

/// The steps of `changes` (the plan's actions), with their edges. `state`: the state as the
/// apply found it, whose records say what depends on what.
pub fn graph(changes: Vec<Change>, state: &State) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for change in changes {
        if change.action == Action::Replace {
            let create = steps.len();
            steps.push(Step {
                change: change.clone(),
                work: Work::ReplaceCreate,
                after: BTreeSet::new(),
            });
            steps.push(Step {
                change,
                work: Work::ReplaceDelete,
                after: [create].into(),
            });
        } else {
            steps.push(Step {
                change,
                work: Work::Change,
                after: BTreeSet::new(),
            });
        }
    }
    // Address → the step that gives it an id.
    let creators: BTreeMap<String, usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.creates())
        .map(|(i, s)| (s.change.address.clone(), i))
        .collect();
    // Address → the step that writes it anew (a Data Prep set's update moves its version
    // on, which a resource pinning it follows after it).
    let rewriters: BTreeMap<String, usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.work == Work::Change
                && s.change.action == Action::Update
                && s.change.kind().collection.replaced_whole()
        })
        .map(|(i, s)| (s.change.address.clone(), i))
        .collect();
    // Id → the step that deletes it.
    let deleters: BTreeMap<String, usize> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.deletes().map(|id| (id.to_owned(), i)))
        .collect();
    // Id → the ids of the records that depend on it.
    let mut users: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in state.resources.values() {
        for on in &r.depends_on {
            users.entry(on.as_str()).or_default().push(r.id.as_str());
        }
    }
    for (i, step) in steps.iter_mut().enumerate() {
        let mut after = BTreeSet::new();
        let acts_on_declared = matches!(step.work, Work::ReplaceCreate)
            || (step.work == Work::Change
                && matches!(
                    step.change.action,
                    Action::Create | Action::Update | Action::Adopt
                ));
        if acts_on_declared {
            for dep in &step.change.depends_on {
                for j in [creators.get(dep), rewriters.get(dep)].into_iter().flatten() {
                    if *j != i {
                        after.insert(*j);
                    }
                }
            }
        }
        // A deposed resource left by an apply cut short waits for its successor's create,
        // as a replacement's delete does: create before destroy (and a successor that
        // hands over from it finds it).
        if step.work == Work::Change
            && step.change.action == Action::Delete
            && let Some(successor) = step.change.address.strip_suffix("#deposed")
            && let Some(&j) = creators.get(successor)
            && j != i
        {
            after.insert(j);
        }
        if let Some(id) = step.deletes() {
            for user in users.get(id).into_iter().flatten() {
                if let Some(&j) = deleters.get(*user)
                    && j != i
                {
                    after.insert(j);
                }
            }
        }
        step.after.extend(after);
    }
    steps
}

/// The steps that can never run because they wait, directly or not, on a step in a circle
/// (a hand-edited state or plan): each with the circle's first address.
pub fn circles(steps: &[Step]) -> BTreeMap<usize, String> {
    // Kahn's algorithm: whatever is left holds a circle or waits on one.
    let mut waiting: Vec<usize> = steps.iter().map(|s| s.after.len()).collect();
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, s) in steps.iter().enumerate() {
        for &j in &s.after {
            if let Some(u) = users.get_mut(j) {
                u.push(i);
            }
        }
    }
    let mut ready: Vec<usize> = (0..steps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut done = vec![false; steps.len()];
    while let Some(i) = ready.pop() {
        done[i] = true;
        for &u in &users[i] {
            waiting[u] = waiting[u].saturating_sub(1);
            if waiting[u] == 0 {
                ready.push(u);
            }
        }
    }
    let left: Vec<usize> = (0..steps.len()).filter(|&i| !done[i]).collect();
    let first = left.first().map(|&i| steps[i].address()).unwrap_or_default();
    left.into_iter().map(|i| (i, first.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Change;
    use crate::state::Record;

    fn change(address: &str, action: Action, id: Option<&str>, depends_on: &[&str]) -> Change {
        let mut c = Change::bare(address, address, "prod", action, "n");
        c.id = id.map(str::to_owned);
        c.depends_on = depends_on.iter().map(|s| (*s).to_owned()).collect();
        c
    }

    fn record(address: &str, id: &str, depends_on: &[&str]) -> (String, Record) {
        let kind = crate::kind::address::kind_of(address);
        let key = crate::kind::Address::parse(address).unwrap().key.to_owned();
        (
            address.to_owned(),
            Record {
                kind,
                key,
                sandbox: "prod".into(),
                id: id.into(),
                etag: None,
                name: "n".into(),
                attrs: Default::default(),
                secret_params: Default::default(),
                secrets_digest: None,
                state: None,
                created_at: None,
                updated_at: None,
                protect: false,
                applied_at: None,
                depends_on: depends_on.iter().map(|s| (*s).to_owned()).collect(),
            },
        )
    }

    #[test]
    fn a_deposed_record_left_by_a_cut_apply_is_deleted_after_its_successor_is_created() {
        let mut state = State::new();
        state.resources.extend([
            record("prod/flow:f#deposed", "flow-1", &["src-1"]),
            record("prod/source:s", "src-1", &[]),
        ]);
        let steps = graph(
            vec![
                change("prod/flow:f", Action::Create, None, &["prod/source:s"]),
                change("prod/flow:f#deposed", Action::Delete, Some("flow-1"), &[]),
            ],
            &state,
        );
        assert!(steps[1].after.contains(&0), "create before destroy: {steps:#?}");
        assert!(steps[0].after.is_empty());
    }

    #[test]
    fn a_replaced_chain_is_created_top_down_and_deleted_bottom_up() {
        let mut state = State::new();
        state.resources.extend([
            record("prod/acme", "base-1", &[]),
            record("prod/source:contacts", "src-1", &["base-1"]),
        ]);
        let steps = graph(
            vec![
                change("prod/acme", Action::Replace, Some("base-1"), &[]),
                change(
                    "prod/source:contacts",
                    Action::Replace,
                    Some("src-1"),
                    &["prod/acme"],
                ),
            ],
            &state,
        );
        let at = |address: &str, work: Work| {
            steps
                .iter()
                .position(|s| s.change.address == address && s.work == work)
                .unwrap()
        };
        let (base_new, base_old) = (
            at("prod/acme", Work::ReplaceCreate),
            at("prod/acme", Work::ReplaceDelete),
        );
        let (src_new, src_old) = (
            at("prod/source:contacts", Work::ReplaceCreate),
            at("prod/source:contacts", Work::ReplaceDelete),
        );
        assert!(
            steps[src_new].after.contains(&base_new),
            "the new source waits for the new base"
        );
        assert!(steps[src_old].after.contains(&src_new), "create before destroy");
        assert!(steps[base_old].after.contains(&base_new));
        assert!(
            steps[base_old].after.contains(&src_old),
            "the old base goes after the old source"
        );
        assert!(circles(&steps).is_empty());
    }

    #[test]
    fn a_destroy_deletes_dependents_first_without_the_configuration() {
        let mut state = State::new();
        state.resources.extend([
            record("prod/acme", "base-1", &[]),
            record("prod/source:a", "src-1", &["base-1"]),
            record("prod/source:b", "src-2", &["base-1"]),
        ]);
        let steps = graph(
            vec![
                change("prod/acme", Action::Delete, Some("base-1"), &[]),
                change("prod/source:a", Action::Delete, Some("src-1"), &[]),
                change("prod/source:b", Action::Delete, Some("src-2"), &[]),
            ],
            &state,
        );
        assert_eq!(steps[0].after, [1, 2].into());
        assert!(steps[1].after.is_empty() && steps[2].after.is_empty());
    }

    #[test]
    fn a_circle_is_found_not_waited_on() {
        let mut state = State::new();
        state
            .resources
            .extend([record("prod/a", "1", &["2"]), record("prod/b", "2", &["1"])]);
        let steps = graph(
            vec![
                change("prod/a", Action::Delete, Some("1"), &[]),
                change("prod/b", Action::Delete, Some("2"), &[]),
            ],
            &state,
        );
        assert_eq!(circles(&steps).len(), 2);
    }
}
