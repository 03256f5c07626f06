//! The function with everything it talks to, all on loopback: the built binary under the
//! Runtime API emulator, its secret and state table in moto (behind its fault proxy), Alexa played
//! by the alexa-sandbox, the weather feed serving poll-1.json. Used by the fault, bad-input,
//! load and security suites.
#![allow(dead_code)] // each test binary uses a different part of this helper

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::feed::FeedServer;
use crate::moto::Moto;
use crate::runtime_api::{Function, Outcome, RuntimeApi};
use crate::sandbox::{self, Sandbox};

pub const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
pub const SECRET_NAME: &str = "alexa/test-credentials";
pub const TABLE: &str = "alexa-proactive-state";
pub const REGIONS: [&str; 2] = ["EU", "NA"];

pub struct Rig {
    pub moto: Moto,
    pub sandbox: Sandbox,
    pub feed: FeedServer,
    pub api: RuntimeApi,
    pub function: Function,
    pub log: PathBuf,
    /// Every answer and error the function gave, for the never-leaks check.
    pub said: Vec<String>,
}

pub fn secret_json(client_secret: &str) -> String {
    json!({"clientId": sandbox::CLIENT_ID, "clientSecret": client_secret}).to_string()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/nws")
        .join(name)
}

impl Rig {
    /// Everything, regions NA and EU, with the state table; `env` overrides the defaults.
    pub async fn start(name: &str, env: &[(&str, Option<&str>)]) -> Rig {
        let moto = Moto::start().await;
        moto.create_secret(SECRET_NAME, &secret_json(sandbox::CLIENT_SECRET))
            .await;
        moto.create_state_table(TABLE).await;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let sandbox = Sandbox::start(Some(&dir.join(format!("{name}-sandbox.log")))).await;
        let feed = FeedServer::start(&fixture("poll-1.json")).await;
        let api = RuntimeApi::start().await.expect("runtime API");
        let log = dir.join(format!("{name}-function.log"));
        let mut vars = sandbox.function_env(SKILL_ID, SECRET_NAME, moto.endpoint());
        vars.extend_from_slice(&[
            ("STATE_TABLE", Some(TABLE)),
            ("WEATHER_FEED_URL", Some(feed.url())),
            ("ALEXA_REGIONS", Some("NA,EU")),
            ("RUST_LOG", Some("debug")),
        ]);
        // Later entries win.
        vars.extend_from_slice(env);
        let function = Function::spawn(
            Path::new(env!("CARGO_BIN_EXE_alexa-proactive")),
            &api,
            &vars,
            Some(&log),
        )
        .expect("the function starts");
        Rig {
            moto,
            sandbox,
            feed,
            api,
            function,
            log,
            said: Vec::new(),
        }
    }

    /// Invokes with a deadline `budget` from now; `None` when no answer came within 5 s more
    /// (Lambda would have killed the function).
    pub async fn invoke(&mut self, payload: &Value, budget: Duration) -> Option<Outcome> {
        let answer = self.api.enqueue(payload, budget);
        let outcome = tokio::time::timeout(budget + Duration::from_secs(5), answer)
            .await
            .ok()
            .and_then(Result::ok);
        match &outcome {
            Some(Outcome::Response(answer)) => self.said.push(answer.to_string()),
            Some(Outcome::Error {
                error_type,
                error_message,
            }) => self.said.push(format!("{error_type}: {error_message}")),
            None => {}
        }
        outcome
    }

    /// Per (region, referenceId, audience): how many times Alexa accepted it.
    pub async fn deliveries(&self) -> HashMap<(String, String, String), u32> {
        let state = self.sandbox.state().await;
        let mut counts = HashMap::new();
        for accepted in state["accepted"].as_array().into_iter().flatten() {
            let key = (
                accepted["region"].as_str().unwrap_or("-").to_owned(),
                accepted["referenceId"].as_str().unwrap_or("-").to_owned(),
                accepted["audience"].as_str().unwrap_or("-").to_owned(),
            );
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    /// Re-sends Alexa refused as already accepted (409): harmless, but counted.
    pub async fn refused_repeats(&self) -> u64 {
        self.sandbox.state().await["duplicates"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Lines of the function's log and everything it answered that contain a client secret or
    /// an access token (the sandbox's tokens all start with `Atza|`).
    pub fn leaks(&self, secrets: &[&str]) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .map(str::to_owned)
            .chain(self.said.iter().cloned())
            .filter(|text| {
                text.contains("Atza|")
                    || secrets
                        .iter()
                        .chain([&sandbox::CLIENT_SECRET])
                        .any(|s| text.contains(s))
            })
            .collect()
    }

    pub fn alive(&mut self) -> bool {
        self.function.exited().is_none()
    }

    /// Resident memory of the function process, from /proc (KiB).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.function.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub async fn stop(self) {
        self.function.stop().await;
        self.feed.stop();
        self.sandbox.stop().await;
        self.moto.stop().await;
    }
}

/// An SNS-delivered weather alert; `message_id` is its referenceId.
pub fn sns_alert(message_id: &str) -> Value {
    let message = json!({"alertType": "TORNADO", "source": "National Weather Service"});
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alerts:1",
        "Sns": {"Type": "Notification", "MessageId": message_id,
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Subject": null,
                "Message": message.to_string(), "Timestamp": "2026-11-25T10:00:00.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://x",
                "UnsubscribeUrl": "https://x", "MessageAttributes": {}}}]})
}

/// The scheduled rule's event: a poll of the feed.
pub fn scheduled(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/alexa-proactive-poll"],
           "detail": {}})
}

/// An EventBridge weather alert with this id.
pub fn eventbridge_alert(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "WeatherAlert", "source": "com.example.weather",
           "account": "123456789012", "time": "2026-11-24T18:00:00Z", "region": "us-east-1",
           "resources": [], "detail": {"alertType": "TORNADO", "source": "National Weather Service", "id": id}})
}
