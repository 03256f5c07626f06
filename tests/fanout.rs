//! The fan-out end to end: the built binary under the Runtime API emulator, its state table
//! and its fan-out queue in moto (DynamoDB and SQS), Lambda's event source mapping played by
//! the test (batches received, handed over as Lambda builds them, the records not reported
//! failed deleted), and Alexa played by the sandbox with its duplicate detection off, so that
//! a user who would hear an alert twice is counted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::events::{scheduled, weather_alert};
use testkit::rig::TABLE;
use testkit::sqs::{seed_users, Mapping, Played, Queue, SeedUser};
use testkit::{project, Rig};

const WEATHER: &str = "AMAZON.WeatherAlert.Activated";
const OTHER: &str = "AMAZON.MessageAlert.Activated";
/// How long a queue may take to drain.
const DRAIN: Duration = Duration::from_secs(90);

fn id(name: &str) -> String {
    format!("amzn1.ask.account.{name}")
}

fn user(name: &str, zip: &str, events: &[&str], region: &str) -> SeedUser {
    let places = alexa_proactive::area::counties(zip)
        .map(|c| c.map(|c| format!("c{}", c.fips)).collect())
        .unwrap_or_default();
    SeedUser {
        user_id: id(name),
        subscriptions: events.iter().map(|e| (*e).to_owned()).collect(),
        postal_code: zip.to_owned(),
        country: "US".to_owned(),
        places,
        region: Some(region.to_owned()),
        locale: Some("en-US".to_owned()),
    }
}

/// The rig with the fan-out on: located audience, a queue (and its DLQ) in moto.
async fn fanout_rig(name: &str) -> (Rig, Mapping) {
    // The function starts with the rig, before the queue exists: its URL is known ahead
    // (SQS finds a queue by the account and name its URL ends with; the function sends to the
    // endpoint, moto's proxy) and the queue is created before anything is sent to it.
    let queue_name = format!("fanout-{name}");
    let url = format!("http://127.0.0.1/123456789012/{queue_name}");
    let rig = Rig::builder(project!(), &format!("fanout-{name}"))
        .regions("NA,EU")
        .env("RUST_LOG", Some("info"))
        .env("WEATHER_AUDIENCE", Some("located"))
        .env("FANOUT_QUEUE_URL", Some(&url))
        .env("FANOUT_SEND_RATE", Some("1000"))
        .start()
        .await;
    let queue = Queue::create(&rig.moto, &queue_name, 3, Duration::from_secs(2)).await;
    assert!(
        queue.url.ends_with(&format!("/123456789012/{queue_name}")),
        "{}",
        queue.url
    );
    rig.sandbox.dedupe(false).await;
    (rig, Mapping::new(queue))
}

/// How many Unicasts Alexa refused with 403.
async fn forbidden(rig: &Rig) -> usize {
    let state = rig.sandbox.state().await;
    state["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .filter(|r| r["status"] == 403)
        .count()
}

fn statuses(answer: &Value) -> Vec<String> {
    let mut out: Vec<String> = answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("results in {answer}"))
        .iter()
        .map(|r| r["status"].as_str().unwrap_or("-").to_owned())
        .collect();
    out.sort();
    out
}

fn outcomes(played: &[Played]) -> Vec<String> {
    played
        .iter()
        .flat_map(|p| {
            p.answer
                .as_ref()
                .and_then(|a| a["records"].as_array().cloned())
                .unwrap_or_default()
        })
        .map(|r| r["outcome"].as_str().unwrap_or("-").to_owned())
        .collect()
}

