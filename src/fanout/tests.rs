//! The fan-out in memory: a notifier hands an area's alert to it, and a loop plays Lambda's
//! event source mapping (take messages, consume, keep the failed ones). What is checked is
//! who got a Unicast, how often, and how many state writes it took.

use std::sync::Arc;

use chrono::Utc;
use tokio::time::Instant;

use super::testing::*;
use super::*;
use crate::alexa::fake::FakeAlexa;
use crate::clock::SystemClock;
use crate::event::schemas::WEATHER_ALERT;
use crate::event::NotificationRequest;
use crate::notifier::{Notifier, OnRefusal, Outcome};
use crate::state::memory::Op;
use crate::state::{AreaKey, MemoryStore};

async fn announce(rig: &Rig, request: (NotificationRequest, Option<String>)) -> Vec<Outcome> {
    rig.notifier
        .send_requests(vec![request], deadline(), "poll", OnRefusal::Record)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_alert_reaches_exactly_the_subscribed_users_of_its_counties() {
    let rig = rig();
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await; // Cleveland, OK
    add_user(&rig.store, &user(2), "73069", &[WEATHER_ALERT], "NA").await; // Norman: Cleveland too
    add_user(&rig.store, &user(3), "10001", &[WEATHER_ALERT], "NA").await; // New York
    add_user(
        &rig.store,
        &user(4),
        "73019",
        &["AMAZON.MessageAlert.Activated"],
        "NA",
    )
    .await;
    add_user(&rig.store, &user(5), "73019", &[WEATHER_ALERT], "EU").await;
    let outcomes = announce(&rig, tornado("t1", &["40027"])).await;
    assert!(
        matches!(&outcomes[..], [Outcome::Queued(q)] if q.places == ["c40027"]),
        "{outcomes:?}"
    );
    assert!(
        rig.alexa.received().is_empty(),
        "nothing sent before the queue is consumed"
    );
    let reports = drain(&rig, 10, 10).await;
    assert!(reports.iter().all(|r| r.failed.is_empty()));
    let counts = per_user(&rig.alexa);
    let mut reached: Vec<&String> = counts.keys().collect();
    reached.sort();
    assert_eq!(reached, [&user(1), &user(2), &user(5)]);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    // Each user's own region.
    for r in rig.alexa.received() {
        let user = r.event["relevantAudience"]["payload"]["user"]
            .as_str()
            .unwrap();
        let expected = if user == user_5() {
            Region::Eu
        } else {
            Region::Na
        };
        assert_eq!(r.region, expected, "{user}");
    }
    // The alert again (a second poll, a redelivered trigger): nothing more.
    let outcomes = announce(&rig, tornado("t1", &["40027"])).await;
    assert!(
        matches!(&outcomes[..], [Outcome::NotSent(_)]),
        "{outcomes:?}"
    );
    drain(&rig, 10, 10).await;
    assert_eq!(rig.alexa.received().len(), 3);
}

fn user_5() -> String {
    user(5)
}

#[tokio::test]
async fn a_user_on_a_county_border_hears_an_alert_for_both_counties_once() {
    let rig = rig();
    // 73072 (Norman) lies in Cleveland and McClain counties.
    let counties: Vec<String> = crate::area::counties("73072")
        .unwrap()
        .map(|c| c.fips.to_owned())
        .collect();
    assert!(counties.len() >= 2, "{counties:?}");
    add_user(&rig.store, &user(1), "73072", &[WEATHER_ALERT], "NA").await;
    let all: Vec<&str> = counties.iter().map(String::as_str).collect();
    announce(&rig, tornado("border", &all)).await;
    drain(&rig, 10, 10).await;
    assert_eq!(per_user(&rig.alexa).get(&user(1)), Some(&1));
}

#[tokio::test]
async fn a_big_area_is_split_and_every_user_hears_the_alert_once_even_with_redeliveries() {
    let rig = rig();
    let users = 1_000;
    for i in 0..users {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("big", &["40027"])).await;
    // Every message delivered twice (SQS may), and the first batch's leaf interrupted.
    let first = rig.queue.take();
    let doubled: Vec<String> = first.iter().chain(first.iter()).cloned().collect();
    rig.queue.send_all(&doubled).await.unwrap();
    let reports = drain(&rig, 5, 200).await;
    assert!(rig.queue.is_empty(), "drained");
    let counts = per_user(&rig.alexa);
    assert_eq!(counts.len(), users, "every user reached");
    assert!(counts.values().all(|n| *n == 1), "nobody twice");
    let split = reports
        .iter()
        .flat_map(|r| &r.handled)
        .filter(|h| matches!(h, Handled::Split { .. }))
        .count();
    assert!(split >= 1, "split");
    // Writes: a claim and a record per range, and the split's progress, far below one per user.
    let writes =
        rig.store.calls(Op::Claim) + rig.store.calls(Op::Complete) + rig.store.calls(Op::Progress);
    assert!(
        (writes as f64) / (users as f64) <= 0.1,
        "{writes} writes for {users} users"
    );
}

#[tokio::test]
async fn failed_unicasts_fail_the_message_and_only_they_are_sent_again() {
    let rig = rig();
    for i in 0..20 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("partial", &["40027"])).await;
    // The first three Unicasts fail (503 after retries).
    rig.alexa
        .answer_next([Status::Failed, Status::Failed, Status::Failed]);
    let first = drain(&rig, 10, 1).await;
    assert_eq!(first[0].failed.len(), 1, "{:?}", first[0]);
    assert_eq!(rig.alexa.received().len(), 20);
    drain(&rig, 10, 5).await;
    let counts = per_user(&rig.alexa);
    assert_eq!(counts.len(), 20);
    let twice = counts.values().filter(|n| **n == 2).count();
    assert_eq!(twice, 3, "only the failed ones again: {counts:?}");
    assert_eq!(rig.alexa.received().len(), 23);
}

