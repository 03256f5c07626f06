//! Sending: an EventBridge weather alert through the release binary under a Lambda Runtime
//! API, its secret in moto, Alexa played by alexa-sandbox (all on loopback).
//!
//! Figures: the first invocation (secret read, token request and send included), warm
//! invocations (p50, p99), upstream calls per alert, the function's peak memory, and one
//! plain HTTP round trip to the sandbox (a keep-alive POST of the same event), measured in the
//! same run as the baseline the warm p50 is compared with.
//!
//! Run with `make bench`. `BENCH_ALERTS` sets the number of warm alerts (default 500).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::events::eventbridge_alert as alert;
use testkit::runtime_api::{Outcome, RuntimeApi};
use testkit::sandbox;
use testkit::stats::{benchmarking, ms, percentile, setting};
use testkit::Rig;

/// Peak resident memory of a process (VmHWM), in MiB.
fn peak_rss(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn invoke(api: &RuntimeApi, payload: &Value) -> Duration {
    let started = Instant::now();
    match api.invoke(payload, Duration::from_secs(30)).await {
        Ok(Outcome::Response(answer))
            if answer["results"][0]["status"] == "accepted" || answer["version"] == "1.0" =>
        {
            started.elapsed()
        }
        other => {
            eprintln!("the alert was not delivered: {other:?}");
            std::process::exit(1);
        }
    }
}

/// A token for the baseline, fetched once (it counts as one token request in the sandbox).
async fn baseline_token(http: &reqwest::Client, sandbox: &sandbox::Sandbox) -> String {
    let token: Value = http
        .post(sandbox.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sandbox::CLIENT_ID),
            ("client_secret", sandbox::CLIENT_SECRET),
            ("scope", "alexa::proactive_events"),
        ])
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("sandbox token")
        .json()
        .await
        .expect("token JSON");
    token["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The baseline: one keep-alive POST of a valid event to the sandbox, as the sender makes it.
async fn plain_round_trips(
    http: &reqwest::Client,
    token: &str,
    sandbox: &sandbox::Sandbox,
    from: usize,
    count: usize,
) -> Vec<Duration> {
    let url = format!("{}/na/v1/proactiveEvents/stages/development", sandbox.url);
    let mut samples = Vec::with_capacity(count);
    for i in from..from + count {
        let now = chrono::Utc::now();
        let body = json!({
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "referenceId": format!("plain{i}"),
            "expiryTime": (now + chrono::Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "event": {"name": "AMAZON.WeatherAlert.Activated",
                      "payload": {"weatherAlert": {"source": "localizedattribute:source", "alertType": "TORNADO"}}},
            "localizedAttributes": [{"locale": "en-US", "source": "National Weather Service"}],
            "relevantAudience": {"type": "Multicast", "payload": {}}
        });
        let started = Instant::now();
        let status = http
            .post(&url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        samples.push(started.elapsed());
        assert_eq!(status, 202, "the baseline POST must be accepted");
    }
    samples
}

#[tokio::main]
async fn main() {
    if !benchmarking("send") {
        return;
    }
    let alerts = setting("BENCH_ALERTS", 500);
    // The secret in moto, the sandbox, one function; no state table, no feed, no log files.
    let rig = Rig::builder(testkit::project!(), "bench-send")
        .without_state_table()
        .without_feed()
        .regions("NA")
        .env("RUST_LOG", Some("warn"))
        .quiet()
        .start()
        .await;
    let (api, sandbox, moto) = (&rig.api, &rig.sandbox, &rig.moto);

    let first = invoke(api, &alert("bench-first")).await;
    let mut warm = Vec::with_capacity(alerts);
    let mut plain = Vec::with_capacity(alerts);
    // The floor of any invocation through this Runtime API: a SessionEndedRequest, no I/O.
    let mut floor = Vec::with_capacity(alerts);
    let session_ended = rig.project.event("session-ended.json");
    let http = testkit::http_client();
    let token = baseline_token(&http, sandbox).await;
    // Alternate in blocks so machine noise hits both series alike.
    for block in 0..10 {
        for i in 0..alerts / 10 {
            warm.push(invoke(api, &alert(&format!("bench-{block}-{i}"))).await);
        }
        plain.extend(plain_round_trips(&http, &token, sandbox, plain.len(), alerts / 10).await);
        for _ in 0..alerts / 10 {
            floor.push(invoke(api, &session_ended).await);
        }
    }
    let peak = rig.functions[0].pid().and_then(peak_rss);
    let state = sandbox.state().await;
    let sent = warm.len() + 1;
    warm.sort();
    plain.sort();
    floor.sort();
    let secret_reads = moto.count("secretsmanager.GetSecretValue");
    // Minus the baseline's own token and POSTs.
    let token_requests = state["tokenRequests"].as_u64().unwrap_or(1) - 1;
    let event_requests = state["eventRequests"].as_u64().unwrap_or(0) - plain.len() as u64;

    println!("sending an EventBridge weather alert (1 region) through a local Runtime API, {sent} alerts");
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| first invocation (secret + token + send) | {} |",
        ms(first)
    );
    println!("| warm invocation p50 | {} |", ms(percentile(&warm, 0.5)));
    println!("| warm invocation p99 | {} |", ms(percentile(&warm, 0.99)));
    println!(
        "| plain HTTP round trip to the sandbox p50 | {} |",
        ms(percentile(&plain, 0.5))
    );
    println!(
        "| warm invocation without I/O (SessionEndedRequest) p50 | {} |",
        ms(percentile(&floor, 0.5))
    );
    println!("| secret reads / token requests / event POSTs | {secret_reads} / {token_requests} / {event_requests} |");
    println!(
        "| upstream calls per alert | {:.3} |",
        (secret_reads as f64 + token_requests as f64 + event_requests as f64) / sent as f64
    );
    if let Some(peak) = peak {
        println!("| peak memory (VmHWM) | {peak:.1} MiB |");
    }
    let p50 = |s: &[Duration]| percentile(s, 0.5).as_secs_f64();
    println!(
        "warm p50 / plain round trip p50: {:.2} (target: at most 1.5; includes the Runtime API's own two HTTP exchanges)",
        p50(&warm) / p50(&plain)
    );
    println!(
        "(warm p50 - no-I/O invocation p50) / plain round trip p50: {:.2} (the send's own cost)",
        (p50(&warm) - p50(&floor)) / p50(&plain)
    );
    rig.stop().await;
}
