//! The pivoting relation graph in pages: `graph.js` turns every
//! `<div class="pivot-graph" data-node="…">` into a graph that grows node
//! by node from `GET /api/v1/graph` (see [`crate::graph`]). Its words come
//! from the `#graph-words` element the base template renders, so the
//! script itself holds no text.

/// This area's words: (key, English, Japanese).
pub const WORDS: &[(&str, &str, &str)] = &[
    ("graph.title", "Relation graph", "関係グラフ"),
    ("graph.loading", "Loading the graph…", "グラフを読み込み中…"),
    (
        "graph.failed",
        "The graph could not be loaded:",
        "グラフを読み込めませんでした:",
    ),
    ("graph.relations", "Relations", "関係"),
    ("graph.open", "Open its page", "ページを開く"),
    (
        "graph.help",
        "Select a node and press Enter (or click it) to show its neighbours; untick a relation to hide its edges.",
        "ノードを選んで Enter を押す(またはクリックする)と隣接ノードを表示します。関係のチェックを外すとその線を隠します。",
    ),
    (
        "graph.cap",
        "The graph shows at most {n} nodes: some neighbours were left out.",
        "グラフに表示できるノードは最大 {n} 件です。一部の隣接ノードは表示していません。",
    ),
    (
        "graph.omitted",
        "{n} more neighbours of this node are not shown.",
        "このノードの隣接ノードのうち {n} 件は表示していません。",
    ),
    (
        "graph.none",
        "Nothing more is connected to this node.",
        "このノードにつながるものは他にありません。",
    ),
    ("graph.kind.indicator", "Indicator", "指標"),
    ("graph.kind.entity", "Threat entity", "脅威エンティティ"),
    ("graph.kind.item", "Item", "アイテム"),
    // The graph's own relations (`rel.indicates` is a stated one too).
    ("rel.named-by", "named by", "関連エンティティ"),
    ("rel.reported-in", "reported in", "報告アイテム"),
    ("rel.co-named", "named with", "同時に言及"),
    ("rel.names", "names", "言及"),
    ("rel.states", "states", "記載"),
    ("rel.mentions", "mentions in text", "本文中で言及"),
];

/// This area's static files: (path under `/static/`, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "ui/graph.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/ui/graph.js"),
    ),
    (
        "ui/graph.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/ui/graph.css"),
    ),
];

/// Every relation's name in `lang`, as a JSON object (`{"resolves-to":
/// "名前解決先", …}`), for `graph.js` to label its filters with.
pub fn relation_words(lang: super::Lang) -> String {
    let words: serde_json::Map<String, serde_json::Value> = super::i18n::keys()
        .filter_map(|k| k.strip_prefix("rel."))
        .map(|name| (name.to_owned(), super::i18n::relation(lang, name).into()))
        .collect();
    serde_json::Value::Object(words).to_string()
}
