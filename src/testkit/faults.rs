use std::time::Duration;

use serde_json::json;
use wiremock::ResponseTemplate;

use super::responses::genesys_error;

/// A misbehaviour the fake shows for the next requests, in the order injected
/// (see [`FakeGenesys::inject`](super::FakeGenesys::inject)).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 `too.many.requests`, with `Retry-After` in seconds when given.
    RateLimited {
        /// The `Retry-After` header.
        retry_after: Option<Duration>,
    },
    /// An error status with a Genesys-shaped body, e.g. 503 or 502.
    Status(u16),
    /// The normal answer, sent after a delay.
    Delay(Duration),
    /// 200 with a body that is not valid JSON.
    MalformedBody,
    /// 200 with a valid JSON body of about this many bytes.
    OversizedBody(usize),
    /// The connection is closed before the answer is complete.
    DropConnection,
    /// 401 `bad.credentials`, as for an expired token.
    Unauthorized,
    /// This answer instead of the normal one: for answers shaped as the platform (or a
    /// broken proxy) might send them, e.g. a listing that repeats its cursor.
    Answer {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: serde_json::Value,
    },
}

impl Fault {
    /// The response this fault replaces the normal one with; `None` for
    /// [`Fault::Delay`], which delays the normal one instead.
    pub(crate) fn response(&self) -> Option<ResponseTemplate> {
        Some(match self {
            Fault::RateLimited { retry_after } => {
                let mut r = genesys_error(
                    429,
                    "too.many.requests",
                    "Rate limit exceeded the maximum. Retry the request later.",
                );
                if let Some(wait) = retry_after {
                    let value = if wait.subsec_nanos() == 0 {
                        wait.as_secs().to_string()
                    } else {
                        format!("{}", wait.as_secs_f64())
                    };
                    r = r.insert_header("Retry-After", value.as_str());
                }
                r
            }
            Fault::Status(status) => genesys_error(
                *status,
                if *status == 503 {
                    "service.unavailable"
                } else {
                    "internal.server.error"
                },
                "The service is temporarily unavailable (injected fault).",
            ),
            Fault::Delay(_) => return None,
            Fault::MalformedBody => ResponseTemplate::new(200)
                .set_body_raw(r#"{"id": "truncated", "entities": [{"#, "application/json"),
            Fault::OversizedBody(bytes) => {
                let filler = "x".repeat(*bytes);
                ResponseTemplate::new(200).set_body_json(json!({ "filler": filler }))
            }
            // A declared length longer than the body: the server closes the connection
            // after the short body, and the client sees an incomplete message.
            Fault::DropConnection => ResponseTemplate::new(200)
                .insert_header("content-length", "4096")
                .set_body_raw(r#"{"partial":"#, "application/json"),
            Fault::Unauthorized => {
                genesys_error(401, "bad.credentials", "Invalid login credentials.")
            }
            Fault::Answer { status, body } => ResponseTemplate::new(*status).set_body_json(body),
        })
    }
}
