//! Reading YAML nodes into values, each problem recorded as a [`Diagnostic`] at its place.
//!
//! The primitives every configuration reader shares — the document's (`config`), each kind's
//! generic fields (`kind::read`) and a kind's own fields (a base connection's auth) — so that
//! a mistake reads the same wherever it is made. A reader never stops at a problem: it
//! records it and carries on with what it can still read, so one run reports every mistake.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::diagnostic::{Diagnostic, Diagnostics, did_you_mean};
use crate::settings::Environment;
use crate::yaml::{Location, Node, Value};

/// Mapping fields that hold fields of their own: a field that follows one of them left empty
/// (`params:` with nothing after it) was most likely meant under it.
const HOLDERS: &[&str] = &[
    "connections",
    "sources",
    "targets",
    "connectionSpec",
    "auth",
    "params",
    "lifecycle",
    "import",
    "data",
    "schema",
];

/// How to load.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Resolve `${env:…}` and `${file:…}` references (an unresolvable one is an error).
    /// Off for checking files where the secrets are not available, such as a pull request.
    pub resolve_secrets: bool,
    /// Resolve them only in these files (their real paths): a plan narrowed by `-c` reads
    /// the whole project, to know every key, but needs only its own files' secrets.
    pub secrets_only_in: Option<BTreeSet<std::path::PathBuf>>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            resolve_secrets: true,
            secrets_only_in: None,
        }
    }
}

impl LoadOptions {
    /// The options for one file.
    pub fn for_file(&self, path: &Path) -> LoadOptions {
        let resolve = self.resolve_secrets
            && self
                .secrets_only_in
                .as_ref()
                .is_none_or(|only| std::fs::canonicalize(path).is_ok_and(|real| only.contains(&real)));
        LoadOptions {
            resolve_secrets: resolve,
            secrets_only_in: None,
        }
    }
}

/// The fields of a mapping, by name, after checking that the keys are known strings.
pub struct Fields<'n> {
    by_name: BTreeMap<&'n str, (&'n Node, &'n Node)>,
    /// Known fields a misspelt one was taken for ("did you mean"): not reported missing too.
    misspelt: BTreeSet<String>,
}

impl<'n> Fields<'n> {
    /// Whether `name` is absent only because it was misspelt (and said so already).
    pub fn misspelt(&self, name: &str) -> bool {
        self.misspelt.contains(name)
    }

    pub fn get(&self, name: &str) -> Option<&'n Node> {
        self.by_name.get(name).map(|(_, v)| *v)
    }

    /// Where the field's name is written (for "missing …" inside its value).
    pub fn key_location(&self, name: &str) -> Option<Location> {
        self.by_name.get(name).map(|(k, _)| k.location)
    }
}

/// Where in the document a value sits: the resource key (if inside one) and the field path.
#[derive(Clone, Copy)]
pub struct At<'p> {
    pub key: Option<&'p str>,
    pub field: &'p str,
}

impl<'p> At<'p> {
    /// A field of the resource `key`.
    pub fn on(key: &'p str, field: &'p str) -> At<'p> {
        At {
            key: Some(key),
            field,
        }
    }

    /// A field outside any resource.
    pub fn top(field: &'p str) -> At<'p> {
        At { key: None, field }
    }
}

/// Reads the nodes of one file.
pub struct Reader<'a> {
    pub file: &'a Path,
    /// Where relative `${file:…}` references are resolved: the file's directory.
    pub base: &'a Path,
    pub env: &'a Environment,
    pub options: &'a LoadOptions,
    pub diagnostics: &'a mut Diagnostics,
    /// What the resource being read is, for messages (a base connection when `None`).
    pub noun: Option<&'static str>,
}