#[tokio::test]
async fn a_polled_alert_reaches_each_subscribed_user_of_its_counties_once() {
    let (mut rig, mapping) = fanout_rig("poll").await;
    // The testkit's copy of the user hash is the product's.
    for name in ["A", "NORMAN1", "BORDER"] {
        assert_eq!(
            testkit::sqs::sort_key(&id(name)),
            alexa_proactive::state::area::sort_key(&id(name))
        );
    }
    // poll-1's alerts name Cleveland (40027) and McClain (40087) counties; 73072 lies in both.
    let border: Vec<String> = alexa_proactive::area::counties("73072")
        .expect("73072")
        .map(|c| c.fips.to_owned())
        .collect();
    assert_eq!(border, ["40027", "40087"]);
    let users = [
        user("NORMAN1", "73069", &[WEATHER], "NA"),
        user("NORMAN2", "73071", &[OTHER, WEATHER], "NA"),
        user("BORDER", "73072", &[WEATHER], "NA"),
        user("PURCELL_EU", "73080", &[WEATHER], "EU"),
        user("NORMAN_EU", "73019", &[WEATHER], "EU"),
        user("GONE", "73069", &[WEATHER], "NA"),
        user("HOUSTON", "77002", &[WEATHER], "NA"),
        user("NOSUB", "73069", &[OTHER], "NA"),
    ];
    seed_users(&rig.moto, TABLE, &users).await;
    let reached = ["NORMAN1", "NORMAN2", "BORDER", "PURCELL_EU", "NORMAN_EU"];
    // Alexa refuses GONE (403): unsubscribed since the skill last heard.
    rig.sandbox
        .control("unsubscribe", json!({"user": id("GONE")}))
        .await;
    // Europe's events API answers 503 to everything while the first batch is worked on: its
    // Unicasts exhaust their attempts, their records fail and come back.
    rig.sandbox
        .fault(json!({"target": "events", "status": 503, "region": "EU", "every": 1}))
        .await;

    // The poll queues the two alerts it announces (tornado, thunderstorm): one message each.
    let first = rig.ok(&scheduled("tick-1")).await;
    assert_eq!(statuses(&first), ["queued", "queued"], "{first}");
    assert_eq!(rig.event_requests().await, 0, "nothing sent by the poll");
    assert_eq!(mapping.queue.depth(&rig.moto).await.0, 2);

    let started = std::time::Instant::now();
    let batch = mapping
        .play(&mut rig, Duration::from_secs(5))
        .await
        .expect("a batch");
    let answer = batch.answer.clone().expect("the first batch is answered");
    assert_eq!(batch.messages.len(), 2, "{answer}");
    // Both records (each has EU users) failed, named by messageId, and were not deleted.
    let ids: BTreeSet<&String> = batch.messages.iter().map(|m| &m.id).collect();
    assert_eq!(
        batch.failed.iter().collect::<BTreeSet<_>>(),
        ids,
        "{answer}"
    );
    assert_eq!(batch.deleted, 0);
    for record in answer["records"].as_array().expect("records") {
        assert_eq!(record["outcome"], "failed", "{answer}");
        let reason = record["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("2 Unicast(s) not delivered"), "{reason}");
    }
    let after_fault = rig.sandbox.unicasts().await;
    assert!(
        !after_fault.contains_key(&id("PURCELL_EU")) && after_fault.contains_key(&id("BORDER")),
        "{after_fault:?}"
    );
    let forbidden_first = forbidden(&rig).await;
    rig.sandbox.control("clear-faults", json!({})).await;

    let mut played = vec![batch];
    played.extend(mapping.drain(&mut rig, DRAIN).await);
    eprintln!(
        "drained in {:?}: {} batch(es), outcomes {:?}",
        started.elapsed(),
        played.len(),
        outcomes(&played)
    );
    assert!(
        played.iter().all(|p| p.answer.is_some()),
        "every invocation answered; log: {}",
        rig.log().display()
    );
    // The failed records came back (a second receive) and went through.
    let redelivered: Vec<&testkit::sqs::Message> =
        played[1..].iter().flat_map(|p| &p.messages).collect();
    assert_eq!(redelivered.len(), 2, "{played:?}");
    assert!(redelivered.iter().all(|m| m.receive_count() == 2));
    assert!(played[1..].iter().all(|p| p.failed.is_empty()));
    for record in played[1..].iter().flat_map(|p| {
        p.answer.as_ref().unwrap()["records"]
            .as_array()
            .unwrap()
            .clone()
    }) {
        // Only the two EU users were sent to; the others were reached before.
        assert_eq!(record["outcome"], "sent", "{record}");
        assert_eq!(record["sent"], 2, "{record}");
        assert_eq!(record["doneBefore"], 3, "{record}");
    }
    let state = rig.sandbox.state().await;

    // Exactly the subscribed users of the counties, each once per alert, in their region.
    let got = rig.sandbox.unicasts().await;
    let expected: BTreeSet<String> = reached.iter().map(|n| id(n)).collect();
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "{got:?}"
    );
    for user in &users {
        let Some(sent) = got.get(&user.user_id) else {
            continue;
        };
        assert_eq!(sent.len(), 2, "{}: {sent:?}", user.user_id);
        let references: BTreeSet<&String> = sent.iter().map(|(r, _)| r).collect();
        assert_eq!(references.len(), 2, "one per alert: {sent:?}");
        let region = user.region.as_deref().unwrap();
        assert!(sent.iter().all(|(_, r)| r == region), "{sent:?}");
    }
    assert_eq!(rig.repeats().await, 0, "nobody heard an alert twice");
    // What reached Alexa: the accepted ones, the 10 injected failures, GONE's two 403s (not
    // retried); nothing else was sent again.
    let refused = state["refused"].as_array().expect("refused").clone();
    let forbidden = refused.iter().filter(|r| r["status"] == 403).count();
    // A 403 is answered once more with a renewed token (it may be the token's), then taken
    // for "not subscribed": two requests per alert, all in the first batch, none after.
    assert_eq!(forbidden_first, 4, "{refused:?}");
    assert_eq!(forbidden, 4, "GONE not retried: {refused:?}");
    // Each of the 4 EU Unicasts of the first batch tried 5 times (the injected 503s are not
    // in `refused`), then once more after the redelivery; NA: 3 users' 2 alerts once each
    // and GONE's 403s, nothing sent again.
    assert_eq!(
        state["eventRequestsByRegion"],
        json!({"EU": 4 * 5 + 4, "NA": 6 + 4}),
        "{state}"
    );
    let requests = 24 + 10;
    assert_eq!(rig.event_requests().await, requests);

    // The 403 dropped the event from GONE's stored subscriptions.
    let gone = rig
        .moto
        .get_item(TABLE, &format!("user#{}", id("GONE")))
        .await;
    let subscriptions: Vec<&str> = gone["subscriptions"]["L"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["S"].as_str())
        .collect();
    assert!(!subscriptions.contains(&WEATHER), "{gone}");
    assert_eq!(mapping.queue.dead_letters(&rig.moto).await, 0);

    // A second poll (from a new process: no HTTP cache) queues nothing more.
    rig.spawn();
    rig.functions.remove(0).stop().await;
    let second = rig.ok(&scheduled("tick-2")).await;
    // Each event's places heard it: decided from the event records, nothing claimed again.
    assert!(statuses(&second).is_empty(), "{second}");
    assert_eq!(second["feeds"][0]["skipped"]["alreadyTold"], 2, "{second}");
    assert_eq!(mapping.queue.depth(&rig.moto).await, (0, 0));

    // A consumed message delivered again (SQS delivers at least once) sends nothing.
    let consumed = played
        .iter()
        .flat_map(|p| &p.messages)
        .next()
        .expect("a message")
        .clone();
    let again = rig.ok(&mapping.queue.event(&[consumed])).await;
    assert_eq!(again["batchItemFailures"], json!([]), "{again}");
    assert_eq!(again["records"][0]["outcome"], "alreadyDone", "{again}");
    assert_eq!(
        rig.event_requests().await,
        requests,
        "nothing more reached Alexa"
    );
    assert_eq!(rig.repeats().await, 0);
    rig.finish().await;
}

