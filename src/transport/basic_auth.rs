//! The `Authorization: Basic` header of the OAuth token request (RFC 7617), built in place
//! like every other header of an attempt.

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `Basic base64(username:password)`, marked sensitive so that the HTTP stack never logs
/// it.
pub(crate) fn header(username: &str, password: &SecretString) -> HeaderValue {
    let mut credentials =
        String::with_capacity(username.len() + 1 + password.expose_secret().len());
    credentials.push_str(username);
    credentials.push(':');
    credentials.push_str(password.expose_secret());
    let mut value = String::with_capacity(6 + credentials.len().div_ceil(3) * 4);
    value.push_str("Basic ");
    encode(credentials.as_bytes(), &mut value);
    let mut header = HeaderValue::try_from(value)
        .expect("`Basic ` and the base64 alphabet are valid header characters");
    header.set_sensitive(true);
    header
}

/// Standard base64 with padding (RFC 4648, section 4).
fn encode(input: &[u8], out: &mut String) {
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4648_test_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            encode(input.as_bytes(), &mut out);
            assert_eq!(out, expected, "{input:?}");
        }
    }

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
