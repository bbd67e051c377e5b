//! URL inspection on the user's behalf: rexist itself fetches the URL with
//! a plain client (no cookies, no proxy, a fixed User-Agent, a size cap, a
//! timeout), follows redirects one by one so that each hop is recorded and
//! each hop's target is checked, and describes what came back. Optionally
//! a headless Chromium takes a screenshot of the final page.
//!
//! Targets that resolve to loopback, private, link-local, multicast,
//! unspecified or other non-global addresses are refused unless
//! `allow_private = true`; so is rexist's own listen address. The check is
//! made on every hop's resolved addresses before it is fetched, and again
//! inside the client's resolver, so a name that re-resolves between the two
//! (DNS rebinding) still cannot reach an internal address. Chromium loads
//! sub-resources on its own and is not held to these checks: only its main
//! host is pinned to the address checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};
use rexist_core::IndicatorType;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::answer::{Failure, Outcome, Reply};
use crate::config::{EnrichConfig, Settings};
use crate::error::ConfigError;

pub(crate) const TYPES: &[IndicatorType] = &[IndicatorType::Url];

/// Sent on every request: says what is asking, like a browser would.
const USER_AGENT: &str = concat!(
    "Mozilla/5.0 (compatible; rexist-inspect/",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Bytes searched for the HTML `<title>`.
const TITLE_SCAN: usize = 64 * 1024;
/// Largest screenshot read back.
const MAX_SCREENSHOT: u64 = 10 * 1024 * 1024;

/// Which targets may be fetched.
struct Guard {
    allow_private: bool,
    /// rexist's own listen addresses (see `Enricher::set_own_addresses`).
    own: RwLock<Vec<SocketAddr>>,
}

impl Guard {
    /// Why `addr` may not be fetched, if it may not.
    fn refuses(&self, addr: SocketAddr) -> Option<String> {
        let own = self.own.read().unwrap_or_else(PoisonError::into_inner);
        let is_own = own.iter().any(|o| {
            o.port() == addr.port()
                && (o.ip() == addr.ip()
                    || (o.ip().is_unspecified() && internal(addr.ip()).is_some()))
        });
        if is_own {
            return Some("rexist's own address".to_owned());
        }
        if self.allow_private {
            return None;
        }
        internal(addr.ip()).map(|what| format!("{what} address"))
    }
}

/// The kind of a non-global address, `None` for a global one.
fn internal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [0, ..] => "an unspecified",
        [127, ..] => "a loopback",
        [10, ..] | [192, 168, ..] => "a private",
        [172, b, ..] if (16..=31).contains(&b) => "a private",
        [100, b, ..] if (64..=127).contains(&b) => "a shared (CGNAT)",
        [169, 254, ..] => "a link-local",
        [192, 0, 0, _] => "an IETF protocol",
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => "a documentation",
        [198, 18 | 19, ..] => "a benchmarking",
        [a, ..] if (224..=239).contains(&a) => "a multicast",
        [a, ..] if a >= 240 => "a reserved",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let s = ip.segments();
    Some(match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => "an unspecified",
        [0, 0, 0, 0, 0, 0, 0, 1] => "a loopback",
        // IPv4-compatible (deprecated) and NAT64 addresses carry an IPv4 address.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let v4 = Ipv4Addr::new(
                s[6].to_be_bytes()[0],
                s[6].to_be_bytes()[1],
                s[7].to_be_bytes()[0],
                s[7].to_be_bytes()[1],
            );
            return internal_v4(v4);
        }
        [0x2002, a, b, ..] => {
            // 6to4 embeds the IPv4 address in the next 32 bits.
            let v4 = Ipv4Addr::new(
                a.to_be_bytes()[0],
                a.to_be_bytes()[1],
                b.to_be_bytes()[0],
                b.to_be_bytes()[1],
            );
            return internal_v4(v4);
        }
        [a, ..] if a & 0xff00 == 0xff00 => "a multicast",
        [a, ..] if a & 0xffc0 == 0xfe80 => "a link-local",
        [a, ..] if a & 0xffc0 == 0xfec0 => "a site-local",
        [a, ..] if a & 0xfe00 == 0xfc00 => "a unique-local (private)",
        [0x2001, 0x0db8, ..] => "a documentation",
        [0x0100, 0, 0, 0, ..] => "a discard-only",
        _ => return None,
    })
}

/// The client's resolver: the system's, minus refused addresses, so the
/// connection goes only where the checks allow.
struct GuardedResolver(Arc<Guard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = Arc::clone(&self.0);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| guard.allow_private || internal(a.ip()).is_none())
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host}: every address is refused").into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