#[tokio::test]
async fn a_trigger_naming_a_zip_code_reaches_the_users_of_that_zip_only() {
    let (mut rig, mapping) = fanout_rig("trigger").await;
    let users = [
        user("CAMPUS", "73019", &[WEATHER], "NA"),
        user("CAMPUS_EU", "73019", &[WEATHER], "EU"),
        user("CAMPUS_NOSUB", "73019", &[OTHER], "NA"),
        // Same county (Cleveland), another ZIP code.
        user("NORMAN", "73069", &[WEATHER], "NA"),
        user("HOUSTON", "77002", &[WEATHER], "NA"),
    ];
    seed_users(&rig.moto, TABLE, &users).await;
    let detail = json!({"alertType": "TORNADO", "source": "National Weather Service",
                        "id": "zip-alert-1", "area": {"zipCodes": ["73019"]}});
    let answer = rig.ok(&weather_alert("zip-alert-1", detail)).await;
    assert_eq!(statuses(&answer), ["queued"], "{answer}");
    let played = mapping.drain(&mut rig, DRAIN).await;
    assert!(played.iter().all(|p| p.failed.is_empty()), "{played:?}");
    let got = rig.sandbox.unicasts().await;
    let regions: BTreeMap<String, Vec<String>> = got
        .into_iter()
        .map(|(user, sent)| (user, sent.into_iter().map(|(_, r)| r).collect()))
        .collect();
    assert_eq!(
        regions,
        BTreeMap::from([
            (id("CAMPUS"), vec!["NA".to_owned()]),
            (id("CAMPUS_EU"), vec!["EU".to_owned()]),
        ])
    );
    assert_eq!(rig.repeats().await, 0);
    // The same trigger again (EventBridge delivers at least once): already sent, nothing queued.
    let detail = json!({"alertType": "TORNADO", "source": "National Weather Service",
                        "id": "zip-alert-1", "area": {"zipCodes": ["73019"]}});
    let again = rig.ok(&weather_alert("zip-alert-1", detail)).await;
    assert_eq!(statuses(&again), ["alreadySent"], "{again}");
    assert_eq!(mapping.queue.depth(&rig.moto).await, (0, 0));
    assert_eq!(rig.event_requests().await, 2);
    rig.finish().await;
}

