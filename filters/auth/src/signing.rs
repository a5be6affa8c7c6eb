//! HMAC request signing, in two forms.
//!
//! The HTTP Signatures draft in `Authorization`, as Kong's `hmac-auth` accepts it:
//!
//! ```text
//! Authorization: Signature keyId="alice-hmac",algorithm="hmac-sha256",
//!                headers="(request-target) date digest",signature="<base64>"
//! ```
//!
//! The signing string is one `name: value` line per listed header, joined with `\n`. With the
//! default [`SigningString::Draft`], names are lowercased and `(request-target)` is the lowercase
//! method, a space and `:path`; with [`SigningString::Kong`], names keep the case they are listed
//! in, `request-line` is the request line (`GET /path?query HTTP/1.1`) and a listed header the
//! request lacks signs as `name:`, as Kong's `hmac-auth` builds it. `date` (or `x-date`) must be
//! signed and within the allowed clock skew; a signed `digest: SHA-256=<base64>` (or `SHA-512=`,
//! labels case-blind) is checked against the body. The scheme `hmac` with `username=` instead of
//! `keyId=` is accepted too.
//!
//! RFC 9421 HTTP Message Signatures (`Signature-Input` and `Signature`, `hmac-sha256`) are in
//! [`message`].

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use filter_core::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;

pub mod message;

pub use message::MessageSignatures;

/// Most lines of a draft signing string, and most components one RFC 9421 signature covers.
pub const MAX_SIGNED_LINES: usize = 32;

/// When the request body must carry a verified `digest` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDigest {
    /// Never checked.
    Off,
    /// Checked when the client signed a `digest` header.
    IfSigned,
    /// Every signed request must sign a `digest` header that matches the body.
    Required,
}

/// An HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlg {
    /// `hmac-sha256`.
    Sha256,
    /// `hmac-sha384`.
    Sha384,
    /// `hmac-sha512`.
    Sha512,
}

impl HmacAlg {
    /// The algorithm named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hmac-sha256" => Some(Self::Sha256),
            "hmac-sha384" => Some(Self::Sha384),
            "hmac-sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// How the signing string of an `Authorization` signature is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningString {
    /// The HTTP Signatures draft: lowercase names, `(request-target)`.
    Draft,
    /// Kong's `hmac-auth`: names as listed, `request-line`, a missing header as `name:`.
    Kong,
}

/// One signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id.
    pub key_id: String,
    /// Secret.
    pub secret: Vec<u8>,
    /// Consumer index.
    pub consumer: usize,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.key_id)
    }
}

/// HMAC settings and keys.
#[derive(Debug, Clone)]
pub struct HmacConfig {
    /// Allowed clock skew.
    pub clock_skew: Duration,
    /// Headers every signature must cover (besides the date).
    pub required_headers: Vec<String>,
    /// Accepted algorithms.
    pub algorithms: Vec<HmacAlg>,
    /// Body digest policy.
    pub body_digest: BodyDigest,
    /// Remove `Authorization` before the upstream.
    pub strip: bool,
    /// Largest body digested.
    pub max_body_bytes: usize,
    /// Keys (ids unique).
    pub keys: Vec<SigningKey>,
    /// How `Authorization` signing strings are built.
    pub signing_string: SigningString,
    /// RFC 9421 message signatures, when accepted.
    pub message: Option<MessageSignatures>,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The `Authorization` parameters are malformed.
    #[error("malformed signature parameters")]
    Malformed,
    /// Unknown key id.
    #[error("unknown key id")]
    UnknownKey,
    /// Algorithm not accepted.
    #[error("algorithm not accepted")]
    Algorithm,
    /// A required header is not signed, or a signed header is missing.
    #[error("required header not signed or missing")]
    Headers,
    /// No valid `date`/`x-date`, or it is outside the allowed skew.
    #[error("date missing or outside the allowed clock skew")]
    Date,
    /// Wrong signature.
    #[error("invalid signature")]
    Signature,
    /// The body does not match the signed digest.
    #[error("body digest mismatch")]
    Digest,
    /// A required component is not covered, or a covered one is missing from the request.
    #[error("required component not covered or missing")]
    Components,
    /// No `created`, or it is outside the allowed clock skew.
    #[error("signature created outside the allowed clock skew")]
    Created,
    /// Past the signature's `expires` (and the allowed clock skew).
    #[error("signature expired")]
    Expired,
}

