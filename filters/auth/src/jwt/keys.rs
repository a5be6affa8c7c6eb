//! Verification keys: JWS algorithms, JWK parsing into ready-to-use verifiers, and signature
//! checks.
//!
//! Every key is bound to exactly one algorithm when it is loaded (from its `alg` member, or from
//! its curve), so a token can never choose how its key is used: an RSA key is never an HMAC
//! secret, and `none` matches no key. Weak keys are refused at load time: RSA moduli under 2048
//! bits or exponents other than 65537, HMAC secrets shorter than the hash, and any JWK carrying
//! private members.
//!
//! Where the host checks signatures natively (Envoy's `verify_signature`, see
//! [`filter_core::signature`]), RS256/384/512, ES256 and ES384 signatures are checked there:
//! microseconds instead of tens of millions of wasm instructions per new token. The `portable`
//! build (the default) checks them in the module on hosts without it, and for a key the host
//! refuses or disagrees on; the build for Envoy leaves them to Envoy (see [`public_key`]).

use std::cell::Cell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::json::Json;
use filter_core::{Host, SignatureCheck};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::public_key::{self, Curve, EcKey, RsaKey};

/// Where to find the build that checks RSA and ECDSA in the module, as error messages name it.
const PORTABLE: &str =
    "the portable build (filter_auth_portable.wasm, or filter_bundle_portable.wasm)";

/// A JWS algorithm this filter verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// EdDSA with Ed25519.
    EdDsa,
}

const ALGS: [(&str, Alg); 12] = [
    ("HS256", Alg::Hs256),
    ("HS384", Alg::Hs384),
    ("HS512", Alg::Hs512),
    ("RS256", Alg::Rs256),
    ("RS384", Alg::Rs384),
    ("RS512", Alg::Rs512),
    ("PS256", Alg::Ps256),
    ("PS384", Alg::Ps384),
    ("PS512", Alg::Ps512),
    ("ES256", Alg::Es256),
    ("ES384", Alg::Es384),
    ("EdDSA", Alg::EdDsa),
];

impl Alg {
    /// The algorithm named exactly (case-sensitive) `name`; `None` for `none` and anything
    /// unsupported.
    pub fn parse(name: &str) -> Option<Self> {
        ALGS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        ALGS.iter()
            .find(|(_, a)| *a == self)
            .map_or("?", |(n, _)| n)
    }
}

/// How a key verifies; built once when the key is loaded.
#[derive(Clone)]
pub enum Verifier {
    /// HMAC secret (HS256/384/512).
    Hmac(Alg, Vec<u8>),
    /// RSA public key (RS*/PS*).
    Rsa(Alg, RsaKey),
    /// ECDSA public key (ES256 on P-256, ES384 on P-384).
    Ec(EcKey),
    /// Ed25519 public key (EdDSA).
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material (HMAC secrets are secret).
        write!(f, "Verifier({})", self.alg().as_str())
    }
}

impl Verifier {
    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        match self {
            Self::Hmac(alg, _) | Self::Rsa(alg, _) => *alg,
            Self::Ec(key) => match key.curve() {
                Curve::P256 => Alg::Es256,
                Curve::P384 => Alg::Es384,
            },
            Self::Ed25519(_) => Alg::EdDsa,
        }
    }

    /// Whether `sig` is a valid signature of `msg` under this key with its algorithm, as the
    /// module checks it: `None` for RSA and ECDSA keys in a build that leaves them to the host
    /// (see [`public_key`]).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Option<bool> {
        Some(match self {
            Self::Hmac(Alg::Hs256, k) => hmac_ok::<Hmac<Sha256>>(k, msg, sig),
            Self::Hmac(Alg::Hs384, k) => hmac_ok::<Hmac<Sha384>>(k, msg, sig),
            Self::Hmac(Alg::Hs512, k) => hmac_ok::<Hmac<Sha512>>(k, msg, sig),
            Self::Hmac(..) => false,
            Self::Rsa(alg, key) => return key.verify(*alg, msg, sig),
            Self::Ec(key) => return key.verify(msg, sig),
            Self::Ed25519(key) => <[u8; 64]>::try_from(sig).is_ok_and(|bytes| {
                let s = ed25519_dalek::Signature::from_bytes(&bytes);
                key.verify_strict(msg, &s).is_ok()
            }),
        })
    }

    /// `sig` as the host's check takes it: RSA signatures as they are (of the modulus' length),
    /// ECDSA ones converted from JWS's fixed `r || s` to DER. `None` if `sig` has the wrong
    /// length for this key (a zero or oversized `r` or `s` is the host's to refuse).
    fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Rsa(_, key) => (sig.len() == key.size()).then(|| sig.to_vec()),
            Self::Ec(key) => {
                (sig.len() == 2 * key.curve().size()).then(|| der::ecdsa_signature(sig))
            }
            _ => None,
        }
    }
}