#[tokio::test]
async fn an_update_that_extends_the_area_reaches_only_the_new_counties() {
    // A winter storm warning for Cleveland County, then its update for Cleveland, McClain and
    // Grady counties (NWS extends a warning to more zones): the update is heard in McClain
    // and Grady only, and not again by a user on the Cleveland–McClain line.
    let (mut rig, mapping) = fanout_rig("extend").await;
    rig.feed().serve(&rig.project.fixture("extend-1.json"));
    let users = [
        user("NORMAN", "73069", &[WEATHER], "NA"),
        user("BORDER", "73072", &[WEATHER], "NA"),
        user("PURCELL", "73080", &[WEATHER], "NA"),
        user("CHICKASHA", "73018", &[WEATHER], "NA"),
        user("HOUSTON", "77002", &[WEATHER], "NA"),
    ];
    assert!(
        users[3].places.contains(&"c40051".to_owned()),
        "{:?}",
        users[3].places
    );
    assert!(!users[3].places.contains(&"c40027".to_owned()));
    seed_users(&rig.moto, TABLE, &users).await;
    let first = rig.ok(&scheduled("winter-1")).await;
    assert_eq!(statuses(&first), ["queued"], "{first}");
    mapping.drain(&mut rig, DRAIN).await;
    let heard: BTreeSet<String> = rig.sandbox.unicasts().await.into_keys().collect();
    assert_eq!(heard, BTreeSet::from([id("NORMAN"), id("BORDER")]));

    rig.feed().serve(&rig.project.fixture("extend-2.json"));
    let second = rig.ok(&scheduled("winter-2")).await;
    assert_eq!(statuses(&second), ["queued"], "{second}");
    assert_eq!(
        second["results"][0]["places"],
        json!(["c40051", "c40087"]),
        "only the new counties: {second}"
    );
    mapping.drain(&mut rig, DRAIN).await;
    let got = rig.sandbox.unicasts().await;
    let counts: BTreeMap<String, usize> = got.iter().map(|(u, s)| (u.clone(), s.len())).collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            (id("NORMAN"), 1),
            (id("BORDER"), 1),
            (id("PURCELL"), 1),
            (id("CHICKASHA"), 1),
        ])
    );
    assert_eq!(rig.repeats().await, 0);
    // The same update polled again (from a new process: no HTTP cache): nothing more.
    rig.spawn();
    rig.functions.remove(0).stop().await;
    let third = rig.ok(&scheduled("winter-3")).await;
    assert!(statuses(&third).is_empty(), "{third}");
    assert_eq!(third["feeds"][0]["skipped"]["alreadyTold"], 1, "{third}");
    assert_eq!(mapping.queue.depth(&rig.moto).await, (0, 0));
    rig.finish().await;
}

/// An Alexa request of the rig's skill from `user` (the sample in events/, re-addressed).
fn alexa_request(sample: &str, user: &str, request_id: &str) -> Value {
    let path = project!().root.join("events").join(sample);
    let mut request: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    request["session"]["user"]["userId"] = json!(user);
    request["context"]["System"]["user"]["userId"] = json!(user);
    request["request"]["requestId"] = json!(request_id);
    request
}

