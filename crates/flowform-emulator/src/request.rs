//! Request bodies, read as AEP reads them: JSON only (with the troubleshooting guide's
//! refusal of any other content type), at most [`MAX_BODY`] bytes.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::errors::ApiError;

/// Request bodies larger than this are refused.
pub const MAX_BODY: usize = 1024 * 1024;

/// Reads a JSON request body, refusing what AEP refuses.
pub async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/json") {
        // The troubleshooting guide's body for this case, word for word.
        return Err(ApiError::Raw {
            status: StatusCode::BAD_REQUEST,
            body: json!({"type": "/placeholder/type/uri", "status": 400, "title": "BadRequestError",
                         "detail": "A valid content-type must be specified"}),
        });
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::bad_request(format!("The request body is larger than {MAX_BODY} bytes")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("The request body is not valid JSON: {e}")))
}
