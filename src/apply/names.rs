//! Finding connections by name: a name names one connection per sandbox and spec, so
//! before creating, flowform asks AEP whether the name is still free (a person at the
//! approval prompt can take minutes; another clone may apply at the same time), and after
//! creating, whether its connection is the only one of that name.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::READ_BACK_BATCH;
use crate::config::Connection;
use crate::flow::model::LiveConnection;
use crate::flow::{Client, Filter, FlowError};

/// The connections AEP has under the names of `wanted` (address and declared connection),
/// in their sandboxes and specs, each paired with the address whose name it bears. A few
/// dozen names per request (`property=name==a,b,…`); a name with a comma (which separates
/// alternatives in a filter) is found by listing its sandbox and spec whole.
pub(super) async fn named(
    client: &Arc<Client>,
    wanted: &[(String, &Connection)],
) -> Result<Vec<(String, LiveConnection)>, FlowError> {
    // Sandbox and spec → name → address.
    let mut by_pair: BTreeMap<(&str, &str), BTreeMap<&str, &str>> = BTreeMap::new();
    for (address, conn) in wanted {
        by_pair
            .entry((conn.sandbox.as_str(), conn.connection_spec.id.as_str()))
            .or_default()
            .insert(conn.name.as_str(), address.as_str());
    }
    let mut found = Vec::new();
    for ((sandbox, spec), names) in by_pair {
        let spec_filter = Filter::new("connectionSpec.id", [spec.to_owned()]);
        let (plain, with_comma): (Vec<&str>, Vec<&str>) =
            names.keys().copied().partition(|n| !n.contains(','));
        let mut listings: Vec<Vec<Filter>> = plain
            .chunks(READ_BACK_BATCH)
            .map(|batch| vec![spec_filter.clone(), Filter::new("name", batch.iter().copied())])
            .collect();
        if !with_comma.is_empty() {
            listings.push(vec![spec_filter.clone()]);
        }
        for filters in listings {
            for live in client.list_connections(sandbox, &filters).await? {
                if let Some(address) = names.get(live.name.as_str()) {
                    found.push(((*address).to_owned(), live));
                }
            }
        }
    }
    Ok(found)
}
