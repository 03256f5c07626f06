//! The poll in memory: an in-memory feed read as NWS writes it, the memory store, the fake
//! Alexa and the fan-out's in-memory rig. What is checked is who hears what, how often.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::clock::SystemClock;
use crate::event::schemas::WEATHER_ALERT;
use crate::fanout::testing::{add_user, deadline, drain, per_user, rig, user, Rig};
use crate::fanout::Handled;

const CLEVELAND: &str = "73019"; // county 40027
const NORMAN: &str = "73069"; // county 40027
const BORDER: &str = "73072"; // counties 40027 and 40087
const PURCELL: &str = "73080"; // county 40087
const NEW_YORK: &str = "10001";

fn poller(feed: Arc<MemoryFeed>) -> Poller {
    poller_for(feed, "located")
}

fn poller_for(feed: Arc<MemoryFeed>, audience: &str) -> Poller {
    let settings = Settings {
        skill_id: "amzn1.ask.skill.11111111-2222-3333-4444-555555555555".into(),
        feeds: Vec::new(),
        min_severity: Severity::Severe,
        contact: None,
        audience: Audience::parse(audience).unwrap(),
    };
    Poller::new(&settings, Arc::new(SystemClock)).with_feed(feed)
}

/// One NWS feature: a tornado warning message of event KOUN.TO.W.0033 (VTEC `action`) for
/// these SAME codes, with `extra` properties.
fn tornado(id: &str, action: &str, same: &[&str], extra: Value) -> Value {
    let kind = if action == "NEW" { "Alert" } else { "Update" };
    let mut p = json!({
        "id": id, "event": "Tornado Warning", "status": "Actual", "messageType": kind,
        "severity": "Extreme", "certainty": "Observed", "urgency": "Immediate",
        "sent": "2027-05-01T15:00:00-05:00", "expires": "2027-05-01T16:00:00-05:00",
        "senderName": "NWS Norman OK", "areaDesc": "Cleveland; McClain",
        "geocode": {"SAME": same}, "references": [],
        "parameters": {"VTEC": [format!("/O.{action}.KOUN.TO.W.0033.000000T0000Z-270501T2100Z/")]}
    });
    for (k, v) in extra.as_object().unwrap() {
        if k == "parameters" {
            for (pk, pv) in v.as_object().unwrap() {
                p["parameters"][pk] = pv.clone();
            }
        } else {
            p[k] = v.clone();
        }
    }
    json!({"type": "Feature", "properties": p})
}

/// A feed listing one tornado warning (a.1) for Cleveland County.
fn warning_feed() -> Arc<MemoryFeed> {
    Arc::new(MemoryFeed::new(alerts(vec![tornado(
        "a.1",
        "NEW",
        &["040027"],
        json!({}),
    )])))
}

fn alerts(features: Vec<Value>) -> Alerts {
    let body =
        serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap();
    nws::parse(&body).unwrap()
}

async fn users(rig: &Rig, zips: &[&str]) {
    for (i, zip) in zips.iter().enumerate() {
        add_user(&rig.store, &user(i), zip, &[WEATHER_ALERT], "NA").await;
    }
}

async fn poll(rig: &Rig, poller: &Poller) -> PollReport {
    poller
        .poll(&rig.notifier, Some(&rig.ledger), deadline(), "poll")
        .await
        .unwrap()
}

/// Polls, drains the fan-out queue, and returns how many Unicasts each user has had in all.
async fn poll_and_drain(rig: &Rig, poller: &Poller) -> (PollReport, Vec<Handled>) {
    let report = poll(rig, poller).await;
    let handled = drain(rig, 10, 20)
        .await
        .into_iter()
        .flat_map(|c| c.handled)
        .collect();
    (report, handled)
}

fn heard(rig: &Rig) -> std::collections::BTreeMap<String, usize> {
    per_user(&rig.alexa).into_iter().collect()
}

