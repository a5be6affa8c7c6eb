//! RFC 9421 HTTP Message Signatures with `hmac-sha256`:
//!
//! ```text
//! Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=1767225600;keyid="bob-hmac"
//! Signature: sig1=:<base64 HMAC-SHA256 of the signature base>:
//! Content-Digest: sha-256=:<base64 SHA-256 of the body>:
//! ```
//!
//! Both fields are Structured Field Dictionaries (RFC 8941), parsed by `sfv` with visitors that
//! stop at the first thing out of bounds. Of the labels in `Signature-Input` (at most
//! [`MessageSignatures::max_signatures`]), the first whose `keyid` names a configured key (and
//! whose `tag` is the configured one, if any) is the one verified: one HMAC per request. The
//! signature base is one `"<component>": <value>` line per covered component, then the
//! `"@signature-params"` line, the serialized inner list with its parameters. Covered components
//! are the derived ones in [`DERIVED`] and header fields (lowercase names, several field lines
//! joined with `, `); component parameters (`sf`, `key`, `bs`, `req`) are not supported.
//! `created` is required and must be within the clock skew; `expires`, when given, must not be
//! past. A covered `content-digest` (RFC 9530, `sha-256` or `sha-512`) is
//! checked against the body as the draft's `digest` is.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use filter_core::HeaderMap;
use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, Ignored, InnerListVisitor, ItemVisitor, Never,
    ParameterVisitor,
};
use sfv::{BareItemFromInput, KeyRef, ListSerializer, Parser, RefBareItem, StringRef, Version};
use subtle::ConstantTimeEq;

use super::{mac, BodyDigest, HmacAlg, HmacConfig, SigningError, Verified, MAX_SIGNED_LINES};

/// The derived components a signature may cover.
pub const DERIVED: [&str; 7] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
];

/// What a signature must cover by default: the method, the authority, the path and the query
/// (`@target-uri` covers the last three, `@request-target` the last two).
pub const DEFAULT_REQUIRED: [&str; 4] = ["@method", "@authority", "@path", "@query"];

/// Longest `Signature-Input`, `Signature` or `Content-Digest` value read, in bytes.
pub const MAX_FIELD_BYTES: usize = 8192;

/// Most parameters one signature may carry.
const MAX_PARAMS: usize = 16;

/// Most members of a `Content-Digest` dictionary.
const MAX_DIGESTS: usize = 8;

/// The `Signature-Input` header, whose presence makes a request carry a message signature.
pub const SIGNATURE_INPUT: &str = "signature-input";

/// The `Signature` header.
pub const SIGNATURE: &str = "signature";

/// Default [`MessageSignatures::max_signatures`].
pub const DEFAULT_MAX_SIGNATURES: usize = 4;

/// Largest [`MessageSignatures::max_signatures`].
pub const MAX_SIGNATURES: usize = 16;

/// RFC 9421 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignatures {
    /// Components every signature must cover (see [`covers`]).
    pub required: Vec<String>,
    /// Most labels `Signature-Input` and `Signature` may hold.
    pub max_signatures: usize,
    /// The `tag` a signature must carry, if any.
    pub tag: Option<String>,
}

/// Whether the request carries an RFC 9421 message signature.
pub fn presented(headers: &HeaderMap) -> bool {
    headers.count(SIGNATURE_INPUT) > 0
}

/// Whether a signature covering `covered` covers the required component `required`:
/// `@target-uri` stands for `@scheme`, `@authority`, `@path` and `@query`, and
/// `@request-target` for `@path` and `@query`.
pub fn covers<'a>(mut covered: impl Iterator<Item = &'a str>, required: &str) -> bool {
    covered.any(|c| {
        c == required
            || (c == "@target-uri"
                && ["@scheme", "@authority", "@path", "@query"].contains(&required))
            || (c == "@request-target" && ["@path", "@query"].contains(&required))
    })
}

/// One member of `Signature-Input`.
#[derive(Debug)]
struct Member<'de> {
    label: &'de str,
    components: Vec<Cow<'de, StringRef>>,
    params: Vec<(&'de KeyRef, BareItemFromInput<'de>)>,
}

impl<'de> Member<'de> {
    fn param(&self, name: &str) -> Option<&BareItemFromInput<'de>> {
        self.params
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }

    fn string(&self, name: &str) -> Result<Option<&str>, SigningError> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => v
                .as_string()
                .map(|s| Some(s.as_str()))
                .ok_or(SigningError::Malformed),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, SigningError> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => v
                .as_integer()
                .map(|i| Some(i64::from(i)))
                .ok_or(SigningError::Malformed),
        }
    }

    /// The `@signature-params` value: the inner list with its parameters, serialized.
    fn serialized(&self) -> Result<String, SigningError> {
        let mut ser = ListSerializer::new();
        {
            let mut list = ser.inner_list();
            for c in &self.components {
                let _ = list.bare_item(RefBareItem::String(c));
            }
            let _ = list
                .finish()
                .parameters(self.params.iter().map(|(k, v)| (*k, RefBareItem::from(v))));
        }
        ser.finish().ok_or(SigningError::Malformed)
    }
}