/// A verified signature, possibly still waiting for the body to check its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Consumer index.
    pub consumer: usize,
    /// The signed digest the body must match, if any: 32 bytes of SHA-256 or 64 of SHA-512.
    pub body_digest: Option<Vec<u8>>,
}

fn params(text: &[u8]) -> Result<Vec<(String, String)>, SigningError> {
    let text = std::str::from_utf8(text).map_err(|_| SigningError::Malformed)?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let eq = rest.find('=').ok_or(SigningError::Malformed)?;
        let name = rest[..eq].trim().to_ascii_lowercase();
        let after = rest[eq + 1..].trim_start();
        let after = after.strip_prefix('"').ok_or(SigningError::Malformed)?;
        let close = after.find('"').ok_or(SigningError::Malformed)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(SigningError::Malformed);
        }
        out.push((name, after[..close].to_owned()));
        rest = after[close + 1..].trim_start();
        rest = match rest.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if rest.is_empty() => rest,
            None => return Err(SigningError::Malformed),
        };
    }
    Ok(out)
}

fn mac(alg: HmacAlg, secret: &[u8], data: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
        match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match alg {
        HmacAlg::Sha256 => run::<Hmac<Sha256>>(secret, data),
        HmacAlg::Sha384 => run::<Hmac<Sha384>>(secret, data),
        HmacAlg::Sha512 => run::<Hmac<Sha512>>(secret, data),
    }
}

/// The request line Kong's `hmac-auth` signs: method, target and protocol, `HTTP/2.0` for what
/// Envoy calls `HTTP/2`.
fn request_line(headers: &HeaderMap, protocol: Option<Vec<u8>>) -> Result<Vec<u8>, SigningError> {
    let method = headers.method().ok_or(SigningError::Headers)?;
    let path = headers.path().ok_or(SigningError::Headers)?;
    let mut version = protocol.unwrap_or_else(|| b"HTTP/1.1".to_vec());
    if !version.contains(&b'.') {
        version.extend_from_slice(b".0");
    }
    Ok([method, b" ", path, b" ", &version].concat())
}

impl HmacConfig {
    /// Verifies the signature in the `Authorization` credentials (after the scheme) against
    /// `headers` at `now`. `protocol` gives the request's protocol as the host names it
    /// (`HTTP/1.1`), read only for a Kong `request-line`.
    pub fn verify(
        &self,
        credentials: &[u8],
        headers: &HeaderMap,
        now: SystemTime,
        protocol: &dyn Fn() -> Option<Vec<u8>>,
    ) -> Result<Verified, SigningError> {
        let params = params(credentials)?;
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let key_id = get("keyid")
            .or_else(|| get("username"))
            .ok_or(SigningError::Malformed)?;
        let signature = get("signature").ok_or(SigningError::Malformed)?;
        let alg = get("algorithm")
            .and_then(HmacAlg::parse)
            .filter(|a| self.algorithms.contains(a))
            .ok_or(SigningError::Algorithm)?;
        let listed: Vec<&str> = get("headers")
            .unwrap_or("date")
            .split(' ')
            .filter(|h| !h.is_empty())
            .collect();
        if listed.len() > MAX_SIGNED_LINES {
            return Err(SigningError::Malformed);
        }
        let kong = self.signing_string == SigningString::Kong;
        // Names are matched case-blind; Kong's signing string keeps them as listed.
        let signed: Vec<String> = listed.iter().map(|h| h.to_ascii_lowercase()).collect();
        let has = |name: &str| signed.iter().any(|s| s == name);
        let date_name = ["date", "x-date"]
            .into_iter()
            .find(|d| has(d))
            .ok_or(SigningError::Headers)?;
        let target = if kong {
            "request-line"
        } else {
            "(request-target)"
        };
        let required = |r: &String| has(if r == "(request-target)" { target } else { r });
        if !self.required_headers.iter().all(required) {
            return Err(SigningError::Headers);
        }
        let digest_signed = has("digest");
        if self.body_digest == BodyDigest::Required && !digest_signed {
            return Err(SigningError::Headers);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.key_id == key_id)
            .ok_or(SigningError::UnknownKey)?;
        let mut lines: Vec<Vec<u8>> = Vec::with_capacity(signed.len());
        for (listed, name) in listed.iter().zip(&signed) {
            let line = if kong {
                if *listed == "request-line" && headers.count(name) == 0 {
                    request_line(headers, protocol())?
                } else {
                    match headers.count(name) {
                        0 => [listed.as_bytes(), b":"].concat(),
                        1 => {
                            let value = headers.get(name).ok_or(SigningError::Headers)?;
                            [listed.as_bytes(), b": ", value].concat()
                        }
                        _ => return Err(SigningError::Headers),
                    }
                }
            } else {
                let value = if name == "(request-target)" {
                    let method = headers.method().ok_or(SigningError::Headers)?;
                    let path = headers.path().ok_or(SigningError::Headers)?;
                    [&method.to_ascii_lowercase()[..], b" ", path].concat()
                } else {
                    if headers.count(name) != 1 {
                        return Err(SigningError::Headers);
                    }
                    headers.get(name).ok_or(SigningError::Headers)?.to_vec()
                };
                [name.as_bytes(), b": ", &value].concat()
            };
            lines.push(line);
        }
        let expected = STANDARD.encode(mac(alg, &key.secret, &lines.join(&b'\n')));
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return Err(SigningError::Signature);
        }
        // The date is checked only once the signature proves it was not tampered with.
        let date = headers
            .get_str(date_name)
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .ok_or(SigningError::Date)?;
        let skew = match now.duration_since(date) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > self.clock_skew {
            return Err(SigningError::Date);
        }
        let body_digest = if digest_signed && self.body_digest != BodyDigest::Off {
            let value = headers.get_str("digest").ok_or(SigningError::Headers)?;
            Some(digest_header(value)?)
        } else {
            None
        };
        Ok(Verified {
            consumer: key.consumer,
            body_digest,
        })
    }
}