fn counts(pairs: &[(usize, usize)]) -> std::collections::BTreeMap<String, usize> {
    pairs.iter().map(|(u, n)| (user(*u), *n)).collect()
}

#[tokio::test]
async fn a_tornado_emergency_listed_beside_its_original_is_heard() {
    let rig = rig();
    users(&rig, &[CLEVELAND, NORMAN, NEW_YORK]).await;
    let feed = warning_feed();
    let poller = poller(feed.clone());
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1), (1, 1)]));
    // NWS keeps the original listed beside its update; the update is a tornado emergency.
    let emergency = json!({"references": [{"identifier": "a.1"}],
        "parameters": {"tornadoDamageThreat": ["CATASTROPHIC"], "tornadoDetection": ["OBSERVED"]}});
    feed.set(alerts(vec![
        tornado("a.1", "NEW", &["040027"], json!({})),
        tornado("a.2", "CON", &["040027"], emergency.clone()),
    ]));
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(report.feeds[0].escalations, Some(1), "{report:?}");
    assert_eq!(heard(&rig), counts(&[(0, 2), (1, 2)]));
    // Listed again (a new version of the feed, and a new process with no HTTP cache):
    // every place heard the emergency.
    feed.set(alerts(vec![
        tornado("a.1", "NEW", &["040027"], json!({})),
        tornado("a.2", "CON", &["040027"], emergency.clone()),
        tornado(
            "a.3",
            "CON",
            &["040027"],
            json!({"references": [{"identifier": "a.2"}],
            "parameters": {"tornadoDamageThreat": ["CONSIDERABLE"]}}),
        ),
    ]));
    let (report, _) = poll_and_drain(&rig, &self::poller(feed.clone())).await;
    assert_eq!(report.feeds[0].candidates, Some(0), "{report:?}");
    assert_eq!(report.feeds[0].skipped.as_ref().unwrap()["alreadyTold"], 3);
    assert_eq!(heard(&rig), counts(&[(0, 2), (1, 2)]));
}

#[tokio::test]
async fn a_continuation_or_a_cancellation_after_expires_is_not_heard_as_new() {
    let rig = rig();
    users(&rig, &[CLEVELAND]).await;
    let feed = warning_feed();
    let poller = poller(feed.clone());
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1)]));
    // The original expired: NWS sends the next message as an `Alert` with no references,
    // the original in expiredReferences (weather-gov/api#190).
    let expired = json!({"messageType": "Alert", "references": [], "parameters": {
        "expiredReferences": ["w-nws.webmaster@noaa.gov,a.1,2026-05-01T15:00:00-05:00"]}});
    for (action, id) in [("CON", "a.2"), ("EXT", "a.3"), ("CAN", "a.4")] {
        feed.set(alerts(vec![tornado(
            id,
            action,
            &["040027"],
            expired.clone(),
        )]));
        let (report, _) = poll_and_drain(&rig, &poller).await;
        assert_eq!(report.feeds[0].candidates, Some(0), "{action}: {report:?}");
    }
    assert_eq!(heard(&rig), counts(&[(0, 1)]));
}

#[tokio::test]
async fn two_segments_of_one_event_reach_a_user_in_both_once() {
    let rig = rig();
    users(&rig, &[BORDER, CLEVELAND, PURCELL]).await;
    let feed = Arc::new(MemoryFeed::new(alerts(vec![
        tornado("p.001.1", "NEW", &["040027"], json!({})),
        tornado("p.002.1", "NEW", &["040087"], json!({})),
    ])));
    let (report, _) = poll_and_drain(&rig, &poller(feed)).await;
    assert_eq!(report.feeds[0].events, Some(1));
    assert_eq!(heard(&rig), counts(&[(0, 1), (1, 1), (2, 1)]));
}

