//! The streaming writer: header once, rows in batches, footer once.

use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv6Addr};

use rexist_core::{ExportRow, IndicatorType};
use rexist_stix::write::{BundleWriter, StixIds, timestamp};
use time::OffsetDateTime;

use crate::format::{Format, applies};

/// Export settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Export name, written in headers and comments (control characters
    /// replaced by spaces).
    pub name: String,
    /// When the export was made: comments, the RPZ serial, MISP dates.
    pub generated: OffsetDateTime,
    /// The sid of the first Suricata rule; each further rule takes the next.
    pub suricata_sid_base: u32,
    /// TTL of the RPZ zone records, seconds.
    pub rpz_ttl: u32,
    /// Where STIX ids come from: the installation's namespace
    /// (`Store::stix_namespace`); a STIX export without it is refused.
    pub stix_ids: Option<StixIds>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            name: "rexist".to_owned(),
            generated: OffsetDateTime::now_utc(),
            suricata_sid_base: DEFAULT_SID_BASE,
            rpz_ttl: 300,
            stix_ids: None,
        }
    }
}

/// Default first Suricata sid: the start of the 1,000,000–1,999,999 range
/// reserved for local rules.
pub const DEFAULT_SID_BASE: u32 = 1_000_000;

enum Out<W: Write> {
    Plain(BufWriter<W>),
    Stix(BundleWriter<BufWriter<W>>),
}

/// Writes one export as a stream: [`Writer::new`] writes the header,
/// [`Writer::write_rows`] each batch, [`Writer::finish`] the footer. Output is
/// buffered internally. Rows the format cannot express, or whose value could
/// not be written safely (a control character or a space in a line-based
/// list), are skipped and counted ([`Writer::skipped`]).
pub struct Writer<W: Write> {
    format: Format,
    out: Out<W>,
    name: String,
    next_sid: u64,
    written: u64,
    skipped: u64,
}

const BUFFER: usize = 64 * 1024;

