//! `drift`: for a scheduled check. Reports three things, each counted and listed, never
//! changing AEP or the state: managed connections changed outside flowform (AEP against the
//! state), the configuration not yet applied (the configuration against the state, secrets
//! by fingerprint: a secret rotated in the CI's secret store shows here), and connections of
//! the declared specs in the declared sandboxes that flowform does not manage. With
//! `--check-credentials`, also asks AEP to test each managed connection against its source
//! (`GET /connections/{id}/test`), so a password rotated at the source shows before the
//! dataflows fail. And, in a section of its own, managed dataflows whose last run failed or
//! that are late ([`super::health`]). Exit 0 in sync, 2 drift (any of these), 1 error.

use std::sync::Arc;

use tokio::task::JoinSet;

use super::session::Session;
use super::{Exit, Io, Outcome, Target};
use crate::flow::model::ConnectionState;
use crate::flow::{Client, FlowError};
use crate::plan::{Live, Mode};
use crate::render::{self, CredentialCheck, DriftReport, Format, Rejected, Sections, Unmanaged};
use crate::settings::Environment;

/// `flowform drift`.
#[derive(Clone, Debug)]
pub struct DriftRequest {
    pub target: Target,
    pub format: Format,
    /// Report unmanaged connections without counting them as drift.
    pub ignore_unmanaged: bool,
    /// Which sections to check and report (`--only`; all by default).
    pub sections: Sections,
    /// Test every managed connection's credentials with its source.
    pub check_credentials: bool,
}

pub fn drift(request: &DriftRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let mut target = request.target.clone();
    target.refresh = true;
    target.state.lock = false;
    let mut session = Session::open(&target, env, io, "flowform drift", false)?;
    session.progress = request.format != Format::Json;
    // Every declared sandbox and spec is listed in full: unmanaged connections must be seen.
    let live = session.refresh(true, io)?;
    let plan = session.plan_against(Mode::Normal, &[], &live);
    let state = session.store().state();
    let unmanaged: Vec<Unmanaged> = crate::plan::unmanaged(&session.desired, state, &live)
        .into_iter()
        .map(|(sandbox, c)| {
            let kind = live.objects.get(&c.id).map_or(crate::kind::default(), |s| s.kind);
            let parent = match kind.refresh {
                crate::kind::Refresh::ByParent(field) => kind
                    .field(field)
                    .and_then(|f| c.text_at(f.api))
                    .map(str::to_owned),
                crate::kind::Refresh::ById => None,
            };
            Unmanaged {
                sandbox: sandbox.to_owned(),
                id: c.id.clone(),
                name: c.name.clone(),
                spec_id: c.spec_id().unwrap_or_default().to_owned(),
                kind: kind.name.to_owned(),
                parent,
            }
        })
        .collect();
    let managed = state
        .resources
        .iter()
        .filter(|(address, r)| session.in_scope(address, &r.key))
        .count();
    // Credentials are a base connection's: the others have none to test.
    let in_scope: Vec<(String, String, String, String)> = state
        .resources
        .iter()
        .filter(|(_, r)| r.kind.is_default())
        .filter(|(address, r)| session.in_scope(address, &r.key))
        .map(|(address, r)| (address.clone(), r.sandbox.clone(), r.id.clone(), r.name.clone()))
        .collect();
    // Dataflows are checked for their runs: whether they are doing their job.
    let flows: Vec<super::health::Managed> = state
        .resources
        .iter()
        .filter(|(_, r)| std::ptr::eq(r.kind, &crate::kind::flow::KIND))
        .filter(|(address, r)| session.in_scope(address, &r.key))
        .map(|(address, r)| (address.clone(), r.sandbox.clone(), r.id.clone(), r.name.clone()))
        .collect();
    let mut report = DriftReport::new(
        plan,
        request.sections,
        unmanaged,
        managed,
        request.ignore_unmanaged,
    );
    if request.check_credentials {
        let Some(client) = session.client.clone() else {
            return Err(super::Error::message(
                "checking credentials needs AEP (or --emulator)",
                None,
            ));
        };
        let check = session
            .runtime
            .block_on(check_credentials(client, in_scope, &live))?;
        report.credentials = Some(check);
    }
    if let (true, false, Some(client)) = (
        request.sections.dataflows,
        flows.is_empty(),
        session.client.clone(),
    ) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let health = session
            .runtime
            .block_on(super::health::check(client, flows, &live, now_ms))?;
        report.health = Some(health);
    }
    let text = match request.format {
        Format::Text => render::text::drift(&report),
        Format::Markdown => render::markdown::drift_report(&report),
        Format::Json => render::json::drift_report(&report),
    };
    io.product(&text)?;
    Ok(if report.in_sync() {
        Exit::Success
    } else {
        Exit::Changes
    })
}

/// Asks AEP to test each managed connection it shows enabled (`GET /connections/{id}/test`:
/// `false` when the source refuses its credentials). Disabled, initializing and missing
/// connections are not tested, and say why.
async fn check_credentials(
    client: Arc<Client>,
    managed: Vec<(String, String, String, String)>,
    live: &Live,
) -> Result<CredentialCheck, FlowError> {
    let mut check = CredentialCheck::default();
    let mut tests = JoinSet::new();
    for (address, sandbox, id, name) in managed {
        let state = match live.objects.get(&id) {
            Some(seen) if seen.sandbox == sandbox => seen.object.state.clone(),
            _ => {
                check.skipped.push((address, "not in AEP".to_owned()));
                continue;
            }
        };
        match state {
            Some(ConnectionState::Enabled) | None => {}
            Some(other) => {
                check
                    .skipped
                    .push((address, format!("{} in AEP", other.as_str())));
                continue;
            }
        }
        let client = client.clone();
        tests.spawn(async move {
            let passed = client.test_connection(&sandbox, &id).await;
            (Rejected { address, id, name }, passed)
        });
    }
    while let Some(joined) = tests.join_next().await {
        let Ok((connection, passed)) = joined else {
            continue;
        };
        check.tested += 1;
        if !passed? {
            check.rejected.push(connection);
        }
    }
    check.rejected.sort_by(|a, b| a.address.cmp(&b.address));
    check.skipped.sort();
    Ok(check)
}
