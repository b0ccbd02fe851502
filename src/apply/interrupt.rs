//! Stopping an apply part-way (Ctrl-C): no new request is started, those in flight may
//! finish (each outcome journalled as it comes), and whatever does not finish within
//! [`GRACE`] is left as an intent without an outcome, which the next plan resolves as it
//! resolves a crash (a create by listing, never by creating again).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long the requests in flight may take to finish once an apply is interrupted: long
/// enough for an answer that was on its way, short enough for a person waiting at a
/// terminal (a second Ctrl-C ends the process at once).
pub const GRACE: Duration = Duration::from_secs(20);

/// A request to stop, shared by whoever asks (a signal handler) and the apply.
#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    set: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks the apply to stop starting requests.
    pub fn trigger(&self) {
        self.inner.set.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    pub fn is_set(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }

    /// Waits until [`Interrupt::trigger`] is called (at once if it was).
    pub async fn wait(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// What an interrupted apply left, by address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interrupted {
    /// In flight when interrupted, and finished (successfully or not) within the grace.
    pub finished: Vec<String>,
    /// In flight, and still without an answer when the grace ran out: their intents stay
    /// pending for the next plan to resolve.
    pub abandoned: Vec<String>,
    /// Never started.
    pub not_started: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_returns_once_triggered_whenever_it_was() {
        let interrupt = Interrupt::new();
        assert!(!interrupt.is_set());
        let waiter = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.wait().await }
        });
        interrupt.trigger();
        waiter.await.unwrap();
        // Already triggered: no wait at all.
        interrupt.wait().await;
        assert!(interrupt.is_set());
    }
}
