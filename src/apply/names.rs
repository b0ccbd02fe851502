//! Finding connections by name: a name names one connection per sandbox and spec, so
//! before creating, flowform asks AEP whether the name is still free (a person at the
//! approval prompt can take minutes; another clone may apply at the same time), and after
//! creating, whether its connection is the only one of that name.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::config::Connection;
use crate::flow::model::LiveConnection;
use crate::flow::{Client, Filter, FlowError, listable};

/// A sandbox and a connection spec id.
type Pair = (String, String);

/// The connections AEP has under the names of `wanted` (address and declared connection),
/// in their sandboxes and specs, each paired with the address whose name it bears. The
/// names go in batches of `property=name==a,b,…` (a page of them at most, each URL within
/// `--max-url-length`), every batch at once up to `--parallelism`; a name that cannot go in
/// a filter (a comma, which separates alternatives, or a space or quote at an end) is found
/// by listing its sandbox and spec whole.
pub(super) async fn named(
    client: &Arc<Client>,
    wanted: &[(String, &Connection)],
) -> Result<Vec<(String, LiveConnection)>, FlowError> {
    // Sandbox and spec → name → address.
    let mut by_pair: BTreeMap<Pair, BTreeMap<String, String>> = BTreeMap::new();
    for (address, conn) in wanted {
        by_pair
            .entry((conn.sandbox.clone(), conn.connection_spec.id.clone()))
            .or_default()
            .insert(conn.name.clone(), address.clone());
    }
    let mut tasks: JoinSet<(Pair, Result<Vec<LiveConnection>, FlowError>)> = JoinSet::new();
    for ((sandbox, spec), names) in &by_pair {
        let spec_filter = Filter::new("connectionSpec.id", [spec.clone()]);
        let (plain, odd): (Vec<String>, Vec<String>) = names.keys().cloned().partition(|n| listable(n));
        for batch in client.batches(std::slice::from_ref(&spec_filter), "name", plain) {
            let (client, pair) = (client.clone(), (sandbox.clone(), spec.clone()));
            let filters = [spec_filter.clone(), Filter::new("name", batch.iter().cloned())];
            tasks.spawn(async move {
                let found = client.list_batch(&pair.0, &filters, batch.len()).await;
                (pair, found)
            });
        }
        if !odd.is_empty() {
            let (client, pair) = (client.clone(), (sandbox.clone(), spec.clone()));
            let filters = [spec_filter.clone()];
            tasks.spawn(async move {
                let found = client.list_connections(&pair.0, &filters).await;
                (pair, found)
            });
        }
    }
    let mut found = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (pair, listed) = joined.map_err(|e| FlowError::Protocol {
            method: "GET".into(),
            path: "/connections".into(),
            reason: format!("a name lookup task failed: {e}"),
        })?;
        let Some(names) = by_pair.get(&pair) else {
            continue;
        };
        for live in listed? {
            if let Some(address) = names.get(&live.name) {
                found.push((address.clone(), live));
            }
        }
    }
    // The same order whatever order the answers came in.
    found.sort_by(|(a, x), (b, y)| (a, &x.id).cmp(&(b, &y.id)));
    found.dedup_by(|(a, x), (b, y)| a == b && x.id == y.id);
    Ok(found)
}
