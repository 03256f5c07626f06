//! Cold start: time from process start to the first answer, through a Lambda Runtime API.
//!
//! For each round, the LaunchRequest is queued first, then the process is started and the
//! clock runs until its answer arrives: that is what a user waits for on a cold start
//! (minus Lambda's own sandbox set-up). The init time (process start to its first
//! `/invocation/next`, what Lambda reports as Init Duration) is read on the way. alexa-proactive and the minimal `hello` function
//! are measured alternately in the same run, so machine noise hits both alike; the figure
//! to read is the ratio of the medians.
//!
//! Run with `make bench` (it builds `examples/hello` first). `BENCH_ROUNDS` sets the rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::chart::{self, Bar, Group};
use testkit::runtime_api::{self, Function, Outcome, RuntimeApi};
use testkit::stats::{benchmarking, ms, peak_rss_mib, percentile, setting};

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

/// One cold start: init (start to the first `/invocation/next`), the first answer (from the
/// start) and the process's peak resident memory by then.
struct Cold {
    init: Duration,
    answer: Duration,
    rss_mib: Option<f64>,
}

async fn first_answer(binary: &Path, payload: &Value) -> Result<Cold, String> {
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let answer = api.enqueue(payload, Duration::from_secs(30));
    let started = Instant::now();
    let function = Function::spawn(binary, &api, &[("ALEXA_SKILL_ID", Some(SKILL_ID))], None)
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let outcome = tokio::time::timeout(Duration::from_secs(30), answer)
        .await
        .map_err(|_| format!("{} did not answer within 30 s", binary.display()))?
        .map_err(|_| "the invocation was dropped".to_string())?;
    let elapsed = started.elapsed();
    let init = api
        .first_next()
        .map_or(elapsed, |at| at.saturating_duration_since(started));
    let rss_mib = function.pid().and_then(peak_rss_mib);
    function.stop().await;
    match outcome {
        Outcome::Response(_) => Ok(Cold {
            init,
            answer: elapsed,
            rss_mib,
        }),
        Outcome::Error {
            error_type,
            error_message,
        } => Err(format!("{error_type}: {error_message}")),
    }
}

#[tokio::main]
async fn main() {
    if !benchmarking("cold_start") {
        return;
    }
    let rounds = setting("BENCH_ROUNDS", 30);
    let project = testkit::project!();
    let ours = project.function.clone();
    let hello = runtime_api::profile_dir_file("examples/hello");
    if !hello.exists() {
        eprintln!(
            "{} is missing: run `cargo build --release --example hello` (make bench does)",
            hello.display()
        );
        std::process::exit(2);
    }
    let launch = project.event("launch.json");

    // One unmeasured round each warms the page cache.
    for binary in [&ours, &hello] {
        if let Err(e) = first_answer(binary, &launch).await {
            eprintln!("warm-up failed: {e}");
            std::process::exit(1);
        }
    }
    let (mut a, mut b) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let (mut a_init, mut b_init) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let (mut a_rss, mut b_rss) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (binary, samples, inits, rss) in [
            (&ours, &mut a, &mut a_init, &mut a_rss),
            (&hello, &mut b, &mut b_init, &mut b_rss),
        ] {
            match first_answer(binary, &launch).await {
                Ok(cold) => {
                    samples.push(cold.answer);
                    inits.push(cold.init);
                    rss.extend(cold.rss_mib);
                }
                Err(e) => {
                    eprintln!("round failed: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    a.sort();
    b.sort();
    a_init.sort();
    b_init.sort();
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(0.0)
    };
    println!("cold start to first answer (LaunchRequest through a local Runtime API), {rounds} rounds each");
    println!("| function | init p50 | first answer min | p50 | p90 | binary size |");
    println!("|---|---|---|---|---|---|");
    for (name, samples, inits, path) in [
        ("alexa-proactive", &a, &a_init, &ours),
        ("lambda_runtime hello", &b, &b_init, &hello),
    ] {
        println!(
            "| {name} | {} | {} | {} | {} | {:.1} MiB |",
            ms(percentile(inits, 0.5)),
            ms(samples[0]),
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.9)),
            size(path)
        );
    }
    let ratio = percentile(&a, 0.5).as_secs_f64() / percentile(&b, 0.5).as_secs_f64();
    let init_ratio =
        percentile(&a_init, 0.5).as_secs_f64() / percentile(&b_init, 0.5).as_secs_f64();
    println!(
        "ratio of medians (alexa-proactive / hello): first answer {ratio:.2} (target: at most 1.3), init {init_ratio:.2}"
    );
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let (a_mem, b_mem) = (median(&mut a_rss), median(&mut b_rss));
    println!("peak memory at the first answer (VmHWM, median): alexa-proactive {a_mem:.1} MiB, hello {b_mem:.1} MiB");
    let msecs = |d: Duration| d.as_secs_f64() * 1000.0;
    let pair = |heading: &str, ours: f64, hello: f64, unit: &str| Group {
        heading: heading.to_owned(),
        log: false,
        bars: vec![
            Bar {
                label: "alexa-proactive".into(),
                value: ours,
                text: format!("{ours:.2} {unit}"),
            },
            Bar {
                label: "lambda_runtime hello".into(),
                value: hello,
                text: format!("{hello:.2} {unit}"),
            },
        ],
    };
    let svg = chart::bars(
        "Cold start beside a bare lambda_runtime function",
        &format!(
            "cargo bench --bench cold_start, {rounds} alternating rounds, medians; ratio {ratio:.2} to the first answer"
        ),
        &[
            pair(
                "first answer of a LaunchRequest (ms)",
                msecs(percentile(&a, 0.5)),
                msecs(percentile(&b, 0.5)),
                "ms",
            ),
            pair(
                "init: start to the first /invocation/next (ms)",
                msecs(percentile(&a_init, 0.5)),
                msecs(percentile(&b_init, 0.5)),
                "ms",
            ),
            pair("peak memory at the first answer (MiB)", a_mem, b_mem, "MiB"),
            pair("binary (MiB)", size(&ours), size(&hello), "MiB"),
        ],
    );
    chart::write(&project.root.join("docs/cold-start.svg"), &svg);
}
