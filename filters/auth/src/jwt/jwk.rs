//! JWK and JWKS loading into [`Key`]s: every key is bound when it is loaded to the algorithms it
//! accepts, all of its type's family, so a token can never choose how its key is used: an RSA key
//! is never an HMAC secret, and `none` matches no key. A key with `alg` accepts that algorithm
//! only. A key without `alg` accepts its type's family, as Envoy's `jwt_authn` does: an RSA key
//! RS256/384/512 and PS256/384/512, an EC key its curve's algorithm (ES256 on P-256, ES384 on
//! P-384, ES512 on P-521), an Ed25519 key EdDSA, an HMAC secret HS256/384/512 as far as it is long
//! enough for each; with [`KeyRules::strict_alg`] (`jwt.providers[].strict_alg`) an RSA key
//! without `alg` accepts RS256 only and an HMAC secret HS256 only.
//!
//! Keys meant for another use (`use` other than `sig`, `key_ops` without `verify`: the encryption
//! keys identity providers publish beside their signing keys) are passed over in a JWKS. Weak keys
//! are refused at load time: RSA moduli under 2048 bits or exponents other than 65537, HMAC
//! secrets shorter than the hash, and any JWK carrying private members; RSA moduli over the
//! configured maximum (`jwt.max_rsa_key_bits`, [`DEFAULT_MAX_RSA_BITS`] by default) are refused
//! too, as each check of a larger key costs more than a gateway should spend on a token nobody
//! vouched for. Members such as `x5c`, `x5t` or `issuer` are ignored (never trusted).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::json::Json;

use super::alg::{Alg, Algs};
use super::keys::{Key, KeySet};
use super::public_key::{self, Curve, EcKey, RsaKey};
use super::verifier::Verifier;

/// Most keys kept from one JWKS.
pub const MAX_KEYS: usize = 32;

/// The default largest RSA modulus accepted, in bits (`jwt.max_rsa_key_bits`).
pub const DEFAULT_MAX_RSA_BITS: usize = 4096;

/// The configuration field bounding RSA keys, as errors name it.
pub const MAX_RSA_BITS_FIELD: &str = "jwt.max_rsa_key_bits";

/// How keys are loaded: the configured rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRules {
    /// Largest RSA modulus accepted, in bits (`jwt.max_rsa_key_bits`).
    pub max_rsa_bits: usize,
    /// A key without `alg` accepts one algorithm of its family only (RS256 for RSA, HS256 for
    /// HMAC) instead of the whole family (`jwt.providers[].strict_alg`).
    pub strict_alg: bool,
}

impl Default for KeyRules {
    /// [`DEFAULT_MAX_RSA_BITS`], and keys without `alg` accepting their family.
    fn default() -> Self {
        Self {
            max_rsa_bits: DEFAULT_MAX_RSA_BITS,
            strict_alg: false,
        }
    }
}

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

