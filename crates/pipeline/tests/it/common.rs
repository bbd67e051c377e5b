//! What the paged-source tests share: a fetcher with short timeouts and no
//! retries, and a JSON answer of the loopback server.

use std::time::Duration;

use rexist_connectors::http::{FetchOptions, Fetcher};
use rexist_testkit::{Answer, response};

/// A fetcher that fails fast: 2 s timeout, no retries.
pub fn fetcher() -> Fetcher {
    Fetcher::new(FetchOptions {
        timeout: Duration::from_secs(2),
        retries: 0,
        backoff: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(1),
        max_bytes: 1 << 20,
        per_host: 2,
        spool_above: 1 << 20,
    })
    .expect("HTTP client")
}

/// A 200 answer with a JSON body.
#[allow(dead_code)] // not every test file answers plain JSON
pub fn json(body: impl AsRef<[u8]>) -> Answer {
    (
        response(
            "200 OK",
            "Content-Type: application/json\r\n",
            body.as_ref(),
        ),
        Duration::ZERO,
    )
}

/// A sink that keeps what a connector hands it: the records and retractions
/// of each page, to check what an upstream emits apart from how the store
/// applies it.
#[allow(dead_code)] // not every test file records
#[derive(Default)]
pub struct Recorder {
    /// Records, in the order stored.
    pub records: Vec<rexist_core::Record>,
    /// Retractions, in the order stored.
    pub retractions: Vec<rexist_core::Retraction>,
}

#[allow(dead_code)]
impl Recorder {
    /// Runs `config`'s connector once from `previous` into a new recorder.
    pub async fn run(
        config: &rexist_connectors::source::ResolvedSource,
        previous: Option<&str>,
    ) -> (Self, rexist_connectors::engine::RunReport) {
        let connector = rexist_connectors::connector(config);
        let fetcher = fetcher();
        let ctx = rexist_connectors::engine::RunContext {
            fetcher: &fetcher,
            headers: &[],
            previous,
            hunt_terms: &[],
        };
        let mut sink = Self::default();
        let report = connector.run(&ctx, &mut sink).await;
        (sink, report)
    }

    /// Each withdrawn indicator as `type:value` with its reason.
    pub fn withdrawn(&self) -> Vec<(String, rexist_core::RetractReason)> {
        self.retractions
            .iter()
            .map(|r| (r.indicator.to_string(), r.reason))
            .collect()
    }

    /// Every sighting stored, bare or inside an item.
    pub fn sightings(&self) -> Vec<&rexist_core::NewSighting> {
        self.records
            .iter()
            .flat_map(|r| match r {
                rexist_core::Record::Item(i) => i.sightings.iter().collect(),
                rexist_core::Record::Sighting(s) => vec![s],
                rexist_core::Record::Relation(_) => Vec::new(),
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl rexist_connectors::engine::Sink for Recorder {
    async fn store(
        &mut self,
        records: Vec<rexist_core::Record>,
        retractions: Vec<rexist_core::Retraction>,
        counts: &mut rexist_core::RunCounts,
    ) -> Result<(), String> {
        counts.new += records.len() as u64;
        self.records.extend(records);
        self.retractions.extend(retractions);
        Ok(())
    }

    async fn load_feed(
        &mut self,
        _: Box<dyn std::io::Read + Send>,
        _: rexist_connectors::feed::FeedFormat,
        _: time::OffsetDateTime,
    ) -> rexist_connectors::engine::FeedLoad {
        rexist_connectors::engine::FeedLoad::default()
    }

    async fn delist(&mut self, _: time::OffsetDateTime) -> Result<u64, String> {
        Ok(0)
    }
}

/// Log output captured from a `tracing` subscriber, to check what reaches
/// the log (credentials never; each run under its own span).
#[derive(Clone, Default)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// A subscriber writing everything up to `level` here, without colours.
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(self.clone())
            .finish()
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(
            &self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
