//! Where a kind's field lives in AEP's body: a JSON pointer (`/params/tableName`), with two
//! additions a declaration needs for AEP's lists.
//!
//! - A number is a list's index, as in RFC 6901: `/sourceConnectionIds/0` is the first id of
//!   a flow's list of one.
//! - `name=Copy` is the element of a list whose `name` is `Copy`: a flow's transformations
//!   are a list whose order AEP does not promise (the docs patch `/transformations/0` where
//!   their own read shows the mapping at 1), so a field under one is found by name when
//!   read, and its index is taken from a fresh read when patched ([`concrete`]).
//!
//! Written once here for the reader of AEP's answers, the builder of create bodies, the
//! patcher and the filters.

use serde_json::{Map, Value};

/// One segment of a pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// An object's member.
    Member(&'a str),
    /// A list's element by index.
    Index(usize),
    /// A list's element whose member `.0` is the string `.1`.
    Select(&'a str, &'a str),
}

/// The segments of `pointer`.
pub fn segments(pointer: &str) -> impl Iterator<Item = Segment<'_>> {
    pointer
        .trim_start_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if let Some((member, value)) = s.split_once('=') {
                return Segment::Select(member, value);
            }
            match s.parse::<usize>() {
                // `0` and not `00`: an index is written plainly.
                Ok(i) if s.len() == 1 || !s.starts_with('0') => Segment::Index(i),
                _ => Segment::Member(s),
            }
        })
}

/// The value at `pointer` below `value`.
pub fn get<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    segments(pointer).try_fold(value, |at, segment| step(at, segment))
}

/// The value at `pointer` in an object.
pub fn get_in<'v>(body: &'v Map<String, Value>, pointer: &str) -> Option<&'v Value> {
    let mut parts = segments(pointer);
    let Some(Segment::Member(first)) = parts.next() else {
        return None;
    };
    parts.try_fold(body.get(first)?, |at, segment| step(at, segment))
}

fn step<'v>(at: &'v Value, segment: Segment<'_>) -> Option<&'v Value> {
    match (segment, at) {
        (Segment::Member(m), Value::Object(o)) => o.get(m),
        (Segment::Index(i), Value::Array(a)) => a.get(i),
        (Segment::Select(member, value), Value::Array(a)) => a
            .iter()
            .find(|e| e.get(member).and_then(Value::as_str) == Some(value)),
        _ => None,
    }
}

/// Sets `value` at `pointer` of `body`, making what is on the way: objects for members,
/// lists for indexes (an index past the end appends), and an element `{member: value}` for
/// a selection that finds none.
pub fn put(body: &mut Map<String, Value>, pointer: &str, value: Value) {
    let parts: Vec<Segment<'_>> = segments(pointer).collect();
    let Some((Segment::Member(first), rest)) = parts.split_first() else {
        return;
    };
    if rest.is_empty() {
        body.insert((*first).to_owned(), value);
        return;
    }
    let slot = body
        .entry((*first).to_owned())
        .or_insert_with(|| empty_for(rest[0]));
    put_below(slot, rest, value);
}

fn empty_for(next: Segment<'_>) -> Value {
    match next {
        Segment::Member(_) => Value::Object(Map::new()),
        Segment::Index(_) | Segment::Select(..) => Value::Array(Vec::new()),
    }
}

