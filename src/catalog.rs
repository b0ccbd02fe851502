//! The connection specs flowform knows without asking AEP.
//!
//! Offline validation checks a connection against this catalog: its auth spec names, which
//! params are required, which are secret (AEP marks them `"format": "password"`) and what
//! shape a value must have. The same entries render as the draft-07 JSON Schemas that
//! `GET /connectionSpecs/{id}` returns, so the offline checks, `flowform schema` and anything
//! that serves specs speak about the same thing.
//!
//! Facts come from Adobe's documentation (see `flow-service-notes.md` §11). A spec id that is
//! not here is still accepted; it is checked structurally offline and against the live
//! `GET /connectionSpecs/{id}` schema when flowform talks to AEP.

/// A source's connection spec.
#[derive(Debug)]
pub struct ConnectionSpec {
    pub id: &'static str,
    /// The `source:` shorthand in the configuration.
    pub source: &'static str,
    pub title: &'static str,
    pub version: &'static str,
    /// The auth specs; empty when Adobe's documentation does not publish them, in which case
    /// the spec name and params are checked only structurally offline.
    pub auth_specs: &'static [AuthSpec],
}

/// One way of authenticating to a source (`authSpec[]` of a connection spec).
#[derive(Debug)]
pub struct AuthSpec {
    pub name: &'static str,
    pub params: &'static [ParamSpec],
}

#[derive(Debug)]
pub struct ParamSpec {
    pub name: &'static str,
    pub required: bool,
    /// Marked `"format": "password"` by AEP: write-only, never read back, never stored.
    pub secret: bool,
    pub format: Format,
    pub description: &'static str,
}

/// The value shapes flowform checks offline. Every param is a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    /// An `https://` URL with a host, e.g. `https://acme.my.salesforce.com`.
    HttpsUrl,
    /// A decimal API version written as a string, e.g. `"60.0"`.
    DecimalVersion,
}

impl Format {
    /// Checks a value; the error says what was expected.
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            Format::Text => Ok(()),
            Format::HttpsUrl => {
                let Some(rest) = value.strip_prefix("https://") else {
                    return Err(if value.starts_with("http://") {
                        "must use https://, not http://".to_owned()
                    } else {
                        "must be an https:// URL".to_owned()
                    });
                };
                let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
                let host_name = host.split(':').next().unwrap_or_default();
                let valid = !host_name.is_empty()
                    && host_name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    && !host_name.starts_with(['.', '-'])
                    && !host_name.ends_with(['-'])
                    && !value.chars().any(char::is_whitespace);
                if valid {
                    Ok(())
                } else {
                    Err("must be an https:// URL with a host name".to_owned())
                }
            }
            Format::DecimalVersion => {
                let ok = value.split_once('.').is_some_and(|(major, minor)| {
                    !major.is_empty()
                        && !minor.is_empty()
                        && major.bytes().all(|b| b.is_ascii_digit())
                        && minor.bytes().all(|b| b.is_ascii_digit())
                });
                if ok {
                    Ok(())
                } else {
                    Err("must be a decimal version such as \"60.0\"".to_owned())
                }
            }
        }
    }

    /// A value of this format to show in help lines.
    pub fn example(self) -> &'static str {
        match self {
            Format::Text => "…",
            Format::HttpsUrl => "https://acme.my.salesforce.com",
            Format::DecimalVersion => "\"60.0\"",
        }
    }
}

const fn param(name: &'static str, required: bool, description: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        required,
        secret: false,
        format: Format::Text,
        description,
    }
}

const fn secret(name: &'static str, description: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        required: true,
        secret: true,
        format: Format::Text,
        description,
    }
}

const fn formatted(
    name: &'static str,
    required: bool,
    format: Format,
    description: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        required,
        secret: false,
        format,
        description,
    }
}

pub const SALESFORCE_ID: &str = "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5";

