//! Progress on stderr while applying: a bar on a terminal, plain lines otherwise, in
//! Terraform's words (`Creating...`, `Creation complete after 2s [id=…]`).

use std::io::{IsTerminal, Write as _};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    terminal: bool,
}

impl Progress {
    pub fn new(actions: usize) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let target = if terminal {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(actions as u64), target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        if terminal {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Progress { bar, terminal }
    }

    /// One line above the bar (or on its own).
    pub fn line(&self, text: impl AsRef<str>) {
        if self.terminal {
            self.bar.println(text.as_ref());
        } else {
            // One write (stderr is unbuffered: `eprintln!` writes the text and its newline
            // apart).
            let mut line = String::with_capacity(text.as_ref().len() + 1);
            line.push_str(text.as_ref());
            line.push('\n');
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }

    pub fn working_on(&self, address: &str) {
        self.bar.set_message(address.to_owned());
    }

    pub fn done_one(&self) {
        self.bar.inc(1);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `2s`, `1m3s`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
