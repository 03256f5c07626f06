//! Exactly-once, end to end: the built binary under a Lambda Runtime API, its secret and its
//! state table in a moto server, Alexa played by the alexa-sandbox, the weather feed served
//! from NWS-format fixtures on loopback.

use std::time::Duration;

use serde_json::{json, Value};
use testkit::events::{scheduled, sns_alert};
use testkit::feed::Mode;
use testkit::rig::{SKILL_ID, TABLE, WAIT};
use testkit::runtime_api::Outcome;
use testkit::{project, Rig, RigBuilder};

const USER: &str = "amzn1.ask.account.TESTUSER";

fn skill_event(kind: &str, timestamp: &str, body: Option<Value>) -> Value {
    let mut request = json!({"type": kind, "requestId": format!("amzn1.echo-api.request.{timestamp}"),
                             "timestamp": timestamp});
    if let Some(body) = body {
        request["body"] = body;
    }
    json!({"version": "1.0",
           "context": {"System": {"application": {"applicationId": SKILL_ID},
                                  "user": {"userId": USER},
                                  "apiEndpoint": "https://api.amazonalexa.com"}},
           "request": request})
}

fn subscribed(timestamp: &str, events: &[&str]) -> Value {
    let subscriptions: Vec<Value> = events.iter().map(|e| json!({"eventName": e})).collect();
    skill_event(
        "AlexaSkillEvent.ProactiveSubscriptionChanged",
        timestamp,
        Some(json!({ "subscriptions": subscriptions })),
    )
}

/// Everything, with the state table, one region (NA) and the feed serving poll-1.json.
fn polling_rig(name: &str) -> RigBuilder {
    Rig::builder(project!(), &format!("polling-{name}"))
        .regions("NA")
        .env("RUST_LOG", Some("info"))
}

fn statuses(answer: &Value) -> Vec<String> {
    let mut out: Vec<String> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("-").to_owned())
        .collect();
    out.sort();
    out
}

const TORNADO_NORMAN: &str = "There is a tornado alert for your area. Provided by NWS Norman OK.";
const STORM_TULSA: &str = "There is a thunder storm alert for your area. Provided by NWS Tulsa OK.";
const HURRICANE_NORMAN: &str =
    "There is a hurricane alert for your area. Provided by NWS Norman OK.";

