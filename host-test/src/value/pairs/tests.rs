use super::*;

#[test]
fn layout_matches_the_spec_example() {
    let b = serialize(&[(":method", "GET")]);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    assert_eq!(hex, "0100000007000000030000003a6d6574686f640047455400");
    assert_eq!(
        deserialize_str(&b).unwrap(),
        vec![(":method".into(), "GET".into())]
    );
}

#[test]
fn malformed_input_is_rejected() {
    let mut b = serialize(&[("a", "b")]);
    b.push(1);
    assert_eq!(deserialize(&b), None, "trailing bytes");
    let mut c = serialize(&[("a", "b")]);
    let last = c.len() - 1;
    c[last] = 1;
    assert_eq!(deserialize(&c), None, "missing NUL");
    assert_eq!(deserialize(&[1, 0, 0]), None, "short");
    assert_eq!(deserialize(&[]), Some(vec![]), "empty");
}
