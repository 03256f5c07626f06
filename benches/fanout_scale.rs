//! The fan-out ENGINE at the sizes: one tornado warning over one county (Cleveland
//! County, Oklahoma, 40027) with 10,000 and 100,000 subscribed users, in process.
//!
//! `benches/fanout.rs` is the end-to-end one (the release binary, moto's DynamoDB and SQS);
//! moto's index Query reads the whole table, so it stops at a few thousand users. Here:
//!
//! - the state table is the in-memory reference store (`MemoryStore`) with `BENCH_DYNAMO_MS`
//!   (default 5 ms) added to every operation (`slow`), standing in for DynamoDB;
//! - the queue is a `MemoryQueue`;
//! - Alexa is the real `alexa::Client` (HTTP, token, retries) against a started alexa-sandbox,
//!   quiet, its duplicate detection off (a repeat is accepted and counted), with
//!   `BENCH_ALEXA_DELAY_MS` (default 30 ms) added to every token and event request (the
//!   sandbox's `delayMs` fault, `every: 1`);
//! - the users are seeded straight into the store (`set_area` + `record_user`, subscribed to
//!   `AMAZON.WeatherAlert.Activated`, region NA) before any timing, once per size;
//! - the alert goes through a `Notifier` with the ledger and the fan-out (the poll's path
//!   without the feed), which claims it and queues its one message;
//! - Lambda's event source mapping with `ScalingConfig.MaximumConcurrency` = C is played by C
//!   concurrent loops, each one an instance (a thread with a current-thread tokio runtime, as
//!   the function's, and its own Alexa client and token): it takes up to `FanoutBatchSize`
//!   (5) messages from the shared queue, calls `Fanout::consume` with a 30 s deadline and puts
//!   the failed messages back; done when the queue is empty and no loop is working.
//!
//! Each (users, C, FANOUT_SEND_RATE) is run with its own alert, sandbox and client; the
//! figures: the time from the send of the alert to the last accepted Unicast, Unicasts/s
//! overall and per instance, invocations, state-table writes per user (Claim, Complete,
//! Release, Progress and Refuse calls; the seeding excluded), queue messages per user,
//! repeats and accepted (checked: 0 and one per user), and the process's peak RSS (VmHWM,
//! reset before each run after freed heap is handed back; it includes the seeded in-memory
//! table, so it is an upper bound for a consumer).
//!
//! Run with `make bench`. `BENCH_FANOUT_SCALE_USERS` (default `10000,100000`),
//! `BENCH_FANOUT_SCALE_CONCURRENCY` (default `1,10`), `BENCH_FANOUT_SCALE_RATES` (default
//! `50,1000`: the template's default and its maximum); a combination that would take more than
//! `BENCH_FANOUT_SCALE_MAX_SECS` (default 1800) at its configured rate is skipped (100,000
//! users at 50/s on one instance: 2,000 s). `BENCH_FANOUT_SCALE_THROTTLE_EVERY=3` answers every
//! third event request 429 (Retry-After 1): the adaptive rate under throttling.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alexa_proactive::alexa::{self, ApiFuture, Delivery, EventsApi, Post, Region, SetupError};
use alexa_proactive::clock::SystemClock;
use alexa_proactive::credentials::{ClientCredentials, Fixed, Redacted};
use alexa_proactive::event::schemas::WEATHER_ALERT;
use alexa_proactive::event::NotificationRequest;
use alexa_proactive::fanout::{Fanout, Message};
use alexa_proactive::ledger::Ledger;
use alexa_proactive::notifier::{Notifier, OnRefusal, Outcome};
use alexa_proactive::queue::{MemoryQueue, Queue, QueueFuture};
use alexa_proactive::state::memory::Op;
use alexa_proactive::state::{
    AreaIndex, AreaSource, MemoryStore, UserArea, UserChange, UserChangeKind, Users,
};
use alexa_proactive::Config;
use serde_json::json;
use testkit::sandbox::{self, Sandbox};
use testkit::stats::{benchmarking, peak_rss_mib, setting};
use testkit::Project;
use tokio::time::Instant;

