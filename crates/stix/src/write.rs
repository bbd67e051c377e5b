//! STIX 2.1 writing: rexist's [`ExportRow`]s as STIX objects and bundles.
//!
//! Every id is stable, so the same indicator always has the same STIX id,
//! in every bundle and through TAXII:
//!
//! - SDOs and SROs (`identity`, `indicator`, `observed-data`,
//!   `vulnerability`, `relationship`, `sighting`, `note`): `UUIDv4`-shaped ids
//!   drawn from the installation's random namespace ([`StixIds`]), as
//!   STIX 2.1 §2.7 asks;
//! - an SCO: STIX 2.1 §2.9, `UUIDv5` in the namespace
//!   `00abedb4-aa42-466c-9c01-fed23315a9b7` over the canonical (RFC 8785)
//!   JSON of its id-contributing properties (`value`; `number` for
//!   `autonomous-system`; `hashes` for `file`), so every producer names
//!   the same observable alike.
//!
//! What each indicator type becomes:
//!
//! | type | objects | pattern |
//! | --- | --- | --- |
//! | `ipv4`, `cidr` (v4) | indicator, `ipv4-addr`, observed-data, relationship | `[ipv4-addr:value = '…']` |
//! | `ipv6`, `cidr` (v6) | indicator, `ipv6-addr`, observed-data, relationship | `[ipv6-addr:value = '…']` |
//! | `domain` | indicator, `domain-name`, observed-data, relationship | `[domain-name:value = '…']` |
//! | `url` | indicator, `url`, observed-data, relationship | `[url:value = '…']` |
//! | `email` | indicator, `email-addr`, observed-data, relationship | `[email-addr:value = '…']` |
//! | `md5`, `sha1`, `sha256`, `sha512` | indicator, `file`, observed-data, relationship | `[file:hashes.MD5 = '…']`, `'SHA-1'`, `'SHA-256'`, `'SHA-512'` |
//! | `asn` | indicator, `autonomous-system`, observed-data, relationship | `[autonomous-system:number = 15169]` |
//! | `btc` | indicator only | `[cryptocurrency-wallet:value = '…']` |
//! | `cve` | `vulnerability` (no indicator) | — |
//!
//! A CVE id is not something to match traffic against, so it becomes a
//! `vulnerability` named after it with an external reference
//! `{source_name: "cve", external_id}`, which is how STIX names CVEs. STIX
//! 2.1 has no core SCO for a cryptocurrency address; the pattern uses the
//! object type `cryptocurrency-wallet` of the OASIS CTI common-objects
//! extension (a pattern may name any object type), and no SCO is written for
//! it, since that would need the extension definition in the bundle.
//!
//! Indicator properties: `created` = first seen, `modified` = last seen (never
//! before `created`), `valid_from` = first seen, `confidence` = score,
//! `labels` = the row's labels (omitted when empty), `indicator_types`
//! `["malicious-activity"]`, `created_by_ref` = [`StixIds::identity`], one TLP 2.0
//! marking, `external_references` naming the reporting sources. An expired
//! indicator gets `valid_until` (its last sighting, after `valid_from`); an
//! allow-listed one is `revoked` (it was a false positive), with the reason
//! in `description`. A retired one (every source that reported it withdrew
//! it) is `revoked` too, with the reason (`retired (revoked by partner)`) in
//! `description` and `modified` = when rexist retired it (the row's `added`,
//! which retiring moves forward; never before the last sighting), so it is
//! a newer version than any a consumer holds. One an analyst marked a false
//! positive is revoked the same way, at the time of the mark. Timestamps are RFC 3339 UTC
//! with milliseconds.
//!
//! An indicator is `based-on` an `observed-data` (the relationship STIX
//! suggests; an indicator based on an observable directly is not one)
//! whose `object_refs` hold the SCO, with `first_observed`/`last_observed`
//! the first and last sighting and `number_observed` the sightings.

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::io::{self, Write};

use rexist_core::{ExportRow, IndicatorStatus, IndicatorType, Tlp};
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

/// The namespace of rexist's deterministic non-STIX ids (MISP event and
/// attribute uuids). Fixed forever: changing it changes every uuid rexist
/// has ever published.
pub const REXIST_NAMESPACE: Uuid = Uuid::from_u128(0xe45d_ed7b_a9c7_421e_b098_d348_c781_4abb);

/// The STIX 2.1 namespace for deterministic SCO ids (§2.9).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00ab_edb4_aa42_466c_9c01_fed2_3315_a9b7);

/// The TLP 2.0 extension definition (OASIS `cti-stix-common-objects`).
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// When the TLP 2.0 marking definitions were created.
const TLP2_CREATED: &str = "2022-10-01T00:00:00.000Z";

/// When rexist's identity was created (fixed, so the object never changes).
const IDENTITY_CREATED: &str = "2024-01-01T00:00:00.000Z";

/// The id of the TLP 2.0 marking definition for a level.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The ids this installation gives its STIX objects.
///
/// STIX 2.1 (§2.7) wants `UUIDv4` ids on SDOs and SROs, and a consumer wants
/// the same object under the same id in every bundle. Each id is therefore
/// drawn from a random namespace stored once per installation (in the
/// store, so every node and every restart share it): `UUIDv5(namespace,
/// "<type>:<name>")` with its version and variant set as a v4's. The bits are
/// pseudo-random (nobody without the namespace can predict or link them), as
/// RFC 9562 allows for v4, and stable. Two installations give the same
/// indicator different ids, as two producers should.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StixIds {
    namespace: Uuid,
}

impl StixIds {
    /// Ids drawn from `namespace` (the store's `stix_namespace`).
    pub fn new(namespace: u128) -> Self {
        Self {
            namespace: Uuid::from_u128(namespace),
        }
    }

    /// `"<kind>--<v4-shaped uuid>"` for `name`.
    fn id(&self, kind: &str, name: &str) -> String {
        let mut key = String::with_capacity(kind.len() + 1 + name.len());
        key.push_str(kind);
        key.push(':');
        key.push_str(name);
        let bytes = *Uuid::new_v5(&self.namespace, key.as_bytes()).as_bytes();
        format!(
            "{kind}--{}",
            uuid::Builder::from_random_bytes(bytes).into_uuid()
        )
    }

    /// The id of [`StixIds::identity`].
    pub fn identity_id(&self) -> String {
        self.id("identity", "rexist")
    }

    /// The identity object rexist signs its objects with.
    pub fn identity(&self) -> Value {
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity_id(),
            "created": IDENTITY_CREATED,
            "modified": IDENTITY_CREATED,
            "name": "rexist",
            "description": "rexist threat-intelligence platform",
            "identity_class": "system",
        })
    }

    /// The indicator SDO of an indicator (a CVE's is a vulnerability; see
    /// [`StixIds::vulnerability`]).
    pub fn indicator(&self, kind: IndicatorType, value: &str) -> String {
        self.id("indicator", &format!("{}:{value}", kind.as_str()))
    }

    /// The vulnerability SDO of a CVE id.
    pub fn vulnerability(&self, cve: &str) -> String {
        self.id("vulnerability", cve)
    }

    /// The observed-data SDO an indicator is based on.
    pub fn observed_data(&self, kind: IndicatorType, value: &str) -> String {
        self.id("observed-data", &format!("{}:{value}", kind.as_str()))
    }

    /// A relationship `source --rel--> target`.
    pub fn relationship(&self, rel: &str, source: &str, target: &str) -> String {
        self.id("relationship", &format!("{rel}:{source}:{target}"))
    }

    /// The identity of a rexist source (what reported a sighting).
    pub fn source_identity(&self, source: &str) -> String {
        self.id("identity", &format!("source:{source}"))
    }

    /// The identity object of a rexist source, `kind` its connector.
    pub fn source_identity_object(&self, source: &str, kind: &str) -> Value {
        json!({
            "type": "identity",
            "spec_version": "2.1",
            "id": self.source_identity(source),
            "created": IDENTITY_CREATED,
            "modified": IDENTITY_CREATED,
            "name": source,
            "description": format!("rexist source (connector {kind})"),
            "identity_class": "system",
            "created_by_ref": self.identity_id(),
        })
    }

    /// The sighting of `sighted` (an SDO id) by a source.
    pub fn sighting(&self, sighted: &str, source: &str) -> String {
        self.id("sighting", &format!("{sighted}:{source}"))
    }

    /// A note about `about` (an object id) on a topic (`verdict`, a
    /// provider's name).
    pub fn note(&self, about: &str, topic: &str) -> String {
        self.id("note", &format!("{about}:{topic}"))
    }
}

