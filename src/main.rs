use std::io::Write;
use std::process::ExitCode;

use flowform::cli;
use flowform::ops::{Exit, Io, render_error};
use flowform::settings::Environment;

fn main() -> ExitCode {
    let env = Environment::from_process();
    // Not locked for the whole run: the emulator's request log writes to stderr from other
    // threads.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    // Colour only for a terminal, and never with NO_COLOR (anstream's rules).
    let color = anstream::AutoStream::choice(&out) != anstream::ColorChoice::Never;
    let outcome = cli::run(
        std::env::args_os(),
        &env,
        &mut Io {
            out: &mut out,
            err: &mut err,
            color,
        },
    );
    let flushed = out.flush();
    let exit = match (outcome, flushed) {
        (Ok(exit), Ok(())) => exit,
        (Ok(_), Err(e)) => fail(&anyhow::Error::from(e), Exit::Failure, &mut err),
        (Err(e), _) => match e.cause {
            Some(cause) => fail(&cause, e.exit, &mut err),
            None => e.exit,
        },
    };
    ExitCode::from(exit as u8)
}

/// Says what went wrong, once; a reader that went away (`flowform schema | head`) is not an
/// error.
fn fail(e: &anyhow::Error, exit: Exit, err: &mut dyn Write) -> Exit {
    let broken_pipe = e
        .chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    if broken_pipe {
        return Exit::Success;
    }
    let _ = render_error(e, err);
    exit
}
