//! Envoy's `verify_signature` foreign function, built into the Envoy profile as Envoy builds it
//! in: a `VerifySignatureArguments` protobuf in (`hash_function` = 1, `public_key` = 2 as DER
//! `SubjectPublicKeyInfo`, `signature` = 3, `text` = 4, `public_key_pem` = 5), a
//! `VerifySignatureResult` out (`result` = 1, `error` = 2).
//!
//! As Envoy (BoringSSL's `EVP_DigestVerify`): RSA keys verify RSASSA-PKCS1-v1_5, P-256 and P-384
//! keys ECDSA with a DER signature; a key that does not import is BAD_ARGUMENT; an unsupported
//! hash, a key type that takes no digest (Ed25519) or a wrong signature is `result: false` with
//! an error. Differences: hashes are `sha256`, `sha384` and `sha512` only (Envoy also takes
//! `sha1` and `sha224`), PEM keys are BAD_ARGUMENT, and other EC curves do not import.

use p256::pkcs8::DecodePublicKey as _;
use rsa::signature::hazmat::PrehashVerifier as _;
use rsa::signature::Verifier as _;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::value::status;

/// Runs `verify_signature` on serialized arguments: the serialized result, or a status.
pub fn verify_signature(arguments: &[u8]) -> Result<Vec<u8>, i32> {
    let args = Arguments::decode(arguments).ok_or(status::BAD_ARGUMENT)?;
    if !args.public_key_pem.is_empty() {
        return Err(status::BAD_ARGUMENT);
    }
    let key = Key::import(&args.public_key).ok_or(status::BAD_ARGUMENT)?;
    let verdict = key.verify(&args.hash, &args.signature, &args.text);
    Ok(encode_result(verdict))
}

/// Envoy's `VerifySignatureArguments`.
#[derive(Clone, PartialEq, prost::Message)]
struct Arguments {
    #[prost(string, tag = "1")]
    hash: String,
    #[prost(bytes = "vec", tag = "2")]
    public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    signature: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    text: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    public_key_pem: Vec<u8>,
}

impl Arguments {
    fn decode(bytes: &[u8]) -> Option<Self> {
        <Self as prost::Message>::decode(bytes).ok()
    }
}

/// Envoy's `VerifySignatureResult`.
#[derive(Clone, PartialEq, prost::Message)]
struct Verdict {
    #[prost(bool, tag = "1")]
    result: bool,
    #[prost(string, tag = "2")]
    error: String,
}

fn encode_result(verdict: Result<(), String>) -> Vec<u8> {
    let v = match verdict {
        Ok(()) => Verdict {
            result: true,
            error: String::new(),
        },
        Err(error) => Verdict {
            result: false,
            error,
        },
    };
    prost::Message::encode_to_vec(&v)
}

enum Key {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    /// Imports, but takes no digest: every check fails as in BoringSSL.
    Ed25519,
}

/// The `id-Ed25519` algorithm identifier of a `SubjectPublicKeyInfo`.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl Key {
    fn import(der: &[u8]) -> Option<Self> {
        if let Ok(k) = rsa::RsaPublicKey::from_public_key_der(der) {
            return Some(Self::Rsa(k));
        }
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Some(Self::P256(k));
        }
        if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_der(der) {
            return Some(Self::P384(k));
        }
        (der.len() == 44 && der.starts_with(&ED25519_SPKI_PREFIX)).then_some(Self::Ed25519)
    }

    fn verify(&self, hash: &str, signature: &[u8], text: &[u8]) -> Result<(), String> {
        let digest = match hash {
            "sha256" => Sha256::digest(text).to_vec(),
            "sha384" => Sha384::digest(text).to_vec(),
            "sha512" => Sha512::digest(text).to_vec(),
            other => return Err(format!("{other} is not supported.")),
        };
        let failed = || "Failed to verify digest. Error code: 0".to_owned();
        match self {
            Self::Rsa(key) => {
                let sig = rsa::pkcs1v15::Signature::try_from(signature).map_err(|_| failed())?;
                let ok = match hash {
                    "sha256" => rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                        .verify(text, &sig)
                        .is_ok(),
                    "sha384" => rsa::pkcs1v15::VerifyingKey::<Sha384>::new(key.clone())
                        .verify(text, &sig)
                        .is_ok(),
                    _ => rsa::pkcs1v15::VerifyingKey::<Sha512>::new(key.clone())
                        .verify(text, &sig)
                        .is_ok(),
                };
                ok.then_some(()).ok_or_else(failed)
            }
            Self::P256(key) => {
                let sig = p256::ecdsa::Signature::from_der(signature).map_err(|_| failed())?;
                key.verify_prehash(&digest, &sig).map_err(|_| failed())
            }
            Self::P384(key) => {
                let sig = p384::ecdsa::Signature::from_der(signature).map_err(|_| failed())?;
                key.verify_prehash(&digest, &sig).map_err(|_| failed())
            }
            Self::Ed25519 => Err("Failed to initialize digest verify.".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests;
