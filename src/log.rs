//! Progress and diagnostics on stderr, by verbosity (`-v`, `-vv`, `-vvv`).
//!
//! The level is set once from the command line; the macros check it before formatting, so a
//! quiet run pays nothing. Nothing here ever receives a secret: callers log ids, names,
//! methods, paths, statuses and request ids, never tokens, bodies or param values.

use std::sync::atomic::{AtomicU8, Ordering};

/// 0: warnings and errors only; 1 (`-v`): what flowform decided and why; 2 (`-vv`): every
/// HTTP request; 3 (`-vvv`): retries, token renewals and other detail.
static LEVEL: AtomicU8 = AtomicU8::new(0);

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn enabled(level: u8) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level
}

/// Writes one line to stderr if the level is enabled.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            eprintln!($($arg)*);
        }
    };
}

/// `-v`: what flowform decided.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log_at!(1, $($arg)*) };
}

/// `-vv`: every request.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log_at!(2, $($arg)*) };
}

/// `-vvv`: detail.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)*) => { $crate::log_at!(3, $($arg)*) };
}