static SPECS: &[ConnectionSpec] = &[
    ConnectionSpec {
        id: SALESFORCE_ID,
        source: "salesforce",
        title: "Salesforce",
        version: "1.0",
        auth_specs: &[
            AuthSpec {
                name: "Basic Authentication",
                params: &[
                    formatted(
                        "environmentUrl",
                        false,
                        Format::HttpsUrl,
                        "The URL of the Salesforce instance, https://[domain].my.salesforce.com",
                    ),
                    param("username", true, "The Salesforce user name"),
                    secret("password", "The Salesforce user's password"),
                    secret("securityToken", "The Salesforce user's security token"),
                    formatted(
                        "apiVersion",
                        false,
                        Format::DecimalVersion,
                        "The Salesforce REST API version, e.g. \"60.0\"; blank means the latest",
                    ),
                ],
            },
            AuthSpec {
                name: "OAuth2 Client Credential",
                params: &[
                    formatted(
                        "environmentUrl",
                        true,
                        Format::HttpsUrl,
                        "The URL of the Salesforce instance, https://[domain].my.salesforce.com",
                    ),
                    param("clientId", true, "The connected app's consumer key"),
                    secret("clientSecret", "The connected app's consumer secret"),
                    formatted(
                        "apiVersion",
                        true,
                        Format::DecimalVersion,
                        "The Salesforce REST API version, e.g. \"60.0\" (required for this auth type)",
                    ),
                ],
            },
            AuthSpec {
                name: "OAuth2 JWT Token Credential",
                params: &[
                    secret("jwtToken", "The signed JWT for the connected app"),
                    param("clientId", true, "The connected app's consumer key"),
                    secret("clientSecret", "The connected app's consumer secret"),
                    formatted(
                        "instanceUrl",
                        true,
                        Format::HttpsUrl,
                        "The URL of the Salesforce instance, https://[domain].my.salesforce.com",
                    ),
                ],
            },
        ],
    },
    ConnectionSpec {
        id: "38ad80fe-8b06-4938-94f4-d4ee80266b07",
        source: "microsoft-dynamics",
        title: "Microsoft Dynamics",
        version: "1.0",
        auth_specs: &[
            AuthSpec {
                name: "Basic Authentication for Dynamics-Online",
                params: &[
                    formatted(
                        "serviceUri",
                        true,
                        Format::HttpsUrl,
                        "The service URL of your Dynamics instance",
                    ),
                    param("username", true, "User name for the user account"),
                    secret("password", "Password for the user account"),
                ],
            },
            AuthSpec {
                name: "Service Principal Key Based Authentication",
                params: &[
                    formatted(
                        "serviceUri",
                        true,
                        Format::HttpsUrl,
                        "The service URL of your Dynamics instance",
                    ),
                    param(
                        "servicePrincipalId",
                        true,
                        "The client id of the service principal",
                    ),
                    secret("servicePrincipalKey", "The service principal's key"),
                ],
            },
        ],
    },
    // Adobe documents these specs' ids but not their auth specs.
    ConnectionSpec {
        id: "cc6a4487-9e91-433e-a3a3-9cf6626c1806",
        source: "hubspot",
        title: "HubSpot",
        version: "1.0",
        auth_specs: &[],
    },
    ConnectionSpec {
        id: "fcad62f3-09b0-41d3-be11-449d5a621b69",
        source: "veeva-crm",
        title: "Veeva CRM",
        version: "1.0",
        auth_specs: &[],
    },
    ConnectionSpec {
        id: "929e4450-0237-4ed2-9404-b7e1e0a00309",
        source: "zoho-crm",
        title: "Zoho CRM",
        version: "1.0",
        auth_specs: &[],
    },
];

/// A warning about a way of authenticating that still works but is going away, which a
/// connection may acknowledge by its `id` (`lifecycle: {acknowledge: [id]}`) once its team
/// has seen it.
#[derive(Debug)]
pub struct Advisory {
    pub id: &'static str,
    pub spec_id: &'static str,
    pub auth_spec: &'static str,
    pub message: &'static str,
    pub help: &'static str,
}

pub const ADVISORIES: &[Advisory] = &[Advisory {
    id: "salesforce-basic-retirement",
    spec_id: SALESFORCE_ID,
    auth_spec: "Basic Authentication",
    message: "Salesforce is retiring the username-password flow that `Basic Authentication` signs in with (Salesforce help article 000886201, 2026); once it is gone, this connection can no longer sign in",
    help: "move it to `OAuth2 Client Credential` (a connected app's `clientId` and `clientSecret`, and `apiVersion`); changing the auth spec replaces the connection. To keep it as it is for now, acknowledge this warning: `lifecycle: {acknowledge: [salesforce-basic-retirement]}`",
}];

/// The advisories that concern a connection of `spec_id` authenticating with `auth_spec`.
pub fn advisories(spec_id: &str, auth_spec: &str) -> impl Iterator<Item = &'static Advisory> {
    ADVISORIES
        .iter()
        .filter(move |a| a.spec_id.eq_ignore_ascii_case(spec_id) && a.auth_spec == auth_spec)
}

/// Every spec in the catalog.
pub fn all() -> &'static [ConnectionSpec] {
    SPECS
}

pub fn by_id(id: &str) -> Option<&'static ConnectionSpec> {
    SPECS.iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

