//! The scheduler's queue across nodes: a planner that read a source's state
//! a moment before another node ran it queues a job for a slot already
//! taken; the worker that leases it skips it instead of fetching again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rexist_connectors::source::{ResolvedSource, SourceConfig};
use rexist_core::RunOutcome;
use rexist_pipeline::Ingest;
use rexist_pipeline::scheduler::{self, SOURCE_RUN, SchedulerOptions, Stop};
use rexist_store::{NewJob, Store};
use rexist_testkit::{response, serve};
use tokio::sync::watch;

use crate::common::fetcher;

fn source(url: &str) -> ResolvedSource {
    let table = format!("name = \"hourly\"\nkind = \"et\"\nurl = \"{url}\"\nschedule = \"1h\"\n");
    toml::from_str::<SourceConfig>(&table)
        .unwrap()
        .resolve()
        .unwrap()
}

async fn runs(store: &Arc<dyn Store>) -> Vec<rexist_core::Run> {
    let Some(s) = store.source_by_name("hourly").await.unwrap() else {
        return Vec::new();
    };
    store.list_runs(Some(s.id), None, 10).await.unwrap()
}

/// Waits until the queue is empty and `n` runs have ended.
async fn settled(store: &Arc<dyn Store>, n: usize) -> Vec<rexist_core::Run> {
    let started = Instant::now();
    loop {
        let done = runs(store).await;
        let pending = store.stats().await.unwrap().jobs_pending;
        if pending == 0 && done.len() >= n && done.iter().all(|r| r.outcome != RunOutcome::Running)
        {
            return done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{done:?}, {pending} jobs"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_another_node_ran_is_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = rexist_store::open(None, dir.path()).await.unwrap();
    let up = serve(|_, _, _| {
        (
            response("200 OK", "Content-Type: text/plain\r\n", b"198.51.100.7\n"),
            Duration::ZERO,
        )
    })
    .await;
    let config = source(&format!("{}/list.txt", up.base));
    rexist_pipeline::sync_sources(&store, std::slice::from_ref(&config))
        .await
        .unwrap();
    let (drain, draining) = watch::channel(false);
    let (_cut, cutting) = watch::channel(false);
    let node = tokio::spawn(scheduler::run(
        Ingest::new(Arc::clone(&store), None),
        Arc::new(fetcher()),
        vec![config],
        SchedulerOptions {
            tick: Duration::from_millis(200),
            workers: 1,
            ..SchedulerOptions::default()
        },
        Stop {
            drain: draining.clone(),
            cut: cutting,
        },
    ));
    // The planner runs the never-run source once; its next slot is an hour away.
    let first = settled(&store, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(up.hits(), 1);

    // Another node's planner had read the source before that run started:
    // its job names the slot the run just took.
    let stale = NewJob {
        kind: SOURCE_RUN.to_owned(),
        payload: serde_json::json!({ "source": "hourly", "after": null }).to_string(),
        dedup_key: Some("source:hourly".to_owned()),
        delay: Duration::ZERO,
    };
    assert!(store.enqueue_job(&stale).await.unwrap().is_some());
    let after = settled(&store, 1).await;
    assert_eq!(after.len(), 1, "the slot ran twice: {after:?}");
    assert_eq!(up.hits(), 1);

    // A run asked for by hand always runs.
    assert!(scheduler::enqueue_run(&store, "hourly").await.unwrap());
    let manual = settled(&store, 2).await;
    assert_eq!(manual.len(), 2);
    assert_eq!(up.hits(), 2);

    // A planned job whose slot's run was cut short runs again.
    let last = manual[0].started_at;
    let run = store
        .start_run(store.source_by_name("hourly").await.unwrap().unwrap().id)
        .await
        .unwrap();
    store
        .finish_run(
            run.id,
            RunOutcome::Interrupted,
            &rexist_core::RunCounts::default(),
            None,
            None,
        )
        .await
        .unwrap();
    let retry = NewJob {
        payload: serde_json::json!({
            "source": "hourly",
            "after": i64::try_from(last.unix_timestamp_nanos() / 1000).unwrap(),
        })
        .to_string(),
        ..stale
    };
    assert!(store.enqueue_job(&retry).await.unwrap().is_some());
    let rerun = settled(&store, 4).await;
    assert_eq!(rerun[0].outcome, RunOutcome::Success, "{rerun:?}");
    assert_eq!(up.hits(), 3);

    drain.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), node)
        .await
        .unwrap()
        .unwrap();
}
