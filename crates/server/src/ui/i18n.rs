//! The UI's words in English and Japanese, and how dates and numbers are
//! written for the reader ([`Locale`]). A key missing in Japanese falls
//! back to English; a key missing in both shows itself, so a test catches
//! it (`tests::every_key_used_has_japanese`).
//!
//! Sentences other crates write in English for the API — a lookup's status
//! reasons, score factors and relation reasons — reach Japanese pages
//! through [`sentence`]: each `why.*` entry is an English pattern with
//! `{name}` slots and its Japanese form; the first pattern that matches the
//! whole sentence gives the Japanese, with its slots filled in.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// The BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ja => "ja",
        }
    }

    /// A language from a tag (`ja`, `ja-JP`, `en-US`, …).
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "ja" => Some(Self::Ja),
            _ => None,
        }
    }

    /// The preferred supported language of an `Accept-Language` header.
    pub fn from_accept(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',') {
            let mut fields = part.split(';');
            let Some(lang) = fields.next().and_then(Self::from_tag) else {
                continue;
            };
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

/// How a reader writes dates and numbers: American or British English, or
/// Japanese.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    /// `Jan 5, 2025, 3:04 PM UTC`.
    EnUs,
    /// `5 Jan 2025, 15:04 UTC`.
    EnGb,
    /// `2025年1月5日 15:04 UTC`.
    Ja,
}

/// English month names, as `Intl` writes them with `month: "short"`.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Locale {
    /// The BCP 47 tag (what the page's script formats with).
    pub fn tag(self) -> &'static str {
        match self {
            Self::EnUs => "en-US",
            Self::EnGb => "en-GB",
            Self::Ja => "ja",
        }
    }

    /// The locale of a page in `lang`: Japanese pages write Japanese
    /// dates; English ones follow the reader's preferred English in
    /// `Accept-Language` — American for `en-US`, plain `en` and none,
    /// British (day before month) for any other region (`en-GB`, `en-AU`,
    /// `en-IN`, …).
    pub fn pick(lang: Lang, accept: Option<&str>) -> Self {
        if lang == Lang::Ja {
            return Self::Ja;
        }
        let mut best: Option<(f32, &str)> = None;
        for part in accept.unwrap_or_default().split(',') {
            let mut fields = part.split(';');
            let tag = fields.next().unwrap_or_default().trim();
            if Lang::from_tag(tag) != Some(Lang::En) {
                continue;
            }
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if best.is_none_or(|(b, _)| q > b) {
                best = Some((q, tag));
            }
        }
        let region = best
            .and_then(|(_, tag)| tag.split(['-', '_']).nth(1))
            .map(str::to_ascii_uppercase);
        match region.as_deref() {
            None | Some("US" | "CA" | "PH") => Self::EnUs,
            Some(_) => Self::EnGb,
        }
    }

    /// A time in UTC, with the zone said: `Jan 5, 2025, 3:04 PM UTC`.
    pub fn time(self, t: time::OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        let (h, m) = (t.hour(), t.minute());
        match self {
            Self::EnUs => {
                let (h12, half) = match h {
                    0 => (12, "AM"),
                    1..=11 => (h, "AM"),
                    12 => (12, "PM"),
                    _ => (h - 12, "PM"),
                };
                format!("{}, {h12}:{m:02} {half} UTC", self.date(t.date()))
            }
            Self::EnGb => format!("{}, {h:02}:{m:02} UTC", self.date(t.date())),
            Self::Ja => format!("{} {h}:{m:02} UTC", self.date(t.date())),
        }
    }

    /// A date: `Jan 5, 2025`, `5 Jan 2025`, `2025年1月5日`.
    pub fn date(self, d: time::Date) -> String {
        let month = MONTHS[usize::from(u8::from(d.month())) - 1];
        let (y, day) = (d.year(), d.day());
        match self {
            Self::EnUs => format!("{month} {day}, {y}"),
            Self::EnGb => format!("{day} {month} {y}"),
            Self::Ja => format!("{y}年{}月{day}日", u8::from(d.month())),
        }
    }

    /// A whole number with its thousands grouped: `100,102` (all three
    /// write it so).
    pub fn number(self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
        if n < 0 {
            out.push('-');
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    }
}