#[tokio::test]
async fn a_403_marks_the_user_unsubscribed_and_is_not_retried() {
    let rig = rig();
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await;
    announce(&rig, tornado("a403", &["40027"])).await;
    rig.alexa.answer_next([Status::NotSubscribed]);
    let reports = drain(&rig, 10, 5).await;
    assert!(reports.iter().all(|r| r.failed.is_empty()));
    assert_eq!(rig.alexa.received().len(), 1);
    assert_eq!(
        rig.store.user(&user(1)).unwrap().subscriptions,
        Some(vec![])
    );
    // A later alert skips the user until a new subscription event.
    announce(&rig, tornado("later", &["40027"])).await;
    drain(&rig, 10, 5).await;
    assert_eq!(rig.alexa.received().len(), 1);
}

#[tokio::test]
async fn a_state_table_failure_sends_nothing_and_the_message_comes_back() {
    let rig = rig();
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await;
    announce(&rig, tornado("flaky", &["40027"])).await;
    rig.store.fail_next(Op::Recipients, 1);
    let first = drain(&rig, 10, 1).await;
    assert_eq!(first[0].failed.len(), 1);
    assert!(rig.alexa.received().is_empty());
    drain(&rig, 10, 5).await;
    assert_eq!(per_user(&rig.alexa).get(&user(1)), Some(&1));
}

#[tokio::test]
async fn a_queue_that_refuses_the_alert_fails_the_send_and_releases_its_claim() {
    let rig = rig();
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await;
    rig.queue.fail_next(1);
    let err = rig
        .notifier
        .send_requests(
            vec![tornado("q", &["40027"])],
            deadline(),
            "p",
            OnRefusal::Record,
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "FanoutUnavailable");
    // The retry queues it.
    announce(&rig, tornado("q", &["40027"])).await;
    drain(&rig, 10, 5).await;
    assert_eq!(per_user(&rig.alexa).get(&user(1)), Some(&1));
}

