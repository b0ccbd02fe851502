//! What can go wrong talking to AEP, typed so that callers can decide: retry, treat as
//! absent, resolve an unknown outcome by listing, or stop and tell the user.

use std::fmt;

use reqwest::StatusCode;

/// An error answer from AEP (or the Adobe I/O gateway in front of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub method: String,
    /// The path under the Flow Service base (no query string: filters may name things).
    pub path: String,
    pub sandbox: Option<String>,
    pub status: StatusCode,
    /// `FLOW-1415-400`, or the gateway's `error_code` such as `401013`.
    pub code: Option<String>,
    pub title: Option<String>,
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

impl ApiError {
    /// Reads whichever of AEP's error shapes the body has (flow-service-notes §9).
    pub fn from_response(
        method: &str,
        path: &str,
        sandbox: Option<&str>,
        status: StatusCode,
        header_request_id: Option<String>,
        body: &[u8],
    ) -> ApiError {
        let envelope = super::parse::error_envelope(body);
        ApiError {
            method: method.to_owned(),
            path: path.to_owned(),
            sandbox: sandbox.map(str::to_owned),
            status,
            code: envelope.code,
            title: envelope.title,
            detail: envelope.detail,
            request_id: envelope
                .request_id
                .or_else(|| header_request_id.map(|id| super::parse::clean(&id, 120))),
        }
    }

    /// Replaces `secret` wherever the server's text repeats it.
    pub fn redact(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        for text in [
            &mut self.code,
            &mut self.title,
            &mut self.detail,
            &mut self.request_id,
        ]
        .into_iter()
        .flatten()
        {
            if text.contains(secret) {
                *text = text.replace(secret, "(redacted)");
            }
        }
    }

    /// What to do about the gateway's refusals that name no header: which setting to check.
    pub fn help(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        let help = match code {
            // The organization header names no organization this credential belongs to.
            "403025" | "FLOW-2000-401" => {
                "check `AEP_ORG_ID`: it must be the organization of the credential (`…@AdobeOrg`, shown with the credential in the Adobe Developer Console)"
            }
            "403003" | "403000" => {
                "check `AEP_CLIENT_ID`: it is sent as `x-api-key` and must be the client id of the credential the token was made for"
            }
            "401013" => {
                "an `AEP_ACCESS_TOKEN` lasts 24 hours and belongs to one credential (`AEP_CLIENT_ID`): get a new one, or set `AEP_CLIENT_SECRET` instead of it so that flowform gets and renews its own"
            }
            _ => return None,
        };
        Some(help.to_owned())
    }

    /// The numeric part of a Flow Service code: `1404` for `FLOW-1404-412`.
    pub fn flow_code(&self) -> Option<u16> {
        self.code
            .as_deref()?
            .strip_prefix("FLOW-")?
            .split('-')
            .next()?
            .parse()
            .ok()
    }
}

impl fmt::Display for ApiError {
    /// `PATCH /connections/… in sandbox prod: 412 Precondition Failed (FLOW-1404-412 Version
    /// not matching): Supplied version=… [request id 5f…]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if let Some(sandbox) = &self.sandbox {
            write!(f, " in sandbox {sandbox}")?;
        }
        write!(f, ": {}", self.status)?;
        match (&self.code, &self.title) {
            (Some(code), Some(title)) => write!(f, " ({code} {title})")?,
            (Some(code), None) => write!(f, " ({code})")?,
            (None, Some(title)) => write!(f, " ({title})")?,
            (None, None) => {}
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// Any failure of a client operation.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The request failed before or while being sent, or the answer was lost, and retrying
    /// did not help (or was not safe).
    #[error("{method} {path}: {reason}")]
    Transport {
        method: String,
        path: String,
        reason: String,
    },
    /// A create whose outcome is unknown: AEP may or may not have made the connection. The
    /// caller finds out by listing; it must not simply resend.
    #[error("{method} {path}: the outcome is unknown ({reason}); the connection may or may not exist")]
    OutcomeUnknown {
        method: String,
        path: String,
        reason: String,
    },
    /// AEP answered something flowform cannot read.
    #[error("{method} {path}: {reason}")]
    Protocol {
        method: String,
        path: String,
        reason: String,
    },
    /// No token could be had.
    #[error("cannot get an access token from IMS: {0}")]
    Auth(String),
    /// IMS's token endpoint is not where the IMS URL says (404, 405): the URL is wrong, not
    /// the credential.
    #[error(
        "cannot get an access token from IMS: POST {url} answered {status}: there is no IMS token endpoint at that URL"
    )]
    ImsUrl { url: String, status: StatusCode },
    /// A server answered with a redirect. flowform never follows one: it would carry the
    /// credentials, and a create's body with its secrets, to wherever the server points.
    #[error(
        "{method} {path}: {service} answered {status} {towards}; flowform never follows redirects (they would carry credentials and bodies elsewhere)"
    )]
    Redirect {
        method: String,
        path: String,
        /// `AEP` or `IMS`.
        service: &'static str,
        status: StatusCode,
        /// `towards another-host:8443`, or why there is no host to name.
        towards: String,
    },
    /// The command's deadline (`--timeout`) passed, or would pass during a wait.
    #[error("{method} {path}: the command's deadline ({flag}) {what}")]
    Deadline {
        method: String,
        path: String,
        /// `--timeout 30m`.
        flag: String,
        /// `passed while waiting for AEP's answer`.
        what: String,
    },
}

