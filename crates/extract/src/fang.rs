//! Refanging and defanging whole texts, driven by the extractor's matches.

use crate::{Extractor, IocType, Match, extract};

/// Rewrites every defanged indicator of `text` to its canonical refanged value
/// (`hxxps://evil[.]com/x` → `https://evil.com/x`) and leaves everything else,
/// including indicators that were not defanged, exactly as written.
///
/// Unlike [`extract`], a defanged name may end in any well-formed top-level domain:
/// the defang says it is a name, so values typed or loaded by a user
/// (`login[.]phish[.]example`, `hxxps://host[.]corp/x`, `intranet[.]local`) refang
/// whatever their TLD.
pub fn refang(text: &str) -> String {
    Extractor::default().refang(text)
}

pub(crate) fn refang_with(ex: &Extractor, text: &str) -> String {
    rewrite(ex.extract(text), text, |m, _| {
        m.defanged.then(|| m.value.clone())
    })
}

/// Defangs every network indicator of `text` (`evil.com` → `evil[.]com`,
/// `https://evil.com/x` → `hxxps://evil[.]com/x`, `a@b.com` → `a[@]b[.]com`,
/// `1.2.3.4` → `1.2.3[.]4`), also re-rendering already defanged ones in this one style.
/// Hashes, CVE ids, AS numbers and bitcoin addresses are left as written.
pub fn defang(text: &str) -> String {
    rewrite(extract(text), text, |m, _| defang_value(m.kind, &m.value))
}

fn rewrite(
    matches: Vec<Match>,
    text: &str,
    mut f: impl FnMut(&Match, &str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut copied = 0;
    for m in matches {
        if m.start < copied {
            continue;
        }
        let written = &text[m.start..m.end];
        if let Some(rep) = f(&m, written) {
            out.push_str(&text[copied..m.start]);
            out.push_str(&rep);
            copied = m.end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn dots(host: &str) -> String {
    host.replace('.', "[.]")
}

/// `1.2.3.4` → `1.2.3[.]4`.
fn last_dot(ip: &str) -> String {
    match ip.rfind('.') {
        Some(i) => format!("{}[.]{}", &ip[..i], &ip[i + 1..]),
        None => ip.to_owned(),
    }
}

/// The defanged form of a canonical value, or `None` for types that stay as written.
pub(crate) fn defang_value(kind: IocType, value: &str) -> Option<String> {
    match kind {
        IocType::Domain => Some(dots(value)),
        IocType::Ipv4 => Some(last_dot(value)),
        IocType::Cidr => {
            let (addr, len) = value.split_once('/')?;
            addr.contains('.')
                .then(|| format!("{}/{len}", last_dot(addr)))
        }
        IocType::Email => {
            let (local, domain) = value.rsplit_once('@')?;
            Some(format!("{local}[@]{}", dots(domain)))
        }
        IocType::Url => {
            let (scheme, rest) = value.split_once("://")?;
            let scheme = match scheme {
                "http" => "hxxp",
                "https" => "hxxps",
                "ftp" => "fxp",
                "ftps" => "fxps",
                s => s,
            };
            let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(auth_end);
            let (userinfo, hostport) = match authority.rfind('@') {
                Some(i) => authority.split_at(i + 1),
                None => ("", authority),
            };
            let host = if hostport.starts_with('[') {
                hostport.to_owned()
            } else {
                dots(hostport)
            };
            Some(format!("{scheme}[:]//{userinfo}{host}{tail}"))
        }
        IocType::Ipv6
        | IocType::Md5
        | IocType::Sha1
        | IocType::Sha256
        | IocType::Sha512
        | IocType::Cve
        | IocType::Asn
        | IocType::Btc => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refang_rewrites_only_defanged() {
        assert_eq!(
            refang("see hxxps://evil[.]com/x and good.com, mail a[@]b[.]org"),
            "see https://evil.com/x and good.com, mail a@b.org"
        );
        assert_eq!(refang("C2 193.42.33[.]7:443"), "C2 193.42.33.7:443");
        assert_eq!(refang("nothing here"), "nothing here");
    }

    #[test]
    fn defang_network_indicators() {
        assert_eq!(defang("evil.com"), "evil[.]com");
        assert_eq!(
            defang("go to https://evil.com/x now"),
            "go to hxxps[:]//evil[.]com/x now"
        );
        assert_eq!(defang("a@b.com"), "a[@]b[.]com");
        assert_eq!(defang("C2 1.2.3.4"), "C2 1.2.3[.]4");
        assert_eq!(defang("net 10.0.0.0/8"), "net 10.0.0[.]0/8");
        let h = "md5 d41d8cd98f00b204e9800998ecf8427e";
        assert_eq!(defang(h), h);
    }

    #[test]
    fn defang_is_stable() {
        for t in [
            "evil.com",
            "https://a.b.evil.com/x?y=1",
            "x a@b.com 1.2.3.4 hxxp://q[.]org/",
        ] {
            let once = defang(t);
            assert_eq!(defang(&once), once, "{t}");
            assert!(!refang(&once).contains("[.]"), "{t}");
        }
    }
}