/// The TLP 2.0 marking-definition object for a level, as published by OASIS
/// (`cti-stix-common-objects`): the well-known id, `name` `TLP:…`, created
/// 2022-10-01, and the `tlp_2_0` property extension.
pub fn tlp_marking(tlp: Tlp) -> Value {
    let mut ext = Map::new();
    ext.insert(
        TLP2_EXTENSION.to_owned(),
        json!({ "extension_type": "property-extension", "tlp_2_0": tlp.as_str() }),
    );
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(tlp),
        "created": TLP2_CREATED,
        "name": format!("TLP:{}", tlp.as_str().to_ascii_uppercase()),
        "extensions": Value::Object(ext),
    })
}

/// Quotes a string as a STIX pattern literal: `'` and `\` escaped.
pub fn pattern_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A JSON string literal, escaped as RFC 8785 (and `JSON.stringify`) does.
fn json_string(value: &str) -> String {
    serde_json::to_string(value).expect("a string always serialises")
}

/// The SCO a row stands for: its type, the canonical JSON of its
/// id-contributing properties, and those properties.
struct Sco {
    kind: &'static str,
    canonical: String,
    props: Map<String, Value>,
}

fn asn_number(value: &str) -> Option<u32> {
    let v = value.trim();
    let digits = v
        .strip_prefix("AS")
        .or_else(|| v.strip_prefix("as"))
        .or_else(|| v.strip_prefix("As"))
        .or_else(|| v.strip_prefix("aS"))
        .unwrap_or(v);
    digits.parse().ok()
}

/// Whether `value` is a URI by RFC 3986's character rules: a scheme, then
/// only unreserved, reserved and `%XX` characters.
fn is_uri(value: &str) -> bool {
    let Some((scheme, _)) = value.split_once(':') else {
        return false;
    };
    let mut sc = scheme.bytes();
    if !sc.next().is_some_and(|b| b.is_ascii_alphabetic())
        || !sc.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return false;
    }
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&b);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

fn ip_sco_type(kind: IndicatorType, value: &str) -> &'static str {
    match kind {
        IndicatorType::Ipv6 => "ipv6-addr",
        IndicatorType::Cidr if value.contains(':') => "ipv6-addr",
        _ => "ipv4-addr",
    }
}

fn hash_key(kind: IndicatorType) -> Option<&'static str> {
    Some(match kind {
        IndicatorType::Md5 => "MD5",
        IndicatorType::Sha1 => "SHA-1",
        IndicatorType::Sha256 => "SHA-256",
        IndicatorType::Sha512 => "SHA-512",
        _ => return None,
    })
}

fn sco_of(kind: IndicatorType, value: &str) -> Option<Sco> {
    let value_sco = |t: &'static str| {
        let mut props = Map::new();
        props.insert("value".into(), Value::String(value.to_owned()));
        Sco {
            kind: t,
            canonical: format!("{{\"value\":{}}}", json_string(value)),
            props,
        }
    };
    Some(match kind {
        IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => {
            value_sco(ip_sco_type(kind, value))
        }
        IndicatorType::Domain => value_sco("domain-name"),
        // The `url` SCO's value must be an RFC 3986 URI; an odd value keeps
        // its indicator (the pattern escapes anything) but gets no SCO.
        IndicatorType::Url if is_uri(value) => value_sco("url"),
        IndicatorType::Email => value_sco("email-addr"),
        IndicatorType::Md5
        | IndicatorType::Sha1
        | IndicatorType::Sha256
        | IndicatorType::Sha512 => {
            let key = hash_key(kind)?;
            let mut hashes = Map::new();
            hashes.insert(key.into(), Value::String(value.to_owned()));
            let mut props = Map::new();
            props.insert("hashes".into(), Value::Object(hashes));
            Sco {
                kind: "file",
                canonical: format!(
                    "{{\"hashes\":{{{}:{}}}}}",
                    json_string(key),
                    json_string(value)
                ),
                props,
            }
        }
        IndicatorType::Asn => {
            let n = asn_number(value)?;
            let mut props = Map::new();
            props.insert("number".into(), Value::from(n));
            Sco {
                kind: "autonomous-system",
                canonical: format!("{{\"number\":{n}}}"),
                props,
            }
        }
        IndicatorType::Url | IndicatorType::Cve | IndicatorType::Btc => return None,
    })
}

/// The deterministic STIX id of the SCO for an indicator (STIX 2.1 §2.9),
/// or `None` for types with no SCO (`cve`, `btc`) and unusable values.
pub fn sco_id(kind: IndicatorType, value: &str) -> Option<String> {
    let sco = sco_of(kind, value)?;
    Some(format!(
        "{}--{}",
        sco.kind,
        Uuid::new_v5(&SCO_NAMESPACE, sco.canonical.as_bytes())
    ))
}

/// The SCO of an indicator value (`ipv4-addr`, `domain-name`, `file`, …),
/// marked `tlp`, or `None` for types with no SCO and unusable values.
pub fn sco_object(kind: IndicatorType, value: &str, tlp: Tlp) -> Option<Value> {
    let sco = sco_of(kind, value)?;
    let mut obj = Map::new();
    obj.insert("type".into(), sco.kind.into());
    obj.insert("spec_version".into(), "2.1".into());
    obj.insert(
        "id".into(),
        format!(
            "{}--{}",
            sco.kind,
            Uuid::new_v5(&SCO_NAMESPACE, sco.canonical.as_bytes())
        )
        .into(),
    );
    obj.extend(sco.props);
    obj.insert("object_marking_refs".into(), json!([tlp_marking_id(tlp)]));
    Some(Value::Object(obj))
}

/// The STIX pattern for an indicator, or `None` for `cve` (a vulnerability,
/// not an indicator) and unusable values (an AS number that is not one).
pub fn pattern(kind: IndicatorType, value: &str) -> Option<String> {
    let path = match kind {
        IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => {
            format!("{}:value", ip_sco_type(kind, value))
        }
        IndicatorType::Domain => "domain-name:value".to_owned(),
        IndicatorType::Url => "url:value".to_owned(),
        IndicatorType::Email => "email-addr:value".to_owned(),
        IndicatorType::Md5 => "file:hashes.MD5".to_owned(),
        IndicatorType::Sha1 => "file:hashes.'SHA-1'".to_owned(),
        IndicatorType::Sha256 => "file:hashes.'SHA-256'".to_owned(),
        IndicatorType::Sha512 => "file:hashes.'SHA-512'".to_owned(),
        IndicatorType::Btc => "cryptocurrency-wallet:value".to_owned(),
        IndicatorType::Asn => {
            let n = asn_number(value)?;
            return Some(format!("[autonomous-system:number = {n}]"));
        }
        IndicatorType::Cve => return None,
    };
    Some(format!("[{path} = {}]", pattern_string(value)))
}

/// RFC 3339 UTC with millisecond precision and `Z`.
pub fn timestamp(t: OffsetDateTime) -> String {
    let mut out = Vec::with_capacity(24);
    push_timestamp(&mut out, t);
    String::from_utf8(out).expect("a timestamp is ASCII")
}

/// Appends [`timestamp`]`(t)` to `out` without allocating.
pub fn push_timestamp(out: &mut Vec<u8>, t: OffsetDateTime) {
    let utc = t.to_offset(UtcOffset::UTC);
    // Keep the year within what RFC 3339 can write.
    let utc = if utc.year() < 1 || utc.year() > 9999 {
        OffsetDateTime::UNIX_EPOCH
    } else {
        utc
    };
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for slot in text[at..at + width].iter_mut().rev() {
            *slot = b'0' + u8::try_from(v % 10).expect("a digit fits a byte");
            v /= 10;
        }
    };
    put(0, 4, u32::try_from(utc.year()).unwrap_or(1970));
    put(5, 2, u32::from(u8::from(utc.month())));
    put(8, 2, u32::from(utc.day()));
    put(11, 2, u32::from(utc.hour()));
    put(14, 2, u32::from(utc.minute()));
    put(17, 2, u32::from(utc.second()));
    put(20, 3, u32::from(utc.millisecond()));
    out.extend_from_slice(&text);
}

