//! Sending, end to end: the built binary under a Lambda Runtime API, its secret in a moto
//! server, Alexa played by the alexa-sandbox binary. Every test also checks that neither the
//! client secret nor an access token shows up in the function's log or answers.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::events::{eventbridge_alert as tornado, weather_alert as alert};
use testkit::moto::AwsFault;
use testkit::rig::{secret_json, SECRET_NAME};
use testkit::runtime_api::Outcome;
use testkit::{project, Rig, RigBuilder};

const GET_SECRET: &str = "secretsmanager.GetSecretValue";
const TORNADO: &str =
    "There is a tornado alert for your area. Provided by National Weather Service.";

/// The function with its secret in moto and Alexa played by the sandbox, regions NA and EU;
/// no state table, no weather feed.
fn sending_rig(name: &str) -> RigBuilder {
    Rig::builder(project!(), &format!("sending-{name}"))
        .without_state_table()
        .without_feed()
}

fn proactive_event(id: &str, detail: Value) -> Value {
    let mut event = alert(id, detail);
    event["detail-type"] = json!("ProactiveEvent");
    event
}

fn sample(name: &str) -> Value {
    project!().event(name)
}

fn statuses(results: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = results
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap_or("-").to_owned(),
                r["status"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pair(region: &str, status: &str) -> (String, String) {
    (region.to_owned(), status.to_owned())
}

#[tokio::test]
async fn triggers_reach_every_region_and_a_redelivery_is_not_sent_twice() {
    let mut rig = sending_rig("triggers").start().await;
    let results = rig.send(&tornado("nws-1")).await;
    assert_eq!(
        statuses(&results),
        vec![pair("EU", "accepted"), pair("NA", "accepted")]
    );
    assert!(results.iter().all(|r| r["requestId"]
        .as_str()
        .is_some_and(|id| id.starts_with("sandbox-"))));

    let state = rig.sandbox.state().await;
    let spoken: Vec<&str> = state["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["spoken"].as_array().unwrap().iter())
        .filter(|s| s["locale"] == "en-US")
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert_eq!(spoken, vec![TORNADO, TORNADO], "{state}");

    // EventBridge redelivers: same id, same referenceId, Alexa says 409, nothing is sent twice.
    let again = rig.send(&tornado("nws-1")).await;
    assert_eq!(
        statuses(&again),
        vec![pair("EU", "duplicate"), pair("NA", "duplicate")]
    );
    assert_eq!(again[0]["referenceId"], results[0]["referenceId"]);

    for name in [
        "sns-weather-alert.json",
        "eventbridge-weather-alert.json",
        "eventbridge-proactive-event.json",
    ] {
        let results = rig.send(&sample(name)).await;
        assert_eq!(
            statuses(&results),
            vec![pair("EU", "accepted"), pair("NA", "accepted")],
            "{name}"
        );
    }
    let state = rig.sandbox.state().await;
    assert_eq!(
        state["accepted"].as_array().map(Vec::len),
        Some(8),
        "{state}"
    );
    assert_eq!(state["duplicates"], 2, "{state}");
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn a_hundred_alerts_cost_one_secret_read_and_one_token() {
    let mut rig = sending_rig("hundred")
        .env("RUST_LOG", Some("info"))
        .start()
        .await;
    // A launch first: answering Alexa must not read the secret.
    let launch = rig.answer(&sample("launch.json")).await;
    assert!(matches!(launch, Outcome::Response(_)), "{launch:?}");
    assert_eq!(rig.moto.count(GET_SECRET), 0);
    for i in 0..100 {
        let results = rig.send(&tornado(&format!("load-{i}"))).await;
        assert_eq!(results.len(), 2);
    }
    let state = rig.sandbox.state().await;
    assert_eq!(rig.moto.count(GET_SECRET), 1, "secret reads");
    assert_eq!(state["tokenRequests"], 1, "{}", state["tokenRequests"]);
    assert_eq!(
        state["eventRequestsByRegion"],
        json!({"NA": 100, "EU": 100})
    );
    assert_eq!(state["accepted"].as_array().map(Vec::len), Some(200));
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn every_schema_is_accepted_and_an_invalid_one_is_never_sent() {
    let mut rig = sending_rig("schemas").start().await;
    let examples: Vec<Value> =
        serde_json::from_str(include_str!("fixtures/schema-examples.json")).unwrap();
    assert_eq!(examples.len(), 8);
    for (i, example) in examples.iter().enumerate() {
        let name = example["name"].as_str().unwrap().to_owned();
        let results = rig
            .send(&proactive_event(&format!("schema-{i}"), example.clone()))
            .await;
        assert_eq!(
            statuses(&results),
            vec![pair("EU", "accepted"), pair("NA", "accepted")],
            "{name}"
        );

        // The same request with its payload's first field holding a wrong type.
        let mut broken = example.clone();
        let payload = broken["payload"].as_object_mut().unwrap();
        let first = payload.keys().next().unwrap().clone();
        payload.insert(first.clone(), json!(42));
        let (kind, message) = rig
            .fail(&proactive_event(&format!("broken-{i}"), broken))
            .await;
        assert_eq!(kind, "MalformedInput", "{name}: {message}");
        assert!(
            message.contains(&format!("detail.payload.{first}")),
            "{name}: {message}"
        );
    }
    // A closed enumeration lists what it allows.
    let (kind, message) = rig
        .fail(&alert(
            "bad-enum",
            json!({"alertType": "TSUNAMI", "source": "NWS"}),
        ))
        .await;
    assert_eq!(kind, "MalformedInput");
    assert!(
        message.contains("TORNADO, HURRICANE, SNOW_STORM, THUNDER_STORM"),
        "{message}"
    );

    let state = rig.sandbox.state().await;
    assert_eq!(
        state["eventRequests"], 16,
        "only the valid ones were sent: {state}"
    );
    assert_eq!(state["refused"], json!([]), "{state}");
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn transient_answers_are_retried_and_retry_after_is_honoured() {
    let mut rig = sending_rig("transient").regions("NA").start().await;
    rig.sandbox
        .fault(json!({"target": "token", "status": 503}))
        .await;
    rig.sandbox
        .fault(json!({"target": "events", "status": 429, "retryAfter": "1"}))
        .await;
    let started = Instant::now();
    let results = rig.send(&tornado("t-429")).await;
    assert_eq!(statuses(&results), vec![pair("NA", "accepted")]);
    assert_eq!(results[0]["attempts"], 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );

    for status in [500, 503] {
        rig.sandbox
            .fault(json!({"target": "events", "status": status, "times": 2}))
            .await;
        let results = rig.send(&tornado(&format!("t-{status}"))).await;
        assert_eq!(statuses(&results), vec![pair("NA", "accepted")], "{status}");
        assert_eq!(results[0]["attempts"], 3, "{status}");
    }
    let state = rig.sandbox.state().await;
    assert_eq!(
        state["tokenRequests"], 2,
        "one 503, then one token for everything: {state}"
    );
    assert_eq!(state["accepted"].as_array().map(Vec::len), Some(3));
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_invocation_and_lambdas_retry_sends_once() {
    let mut rig = sending_rig("exhausted").start().await;
    rig.sandbox
        .fault(json!({"target": "events", "status": 503, "times": 5, "region": "NA"}))
        .await;
    let (kind, message) = rig.fail(&tornado("x-1")).await;
    assert_eq!(kind, "SendFailed");
    assert!(
        message.contains("1 of 2 send(s) not delivered"),
        "{message}"
    );
    assert!(message.contains("gave up after 5 attempts"), "{message}");
    assert!(message.contains("x-amzn-RequestId sandbox-"), "{message}");

    assert!(message.contains("in NA"), "{message}");

    // Lambda's retry: EU, which got through, answers 409; NA is sent now.
    let results = rig.send(&tornado("x-1")).await;
    assert_eq!(
        statuses(&results),
        vec![pair("EU", "duplicate"), pair("NA", "accepted")]
    );
    let state = rig.sandbox.state().await;
    assert_eq!(
        state["accepted"].as_array().map(Vec::len),
        Some(2),
        "one per region: {state}"
    );

    // A permanent refusal is not retried and carries Alexa's message and request id.
    rig.sandbox
        .fault(json!({"target": "events", "status": 400}))
        .await;
    let (kind, message) = rig.fail(&tornado("x-2")).await;
    assert_eq!(kind, "SendFailed");
    assert!(
        message
            .contains("refused: answer 400 (code 400: sandbox fault), x-amzn-RequestId sandbox-"),
        "{message}"
    );
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn a_slow_answer_past_the_deadline_fails_before_lambda_would_kill_the_function() {
    let mut rig = sending_rig("slow").regions("NA").start().await;
    rig.sandbox
        .fault(json!({"target": "events", "delayMs": 8000, "times": 3}))
        .await;
    let outcome = rig
        .answer_within(&tornado("slow-1"), Duration::from_secs(3))
        .await;
    let Outcome::Error {
        error_type,
        error_message,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(error_type, "SendFailed");
    assert!(error_message.contains("deadline"), "{error_message}");
    assert!(
        error_message.contains("no answer in time"),
        "{error_message}"
    );
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn a_revoked_token_and_a_rotated_secret_are_recovered_from_once() {
    const ROTATED: &str = "rotated-client-secret-Qw77";
    let mut rig = sending_rig("rotation").regions("NA").start().await;
    rig.send(&tornado("r-1")).await;

    // 401 from the events API: one new token, then delivered.
    rig.sandbox.control("revoke-tokens", json!({})).await;
    let results = rig.send(&tornado("r-2")).await;
    assert_eq!(statuses(&results), vec![pair("NA", "accepted")]);
    assert_eq!(rig.sandbox.state().await["tokenRequests"], 2);
    assert_eq!(rig.moto.count(GET_SECRET), 1);

    // The secret is rotated: the token endpoint says invalid_client, the secret is read again.
    rig.moto
        .put_secret_value(SECRET_NAME, &secret_json(ROTATED))
        .await;
    rig.sandbox
        .control("rotate", json!({"clientSecret": ROTATED}))
        .await;
    rig.sandbox.control("revoke-tokens", json!({})).await;
    let results = rig.send(&tornado("r-3")).await;
    assert_eq!(statuses(&results), vec![pair("NA", "accepted")]);
    assert_eq!(rig.moto.count(GET_SECRET), 2, "read again once");
    assert_eq!(rig.sandbox.state().await["tokenRequests"], 4);

    // Credentials that stay wrong fail clearly, without quoting them.
    rig.sandbox
        .control("rotate", json!({"clientSecret": "yet-another"}))
        .await;
    rig.sandbox.control("revoke-tokens", json!({})).await;
    let (kind, message) = rig.fail(&tornado("r-4")).await;
    assert_eq!(kind, "SendFailed");
    assert!(
        message.contains("refused the client credentials with 401 invalid_client"),
        "{message}"
    );
    rig.finish_clean(&[ROTATED, "yet-another"]).await;
}

#[tokio::test]
async fn a_unicast_to_an_unsubscribed_user_is_reported_not_retried() {
    const USER: &str = "amzn1.ask.account.AHVVDYK7EAEXAMPLEUSER";
    let mut rig = sending_rig("unicast").start().await;
    let detail = json!({"alertType": "SNOW_STORM", "source": "NWS", "id": "u-1", "user": USER, "region": "EU"});
    let results = rig.send(&alert("u-1", detail.clone())).await;
    assert_eq!(
        statuses(&results),
        vec![pair("EU", "accepted")],
        "a Unicast goes to one region"
    );

    rig.sandbox
        .control("unsubscribe", json!({"user": USER}))
        .await;
    let mut later = detail;
    later["id"] = json!("u-2");
    let results = rig.send(&alert("u-2", later)).await;
    assert_eq!(statuses(&results), vec![pair("EU", "notSubscribed")]);
    assert!(results[0]["error"]
        .as_str()
        .unwrap()
        .contains("notifications"));
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn a_cold_test_alert_answers_alexa_in_time_when_secrets_manager_is_slow() {
    let mut rig = sending_rig("test-alert-slow-secret").start().await;
    rig.moto.fail(
        "secretsmanager",
        AwsFault::Slow(Duration::from_secs(15)),
        u32::MAX,
    );
    let started = Instant::now();
    // Lambda's own deadline is far; the skill keeps to what Alexa waits for.
    let Outcome::Response(answer) = rig
        .answer_within(&sample("intent-test-alert.json"), Duration::from_secs(20))
        .await
    else {
        panic!("no answer")
    };
    let took = started.elapsed();
    let text = answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("try again later"), "{answer}");
    println!("slow Secrets Manager: the test alert answered after {took:?}");
    // The skill's budget for a send Alexa waits on is 6 s, and the secret read ends before it:
    // cut at that deadline, or sooner by the AWS call's own bounds (2 s an attempt, and no
    // retry whose random pause would end past 6 s), whichever comes first.
    assert!(
        took < Duration::from_secs(7),
        "answered after {took:?}; Alexa gives up after 8 s"
    );
    let log = std::fs::read_to_string(rig.log()).unwrap_or_default();
    assert!(
        log.contains("could not be reached to read secret")
            && (log.contains("no answer before the invocation's deadline")
                || log.contains("no answer in time")),
        "the read was not cut: {}",
        rig.log().display()
    );
    rig.moto.clear_faults();
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn the_test_alert_intent_sends_a_unicast_and_says_so() {
    const USER: &str = "amzn1.ask.account.AHVVDYK7EAEXAMPLEUSER";
    let mut rig = sending_rig("test-alert").start().await;
    let Outcome::Response(answer) = rig.answer(&sample("intent-test-alert.json")).await else {
        panic!("no answer")
    };
    let text = answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("on its way"), "{answer}");
    let state = rig.sandbox.state().await;
    let accepted = &state["accepted"][0];
    assert_eq!(accepted["audience"], USER, "{state}");
    assert_eq!(
        accepted["region"], "NA",
        "the region of the request's apiEndpoint"
    );
    assert_eq!(
        state["eventRequests"], 1,
        "a Unicast goes to one region: {state}"
    );
    assert!(accepted["spoken"][0]["text"]
        .as_str()
        .unwrap()
        .contains("thunder storm alert"));

    rig.sandbox
        .control("unsubscribe", json!({"user": USER}))
        .await;
    let mut again = sample("intent-test-alert.json");
    again["request"]["requestId"] = json!("amzn1.echo-api.request.0001");
    let Outcome::Response(answer) = rig.answer(&again).await else {
        panic!("no answer")
    };
    let text = answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("notifications are off"), "{answer}");
    assert_eq!(
        answer["response"]["card"]["type"],
        "AskForPermissionsConsent"
    );
    rig.finish_clean(&[]).await;
}

#[tokio::test]
async fn a_missing_or_malformed_secret_is_named() {
    let mut rig = sending_rig("secret-errors")
        .env("ALEXA_CREDENTIALS_SECRET", Some("alexa/absent"))
        .start()
        .await;
    let (kind, message) = rig.fail(&tornado("s-1")).await;
    assert_eq!(kind, "SendFailed");
    assert!(message.contains("secret \"alexa/absent\""), "{message}");
    assert!(message.contains("does not exist"), "{message}");
    rig.finish_clean(&[]).await;

    let mut rig = sending_rig("secret-malformed").start().await;
    rig.moto
        .put_secret_value(
            SECRET_NAME,
            "{\"clientId\": \"x\", \"secret\": \"s3cr3t-typo\"}",
        )
        .await;
    let (_, message) = rig.fail(&tornado("s-2")).await;
    assert!(message.contains("key clientSecret is missing"), "{message}");
    rig.finish_clean(&["s3cr3t-typo"]).await;
}
