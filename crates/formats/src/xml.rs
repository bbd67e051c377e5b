//! Decoding XML bodies and reading them into a small, namespace-resolved tree.
//!
//! Feeds are small (the connector caps them), so a tree is simpler and safer
//! than a streaming state machine per format: RSS 2.0, RSS 1.0/RDF, Atom and
//! MyJVN all become "find children by (namespace, local name)".
//!
//! Encodings: the body is decoded to UTF-8 *before* parsing, from the BOM or
//! the `encoding` of the XML declaration (older Japanese feeds are
//! `Shift_JIS`, see the fixtures README). Bytes that are not the declared
//! encoding are an error with the byte offset, never silent mojibake.

use std::borrow::Cow;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::{FormatError, truncate};

/// Deepest element nesting accepted; deeper documents are refused so that
/// building and dropping the tree cannot exhaust the stack.
const MAX_DEPTH: usize = 128;

/// Well-known namespaces.
pub(crate) mod ns {
    pub const RSS1: &str = "http://purl.org/rss/1.0/";
    pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
    pub const ATOM: &str = "http://www.w3.org/2005/Atom";
    pub const DC: &str = "http://purl.org/dc/elements/1.1/";
    pub const DCTERMS: &str = "http://purl.org/dc/terms/";
    pub const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
}

/// An element: resolved name, attributes and children in document order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    /// Namespace URI, if the name is bound to one.
    pub ns: Option<String>,
    /// Local name (no prefix).
    pub name: String,
    /// Attributes: (namespace URI, local name, unescaped value).
    pub attrs: Vec<(Option<String>, String, String)>,
    /// Child elements and text.
    pub children: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// Whether this element is `name` in namespace `ns` (`None` = no namespace).
    pub fn is(&self, ns: Option<&str>, name: &str) -> bool {
        self.name == name && self.ns.as_deref() == ns
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// Child elements named `name` in `ns`.
    pub fn all<'a>(
        &'a self,
        ns: Option<&'a str>,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.is(ns, name))
    }

    /// The first child element named `name` in `ns`.
    pub fn first(&self, ns: Option<&str>, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(ns, name))
    }

    /// Trimmed text of the first child `name` in `ns`, if not empty.
    pub fn child_text(&self, ns: Option<&str>, name: &str) -> Option<String> {
        self.first(ns, name)
            .map(Element::text)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// All text below this element, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.collect_text(&mut out);
        out
    }

    fn collect_text(&self, out: &mut String) {
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => e.collect_text(out),
            }
        }
    }

    /// The markup below this element, re-serialised (for Atom `xhtml`
    /// content, which is then turned into text like HTML).
    pub fn inner_markup(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(&escape(t)),
                Node::Element(e) => {
                    out.push('<');
                    out.push_str(&e.name);
                    out.push('>');
                    out.push_str(&e.inner_markup());
                    out.push_str("</");
                    out.push_str(&e.name);
                    out.push('>');
                }
            }
        }
        out
    }

    /// Value of attribute `name` in `ns`.
    pub fn attr(&self, ns: Option<&str>, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(a_ns, a_name, _)| a_name == name && a_ns.as_deref() == ns)
            .map(|(_, _, v)| v.as_str())
    }
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Decodes `body` to UTF-8 text from its BOM or XML declaration.
pub(crate) fn decode<'a>(
    format: &'static str,
    body: &'a [u8],
) -> Result<Cow<'a, str>, FormatError> {
    let (encoding, skip) = match encoding_rs::Encoding::for_bom(body) {
        Some((enc, bom_len)) => (enc, bom_len),
        None => match declared_encoding(body) {
            Some(label) => {
                let enc = encoding_rs::Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                    FormatError::UnknownEncoding {
                        format,
                        encoding: truncate(&label, 40),
                    }
                })?;
                (enc, 0)
            }
            None => (encoding_rs::UTF_8, 0),
        },
    };
    let bytes = body.get(skip..).unwrap_or_default();
    if encoding == encoding_rs::UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Cow::Borrowed(s)),
            Err(e) => Err(FormatError::Encoding {
                format,
                encoding: "UTF-8".into(),
                offset: skip + e.valid_up_to(),
            }),
        };
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(bytes.len().saturating_mul(3) / 2 + 16);
    let mut read_total = 0;
    loop {
        let rest = bytes.get(read_total..).unwrap_or_default();
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut out, true);
        read_total += read;
        match result {
            encoding_rs::DecoderResult::InputEmpty => return Ok(Cow::Owned(out)),
            encoding_rs::DecoderResult::OutputFull => {
                out.reserve(rest.len().saturating_sub(read).saturating_mul(3) + 16);
            }
            encoding_rs::DecoderResult::Malformed(bad, after) => {
                let back = usize::from(bad) + usize::from(after);
                return Err(FormatError::Encoding {
                    format,
                    encoding: encoding.name().to_owned(),
                    offset: skip + read_total.saturating_sub(back),
                });
            }
        }
    }
}

