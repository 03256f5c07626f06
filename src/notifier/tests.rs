//! The notifier with in-memory edges: what is sent, what is recorded, what fails.

use std::sync::Arc;

use chrono::Utc;
use tokio::time::Instant;

use super::*;
use crate::alexa::fake::FakeAlexa;
use crate::state::memory::{Op, Sent};
use crate::state::{Claim, Claims, MemoryStore};

struct Rig {
    notifier: Notifier,
    alexa: Arc<FakeAlexa>,
    store: Arc<MemoryStore>,
}

fn rig(regions: &[Region]) -> Rig {
    let alexa = Arc::new(FakeAlexa::new());
    let store = Arc::new(MemoryStore::new());
    let notifier = Notifier::new(
        regions.to_vec(),
        alexa.clone(),
        Some(Ledger::new(store.clone())),
    );
    Rig {
        notifier,
        alexa,
        store,
    }
}

fn alert(id: &str) -> (NotificationRequest, Option<String>) {
    let request =
        NotificationRequest::multicast_weather_alert("TORNADO", "NWS", id.into(), None, &["en-US"]);
    (request, None)
}

fn deadline() -> Instant {
    Instant::now() + std::time::Duration::from_secs(30)
}

fn reference(id: &str) -> String {
    event::reference_id(crate::event::schemas::WEATHER_ALERT, id)
}

#[tokio::test]
async fn a_multicast_goes_to_every_region_once_however_often_it_is_asked() {
    let rig = rig(&[Region::Na, Region::Eu]);
    let first = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first
        .iter()
        .all(|o| matches!(o, Outcome::Sent(d) if d.status == Status::Accepted)));
    let again = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline(), "h2", OnRefusal::Release)
        .await
        .unwrap();
    assert!(matches!(
        &again[..],
        [Outcome::NotSent(NotSent::AlreadySent { .. })]
    ));
    let r = reference("a1");
    assert_eq!(rig.alexa.posts(&r, Region::Na), 1);
    assert_eq!(rig.alexa.posts(&r, Region::Eu), 1);
    let event = &rig.alexa.received()[0].event;
    assert_eq!(event["referenceId"], r.as_str());
    assert_eq!(event["relevantAudience"]["type"], "Multicast");
}

#[tokio::test]
async fn a_failed_region_fails_the_invocation_and_the_retry_sends_only_to_it() {
    let rig = rig(&[Region::Na, Region::Eu]);
    rig.alexa.region_down(Region::Eu, true);
    let err = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "SendFailed");
    assert!(
        err.to_string().contains("in EU: answer 503 (fake)"),
        "{err}"
    );
    assert!(
        matches!(rig.store.sent(&reference("a1")), Some((Sent::Partial, _))),
        "released for the retry, NA kept as done"
    );
    assert_eq!(
        rig.store.done(&reference("a1")),
        [crate::state::Reached::Region("NA".into())]
    );
    rig.alexa.region_down(Region::Eu, false);
    let retry = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline(), "h2", OnRefusal::Release)
        .await
        .unwrap();
    assert!(
        matches!(
            &retry[0],
            Outcome::NotSent(NotSent::AlreadySent {
                region: Some("NA"),
                ..
            })
        ),
        "{retry:?}"
    );
    // Without relying on Alexa's duplicate detection: NA got it exactly once.
    assert_eq!(rig.alexa.posts(&reference("a1"), Region::Na), 1);
    assert_eq!(rig.alexa.posts(&reference("a1"), Region::Eu), 2);
    assert!(matches!(
        rig.store.sent(&reference("a1")),
        Some((Sent::Sent { .. }, _))
    ));
}

#[tokio::test]
async fn a_region_that_fails_twice_is_the_only_one_tried_twice() {
    let rig = rig(&[Region::Na, Region::Eu, Region::Fe]);
    rig.alexa.region_down(Region::Eu, true);
    rig.alexa.region_down(Region::Fe, true);
    for holder in ["h1", "h2"] {
        rig.notifier
            .send_requests(vec![alert("a1")], deadline(), holder, OnRefusal::Release)
            .await
            .unwrap_err();
        rig.alexa.region_down(Region::Fe, false);
    }
    rig.alexa.region_down(Region::Eu, false);
    rig.notifier
        .send_requests(vec![alert("a1")], deadline(), "h3", OnRefusal::Release)
        .await
        .unwrap();
    let r = reference("a1");
    assert_eq!(
        [Region::Na, Region::Eu, Region::Fe].map(|region| rig.alexa.posts(&r, region)),
        [1, 3, 2]
    );
}

#[tokio::test]
async fn nothing_is_sent_without_its_claim() {
    let rig = rig(&[Region::Na]);
    rig.store.fail(Op::Claim, true);
    let err = rig
        .notifier
        .send_requests(
            vec![alert("a1"), alert("a2")],
            deadline(),
            "h1",
            OnRefusal::Release,
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "StateUnavailable");
    assert!(rig.alexa.received().is_empty());
}

