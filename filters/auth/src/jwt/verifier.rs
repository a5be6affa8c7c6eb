//! How one key verifies, built once when the key is loaded: the key material, the module's own
//! check of a signature under one of the algorithms the key accepts, and the forms in which the
//! host's `verify_signature` takes the key and its signatures (DER, see `der`).

use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::alg::Alg;
use super::der;
use super::public_key::{self, Curve, EcKey, RsaKey};

/// A key's material; built once when the key is loaded. Which algorithms it is used with is the
/// key's ([`super::keys::Key::algs`]), all of one family: HMAC, RSA, ECDSA on the key's curve,
/// or EdDSA.
#[derive(Clone)]
pub enum Verifier {
    /// HMAC secret (HS256/384/512).
    Hmac(Vec<u8>),
    /// RSA public key (RS*/PS*).
    Rsa(RsaKey),
    /// ECDSA public key (ES256 on P-256, ES384 on P-384, ES512 on P-521).
    Ec(EcKey),
    /// Ed25519 public key (EdDSA).
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material (HMAC secrets are secret).
        let kind = match self {
            Self::Hmac(_) => "oct",
            Self::Rsa(_) => "RSA",
            Self::Ec(_) => "EC",
            Self::Ed25519(_) => "OKP",
        };
        write!(f, "Verifier({kind})")
    }
}

impl Verifier {
    /// The length in bytes of every signature this key makes under `alg`: the RSA modulus'
    /// length, twice the curve's for ECDSA (`r || s`), 64 for Ed25519, the hash's for HMAC. A
    /// signature of another length cannot verify, so it is refused without a check (a token is
    /// only tried against the keys that can have made its signature).
    pub fn signature_len(&self, alg: Alg) -> usize {
        match self {
            Self::Hmac(_) => match alg {
                Alg::Hs384 => 48,
                Alg::Hs512 => 64,
                _ => 32,
            },
            Self::Rsa(key) => key.size(),
            Self::Ec(key) => 2 * key.curve().size(),
            Self::Ed25519(_) => 64,
        }
    }

    /// Whether `sig` is a valid signature of `msg` under this key with `alg` (one the key
    /// accepts), as the module checks it: `None` where this build leaves `alg` to the host (see
    /// [`public_key::in_module`]).
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Option<bool> {
        Some(match (self, alg) {
            (Self::Hmac(k), Alg::Hs256) => hmac_ok::<Hmac<Sha256>>(k, msg, sig),
            (Self::Hmac(k), Alg::Hs384) => hmac_ok::<Hmac<Sha384>>(k, msg, sig),
            (Self::Hmac(k), Alg::Hs512) => hmac_ok::<Hmac<Sha512>>(k, msg, sig),
            (Self::Rsa(key), _) => return key.verify(alg, msg, sig),
            (Self::Ec(key), _) if alg == key.curve().alg() => return key.verify(msg, sig),
            (Self::Ed25519(key), Alg::EdDsa) => <[u8; 64]>::try_from(sig).is_ok_and(|bytes| {
                let s = ed25519_dalek::Signature::from_bytes(&bytes);
                key.verify_strict(msg, &s).is_ok()
            }),
            _ => false,
        })
    }

    /// `sig` as the host's check takes it: RSA signatures as they are (of the modulus' length),
    /// ECDSA ones converted from JWS's fixed `r || s` to DER. `None` if `sig` has the wrong
    /// length for this key (a zero or oversized `r` or `s` is the host's to refuse).
    pub(super) fn native_signature(&self, sig: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Rsa(key) => (sig.len() == key.size()).then(|| sig.to_vec()),
            Self::Ec(key) => {
                (sig.len() == 2 * key.curve().size()).then(|| der::ecdsa_signature(sig))
            }
            _ => None,
        }
    }

    /// The DER `SubjectPublicKeyInfo` under which the host checks this key's signatures: RSA and
    /// EC keys only (EdDSA and HMAC are cheap in wasm).
    pub(super) fn native_key(&self) -> Option<Vec<u8>> {
        match self {
            Self::Rsa(key) => {
                let mut numbers = Vec::new();
                der::uint(&mut numbers, key.modulus());
                der::uint(&mut numbers, &public_key::RSA_EXPONENT);
                Some(der::spki(
                    der::RSA_ENCRYPTION,
                    &der::tlv(der::SEQUENCE, &numbers),
                ))
            }
            Self::Ec(key) => {
                let curve = match key.curve() {
                    Curve::P256 => der::EC_P256,
                    Curve::P384 => der::EC_P384,
                    Curve::P521 => der::EC_P521,
                };
                Some(der::spki(curve, key.point()))
            }
            _ => None,
        }
    }
}

/// The hash under which the host's `verify_signature` checks `alg`'s signatures, for the
/// algorithms a host can check: RSASSA-PKCS1-v1_5 and ECDSA (Envoy's check has no PSS padding).
pub fn native_hash(alg: Alg) -> Option<&'static str> {
    match alg {
        Alg::Rs256 | Alg::Es256 => Some("sha256"),
        Alg::Rs384 | Alg::Es384 => Some("sha384"),
        Alg::Rs512 | Alg::Es512 => Some("sha512"),
        _ => None,
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
