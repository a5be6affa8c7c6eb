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
//! `VerifySignatureResult`), declared here with the fields used and encoded by `prost`.

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

/// Whether a host has [`FOREIGN_FUNCTION`], as far as a module can tell without calling it:
/// Envoy answers an unknown foreign function with NOT_FOUND, but ngx_wasm_module traps (the
/// request gets a 500 and the VM is recreated), so a module that can check a signature itself
/// asks only a host that has shown it is Envoy. Found once per VM ([`NativeSignatures::detect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeSignatures {
    /// The host is Envoy (it answers [`ENVOY_PROBE`]): it has `verify_signature`.
    Offered,
    /// The host is ngx_wasm_module (it answers [`NGINX_PROBE`], or refuses a dotted property
    /// outside a request): calling any foreign function but its own traps.
    Absent,
    /// Neither: a host that may have the function, and answers NOT_FOUND if it does not.
    Unknown,
}

/// A property only Envoy has, in every context: its node (`xds.node`, the bootstrap's `node`
/// as a message). ngx_wasm_module answers NOT_FOUND in a request, and INTERNAL_FAILURE (with an
/// error log line) outside one.
pub const ENVOY_PROBE: [&str; 2] = ["xds", "node"];

/// A property only ngx_wasm_module has: the nginx variable `$nginx_version` (its `ngx.*`
/// properties are nginx's variables). Envoy answers NOT_FOUND.
pub const NGINX_PROBE: [&str; 2] = ["ngx", "nginx_version"];

impl NativeSignatures {
    /// What the host's answers to the two probes say, reading them with `get_property` (the
    /// raw hostcall: `Ok(None)` is NOT_FOUND, `Err` any other failure). The NGINX probe is read
    /// only when the Envoy one is missing.
    pub fn detect<E>(mut get_property: impl FnMut(&[&str]) -> Result<Option<Vec<u8>>, E>) -> Self {
        if let Ok(Some(_)) = get_property(&ENVOY_PROBE) {
            return Self::Offered;
        }
        match get_property(&NGINX_PROBE) {
            Ok(None) => Self::Unknown,
            Ok(Some(_)) | Err(_) => Self::Absent,
        }
    }
}

/// Envoy's `VerifySignatureArguments`.
#[derive(Clone, PartialEq, prost::Message)]
struct Arguments {
    #[prost(string, tag = "1")]
    hash_function: String,
    #[prost(bytes = "vec", tag = "2")]
    public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    signature: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    text: Vec<u8>,
}

/// Envoy's `VerifySignatureResult` (its `error` string is not read).
#[derive(Clone, PartialEq, prost::Message)]
struct Verdict {
    #[prost(bool, tag = "1")]
    result: bool,
}

/// The `VerifySignatureArguments` message for `check`.
pub fn encode_arguments(check: &SignatureCheck<'_>) -> Vec<u8> {
    prost::Message::encode_to_vec(&Arguments {
        hash_function: check.hash.to_owned(),
        public_key: check.public_key.to_vec(),
        signature: check.signature.to_vec(),
        text: check.text.to_vec(),
    })
}

/// The verdict of a `VerifySignatureResult`: `true` only when `result` is present and true.
/// `None` if the message is malformed.
pub fn decode_result(bytes: &[u8]) -> Option<bool> {
    <Verdict as prost::Message>::decode(bytes)
        .ok()
        .map(|v| v.result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_told_apart_by_their_properties() {
        type Answer = Result<Option<Vec<u8>>, ()>;
        let host = |envoy: Answer, nginx: Answer| {
            let mut asked = Vec::new();
            let found = NativeSignatures::detect(|path: &[&str]| {
                asked.push(path.join("."));
                if path == ENVOY_PROBE {
                    envoy.clone()
                } else {
                    nginx.clone()
                }
            });
            (found, asked)
        };
        // Envoy: its node (a message: bytes, possibly none); ngx.* is unknown to it.
        let (found, asked) = host(Ok(Some(b"2\x05envoy".to_vec())), Ok(None));
        assert_eq!((found, asked.len()), (NativeSignatures::Offered, 1));
        assert_eq!(
            host(Ok(Some(Vec::new())), Ok(None)).0,
            NativeSignatures::Offered
        );
        // ngx_wasm_module in a request, and outside one (every dotted path fails there).
        let (found, asked) = host(Ok(None), Ok(Some(b"1.22.1".to_vec())));
        assert_eq!(found, NativeSignatures::Absent);
        assert_eq!(asked, ["xds.node", "ngx.nginx_version"]);
        assert_eq!(host(Err(()), Err(())).0, NativeSignatures::Absent);
        // Some other host: neither property.
        assert_eq!(host(Ok(None), Ok(None)).0, NativeSignatures::Unknown);
    }

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
        // proto3 leaves out the empty `text`.
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
        // Unknown fields are skipped, whatever their number.
        assert_eq!(decode_result(&[0x18, 0x96, 0x01, 0x08, 1]), Some(true));
        assert_eq!(decode_result(&[0x88, 0x01, 1, 0x08, 1]), Some(true));
    }

    #[test]
    fn malformed_results_are_none() {
        for bad in [
            &[0x08][..],
            &[0x08, 0x80],
            &[0x12, 5, b'a'],
            &[0x0d, 0, 0, 0, 0],
            &[0x00, 1],
        ] {
            assert_eq!(decode_result(bad), None, "{bad:?}");
        }
    }
}