#[tokio::test]
async fn polls_announce_each_alert_once() {
    let mut rig = polling_rig("polls").start().await;

    // First poll: of six alerts, the tornado and the thunderstorm warnings are announced.
    let first = rig.ok(&scheduled("tick-1")).await;
    assert_eq!(statuses(&first), ["accepted", "accepted"], "{first}");
    assert_eq!(
        first["feeds"][0]["skipped"],
        json!({"belowMinSeverity": 1, "otherEvent": 1, "notActual": 1, "cancel": 1}),
        "{first}"
    );
    assert_eq!(rig.spoken().await, [STORM_TULSA, TORNADO_NORMAN]);
    let seen = rig.feed().seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/alerts/active?area=OK");
    let agent = seen[0].user_agent.as_deref().unwrap_or_default();
    assert!(
        agent.starts_with("alexa-proactive/") && agent.contains(SKILL_ID),
        "{agent}"
    );
    // Both sends are recorded as sent, nothing else.
    let keys = rig.moto.keys(TABLE).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("sent#urn")), "{keys:?}");
    let item = rig.moto.get_item(TABLE, &keys[0]).await;
    assert_eq!(item["phase"]["S"], "sent", "{item}");
    assert!(item.get("holder").is_none(), "{item}");
    // The poll's figures went to CloudWatch as Embedded Metric Format lines of the log.
    let log = std::fs::read_to_string(rig.log()).unwrap_or_default();
    let poll_metrics: Vec<Value> = log
        .lines()
        .filter(|l| l.contains("\"_aws\"") && l.contains("AlertsSeen"))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(poll_metrics.len(), 1, "{}", rig.log().display());
    assert_eq!(poll_metrics[0]["AlertsAnnounced"], 2, "{}", poll_metrics[0]);
    assert_eq!(poll_metrics[0]["AlertsSeen"], 6, "{}", poll_metrics[0]);
    // One heartbeat per poll: the template alarms when they stop.
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"_aws\"") && l.contains("\"Polls\":1"))
            .count(),
        1,
        "{}",
        rig.log().display()
    );
    assert!(
        log.lines().any(|l| l.contains("\"_aws\"")
            && l.contains("\"Schema\":\"AMAZON.WeatherAlert.Activated\"")
            && l.contains("\"Accepted\":")),
        "per-schema notification metrics"
    );
    // Kept a week past the alert's end, not only as long as Alexa keeps the event (24 h).
    let epoch = |field: &str| -> i64 { item[field]["N"].as_str().unwrap().parse().unwrap() };
    let week = 7 * 24 * 3600;
    assert!(
        epoch("expireAt") >= epoch("eventExpiry") + week,
        "expireAt {} must be a week after eventExpiry {}",
        epoch("expireAt"),
        epoch("eventExpiry")
    );

    // Second poll, same process: the feed answers 304 and nothing is read or sent.
    let second = rig.ok(&scheduled("tick-2")).await;
    assert_eq!(second["feeds"][0]["changed"], false, "{second}");
    let seen = rig.feed().seen();
    assert_eq!(seen[1].status, 304);
    assert!(seen[1].if_none_match.is_some());

    // A new process has no HTTP cache: it reads the whole feed, and the state table says
    // each event's places heard it.
    rig.spawn();
    rig.functions.remove(0).stop().await;
    let third = rig.ok(&scheduled("tick-3")).await;
    assert!(statuses(&third).is_empty(), "{third}");
    assert_eq!(third["feeds"][0]["skipped"]["alreadyTold"], 2, "{third}");
    assert_eq!(rig.feed().seen()[2].status, 200);
    assert_eq!(
        rig.event_requests().await,
        2,
        "no request reached Alexa again"
    );

    // The tornado warning is updated, the thunderstorm one cancelled, a hurricane is new.
    rig.feed().serve(&rig.project.fixture("poll-2.json"));
    let fourth = rig.ok(&scheduled("tick-4")).await;
    assert_eq!(statuses(&fourth), ["accepted"], "{fourth}");
    assert_eq!(
        fourth["feeds"][0]["skipped"],
        json!({"cancel": 1, "alreadyTold": 1}),
        "{fourth}"
    );
    // An update that names only the previous update is recognised as well.
    rig.feed().serve(&rig.project.fixture("poll-3.json"));
    let fifth = rig.ok(&scheduled("tick-5")).await;
    assert!(statuses(&fifth).is_empty(), "{fifth}");
    assert_eq!(
        fifth["feeds"][0]["skipped"],
        json!({"alreadyTold": 2}),
        "{fifth}"
    );
    assert_eq!(
        rig.spoken().await,
        [HURRICANE_NORMAN, STORM_TULSA, TORNADO_NORMAN]
    );
    assert_eq!(rig.event_requests().await, 3);
    // The tornado warning becomes a tornado emergency (damage threat CATASTROPHIC, tornado
    // observed): it raises the danger, so it is announced again, once.
    rig.feed().serve(&rig.project.fixture("poll-4.json"));
    let sixth = rig.ok(&scheduled("tick-6")).await;
    assert_eq!(statuses(&sixth), ["accepted"], "{sixth}");
    assert_eq!(sixth["feeds"][0]["escalations"], 1, "{sixth}");
    let again = rig.ok(&scheduled("tick-7")).await;
    assert_eq!(again["feeds"][0]["changed"], false, "{again}");
    rig.spawn();
    rig.functions.remove(0).stop().await;
    let fresh = rig.ok(&scheduled("tick-8")).await;
    assert!(
        statuses(&fresh).is_empty(),
        "a new process finds the escalation recorded: {fresh}"
    );
    assert_eq!(
        rig.spoken().await,
        [
            HURRICANE_NORMAN,
            STORM_TULSA,
            TORNADO_NORMAN,
            TORNADO_NORMAN
        ]
    );
    assert_eq!(rig.event_requests().await, 4);
    rig.finish().await;
}

