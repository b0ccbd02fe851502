//! Error responses in the shapes AEP answers with.
//!
//! Three shapes are documented (flow-service-notes §9): the Adobe I/O gateway's
//! `{"error_code", "message"}`, Flow Service's typed envelope
//! `{"type": ".../FLOW-NNNN-SSS", "title", "status", "report": {"detailed-message",
//! "request-id"}}`, and a few bare ones. A handler returns an [`ApiError`]; the request
//! middleware, which knows the request id, renders the body, so every error carries it.
//!
//! Catalog's error bodies are not documented (its OpenAPI declares its 400 and 404 with no
//! content). The emulator answers them in the Platform-wide problem shape the
//! troubleshooting guide shows (`{"type", "status", "title", "detail"}`), with the request id
//! under `report` as Flow Service puts it: [`ApiError::Catalog`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Clone, Debug)]
pub enum ApiError {
    /// A Flow Service error: `FLOW-{code}-{status}`.
    Flow {
        status: StatusCode,
        code: u16,
        title: &'static str,
        detail: String,
    },
    /// An Adobe I/O gateway error, before the request reaches Flow Service.
    Gateway {
        status: StatusCode,
        code: &'static str,
        message: &'static str,
    },
    /// A Catalog or Data Prep error (`/dataSets`, `/mappingSets`).
    Catalog { status: StatusCode, detail: String },
    /// Any other documented body (the content-type error, IMS errors).
    Raw { status: StatusCode, body: Value },
}

impl ApiError {
    pub fn flow(status: StatusCode, code: u16, title: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::Flow {
            status,
            code,
            title,
            detail: detail.into(),
        }
    }

    /// `1100-400`: the catalogue's generic validation error.
    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::flow(StatusCode::BAD_REQUEST, 1100, "Bad request", detail)
    }

    /// `1101-404`: "Resource not found".
    pub fn not_found(kind: &str, id: &str) -> ApiError {
        ApiError::flow(
            StatusCode::NOT_FOUND,
            1101,
            "Resource not found",
            format!("{kind} not found with id = [{id}]"),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::flow(
            StatusCode::INTERNAL_SERVER_ERROR,
            1102,
            "Internal server error",
            "An internal error occurred. Please try again",
        )
    }

    pub fn unavailable() -> ApiError {
        ApiError::flow(
            StatusCode::SERVICE_UNAVAILABLE,
            1103,
            "Service unavailable",
            "The service is temporarily unavailable. Please try again",
        )
    }

    pub fn gateway(status: StatusCode, code: &'static str, message: &'static str) -> ApiError {
        ApiError::Gateway {
            status,
            code,
            message,
        }
    }

    /// The Platform problem shape, as Data Prep's errors are answered too (its OpenAPI
    /// documents them with no body): the same as [`ApiError::catalog`].
    pub fn problem(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError::catalog(status, detail)
    }

    pub fn catalog(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError::Catalog {
            status,
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Flow { status, .. }
            | ApiError::Gateway { status, .. }
            | ApiError::Catalog { status, .. }
            | ApiError::Raw { status, .. } => *status,
        }
    }

    /// The response body, given the request id.
    pub fn body(&self, request_id: &str) -> Value {
        match self {
            ApiError::Flow {
                status,
                code,
                title,
                detail,
            } => json!({
                "type": format!("https://ns.adobe.com/aep/errors/FLOW-{code}-{}", status.as_u16()),
                "title": title,
                "status": status.as_u16(),
                "report": {"detailed-message": detail, "request-id": request_id},
                "errorMessage": detail,
                "errorDetails": detail,
            }),
            ApiError::Gateway { code, message, .. } => json!({"error_code": code, "message": message}),
            ApiError::Catalog { status, detail } => json!({
                "type": "/placeholder/type/uri",
                "status": status.as_u16(),
                "title": match *status {
                    StatusCode::NOT_FOUND => "NotFoundError",
                    StatusCode::BAD_REQUEST => "BadRequestError",
                    StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowedError",
                    _ => "Error",
                },
                "detail": detail,
                "report": {"request-id": request_id},
            }),
            ApiError::Raw { body, .. } => body.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    /// An empty response carrying the error; the middleware renders it with the request id.
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}
