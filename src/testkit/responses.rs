//! Response helpers shaped like the platform's own answers.

use serde::Serialize;
use serde_json::json;
use wiremock::ResponseTemplate;

/// A Platform API error answer: `{message, code, status, messageParams, contextId, details, errors}`.
pub fn genesys_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "message": message,
        "code": code,
        "status": status,
        "messageParams": {},
        "contextId": uuid::Uuid::new_v4().to_string(),
        "details": [],
        "errors": [],
    }))
}

/// A 400 `bad.request` whose `details` name each offending field.
pub fn bad_request(message: &str, fields: &[(&str, &str)]) -> ResponseTemplate {
    let details: Vec<_> = fields
        .iter()
        .map(|(field, code)| json!({"fieldName": field, "errorCode": code}))
        .collect();
    ResponseTemplate::new(400).set_body_json(json!({
        "message": message,
        "code": "bad.request",
        "status": 400,
        "messageParams": {},
        "contextId": uuid::Uuid::new_v4().to_string(),
        "details": details,
        "errors": [],
    }))
}

/// A JSON answer with `status`.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}