#[tokio::test]
async fn a_redelivered_sns_message_sends_once() {
    let mut rig = polling_rig("sns").start().await;
    let first = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&first), ["accepted"], "{first}");
    let again = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&again), ["alreadySent"], "{again}");
    assert!(again["results"][0]["sentAt"].is_string(), "{again}");
    // Not even a 409: the second delivery never reached Alexa.
    assert_eq!(rig.event_requests().await, 1);
    // A different message is a different notification.
    let other = rig.ok(&sns_alert("msg-2")).await;
    assert_eq!(statuses(&other), ["accepted"], "{other}");
    rig.finish().await;
}

#[tokio::test]
async fn a_failed_send_releases_its_claim_and_the_retry_sends_once() {
    let mut rig = polling_rig("retry").start().await;
    rig.sandbox
        .fault(json!({"target": "events", "status": 503, "times": 10}))
        .await;
    let (kind, message) = rig.fail(&sns_alert("msg-1")).await;
    assert_eq!(kind, "SendFailed", "{message}");
    assert!(
        rig.moto.keys(TABLE).await.is_empty(),
        "the claim was released"
    );
    rig.sandbox.reset().await;

    // Lambda's retry of the same event.
    let retry = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&retry), ["accepted"], "{retry}");
    let again = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&again), ["alreadySent"], "{again}");
    assert_eq!(rig.spoken().await.len(), 1);
    rig.finish().await;
}

#[tokio::test]
async fn two_concurrent_invocations_of_one_trigger_send_once() {
    let mut rig = polling_rig("concurrent").start().await;
    rig.spawn();
    // The first send is slow, so the second invocation arrives while it is in flight.
    rig.sandbox
        .fault(json!({"target": "events", "delayMs": 1500, "times": 1}))
        .await;
    let event = sns_alert("msg-1");
    let a = rig.api.enqueue(&event, WAIT);
    let b = rig.api.enqueue(&event, WAIT);
    let (a, b) = (a.await.expect("answer a"), b.await.expect("answer b"));
    let mut outcomes = [a, b];
    outcomes.sort_by_key(|o| matches!(o, Outcome::Error { .. }));
    match &outcomes {
        [Outcome::Response(sent), Outcome::Error {
            error_type,
            error_message,
        }] => {
            assert_eq!(statuses(sent), ["accepted"], "{sent}");
            assert_eq!(error_type, "SendInProgress", "{error_message}");
            assert!(
                error_message.contains("another invocation"),
                "{error_message}"
            );
        }
        other => panic!("expected one send and one SendInProgress, got {other:?}"),
    }
    // Lambda retries the failed one: it finds the notification sent.
    let retry = rig.ok(&event).await;
    assert_eq!(statuses(&retry), ["alreadySent"], "{retry}");
    assert_eq!(rig.event_requests().await, 1);
    rig.finish().await;
}

