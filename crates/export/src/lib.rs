//! rexist exports: indicators ([`ExportRow`]s) written in the formats
//! firewalls, DNS resolvers, IDSs and other platforms read. No I/O but
//! writing to a [`std::io::Write`] (and [`misp::MispFeed::write_dir`]).
//!
//! [`Writer`] streams one export: the header on [`Writer::new`], rows in
//! batches on [`Writer::write_rows`], the footer on [`Writer::finish`]. Rows
//! of a type a format cannot express ([`applies`]) are skipped and counted
//! ([`Writer::skipped`]), and so are values a line-based format could not
//! carry safely: no value is ever written with a raw line break or control
//! character, so a hostile value cannot add a line to a block list or a rule
//! to Suricata. Values are written in their canonical form. Timestamps are
//! RFC 3339 UTC with milliseconds (`2024-03-01T10:00:00.123Z`).
//!
//! # Formats
//!
//! ## `stix` — STIX 2.1 bundle
//! `{"type":"bundle","id":"bundle--<random uuid>","objects":[…]}`: rexist's
//! `identity`, each TLP 2.0 `marking-definition` used, then per row an
//! `indicator` (pattern such as `[ipv4-addr:value = '1.2.3.4']`), its SCO and
//! a `based-on` relationship; a CVE becomes a `vulnerability`. Ids are
//! deterministic. All types. See `rexist_stix::write` for the mapping.
//!
//! ## `csv` — CSV
//! Header `type,value,score,tlp,status,first_seen,last_seen,sightings,sources,labels`,
//! then one row per indicator; `sources` and `labels` joined with `;`. Fields
//! holding `,`, `"`, a line break or edge whitespace are quoted (RFC 4180).
//! All types.
//!
//! ## `jsonl` — JSON lines
//! One export row per line as JSON: `{"id":…,"type":"ipv4","value":"1.2.3.4",
//! "first_seen":…,"last_seen":…,"sightings":…,"score":…,"tlp":"green",
//! "status":"active","status_reason":null,"added":…,"sources":[…],"labels":[…]}`.
//! All types.
//!
//! ## `edl` — plain external dynamic list
//! One value per line (`1.2.3.4`, `10.0.0.0/8`, `evil.example`,
//! `http://evil.example/x`), no header, `\n` line ends. What `FortiGate` external
//! threat feeds and Check Point / generic "IP/domain/URL list" readers take
//! (`fortigate` is accepted as another name for it). IPv4, IPv6, CIDR,
//! domain, URL; values with whitespace or control characters are skipped.
//! Point each firewall list at an export filtered to the type it expects.
//!
//! ## `panos` — PAN-OS external dynamic list
//! As `edl`, but URLs without their scheme (`evil.example/x`), as PAN-OS URL
//! lists require.
//!
//! ## `rpz` — DNS response policy zone
//! ```text
//! ; rexist export NAME, generated 2024-03-01T10:00:00.000Z
//! $TTL 300
//! @ IN SOA localhost. hostmaster.localhost. ( SERIAL 3600 600 604800 300 )
//! @ IN NS localhost.
//! evil.example CNAME .
//! *.evil.example CNAME .
//! 32.4.3.2.1.rpz-ip CNAME .
//! 8.0.0.0.10.rpz-ip CNAME .
//! 128.1.zz.db8.2001.rpz-ip CNAME .
//! ```
//! Names are relative to the zone's origin (set in the resolver's zone
//! configuration); `CNAME .` answers NXDOMAIN. The serial is the generation
//! time in epoch seconds. IP rules are `rpz-ip` triggers (they act on
//! addresses in answers): the prefix length, then IPv4 octets reversed, or
//! IPv6 16-bit words reversed in hex with `zz` for the longest zero run.
//! Domains, IPv4, IPv6, CIDR; domains that are not plain DNS names are
//! skipped.
//!
//! ## `suricata` — Suricata rules
//! A `#` comment line, then one rule per indicator, sids from
//! [`Options::suricata_sid_base`] upwards in output order, `rev:1`,
//! `classtype:trojan-activity`, `metadata:rexist_score N, rexist_tlp T,
//! rexist_source S…`, and `msg:"rexist NAME: <type> <value>"` (`"`, `;`, `\`
//! escaped, non-printable characters as `?`):
//! - IP, CIDR: `alert ip any any <> [1.2.3.4] any (…)`;
//! - domain: `alert dns any any -> any any (… dns.query; dotprefix;
//!   content:".evil.example"; nocase; endswith; …)` (the domain and its
//!   subdomains);
//! - `http://` URL: `alert http … (… flow:established,to_server; http.host;
//!   content:"host"; bsize:N; http.uri.raw; content:"/path?q"; startswith; …)`;
//! - `https://` URL: `alert tls … (… tls.sni; content:"host"; bsize:N; …)`
//!   (the path is encrypted; the rule matches the host).
//!
//! Content strings write `"`, `;`, `\`, `|` and every byte outside printable
//! ASCII as `|XX|` hex. URLs of other schemes are skipped.
//!
//! ## `zeek` — Zeek Intel framework
//! Header `#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url`,
//! then tab-separated lines: `Intel::ADDR` (IPv4, IPv6), `Intel::SUBNET`
//! (CIDR), `Intel::DOMAIN`, `Intel::URL` (without the scheme, as Zeek sees
//! it), `Intel::EMAIL`, `Intel::FILE_HASH` (MD5/SHA-1/SHA-256/SHA-512).
//! `meta.source` = the sources joined with `,` (else `rexist`), `meta.desc`
//! = `rexist NAME: score N, tlp T[, labels a;b]`, `meta.url` = `-`. Tabs,
//! line breaks, other control characters and `\` are written `\xNN`; an
//! empty field is `(empty)`.
//!
//! ## `hosts` — hosts file
//! A `#` comment line, then `0.0.0.0 evil.example` per domain. Domains only.
//!
//! ## `misp` — MISP feed
//! A directory, not a stream: see [`misp::MispFeed`]. `manifest.json`
//! (event uuid → `info`, `Orgc`, `timestamp`, `date`, `analysis`,
//! `threat_level_id`, `Tag`), one `<uuid>.json` per source (`{"Event":
//! {…}}` with `info` "rexist export NAME: SOURCE", a `tlp:…` tag, one
//! attribute per indicator: `ip-dst` (IPs and CIDRs), `domain`, `url`,
//! `email-src`, `md5`, `sha1`, `sha256`, `sha512`, `vulnerability`, `AS`,
//! `btc`; `to_ids` when active; a `tlp:…` tag and one tag per label), and
//! `hashes.csv` (`<md5 of value>,<event uuid>`). All types.

mod error;
mod format;
pub mod misp;
mod writer;

pub use error::UnknownFormat;
pub use format::{Format, applies};
pub use rexist_core::ExportRow;
pub use writer::{DEFAULT_SID_BASE, Options, Writer};
