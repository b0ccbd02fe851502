//! The IMS token endpoint (`POST /ims/token/v3`) and the tokens it issued.
//!
//! OAuth server-to-server: a form body `grant_type=client_credentials&client_id&client_secret
//! &scope` gets `{"access_token", "token_type": "bearer", "expires_in"}` (seconds). There is no
//! refresh token; a client asks again. Wrong credentials are refused with IMS's
//! `{"error", "error_description"}`.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::rng::Rng;

/// The credential the emulator accepts out of the box (documented in the README).
pub const DEMO_CLIENT_ID: &str = "flowform-emulator";
pub const DEMO_CLIENT_SECRET: &str = "flowform-emulator-secret";
pub const DEMO_ORG: &str = "FLOWFORMEMULATOR00000000@AdobeOrg";

/// A client credential the emulator accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub client_id: String,
    pub client_secret: String,
    /// The organization the credential belongs to; any when `None`.
    pub org: Option<String>,
}

impl Credential {
    pub fn demo() -> Credential {
        Credential {
            client_id: DEMO_CLIENT_ID.to_owned(),
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            org: Some(DEMO_ORG.to_owned()),
        }
    }

    /// `ID:SECRET` or `ID:SECRET:ORG`.
    pub fn parse(text: &str) -> Result<Credential, String> {
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(id), Some(secret), org) if !id.is_empty() && !secret.is_empty() => Ok(Credential {
                client_id: id.to_owned(),
                client_secret: secret.to_owned(),
                org: org.filter(|o| !o.is_empty()).map(str::to_owned),
            }),
            _ => Err(format!("`{text}` is not `CLIENT_ID:CLIENT_SECRET[:ORG_ID]`")),
        }
    }
}

/// Who a token was issued to.
#[derive(Clone, Debug)]
pub struct Grant {
    pub client_id: String,
    pub org: Option<String>,
    pub expires_at: i64,
}

pub struct Ims {
    credentials: Vec<Credential>,
    tokens: HashMap<String, Grant>,
    lifetime_s: u64,
}

fn refuse(status: StatusCode, error: &str, description: &str) -> ApiError {
    ApiError::Raw {
        status,
        body: json!({"error": error, "error_description": description}),
    }
}

impl Ims {
    pub fn new(credentials: Vec<Credential>, lifetime_s: u64) -> Ims {
        Ims {
            credentials,
            tokens: HashMap::new(),
            lifetime_s,
        }
    }

    /// Answers a token request; `form` is the decoded body (or query string).
    pub fn issue(
        &mut self,
        form: &HashMap<String, String>,
        now: i64,
        rng: &mut Rng,
    ) -> Result<Value, ApiError> {
        let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
        match field("grant_type") {
            Some("client_credentials") => {}
            Some(_) => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "unsupported grant_type parameter",
                ));
            }
            None => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing grant_type parameter",
                ));
            }
        }
        let Some(client_id) = field("client_id") else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "missing client_id parameter",
            ));
        };
        let Some(credential) = self.credentials.iter().find(|c| c.client_id == client_id) else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "invalid client_id parameter",
            ));
        };
        if field("client_secret") != Some(credential.client_secret.as_str()) {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "invalid client_secret parameter",
            ));
        }
        if field("scope").is_none() {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "missing scope parameter",
            ));
        }
        let token = format!("eyJemulator.{}", rng.token(48));
        self.tokens.retain(|_, g| g.expires_at > now);
        self.tokens.insert(
            token.clone(),
            Grant {
                client_id: client_id.to_owned(),
                org: credential.org.clone(),
                expires_at: now + self.lifetime_s as i64 * 1000,
            },
        );
        Ok(json!({"access_token": token, "token_type": "bearer", "expires_in": self.lifetime_s}))
    }

    /// The grant behind a live token.
    pub fn check(&self, token: &str, now: i64) -> Option<&Grant> {
        self.tokens.get(token).filter(|g| g.expires_at > now)
    }
}
