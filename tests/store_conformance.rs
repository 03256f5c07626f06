//! One behaviour, two stores: every check here runs against the in-memory store the unit
//! tests use and against DynamoDB (moto, behind the testkit's proxy), so that the stand-in
//! cannot drift from the real table: claims, records and their reads, users' skill events in
//! any order, areas and the index that finds users by place.

use std::sync::Arc;

use alexa_proactive::state::{
    AreaKey, AreaSource, Claim, ClaimOutcome, DynamoStore, HashRange, MemoryStore, Reached,
    Recorded, StateStore, UserArea, UserChange, UserChangeKind,
};
use chrono::{DateTime, Duration, Utc};
use testkit::moto::Moto;

const TABLE: &str = "conformance";
const WEATHER: &str = "AMAZON.WeatherAlert.Activated";
const OTHER: &str = "AMAZON.MessageAlert.Activated";

fn claim(reference_id: &str, holder: &str, lease: Duration) -> Claim {
    let now = Utc::now();
    Claim {
        reference_id: reference_id.to_owned(),
        holder: holder.to_owned(),
        lease_until: now + lease,
        expires_at: now + Duration::hours(1),
        keep_until: now + Duration::days(8),
        done: Vec::new(),
        tag: Some(format!("tag-of-{reference_id}")),
    }
}

fn change(user: &str, at: DateTime<Utc>, kind: UserChangeKind) -> UserChange {
    UserChange {
        user_id: user.to_owned(),
        at,
        kind,
    }
}

fn area(user: &str, zip: &str) -> UserArea {
    UserArea {
        user_id: user.to_owned(),
        postal_code: zip.to_owned(),
        country: "US".to_owned(),
        places: alexa_proactive::area::counties(zip)
            .map(|c| {
                c.map(|c| alexa_proactive::state::AreaKey::county(c.fips))
                    .collect()
            })
            .unwrap_or_default(),
        region: Some("EU".to_owned()),
        locale: Some("en-GB".to_owned()),
        source: AreaSource::Device,
    }
}

async fn claims_and_records(store: &dyn StateStore, name: &str) {
    let won = claim("r1", "a", Duration::seconds(60));
    assert_eq!(
        store.claim(&won).await.unwrap(),
        ClaimOutcome::Claimed { done: vec![] },
        "{name}"
    );
    let rival = claim("r1", "b", Duration::seconds(60));
    assert!(
        matches!(
            store.claim(&rival).await.unwrap(),
            ClaimOutcome::InProgress { .. }
        ),
        "{name}: one claim at a time"
    );
    assert_eq!(
        store.sent("r1").await.unwrap(),
        None,
        "{name}: in progress is not sent"
    );
    store.complete(&won).await.unwrap();
    assert_eq!(
        store.sent("r1").await.unwrap().and_then(|a| a.tag),
        Some("tag-of-r1".to_owned()),
        "{name}: sent, with its tag"
    );
    assert!(
        matches!(
            store.claim(&rival).await.unwrap(),
            ClaimOutcome::AlreadySent { .. }
        ),
        "{name}"
    );
    // Released with a region reached: the next claim is told, and sends only the rest.
    let partial = claim("r2", "a", Duration::seconds(60));
    store.claim(&partial).await.unwrap();
    store
        .release(&partial, &[Reached::Region("NA".to_owned())])
        .await
        .unwrap();
    assert_eq!(
        store
            .claim(&claim("r2", "b", Duration::seconds(60)))
            .await
            .unwrap(),
        ClaimOutcome::Claimed {
            done: vec![Reached::Region("NA".to_owned())]
        },
        "{name}"
    );
    // Refused as final: never claimed again, and done with for a reader of records.
    let refused = claim("r3", "a", Duration::seconds(60));
    store.claim(&refused).await.unwrap();
    store.refuse(&refused, "400 invalid").await.unwrap();
    assert!(
        matches!(
            store.claim(&refused).await.unwrap(),
            ClaimOutcome::Refused { .. }
        ),
        "{name}"
    );
    assert!(store.sent("r3").await.unwrap().is_some(), "{name}");
    // A lapsed lease is taken over.
    let dead = claim("r4", "a", Duration::seconds(-1));
    store.claim(&dead).await.unwrap();
    assert!(
        matches!(
            store
                .claim(&claim("r4", "b", Duration::seconds(60)))
                .await
                .unwrap(),
            ClaimOutcome::Claimed { .. }
        ),
        "{name}: a lapsed lease"
    );
    // Many at once: the records done with, and nothing else.
    let asked: Vec<String> = ["r1", "r2", "r3", "r4", "nothing"]
        .iter()
        .map(|r| r.to_string())
        .collect();
    let found = store.sent_many(&asked).await.unwrap();
    let mut keys: Vec<&String> = found.keys().collect();
    keys.sort();
    assert_eq!(keys, ["r1", "r3"], "{name}");
    assert_eq!(found["r1"].tag.as_deref(), Some("tag-of-r1"), "{name}");
}