impl Reader<'_> {
    pub fn error(&mut self, at: At<'_>, location: Location, message: impl Into<String>) -> &mut Diagnostic {
        let mut d = Diagnostic::error(message)
            .at(self.file, location)
            .key(at.key)
            .field(at.field);
        d.noun = at.key.and(self.noun);
        self.diagnostics.push(d);
        self.last()
    }

    pub fn warning(&mut self, at: At<'_>, location: Location, message: impl Into<String>) -> &mut Diagnostic {
        let mut d = Diagnostic::warning(message)
            .at(self.file, location)
            .key(at.key)
            .field(at.field);
        d.noun = at.key.and(self.noun);
        self.diagnostics.push(d);
        self.last()
    }

    fn last(&mut self) -> &mut Diagnostic {
        match self.diagnostics.last_mut() {
            Some(last) => last,
            None => unreachable!("a diagnostic was just pushed"),
        }
    }

    /// Checks that `node` is a mapping whose keys are strings naming known fields.
    /// `extensions` lets `x-…` keys through (ignored), for the document level.
    pub fn fields<'n>(
        &mut self,
        node: &'n Node,
        at: At<'_>,
        known: &[&str],
        what: &str,
        extensions: bool,
    ) -> Option<Fields<'n>> {
        let Value::Mapping(entries) = &node.value else {
            self.error(
                at,
                node.location,
                format!("expected {what} to be a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        let mut by_name = BTreeMap::new();
        let mut misspelt = BTreeSet::new();
        // The last field left empty (`params:` with nothing after it): a field that follows
        // it unknown here was most likely meant under it, indented one level too little.
        let mut empty_above: Option<(&str, Location)> = None;
        for (k, v) in entries {
            let Some(name) = k.as_str() else {
                self.error(
                    at,
                    k.location,
                    format!("a field name must be a string, found {}", k.value.kind()),
                );
                continue;
            };
            if extensions && name.starts_with("x-") {
                continue;
            }
            if known.contains(&name) {
                by_name.insert(name, (k, v));
                let holds_fields = HOLDERS.contains(&name);
                empty_above = (holds_fields && matches!(v.value, Value::Null)).then_some((name, k.location));
                continue;
            }
            let help = match (empty_above, did_you_mean(name, known.iter().copied())) {
                (Some((owner, place)), _) => format!(
                    "`{owner}` (line {}) is empty: if `{name}` belongs under it, indent it deeper than `{owner}`",
                    place.line
                ),
                (_, Some(s)) => {
                    misspelt.insert(s.to_owned());
                    format!("did you mean `{s}`?")
                }
                (_, None) => format!("expected one of {}", backticked(known)),
            };
            self.error(at, k.location, format!("unknown field `{name}` in {what}"))
                .help = Some(help);
        }
        Some(Fields { by_name, misspelt })
    }

    pub fn string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        match &node.value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.string_expected(at, node.location, other);
                None
            }
        }
    }

    pub fn string_expected(&mut self, at: At<'_>, location: Location, found: &Value) {
        let d = self.error(at, location, format!("expected a string, found {}", found.kind()));
        if let Some(text) = found.scalar_text().filter(|_| !matches!(found, Value::Null)) {
            d.message = format!("expected a string, found {} `{text}`", found.kind());
            d.help = Some(format!("quote it: \"{text}\""));
        }
    }

    pub fn non_empty_string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let s = self.string(node, at)?;
        if s.trim().is_empty() {
            self.error(at, node.location, "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn optional_string(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        match node.value {
            Value::Null => None,
            _ => self.string(node, at),
        }
    }

    /// A list of strings (`[a, b]`), each checked.
    pub fn strings(&mut self, node: &Node, at: At<'_>, example: &str) -> Option<Vec<String>> {
        let Value::Sequence(items) = &node.value else {
            self.error(
                at,
                node.location,
                format!("expected a list, found {}", node.value.kind()),
            )
            .help = Some(format!("e.g. `{example}`"));
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match self.non_empty_string(item, at) {
                Some(s) => out.push(s),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, node: &Node, at: At<'_>) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            ref other => {
                self.error(
                    at,
                    node.location,
                    format!("expected `true` or `false`, found {}", other.kind()),
                );
                None
            }
        }
    }

    /// A sandbox name: lower-case letters, digits and `-`.
    pub fn sandbox(&mut self, node: &Node, at: At<'_>) -> Option<String> {
        let name = self.non_empty_string(node, at)?;
        let valid = name.len() <= 256
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            let lower = name.to_lowercase();
            let help = if lower != name
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                format!("sandbox names are lower case: `{lower}`")
            } else {
                "a sandbox name is lower-case letters, digits and `-`, e.g. `prod` or `dev-2`".to_owned()
            };
            self.error(at, node.location, format!("`{name}` is not a sandbox name"))
                .help = Some(help);
            return None;
        }
        Some(name)
    }

    /// Any YAML value that has a JSON form (a value flowform passes on unread). A secret
    /// reference is read only as the whole value of a param, never inside such a value:
    /// `$${` writes a literal `${` here as it does there.
    pub fn json(&mut self, node: &Node, at: At<'_>) -> Option<serde_json::Value> {
        Some(match &node.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => (*b).into(),
            Value::Int(i) => (*i).into(),
            Value::Float(f, text) => match serde_json::Number::from_f64(*f) {
                Some(n) => serde_json::Value::Number(n),
                None => {
                    self.error(at, node.location, format!("`{text}` has no JSON form"));
                    return None;
                }
            },
            Value::String(s) => match crate::secret::parse(s) {
                Ok(crate::secret::Parsed::Literal(literal)) => literal.into(),
                Ok(crate::secret::Parsed::Reference(_)) | Err(_) => {
                    self.error(
                        at,
                        node.location,
                        "secret references are only read as the whole value of a param",
                    )
                    .help = Some(
                        "move the secret to a param of its own, or write `$${` for a literal `${`".to_owned(),
                    );
                    return None;
                }
            },
            Value::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.json(item, at)?);
                }
                serde_json::Value::Array(out)
            }
            Value::Mapping(entries) => {
                let mut out = serde_json::Map::new();
                for (k, v) in entries {
                    let Some(k) = k.as_str() else {
                        self.error(
                            at,
                            k.location,
                            format!("a key must be a string, found {}", k.value.kind()),
                        );
                        return None;
                    };
                    out.insert(k.to_owned(), self.json(v, at)?);
                }
                serde_json::Value::Object(out)
            }
        })
    }
}

