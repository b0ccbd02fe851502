//! `import KEY ID`: take an existing connection under management without changing it. The
//! key must be declared; the next plan shows what differs.

use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::diagnostic::did_you_mean;
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
    if let Some((other, held)) = session.store().state().resources.iter().find(|(_, r)| r.id == id) {
        let help = if held.kind == conn.kind {
            format!("one resource has one key: `flowform state mv {other} {addr}` gives it this key instead")
        } else {
            format!(
                "{id} is a {}, and `{addr}` declares a {}: check the id",
                held.kind.noun, conn.kind.noun
            )
        };
        return Err(Error::message(
            format!("{id} is already managed as `{other}`"),
            Some(help),
        ));
    }
    // A connection has one state: one that another state of a shared database manages is
    // refused before anything is read.
    if let Some((owner, theirs)) = session.store().owner_elsewhere(&conn.sandbox, id)? {
        let conflict = Conflict {
            id: id.to_owned(),
            sandbox: conn.sandbox.clone(),
            address: addr.clone(),
            owner,
            theirs,
            url: session.store().shown(),
        };
        return Err(StateError::from(PgError::Owned(Box::new(conflict))).into());
    }
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
    // What cannot change in place must already be as declared.
    for f in conn
        .kind
        .fields
        .iter()
        .filter(|f| f.update == crate::kind::Update::Replace)
    {
        let (Some(serde_json::Value::String(want)), Some(have)) = (conn.value(f), live.text_at(f.api)) else {
            continue;
        };
        if !want.eq_ignore_ascii_case(have) {
            return Err(Error::message(
                format!("{id} has `{}` {have}, but `{}` declares {want}", f.path, conn.key),
                None,
            ));
        }
    }
    // As an `import:` block: the connection is taken as it is, its secrets not sent; the
    // declared ones' digest is recorded, so that a change to them is sent from now on.
    let digest =
        crate::apply::record::declared_secrets_digest(&conn, &session.store().state().fingerprints());
    let record = crate::apply::record::adopted(&conn, &live, digest, crate::apply::now_ms());
    session.store_mut().record(&addr, Some(record))?;
    writeln!(io.err, "{addr}: Import complete [id={id}]")?;
    writeln!(
        io.out,
        "\nImport successful! `{addr}` is now managed by flowform. Nothing was sent to AEP: the {} is taken as it is{}. The next plan shows anything else that differs.",
        conn.kind.noun,
        if conn.kind.params_field().is_some() {
            " (AEP keeps its secrets; flowform sends the declared ones when they change)"
        } else {
            ""
        }
    )?;
    Ok(Exit::Success)
}
