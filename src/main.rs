use std::io::Write;
use std::process::ExitCode;

use flowform::cli::{self, Exit, Io};
use flowform::settings::Environment;

fn main() -> ExitCode {
    let env = Environment::from_process();
    // Not locked for the whole run: the emulator's request log writes to stderr from other
    // threads.
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    // Colour only for a terminal, and never with NO_COLOR (anstream's rules).
    let color = anstream::AutoStream::choice(&out) != anstream::ColorChoice::Never;
    let result = cli::run(
        std::env::args_os(),
        &env,
        &mut Io {
            out: &mut out,
            err: &mut err,
            color,
        },
    );
    let flushed = out.flush();
    match result.and_then(|exit| flushed.map(|()| exit).map_err(Into::into)) {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(exit) => ExitCode::from(exit as u8),
        // A reader that went away (`flowform schema | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
