//! `drift`: for a scheduled check. Compares AEP with the state (never changing either) and
//! lists the connections of the declared specs in the declared sandboxes that flowform does
//! not manage. Exit 0 in sync, 2 drift, 1 error.

use super::session::Session;
use super::{Exit, Io, Outcome, Target};
use crate::plan::Mode;
use crate::render::{self, DriftReport, Format, Unmanaged};
use crate::settings::Environment;

/// `flowform drift`.
#[derive(Clone, Debug)]
pub struct DriftRequest {
    pub target: Target,
    pub format: Format,
    /// Report unmanaged connections without counting them as drift.
    pub ignore_unmanaged: bool,
}

pub fn drift(request: &DriftRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let mut target = request.target.clone();
    target.refresh = true;
    target.state.lock = false;
    let mut session = Session::open(&target, env, io, "flowform drift", false)?;
    session.progress = request.format != Format::Json;
    let (plan, live) = session.plan(Mode::RefreshOnly, io)?;
    let unmanaged: Vec<Unmanaged> = crate::plan::unmanaged(&session.desired, session.store().state(), &live)
        .into_iter()
        .map(|(sandbox, c)| Unmanaged {
            sandbox: sandbox.to_owned(),
            id: c.id.clone(),
            name: c.name.clone(),
            spec_id: c.spec_id().unwrap_or_default().to_owned(),
        })
        .collect();
    let recorded = session
        .store()
        .state()
        .connections
        .iter()
        .filter(|(address, r)| session.in_scope(address, &r.key))
        .count();
    let report = DriftReport::new(plan, unmanaged, recorded, request.ignore_unmanaged);
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
