//! Interop with the OASIS TAXII 2.1 reference server, medallion 3.0.0,
//! started on loopback with the shared data: every object of a collection is
//! pulled through paging (one object a page), and a second pull with the
//! saved cursor fetches nothing new. `scripts/test` installs medallion and
//! sets `REXIST_MEDALLION`; without it the test says so and passes.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::fetcher;
use rexist_connectors::source::SourceConfig;
use rexist_core::RunOutcome;
use rexist_pipeline::run_source;
use rexist_store::ItemQuery;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medallion_collections_are_pulled_through_paging() {
    let Ok(medallion) = std::env::var("REXIST_MEDALLION") else {
        eprintln!("REXIST_MEDALLION not set: medallion interop skipped (scripts/test sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let data = String::from_utf8(rexist_testkit::fixture_bytes(
        "taxii/medallion/default_data.json",
    ))
    .unwrap()
    .replace("http://localhost:5000", &base);
    let data_path = dir.path().join("data.json");
    std::fs::write(&data_path, data).unwrap();
    let config = serde_json::json!({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                    "filename": data_path.display().to_string()},
        "users": {"admin": "Password0"},
        "taxii": {"max_page_size": 100}
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let _server = Server(
        Command::new(&medallion)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "ERROR",
            ])
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start medallion"),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "medallion did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let pass = dir.path().join("pass");
    std::fs::write(&pass, "Password0").unwrap();
    let table = format!(
        "name = \"medallion\"\nkind = \"taxii\"\nurl = \"{base}/taxii2/\"\ncollection = \"High Value Indicator Collection\"\nusername = \"admin\"\npassword_file = \"{}\"\npage_size = 1\n",
        pass.display()
    );
    let source = toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap();
    let store = rexist_store::open(None, &dir.path().join("store"))
        .await
        .unwrap();

    let run = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(run.outcome, RunOutcome::Success, "{:?}", run.error);
    assert!(
        run.cursor.is_some(),
        "X-TAXII-Date-Added-Last becomes the cursor"
    );
    let stored: BTreeSet<String> = store
        .search_items(&ItemQuery {
            limit: 100,
            ..ItemQuery::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.content.external_id)
        .collect();
    // every indicator and malware object of the collection, one a page
    for id in [
        "indicator--6770298f-0fd8-471a-ab8c-1c658a46574e",
        "indicator--cd981c25-8042-4166-8945-51178443bdac",
        "malware--c0931cc6-c75e-47e5-9036-78fabc95d4ec",
    ] {
        assert!(stored.contains(id), "{id} missing from {stored:?}");
    }

    let again = run_source(
        &rexist_pipeline::Ingest::new(store.clone(), None),
        &fetcher(),
        &source,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, RunOutcome::Success, "{:?}", again.error);
    assert_eq!(again.counts.new, 0, "{:?}", again.counts);
    assert_eq!(again.counts.updated, 0, "{:?}", again.counts);
}
