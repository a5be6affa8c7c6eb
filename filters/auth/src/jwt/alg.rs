//! The JWS algorithms this filter verifies, and their JOSE names (`alg`): the one table both
//! token headers and JWKs are read with; and [`Algs`], the set of algorithms a key accepts.

/// A JWS algorithm this filter verifies: Envoy's `jwt_authn` set.
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
    /// ECDSA P-521 with SHA-512.
    Es512,
    /// EdDSA with Ed25519.
    EdDsa,
}

const ALGS: [(&str, Alg); 13] = [
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
    ("ES512", Alg::Es512),
    ("EdDSA", Alg::EdDsa),
];

impl Alg {
    /// Every algorithm, in the table's order.
    pub const ALL: [Alg; 13] = {
        let mut all = [Alg::Hs256; 13];
        let mut i = 0;
        while i < ALGS.len() {
            all[i] = ALGS[i].1;
            i += 1;
        }
        all
    };

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

/// A set of algorithms: those one key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Algs(u16);

impl Algs {
    /// The set of `algs`.
    pub fn of(algs: &[Alg]) -> Self {
        Self(algs.iter().fold(0, |set, a| set | Self::bit(*a)))
    }

    fn bit(alg: Alg) -> u16 {
        1 << alg as u16
    }

    /// Whether `alg` is in the set.
    pub fn contains(self, alg: Alg) -> bool {
        self.0 & Self::bit(alg) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms in the set, in [`Alg::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Alg> {
        Alg::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl std::fmt::Display for Algs {
    /// The JOSE names joined with `/`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, alg) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(alg.as_str())?;
        }
        Ok(())
    }
}