#[tokio::test]
async fn a_spoken_zip_code_is_stored_and_indexed_and_forgotten_on_request_or_when_disabled() {
    let (mut rig, _mapping) = fanout_rig("area").await;
    let user = id("SPEAKER");
    let index_item = |place: &str| format!("area#{place}#{user}");
    // 73072 lies in Cleveland and McClain counties: three index items.
    let mut set = alexa_request("intent-set-zip-code.json", &user, "set-1");
    set["request"]["intent"]["slots"]["zipCode"]["value"] = json!("73072");
    let answer = rig.ok(&set).await;
    let said = answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        said.contains("Cleveland County") && said.contains("McClain County"),
        "{said}"
    );
    let record = rig.moto.get_item(TABLE, &format!("user#{user}")).await;
    assert_eq!(record["postalCode"]["S"], "73072", "{record}");
    assert_eq!(record["region"]["S"], "NA", "{record}");
    for place in ["c40027", "c40087", "z73072"] {
        let item = rig.moto.get_item(TABLE, &index_item(place)).await;
        assert_eq!(item["areaKey"]["S"], place, "{item}");
    }
    // Moving to 73019 (Cleveland only): McClain's and the old ZIP's items go.
    let mut moved = alexa_request("intent-set-zip-code.json", &user, "set-2");
    moved["request"]["intent"]["slots"]["zipCode"]["value"] = json!("73019");
    rig.ok(&moved).await;
    assert_eq!(
        rig.moto.get_item(TABLE, &index_item("c40087")).await,
        Value::Null
    );
    assert_eq!(
        rig.moto.get_item(TABLE, &index_item("z73072")).await,
        Value::Null
    );
    assert_ne!(
        rig.moto.get_item(TABLE, &index_item("z73019")).await,
        Value::Null
    );
    // "Forget my area": the record's area and every index item.
    let answer = rig
        .ok(&alexa_request("intent-forget-area.json", &user, "forget-1"))
        .await;
    let said = answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("forgotten"), "{said}");
    let record = rig.moto.get_item(TABLE, &format!("user#{user}")).await;
    assert!(
        record.get("postalCode").is_none() && record.get("counties").is_none(),
        "{record}"
    );
    for place in ["c40027", "z73019"] {
        assert_eq!(
            rig.moto.get_item(TABLE, &index_item(place)).await,
            Value::Null
        );
    }
    // Set again, then the skill is disabled: the area goes with it.
    rig.ok(&moved).await;
    assert_ne!(
        rig.moto.get_item(TABLE, &index_item("c40027")).await,
        Value::Null
    );
    let mut disabled = alexa_request("skill-event-disabled.json", &user, "disabled-1");
    disabled["request"]["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    rig.ok(&disabled).await;
    assert_eq!(
        rig.moto.get_item(TABLE, &index_item("c40027")).await,
        Value::Null
    );
    let record = rig.moto.get_item(TABLE, &format!("user#{user}")).await;
    assert!(record.get("postalCode").is_none(), "{record}");
    rig.finish().await;
}

#[tokio::test]
async fn a_tornado_emergency_beside_its_original_is_heard_once_more() {
    let (mut rig, mapping) = fanout_rig("vtec").await;
    let users = [
        user("NORMAN", "73069", &[WEATHER], "NA"),
        user("BORDER", "73072", &[WEATHER], "NA"),
        user("HOUSTON", "77002", &[WEATHER], "NA"),
    ];
    seed_users(&rig.moto, TABLE, &users).await;
    let heard = |got: &BTreeMap<String, Vec<(String, String)>>| -> BTreeMap<String, usize> {
        got.iter().map(|(u, s)| (u.clone(), s.len())).collect()
    };
    // A tornado warning for Cleveland County.
    rig.feed().serve(&rig.project.fixture("tornado-1.json"));
    let first = rig.ok(&scheduled("tor-1")).await;
    assert_eq!(statuses(&first), ["queued"], "{first}");
    mapping.drain(&mut rig, DRAIN).await;
    assert_eq!(
        heard(&rig.sandbox.unicasts().await),
        BTreeMap::from([(id("NORMAN"), 1), (id("BORDER"), 1)])
    );
    // NWS lists the original beside its update, which is a tornado emergency: heard again.
    rig.feed().serve(&rig.project.fixture("tornado-2.json"));
    let second = rig.ok(&scheduled("tor-2")).await;
    assert_eq!(statuses(&second), ["queued"], "{second}");
    assert_eq!(second["feeds"][0]["escalations"], 1, "{second}");
    mapping.drain(&mut rig, DRAIN).await;
    // A plain continuation of the emergency, all three listed, from a new process: nothing.
    rig.spawn();
    rig.functions.remove(0).stop().await;
    rig.feed().serve(&rig.project.fixture("tornado-3.json"));
    let third = rig.ok(&scheduled("tor-3")).await;
    assert!(statuses(&third).is_empty(), "{third}");
    assert_eq!(third["feeds"][0]["skipped"]["alreadyTold"], 3, "{third}");
    assert_eq!(
        heard(&rig.sandbox.unicasts().await),
        BTreeMap::from([(id("NORMAN"), 2), (id("BORDER"), 2)])
    );
    assert_eq!(rig.repeats().await, 0);
    rig.finish().await;
}