#[tokio::test]
async fn a_client_that_cannot_start_releases_the_claims() {
    let rig = rig(&[Region::Na]);
    rig.alexa.break_setup(true);
    let err = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "SetupFailed");
    assert_eq!(rig.store.sent(&reference("a1")), None);
}

#[tokio::test]
async fn an_event_another_invocation_is_sending_fails_this_one_after_the_rest_is_sent() {
    let rig = rig(&[Region::Na]);
    let other = Claim {
        reference_id: reference("a1"),
        holder: "other".into(),
        lease_until: Utc::now() + chrono::Duration::seconds(60),
        expires_at: Utc::now() + chrono::Duration::hours(1),
        keep_until: Utc::now() + chrono::Duration::hours(1),
        done: Vec::new(),
        tag: None,
    };
    rig.store.claim(&other).await.unwrap();
    let err = rig
        .notifier
        .send_requests(
            vec![alert("a1"), alert("a2")],
            deadline(),
            "h1",
            OnRefusal::Release,
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::InProgress {
            reference_ids: vec![reference("a1")]
        }
    );
    assert_eq!(rig.alexa.posts(&reference("a2"), Region::Na), 1);
    assert_eq!(rig.alexa.posts(&reference("a1"), Region::Na), 0);
}

#[tokio::test]
async fn a_unicast_goes_to_its_users_region_and_not_subscribed_is_settled() {
    let rig = rig(&[Region::Na, Region::Eu]);
    let request = NotificationRequest::unicast_weather_alert(
        "TORNADO",
        vec![("en-GB".into(), "Met Office".into())],
        "u1".into(),
        "amzn1.ask.account.U".into(),
        Some(Region::Eu),
    );
    rig.alexa.answer_next([Status::NotSubscribed]);
    let results = rig
        .notifier
        .send_requests(vec![(request, None)], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap();
    assert!(
        matches!(&results[..], [Outcome::Sent(d)] if d.status == Status::NotSubscribed && d.region == "EU")
    );
    let received = rig.alexa.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].unicast);
    assert_eq!(
        received[0].event["relevantAudience"]["payload"]["user"],
        "amzn1.ask.account.U"
    );
    assert!(matches!(
        rig.store.sent(&reference("u1")),
        Some((Sent::Sent { .. }, _))
    ));
}

#[tokio::test]
async fn without_a_ledger_every_request_is_sent() {
    let alexa = Arc::new(FakeAlexa::new());
    let notifier = Notifier::new(vec![Region::Na], alexa.clone(), None);
    for holder in ["h1", "h2"] {
        notifier
            .send_requests(vec![alert("a1")], deadline(), holder, OnRefusal::Release)
            .await
            .unwrap();
    }
    assert_eq!(alexa.posts(&reference("a1"), Region::Na), 2);
}

#[tokio::test]
async fn expired_requests_are_skipped_and_repeats_are_one_event() {
    let rig = rig(&[Region::Na]);
    let (mut expired, _) = alert("old");
    expired.expires_at = Some(Utc::now() - chrono::Duration::minutes(1));
    let results = rig
        .notifier
        .send_requests(
            vec![(expired, None), alert("a1"), alert("a1")],
            deadline(),
            "h1",
            OnRefusal::Release,
        )
        .await
        .unwrap();
    assert!(matches!(
        &results[0],
        Outcome::NotSent(NotSent::Skipped { reason, .. }) if reason.contains("expired")
    ));
    assert!(matches!(
        &results[1],
        Outcome::NotSent(NotSent::Duplicate { .. })
    ));
    assert_eq!(rig.alexa.received().len(), 1);
    assert_eq!(
        rig.store.calls(Op::Claim),
        1,
        "nothing claimed for the skipped one"
    );
}

#[tokio::test]
async fn the_test_alert_reports_alexas_verdict() {
    let rig = rig(&[Region::Na]);
    let request = NotificationRequest::unicast_weather_alert(
        "THUNDER_STORM",
        vec![("en-US".into(), "a test".into())],
        "req-1".into(),
        "amzn1.ask.account.U".into(),
        None,
    );
    assert_eq!(
        rig.notifier.send_one(&request, deadline()).await,
        Status::Accepted
    );
    rig.alexa.answer_next([Status::NotSubscribed]);
    assert_eq!(
        rig.notifier.send_one(&request, deadline()).await,
        Status::NotSubscribed
    );
    rig.alexa.break_setup(true);
    assert_eq!(
        rig.notifier.send_one(&request, deadline()).await,
        Status::Failed
    );
    assert_eq!(
        rig.store.calls(Op::Claim),
        0,
        "the test alert is not recorded"
    );
}

