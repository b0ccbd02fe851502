//! Asking a person to approve a plan at the terminal, as Terraform does: only `yes` proceeds,
//! and without a terminal nothing is assumed.

use std::io::{BufRead, IsTerminal};

use super::{Error, Exit, Io};

/// What to ask, for which verb.
pub struct Question<'a> {
    /// `Apply`, `Destroy`.
    pub verb: &'a str,
    pub question: &'a str,
    pub detail: &'a str,
}

/// Asks on the terminal. `None`: there is no terminal to ask on.
fn confirm(io: &mut Io<'_>, q: &Question<'_>) -> std::io::Result<Option<bool>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    write!(
        io.err,
        "\n{}\n  {}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ",
        q.question, q.detail
    )?;
    io.err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(Some(answer.trim() == "yes"))
}

/// Asks for approval unless `auto`. `Err`: not approved (said why).
pub fn approve(io: &mut Io<'_>, auto: bool, q: &Question<'_>) -> Result<(), Error> {
    if auto {
        return Ok(());
    }
    match confirm(io, q)? {
        Some(true) => Ok(()),
        Some(false) => {
            writeln!(io.err, "\n{} cancelled.", q.verb)?;
            Err(Error::reported(Exit::Failure))
        }
        None => Err(Error::message(
            format!(
                "not {} without approval, and there is no terminal to ask on",
                if q.verb == "Destroy" {
                    "destroying"
                } else {
                    "applying"
                }
            ),
            Some(if q.verb == "Destroy" {
                "pass --auto-approve, or save the plan with `flowform plan --destroy --out FILE`, review it, and apply that file"
                    .to_owned()
            } else {
                "pass --auto-approve, or save the plan with `flowform plan --out FILE` and apply that file"
                    .to_owned()
            }),
        )),
    }
}