#[tokio::test]
async fn a_later_segment_reaches_its_new_places_only() {
    let rig = rig();
    users(&rig, &[BORDER, CLEVELAND, PURCELL]).await;
    let feed = Arc::new(MemoryFeed::new(alerts(vec![tornado(
        "p.001.1",
        "NEW",
        &["040027"],
        json!({}),
    )])));
    let poller = poller(feed.clone());
    poll_and_drain(&rig, &poller).await;
    feed.set(alerts(vec![
        tornado("p.001.1", "NEW", &["040027"], json!({})),
        tornado("p.002.1", "NEW", &["040087"], json!({})),
    ]));
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(report.feeds[0].extensions, Some(1));
    // The border user heard the event in Cleveland County: not again for McClain.
    assert_eq!(heard(&rig), counts(&[(0, 1), (1, 1), (2, 1)]));
}

#[tokio::test]
async fn a_cancellation_polled_before_the_queue_is_drained_reaches_nobody() {
    let rig = rig();
    users(&rig, &[CLEVELAND, NORMAN]).await;
    let feed = warning_feed();
    let poller = poller(feed.clone());
    let queued = poll(&rig, &poller).await;
    assert_eq!(queued.results.len(), 1, "{queued:?}");
    // NWS cancels it (severity Minor, response AllClear) before the queue is consumed.
    feed.set(alerts(vec![tornado(
        "a.2",
        "CAN",
        &["040027"],
        json!({
        "severity": "Minor", "references": [{"identifier": "a.1"}]}),
    )]));
    let cancelled = poll(&rig, &poller).await;
    assert_eq!(cancelled.feeds[0].recorded, Some(1), "{cancelled:?}");
    assert_eq!(cancelled.feeds[0].skipped.as_ref().unwrap()["cancel"], 1);
    let handled: Vec<Handled> = drain(&rig, 10, 20)
        .await
        .into_iter()
        .flat_map(|c| c.handled)
        .collect();
    assert!(
        matches!(&handled[..], [Handled::Cancelled { .. }]),
        "{handled:?}"
    );
    assert!(heard(&rig).is_empty(), "{:?}", heard(&rig));
}

#[tokio::test]
async fn a_cancellation_in_one_county_stops_the_fan_out_there_only() {
    let rig = rig();
    users(&rig, &[CLEVELAND, PURCELL, BORDER]).await;
    let feed = Arc::new(MemoryFeed::new(alerts(vec![tornado(
        "a.1",
        "NEW",
        &["040027", "040087"],
        json!({}),
    )])));
    let poller = poller(feed.clone());
    poll(&rig, &poller).await;
    feed.set(alerts(vec![
        tornado(
            "a.2",
            "CAN",
            &["040087"],
            json!({"references": [{"identifier": "a.1"}]}),
        ),
        tornado(
            "a.3",
            "CON",
            &["040027"],
            json!({"references": [{"identifier": "a.1"}]}),
        ),
    ]));
    poll(&rig, &poller).await;
    drain(&rig, 10, 20).await;
    // McClain's user is not told; the border user is, for Cleveland County.
    assert_eq!(heard(&rig), counts(&[(0, 1), (2, 1)]));
}

#[tokio::test]
async fn records_of_the_previous_release_keep_active_alerts_quiet() {
    let rig = rig();
    users(&rig, &[CLEVELAND, PURCELL]).await;
    // What the release before events recorded for the message a.1 sent to Cleveland County.
    rig.ledger
        .mark_announced(
            crate::event::reference_id(WEATHER_ALERT, "a.1"),
            "old",
            chrono::Utc::now(),
            chrono::Utc::now() + chrono::Duration::hours(2),
            Some("10001@40027".into()),
            deadline(),
        )
        .await
        .unwrap();
    let feed = Arc::new(MemoryFeed::new(alerts(vec![
        tornado("a.1", "NEW", &["040027"], json!({})),
        tornado(
            "a.2",
            "EXA",
            &["040027", "040087"],
            json!({"references": [{"identifier": "a.1"}]}),
        ),
    ])));
    let poller = poller(feed.clone());
    let (report, _) = poll_and_drain(&rig, &poller).await;
    // Only McClain County is news.
    assert_eq!(report.feeds[0].extensions, Some(1), "{report:?}");
    assert_eq!(heard(&rig), counts(&[(1, 1)]));
    // The event's own chain holds it now: the old record is no longer needed.
    let chain = memory::read(
        &rig.ledger,
        &EventKey::from_raw("KOUN.TO.W.0033.2027"),
        0,
        deadline(),
    )
    .await
    .unwrap();
    assert_eq!(chain.records, 1);
    assert_eq!(chain.memory.told.len(), 2);
}

