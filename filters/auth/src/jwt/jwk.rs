//! JWK and JWKS loading into [`Key`]s: every key is bound to exactly one algorithm when it is
//! loaded (from its `alg` member, or from its curve), so a token can never choose how its key is
//! used: an RSA key is never an HMAC secret, and `none` matches no key. Weak keys are refused at
//! load time: RSA moduli under 2048 bits or exponents other than 65537, HMAC secrets shorter than
//! the hash, and any JWK carrying private members; RSA moduli over the configured maximum
//! (`jwt.max_rsa_key_bits`, [`DEFAULT_MAX_RSA_BITS`] by default) are refused too, as each check
//! of a larger key costs more than a gateway should spend on a token nobody vouched for.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::json::Json;

use super::alg::Alg;
use super::keys::{Key, KeySet};
use super::public_key::{self, Curve, EcKey, RsaKey, PORTABLE};
use super::verifier::Verifier;

/// Most keys kept from one JWKS.
pub const MAX_KEYS: usize = 32;

/// The default largest RSA modulus accepted, in bits (`jwt.max_rsa_key_bits`).
pub const DEFAULT_MAX_RSA_BITS: usize = 4096;

/// The configuration field bounding RSA keys, as errors name it.
pub const MAX_RSA_BITS_FIELD: &str = "jwt.max_rsa_key_bits";

/// Where key sets come from; remote sets may not carry HMAC secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// From the plugin configuration: every problem is an error.
    Inline,
    /// From a key server: unusable keys are skipped, HMAC secrets refused.
    Remote,
}

/// A key set could not be loaded, or (remote) a key was skipped. `at` names the member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct KeyError {
    /// Path such as `keys[1].n`.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

fn err(at: impl Into<String>, message: impl Into<String>) -> KeyError {
    KeyError {
        at: at.into(),
        message: message.into(),
    }
}

/// Loads a JWKS (`{"keys": [...]}`), RSA keys of at most `max_rsa_bits`. Inline: any bad key is
/// an error. Remote: bad keys are skipped and reported in the second value; an empty result is an
/// error.
pub fn load_jwks(
    jwks: &Json,
    origin: Origin,
    max_rsa_bits: usize,
) -> Result<(KeySet, Vec<KeyError>), KeyError> {
    let keys = jwks
        .get("keys")
        .and_then(Json::as_array)
        .ok_or_else(|| err("keys", "a JWKS needs a \"keys\" array"))?;
    if keys.len() > MAX_KEYS {
        return Err(err(
            "keys",
            format!("{} keys, over the cap of {MAX_KEYS}", keys.len()),
        ));
    }
    let mut set = KeySet::default();
    let mut skipped = Vec::new();
    for (i, jwk) in keys.iter().enumerate() {
        let at = format!("keys[{i}]");
        match load_jwk(jwk, origin, max_rsa_bits, &at) {
            Ok(key) => set.keys.push(key),
            Err(e) if origin == Origin::Remote => skipped.push(e),
            Err(e) => return Err(e),
        }
    }
    if set.keys.is_empty() {
        return Err(err("keys", "no usable key"));
    }
    Ok((set, skipped))
}

