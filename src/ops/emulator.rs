//! `emulator`: serve the Flow Service emulator until interrupted.

use flowform_emulator::ims::{DEMO_CLIENT_ID, DEMO_ORG};
use flowform_emulator::{ADMIN_BASE, Emulator, FLOW_BASE, IMS_PATH, Options};

use super::{Exit, Io, Outcome};

/// Serves the emulator with `options` until Ctrl-C or SIGTERM. `demo`: it serves the demo
/// credential (say so).
pub fn serve(options: Options, demo: bool, io: &mut Io<'_>) -> Outcome {
    let data = options.data.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let emulator = Emulator::start(options).await?;
        let base = emulator.base_url();
        writeln!(io.out, "{base}")?;
        io.out.flush()?;
        writeln!(io.err, "flowform emulator listening on {base}")?;
        writeln!(io.err, "  Flow Service: {base}{FLOW_BASE}")?;
        writeln!(io.err, "  IMS tokens:   {base}{IMS_PATH}")?;
        writeln!(
            io.err,
            "  admin:        {base}{ADMIN_BASE}/stats (and others; see the README)"
        )?;
        if demo {
            writeln!(
                io.err,
                "  demo client:  {DEMO_CLIENT_ID} in org {DEMO_ORG} (secret: see the README)"
            )?;
        }
        if let Some(data) = &data {
            writeln!(
                io.err,
                "  data:         {} ({} connections)",
                data.display(),
                emulator.len()
            )?;
        }
        wait_for_stop().await;
        writeln!(io.err, "stopping")?;
        emulator.shutdown().await?;
        Ok(Exit::Success)
    })
}

/// Ctrl-C, or SIGTERM where there are signals.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