fn hmac_ok<M: Mac + hmac::digest::KeyInit>(key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(msg);
            // Constant-time comparison.
            mac.verify_slice(sig).is_ok()
        }
        Err(_) => false,
    }
}

/// A loaded key: optional `kid` and its verifier.
#[derive(Debug, Clone)]
pub struct Key {
    /// The `kid` member, if any.
    pub kid: Option<String>,
    /// The verifier, bound to one algorithm.
    pub verifier: Verifier,
    /// Signatures this key verified recently.
    verified: VerifiedCache,
    /// The key as the host's native check takes it, for algorithms it checks.
    native: Option<Native>,
}

/// A key in the form the host's `verify_signature` takes, and what the host has shown about it.
#[derive(Debug, Clone)]
struct Native {
    /// `sha256`, `sha384` or `sha512`.
    hash: &'static str,
    /// DER `SubjectPublicKeyInfo`.
    spki: Vec<u8>,
    state: Cell<HostState>,
}

/// What the host's checks of one key have shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostState {
    /// Not yet confirmed: a refusal is checked again in the module.
    Untried,
    /// The host accepted a signature of this key: its verdicts stand.
    Proven,
    /// The host cannot check this key, or disagreed with the module: the module checks.
    Unusable,
}

/// Where signature checks ran, counted for the metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    /// Checked natively by the host.
    pub host: u32,
    /// Checked in the module.
    pub module: u32,
}

/// How many verified signatures a key remembers (per worker VM); when full it starts over.
pub const VERIFIED_CACHE_ENTRIES: usize = 1024;

/// Digests of `(message, signature)` pairs a key has verified, so a token presented again skips
/// the signature check (an RSA verification costs millions of wasm instructions; a SHA-256 of
/// the token, a few thousand). Only successes are remembered; claims are still checked on every
/// request. The cache belongs to the key, so it goes away with the key when a key set rotates.
#[derive(Debug, Clone, Default)]
struct VerifiedCache(std::cell::RefCell<std::collections::HashSet<[u8; 32]>>);

impl VerifiedCache {
    fn digest(msg: &[u8], sig: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update((msg.len() as u64).to_le_bytes());
        h.update(msg);
        h.update(sig);
        h.finalize().into()
    }
}

impl Key {
    /// A key with an empty verification cache.
    pub fn new(kid: Option<String>, verifier: Verifier) -> Self {
        let native = native_form(&verifier).map(|(hash, spki)| Native {
            hash,
            spki,
            state: Cell::new(HostState::Untried),
        });
        Self {
            kid,
            verifier,
            verified: VerifiedCache::default(),
            native,
        }
    }

    /// Like [`Verifier::verify`], checked by `host` natively where it can, and remembering
    /// successes of checks made in the module (see [`VERIFIED_CACHE_ENTRIES`]); `checks` counts
    /// where the check ran.
    ///
    /// Once the host has proven it checks this key, its verdicts are not remembered: the
    /// SHA-256 that keys the memory costs the module more (about 35 thousand wasm instructions
    /// for a 600-byte token) than the host's check costs Envoy, and auth's token cache in front
    /// still remembers whole tokens.
    pub fn verify(&self, msg: &[u8], sig: &[u8], host: &dyn Host, checks: &mut Checks) -> bool {
        let proven = self
            .native
            .as_ref()
            .is_some_and(|n| n.state.get() == HostState::Proven);
        if proven {
            if let Some(ok) = self.host_verdict(msg, sig, host, checks) {
                return ok;
            }
        }
        let digest = VerifiedCache::digest(msg, sig);
        if self.verified.0.borrow().contains(&digest) {
            return true;
        }
        let ok = match self.host_verdict(msg, sig, host, checks) {
            Some(ok) => ok,
            None => self.module_verdict(msg, sig, checks).unwrap_or(false),
        };
        if ok {
            let mut seen = self.verified.0.borrow_mut();
            if seen.len() >= VERIFIED_CACHE_ENTRIES {
                seen.clear();
            }
            seen.insert(digest);
        }
        ok
    }