pub(crate) struct Inspect {
    client: rexist_http::Client,
    guard: Arc<Guard>,
    max_bytes: u64,
    max_redirects: u32,
    timeout: Duration,
    chromium: Option<PathBuf>,
}

/// One redirect followed.
struct Hop {
    url: String,
    status: u16,
    location: String,
}

impl Inspect {
    pub(crate) fn new(config: &EnrichConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let guard = Arc::new(Guard {
            allow_private: config.allow_private.unwrap_or(false),
            own: RwLock::new(Vec::new()),
        });
        let resolver: Arc<dyn reqwest::dns::Resolve> =
            Arc::new(GuardedResolver(Arc::clone(&guard)));
        let client = rexist_http::Client::new(&rexist_http::ClientOptions {
            connect_timeout: settings.timeout.min(Duration::from_secs(10)),
            // Each hop is checked here before it is followed.
            redirects: 0,
            per_host: 4,
            resolver: Some(resolver),
            // A proxy would resolve names itself, out of the guard's sight.
            proxy: false,
            // Hash the bytes as served, not as decompressed.
            decompress: false,
        })
        .map_err(|e| ConfigError::Client {
            table: settings.name.clone(),
            reason: e.0,
        })?;
        Ok(Self {
            client,
            guard,
            max_bytes: settings.max_bytes,
            max_redirects: config.max_redirects.unwrap_or(10),
            timeout: settings.timeout,
            chromium: config.chromium.as_ref().map(PathBuf::from),
        })
    }

    pub(crate) fn set_own_addresses(&self, addrs: &[SocketAddr]) {
        *self
            .guard
            .own
            .write()
            .unwrap_or_else(PoisonError::into_inner) = addrs.to_vec();
    }

