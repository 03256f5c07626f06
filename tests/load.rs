//! Load: 10,000 invocations through the Runtime API into one function process, mixed Alexa
//! requests and alerts (SNS, EventBridge, and redeliveries of earlier alerts), with the
//! sandbox answering 429 to every 10th send. Memory must stay flat, every alert must reach
//! Alexa exactly once, and every invocation must get its answer. `make reliability` prints
//! the figures (start and end RSS).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::events::{eventbridge_alert, sns_alert};
use testkit::runtime_api::Outcome;
use testkit::{project, Rig};

const INVOCATIONS: usize = 10_000;
/// RSS is taken as the baseline once this many invocations have warmed every path.
const WARM_UP: usize = 500;
const BUDGET: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_invocations_keep_memory_flat_and_send_every_alert_once() {
    let mut rig = Rig::builder(project!(), "load")
        .regions("NA")
        .env("RUST_LOG", Some("info"))
        .start()
        .await;
    // Exactly once without Alexa's help: a repeated referenceId is accepted and counted.
    rig.sandbox.dedupe(false).await;
    rig.sandbox
        .fault(json!({"target": "events", "status": 429, "retryAfter": "0", "every": 10}))
        .await;
    let alexa = [
        rig.project.event("launch.json"),
        rig.project.event("intent-help.json"),
        rig.project.event("session-ended.json"),
        rig.project.event("intent-stop.json"),
    ];
    let mut alerts_sent = Vec::new();
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let mut failed: Vec<String> = Vec::new();
    let mut unanswered = 0;
    let mut rss_warm = 0;
    let mut rss_max = 0;
    let started = Instant::now();
    for i in 0..INVOCATIONS {
        let (kind, payload) = match i % 10 {
            0 | 5 => ("sns alert", sns_alert(&format!("load-sns-{i}"))),
            3 => (
                "eventbridge alert",
                eventbridge_alert(&format!("load-eb-{i}")),
            ),
            // A redelivery of the SNS alert of 8 invocations ago.
            8 => (
                "redelivered alert",
                sns_alert(&format!("load-sns-{}", i - 8)),
            ),
            n => ("alexa request", alexa[n % alexa.len()].clone()),
        };
        *kinds.entry(kind).or_default() += 1;
        match rig.invoke(&payload, BUDGET).await {
            Some(Outcome::Response(answer)) => {
                if kind.ends_with("alert") && kind != "redelivered alert" {
                    alerts_sent.push(i);
                }
                if kind == "redelivered alert" && answer["results"][0]["status"] != "alreadySent" {
                    failed.push(format!("{i}: a redelivery was sent again: {answer}"));
                }
            }
            Some(Outcome::Error {
                error_type,
                error_message,
            }) => failed.push(format!("{i} ({kind}): {error_type}: {error_message}")),
            None => unanswered += 1,
        }
        // The answers are kept for the leak check only every 100th time: 10,000 of them
        // would be this test's own memory, not the function's.
        if i % 100 != 0 {
            rig.said.pop();
        }
        if i + 1 == WARM_UP {
            rss_warm = rig.rss_kib().unwrap_or(0);
        }
        if i % 500 == 0 {
            rss_max = rss_max.max(rig.rss_kib().unwrap_or(0));
        }
    }
    let took = started.elapsed();
    let rss_end = rig.rss_kib().unwrap_or(0);
    rss_max = rss_max.max(rss_end);
    let state = rig.sandbox.state().await;
    let deliveries = rig.deliveries().await;
    let throttled = state["eventRequests"].as_u64().unwrap_or(0) - deliveries.len() as u64;
    let twice = deliveries.values().filter(|n| **n > 1).count();
    println!(
        "load: {INVOCATIONS} invocations in {:.1} s ({kinds:?}); {} alerts, {} delivered once, {twice} twice, {} answered 429 and retried; {} failed invocations, {unanswered} unanswered; RSS after {WARM_UP}: {:.1} MiB, at the end: {:.1} MiB, highest: {:.1} MiB",
        took.as_secs_f64(),
        alerts_sent.len(),
        deliveries.values().filter(|n| **n == 1).count(),
        throttled,
        failed.len(),
        rss_warm as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        rss_max as f64 / 1024.0,
    );
    assert!(
        rig.alive(),
        "the function died; log: {}",
        rig.log().display()
    );
    assert_eq!(unanswered, 0, "invocations without an answer");
    assert!(
        failed.is_empty(),
        "{}",
        failed[..failed.len().min(10)].join("\n")
    );
    assert_eq!(
        deliveries.len(),
        alerts_sent.len(),
        "every alert reached Alexa"
    );
    assert_eq!(twice, 0, "no alert reached Alexa twice");
    assert!(throttled >= 300, "the 429 share was applied: {throttled}");
    assert!(rss_warm > 0 && rss_end > 0, "RSS readable from /proc");
    // Flat: within a quarter of the warmed-up size (or 4 MiB, for a small process).
    let allowed = (rss_warm / 4).max(4 * 1024);
    assert!(
        rss_end <= rss_warm + allowed,
        "RSS grew from {rss_warm} KiB to {rss_end} KiB"
    );
    let leaks = rig.leaks(&[]);
    assert!(leaks.is_empty(), "{leaks:?}");
    rig.stop().await;
}
