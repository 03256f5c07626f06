//! The fan-out at scale: one feed alert over one county with thousands of subscribed users,
//! through the release binary under a Lambda Runtime API, its state table and fan-out queue in
//! moto (DynamoDB and SQS), Lambda's event source mapping played by the bench, Alexa played by
//! alexa-sandbox with its duplicate detection off. All on loopback.
//!
//! For each size, a fresh rig (`WEATHER_AUDIENCE=located`, `FANOUT_QUEUE_URL`, region NA,
//! RUST_LOG=info as deployed, output discarded) and one function process (one instance):
//!
//! 1. the users are seeded into the state table (BatchWriteItem, not timed with the rest), all
//!    in Cleveland County, Oklahoma (ZIP 73069, county 40027), subscribed to
//!    `AMAZON.WeatherAlert.Activated`, region NA;
//! 2. the scheduled poll reads a feed of one tornado warning whose `geocode.SAME` names that
//!    county, claims it and queues its one fan-out message;
//! 3. the same process consumes the queue, batch after batch, as the event source mapping
//!    would with the template's `FanoutBatchSize` (5), until the queue is empty: the first
//!    message is split into ranges of about 100 users, each range is sent to.
//!
//! Figures: the poll's time; the time from the poll's start to the end of the last invocation
//! that sent a Unicast; the Unicasts accepted (checked: one per user, no repeat); the
//! instance's Unicasts per second over its busy time (the sum of its invocations: on Lambda,
//! the event source mapping's receives and deletes are not the function's time); the consumer
//! invocations and their mean time; the state-table writes and SQS messages per user (the
//! function's calls as moto's proxy counted them, the seeding excluded); the process's peak
//! resident memory (VmHWM) after the poll and after consuming. And a projection of the time
//! 10 concurrent instances would take (the template's `FanoutMaxConcurrency` default).
//!
//! Alexa's latency: every token and event request gets `BENCH_ALEXA_DELAY_MS` (default 30 ms)
//! from the sandbox's `delayMs` fault (`every: 1`); moto answers as fast as it can.
//!
//! Run with `make bench`. `BENCH_FANOUT_USERS` sets the sizes (default `1000,3000`: what
//! finishes here in minutes; moto's index Query reads the whole table, so 10,000 users did
//! not finish in 6 minutes and 100,000 were not tried: see the README's Figures), sent at
//! `BENCH_FANOUT_RATE` (`FANOUT_SEND_RATE`, default 1000, the most it accepts: the instance's own limit, not the
//! setting's); then `BENCH_FANOUT_CHECK_USERS` users (default 2000, 0 skips it) at the
//! template's default rate of 50 per second, to show the setting holds. `BENCH_DYNAMODB_MS`
//! (default 10) is the DynamoDB latency per call the figures "with DynamoDB" assume in place
//! of moto's measured time (the proxy's `Moto::time`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use alexa_proactive::alexa::sender::CONCURRENCY;
use serde_json::{json, Value};
use testkit::events::scheduled;
use testkit::moto::Moto;
use testkit::rig::TABLE;
use testkit::runtime_api::Outcome;
use testkit::sqs::{seed_users, Queue, SeedUser};
use testkit::stats::{benchmarking, peak_rss_mib, setting};
use testkit::{Project, Rig};

const WEATHER: &str = "AMAZON.WeatherAlert.Activated";
/// Cleveland County, Oklahoma: the alert's one county, and every user's.
const COUNTY: &str = "40027";
const ZIP: &str = "73069";
/// The invocation's deadline: the template's `Timeout`.
const BUDGET: Duration = Duration::from_secs(30);
/// The fan-out queue's visibility timeout in the template (6 × the function's Timeout).
const VISIBILITY: Duration = Duration::from_secs(180);
/// The template's default `FanoutSendRate`.
const DEFAULT_RATE: usize = 50;
/// The template's default `FanoutMaxConcurrency`: instances consuming at once.
const INSTANCES: f64 = 10.0;
/// The target: 100,000 users within 5 minutes.
const TARGET_USERS: f64 = 100_000.0;
const TARGET_TIME: f64 = 300.0;

/// The function's DynamoDB writes and SQS sends, by `X-Amz-Target`.
const WRITES: [&str; 4] = [
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.BatchWriteItem",
];
const READS: [&str; 4] = [
    "DynamoDB_20120810.GetItem",
    "DynamoDB_20120810.Query",
    "DynamoDB_20120810.BatchGetItem",
    "DynamoDB_20120810.Scan",
];
const SQS_SENDS: [&str; 2] = ["AmazonSQS.SendMessageBatch", "AmazonSQS.SendMessage"];

