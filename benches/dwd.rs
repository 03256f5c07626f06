//! Polling a national DWD zip: the scheduled rule's poll through the release binary under a
//! Lambda Runtime API, its state table and fan-out queue in moto, the feed server serving a
//! generated full set of warnings (`BENCH_DWD_WARNINGS`, default 600, each with 10 to 1,352
//! municipality cells as DWD's largest have, and a polygon), shaped like the fixtures of
//! `tests/fixtures/dwd/`. All on loopback.
//!
//! For the generated set, a fresh rig and a cold function process (RUST_LOG=info as deployed,
//! output discarded), then: the first poll (the zip read, every document parsed, every
//! announcement queued and recorded); a second poll of the same warnings in a new zip (a new
//! ETag: all announced already); a third of the same zip (304). Figures: the wall time of each
//! invocation and the process's peak resident memory (VmHWM), against the template's
//! `MemorySize`.
//!
//! Run with `make bench`.

use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::europe::{zip_of, DWD_PATH};
use testkit::events::scheduled;
use testkit::feed::FeedServer;
use testkit::runtime_api::Outcome;
use testkit::sqs::Queue;
use testkit::stats::{benchmarking, peak_rss_mib, setting};
use testkit::{Project, Rig};

const BUDGET: Duration = Duration::from_secs(30);