/// Truncates to milliseconds, so comparisons match what is written.
fn millis(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t.replace_millisecond(t.millisecond())
        .expect("a millisecond of the time itself is valid")
}

/// `description`: status (with the reason when not active), sightings and
/// sources, e.g. `active; 3 sightings; sources: abuse.ch, otx`.
fn describe(row: &ExportRow, d: &mut String) {
    let rec = &row.record;
    d.clear();
    d.push_str(rec.status.as_str());
    if let Some(r) = rec
        .status_reason
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    {
        d.push_str(" (");
        d.push_str(r);
        d.push(')');
    }
    let plural = if rec.sightings == 1 { "" } else { "s" };
    let _ = write!(d, "; {} sighting{plural}", rec.sightings);
    if !row.sources.is_empty() {
        d.push_str("; sources: ");
        for (i, s) in row.sources.iter().enumerate() {
            if i > 0 {
                d.push_str(", ");
            }
            d.push_str(s);
        }
    }
}

/// Appends `s` as a JSON string literal, escaped exactly as `serde_json`
/// escapes it (`"`, `\` and control characters; nothing else), so bytes
/// written here equal a `serde_json::Value`'s.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        serde_json::to_writer(&mut *out, s).expect("a string always serialises");
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Appends an unsigned integer in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + u8::try_from(n % 10).expect("a digit fits a byte");
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// One object of a [`RowObjects`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StixObject<'a> {
    /// The STIX `type`.
    pub kind: &'static str,
    /// The STIX `id`.
    pub id: &'a str,
    /// The whole object as compact JSON, keys in byte order (as a
    /// `serde_json::Value` writes them).
    pub json: &'a [u8],
}

/// Where one object of a [`RowObjects`] lies in its buffers.
#[derive(Debug, Clone)]
struct Span {
    kind: &'static str,
    id: std::ops::Range<usize>,
    json: std::ops::Range<usize>,
}

/// A row's STIX objects written straight to JSON bytes: what
/// [`row_objects`] gives as values, byte for byte, without building a map
/// per object (the hot path of a TAXII pull and a STIX export). Reused
/// from row to row, so a page of rows costs no allocation per row once the
/// buffers have grown.
#[derive(Debug, Clone)]
pub struct RowObjects {
    ids: StixIds,
    /// [`StixIds::identity_id`], the `created_by_ref` of every SDO and SRO.
    identity: String,
    /// The objects, back to back.
    json: Vec<u8>,
    /// Their ids, back to back.
    id_text: String,
    spans: Vec<Span>,
    /// The row's version: its SDOs' `modified`.
    version: String,
    /// Scratch: the name an id is drawn from, an SCO's canonical JSON.
    key: Vec<u8>,
    /// Scratch: the description.
    text: String,
}

impl RowObjects {
    /// Empty buffers for rows whose ids are drawn from `ids`.
    pub fn new(ids: StixIds) -> Self {
        Self {
            ids,
            identity: ids.identity_id(),
            json: Vec::with_capacity(4096),
            id_text: String::with_capacity(256),
            spans: Vec::with_capacity(4),
            version: String::with_capacity(24),
            key: Vec::with_capacity(256),
            text: String::with_capacity(128),
        }
    }