/// (key, English, Japanese).
const WORDS: &[(&str, &str, &str)] = &[
    (
        "app.tagline",
        "Threat intelligence, in one place",
        "脅威インテリジェンスを一か所に",
    ),
    ("nav.dashboard", "Dashboard", "ダッシュボード"),
    ("nav.search", "Search", "検索"),
    ("nav.hunts", "Hunts", "ハント"),
    ("nav.sources", "Sources", "ソース"),
    ("nav.exports", "Exports", "エクスポート"),
    ("nav.admin", "Admin", "管理"),
    ("nav.api", "API", "API"),
    ("nav.logout", "Log out", "ログアウト"),
    ("nav.language", "日本語", "English"),
    ("login.title", "Log in", "ログイン"),
    ("login.user", "User name", "ユーザー名"),
    ("login.password", "Password", "パスワード"),
    ("login.submit", "Log in", "ログイン"),
    (
        "login.failed",
        "Wrong user name or password.",
        "ユーザー名またはパスワードが正しくありません。",
    ),
    (
        "search.placeholder",
        "IP, domain, URL, hash, CVE or words",
        "IP、ドメイン、URL、ハッシュ、CVE、またはキーワード",
    ),
    ("search.submit", "Search", "検索"),
    ("dash.title", "Dashboard", "ダッシュボード"),
    ("dash.indicators", "Indicators", "指標"),
    ("dash.items", "Items", "アイテム"),
    ("dash.sightings", "Sightings", "観測"),
    ("dash.sources", "Sources", "ソース"),
    ("dash.hits", "Latest hunt hits", "最新のハントのヒット"),
    ("dash.no_hits", "No hits yet.", "まだヒットはありません。"),
    ("dash.health", "Source health", "ソースの状態"),
    (
        "dash.early",
        "Seen in social/news before NVD/JVN/KEV",
        "NVD・JVN・KEV より先にソーシャルメディア・ニュースで観測",
    ),
    (
        "dash.early_note",
        "CVEs stored in the last 90 days, longest lead first: how long before their NVD, JVN or KEV entry social media or news had them, or how long they have waited for one.",
        "過去90日に保存した CVE を、NVD・JVN・KEV への登録よりどれだけ早くソーシャルメディアやニュースに現れたか(未登録のものは経過時間)の長い順に表示します。",
    ),
    ("dash.early_first", "First seen in", "最初の報告元"),
    ("dash.early_entry", "Database entry", "データベース登録"),
    ("dash.early_lead", "Lead", "先行時間"),
    (
        "dash.early_pending",
        "no database entry yet",
        "データベース未登録",
    ),
    ("dash.early_so_far", "so far", "経過"),
    (
        "dash.early_empty",
        "No CVE was seen in social media or news before its database entry.",
        "データベース登録より前にソーシャルメディアやニュースで観測された CVE はありません。",
    ),
    ("col.type", "Type", "種類"),
    ("col.kind", "Kind", "種別"),
    ("col.count", "Count", "件数"),
    ("col.name", "Name", "名前"),
    ("col.enabled", "Enabled", "有効"),
    ("col.last_success", "Last success", "最終成功"),
    ("col.failures", "Failures", "失敗"),
    ("col.last_error", "Last error", "最新のエラー"),
    ("col.hunt", "Hunt", "ハント"),
    ("col.object", "Object", "対象"),
    ("col.terms", "Matched", "一致した語"),
    ("col.when", "When", "日時"),
    ("word.yes", "yes", "はい"),
    ("word.no", "no", "いいえ"),
    ("word.never", "never", "なし"),
    ("word.stale", "stale", "停滞"),
    ("word.failing", "failing", "失敗中"),
    // Roles, by `Role::as_str`.
    ("role.viewer", "viewer", "閲覧者"),
    ("role.analyst", "analyst", "アナリスト"),
    ("role.admin", "admin", "管理者"),
    // Source classes, by `SourceClass::as_str`.
    ("class.social", "social media", "ソーシャルメディア"),
    ("class.news", "news", "ニュース"),
    ("class.exchange", "exchange", "情報共有基盤"),
    (
        "class.vulndb",
        "vulnerability database",
        "脆弱性データベース",
    ),
    ("class.feed", "feed / blocklist", "フィード・ブロックリスト"),
    ("class.other", "other", "その他"),
    // Run outcomes, by `RunOutcome::as_str`.
    ("run.running", "running", "実行中"),
    ("run.success", "success", "成功"),
    ("run.partial", "partial", "一部のみ"),
    ("run.failed", "failed", "失敗"),
    ("run.not_modified", "not modified", "変更なし"),
    ("run.interrupted", "interrupted", "中断"),
    (
        "error.title",
        "Something went wrong",
        "エラーが発生しました",
    ),
    ("error.detail", "Details", "詳細"),
    (
        "error.home",
        "Back to the dashboard",
        "ダッシュボードへ戻る",
    ),
    ("err.not_found", "Not found", "見つかりません"),
    (
        "err.no_page",
        "There is no page at this address.",
        "このアドレスのページはありません。",
    ),
    ("err.forbidden", "Not allowed", "許可されていません"),
    (
        "err.role",
        "This page needs the {needed} role; you have the {role} role.",
        "このページには {needed} ロールが必要です。あなたのロールは {role} です。",
    ),
    (
        "err.bad_request",
        "The request is not valid.",
        "リクエストが正しくありません。",
    ),
    (
        "err.unavailable",
        "The store is unavailable; try again shortly.",
        "ストアを利用できません。しばらくしてから再度お試しください。",
    ),
    (
        "err.no_item",
        "No such item (or it is above your clearance).",
        "そのアイテムはありません(またはあなたの閲覧範囲を超えています)。",
    ),
    (
        "err.no_indicator",
        "No such indicator (or it is above your clearance).",
        "その指標はありません(またはあなたの閲覧範囲を超えています)。",
    ),
    (
        "err.no_indicator_type",
        "No such indicator type.",
        "その種類の指標はありません。",
    ),
    (
        "err.not_indicator",
        "Not a valid indicator of this type.",
        "この種類の指標として正しくありません。",
    ),
    (
        "err.not_lookup",
        "Not an IP address, domain, URL, hash, e-mail address or CVE.",
        "IP アドレス、ドメイン、URL、ハッシュ、メールアドレス、CVE のいずれでもありません。",
    ),
    (
        "err.bad_query",
        "The query string is not valid.",
        "クエリ文字列が正しくありません。",
    ),
    (
        "err.bad_cursor",
        "The page link is not valid.",
        "ページのリンクが正しくありません。",
    ),
    (
        "err.no_source",
        "No source of that name.",
        "その名前のソースはありません。",
    ),
    (
        "err.no_hunt",
        "No hunt of that name (or it is above your clearance).",
        "その名前のハントはありません(またはあなたの閲覧範囲を超えています)。",
    ),
    (
        "err.no_channel",
        "No configured alert channel of that name.",
        "その名前の通知チャネルは設定されていません。",
    ),
    (
        "err.bad_hit",
        "Not a hit id.",
        "ヒットの ID ではありません。",
    ),
    (
        "err.no_export",
        "No saved export of that name.",
        "その名前の保存済みエクスポートはありません。",
    ),
    (
        "err.analyst_only",
        "Writing hunts needs the analyst role; you can read them.",
        "ハントの作成・変更にはアナリストのロールが必要です。閲覧はできます。",
    ),
    (
        "login.expired",
        "Your session has ended. Log in again to go on.",
        "セッションが終了しました。続けるには再度ログインしてください。",
    ),
    (
        "api.title",
        "rexist API reference",
        "rexist API リファレンス",
    ),
    ("api.back", "Back to rexist", "rexist に戻る"),
    // Score factors, by `Factor::name`.
    ("factor.base", "base", "基礎点"),
    ("factor.corroboration", "corroboration", "裏付け"),
    ("factor.repetition", "repetition", "反復"),
    ("factor.freshness", "freshness", "鮮度"),
    ("factor.allowlisted", "allow-listed", "許可リスト"),
    ("factor.relation", "relation", "関連"),
    ("factor.relations", "relations", "関連の合計"),
    // Relations: what a value's shape connects (the lookup's `connect`),
    // shared items, and the relation types sources state (STIX's names).
    ("rel.contained-in", "contained in", "含まれるネットワーク"),
    ("rel.contains", "contains", "含む"),
    ("rel.host-of", "host of", "ホスト"),
    ("rel.domain-of", "domain of", "ドメイン"),
    ("rel.parent-domain", "parent domain", "親ドメイン"),
    ("rel.url-on", "URL on", "上の URL"),
    ("rel.subdomain", "sub-domain", "サブドメイン"),
    ("rel.email-at", "address at", "アドレス"),
    ("rel.shared-items", "shared items", "共通のアイテム"),
    ("rel.related-to", "related to", "関連"),
    ("rel.resolves-to", "resolves to", "名前解決先"),
    ("rel.communicates-with", "communicates with", "通信先"),
    ("rel.downloads", "downloads", "ダウンロード"),
    ("rel.drops", "drops", "ドロップ"),
    ("rel.uses", "uses", "使用"),
    ("rel.indicates", "indicates", "示す"),
    ("rel.delivers", "delivers", "配布"),
    ("rel.hosts", "hosts", "ホスティング"),
    ("rel.beacons-to", "beacons to", "ビーコン送信先"),
    ("rel.exfiltrates-to", "exfiltrates to", "持ち出し先"),
    ("rel.targets", "targets", "標的"),
    ("rel.exploits", "exploits", "悪用"),
    ("rel.attributed-to", "attributed to", "帰属先"),
    ("rel.variant-of", "variant of", "亜種"),
    ("rel.derived-from", "derived from", "派生元"),
    ("rel.duplicate-of", "duplicate of", "重複"),
    ("rel.based-on", "based on", "基づく"),
    ("rel.located-at", "located at", "所在地"),
    ("rel.belongs-to", "belongs to", "所属"),
    ("rel.owns", "owns", "所有"),
    ("rel.controls", "controls", "制御"),
    ("rel.compromises", "compromises", "侵害"),
    ("rel.originates-from", "originates from", "発信元"),
    ("rel.authored-by", "authored by", "作成者"),
    ("rel.impersonates", "impersonates", "なりすまし"),
    ("rel.mitigates", "mitigates", "緩和"),
];

