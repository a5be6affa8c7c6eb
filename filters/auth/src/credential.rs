//! The kinds of credential a rule can ask for, and the name each goes by in configuration,
//! metrics, challenges and `x-gateway-credential`.

/// A credential type a rule accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CredentialType {
    /// An API key.
    ApiKey,
    /// A JWT.
    Jwt,
    /// Basic credentials.
    Basic,
    /// An HMAC-signed request.
    Hmac,
}

impl CredentialType {
    /// The name used in `x-gateway-credential`, metrics and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::Jwt => "jwt",
            Self::Basic => "basic",
            Self::Hmac => "hmac",
        }
    }
}
