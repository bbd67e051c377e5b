//! The UI's words in English and Japanese. A key missing in Japanese falls
//! back to English; a key missing in both shows itself, so a test catches it.

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
        .chain(super::search::WORDS)
        .chain(super::item::WORDS)
        .chain(super::indicator::WORDS)
        .chain(super::manage::WORDS)
        .chain(super::hunts::WORDS)
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
}
