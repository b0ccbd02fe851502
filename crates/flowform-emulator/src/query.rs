//! The query language of the Flow Service's listings (`GET /connections`,
//! `/sourceConnections`, `/targetConnections`): `property` filters, `orderby`, `limit`,
//! `count` and `continuationToken`, with AEP's error codes for each mistake
//! (flow-service-notes §3). It reads what [`crate::select`] describes.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;
use crate::record::Kind;
use crate::select::{Filter, Key, Op, Order, Path};

/// The largest page AEP returns.
pub const MAX_LIMIT: usize = 100;

fn invalid(code: u16, detail: impl Into<String>) -> ApiError {
    ApiError::flow(StatusCode::BAD_REQUEST, code, "Bad request", detail)
}

/// Properties whose values are text: ordering operators on them are refused, as AEP
/// refuses them (1450).
const TEXT: &[&str] = &[
    "id",
    "name",
    "description",
    "state",
    "baseConnectionId",
    "connectionSpec.id",
    "connectionSpec.version",
    "createdBy",
    "updatedBy",
    "createdClient",
    "updatedClient",
    "sandboxId",
    "sandboxName",
    "imsOrgId",
    "version",
    "etag",
];

/// Properties whose values are times (ms): every value given for them must be a number.
const TIMES: &[&str] = &["createdAt", "updatedAt"];

/// One `property` value, `path<op>value[,value…]`, for a listing of `kind`.
///
/// The path is any dotted path into the item ([`crate::select`]); its first step must be a
/// property the kind's items have, else 1451 (a path AEP could not know to be valid). An
/// ordering operator needs numbers (1452), and one value (1443).
pub fn parse_filter(expr: &str, kind: Kind) -> Result<Filter, ApiError> {
    const OPS: [(&str, Option<Op>); 7] = [
        ("==", Some(Op::Eq)),
        (">=", Some(Op::Ge)),
        ("<=", Some(Op::Le)),
        ("!=", None),
        ("~", None),
        (">", Some(Op::Gt)),
        ("<", Some(Op::Lt)),
    ];
    let found = OPS
        .iter()
        .filter_map(|(text, op)| expr.find(text).map(|i| (i, *text, *op)))
        .min_by_key(|(i, text, _)| (*i, std::cmp::Reverse(text.len())));
    let Some((at, text, op)) = found else {
        return Err(invalid(1450, format!("Invalid operator in property '{expr}'")));
    };
    let op = match (text, op) {
        ("~", _) => return Err(invalid(1440, "Operator '~' is not implemented")),
        (_, Some(op)) => op,
        (text, None) => return Err(invalid(1450, format!("Invalid operator '{text}'"))),
    };
    let name = &expr[..at];
    let Some(path) = Path::parse(name).filter(|p| kind.has_property(p.head())) else {
        return Err(invalid(
            1451,
            format!("Invalid params: property '{name}' cannot be filtered"),
        ));
    };
    let values: Vec<String> = expr[at + text.len()..]
        .split(',')
        .map(|v| v.trim().trim_matches('"').to_owned())
        .collect();
    if values.iter().any(String::is_empty) {
        return Err(invalid(1453, format!("Empty value in property '{expr}'")));
    }
    if op != Op::Eq && values.len() > 1 {
        return Err(invalid(
            1443,
            format!("Operator '{text}' is not allowed for multiple values"),
        ));
    }
    if op != Op::Eq && TEXT.contains(&name) {
        return Err(invalid(
            1450,
            format!("Operator '{text}' is not allowed for property '{name}'"),
        ));
    }
    let numeric = op != Op::Eq || TIMES.contains(&name);
    if numeric && values.iter().any(|v| v.parse::<f64>().is_err()) {
        return Err(invalid(1452, format!("Invalid value in property '{expr}'")));
    }
    if path.is("state")
        && let Some(bad) = values
            .iter()
            .find(|v| !["enabled", "disabled", "initializing"].contains(&v.as_str()))
    {
        return Err(invalid(
            1456,
            format!("State {bad} is not a valid value. Allowed values are [enabled, disabled, initializing]"),
        ));
    }
    Ok(Filter { path, op, values })
}

/// An `orderby` value.
pub fn parse_order(text: &str) -> Result<Order, ApiError> {
    Ok(match text.trim() {
        "name" | "+name" => Order::NameAsc,
        "-name" => Order::NameDesc,
        "updatedAt" | "+updatedAt" => Order::UpdatedAsc,
        "-updatedAt" => Order::UpdatedDesc,
        other => {
            return Err(invalid(
                1432,
                format!("Invalid orderby '{other}': supported are name, -name, updatedAt, -updatedAt"),
            ));
        }
    })
}

/// The `orderby` value that asks for `order`.
pub fn order_param(order: Order) -> &'static str {
    match order {
        Order::UpdatedDesc => "-updatedAt",
        Order::UpdatedAsc => "updatedAt",
        Order::NameAsc => "name",
        Order::NameDesc => "-name",
    }
}