async fn users_in_any_order(store: &dyn StateStore, name: &str) {
    let user = format!("amzn1.ask.account.CONF{name}");
    let base = Utc::now() - Duration::hours(1);
    let t = |minutes| base + Duration::minutes(minutes);
    let subscribed = || UserChangeKind::Subscriptions(vec![WEATHER.to_owned(), OTHER.to_owned()]);
    // SkillEnabled delivered before an older subscription event: both apply.
    let record = |at, kind| {
        let change = change(&user, at, kind);
        async move { store.record_user(&change).await.unwrap() }
    };
    assert_eq!(
        record(t(2), UserChangeKind::Enabled).await,
        Recorded::Applied,
        "{name}"
    );
    assert_eq!(
        record(t(1), subscribed()).await,
        Recorded::Applied,
        "{name}"
    );
    assert_eq!(
        store.subscriptions(&user).await.unwrap(),
        Some(vec![WEATHER.to_owned(), OTHER.to_owned()]),
        "{name}"
    );
    // A 403: one event dropped.
    store.drop_subscription(&user, WEATHER).await.unwrap();
    assert_eq!(
        store.subscriptions(&user).await.unwrap(),
        Some(vec![OTHER.to_owned()]),
        "{name}"
    );
    // Disabled; an older subscription event delivered after it changes nothing.
    assert_eq!(
        record(t(4), UserChangeKind::Disabled).await,
        Recorded::Applied,
        "{name}"
    );
    assert_eq!(record(t(3), subscribed()).await, Recorded::Stale, "{name}");
    assert_eq!(store.subscriptions(&user).await.unwrap(), None, "{name}");
    // Enabled and subscribed later; a late older disable changes nothing.
    assert_eq!(
        record(t(6), UserChangeKind::Enabled).await,
        Recorded::Applied,
        "{name}"
    );
    assert_eq!(
        record(t(7), subscribed()).await,
        Recorded::Applied,
        "{name}"
    );
    assert_eq!(
        record(t(5), UserChangeKind::Disabled).await,
        Recorded::Stale,
        "{name}"
    );
    // The same event again (a redelivery): nothing to change.
    assert_eq!(record(t(7), subscribed()).await, Recorded::Stale, "{name}");
}

async fn areas_and_the_index(store: &dyn StateStore, name: &str) {
    let user = format!("amzn1.ask.account.AREA{name}");
    let cleveland = AreaKey::county("40027");
    let mcclain = AreaKey::county("40087");
    store
        .record_user(&change(
            &user,
            Utc::now(),
            UserChangeKind::Subscriptions(vec![WEATHER.to_owned()]),
        ))
        .await
        .unwrap();
    // A border ZIP: both counties and the ZIP.
    store.set_area(&area(&user, "73072")).await.unwrap();
    assert_eq!(
        store.area(&user).await.unwrap(),
        Some(area(&user, "73072")),
        "{name}"
    );
    for key in [&cleveland, &mcclain, &AreaKey::zip("73072")] {
        assert_eq!(
            store
                .users_in_area(std::slice::from_ref(key), HashRange::ALL)
                .await
                .unwrap(),
            vec![user.clone()],
            "{name}: {key:?}"
        );
    }
    assert_eq!(
        store
            .users_in_area(&[cleveland.clone(), mcclain.clone()], HashRange::ALL)
            .await
            .unwrap(),
        vec![user.clone()],
        "{name}: once, whatever the places"
    );
    assert_eq!(
        store
            .count_area(&[cleveland.clone(), mcclain.clone()], HashRange::ALL)
            .await
            .unwrap(),
        2,
        "{name}: index items, not people"
    );
    let recipients = store.recipients(std::slice::from_ref(&user)).await.unwrap();
    assert_eq!(recipients.len(), 1, "{name}");
    assert_eq!(recipients[0].region.as_deref(), Some("EU"), "{name}");
    assert_eq!(
        recipients[0].subscriptions,
        Some(vec![WEATHER.to_owned()]),
        "{name}"
    );
    // Moved: the old places no longer find the user.
    store.set_area(&area(&user, "10001")).await.unwrap();
    assert!(
        store
            .users_in_area(&[cleveland.clone(), mcclain.clone()], HashRange::ALL)
            .await
            .unwrap()
            .is_empty(),
        "{name}"
    );
    assert_eq!(
        store
            .users_in_area(&[AreaKey::county("36061")], HashRange::ALL)
            .await
            .unwrap(),
        vec![user.clone()],
        "{name}"
    );
    // Forgotten: the record and every index item.
    assert!(store.forget_area(&user).await.unwrap(), "{name}");
    assert_eq!(store.area(&user).await.unwrap(), None, "{name}");
    assert!(
        store
            .users_in_area(
                &[AreaKey::county("36061"), AreaKey::zip("10001")],
                HashRange::ALL
            )
            .await
            .unwrap()
            .is_empty(),
        "{name}"
    );
    assert!(
        !store.forget_area(&user).await.unwrap(),
        "{name}: nothing left to forget"
    );
}

#[tokio::test]
async fn the_memory_store_and_dynamodb_behave_alike() {
    let project = testkit::project!();
    let moto = Moto::start(&project.moto_server()).await;
    moto.create_state_table(TABLE).await;
    // This test is alone in its process: the function reads the environment once.
    moto.serve_this_process();
    let stores: [(&str, Arc<dyn StateStore>); 2] = [
        ("memory", Arc::new(MemoryStore::new())),
        ("dynamodb", Arc::new(DynamoStore::new(TABLE.to_owned()))),
    ];
    for (name, store) in &stores {
        claims_and_records(store.as_ref(), name).await;
        users_in_any_order(store.as_ref(), name).await;
        areas_and_the_index(store.as_ref(), name).await;
    }
    moto.stop().await;
}
