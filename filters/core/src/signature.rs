//! Signature checks the host can do natively, and their wire format.
//!
//! Envoy offers the foreign function `verify_signature` (BoringSSL's `EVP_DigestVerify`): a
//! public key as DER `SubjectPublicKeyInfo`, a hash name, a signature and the signed text in, a
//! verdict out. RSA keys verify RSASSA-PKCS1-v1_5 and EC keys ECDSA with a DER signature. Native
//! code does in microseconds what takes millions of wasm instructions (an RS256 check is about
//! 21 million, ES384 about 97 million), so filters hand signature checks to the host when it can
//! do them and check in wasm otherwise ([`crate::Host::verify_signature`]).
//!
//! Arguments and result are protobuf messages (Envoy's `VerifySignatureArguments` and
//! `VerifySignatureResult`); the few fields used are written and read here.

/// One signature to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureCheck<'a> {
    /// Hash function: `sha256`, `sha384` or `sha512`.
    pub hash: &'a str,
    /// The public key, DER `SubjectPublicKeyInfo`.
    pub public_key: &'a [u8],
    /// The signature: PKCS#1 v1.5 bytes for RSA, DER `ECDSA-Sig-Value` for ECDSA.
    pub signature: &'a [u8],
    /// The signed bytes.
    pub text: &'a [u8],
}

/// The foreign function's name in Envoy.
pub const FOREIGN_FUNCTION: &str = "verify_signature";

/// `VerifySignatureArguments`: `hash_function` = 1, `public_key` = 2, `signature` = 3,
/// `text` = 4 (all length-delimited).
pub fn encode_arguments(check: &SignatureCheck<'_>) -> Vec<u8> {
    let fields: [(u8, &[u8]); 4] = [
        (1, check.hash.as_bytes()),
        (2, check.public_key),
        (3, check.signature),
        (4, check.text),
    ];
    let mut out = Vec::with_capacity(fields.iter().map(|(_, v)| v.len() + 6).sum());
    for (number, value) in fields {
        out.push(number << 3 | 2);
        varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The verdict of a `VerifySignatureResult` (`result` = 1, a bool; `error` = 2, a string): `true`
/// only when `result` is present and true. `None` if the message is malformed.
pub fn decode_result(mut bytes: &[u8]) -> Option<bool> {
    let mut result = false;
    while let Some((&key, rest)) = bytes.split_first() {
        let (field, wire) = (key >> 3, key & 7);
        if key >= 0x80 || field == 0 {
            return None; // field numbers used here fit one byte
        }
        bytes = rest;
        match wire {
            0 => {
                let (v, rest) = read_varint(bytes)?;
                if field == 1 {
                    result = v != 0;
                }
                bytes = rest;
            }
            2 => {
                let (len, rest) = read_varint(bytes)?;
                let len = usize::try_from(len).ok()?;
                bytes = rest.get(len..)?;
            }
            _ => return None,
        }
    }
    Some(result)
}

fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_four_length_delimited_fields() {
        let long = vec![7u8; 300];
        let bytes = encode_arguments(&SignatureCheck {
            hash: "sha256",
            public_key: b"key",
            signature: &long,
            text: b"",
        });
        let mut expected = vec![0x0a, 6];
        expected.extend_from_slice(b"sha256");
        expected.extend_from_slice(&[0x12, 3]);
        expected.extend_from_slice(b"key");
        expected.extend_from_slice(&[0x1a, 0xac, 0x02]); // 300 as a varint
        expected.extend_from_slice(&long);
        expected.extend_from_slice(&[0x22, 0]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn results_read_as_envoy_writes_them() {
        assert_eq!(decode_result(&[0x08, 1]), Some(true));
        assert_eq!(decode_result(&[0x08, 1, 0x12, 0]), Some(true));
        // proto3 leaves out a false `result`: only the error remains.
        let mut failed = vec![0x12, 5];
        failed.extend_from_slice(b"wrong");
        assert_eq!(decode_result(&failed), Some(false));
        assert_eq!(decode_result(&[]), Some(false));
        assert_eq!(decode_result(&[0x08, 0]), Some(false));
        // Unknown fields are skipped.
        assert_eq!(decode_result(&[0x18, 0x96, 0x01, 0x08, 1]), Some(true));
    }

    #[test]
    fn malformed_results_are_none() {
        for bad in [
            &[0x08][..],
            &[0x08, 0x80],
            &[0x12, 5, b'a'],
            &[0x0d, 0, 0, 0, 0],
            &[0x00, 1],
            &[0x88, 0x01, 1],
        ] {
            assert_eq!(decode_result(bad), None, "{bad:?}");
        }
    }
}
