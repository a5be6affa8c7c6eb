//! The JWS algorithms this filter verifies, and their JOSE names (`alg`): the one table both
//! token headers and JWKs are read with.

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
