//! `flowform import KEY ID`: take an existing connection under management without changing
//! it. The key must be declared; the next plan shows what differs.

use super::session::{Session, Target};
use super::{Exit, Io};
use crate::diagnostic::did_you_mean;
use crate::settings::Environment;
use crate::state::address;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The declared connection's key
    pub key: String,
    /// The connection's id in AEP
    pub id: String,
    #[command(flatten)]
    pub target: Target,
}

pub fn run(args: &Args, env: &Environment, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let command = format!("flowform import {} {}", args.key, args.id);
    let mut session = match Session::open(&args.target, env, io, &command, true)? {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let exit = import_in(args, &mut session, io);
    super::apply::fold(&mut session, exit, io)
}

fn import_in(args: &Args, session: &mut Session, io: &mut Io<'_>) -> anyhow::Result<Exit> {
    let key = args.key.rsplit_once('/').map_or(args.key.as_str(), |(_, k)| k);
    let Some(conn) = session.desired.connections.get(key).cloned() else {
        let keys: Vec<&str> = session.desired.connections.keys().map(String::as_str).collect();
        let help = did_you_mean(key, keys.iter().copied()).map(|s| format!("\nhelp: did you mean `{s}`?")).unwrap_or_else(|| {
            "\nhelp: declare the connection in the configuration first; flowform imports only what it is told to manage".to_owned()
        });
        writeln!(
            io.err,
            "error: `{key}` is not declared in the configuration{help}"
        )?;
        return Ok(Exit::Failure);
    };
    let uuid = args.id.len() == 36
        && args.id.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    if !uuid {
        writeln!(
            io.err,
            "error: `{}` is not a connection id\nhelp: a connection id is a UUID such as `139f6a5f-a78b-4744-9f6a-5fa78bd74431`",
            args.id
        )?;
        return Ok(Exit::Failure);
    }
    let addr = address(&conn.sandbox, &conn.key);
    if let Some(r) = session.store().state().connections.get(&addr) {
        writeln!(
            io.err,
            "error: `{addr}` is already managed, as {}\nhelp: `flowform state rm {addr}` first to manage another connection under this key",
            r.id
        )?;
        return Ok(Exit::Failure);
    }
    if let Some((other, _)) = session
        .store()
        .state()
        .connections
        .iter()
        .find(|(_, r)| r.id == args.id)
    {
        writeln!(
            io.err,
            "error: {} is already managed as `{other}`\nhelp: one connection has one key: `flowform state mv {other} {}` gives it this key instead",
            args.id, args.key
        )?;
        return Ok(Exit::Failure);
    }
    let Some(client) = session.client.clone() else {
        writeln!(
            io.err,
            "error: importing reads the connection from AEP (or --emulator)"
        )?;
        return Ok(Exit::Failure);
    };
    let live = match session
        .runtime
        .block_on(client.get_connection(&conn.sandbox, &args.id))
    {
        Ok(Some(live)) => live,
        Ok(None) => {
            writeln!(
                io.err,
                "error: AEP has no connection {} in sandbox `{}`",
                args.id, conn.sandbox
            )?;
            return Ok(Exit::Failure);
        }
        Err(e) => {
            writeln!(io.err, "error: {e}")?;
            return Ok(Exit::Failure);
        }
    };
    if live
        .spec_id()
        .is_some_and(|s| !s.eq_ignore_ascii_case(&conn.connection_spec.id))
    {
        writeln!(
            io.err,
            "error: {} is a connection of spec {}, but `{}` declares {}",
            args.id,
            live.spec_id().unwrap_or_default(),
            conn.key,
            conn.connection_spec.id
        )?;
        return Ok(Exit::Failure);
    }
    let record = crate::apply::adopted_record(&conn, &live, None);
    session.store_mut().record(&addr, Some(record))?;
    writeln!(io.err, "{addr}: Import complete [id={}]", args.id)?;
    writeln!(
        io.out,
        "\nImport successful! `{addr}` is now managed by flowform. Its secrets are unknown to flowform, so the next plan sends the declared ones."
    )?;
    Ok(Exit::Success)
}