/// What a continuation token carries: everything needed for the next page, so that a
/// client may follow `_links.next.href` alone or resend its own parameters with the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The listing it continues.
    #[serde(rename = "c")]
    pub kind: Kind,
    /// The emulator run that issued it (tokens do not outlive a restart).
    #[serde(rename = "e")]
    pub epoch: u64,
    #[serde(rename = "s")]
    pub snapshot: u64,
    #[serde(rename = "o")]
    pub order: Order,
    #[serde(rename = "k")]
    pub after: Key,
    #[serde(rename = "p")]
    pub properties: Vec<String>,
    #[serde(rename = "l")]
    pub limit: usize,
    /// When it was issued (ms), for expiry.
    #[serde(rename = "t")]
    pub issued: i64,
}

impl Cursor {
    /// Base64 with padding: real tokens contain `=` too, and a client that cuts the token
    /// out of an href at the first `=` (as aepp does) breaks on them, as it should in a test.
    pub fn encode(&self) -> String {
        let mut json = serde_json::to_vec(self).unwrap_or_default();
        // Trailing spaces (which JSON ignores) make the length 1 more than a multiple of 3,
        // so every token ends in `==`.
        while json.len() % 3 != 1 {
            json.push(b' ');
        }
        base64_encode(&json)
    }