/// The known spec whose id `id` misspells: one or two characters off. Spec ids are random
/// UUIDs, so two real ones are never that close; an id further from every known one may well
/// be a spec flowform does not know, and is left alone.
pub fn misspelt_id(id: &str) -> Option<&'static ConnectionSpec> {
    let id = id.to_ascii_lowercase();
    SPECS
        .iter()
        .map(|s| (strsim::levenshtein(&id, s.id), s))
        .filter(|(distance, _)| (1..=2).contains(distance))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, s)| s)
}

pub fn by_source(source: &str) -> Option<&'static ConnectionSpec> {
    SPECS.iter().find(|s| s.source == source)
}

impl ConnectionSpec {
    pub fn auth_spec(&self, name: &str) -> Option<&'static AuthSpec> {
        self.auth_specs.iter().find(|a| a.name == name)
    }

    /// True when Adobe publishes this spec's auth specs, so flowform can check params offline.
    pub fn knows_auth(&self) -> bool {
        !self.auth_specs.is_empty()
    }
}

impl AuthSpec {
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_refuse() {
        let cases: &[(Format, &str, bool)] = &[
            (
                Format::HttpsUrl,
                "https://acme-enterprise-3126.my.salesforce.com",
                true,
            ),
            (Format::HttpsUrl, "https://acme.my.salesforce.com/", true),
            (Format::HttpsUrl, "https://host:8443/path?q=1", true),
            (Format::HttpsUrl, "http://acme.my.salesforce.com", false),
            (Format::HttpsUrl, "acme.my.salesforce.com", false),
            (Format::HttpsUrl, "https://", false),
            (Format::HttpsUrl, "https:///path", false),
            (Format::HttpsUrl, "https://bad host", false),
            (Format::HttpsUrl, "https://under_score.example", false),
            (Format::DecimalVersion, "60.0", true),
            (Format::DecimalVersion, "52.10", true),
            (Format::DecimalVersion, "60", false),
            (Format::DecimalVersion, "v60.0", false),
            (Format::DecimalVersion, "60.", false),
            (Format::DecimalVersion, "6.0.1", false),
            (Format::Text, "anything", true),
        ];
        for (format, value, ok) in cases {
            assert_eq!(format.check(value).is_ok(), *ok, "{format:?} {value:?}");
        }
    }

    #[test]
    fn salesforce_is_complete() {
        let sf = by_source("salesforce").unwrap();
        assert_eq!(sf.id, SALESFORCE_ID);
        let names: Vec<_> = sf.auth_specs.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "Basic Authentication",
                "OAuth2 Client Credential",
                "OAuth2 JWT Token Credential"
            ]
        );
        let secrets: Vec<_> = sf
            .auth_specs
            .iter()
            .flat_map(|a| a.params.iter().filter(|p| p.secret).map(|p| p.name))
            .collect();
        assert_eq!(
            secrets,
            [
                "password",
                "securityToken",
                "clientSecret",
                "jwtToken",
                "clientSecret"
            ]
        );
        assert!(
            sf.auth_spec("OAuth2 Client Credential")
                .unwrap()
                .param("apiVersion")
                .unwrap()
                .required
        );
    }

    #[test]
    fn an_id_a_character_or_two_off_a_known_one_is_taken_for_a_misspelling() {
        let cases = [
            ("cfc0fee1-7dc0-40ef-b73e-d8b134c436f6", Some(SALESFORCE_ID)),
            ("CFC0FEE1-7DC0-40EF-B73E-D8B134C436F", Some(SALESFORCE_ID)),
            ("cfc0fee1-7dc0-40ef-b73e-d8b134c436f5a", Some(SALESFORCE_ID)),
            ("cfc0fee1-7dc0-40fe-b73e-d8b134c436f5", Some(SALESFORCE_ID)),
            (
                "38ad80fe-8b06-4938-94f4-d4ee80266b00",
                Some("38ad80fe-8b06-4938-94f4-d4ee80266b07"),
            ),
            // Exactly a known id is no misspelling; an unknown spec is left alone.
            (SALESFORCE_ID, None),
            ("12345678-aaaa-bbbb-cccc-1234567890ab", None),
            ("cfc0fee1-7dc0-40ef-b73e-d8b134c43000", None),
        ];
        for (id, expected) in cases {
            assert_eq!(misspelt_id(id).map(|s| s.id), expected, "{id}");
        }
        // No two known ids are within that distance of each other.
        for a in SPECS {
            for b in SPECS.iter().filter(|b| b.id != a.id) {
                assert!(strsim::levenshtein(a.id, b.id) > 4, "{} {}", a.id, b.id);
            }
        }
    }

    #[test]
    fn ids_and_shorthands_are_unique() {
        for (i, a) in SPECS.iter().enumerate() {
            for b in &SPECS[i + 1..] {
                assert_ne!(a.id, b.id);
                assert_ne!(a.source, b.source);
            }
        }
    }
}