    /// The module's own verdict, counted; `None` where this build leaves the check to the host.
    fn module_verdict(&self, msg: &[u8], sig: &[u8], checks: &mut Checks) -> Option<bool> {
        let ok = self.verifier.verify(msg, sig)?;
        checks.module += 1;
        Some(ok)
    }

    /// How many verified signatures the key remembers now.
    pub fn cached_verifications(&self) -> usize {
        self.verified.0.borrow().len()
    }

    /// The verdict on `sig` when the host can give it (`None`: the module must check).
    ///
    /// A host that cannot check the key (no such function, a refused key) is not asked again
    /// for it. Until the host has accepted one signature of the key, a refusal is checked again
    /// in the module, and if the module accepts it the host is not asked again for this key: a
    /// host that refuses valid signatures (a key it imports differently, say) costs speed, never
    /// a valid token. A build that leaves RSA and ECDSA to the host takes its refusals as they
    /// are, and refuses every signature of a key the host cannot check.
    fn host_verdict(
        &self,
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
        checks: &mut Checks,
    ) -> Option<bool> {
        let native = self.native.as_ref()?;
        let state = native.state.get();
        if state == HostState::Unusable {
            return None;
        }
        let Some(answer) = self.ask_host(native, msg, sig, host) else {
            return Some(false); // cannot be a signature of this key: the module would refuse it too
        };
        let alg = self.verifier.alg().as_str();
        match answer {
            None => {
                if public_key::MODULE_CHECKS {
                    log::info!(
                        "the host does not check {alg} signatures: checking them in the module"
                    );
                } else {
                    log::error!(
                        "the host cannot check this {alg} key, and this build of auth leaves {alg} to the host: its tokens are refused (on hosts without Envoy's verify_signature, load {PORTABLE})"
                    );
                }
                native.state.set(HostState::Unusable);
                None
            }
            Some(true) => {
                checks.host += 1;
                native.state.set(HostState::Proven);
                Some(true)
            }
            Some(false) if state == HostState::Proven => {
                checks.host += 1;
                Some(false)
            }
            Some(false) => {
                checks.host += 1;
                // A build that leaves the check to the host takes its refusal.
                let ok = self.module_verdict(msg, sig, checks).unwrap_or(false);
                if ok {
                    log::warn!(
                        "the host refused an {alg} signature the module accepts: checking this key's signatures in the module"
                    );
                    native.state.set(HostState::Unusable);
                }
                Some(ok)
            }
        }
    }

    /// The host's answer on `sig`: `None` when `sig` cannot be a signature of this key (no need
    /// to ask), else what [`Host::verify_signature`] says.
    fn ask_host(
        &self,
        native: &Native,
        msg: &[u8],
        sig: &[u8],
        host: &dyn Host,
    ) -> Option<Option<bool>> {
        let signature = self.verifier.native_signature(sig)?;
        Some(host.verify_signature(&SignatureCheck {
            hash: native.hash,
            public_key: &native.spki,
            signature: &signature,
            text: msg,
        }))
    }

    /// The key as the host's check takes it (DER `SubjectPublicKeyInfo`), if it does.
    #[cfg(test)]
    pub fn native_key(&self) -> Option<&[u8]> {
        self.native.as_ref().map(|n| n.spki.as_slice())
    }

    /// `sig` as the host's check takes it.
    #[cfg(test)]
    pub fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
        self.verifier.native_signature(sig)
    }

    /// The host's own verdict on `sig`, without this key's bookkeeping: `Some(false)` for a
    /// signature that cannot be one of this key, `None` if the host cannot check it or the
    /// algorithm is not checked by hosts.
    #[cfg(test)]
    pub fn host_only(&self, msg: &[u8], sig: &[u8], host: &dyn Host) -> Option<bool> {
        let native = self.native.as_ref()?;
        self.ask_host(native, msg, sig, host).unwrap_or(Some(false))
    }
}

