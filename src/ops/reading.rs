//! Progress on stderr while the refresh reads AEP (plan, apply, drift): a large estate takes
//! seconds of listing, which should not look like a hang. Shown only on a terminal, and
//! never with `--format json` (a tool reading the output has no one watching it).
//!
//! The bar counts the client's requests against what the refresh expects to send, which it
//! says as it learns each sandbox's size ([`crate::refresh::refresh`]'s `expect`).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::flow::Client;

/// How often the bar looks at the client's request count.
const TICK: Duration = Duration::from_millis(100);

pub struct Reading {
    expected: Arc<AtomicU64>,
    shown: Option<(ProgressBar, tokio::task::JoinHandle<()>)>,
}

/// Whether to show progress: asked for, someone is watching stderr, and no `-v` log is
/// writing there (its lines say what is happening, and would tear the bar).
pub fn wanted(asked: bool) -> bool {
    asked && std::io::stderr().is_terminal() && !crate::log::enabled(1)
}

impl Reading {
    /// Starts showing progress (when `show`) of the requests `client` sends from now on.
    /// Must be called within the runtime that runs the refresh.
    pub fn start(client: &Arc<Client>, show: bool) -> Reading {
        let expected = Arc::new(AtomicU64::new(0));
        if !show {
            return Reading {
                expected,
                shown: None,
            };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        // A count of requests until the refresh says how many it expects, then a bar.
        if let Ok(style) = ProgressStyle::with_template("{spinner} Reading AEP: {pos} requests, {elapsed}") {
            bar.set_style(style);
        }
        let (watched, expecting, drawn) = (client.clone(), expected.clone(), bar.clone());
        let before = client.requests();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            let mut measured = false;
            loop {
                tick.tick().await;
                let sent = watched.requests().saturating_sub(before);
                let expected = expecting.load(Ordering::Relaxed);
                if expected > 0 && !measured {
                    measured = true;
                    if let Ok(style) = ProgressStyle::with_template(
                        "{spinner} Reading AEP [{bar:30}] {pos}/{len} requests, {elapsed}",
                    ) {
                        drawn.set_style(style.progress_chars("=> "));
                    }
                }
                if measured {
                    // A request the refresh did not foresee (a retry, a second look)
                    // stretches the bar rather than overflow it.
                    drawn.set_length(expected.max(sent));
                }
                drawn.set_position(sent);
            }
        });
        Reading {
            expected,
            shown: Some((bar, ticker)),
        }
    }

    /// The refresh expects `requests` more requests.
    pub fn expect(&self, requests: u64) {
        self.expected.fetch_add(requests, Ordering::Relaxed);
    }

    /// Clears the bar: what follows (the plan) is the product.
    pub fn finish(self) {
        if let Some((bar, ticker)) = self.shown {
            ticker.abort();
            bar.finish_and_clear();
        }
    }
}