impl<W: Write> Writer<W> {
    /// Starts an export, writing its header. [`Format::Misp`] is a directory
    /// of files, not a stream: use [`crate::misp::MispFeed`] (this returns
    /// an `InvalidInput` error).
    pub fn new(format: Format, w: W, options: &Options) -> io::Result<Self> {
        let name = clean_comment(&options.name);
        let out = match format {
            Format::Misp => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "misp is a feed directory: use rexist_export::misp::MispFeed",
                ));
            }
            Format::Stix => {
                let ids = options.stix_ids.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a stix export needs the installation's STIX id namespace",
                    )
                })?;
                Out::Stix(BundleWriter::new(BufWriter::with_capacity(BUFFER, w), ids)?)
            }
            _ => Out::Plain(BufWriter::with_capacity(BUFFER, w)),
        };
        let mut this = Self {
            format,
            out,
            name,
            next_sid: u64::from(options.suricata_sid_base),
            written: 0,
            skipped: 0,
        };
        this.header(options)?;
        Ok(this)
    }

    fn header(&mut self, options: &Options) -> io::Result<()> {
        let Out::Plain(w) = &mut self.out else {
            return Ok(());
        };
        let generated = timestamp(options.generated);
        match self.format {
            Format::Csv => {
                w.write_all(
                    b"type,value,score,tlp,status,first_seen,last_seen,sightings,sources,labels\n",
                )?;
            }
            Format::Rpz => {
                let serial =
                    u32::try_from(options.generated.unix_timestamp().max(0)).unwrap_or(u32::MAX);
                let ttl = options.rpz_ttl;
                write!(
                    w,
                    "; rexist export {name}, generated {generated}\n\
                     $TTL {ttl}\n\
                     @ IN SOA localhost. hostmaster.localhost. ( {serial} 3600 600 604800 {ttl} )\n\
                     @ IN NS localhost.\n",
                    name = self.name
                )?;
            }
            Format::Suricata | Format::Hosts => {
                writeln!(w, "# rexist export {}, generated {generated}", self.name)?;
            }
            Format::Zeek => {
                w.write_all(
                    b"#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n",
                )?;
            }
            Format::Jsonl | Format::Edl | Format::Panos | Format::Stix | Format::Misp => {}
        }
        Ok(())
    }

    /// Writes a batch of rows.
    pub fn write_rows(&mut self, rows: &[ExportRow]) -> io::Result<()> {
        for row in rows {
            if !applies(self.format, row.record.kind) {
                self.skipped += 1;
                continue;
            }
            let wrote = self.write_row(row)?;
            if wrote {
                self.written += 1;
            } else {
                self.skipped += 1;
            }
        }
        Ok(())
    }

    /// Rows skipped so far: a type the format cannot express, or a value it
    /// cannot carry safely.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Rows written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Writes the footer, flushes, and hands back the writer.
    pub fn finish(self) -> io::Result<W> {
        let buffered = match self.out {
            Out::Stix(b) => b.finish()?,
            Out::Plain(w) => w,
        };
        buffered
            .into_inner()
            .map_err(io::IntoInnerError::into_error)
    }

    /// Writes one applicable row; false when its value cannot be written.
    fn write_row(&mut self, row: &ExportRow) -> io::Result<bool> {
        let w = match &mut self.out {
            Out::Stix(b) => {
                b.write_row(row)?;
                return Ok(true);
            }
            Out::Plain(w) => w,
        };
        let rec = &row.record;
        let value = rec.value.as_str();
        match self.format {
            Format::Edl | Format::Panos => {
                let wire = wire_url(value);
                let v = match rec.kind {
                    IndicatorType::Url if self.format == Format::Panos => strip_scheme(&wire),
                    IndicatorType::Url => &wire,
                    _ => value,
                };
                if !is_token(v) {
                    return Ok(false);
                }
                w.write_all(v.as_bytes())?;
                w.write_all(b"\n")?;
            }
            Format::Hosts => {
                if !is_hostname(value) {
                    return Ok(false);
                }
                w.write_all(b"0.0.0.0 ")?;
                w.write_all(value.as_bytes())?;
                w.write_all(b"\n")?;
            }
            Format::Rpz => return write_rpz(w, rec.kind, value),
            Format::Csv => {
                // Quoting would keep a line break inside a field, but line
                // readers of CSV exist: a value with a control character is
                // not canonical anyway, so it is skipped.
                if value.chars().any(char::is_control) {
                    return Ok(false);
                }
                write_csv(w, row)?;
            }
            Format::Jsonl => {
                serde_json::to_writer(&mut *w, row).map_err(io::Error::other)?;
                w.write_all(b"\n")?;
            }
            Format::Zeek => return write_zeek(w, row, &self.name),
            Format::Suricata => {
                let Some(rule) = suricata_rule(row, &self.name, self.next_sid)? else {
                    return Ok(false);
                };
                self.next_sid += 1;
                w.write_all(rule.as_bytes())?;
            }
            Format::Stix | Format::Misp => unreachable!("handled above"),
        }
        Ok(true)
    }
}

/// Replaces control characters (line breaks included) by spaces, for names
/// written into comment lines.
pub(crate) fn clean_comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A value that can stand alone on a list line: non-empty, with no
/// whitespace and no control character.
fn is_token(v: &str) -> bool {
    if v.is_empty() {
        return false;
    }
    if v.is_ascii() {
        // Fast path: printable ASCII only.
        return v.bytes().all(|b| b > b' ' && b != 0x7f);
    }
    v.chars().all(|c| !c.is_control() && !c.is_whitespace())
}

