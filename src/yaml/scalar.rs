//! Scalars and tags by the YAML 1.2 core schema: what a plain scalar reads as (null, a
//! boolean, an integer, a float, or else a string), and the tags flowform accepts.

use saphyr_parser::{ScalarStyle, Tag};

use super::{Location, ParseError, Value, error};

pub(super) fn check_collection_tag(
    tag: Option<&Tag>,
    expected: &str,
    location: Location,
) -> Result<(), ParseError> {
    match tag {
        None => Ok(()),
        Some(tag) if is_core_tag(tag) && tag.suffix == expected => Ok(()),
        Some(tag) => Err(error(
            format!("unsupported tag `{}{}`", tag.handle, tag.suffix),
            location,
        )),
    }
}

fn is_core_tag(tag: &Tag) -> bool {
    tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!"
}

/// Resolves a scalar by the YAML 1.2 core schema. Quoted and block scalars are always strings;
/// a plain scalar is null, a boolean, an integer or a float when it reads as one.
pub(super) fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    location: Location,
) -> Result<Value, ParseError> {
    if let Some(tag) = tag {
        let resolved = match (is_core_tag(tag), tag.suffix.as_str()) {
            (true, "str") => Some(Value::String(text.to_owned())),
            (true, "null") => resolve_plain(text).filter(|v| *v == Value::Null),
            (true, "bool") => resolve_plain(text).filter(|v| matches!(v, Value::Bool(_))),
            (true, "int") => resolve_plain(text).filter(|v| matches!(v, Value::Int(_))),
            (true, "float") => match resolve_plain(text) {
                Some(Value::Int(i)) => Some(Value::Float(i as f64, text.to_owned())),
                other => other.filter(|v| matches!(v, Value::Float(..))),
            },
            _ => {
                return Err(error(
                    format!("unsupported tag `{}{}`", tag.handle, tag.suffix),
                    location,
                ));
            }
        };
        return resolved
            .ok_or_else(|| error(format!("`{text}` is not a valid `!!{}`", tag.suffix), location));
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_owned()));
    }
    Ok(resolve_plain(text).unwrap_or_else(|| Value::String(text.to_owned())))
}

/// The core schema's plain-scalar rules; `None` means "a string".
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY, text.to_owned()));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY, text.to_owned())),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN, text.to_owned())),
        _ => {}
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return digits(octal, 8).map(Value::Int);
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return digits(hex, 16).map(Value::Int);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Some(match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            // Too large for i64: still a number, as YAML sees it.
            Err(_) => Value::Float(text.parse().ok()?, text.to_owned()),
        });
    }
    if is_core_float(unsigned) {
        return text.parse::<f64>().ok().map(|f| Value::Float(f, text.to_owned()));
    }
    None
}

fn digits(text: &str, radix: u32) -> Option<i64> {
    if text.is_empty() || !text.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(text, radix).ok()
}

/// `( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`, the sign already removed.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}