/// A small deterministic generator (the same set on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Every German district key the function's table knows.
fn districts() -> Vec<String> {
    let mut keys: Vec<String> = (1_000..=99_999)
        .filter_map(alexa_proactive::area::de::districts)
        .flatten()
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Warning types and severities in the proportions of a stormy summer day.
const KINDS: [(u16, &str, &str); 10] = [
    (31, "GEWITTER", "Minor"),
    (33, "STARKES GEWITTER", "Moderate"),
    (41, "SCHWERES GEWITTER mit HEFTIGEM STARKREGEN", "Severe"),
    (46, "SCHWERES GEWITTER mit HAGEL", "Severe"),
    (51, "WINDBÖEN", "Minor"),
    (52, "STURMBÖEN", "Moderate"),
    (55, "ORKANBÖEN", "Severe"),
    (62, "HEFTIGER STARKREGEN", "Severe"),
    (63, "DAUERREGEN", "Moderate"),
    (93, "EXTREMES GEWITTER", "Extreme"),
];

fn document(template: &str, i: usize, rng: &mut Lcg, keys: &[String]) -> String {
    let (ii, event, severity) = KINDS[rng.below(KINDS.len() as u64) as usize];
    // Most warnings name tens of cells, some hundreds, a few as many as DWD's largest.
    let cells = match rng.below(100) {
        0..=69 => 10 + rng.below(90),
        70..=94 => 100 + rng.below(400),
        _ => 500 + rng.below(853),
    } as usize;
    let head_end = template.find("<area>").expect("the fixture has areas");
    let tail_start = template.rfind("</info>").expect("the fixture has an info");
    let head = template[..head_end]
        .replace(
            "72d9031a-b203-4808-8b6b-f460f9e8acec",
            &format!("bench-{i:06}"),
        )
        .replace("<value>40</value>", &format!("<value>{ii}</value>"))
        .replace(
            "SCHWERES GEWITTER mit ORKANBÖEN</event>",
            &format!("{event}</event>"),
        )
        .replace(
            "<severity>Severe</severity>",
            &format!("<severity>{severity}</severity>"),
        );
    let mut areas = String::with_capacity(cells * 240 + 4_000);
    let points: Vec<String> = (0..120)
        .map(|p| {
            format!(
                "{:.4},{:.4}",
                50.0 + p as f64 * 0.01,
                7.0 + p as f64 * 0.013
            )
        })
        .collect();
    areas.push_str(&format!(
        "<area>\n      <areaDesc>polygonal event area</areaDesc>\n      <polygon>{}</polygon>\n      <altitude>0.0</altitude>\n      <ceiling>9842.5197</ceiling>\n    </area>\n    ",
        points.join(" ")
    ));
    let district = &keys[rng.below(keys.len() as u64) as usize];
    for c in 0..cells {
        // Neighbouring municipalities: mostly one district, now and then the next one.
        let key = if rng.below(10) == 0 {
            &keys[rng.below(keys.len() as u64) as usize]
        } else {
            district
        };
        areas.push_str(&format!(
            "<area>\n      <areaDesc>Gemeinde {c} im Kreis {key}</areaDesc>\n      <geocode>\n        <valueName>WARNCELLID</valueName>\n        <value>8{key}{:03}</value>\n      </geocode>\n      <altitude>0.0</altitude>\n      <ceiling>9842.5197</ceiling>\n    </area>\n    ",
            c % 1000
        ));
    }
    format!("{head}{areas}{}", &template[tail_start..])
}

fn national_set(project: &Project, warnings: usize) -> (Vec<(String, String)>, usize) {
    let template = testkit::europe::fixture(project, "dwd", "thunderstorm-alert.xml", "2026-07-14");
    let keys = districts();
    let mut rng = Lcg(2026);
    let docs: Vec<(String, String)> = (0..warnings)
        .map(|i| {
            (
                format!("Z_CAP_C_EDZW_bench-{i:06}.xml"),
                document(&template, i, &mut rng, &keys),
            )
        })
        .collect();
    let inflated = docs.iter().map(|(_, d)| d.len()).sum();
    (docs, inflated)
}

async fn poll(rig: &mut Rig, id: &str) -> (Duration, Result<Value, String>) {
    let started = Instant::now();
    let outcome = rig.invoke(&scheduled(id), BUDGET).await;
    let time = started.elapsed();
    let outcome = match outcome {
        Some(Outcome::Response(answer)) => Ok(answer),
        Some(Outcome::Error {
            error_type,
            error_message,
        }) => Err(format!("{error_type}: {error_message}")),
        None => Err("no answer within the deadline".to_owned()),
    };
    (time, outcome)
}

fn summary(outcome: &Result<Value, String>) -> String {
    match outcome {
        Err(e) => format!("failed: {e}"),
        Ok(answer) => {
            let feed = &answer["feeds"][0];
            if feed["status"] == 304 {
                return "HTTP 304, nothing read".into();
            }
            format!(
                "{} warnings ({} malformed), {} to announce, {} queued, skipped {}",
                feed["alerts"],
                feed["skipped"]["malformed"].as_u64().unwrap_or(0),
                feed["candidates"],
                answer["results"].as_array().map_or(0, Vec::len),
                feed["skipped"]
            )
        }
    }
}

#[tokio::main]
async fn main() {
    if !benchmarking("dwd") {
        return;
    }
    let warnings = setting("BENCH_DWD_WARNINGS", 600);
    let project = testkit::project!();
    let (docs, inflated) = national_set(&project, warnings);
    let cells: usize = docs
        .iter()
        .map(|(_, d)| d.matches("WARNCELLID").count())
        .sum();
    let named: Vec<(&str, String)> = docs.iter().map(|(n, d)| (n.as_str(), d.clone())).collect();
    let zip = zip_of(&named);
    // The same warnings, another archive (a new ETag): as DWD rewrites its full set.
    let mut again = named.clone();
    again.reverse();
    let rezipped = zip_of(&again);

    let server = FeedServer::start_at(DWD_PATH).await;
    server.serve_bytes(zip.clone(), "application/zip");
    let queue_name = "bench-dwd";
    let url = format!("http://127.0.0.1/123456789012/{queue_name}");
    let feeds = format!("dwd={}", server.url());
    let mut rig = Rig::builder(project.clone(), "bench-dwd")
        .without_feed()
        .regions("EU")
        .env("RUST_LOG", Some("info"))
        .env("WEATHER_AUDIENCE", Some("located"))
        .env("WEATHER_FEEDS", Some(&feeds))
        .env("FANOUT_QUEUE_URL", Some(&url))
        .quiet()
        .start()
        .await;
    Queue::create(&rig.moto, queue_name, 3, Duration::from_secs(30)).await;

    let first = poll(&mut rig, "bench-dwd-1").await;
    server.serve_bytes(rezipped, "application/zip");
    let second = poll(&mut rig, "bench-dwd-2").await;
    let third = poll(&mut rig, "bench-dwd-3").await;
    let peak = rig.functions[0].pid().and_then(peak_rss_mib);
    rig.stop().await;
    server.stop();

    let memory = std::fs::read_to_string(project.root.join("template.yaml"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.trim().strip_prefix("MemorySize:"))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
    println!(
        "polling a generated national DWD zip through a local Runtime API (state table and fan-out queue in moto): {warnings} warnings, {cells} warn cells, zip {:.1} MiB, {:.1} MiB of XML",
        zip.len() as f64 / 1_048_576.0,
        inflated as f64 / 1_048_576.0
    );
    println!("| poll | time | what it did |");
    println!("|---|---|---|");
    for (name, (time, outcome)) in [
        ("first poll (cold process)", &first),
        ("same warnings, new zip (all announced)", &second),
        ("zip unchanged", &third),
    ] {
        println!(
            "| {name} | {:.0} ms | {} |",
            time.as_secs_f64() * 1000.0,
            summary(outcome)
        );
    }
    println!(
        "peak memory (VmHWM) after the three polls: {} of the template's {} MB",
        peak.map_or("?".to_owned(), |p| format!("{p:.1} MiB")),
        memory.map_or("?".to_owned(), |m| format!("{m:.0}"))
    );
    if [&first, &second, &third].iter().any(|(_, o)| o.is_err()) {
        std::process::exit(1);
    }
}