    /// The objects, in the order [`row_objects`] gives them.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = StixObject<'_>> {
        self.spans.iter().map(|s| StixObject {
            kind: s.kind,
            id: &self.id_text[s.id.clone()],
            json: &self.json[s.json.clone()],
        })
    }

    /// How many objects the last row gave.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the last row gave no objects (its value cannot be expressed).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The row's version, its SDOs' `modified` (empty when it gave no objects).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The objects as JSON values.
    pub fn to_values(&self) -> Vec<Value> {
        self.iter()
            .map(|o| serde_json::from_slice(o.json).expect("RowObjects writes valid JSON"))
            .collect()
    }

    /// Appends the id `<kind>--<uuid>` drawn from the name `kind:parts…`
    /// (see [`StixIds`]) to the id text, returning its range there.
    fn push_id(&mut self, kind: &str, parts: &[&str]) -> std::ops::Range<usize> {
        self.key.clear();
        self.key.extend_from_slice(kind.as_bytes());
        for p in parts {
            self.key.push(b':');
            self.key.extend_from_slice(p.as_bytes());
        }
        self.id_from_key(kind)
    }

    /// Appends the id `<kind>--<uuid>` drawn from the name in `key`.
    fn id_from_key(&mut self, kind: &str) -> std::ops::Range<usize> {
        let bytes = *Uuid::new_v5(&self.ids.namespace, &self.key).as_bytes();
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        self.push_id_text(kind, uuid)
    }

    fn push_id_text(&mut self, kind: &str, uuid: Uuid) -> std::ops::Range<usize> {
        let start = self.id_text.len();
        self.id_text.push_str(kind);
        self.id_text.push_str("--");
        self.id_text
            .push_str(uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        start..self.id_text.len()
    }

    /// Appends `"id":"…"` of the id at `id`.
    fn put_id(&mut self, id: &std::ops::Range<usize>) {
        self.json.extend_from_slice(b"\"id\":\"");
        self.json
            .extend_from_slice(&self.id_text.as_bytes()[id.clone()]);
        self.json.push(b'"');
    }

    /// Appends `"created":…,"created_by_ref":…`.
    fn put_created(&mut self, created: &[u8]) {
        self.json.extend_from_slice(b"\"created\":\"");
        self.json.extend_from_slice(created);
        self.json.extend_from_slice(b"\",\"created_by_ref\":\"");
        self.json.extend_from_slice(self.identity.as_bytes());
        self.json.push(b'"');
    }

    /// Appends `"object_marking_refs":["<marking>"]`.
    fn put_marking(&mut self, tlp: Tlp) {
        self.json.extend_from_slice(b"\"object_marking_refs\":[\"");
        self.json.extend_from_slice(tlp_marking_id(tlp).as_bytes());
        self.json.extend_from_slice(b"\"]");
    }

    /// Appends the source references (`[…]` items, no brackets), each
    /// after a comma when `comma`; returns whether any was written.
    fn put_source_refs(&mut self, row: &ExportRow, mut comma: bool) -> bool {
        let mut any = false;
        for s in row.sources.iter().filter(|s| !s.trim().is_empty()) {
            if comma {
                self.json.push(b',');
            }
            self.json.extend_from_slice(
                b"{\"description\":\"rexist source that reported this indicator\",\"source_name\":",
            );
            push_json_str(&mut self.json, s);
            self.json.push(b'}');
            comma = true;
            any = true;
        }
        any
    }

    /// Appends `,"labels":[…]` unless the row has no non-blank label.
    fn put_labels(&mut self, row: &ExportRow) {
        let mut first = true;
        for l in row.labels.iter().filter(|l| !l.trim().is_empty()) {
            self.json
                .extend_from_slice(if first { b",\"labels\":[" } else { b"," });
            push_json_str(&mut self.json, l);
            first = false;
        }
        if !first {
            self.json.push(b']');
        }
    }

    fn close(&mut self, kind: &'static str, id: std::ops::Range<usize>, start: usize) {
        self.json
            .extend_from_slice(b",\"spec_version\":\"2.1\",\"type\":\"");
        self.json.extend_from_slice(kind.as_bytes());
        self.json.extend_from_slice(b"\"}");
        self.spans.push(Span {
            kind,
            id,
            json: start..self.json.len(),
        });
    }

    /// Replaces the buffers' objects with `row`'s: an `indicator` (or, for
    /// a CVE, a `vulnerability`), and where the type has one, its SCO, an
    /// `observed-data` of it and the indicator's `based-on` relationship to
    /// that. See the module docs for the mapping. A row whose value cannot
    /// be expressed gives no objects.
    pub fn write_row(&mut self, row: &ExportRow) {
        self.json.clear();
        self.id_text.clear();
        self.spans.clear();
        self.version.clear();
        let rec = &row.record;
        let first = millis(rec.first_seen);
        let last = millis(rec.last_seen).max(first);
        // Retiring or marking a false positive moves `added` to that moment:
        // the revoked version's time.
        let retired = matches!(
            rec.status,
            IndicatorStatus::Retired | IndicatorStatus::FalsePositive
        );
        let mut stamps = Vec::with_capacity(72);
        push_timestamp(&mut stamps, first);
        push_timestamp(
            &mut stamps,
            if retired {
                millis(row.added).max(last)
            } else {
                last
            },
        );
        push_timestamp(&mut stamps, last);
        let (created, rest) = stamps.split_at(24);
        let (modified, last_text) = rest.split_at(24);
        let revoked = retired || rec.status == IndicatorStatus::Allowlisted;
        let mut text = std::mem::take(&mut self.text);
        describe(row, &mut text);
        let confidence = u64::from(rec.score.min(100));

        if rec.kind == IndicatorType::Cve {
            let id = self.push_id("vulnerability", &[&rec.value]);
            self.json.extend_from_slice(b"{\"confidence\":");
            push_u64(&mut self.json, confidence);
            self.json.push(b',');
            self.put_created(created);
            self.json.extend_from_slice(b",\"description\":");
            push_json_str(&mut self.json, &text);
            self.json
                .extend_from_slice(b",\"external_references\":[{\"external_id\":");
            push_json_str(&mut self.json, &rec.value);
            self.json.extend_from_slice(b",\"source_name\":\"cve\"}");
            self.put_source_refs(row, true);
            self.json.extend_from_slice(b"],");
            self.put_id(&id);
            self.put_labels(row);
            self.json.extend_from_slice(b",\"modified\":\"");
            self.json.extend_from_slice(modified);
            self.json.extend_from_slice(b"\",\"name\":");
            push_json_str(&mut self.json, &rec.value);
            self.json.push(b',');
            self.put_marking(rec.tlp);
            if revoked {
                self.json.extend_from_slice(b",\"revoked\":true");
            }
            self.close("vulnerability", id, 0);
            self.text = text;
            self.version
                .push_str(std::str::from_utf8(modified).expect("a timestamp is ASCII"));
            return;
        }

        let Some(pattern) = pattern(rec.kind, &rec.value) else {
            self.text = text;
            return;
        };
        let kind = rec.kind.as_str();
        let id = self.push_id("indicator", &[kind, &rec.value]);
        self.json.extend_from_slice(b"{\"confidence\":");
        push_u64(&mut self.json, confidence);
        self.json.push(b',');
        self.put_created(created);
        self.json.extend_from_slice(b",\"description\":");
        push_json_str(&mut self.json, &text);
        self.text = text;
        let refs_at = self.json.len();
        self.json.extend_from_slice(b",\"external_references\":[");
        if self.put_source_refs(row, false) {
            self.json.extend_from_slice(b"],");
        } else {
            self.json.truncate(refs_at);
            self.json.push(b',');
        }
        self.put_id(&id);
        self.json
            .extend_from_slice(b",\"indicator_types\":[\"malicious-activity\"]");
        self.put_labels(row);
        self.json.extend_from_slice(b",\"modified\":\"");
        self.json.extend_from_slice(modified);
        self.json.extend_from_slice(b"\",\"name\":\"");
        self.json.extend_from_slice(kind.as_bytes());
        self.json.push(b' ');
        // The type name needs no escaping; the value may.
        let quoted_at = self.json.len();
        push_json_str(&mut self.json, &rec.value);
        // Drop the value's opening quote: the name's is already written.
        self.json.remove(quoted_at);
        self.json.push(b',');
        self.put_marking(rec.tlp);
        self.json.extend_from_slice(b",\"pattern\":");
        push_json_str(&mut self.json, &pattern);
        self.json
            .extend_from_slice(b",\"pattern_type\":\"stix\",\"pattern_version\":\"2.1\"");
        if revoked {
            self.json.extend_from_slice(b",\"revoked\":true");
        }
        self.json.extend_from_slice(
            b",\"spec_version\":\"2.1\",\"type\":\"indicator\",\"valid_from\":\"",
        );
        self.json.extend_from_slice(created);
        self.json.push(b'"');
        if rec.status == IndicatorStatus::Expired {
            // valid_until must be after valid_from.
            let until = last.max(first + Duration::milliseconds(1));
            self.json.extend_from_slice(b",\"valid_until\":\"");
            push_timestamp(&mut self.json, until);
            self.json.push(b'"');
        }
        self.json.push(b'}');
        self.spans.push(Span {
            kind: "indicator",
            id: id.clone(),
            json: 0..self.json.len(),
        });
        self.version
            .push_str(std::str::from_utf8(modified).expect("a timestamp is ASCII"));

        if !self.put_sco(rec.kind, &rec.value, rec.tlp) {
            return;
        }
        let sco_id = self.spans[1].id.clone();

        // STIX suggests `indicator based-on observed-data` (not an
        // observable itself): the observation rexist holds of the value,
        // with its sighting count and span.
        let observed = self.push_id("observed-data", &[kind, &rec.value]);
        let start = self.json.len();
        self.json.push(b'{');
        self.put_created(created);
        self.json.extend_from_slice(b",\"first_observed\":\"");
        self.json.extend_from_slice(created);
        self.json.extend_from_slice(b"\",");
        self.put_id(&observed);
        self.json.extend_from_slice(b",\"last_observed\":\"");
        self.json.extend_from_slice(last_text);
        self.json.extend_from_slice(b"\",\"modified\":\"");
        self.json.extend_from_slice(modified);
        self.json.extend_from_slice(b"\",\"number_observed\":");
        push_u64(&mut self.json, rec.sightings.clamp(1, 999_999_999));
        self.json.push(b',');
        self.put_marking(rec.tlp);
        self.json.extend_from_slice(b",\"object_refs\":[\"");
        self.json
            .extend_from_slice(&self.id_text.as_bytes()[sco_id]);
        self.json.extend_from_slice(b"\"]");
        self.close("observed-data", observed.clone(), start);

        self.key.clear();
        self.key.extend_from_slice(b"relationship:based-on:");
        self.key
            .extend_from_slice(&self.id_text.as_bytes()[id.clone()]);
        self.key.push(b':');
        self.key
            .extend_from_slice(&self.id_text.as_bytes()[observed.clone()]);
        let rel = self.id_from_key("relationship");
        let start = self.json.len();
        self.json.push(b'{');
        self.put_created(created);
        self.json.push(b',');
        self.put_id(&rel);
        self.json.extend_from_slice(b",\"modified\":\"");
        self.json.extend_from_slice(modified);
        self.json.extend_from_slice(b"\",");
        self.put_marking(rec.tlp);
        self.json
            .extend_from_slice(b",\"relationship_type\":\"based-on\"");
        if revoked {
            self.json.extend_from_slice(b",\"revoked\":true");
        }
        self.json.extend_from_slice(b",\"source_ref\":\"");
        self.json.extend_from_slice(&self.id_text.as_bytes()[id]);
        self.json
            .extend_from_slice(b"\",\"spec_version\":\"2.1\",\"target_ref\":\"");
        self.json
            .extend_from_slice(&self.id_text.as_bytes()[observed]);
        self.json
            .extend_from_slice(b"\",\"type\":\"relationship\"}");
        self.spans.push(Span {
            kind: "relationship",
            id: rel,
            json: start..self.json.len(),
        });
    }

    /// Appends the SCO of a value (see [`sco_object`]); false when the type
    /// has none or the value is unusable.
    fn put_sco(&mut self, kind: IndicatorType, value: &str, tlp: Tlp) -> bool {
        // The canonical JSON of the id-contributing properties (§2.9) is
        // also how the property is written in the object.
        self.key.clear();
        let (sco, prop_first) = match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 | IndicatorType::Cidr => {
                (ip_sco_type(kind, value), false)
            }
            IndicatorType::Domain => ("domain-name", false),
            IndicatorType::Url if is_uri(value) => ("url", false),
            IndicatorType::Email => ("email-addr", false),
            IndicatorType::Md5
            | IndicatorType::Sha1
            | IndicatorType::Sha256
            | IndicatorType::Sha512 => {
                let Some(key) = hash_key(kind) else {
                    return false;
                };
                self.key.extend_from_slice(b"{\"hashes\":{\"");
                self.key.extend_from_slice(key.as_bytes());
                self.key.extend_from_slice(b"\":");
                push_json_str(&mut self.key, value);
                self.key.extend_from_slice(b"}}");
                ("file", true)
            }
            IndicatorType::Asn => {
                let Some(n) = asn_number(value) else {
                    return false;
                };
                self.key.extend_from_slice(b"{\"number\":");
                push_u64(&mut self.key, u64::from(n));
                self.key.push(b'}');
                ("autonomous-system", false)
            }
            IndicatorType::Url | IndicatorType::Cve | IndicatorType::Btc => return false,
        };
        if self.key.is_empty() {
            self.key.extend_from_slice(b"{\"value\":");
            push_json_str(&mut self.key, value);
            self.key.push(b'}');
        }
        let uuid = Uuid::new_v5(&SCO_NAMESPACE, &self.key);
        let id = self.push_id_text(sco, uuid);
        let start = self.json.len();
        self.json.push(b'{');
        // Keys in byte order: `hashes` < `id` < `number` < … < `value`.
        let prop = &self.key[1..self.key.len() - 1];
        if prop_first {
            self.json.extend_from_slice(prop);
            self.json.push(b',');
        }
        self.put_id(&id);
        let prop = &self.key[1..self.key.len() - 1];
        if sco == "autonomous-system" {
            self.json.push(b',');
            self.json.extend_from_slice(prop);
        }
        self.json.push(b',');
        self.put_marking(tlp);
        self.json
            .extend_from_slice(b",\"spec_version\":\"2.1\",\"type\":\"");
        self.json.extend_from_slice(sco.as_bytes());
        self.json.push(b'"');
        if self.key.starts_with(b"{\"value\"") {
            self.json.push(b',');
            self.json
                .extend_from_slice(&self.key[1..self.key.len() - 1]);
        }
        self.json.push(b'}');
        self.spans.push(Span {
            kind: sco,
            id,
            json: start..self.json.len(),
        });
        true
    }
}