/// The value of `name` in the mapping `node`, if it is one and has it.
pub fn field<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// The key node `name` in the mapping `node` (where the field's name is written).
pub fn key_of<'n>(node: &'n Node, name: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Mapping(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(k, _)| k),
        _ => None,
    }
}

/// `a`, `a or b`, `a, b or c`, each in backticks.
pub fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Whether `s` is a UUID (AEP's resource ids).
/// Epoch seconds of an RFC 3339 moment (`2026-12-01T06:00:00Z`, `…T07:00:00+01:00`,
/// fractions of a second dropped), or of a string of digits; `None` for anything else, or a
/// moment before 1970.
pub fn epoch_seconds(text: &str) -> Option<i64> {
    if !text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let o = rest.as_bytes();
            if o.len() != 6 || o[3] != b':' {
                return None;
            }
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset;
    (seconds >= 0).then_some(seconds)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339, in UTC, of epoch seconds (for plans and `generate`).
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rem = seconds.rem_euclid(86_400);
    // The inverse of `days_from_civil`.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::{epoch_seconds, rfc3339};

    #[test]
    fn moments_read_as_epoch_seconds_and_back() {
        for (text, seconds) in [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2021-02-03T00:01:06Z", Some(1_612_310_466)),
            ("2021-02-03T01:01:06+01:00", Some(1_612_310_466)),
            ("2021-02-03T00:01:06.250Z", Some(1_612_310_466)),
            ("2024-02-29T12:00:00Z", Some(1_709_208_000)),
            ("1612310466", Some(1_612_310_466)),
            ("2023-02-29T12:00:00Z", None),
            ("2021-13-03T00:01:06Z", None),
            ("2021-02-03", None),
            ("1969-12-31T23:59:59Z", None),
            ("2021-02-03T00:01:06", None),
            ("tomorrow", None),
            ("", None),
        ] {
            assert_eq!(epoch_seconds(text), seconds, "{text}");
        }
        for s in [0, 1_612_310_466, 1_709_208_000, 4_102_444_800] {
            assert_eq!(epoch_seconds(&rfc3339(s)), Some(s));
        }
        assert_eq!(rfc3339(1_612_310_466), "2021-02-03T00:01:06Z");
    }
}
