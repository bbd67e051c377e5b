//! Turning a message into text: the operator's template when there is one,
//! else a compact default whose links use the markup of the destination.
//! Titles and snippets come from feeds, so they are escaped where the
//! destination would read them as markup (Slack's `<!channel>`).

use minijinja::value::{Serde, Value};
use minijinja::{Environment, UndefinedBehavior};

use crate::{HitSummary, Message};

/// How links are written in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Plain text: URLs on their own.
    Plain,
    /// Slack mrkdwn: `<url|title>`, with `&`, `<`, `>` escaped.
    Slack,
    /// Markdown: `[title](url)`.
    Markdown,
}

/// Longest snippet shown by the default rendering.
const SNIPPET_CHARS: usize = 300;

/// The operator's templates of one channel, compiled.
pub(crate) struct Templates {
    env: Environment<'static>,
    body: bool,
    subject: bool,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("body", &self.body)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// Compiles the templates, then renders them once on a sample message
    /// so that a misspelt variable fails here rather than at the first hit.
    pub(crate) fn compile(
        body: Option<&str>,
        subject: Option<&str>,
    ) -> Result<Self, (&'static str, String)> {
        let mut env = Environment::new();
        // For the trial only: undefined values fail when printed, yet may be
        // tested with `if`, which catches `{{ hnut }}` and `{{ h.titel }}`.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // No HTML escaping: every destination takes text.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        for (key, name, source) in [
            ("template", "body", body),
            ("subject_template", "subject", subject),
        ] {
            if let Some(source) = source {
                env.add_template_owned(name, source.to_owned())
                    .map_err(|e| (key, template_error(&e)))?;
            }
        }
        let mut templates = Self {
            env,
            body: body.is_some(),
            subject: subject.is_some(),
        };
        let sample = sample_message();
        for (key, name, present) in [
            ("template", "body", templates.body),
            ("subject_template", "subject", templates.subject),
        ] {
            if present {
                templates.render(name, &sample).map_err(|e| (key, e))?;
            }
        }
        // At delivery, Jinja's usual leniency: `{{ 's' if n > 1 }}` prints
        // nothing rather than failing an alert.
        templates
            .env
            .set_undefined_behavior(UndefinedBehavior::Lenient);
        Ok(templates)
    }

    /// The body template's text, when there is one.
    pub(crate) fn body(&self, msg: &Message) -> Option<Result<String, String>> {
        self.body.then(|| self.render("body", msg))
    }

    /// The subject template's text, when there is one.
    pub(crate) fn subject(&self, msg: &Message) -> Option<Result<String, String>> {
        self.subject.then(|| self.render("subject", msg))
    }

    fn render(&self, name: &str, msg: &Message) -> Result<String, String> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| template_error(&e))?;
        template
            .render(Value::from(Serde(msg)))
            .map_err(|e| template_error(&e))
    }
}