/// English sentences other crates write, as patterns with `{slots}`, and
/// their Japanese (see [`sentence`]). A `{relation}` slot is a relation
/// name (`rel.*`), `{retract}` a retraction (`ind.retract.*`), `{hops}` a
/// sentence of its own; the others are copied.
const SENTENCES: &[(&str, &str, &str)] = &[
    // Status reasons (the lookup's and the store's).
    (
        "why.warning_list",
        "on warning list {list}",
        "警告リスト {list} に掲載されています",
    ),
    (
        "why.not_sighted",
        "not sighted for {days} days",
        "{days} 日間観測されていません",
    ),
    (
        "why.retracted",
        "{retract} by {source}",
        "{source} により{retract}",
    ),
    (
        "why.unlisted",
        "no source lists it",
        "掲載しているソースがありません",
    ),
    // Score factors (the lookup's `lifecycle` and `connect`).
    (
        "why.false_positive",
        "marked a false positive by {by}: {reason}",
        "{by} が誤検知としてマーク: {reason}",
    ),
    (
        "why.override",
        "set by {by}: {reason}",
        "{by} が設定: {reason}",
    ),
    (
        "why.local",
        "seen {n} times in our own network ({reports} reports), counted as a source at confidence {conf}",
        "自組織のネットワークで {n} 回観測({reports} 件の報告)、確度 {conf} のソースとして計上",
    ),
    (
        "why.allowlisted",
        "matches a warning list or allow-list",
        "警告リストまたは許可リストに一致します",
    ),
    (
        "why.base",
        "highest confidence among listing sources",
        "掲載しているソースのうち最も高い確度",
    ),
    (
        "why.base_half",
        "no source lists it any more: half its highest confidence",
        "掲載しているソースがなくなったため、最も高い確度の半分",
    ),
    ("why.sources", "{n} sources", "報告元 {n} 件"),
    ("why.sightings", "{n} sightings", "観測 {n} 件"),
    (
        "why.freshness",
        "last seen {age} days ago of a {life}-day lifetime",
        "最終観測は {age} 日前(有効期間 {life} 日)",
    ),
    (
        "why.relation",
        "{relation} {value} (score {score}) × {weight}{hops}",
        "{relation} {value}(スコア {score})× {weight}{hops}",
    ),
    (
        "why.hops",
        " × {decay} ({n} hops)",
        " × {decay}({n} ホップ)",
    ),
    (
        "why.relations",
        "related indicators combined ({rel} of at most {cap}), applied to the {left} points left above {own}",
        "関連する指標の合計({rel}、上限 {cap})を、{own} を超える残りの {left} 点に適用",
    ),
    // Why a related indicator is related (the lookup's answer).
    (
        "why.lies_in",
        "{inner} lies in {outer}",
        "{inner} は {outer} に含まれます",
    ),
    (
        "why.host_of",
        "{other} is the URL's host",
        "{other} は URL のホストです",
    ),
    (
        "why.domain_of",
        "{other} is the address's domain",
        "{other} はアドレスのドメインです",
    ),
    (
        "why.parent",
        "{other} is a parent domain",
        "{other} は親ドメインです",
    ),
    ("why.url_on", "a URL on {host}", "{host} 上の URL"),
    (
        "why.subdomain",
        "{other} is a sub-domain of {asked}",
        "{other} は {asked} のサブドメインです",
    ),
    (
        "why.address_below",
        "{other} is an address at {host}, below {asked}",
        "{other} は {asked} 配下の {host} のアドレスです",
    ),
    (
        "why.address_at",
        "{other} is an address at {asked}",
        "{other} は {asked} のアドレスです",
    ),
    (
        "why.shared",
        "in {n} of the same items",
        "同じアイテム {n} 件に出現",
    ),
    (
        "why.shared_one",
        "in {n} of the same item",
        "同じアイテム {n} 件に出現",
    ),
    (
        "why.stated",
        "{relation}, stated by {source}",
        "{relation}({source} による)",
    ),
    (
        "why.stated_inverse",
        "{relation} (inverse), stated by {source}",
        "{relation}(逆方向、{source} による)",
    ),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| all().map(|(k, en, ja)| (*k, (*en, *ja))).collect())
}