#[tokio::test]
async fn a_failed_feed_fails_the_poll_and_is_read_again_next_time() {
    let rig = rig();
    users(&rig, &[CLEVELAND]).await;
    let feed = Arc::new(MemoryFeed::default());
    feed.fail(FeedError::Timeout {
        feed: "memory:".into(),
        millis: 10,
    });
    let poller = poller(feed.clone());
    let err = poller
        .poll(&rig.notifier, Some(&rig.ledger), deadline(), "poll")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "FeedUnavailable");
    feed.set(alerts(vec![tornado("a.1", "NEW", &["040027"], json!({}))]));
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1)]));
    // Handled: the same version is not read again.
    let unchanged = poll(&rig, &poller).await;
    assert!(!unchanged.feeds[0].changed);
}

#[tokio::test]
async fn one_feed_down_does_not_hold_back_the_others_and_the_retry_sends_only_its_alerts() {
    let rig = rig();
    users(&rig, &[CLEVELAND, PURCELL]).await;
    let up = Arc::new(MemoryFeed::at(
        "memory:up",
        alerts(vec![tornado("a.1", "NEW", &["040027"], json!({}))]),
    ));
    let down = Arc::new(MemoryFeed::at("memory:down", Alerts::default()));
    down.fail(FeedError::Unreachable {
        feed: "the dwd feed memory:down (WEATHER_FEEDS)".into(),
        detail: "connection refused".into(),
    });
    let poller = poller(up.clone()).with_feeds(vec![up.clone(), down.clone()]);
    let err = poller
        .poll(&rig.notifier, Some(&rig.ledger), deadline(), "poll")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "FeedUnavailable", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("the dwd feed memory:down") && text.contains("1 of 2 feeds failed"),
        "{text}"
    );
    drain(&rig, 10, 20).await;
    assert_eq!(
        heard(&rig),
        counts(&[(0, 1)]),
        "the other feed was announced"
    );

    // The retry: the failed feed is back with an alert of its own; the first one's is not
    // announced again (its feed is unchanged, and its record is made).
    down.set(alerts(vec![tornado("b.1", "NEW", &["040087"], json!({}))]));
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(report.feeds.len(), 2);
    assert!(!report.feeds[0].changed, "{report:?}");
    assert_eq!(report.feeds[1].candidates, Some(1), "{report:?}");
    assert_eq!(heard(&rig), counts(&[(0, 1), (1, 1)]));
}

/// A fixture of `tests/fixtures/<dir>/`, its `day` moved to tomorrow (the European fixtures
/// carry fixed dates).
fn fixture_tomorrow(dir: &str, name: &str, day: &str) -> String {
    let path = format!("{}/tests/fixtures/{dir}/{name}", env!("CARGO_MANIFEST_DIR"));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    std::fs::read_to_string(path)
        .unwrap()
        .replace(day, &tomorrow)
}

/// A DWD document of the fixtures, moved to tomorrow.
fn dwd(name: &str) -> Alert {
    dwd::parse_document(&fixture_tomorrow("dwd", name, "2026-07-14"))
        .unwrap()
        .0
}