/// The `encoding="…"` of an XML declaration at the start of `body`, read as
/// ASCII (every encoding a feed declares is ASCII-compatible there).
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = body.get(..body.len().min(256))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = String::from_utf8_lossy(head.get(..end)?);
    let at = decl.find("encoding")?;
    let rest = decl.get(at + "encoding".len()..)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest.get(1..)?;
    let close = value.find(quote)?;
    Some(value.get(..close)?.trim().to_owned())
}

/// Decodes and parses `body` into its root element.
pub(crate) fn parse(format: &'static str, body: &[u8]) -> Result<Element, FormatError> {
    let text = decode(format, body)?;
    parse_str(format, &text)
}

fn xml_err(format: &'static str, offset: u64, message: impl std::fmt::Display) -> FormatError {
    FormatError::Xml {
        format,
        offset,
        message: truncate(&message.to_string(), 200),
    }
}

fn resolved(r: &ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        _ => None,
    }
}

fn parse_str(format: &'static str, text: &str) -> Result<Element, FormatError> {
    let mut reader = NsReader::from_str(text);
    // A stack of open elements; the bottom is a synthetic document node.
    let mut stack: Vec<Element> = vec![Element::default()];
    loop {
        let pos = reader.buffer_position();
        let (element_ns, event) = match reader.read_resolved_event() {
            Ok((resolve, event)) => (resolved(&resolve), event),
            Err(e) => return Err(xml_err(format, reader.error_position(), e)),
        };
        match event {
            Event::Start(start) => {
                let element = open(&reader, &start, element_ns, format, pos)?;
                if stack.len() > MAX_DEPTH {
                    return Err(xml_err(format, pos, "elements nested too deep"));
                }
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open(&reader, &start, element_ns, format, pos)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Node::Element(element));
                }
            }
            Event::End(_) => close(&mut stack, format, pos)?,
            Event::Text(t) => {
                let s = t.xml_content().map_err(|e| xml_err(format, pos, e))?;
                push_text(&mut stack, &s);
            }
            Event::CData(c) => {
                let s = c.xml_content().map_err(|e| xml_err(format, pos, e))?;
                push_text(&mut stack, &s);
            }
            Event::GeneralRef(r) => {
                let ch = r.resolve_char_ref().map_err(|e| xml_err(format, pos, e))?;
                let s = if let Some(c) = ch {
                    c.to_string()
                } else {
                    let name = r.decode().map_err(|e| xml_err(format, pos, e))?;
                    match name.as_ref() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        // XML knows only the five; `&nbsp;` in a feed is a
                        // broken document (security-news-bad.xml).
                        other => {
                            return Err(xml_err(
                                format,
                                pos,
                                format!("undefined entity &{};", truncate(other, 20)),
                            ));
                        }
                    }
                };
                push_text(&mut stack, &s);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if stack.len() > 1 {
        let open = stack.last().map(|e| e.name.clone()).unwrap_or_default();
        return Err(xml_err(
            format,
            u64::try_from(text.len()).unwrap_or(u64::MAX),
            format!(
                "unexpected end of document inside <{}>",
                truncate(&open, 40)
            ),
        ));
    }
    let mut document = stack.pop().unwrap_or_default();
    let root = document.children.drain(..).find_map(|n| match n {
        Node::Element(e) => Some(e),
        Node::Text(_) => None,
    });
    root.ok_or_else(|| xml_err(format, 0, "no root element"))
}

/// Builds an element (without children) from a start tag.
fn open(
    reader: &NsReader<&[u8]>,
    start: &quick_xml::events::BytesStart<'_>,
    element_ns: Option<String>,
    format: &'static str,
    pos: u64,
) -> Result<Element, FormatError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| xml_err(format, pos, e))?;
        // `xmlns` declarations are resolved already; keep the rest.
        if attr.key.as_ref().starts_with(b"xmlns") {
            continue;
        }
        let (a_res, a_local) = reader.resolve_attribute(attr.key);
        let a_ns = if attr.key.as_ref().starts_with(b"xml:") {
            // The `xml:` prefix is predeclared; name it even if unbound here.
            Some(ns::XML.to_owned())
        } else {
            resolved(&a_res)
        };
        let a_name = String::from_utf8_lossy(a_local.as_ref()).into_owned();
        let value = attr
            .unescape_value()
            .map_err(|e| xml_err(format, pos, e))?
            .into_owned();
        attrs.push((a_ns, a_name, value));
    }
    Ok(Element {
        ns: element_ns,
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Closes the innermost open element into its parent.
fn close(stack: &mut Vec<Element>, format: &'static str, pos: u64) -> Result<(), FormatError> {
    if stack.len() < 2 {
        return Err(xml_err(format, pos, "end tag without start tag"));
    }
    if let Some(done) = stack.pop() {
        if let Some(parent) = stack.last_mut() {
            parent.children.push(Node::Element(done));
        }
    }
    Ok(())
}

/// Appends text to the innermost open element, merging adjacent runs (text,
/// entity references and CDATA arrive as separate events).
fn push_text(stack: &mut [Element], s: &str) {
    let Some(top) = stack.last_mut() else { return };
    if let Some(Node::Text(prev)) = top.children.last_mut() {
        prev.push_str(s);
    } else {
        top.children.push(Node::Text(s.to_owned()));
    }
}
