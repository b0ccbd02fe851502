//! `import KEY ID`: take an existing connection under management without changing it. The
//! key must be declared; the next plan shows what differs.

use super::session::Session;
use super::{Error, Exit, Io, Outcome, Target};
use crate::diagnostic::did_you_mean;
use crate::settings::Environment;
use crate::state::address;
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

/// Whether `id` is a UUID, as AEP's connection ids are.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub fn import(request: &ImportRequest, env: &Environment, io: &mut Io<'_>) -> Outcome {
    let command = format!("flowform import {} {}", request.key, request.id);
    let mut session = Session::open(&request.target, env, io, &command, true)?;
    let outcome = import_in(request, &mut session, io);
    super::apply::fold(&mut session, outcome, io)
}

fn import_in(request: &ImportRequest, session: &mut Session, io: &mut Io<'_>) -> Outcome {
    let (key, id) = (
        request
            .key
            .rsplit_once('/')
            .map_or(request.key.as_str(), |(_, k)| k),
        request.id.as_str(),
    );
    let Some(conn) = session.desired.connections.get(key).cloned() else {
        let keys: Vec<&str> = session.desired.connections.keys().map(String::as_str).collect();
        let help = did_you_mean(key, keys.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| {
                "declare the connection in the configuration first; flowform imports only what it is told to manage".to_owned()
            });
        return Err(Error::message(
            format!("`{key}` is not declared in the configuration"),
            Some(help),
        ));
    };
    if !is_uuid(id) {
        return Err(Error::message(
            format!("`{id}` is not a connection id"),
            Some("a connection id is a UUID such as `139f6a5f-a78b-4744-9f6a-5fa78bd74431`".to_owned()),
        ));
    }
    let addr = address(&conn.sandbox, &conn.key);
    if let Some(r) = session.store().state().connections.get(&addr) {
        return Err(Error::message(
            format!("`{addr}` is already managed, as {}", r.id),
            Some(format!(
                "`flowform state rm {addr}` first to manage another connection under this key"
            )),
        ));
    }
    if let Some((other, _)) = session
        .store()
        .state()
        .connections
        .iter()
        .find(|(_, r)| r.id == id)
    {
        return Err(Error::message(
            format!("{id} is already managed as `{other}`"),
            Some(format!(
                "one connection has one key: `flowform state mv {other} {}` gives it this key instead",
                request.key
            )),
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
            "importing reads the connection from AEP (or --emulator)",
            None,
        ));
    };
    let Some(live) = session
        .runtime
        .block_on(client.get_connection(&conn.sandbox, id))?
    else {
        return Err(Error::message(
            format!("AEP has no connection {id} in sandbox `{}`", conn.sandbox),
            None,
        ));
    };
    if live
        .spec_id()
        .is_some_and(|s| !s.eq_ignore_ascii_case(&conn.connection_spec.id))
    {
        return Err(Error::message(
            format!(
                "{id} is a connection of spec {}, but `{}` declares {}",
                live.spec_id().unwrap_or_default(),
                conn.key,
                conn.connection_spec.id
            ),
            None,
        ));
    }
    // As an `import:` block: the connection is taken as it is, its secrets not sent; the
    // declared ones' digest is recorded, so that a change to them is sent from now on.
    let digest =
        crate::apply::record::declared_secrets_digest(&conn, &session.store().state().fingerprints());
    let record = crate::apply::adopted_record(&conn, &live, digest);
    session.store_mut().record(&addr, Some(record))?;
    writeln!(io.err, "{addr}: Import complete [id={id}]")?;
    writeln!(
        io.out,
        "\nImport successful! `{addr}` is now managed by flowform. Nothing was sent to AEP: the connection is taken as it is (AEP keeps its secrets; flowform sends the declared ones when they change). The next plan shows anything else that differs."
    )?;
    Ok(Exit::Success)
}