/// Reads `Signature-Input`: each member an inner list of strings without parameters, with at
/// most [`MAX_PARAMS`] distinct parameters; at most `max` distinct labels.
struct Inputs<'de> {
    max: usize,
    members: Vec<Member<'de>>,
}

impl<'de> DictionaryVisitor<'de> for Inputs<'de> {
    type Out = Vec<Member<'de>>;
    type Error = SigningError;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, SigningError> {
        if self.members.len() >= self.max || self.members.iter().any(|m| m.label == key.as_str()) {
            return Err(SigningError::Malformed);
        }
        self.members.push(Member {
            label: key.as_str(),
            components: Vec::new(),
            params: Vec::new(),
        });
        let member = self.members.last_mut().ok_or(SigningError::Malformed)?;
        Ok(MemberVisitor(member))
    }

    fn finish(self) -> Result<Self::Out, SigningError> {
        Ok(self.members)
    }
}

struct MemberVisitor<'a, 'de>(&'a mut Member<'de>);

impl<'de> EntryVisitor<'de> for MemberVisitor<'_, 'de> {
    type Error = SigningError;

    fn item(self) -> Result<impl ItemVisitor<'de>, SigningError> {
        Err::<Never, _>(SigningError::Malformed)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, SigningError> {
        Ok(ComponentsVisitor(self.0))
    }
}

struct ComponentsVisitor<'a, 'de>(&'a mut Member<'de>);

impl<'de> InnerListVisitor<'de> for ComponentsVisitor<'_, 'de> {
    type Error = SigningError;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, SigningError> {
        if self.0.components.len() >= MAX_SIGNED_LINES {
            return Err(SigningError::Malformed);
        }
        Ok(ComponentVisitor(&mut self.0.components))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, SigningError> {
        Ok(ParamsVisitor(&mut self.0.params))
    }
}

struct ComponentVisitor<'a, 'de>(&'a mut Vec<Cow<'de, StringRef>>);

impl<'de> ItemVisitor<'de> for ComponentVisitor<'_, 'de> {
    type Out = ();
    type Error = SigningError;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, SigningError> {
        match item {
            BareItemFromInput::String(s) => {
                self.0.push(s);
                Ok(NoParams)
            }
            _ => Err(SigningError::Malformed),
        }
    }
}

/// Refuses any parameter (component parameters are not supported).
struct NoParams;

impl<'de> ParameterVisitor<'de> for NoParams {
    type Out = ();
    type Error = SigningError;

    fn parameter(
        &mut self,
        _key: &'de KeyRef,
        _value: BareItemFromInput<'de>,
    ) -> Result<(), SigningError> {
        Err(SigningError::Malformed)
    }

    fn finish(self) -> Result<(), SigningError> {
        Ok(())
    }
}

struct ParamsVisitor<'a, 'de>(&'a mut Vec<(&'de KeyRef, BareItemFromInput<'de>)>);

impl<'de> ParameterVisitor<'de> for ParamsVisitor<'_, 'de> {
    type Out = ();
    type Error = SigningError;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), SigningError> {
        // A repeated parameter is refused rather than resolved (RFC 8941 keeps the last).
        if self.0.len() >= MAX_PARAMS || self.0.iter().any(|(k, _)| *k == key) {
            return Err(SigningError::Malformed);
        }
        self.0.push((key, value));
        Ok(())
    }

    fn finish(self) -> Result<(), SigningError> {
        Ok(())
    }
}

/// Reads a dictionary of at most `max` distinct members, keeping the byte sequences of those
/// named in `wanted` (a wanted member that is not a byte sequence is an error; others are only
/// checked for syntax).
struct ByteMembers<'w> {
    wanted: &'w [&'w str],
    max: usize,
    seen: Vec<String>,
    found: Vec<(usize, Vec<u8>)>,
}

impl<'de> DictionaryVisitor<'de> for ByteMembers<'_> {
    type Out = Vec<(usize, Vec<u8>)>;
    type Error = SigningError;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, SigningError> {
        if self.seen.len() >= self.max || self.seen.iter().any(|s| s == key.as_str()) {
            return Err(SigningError::Malformed);
        }
        self.seen.push(key.as_str().to_owned());
        let index = self.wanted.iter().position(|w| *w == key.as_str());
        Ok(index.map(|i| BytesEntry(i, &mut self.found)))
    }

    fn finish(self) -> Result<Self::Out, SigningError> {
        Ok(self.found)
    }
}