fn counted(moto: &Moto, targets: &[&str]) -> u64 {
    targets.iter().map(|t| u64::from(moto.count(t))).sum()
}

/// The function's DynamoDB calls so far, and how long moto took to answer them.
fn dynamodb(moto: &Moto) -> (u64, Duration) {
    let targets: Vec<&str> = WRITES.iter().chain(&READS).copied().collect();
    (
        counted(moto, &targets),
        targets.iter().map(|t| moto.time(t)).sum(),
    )
}

/// One consumer invocation: its time, its DynamoDB calls and moto's time answering them.
#[derive(Debug, Clone, Copy, Default)]
struct Invocation {
    time: Duration,
    calls: u64,
    moto: Duration,
    sent: u64,
}

impl Invocation {
    /// Its time with DynamoDB answering each call in `per_call` instead of moto's time
    /// (calls one after another, as moto's proxy serialises them).
    fn on_dynamodb(&self, per_call: Duration) -> Duration {
        self.time.saturating_sub(self.moto) + per_call * u32::try_from(self.calls).unwrap_or(0)
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// poll-1's tornado warning alone, naming Cleveland County only.
fn one_county_feed(project: &Project) -> std::path::PathBuf {
    let text = std::fs::read_to_string(project.fixture("poll-1.json")).expect("poll-1.json");
    let mut feed: Value = serde_json::from_str(&text).expect("poll-1.json is JSON");
    let mut alert = feed["features"][0].clone();
    assert_eq!(alert["properties"]["event"], "Tornado Warning");
    let properties = &mut alert["properties"];
    properties["areaDesc"] = json!("Cleveland, OK");
    properties["geocode"] = json!({"SAME": [format!("0{COUNTY}")], "UGC": ["OKC027"]});
    properties["affectedZones"] = json!(["https://api.weather.gov/zones/county/OKC027"]);
    properties["description"] = json!("Tornado Warning for Cleveland, OK.");
    feed["features"] = json!([alert]);
    let path = project.tmp_file("fanout-one-county.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&feed).expect("JSON")).expect("write");
    path
}

fn users(n: usize) -> Vec<SeedUser> {
    let counties: Vec<String> = alexa_proactive::area::counties(ZIP)
        .expect("73069 is a ZIP code")
        .map(|c| c.fips.to_owned())
        .collect();
    assert_eq!(counties, [COUNTY], "73069 lies in Cleveland County only");
    (0..n)
        .map(|i| SeedUser {
            user_id: format!("amzn1.ask.account.BENCH{i:07}"),
            subscriptions: vec![WEATHER.to_owned()],
            postal_code: ZIP.to_owned(),
            country: "US".to_owned(),
            places: counties.iter().map(|c| format!("c{c}")).collect(),
            region: Some("NA".to_owned()),
            locale: Some("en-US".to_owned()),
        })
        .collect()
}

/// One size at one send rate.
struct Run {
    users: usize,
    rate: usize,
    seeding: Duration,
    poll: Duration,
    /// From the poll's start to the end of the last invocation that sent a Unicast.
    to_last: Duration,
    /// From the poll's start until the queue was found empty.
    drained: Duration,
    /// Each consumer invocation, in order (the first is the split of the whole county).
    invocations: Vec<Invocation>,
    accepted: usize,
    distinct: usize,
    repeats: u64,
    event_requests: u64,
    outcomes: BTreeMap<String, usize>,
    /// Messages the function queued: the poll's one, every split's parts, every continuation.
    queued: usize,
    /// Records handed to the function (a redelivery counts again).
    records: usize,
    writes: u64,
    reads: u64,
    sqs_calls: u64,
    dead_letters: u64,
    peak_poll: Option<f64>,
    peak_consumed: Option<f64>,
}

impl Run {
    fn busy(&self) -> Duration {
        self.invocations.iter().map(|i| i.time).sum()
    }

    /// The invocations after the first (the split of the whole county): the leaves.
    fn leaves(&self) -> &[Invocation] {
        self.invocations.get(1..).unwrap_or_default()
    }

    /// Unicasts per second of the instance over its consumer invocations.
    fn rate_busy(&self) -> f64 {
        self.accepted as f64 / self.busy().as_secs_f64()
    }

    /// Unicasts per second over the leaves' invocations, as measured (moto answering).
    fn rate_leaves(&self) -> f64 {
        let time: Duration = self.leaves().iter().map(|i| i.time).sum();
        self.accepted as f64 / time.as_secs_f64()
    }

    /// The same with DynamoDB answering each call in `per_call`.
    fn rate_on_dynamodb(&self, per_call: Duration) -> f64 {
        let time: Duration = self.leaves().iter().map(|i| i.on_dynamodb(per_call)).sum();
        self.accepted as f64 / time.as_secs_f64()
    }

    fn per_user(&self, n: u64) -> f64 {
        n as f64 / self.users as f64
    }

    /// The time 10 instances would take for `users` at `rate` Unicasts per second each: the
    /// poll and the first split as measured here (one invocation each, in sequence), then
    /// the leaves shared by 10 instances working at once.
    fn projected(&self, users: f64, rate: f64) -> Duration {
        let first = self.invocations.first().map(|i| i.time).unwrap_or_default();
        self.poll + first + Duration::from_secs_f64(users / rate / INSTANCES)
    }
}

async fn run(project: &Project, n: usize, rate: usize, batch: u32, delay_ms: usize) -> Run {
    let name = format!("bench-fanout-{n}-{rate}");
    let queue_name = format!("fanout-{n}-{rate}");
    let url = format!("http://127.0.0.1/123456789012/{queue_name}");
    let rate_text = rate.to_string();
    let mut rig = Rig::builder(project.clone(), &name)
        .regions("NA")
        .env("RUST_LOG", Some("info"))
        .env("WEATHER_AUDIENCE", Some("located"))
        .env("FANOUT_QUEUE_URL", Some(&url))
        .env("FANOUT_SEND_RATE", Some(&rate_text))
        .quiet()
        .start()
        .await;
    rig.feed().serve(&one_county_feed(project));
    let queue = Queue::create(&rig.moto, &queue_name, 5, VISIBILITY).await;
    assert!(queue.url.ends_with(&queue_name), "{}", queue.url);
    rig.sandbox.dedupe(false).await;
    if delay_ms > 0 {
        for target in ["token", "events"] {
            rig.sandbox
                .fault(json!({"target": target, "delayMs": delay_ms, "every": 1}))
                .await;
        }
    }

    let started = Instant::now();
    seed_users(&rig.moto, TABLE, &users(n)).await;
    let seeding = started.elapsed();

    let (writes0, reads0, sqs0) = (
        counted(&rig.moto, &WRITES),
        counted(&rig.moto, &READS),
        counted(&rig.moto, &SQS_SENDS),
    );
    let started = Instant::now();
    let answer = match rig.invoke(&scheduled("bench-fanout-poll"), BUDGET).await {
        Some(Outcome::Response(answer)) => answer,
        other => panic!("the poll failed: {other:?}"),
    };
    let poll = started.elapsed();
    let statuses: Vec<&Value> = answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [&json!("queued")], "{answer}");
    let pid = rig.functions[0].pid();
    let peak_poll = pid.and_then(peak_rss_mib);

    // The event source mapping, played: a batch received, handed over, the records not
    // reported failed deleted; until nothing is visible nor in flight.
    let mut invocations: Vec<Invocation> = Vec::new();
    let mut last_send = None;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut queued = 1;
    let mut records = 0;
    let mut unicasts = 0;
    let limit = Duration::from_secs(600) + Duration::from_millis(50 * n as u64);
    loop {
        assert!(
            started.elapsed() < limit,
            "not drained within {limit:?}: {:?} left",
            queue.depth(&rig.moto).await
        );
        let messages = queue
            .receive(&rig.moto, batch, VISIBILITY, Duration::from_secs(1))
            .await;
        if messages.is_empty() {
            if queue.depth(&rig.moto).await == (0, 0) {
                break;
            }
            continue;
        }
        records += messages.len();
        let event = queue.event(&messages);
        let before = dynamodb(&rig.moto);
        let invoked = Instant::now();
        let answer = match rig.invoke(&event, BUDGET).await {
            Some(Outcome::Response(answer)) => answer,
            other => panic!("a consumer invocation failed: {other:?}"),
        };
        let took = invoked.elapsed();
        let after = dynamodb(&rig.moto);
        let mut sent = 0;
        for record in answer["records"].as_array().expect("records") {
            let outcome = record["outcome"].as_str().unwrap_or("-");
            if outcome == "failed" && !outcomes.contains_key("failed") {
                eprintln!("fanout: a record failed: {}", record["reason"]);
            }
            *outcomes.entry(outcome.to_owned()).or_default() += 1;
            sent += record["sent"].as_u64().unwrap_or(0);
            match outcome {
                "split" => queued += record["parts"].as_u64().unwrap_or(0) as usize,
                "continued" => queued += 1,
                _ => {}
            }
        }
        invocations.push(Invocation {
            time: took,
            calls: after.0 - before.0,
            moto: after.1 - before.1,
            sent,
        });
        unicasts += sent;
        if invocations.len().is_multiple_of(10) {
            eprintln!(
                "fanout: {} invocations, {unicasts} Unicasts after {}, records {outcomes:?}",
                invocations.len(),
                secs(started.elapsed())
            );
        }
        if sent > 0 {
            last_send = Some(started.elapsed());
        }
        let failed: BTreeSet<&str> = answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str())
            .collect();
        let done: Vec<&testkit::sqs::Message> = messages
            .iter()
            .filter(|m| !failed.contains(m.id.as_str()))
            .collect();
        queue.delete(&rig.moto, &done).await;
    }
    let drained = started.elapsed();
    let peak_consumed = pid.and_then(peak_rss_mib);

    let state = rig.sandbox.state().await;
    let accepted_list = state["accepted"].as_array().expect("accepted");
    let distinct: BTreeSet<&str> = accepted_list
        .iter()
        .filter_map(|a| a["audience"].as_str())
        .collect();
    let out = Run {
        users: n,
        rate,
        seeding,
        poll,
        to_last: last_send.unwrap_or(drained),
        drained,
        invocations,
        accepted: accepted_list.len(),
        distinct: distinct.len(),
        repeats: state["repeats"].as_u64().unwrap_or(0),
        event_requests: state["eventRequests"].as_u64().unwrap_or(0),
        outcomes,
        queued,
        records,
        writes: counted(&rig.moto, &WRITES) - writes0,
        reads: counted(&rig.moto, &READS) - reads0,
        sqs_calls: counted(&rig.moto, &SQS_SENDS) - sqs0,
        dead_letters: queue.dead_letters(&rig.moto).await,
        peak_poll,
        peak_consumed,
    };
    rig.finish().await;
    // Correctness, not timing: each user heard the alert once.
    assert_eq!(out.accepted, n, "one accepted Unicast per user");
    assert_eq!(out.distinct, n, "every user reached");
    assert_eq!(out.repeats, 0, "nobody heard the alert twice");
    assert_eq!(out.dead_letters, 0, "nothing in the dead-letter queue");
    out
}

fn mib(p: Option<f64>) -> String {
    p.map_or("?".to_owned(), |p| format!("{p:.1} MiB"))
}

#[tokio::main]
async fn main() {
    if !benchmarking("fanout") {
        return;
    }
    let sizes: Vec<usize> = std::env::var("BENCH_FANOUT_USERS")
        .unwrap_or_else(|_| "1000,3000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rate = setting("BENCH_FANOUT_RATE", 1_000);
    let check_users = setting("BENCH_FANOUT_CHECK_USERS", 2000);
    let delay_ms = setting("BENCH_ALEXA_DELAY_MS", 30);
    let project = testkit::project!();
    let batch = project
        .template_default::<u32>("FanoutBatchSize")
        .unwrap_or(5);

    let mut plan: Vec<(usize, usize)> = sizes.iter().map(|&n| (n, rate)).collect();
    if check_users > 0 {
        plan.push((check_users, DEFAULT_RATE));
    }
    let mut runs = Vec::new();
    for (n, rate) in plan {
        eprintln!("fanout: {n} users at FANOUT_SEND_RATE={rate}...");
        let run = run(&project, n, rate, batch, delay_ms).await;
        eprintln!(
            "fanout: {n} users: seeded in {}, poll to last Unicast {}",
            secs(run.seeding),
            secs(run.to_last)
        );
        runs.push(run);
    }

    let per_call = Duration::from_millis(setting("BENCH_DYNAMODB_MS", 10) as u64);
    println!(
        "one tornado warning over one county (40027), every user subscribed, region NA; state table and queue in moto; Alexa {delay_ms} ms per request (sandbox delayMs); one function process consuming, {batch} records per invocation (FanoutBatchSize), each record's Unicasts {CONCURRENCY} POSTs at a time (sender CONCURRENCY)"
    );
    for run in &runs {
        println!();
        println!(
            "{} users, FANOUT_SEND_RATE={} (seeding, not counted: {}):",
            run.users,
            run.rate,
            secs(run.seeding)
        );
        let outcomes = run
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "  records {} ({outcomes}), messages queued {}, SQS send calls {}, dead letters {}",
            run.records, run.queued, run.sqs_calls, run.dead_letters
        );
        let moto: Duration = run.invocations.iter().map(|i| i.moto).sum();
        let calls: u64 = run.invocations.iter().map(|i| i.calls).sum();
        let first = run.invocations.first().copied().unwrap_or_default();
        println!(
            "  invocations {} (busy {}, of which moto answering DynamoDB {} for {calls} calls), the first (the split) {} ({} in moto), queue empty {} after the poll's start",
            run.invocations.len(),
            secs(run.busy()),
            secs(moto),
            secs(first.time),
            secs(first.moto),
            secs(run.drained)
        );
        println!(
            "  accepted {}, distinct users {}, repeats {}, event requests {}, DynamoDB writes {} reads {}",
            run.accepted, run.distinct, run.repeats, run.event_requests, run.writes, run.reads
        );
        let sent: u64 = run.invocations.iter().map(|i| i.sent).sum();
        println!(
            "  Unicasts/s per instance: {:.0} over all invocations, {:.0} over the leaves ({sent} sent), {:.0} over the leaves with DynamoDB at {} a call instead of moto",
            run.rate_busy(),
            run.rate_leaves(),
            run.rate_on_dynamodb(per_call),
            secs(per_call)
        );
    }
    println!();
    println!("| users | FANOUT_SEND_RATE | poll | poll to last Unicast | Unicasts accepted (repeats) | Unicasts/s per instance: measured (with DynamoDB at {} a call) | consumer invocations (mean) | moto's share of them | state-table writes per user | SQS messages per user | peak RSS after poll / after consuming |", secs(per_call));
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for run in &runs {
        let busy = run.busy();
        let mean = busy / u32::try_from(run.invocations.len().max(1)).unwrap_or(1);
        let moto: Duration = run.invocations.iter().map(|i| i.moto).sum();
        println!(
            "| {} | {} | {} | {} | {} ({}) | {:.0} ({:.0}) | {} ({}) | {:.0}% | {:.3} | {:.4} | {} / {} |",
            run.users,
            run.rate,
            secs(run.poll),
            secs(run.to_last),
            run.accepted,
            run.repeats,
            run.rate_leaves(),
            run.rate_on_dynamodb(per_call),
            run.invocations.len(),
            secs(mean),
            100.0 * moto.as_secs_f64() / busy.as_secs_f64(),
            run.per_user(run.writes),
            run.per_user(run.queued as u64),
            mib(run.peak_poll),
            mib(run.peak_consumed)
        );
    }
    println!();
    let target_rate = TARGET_USERS / TARGET_TIME;
    println!(
        "projection to {TARGET_USERS:.0} users at {INSTANCES:.0} concurrent instances (target {TARGET_TIME:.0} s, {target_rate:.0} Unicasts/s): the poll and the first split as measured, then the users at {INSTANCES:.0} x the per-instance rate r of the leaves, capped by FANOUT_SEND_RATE; SQS assumed to add nothing (the next batch is received while one is worked on):"
    );
    for run in runs.iter().filter(|r| r.rate > DEFAULT_RATE) {
        for (how, r) in [
            ("as measured (moto)", run.rate_leaves()),
            (
                &*format!("with DynamoDB at {} a call", secs(per_call)),
                run.rate_on_dynamodb(per_call),
            ),
        ] {
            let r = r.min(run.rate as f64);
            let t = run.projected(TARGET_USERS, r);
            println!(
                "- from {} users, {how}: r = {r:.0}/s, {INSTANCES:.0} x r = {:.0}/s, {TARGET_USERS:.0} users in {} ({} the target)",
                run.users,
                INSTANCES * r,
                secs(t),
                if t.as_secs_f64() <= TARGET_TIME { "within" } else { "over" }
            );
        }
    }
    let capped = INSTANCES * DEFAULT_RATE as f64;
    for run in runs.iter().filter(|r| r.rate == DEFAULT_RATE) {
        println!(
            "- at the template's FANOUT_SEND_RATE={DEFAULT_RATE}: {INSTANCES:.0} x {DEFAULT_RATE} = {capped:.0}/s, {TARGET_USERS:.0} users in {} if each instance sustains {DEFAULT_RATE}/s (measured here: {:.1}/s over the leaves)",
            secs(run.projected(TARGET_USERS, DEFAULT_RATE as f64)),
            run.rate_leaves()
        );
    }
}
