//! The JSON-lines output of `rexist extract`, shared by the CLI and the example.

use std::io::Write as _;

use crate::scan::Found;
use crate::swar;
use crate::{IocType, Match};

/// Appends one JSON object per match to `out`, each on its own line:
/// `{"type":"ipv4","value":"1.2.3.4","start":7,"end":14,"defanged":false}`, with
/// `"id"` first when `id` is given (the scorer's batch mode). Bytes, not a `String`:
/// the lines are built from a few fixed pieces, and no piece then needs validating.
pub fn write_jsonl(matches: &[Match], id: Option<&str>, out: &mut Vec<u8>) {
    for m in matches {
        let line = Line {
            kind: m.kind,
            value: &m.value,
            start: m.start,
            end: m.end,
            defanged: m.defanged,
        };
        line.write(id, out);
    }
}

/// [`write_jsonl`] of a scan's hits, without an id, `base` added to the offsets.
pub(crate) fn write_hits(found: &Found, base: usize, out: &mut Vec<u8>) {
    for h in &found.hits {
        let line = Line {
            kind: h.kind,
            value: found.value(h),
            start: h.start + base,
            end: h.end + base,
            defanged: h.defanged,
        };
        line.write(None, out);
    }
}

/// One output line's fields.
struct Line<'a> {
    kind: IocType,
    value: &'a str,
    start: usize,
    end: usize,
    defanged: bool,
}

impl Line<'_> {
    fn write(&self, id: Option<&str>, out: &mut Vec<u8>) {
        if let Some(id) = id {
            out.extend_from_slice(b"{\"id\":");
            push_json_str(out, id);
            out.push(b',');
        } else {
            out.push(b'{');
        }
        let (mut start_buf, mut end_buf) = (itoa::Buffer::new(), itoa::Buffer::new());
        let start = start_buf.format(self.start).as_bytes();
        let end = end_buf.format(self.end).as_bytes();
        // one growth check for the line (escapes aside), not one per piece
        out.reserve(64 + self.value.len() + start.len() + end.len());
        out.extend_from_slice(b"\"type\":\"");
        out.extend_from_slice(self.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"value\":");
        push_json_str(out, self.value);
        out.extend_from_slice(b",\"start\":");
        out.extend_from_slice(start);
        out.extend_from_slice(b",\"end\":");
        out.extend_from_slice(end);
        out.extend_from_slice(if self.defanged {
            b",\"defanged\":true}\n"
        } else {
            b",\"defanged\":false}\n"
        });
    }
}

/// Whether `s` may hold a byte that needs escaping in a JSON string: a control
/// character, `"`, `\`, or 0xE2 (which begins U+2028 and U+2029). Eight bytes a step
/// (SWAR); a false alarm only costs the careful path.
fn may_escape(s: &[u8]) -> bool {
    let (mut words, rest) = swar::words(s);
    words.any(|x| {
        swar::has_below(x, 0x20)
            | swar::has_byte(x, b'"')
            | swar::has_byte(x, b'\\')
            | swar::has_byte(x, 0xe2)
            != 0
    }) || rest.iter().any(|&c| MAY_ESCAPE[usize::from(c)])
}

/// Bytes that may need escaping in a JSON string: controls, `"`, `\`, 0xE2.
static MAY_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[0xe2] = true;
    t
};

/// A JSON string literal (RFC 8259 escapes; non-ASCII kept as UTF-8).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    // the common case: nothing to escape (0xE2 begins U+2028 and U+2029, which the
    // slow path escapes)
    if !may_escape(s.as_bytes()) {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    let mut copied = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => None,
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[copied..i]);
        match esc {
            Some(e) => out.extend_from_slice(e),
            None => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        }
        copied = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[copied..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IocType;

    #[test]
    fn offsets_print_as_decimal() {
        for n in [0, 7, 10, 99, 100, 101, 999, 1000, 12_345_678, usize::MAX] {
            let ms = [Match {
                kind: IocType::Ipv4,
                value: "192.0.2.1".into(),
                start: n,
                end: n / 2,
                defanged: false,
            }];
            let mut out = Vec::new();
            write_jsonl(&ms, None, &mut out);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["start"].to_string(), n.to_string());
            assert_eq!(v["end"].to_string(), (n / 2).to_string());
        }
    }

    #[test]
    fn escapable_bytes_are_seen_anywhere() {
        for len in 0..20 {
            for pos in 0..len {
                for c in (0u8..0x20).chain([b'"', b'\\', 0xe2]) {
                    let mut s = vec![b'a'; len];
                    s[pos] = c;
                    assert!(may_escape(&s), "{c:#x} at {pos} of {len}");
                }
            }
            // printable ASCII and other non-ASCII bytes need nothing
            let plain: Vec<u8> = (0x20u8..0x7f)
                .chain([0x80, 0xc3, 0xe1, 0xe3, 0xff])
                .filter(|c| !matches!(c, b'"' | b'\\'))
                .cycle()
                .skip(len)
                .take(len * 3)
                .collect();
            assert!(!may_escape(&plain), "{plain:?}");
        }
    }

    #[test]
    fn lines_parse_as_json() {
        let ms = [Match {
            kind: IocType::Url,
            value: "http://a.com/\"x\\\u{1}\u{2028}".into(),
            start: 1,
            end: 9,
            defanged: true,
        }];
        let mut out = Vec::new();
        write_jsonl(&ms, Some("c\"1"), &mut out);
        assert!(out.ends_with(b"\n"));
        // one physical line: controls and the JavaScript line separators are escaped
        let raw = String::from_utf8(out.clone()).unwrap();
        assert_eq!(raw.lines().count(), 1);
        assert!(raw.contains(r"\u0001\u2028"), "{raw}");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["id"], "c\"1");
        assert_eq!(v["type"], "url");
        assert_eq!(v["value"], "http://a.com/\"x\\\u{1}\u{2028}");
        assert_eq!(v["start"], 1);
        assert_eq!(v["defanged"], true);
    }
}