fn put_below(at: &mut Value, parts: &[Segment<'_>], value: Value) {
    let Some((segment, rest)) = parts.split_first() else {
        *at = value;
        return;
    };
    let fits = matches!(
        (segment, &*at),
        (Segment::Member(_), Value::Object(_)) | (Segment::Index(_) | Segment::Select(..), Value::Array(_))
    );
    if !fits {
        *at = empty_for(*segment);
    }
    let next_empty = || rest.first().map_or(Value::Null, |s| empty_for(*s));
    let slot = match (segment, at) {
        (Segment::Member(m), Value::Object(o)) => o.entry((*m).to_owned()).or_insert_with(next_empty),
        (Segment::Index(i), Value::Array(a)) => {
            if *i >= a.len() {
                a.push(next_empty());
                let last = a.len() - 1;
                &mut a[last]
            } else {
                &mut a[*i]
            }
        }
        (Segment::Select(member, wanted), Value::Array(a)) => {
            let found = a
                .iter()
                .position(|e| e.get(*member).and_then(Value::as_str) == Some(*wanted));
            let i = match found {
                Some(i) => i,
                None => {
                    let mut element = Map::new();
                    element.insert((*member).to_owned(), Value::String((*wanted).to_owned()));
                    a.push(Value::Object(element));
                    a.len() - 1
                }
            };
            &mut a[i]
        }
        _ => return,
    };
    put_below(slot, rest, value);
}

/// The element a pointer selects by name, split off: `/transformations/name=Copy/params/x`
/// is (`/transformations/name=Copy`, `/params/x`). `None` for a plain pointer.
pub fn element(pointer: &str) -> Option<(&str, &str)> {
    let mut at = 0;
    for part in pointer.split('/').skip(1) {
        at += 1 + part.len();
        if part.contains('=') {
            return Some((&pointer[..at], &pointer[at..]));
        }
    }
    None
}

/// `pointer` with each selection replaced by the index it finds in `value` (a fresh read):
/// what a JSON Patch names. `None` when a selection finds nothing.
pub fn concrete(value: &Map<String, Value>, pointer: &str) -> Option<String> {
    let mut out = String::new();
    let mut at: Option<&Value> = None;
    for (n, segment) in segments(pointer).enumerate() {
        match segment {
            Segment::Member(m) => {
                out.push('/');
                out.push_str(m);
                at = if n == 0 { value.get(m) } else { at?.get(m) };
            }
            Segment::Index(i) => {
                out.push('/');
                out.push_str(&i.to_string());
                at = at?.get(i);
            }
            Segment::Select(member, wanted) => {
                let list = at?.as_array()?;
                let i = list
                    .iter()
                    .position(|e| e.get(member).and_then(Value::as_str) == Some(wanted))?;
                out.push('/');
                out.push_str(&i.to_string());
                at = list.get(i);
            }
        }
    }
    Some(out)
}

/// The name AEP's `property` filters give a field: its members dotted, a list of one as
/// `name[]` (`/params/tableName` is `params.tableName`, `/sourceConnectionIds/0` is
/// `sourceConnectionIds[]`).
pub fn filter_name(pointer: &str) -> String {
    let mut out = String::new();
    for segment in segments(pointer) {
        match segment {
            Segment::Member(m) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(m);
            }
            Segment::Index(_) | Segment::Select(..) => out.push_str("[]"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flow() -> Value {
        json!({
            "sourceConnectionIds": ["s1"],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "LastModifiedDate"}}},
                {"name": "Mapping", "params": {"mappingId": "m1", "mappingVersion": "0"}}
            ]
        })
    }

    #[test]
    fn reads_members_indexes_and_selections() {
        let f = flow();
        assert_eq!(get(&f, "/sourceConnectionIds/0"), Some(&json!("s1")));
        assert_eq!(get(&f, "/sourceConnectionIds/1"), None);
        assert_eq!(
            get(&f, "/transformations/name=Mapping/params/mappingId"),
            Some(&json!("m1"))
        );
        assert_eq!(get(&f, "/transformations/name=Filter/params"), None);
        assert_eq!(
            get(&f, "/transformations/name=Copy/params/deltaColumn/name"),
            Some(&json!("LastModifiedDate"))
        );
        let Value::Object(o) = f else { unreachable!() };
        assert_eq!(get_in(&o, "/transformations/1/name"), Some(&json!("Mapping")));
    }

    #[test]
    fn builds_lists_and_selected_elements() {
        let mut body = Map::new();
        put(&mut body, "/sourceConnectionIds/0", json!("s1"));
        put(
            &mut body,
            "/transformations/name=Copy/params/deltaColumn/name",
            json!("D"),
        );
        put(
            &mut body,
            "/transformations/name=Copy/params/deltaColumn/timezone",
            json!("UTC"),
        );
        put(
            &mut body,
            "/transformations/name=Mapping/params/mappingId",
            json!("m"),
        );
        put(&mut body, "/scheduleParams/interval", json!("15"));
        assert_eq!(
            Value::Object(body),
            json!({
                "sourceConnectionIds": ["s1"],
                "transformations": [
                    {"name": "Copy", "params": {"deltaColumn": {"name": "D", "timezone": "UTC"}}},
                    {"name": "Mapping", "params": {"mappingId": "m"}}
                ],
                "scheduleParams": {"interval": "15"}
            })
        );
    }

    #[test]
    fn a_patch_names_the_index_a_fresh_read_shows() {
        let Value::Object(o) = flow() else { unreachable!() };
        assert_eq!(
            concrete(&o, "/transformations/name=Mapping").as_deref(),
            Some("/transformations/1")
        );
        assert_eq!(concrete(&o, "/transformations/name=Filter"), None);
        assert_eq!(concrete(&o, "/name").as_deref(), Some("/name"));
        assert_eq!(
            element("/transformations/name=Mapping/params/mappingId"),
            Some(("/transformations/name=Mapping", "/params/mappingId"))
        );
        assert_eq!(element("/params/tableName"), None);
    }

    #[test]
    fn filters_name_lists_with_brackets() {
        assert_eq!(filter_name("/params/tableName"), "params.tableName");
        assert_eq!(filter_name("/sourceConnectionIds/0"), "sourceConnectionIds[]");
        assert_eq!(filter_name("/baseConnectionId"), "baseConnectionId");
    }
}
