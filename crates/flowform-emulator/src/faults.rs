//! Fault injection: latency, rate limiting, server errors, "commit then fail" and hangs.
//!
//! Faults come from shares (each request rolls the dice, from a generator seeded by
//! `--seed`, so a sequential run is repeatable) and from a script of one-shot faults that the
//! next matching requests take in order, which is what tests use to hit one exact request.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// 429 with `Retry-After`.
    RateLimit,
    /// 500 before anything happens.
    ServerError,
    /// 503 before anything happens.
    Unavailable,
    /// The request is carried out, then answered 500 (POST and PATCH only).
    CommitThenFail,
    /// The request is carried out, then the connection is dropped mid-response (POST and
    /// PATCH only).
    CommitThenDrop,
    /// No answer for `hangMs`: slower than any sane client timeout.
    Hang,
    /// Someone edits the connection (a new etag) just before this PATCH or DELETE reaches it,
    /// as a person in the AEP UI racing an apply would (PATCH and DELETE only).
    ConcurrentEdit,
}

impl Fault {
    /// The methods the fault can happen to; `None`: any.
    pub fn methods(self) -> Option<&'static [&'static str]> {
        match self {
            Fault::CommitThenFail | Fault::CommitThenDrop => Some(&["POST", "PATCH", "PUT"]),
            // It edits the connection the request names: only a PATCH or DELETE of one
            // meets the new etag (a GET would merely edit what it reads).
            Fault::ConcurrentEdit => Some(&["PATCH", "DELETE"]),
            _ => None,
        }
    }

    /// Whether the fault can happen to a request with this method.
    pub fn applies_to(self, method: &str) -> bool {
        self.methods()
            .is_none_or(|methods| methods.iter().any(|m| m.eq_ignore_ascii_case(method)))
    }
}

impl std::fmt::Display for Fault {
    /// The fault's name, as the script and the settings spell it (`concurrent-edit`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => f.write_str(&name),
            _ => write!(f, "{self:?}"),
        }
    }
}

/// A one-shot fault for the next request with this method (when `None`, the next request
/// the fault can happen to) whose path ends with `path` (when given: `/connections` for the
/// next create of a base connection, not of a source connection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scripted {
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub fault: Fault,
}

/// The methods the routes answer (Data Prep replaces a mapping set by PUT).
const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

impl Scripted {
    /// Refuses a fault aimed at a method that could never take it: it would wait in the
    /// script for ever, or (`concurrent-edit` on a GET) do what it does not say.
    pub fn check(&self) -> Result<(), String> {
        let Some(method) = &self.method else {
            return Ok(());
        };
        if !METHODS.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Err(format!(
                "`{method}` is not a method of the Flow Service routes; use {}",
                METHODS.join(", ")
            ));
        }
        match self.fault.methods() {
            Some(methods) if !self.fault.applies_to(method) => Err(format!(
                "`{}` can only be scripted for {}, not {method}",
                self.fault,
                methods.join(" or ")
            )),
            _ => Ok(()),
        }
    }
}

/// The fault settings, as flags set them at start and `PUT /__emulator/faults` at run time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultSettings {
    pub latency_ms: u64,
    /// Up to this much more latency, uniformly drawn.
    pub jitter_ms: u64,
    /// Share of requests answered 429.
    pub rate_limit: f64,
    pub retry_after_s: u64,
    /// Share answered 500.
    pub server_error: f64,
    /// Share answered 503.
    pub unavailable: f64,
    /// Share of POST and PATCH requests carried out, then answered 500.
    pub commit_then_fail: f64,
    /// Share of POST and PATCH requests carried out, then dropped.
    pub commit_then_drop: f64,
    /// Share of requests that hang.
    pub hang: f64,
    pub hang_ms: u64,
    /// Shares apply only to these methods (all when empty).
    pub methods: Vec<String>,
    pub script: VecDeque<Scripted>,
}

impl Default for FaultSettings {
    fn default() -> FaultSettings {
        FaultSettings {
            latency_ms: 0,
            jitter_ms: 0,
            rate_limit: 0.0,
            retry_after_s: 1,
            server_error: 0.0,
            unavailable: 0.0,
            commit_then_fail: 0.0,
            commit_then_drop: 0.0,
            hang: 0.0,
            hang_ms: 300_000,
            methods: Vec::new(),
            script: VecDeque::new(),
        }
    }
}

impl FaultSettings {
    /// Checks shares are shares, and that every scripted fault can happen.
    pub fn validate(&self) -> Result<(), String> {
        for scripted in &self.script {
            scripted.check()?;
        }
        for (name, share) in [
            ("rateLimit", self.rate_limit),
            ("serverError", self.server_error),
            ("unavailable", self.unavailable),
            ("commitThenFail", self.commit_then_fail),
            ("commitThenDrop", self.commit_then_drop),
            ("hang", self.hang),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(format!("`{name}` is a share between 0 and 1, not {share}"));
            }
        }
        Ok(())
    }
}

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub delay: Duration,
    pub fault: Option<Fault>,
}

/// The settings and the dice.
pub struct Faults {
    pub settings: FaultSettings,
    rng: Rng,
}