#[tokio::test]
async fn an_alert_that_outlasts_its_alexa_expiry_is_announced_once_over_days() {
    use crate::clock::ManualClock;
    // A winter storm warning that ends in 3 days, seen by polls at +0 h, +25 h and +49 h. Each
    // record disappears the moment its TTL passes (the worst DynamoDB may do).
    let start = Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let alexa = Arc::new(FakeAlexa::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let notifier = Notifier::new(
        vec![Region::Na],
        alexa.clone(),
        Some(Ledger::new(store.clone())),
    )
    .with_clock(clock.clone());
    let ends = start + chrono::Duration::days(3);
    for (poll, hours) in [(1, 0), (2, 25), (3, 24)] {
        clock.advance(chrono::Duration::hours(hours));
        let request = NotificationRequest::multicast_weather_alert(
            "SNOW_STORM",
            "NWS",
            "storm".into(),
            Some(ends),
            &["en-US"],
        );
        notifier
            .send_requests(
                vec![(request, None)],
                deadline(),
                &format!("poll-{poll}"),
                OnRefusal::Release,
            )
            .await
            .unwrap();
    }
    assert_eq!(
        alexa.posts(&reference("storm"), Region::Na),
        1,
        "announced once"
    );
}

#[tokio::test]
async fn a_refused_feed_alert_is_final_and_does_not_hold_back_the_others() {
    let rig = rig(&[Region::Na]);
    rig.alexa.answer_next([Status::Refused]);
    let results = rig
        .notifier
        .send_requests(
            vec![alert("bad"), alert("good")],
            deadline(),
            "poll-1",
            OnRefusal::Record,
        )
        .await
        .expect("a refusal does not fail the poll");
    let statuses: Vec<_> = results
        .iter()
        .map(|o| match o {
            Outcome::Sent(d) => d.status,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(statuses, [Status::Refused, Status::Accepted]);
    let again = rig
        .notifier
        .send_requests(vec![alert("bad")], deadline(), "poll-2", OnRefusal::Record)
        .await
        .unwrap();
    assert!(matches!(
        &again[..],
        [Outcome::NotSent(NotSent::AlreadyRefused { reason: Some(r), .. })] if r.contains("400")
    ));
    assert_eq!(
        rig.alexa.posts(&reference("bad"), Region::Na),
        1,
        "never tried again"
    );
}

#[tokio::test]
async fn a_refused_trigger_fails_and_is_sent_again_once_corrected() {
    let rig = rig(&[Region::Na]);
    rig.alexa.answer_next([Status::Refused]);
    let err = rig
        .notifier
        .send_requests(vec![alert("t1")], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "SendFailed");
    assert!(err.to_string().contains("refused: answer 400"), "{err}");
    rig.notifier
        .send_requests(vec![alert("t1")], deadline(), "h2", OnRefusal::Release)
        .await
        .unwrap();
    assert_eq!(rig.alexa.posts(&reference("t1"), Region::Na), 2);
}

#[tokio::test(start_paused = true)]
async fn a_send_that_uses_all_its_time_is_still_recorded_before_the_deadline() {
    let rig = rig(&[Region::Na]);
    rig.alexa.use_all_the_time(true);
    rig.store
        .slow(Op::Complete, std::time::Duration::from_millis(200));
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    rig.notifier
        .send_requests(vec![alert("a1")], deadline, "h1", OnRefusal::Release)
        .await
        .unwrap();
    let recorded = rig.store.completed_at(&reference("a1")).expect("recorded");
    assert!(
        recorded + crate::budget::REPORT_RESERVE <= deadline,
        "recorded {:?} before the deadline, needs at least {:?}",
        deadline.saturating_duration_since(recorded),
        crate::budget::REPORT_RESERVE
    );
}

#[tokio::test]
async fn a_record_that_fails_once_is_tried_again() {
    let rig = rig(&[Region::Na]);
    rig.store.fail_next(Op::Complete, 1);
    rig.notifier
        .send_requests(vec![alert("a1")], deadline(), "h1", OnRefusal::Release)
        .await
        .unwrap();
    assert!(matches!(
        rig.store.sent(&reference("a1")),
        Some((Sent::Sent { .. }, _))
    ));
    assert_eq!(rig.store.calls(Op::Complete), 2);
}

#[tokio::test(start_paused = true)]
async fn a_state_table_slower_than_the_invocation_fails_it_before_its_deadline() {
    let rig = rig(&[Region::Na]);
    rig.store
        .slow(Op::Claim, std::time::Duration::from_secs(60));
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(10);
    let err = rig
        .notifier
        .send_requests(vec![alert("a1")], deadline, "h1", OnRefusal::Release)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "StateUnavailable");
    assert!(
        err.to_string().contains("before the invocation's deadline"),
        "{err}"
    );
    assert!(Instant::now() < deadline);
    assert!(rig.alexa.received().is_empty());
}
