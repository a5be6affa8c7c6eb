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
//! microseconds instead of tens of millions of wasm instructions per new token. The module
//! checks them itself on hosts without it, and for a key the host refuses or disagrees on.

use std::cell::Cell;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use filter_core::{Host, SignatureCheck};
use hmac::{Hmac, Mac};
use rsa::signature::Verifier as _;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

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
    Rsa(Alg, RsaPublicKey),
    /// P-256 public key (ES256).
    P256(p256::ecdsa::VerifyingKey),
    /// P-384 public key (ES384).
    #[cfg(feature = "es384")]
    P384(p384::ecdsa::VerifyingKey),
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
            Self::P256(_) => Alg::Es256,
            #[cfg(feature = "es384")]
            Self::P384(_) => Alg::Es384,
            Self::Ed25519(_) => Alg::EdDsa,
        }
    }

    /// Whether `sig` is a valid signature of `msg` under this key with its algorithm.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Hmac(Alg::Hs256, k) => hmac_ok::<Hmac<Sha256>>(k, msg, sig),
            Self::Hmac(Alg::Hs384, k) => hmac_ok::<Hmac<Sha384>>(k, msg, sig),
            Self::Hmac(Alg::Hs512, k) => hmac_ok::<Hmac<Sha512>>(k, msg, sig),
            Self::Hmac(..) => false,
            Self::Rsa(alg, key) => rsa_ok(*alg, key, msg, sig),
            Self::P256(key) => p256::ecdsa::Signature::from_slice(sig)
                .is_ok_and(|s| sig.len() == 64 && key.verify(msg, &s).is_ok()),
            #[cfg(feature = "es384")]
            Self::P384(key) => p384::ecdsa::Signature::from_slice(sig)
                .is_ok_and(|s| sig.len() == 96 && key.verify(msg, &s).is_ok()),
            Self::Ed25519(key) => <[u8; 64]>::try_from(sig).is_ok_and(|bytes| {
                let s = ed25519_dalek::Signature::from_bytes(&bytes);
                key.verify_strict(msg, &s).is_ok()
            }),
        }
    }

    /// `sig` as the host's check takes it: RSA signatures as they are (of the modulus' length),
    /// ECDSA ones converted from JWS's fixed `r || s` to DER. `None` if `sig` cannot be a valid
    /// signature for this key.
    fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
        use rsa::traits::PublicKeyParts as _;
        match self {
            Self::Rsa(_, key) => (sig.len() == key.size()).then(|| sig.to_vec()),
            // r and s must be in 1..n, as the module's own check requires.
            Self::P256(_) => (sig.len() == 64 && p256::ecdsa::Signature::from_slice(sig).is_ok())
                .then(|| der::ecdsa_signature(sig)),
            #[cfg(feature = "es384")]
            Self::P384(_) => (sig.len() == 96 && p384::ecdsa::Signature::from_slice(sig).is_ok())
                .then(|| der::ecdsa_signature(sig)),
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

fn rsa_ok(alg: Alg, key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
    use rsa::traits::PublicKeyParts as _;
    if sig.len() != key.size() {
        return false;
    }
    fn pkcs1<D>(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool
    where
        D: Digest + rsa::pkcs8::AssociatedOid,
    {
        let Ok(sig) = rsa::pkcs1v15::Signature::try_from(sig) else {
            return false;
        };
        rsa::pkcs1v15::VerifyingKey::<D>::new(key.clone())
            .verify(msg, &sig)
            .is_ok()
    }
    fn pss<D>(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool
    where
        D: Digest + rsa::signature::digest::FixedOutputReset,
    {
        let Ok(sig) = rsa::pss::Signature::try_from(sig) else {
            return false;
        };
        rsa::pss::VerifyingKey::<D>::new(key.clone())
            .verify(msg, &sig)
            .is_ok()
    }
    match alg {
        Alg::Rs256 => pkcs1::<Sha256>(key, msg, sig),
        Alg::Rs384 => pkcs1::<Sha384>(key, msg, sig),
        Alg::Rs512 => pkcs1::<Sha512>(key, msg, sig),
        Alg::Ps256 => pss::<Sha256>(key, msg, sig),
        Alg::Ps384 => pss::<Sha384>(key, msg, sig),
        Alg::Ps512 => pss::<Sha512>(key, msg, sig),
        _ => false,
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
            None => {
                checks.module += 1;
                self.verifier.verify(msg, sig)
            }
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
    /// a valid token.
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
                log::info!("the host does not check {alg} signatures: checking them in the module");
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
                checks.module += 1;
                let ok = self.verifier.verify(msg, sig);
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
    use rsa::traits::PublicKeyParts as _;
    let rsa = |key: &RsaPublicKey| {
        let mut numbers = Vec::new();
        der::uint(&mut numbers, &key.n().to_bytes_be());
        der::uint(&mut numbers, &key.e().to_bytes_be());
        der::spki(der::RSA_ENCRYPTION, &der::tlv(der::SEQUENCE, &numbers))
    };
    match verifier {
        Verifier::Rsa(Alg::Rs256, key) => Some(("sha256", rsa(key))),
        Verifier::Rsa(Alg::Rs384, key) => Some(("sha384", rsa(key))),
        Verifier::Rsa(Alg::Rs512, key) => Some(("sha512", rsa(key))),
        Verifier::P256(key) => {
            let point = key.to_encoded_point(false);
            Some(("sha256", der::spki(der::EC_P256, point.as_bytes())))
        }
        #[cfg(feature = "es384")]
        Verifier::P384(key) => {
            let point = key.to_encoded_point(false);
            Some(("sha384", der::spki(der::EC_P384, point.as_bytes())))
        }
        _ => None,
    }
}

/// The few fixed DER shapes the host's check takes, written directly: the `der`/`spki`/`pkcs8`
/// encoders cost the module about 25 KB for three structures. Tests parse every shape back with
/// those crates, and a key the host cannot read only sends its checks back to the module.
mod der {
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
    #[cfg(feature = "es384")]
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
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out.extend_from_slice(content);
        out
    }

    /// Appends the INTEGER of an unsigned big-endian number: minimal (leading zeros dropped),
    /// with a zero byte in front when the top bit is set (else it would read as negative).
    pub fn uint(out: &mut Vec<u8>, be: &[u8]) {
        let digits = &be[be.iter().take_while(|b| **b == 0).count()..];
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
pub fn load_jwks(jwks: &Value, origin: Origin) -> Result<(KeySet, Vec<KeyError>), KeyError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
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

fn b64(jwk: &Map<String, Value>, at: &str, member: &str) -> Result<Vec<u8>, KeyError> {
    let text = jwk
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("{at}.{member}"), "missing or not a string"))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| err(format!("{at}.{member}"), "not unpadded base64url"))
}

/// Loads one JWK.
pub fn load_jwk(jwk: &Value, origin: Origin, at: &str) -> Result<Key, KeyError> {
    let jwk = jwk
        .as_object()
        .ok_or_else(|| err(at, "a JWK must be an object"))?;
    let text = |m: &str| jwk.get(m).and_then(Value::as_str);
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
        Some(Value::String(k)) if k.len() <= 256 => Some(k.clone()),
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
        if jwk.contains_key(private) {
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
            Verifier::Rsa(alg, load_rsa(jwk, at)?)
        }
        "EC" => match text("crv") {
            Some("P-256") => {
                want(&[Alg::Es256], Alg::Es256)?;
                let point = ec_point(jwk, at, 32)?;
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| err(at, "not a point on P-256"))?;
                Verifier::P256(key)
            }
            #[cfg(feature = "es384")]
            Some("P-384") => {
                want(&[Alg::Es384], Alg::Es384)?;
                let point = ec_point(jwk, at, 48)?;
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| err(at, "not a point on P-384"))?;
                Verifier::P384(key)
            }
            _ => return Err(err(format!("{at}.crv"), "unsupported curve")),
        },
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

fn load_rsa(jwk: &Map<String, Value>, at: &str) -> Result<RsaPublicKey, KeyError> {
    let n = b64(jwk, at, "n")?;
    let e = b64(jwk, at, "e")?;
    let e_trimmed: Vec<u8> = e.iter().copied().skip_while(|b| *b == 0).collect();
    if e_trimmed != [1, 0, 1] {
        return Err(err(
            format!("{at}.e"),
            "only the exponent 65537 is accepted",
        ));
    }
    let n = BigUint::from_bytes_be(&n);
    let bits = n.bits();
    if bits < 2048 {
        return Err(err(
            format!("{at}.n"),
            format!("RSA modulus of {bits} bits, under 2048"),
        ));
    }
    RsaPublicKey::new_with_max_size(n, BigUint::from(65537u32), 8192)
        .map_err(|_| err(format!("{at}.n"), "invalid RSA key (at most 8192 bits)"))
}

fn ec_point(jwk: &Map<String, Value>, at: &str, len: usize) -> Result<Vec<u8>, KeyError> {
    let x = b64(jwk, at, "x")?;
    let y = b64(jwk, at, "y")?;
    if x.len() != len || y.len() != len {
        return Err(err(at, format!("coordinates must be {len} bytes each")));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}
