//! Polling a national NWS feed: the scheduled rule's poll through the release binary under a
//! Lambda Runtime API, its secret and state table in moto, Alexa played by alexa-sandbox, the
//! feed server serving a generated national `/alerts/active` (testkit's `national`: hundreds of
//! alerts with polygons and long descriptions, several MB). All on loopback.
//!
//! For each feed size, a fresh rig and a cold function process (regions NA, the default
//! `WEATHER_MIN_SEVERITY` Severe, RUST_LOG=info as deployed, output discarded), then:
//!
//! 1. the first poll: feed read and parsed, every candidate claimed, sent and recorded;
//! 2. a second poll, same process, of the same alerts with a new `updated` time (a new ETag, as
//!    the national feed changes every minute): everything was announced already;
//! 3. a third poll, same process, same body: the feed answers 304;
//! 4. a fourth poll from a new process (no HTTP cache, as after Lambda recycles the sandbox)
//!    of the same feed: everything was announced already.
//!
//! Figures: wall time of each invocation (from the Runtime API handing it out to the answer),
//! the feed summary, AWS calls, event POSTs, and the first process's peak resident memory
//! (VmHWM) after polls 1 to 3, against the template's `MemorySize`.
//!
//! Alexa's latency: every token and event request gets `BENCH_ALEXA_DELAY_MS` (default 30 ms)
//! from the sandbox's `delayMs` fault (`every: 1`); moto answers as fast as it can.
//!
//! Run with `make bench`. `BENCH_POLL_SIZES` sets the feed sizes (default
//! `500,1000,2000,3000`; 3000 alerts are 28 MiB, near the function's 32 MiB body limit).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::events::scheduled;
use testkit::national::{national_feed, DEFAULT_SEED};
use testkit::runtime_api::Outcome;
use testkit::stats::{benchmarking, peak_rss_mib, setting};
use testkit::{Project, Rig};

/// The invocation's deadline: the template's `Timeout`.
const BUDGET: Duration = Duration::from_secs(30);

/// `MemorySize` of the function in template.yaml (MB, which Lambda counts in MiB).
fn memory_size(project: &Project) -> Option<f64> {
    let template = std::fs::read_to_string(project.root.join("template.yaml")).ok()?;
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix("MemorySize:"))
        .and_then(|v| v.trim().parse().ok())
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// One poll: its wall time and what it answered (or how it failed).
struct Poll {
    time: Duration,
    outcome: Result<Value, String>,
    aws_calls: u32,
    event_posts: u64,
}

impl Poll {
    /// `6 alerts, 2 candidates, skipped {...}, results {accepted: 2}`, or the error.
    fn summary(&self) -> String {
        let answer = match &self.outcome {
            Ok(answer) => answer,
            Err(error) => {
                let kind = error.split(':').next().unwrap_or("error");
                return format!("failed: {kind} (below)");
            }
        };
        let feed = &answer["feeds"][0];
        if feed["status"] == 304 {
            return "HTTP 304, nothing read".to_owned();
        }
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for result in answer["results"].as_array().into_iter().flatten() {
            let status = result["status"].as_str().unwrap_or("-").to_owned();
            *statuses.entry(status).or_default() += 1;
        }
        let statuses = statuses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} alerts, {} candidates, skipped {}, results: {}",
            feed["alerts"],
            feed["candidates"],
            feed["skipped"],
            if statuses.is_empty() {
                "none"
            } else {
                &statuses
            }
        )
    }
}

async fn poll(rig: &mut Rig, id: &str) -> Poll {
    let (aws_before, posts_before) = (rig.moto.total(), rig.event_requests().await);
    let started = Instant::now();
    let outcome = rig.invoke(&scheduled(id), BUDGET).await;
    let time = started.elapsed();
    let outcome = match outcome {
        Some(Outcome::Response(answer)) => Ok(answer),
        Some(Outcome::Error {
            error_type,
            error_message,
        }) => Err(format!("{error_type}: {error_message}")),
        None => Err(format!(
            "no answer within {} s of the deadline (Lambda would have killed the function)",
            (BUDGET.as_secs() + 5)
        )),
    };
    Poll {
        time,
        outcome,
        aws_calls: rig.moto.total() - aws_before,
        event_posts: rig.event_requests().await - posts_before,
    }
}

/// The feed with another `updated` time: the same alerts, a new ETag.
fn touched(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let key = "\"updated\": \"";
    let at = text.rfind(key).expect("the feed has `updated`") + key.len();
    let end = at + text[at..].find('"').expect("a closed string");
    format!(
        "{}{}{}",
        &text[..at],
        "2000-01-01T00:00:00+00:00",
        &text[end..]
    )
    .into_bytes()
}

