//! RSA and ECDSA public keys as loaded from JWKs, and the module's own check of their
//! signatures.
//!
//! A key always keeps the bytes the host's `verify_signature` takes (the RSA modulus, the EC
//! point). The module checks signatures itself (RustCrypto) where the host cannot:
//! - in every build, RSASSA-PSS (PS256/384/512, `rsa`: Envoy's check has no PSS padding) and
//!   ECDSA on P-521 (ES512, `p521`) on hosts that do not check P-521 keys;
//! - with the `portable` feature (on by default), RSASSA-PKCS1-v1_5 (RS256/384/512) and ECDSA on
//!   P-256 and P-384 (ES256, ES384, `p256` and `p384`) too: on hosts without Envoy's function
//!   (ngx_wasm_module), and when the host refuses a key. Without it the module links no P-256 or
//!   P-384 arithmetic and no PKCS#1 v1.5 padding check: those are Envoy's to check, and a P-256 or
//!   P-384 point is checked to be on its curve by the host, on the key's first use.
//!
//! [`in_module`] says which algorithms this build checks in the module.

use super::alg::Alg;

/// The RSA exponent every key must have.
pub const RSA_EXPONENT: [u8; 3] = [1, 0, 1];

/// Whether this build checks `alg`'s signatures in the module: every algorithm with the
/// `portable` feature; without it, all but RS256/384/512, ES256 and ES384, which are left to the
/// host (Envoy's `verify_signature`).
pub fn in_module(alg: Alg) -> bool {
    let left_to_host = matches!(
        alg,
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Es256 | Alg::Es384
    );
    cfg!(feature = "portable") || !left_to_host
}

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
    key: rsa::RsaPublicKey,
}

impl RsaKey {
    /// The key of modulus `n` (big-endian) and exponent 65537. Errors: a modulus under 2048 or
    /// over 8192 bits, or one RustCrypto refuses.
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

    /// The module's verdict on `sig` (of the modulus' length) under `alg` (RS* or PS*), `None`
    /// where this build leaves `alg` to the host (see [`in_module`]).
    pub fn verify(&self, alg: Alg, msg: &[u8], sig: &[u8]) -> Option<bool> {
        check::rsa(alg, &self.key, msg, sig)
    }
}

/// An elliptic curve JWS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256, for ES256.
    P256,
    /// P-384, for ES384.
    P384,
    /// P-521, for ES512.
    P521,
}

impl Curve {
    /// The length in bytes of a coordinate, and of each of `r` and `s`.
    pub fn size(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// The one algorithm of keys on this curve.
    pub fn alg(self) -> Alg {
        match self {
            Self::P256 => Alg::Es256,
            Self::P384 => Alg::Es384,
            Self::P521 => Alg::Es512,
        }
    }
}

/// An ECDSA public key.
#[derive(Clone)]
pub struct EcKey {
    curve: Curve,
    /// The uncompressed SEC1 point: `04 || x || y`.
    point: Vec<u8>,
    /// The module's verifier, for curves this build checks in the module.
    module: Option<check::Ec>,
}

impl EcKey {
    /// The key at `(x, y)`, each of the curve's size. Errors, for a curve this build checks in
    /// the module: a point not on the curve.
    pub fn new(curve: Curve, x: &[u8], y: &[u8]) -> Result<Self, String> {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Ok(Self {
            curve,
            module: check::Ec::new(curve, &point)?,
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

    /// The module's verdict on `sig` (JWS's `r || s`), `None` where this build leaves the curve
    /// to the host.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Option<bool> {
        self.module.as_ref().map(|m| m.verify(msg, sig))
    }
}

/// The module's own checks (RustCrypto).
mod check {
    use rsa::signature::Verifier as _;
    use rsa::RsaPublicKey;
    use sha2::{Digest, Sha256, Sha384, Sha512};

    use super::{Alg, Curve};

    /// The verdict on an RSA signature under `alg`, `None` for RS* in a build without
    /// `portable`.
    pub fn rsa(alg: Alg, key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> Option<bool> {
        use rsa::traits::PublicKeyParts as _;
        if sig.len() != key.size() {
            return super::in_module(alg).then_some(false);
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
        Some(match alg {
            Alg::Ps256 => pss::<Sha256>(key, msg, sig),
            Alg::Ps384 => pss::<Sha384>(key, msg, sig),
            Alg::Ps512 => pss::<Sha512>(key, msg, sig),
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 => return pkcs1(alg, key, msg, sig),
            _ => false,
        })
    }

    /// The verdict on an RSASSA-PKCS1-v1_5 signature (`portable` only).
    #[cfg(feature = "portable")]
    fn pkcs1(alg: Alg, key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> Option<bool> {
        fn check<D>(key: &RsaPublicKey, msg: &[u8], sig: &[u8]) -> bool
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
        Some(match alg {
            Alg::Rs256 => check::<Sha256>(key, msg, sig),
            Alg::Rs384 => check::<Sha384>(key, msg, sig),
            _ => check::<Sha512>(key, msg, sig),
        })
    }

    /// RS* are the host's to check in this build.
    #[cfg(not(feature = "portable"))]
    fn pkcs1(_: Alg, _: &RsaPublicKey, _: &[u8], _: &[u8]) -> Option<bool> {
        None
    }

    /// A RustCrypto ECDSA verifying key.
    #[derive(Clone)]
    pub enum Ec {
        #[cfg(feature = "portable")]
        P256(p256::ecdsa::VerifyingKey),
        #[cfg(feature = "portable")]
        P384(p384::ecdsa::VerifyingKey),
        P521(p521::ecdsa::VerifyingKey),
    }

    impl Ec {
        /// The verifier of `point` on `curve`, `None` for a curve this build leaves to the host.
        pub fn new(curve: Curve, point: &[u8]) -> Result<Option<Self>, String> {
            match curve {
                #[cfg(feature = "portable")]
                Curve::P256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map(|k| Some(Self::P256(k)))
                    .map_err(|_| "not a point on P-256".into()),
                #[cfg(feature = "portable")]
                Curve::P384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map(|k| Some(Self::P384(k)))
                    .map_err(|_| "not a point on P-384".into()),
                #[cfg(not(feature = "portable"))]
                Curve::P256 | Curve::P384 => Ok(None),
                Curve::P521 => p521::ecdsa::VerifyingKey::from_sec1_bytes(point)
                    .map(|k| Some(Self::P521(k)))
                    .map_err(|_| "not a point on P-521".into()),
            }
        }

        /// Whether `sig` (`r || s`, each of the curve's size) verifies `msg`.
        pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
            match self {
                #[cfg(feature = "portable")]
                Self::P256(key) => p256::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| sig.len() == 64 && key.verify(msg, &s).is_ok()),
                #[cfg(feature = "portable")]
                Self::P384(key) => p384::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| sig.len() == 96 && key.verify(msg, &s).is_ok()),
                Self::P521(key) => p521::ecdsa::Signature::from_slice(sig)
                    .is_ok_and(|s| sig.len() == 132 && key.verify(msg, &s).is_ok()),
            }
        }
    }
}