#[tokio::test]
async fn out_of_order_subscription_events_keep_the_newest_state() {
    let mut rig = polling_rig("users").start().await;
    let key = format!("user#{USER}");
    let weather = "AMAZON.WeatherAlert.Activated";
    let empty = json!({"version": "1.0", "response": {}});
    assert_eq!(
        rig.ok(&subscribed("2026-11-25T10:00:02Z", &[weather]))
            .await,
        empty
    );
    // Older, arriving later: ignored.
    assert_eq!(
        rig.ok(&subscribed("2026-11-25T10:00:01Z", &[])).await,
        empty
    );
    let item = rig.moto.get_item(TABLE, &key).await;
    assert_eq!(
        item["subscriptions"],
        json!({"L": [{"S": weather}]}),
        "{item}"
    );
    assert_eq!(item["enabled"], json!({"BOOL": true}), "{item}");

    // Disabling removes the subscriptions; an older event cannot bring them back.
    rig.ok(&skill_event(
        "AlexaSkillEvent.SkillDisabled",
        "2026-11-25T10:00:03Z",
        None,
    ))
    .await;
    rig.ok(&subscribed("2026-11-25T10:00:02.500Z", &[weather]))
        .await;
    let item = rig.moto.get_item(TABLE, &key).await;
    assert!(item.get("subscriptions").is_none(), "{item}");
    assert_eq!(item["enabled"], json!({"BOOL": false}), "{item}");
    assert!(
        item["expireAt"]["N"].is_string(),
        "a disabled user's record expires: {item}"
    );

    // Enabled again, later: a newer subscription event applies.
    rig.ok(&skill_event(
        "AlexaSkillEvent.SkillEnabled",
        "2026-11-25T10:00:04Z",
        None,
    ))
    .await;
    rig.ok(&subscribed("2026-11-25T10:00:05Z", &[weather]))
        .await;
    let item = rig.moto.get_item(TABLE, &key).await;
    assert_eq!(
        item["subscriptions"],
        json!({"L": [{"S": weather}]}),
        "{item}"
    );
    assert!(item.get("expireAt").is_none(), "{item}");

    // Each kind of fact by its own time: SkillEnabled delivered before an older subscription
    // event does not make that one stale (the user would never hear anything).
    rig.ok(&skill_event(
        "AlexaSkillEvent.SkillEnabled",
        "2026-11-25T10:00:09Z",
        None,
    ))
    .await;
    rig.ok(&subscribed("2026-11-25T10:00:08Z", &[])).await;
    let item = rig.moto.get_item(TABLE, &key).await;
    assert_eq!(item["subscriptions"], json!({"L": []}), "{item}");
    assert_eq!(item["enabled"], json!({"BOOL": true}), "{item}");

    // A skill event without its timestamp cannot be ordered: it names the field.
    let mut no_time = subscribed("x", &[weather]);
    no_time["request"]
        .as_object_mut()
        .unwrap()
        .remove("timestamp");
    let (kind, message) = rig.fail(&no_time).await;
    assert_eq!(kind, "MalformedInput");
    assert!(message.contains("`request.timestamp`"), "{message}");
    rig.finish().await;
}