#[tokio::test]
async fn a_cancellation_polled_before_the_queue_is_drained_reaches_nobody() {
    let (mut rig, mapping) = fanout_rig("cancel").await;
    seed_users(
        &rig.moto,
        TABLE,
        &[
            user("NORMAN", "73069", &[WEATHER], "NA"),
            user("CAMPUS", "73019", &[WEATHER], "NA"),
        ],
    )
    .await;
    rig.feed().serve(&rig.project.fixture("tornado-1.json"));
    let first = rig.ok(&scheduled("tor-1")).await;
    assert_eq!(statuses(&first), ["queued"], "{first}");
    assert_eq!(mapping.queue.depth(&rig.moto).await.0, 1);
    // Cancelled (severity Minor, response AllClear) before the queue is consumed.
    rig.feed()
        .serve(&rig.project.fixture("tornado-cancel.json"));
    let second = rig.ok(&scheduled("tor-2")).await;
    assert_eq!(second["feeds"][0]["recorded"], 1, "{second}");
    assert_eq!(second["feeds"][0]["skipped"]["cancel"], 1, "{second}");
    let played = mapping.drain(&mut rig, DRAIN).await;
    assert_eq!(outcomes(&played), ["cancelled"], "{played:?}");
    assert!(rig.sandbox.unicasts().await.is_empty());
    assert_eq!(rig.event_requests().await, 0);
    assert_eq!(mapping.queue.dead_letters(&rig.moto).await, 0);
    rig.finish().await;
}

#[tokio::test]
async fn a_403_on_every_unicast_keeps_every_subscription_until_the_configuration_is_fixed() {
    let (mut rig, mapping) = fanout_rig("forbidden").await;
    let users = [
        user("NORMAN", "73069", &[WEATHER], "NA"),
        user("CAMPUS", "73019", &[WEATHER], "NA"),
        user("BORDER", "73072", &[WEATHER], "NA"),
    ];
    seed_users(&rig.moto, TABLE, &users).await;
    // A configuration fault (Stage=live before certification, another skill's credentials):
    // Alexa refuses every Unicast with 403.
    rig.sandbox
        .fault(json!({"target": "events", "status": 403, "every": 1}))
        .await;
    rig.feed().serve(&rig.project.fixture("tornado-1.json"));
    let first = rig.ok(&scheduled("tor-1")).await;
    assert_eq!(statuses(&first), ["queued"], "{first}");
    let played = mapping
        .play(&mut rig, Duration::from_secs(5))
        .await
        .expect("the alert's message");
    assert_eq!(
        played.failed.len(),
        1,
        "the range comes back: {:?}",
        played.answer
    );
    let reason = played.answer.as_ref().map_or(String::new(), |a| {
        a["records"][0]["reason"].as_str().unwrap_or("").to_owned()
    });
    assert!(
        reason.contains("3 × 403") && reason.contains("ALEXA_STAGE"),
        "{reason}"
    );
    let mut kept = 0;
    for u in &users {
        let item = rig
            .moto
            .get_item(TABLE, &format!("user#{}", u.user_id))
            .await;
        let subscribed = item["subscriptions"]["L"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["S"] == WEATHER);
        kept += usize::from(subscribed);
    }
    assert_eq!(kept, 3, "subscriptions kept: {kept} of 3");
    let log = std::fs::read_to_string(rig.log()).unwrap_or_default();
    assert!(
        log.lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("\"Forbidden\":3")),
        "the Forbidden metric"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("\"FanoutFailed\":")),
        "the failed range is counted for the alarm"
    );
    assert!(
        log.contains("Alexa refused most Unicasts with 403"),
        "one clear error"
    );
    // The configuration is fixed: the range comes back and every user hears the alert once.
    rig.sandbox.control("clear-faults", json!({})).await;
    mapping.drain(&mut rig, DRAIN).await;
    let heard: BTreeMap<String, usize> = rig
        .sandbox
        .unicasts()
        .await
        .into_iter()
        .map(|(u, s)| (u, s.len()))
        .collect();
    assert_eq!(
        heard,
        BTreeMap::from([(id("NORMAN"), 1), (id("CAMPUS"), 1), (id("BORDER"), 1)])
    );
    assert_eq!(rig.repeats().await, 0);
    assert_eq!(mapping.queue.dead_letters(&rig.moto).await, 0);
    rig.finish().await;
}