/// Cleveland County, Oklahoma: the alert's one county, and every user's.
const COUNTY: &str = "40027";
const ZIP: &str = "73069";
const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
/// The invocation's deadline: the template's `Timeout`.
const BUDGET: Duration = Duration::from_secs(30);
/// The template's default `FanoutSendRate`.
const DEFAULT_RATE: usize = 50;
/// The template's default `FanoutMaxConcurrency`.
const TARGET_INSTANCES: usize = 10;
/// The target: 100,000 users within 5 minutes.
const TARGET_USERS: usize = 100_000;
const TARGET_TIME: f64 = 300.0;
/// The state table's writes, as DynamoDB would bill them.
const WRITES: [Op; 5] = [
    Op::Claim,
    Op::Complete,
    Op::Release,
    Op::Progress,
    Op::Refuse,
];
const EVERY_OP: [Op; 14] = [
    Op::Claim,
    Op::Complete,
    Op::Release,
    Op::Refuse,
    Op::ReadSent,
    Op::RecordUser,
    Op::Subscriptions,
    Op::Progress,
    Op::SetArea,
    Op::ReadArea,
    Op::ForgetArea,
    Op::QueryArea,
    Op::Recipients,
    Op::DropSubscription,
];

/// The real client, noting when an instance last got an accepted answer.
struct Timed {
    inner: alexa::Client,
    last_accepted: Arc<Mutex<Option<Instant>>>,
}

impl EventsApi for Timed {
    fn send_all<'a>(
        &'a self,
        posts: &'a [(Post, Vec<Region>)],
        deadline: Instant,
    ) -> ApiFuture<'a, Result<Vec<Delivery>, SetupError>> {
        Box::pin(async move {
            let deliveries = self.inner.send_all(posts, deadline).await?;
            if deliveries
                .iter()
                .any(|d| d.status == alexa::Status::Accepted)
            {
                let now = Instant::now();
                let mut last = self.last_accepted.lock().unwrap();
                *last = Some(last.map_or(now, |at| at.max(now)));
            }
            Ok(deliveries)
        })
    }
}

/// The memory queue, counting the messages the engine sends to it.
struct Counted {
    inner: Arc<MemoryQueue>,
    sent: Arc<AtomicUsize>,
}

impl Queue for Counted {
    fn send_all<'a>(&'a self, bodies: &'a [String]) -> QueueFuture<'a, ()> {
        self.sent.fetch_add(bodies.len(), Ordering::SeqCst);
        self.inner.send_all(bodies)
    }
}

/// `field` (such as VmRSS) of this process, in MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Hands freed memory back (what the previous run's sandbox state took, say), then resets
/// the process's peak RSS (VmHWM) to its current RSS (Linux ≥ 4.0); that RSS.
fn reset_peak() -> Option<f64> {
    // SAFETY: malloc_trim only releases free heap pages.
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_mib("VmRSS:")
}

async fn seed(n: usize) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let counties: Vec<String> = alexa_proactive::area::counties(ZIP)
        .expect("73069 is a ZIP code")
        .map(|c| c.fips.to_owned())
        .collect();
    assert_eq!(counties, [COUNTY], "73069 lies in Cleveland County only");
    let at = chrono::Utc::now();
    for i in 0..n {
        let user_id = format!("amzn1.ask.account.BENCH{i:07}");
        store
            .set_area(&UserArea {
                user_id: user_id.clone(),
                postal_code: ZIP.into(),
                country: "US".into(),
                places: counties
                    .iter()
                    .map(|c| alexa_proactive::state::AreaKey::county(c))
                    .collect(),
                region: Some("NA".into()),
                locale: Some("en-US".into()),
                source: AreaSource::Voice,
            })
            .await
            .expect("seeded");
        store
            .record_user(&UserChange {
                user_id,
                at,
                kind: UserChangeKind::Subscriptions(vec![WEATHER_ALERT.to_owned()]),
            })
            .await
            .expect("seeded");
    }
    store
}