/// Loads a JWKS (`{"keys": [...]}`) under `rules`, passing over keys meant for another use.
/// Inline: any bad key is an error. Remote: bad keys are skipped and reported in the second
/// value; an empty result is an error.
pub fn load_jwks(
    jwks: &Json,
    origin: Origin,
    rules: &KeyRules,
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
        if for_another_use(jwk) {
            continue;
        }
        let at = format!("keys[{i}]");
        match load_jwk(jwk, origin, rules, &at) {
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

/// Whether `jwk` is meant for something else than checking signatures: a string `use` other than
/// `sig` (`enc`), or a `key_ops` list of strings without `verify`. Such a key is no error in a
/// JWKS, only not a key of this filter (a malformed `use` or `key_ops` is an error of the key).
fn for_another_use(jwk: &Json) -> bool {
    let other_use = jwk
        .get("use")
        .and_then(Json::as_str)
        .is_some_and(|u| u != "sig");
    let other_ops = jwk
        .get("key_ops")
        .and_then(Json::as_array)
        .is_some_and(|ops| {
            ops.iter().all(|o| o.as_str().is_some())
                && !ops.iter().any(|o| o.as_str() == Some("verify"))
        });
    other_use || other_ops
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

/// Loads one JWK for signatures under `rules` (a key for another use is an error here).
pub fn load_jwk(jwk: &Json, origin: Origin, rules: &KeyRules, at: &str) -> Result<Key, KeyError> {
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
    // An empty `kid` names no key, as in `jwt_authn`: it is treated as no `kid` at all.
    let kid = match jwk.get("kid") {
        None => None,
        Some(Json::String(k)) if k.is_empty() => None,
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
    // The algorithms the key accepts: its `alg`, which must be one of `family`, or without one
    // `loose` (the family as `jwt_authn` takes it) or, under `strict_alg`, `strict`.
    let accepts = |family: &[Alg], loose: &[Alg], strict: &[Alg]| -> Result<Algs, KeyError> {
        match alg {
            None if rules.strict_alg => Ok(Algs::of(strict)),
            None => Ok(Algs::of(loose)),
            Some(a) if family.contains(&a) => Ok(Algs::of(&[a])),
            Some(a) => Err(err(
                format!("{at}.alg"),
                format!("{} does not fit a {kty} key", a.as_str()),
            )),
        }
    };
    let (algs, verifier) = match kty {
        "RSA" => {
            use Alg::*;
            let family = [Rs256, Rs384, Rs512, Ps256, Ps384, Ps512];
            let algs = accepts(&family, &family, &[Rs256])?;
            (algs, Verifier::Rsa(load_rsa(jwk, rules.max_rsa_bits, at)?))
        }
        "EC" => {
            let curve = match text("crv") {
                Some("P-256") => Curve::P256,
                Some("P-384") => Curve::P384,
                Some("P-521") => Curve::P521,
                _ => return Err(err(format!("{at}.crv"), "unsupported curve")),
            };
            let only = [curve.alg()];
            let algs = accepts(&only, &only, &only)?;
            let (x, y) = (b64(jwk, at, "x")?, b64(jwk, at, "y")?);
            let len = curve.size();
            if x.len() != len || y.len() != len {
                return Err(err(at, format!("coordinates must be {len} bytes each")));
            }
            let key = EcKey::new(curve, &x, &y).map_err(|e| err(at, e))?;
            (algs, Verifier::Ec(key))
        }
        "OKP" => {
            if text("crv") != Some("Ed25519") {
                return Err(err(format!("{at}.crv"), "unsupported curve"));
            }
            let only = [Alg::EdDsa];
            let algs = accepts(&only, &only, &only)?;
            let x = <[u8; 32]>::try_from(b64(jwk, at, "x")?)
                .map_err(|_| err(format!("{at}.x"), "an Ed25519 key is 32 bytes"))?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                .map_err(|_| err(format!("{at}.x"), "not a valid Ed25519 point"))?;
            if key.is_weak() {
                return Err(err(format!("{at}.x"), "weak (small-order) Ed25519 key"));
            }
            (algs, Verifier::Ed25519(key))
        }
        "oct" => {
            if origin == Origin::Remote {
                return Err(err(at, "HMAC secrets are never taken from a key server"));
            }
            let k = b64(jwk, at, "k")?;
            // A secret at least as long as the hash (RFC 7518 3.2).
            let min = |alg: &Alg| match alg {
                Alg::Hs384 => 48,
                Alg::Hs512 => 64,
                _ => 32,
            };
            let family = [Alg::Hs256, Alg::Hs384, Alg::Hs512];
            let long_enough: Vec<Alg> = family.into_iter().filter(|a| k.len() >= min(a)).collect();
            let algs = accepts(&family, &long_enough, &[Alg::Hs256])?;
            if let Some(short) = algs.iter().find(|a| k.len() < min(a)) {
                return Err(err(
                    format!("{at}.k"),
                    format!(
                        "{} needs a secret of at least {} bytes",
                        short.as_str(),
                        min(&short)
                    ),
                ));
            }
            if algs.is_empty() {
                return Err(err(
                    format!("{at}.k"),
                    "HS256 needs a secret of at least 32 bytes",
                ));
            }
            (algs, Verifier::Hmac(k))
        }
        _ => return Err(err(format!("{at}.kty"), "unsupported key type")),
    };
    Ok(Key::new(kid, algs, verifier))
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
