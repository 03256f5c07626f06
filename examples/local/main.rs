//! `make run` / `make invoke`: starts the function under `cargo lambda watch`
//! (`LOCAL_RUNTIME=cargo-lambda`, make's default) or the project's Runtime API emulator
//! (`LOCAL_RUNTIME=emulator`, or LOCAL_RUNTIME unset), with its credentials secret
//! and state table in a local moto server, the alexa-sandbox playing Alexa and a local weather
//! feed serving an NWS-format fixture; sends it sample events and prints what the function
//! answered and what Alexa would say. Every process it starts is stopped at the end, and on
//! Ctrl-C.
//!
//! Three feeds are polled (`WEATHER_FEEDS`): the NWS fixture, a DWD zip and MeteoAlarm's UK
//! feed (tests/fixtures/dwd, tests/fixtures/meteoalarm), each on its own local server.
//!
//! Alerts go to users by place (`WEATHER_AUDIENCE=located`): six users are placed in the state
//! table as the skill places them (four in the US by ZIP code, one in Köln by Postleitzahl,
//! one in London by postcode), the fan-out queue lives in moto, and
//! after each sample the queue is consumed as Lambda's SQS event source would (receive,
//! invoke, delete what did not fail). At the end, each user's line says what they heard or
//! why they heard nothing.
//!
//! Usage: local [--json] [EVENT.json ...]   (default: every file in events/)
//! The function's own log lines go to target/local-run.log, the sandbox's to
//! target/local-sandbox.log. Every process started here is stopped at the end.

mod runtime;

use std::path::{Path, PathBuf};

use std::time::Duration;

use runtime::{InvokeError, Runtime};
use serde_json::Value;
use testkit::runtime_api::Outcome;
use testkit::sqs::{self, SeedUser};
use testkit::{europe, feed, moto, project, rig, sandbox};

const DEFAULT_SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
const STATE_TABLE: &str = "alexa-proactive-local";
const SECRET_NAME: &str = "alexa-proactive/local";
/// The feed the scheduled sample polls: six Oklahoma alerts, two of which are announced, for
/// Cleveland and McClain counties.
const FEED_FIXTURE: &str = "poll-1.json";
/// What the feed serves when each scheduled sample is sent (tests/fixtures/nws/): a tornado
/// warning for Cleveland County, then NWS's update to it (a tornado emergency) listed beside
/// the original, then a continuation of the emergency beside both.
const FEEDS: [(&str, &str); 4] = [
    ("eventbridge-scheduled.json", FEED_FIXTURE),
    ("scheduled-poll-1-tornado-warning.json", "tornado-1.json"),
    (
        "scheduled-poll-2-emergency-beside-original.json",
        "tornado-2.json",
    ),
    ("scheduled-poll-3-continuation.json", "tornado-3.json"),
];
const FANOUT_QUEUE: &str = "alexa-proactive-local-fanout";
const WEATHER_ALERT: &str = "AMAZON.WeatherAlert.Activated";
const TRASH_ALERT: &str = "AMAZON.TrashCollectionAlert.Activated";

/// Who `make run` places, as the skill would store them once told their postal code.
struct DemoUser {
    name: &'static str,
    id: &'static str,
    country: &'static str,
    postal: &'static str,
    /// To weather alerts (Ana to trash collection alerts as well).
    subscribed: bool,
    /// The Alexa region of their device, and its locale.
    region: &'static str,
    locale: &'static str,
}

const fn us(name: &'static str, id: &'static str, zip: &'static str, subscribed: bool) -> DemoUser {
    DemoUser {
        name,
        id,
        country: "US",
        postal: zip,
        subscribed,
        region: "NA",
        locale: "en-US",
    }
}

const USERS: [DemoUser; 6] = [
    us("Ana", "amzn1.ask.account.DEMO-ANA", "73019", true),
    us("Ben", "amzn1.ask.account.DEMO-BEN", "73072", true),
    us("Cleo", "amzn1.ask.account.DEMO-CLEO", "10001", true),
    us("Dan", "amzn1.ask.account.DEMO-DAN", "73019", false),
    DemoUser {
        name: "Jonas",
        id: "amzn1.ask.account.DEMO-JONAS",
        country: "DE",
        postal: "50667",
        subscribed: true,
        region: "EU",
        locale: "de-DE",
    },
    DemoUser {
        name: "Olivia",
        id: "amzn1.ask.account.DEMO-OLIVIA",
        country: "GB",
        postal: "SW1A 1AA",
        subscribed: true,
        region: "EU",
        locale: "en-GB",
    },
];

