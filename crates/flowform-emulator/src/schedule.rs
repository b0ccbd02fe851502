//! A dataflow's `scheduleParams`: read in any of the encodings clients send, checked against
//! the flow spec's `scheduleSpec` rules, shown as the docs show them, and the ticks it
//! produces on the emulator's clock.
//!
//! The rules are those of the `scheduleSpec` JSON Schema (flow-service-dataflows §2):
//! `startTime` and `frequency` are required; `frequency` is `once`, `minute`, `hour`, `day`
//! or `week`; with `once`, `interval` and `backfill` must be absent; otherwise `interval`
//! is required, at least 15 for `minute` and 1 for the others, and `backfill` defaults to
//! true. `startTime` is epoch seconds.
//!
//! Decisions, where the docs disagree:
//! - **Encodings.** `ScheduleSpecDTO` types `startTime` as an integer, `interval` as a string
//!   and `backfill` as a boolean; the spec's schema has integers; the docs send and return
//!   strings (`"1612310466"`, `"15"`, `"true"`, D-UPDF). Every one of these is accepted (a
//!   string of digits or a non-negative integer; `true`/`false` or `"true"`/`"false"`), and
//!   a flow is always shown as the docs show it: `startTime` and `interval` as strings of
//!   digits, `backfill` as `"true"`/`"false"`.
//! - **Minimum interval**: 15 for `minute`, 1 otherwise, as the spec's schema says (D-CRM's
//!   prose says 15 for every frequency).
//! - **Bounds** (the emulator's, not AEP's): `startTime` at most 253402300799 (9999-12-31)
//!   and `interval` at most 1,000,000, so that no tick overflows.
//! - Other properties of `scheduleParams` are ignored and not kept.
//! - **Ticks** are `startTime + k·interval·unit` (a week is 7 days), the first at or after the
//!   time the flow was created or (re-)enabled; a `once` flow ticks once, at its `startTime`
//!   or, when that has passed, at that time.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The latest `startTime` accepted (9999-12-31T23:59:59Z).
pub const MAX_START_S: i64 = 253_402_300_799;
/// The largest `interval` accepted.
pub const MAX_INTERVAL: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Once,
    Minute,
    Hour,
    Day,
    Week,
}

impl Frequency {
    pub const NAMES: [&'static str; 5] = ["once", "minute", "hour", "day", "week"];

    fn parse(text: &str) -> Option<Frequency> {
        Some(match text {
            "once" => Frequency::Once,
            "minute" => Frequency::Minute,
            "hour" => Frequency::Hour,
            "day" => Frequency::Day,
            "week" => Frequency::Week,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Once => "once",
            Frequency::Minute => "minute",
            Frequency::Hour => "hour",
            Frequency::Day => "day",
            Frequency::Week => "week",
        }
    }

    /// One unit of `interval`, in ms (`once`: 0).
    fn unit_ms(self) -> i64 {
        match self {
            Frequency::Once => 0,
            Frequency::Minute => 60_000,
            Frequency::Hour => 3_600_000,
            Frequency::Day => 86_400_000,
            Frequency::Week => 7 * 86_400_000,
        }
    }

    fn minimum(self) -> u64 {
        if self == Frequency::Minute { 15 } else { 1 }
    }
}

/// A valid schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub start_s: i64,
    pub frequency: Frequency,
    /// 0 for `once`.
    pub interval: u64,
    /// False for `once`.
    pub backfill: bool,
}

/// A non-negative whole number written as a number or a string of digits.
fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

impl Schedule {
    /// Reads and checks `scheduleParams`; the error is the message of a 400.
    pub fn read(value: &Value) -> Result<Schedule, String> {
        let Some(params) = value.as_object() else {
            return Err("Field 'scheduleParams' must be an object".to_owned());
        };
        let present = |key: &str| params.get(key).is_some_and(|v| !v.is_null());
        let start = params
            .get("startTime")
            .filter(|v| !v.is_null())
            .ok_or("scheduleParams: required property 'startTime' not found")?;
        let start_s = whole(start)
            .filter(|s| *s <= MAX_START_S as u64)
            .ok_or("scheduleParams.startTime must be epoch seconds (a whole number, or a string of digits)")?
            as i64;
        let frequency = match params.get("frequency") {
            None | Some(Value::Null) => {
                return Err("scheduleParams: required property 'frequency' not found".to_owned());
            }
            Some(Value::String(f)) => Frequency::parse(f),
            Some(_) => None,
        }
        .ok_or_else(|| {
            format!(
                "scheduleParams.frequency must be one of {}",
                Frequency::NAMES.join(", ")
            )
        })?;
        if frequency == Frequency::Once {
            for key in ["interval", "backfill"] {
                if present(key) {
                    return Err(format!(
                        "scheduleParams.{key} must not be given when frequency is 'once'"
                    ));
                }
            }
            return Ok(Schedule {
                start_s,
                frequency,
                interval: 0,
                backfill: false,
            });
        }
        let interval = params
            .get("interval")
            .filter(|v| !v.is_null())
            .ok_or("scheduleParams: required property 'interval' not found")?;
        let interval = whole(interval).ok_or("scheduleParams.interval must be a whole number")?;
        let minimum = frequency.minimum();
        if interval < minimum || interval > MAX_INTERVAL {
            return Err(format!(
                "scheduleParams.interval {interval} is out of range: for frequency '{}' it is at least {minimum} (and at most {MAX_INTERVAL})",
                frequency.as_str()
            ));
        }
        let backfill = match params.get("backfill") {
            None | Some(Value::Null) => true,
            Some(v) => boolean(v).ok_or("scheduleParams.backfill must be true or false")?,
        };
        Ok(Schedule {
            start_s,
            frequency,
            interval,
            backfill,
        })
    }