#[tokio::test]
async fn a_feed_that_is_down_slow_or_garbage_fails_the_poll_and_marks_nothing() {
    let mut rig = polling_rig("feed-faults").start().await;
    rig.feed().set_mode(Mode::Status(503));
    let (kind, message) = rig.fail(&scheduled("t1")).await;
    assert_eq!(kind, "FeedUnavailable");
    assert!(
        message.contains("HTTP 503") && message.contains("WEATHER_FEED_URL"),
        "{message}"
    );

    rig.feed()
        .set_mode(Mode::Garbage("<html>Service Unavailable</html>"));
    let (kind, message) = rig.fail(&scheduled("t2")).await;
    assert_eq!(kind, "FeedUnavailable");
    assert!(message.contains("not JSON"), "{message}");

    rig.feed().set_mode(Mode::Garbage(r#"{"type": "Feature"}"#));
    let (_, message) = rig.fail(&scheduled("t3")).await;
    assert!(message.contains("FeatureCollection"), "{message}");

    // Slow: the wait is bounded by half the invocation's time (here 4 s of deadline).
    rig.feed().set_mode(Mode::Slow(Duration::from_secs(8)));
    let started = std::time::Instant::now();
    let outcome = rig
        .api
        .invoke(&scheduled("t4"), Duration::from_secs(4))
        .await
        .expect("answer");
    let waited = started.elapsed();
    match outcome {
        Outcome::Error {
            error_type,
            error_message,
        } => {
            assert_eq!(error_type, "FeedUnavailable");
            assert!(
                error_message.contains("did not answer within"),
                "{error_message}"
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        waited < Duration::from_secs(8),
        "the poll gave up before the feed answered ({waited:?})"
    );

    assert_eq!(rig.event_requests().await, 0);
    assert!(rig.moto.keys(TABLE).await.is_empty());
    // And once the feed is back, the alerts are announced: nothing was marked on the way.
    rig.feed().set_mode(Mode::Serve);
    let answer = rig.ok(&scheduled("t5")).await;
    assert_eq!(statuses(&answer), ["accepted", "accepted"], "{answer}");
    rig.finish().await;
}

#[tokio::test]
async fn a_feed_that_is_not_there_fails_with_what_to_fix() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "http://{}/alerts/active?area=OK",
            listener.local_addr().unwrap()
        )
    };
    let mut rig = polling_rig("feed-down")
        .env("WEATHER_FEED_URL", Some(&closed))
        .start()
        .await;
    let (kind, message) = rig.fail(&scheduled("t1")).await;
    assert_eq!(kind, "FeedUnavailable");
    assert!(
        message.contains("could not be reached") && message.contains(&closed),
        "{message}"
    );
    rig.finish().await;
}

#[tokio::test]
async fn without_a_state_table_polls_refuse_and_triggers_still_send() {
    let mut rig = polling_rig("stateless").without_state_table().start().await;
    let (kind, message) = rig.fail(&scheduled("t1")).await;
    assert_eq!(kind, "NotConfigured");
    assert!(
        message.contains("STATE_TABLE") && message.contains("again"),
        "{message}"
    );
    assert!(rig.feed().seen().is_empty(), "the feed is not even read");
    // Triggers work; a redelivery falls back to Alexa's 409.
    let first = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&first), ["accepted"], "{first}");
    let again = rig.ok(&sns_alert("msg-1")).await;
    assert_eq!(statuses(&again), ["duplicate"], "{again}");
    rig.finish().await;
}

#[tokio::test]
async fn a_missing_state_table_fails_before_anything_is_sent() {
    let mut rig = polling_rig("no-table")
        .env("STATE_TABLE", Some("no-such-table"))
        .start()
        .await;
    let (kind, message) = rig.fail(&sns_alert("msg-1")).await;
    assert_eq!(kind, "StateUnavailable");
    assert!(
        message.contains("\"no-such-table\"") && message.contains("does not exist"),
        "{message}"
    );
    assert_eq!(rig.event_requests().await, 0);
    rig.finish().await;
}

#[tokio::test]
async fn a_poll_without_the_time_for_one_send_fails_naming_the_timeout() {
    let mut rig = polling_rig("deferred")
        .env("WEATHER_FEED_CONTACT", Some("weather@example.com"))
        .start()
        .await;
    // 2 s left: less than one send, its records and the answer need (2.8 s). Nothing is
    // claimed, sent or recorded, the feed is not remembered as handled, and the invocation
    // fails so that the too-short timeout shows (deferring every time would hide it).
    let Some(Outcome::Error {
        error_type,
        error_message,
    }) = rig
        .invoke(&scheduled("tick-1"), Duration::from_secs(2))
        .await
    else {
        panic!("the poll must fail")
    };
    assert_eq!(error_type, "TimeoutTooShort", "{error_message}");
    assert!(
        error_message.contains("2 announcement(s)") && error_message.contains("Timeout"),
        "{error_message}"
    );
    assert_eq!(rig.event_requests().await, 0);
    // The next poll has the time: it fetches the whole feed again and sends both.
    let next = rig.ok(&scheduled("tick-2")).await;
    assert_eq!(next["feeds"][0]["status"], 200, "{next}");
    assert_eq!(next["feeds"][0]["deferred"], 0, "{next}");
    assert_eq!(statuses(&next), ["accepted", "accepted"], "{next}");
    let agent = rig.feed().seen()[0].user_agent.clone().unwrap_or_default();
    assert!(agent.ends_with("; weather@example.com)"), "{agent}");
    rig.finish().await;
}