struct Row {
    alerts: usize,
    bytes: usize,
    polls: Vec<(&'static str, Poll)>,
    /// VmHWM of the first process after polls 1 to 3, and of the second after its poll.
    peak: Option<f64>,
    peak_new: Option<f64>,
}

async fn run(project: &Project, alerts: usize, delay_ms: usize) -> Row {
    let body = national_feed(alerts, chrono::Utc::now(), DEFAULT_SEED);
    let feed = project.tmp_file(&format!("national-{alerts}.json"));
    let again = project.tmp_file(&format!("national-{alerts}-updated.json"));
    std::fs::write(&feed, &body).expect("write the feed");
    std::fs::write(&again, touched(&body)).expect("write the feed");

    let mut rig = Rig::builder(project.clone(), &format!("bench-poll-{alerts}"))
        .regions("NA")
        .env("RUST_LOG", Some("info"))
        .quiet()
        .start()
        .await;
    rig.feed().serve(&feed);
    if delay_ms > 0 {
        for target in ["token", "events"] {
            rig.sandbox
                .fault(json!({"target": target, "delayMs": delay_ms, "every": 1}))
                .await;
        }
    }
    let mut polls = Vec::new();
    polls.push((
        "first poll (cold process)",
        poll(&mut rig, "bench-poll-1").await,
    ));
    rig.feed().serve(&again);
    polls.push((
        "second poll, feed updated (all announced)",
        poll(&mut rig, "bench-poll-2").await,
    ));
    polls.push((
        "third poll, feed unchanged",
        poll(&mut rig, "bench-poll-3").await,
    ));
    let peak = rig.functions[0].pid().and_then(peak_rss_mib);
    rig.spawn();
    rig.functions.remove(0).stop().await;
    polls.push((
        "poll from a new process (all announced)",
        poll(&mut rig, "bench-poll-4").await,
    ));
    let peak_new = rig.functions[0].pid().and_then(peak_rss_mib);
    rig.stop().await;
    Row {
        alerts,
        bytes: body.len(),
        polls,
        peak,
        peak_new,
    }
}

#[tokio::main]
async fn main() {
    if !benchmarking("poll") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("BENCH_POLL_SIZES")
        .unwrap_or_else(|_| "500,1000,2000,3000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let delay_ms = setting("BENCH_ALEXA_DELAY_MS", 30);
    let project = testkit::project!();
    let memory = memory_size(&project);

    let mut rows = Vec::new();
    for &alerts in &sizes {
        rows.push(run(&project, alerts, delay_ms).await);
    }

    let latency = if delay_ms > 0 {
        format!("Alexa {delay_ms} ms per request (sandbox delayMs)")
    } else {
        "no added Alexa latency".to_owned()
    };
    println!("polling a generated national NWS feed through a local Runtime API (state table in moto, region NA, {latency})");
    for row in &rows {
        println!();
        println!(
            "{} alerts, {:.1} MiB feed:",
            row.alerts,
            row.bytes as f64 / 1_048_576.0
        );
        println!("| poll | time | AWS calls | event POSTs | what it did |");
        println!("|---|---|---|---|---|");
        for (name, poll) in &row.polls {
            println!(
                "| {name} | {} | {} | {} | {} |",
                secs(poll.time),
                poll.aws_calls,
                poll.event_posts,
                poll.summary()
            );
        }
        let mut errors: Vec<&str> = row
            .polls
            .iter()
            .filter_map(|(_, p)| p.outcome.as_ref().err().map(String::as_str))
            .collect();
        errors.dedup();
        for error in errors {
            println!("failed: {error}");
        }
        let mib = |p: Option<f64>| p.map_or("?".to_owned(), |p| format!("{p:.1} MiB"));
        println!(
            "peak memory (VmHWM): {} after polls 1 to 3, {} for the new process after its poll",
            mib(row.peak),
            mib(row.peak_new)
        );
    }
    println!();
    println!("| alerts | feed | first poll | second (all announced) | third (304) | new process (all announced) | peak memory (VmHWM) | headroom in {} MB |",
        memory.map_or("?".to_owned(), |m| format!("{m:.0}")));
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        let cell = |i: usize| {
            let poll = &row.polls[i].1;
            match &poll.outcome {
                Ok(_) => secs(poll.time),
                Err(e) => format!(
                    "failed ({})",
                    e.split(':').next().unwrap_or("error").to_owned()
                ),
            }
        };
        let (peak, headroom) = match (row.peak, memory) {
            (Some(peak), Some(memory)) => (
                format!("{peak:.1} MiB"),
                format!("{:.1} MiB", memory - peak),
            ),
            (Some(peak), None) => (format!("{peak:.1} MiB"), "?".to_owned()),
            _ => ("?".to_owned(), "?".to_owned()),
        };
        println!(
            "| {} | {:.1} MiB | {} | {} | {} | {} | {peak} | {headroom} |",
            row.alerts,
            row.bytes as f64 / 1_048_576.0,
            cell(0),
            cell(1),
            cell(2),
            cell(3)
        );
    }
    // The default size must poll; a larger feed may be refused by design (the body limit).
    if rows
        .first()
        .is_some_and(|row| row.polls.iter().any(|(_, p)| p.outcome.is_err()))
    {
        eprintln!("a poll of the {}-alert feed failed", rows[0].alerts);
        std::process::exit(1);
    }
}