impl Faults {
    pub fn new(settings: FaultSettings, seed: u64) -> Faults {
        Faults {
            settings,
            rng: Rng::new(seed ^ 0x5eed_fa17),
        }
    }

    /// What happens to a request with `method` to `path`.
    pub fn decide(&mut self, method: &str, path: &str) -> Decision {
        let s = &self.settings;
        let jitter = if s.jitter_ms > 0 {
            self.rng.below(s.jitter_ms + 1)
        } else {
            0
        };
        let delay = Duration::from_millis(s.latency_ms + jitter);
        let writes = matches!(method, "POST" | "PATCH" | "PUT");
        let scripted = self.settings.script.iter().position(|f| {
            f.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                && f.path.as_deref().is_none_or(|p| path.ends_with(p))
                && f.fault.applies_to(method)
        });
        if let Some(i) = scripted {
            let fault = self.settings.script.remove(i).map(|f| f.fault);
            return Decision { delay, fault };
        }
        let s = &self.settings;
        if !s.methods.is_empty() && !s.methods.iter().any(|m| m.eq_ignore_ascii_case(method)) {
            return Decision { delay, fault: None };
        }
        let shares = [
            (s.rate_limit, Fault::RateLimit),
            (s.server_error, Fault::ServerError),
            (s.unavailable, Fault::Unavailable),
            (s.hang, Fault::Hang),
            (
                if writes { s.commit_then_fail } else { 0.0 },
                Fault::CommitThenFail,
            ),
            (
                if writes { s.commit_then_drop } else { 0.0 },
                Fault::CommitThenDrop,
            ),
        ];
        let fault = shares
            .into_iter()
            .find(|(share, _)| self.rng.chance(*share))
            .map(|(_, f)| f);
        Decision { delay, fault }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_faults_go_to_the_next_matching_request() {
        let mut faults = Faults::new(
            FaultSettings {
                script: VecDeque::from([
                    Scripted {
                        path: None,
                        method: Some("POST".into()),
                        fault: Fault::CommitThenFail,
                    },
                    Scripted {
                        path: None,
                        method: None,
                        fault: Fault::RateLimit,
                    },
                ]),
                ..FaultSettings::default()
            },
            1,
        );
        assert_eq!(faults.decide("GET", "/connections").fault, Some(Fault::RateLimit));
        assert_eq!(faults.decide("GET", "/connections").fault, None);
        assert_eq!(
            faults.decide("POST", "/connections").fault,
            Some(Fault::CommitThenFail)
        );
        assert_eq!(faults.decide("POST", "/connections").fault, None);
    }

    #[test]
    fn shares_are_repeatable_under_a_seed() {
        let settings = FaultSettings {
            rate_limit: 0.5,
            ..FaultSettings::default()
        };
        let run = |seed| {
            let mut f = Faults::new(settings.clone(), seed);
            (0..64)
                .map(|_| f.decide("GET", "/connections").fault.is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        let hits = run(3).iter().filter(|h| **h).count();
        assert!((16..48).contains(&hits), "{hits}");
    }

    #[test]
    fn scripted_faults_wait_for_a_method_they_can_happen_to() {
        let scripted = |method: Option<&str>, fault| Scripted {
            path: None,
            method: method.map(str::to_owned),
            fault,
        };
        let mut faults = Faults::new(
            FaultSettings {
                script: VecDeque::from([
                    scripted(None, Fault::ConcurrentEdit),
                    scripted(None, Fault::CommitThenFail),
                ]),
                ..FaultSettings::default()
            },
            1,
        );
        assert_eq!(faults.decide("GET", "/connections").fault, None);
        assert_eq!(
            faults.decide("DELETE", "/connections").fault,
            Some(Fault::ConcurrentEdit)
        );
        assert_eq!(faults.decide("DELETE", "/connections").fault, None);
        assert_eq!(
            faults.decide("POST", "/connections").fault,
            Some(Fault::CommitThenFail)
        );

        // (method, fault, accepted)
        let cases = [
            (Some("PATCH"), Fault::ConcurrentEdit, true),
            (Some("delete"), Fault::ConcurrentEdit, true),
            (None, Fault::ConcurrentEdit, true),
            (Some("GET"), Fault::ConcurrentEdit, false),
            (Some("POST"), Fault::ConcurrentEdit, false),
            (Some("POST"), Fault::CommitThenDrop, true),
            (Some("DELETE"), Fault::CommitThenFail, false),
            (Some("GET"), Fault::Hang, true),
            (Some("PATHC"), Fault::RateLimit, false),
        ];
        for (method, fault, accepted) in cases {
            let item = scripted(method, fault);
            assert_eq!(item.check().is_ok(), accepted, "{item:?}");
            let settings = FaultSettings {
                script: VecDeque::from([item]),
                ..FaultSettings::default()
            };
            assert_eq!(settings.validate().is_ok(), accepted, "{settings:?}");
        }
        assert_eq!(
            scripted(Some("GET"), Fault::ConcurrentEdit).check().unwrap_err(),
            "`concurrent-edit` can only be scripted for PATCH or DELETE, not GET"
        );
    }
}
