use super::*;

#[test]
fn round_trips_rfc_4648_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, enc) in vectors {
        assert_eq!(encode(plain.as_bytes()), enc);
        assert_eq!(decode(enc).unwrap(), plain.as_bytes());
        assert_eq!(decode(enc.trim_end_matches('=')).unwrap(), plain.as_bytes());
    }
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(decode(&encode(&bytes)).unwrap(), bytes);
    assert_eq!(decode("Zm9v!"), None);
    assert_eq!(decode("Z"), None);
}