    /// As a flow shows it (D-UPDF): strings for numbers and booleans.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("startTime".into(), json!(self.start_s.to_string()));
        out.insert("frequency".into(), json!(self.frequency.as_str()));
        if self.frequency != Frequency::Once {
            out.insert("interval".into(), json!(self.interval.to_string()));
            out.insert(
                "backfill".into(),
                json!(if self.backfill { "true" } else { "false" }),
            );
        }
        Value::Object(out)
    }

    pub fn start_ms(&self) -> i64 {
        self.start_s.saturating_mul(1000)
    }

    /// The time between ticks, in ms (0 for `once`).
    pub fn period_ms(&self) -> i64 {
        (self.interval as i64).saturating_mul(self.frequency.unit_ms())
    }

    /// The first tick at or after `from_ms`; for `once`, its one tick (moved to `from_ms`
    /// when `startTime` has passed).
    pub fn first_tick_at_or_after(&self, from_ms: i64) -> i64 {
        let start = self.start_ms();
        let period = self.period_ms();
        if from_ms <= start {
            return start;
        }
        if period <= 0 {
            return from_ms;
        }
        let steps = (from_ms - start).saturating_add(period - 1) / period;
        start.saturating_add(steps.saturating_mul(period))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_encoding_is_read_and_shown_as_the_docs_show_it() {
        let docs =
            json!({"startTime": "1612310466", "frequency": "minute", "interval": "15", "backfill": "true"});
        let typed = json!({"startTime": 1612310466, "frequency": "minute", "interval": 15, "backfill": true});
        let a = Schedule::read(&docs).unwrap();
        assert_eq!(a, Schedule::read(&typed).unwrap());
        assert_eq!(a.to_json(), docs);
        let no_backfill =
            Schedule::read(&json!({"startTime": 1, "frequency": "hour", "interval": "1"})).unwrap();
        assert!(no_backfill.backfill, "backfill defaults to true");
        let once = Schedule::read(&json!({"startTime": "5", "frequency": "once"})).unwrap();
        assert_eq!(once.to_json(), json!({"startTime": "5", "frequency": "once"}));
    }

    #[test]
    fn the_spec_rules_are_enforced() {
        for (bad, words) in [
            (json!({"frequency": "day", "interval": 1}), "startTime"),
            (
                json!({"startTime": "x", "frequency": "day", "interval": 1}),
                "epoch seconds",
            ),
            (
                json!({"startTime": -1, "frequency": "day", "interval": 1}),
                "epoch seconds",
            ),
            (
                json!({"startTime": 1, "frequency": "daily", "interval": 1}),
                "one of",
            ),
            (json!({"startTime": 1}), "frequency"),
            (
                json!({"startTime": 1, "frequency": "once", "interval": 1}),
                "interval",
            ),
            (
                json!({"startTime": 1, "frequency": "once", "backfill": "true"}),
                "backfill",
            ),
            (json!({"startTime": 1, "frequency": "minute"}), "interval"),
            (
                json!({"startTime": 1, "frequency": "minute", "interval": "14"}),
                "at least 15",
            ),
            (
                json!({"startTime": 1, "frequency": "hour", "interval": 0}),
                "at least 1",
            ),
            (
                json!({"startTime": 1, "frequency": "hour", "interval": 1.5}),
                "whole",
            ),
            (
                json!({"startTime": 1, "frequency": "hour", "interval": 1, "backfill": "yes"}),
                "backfill",
            ),
            (
                json!({"startTime": 1, "frequency": "week", "interval": 1_000_001}),
                "at most",
            ),
            (json!("daily"), "object"),
        ] {
            let error = Schedule::read(&bad).unwrap_err();
            assert!(error.contains(words), "{bad}: {error}");
        }
    }

    #[test]
    fn ticks_are_start_plus_whole_periods() {
        let s = Schedule::read(&json!({"startTime": 1000, "frequency": "minute", "interval": 15})).unwrap();
        let start = 1_000_000;
        let period = 15 * 60_000;
        assert_eq!(s.first_tick_at_or_after(0), start);
        assert_eq!(s.first_tick_at_or_after(start), start);
        assert_eq!(s.first_tick_at_or_after(start + 1), start + period);
        assert_eq!(s.first_tick_at_or_after(start + 2 * period), start + 2 * period);
        let once = Schedule::read(&json!({"startTime": 1000, "frequency": "once"})).unwrap();
        assert_eq!(once.first_tick_at_or_after(5), start);
        assert_eq!(once.first_tick_at_or_after(start + 7), start + 7);
        let far =
            Schedule::read(&json!({"startTime": MAX_START_S, "frequency": "week", "interval": MAX_INTERVAL}))
                .unwrap();
        assert!(far.first_tick_at_or_after(i64::MAX - 5) >= far.start_ms());
    }
}
