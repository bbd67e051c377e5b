//! The JSON-lines output of `rexist extract`, shared by the CLI and the example.

use std::fmt::Write as _;

use crate::Match;

/// Appends one JSON object per match to `out`, each on its own line:
/// `{"type":"ipv4","value":"1.2.3.4","start":7,"end":14,"defanged":false}`, with
/// `"id"` first when `id` is given (the scorer's batch mode).
pub fn write_jsonl(matches: &[Match], id: Option<&str>, out: &mut String) {
    for m in matches {
        // one growth check for the line, not one per piece
        out.reserve(72 + m.value.len() + id.map_or(0, |i| i.len() + 8));
        out.push('{');
        if let Some(id) = id {
            out.push_str("\"id\":");
            push_json_str(out, id);
            out.push(',');
        }
        out.push_str("\"type\":\"");
        out.push_str(m.kind.as_str());
        out.push_str("\",\"value\":");
        push_json_str(out, &m.value);
        out.push_str(",\"start\":");
        push_usize(out, m.start);
        out.push_str(",\"end\":");
        push_usize(out, m.end);
        out.push_str(if m.defanged {
            ",\"defanged\":true}\n"
        } else {
            ",\"defanged\":false}\n"
        });
    }
}

fn push_usize(out: &mut String, mut n: usize) {
    // two digits a step from a table of `&str` pairs, so that no buffer needs UTF-8
    // validation: two numbers a line, most of seven or eight digits in a large input
    const PAIRS: &str = "0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let pair = |k: usize| PAIRS.get(2 * k..2 * k + 2).unwrap_or("00");
    // the pairs below the leading one, least significant first
    let mut low = [0usize; 10];
    let mut k = 0;
    while n >= 100 {
        low[k] = n % 100;
        n /= 100;
        k += 1;
    }
    if n >= 10 {
        out.push_str(pair(n));
    } else {
        out.push_str(&pair(n)[1..]);
    }
    for &p in low[..k].iter().rev() {
        out.push_str(pair(p));
    }
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
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    // the common case: nothing to escape; one table look-up a byte (0xE2 begins
    // U+2028 and U+2029, which the slow path escapes)
    if !s.bytes().any(|c| MAY_ESCAPE[usize::from(c)]) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut copied = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => None,
            _ => continue,
        };
        out.push_str(&s[copied..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        }
        copied = i + c.len_utf8();
    }
    out.push_str(&s[copied..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IocType;

    #[test]
    fn numbers_print_as_decimal() {
        for n in [0, 7, 10, 99, 100, 101, 999, 1000, 12_345_678, usize::MAX] {
            let mut out = String::new();
            push_usize(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn lines_parse_as_json() {
        let ms = [Match {
            kind: IocType::Url,
            value: "http://a.com/\"x\\\u{1}".into(),
            start: 1,
            end: 9,
            defanged: true,
        }];
        let mut out = String::new();
        write_jsonl(&ms, Some("c\"1"), &mut out);
        assert!(out.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(v["id"], "c\"1");
        assert_eq!(v["type"], "url");
        assert_eq!(v["value"], "http://a.com/\"x\\\u{1}");
        assert_eq!(v["start"], 1);
        assert_eq!(v["defanged"], true);
    }
}
