#![allow(clippy::unwrap_used)]
//! The pattern parser and the page reader never panic.

use proptest::prelude::*;
use rexist_stix::{indicators, parse_objects, parse_pattern};

proptest! {
    #[test]
    fn pattern_parse_never_panics(s in any::<String>()) {
        if let Ok(p) = parse_pattern(&s) {
            let _ = indicators(&p);
        }
    }

    #[test]
    fn pattern_like_input_never_panics(s in "[\\[\\]() ':.=!<>a-zA-Z0-9_*,\\\\-]{0,80}") {
        if let Ok(p) = parse_pattern(&s) {
            let _ = indicators(&p);
            prop_assert_eq!(parse_pattern(&p.to_string()).unwrap(), p);
        }
    }

    #[test]
    fn objects_never_panic(s in any::<Vec<u8>>()) {
        let _ = parse_objects(&s);
    }
}
