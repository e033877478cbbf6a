//! The `Authorization: Basic` header of the OAuth token request (RFC 7617), built in place
//! like every other header of an attempt.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

/// `Basic base64(username:password)`, marked sensitive so that the HTTP stack never logs
/// it.
pub(crate) fn header(username: &str, password: &SecretString) -> HeaderValue {
    let credentials = format!("{username}:{}", password.expose_secret());
    let value = format!(
        "Basic {}",
        crate::net::base64_encode(credentials.as_bytes())
    );
    // ok: `Basic ` and base64's alphabet (A-Z, a-z, 0-9, `+`, `/`, `=`) are visible ASCII,
    // which a header value always accepts.
    let mut header = HeaderValue::try_from(value)
        .expect("`Basic ` and the base64 alphabet are valid header characters");
    header.set_sensitive(true);
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_rfc_7617s_and_sensitive() {
        // RFC 7617, section 2: user "Aladdin", password "open sesame".
        let header = header("Aladdin", &SecretString::from("open sesame"));
        assert_eq!(header, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(header.is_sensitive());
        // Non-ASCII, and bytes that map to the alphabet's `+` and `/` (value computed with
        // Python's base64 module).
        assert_eq!(
            header_of("client-ü", "s3cr3t~\u{ff}>>>???"),
            "Basic Y2xpZW50LcO8OnMzY3IzdH7Dvz4+Pj8/Pw=="
        );
    }

    fn header_of(user: &str, password: &str) -> HeaderValue {
        header(user, &SecretString::from(password.to_owned()))
    }
}