fn writes(store: &MemoryStore) -> usize {
    WRITES.iter().map(|op| store.calls(*op)).sum()
}

/// One (users, instances, rate).
struct Run {
    users: usize,
    instances: usize,
    rate: usize,
    /// From the send of the alert to the last accepted Unicast.
    to_last: Duration,
    /// From the send of the alert until the queue was empty and every loop idle.
    drained: Duration,
    invocations: usize,
    /// The invocations' summed time.
    busy: Duration,
    records: usize,
    failed_records: usize,
    outcomes: BTreeMap<String, usize>,
    writes: usize,
    reads: usize,
    queued: usize,
    accepted: usize,
    distinct: usize,
    repeats: u64,
    event_requests: u64,
    token_requests: u64,
    /// RSS when the run started (the seeded table included) and the peak during it.
    start_rss: Option<f64>,
    peak: Option<f64>,
}

impl Run {
    fn overall(&self) -> f64 {
        self.accepted as f64 / self.to_last.as_secs_f64()
    }

    fn per_instance(&self) -> f64 {
        self.overall() / self.instances as f64
    }

    fn per_user(&self, n: usize) -> f64 {
        n as f64 / self.users as f64
    }

    /// An instance's rate as a share of FANOUT_SEND_RATE.
    fn of_setting(&self) -> f64 {
        100.0 * self.per_instance() / self.rate as f64
    }
}

/// The loops' shared count of invocations under way; taking a batch and finishing one hold
/// its lock, so "queue empty and nobody working" is never seen while a loop still queues.
struct Mapping {
    queue: Arc<MemoryQueue>,
    working: Mutex<usize>,
    next_id: AtomicUsize,
}

enum Take {
    Batch(Vec<Message>),
    Wait,
    Done,
}

impl Mapping {
    fn take(&self, batch: usize) -> Take {
        let mut working = self.working.lock().unwrap();
        let mut waiting = self.queue.take();
        if waiting.is_empty() {
            return if *working == 0 {
                Take::Done
            } else {
                Take::Wait
            };
        }
        let rest = waiting.split_off(waiting.len().min(batch));
        if !rest.is_empty() {
            // A MemoryQueue send never fails unless made to.
            let _ = futures_now(self.queue.send_all(&rest));
        }
        *working += 1;
        Take::Batch(
            waiting
                .into_iter()
                .map(|body| Message {
                    id: format!("m{}", self.next_id.fetch_add(1, Ordering::SeqCst)),
                    body,
                })
                .collect(),
        )
    }

    fn finish(&self, back: &[String]) {
        let mut working = self.working.lock().unwrap();
        if !back.is_empty() {
            let _ = futures_now(self.queue.send_all(back));
        }
        *working -= 1;
    }
}

/// Polls a future that is ready at once (a MemoryQueue send).
fn futures_now<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let waker = std::task::Waker::noop();
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(waker))
    {
        std::task::Poll::Ready(value) => value,
        std::task::Poll::Pending => unreachable!("a MemoryQueue send is immediate"),
    }
}

#[derive(Default)]
struct Tally {
    invocations: usize,
    busy: Duration,
    records: usize,
    failed_records: usize,
    outcomes: BTreeMap<String, usize>,
}

