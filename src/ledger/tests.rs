//! The claim protocol against the in-memory store: who sends, what a failure leaves behind.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::alexa::{Delivery, Region, Status};
use crate::state::memory::{Op, Sent};
use crate::state::Reached;
use crate::state::{Announced, MemoryStore, UserChangeKind};

fn ledger() -> (Ledger, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    (Ledger::new(store.clone()), store)
}

fn candidate(reference_id: &str) -> Candidate<&str> {
    Candidate {
        item: "event",
        reference_id: reference_id.to_owned(),
        expires_at: Utc::now() + Duration::hours(1),
        ends_at: Utc::now() + Duration::hours(1),
        tag: None,
    }
}

/// The invocation's deadline.
fn dl() -> tokio::time::Instant {
    tokio::time::Instant::now() + std::time::Duration::from_secs(30)
}

fn lease() -> DateTime<Utc> {
    Utc::now() + Duration::seconds(40)
}

fn delivery(reference_id: &str, region: Region, status: Status) -> Delivery {
    Delivery {
        reference_id: reference_id.into(),
        region: region.code(),
        status,
        attempts: 1,
        request_id: None,
        error: None,
        late: false,
        throttled: 0,
    }
}

fn claims<T>(claimed: &Claimed<T>) -> Vec<Claim> {
    claimed.to_send.iter().map(|(_, c)| c.clone()).collect()
}