    pub fn decode(token: &str) -> Result<Cursor, ApiError> {
        let bad = || invalid(1451, "Invalid params: the continuation token is not valid");
        let bytes = base64_decode(token).ok_or_else(bad)?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// The parameters of one listing.
///
/// A parameter may come more than once with the same value: a client that follows
/// `_links.next.href` and sends its own parameters again (as aepp does, with `requests`'
/// `params=`) repeats every one of them, and AEP pages such a listing. Distinct `property`
/// filters are ANDed; identical ones count once. A single-valued parameter (`limit`,
/// `orderby`, `count`, `continuationToken`) given twice with different values is refused.
#[derive(Clone, Debug, Default)]
pub struct ListParams {
    /// The distinct `property` values, in the order first given.
    pub properties: Vec<String>,
    pub filters: Vec<Filter>,
    pub order: Option<Order>,
    pub limit: Option<usize>,
    pub count: bool,
    pub token: Option<String>,
}

/// Sets a single-valued parameter, refusing a second, different value.
fn once<T: PartialEq>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), ApiError> {
    match slot {
        Some(earlier) if *earlier != value => Err(invalid(
            1451,
            format!("Invalid params: {name} is given more than once, with different values"),
        )),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

impl ListParams {
    pub fn parse(raw: Option<&str>, kind: Kind) -> Result<ListParams, ApiError> {
        let mut params = ListParams::default();
        let mut count = None;
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match key.as_ref() {
                // A filter given again adds nothing to the AND.
                "property" if params.properties.iter().any(|p| *p == value) => {}
                "property" => {
                    params.filters.push(parse_filter(&value, kind)?);
                    params.properties.push(value.into_owned());
                }
                "orderby" => once(&mut params.order, parse_order(&value)?, "orderby")?,
                // Compared as capped: `limit=500` asks for the same pages as `limit=100`.
                "limit" => match value.parse::<usize>() {
                    Ok(n) if n > 0 => once(&mut params.limit, n.min(MAX_LIMIT), "limit")?,
                    _ => {
                        return Err(invalid(
                            1451,
                            format!("Invalid params: limit '{value}' is not a positive number"),
                        ));
                    }
                },
                "count" => match value.as_ref() {
                    "true" => once(&mut count, true, "count")?,
                    "false" => once(&mut count, false, "count")?,
                    _ => {
                        return Err(invalid(
                            1451,
                            format!("Invalid params: count '{value}' is not a boolean"),
                        ));
                    }
                },
                "continuationToken" => once(&mut params.token, value.into_owned(), "continuationToken")?,
                // Other parameters are not a listing's business; AEP ignores them too.
                _ => {}
            }
        }
        params.count = count.unwrap_or(false);
        if params.count && params.limit.is_some() {
            return Err(invalid(
                1401,
                "The limit and count parameters cannot be given together in the same request",
            ));
        }
        Ok(params)
    }

    /// Whether `properties` are the same filters as this request's (in any order: they are
    /// ANDed).
    pub fn same_properties(&self, properties: &[String]) -> bool {
        let mine: BTreeSet<&String> = self.properties.iter().collect();
        mine == properties.iter().collect::<BTreeSet<_>>()
    }
}

/// Standard base64 with `=` padding, as AEP's tokens end; read back whether a client kept
/// the padding or not.
const TOKENS: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn base64_encode(bytes: &[u8]) -> String {
    base64::Engine::encode(&TOKENS, bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::Engine::decode(&TOKENS, text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_like_aep() {
        let parse = |expr: &str| parse_filter(expr, Kind::Connections);
        let f = parse("connectionSpec.id==a,b").unwrap();
        assert_eq!(
            (f.path.text.as_str(), f.op, f.values.clone()),
            ("connectionSpec.id", Op::Eq, vec!["a".into(), "b".into()])
        );
        assert_eq!(parse("name==\"salesforce\"").unwrap().values, vec!["salesforce"]);
        assert_eq!(parse("createdAt>=5").unwrap().op, Op::Ge);
        let code = |expr: &str| match parse(expr).unwrap_err() {
            ApiError::Flow { code, .. } => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code("name~x"), 1440);
        assert_eq!(code("name!=x"), 1450);
        assert_eq!(code("name"), 1450);
        assert_eq!(code("colour==red"), 1451);
        assert_eq!(code("name=="), 1453);
        assert_eq!(code("createdAt<=1,2"), 1443);
        assert_eq!(code("createdAt>=soon"), 1452);
        assert_eq!(code("state==deleted"), 1456);
        assert_eq!(code("name>x"), 1450);
        assert_eq!(code("auth.params.x>y"), 1452);
        assert_eq!(
            code("params.tableName==Contact"),
            1451,
            "base connections have no params"
        );
        assert_eq!(code("a..b==c"), 1451);
    }

    #[test]
    fn any_path_of_a_kinds_items_can_be_filtered() {
        let ok = |expr: &str, kind| parse_filter(expr, kind).is_ok();
        assert!(ok("params.tableName==Contact", Kind::SourceConnections));
        assert!(ok("params.columns[].name==Email", Kind::SourceConnections));
        assert!(ok("baseConnectionId==a,b", Kind::SourceConnections));
        assert!(ok("params.dataSetId==x", Kind::TargetConnections));
        assert!(ok(
            "inheritedAttributes.baseConnection.id==x",
            Kind::TargetConnections
        ));
        assert!(ok("auth.params.username==u", Kind::Connections));
        assert!(!ok("baseConnectionId==a", Kind::Connections));
        assert!(!ok("auth.specName==x", Kind::SourceConnections));
    }

    #[test]
    fn tokens_round_trip_and_carry_padding() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i: u32| (i * 37 % 256) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        let cursor = Cursor {
            kind: Kind::SourceConnections,
            epoch: 1,
            snapshot: 9,
            order: Order::NameDesc,
            after: Key::Name("a b".into(), "id".into()),
            properties: vec!["name==x".into()],
            limit: 100,
            issued: 5,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(cursor.encode().ends_with("=="));
        assert!(Cursor::decode("not base64!").is_err());
    }

    #[test]
    fn count_and_limit_exclude_each_other() {
        assert!(ListParams::parse(Some("count=true&limit=5"), Kind::Connections).is_err());
        let p = ListParams::parse(
            Some("limit=500&property=state%3D%3Denabled&property=name==a%20b"),
            Kind::Connections,
        )
        .unwrap();
        assert_eq!(p.limit, Some(MAX_LIMIT));
        assert_eq!(p.filters[1].values, vec!["a b"]);
    }

    #[test]
    fn repeated_parameters_count_once_unless_they_conflict() {
        // (query, accepted, distinct property filters)
        let cases: &[(&str, bool, usize)] = &[
            ("property=name==a&property=name==a", true, 1),
            ("property=name==a&property=state==enabled", true, 2),
            (
                "property=name==a&property=state==enabled&property=name==a",
                true,
                2,
            ),
            ("limit=10&limit=10", true, 0),
            ("limit=100&limit=500", true, 0),
            ("limit=10&limit=20", false, 0),
            ("orderby=name&orderby=%2Bname", true, 0),
            ("orderby=name&orderby=-name", false, 0),
            ("count=true&count=true", true, 0),
            ("count=true&count=false", false, 0),
            ("continuationToken=abc&continuationToken=abc", true, 0),
            ("continuationToken=abc&continuationToken=abd", false, 0),
        ];
        for (query, accepted, filters) in cases {
            match ListParams::parse(Some(query), Kind::Connections) {
                Ok(p) => {
                    assert!(accepted, "{query} was accepted");
                    assert_eq!(p.filters.len(), *filters, "{query}");
                    assert_eq!(p.properties.len(), *filters, "{query}");
                }
                Err(ApiError::Flow { code, detail, .. }) => {
                    assert!(!accepted, "{query} was refused: {detail}");
                    assert_eq!(code, 1451, "{query}");
                    assert!(detail.contains("more than once"), "{detail}");
                }
                Err(other) => panic!("{query}: {other:?}"),
            }
        }
        let p = ListParams::parse(
            Some("property=state==enabled&property=name==a"),
            Kind::Connections,
        )
        .unwrap();
        assert!(p.same_properties(&["name==a".into(), "state==enabled".into()]));
        assert!(!p.same_properties(&["name==a".into()]));
    }
}