fn b64(jwk: &Json, at: &str, member: &str) -> Result<Vec<u8>, KeyError> {
    let text = jwk
        .get(member)
        .and_then(Json::as_str)
        .ok_or_else(|| err(format!("{at}.{member}"), "missing or not a string"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| err(format!("{at}.{member}"), "not unpadded base64url"))
}

/// Loads one JWK, an RSA key only of at most `max_rsa_bits`.
pub fn load_jwk(
    jwk: &Json,
    origin: Origin,
    max_rsa_bits: usize,
    at: &str,
) -> Result<Key, KeyError> {
    if !jwk.is_object() {
        return Err(err(at, "a JWK must be an object"));
    }
    let text = |m: &str| jwk.get(m).and_then(Json::as_str);
    let kty = text("kty").ok_or_else(|| err(format!("{at}.kty"), "missing"))?;
    if let Some(u) = jwk.get("use") {
        if u.as_str() != Some("sig") {
            return Err(err(format!("{at}.use"), "not a signature key"));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return Err(err(format!("{at}.key_ops"), "does not allow \"verify\""));
        }
    }
    let kid = match jwk.get("kid") {
        None => None,
        Some(Json::String(k)) if k.len() <= 256 => Some(k.clone()),
        Some(_) => {
            return Err(err(
                format!("{at}.kid"),
                "not a string of at most 256 bytes",
            ))
        }
    };
    let alg = match jwk.get("alg") {
        None => None,
        Some(a) => Some(
            a.as_str()
                .and_then(Alg::parse)
                .ok_or_else(|| err(format!("{at}.alg"), "unsupported algorithm"))?,
        ),
    };
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        if jwk.get(private).is_some() {
            return Err(err(
                format!("{at}.{private}"),
                "private key member in a verification key set",
            ));
        }
    }
    let want = |allowed: &[Alg], default: Alg| -> Result<Alg, KeyError> {
        match alg {
            None => Ok(default),
            Some(a) if allowed.contains(&a) => Ok(a),
            Some(a) => Err(err(
                format!("{at}.alg"),
                format!("{} does not fit a {kty} key", a.as_str()),
            )),
        }
    };
    let verifier = match kty {
        "RSA" => {
            use Alg::*;
            let alg = want(&[Rs256, Rs384, Rs512, Ps256, Ps384, Ps512], Rs256)?;
            if !public_key::MODULE_CHECKS && matches!(alg, Ps256 | Ps384 | Ps512) {
                return Err(err(
                    format!("{at}.alg"),
                    format!(
                        "{} is checked in the module only, and this build of auth leaves RSA to Envoy: load {PORTABLE} for PS* keys",
                        alg.as_str()
                    ),
                ));
            }
            Verifier::Rsa(alg, load_rsa(jwk, max_rsa_bits, at)?)
        }
        "EC" => {
            let (curve, alg) = match text("crv") {
                Some("P-256") => (Curve::P256, Alg::Es256),
                Some("P-384") => (Curve::P384, Alg::Es384),
                _ => return Err(err(format!("{at}.crv"), "unsupported curve")),
            };
            want(&[alg], alg)?;
            let (x, y) = (b64(jwk, at, "x")?, b64(jwk, at, "y")?);
            let len = curve.size();
            if x.len() != len || y.len() != len {
                return Err(err(at, format!("coordinates must be {len} bytes each")));
            }
            Verifier::Ec(EcKey::new(curve, &x, &y).map_err(|e| err(at, e))?)
        }
        "OKP" => {
            if text("crv") != Some("Ed25519") {
                return Err(err(format!("{at}.crv"), "unsupported curve"));
            }
            want(&[Alg::EdDsa], Alg::EdDsa)?;
            let x = <[u8; 32]>::try_from(b64(jwk, at, "x")?)
                .map_err(|_| err(format!("{at}.x"), "an Ed25519 key is 32 bytes"))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| err(format!("{at}.x"), "not a valid Ed25519 point"))?;
            if key.is_weak() {
                return Err(err(format!("{at}.x"), "weak (small-order) Ed25519 key"));
            }
            Verifier::Ed25519(key)
        }
        "oct" => {
            if origin == Origin::Remote {
                return Err(err(at, "HMAC secrets are never taken from a key server"));
            }
            let alg = want(&[Alg::Hs256, Alg::Hs384, Alg::Hs512], Alg::Hs256)?;
            let k = b64(jwk, at, "k")?;
            let min = match alg {
                Alg::Hs384 => 48,
                Alg::Hs512 => 64,
                _ => 32,
            };
            if k.len() < min {
                return Err(err(
                    format!("{at}.k"),
                    format!("{} needs a secret of at least {min} bytes", alg.as_str()),
                ));
            }
            Verifier::Hmac(alg, k)
        }
        _ => return Err(err(format!("{at}.kty"), "unsupported key type")),
    };
    Ok(Key::new(kid, verifier))
}

fn load_rsa(jwk: &Json, max_bits: usize, at: &str) -> Result<RsaKey, KeyError> {
    let n = b64(jwk, at, "n")?;
    let e = b64(jwk, at, "e")?;
    if public_key::significant(&e) != public_key::RSA_EXPONENT {
        return Err(err(
            format!("{at}.e"),
            "only the exponent 65537 is accepted",
        ));
    }
    let bits = public_key::bits(&n);
    if bits > max_bits && bits <= public_key::RSA_MAX_BITS {
        return Err(err(
            format!("{at}.n"),
            format!("RSA modulus of {bits} bits, over {MAX_RSA_BITS_FIELD} ({max_bits})"),
        ));
    }
    RsaKey::new(&n).map_err(|e| err(format!("{at}.n"), e))
}