    /// Resolves a hop's host and checks every address it has.
    async fn check(&self, url: &Url) -> Result<Option<IpAddr>, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "only http and https are fetched, not {}",
                url.scheme()
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "no port".to_owned())?;
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| format!("cannot resolve {name}"))?
                .collect(),
            None => return Err("no host".to_owned()),
        };
        let host = url.host_str().unwrap_or_default();
        for addr in &addrs {
            if let Some(why) = self.guard.refuses(*addr) {
                return Err(format!("{host} is {} ({why})", addr.ip()));
            }
        }
        Ok(addrs.first().map(SocketAddr::ip))
    }

    pub(crate) async fn lookup(&self, _kind: IndicatorType, value: &str) -> Outcome {
        let deadline = Instant::now() + self.timeout;
        let mut url = Url::parse(value).map_err(|_| Failure::error("not a URL"))?;
        let mut hops: Vec<Hop> = Vec::new();
        let (response, ip) = loop {
            let ip = self.check(&url).await.map_err(|why| {
                Failure::error(if hops.is_empty() {
                    format!("refused: {why}")
                } else {
                    format!("refused redirect {} to {url}: {why}", hops.len())
                })
            })?;
            let host = url.host_str().unwrap_or("the target").to_owned();
            let request = self
                .client
                .get(url.clone())
                .header(reqwest::header::USER_AGENT, USER_AGENT);
            let call = rexist_http::Call {
                shown: &host,
                timeout: self.timeout,
                // A large download is described, not refused.
                limit: rexist_http::Limit::Truncate(self.max_bytes),
                retry: rexist_http::RetryPolicy::NONE,
            };
            let response = self
                .client
                .send(request, &call, Vec::new)
                .await
                .map_err(|e| crate::api::failure(&e, &host))?;
            let status = response.status;
            let location = response
                .headers
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_owned);
            match location {
                Some(location) if status.is_redirection() => {
                    let next = url
                        .join(&location)
                        .map_err(|_| Failure::error(format!("bad redirect location from {url}")))?;
                    hops.push(Hop {
                        url: url.to_string(),
                        status: status.as_u16(),
                        location: next.to_string(),
                    });
                    if hops.len() > self.max_redirects as usize {
                        return Err(Failure::error(format!(
                            "more than {} redirects",
                            self.max_redirects
                        )));
                    }
                    url = next;
                }
                _ => break (response, ip),
            }
        };

        let status = response.status.as_u16();
        let headers = header_map(&response.headers);
        let content_type = response
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let remote = response.remote_addr.map(|a| a.to_string());
        let (body, truncated) = (response.body, response.truncated);
        let sha256 = (!truncated).then(|| hex(&Sha256::digest(&body)));
        let is_html = content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("html"))
            || body[..body.len().min(512)]
                .to_ascii_lowercase()
                .windows(5)
                .any(|w| w == b"<html");
        let title = if is_html { html_title(&body) } else { None };

        let mut summary = json!({
            "url": value,
            "final_url": url.to_string(),
            "status": status,
            "redirects": hops.iter().map(|h| json!({
                "url": h.url,
                "status": h.status,
                "location": h.location,
            })).collect::<Vec<_>>(),
            "content_type": content_type,
            "size": body.len(),
            "truncated": truncated,
            "sha256": sha256,
            "title": title,
            "headers": headers,
            "remote_addr": remote,
        });
        if self.chromium.is_some() {
            let (shot, error) = match self.screenshot(&url, ip, deadline).await {
                Ok(png) => (Value::String(png), Value::Null),
                Err(e) => (Value::Null, Value::String(e)),
            };
            summary["screenshot"] = shot;
            summary["screenshot_error"] = error;
        }
        Ok(Reply::ok(summary, None))
    }

    /// A PNG of the page, base64, from the configured Chromium.
    async fn screenshot(
        &self,
        url: &Url,
        ip: Option<IpAddr>,
        deadline: Instant,
    ) -> Result<String, String> {
        let chromium = self.chromium.as_ref().ok_or("no chromium configured")?;
        if !chromium.is_file() {
            return Err(format!("chromium not found at {}", chromium.display()));
        }
        // Leave a moment to build the answer before the enricher's timeout.
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(Duration::from_millis(250));
        if budget.is_zero() {
            return Err("no time left for a screenshot".to_owned());
        }
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let shot = dir.path().join("shot.png");
        let profile = dir.path().join("profile");
        let mut command = tokio::process::Command::new(chromium);
        command.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]);
        if let (Some(url::Host::Domain(host)), Some(ip)) = (url.host(), ip) {
            // Chromium resolves names itself: pin the page's host to the
            // address that was checked.
            command.arg(format!("--host-resolver-rules=MAP {host} {ip}"));
        }
        command
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", shot.display()))
            .arg("--window-size=1280,800")
            .arg(url.as_str())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        let status = tokio::time::timeout(budget, command.status())
            .await
            .map_err(|_| "chromium did not finish in time".to_owned())?
            .map_err(|e| format!("cannot run chromium: {}", e.kind()))?;
        let size = std::fs::metadata(&shot)
            .map_err(|_| format!("chromium wrote no screenshot (exit {status})"))?
            .len();
        if size > MAX_SCREENSHOT {
            return Err(format!("screenshot larger than {MAX_SCREENSHOT} bytes"));
        }
        let png = std::fs::read(&shot)
            .map_err(|e| format!("cannot read the screenshot: {}", e.kind()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(png))
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Response headers as an object; repeated headers joined with `, `.
fn header_map(headers: &HeaderMap) -> Value {
    let mut out = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match out.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                out.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    Value::Object(out)
}

/// The text of the first `<title>` element, whitespace collapsed and the
/// common entities decoded.
pub(crate) fn html_title(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(TITLE_SCAN)];
    let text = String::from_utf8_lossy(head);
    let lower = text.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let raw = &text[start..end];
    let decoded = decode_entities(raw);
    let title = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    (!title.is_empty()).then_some(title)
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" | "#39" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &rest[semi + 1..];
        } else {
            out.push('&');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_ranges() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.1.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(internal(ip.parse().expect("ip")).is_some(), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "172.32.0.1"] {
            assert!(internal(ip.parse().expect("ip")).is_none(), "{ip}");
        }
    }

    #[test]
    fn own_address_refused_even_when_private_allowed() {
        let guard = Guard {
            allow_private: true,
            own: RwLock::new(vec!["0.0.0.0:8080".parse().expect("addr")]),
        };
        assert!(
            guard
                .refuses("127.0.0.1:8080".parse().expect("addr"))
                .is_some()
        );
        assert!(
            guard
                .refuses("127.0.0.1:8081".parse().expect("addr"))
                .is_none()
        );
        assert!(
            guard
                .refuses("8.8.8.8:8080".parse().expect("addr"))
                .is_none()
        );
    }

    #[test]
    fn titles() {
        assert_eq!(
            html_title(b"<html><head><TITLE lang=en>\n Caf&eacute; &amp; Bar &#x263A;</title>")
                .as_deref(),
            Some("Caf&eacute; & Bar \u{263A}")
        );
        assert_eq!(html_title(b"<title></title>"), None);
        assert_eq!(html_title(b"no title here"), None);
        assert_eq!(
            html_title("<title>日本語のタイトル</title>".as_bytes()).as_deref(),
            Some("日本語のタイトル")
        );
    }
}