/// The hash and DER `SubjectPublicKeyInfo` under which the host checks `verifier`'s signatures:
/// RSASSA-PKCS1-v1_5 and ECDSA only (Envoy's check has no PSS, and EdDSA is cheap in wasm).
fn native_form(verifier: &Verifier) -> Option<(&'static str, Vec<u8>)> {
    let rsa = |key: &RsaKey| {
        let mut numbers = Vec::new();
        der::uint(&mut numbers, key.modulus());
        der::uint(&mut numbers, &public_key::RSA_EXPONENT);
        der::spki(der::RSA_ENCRYPTION, &der::tlv(der::SEQUENCE, &numbers))
    };
    match verifier {
        Verifier::Rsa(Alg::Rs256, key) => Some(("sha256", rsa(key))),
        Verifier::Rsa(Alg::Rs384, key) => Some(("sha384", rsa(key))),
        Verifier::Rsa(Alg::Rs512, key) => Some(("sha512", rsa(key))),
        Verifier::Ec(key) => Some(match key.curve() {
            Curve::P256 => ("sha256", der::spki(der::EC_P256, key.point())),
            Curve::P384 => ("sha384", der::spki(der::EC_P384, key.point())),
        }),
        _ => None,
    }
}

/// The few fixed DER shapes the host's check takes, written directly: the `der`/`spki`/`pkcs8`
/// encoders cost the module about 25 KB for three structures. Tests parse every shape back with
/// those crates, and a key the host cannot read only sends its checks back to the module.
mod der {
    use crate::jwt::public_key::significant;

    pub const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const BIT_STRING: u8 = 0x03;

    /// `AlgorithmIdentifier` contents: rsaEncryption with NULL parameters.
    pub const RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    /// `AlgorithmIdentifier` contents: id-ecPublicKey on prime256v1.
    pub const EC_P256: &[u8] = &[
        0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
        0x3d, 0x03, 0x01, 0x07,
    ];
    /// `AlgorithmIdentifier` contents: id-ecPublicKey on secp384r1.
    pub const EC_P384: &[u8] = &[
        0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
        0x22,
    ];

    /// A tag, its definite length and `content`.
    pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 6);
        out.push(tag);
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let digits = significant(&bytes);
            out.push(0x80 | digits.len() as u8);
            out.extend_from_slice(digits);
        }
        out.extend_from_slice(content);
        out
    }

    /// Appends the INTEGER of an unsigned big-endian number: minimal (leading zeros dropped),
    /// with a zero byte in front when the top bit is set (else it would read as negative).
    pub fn uint(out: &mut Vec<u8>, be: &[u8]) {
        let digits = significant(be);
        let mut content = Vec::with_capacity(digits.len() + 1);
        if digits.first().is_none_or(|b| *b >= 0x80) {
            content.push(0);
        }
        content.extend_from_slice(digits);
        out.extend_from_slice(&tlv(INTEGER, &content));
    }

    /// A `SubjectPublicKeyInfo`: the algorithm identifier `algorithm` and the key bytes.
    pub fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
        let mut bits = Vec::with_capacity(key.len() + 1);
        bits.push(0); // no unused bits
        bits.extend_from_slice(key);
        let mut body = tlv(SEQUENCE, algorithm);
        body.extend_from_slice(&tlv(BIT_STRING, &bits));
        tlv(SEQUENCE, &body)
    }

    /// An `ECDSA-Sig-Value` from JWS's fixed-size `r || s`.
    pub fn ecdsa_signature(raw: &[u8]) -> Vec<u8> {
        let (r, s) = raw.split_at(raw.len() / 2);
        let mut body = Vec::with_capacity(raw.len() + 6);
        uint(&mut body, r);
        uint(&mut body, s);
        tlv(SEQUENCE, &body)
    }
}

/// The keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys in JWKS order.
    pub keys: Vec<Key>,
}

/// Most keys kept from one JWKS.
pub const MAX_KEYS: usize = 32;

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

/// Loads a JWKS (`{"keys": [...]}`). Inline: any bad key is an error. Remote: bad keys are
/// skipped and reported in the second value; an empty result is an error.
pub fn load_jwks(jwks: &Json, origin: Origin) -> Result<(KeySet, Vec<KeyError>), KeyError> {
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
        match load_jwk(jwk, origin, &at) {
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

/// Loads one JWK.
pub fn load_jwk(jwk: &Json, origin: Origin, at: &str) -> Result<Key, KeyError> {
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
            Verifier::Rsa(alg, load_rsa(jwk, at)?)
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

fn load_rsa(jwk: &Json, at: &str) -> Result<RsaKey, KeyError> {
    let n = b64(jwk, at, "n")?;
    let e = b64(jwk, at, "e")?;
    if public_key::significant(&e) != public_key::RSA_EXPONENT {
        return Err(err(
            format!("{at}.e"),
            "only the exponent 65537 is accepted",
        ));
    }
    RsaKey::new(&n).map_err(|e| err(format!("{at}.n"), e))
}
