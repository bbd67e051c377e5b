//! Upstream time stamps: epoch seconds (MISP), ISO 8601 with or without an
//! offset (NVD, KEV, W3CDTF in RSS 1.0), RFC 2822 (RSS 2.0) and bare dates.

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Seconds since the epoch; `None` for values `time` cannot represent.
pub(crate) fn from_epoch(secs: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// `YYYY-MM-DD` as midnight UTC.
pub(crate) fn date(s: &str) -> Option<OffsetDateTime> {
    let d = Date::parse(s.trim(), format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc())
}

/// Any of the time formats feeds use, tried from the most to the least
/// common; `None` if none fits.
pub(crate) fn any(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    if let Some(t) = rfc2822(s) {
        return Some(t);
    }
    iso_lenient(s).or_else(|| date(s))
}

/// RFC 2822 as RSS 2.0 uses it; also accepts the obsolete zone names
/// (`GMT`, `UT`, `EST`, …) that `time` refuses, by rewriting them.
fn rfc2822(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc2822) {
        return Some(t);
    }
    let (head, zone) = s.rsplit_once(' ')?;
    let offset = match zone.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" => "+0000",
        "EDT" => "-0400",
        "EST" | "CDT" => "-0500",
        "CST" | "MDT" => "-0600",
        "MST" | "PDT" => "-0700",
        "PST" => "-0800",
        "JST" => "+0900",
        _ => return None,
    };
    OffsetDateTime::parse(&format!("{head} {offset}"), &Rfc2822).ok()
}

/// ISO 8601 shapes RFC 3339 refuses: no seconds (`2025-01-06T10:00+09:00`,
/// JVN), no offset (`2021-12-10T10:15:09.143`, NVD — UTC), a space instead
/// of `T`.
fn iso_lenient(s: &str) -> Option<OffsetDateTime> {
    let s = s.replacen(' ', "T", 1);
    let (local, offset) = split_offset(&s)?;
    let local = local.split_once('.').map_or(local, |(whole, _)| whole);
    let prim = PrimitiveDateTime::parse(
        local,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
    .or_else(|_| {
        PrimitiveDateTime::parse(
            local,
            format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
    })
    .ok()?;
    Some(prim.assume_offset(offset))
}

/// Splits a trailing `Z`, `+HH:MM`, `+HHMM` or nothing (UTC) off `s`.
fn split_offset(s: &str) -> Option<(&str, UtcOffset)> {
    if let Some(local) = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        return Some((local, UtcOffset::UTC));
    }
    // The offset sign comes after the `T`; a `-` before it is a date separator.
    let t = s.find('T')?;
    let rest = s.get(t..)?;
    let Some(pos) = rest.rfind(['+', '-']) else {
        return Some((s, UtcOffset::UTC));
    };
    let (local, zone) = s.split_at(t + pos);
    let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
    let digits: String = zone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 {
        return None;
    }
    let hours: i8 = digits.get(..2)?.parse().ok()?;
    let minutes: i8 = digits.get(2..)?.parse().ok()?;
    let offset = UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?;
    Some((local, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_feeds_use() {
        let cases = [
            ("2025-01-06T10:00+09:00", 1_736_125_200),
            ("2021-12-10T10:15:09.143", 1_639_131_309),
            ("Mon, 06 Jan 2025 01:00:00 GMT", 1_736_125_200),
            ("Mon, 06 Jan 2025 10:00:00 +0900", 1_736_125_200),
            ("2025-01-06T01:00:00Z", 1_736_125_200),
            ("2025-01-06", 1_736_121_600),
        ];
        for (s, want) in cases {
            assert_eq!(
                any(s).map(OffsetDateTime::unix_timestamp),
                Some(want),
                "{s}"
            );
        }
        assert_eq!(any("yesterday"), None);
        assert_eq!(any("2025-13-45T99:99"), None);
    }
}
