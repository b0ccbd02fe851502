//! `import KEY ID`: take an existing resource under management without changing it. The
//! key must be declared; the next plan shows what differs. What it refers to by key that is
//! declared and not managed yet comes with it, at the ids AEP shows (see
//! [`crate::plan::chain`]): a dataflow brings its source and target connections, and a
//! source connection its base connection. Every one is checked before any is recorded.

use std::collections::BTreeMap;

use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::diagnostic::did_you_mean;
use crate::flow::model::LiveObject;
use crate::kind::Kind;
use crate::plan::chain::Link;
use crate::settings::Environment;
use crate::state::file::StateError;
use crate::state::postgres::error::{Conflict, PgError};

/// `flowform import KEY ID`.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    /// The declared connection's key (or `sandbox/key`).
    pub key: String,
    /// The connection's id in AEP.
    pub id: String,
    pub target: Target,
}

pub fn import(request: &ImportRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let command = format!("flowform import {} {}", request.key, request.id);
    let mut session = Session::open(&request.target, env, io, &command, true)?;
    let outcome = import_in(request, &mut session, io);
    super::apply::fold(&mut session, outcome, io)
}

fn import_in(request: &ImportRequest, session: &mut Session, io: &mut Io<'_>) -> Outcome {
    let id = request.id.as_str();
    let wanted = crate::kind::KeyRef::parse(&request.key).ok();
    let found: Vec<&crate::config::Resource> = wanted
        .as_ref()
        .map(|k| k.pick(session.desired.resources.keys()))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| session.desired.resources.get(a.as_str()))
        .collect();
    let conn = match found.as_slice() {
        [one] => (*one).clone(),
        [] => {
            let keys: Vec<&str> = session
                .desired
                .resources
                .values()
                .map(|r| r.key.as_str())
                .collect();
            let key = request
                .key
                .rsplit_once('/')
                .map_or(request.key.as_str(), |(_, k)| k);
            let help = did_you_mean(key, keys.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    "declare it in the configuration first; flowform imports only what it is told to manage"
                        .to_owned()
                });
            return Err(Error::message(
                format!("`{key}` is not declared in the configuration"),
                Some(help),
            ));
        }
        several => {
            let named: Vec<String> = several.iter().map(|r| format!("`{}`", r.address())).collect();
            return Err(Error::message(
                format!(
                    "`{}` names {} declared resources: {}",
                    request.key,
                    several.len(),
                    named.join(", ")
                ),
                Some(format!(
                    "name one by its kind: `{}:{}`",
                    several[1].kind.name, several[1].key
                )),
            ));
        }
    };
    if !conn.kind.id.check(id) {
        return Err(Error::message(
            format!("`{id}` is not a {} id", conn.kind.noun),
            Some(format!(
                "a {} id is {} such as `{}`",
                conn.kind.noun,
                conn.kind.id.described(),
                conn.kind.id.example()
            )),
        ));
    }
    let addr = conn.address();
    if let Some(r) = session.store().state().resources.get(&addr) {
        return Err(Error::message(
            format!("`{addr}` is already managed, as {}", r.id),
            Some(format!(
                "`flowform state rm {addr}` first to manage another {} under this key",
                conn.kind.noun
            )),
        ));
    }
    free(session, &conn, id, None)?;
    let Some(client) = session.client.clone() else {
        return Err(Error::message(
            format!("importing reads the {} from AEP (or --emulator)", conn.kind.noun),
            None,
        ));
    };
    let Some(live) = session
        .runtime
        .block_on(client.get(conn.kind.collection, &conn.sandbox, id))?
    else {
        return Err(Error::message(
            format!("AEP has no {} {id} in sandbox `{}`", conn.kind.noun, conn.sandbox),
            None,
        ));
    };
    as_declared(session, &conn, &live, None)?;
    // What it refers to that is declared and not managed yet comes with it, at the ids AEP
    // shows (a dataflow's source and target connections, their base connection): imported
    // alone, the next plan would create those anew and replace it.
    let mut read: BTreeMap<String, Option<LiveObject>> = BTreeMap::new();
    let links = loop {
        let seen = |_: &Kind, _: &str, id: &str| read.get(id).and_then(Option::as_ref);
        let chain =
            crate::plan::chain::walk(&session.desired, session.store().state(), [(&conn, &live)], seen);
        if let Some(problem) = chain.problems.into_iter().next() {
            return Err(Error::message(problem.message, problem.help));
        }
        let unread: Vec<_> = chain
            .unread
            .into_iter()
            .filter(|(_, _, id)| !read.contains_key(id))
            .collect();
        if unread.is_empty() {
            break chain.links;
        }
        for (kind, sandbox, id) in unread {
            let found = session
                .runtime
                .block_on(client.get(kind.collection, &sandbox, &id))?;
            read.insert(id, found);
        }
    };
    let mut taken: Vec<(String, &crate::config::Resource, &LiveObject)> = Vec::new();
    for (address, link) in &links {
        let Some(member) = session.desired.resources.get(address) else {
            continue;
        };
        let Some(l) = read.get(&link.id).and_then(Option::as_ref) else {
            return Err(Error::message(
                format!(
                    "`{address}` ({}): AEP has no {} {} in sandbox `{}`",
                    link.why(),
                    link.kind.noun,
                    link.id,
                    link.sandbox
                ),
                None,
            ));
        };
        free(session, member, &link.id, Some(link))?;
        as_declared(session, member, l, Some(link))?;
        taken.push((address.clone(), member, l));
    }
    // Every check passed: record them all, what is referred to before what refers to it.
    taken.sort_by_key(|(address, d, _)| (kind_order(d.kind), address.clone()));
    taken.push((addr.clone(), &conn, &live));
    // As an `import:` block: each is taken as it is, its secrets not sent; the declared ones'
    // digest is recorded, so that a change to them is sent from now on.
    let fingerprints = session.store().state().fingerprints();
    let now = crate::apply::now_ms();
    let records: Vec<(String, crate::state::Record)> = taken
        .iter()
        .map(|(address, d, l)| {
            let digest = crate::apply::record::declared_secrets_digest(d, &fingerprints);
            (address.clone(), crate::apply::record::adopted(d, l, digest, now))
        })
        .collect();
    let secrets = taken.iter().any(|(_, d, _)| d.kind.params_field().is_some());
    let with: Vec<String> = taken
        .iter()
        .filter(|(address, _, _)| *address != addr)
        .map(|(address, _, _)| format!("`{address}`"))
        .collect();
    for (address, record) in records {
        let id = record.id.clone();
        session.store_mut().record(&address, Some(record))?;
        writeln!(io.err, "{address}: Import complete [id={id}]")?;
    }
    let (with, taken_as) = if with.is_empty() {
        (String::new(), format!("the {} is", conn.kind.noun))
    } else {
        (
            format!(", with what it refers to: {}", with.join(", ")),
            "each is".to_owned(),
        )
    };
    writeln!(
        io.out,
        "\nImport successful! `{addr}` is now managed by flowform{with}. Nothing was sent to AEP: {taken_as} taken as it is{}. The next plan shows anything else that differs.",
        if secrets {
            " (AEP keeps its secrets; flowform sends the declared ones when they change)"
        } else {
            ""
        }
    )?;
    Ok(Exit::Success)
}

