#![allow(clippy::unwrap_used)]
//! Local allow-lists from `[[allowlist]]` configuration tables.

use rexist_core::IndicatorType as T;
use rexist_warnlist::{AllowListConfig, ErrorKind, ListKind, WarningLists, WarnlistError};
use serde::Deserialize;

/// The part of rexist's configuration this crate defines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    allowlist: Vec<AllowListConfig>,
}

fn parse(toml_text: &str) -> Vec<AllowListConfig> {
    toml::from_str::<Config>(toml_text).unwrap().allowlist
}

fn build(toml_text: &str) -> Result<WarningLists, WarnlistError> {
    WarningLists::from_allowlists(&parse(toml_text))
}

fn names(set: &WarningLists, kind: T, value: &str) -> Vec<String> {
    set.check(kind, value).into_iter().map(|m| m.list).collect()
}

const ALL_KINDS: &str = r#"
[[allowlist]]
name = "corp-ips"
kind = "cidr"
entries = ["10.20.0.0/16", "2001:db8:42::/48", "198.51.100.7"]

[[allowlist]]
name = "corp-domains"
kind = "hostname"
entries = ["corp.example", ".intranet.example", "internal"]
types = ["domain", "url"]

[[allowlist]]
name = "known-hashes"
kind = "string"
entries = ["D41D8CD98F00B204E9800998ECF8427E"]
types = ["md5"]

[[allowlist]]
name = "tracking-links"
kind = "substring"
entries = ["/unsubscribe?"]
types = ["url"]

[[allowlist]]
name = "noreply"
kind = "regex"
entries = ["/^no-?reply@/i", "^bounce-[0-9]+@"]
types = ["email"]
"#;

#[test]
fn each_kind_matches_and_misses() {
    let set = build(ALL_KINDS).unwrap();
    assert_eq!(set.lists().len(), 5);
    assert!(set.skipped().is_empty());

    assert_eq!(names(&set, T::Ipv4, "10.20.3.4"), ["corp-ips"]);
    assert_eq!(names(&set, T::Ipv4, "198.51.100.7"), ["corp-ips"]);
    assert!(names(&set, T::Ipv4, "198.51.100.8").is_empty());
    assert_eq!(names(&set, T::Ipv6, "2001:db8:42::1"), ["corp-ips"]);
    assert_eq!(names(&set, T::Cidr, "10.20.128.0/17"), ["corp-ips"]);
    assert!(names(&set, T::Cidr, "10.0.0.0/8").is_empty());
    assert_eq!(names(&set, T::Url, "http://10.20.0.1/x"), ["corp-ips"]);

    assert_eq!(names(&set, T::Domain, "corp.example"), ["corp-domains"]);
    assert_eq!(
        names(&set, T::Domain, "wiki.intranet.example"),
        ["corp-domains"]
    );
    assert_eq!(
        names(&set, T::Url, "https://git.corp.example/repo"),
        ["corp-domains"]
    );
    assert!(names(&set, T::Domain, "notcorp.example").is_empty());
    // `types` leaves out e-mail addresses.
    assert!(names(&set, T::Email, "bob@corp.example").is_empty());

    assert_eq!(
        names(&set, T::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
        ["known-hashes"]
    );
    assert!(names(&set, T::Sha1, "d41d8cd98f00b204e9800998ecf8427e").is_empty());

    assert_eq!(
        names(&set, T::Url, "https://news.example.net/unsubscribe?id=1"),
        ["tracking-links"]
    );
    assert!(names(&set, T::Url, "https://news.example.net/subscribe?id=1").is_empty());

    assert_eq!(names(&set, T::Email, "noreply@shop.example"), ["noreply"]);
    assert_eq!(names(&set, T::Email, "No-Reply@shop.example"), ["noreply"]);
    assert_eq!(names(&set, T::Email, "bounce-42@shop.example"), ["noreply"]);
    assert!(names(&set, T::Email, "reply@shop.example").is_empty());
}

#[test]
fn bad_cidr_entry_names_list_and_entry() {
    let err = build(
        r#"
[[allowlist]]
name = "corp-ips"
kind = "cidr"
entries = ["10.0.0.0/8", "10.0.0.300/24"]
"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "allow-list \"corp-ips\": invalid cidr entry \"10.0.0.300/24\": not an IP address or network"
    );
    assert_eq!(err.kind(), ErrorKind::Invalid);

    let err = build(
        r#"
[[allowlist]]
name = "corp-ips"
kind = "cidr"
entries = ["10.1.2.3/8"]
"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "allow-list \"corp-ips\": invalid cidr entry \"10.1.2.3/8\": host bits set (did you mean 10.0.0.0/8?)"
    );

    let err = build(
        r#"
[[allowlist]]
name = "v6"
kind = "cidr"
entries = ["2001:db8::/129"]
"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "allow-list \"v6\": invalid cidr entry \"2001:db8::/129\": prefix length 129 is longer than 128"
    );
}

#[test]
fn other_bad_entries_name_list_and_entry() {
    let cases = [
        (
            r#"name = "hosts"
kind = "hostname"
entries = ["good.example", "bad host.example"]"#,
            "allow-list \"hosts\": invalid hostname entry \"bad host.example\": invalid domain: invalid character in host name",
        ),
        (
            r#"name = "re"
kind = "regex"
entries = ["(?<=x)y"]"#,
            "allow-list \"re\": invalid regex entry \"(?<=x)y\": pattern not supported",
        ),
        (
            r#"name = "s"
kind = "substring"
entries = ["ok", "   "]"#,
            "allow-list \"s\": invalid substring entry \"\": empty entry",
        ),
    ];
    for (table, expected) in cases {
        let err = build(&format!("[[allowlist]]\n{table}\n")).unwrap_err();
        assert!(
            err.to_string().starts_with(expected),
            "{err}\n expected to start with\n{expected}"
        );
        assert!(matches!(err, WarnlistError::InvalidEntry { .. }));
    }
}

#[test]
fn structural_errors() {
    let empty =
        build("[[allowlist]]\nname = \"e\"\nkind = \"string\"\nentries = []\n").unwrap_err();
    assert_eq!(empty.to_string(), "allow-list \"e\" has no entries");

    let incompatible =
        build("[[allowlist]]\nname = \"c\"\nkind = \"cidr\"\nentries = [\"10.0.0.0/8\"]\ntypes = [\"domain\"]\n")
            .unwrap_err();
    assert_eq!(
        incompatible.to_string(),
        "allow-list \"c\": a cidr list cannot apply to domain indicators"
    );

    let bad_name =
        build("[[allowlist]]\nname = \"my list\"\nkind = \"string\"\nentries = [\"x\"]\n")
            .unwrap_err();
    assert!(matches!(bad_name, WarnlistError::InvalidName { .. }));

    let twice = build(
        "[[allowlist]]\nname = \"a\"\nkind = \"string\"\nentries = [\"x\"]\n\
         [[allowlist]]\nname = \"a\"\nkind = \"string\"\nentries = [\"y\"]\n",
    )
    .unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::Conflict);

    // Unknown keys, kinds and types are refused when deserialising.
    for table in [
        "name = \"a\"\nkind = \"string\"\nentries = [\"x\"]\ncomment = \"?\"",
        "name = \"a\"\nkind = \"glob\"\nentries = [\"x\"]",
        "name = \"a\"\nkind = \"string\"\nentries = [\"x\"]\ntypes = [\"ssdeep\"]",
        "kind = \"string\"\nentries = [\"x\"]",
    ] {
        assert!(
            toml::from_str::<Config>(&format!("[[allowlist]]\n{table}\n")).is_err(),
            "{table}"
        );
    }
}