#[tokio::test]
async fn a_german_warning_is_heard_in_its_district_again_when_it_turns_extreme_and_not_after_it_ends(
) {
    use crate::fanout::testing::add_user_in;
    let rig = rig();
    add_user_in(&rig.store, &user(0), "DE", "50667", &[WEATHER_ALERT], "EU").await; // Köln
    add_user_in(&rig.store, &user(1), "DE", "80331", &[WEATHER_ALERT], "EU").await; // München
    add_user(&rig.store, &user(2), CLEVELAND, &[WEATHER_ALERT], "NA").await;
    let feed = Arc::new(MemoryFeed::new(Alerts {
        alerts: vec![
            dwd("thunderstorm-alert.xml"),
            dwd("thunderstorm-advance-notice.xml"),
        ],
        malformed: Vec::new(),
    }));
    let poller = poller(feed.clone());
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(
        report.feeds[0].skipped.as_ref().unwrap()["advanceNotice"],
        1,
        "{report:?}"
    );
    assert_eq!(heard(&rig), counts(&[(0, 1)]), "Köln only");
    let sent = rig.alexa.received();
    assert_eq!(
        sent[0].region,
        crate::alexa::Region::Eu,
        "the user's region"
    );
    assert_eq!(
        sent[0].event["event"]["payload"]["weatherAlert"]["alertType"],
        "THUNDER_STORM"
    );
    let sources: Vec<&Value> = sent[0].event["localizedAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["source"])
        .collect();
    assert!(
        sources.iter().all(|s| *s == "Deutscher Wetterdienst"),
        "{sources:?}"
    );
    // DWD's full set now holds the update (Extreme) in place of the original.
    feed.set(Alerts {
        alerts: vec![dwd("thunderstorm-update-extreme.xml")],
        malformed: Vec::new(),
    });
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(report.feeds[0].escalations, Some(1), "{report:?}");
    assert_eq!(heard(&rig), counts(&[(0, 2)]));
    // Then the cancellation (of the update): nothing.
    feed.set(Alerts {
        alerts: vec![dwd("thunderstorm-cancel.xml")],
        malformed: Vec::new(),
    });
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert_eq!(
        report.feeds[0].skipped.as_ref().unwrap()["cancel"],
        1,
        "{report:?}"
    );
    assert_eq!(heard(&rig), counts(&[(0, 2)]));
}

#[tokio::test]
async fn a_met_office_warning_reaches_a_london_user_whether_it_names_the_region_or_the_county() {
    use crate::fanout::testing::add_user_in;
    let rig = rig();
    add_user_in(
        &rig.store,
        &user(0),
        "GB",
        "SW1A 1AA",
        &[WEATHER_ALERT],
        "EU",
    )
    .await;
    add_user_in(&rig.store, &user(1), "GB", "G1 1AA", &[WEATHER_ALERT], "EU").await; // Glasgow
    let feed_text = fixture_tomorrow("meteoalarm", "uk-feed.xml", "2026-09-14");
    let thunderstorm = |feed: &str| {
        let (entries, _) = meteoalarm::parse_feed(feed.as_bytes()).unwrap();
        let details = entries
            .iter()
            .map(|e| {
                let alert_type = e.event.contains("thunderstorm").then_some("THUNDER_STORM");
                (
                    e.identifier.clone(),
                    meteoalarm::Details {
                        alert_type,
                        sender_name: Some("UK Met Office".into()),
                        ..Default::default()
                    },
                )
            })
            .collect();
        Alerts {
            alerts: meteoalarm::alerts(&entries, &details),
            malformed: Vec::new(),
        }
    };
    // The region's code (UK116), as MeteoAlarm named warnings until 2023.
    let feed = Arc::new(MemoryFeed::new(thunderstorm(&feed_text)));
    let poller = poller(feed.clone());
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1)]), "London only");
    // Another warning naming Greater London's own code (UK258), as it does since.
    let county = feed_text
        .replace("<value>UK116</value>", "<value>UK258</value>")
        .replace("c81d05e2.v1.0", "c81d05e3.v1.0");
    feed.set(thunderstorm(&county));
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 2)]));
}

/// A state store whose chain reads miss the records made by "another poll" after this poll
/// read (`hide`): what a poll sees when a racing poll writes between its read and its claim.
struct ReadBeforeRace {
    inner: Arc<crate::state::MemoryStore>,
    hidden: std::sync::Mutex<Vec<String>>,
}

