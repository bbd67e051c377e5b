//! URLs and errors made safe to show.

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &[
    "key",
    "apikey",
    "api_key",
    "api-key",
    "token",
    "access_token",
    "auth",
    "auth-key",
    "password",
    "secret",
    "sig",
    "signature",
];

/// A URL safe to log: password in the user info and credential query values masked.
pub fn redact(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<invalid URL>".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.iter().any(|s| k.eq_ignore_ascii_case(s));
                (
                    k.into_owned(),
                    if secret {
                        "***".to_owned()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// `scheme://host[:port]`: all that may be shown of a URL that is itself a
/// credential (a Slack or Discord webhook, whose path is the token).
pub fn origin(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("upstream");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// The innermost error message: what actually went wrong, without reqwest's
/// wrapping (which repeats the full URL, credentials included).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let url = reqwest::Url::parse("https://u:p@hooks.example/services/T/B/X?x=1").unwrap();
        assert_eq!(origin(&url), "https://hooks.example");
        let url = reqwest::Url::parse("http://127.0.0.1:8080/a").unwrap();
        assert_eq!(origin(&url), "http://127.0.0.1:8080");
    }
}
