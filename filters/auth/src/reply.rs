//! The answers the filter sends: why a request is refused, and the local reply for each reason:
//! 400 for ambiguous input, 401 with `WWW-Authenticate` (RFC 6750 error codes for Bearer), 403
//! for no rule or an ACL denial, 503 when JWT keys cannot be had. Bodies are RFC 9457 problems;
//! details never hold a secret.

use filter_core::{LocalReply, Problem};

use crate::credential::CredentialType;
use crate::metrics::Metric;

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The path is ambiguous.
    BadPath(&'static str),
    /// No rule matches.
    NoRule,
    /// No credential; the accepted types.
    Missing(Vec<CredentialType>),
    /// A credential given twice, or several kinds at once.
    Ambiguous,
    /// A credential was refused; the reason is safe to show.
    Invalid(CredentialType, String),
    /// Credentials naming different consumers.
    Mismatch,
    /// The ACL refused the consumer.
    Denied,
    /// No JWT keys can be had.
    KeysUnavailable,
}

fn challenge(t: CredentialType, realm: &str, error: Option<(&str, &str)>) -> String {
    let mut c = match t {
        CredentialType::Jwt => format!("Bearer realm=\"{realm}\""),
        CredentialType::Basic => format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
        CredentialType::Hmac => {
            format!("Signature realm=\"{realm}\", headers=\"(request-target) date\"")
        }
        CredentialType::ApiKey => format!("ApiKey realm=\"{realm}\""),
    };
    if let Some((code, description)) = error {
        c.push_str(&format!(
            ", error=\"{code}\", error_description=\"{description}\""
        ));
    }
    c
}

impl Failure {
    /// The metric counting this refusal.
    pub fn metric(&self) -> Metric {
        match self {
            Self::BadPath(_) => Metric::BadPath,
            Self::NoRule => Metric::NoRule,
            Self::Missing(_) => Metric::MissingCredentials,
            Self::Ambiguous => Metric::AmbiguousCredentials,
            Self::Invalid(..) => Metric::InvalidCredentials,
            Self::Mismatch => Metric::CredentialMismatch,
            Self::Denied => Metric::AccessDenied,
            Self::KeysUnavailable => Metric::KeysUnavailable,
        }
    }

    /// The local reply.
    pub fn reply(&self, realm: &str) -> LocalReply {
        match self {
            Self::BadPath(why) => Problem::new(400, "ambiguous-path", "Ambiguous request path")
                .detail(format!("The request path is refused: {why}."))
                .into(),
            Self::NoRule => Problem::new(403, "no-matching-rule", "Forbidden")
                .detail("No access rule covers this request.")
                .into(),
            Self::Missing(types) => {
                let accepted: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                let challenges: Vec<String> =
                    types.iter().map(|t| challenge(*t, realm, None)).collect();
                LocalReply::problem(
                    &Problem::new(401, "missing-credentials", "Authentication required")
                        .detail("This request needs credentials.")
                        .with("accepted_credentials", accepted),
                )
                .header("www-authenticate", challenges.join(", "))
            }
            Self::Ambiguous => Problem::new(400, "ambiguous-credentials", "Ambiguous credentials")
                .detail(
                    "A credential was given more than once, or several kinds were given at once.",
                )
                .into(),
            Self::Invalid(t, why) => {
                let error = (*t == CredentialType::Jwt).then_some(("invalid_token", why.as_str()));
                LocalReply::problem(
                    &Problem::new(401, "invalid-credentials", "Invalid credentials")
                        .detail(format!("The {} credential was refused: {why}.", t.as_str()))
                        .with("credential", t.as_str()),
                )
                .header("www-authenticate", challenge(*t, realm, error))
            }
            Self::Mismatch => LocalReply::problem(
                &Problem::new(401, "credential-mismatch", "Credentials do not agree")
                    .detail("The credentials name different consumers."),
            ),
            Self::Denied => Problem::new(403, "access-denied", "Forbidden")
                .detail("The consumer is not allowed here.")
                .into(),
            Self::KeysUnavailable => LocalReply::problem(
                &Problem::new(503, "keys-unavailable", "Token keys unavailable")
                    .detail("The keys needed to verify the token cannot be had right now."),
            )
            .header("retry-after", "1"),
        }
    }
}