/// The error and its causes on one line.
fn template_error(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A message with every field filled, to try templates on.
fn sample_message() -> Message {
    Message {
        id: "sample".to_owned(),
        hunt: "sample".to_owned(),
        digest: true,
        total_hits: 2,
        hits: vec![HitSummary {
            object: "item".to_owned(),
            title: "sample".to_owned(),
            source: Some("sample".to_owned()),
            url: Some("https://example.org/".to_owned()),
            link: Some("https://rexist.example/".to_owned()),
            terms: vec!["sample".to_owned()],
            snippet: Some("sample".to_owned()),
            tlp: Some("clear".to_owned()),
            retro: false,
            matched_at: time::OffsetDateTime::UNIX_EPOCH,
        }],
    }
}

/// True when the message is about one hit and should read as such.
fn single(msg: &Message) -> Option<&HitSummary> {
    match msg.hits.as_slice() {
        [hit] if !msg.digest && msg.total_hits <= 1 => Some(hit),
        _ => None,
    }
}

/// The one-line summary: the default e-mail subject and the headline of
/// chat messages.
pub(crate) fn headline(msg: &Message, style: Style) -> String {
    let hunt = escape(&msg.hunt, style);
    if let Some(hit) = single(msg) {
        format!("rexist hunt \"{hunt}\": {}", hit_title(hit, style))
    } else {
        let noun = if msg.total_hits == 1 { "hit" } else { "hits" };
        format!("rexist hunt \"{hunt}\": {} new {noun}", msg.total_hits)
    }
}

/// The default body.
pub(crate) fn default_text(msg: &Message, style: Style) -> String {
    let mut lines = vec![headline(msg, style)];
    if let Some(hit) = single(msg) {
        if let Some(source) = &hit.source {
            lines.push(format!("source: {}", escape(source, style)));
        }
        if !hit.terms.is_empty() {
            lines.push(format!("matched: {}", escape(&hit.terms.join(", "), style)));
        }
        if let Some(tlp) = &hit.tlp {
            lines.push(format!("TLP: {}", escape(&tlp.to_uppercase(), style)));
        }
        if let Some(snippet) = &hit.snippet {
            let snippet = truncate_chars(&one_line(snippet), SNIPPET_CHARS);
            let snippet = escape(&snippet, style);
            lines.push(match style {
                Style::Plain => snippet,
                Style::Slack | Style::Markdown => format!("> {snippet}"),
            });
        }
        match style {
            Style::Plain => {
                if let Some(url) = &hit.url {
                    lines.push(format!("original: {url}"));
                }
                if let Some(link) = &hit.link {
                    lines.push(format!("in rexist: {link}"));
                }
            }
            Style::Slack | Style::Markdown => {
                if let Some(link) = &hit.link {
                    lines.push(link_markup(link, "open in rexist", style));
                }
            }
        }
    } else {
        for hit in &msg.hits {
            let mut parts = vec![hit_title(hit, style)];
            if let Some(source) = &hit.source {
                parts.push(escape(source, style));
            }
            if !hit.terms.is_empty() {
                parts.push(escape(&hit.terms.join(", "), style));
            }
            let mut line = format!("• {}", parts.join(" — "));
            if style == Style::Plain {
                if let Some(target) = hit.link.as_ref().or(hit.url.as_ref()) {
                    line.push_str(" <");
                    line.push_str(target);
                    line.push('>');
                }
            }
            lines.push(line);
        }
        let shown = u64::try_from(msg.hits.len()).unwrap_or(u64::MAX);
        if msg.total_hits > shown {
            lines.push(format!("… and {} more", msg.total_hits - shown));
        }
    }
    // The delivery id in every channel, so a receiver can drop a retried
    // delivery it already has (webhooks also carry it in the payload).
    lines.push(format!("delivery: {}", escape(&msg.id, style)));
    lines.join("\n")
}

/// A hit's title, linked to the original (else to rexist) where the style
/// has links, and marked when found by a retro-hunt.
fn hit_title(hit: &HitSummary, style: Style) -> String {
    let title = one_line(&hit.title);
    let mut text = match (style, hit.url.as_ref().or(hit.link.as_ref())) {
        (Style::Slack | Style::Markdown, Some(target)) => link_markup(target, &title, style),
        _ => escape(&title, style),
    };
    if hit.retro {
        text.push_str(" (retro-hunt)");
    }
    text
}

fn link_markup(url: &str, text: &str, style: Style) -> String {
    match style {
        Style::Plain => format!("{text} <{url}>"),
        Style::Slack => {
            let url = url
                .replace('|', "%7C")
                .replace('<', "%3C")
                .replace('>', "%3E");
            format!("<{url}|{}>", escape(text, style))
        }
        Style::Markdown => {
            let url = url
                .replace(' ', "%20")
                .replace('(', "%28")
                .replace(')', "%29");
            let text = text.replace('[', "(").replace(']', ")");
            format!("[{text}]({url})")
        }
    }
}

fn escape(text: &str, style: Style) -> String {
    match style {
        Style::Slack => text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
        Style::Plain | Style::Markdown => text.to_owned(),
    }
}

/// Whitespace runs, newlines included, as single spaces.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, ending with `…` when cut.
pub(crate) fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// At most `max` bytes, cut on a character boundary.
pub(crate) fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(title: &str) -> HitSummary {
        HitSummary {
            object: "item".into(),
            title: title.into(),
            source: Some("news".into()),
            url: Some("https://news.example/a".into()),
            link: Some("https://rexist.example/items/1".into()),
            terms: vec!["lazarus".into()],
            snippet: Some("the\nsnippet".into()),
            tlp: None,
            retro: false,
            matched_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn slack_escapes_feed_text() {
        let msg = Message {
            id: "1".into(),
            hunt: "h".into(),
            digest: false,
            total_hits: 1,
            hits: vec![hit("<!channel> & co")],
        };
        let text = default_text(&msg, Style::Slack);
        assert!(
            text.starts_with(
                "rexist hunt \"h\": <https://news.example/a|&lt;!channel&gt; &amp; co>"
            )
        );
        assert!(!text.contains("<!channel>"));
    }

    #[test]
    fn every_style_names_the_delivery_and_the_tlp_as_documented() {
        let mut one = hit("report");
        one.tlp = Some("amber+strict".into());
        let msg = Message {
            id: "rexist-alert-42".into(),
            hunt: "h".into(),
            digest: false,
            total_hits: 1,
            hits: vec![one],
        };
        for style in [Style::Plain, Style::Slack, Style::Markdown] {
            let text = default_text(&msg, style);
            assert!(text.ends_with("delivery: rexist-alert-42"), "{text}");
            assert!(text.contains("TLP: AMBER+STRICT"), "{text}");
        }
        let digest = Message {
            digest: true,
            total_hits: 2,
            hits: vec![hit("a"), hit("b")],
            ..msg
        };
        assert!(default_text(&digest, Style::Plain).ends_with("delivery: rexist-alert-42"));
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("ééé", 2), "é…");
        assert_eq!(truncate_chars("ééé", 3), "ééé");
        assert_eq!(truncate_bytes("ééé", 3), "é");
    }

    #[test]
    fn bad_variable_is_caught_at_compile() {
        let err = Templates::compile(Some("{{ hnut }}"), None).unwrap_err();
        assert_eq!(err.0, "template");
        let err = Templates::compile(None, Some("{% for h in hits %}{{ h.titel }}{% endfor %}"))
            .unwrap_err();
        assert_eq!(err.0, "subject_template");
        let templates = Templates::compile(
            Some("{% if h %}{{ h }}{% endif %}{{ hunt }}{{ 's' if total_hits > 5 }}"),
            None,
        )
        .unwrap();
        let mut msg = sample_message();
        msg.hunt = "x".into();
        assert_eq!(templates.body(&msg).unwrap().unwrap(), "x");
    }
}