/// Where a kind stands among the kinds, in dependency order.
fn kind_order(kind: &Kind) -> usize {
    crate::kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

/// Who `d` is, in a message: its address, and for a resource taken with another, why.
fn named(d: &crate::config::Resource, link: Option<&Link>) -> String {
    match link {
        Some(link) => format!("`{}` ({})", d.address(), link.why()),
        None => format!("`{}`", d.key),
    }
}

/// Refuses `id` for `d` when the state holds it under another key, or another state of a
/// shared database manages it: a resource has one key and one state, and what another state
/// manages is refused before anything of it is read.
fn free(session: &Session, d: &crate::config::Resource, id: &str, link: Option<&Link>) -> Result<(), Error> {
    let addr = d.address();
    let state = session.store().state();
    if let Some((other, held)) = state.resources.iter().find(|(_, r)| r.id == id) {
        let help = if held.kind == d.kind {
            format!("one resource has one key: `flowform state mv {other} {addr}` gives it this key instead")
        } else {
            format!(
                "{id} is a {}, and `{addr}` declares a {}: check the id",
                held.kind.noun, d.kind.noun
            )
        };
        let message = match link {
            Some(_) => format!("{}: {id} is already managed as `{other}`", named(d, link)),
            None => format!("{id} is already managed as `{other}`"),
        };
        return Err(Error::message(message, Some(help)));
    }
    if let Some((owner, theirs)) = session.store().owner_elsewhere(&d.sandbox, id)? {
        let conflict = Conflict {
            id: id.to_owned(),
            sandbox: d.sandbox.clone(),
            address: addr,
            owner,
            theirs,
            url: session.store().shown(),
        };
        return Err(StateError::from(PgError::Owned(Box::new(conflict))).into());
    }
    Ok(())
}

/// Refuses what AEP has otherwise than `d` declares in a field that cannot change in place:
/// imported, it would be replaced by the next plan.
fn as_declared(
    session: &Session,
    d: &crate::config::Resource,
    live: &LiveObject,
    link: Option<&Link>,
) -> Result<(), Error> {
    match crate::plan::not_as_declared(&session.desired, session.store().state(), d, live) {
        None => Ok(()),
        Some(m) => {
            let message = format!(
                "{} has `{}` {}, but {} declares {}",
                live.id,
                m.path,
                m.have,
                named(d, link),
                m.declared
            );
            Err(Error::message(message, Some(m.help(d.kind.noun))))
        }
    }
}
