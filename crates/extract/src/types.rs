//! The indicator types the extractor knows and the match it reports.

use serde::{Deserialize, Serialize};

/// The kind of an indicator: `rexist-core`'s type, so a match needs no conversion on
/// its way to the store.
pub use rexist_core::IndicatorType as IocType;

/// One indicator found in a text.
///
/// `start..end` are byte offsets into the original text and cover the whole written
/// form, defanged or not (`hxxps://evil[.]com/x`); `value` is the canonical, refanged
/// form (`https://evil.com/x`), the same as [`crate::canonicalize`] gives for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Match {
    /// The indicator's type (serialised as `"type"`).
    #[serde(rename = "type")]
    pub kind: IocType,
    /// Canonical, refanged value.
    pub value: String,
    /// Byte offset of the first byte of the written form.
    pub start: usize,
    /// Byte offset just past the written form.
    pub end: usize,
    /// Whether the written form was defanged (`[.]`, `hxxp`, `[@]`, …).
    pub defanged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_uses_lowercase_names_and_type_key() {
        let m = Match {
            kind: IocType::Ipv4,
            value: "1.2.3.4".into(),
            start: 0,
            end: 7,
            defanged: false,
        };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(
            s,
            r#"{"type":"ipv4","value":"1.2.3.4","start":0,"end":7,"defanged":false}"#
        );
    }
}