/// One instance's loop: a batch taken, consumed within the invocation's deadline, the failed
/// messages put back; until the queue is empty and nobody works.
#[allow(clippy::too_many_arguments)]
async fn consumer(
    instance: usize,
    batch: usize,
    users: usize,
    started: Instant,
    mapping: &Mapping,
    fanout: &Fanout,
    ledger: &Ledger,
    tally: &Mutex<Tally>,
    unicasts: &AtomicUsize,
) {
    let mut invocation = 0;
    loop {
        let messages = match mapping.take(batch) {
            Take::Batch(messages) => messages,
            Take::Wait => {
                tokio::time::sleep(Duration::from_millis(2)).await;
                continue;
            }
            Take::Done => break,
        };
        invocation += 1;
        let bodies: BTreeMap<String, String> = messages
            .iter()
            .map(|m| (m.id.clone(), m.body.clone()))
            .collect();
        let count = messages.len();
        let invoked = Instant::now();
        let report = fanout
            .consume(
                ledger,
                messages,
                Instant::now() + BUDGET,
                &format!("instance{instance}-{invocation}"),
            )
            .await;
        let took = invoked.elapsed();
        let back: Vec<String> = report.failed.iter().map(|id| bodies[id].clone()).collect();
        mapping.finish(&back);
        let mut tally = tally.lock().unwrap();
        tally.invocations += 1;
        tally.busy += took;
        tally.records += count;
        tally.failed_records += back.len();
        for handled in &report.handled {
            let value = serde_json::to_value(handled).unwrap_or_default();
            let outcome = value["outcome"].as_str().unwrap_or("-").to_owned();
            if outcome == "failed" && !tally.outcomes.contains_key("failed") {
                eprintln!("fanout_scale: a record failed: {}", value["reason"]);
            }
            *tally.outcomes.entry(outcome).or_default() += 1;
            let sent = value["sent"].as_u64().unwrap_or(0) as usize;
            let total = unicasts.fetch_add(sent, Ordering::SeqCst) + sent;
            if sent > 0 && total * 10 / users > (total - sent) * 10 / users {
                eprintln!(
                    "fanout_scale: {total} Unicasts after {:.1} s",
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run(
    project: &Project,
    store: &Arc<MemoryStore>,
    users: usize,
    instances: usize,
    rate: usize,
    batch: usize,
    delay_ms: usize,
    throttle_every: usize,
) -> Run {
    let sandbox = Sandbox::start(&project.sandbox, None).await;
    sandbox.dedupe(false).await;
    // The sandbox applies one fault per request: with throttling on, every n-th event request
    // is answered 429 (Retry-After 1) and the others get no added delay.
    let targets: &[&str] = if throttle_every > 0 {
        sandbox
            .fault(json!({"target": "events", "status": 429, "retryAfter": "1", "every": throttle_every}))
            .await;
        &["token"]
    } else {
        &["token", "events"]
    };
    if delay_ms > 0 {
        for target in targets {
            sandbox
                .fault(json!({"target": target, "delayMs": delay_ms, "every": 1}))
                .await;
        }
    }
    let config = Config::from_lookup(|name| match name {
        "ALEXA_SKILL_ID" => Some(SKILL_ID.into()),
        "ALEXA_API_URL" => Some(sandbox.api_url().to_owned()),
        "LWA_TOKEN_URL" => Some(sandbox.token_url().to_owned()),
        "ALEXA_REGIONS" => Some("NA".into()),
        _ => None,
    })
    .expect("config");
    let client = || {
        let credentials = Fixed(ClientCredentials {
            client_id: sandbox::CLIENT_ID.into(),
            client_secret: Redacted::new(sandbox::CLIENT_SECRET),
        });
        alexa::Client::new(config.alexa_settings(), Arc::new(credentials))
    };
    let last_accepted = Arc::new(Mutex::new(None));
    let memory = Arc::new(MemoryQueue::new());
    let queued = Arc::new(AtomicUsize::new(0));
    let rate = u32::try_from(rate).expect("a rate");
    // One instance's edges: its own Alexa client (token cache), its fan-out with the rate
    // per instance; the table and the queue shared.
    let fanout = |alexa: Arc<Timed>| {
        Arc::new(Fanout::new(
            Some(Arc::new(Counted {
                inner: memory.clone(),
                sent: queued.clone(),
            })),
            alexa,
            Region::Na,
            rate,
            Arc::new(SystemClock),
        ))
    };
    let poller = Arc::new(Timed {
        inner: client(),
        last_accepted: last_accepted.clone(),
    });
    let ledger = Ledger::new(store.clone());
    let notifier = Notifier::new(config.regions.clone(), poller.clone(), Some(ledger.clone()))
        .with_fanout(fanout(poller));
    let mut request = NotificationRequest::multicast_weather_alert(
        "TORNADO",
        "NWS Norman OK",
        format!("bench-scale-{users}-{instances}-{rate}"),
        None,
        &["en-US"],
    );
    request.area = Some(vec![alexa_proactive::area::Place::county(COUNTY)]);

    let writes0 = writes(store);
    let reads0 = store.calls(Op::QueryArea) + store.calls(Op::Recipients);
    let start_rss = reset_peak();
    let started = Instant::now();
    let outcomes = notifier
        .send_requests(
            vec![(request, None)],
            Instant::now() + BUDGET,
            "bench-poll",
            OnRefusal::Record,
        )
        .await
        .expect("the alert is sent");
    assert!(
        matches!(&outcomes[..], [Outcome::Queued(_)]),
        "{outcomes:?}"
    );

    let mapping = Arc::new(Mapping {
        queue: memory.clone(),
        working: Mutex::new(0),
        next_id: AtomicUsize::new(0),
    });
    let tally = Arc::new(Mutex::new(Tally::default()));
    let unicasts = Arc::new(AtomicUsize::new(0));
    // Each instance: a thread with a current-thread runtime (as the function's), one loop.
    let loops: Vec<_> = (0..instances)
        .map(|instance| {
            let fanout = fanout(Arc::new(Timed {
                inner: client(),
                last_accepted: last_accepted.clone(),
            }));
            let (mapping, ledger, tally, unicasts) = (
                mapping.clone(),
                Ledger::new(store.clone()),
                tally.clone(),
                unicasts.clone(),
            );
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(consumer(
                    instance, batch, users, started, &mapping, &fanout, &ledger, &tally, &unicasts,
                ));
            })
        })
        .collect();
    for handle in loops {
        tokio::task::spawn_blocking(move || handle.join())
            .await
            .expect("joined")
            .expect("a consumer loop");
    }
    let drained = started.elapsed();
    let peak = peak_rss_mib(std::process::id());
    let to_last = last_accepted
        .lock()
        .unwrap()
        .map_or(drained, |at| at - started);

    let state = sandbox.state().await;
    let accepted: Vec<&str> = state["accepted"]
        .as_array()
        .expect("accepted")
        .iter()
        .filter_map(|a| a["audience"].as_str())
        .collect();
    let distinct: BTreeSet<&str> = accepted.iter().copied().collect();
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    let out = Run {
        users,
        instances,
        rate: rate as usize,
        to_last,
        drained,
        invocations: tally.invocations,
        busy: tally.busy,
        records: tally.records,
        failed_records: tally.failed_records,
        outcomes: tally.outcomes,
        writes: writes(store) - writes0,
        reads: store.calls(Op::QueryArea) + store.calls(Op::Recipients) - reads0,
        queued: queued.load(Ordering::SeqCst),
        accepted: state["accepted"].as_array().map_or(0, Vec::len),
        distinct: distinct.len(),
        repeats: state["repeats"].as_u64().unwrap_or(0),
        event_requests: state["eventRequests"].as_u64().unwrap_or(0),
        token_requests: state["tokenRequests"].as_u64().unwrap_or(0),
        start_rss,
        peak,
    };
    sandbox.stop().await;
    // Correctness, not timing: each user heard the alert once.
    assert_eq!(out.repeats, 0, "nobody heard the alert twice");
    assert_eq!(out.accepted, users, "one accepted Unicast per user");
    assert_eq!(out.distinct, users, "every user reached");
    out
}

fn list(var: &str, default: &str) -> Vec<usize> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn mib(p: Option<f64>) -> String {
    p.map_or("?".to_owned(), |p| format!("{p:.0} MiB"))
}

/// The figures go to the real standard output; the engine's metric lines (EMF, one per
/// leaf and chunk, written to stdout as on Lambda) go to /dev/null.
fn figures_out() -> std::fs::File {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: dup and dup2 on this process's own descriptors; the duplicate is owned by
    // the returned File alone.
    unsafe {
        let out = libc::dup(1);
        assert!(out >= 0, "dup stdout");
        let null = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .expect("/dev/null");
        assert!(libc::dup2(null.as_raw_fd(), 1) >= 0, "dup2 /dev/null");
        std::fs::File::from_raw_fd(out)
    }
}

#[tokio::main]
async fn main() {
    if !benchmarking("fanout_scale") {
        return;
    }
    let sizes = list("BENCH_FANOUT_SCALE_USERS", "10000,100000");
    let concurrency = list("BENCH_FANOUT_SCALE_CONCURRENCY", "1,10");
    let rates = list("BENCH_FANOUT_SCALE_RATES", "50,1000");
    let max_secs = setting("BENCH_FANOUT_SCALE_MAX_SECS", 1800);
    let dynamo_ms = setting("BENCH_DYNAMO_MS", 5);
    let delay_ms = setting("BENCH_ALEXA_DELAY_MS", 30);
    // Every n-th event request answered 429 (3: a third of them); 0: none.
    let throttle_every = setting("BENCH_FANOUT_SCALE_THROTTLE_EVERY", 0);
    let project = testkit::project!();
    let batch = project
        .template_default::<usize>("FanoutBatchSize")
        .unwrap_or(5);
    let mut out = figures_out();

    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    let mut seeded = Vec::new();
    for &users in &sizes {
        eprintln!("fanout_scale: seeding {users} users...");
        let began = std::time::Instant::now();
        let store = seed(users).await;
        let seeding = began.elapsed();
        let rss = status_mib("VmRSS:");
        eprintln!(
            "fanout_scale: seeded {users} users in {:.1} s, RSS {}",
            seeding.as_secs_f64(),
            mib(rss)
        );
        seeded.push((users, seeding, rss));
        for op in EVERY_OP {
            store.slow(op, Duration::from_millis(dynamo_ms as u64));
        }
        for &rate in &rates {
            for &instances in &concurrency {
                let planned = users as f64 / (rate * instances) as f64;
                if planned > max_secs as f64 {
                    skipped.push((users, instances, rate, planned));
                    eprintln!("fanout_scale: skipping {users} users, C={instances}, rate {rate}: {planned:.0} s at the setting's rate");
                    continue;
                }
                eprintln!(
                    "fanout_scale: {users} users, C={instances}, FANOUT_SEND_RATE={rate} (at least {planned:.0} s)..."
                );
                let run = run(
                    &project,
                    &store,
                    users,
                    instances,
                    rate,
                    batch,
                    delay_ms,
                    throttle_every,
                )
                .await;
                eprintln!(
                    "fanout_scale: {users} users, C={instances}, rate {rate}: last Unicast after {:.1} s, {:.0}/s",
                    run.to_last.as_secs_f64(),
                    run.overall()
                );
                runs.push(run);
            }
        }
        drop(store);
    }

    let _ = writeln!(
        out,
        "one tornado warning over one county (40027), every user subscribed, region NA; the engine in process: MemoryStore + {dynamo_ms} ms per operation, MemoryQueue, the real alexa::Client against alexa-sandbox + {delay_ms} ms per token and event request (dedupe off; with BENCH_FANOUT_SCALE_THROTTLE_EVERY={throttle_every} > 0, every n-th event request answered 429 with Retry-After 1 and no added delay); C consumer loops, {batch} messages per invocation (FanoutBatchSize), 30 s deadline"
    );
    for (users, seeding, rss) in &seeded {
        let _ = writeln!(
            out,
            "seeded {users} users in {:.1} s (not timed with the rest); RSS with the table: {}",
            seeding.as_secs_f64(),
            mib(*rss)
        );
    }
    for run in &runs {
        let outcomes = run
            .outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "{} users, C={}, rate {}: records {} ({outcomes}), failed {} put back, queue empty after {:.1} s, invocations {} (mean {:.2} s), state reads {} ({:.3}/user), event requests {}, token requests {}",
            run.users,
            run.instances,
            run.rate,
            run.records,
            run.failed_records,
            run.drained.as_secs_f64(),
            run.invocations,
            run.busy.as_secs_f64() / run.invocations.max(1) as f64,
            run.reads,
            run.per_user(run.reads),
            run.event_requests,
            run.token_requests
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| users | C | FANOUT_SEND_RATE | alert to last Unicast | Unicasts/s overall | per instance (of the setting) | invocations | state writes / user | queue messages / user | repeats | accepted | RSS at start / peak |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for run in &runs {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} s | {:.0} | {:.0} ({:.0}%) | {} | {:.3} | {:.4} | {} | {} | {} / {} |",
            run.users,
            run.instances,
            run.rate,
            run.to_last.as_secs_f64(),
            run.overall(),
            run.per_instance(),
            run.of_setting(),
            run.invocations,
            run.per_user(run.writes),
            run.per_user(run.queued),
            run.repeats,
            run.accepted,
            mib(run.start_rss),
            mib(run.peak)
        );
    }
    for (users, instances, rate, planned) in &skipped {
        let _ = writeln!(
            out,
            "| {users} | {instances} | {rate} | skipped: at least {planned:.0} s at the setting's rate | | | | | | | | |"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "projection: {TARGET_USERS} users at C={TARGET_INSTANCES} within {TARGET_TIME:.0} s ({:.0} Unicasts/s); DynamoDB at {dynamo_ms} ms and Alexa at {delay_ms} ms per call assumed; Lambda's and SQS's scheduling not modelled (each loop is an instance):",
        TARGET_USERS as f64 / TARGET_TIME
    );
    for run in runs.iter().filter(|r| r.instances == TARGET_INSTANCES) {
        let at_target = TARGET_USERS as f64 / run.overall();
        let measured = if run.users == TARGET_USERS {
            format!("measured {:.0} s", run.to_last.as_secs_f64())
        } else {
            format!(
                "{:.0} s at the {} users' overall rate",
                at_target, run.users
            )
        };
        let _ = writeln!(
            out,
            "- from {} users at FANOUT_SEND_RATE={}: {:.0}/s overall ({:.0} per instance), {TARGET_USERS} users: {measured} ({} the target); the setting alone allows {:.0} s",
            run.users,
            run.rate,
            run.overall(),
            run.per_instance(),
            if at_target <= TARGET_TIME { "within" } else { "over" },
            TARGET_USERS as f64 / (run.rate * TARGET_INSTANCES) as f64
        );
    }
    if !rates.contains(&DEFAULT_RATE) {
        let _ = writeln!(
            out,
            "(the template's default FANOUT_SEND_RATE={DEFAULT_RATE} was not run)"
        );
    }
    // The time to the last Unicast against users, instances and send rate, as a picture (a
    // log scale: from about a second to minutes). A throttled run is a different figure.
    if throttle_every == 0 && !runs.is_empty() {
        let groups: Vec<testkit::chart::Group> = sizes
            .iter()
            .map(|&users| testkit::chart::Group {
                heading: format!("{users} users: alert to last Unicast (log scale)"),
                log: true,
                bars: runs
                    .iter()
                    .filter(|r| r.users == users)
                    .map(|r| testkit::chart::Bar {
                        label: format!("C={} instances, FANOUT_SEND_RATE={}", r.instances, r.rate),
                        value: r.to_last.as_secs_f64(),
                        text: format!("{:.1} s ({:.0}/s)", r.to_last.as_secs_f64(), r.overall()),
                    })
                    .collect(),
            })
            .filter(|g| !g.bars.is_empty())
            .collect();
        let svg = testkit::chart::bars(
            "Fanning one alert out: time to the last Unicast",
            &format!(
                "cargo bench --all-features --bench fanout_scale; DynamoDB +{dynamo_ms} ms, Alexa +{delay_ms} ms per call; 0 repeats, every user once"
            ),
            &groups,
        );
        testkit::chart::write(&project.root.join("docs/fanout-scale.svg"), &svg);
    }
}