/// The objects for one row as JSON values: see [`RowObjects::write_row`],
/// which writes the same objects as bytes.
pub fn row_objects(ids: &StixIds, row: &ExportRow) -> Vec<Value> {
    let mut objects = RowObjects::new(*ids);
    objects.write_row(row);
    objects.to_values()
}

/// A fresh bundle id: `bundle--` and a random version-4 UUID.
pub fn bundle_id() -> String {
    format!("bundle--{}", Uuid::new_v4())
}

/// A bundle written as it goes: the prefix and the identity on
/// [`BundleWriter::new`], each row's objects (and each TLP marking the first
/// time a row needs it) on [`BundleWriter::write_row`], the suffix on
/// [`BundleWriter::finish`]. Nothing but the markings seen is kept.
pub struct BundleWriter<W: Write> {
    w: W,
    markings: [bool; 5],
    objects: u64,
    /// The current row's objects, reused from row to row.
    row: RowObjects,
}

impl<W: Write> BundleWriter<W> {
    /// Starts a bundle with a random id, its objects' ids drawn from `ids`.
    pub fn new(w: W, ids: StixIds) -> io::Result<Self> {
        Self::with_id(w, ids, Uuid::new_v4())
    }

    /// Starts a bundle with the given id (`bundle--<id>`).
    pub fn with_id(mut w: W, ids: StixIds, id: Uuid) -> io::Result<Self> {
        write!(
            w,
            "{{\"type\":\"bundle\",\"id\":\"bundle--{id}\",\"objects\":["
        )?;
        let mut this = Self {
            w,
            markings: [false; 5],
            objects: 0,
            row: RowObjects::new(ids),
        };
        this.object(&ids.identity())?;
        Ok(this)
    }

    fn object(&mut self, v: &Value) -> io::Result<()> {
        if self.objects > 0 {
            self.w.write_all(b",\n")?;
        } else {
            self.w.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut self.w, v).map_err(io::Error::other)?;
        self.objects += 1;
        Ok(())
    }

    /// Writes one row's objects, preceded by its TLP marking the first time.
    pub fn write_row(&mut self, row: &ExportRow) -> io::Result<()> {
        self.row.write_row(row);
        if self.row.is_empty() {
            return Ok(());
        }
        let slot = usize::try_from(row.record.tlp.rank()).unwrap_or(0).min(4);
        if !self.markings[slot] {
            self.markings[slot] = true;
            self.object(&tlp_marking(row.record.tlp))?;
        }
        for o in self.row.iter() {
            let separator: &[u8] = if self.objects > 0 { b",\n" } else { b"\n" };
            self.w.write_all(separator)?;
            self.w.write_all(o.json)?;
            self.objects += 1;
        }
        Ok(())
    }

    /// Objects written so far (identity and markings included).
    pub fn objects(&self) -> u64 {
        self.objects
    }