struct BytesEntry<'a>(usize, &'a mut Vec<(usize, Vec<u8>)>);

impl<'de> EntryVisitor<'de> for BytesEntry<'_> {
    type Error = SigningError;

    fn item(self) -> Result<impl ItemVisitor<'de>, SigningError> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, SigningError> {
        Err::<Never, _>(SigningError::Malformed)
    }
}

impl<'de> ItemVisitor<'de> for BytesEntry<'_> {
    type Out = ();
    type Error = SigningError;

    fn bare_item(
        self,
        item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, SigningError> {
        match item {
            BareItemFromInput::ByteSequence(bytes) => {
                self.1.push((self.0, bytes));
                Ok(Ignored)
            }
            _ => Err(SigningError::Malformed),
        }
    }
}

/// The one value of header `name`, at most [`MAX_FIELD_BYTES`].
fn field<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h [u8], SigningError> {
    match headers.single(name) {
        Ok(Some(v)) if v.len() <= MAX_FIELD_BYTES => Ok(v),
        _ => Err(SigningError::Malformed),
    }
}

fn parser(value: &[u8]) -> Parser<'_> {
    Parser::new(value).with_version(Version::Rfc8941)
}

/// `host[:port]` lowercased, without the scheme's default port (RFC 9421 section 2.2.3).
fn normalized_authority(authority: &[u8], scheme: Option<&[u8]>) -> Vec<u8> {
    let authority = authority.to_ascii_lowercase();
    let default = match scheme {
        Some(s) if s.eq_ignore_ascii_case(b"https") => &b"443"[..],
        _ => &b"80"[..],
    };
    if let Some(colon) = authority.iter().rposition(|b| *b == b':') {
        let port = &authority[colon + 1..];
        if !authority[colon..].contains(&b']') && port == default {
            return authority[..colon].to_vec();
        }
    }
    authority
}

/// The value of a covered component.
fn component(headers: &HeaderMap, name: &str) -> Result<Vec<u8>, SigningError> {
    let missing = SigningError::Components;
    let scheme = headers.get(":scheme");
    let path = headers.path().ok_or(missing);
    Ok(match name {
        "@method" => headers.method().ok_or(missing)?.to_vec(),
        "@authority" => normalized_authority(headers.authority().ok_or(missing)?, scheme),
        "@scheme" => scheme.ok_or(missing)?.to_ascii_lowercase(),
        "@target-uri" => [
            &scheme.ok_or(missing)?.to_ascii_lowercase()[..],
            b"://",
            headers.authority().ok_or(missing)?,
            path?,
        ]
        .concat(),
        "@request-target" => path?.to_vec(),
        "@path" => match path?.split(|b| *b == b'?').next().unwrap_or_default() {
            b"" => b"/".to_vec(),
            p => p.to_vec(),
        },
        "@query" => {
            let path = path?;
            match path.iter().position(|b| *b == b'?') {
                Some(i) => path[i..].to_vec(),
                None => b"?".to_vec(),
            }
        }
        derived if derived.starts_with('@') => return Err(SigningError::Malformed),
        field => {
            let lines: Vec<&[u8]> = headers.get_all(field).map(<[u8]>::trim_ascii).collect();
            if lines.is_empty() {
                return Err(missing);
            }
            lines.join(&b", "[..])
        }
    })
}

