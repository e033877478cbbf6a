//! Response helpers shaped like the platform's own answers.

use serde::Serialize;
use serde_json::{json, Value};
use wiremock::ResponseTemplate;

use super::FakeRequest;

/// A timestamp as the platform writes it: RFC 3339, UTC, milliseconds.
#[cfg(any(feature = "guests", feature = "callbacks", feature = "notifications"))]
pub(super) fn rfc3339(ts: jiff::Timestamp) -> String {
    format!("{ts:.3}")
}

/// The platform's `ErrorBody`: `{message, code, status, messageParams, contextId, details, errors}`.
pub(crate) fn error_body(
    status: u16,
    code: &str,
    message: &str,
    details: Vec<Value>,
    errors: Vec<Value>,
) -> Value {
    json!({
        "message": message,
        "code": code,
        "status": status,
        "messageParams": {},
        "contextId": uuid::Uuid::new_v4().to_string(),
        "details": details,
        "errors": errors,
    })
}

/// A Platform API error answer (`ErrorBody`) with `status`, `code` and `message`.
pub fn genesys_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(error_body(
        status,
        code,
        message,
        Vec::new(),
        Vec::new(),
    ))
}

/// A 400 `bad.request` whose `details` name each offending field.
pub fn bad_request(message: &str, fields: &[(&str, &str)]) -> ResponseTemplate {
    let details: Vec<_> = fields
        .iter()
        .map(|(field, code)| json!({"fieldName": field, "errorCode": code}))
        .collect();
    ResponseTemplate::new(400).set_body_json(error_body(
        400,
        "bad.request",
        message,
        details,
        Vec::new(),
    ))
}

/// A JSON answer with `status`.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// One page of `items` as a platform `*EntityListing`, honouring `pageSize` (default 25)
/// and `pageNumber` (default 1).
pub(crate) fn page_of(req: &FakeRequest, items: Vec<Value>, path: &str) -> ResponseTemplate {
    let size: usize = req
        .query
        .get("pageSize")
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
        .clamp(1, 500);
    let number: usize = req
        .query
        .get("pageNumber")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let count = total.div_ceil(size).max(1);
    let entities: Vec<Value> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    let mut body = json!({
        "entities": entities,
        "pageSize": size,
        "pageNumber": number,
        "total": total,
        "pageCount": count,
        "firstUri": format!("{path}?pageSize={size}&pageNumber=1"),
        "lastUri": format!("{path}?pageSize={size}&pageNumber={count}"),
        "selfUri": format!("{path}?pageSize={size}&pageNumber={number}"),
    });
    if number < count {
        body["nextUri"] = json!(format!("{path}?pageSize={size}&pageNumber={}", number + 1));
    }
    json_response(200, &body)
}