/// The digest a `Digest` header (RFC 3230) gives: its first `SHA-256` or `SHA-512` member,
/// labels compared case-blind; a supported member that is not base64 of the right length is an
/// error, others are passed over.
pub fn digest_header(value: &str) -> Result<Vec<u8>, SigningError> {
    for member in value.split(',') {
        let Some((label, b64)) = member.trim().split_once('=') else {
            continue;
        };
        let len = if label.eq_ignore_ascii_case("sha-256") {
            32
        } else if label.eq_ignore_ascii_case("sha-512") {
            64
        } else {
            continue;
        };
        let digest = STANDARD.decode(b64).map_err(|_| SigningError::Digest)?;
        if digest.len() != len {
            return Err(SigningError::Digest);
        }
        return Ok(digest);
    }
    Err(SigningError::Digest)
}

/// Whether `body` matches a signed digest: SHA-256 for 32 bytes, SHA-512 for 64.
pub fn body_matches(expected: &[u8], body: &[u8]) -> bool {
    match expected.len() {
        32 => bool::from(Sha256::digest(body).as_slice().ct_eq(expected)),
        64 => bool::from(Sha512::digest(body).as_slice().ct_eq(expected)),
        _ => false,
    }
}

/// Signs like a client would (for tests and examples): the `Authorization` credentials for
/// `headers` signed with `secret`.
pub fn sign(
    key_id: &str,
    alg: &str,
    secret: &[u8],
    signed: &[&str],
    headers: &HeaderMap,
) -> String {
    let alg_v = HmacAlg::parse(alg).unwrap_or(HmacAlg::Sha256);
    let lines: Vec<Vec<u8>> = signed
        .iter()
        .map(|name| {
            let value = if *name == "(request-target)" {
                let m = headers.method().unwrap_or_default().to_ascii_lowercase();
                [&m[..], b" ", headers.path().unwrap_or_default()].concat()
            } else {
                headers.get(name).unwrap_or_default().to_vec()
            };
            [name.as_bytes(), b": ", &value].concat()
        })
        .collect();
    let sig = STANDARD.encode(mac(alg_v, secret, &lines.join(&b'\n')));
    format!(
        "keyId=\"{key_id}\",algorithm=\"{alg}\",headers=\"{}\",signature=\"{sig}\"",
        signed.join(" ")
    )
}

#[cfg(test)]
mod tests;