#[tokio::test]
async fn only_one_of_two_racing_invocations_wins_a_claim() {
    let (ledger, _) = ledger();
    let (a, b) = tokio::join!(
        ledger.claim_all(vec![candidate("r1"), candidate("r2")], "a", lease(), dl()),
        ledger.claim_all(vec![candidate("r2"), candidate("r1")], "b", lease(), dl()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.to_send.len() + b.to_send.len(),
        2,
        "each referenceId won once"
    );
    assert_eq!(a.held.len() + b.held.len(), 2);
    for (_, held) in a.held.iter().chain(&b.held) {
        assert!(
            matches!(
                held,
                Held::InProgress {
                    lease_until: Some(_)
                }
            ),
            "{held:?}"
        );
    }
    assert_eq!(a.busy().len() + b.busy().len(), 2);
}

#[tokio::test]
async fn a_delivered_event_is_never_claimed_again() {
    let (ledger, store) = ledger();
    let claimed = ledger
        .claim_all(vec![candidate("r1")], "a", lease(), dl())
        .await
        .unwrap();
    ledger
        .settle(
            &claims(&claimed),
            &[
                delivery("r1", Region::Na, Status::Accepted),
                delivery("r1", Region::Eu, Status::Duplicate),
            ],
            OnRefusal::Release,
            dl(),
        )
        .await;
    assert!(matches!(store.sent("r1"), Some((Sent::Sent { .. }, _))));
    let again = ledger
        .claim_all(vec![candidate("r1")], "b", lease(), dl())
        .await
        .unwrap();
    assert!(again.to_send.is_empty());
    assert!(matches!(
        again.held[0],
        (_, Held::AlreadySent { sent_at: Some(_) })
    ));
    assert!(again.busy().is_empty(), "sent is not busy");
    assert!(ledger.announced("r1", dl()).await.unwrap().is_some());
}

#[tokio::test]
async fn an_event_any_region_failed_is_released_for_the_retry() {
    let (ledger, store) = ledger();
    let claimed = ledger
        .claim_all(vec![candidate("r1"), candidate("r2")], "a", lease(), dl())
        .await
        .unwrap();
    ledger
        .settle(
            &claims(&claimed),
            &[
                delivery("r1", Region::Na, Status::Accepted),
                delivery("r1", Region::Eu, Status::Failed),
                delivery("r2", Region::Na, Status::NotSubscribed),
            ],
            OnRefusal::Release,
            dl(),
        )
        .await;
    assert_eq!(
        store.sent("r1").map(|(s, _)| s),
        Some(Sent::Partial),
        "released: a retry sends it"
    );
    assert_eq!(
        store.done("r1"),
        [Reached::Region("NA".into())],
        "... to EU only"
    );
    assert!(
        matches!(store.sent("r2"), Some((Sent::Sent { .. }, _))),
        "not subscribed is settled"
    );
    let retry = ledger
        .claim_all(vec![candidate("r1")], "b", lease(), dl())
        .await
        .unwrap();
    assert_eq!(retry.to_send.len(), 1);
    assert_eq!(retry.to_send[0].1.done, [Reached::Region("NA".into())]);
}

#[tokio::test]
async fn repeated_reference_ids_in_one_batch_are_one_event() {
    let (ledger, store) = ledger();
    let claimed = ledger
        .claim_all(vec![candidate("r1"), candidate("r1")], "a", lease(), dl())
        .await
        .unwrap();
    assert_eq!(claimed.to_send.len(), 1);
    assert_eq!(claimed.held, vec![("r1".to_owned(), Held::Repeated)]);
    assert_eq!(store.calls(Op::Claim), 1);
}

#[tokio::test]
async fn a_state_failure_while_claiming_releases_what_was_won() {
    let (ledger, store) = ledger();
    store.fail_after(Op::Claim, 2);
    let err = ledger
        .claim_all(
            vec![candidate("r1"), candidate("r2"), candidate("r3")],
            "a",
            lease(),
            dl(),
        )
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            StateError::Unavailable {
                action: "UpdateItem",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.sent("r1"), None);
    assert_eq!(store.sent("r2"), None);
    assert_eq!(store.calls(Op::Release), 2);
    store.fail(Op::Claim, false);
    let retry = ledger
        .claim_all(vec![candidate("r1"), candidate("r2")], "b", lease(), dl())
        .await
        .unwrap();
    assert_eq!(retry.to_send.len(), 2, "nothing left blocked");
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_the_dead_holder_cannot_release_it() {
    let (ledger, store) = ledger();
    let past = Utc::now() - Duration::seconds(1);
    let dead = ledger
        .claim_all(vec![candidate("r1")], "dead", past, dl())
        .await
        .unwrap();
    let taken = ledger
        .claim_all(vec![candidate("r1")], "alive", lease(), dl())
        .await
        .unwrap();
    assert_eq!(taken.to_send.len(), 1, "the lease lapsed");
    ledger.release_all(&claims(&dead), dl()).await;
    assert!(
        matches!(store.sent("r1"), Some((Sent::InProgress { holder, .. }, _)) if holder == "alive"),
        "the dead holder's release leaves the new claim alone"
    );
    assert!(
        ledger.announced("r1", dl()).await.unwrap().is_none(),
        "in progress is not sent"
    );
}

#[tokio::test]
async fn a_failed_record_after_the_send_is_not_fatal() {
    let (ledger, store) = ledger();
    let claimed = ledger
        .claim_all(vec![candidate("r1")], "a", lease(), dl())
        .await
        .unwrap();
    store.fail(Op::Complete, true);
    ledger
        .settle(
            &claims(&claimed),
            &[delivery("r1", Region::Na, Status::Accepted)],
            OnRefusal::Release,
            dl(),
        )
        .await;
    assert!(
        matches!(store.sent("r1"), Some((Sent::InProgress { .. }, _))),
        "left in progress; it lapses with its lease"
    );
}

#[tokio::test]
async fn an_update_is_marked_announced_once() {
    let (ledger, store) = ledger();
    let until = Utc::now() + Duration::hours(3);
    ledger
        .mark_announced(
            "u1".into(),
            "a",
            Utc::now(),
            until,
            Some("10001".into()),
            dl(),
        )
        .await
        .unwrap();
    assert_eq!(
        ledger.announced("u1", dl()).await.unwrap(),
        Some(Announced {
            tag: Some("10001".into())
        }),
        "kept with its tag"
    );
    assert!(
        matches!(store.sent("u1"), Some((Sent::Sent { .. }, kept)) if kept == until + RETENTION),
        "kept a week past the alert's end"
    );
    ledger
        .mark_announced("u1".into(), "b", Utc::now(), until, None, dl())
        .await
        .unwrap();
    assert_eq!(
        store.calls(Op::Complete),
        1,
        "already sent: not written again"
    );
}

#[tokio::test]
async fn user_records_keep_the_newest_event() {
    let (ledger, store) = ledger();
    let at = |minutes| Utc::now() + Duration::minutes(minutes);
    let change = |minutes, kind| UserChange {
        user_id: "amzn1.ask.account.U".into(),
        at: at(minutes),
        kind,
    };
    assert_eq!(
        ledger
            .record_user(&change(1, UserChangeKind::Enabled), dl())
            .await
            .unwrap(),
        Recorded::Applied
    );
    let user = "amzn1.ask.account.U";
    assert_eq!(
        ledger.subscriptions(user, dl()).await.unwrap(),
        None,
        "enabling says nothing of them"
    );
    let subscribed = UserChangeKind::Subscriptions(vec!["AMAZON.WeatherAlert.Activated".into()]);
    assert_eq!(
        ledger
            .record_user(&change(2, subscribed), dl())
            .await
            .unwrap(),
        Recorded::Applied
    );
    assert_eq!(
        ledger.subscriptions(user, dl()).await.unwrap(),
        Some(vec!["AMAZON.WeatherAlert.Activated".to_owned()])
    );
    assert_eq!(
        ledger
            .record_user(&change(1, UserChangeKind::Disabled), dl())
            .await
            .unwrap(),
        Recorded::Stale,
        "an older event arriving late changes nothing"
    );
    assert!(store.user("amzn1.ask.account.U").unwrap().enabled);
    assert_eq!(
        ledger
            .record_user(&change(3, UserChangeKind::Disabled), dl())
            .await
            .unwrap(),
        Recorded::Applied
    );
    let record = store.user(user).unwrap();
    assert!(!record.enabled && record.subscriptions.is_none());
    assert_eq!(ledger.subscriptions(user, dl()).await.unwrap(), None);
}

#[tokio::test]
async fn each_kind_of_user_fact_is_ordered_by_its_own_time() {
    let (ledger, store) = ledger();
    let user = "amzn1.ask.account.U";
    let at = |minutes| Utc::now() + Duration::minutes(minutes);
    let record = |minutes, kind| {
        let ledger = ledger.clone();
        async move {
            ledger
                .record_user(
                    &UserChange {
                        user_id: user.into(),
                        at: at(minutes),
                        kind,
                    },
                    dl(),
                )
                .await
                .unwrap()
        }
    };
    let weather = || UserChangeKind::Subscriptions(vec!["AMAZON.WeatherAlert.Activated".into()]);
    // SkillEnabled (minute 2) is delivered before the subscription event of minute 1: the
    // subscription still applies (an enable says nothing of subscriptions).
    assert_eq!(record(2, UserChangeKind::Enabled).await, Recorded::Applied);
    assert_eq!(record(1, weather()).await, Recorded::Applied);
    assert_eq!(
        ledger.subscriptions(user, dl()).await.unwrap(),
        Some(vec!["AMAZON.WeatherAlert.Activated".to_owned()])
    );
    // Disabled at 4; a subscription event of 3 delivered after it cannot bring them back.
    assert_eq!(record(4, UserChangeKind::Disabled).await, Recorded::Applied);
    assert_eq!(record(3, weather()).await, Recorded::Stale);
    assert_eq!(ledger.subscriptions(user, dl()).await.unwrap(), None);
    // Enabled at 6 and subscribed at 7; a disable of 5 delivered late changes nothing.
    assert_eq!(record(6, UserChangeKind::Enabled).await, Recorded::Applied);
    assert_eq!(record(7, weather()).await, Recorded::Applied);
    assert_eq!(record(5, UserChangeKind::Disabled).await, Recorded::Stale);
    let kept = store.user(user).unwrap();
    assert!(kept.enabled && kept.subscriptions.is_some(), "{kept:?}");
    // Disabled at 9, enabled again at 10 (delivered first), subscriptions of 8 before both:
    // the enable holds, the subscriptions of before the disable are over.
    assert_eq!(record(10, UserChangeKind::Enabled).await, Recorded::Applied);
    assert_eq!(record(9, UserChangeKind::Disabled).await, Recorded::Applied);
    let after = store.user(user).unwrap();
    assert!(after.enabled && after.subscriptions.is_none(), "{after:?}");
}

#[tokio::test]
async fn a_record_is_kept_a_retention_past_the_end_of_what_it_announces() {
    let (ledger, store) = ledger();
    let now = Utc::now();
    let three_days = Candidate {
        item: "storm",
        reference_id: "r1".into(),
        expires_at: now + Duration::hours(24),
        ends_at: now + Duration::days(3),
        tag: Some("11000".into()),
    };
    let claimed = ledger
        .claim_all(vec![three_days], "a", lease(), dl())
        .await
        .unwrap();
    let claim = &claimed.to_send[0].1;
    assert_eq!(
        claim.expires_at,
        now + Duration::hours(24),
        "Alexa's expiry, kept apart"
    );
    assert_eq!(claim.keep_until, now + Duration::days(3) + RETENTION);
    ledger
        .settle(
            &claims(&claimed),
            &[delivery("r1", Region::Na, Status::Accepted)],
            OnRefusal::Release,
            dl(),
        )
        .await;
    assert!(matches!(store.sent("r1"), Some((_, kept)) if kept == now + Duration::days(10)));
}

#[tokio::test]
async fn a_refusal_is_recorded_as_final_only_when_asked() {
    let (ledger, store) = ledger();
    let refused = |region| {
        let mut d = delivery("r1", region, Status::Refused);
        d.error =
            Some("refused: answer 400 (code INVALID_FORMAT: bad), x-amzn-RequestId q1".into());
        d
    };
    let claimed = ledger
        .claim_all(vec![candidate("r1")], "a", lease(), dl())
        .await
        .unwrap();
    ledger
        .settle(
            &claims(&claimed),
            &[refused(Region::Na)],
            OnRefusal::Release,
            dl(),
        )
        .await;
    assert_eq!(
        store.sent("r1"),
        None,
        "an owner's trigger may be corrected and sent again"
    );

    let claimed = ledger
        .claim_all(vec![candidate("r1")], "b", lease(), dl())
        .await
        .unwrap();
    ledger
        .settle(
            &claims(&claimed),
            &[
                refused(Region::Na),
                delivery("r1", Region::Eu, Status::Accepted),
            ],
            OnRefusal::Record,
            dl(),
        )
        .await;
    assert!(matches!(
        store.sent("r1"),
        Some((Sent::Refused { reason, .. }, _)) if reason.contains("INVALID_FORMAT") && reason.contains("q1")
    ));
    let again = ledger
        .claim_all(vec![candidate("r1")], "c", lease(), dl())
        .await
        .unwrap();
    assert!(again.to_send.is_empty());
    assert!(matches!(&again.held[0].1, Held::Refused { reason: Some(r), .. } if r.contains("400")));
    // Done with, as a sent record is: a poll reading an event's chain of records moves past
    // it (else one refused announcement would hold back every later one of that event).
    assert!(ledger.announced("r1", dl()).await.unwrap().is_some());
}

#[tokio::test]
async fn a_refusal_with_another_region_failing_is_not_final() {
    let (ledger, store) = ledger();
    let claimed = ledger
        .claim_all(vec![candidate("r1")], "a", lease(), dl())
        .await
        .unwrap();
    ledger
        .settle(
            &claims(&claimed),
            &[
                delivery("r1", Region::Na, Status::Refused),
                delivery("r1", Region::Eu, Status::Failed),
            ],
            OnRefusal::Record,
            dl(),
        )
        .await;
    assert_eq!(
        store.sent("r1"),
        None,
        "released: the failed region is retried"
    );
}