#[test]
fn allowlists_extend_the_bundled_lists() {
    let configs = parse(ALL_KINDS);
    let set = WarningLists::bundled().with_allowlists(&configs).unwrap();
    assert_eq!(set.lists().len(), 130);
    // Both a bundled list and an allow-list match 10.20.0.1.
    assert_eq!(
        names(&set, T::Ipv4, "10.20.0.1"),
        ["rfc1918", "rfc5735", "corp-ips"]
    );
    // The bundled set itself is unchanged.
    assert_eq!(WarningLists::bundled().lists().len(), 125);
    // Allow-lists can be disabled by name like any list.
    let without = set.without(&["corp-ips", "rfc5735"]).unwrap();
    assert_eq!(names(&without, T::Ipv4, "10.20.0.1"), ["rfc1918"]);
    // And they narrow and extend in any order.
    let narrowed = WarningLists::bundled()
        .with_only(&["rfc1918"])
        .unwrap()
        .with_allowlists(&configs)
        .unwrap();
    assert_eq!(
        names(&narrowed, T::Ipv4, "10.20.0.1"),
        ["rfc1918", "corp-ips"]
    );

    let clash =
        parse("[[allowlist]]\nname = \"rfc1918\"\nkind = \"cidr\"\nentries = [\"10.0.0.0/8\"]\n");
    let err = WarningLists::bundled().with_allowlists(&clash).unwrap_err();
    assert_eq!(err.to_string(), "duplicate list name \"rfc1918\"");
}

#[test]
fn allowlist_description() {
    let set = build(ALL_KINDS).unwrap();
    let list = set.list("corp-domains").unwrap();
    assert_eq!(list.kind, ListKind::Hostname);
    assert_eq!(list.entries, 3);
    assert_eq!(list.types, [T::Domain, T::Url]);
    assert_eq!(set.list("corp-ips").unwrap().types.len(), 4);
}
