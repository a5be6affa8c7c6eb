//! How one key verifies, built once when the key is loaded: the key material bound to exactly one
//! algorithm, the module's own check of a signature, and the forms in which the host's
//! `verify_signature` takes the key and its signatures (DER, see `der`).

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::alg::Alg;
use super::der;
use super::public_key::{self, Curve, EcKey, RsaKey};

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

    /// The length in bytes of every signature this key makes: the RSA modulus' length, twice
    /// the curve's for ECDSA (`r || s`), 64 for Ed25519, the hash's for HMAC. A signature of
    /// another length cannot verify, so it is refused without a check (a token without `kid` is
    /// only tried against the keys that can have made its signature).
    pub fn signature_len(&self) -> usize {
        match self {
            Self::Hmac(Alg::Hs384, _) => 48,
            Self::Hmac(Alg::Hs512, _) => 64,
            Self::Hmac(..) => 32,
            Self::Rsa(_, key) => key.size(),
            Self::Ec(key) => 2 * key.curve().size(),
            Self::Ed25519(_) => 64,
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
    pub(super) fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
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

/// The hash and DER `SubjectPublicKeyInfo` under which the host checks `verifier`'s signatures:
/// RSASSA-PKCS1-v1_5 and ECDSA only (Envoy's check has no PSS, and EdDSA is cheap in wasm).
pub(super) fn native_form(verifier: &Verifier) -> Option<(&'static str, Vec<u8>)> {
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