/// The places the skill would store for the user, and how it says them.
fn places(u: &DemoUser) -> (String, Vec<alexa_proactive::area::Place>) {
    match alexa_proactive::area::locate(u.country, u.postal) {
        alexa_proactive::area::Located::Placed { postal, places, .. } => (postal, places),
        _ => (u.postal.to_owned(), Vec::new()),
    }
}

fn seeds() -> Vec<SeedUser> {
    USERS
        .iter()
        .map(|u| {
            let (postal, places) = places(u);
            SeedUser {
                user_id: u.id.to_owned(),
                subscriptions: if u.name == "Ana" {
                    vec![WEATHER_ALERT.to_owned(), TRASH_ALERT.to_owned()]
                } else if u.subscribed {
                    vec![WEATHER_ALERT.to_owned()]
                } else {
                    vec!["AMAZON.MessageAlert.Activated".to_owned()]
                },
                postal_code: postal,
                country: u.country.to_owned(),
                places: places.iter().map(|p| p.code()).collect(),
                region: Some(u.region.to_owned()),
                locale: Some(u.locale.to_owned()),
            }
        })
        .collect()
}

/// "ZIP 73019", "PLZ 50667", "postcode SW1A 1AA".
fn postal(u: &DemoUser) -> String {
    match u.country {
        "DE" => format!("PLZ {}", u.postal),
        "GB" => format!("postcode {}", u.postal),
        _ => format!("ZIP {}", u.postal),
    }
}

/// Each demo user's line: where they are, and what they heard or why nothing.
fn per_user(state: &Value) -> Vec<String> {
    let accepted = state["accepted"].as_array().cloned().unwrap_or_default();
    USERS
        .iter()
        .map(|u| {
            let places = alexa_proactive::area::locate::say_all(&places(u).1);
            let heard: Vec<&str> = accepted
                .iter()
                .filter(|a| a["audience"] == u.id)
                .filter_map(|a| {
                    a["spoken"]
                        .as_array()?
                        .iter()
                        .find(|s| s["locale"] == u.locale)?["text"]
                        .as_str()
                })
                .collect();
            let outcome = if !heard.is_empty() {
                format!(
                    "heard {} notification(s): \"{}\"",
                    heard.len(),
                    heard.join("\" / \"")
                )
            } else if !u.subscribed {
                "heard nothing: not subscribed to weather alerts".to_owned()
            } else {
                "heard nothing: no alert names their area".to_owned()
            };
            format!(
                "{} ({}, {}): {outcome}",
                u.name,
                postal(u),
                places.join(" and ")
            )
        })
        .collect()
}

fn describe(answer: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let response = &answer["response"];
    if let Some(text) = response["outputSpeech"]["text"].as_str() {
        lines.push(format!("Alexa says: \"{text}\""));
    }
    if let Some(kind) = response["card"]["type"].as_str() {
        let permissions: Vec<&str> = response["card"]["permissions"]
            .as_array()
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        lines.push(format!("card: {kind} {permissions:?}"));
    }
    match response["shouldEndSession"].as_bool() {
        Some(true) => lines.push("session: ends".into()),
        Some(false) => lines.push("session: stays open for an answer".into()),
        None => {}
    }
    for feed in answer["feeds"].as_array().into_iter().flatten() {
        let url = feed["url"].as_str().unwrap_or("?");
        let kind = feed["kind"].as_str().unwrap_or("?");
        if feed["status"] == 304 {
            lines.push(format!(
                "{kind} feed {url}: unchanged since the last poll (HTTP 304)"
            ));
            continue;
        }
        lines.push(format!(
            "{kind} feed {url}: HTTP {}, {} alert(s), {} to announce, skipped {}",
            feed["status"],
            feed["alerts"].as_u64().unwrap_or(0),
            feed["candidates"].as_u64().unwrap_or(0),
            feed["skipped"]
        ));
        let count = |key: &str| feed[key].as_u64().unwrap_or(0);
        if count("escalations") + count("extensions") > 0 {
            lines.push(format!(
                "of those: {} escalation(s) (heard again: the danger rose), {} extension(s) (new places only)",
                count("escalations"),
                count("extensions")
            ));
        }
    }
    if let Some(results) = answer["results"].as_array() {
        for r in results {
            let status = r["status"].as_str().unwrap_or("?");
            let region = r["region"].as_str().unwrap_or("-");
            let why = r["reason"].as_str().or(r["error"].as_str()).unwrap_or("");
            lines.push(format!(
                "{region} {status} referenceId {} {why}",
                r["referenceId"].as_str().unwrap_or("?")
            ));
        }
    }
    if lines.is_empty() {
        lines.push(format!("answer: {answer}"));
    }
    lines
}