fn unix(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

impl HmacConfig {
    /// Verifies the RFC 9421 signature of the request at `now`: one HMAC at most, whatever the
    /// request holds.
    pub fn verify_message(
        &self,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Verified, SigningError> {
        let cfg = self.message.as_ref().ok_or(SigningError::Malformed)?;
        let input = field(headers, SIGNATURE_INPUT)?;
        let signatures = field(headers, SIGNATURE)?;
        let members = parser(input)
            .parse_dictionary_with_visitor(Inputs {
                max: cfg.max_signatures,
                members: Vec::new(),
            })
            .map_err(|_| SigningError::Malformed)?;
        // The first signature by a configured key (with the configured tag) is the one checked.
        let mut chosen = None;
        for m in &members {
            if let Some(tag) = &cfg.tag {
                if m.string("tag")? != Some(tag.as_str()) {
                    continue;
                }
            }
            let Some(key_id) = m.string("keyid")? else {
                continue;
            };
            if let Some(key) = self.keys.iter().find(|k| k.key_id == key_id) {
                chosen = Some((m, key));
                break;
            }
        }
        let (member, key) = chosen.ok_or(SigningError::UnknownKey)?;
        for name in ["alg", "nonce", "tag"] {
            member.string(name)?;
        }
        match member.string("alg")? {
            Some("hmac-sha256") | None if self.algorithms.contains(&HmacAlg::Sha256) => {}
            _ => return Err(SigningError::Algorithm),
        }
        let created = member.integer("created")?.ok_or(SigningError::Created)?;
        let expires = member.integer("expires")?;
        if expires.is_some_and(|e| e < created) {
            return Err(SigningError::Malformed);
        }
        let names: Vec<&str> = member.components.iter().map(|c| c.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            let valid = if name.starts_with('@') {
                DERIVED.contains(name)
            } else {
                filter_core::headers::is_valid_name(name)
            };
            if !valid || names[..i].contains(name) {
                return Err(SigningError::Malformed);
            }
        }
        if !cfg
            .required
            .iter()
            .all(|r| covers(names.iter().copied(), r))
        {
            return Err(SigningError::Components);
        }
        let digest_signed = names.contains(&"content-digest");
        if self.body_digest == BodyDigest::Required && !digest_signed {
            return Err(SigningError::Components);
        }
        let signature = parser(signatures)
            .parse_dictionary_with_visitor(ByteMembers {
                wanted: &[member.label],
                max: cfg.max_signatures,
                seen: Vec::new(),
                found: Vec::new(),
            })
            .map_err(|_| SigningError::Malformed)?
            .pop()
            .ok_or(SigningError::Malformed)?
            .1;
        let mut base = Vec::new();
        for name in &names {
            base.push(b'"');
            base.extend_from_slice(name.as_bytes());
            base.extend_from_slice(b"\": ");
            base.extend_from_slice(&component(headers, name)?);
            base.push(b'\n');
        }
        base.extend_from_slice(b"\"@signature-params\": ");
        base.extend_from_slice(member.serialized()?.as_bytes());
        let expected = mac(HmacAlg::Sha256, &key.secret, &base);
        if !bool::from(expected.as_slice().ct_eq(&signature)) {
            return Err(SigningError::Signature);
        }
        // Times are checked once the signature proves they were not tampered with.
        let now = unix(now);
        let skew = i64::try_from(self.clock_skew.as_secs()).unwrap_or(i64::MAX);
        if now.abs_diff(created) > skew.unsigned_abs() {
            return Err(SigningError::Created);
        }
        // The skew already widens `created`; an `expires` the client chose is kept exactly,
        // else it could never end a signature before the skew does.
        if expires.is_some_and(|e| now > e) {
            return Err(SigningError::Expired);
        }
        let body_digest = if digest_signed && self.body_digest != BodyDigest::Off {
            Some(content_digest(field(headers, "content-digest")?)?)
        } else {
            None
        };
        Ok(Verified {
            consumer: key.consumer,
            body_digest,
        })
    }
}

/// The digest a `Content-Digest` field (RFC 9530) gives: its `sha-256` member, else its
/// `sha-512` one, of the right length; other algorithms are passed over.
pub fn content_digest(value: &[u8]) -> Result<Vec<u8>, SigningError> {
    const WANTED: [&str; 2] = ["sha-256", "sha-512"];
    let mut found = parser(value)
        .parse_dictionary_with_visitor(ByteMembers {
            wanted: &WANTED,
            max: MAX_DIGESTS,
            seen: Vec::new(),
            found: Vec::new(),
        })
        .map_err(|_| SigningError::Digest)?;
    // `sha-256` (index 0) if given, else `sha-512`.
    let first = found.iter().position(|(i, _)| *i == 0).unwrap_or_default();
    if first >= found.len() {
        return Err(SigningError::Digest);
    }
    let (i, digest) = found.swap_remove(first);
    if [32, 64].get(i) != Some(&digest.len()) {
        return Err(SigningError::Digest);
    }
    Ok(digest)
}

/// Signs like an RFC 9421 client would (for tests and examples): `(Signature-Input,
/// Signature)` values with label `sig1`, covering `components` of `headers` with `params`
/// (serialized parameters such as `;created=1767225600;keyid="bob-hmac"`).
pub fn sign(
    secret: &[u8],
    components: &[&str],
    params: &str,
    headers: &HeaderMap,
) -> (String, String) {
    let list = components
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(" ");
    let signature_params = format!("({list}){params}");
    let mut base = Vec::new();
    for c in components {
        base.extend_from_slice(format!("\"{c}\": ").as_bytes());
        base.extend_from_slice(&component(headers, c).unwrap_or_default());
        base.push(b'\n');
    }
    base.extend_from_slice(format!("\"@signature-params\": {signature_params}").as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac(HmacAlg::Sha256, secret, &base));
    (format!("sig1={signature_params}"), format!("sig1=:{sig}:"))
}
