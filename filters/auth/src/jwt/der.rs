//! The few fixed DER shapes the host's signature check takes, written directly: an RSA or EC
//! (P-256, P-384, P-521) `SubjectPublicKeyInfo` and an `ECDSA-Sig-Value`. The `der`/`spki`/`pkcs8`
//! encoders cost the module about 25 KB for three structures. Tests parse every shape back with
//! those crates, and a key the host cannot read only sends its checks back to the module.

use super::public_key::significant;

/// The SEQUENCE tag.
pub const SEQUENCE: u8 = 0x30;
/// The INTEGER tag.
const INTEGER: u8 = 0x02;
/// The BIT STRING tag.
const BIT_STRING: u8 = 0x03;

/// `AlgorithmIdentifier` contents: rsaEncryption with NULL parameters.
pub const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/// `AlgorithmIdentifier` contents: id-ecPublicKey on prime256v1.
pub const EC_P256: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
    0x03, 0x01, 0x07,
];
/// `AlgorithmIdentifier` contents: id-ecPublicKey on secp384r1.
pub const EC_P384: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
];
/// `AlgorithmIdentifier` contents: id-ecPublicKey on secp521r1.
pub const EC_P521: &[u8] = &[
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23,
];

/// A tag, its definite length and `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let digits = significant(&bytes);
        out.push(0x80 | digits.len() as u8);
        out.extend_from_slice(digits);
    }
    out.extend_from_slice(content);
    out
}

/// Appends the INTEGER of an unsigned big-endian number: minimal (leading zeros dropped),
/// with a zero byte in front when the top bit is set (else it would read as negative).
pub fn uint(out: &mut Vec<u8>, be: &[u8]) {
    let digits = significant(be);
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| *b >= 0x80) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    out.extend_from_slice(&tlv(INTEGER, &content));
}

/// A `SubjectPublicKeyInfo`: the algorithm identifier `algorithm` and the key bytes.
pub fn spki(algorithm: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(key);
    let mut body = tlv(SEQUENCE, algorithm);
    body.extend_from_slice(&tlv(BIT_STRING, &bits));
    tlv(SEQUENCE, &body)
}

/// An `ECDSA-Sig-Value` from JWS's fixed-size `r || s`.
pub fn ecdsa_signature(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 6);
    uint(&mut body, r);
    uint(&mut body, s);
    tlv(SEQUENCE, &body)
}