/// What the sandbox accepted since the last call, as the sentences Alexa would speak.
fn spoken(state: &Value, already: usize) -> Vec<String> {
    let accepted = state["accepted"].as_array().cloned().unwrap_or_default();
    accepted
        .iter()
        .skip(already)
        .flat_map(|a| {
            let to = USERS
                .iter()
                .find(|u| a["audience"] == u.id)
                .map_or(String::new(), |u| format!(" to {}", u.name));
            let region = a["region"].as_str().unwrap_or("-").to_owned();
            a["spoken"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |s| {
                    format!(
                        "notification{to} [{region} {}]: \"{}\"",
                        s["locale"].as_str().unwrap_or("?"),
                        s["text"].as_str().unwrap_or("")
                    )
                })
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let mut json = false;
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--json" {
            json = true;
        } else {
            files.push(PathBuf::from(arg));
        }
    }
    let project = project!();
    if files.is_empty() {
        files = project.event_files();
    }
    let skill_id = std::env::var("ALEXA_SKILL_ID").unwrap_or_else(|_| DEFAULT_SKILL_ID.to_owned());
    let root = &project.root;
    let log_dir = root.join("target");
    let _ = std::fs::create_dir_all(&log_dir);
    let log = log_dir.join("local-run.log");
    let moto = moto::Moto::start(&project.moto_server()).await;
    moto.create_secret(SECRET_NAME, &rig::secret_json(sandbox::CLIENT_SECRET))
        .await;
    moto.create_state_table(STATE_TABLE).await;
    sqs::seed_users(&moto, STATE_TABLE, &seeds()).await;
    let queue = sqs::Queue::create(&moto, FANOUT_QUEUE, 5, Duration::from_secs(30)).await;
    let sandbox_log = log_dir.join("local-sandbox.log");
    let sandbox = sandbox::Sandbox::start(&project.sandbox, Some(&sandbox_log)).await;
    let feed = feed::FeedServer::start(&project.fixture(FEED_FIXTURE)).await;
    // Germany's set: a severe thunderstorm warning for Köln, an advance notice, a minor frost
    // warning; the UK's: four Met Office warnings, one an amber thunderstorm for London.
    let dwd = europe::dwd_server(
        &project,
        &[
            "thunderstorm-alert.xml",
            "thunderstorm-advance-notice.xml",
            "frost-minor.xml",
        ],
    )
    .await;
    let meteoalarm = europe::meteoalarm_server(&project).await;
    let feeds = format!("dwd={},meteoalarm={}", dwd.url(), meteoalarm.url());
    let mut env = sandbox.function_env(&skill_id, SECRET_NAME, moto.endpoint());
    env.push(("RUST_LOG", Some("alexa_proactive=debug,info")));
    env.push(("STATE_TABLE", Some(STATE_TABLE)));
    env.push(("WEATHER_FEED_URL", Some(feed.url())));
    env.push(("WEATHER_FEEDS", Some(feeds.as_str())));
    env.push(("WEATHER_AUDIENCE", Some("located")));
    env.push(("FANOUT_QUEUE_URL", Some(queue.url.as_str())));
    let runtime = match std::env::var("LOCAL_RUNTIME").as_deref() {
        Ok("cargo-lambda") => {
            Runtime::cargo_lambda(&env, &log_dir.join("local-function.env"), &log).await
        }
        _ => Runtime::emulator(&project.function, &env, &log).await,
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{e}");
            feed.stop();
            dwd.stop();
            meteoalarm.stop();
            sandbox.stop().await;
            moto.stop().await;
            std::process::exit(2);
        }
    };
    println!(
        "alexa-proactive under {}, skill {skill_id}\n\
         credentials secret and state table {STATE_TABLE} in moto ({}), Alexa played by alexa-sandbox ({}),\n\
         weather feeds: nws {} serving tests/fixtures/nws/{FEED_FIXTURE}, dwd {} and meteoalarm {} (tests/fixtures/dwd, tests/fixtures/meteoalarm),\n\
         fan-out queue {FANOUT_QUEUE} in moto\n\
         users placed: {}\n",
        runtime.describe(),
        moto.endpoint(),
        sandbox.url,
        feed.url(),
        dwd.url(),
        meteoalarm.url(),
        USERS
            .iter()
            .map(|u| format!("{} ({}{})", u.name, postal(u), if u.subscribed { "" } else { ", not subscribed" }))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Ctrl-C ends the loop, not the program: the clean-up below still runs.
    let outcome = tokio::select! {
        failed = send_all(root, &files, &runtime, &sandbox, (&moto, &queue), (&feed, &project), json) => Some(failed),
        _ = tokio::signal::ctrl_c() => None,
    };
    runtime.stop().await;
    feed.stop();
    dwd.stop();
    meteoalarm.stop();
    sandbox.stop().await;
    moto.stop().await;
    println!("function log: {}", log.display());
    match outcome {
        None => {
            println!("interrupted; every process was stopped");
            std::process::exit(130);
        }
        Some(true) => std::process::exit(1),
        Some(false) => {}
    }
}

