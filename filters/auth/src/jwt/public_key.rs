//! RSA and ECDSA public keys as loaded from JWKs, and the module's own check of their
//! signatures.
//!
//! A key always keeps the bytes the host's `verify_signature` takes (the RSA modulus, the EC
//! point). With the `portable` feature (on by default) the module can also check signatures
//! itself, with RustCrypto's `rsa`, `p256` and `p384`: on hosts without Envoy's function
//! (ngx_wasm_module), for PS256/384/512 (Envoy's check has no PSS padding), and when the host
//! refuses a key. Without it the module links none of that arithmetic (about 200 KB of wasm):
//! RS* and ES* signatures are Envoy's to check, PS* keys are refused when loaded, and an EC point
//! is checked to be on its curve by the host, on the key's first use.

use super::alg::Alg;

/// The RSA exponent every key must have.
pub const RSA_EXPONENT: [u8; 3] = [1, 0, 1];

/// Whether the module checks RSA and ECDSA signatures itself (the `portable` feature).
pub const MODULE_CHECKS: bool = cfg!(feature = "portable");

/// Where to find the build that checks RSA and ECDSA in the module, as error messages name it.
pub const PORTABLE: &str =
    "the portable build (filter_auth_portable.wasm, or filter_bundle_portable.wasm)";

/// A big-endian unsigned number without its leading zero bytes (empty for zero).
pub fn significant(be: &[u8]) -> &[u8] {
    &be[be.iter().take_while(|b| **b == 0).count()..]
}

/// The length in bits of the big-endian unsigned number `be`.
pub fn bits(be: &[u8]) -> usize {
    let digits = significant(be);
    digits
        .first()
        .map_or(0, |top| digits.len() * 8 - top.leading_zeros() as usize)
}

/// The largest RSA modulus the module loads at all, in bits (`jwt.max_rsa_key_bits` may lower
/// it).
pub const RSA_MAX_BITS: usize = 8192;

/// An RSA public key with the exponent 65537.
#[derive(Clone)]
pub struct RsaKey {
    /// The modulus, big-endian, without leading zeros.
    modulus: Vec<u8>,
    #[cfg(feature = "portable")]
    key: rsa::RsaPublicKey,
}

impl RsaKey {
    /// The key of modulus `n` (big-endian) and exponent 65537. Errors: a modulus under 2048 or
    /// over 8192 bits, or (`portable`) one RustCrypto refuses.
    pub fn new(n: &[u8]) -> Result<Self, String> {
        let modulus = significant(n).to_vec();
        let bits = bits(&modulus);
        if bits < 2048 {
            return Err(format!("RSA modulus of {bits} bits, under 2048"));
        }
        if bits > RSA_MAX_BITS {
            return Err("invalid RSA key (at most 8192 bits)".into());
        }
        Ok(Self {
            #[cfg(feature = "portable")]
            key: rsa::RsaPublicKey::new_with_max_size(
                rsa::BigUint::from_bytes_be(&modulus),
                rsa::BigUint::from(65537u32),
                RSA_MAX_BITS,
            )
            .map_err(|_| "invalid RSA key (at most 8192 bits)".to_string())?,
            modulus,
        })
    }

    /// The modulus, big-endian, without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The length in bytes of the modulus, and so of every signature.
    pub fn size(&self) -> usize {
        self.modulus.len()
    }

    /// The module's verdict on `sig` (of the modulus' length), `None` where this build leaves
    /// RSA to the host.
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Option<bool> {
        #[cfg(feature = "portable")]
        return Some(portable::rsa_ok(alg, &self.key, msg, sig));
        #[cfg(not(feature = "portable"))]
        {
            let _ = (alg, msg, sig);
            None
        }
    }
}

/// An elliptic curve JWS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256, for ES256.
    P256,
    /// P-384, for ES384.
    P384,
}

impl Curve {
    /// The length in bytes of a coordinate, and of each of `r` and `s`.
    pub fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
        }
    }
}

/// An ECDSA public key.
#[derive(Clone)]
pub struct EcKey {
    curve: Curve,
    /// The uncompressed SEC1 point: `04 || x || y`.
    point: Vec<u8>,
    #[cfg(feature = "portable")]
    key: portable::EcVerifier,
}

impl EcKey {
    /// The key at `(x, y)`, each of the curve's size. Errors (`portable` only): a point not on
    /// the curve, or a curve this build cannot check.
    pub fn new(curve: Curve, x: &[u8], y: &[u8]) -> Result<Self, String> {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Ok(Self {
            curve,
            #[cfg(feature = "portable")]
            key: portable::EcVerifier::new(curve, &point)?,
            point,
        })
    }

    /// The curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The uncompressed SEC1 point.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// The module's verdict on `sig` (JWS's `r || s`), `None` where this build leaves ECDSA to
    /// the host.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Option<bool> {
        #[cfg(feature = "portable")]
        return Some(self.key.verify(msg, sig));
        #[cfg(not(feature = "portable"))]
        {
            let _ = (msg, sig);
            None
        }
    }
}

/// The module's own checks (RustCrypto), in the `portable` build.
#[cfg(feature = "portable")]
mod portable {
    use rsa::signature::Verifier as _;
    use rsa::RsaPublicKey;
    use sha2::{Digest, Sha256, Sha384, Sha512};

    use super::{Alg, Curve};

    pub fn rsa_ok(alg: Alg, key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool {
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

    /// A RustCrypto ECDSA verifying key.
    #[derive(Clone)]
    pub enum EcVerifier {
        P256(p256::ecdsa::VerifyingKey),
        P384(p384::ecdsa::VerifyingKey),
    }

    impl EcVerifier {
        pub fn new(curve: Curve, point: &[u8]) -> Result<Self, String> {
            match curve {
                Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map(Self::P256)
                    .map_err(|_| "not a point on P-256".into()),
                Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map(Self::P384)
                    .map_err(|_| "not a point on P-384".into()),
            }
        }

        pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            match self {
                Self::P256(key) => p256::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| sig.len() == 64 && key.verify(msg, &s).is_ok()),
                Self::P384(key) => p384::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| sig.len() == 96 && key.verify(msg, &s).is_ok()),
            }
        }
    }
}
