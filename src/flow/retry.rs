//! Backoff, `Retry-After`, and the limit on requests in flight.
//!
//! The in-flight limit adapts as TCP's window does: it grows by one each time a full
//! limit's worth of requests succeeds (additive increase) and halves when AEP answers 429
//! (multiplicative decrease), never above `--parallelism` nor below one. An optional
//! requests-per-second cap spaces requests evenly.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Semaphore;

use super::settings::RetryPolicy;

/// The delay before retry number `attempt` (1 for the first retry): exponential, capped,
/// with jitter so that many clients do not retry in step.
pub fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let capped = exp.min(policy.max_delay);
    // Equal jitter: half fixed, half random.
    let half = capped / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between calls (no need to be unpredictable).
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

struct State {
    limit: f64,
    /// Places in the semaphore (available or held): follows `limit`, which may have dropped
    /// below it, in which case places are withdrawn as requests finish.
    places: usize,
    last_cut: Option<Instant>,
    next_slot: Instant,
}

/// The shared limit on requests in flight.
///
/// Waiters queue on a semaphore, first come first served, and a finished request hands its
/// place to the next one alone: waking every waiter for each place (as a `Notify`'s
/// `notify_waiters` would) costs CPU in proportion to the queue, and a refresh can queue
/// thousands. The adaptive limit is kept by adding places when it grows and withdrawing
/// them, one per finished request, when it shrinks.
pub struct Limiter {
    state: Mutex<State>,
    places: Semaphore,
    max: usize,
    interval: Option<Duration>,
}

impl Limiter {
    pub fn new(max: usize, requests_per_second: Option<f64>) -> Limiter {
        let max = max.max(1);
        Limiter {
            state: Mutex::new(State {
                limit: max as f64,
                places: max,
                last_cut: None,
                next_slot: Instant::now(),
            }),
            places: Semaphore::new(max),
            max,
            // A rate below one a day is one a day (the command's deadline ends it sooner):
            // that keeps every slot computable.
            interval: requests_per_second.map(|r| {
                Duration::try_from_secs_f64(1.0 / r)
                    .unwrap_or(Duration::MAX)
                    .min(Duration::from_secs(86_400))
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// The current limit (for logs and tests).
    pub fn limit(&self) -> usize {
        self.state().limit as usize
    }

    /// Waits for a place, and for the rate cap's next slot.
    pub async fn acquire(&self) -> Permit<'_> {
        // The semaphore is never closed; were it, the request would go without a place
        // rather than never (the limit is a courtesy to AEP, not a safety rule).
        let place = self.places.acquire().await.ok();
        if let Some(interval) = self.interval {
            let slot = {
                let mut s = self.state();
                let slot = s.next_slot.max(Instant::now());
                s.next_slot = slot.checked_add(interval).unwrap_or(slot);
                slot
            };
            tokio::time::sleep_until(slot.into()).await;
        }
        // Held from here by the permit, which gives it back when dropped (a future dropped
        // while waiting above gives it back through the semaphore's own guard).
        let held = place.is_some();
        if let Some(place) = place {
            place.forget();
        }
        Permit {
            limiter: self,
            held,
            outcome: Outcome::Other,
        }
    }

    /// A finished request's place: given to the next waiter, or withdrawn when the limit
    /// has dropped below the places there are; and places added when it has grown.
    fn release(&self, held: bool, outcome: Outcome) {
        let mut s = self.state();
        match outcome {
            Outcome::Success => s.limit = (s.limit + 1.0 / s.limit.max(1.0)).min(self.max as f64),
            // One cut per burst of 429s: requests in flight together answer together.
            Outcome::Throttled
                if s.last_cut
                    .is_none_or(|t| t.elapsed() > Duration::from_millis(100)) =>
            {
                s.limit = (s.limit / 2.0).max(1.0);
                s.last_cut = Some(Instant::now());
            }
            _ => {}
        }
        let wanted = (s.limit as usize).clamp(1, self.max);
        let mut give = usize::from(held);
        if held && s.places > wanted {
            s.places -= 1;
            give = 0;
        } else if s.places < wanted {
            give += wanted - s.places;
            s.places = wanted;
        }
        drop(s);
        if give > 0 {
            self.places.add_permits(give);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Throttled,
    Other,
}

/// A place in flight; tell it how the request went, or just drop it.
pub struct Permit<'a> {
    limiter: &'a Limiter,
    /// Whether it holds one of the semaphore's places.
    held: bool,
    outcome: Outcome,
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.outcome = Outcome::Success;
    }

    pub fn throttled(mut self) {
        self.outcome = Outcome::Throttled;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.held, self.outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let policy = RetryPolicy {
            attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            budget: Duration::from_secs(60),
        };
        for attempt in 1..12 {
            let d = backoff(&policy, attempt);
            let full = (Duration::from_millis(100) * 2u32.pow(attempt - 1)).min(Duration::from_secs(2));
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(30)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[tokio::test]
    async fn the_limit_halves_on_429_and_grows_back() {
        let limiter = Limiter::new(8, None);
        limiter.acquire().await.throttled();
        assert_eq!(limiter.limit(), 4);
        for _ in 0..40 {
            limiter.acquire().await.success();
        }
        assert_eq!(limiter.limit(), 8);
        // Never above the maximum, never below one.
        let limiter = Limiter::new(1, None);
        limiter.acquire().await.throttled();
        assert_eq!(limiter.limit(), 1);
    }

    #[tokio::test]
    async fn a_cut_limit_withdraws_places_as_requests_finish() {
        let limiter = std::sync::Arc::new(Limiter::new(4, None));
        let held: Vec<Permit<'_>> = vec![
            limiter.acquire().await,
            limiter.acquire().await,
            limiter.acquire().await,
        ];
        limiter.acquire().await.throttled();
        assert_eq!(limiter.limit(), 2);
        // Three still in flight, over the new limit of two: the finished ones' places are
        // withdrawn until two are left.
        drop(held);
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let waiting = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter.acquire().await.success();
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn at_most_the_limit_is_in_flight() {
        let limiter = std::sync::Arc::new(Limiter::new(2, None));
        let a = limiter.acquire().await;
        let _b = limiter.acquire().await;
        let waiting = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                limiter.acquire().await.success();
            })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        waiting.await.unwrap();
    }
}
