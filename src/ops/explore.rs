//! `explore KEY [TABLE]`: what a base connection's source holds — its tables, or one
//! table's columns — as AEP's explore reads them, for writing source connections.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::diagnostic::did_you_mean;
use crate::settings::Environment;

/// `flowform explore`.
#[derive(Clone, Debug)]
pub struct ExploreRequest {
    /// A base connection: its key (managed, or declared with `import: {id}`), or its id.
    pub key: String,
    /// One table's path: its columns instead of the tables.
    pub table: Option<String>,
    /// `--format json`.
    pub json: bool,
    pub target: Target,
}

pub fn explore(request: &ExploreRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let command = format!("flowform explore {}", request.key);
    let session = Session::open(&request.target, env, io, &command, false)?;
    let (sandbox, id) = connection(&session, &request.key)?;
    let Some(client) = session.client.clone() else {
        return Err(Error::message("exploring reads AEP (or --emulator)", None));
    };
    let tables = session
        .runtime
        .block_on(client.explore_tables(&sandbox, &id))?
        .ok_or_else(|| {
            Error::message(
                format!("AEP has no base connection {id} in sandbox `{sandbox}`"),
                Some("`flowform plan` shows whether it was deleted outside flowform".to_owned()),
            )
        })?;
    let Some(table) = &request.table else {
        let text = if request.json {
            let list: Vec<Value> = tables
                .iter()
                .map(|t| json!({"name": t.name, "path": t.path}))
                .collect();
            format!("{}\n", serde_json::to_string_pretty(&list)?)
        } else {
            let width = tables.iter().map(|t| t.path.len()).max().unwrap_or(0);
            let mut out = String::new();
            for t in &tables {
                writeln!(out, "{:<width$}  {}", t.path, t.name)?;
            }
            out
        };
        io.product(&text)?;
        if !request.json {
            writeln!(
                io.err,
                "\n{} tables. A source connection names one by its path: `table: {}`; `flowform explore {} TABLE` shows its columns.",
                tables.len(),
                tables.first().map_or("Contact", |t| t.path.as_str()),
                request.key
            )?;
        }
        return Ok(Exit::Success);
    };
    if !tables.iter().any(|t| t.path == *table) {
        let by_label = tables.iter().find(|t| t.name.eq_ignore_ascii_case(table));
        let help = match (
            by_label,
            did_you_mean(table, tables.iter().map(|t| t.path.as_str())),
        ) {
            (Some(t), _) => format!(
                "`{table}` is the label of `{}`: a table is named by its path",
                t.path
            ),
            (None, Some(s)) => format!("did you mean `{s}`?"),
            (None, None) => format!("`flowform explore {}` lists the tables", request.key),
        };
        return Err(Error::message(
            format!("the source has no table `{table}`"),
            Some(help),
        ));
    }
    let columns = session
        .runtime
        .block_on(client.explore_columns(&sandbox, &id, table))?
        .unwrap_or_default();
    let text = if request.json {
        let list: Vec<&Value> = columns.iter().map(|c| &c.object).collect();
        format!("{}\n", serde_json::to_string_pretty(&list)?)
    } else {
        let width = columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &columns {
            let ty = c.object["meta:xdmType"]
                .as_str()
                .or_else(|| c.object["type"].as_str())
                .unwrap_or("?");
            writeln!(out, "{:<width$}  {ty}", c.name)?;
        }
        out
    };
    io.product(&text)?;
    Ok(Exit::Success)
}

/// The sandbox and id of the base connection `key` names: a managed one, one declared with
/// `import: {id}`, or an id itself.
fn connection(session: &Session, key: &str) -> Result<(String, String), Error> {
    let base = crate::kind::default();
    let wanted = crate::kind::KeyRef::parse(key).ok();
    let state = session.store().state();
    if let Some(r) = state.resources.iter().find_map(|(a, r)| {
        (r.kind == base && wanted.as_ref().is_some_and(|k| k.names_address(a))).then_some(r)
    }) {
        return Ok((r.sandbox.clone(), r.id.clone()));
    }
    let declared = session.desired.of(base).find(|r| {
        wanted
            .as_ref()
            .is_some_and(|k| k.names(r.kind, &r.sandbox, &r.key))
    });
    if let Some(d) = declared {
        return match &d.import {
            Some(id) => Ok((d.sandbox.clone(), id.clone())),
            None => Err(Error::message(
                format!("`{key}` is declared, not created yet: AEP has nothing to explore"),
                Some("apply it first (`flowform apply`), or explore a connection by its id".to_owned()),
            )),
        };
    }
    if crate::reader::is_uuid(key) {
        let sandbox = session
            .desired
            .sandboxes
            .iter()
            .next()
            .cloned()
            .unwrap_or_else(|| "prod".to_owned());
        return Ok((sandbox, key.to_lowercase()));
    }
    let keys: Vec<&str> = state
        .resources
        .values()
        .filter(|r| r.kind == base)
        .map(|r| r.key.as_str())
        .chain(session.desired.of(base).map(|r| r.key.as_str()))
        .collect();
    // A source connection's key: explore reads through its base connection.
    let through = wanted.as_ref().and_then(|k| {
        session
            .desired
            .resources
            .values()
            .find(|r| !r.kind.is_default() && k.names(r.kind, &r.sandbox, &r.key))
    });
    let help = match (through, did_you_mean(key, keys.iter().copied())) {
        (Some(r), _) => match r.reference("baseConnectionId") {
            Some(crate::kind::Reference::Key(base)) => format!(
                "`{key}` is a {}: explore its base connection, `flowform explore {base}`",
                r.kind.noun
            ),
            _ => format!("`{key}` is a {}: explore names a base connection", r.kind.noun),
        },
        (None, Some(s)) => format!("did you mean `{s}`?"),
        (None, None) => "name a base connection by its key (`flowform state list`), or by its id".to_owned(),
    };
    Err(Error::message(
        format!("`{key}` names no base connection"),
        Some(help),
    ))
}