impl FlowError {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            FlowError::Api(e) => Some(e),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        self.api().map(|e| e.status)
    }

    /// AEP answered 412: the etag sent is no longer the connection's (changed meanwhile).
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(StatusCode::PRECONDITION_FAILED)
    }

    /// What to do about it, when there is an obvious fix.
    pub fn help(&self) -> Option<String> {
        match self {
            FlowError::Deadline { .. } => {
                Some("give the command more time with a longer `--timeout`".to_owned())
            }
            FlowError::ImsUrl { .. } => Some(format!(
                "AEP_IMS_URL (or --ims-url) is IMS's base URL, such as `{}`; flowform asks `{}` under it",
                super::settings::DEFAULT_IMS,
                super::settings::TOKEN_PATH
            )),
            FlowError::Api(e) => e.help(),
            FlowError::Redirect { .. } => Some(
                "check `FLOWFORM_ENDPOINT` / `AEP_IMS_URL` (or `--endpoint` / `--ims-url`): they must name AEP's own hosts"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_shape_reads() {
        let typed =
            br#"{"type":"https://ns.adobe.com/aep/errors/FLOW-1415-400","title":"Bad request","status":400,
            "report":{"detailed-message":"The auth spec 'X' could not be found","request-id":"r-1"}}"#;
        let e = ApiError::from_response(
            "POST",
            "/connections",
            Some("prod"),
            StatusCode::BAD_REQUEST,
            None,
            typed,
        );
        assert_eq!(e.code.as_deref(), Some("FLOW-1415-400"));
        assert_eq!(e.flow_code(), Some(1415));
        assert_eq!(e.request_id.as_deref(), Some("r-1"));
        assert_eq!(
            e.to_string(),
            "POST /connections in sandbox prod: 400 Bad Request (FLOW-1415-400 Bad request): The auth spec 'X' could not be found [request id r-1]"
        );
        let gateway = br#"{"error_code": "401013", "message": "Oauth token is not valid"}"#;
        let e = ApiError::from_response(
            "GET",
            "/connections",
            None,
            StatusCode::UNAUTHORIZED,
            Some("h-2".into()),
            gateway,
        );
        assert_eq!(
            (e.code.as_deref(), e.detail.as_deref()),
            (Some("401013"), Some("Oauth token is not valid"))
        );
        assert_eq!(e.request_id.as_deref(), Some("h-2"));
        let numeric = br#"{"error_code": 401013, "message": "m"}"#;
        let e = ApiError::from_response("GET", "/x", None, StatusCode::UNAUTHORIZED, None, numeric);
        assert_eq!(e.code.as_deref(), Some("401013"));
        let short = br#"{"errorMessage": "connections not found with id = [x]", "errorDetails": "..."}"#;
        let e = ApiError::from_response("GET", "/x", None, StatusCode::NOT_FOUND, None, short);
        assert_eq!(e.detail.as_deref(), Some("connections not found with id = [x]"));
        let plain = b"upstream connect error";
        let e = ApiError::from_response("GET", "/x", None, StatusCode::BAD_GATEWAY, None, plain);
        assert_eq!(e.detail.as_deref(), Some("upstream connect error"));
        let ims = br#"{"error":"invalid_client","error_description":"invalid client_secret parameter"}"#;
        let e = ApiError::from_response("POST", "/ims/token/v3", None, StatusCode::UNAUTHORIZED, None, ims);
        assert_eq!(e.code.as_deref(), Some("invalid_client"));
    }
}
