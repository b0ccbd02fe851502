//! The command's deadline (`--timeout`): one instant by which every request, retry and wait
//! of the run must be over. A request's timeout is the smaller of its own and the time left;
//! a wait that would outlast the deadline is not started.

use std::fmt;
use std::time::{Duration, Instant};

/// When the command must be done with AEP.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    /// `None`: so far away that `Instant` cannot hold it.
    at: Option<Instant>,
    /// What the user gave (or the default), for messages.
    budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(budget),
            budget,
        }
    }

    /// The time left, zero once passed; `None` when unbounded.
    pub fn left(&self) -> Option<Duration> {
        self.at.map(|at| at.saturating_duration_since(Instant::now()))
    }

    pub fn passed(&self) -> bool {
        self.left() == Some(Duration::ZERO)
    }

    /// `timeout`, shortened to the time left. The second value says whether the deadline is
    /// what bounds it (so that running out is the deadline passing, not a slow request).
    pub fn bound(&self, timeout: Duration) -> (Duration, bool) {
        match self.left() {
            Some(left) if left <= timeout => (left, true),
            _ => (timeout, false),
        }
    }

    /// Whether a wait of `wait` ends before the deadline.
    pub fn allows(&self, wait: Duration) -> bool {
        self.left().is_none_or(|left| wait < left)
    }

    /// `--timeout 30m`, as the user would write it.
    pub fn flag(&self) -> String {
        format!("--timeout {}", Human(self.budget))
    }
}

/// A duration as `--timeout` reads it: `30m`, `1h30m`, `3s`, `1500ms`.
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_millis() != 0 || d.is_zero() {
            return write!(f, "{}ms", d.as_millis());
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let mut wrote = false;
        for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
                wrote = true;
            }
        }
        if !wrote {
            write!(f, "0s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_the_flag_takes_them() {
        for (d, text) in [
            (Duration::from_secs(1800), "30m"),
            (Duration::from_secs(3), "3s"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(3601), "1h1s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::ZERO, "0ms"),
        ] {
            assert_eq!(Human(d).to_string(), text);
        }
    }

    #[test]
    fn a_far_deadline_is_unbounded_and_a_near_one_bounds_requests() {
        let far = Deadline::after(Duration::MAX);
        assert_eq!(far.left(), None);
        assert!(far.allows(Duration::MAX));
        assert_eq!(
            far.bound(Duration::from_secs(30)),
            (Duration::from_secs(30), false)
        );
        let near = Deadline::after(Duration::from_secs(5));
        let (timeout, by_deadline) = near.bound(Duration::from_secs(30));
        assert!(by_deadline && timeout <= Duration::from_secs(5));
        assert_eq!(
            near.bound(Duration::from_secs(1)),
            (Duration::from_secs(1), false)
        );
        assert!(!near.allows(Duration::from_secs(6)));
        let gone = Deadline::after(Duration::ZERO);
        assert!(gone.passed());
        assert_eq!(gone.flag(), "--timeout 0ms");
    }
}