#[tokio::test]
async fn without_a_queue_an_area_request_names_the_variable_before_anything_is_claimed() {
    let alexa = Arc::new(FakeAlexa::new());
    let store = Arc::new(MemoryStore::new());
    let notifier = Notifier::new(vec![Region::Na], alexa, Some(Ledger::new(store.clone())))
        .with_fanout(Arc::new(Fanout::new(
            None,
            Arc::new(FakeAlexa::new()),
            Region::Na,
            10,
            Arc::new(SystemClock),
        )));
    let err = notifier
        .send_requests(
            vec![tornado("x", &["40027"])],
            deadline(),
            "p",
            OnRefusal::Record,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("FANOUT_QUEUE_URL"), "{err}");
    assert_eq!(store.calls(Op::Claim), 0);
}

#[tokio::test]
async fn a_malformed_message_fails_and_names_its_field() {
    let rig = rig();
    let report = rig
        .fanout
        .consume(
            &rig.ledger,
            vec![Message {
                id: "bad".into(),
                body: "{\"v\": 1}".into(),
            }],
            deadline(),
            "h",
        )
        .await;
    assert_eq!(report.failed[0], "bad");
    assert!(
        matches!(&report.handled[0], Handled::Failed { reason } if reason.contains("body")),
        "{report:?}"
    );
}

#[tokio::test]
async fn an_extension_reaches_the_new_county_but_not_who_heard_the_alert_before() {
    let rig = rig();
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await; // Cleveland only
    add_user(&rig.store, &user(2), "73072", &[WEATHER_ALERT], "NA").await; // Cleveland and McClain
    add_user(&rig.store, &user(3), "73080", &[WEATHER_ALERT], "NA").await; // McClain (Purcell)
    let (mut request, _) = tornado("ext", &["40087"]);
    request.except = vec![crate::area::Place::county("40027")];
    announce(&rig, (request, None)).await;
    drain(&rig, 10, 10).await;
    let counts = per_user(&rig.alexa);
    assert_eq!(counts.get(&user(3)), Some(&1), "{counts:?}");
    assert_eq!(counts.get(&user(2)), None, "heard it with Cleveland County");
    assert_eq!(counts.get(&user(1)), None);
}

#[tokio::test(start_paused = true)]
async fn a_crash_after_sending_repeats_at_most_the_last_second_of_a_range() {
    use crate::clock::ManualClock;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    // 10 Unicasts a second: 30 users take 3 s, with the users reached recorded each second.
    let rig = rig_at(10, Arc::new(crate::weather::memory::Ended), clock.clone());
    for i in 0..30 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("crash", &["40027"])).await;
    let message = rig.queue.take();
    // The process dies before its last record: nothing after the sends is written.
    rig.store.fail(Op::Complete, true);
    rig.store.fail(Op::Release, true);
    let record = |id: &str| Message {
        id: id.into(),
        body: message[0].clone(),
    };
    rig.fanout
        .consume(&rig.ledger, vec![record("m1")], deadline(), "first")
        .await;
    assert_eq!(rig.alexa.received().len(), 30);
    let progress = rig.store.calls(Op::Progress);
    assert!(
        progress >= 3,
        "the leaf and its progress were recorded: {progress}"
    );
    rig.store.fail(Op::Complete, false);
    rig.store.fail(Op::Release, false);
    // SQS delivers the message again once the claim's lease has lapsed.
    clock.advance(chrono::Duration::minutes(5));
    let report = rig
        .fanout
        .consume(&rig.ledger, vec![record("m2")], deadline(), "second")
        .await;
    assert!(report.failed.is_empty(), "{report:?}");
    let counts = per_user(&rig.alexa);
    assert_eq!(counts.len(), 30, "nobody lost");
    let again = counts.values().filter(|n| **n > 1).count();
    assert!(
        again <= 10,
        "only the users of the last, unrecorded second are sent again: {again}"
    );
    assert!(counts.values().all(|n| *n <= 2));
}