/// Said when the function is gone: the other samples would only wait for their timeouts.
const NOT_SENT: &str = "the other samples were not sent: the function does not answer";

/// Sends every file and prints what happened; true if the harness itself failed.
async fn send_all(
    root: &Path,
    files: &[PathBuf],
    runtime: &Runtime,
    sandbox: &sandbox::Sandbox,
    (moto, queue): (&moto::Moto, &sqs::Queue),
    (feed, project): (&feed::FeedServer, &testkit::Project),
    json: bool,
) -> bool {
    let mut heard = 0;
    let mut failed_harness = false;
    for (i, file) in files.iter().enumerate() {
        let shown = file.strip_prefix(root).unwrap_or(file).display();
        let payload: Value = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                println!("{shown}\n  cannot read it: {e}\n");
                continue;
            }
        };
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some((_, fixture)) = FEEDS.iter().find(|(sample, _)| *sample == name) {
            feed.serve(&project.fixture(fixture));
            println!("(the weather feed now serves tests/fixtures/nws/{fixture})");
        }
        match runtime.invoke(&payload, i == 0).await {
            Ok(Outcome::Response(answer)) => {
                println!("{shown}  ->  answer");
                for line in describe(&answer) {
                    println!("  {line}");
                }
                if json {
                    println!("  {answer}");
                }
            }
            Ok(Outcome::Error {
                error_type,
                error_message,
            }) => {
                println!("{}  ->  invocation error {error_type}", shown);
                println!("  {error_message}");
            }
            Err(e) => {
                println!("{shown}  ->  {e}");
                if e.function_gone {
                    println!("\n{NOT_SENT}");
                    return true;
                }
                failed_harness = true;
            }
        }
        match consume(runtime, moto, queue).await {
            Ok((0, _)) => {}
            Ok((messages, batches)) => println!(
                "  fan-out: {messages} message(s) consumed in {batches} SQS batch(es), as Lambda's event source mapping would"
            ),
            Err(e) => {
                println!("  fan-out: {e}");
                if e.function_gone {
                    println!("\n{NOT_SENT}");
                    return true;
                }
                failed_harness = true;
            }
        }
        let state = sandbox.state().await;
        for line in spoken(&state, heard) {
            println!("  {line}");
        }
        heard = state["accepted"].as_array().map_or(heard, Vec::len);
        println!();
    }
    println!("who heard what:");
    for line in per_user(&sandbox.state().await) {
        println!("  {line}");
    }
    println!();
    failed_harness
}

/// Plays Lambda's SQS event source mapping until the fan-out queue is empty: receive up to 5
/// (the template's batch size), invoke, delete what the answer did not list as failed.
/// Returns (messages handled, batches).
async fn consume(
    runtime: &Runtime,
    moto: &moto::Moto,
    queue: &sqs::Queue,
) -> Result<(usize, usize), InvokeError> {
    let mut handled = 0;
    let mut batches = 0;
    for _ in 0..100 {
        let messages = queue
            .receive(moto, 5, Duration::from_secs(30), Duration::ZERO)
            .await;
        if messages.is_empty() {
            return Ok((handled, batches));
        }
        batches += 1;
        let failed: Vec<String> = match runtime.invoke(&queue.event(&messages), false).await? {
            Outcome::Response(answer) => answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect(),
            Outcome::Error { error_type, .. } => {
                return Err(InvokeError {
                    message: format!("the SQS batch failed with {error_type}"),
                    function_gone: false,
                })
            }
        };
        for id in &failed {
            println!(
                "  fan-out: message {id} failed; SQS would bring it back (see the function log)"
            );
        }
        let done: Vec<&sqs::Message> = messages
            .iter()
            .filter(|m| !failed.contains(&m.id))
            .collect();
        handled += done.len();
        queue.delete(moto, &done).await;
        if !failed.is_empty() {
            return Ok((handled, batches));
        }
    }
    Err(InvokeError {
        message: "the fan-out queue was not empty after 100 batches".into(),
        function_gone: false,
    })
}
