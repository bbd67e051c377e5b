//! What the post searches ([`crate::bluesky`], [`crate::x`]) share: the
//! query they send. It is the source's own `query`, joined by ` OR ` with
//! the words and phrases of the enabled query hunts when `query_from_hunts`
//! is set, so what analysts watch for is what gets collected.

/// Longest query built from hunts: X allows 512 characters on its basic
/// tiers (INTERFACES.md §6.15).
pub const MAX_QUERY: usize = 512;

/// Most pages one search run follows. Pages come newest first, so a run
/// that stopped short could never resume from a checkpoint: it ends there
/// as if complete and the cursor moves to its newest post (older matches of
/// that run are left out, as before the engine).
pub const MAX_PAGES: u32 = 200;

/// Whether a run stops after its `pages`th page (see [`MAX_PAGES`]).
pub fn last_page(pages: u32) -> bool {
    let last = pages >= MAX_PAGES;
    if last {
        tracing::warn!(pages, "stopped at the most pages one search run follows");
    }
    last
}

/// The search terms of a source.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The source's own query, sent as written.
    pub query: Option<String>,
    /// Whether the enabled query hunts' terms are added (`query_from_hunts`).
    pub from_hunts: bool,
}

impl Search {
    /// The query of a run: the source's own, then each hunt term (in the
    /// order given) while the whole stays within [`MAX_QUERY`] characters.
    /// The source's own query is always sent whole. No terms at all fail
    /// the run before anything is fetched.
    pub fn query(&self, hunt_terms: &[String]) -> Result<String, String> {
        let mut query = self
            .query
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if self.from_hunts {
            let mut used: Vec<&str> = vec![query.as_str()];
            let mut added = String::new();
            for term in hunt_terms.iter().map(|t| t.trim()) {
                if term.is_empty() || used.contains(&term) {
                    continue;
                }
                let next = if query.is_empty() && added.is_empty() {
                    term.to_owned()
                } else {
                    format!("{added} OR {term}")
                };
                if query.chars().count() + next.chars().count() > MAX_QUERY {
                    break;
                }
                added = next;
                used.push(term);
            }
            query.push_str(&added);
        }
        if query.is_empty() {
            return Err(
                "no search terms: no query, and no enabled query hunt has words to search for"
                    .to_owned(),
            );
        }
        Ok(query)
    }
}

/// A page of search results: its posts, and the next page — the run's first
/// URL with `key` (the upstream's paging parameter) set to the posts' token —
/// unless the page was empty or the last one a run may read. Pages come
/// newest first, so the cursor moves only at the end.
pub fn page(
    posts: rexist_formats::social::Posts,
    first_url: &str,
    pages: u32,
    key: &str,
) -> crate::engine::Page<()> {
    let next = posts
        .cursor
        .filter(|_| posts.result_count > 0 && !last_page(pages))
        .map(|token| {
            crate::engine::Request::get(
                format!("{first_url}&{key}={}", crate::engine::encode_query(&token)),
                crate::contract::Expect::Json,
                (),
            )
        });
    crate::engine::Page {
        records: posts
            .records
            .into_iter()
            .map(rexist_core::Record::Item)
            .collect(),
        rejected: posts.rejected,
        retractions: Vec::new(),
        next,
        checkpoint: false,
    }
}

/// The keys of a `kind = "bluesky"` or `kind = "x"` source table.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Posts per page (default 100; X asks for 10–100).
    #[serde(default)]
    pub page_size: Option<u32>,
    /// The search query (`#ioc OR c2`).
    #[serde(default)]
    pub query: Option<String>,
    /// Also search for the words and phrases of the enabled query hunts, so
    /// what analysts watch for is what gets collected.
    #[serde(default)]
    pub query_from_hunts: bool,
}

impl Params {
    /// Posts per page, the default when unset.
    pub fn page_size(&self) -> u32 {
        self.page_size.unwrap_or(100)
    }

    /// The search these keys describe.
    pub fn search(&self) -> Search {
        Search {
            query: self
                .query
                .as_deref()
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(str::to_owned),
            from_hunts: self.query_from_hunts,
        }
    }

    /// Checks the keys without I/O.
    pub fn validate(&self) -> Result<(), String> {
        if self.search().query.is_none() && !self.query_from_hunts {
            return Err("needs query (the search terms) or query_from_hunts = true".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn own_query_then_hunt_terms_joined_by_or() {
        let own = Search {
            query: Some("#ioc OR c2".into()),
            from_hunts: false,
        };
        assert_eq!(own.query(&terms(&["lockbit"])).unwrap(), "#ioc OR c2");
        let both = Search {
            from_hunts: true,
            ..own
        };
        assert_eq!(
            both.query(&terms(&["lockbit", "\"black basta\"", "lockbit"]))
                .unwrap(),
            "#ioc OR c2 OR lockbit OR \"black basta\""
        );
        let hunts = Search {
            query: None,
            from_hunts: true,
        };
        assert_eq!(
            hunts.query(&terms(&["lockbit", "ransomware"])).unwrap(),
            "lockbit OR ransomware"
        );
    }

    #[test]
    fn no_terms_is_an_error() {
        let hunts = Search {
            query: Some("  ".into()),
            from_hunts: true,
        };
        let e = hunts.query(&[]).unwrap_err();
        assert!(e.contains("no search terms"), "{e}");
        assert!(Search::default().query(&terms(&["x"])).is_err());
    }

    #[test]
    fn hunt_terms_stop_at_the_length_limit() {
        let long: Vec<String> = (0..100).map(|n| format!("term{n:04}")).collect();
        let s = Search {
            query: Some("é".repeat(10)),
            from_hunts: true,
        };
        let q = s.query(&long).unwrap();
        assert!(q.chars().count() <= MAX_QUERY, "{}", q.chars().count());
        assert!(q.chars().count() > MAX_QUERY - 20);
        assert!(q.starts_with("éééééééééé OR term0000 OR term0001"));
        // The terms kept are a prefix of the hunts' order.
        let kept = q.split(" OR ").count() - 1;
        assert!(q.ends_with(&format!("term{:04}", kept - 1)), "{q}");
    }
}
