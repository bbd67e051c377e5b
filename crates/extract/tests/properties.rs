//! Laws every extraction obeys, on arbitrary text and on text built from indicator-like
//! fragments: no panic, offsets inside the input on character boundaries, matches in
//! order, and every value a canonical value of its type.

use proptest::prelude::*;
use rexist_extract::{canonicalize, defang, extract, refang};

fn check_laws(text: &str) -> Result<(), TestCaseError> {
    let ms = extract(text);
    // the CLI's allocation-free path prints exactly the matches, offsets shifted
    let mut direct = Vec::new();
    rexist_extract::Extractor::default().extract_jsonl(text, 1000, &mut direct);
    let shifted: Vec<_> = ms
        .iter()
        .cloned()
        .map(|mut m| {
            m.start += 1000;
            m.end += 1000;
            m
        })
        .collect();
    let mut via_matches = Vec::new();
    rexist_extract::write_jsonl(&shifted, None, &mut via_matches);
    prop_assert_eq!(
        String::from_utf8_lossy(&direct),
        String::from_utf8_lossy(&via_matches)
    );
    let mut prev_start = 0;
    for m in &ms {
        prop_assert!(m.start < m.end, "empty span {m:?}");
        prop_assert!(m.end <= text.len(), "span past the end {m:?}");
        prop_assert!(
            text.is_char_boundary(m.start) && text.is_char_boundary(m.end),
            "{m:?}"
        );
        prop_assert!(m.start >= prev_start, "out of order {m:?}");
        prev_start = m.start;
        prop_assert_eq!(
            canonicalize(m.kind, &m.value),
            Some(m.value.clone()),
            "not canonical: {:?}",
            m
        );
    }
    // the rewriting filters never panic either
    let _ = refang(text);
    let _ = defang(text);
    Ok(())
}

/// Fragments that exercise every branch of the scanner: labels, separators and defangs,
/// schemes, hex, digits, brackets, punctuation and non-ASCII text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("evil".to_owned()),
        Just("com".to_owned()),
        Just("co".to_owned()),
        Just("uk".to_owned()),
        Just("xn--p1ai".to_owned()),
        Just("onion".to_owned()),
        Just("zip".to_owned()),
        Just("py".to_owned()),
        Just(".".to_owned()),
        Just("[.]".to_owned()),
        Just("(.)".to_owned()),
        Just("{.}".to_owned()),
        Just("[dot]".to_owned()),
        Just(" dot ".to_owned()),
        Just(" [.] ".to_owned()),
        Just("[.".to_owned()),
        Just("\\.".to_owned()),
        Just("．".to_owned()),
        Just("@".to_owned()),
        Just("[@]".to_owned()),
        Just("[at]".to_owned()),
        Just(" [at] ".to_owned()),
        Just("＠".to_owned()),
        Just("http".to_owned()),
        Just("hxxps".to_owned()),
        Just("HXXP".to_owned()),
        Just("fxp".to_owned()),
        Just("://".to_owned()),
        Just("[:]//".to_owned()),
        Just("[://]".to_owned()),
        Just(":\\\\".to_owned()),
        Just("__".to_owned()),
        Just(":// ".to_owned()),
        Just("：//".to_owned()),
        Just(":\\/\\/".to_owned()),
        Just("/".to_owned()),
        Just("[/]".to_owned()),
        Just("?q=1&r=2".to_owned()),
        Just("#f".to_owned()),
        Just(":".to_owned()),
        Just("::".to_owned()),
        Just(":8080".to_owned()),
        Just("/24".to_owned()),
        Just("1".to_owned()),
        Just("255".to_owned()),
        Just("256".to_owned()),
        Just("2001".to_owned()),
        Just("db8".to_owned()),
        Just("ffff".to_owned()),
        Just("CVE".to_owned()),
        Just("-".to_owned()),
        Just("‑".to_owned()),
        Just("2021".to_owned()),
        Just("44228".to_owned()),
        Just("AS".to_owned()),
        Just("ASN ".to_owned()),
        Just("d41d8cd98f00b204e9800998ecf8427e".to_owned()),
        Just("bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2n".to_owned()),
        Just("38UzaqoN9ZyQEVLJ8e4HYnNQG3ccaGzvTQ".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("…".to_owned()),
        Just("「".to_owned()),
        Just("」".to_owned()),
        Just("通信".to_owned()),
        Just("пример".to_owned()),
        Just("рф".to_owned()),
        Just("例子".to_owned()),
        Just("中国".to_owned()),
        Just("é".to_owned()),
        Just("\u{301}".to_owned()),
        Just("🚨".to_owned()),
        Just("&quot;".to_owned()),
        Just("\\\\".to_owned()),
        Just("_".to_owned()),
        Just("+".to_owned()),
        Just("%".to_owned()),
        "[a-zA-Z0-9]{1,12}",
        "[0-9a-f]{30,66}",
        "\\PC{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_obeys_the_laws(text in "\\PC{0,300}") {
        check_laws(&text)?;
    }

    #[test]
    fn arbitrary_bytes_obey_the_laws(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        check_laws(&text)?;
    }

    #[test]
    fn indicator_like_text_obeys_the_laws(parts in proptest::collection::vec(fragment(), 0..40)) {
        check_laws(&parts.concat())?;
    }

    #[test]
    fn canonicalize_is_idempotent(parts in proptest::collection::vec(fragment(), 0..40)) {
        for m in extract(&parts.concat()) {
            let once = canonicalize(m.kind, &m.value);
            prop_assert_eq!(once.as_deref().and_then(|v| canonicalize(m.kind, v)), once);
        }
    }

    #[test]
    fn defanged_text_yields_the_same_network_indicators(
        labels in proptest::collection::vec("[a-z][a-z0-9]{2,10}", 1..4),
        tld in prop::sample::select(vec!["com", "net", "org", "ru", "io", "co.uk"]),
        octets in proptest::array::uniform4(1u8..=254),
        path in "[a-zA-Z0-9_]{1,10}",
    ) {
        let host = format!("{}.{tld}", labels.join("."));
        let ip = format!("{}.{}.{}.{}", octets[0], octets[1], octets[2], octets[3]);
        let text = format!("C2 {host} and https://{host}/{path} from {ip}, mail x@{host}.");
        let plain: Vec<_> = extract(&text).into_iter().map(|m| (m.kind, m.value)).collect();
        let defanged = defang(&text);
        let again: Vec<_> = extract(&defanged).into_iter().map(|m| (m.kind, m.value)).collect();
        prop_assert_eq!(&plain, &again, "defanged: {}", defanged);
        // canonical values are written as-is here, so refanging restores the text exactly
        prop_assert_eq!(refang(&defanged), text);
    }
}
