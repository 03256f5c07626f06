//! `make run` / `make invoke`: starts the built function under a local Lambda Runtime API,
//! sends it sample events and prints what Alexa (or the trigger) would get back.
//!
//! Usage: local [--json] [EVENT.json ...]   (default: every file in events/)
//! The function's own log lines go to target/local-run.log.

#[path = "../tests/support/runtime_api.rs"]
mod runtime_api;

use std::path::{Path, PathBuf};
use std::time::Duration;

use runtime_api::{Function, Outcome, RuntimeApi};
use serde_json::Value;

const DEFAULT_SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

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
    if lines.is_empty() {
        lines.push(format!("answer: {answer}"));
    }
    lines
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
    if files.is_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut all: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        all.retain(|p| p.extension().is_some_and(|e| e == "json"));
        all.sort();
        files = all;
    }
    let binary = runtime_api::profile_dir_file("alexa-proactive");
    if !binary.exists() {
        eprintln!(
            "{} is missing: build it with `cargo build` (make run does)",
            binary.display()
        );
        std::process::exit(2);
    }
    let skill_id = std::env::var("ALEXA_SKILL_ID").unwrap_or_else(|_| DEFAULT_SKILL_ID.to_owned());
    let log_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::create_dir_all(&log_dir);
    let log = log_dir.join("local-run.log");
    let api = match RuntimeApi::start().await {
        Ok(api) => api,
        Err(e) => {
            eprintln!("cannot start the local Runtime API: {e}");
            std::process::exit(2);
        }
    };
    let function = match Function::spawn(
        &binary,
        &api,
        &[("ALEXA_SKILL_ID", Some(&skill_id))],
        Some(&log),
    ) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot start {}: {e}", binary.display());
            std::process::exit(2);
        }
    };
    println!(
        "alexa-proactive on a local Lambda Runtime API ({}), skill {skill_id}\n",
        api.address()
    );
    let mut failed_harness = false;
    for file in &files {
        let payload: Value = match std::fs::read_to_string(file)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                println!("{}\n  cannot read it: {e}\n", file.display());
                continue;
            }
        };
        match api.invoke(&payload, Duration::from_secs(30)).await {
            Ok(Outcome::Response(answer)) => {
                println!("{}  ->  answer", file.display());
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
                println!("{}  ->  invocation error {error_type}", file.display());
                println!("  {error_message}");
            }
            Err(e) => {
                println!("{}  ->  {e}", file.display());
                failed_harness = true;
            }
        }
        println!();
    }
    function.stop().await;
    println!("function log: {}", log.display());
    if failed_harness {
        std::process::exit(1);
    }
}