mod delegate {
    use super::*;
    use crate::state::{
        Announced, AreaIndex, AreaKey, Claim, ClaimOutcome, Claims, HashRange, Recipient, Recorded,
        StateFuture, UserArea, UserChange, Users,
    };
    use std::collections::HashMap;

    impl Claims for ReadBeforeRace {
        fn claim<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ClaimOutcome> {
            self.inner.claim(claim)
        }

        fn complete<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ()> {
            self.inner.complete(claim)
        }

        fn release<'a>(
            &'a self,
            claim: &'a Claim,
            done: &'a [crate::state::Reached],
        ) -> StateFuture<'a, ()> {
            self.inner.release(claim, done)
        }

        fn refuse<'a>(&'a self, claim: &'a Claim, reason: &'a str) -> StateFuture<'a, ()> {
            self.inner.refuse(claim, reason)
        }

        fn sent<'a>(&'a self, reference_id: &'a str) -> StateFuture<'a, Option<Announced>> {
            Claims::sent(&*self.inner, reference_id)
        }

        fn sent_many<'a>(
            &'a self,
            reference_ids: &'a [String],
        ) -> StateFuture<'a, HashMap<String, Announced>> {
            Box::pin(async move {
                let mut found = self.inner.sent_many(reference_ids).await?;
                for hidden in self.hidden.lock().unwrap().iter() {
                    found.remove(hidden);
                }
                Ok(found)
            })
        }

        fn progress<'a>(
            &'a self,
            claim: &'a Claim,
            done: &'a [crate::state::Reached],
        ) -> StateFuture<'a, ()> {
            self.inner.progress(claim, done)
        }
    }

    impl Users for ReadBeforeRace {
        fn record_user<'a>(&'a self, change: &'a UserChange) -> StateFuture<'a, Recorded> {
            self.inner.record_user(change)
        }

        fn subscriptions<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<Vec<String>>> {
            self.inner.subscriptions(user_id)
        }

        fn drop_subscription<'a>(
            &'a self,
            user_id: &'a str,
            event: &'a str,
        ) -> StateFuture<'a, ()> {
            self.inner.drop_subscription(user_id, event)
        }
    }

    impl AreaIndex for ReadBeforeRace {
        fn set_area<'a>(&'a self, area: &'a UserArea) -> StateFuture<'a, ()> {
            self.inner.set_area(area)
        }

        fn area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<UserArea>> {
            self.inner.area(user_id)
        }

        fn forget_area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, bool> {
            self.inner.forget_area(user_id)
        }

        fn count_area<'a>(&'a self, keys: &'a [AreaKey], range: HashRange) -> StateFuture<'a, u64> {
            self.inner.count_area(keys, range)
        }

        fn users_in_area<'a>(
            &'a self,
            keys: &'a [AreaKey],
            range: HashRange,
        ) -> StateFuture<'a, Vec<String>> {
            self.inner.users_in_area(keys, range)
        }

        fn recipients<'a>(&'a self, user_ids: &'a [String]) -> StateFuture<'a, Vec<Recipient>> {
            self.inner.recipients(user_ids)
        }
    }
}

