//! Compact JWS decoding: size cap, three strict base64url segments, header and payload as JSON
//! objects without duplicate members, and the header rules (known `alg`, no `crit`).
//!
//! Nothing here trusts the token: the result still needs its signature checked.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::json::{self, Json};

use super::alg::Alg;
use super::JwtError;

/// Deepest nesting accepted in a header or claims set.
pub const MAX_JSON_DEPTH: usize = 16;

/// A decoded, not yet verified, token.
#[derive(Debug, Clone)]
pub struct Token {
    /// The protected header (an object).
    pub header: Json,
    /// The claims set (an object).
    pub claims: Json,
    /// The header's `alg`.
    pub alg: Alg,
    /// The header's `kid`.
    pub kid: Option<String>,
    /// `BASE64URL(header) . BASE64URL(payload)`, what the signature covers.
    pub signing_input: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// `bytes` as a JSON object without duplicate members, nested at most [`MAX_JSON_DEPTH`] deep.
fn object(bytes: &[u8]) -> Option<Json> {
    json::parse(bytes, MAX_JSON_DEPTH)
        .ok()
        .filter(Json::is_object)
}

fn segment(text: &[u8]) -> Result<Vec<u8>, JwtError> {
    if text.is_empty() {
        return Err(JwtError::Malformed("empty segment"));
    }
    // The engine refuses padding, `+`, `/`, whitespace and non-canonical trailing bits.
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JwtError::Malformed("segment is not unpadded base64url"))
}

/// Decodes `token`, refusing anything larger than `max_bytes` before decoding.
pub fn decode(token: &[u8], max_bytes: usize) -> Result<Token, JwtError> {
    if token.len() > max_bytes {
        return Err(JwtError::TooLarge);
    }
    let parts: Vec<&[u8]> = token.split(|b| *b == b'.').collect();
    let [header_b64, payload_b64, sig_b64] = parts.as_slice() else {
        return Err(JwtError::Malformed("a JWS has exactly three segments"));
    };
    let header = segment(header_b64)?;
    let payload = segment(payload_b64)?;
    let signature = segment(sig_b64)?;
    let header = object(&header).ok_or(JwtError::Malformed(
        "header is not a JSON object without duplicates",
    ))?;
    let claims = object(&payload).ok_or(JwtError::Malformed(
        "payload is not a JSON object without duplicates",
    ))?;
    let alg = match header.get("alg") {
        Some(Json::String(name)) => Alg::parse(name).ok_or(JwtError::UnsupportedAlg)?,
        _ => return Err(JwtError::UnsupportedAlg),
    };
    if header.get("crit").is_some() {
        // No extension is understood, so any `crit` (even an empty one) is refused.
        return Err(JwtError::Malformed("unsupported crit header"));
    }
    // An empty `kid` names no key, as in `jwt_authn`: it is treated as no `kid` at all.
    let kid = match header.get("kid") {
        None => None,
        Some(Json::String(k)) if k.is_empty() => None,
        Some(Json::String(k)) if k.len() <= 256 => Some(k.clone()),
        Some(_) => return Err(JwtError::Malformed("kid is not a short string")),
    };
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(Token {
        header,
        claims,
        alg,
        kid,
        signing_input: token[..signing_input_len].to_vec(),
        signature,
    })
}