/// A URL as it travels on the wire: every byte outside printable ASCII
/// percent-encoded (RFC 3986), so a firewall or IDS rule matches the
/// request a client really sends (`/päth` is sent as `/p%C3%A4th`). STIX
/// and MISP keep the value as upstream wrote it.
fn wire_url(url: &str) -> std::borrow::Cow<'_, str> {
    if url.bytes().all(|b| b > b' ' && b < 0x7f) {
        return std::borrow::Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    for b in url.bytes() {
        if b > b' ' && b < 0x7f {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A DNS name made of letters, digits, `-` and `_` labels.
fn is_hostname(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 253
        && v.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `https://a/b` → `a/b`; a value without `://` is returned as is.
fn strip_scheme(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty()
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            rest
        }
        _ => url,
    }
}

// ---------------------------------------------------------------- RPZ

fn write_rpz(w: &mut impl Write, kind: IndicatorType, value: &str) -> io::Result<bool> {
    if kind == IndicatorType::Domain {
        if !is_hostname(value) {
            return Ok(false);
        }
        writeln!(w, "{value} CNAME .\n*.{value} CNAME .")?;
        return Ok(true);
    }
    let Some(owner) = rpz_ip(value) else {
        return Ok(false);
    };
    writeln!(w, "{owner}.rpz-ip CNAME .")?;
    Ok(true)
}

/// The `rpz-ip` owner name (without `.rpz-ip`) of an address or network:
/// prefix length, then IPv4 octets reversed, or IPv6 16-bit words reversed
/// in hex without leading zeros, with `zz` for the longest run of zero words.
pub(crate) fn rpz_ip(value: &str) -> Option<String> {
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (value, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let mut out = String::new();
    match ip {
        IpAddr::V4(v4) => {
            let p = prefix.unwrap_or(32);
            if p > 32 {
                return None;
            }
            let o = v4.octets();
            write!(out, "{p}.{}.{}.{}.{}", o[3], o[2], o[1], o[0]).ok()?;
        }
        IpAddr::V6(v6) => {
            let p = prefix.unwrap_or(128);
            if p > 128 {
                return None;
            }
            write!(out, "{p}").ok()?;
            for word in ipv6_words(v6).iter().rev() {
                out.push('.');
                out.push_str(word);
            }
        }
    }
    Some(out)
}

/// IPv6 words in order, hex without leading zeros, the longest run (of two
/// or more, the first if tied) of zero words as one `zz`.
fn ipv6_words(v6: Ipv6Addr) -> Vec<String> {
    let seg = v6.segments();
    let (mut best, mut best_len) = (0, 0);
    let mut i = 0;
    while i < seg.len() {
        if seg[i] == 0 {
            let start = i;
            while i < seg.len() && seg[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let mut words = Vec::with_capacity(8);
    let mut i = 0;
    while i < seg.len() {
        if best_len >= 2 && i == best {
            words.push("zz".to_owned());
            i += best_len;
        } else {
            words.push(format!("{:x}", seg[i]));
            i += 1;
        }
    }
    words
}

// ---------------------------------------------------------------- CSV

fn csv_field(w: &mut impl Write, s: &str) -> io::Result<()> {
    let needs = s.contains([',', '"', '\r', '\n'])
        || s.starts_with(char::is_whitespace)
        || s.ends_with(char::is_whitespace);
    if needs {
        w.write_all(b"\"")?;
        w.write_all(s.replace('"', "\"\"").as_bytes())?;
        w.write_all(b"\"")
    } else {
        w.write_all(s.as_bytes())
    }
}

fn write_csv(w: &mut impl Write, row: &ExportRow) -> io::Result<()> {
    let r = &row.record;
    csv_field(w, r.kind.as_str())?;
    w.write_all(b",")?;
    csv_field(w, &r.value)?;
    write!(w, ",{},{},{},", r.score, r.tlp, r.status.as_str())?;
    write!(
        w,
        "{},{},{},",
        timestamp(r.first_seen),
        timestamp(r.last_seen),
        r.sightings
    )?;
    csv_field(w, &row.sources.join(";"))?;
    w.write_all(b",")?;
    csv_field(w, &row.labels.join(";"))?;
    w.write_all(b"\n")
}

// ---------------------------------------------------------------- Zeek

/// A Zeek ASCII-reader field: tab, line breaks, other control characters and
/// `\` as `\xNN`; empty as `(empty)`; a lone `-` (unset) escaped.
fn zeek_field(s: &str) -> String {
    if s.is_empty() {
        return "(empty)".to_owned();
    }
    if s == "-" {
        return "\\x2d".to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() || c == '\\' {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn write_zeek(w: &mut impl Write, row: &ExportRow, name: &str) -> io::Result<bool> {
    use IndicatorType as T;
    let r = &row.record;
    let wire = wire_url(&r.value);
    let (value, kind) = match r.kind {
        T::Ipv4 | T::Ipv6 => (r.value.as_str(), "Intel::ADDR"),
        T::Cidr => (r.value.as_str(), "Intel::SUBNET"),
        T::Domain => (r.value.as_str(), "Intel::DOMAIN"),
        T::Url => (strip_scheme(&wire), "Intel::URL"),
        T::Email => (r.value.as_str(), "Intel::EMAIL"),
        T::Md5 | T::Sha1 | T::Sha256 | T::Sha512 => (r.value.as_str(), "Intel::FILE_HASH"),
        T::Cve | T::Asn | T::Btc => return Ok(false),
    };
    let source = if row.sources.is_empty() {
        "rexist".to_owned()
    } else {
        row.sources.join(",")
    };
    let mut desc = format!("rexist {name}: score {}, tlp {}", r.score, r.tlp);
    if !row.labels.is_empty() {
        desc.push_str(", labels ");
        desc.push_str(&row.labels.join(";"));
    }
    writeln!(
        w,
        "{}\t{kind}\t{}\t{}\t-",
        zeek_field(value),
        zeek_field(&source),
        zeek_field(&desc)
    )?;
    Ok(true)
}

// ---------------------------------------------------------------- Suricata

/// A `content` string: printable ASCII as is, except `"`, `;`, `\` and `|`,
/// which (like every other byte) are written as `|XX|` hex.
fn suricata_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        if (b' '..=b'~').contains(&b) && !matches!(b, b'"' | b';' | b'\\' | b'|') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "|{b:02X}|");
        }
    }
    out.push('"');
    out
}

/// A `msg` string: `"`, `;` and `\` backslash-escaped, anything not
/// printable ASCII as `?`, at most 200 characters of value.
fn suricata_msg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(200) {
        match c {
            '"' | ';' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// A metadata value: letters, digits and `.-_+` kept, anything else `_`.
fn suricata_meta(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The parts of a URL a rule needs: scheme, host (no port, no userinfo),
/// and path with query (no fragment).
fn url_parts(url: &str) -> Option<(String, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_once(']').map(|(h, _)| &h[1..])?
    } else {
        host_port.split_once(':').map_or(host_port, |(h, _)| h)
    };
    let path = &rest[end..];
    let path = path.split_once('#').map_or(path, |(p, _)| p);
    (!host.is_empty()).then(|| (scheme.to_ascii_lowercase(), host, path))
}

fn suricata_rule(row: &ExportRow, name: &str, sid: u64) -> io::Result<Option<String>> {
    use IndicatorType as T;
    let sid = u32::try_from(sid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "suricata sid past u32::MAX"))?;
    let r = &row.record;
    let msg = suricata_msg(&format!("rexist {name}: {} {}", r.kind, r.value));
    let (header, body) = match r.kind {
        T::Ipv4 | T::Ipv6 | T::Cidr => {
            // Only a real address or network may go into the header.
            let addr = r.value.split_once('/').map_or(r.value.as_str(), |(a, _)| a);
            let prefix_ok = r
                .value
                .split_once('/')
                .is_none_or(|(_, p)| p.parse::<u8>().is_ok());
            if addr.parse::<IpAddr>().is_err() || !prefix_ok {
                return Ok(None);
            }
            (
                format!("alert ip any any <> [{}] any", r.value),
                String::new(),
            )
        }
        T::Domain => {
            if !is_hostname(&r.value) {
                return Ok(None);
            }
            (
                "alert dns any any -> any any".to_owned(),
                format!(
                    "dns.query; dotprefix; content:{}; nocase; endswith; ",
                    suricata_content(&format!(".{}", r.value))
                ),
            )
        }
        T::Url => {
            let Some((scheme, host, path)) = url_parts(&r.value) else {
                return Ok(None);
            };
            match scheme.as_str() {
                "http" => {
                    let mut body = format!(
                        "flow:established,to_server; http.host; content:{}; bsize:{}; ",
                        suricata_content(&host.to_ascii_lowercase()),
                        host.len()
                    );
                    if !path.is_empty() && path != "/" {
                        // The raw URI is what the client sent: percent-encoded.
                        let _ = write!(
                            body,
                            "http.uri.raw; content:{}; startswith; ",
                            suricata_content(&wire_url(path))
                        );
                    }
                    ("alert http any any -> any any".to_owned(), body)
                }
                "https" => (
                    "alert tls any any -> any any".to_owned(),
                    format!(
                        "flow:established,to_server; tls.sni; content:{}; bsize:{}; ",
                        suricata_content(&host.to_ascii_lowercase()),
                        host.len()
                    ),
                ),
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let mut meta = format!(
        "rexist_score {}, rexist_tlp {}",
        r.score,
        suricata_meta(r.tlp.as_str())
    );
    for s in row.sources.iter().take(16) {
        let s = suricata_meta(s);
        if !s.is_empty() {
            let _ = write!(meta, ", rexist_source {s}");
        }
    }
    Ok(Some(format!(
        "{header} (msg:\"{msg}\"; {body}metadata:{meta}; classtype:trojan-activity; sid:{sid}; rev:1;)\n"
    )))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn urls_are_percent_encoded_as_on_the_wire() {
        assert_eq!(wire_url("http://a.example/x?y=1"), "http://a.example/x?y=1");
        assert_eq!(
            wire_url("http://a.example/päth/ファイル"),
            "http://a.example/p%C3%A4th/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB"
        );
        assert_eq!(wire_url("http://a.example/a b"), "http://a.example/a%20b");
    }

    #[test]
    fn rpz_ip_names() {
        assert_eq!(rpz_ip("1.2.3.4").unwrap(), "32.4.3.2.1");
        assert_eq!(rpz_ip("10.0.0.0/8").unwrap(), "8.0.0.0.10");
        assert_eq!(rpz_ip("2001:db8::1").unwrap(), "128.1.zz.db8.2001");
        assert_eq!(rpz_ip("2001:db8::/32").unwrap(), "32.zz.db8.2001");
        assert_eq!(rpz_ip("::1").unwrap(), "128.1.zz");
        assert_eq!(rpz_ip("::").unwrap(), "128.zz");
        // A single zero word is not compressed (RFC 5952).
        assert_eq!(rpz_ip("1:0:2:3:4:5:6:7").unwrap(), "128.7.6.5.4.3.2.0.1");
        // The longest run wins; the first when tied.
        assert_eq!(rpz_ip("1:0:0:2:0:0:0:3").unwrap(), "128.3.zz.2.0.0.1");
        assert_eq!(rpz_ip("1:0:0:2:3:0:0:4").unwrap(), "128.4.0.0.3.2.zz.1");
        assert!(rpz_ip("x").is_none());
        assert!(rpz_ip("1.2.3.4/33").is_none());
    }

    #[test]
    fn urls() {
        assert_eq!(strip_scheme("https://a.b/c"), "a.b/c");
        assert_eq!(strip_scheme("a.b/c://d"), "a.b/c://d");
        assert_eq!(
            url_parts("http://u:p@Evil.com:8080/a?b=1#f").unwrap(),
            ("http".to_owned(), "Evil.com", "/a?b=1")
        );
        assert_eq!(
            url_parts("https://[2001:db8::1]:443/").unwrap(),
            ("https".to_owned(), "2001:db8::1", "/")
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            suricata_content("a\"b;c|d\\e\n"),
            "\"a|22|b|3B|c|7C|d|5C|e|0A|\""
        );
        assert_eq!(suricata_msg("a\"b;\n"), "a\\\"b\\;?");
        assert_eq!(zeek_field("a\tb\nc\\"), "a\\x09b\\x0ac\\x5c");
        assert_eq!(zeek_field(""), "(empty)");
        assert!(!is_token("a b"));
        assert!(!is_token("a\u{2028}b"));
        assert!(is_token("http://a/ü"));
    }
}