#[tokio::test]
async fn a_record_number_taken_by_another_poll_makes_the_next_poll_decide_again() {
    let rig = rig();
    users(&rig, &[CLEVELAND, PURCELL]).await;
    let feed = warning_feed();
    let poller = poller(feed.clone());
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1)]));
    // Another poll, racing this one on an older feed, makes the event's record 2 (nothing
    // new in it) just after this poll has read the chain: this poll does not see it.
    let key = EventKey::from_raw("KOUN.TO.W.0033.2027");
    let chain = memory::read(&rig.ledger, &key, 0, deadline())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    assert!(rig
        .ledger
        .mark_announced(
            memory::record_reference(&key, 2),
            "other-poll",
            now,
            now + chrono::Duration::hours(2),
            Some(chain.memory.encode()),
            deadline(),
        )
        .await
        .unwrap());
    let racing = Arc::new(ReadBeforeRace {
        inner: rig.store.clone(),
        hidden: std::sync::Mutex::new(vec![memory::record_reference(&key, 2)]),
    });
    let racing_ledger = crate::ledger::Ledger::new(racing.clone());
    // This poll's feed extends the warning to McClain County: it plans that as record 2,
    // finds it taken, and must not remember the feed as handled.
    feed.set(alerts(vec![
        tornado("a.1", "NEW", &["040027"], json!({})),
        tornado(
            "a.2",
            "EXA",
            &["040027", "040087"],
            json!({"references": [{"identifier": "a.1"}]}),
        ),
    ]));
    let raced = poller
        .poll(&rig.notifier, Some(&racing_ledger), deadline(), "poll")
        .await
        .unwrap();
    drain(&rig, 10, 20).await;
    assert_eq!(raced.feeds[0].extensions, Some(1), "{raced:?}");
    assert_eq!(
        heard(&rig),
        counts(&[(0, 1)]),
        "record 2 was the other poll's"
    );
    // The same feed again: read (no 304), and the extension goes out as record 3.
    racing.hidden.lock().unwrap().clear();
    let (report, _) = poll_and_drain(&rig, &poller).await;
    assert!(report.feeds[0].changed, "{report:?}");
    assert_eq!(report.feeds[0].extensions, Some(1), "{report:?}");
    assert_eq!(heard(&rig), counts(&[(0, 1), (1, 1)]));
}

#[tokio::test(start_paused = true)]
async fn a_poll_short_of_time_defers_the_rest_and_the_next_poll_sends_only_that() {
    // WEATHER_AUDIENCE=everyone: 60 events, one Multicast each, in chunks of 50. Alexa
    // answers the first chunk only as the time for sends runs out: the other 10 are deferred.
    let rig = rig();
    let events: Vec<Value> = (0..60)
        .map(|i| {
            let mut f = tornado(&format!("e{i}"), "NEW", &["040027"], json!({}));
            f["properties"]["parameters"]["VTEC"] = json!([format!(
                "/O.NEW.KOUN.TO.W.{:04}.000000T0000Z-270501T2100Z/",
                100 + i
            )]);
            f
        })
        .collect();
    let feed = Arc::new(MemoryFeed::new(alerts(events)));
    let poller = poller_for(feed.clone(), "everyone");
    rig.alexa.use_all_the_time(true);
    let first = poller
        .poll(&rig.notifier, Some(&rig.ledger), deadline(), "poll-1")
        .await
        .unwrap();
    assert_eq!(first.feeds[0].candidates, Some(60));
    assert_eq!(first.feeds[0].deferred, Some(10), "{:?}", first.feeds[0]);
    assert_eq!(rig.alexa.received().len(), 50);
    // The feed was not remembered: the next poll reads it, and sends the ten left only.
    rig.alexa.use_all_the_time(false);
    let next = poll(&rig, &poller).await;
    assert!(next.feeds[0].changed);
    assert_eq!(next.feeds[0].deferred, Some(0));
    assert_eq!(rig.alexa.received().len(), 60, "each event once");
}

#[tokio::test]
async fn a_poll_without_the_time_for_one_send_fails_naming_the_timeout() {
    let rig = rig();
    users(&rig, &[CLEVELAND]).await;
    let poller = poller(warning_feed());
    let short = tokio::time::Instant::now() + std::time::Duration::from_millis(2_000);
    let err = poller
        .poll(&rig.notifier, Some(&rig.ledger), short, "poll")
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "TimeoutTooShort");
    assert!(
        err.to_string().contains("raise the function's timeout"),
        "{err}"
    );
    // Nothing was claimed: a poll with the time sends it.
    poll_and_drain(&rig, &poller).await;
    assert_eq!(heard(&rig), counts(&[(0, 1)]));
}
