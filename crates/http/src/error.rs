//! Why a request failed, with the target redacted.

/// Why a request failed. Every `url` is the caller's label for the target:
/// a URL passed through [`crate::redact`], or a bare host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL does not parse, or the request cannot be built from it.
    #[error("invalid URL {url}")]
    InvalidUrl {
        /// The redacted URL.
        url: String,
    },
    /// A final non-success status.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The status code.
        status: u16,
        /// The redacted URL.
        url: String,
    },
    /// The upstream asked to come back later than the caller may wait.
    #[error("rate limited by {url}: retry after {seconds} s")]
    RateLimited {
        /// The redacted URL.
        url: String,
        /// Seconds asked for.
        seconds: u64,
    },
    /// The body exceeds the size cap.
    #[error("response from {url} exceeds the {limit}-byte limit")]
    TooLarge {
        /// The redacted URL.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// The request or body took too long.
    #[error("timed out after {seconds} s fetching {url}")]
    Timeout {
        /// The redacted URL.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// The body ended before its announced length, or the connection broke.
    #[error("truncated or broken response from {url}: {detail}")]
    Broken {
        /// The redacted URL.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// The host could not be reached.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The redacted URL.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// A redirect loop, or more redirects than the client follows.
    #[error("too many redirects from {url}")]
    Redirects {
        /// The redacted URL.
        url: String,
    },
    /// A gzip or zip body that does not unpack (the connectors' archives).
    #[error("cannot unpack the body of {url}: {detail}")]
    Unpack {
        /// The redacted URL.
        url: String,
        /// What failed.
        detail: String,
    },
}

impl FetchError {
    /// Whether another attempt may succeed: a retryable status
    /// ([`crate::retryable_status`]), a timeout or a broken connection.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => crate::retryable_status(*status),
            Self::Timeout { .. } | Self::Broken { .. } | Self::Unreachable { .. } => true,
            _ => false,
        }
    }
}
