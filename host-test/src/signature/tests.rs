use super::*;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use rsa::signature::{SignatureEncoding as _, Signer as _};

fn args(hash: &str, key: &[u8], sig: &[u8], text: &[u8]) -> Vec<u8> {
    prost::Message::encode_to_vec(&Arguments {
        hash: hash.into(),
        public_key: key.to_vec(),
        signature: sig.to_vec(),
        text: text.to_vec(),
        public_key_pem: Vec::new(),
    })
}

const RSA_PEM: &str = include_str!("../../../filters/auth/testdata/rsa-2048.pem");

#[test]
fn rsa_pkcs1_signatures_verify_with_their_hash_only() {
    let sk = rsa::RsaPrivateKey::from_pkcs8_pem(RSA_PEM).unwrap();
    let spki = sk.to_public_key().to_public_key_der().unwrap();
    let sig = rsa::pkcs1v15::SigningKey::<Sha256>::new(sk)
        .sign(b"text")
        .to_vec();
    let ok = verify_signature(&args("sha256", spki.as_bytes(), &sig, b"text"));
    assert_eq!(ok, Ok(vec![0x08, 1]));
    for (hash, text) in [("sha384", &b"text"[..]), ("sha256", b"texts")] {
        let out = verify_signature(&args(hash, spki.as_bytes(), &sig, text)).unwrap();
        assert_eq!(out[0], 0x12, "{hash}: result false, with an error");
    }
    let out = verify_signature(&args("md5", spki.as_bytes(), &sig, b"text")).unwrap();
    assert!(out.ends_with(b"md5 is not supported."));
}

#[test]
fn ecdsa_takes_der_signatures() {
    let sk = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let spki = p256::PublicKey::from(sk.verifying_key())
        .to_public_key_der()
        .unwrap();
    let sig: p256::ecdsa::Signature = sk.sign(b"text");
    let der = sig.to_der();
    let ok = verify_signature(&args("sha256", spki.as_bytes(), der.as_bytes(), b"text"));
    assert_eq!(ok, Ok(vec![0x08, 1]));
    let raw = verify_signature(&args("sha256", spki.as_bytes(), &sig.to_bytes(), b"text"));
    assert_ne!(raw, Ok(vec![0x08, 1]), "JWS's raw r||s is not DER");
}

#[test]
fn keys_that_do_not_import_are_bad_arguments() {
    assert_eq!(
        verify_signature(&args("sha256", b"not a key", b"", b"")),
        Err(status::BAD_ARGUMENT)
    );
    assert_eq!(verify_signature(&[0xff]), Err(status::BAD_ARGUMENT));
    let pem = prost::Message::encode_to_vec(&Arguments {
        hash: "sha256".into(),
        public_key_pem: b"-----BEGIN PUBLIC KEY-----".to_vec(),
        ..Arguments::default()
    });
    assert_eq!(verify_signature(&pem), Err(status::BAD_ARGUMENT));
}