#[tokio::test]
async fn a_user_the_index_still_lists_after_moving_away_is_not_sent_to() {
    let rig = rig();
    add_user(&rig.store, &user(1), "10001", &[WEATHER_ALERT], "NA").await; // New York now
    rig.store
        .add_stale_index_item(AreaKey::county("40027"), &user(1));
    add_user(&rig.store, &user(2), "73019", &[WEATHER_ALERT], "NA").await;
    announce(&rig, tornado("moved", &["40027"])).await;
    drain(&rig, 10, 10).await;
    let counts = per_user(&rig.alexa);
    assert_eq!(counts.get(&user(2)), Some(&1));
    assert_eq!(counts.get(&user(1)), None, "{counts:?}");
}

/// An event that ends everywhere once it has been asked `after` times.
struct EndsAfter {
    after: usize,
    asked: std::sync::Mutex<usize>,
    places: Vec<crate::area::Place>,
}

impl EventStatus for EndsAfter {
    fn ended<'a>(
        &'a self,
        _ledger: &'a Ledger,
        _watch: &'a Watch,
        _deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<BTreeSet<crate::area::Place>, StateError>> + 'a>> {
        let mut asked = self.asked.lock().unwrap();
        *asked += 1;
        let ended = if *asked > self.after {
            self.places.iter().cloned().collect()
        } else {
            BTreeSet::new()
        };
        Box::pin(async move { Ok(ended) })
    }
}

#[tokio::test(start_paused = true)]
async fn a_range_stops_sending_once_its_event_has_ended() {
    // 20 Unicasts a second: 60 users take three seconds, and the range asks again each
    // second; the event ends after the first answer (before the range started).
    let status = Arc::new(EndsAfter {
        after: 1,
        asked: std::sync::Mutex::new(0),
        places: vec![crate::area::Place::county("40027")],
    });
    let rig = rig_with(20, status.clone());
    for i in 0..60 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    let (mut request, trigger) = tornado("t-ends", &["40027"]);
    request.watch = Some(Watch {
        key: "KOUN.TO.W.0033.2026".into(),
        record: 1,
    });
    announce(&rig, (request, trigger)).await;
    let reports = drain(&rig, 10, 10).await;
    let sent = rig.alexa.received().len();
    assert!(
        (1..60).contains(&sent),
        "some users were reached before the end, not all: {sent}"
    );
    assert!(*status.asked.lock().unwrap() >= 2);
    assert!(reports.iter().all(|r| r.failed.is_empty()), "{reports:?}");
    // Done with: nothing is queued again, and nobody else is sent it later.
    assert!(rig.queue.take().is_empty());
    drain(&rig, 10, 10).await;
    assert_eq!(rig.alexa.received().len(), sent);
}

#[tokio::test]
async fn a_403_on_every_unicast_keeps_every_subscription_and_the_range_comes_back() {
    // A configuration fault (Stage=live before certification, another skill's credentials):
    // Alexa answers every Unicast 403.
    let rig = rig();
    for i in 0..20 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("misconfigured", &["40027"])).await;
    rig.alexa
        .answer_next(std::iter::repeat_n(Status::NotSubscribed, 20));
    let first = drain(&rig, 10, 1).await;
    assert_eq!(first[0].failed.len(), 1, "the range comes back");
    let reason = match &first[0].handled[0] {
        Handled::Failed { reason } => reason.clone(),
        other => panic!("{other:?}"),
    };
    assert!(
        reason.contains("20 × 403") && reason.contains("ALEXA_STAGE"),
        "{reason}"
    );
    let kept = (0..20)
        .filter(|i| {
            rig.store.user(&user(*i)).unwrap().subscriptions == Some(vec![WEATHER_ALERT.into()])
        })
        .count();
    assert_eq!(kept, 20, "subscriptions kept: {kept} of 20");
    // The configuration is fixed: the range comes back and every user hears the alert once.
    let reports = drain(&rig, 10, 5).await;
    assert!(reports.iter().all(|r| r.failed.is_empty()), "{reports:?}");
    let posts = per_user(&rig.alexa);
    assert_eq!(posts.len(), 20);
    assert!(
        posts.values().all(|n| *n == 2),
        "one refused, one accepted: {posts:?}"
    );
    drain(&rig, 10, 5).await;
    assert_eq!(rig.alexa.received().len(), 40, "nothing more");
}