    /// Closes the bundle and hands back the writer (flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(b"\n]}\n")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Writes a complete bundle `{"type":"bundle","id":"bundle--<uuid>",
/// "objects":[identity, markings used, …rows' objects]}` to `w`, streaming
/// (see [`BundleWriter`]). Takes owned rows or references.
pub fn write_bundle<W, I>(w: W, ids: StixIds, rows: I) -> io::Result<()>
where
    W: Write,
    I: IntoIterator,
    I::Item: Borrow<ExportRow>,
{
    let mut b = BundleWriter::new(w, ids)?;
    for row in rows {
        b.write_row(row.borrow())?;
    }
    b.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use rexist_core::{IndicatorId, IndicatorRecord, Record};
    use time::macros::datetime;

    /// The writer `RowObjects` replaced: each object a `serde_json` map.
    /// Kept as the obvious model the fast path must equal byte for byte.
    mod reference {
        use super::super::*;
        use time::macros::format_description;

        pub fn timestamp(t: OffsetDateTime) -> String {
            let utc = t.to_offset(UtcOffset::UTC);
            let utc = if utc.year() < 1 || utc.year() > 9999 {
                OffsetDateTime::UNIX_EPOCH
            } else {
                utc
            };
            utc.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .unwrap()
        }

        /// Common SDO/SRO properties of a row's objects.
        fn common(
            obj: &mut Map<String, Value>,
            ids: &StixIds,
            row: &ExportRow,
            created: &str,
            modified: &str,
        ) {
            obj.insert("spec_version".into(), "2.1".into());
            obj.insert("created".into(), created.into());
            obj.insert("modified".into(), modified.into());
            obj.insert("created_by_ref".into(), ids.identity_id().into());
            obj.insert(
                "object_marking_refs".into(),
                json!([tlp_marking_id(row.record.tlp)]),
            );
        }

        fn source_refs(row: &ExportRow) -> Vec<Value> {
            row.sources
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| {
                    json!({
                        "source_name": s,
                        "description": "rexist source that reported this indicator",
                    })
                })
                .collect()
        }

        /// `description`: status (with the reason when not active), sightings and
        /// sources, e.g. `active; 3 sightings; sources: abuse.ch, otx`.
        fn describe(row: &ExportRow) -> String {
            let rec = &row.record;
            let mut d = String::from(rec.status.as_str());
            if let Some(r) = rec
                .status_reason
                .as_deref()
                .filter(|r| !r.trim().is_empty())
            {
                d.push_str(" (");
                d.push_str(r);
                d.push(')');
            }
            let plural = if rec.sightings == 1 { "" } else { "s" };
            let _ = write!(d, "; {} sighting{plural}", rec.sightings);
            if !row.sources.is_empty() {
                d.push_str("; sources: ");
                d.push_str(&row.sources.join(", "));
            }
            d
        }

        fn labels(row: &ExportRow) -> Option<Value> {
            let labels: Vec<&String> = row.labels.iter().filter(|l| !l.trim().is_empty()).collect();
            (!labels.is_empty()).then(|| json!(labels))
        }

        /// The objects for one row: an `indicator` (or, for a CVE, a
        /// `vulnerability`), and where the type has one, its SCO and a `based-on`
        /// relationship from the indicator to it. See the module docs for the
        /// mapping. A row whose value cannot be expressed gives no objects.
        pub fn row_objects(ids: &StixIds, row: &ExportRow) -> Vec<Value> {
            let rec = &row.record;
            let first = millis(rec.first_seen);
            let last = millis(rec.last_seen).max(first);
            let created = timestamp(first);
            // Retiring or marking a false positive moves `added` to that moment:
            // the revoked version's time.
            let retired = matches!(
                rec.status,
                IndicatorStatus::Retired | IndicatorStatus::FalsePositive
            );
            let modified = if retired {
                timestamp(millis(row.added).max(last))
            } else {
                timestamp(last)
            };
            let revoked = retired || rec.status == IndicatorStatus::Allowlisted;
            let description = describe(row);

            if rec.kind == IndicatorType::Cve {
                let mut obj = Map::new();
                obj.insert("type".into(), "vulnerability".into());
                obj.insert("id".into(), ids.vulnerability(&rec.value).into());
                common(&mut obj, ids, row, &created, &modified);
                obj.insert("name".into(), rec.value.clone().into());
                obj.insert("description".into(), description.clone().into());
                obj.insert("confidence".into(), rec.score.min(100).into());
                if let Some(l) = labels(row) {
                    obj.insert("labels".into(), l);
                }
                if revoked {
                    obj.insert("revoked".into(), true.into());
                }
                let mut refs = vec![json!({"source_name": "cve", "external_id": rec.value})];
                refs.extend(source_refs(row));
                obj.insert("external_references".into(), Value::Array(refs));
                return vec![Value::Object(obj)];
            }

            let Some(pattern) = pattern(rec.kind, &rec.value) else {
                return Vec::new();
            };
            let id = ids.indicator(rec.kind, &rec.value);
            let mut ind = Map::new();
            ind.insert("type".into(), "indicator".into());
            ind.insert("id".into(), id.clone().into());
            common(&mut ind, ids, row, &created, &modified);
            ind.insert(
                "name".into(),
                format!("{} {}", rec.kind.as_str(), rec.value).into(),
            );
            ind.insert("description".into(), description.into());
            ind.insert("indicator_types".into(), json!(["malicious-activity"]));
            ind.insert("pattern".into(), pattern.into());
            ind.insert("pattern_type".into(), "stix".into());
            ind.insert("pattern_version".into(), "2.1".into());
            ind.insert("valid_from".into(), created.clone().into());
            if rec.status == IndicatorStatus::Expired {
                // valid_until must be after valid_from.
                let until = last.max(first + Duration::milliseconds(1));
                ind.insert("valid_until".into(), timestamp(until).into());
            }
            ind.insert("confidence".into(), rec.score.min(100).into());
            if let Some(l) = labels(row) {
                ind.insert("labels".into(), l);
            }
            if revoked {
                ind.insert("revoked".into(), true.into());
            }
            let refs = source_refs(row);
            if !refs.is_empty() {
                ind.insert("external_references".into(), Value::Array(refs));
            }
            let mut out = vec![Value::Object(ind)];

            if let Some(sco) = sco_object(rec.kind, &rec.value, rec.tlp) {
                let sco_id = sco["id"].as_str().unwrap_or_default().to_owned();
                out.push(sco);

                // STIX suggests `indicator based-on observed-data` (not an
                // observable itself): the observation rexist holds of the value,
                // with its sighting count and span.
                let observed = ids.observed_data(rec.kind, &rec.value);
                let mut od = Map::new();
                od.insert("type".into(), "observed-data".into());
                od.insert("id".into(), observed.clone().into());
                common(&mut od, ids, row, &created, &modified);
                od.insert("first_observed".into(), created.clone().into());
                od.insert("last_observed".into(), timestamp(last).into());
                od.insert(
                    "number_observed".into(),
                    rec.sightings.clamp(1, 999_999_999).into(),
                );
                od.insert("object_refs".into(), json!([sco_id]));
                out.push(Value::Object(od));

                let mut rel = Map::new();
                rel.insert("type".into(), "relationship".into());
                rel.insert(
                    "id".into(),
                    ids.relationship("based-on", &id, &observed).into(),
                );
                common(&mut rel, ids, row, &created, &modified);
                rel.insert("relationship_type".into(), "based-on".into());
                rel.insert("source_ref".into(), id.into());
                rel.insert("target_ref".into(), observed.into());
                if revoked {
                    rel.insert("revoked".into(), true.into());
                }
                out.push(Value::Object(rel));
            }
            out
        }
    }

    const IDS: StixIds = StixIds {
        namespace: Uuid::from_u128(0x5f0c_2b1e_8d3a_4c7f_9e21_0b6d_4a8c_3e17),
    };

    pub(crate) fn row(kind: IndicatorType, value: &str) -> ExportRow {
        ExportRow {
            record: IndicatorRecord {
                id: IndicatorId::new(1),
                kind,
                value: value.to_owned(),
                first_seen: datetime!(2024-03-01 10:00:00.123456 UTC),
                last_seen: datetime!(2024-03-05 12:30:00 +02:00),
                sightings: 3,
                score: 70,
                tlp: Tlp::Green,
                status: IndicatorStatus::Active,
                status_reason: None,
            },
            added: datetime!(2024-03-01 10:00:01 UTC),
            sources: vec!["abuse.ch".into(), "otx".into()],
            labels: vec!["emotet".into()],
        }
    }

