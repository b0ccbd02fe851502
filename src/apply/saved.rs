//! Saved plans (`plan --out`, then `apply FILE`): whether one still applies.

use std::sync::Arc;

use crate::config::Desired;
use crate::flow::{Client, FlowError};
use crate::plan::{self, Plan};

/// Why a saved plan no longer applies, if it does not: the state moved on (another lineage,
/// or a newer serial), the configuration or a referenced secret changed (by digest), or a
/// connection it touches changed in AEP (its etag). Empty: it still applies.
pub async fn stale(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: Option<&Arc<Client>>,
) -> Result<Vec<String>, FlowError> {
    let mut problems = Vec::new();
    // A state exists before any plan (`flowform init` starts it), so its lineage is fixed.
    if plan.lineage != state.lineage {
        problems.push(format!(
            "the plan was made for another state (lineage {}; this state is {})",
            plan.lineage, state.lineage
        ));
    } else if plan.serial != state.serial {
        problems.push(format!(
            "the state changed since the plan was made (serial {} then, {} now): another apply ran",
            plan.serial, state.serial
        ));
    }
    if let Some(id) = plan
        .config_digest
        .strip_prefix("hmac-sha256:")
        .and_then(|rest| rest.split(':').next())
        && state.digester.key_id() != Some(id)
    {
        problems.push(format!(
            "the plan was made with the `FLOWFORM_DIGEST_KEY` whose id is {id}, and this run {}",
            if state.digester.key_id().is_some() {
                "has another"
            } else {
                "has none"
            }
        ));
    } else if plan::config_digest(desired, &plan.digest_salt, &state.digester) != plan.config_digest {
        problems
            .push("the configuration (or a secret it references) changed since the plan was made".to_owned());
    }
    if let Some(client) = client {
        for change in plan.actions() {
            let (Some(id), Some(etag)) = (&change.id, &change.etag) else {
                continue;
            };
            match client.get(change.kind().collection, &change.sandbox, id).await? {
                None => problems.push(format!(
                    "`{}` ({id}) was deleted in AEP since the plan was made",
                    change.address
                )),
                Some(l) if l.etag.as_deref() != Some(etag.as_str()) => problems.push(format!(
                    "`{}` ({id}) changed in AEP since the plan was made (etag {etag}, now {})",
                    change.address,
                    l.etag.as_deref().unwrap_or("none")
                )),
                Some(_) => {}
            }
        }
        problems.extend(names_taken_since(plan, desired, state, client).await?);
    }
    Ok(problems)
}

/// Creates in a saved plan whose name AEP has given to a connection this state does not
/// manage since the plan was made: applying them would make a duplicate.
async fn names_taken_since(
    plan: &Plan,
    desired: &Desired,
    state: &crate::state::State,
    client: &Arc<Client>,
) -> Result<Vec<String>, FlowError> {
    let taken = super::names::taken_names(plan, desired, state, client).await?;
    Ok(taken
        .into_iter()
        .map(|(address, live)| {
            format!(
                "`{address}`: AEP now has a {} named `{}` (id {}) that this state does not manage; creating another would make a duplicate",
                crate::kind::address::kind_of(&address).noun,
                live.name,
                live.id
            )
        })
        .collect())
}