/// The word for `key` in `lang`.
pub fn t(lang: Lang, key: &str) -> &str {
    match (table().get(key), lang) {
        (Some((_, ja)), Lang::Ja) if !ja.is_empty() => ja,
        (Some((en, _)), _) => en,
        (None, _) => key,
    }
}

/// `text` with each `{name}` replaced by its value in `args`.
pub fn fill(text: &str, args: &[(&str, String)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The name of a relation (`resolves-to`, `contained-in`) in `lang`; an
/// unknown one (sources state their own) as it is.
pub fn relation(lang: Lang, name: &str) -> String {
    let key = format!("rel.{name}");
    match t(lang, &key) {
        word if word == key => name.to_owned(),
        word => word.to_owned(),
    }
}

/// A piece of a sentence pattern.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Slot(&'a str),
}

/// A pattern cut at its `{slots}`.
fn pieces(pattern: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        out.push(Piece::Slot(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The slot values that make `pieces` read exactly `text`, if any: each
/// slot takes as little as lets the rest match and `fits` its value.
fn unfill<'t>(
    pieces: &[Piece<'_>],
    text: &'t str,
    fits: &dyn Fn(&str, &str) -> bool,
) -> Option<Vec<(String, &'t str)>> {
    match pieces.split_first() {
        None => text.is_empty().then(Vec::new),
        Some((Piece::Text(lit), rest)) => unfill(rest, text.strip_prefix(lit)?, fits),
        Some((Piece::Slot(name), rest)) => {
            let ends: Vec<usize> = match rest.first() {
                None => vec![text.len()],
                Some(Piece::Text(lit)) => text.match_indices(lit).map(|(i, _)| i).collect(),
                Some(Piece::Slot(_)) => (0..=text.len())
                    .filter(|i| text.is_char_boundary(*i))
                    .collect(),
            };
            ends.into_iter()
                .filter(|end| fits(name, &text[..*end]))
                .find_map(|end| {
                    let mut found = unfill(rest, &text[end..], fits)?;
                    found.insert(0, ((*name).to_owned(), &text[..end]));
                    Some(found)
                })
        }
    }
}

/// Whether `value` can fill the slot `name`: counts, scores and weights are
/// numbers, a retraction one of `ind.retract.*`, hops empty or a
/// multiplier; anything else goes.
fn slot_fits(lang: Lang, name: &str, value: &str) -> bool {
    match name {
        "n" | "days" | "age" | "life" | "score" | "weight" | "decay" | "rel" | "cap" | "left"
        | "own" | "reports" | "conf" => {
            !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.')
        }
        "retract" => {
            let key = format!("ind.retract.{value}");
            t(lang, &key) != key
        }
        "hops" => value.is_empty() || value.starts_with(" × "),
        _ => true,
    }
}

/// Sentence patterns, the most specific (most fixed text) first.
fn sentences() -> &'static [(Vec<Piece<'static>>, &'static str)] {
    static SORTED: OnceLock<Vec<(Vec<Piece<'static>>, &'static str)>> = OnceLock::new();
    SORTED.get_or_init(|| {
        let mut v: Vec<_> = SENTENCES
            .iter()
            .map(|(_, en, ja)| (pieces(en), *ja))
            .collect();
        let fixed = |p: &[Piece<'_>]| -> usize {
            p.iter()
                .map(|x| match x {
                    Piece::Text(t) => t.len(),
                    Piece::Slot(_) => 0,
                })
                .sum()
        };
        v.sort_by_key(|(p, _)| std::cmp::Reverse(fixed(p)));
        v
    })
}

/// An English sentence another crate wrote (a status reason, a score
/// factor's or a relation's reason) in `lang`; one no pattern reads stays
/// as it is.
pub fn sentence(lang: Lang, text: &str) -> String {
    if lang == Lang::En {
        return text.to_owned();
    }
    let fits = |name: &str, value: &str| slot_fits(lang, name, value);
    for (pattern, ja) in sentences() {
        let Some(slots) = unfill(pattern, text, &fits) else {
            continue;
        };
        let args: Vec<(&str, String)> = slots
            .iter()
            .map(|(name, value)| {
                let word = match name.as_str() {
                    "relation" => relation(lang, value),
                    "retract" => t(lang, &format!("ind.retract.{value}")).to_owned(),
                    "hops" if !value.is_empty() => sentence(lang, value),
                    _ => (*value).to_owned(),
                };
                (name.as_str(), word)
            })
            .collect();
        return fill(ja, &args);
    }
    text.to_owned()
}

/// A lead time in words: `3 days 4 h` / `3日4時間`.
pub fn duration(lang: Lang, seconds: i64) -> String {
    match lang {
        Lang::En => rexist_core::early::lead_words(seconds),
        Lang::Ja => {
            let s = seconds.max(0);
            let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
            match (days, hours, minutes) {
                (0, 0, 0) => format!("{s}秒"),
                (0, 0, m) => format!("{m}分"),
                (0, h, 0) => format!("{h}時間"),
                (0, h, m) => format!("{h}時間{m}分"),
                (d, 0, _) => format!("{d}日"),
                (d, h, _) => format!("{d}日{h}時間"),
            }
        }
    }
}

/// Every area's words.
fn all() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    WORDS
        .iter()
        .chain(SENTENCES)
        .chain(super::search::WORDS)
        .chain(super::item::WORDS)
        .chain(super::indicator::WORDS)
        .chain(super::manage::WORDS)
        .chain(super::exports::WORDS)
        .chain(super::hunts::WORDS)
        .chain(super::curation::WORDS)
        .chain(super::entity::WORDS)
        .chain(super::graph::WORDS)
}

/// Every key, for tests that check both languages are complete.
pub fn keys() -> impl Iterator<Item = &'static str> {
    all().map(|(k, _, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept("ja-JP,ja;q=0.9,en;q=0.8"), Some(Lang::Ja));
        assert_eq!(
            Lang::from_accept("fr-FR, en;q=0.5, ja;q=0.4"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept("de, fr"), None);
        assert_eq!(Lang::from_accept("en;q=0.2, ja;q=0.9"), Some(Lang::Ja));
    }

    #[test]
    fn every_word_has_both_languages_and_keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, ja) in all() {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !ja.is_empty(), "{k} lacks a language");
        }
        assert_eq!(t(Lang::Ja, "nav.search"), "検索");
    }

    #[test]
    fn every_run_outcome_has_a_word() {
        for o in rexist_core::RunOutcome::ALL {
            let key = format!("run.{}", o.as_str());
            assert_ne!(t(Lang::En, &key), key, "{key} has no word");
            assert_ne!(t(Lang::Ja, &key), t(Lang::En, &key), "{key} lacks Japanese");
        }
        assert_eq!(t(Lang::Ja, "run.interrupted"), "中断");
        assert_eq!(t(Lang::En, "no.such.key"), "no.such.key");
    }

    #[test]
    fn every_source_class_has_a_word_and_leads_read_in_both() {
        for c in rexist_core::SourceClass::ALL {
            let key = format!("class.{}", c.as_str());
            assert_ne!(t(Lang::En, &key), key, "{key} has no word");
            assert_ne!(t(Lang::Ja, &key), t(Lang::En, &key), "{key} lacks Japanese");
        }
        let lead = 3 * 86_400 + 4 * 3600;
        assert_eq!(duration(Lang::En, lead), "3 days 4 h");
        assert_eq!(duration(Lang::Ja, lead), "3日4時間");
        assert_eq!(duration(Lang::Ja, 5 * 3600 + 12 * 60), "5時間12分");
        assert_eq!(duration(Lang::Ja, 40 * 60), "40分");
        assert_eq!(duration(Lang::Ja, 9), "9秒");
    }

    /// Proper nouns and codes that read the same in Japanese.
    const SAME_IN_JAPANESE: &[&str] = &[
        "nav.api",
        "exp.url",
        "hunts.tlp",
        "nav.language",
        "ent.attack",
    ];

    /// Keys built in templates from a prefix and a value, with every value.
    fn dynamic(prefix: &str) -> Vec<String> {
        let values: Vec<String> = match prefix {
            "class." => rexist_core::SourceClass::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            "run." => rexist_core::RunOutcome::ALL
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect(),
            "factor." => [
                "base",
                "corroboration",
                "repetition",
                "freshness",
                "allowlisted",
                "relation",
                "relations",
                "false_positive",
                "override",
                "local",
            ]
            .map(str::to_owned)
            .to_vec(),
            "kind." => rexist_core::ItemKind::ENTITIES
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            "hunts.kind." => [rexist_core::HuntKind::Query, rexist_core::HuntKind::Watch]
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            "ind.early_awaiting." | "ind.early_rule." => {
                ["database", "blocklist"].map(str::to_owned).to_vec()
            }
            "ind.retract." => [
                "revoked",
                "deleted",
                "false_positive",
                "inactive",
                "expired",
                "delisted",
            ]
            .map(str::to_owned)
            .to_vec(),
            "ind.status." => [
                "active",
                "expired",
                "allowlisted",
                "retired",
                "false_positive",
                "unknown",
            ]
            .map(str::to_owned)
            .to_vec(),
            "hunts.triage." => rexist_core::HitTriage::ALL
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            "role." => rexist_core::Role::ALL
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            "enrich." => [
                "ok",
                "not_found",
                "not_applicable",
                "rate_limited",
                "quota_exceeded",
                "unauthorized",
                "timeout",
                "error",
            ]
            .map(str::to_owned)
            .to_vec(),
            "search.sort." => ["relevance", "newest", "oldest", "score"]
                .map(str::to_owned)
                .to_vec(),
            "bulk.done." => ["label", "false_positive", "watch", "group"]
                .map(str::to_owned)
                .to_vec(),
            other => panic!("templates build keys from {other:?}: list its values here"),
        };
        values.into_iter().map(|v| format!("{prefix}{v}")).collect()
    }

    /// The Rust files whose string literals may be keys.
    const RUST: &[&str] = &[
        include_str!("mod.rs"),
        include_str!("pages.rs"),
        include_str!("search.rs"),
        include_str!("bulk.rs"),
        include_str!("item.rs"),
        include_str!("indicator.rs"),
        include_str!("hunts.rs"),
        include_str!("manage.rs"),
        include_str!("watch.rs"),
        include_str!("graph.rs"),
        include_str!("../openapi.rs"),
    ];

    /// Every key the templates and the Rust code use.
    fn used_keys() -> std::collections::BTreeSet<String> {
        let prefixes: std::collections::HashSet<&str> =
            keys().filter_map(|k| k.split('.').next()).collect();
        let mut used = std::collections::BTreeSet::new();
        for (name, source) in super::super::templates() {
            let mut rest = *source;
            while let Some(at) = rest.find("t('") {
                let called = rest[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
                rest = &rest[at + 3..];
                if !called {
                    continue;
                }
                let Some(end) = rest.find('\'') else { break };
                let key = &rest[..end];
                if rest[end + 1..].trim_start().starts_with('~') {
                    used.extend(dynamic(key));
                } else {
                    assert!(!key.is_empty(), "{name}: an empty key");
                    used.insert(key.to_owned());
                }
            }
        }
        for source in RUST {
            for literal in source.split('"').skip(1).step_by(2) {
                let shaped = literal.contains('.')
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || matches!(c, '.' | '_' | '-'))
                    && !literal.ends_with('.')
                    && ![".html", ".css", ".js", ".ico", ".rs"]
                        .iter()
                        .any(|ext| literal.ends_with(ext));
                let prefix = literal.split('.').next().unwrap_or_default();
                if shaped && prefixes.contains(prefix) {
                    used.insert(literal.to_owned());
                }
            }
        }
        used.extend(dynamic("run."));
        used
    }

    #[test]
    fn every_key_used_has_japanese() {
        let used = used_keys();
        assert!(
            used.len() > 300,
            "the scan found too few keys: {}",
            used.len()
        );
        for key in &used {
            assert_ne!(t(Lang::En, key), key, "{key} is used but has no words");
            let (en, ja) = (t(Lang::En, key), t(Lang::Ja, key));
            assert!(
                ja != en || SAME_IN_JAPANESE.contains(&key.as_str()),
                "{key} reads {en:?} in Japanese too"
            );
        }
    }

    #[test]
    fn no_word_is_left_in_english() {
        for (key, en, ja) in all() {
            assert!(
                en != ja || SAME_IN_JAPANESE.contains(key),
                "{key} reads {en:?} in Japanese too"
            );
            assert!(
                !ja.is_ascii() || SAME_IN_JAPANESE.contains(key) || ja.contains('{'),
                "{key}: {ja:?} has no Japanese"
            );
        }
    }

    #[test]
    fn sentences_from_other_crates_read_in_japanese() {
        for (en, ja) in [
            (
                "on warning list rfc5735",
                "警告リスト rfc5735 に掲載されています",
            ),
            ("not sighted for 30 days", "30 日間観測されていません"),
            ("revoked by taxii-partner", "taxii-partner により失効"),
            ("3 sources", "報告元 3 件"),
            ("12 sightings", "観測 12 件"),
            (
                "last seen 4 days ago of a 30-day lifetime",
                "最終観測は 4 日前(有効期間 30 日)",
            ),
            (
                "contained-in 45.0.0.0/16 (score 80) × 0.6 × 0.5 (2 hops)",
                "含まれるネットワーク 45.0.0.0/16(スコア 80)× 0.6 × 0.5(2 ホップ)",
            ),
            (
                "45.0.7.7 lies in 45.0.0.0/16",
                "45.0.7.7 は 45.0.0.0/16 に含まれます",
            ),
            ("in 1 of the same item", "同じアイテム 1 件に出現"),
            ("in 3 of the same items", "同じアイテム 3 件に出現"),
            (
                "resolves-to (inverse), stated by misp-a",
                "名前解決先(逆方向、misp-a による)",
            ),
            ("resolves-to, stated by misp-a", "名前解決先(misp-a による)"),
            (
                "x@mail.example.com is an address at mail.example.com, below example.com",
                "x@mail.example.com は example.com 配下の mail.example.com のアドレスです",
            ),
            ("a URL on evil.example", "evil.example 上の URL"),
        ] {
            assert_eq!(sentence(Lang::Ja, en), ja, "{en}");
            assert_eq!(sentence(Lang::En, en), en);
        }
        // What no pattern reads is left as it is; a word that is not a
        // retraction does not pass for one.
        assert_eq!(sentence(Lang::Ja, "marked by hand"), "marked by hand");
        assert_eq!(sentence(Lang::Ja, "many sources"), "many sources");
    }

    #[test]
    fn the_score_factors_the_lookup_writes_read_in_japanese() {
        let now = time::OffsetDateTime::now_utc();
        let sighting = |source: i64, listed: bool| rexist_core::Sighting {
            id: rexist_core::SightingId::new(source),
            indicator_id: rexist_core::IndicatorId::new(1),
            source_id: rexist_core::SourceId::new(source),
            item_id: None,
            first_seen: now - time::Duration::days(5),
            last_seen: now - time::Duration::days(2),
            confidence: 80,
            tlp: rexist_core::Tlp::Clear,
            labels: Vec::new(),
            listed,
            retired_at: None,
            retired_reason: None,
            expires_at: None,
            author: None,
        };
        let day = std::time::Duration::from_secs(86_400);
        for (sightings, allowlisted) in [
            (vec![sighting(1, true), sighting(2, true)], false),
            (vec![sighting(1, false)], false),
            (vec![sighting(1, true)], true),
        ] {
            let (_, factors) = rexist_lookup::lifecycle::score(
                &sightings,
                now - time::Duration::days(2),
                now,
                day * 30,
                allowlisted,
            );
            assert!(!factors.is_empty());
            for f in factors {
                let key = format!("factor.{}", f.name);
                assert_ne!(t(Lang::Ja, &key), key, "{key}");
                let ja = sentence(Lang::Ja, &f.reason);
                assert_ne!(ja, f.reason, "{}: {:?} stays English", f.name, f.reason);
            }
        }
        let neighbours = [rexist_lookup::connect::Neighbour {
            value: "45.0.0.0/16",
            relation: "contained-in",
            hop: 2,
            score: 90,
            status: rexist_lookup::LookupStatus::Active,
        }];
        let (_, factors) = rexist_lookup::connect::with_relations(10, false, &neighbours);
        assert!(factors.len() >= 2, "{factors:?}");
        for f in factors {
            assert_ne!(sentence(Lang::Ja, &f.reason), f.reason, "{:?}", f.reason);
        }
    }

    #[test]
    fn dates_and_numbers_follow_the_locale() {
        let t = time::macros::datetime!(2025-01-05 15:04:09 UTC);
        assert_eq!(Locale::EnUs.time(t), "Jan 5, 2025, 3:04 PM UTC");
        assert_eq!(Locale::EnGb.time(t), "5 Jan 2025, 15:04 UTC");
        assert_eq!(Locale::Ja.time(t), "2025年1月5日 15:04 UTC");
        let midnight = time::macros::datetime!(2025-12-31 00:07 +09:00);
        assert_eq!(Locale::EnUs.time(midnight), "Dec 30, 2025, 3:07 PM UTC");
        assert_eq!(
            Locale::EnUs.time(time::macros::datetime!(2025-03-01 00:05 UTC)),
            "Mar 1, 2025, 12:05 AM UTC"
        );
        assert_eq!(
            Locale::EnGb.time(time::macros::datetime!(2025-03-01 09:05 UTC)),
            "1 Mar 2025, 09:05 UTC"
        );
        for l in [Locale::EnUs, Locale::EnGb, Locale::Ja] {
            assert_eq!(l.number(100_102), "100,102");
            assert_eq!(l.number(-1_234_567), "-1,234,567");
            assert_eq!(l.number(999), "999");
        }
        assert_eq!(Locale::pick(Lang::En, Some("en-GB,en;q=0.8")), Locale::EnGb);
        assert_eq!(Locale::pick(Lang::En, Some("en-US,en;q=0.9")), Locale::EnUs);
        assert_eq!(Locale::pick(Lang::En, Some("ja,en-AU;q=0.5")), Locale::EnGb);
        assert_eq!(Locale::pick(Lang::En, Some("en")), Locale::EnUs);
        assert_eq!(Locale::pick(Lang::En, None), Locale::EnUs);
        assert_eq!(Locale::pick(Lang::Ja, Some("en-GB")), Locale::Ja);
    }
}