#[tokio::test]
async fn a_few_403s_among_accepted_unicasts_are_those_users_own() {
    let rig = rig();
    for i in 0..20 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("three-off", &["40027"])).await;
    rig.alexa.answer_next([
        Status::NotSubscribed,
        Status::NotSubscribed,
        Status::NotSubscribed,
    ]);
    let reports = drain(&rig, 10, 5).await;
    assert!(reports.iter().all(|r| r.failed.is_empty()), "{reports:?}");
    let dropped = (0..20)
        .filter(|i| rig.store.user(&user(*i)).unwrap().subscriptions == Some(vec![]))
        .count();
    assert_eq!(dropped, 3);
    assert_eq!(rig.alexa.received().len(), 20, "each user once");
}

#[tokio::test]
async fn a_unicast_is_stamped_when_it_is_sent_and_not_sent_too_close_to_its_end() {
    use crate::clock::ManualClock;
    let start = Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let rig = rig_at(
        10_000,
        Arc::new(crate::weather::memory::Ended),
        clock.clone(),
    );
    add_user(&rig.store, &user(1), "73019", &[WEATHER_ALERT], "NA").await;
    let (mut request, trigger) = tornado("late", &["40027"]);
    request.expires_at = Some(start + chrono::Duration::minutes(30));
    announce(&rig, (request, trigger.clone())).await;
    // Consumed ten minutes after the poll built the event.
    clock.advance(chrono::Duration::minutes(10));
    drain(&rig, 10, 5).await;
    let sent = rig.alexa.received();
    assert_eq!(sent.len(), 1);
    let stamped =
        chrono::DateTime::parse_from_rfc3339(sent[0].event["timestamp"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc);
    assert!(
        stamped >= start + chrono::Duration::minutes(10) - chrono::Duration::seconds(1),
        "{stamped}"
    );
    // An alert with less than Alexa's five minutes left when its range comes up: not sent.
    let (mut request, trigger) = tornado("ending", &["40027"]);
    request.expires_at = Some(start + chrono::Duration::minutes(20));
    announce(&rig, (request, trigger)).await;
    clock.advance(chrono::Duration::minutes(7));
    let reports = drain(&rig, 10, 5).await;
    assert!(
        reports
            .iter()
            .flat_map(|r| &r.handled)
            .all(|h| matches!(h, Handled::Expired)),
        "{reports:?}"
    );
    assert_eq!(rig.alexa.received().len(), 1);
}

#[tokio::test]
async fn users_not_reached_for_lack_of_time_are_handed_on_not_failed() {
    let rig = rig();
    for i in 0..10 {
        add_user(&rig.store, &user(i), "73019", &[WEATHER_ALERT], "NA").await;
    }
    announce(&rig, tornado("late", &["40027"])).await;
    // Three Unicasts run out of time (a 429 whose retry no longer fits before the deadline).
    rig.alexa.late_next(3);
    let reports = drain(&rig, 10, 5).await;
    assert!(
        reports.iter().all(|r| r.failed.is_empty()),
        "no message fails: {reports:?}"
    );
    assert!(
        matches!(
            &reports[0].handled[..],
            [Handled::Continued {
                left: 3,
                sent: 7,
                ..
            }]
        ),
        "{:?}",
        reports[0].handled
    );
    let posts = per_user(&rig.alexa);
    assert_eq!(posts.len(), 10);
    let twice = posts.values().filter(|n| **n == 2).count();
    assert_eq!(
        twice, 3,
        "the three late ones were tried again, once: {posts:?}"
    );
}
