//! Cold start: time from process start to the first answer, through a Lambda Runtime API.
//!
//! For each round, the LaunchRequest is queued first, then the process is started and the
//! clock runs until its answer arrives: that is what a user waits for on a cold start
//! (minus Lambda's own sandbox set-up). alexa-proactive and the minimal `hello` function
//! are measured alternately in the same run, so machine noise hits both alike; the figure
//! to read is the ratio of the medians.
//!
//! Run with `make bench` (it builds `examples/hello` first). `BENCH_ROUNDS` sets the rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::runtime_api::{self, Function, Outcome, RuntimeApi};
use testkit::stats::{benchmarking, ms, percentile, setting};

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

async fn first_answer(binary: &Path, payload: &Value) -> Result<Duration, String> {
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
    function.stop().await;
    match outcome {
        Outcome::Response(_) => Ok(elapsed),
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
    for _ in 0..rounds {
        for (binary, samples) in [(&ours, &mut a), (&hello, &mut b)] {
            match first_answer(binary, &launch).await {
                Ok(d) => samples.push(d),
                Err(e) => {
                    eprintln!("round failed: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
    a.sort();
    b.sort();
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(0.0)
    };
    println!("cold start to first answer (LaunchRequest through a local Runtime API), {rounds} rounds each");
    println!("| function | min | p50 | p90 | binary size |");
    println!("|---|---|---|---|---|");
    for (name, samples, path) in [
        ("alexa-proactive", &a, &ours),
        ("lambda_runtime hello", &b, &hello),
    ] {
        println!(
            "| {name} | {} | {} | {} | {:.1} MiB |",
            ms(samples[0]),
            ms(percentile(samples, 0.5)),
            ms(percentile(samples, 0.9)),
            size(path)
        );
    }
    let ratio = percentile(&a, 0.5).as_secs_f64() / percentile(&b, 0.5).as_secs_f64();
    println!("ratio of medians (alexa-proactive / hello): {ratio:.2} (target: at most 2.0)");
}
