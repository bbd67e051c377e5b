//! A small, safe HTML-to-text conversion for feed summaries and content.
//!
//! Not an HTML parser: it drops tags, drops whole `script`/`style` and
//! similar elements, decodes entities and keeps paragraph breaks, which is
//! what full-text search and IOC extraction need. A `<` that cannot start a
//! tag (`a < b`) is kept as text. Linear in the input, no recursion.

/// Elements whose content is never text.
const SKIPPED: [&str; 6] = ["script", "style", "noscript", "template", "head", "title"];

/// Elements that end a paragraph (two line breaks).
const PARAGRAPHS: [&str; 16] = [
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "table",
    "blockquote",
    "pre",
    "section",
    "article",
    "hr",
];

/// Elements that end a line.
const LINES: [&str; 5] = ["br", "li", "tr", "dt", "dd"];

/// Converts HTML (or plain text) to plain text.
pub fn to_text(html: &str) -> String {
    let mut out = Output::default();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                if let Some(after) = rest.strip_prefix("<!--") {
                    rest = after.find("-->").map_or("", |end| &after[end + 3..]);
                    continue;
                }
                let Some(tag) = Tag::read(rest) else {
                    out.push_char('<');
                    rest = &rest[1..];
                    continue;
                };
                rest = &rest[tag.len..];
                if !tag.closing && SKIPPED.contains(&tag.name.as_str()) {
                    rest = skip_element(rest, &tag.name);
                    continue;
                }
                if PARAGRAPHS.contains(&tag.name.as_str()) {
                    out.break_lines(2);
                } else if LINES.contains(&tag.name.as_str()) {
                    out.break_lines(1);
                } else if matches!(tag.name.as_str(), "td" | "th") {
                    out.push_space();
                }
            }
            '&' => {
                let (decoded, used) = entity(rest);
                out.push_str(&decoded);
                rest = &rest[used..];
            }
            c if c.is_whitespace() => {
                out.push_space();
                rest = &rest[c.len_utf8()..];
            }
            c => {
                out.push_char(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out.text
}

/// Skips to after `</name…>` (case-insensitive), or to the end.
fn skip_element<'a>(rest: &'a str, name: &str) -> &'a str {
    let lower = rest.to_ascii_lowercase();
    let close = format!("</{name}");
    match lower.find(&close) {
        Some(at) => {
            let after = &rest[at..];
            after.find('>').map_or("", |gt| &after[gt + 1..])
        }
        None => "",
    }
}

struct Tag {
    name: String,
    closing: bool,
    /// Bytes from `<` to after `>`.
    len: usize,
}

impl Tag {
    /// Reads a tag at the start of `s` (which starts with `<`); `None` when
    /// the `<` does not start a tag.
    fn read(s: &str) -> Option<Tag> {
        let body = s.get(1..)?;
        let (closing, body) = match body.strip_prefix('/') {
            Some(b) => (true, b),
            None => (false, body),
        };
        let first = body.chars().next()?;
        if !(first.is_ascii_alphabetic() || (!closing && matches!(first, '!' | '?'))) {
            return None;
        }
        let name: String = body
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        // Find the closing `>`, ignoring any inside quoted attribute values.
        let mut quote: Option<char> = None;
        for (i, c) in s.char_indices().skip(1) {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    return Some(Tag {
                        name,
                        closing,
                        len: i + 1,
                    });
                }
                _ => {}
            }
        }
        // An unterminated tag swallows the rest: it is markup, not text.
        Some(Tag {
            name,
            closing,
            len: s.len(),
        })
    }
}

/// Decodes the entity at the start of `s` (which starts with `&`); returns
/// the text and the bytes used. Unknown entities stay as written.
fn entity(s: &str) -> (String, usize) {
    let end = s
        .char_indices()
        .take(12)
        .find(|(_, c)| *c == ';')
        .map(|(i, _)| i);
    let Some(end) = end else {
        return ("&".into(), 1);
    };
    let name = &s[1..end];
    let decoded = if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        code.and_then(char::from_u32)
            .filter(|c| *c != '\0')
            .map(String::from)
    } else {
        named(name).map(String::from)
    };
    match decoded {
        Some(text) => (text, end + 1),
        None => ("&".into(), 1),
    }
}

fn named(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => " ",
        "hellip" => "…",
        "mdash" => "—",
        "ndash" => "–",
        "lsquo" => "‘",
        "rsquo" => "’",
        "ldquo" => "“",
        "rdquo" => "”",
        "laquo" => "«",
        "raquo" => "»",
        "bull" => "•",
        "middot" => "·",
        "copy" => "©",
        "reg" => "®",
        "trade" => "™",
        "deg" => "°",
        "times" => "×",
        "yen" => "¥",
        "euro" => "€",
        _ => return None,
    })
}

/// Text being built: white space collapsed, breaks merged, no leading or
/// trailing blanks.
#[derive(Default)]
struct Output {
    text: String,
    space: bool,
    breaks: usize,
}

impl Output {
    fn push_char(&mut self, c: char) {
        if c.is_whitespace() {
            self.push_space();
            return;
        }
        if !self.text.is_empty() {
            if self.breaks > 0 {
                for _ in 0..self.breaks {
                    self.text.push('\n');
                }
            } else if self.space {
                self.text.push(' ');
            }
        }
        self.breaks = 0;
        self.space = false;
        self.text.push(c);
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push_char(c);
        }
    }

    fn push_space(&mut self) {
        self.space = true;
    }

    fn break_lines(&mut self, n: usize) {
        self.breaks = self.breaks.max(n);
    }
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn tags_entities_and_paragraphs() {
        assert_eq!(
            to_text("<p>One &amp; <b>two</b></p><p>three&#8230;<br/>four &#x41;</p>"),
            "One & two\n\nthree…\nfour A"
        );
        assert_eq!(
            to_text("<script>alert('x<p>')</script><style>p{}</style>text"),
            "text"
        );
        assert_eq!(to_text("a < b and c > d"), "a < b and c > d");
        assert_eq!(to_text("  plain\n\ttext  "), "plain text");
        assert_eq!(to_text("&bogus; &"), "&bogus; &");
        assert_eq!(to_text("<a href=\"x>y\">link</a><!-- c -->!"), "link!");
        assert_eq!(to_text("<unterminated"), "");
    }
}
