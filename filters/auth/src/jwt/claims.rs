//! Claim checks (`exp`, `nbf`, `iat` with leeway, exact `iss`, `aud`, required claims), claim
//! lookup by path, and claim values rendered for request headers.

use filter_core::json::{Json, Number};

use super::JwtError;

/// Latest accepted NumericDate (9999-12-31T23:59:59Z); larger values are refused, not clamped.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// A claim path: `realm_access.roles` is `["realm_access", "roles"]`.
pub type ClaimPath = Vec<String>;

/// Splits a dotted path; `None` if a segment is empty.
pub fn parse_path(text: &str) -> Option<ClaimPath> {
    let path: ClaimPath = text.split('.').map(str::to_owned).collect();
    (!path.iter().any(String::is_empty)).then_some(path)
}

/// The claim at `path`, if present.
pub fn lookup<'a>(claims: &'a Json, path: &[String]) -> Option<&'a Json> {
    path.iter()
        .try_fold(claims, |value, segment| value.get(segment))
}

/// A NumericDate: a non-negative JSON number up to [`MAX_NUMERIC_DATE`] (fractions truncated).
/// Strings, negative numbers and overflowing values are `None`.
pub fn numeric_date(value: &Json) -> Option<i64> {
    let Json::Number(n) = value else {
        return None;
    };
    let secs = match *n {
        // Above i64::MAX is far above MAX_NUMERIC_DATE.
        Number::Unsigned(u) => i64::try_from(u).ok()?,
        Number::Negative(_) => return None,
        Number::Float(f) => {
            if !f.is_finite() || !(0.0..=MAX_NUMERIC_DATE as f64).contains(&f) {
                return None;
            }
            f as i64
        }
    };
    (0..=MAX_NUMERIC_DATE).contains(&secs).then_some(secs)
}

/// What a provider checks in every claims set.
#[derive(Debug, Clone)]
pub struct ClaimRules {
    /// Exact `iss`.
    pub issuer: String,
    /// Accepted audiences; empty means `aud` is not checked.
    pub audiences: Vec<String>,
    /// Allowed clock skew in seconds.
    pub leeway: i64,
    /// Refuse tokens without `exp`.
    pub require_exp: bool,
    /// Claims that must be present.
    pub required: Vec<ClaimPath>,
}

fn date(claims: &Json, name: &'static str) -> Result<Option<i64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => numeric_date(v)
            .map(Some)
            .ok_or(JwtError::InvalidClaim(name)),
    }
}

impl ClaimRules {
    /// The instants `[from, until)` (Unix seconds) at which [`ClaimRules::check`] depends on
    /// nothing but the clock for `claims` that passed it once: `nbf`/`iat` and `exp`, widened by
    /// the leeway. Malformed dates give an empty window.
    pub fn window(&self, claims: &Json) -> (i64, i64) {
        let (Ok(exp), Ok(nbf), Ok(iat)) = (
            date(claims, "exp"),
            date(claims, "nbf"),
            date(claims, "iat"),
        ) else {
            return (i64::MAX, i64::MIN);
        };
        let from = nbf
            .into_iter()
            .chain(iat)
            .map(|t| t.saturating_sub(self.leeway))
            .max()
            .unwrap_or(i64::MIN);
        let until = exp.map_or(i64::MAX, |t| t.saturating_add(self.leeway));
        (from, until)
    }

    /// Checks `claims` at `now` (Unix seconds).
    pub fn check(&self, claims: &Json, now: i64) -> Result<(), JwtError> {
        if claims.get("iss").and_then(Json::as_str) != Some(self.issuer.as_str()) {
            return Err(JwtError::UnknownIssuer);
        }
        match date(claims, "exp")? {
            Some(exp) if now >= exp.saturating_add(self.leeway) => return Err(JwtError::Expired),
            None if self.require_exp => return Err(JwtError::MissingClaim),
            _ => {}
        }
        if let Some(nbf) = date(claims, "nbf")? {
            if nbf > now.saturating_add(self.leeway) {
                return Err(JwtError::NotYetValid);
            }
        }
        if let Some(iat) = date(claims, "iat")? {
            if iat > now.saturating_add(self.leeway) {
                return Err(JwtError::IssuedInFuture);
            }
        }
        if !self.audiences.is_empty() {
            let accepted = |v: &Json| {
                v.as_str()
                    .is_some_and(|a| self.audiences.iter().any(|x| x == a))
            };
            let ok = match claims.get("aud") {
                Some(aud @ Json::String(_)) => accepted(aud),
                Some(Json::Array(items)) => items.iter().any(accepted),
                _ => false,
            };
            if !ok {
                return Err(JwtError::BadAudience);
            }
        }
        if self.required.iter().any(|p| lookup(claims, p).is_none()) {
            return Err(JwtError::MissingClaim);
        }
        Ok(())
    }
}

/// A claim rendered as a header value: strings as they are, numbers and booleans as JSON,
/// arrays as their items joined with `,`, objects as compact JSON; `None` for null.
pub fn header_value(value: &Json) -> Option<String> {
    fn scalar(v: &Json) -> String {
        match v {
            Json::String(s) => s.clone(),
            // Writing a tree to a String cannot fail.
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }
    match value {
        Json::Null => None,
        Json::Array(items) => Some(items.iter().map(scalar).collect::<Vec<_>>().join(",")),
        other => Some(scalar(other)),
    }
}