    fn samples() -> Vec<(IndicatorType, &'static str)> {
        vec![
            (IndicatorType::Ipv4, "1.2.3.4"),
            (IndicatorType::Ipv6, "2001:db8::1"),
            (IndicatorType::Cidr, "10.0.0.0/8"),
            (IndicatorType::Cidr, "2001:db8::/32"),
            (IndicatorType::Domain, "evil.example.com"),
            (IndicatorType::Url, "http://evil.example.com/a'b\\c?x=1"),
            (IndicatorType::Email, "bad@example.com"),
            (IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
            (
                IndicatorType::Sha1,
                "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            ),
            (
                IndicatorType::Sha256,
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                IndicatorType::Sha512,
                "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
            ),
            (IndicatorType::Cve, "CVE-2021-44228"),
            (IndicatorType::Asn, "AS15169"),
            (IndicatorType::Btc, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
        ]
    }

    #[test]
    fn patterns_for_every_type() {
        let cases = [
            (
                IndicatorType::Ipv4,
                "1.2.3.4",
                "[ipv4-addr:value = '1.2.3.4']",
            ),
            (
                IndicatorType::Ipv6,
                "2001:db8::1",
                "[ipv6-addr:value = '2001:db8::1']",
            ),
            (
                IndicatorType::Cidr,
                "10.0.0.0/8",
                "[ipv4-addr:value = '10.0.0.0/8']",
            ),
            (
                IndicatorType::Cidr,
                "2001:db8::/32",
                "[ipv6-addr:value = '2001:db8::/32']",
            ),
            (
                IndicatorType::Domain,
                "a.example",
                "[domain-name:value = 'a.example']",
            ),
            (
                IndicatorType::Url,
                "http://x/a'b\\c",
                "[url:value = 'http://x/a\\'b\\\\c']",
            ),
            (
                IndicatorType::Email,
                "o'brien@example.com",
                "[email-addr:value = 'o\\'brien@example.com']",
            ),
            (IndicatorType::Md5, "ab", "[file:hashes.MD5 = 'ab']"),
            (IndicatorType::Sha1, "ab", "[file:hashes.'SHA-1' = 'ab']"),
            (
                IndicatorType::Sha256,
                "ab",
                "[file:hashes.'SHA-256' = 'ab']",
            ),
            (
                IndicatorType::Sha512,
                "ab",
                "[file:hashes.'SHA-512' = 'ab']",
            ),
            (
                IndicatorType::Asn,
                "AS15169",
                "[autonomous-system:number = 15169]",
            ),
            (
                IndicatorType::Btc,
                "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
                "[cryptocurrency-wallet:value = '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa']",
            ),
        ];
        for (kind, value, want) in cases {
            let got = pattern(kind, value).unwrap();
            assert_eq!(got, want);
            // Our own reader parses every pattern we write.
            crate::parse_pattern(&got).unwrap_or_else(|e| panic!("{got}: {e}"));
        }
        assert_eq!(pattern(IndicatorType::Cve, "CVE-2021-44228"), None);
        assert_eq!(pattern(IndicatorType::Asn, "ASx"), None);
        // Every type is covered.
        for k in IndicatorType::ALL {
            let _ = pattern(k, "x");
        }
    }

    #[test]
    fn sco_ids_match_the_spec_algorithm() {
        // Computed with python3:
        //   uuid.uuid5(uuid.UUID('00abedb4-aa42-466c-9c01-fed23315a9b7'), '{"value":"1.2.3.4"}')
        // which is what python-stix2 gives for IPv4Address(value="1.2.3.4").
        assert_eq!(
            sco_id(IndicatorType::Ipv4, "1.2.3.4").unwrap(),
            "ipv4-addr--0198f97b-e65d-5025-87e5-58bc39d4bdb4"
        );
        // uuid5(ns, '{"value":"example.com"}')
        assert_eq!(
            sco_id(IndicatorType::Domain, "example.com").unwrap(),
            "domain-name--bedb4899-d24b-5401-bc86-8f6b4cc18ec7"
        );
        // uuid5(ns, '{"hashes":{"MD5":"d41d8cd98f00b204e9800998ecf8427e"}}')
        assert_eq!(
            sco_id(IndicatorType::Md5, "d41d8cd98f00b204e9800998ecf8427e").unwrap(),
            "file--02fff920-f614-527c-81d1-6353633a6d21"
        );
        // uuid5(ns, '{"number":15169}')
        assert_eq!(
            sco_id(IndicatorType::Asn, "AS15169").unwrap(),
            "autonomous-system--7afc7bdf-d070-5add-90ff-f93503b1654d"
        );
        assert_eq!(sco_id(IndicatorType::Cve, "CVE-2021-44228"), None);
        assert_eq!(sco_id(IndicatorType::Btc, "1A1z"), None);
        assert!(sco_id(IndicatorType::Url, "http://x/a'b?c=%20").is_some());
        assert_eq!(sco_id(IndicatorType::Url, "http://x/a\\b"), None);
        assert_eq!(sco_id(IndicatorType::Url, "http://x/a b"), None);
        assert_eq!(sco_id(IndicatorType::Url, "http://x/%zz"), None);
    }

    #[test]
    fn ids_are_deterministic() {
        for (k, v) in samples() {
            let r = row(k, v);
            assert_eq!(row_objects(&IDS, &r), row_objects(&IDS, &r), "{k} {v}");
            assert_eq!(IDS.indicator(k, v), IDS.indicator(k, v));
        }
        assert_ne!(
            IDS.indicator(IndicatorType::Md5, "ab"),
            IDS.indicator(IndicatorType::Sha1, "ab")
        );
        assert_eq!(IDS.identity()["id"], IDS.identity_id());
        assert_eq!(IDS.identity(), IDS.identity());
        // Another installation names the same things differently.
        let other = StixIds::new(1);
        assert_ne!(
            other.indicator(IndicatorType::Md5, "ab"),
            IDS.indicator(IndicatorType::Md5, "ab")
        );
        assert_ne!(other.identity_id(), IDS.identity_id());
    }

    #[test]
    fn sdo_and_sro_ids_are_v4_shaped() {
        let r = row(IndicatorType::Ipv4, "1.2.3.4");
        let mut ids: Vec<String> = row_objects(&IDS, &r)
            .iter()
            .filter(|o| o["type"] != "ipv4-addr")
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect();
        ids.push(IDS.identity_id());
        ids.push(IDS.vulnerability("CVE-2021-44228"));
        ids.push(IDS.sighting("indicator--x", "otx"));
        ids.push(IDS.source_identity("otx"));
        ids.push(IDS.note("indicator--x", "verdict"));
        assert_eq!(ids.len(), 8);
        for id in ids {
            let (_, u) = id.split_once("--").unwrap();
            let u = Uuid::parse_str(u).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
            assert_eq!(u.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[test]
    fn indicator_properties() {
        let mut r = row(IndicatorType::Ipv4, "1.2.3.4");
        let objs = row_objects(&IDS, &r);
        assert_eq!(objs.len(), 4);
        let ind = &objs[0];
        assert_eq!(ind["type"], "indicator");
        assert_eq!(ind["id"], IDS.indicator(IndicatorType::Ipv4, "1.2.3.4"));
        assert_eq!(ind["created"], "2024-03-01T10:00:00.123Z");
        assert_eq!(ind["valid_from"], "2024-03-01T10:00:00.123Z");
        assert_eq!(ind["modified"], "2024-03-05T10:30:00.000Z");
        assert_eq!(ind["confidence"], 70);
        assert_eq!(ind["labels"], json!(["emotet"]));
        assert_eq!(ind["created_by_ref"], IDS.identity_id());
        assert_eq!(
            ind["object_marking_refs"],
            json!([tlp_marking_id(Tlp::Green)])
        );
        assert_eq!(ind["external_references"][1]["source_name"], "otx");
        assert!(ind.get("valid_until").is_none());
        assert!(ind.get("revoked").is_none());
        assert_eq!(
            ind["description"],
            "active; 3 sightings; sources: abuse.ch, otx"
        );
        assert_eq!(objs[1]["type"], "ipv4-addr");
        let od = &objs[2];
        assert_eq!(od["type"], "observed-data");
        assert_eq!(od["object_refs"], json!([objs[1]["id"]]));
        assert_eq!(od["number_observed"], 3);
        assert_eq!(od["first_observed"], ind["created"]);
        assert_eq!(od["last_observed"], ind["modified"]);
        assert_eq!(objs[3]["relationship_type"], "based-on");
        assert_eq!(objs[3]["source_ref"], ind["id"]);
        assert_eq!(objs[3]["target_ref"], od["id"]);

        // modified never before created; labels and sources omitted when empty.
        r.record.last_seen = datetime!(2020-01-01 0:00 UTC);
        r.labels.clear();
        r.sources.clear();
        r.record.status = IndicatorStatus::Expired;
        let ind = &row_objects(&IDS, &r)[0];
        assert_eq!(ind["modified"], ind["created"]);
        assert_eq!(ind["valid_until"], "2024-03-01T10:00:00.124Z");
        assert!(ind.get("labels").is_none());
        assert!(ind.get("external_references").is_none());

        r.record.status = IndicatorStatus::Allowlisted;
        r.record.status_reason = Some("warninglist: google".into());
        let ind = &row_objects(&IDS, &r)[0];
        assert_eq!(ind["revoked"], true);
        assert_eq!(
            ind["description"],
            "allowlisted (warninglist: google); 3 sightings"
        );
    }

    #[test]
    fn retired_indicators_are_revoked_at_their_retirement() {
        let mut r = row(IndicatorType::Domain, "evil.example");
        r.record.status = IndicatorStatus::Retired;
        r.record.status_reason = Some("revoked by taxii-partner".into());
        r.added = datetime!(2024-04-01 08:00:00.5 UTC);
        let objs = row_objects(&IDS, &r);
        assert_eq!(objs.len(), 4);
        let ind = &objs[0];
        assert_eq!(ind["revoked"], true);
        assert_eq!(ind["modified"], "2024-04-01T08:00:00.500Z");
        assert_eq!(ind["created"], "2024-03-01T10:00:00.123Z");
        assert_eq!(
            ind["description"],
            "retired (revoked by taxii-partner); 3 sightings; sources: abuse.ch, otx"
        );
        assert!(ind.get("valid_until").is_none());
        assert_eq!(objs[3]["revoked"], true, "the relationship goes with it");
        assert_eq!(objs[3]["modified"], ind["modified"]);
        assert!(objs[1].get("revoked").is_none(), "SCOs have no versions");

        // Never a version older than the last sighting.
        r.added = datetime!(2024-01-01 0:00 UTC);
        assert_eq!(
            row_objects(&IDS, &r)[0]["modified"],
            "2024-03-05T10:30:00.000Z"
        );

        let mut cve = row(IndicatorType::Cve, "CVE-2021-44228");
        cve.record.status = IndicatorStatus::Retired;
        cve.added = datetime!(2024-04-01 08:00:00 UTC);
        let v = &row_objects(&IDS, &cve)[0];
        assert_eq!(v["revoked"], true);
        assert_eq!(v["modified"], "2024-04-01T08:00:00.000Z");
    }

    #[test]
    fn false_positives_are_revoked_at_their_mark() {
        let mut r = row(IndicatorType::Domain, "evil.example");
        r.record.status = IndicatorStatus::FalsePositive;
        r.record.status_reason = Some("our own mail relay".into());
        r.added = datetime!(2024-04-02 09:00:00 UTC);
        let ind = &row_objects(&IDS, &r)[0];
        assert_eq!(ind["revoked"], true);
        assert_eq!(ind["modified"], "2024-04-02T09:00:00.000Z");
        assert!(
            ind["description"]
                .as_str()
                .unwrap()
                .starts_with("false_positive (our own mail relay)"),
            "{ind}"
        );
    }

    #[test]
    fn cve_is_a_vulnerability() {
        let objs = row_objects(&IDS, &row(IndicatorType::Cve, "CVE-2021-44228"));
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0]["type"], "vulnerability");
        assert_eq!(objs[0]["name"], "CVE-2021-44228");
        assert_eq!(
            objs[0]["external_references"][0],
            json!({"source_name": "cve", "external_id": "CVE-2021-44228"})
        );
    }

    #[test]
    fn markings() {
        for t in Tlp::ALL {
            let m = tlp_marking(t);
            assert_eq!(m["id"], tlp_marking_id(t));
            assert_eq!(crate::tlp_of_marking(tlp_marking_id(t)), Some(t));
            assert_eq!(m["extensions"][TLP2_EXTENSION]["tlp_2_0"], t.as_str());
            assert_eq!(m["created"], TLP2_CREATED);
        }
        assert_eq!(tlp_marking(Tlp::AmberStrict)["name"], "TLP:AMBER+STRICT");
    }

    #[test]
    fn bundle_round_trips_through_the_reader() {
        let mut rows: Vec<ExportRow> = samples().into_iter().map(|(k, v)| row(k, v)).collect();
        for (i, t) in Tlp::ALL.into_iter().enumerate() {
            rows[i].record.tlp = t;
        }
        let mut out = Vec::new();
        write_bundle(&mut out, IDS, &rows).unwrap();
        let bundle: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(bundle["type"], "bundle");
        assert!(bundle["id"].as_str().unwrap().starts_with("bundle--"));
        let objects = bundle["objects"].as_array().unwrap();
        assert_eq!(objects[0], IDS.identity());
        let markings = objects
            .iter()
            .filter(|o| o["type"] == "marking-definition")
            .count();
        assert_eq!(markings, 5);

        let parsed = crate::parse_objects(&out).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        for r in &rows {
            let (k, v) = (r.record.kind, r.record.value.as_str());
            let want_id = if k == IndicatorType::Cve {
                IDS.vulnerability(v)
            } else {
                IDS.indicator(k, v)
            };
            let item = parsed
                .records
                .iter()
                .find_map(|rec| match rec {
                    Record::Item(i) if i.item.external_id == want_id => Some(i),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("no item for {k} {v}"));
            assert_eq!(item.item.tlp, r.record.tlp, "{k} {v}");
            if k == IndicatorType::Btc {
                // The reader does not model cryptocurrency-wallet patterns.
                continue;
            }
            assert_eq!(item.sightings.len(), 1, "{k} {v}");
            let s = &item.sightings[0];
            assert_eq!((s.indicator.kind(), s.indicator.value()), (k, v));
            assert_eq!(s.confidence, Some(70));
        }
    }

    #[test]
    fn bundle_with_no_rows() {
        let mut out = Vec::new();
        write_bundle(&mut out, IDS, Vec::<ExportRow>::new()).unwrap();
        let bundle: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(bundle["objects"].as_array().unwrap().len(), 1);
    }

    /// `RowObjects` against the `serde_json` model, byte for byte, with the
    /// kind, id and version TAXII filters on.
    fn assert_same_as_reference(r: &ExportRow) {
        let want = reference::row_objects(&IDS, r);
        let mut fast = RowObjects::new(IDS);
        fast.write_row(r);
        assert_eq!(fast.len(), want.len(), "{r:?}");
        for (o, v) in fast.iter().zip(&want) {
            assert_eq!(
                String::from_utf8_lossy(o.json),
                serde_json::to_string(v).unwrap(),
                "{r:?}"
            );
            assert_eq!(o.kind, v["type"], "{r:?}");
            assert_eq!(o.id, v["id"], "{r:?}");
        }
        let version = want
            .iter()
            .find_map(|o| o.get("modified").and_then(Value::as_str))
            .unwrap_or("");
        assert_eq!(fast.version(), version, "{r:?}");
        // Reused buffers hold nothing of the previous row.
        fast.write_row(&row(IndicatorType::Cve, "CVE-2000-0001"));
        fast.write_row(r);
        assert_eq!(fast.to_values(), want);
    }

    #[test]
    fn row_objects_equal_the_reference() {
        let statuses = [
            IndicatorStatus::Active,
            IndicatorStatus::Expired,
            IndicatorStatus::Allowlisted,
            IndicatorStatus::Retired,
            IndicatorStatus::FalsePositive,
        ];
        let odd = [
            "a\"b\\c\n\u{1}\u{7f}é日本",
            "",
            " ",
            "http://x/a b",
            "ASx",
            "AS4294967295",
            "as0",
        ];
        for (k, v) in samples().into_iter().chain(
            IndicatorType::ALL
                .into_iter()
                .flat_map(|k| odd.map(|v| (k, v))),
        ) {
            for (i, status) in statuses.into_iter().enumerate() {
                let mut r = row(k, v);
                r.record.status = status;
                r.record.tlp = Tlp::ALL[i % Tlp::ALL.len()];
                r.record.sightings = [0, 1, 3, 2_000_000_000, u64::MAX][i];
                r.record.score = [0, 70, 100, 101, 255][i];
                r.record.status_reason =
                    [None, Some("why \"so\""), Some(" "), None, Some("x")][i].map(str::to_owned);
                r.sources = [
                    vec![],
                    vec!["a\"b".into()],
                    vec![" ".into(), "otx".into()],
                    vec!["s".into()],
                    vec![],
                ][i]
                    .clone();
                r.labels = [
                    vec!["x".into()],
                    vec![],
                    vec!["\t".into(), " ".into()],
                    vec!["a".into(), "b".into()],
                    vec![" ".into()],
                ][i]
                    .clone();
                r.added = [
                    datetime!(2024-04-01 08:00:00.5 UTC),
                    datetime!(2020-01-01 0:00 UTC),
                    datetime!(2024-03-05 10:30:00.000999 UTC),
                    datetime!(9999-12-31 23:59:59.999 UTC),
                    datetime!(2024-03-01 10:00:00 UTC),
                ][i];
                if i == 3 {
                    r.record.first_seen = datetime!(0001-01-01 0:00 UTC);
                    r.record.last_seen = datetime!(2024-03-05 10:30:00.9999 -05:00);
                }
                assert_same_as_reference(&r);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn row_objects_equal_the_reference_on_any_row(
            kind in proptest::sample::select(IndicatorType::ALL.to_vec()),
            value in "\\PC{0,12}|[a-z0-9.:/%-]{1,20}|AS[0-9]{1,10}",
            status in 0usize..5,
            reason in proptest::option::of("\\PC{0,6}"),
            sources in proptest::collection::vec("\\PC{0,5}", 0..3),
            labels in proptest::collection::vec("\\PC{0,5}", 0..3),
            first in -100_000_000_000i64..300_000_000_000,
            span in 0i64..100_000_000,
            added in -100_000_000_000i64..300_000_000_000,
            sightings: u64,
            score: u8,
            tlp in 0usize..5,
        ) {
            let at = |ms: i64| {
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000 + 123_456)
                    .unwrap()
            };
            let mut r = row(kind, &value);
            r.record.status = [
                IndicatorStatus::Active,
                IndicatorStatus::Expired,
                IndicatorStatus::Allowlisted,
                IndicatorStatus::Retired,
                IndicatorStatus::FalsePositive,
            ][status];
            r.record.status_reason = reason;
            r.record.first_seen = at(first);
            r.record.last_seen = at(first + span - 50_000_000);
            r.added = at(added);
            r.record.sightings = sightings;
            r.record.score = score;
            r.record.tlp = Tlp::ALL[tlp];
            r.sources = sources;
            r.labels = labels;
            assert_same_as_reference(&r);
            proptest::prop_assert_eq!(timestamp(r.added), reference::timestamp(r.added));
        }
    }
}
