//! Every sample in `events/` goes through the handler and gets the answer it documents.
//! A new sample without an expectation here fails the test, so the folder cannot rot.
//! Notifications go to the local Alexa sandbox, which must accept them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alexa_proactive::credentials::{ClientCredentials, Fixed, Redacted};
use alexa_proactive::{App, Config, Edges};
use serde_json::{json, Value};
use testkit::{project, sandbox};
use tokio::time::Instant;

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

enum Expect {
    /// A spoken answer containing the text; `Some(end)` checks shouldEndSession.
    Says(&'static str, Option<bool>),
    /// Launch without permission: the consent card.
    AsksPermission,
    /// `{"version":"1.0","response":{}}`.
    Acknowledged,
    /// NavigateHome: no speech, session ends.
    Leaves,
    /// The invocation fails with this errorType.
    Fails(&'static str),
    /// Every notification of the trigger is accepted by Alexa, in this many sends.
    Sent(usize),
}

fn expectations() -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    BTreeMap::from([
        ("launch.json", AsksPermission),
        ("launch-en-GB.json", AsksPermission),
        ("launch-sam-generated.json", AsksPermission),
        (
            "launch-notifications-on.json",
            Says("Notifications are on", Some(false)),
        ),
        (
            "launch-de-DE.json",
            Says("Willkommen bei Unwetterwarnungen", Some(false)),
        ),
        (
            "intent-help.json",
            Says("I send you a notification", Some(false)),
        ),
        ("intent-stop.json", Says("Goodbye.", Some(true))),
        ("intent-cancel.json", Says("Goodbye.", Some(true))),
        (
            "intent-fallback.json",
            Says("Sorry, I can't help with that", Some(false)),
        ),
        (
            "intent-unknown.json",
            Says("Sorry, I can't help with that", Some(false)),
        ),
        ("intent-navigate-home.json", Leaves),
        (
            "intent-test-alert.json",
            Says("a test alert is on its way", Some(true)),
        ),
        ("session-ended.json", Acknowledged),
        ("skill-event-subscription-changed.json", Acknowledged),
        ("skill-event-unsubscribed.json", Acknowledged),
        ("skill-event-enabled.json", Acknowledged),
        ("skill-event-disabled.json", Acknowledged),
        ("skill-event-permission-accepted.json", Acknowledged),
        ("skill-event-permission-changed.json", Acknowledged),
        ("wrong-skill-id.json", Fails("WrongSkillId")),
        ("sns-weather-alert.json", Sent(1)),
        ("eventbridge-weather-alert.json", Sent(1)),
        ("eventbridge-scheduled.json", Fails("NotConfigured")),
        // make run serves a tornado warning, then its emergency update beside it, then a
        // continuation to these three (examples/local); here no feed is configured.
        (
            "scheduled-poll-1-tornado-warning.json",
            Fails("NotConfigured"),
        ),
        (
            "scheduled-poll-2-emergency-beside-original.json",
            Fails("NotConfigured"),
        ),
        ("scheduled-poll-3-continuation.json", Fails("NotConfigured")),
        ("eventbridge-proactive-event.json", Sent(1)),
        ("eventbridge-invalid-alert.json", Fails("MalformedInput")),
        // Without a state table no area can be kept, and nobody of an area found.
        (
            "intent-set-zip-code.json",
            Says("can't remember an area", None),
        ),
        ("intent-my-area.json", Says("can't remember an area", None)),
        (
            "intent-forget-area.json",
            Says("can't remember an area", None),
        ),
        ("eventbridge-area-alert.json", Fails("NotConfigured")),
    ])
}

#[tokio::test]
async fn every_sample_event_gets_its_documented_answer() {
    let project = project!();
    let dir = project.root.join("events");
    let sandbox = sandbox::Sandbox::start(&project.sandbox, None).await;
    let config = Config::from_lookup(|name| match name {
        "ALEXA_SKILL_ID" => Some(SKILL_ID.into()),
        "ALEXA_API_URL" => Some(sandbox.api_url().to_owned()),
        "LWA_TOKEN_URL" => Some(sandbox.token_url().to_owned()),
        _ => None,
    })
    .unwrap();
    let credentials = Fixed(ClientCredentials {
        client_id: sandbox::CLIENT_ID.into(),
        client_secret: Redacted::new(sandbox::CLIENT_SECRET),
    });
    let edges = Edges::with_credentials(&config, Arc::new(credentials));
    let app = App::with_edges(config, edges);
    let expectations = expectations();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let expect = expectations
            .get(name.as_str())
            .unwrap_or_else(|| panic!("events/{name} has no expectation in tests/events.rs"));
        let payload: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"));
        let result = app
            .handle(payload, Instant::now() + Duration::from_secs(30))
            .await;
        match (expect, result) {
            (Expect::Fails(kind), Err(err)) => assert_eq!(err.error_type(), *kind, "{name}: {err}"),
            (Expect::Fails(kind), Ok(answer)) => panic!("{name}: expected {kind}, got {answer}"),
            (_, Err(err)) => panic!("{name}: unexpected error {err}"),
            (Expect::Sent(count), Ok(answer)) => {
                let results = answer["results"].as_array().expect("results");
                assert_eq!(results.len(), *count, "{name}: {answer}");
                for r in results {
                    assert_eq!(r["status"], "accepted", "{name}: {answer}");
                    assert_eq!(r["region"], "NA", "{name}: {answer}");
                }
            }
            (Expect::Acknowledged, Ok(answer)) => {
                assert_eq!(answer, json!({"version": "1.0", "response": {}}), "{name}")
            }
            (Expect::Leaves, Ok(answer)) => assert_eq!(
                answer,
                json!({"version": "1.0", "response": {"shouldEndSession": true}}),
                "{name}"
            ),
            (Expect::AsksPermission, Ok(answer)) => {
                assert_eq!(answer["version"], "1.0", "{name}");
                assert_eq!(
                    answer["response"]["card"]["type"], "AskForPermissionsConsent",
                    "{name}"
                );
                assert_eq!(answer["response"]["shouldEndSession"], true, "{name}");
                assert!(
                    answer["response"]["outputSpeech"]["text"].is_string(),
                    "{name}"
                );
            }
            (Expect::Says(text, end), Ok(answer)) => {
                assert_eq!(answer["version"], "1.0", "{name}");
                let speech = answer["response"]["outputSpeech"]["text"]
                    .as_str()
                    .unwrap_or_default();
                assert!(speech.contains(text), "{name}: {speech:?} lacks {text:?}");
                assert_eq!(
                    answer["response"]["outputSpeech"]["type"], "PlainText",
                    "{name}"
                );
                if let Some(end) = end {
                    assert_eq!(answer["response"]["shouldEndSession"], *end, "{name}");
                }
            }
        }
        seen.push(name);
    }
    seen.sort();
    let listed: Vec<&str> = expectations.keys().copied().collect();
    assert_eq!(seen, listed, "events/ and the expectations differ");
    // The three trigger samples and the test alert (a Unicast).
    let state = sandbox.state().await;
    assert_eq!(
        state["accepted"].as_array().map(Vec::len),
        Some(4),
        "{state}"
    );
    assert_eq!(state["refused"], json!([]), "{state}");
    sandbox.stop().await;
}
