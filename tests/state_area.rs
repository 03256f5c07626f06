//! Users' areas in DynamoDB (moto, behind the testkit's proxy, which passes one DynamoDB call
//! at a time as the service applies each atomically): writes for one user at once never leave
//! an index item (`area#<place>#<user>`) that the user's record does not name. Such an item
//! would be personal data that `SkillDisabled` cannot find to delete.

use std::collections::BTreeSet;
use std::sync::Arc;

use alexa_proactive::state::{AreaIndex, AreaSource, DynamoStore, UserArea};
use futures_util::future::join_all;
use testkit::moto::Moto;

const TABLE: &str = "state-area";

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
        region: Some("NA".to_owned()),
        locale: Some("en-US".to_owned()),
        source: AreaSource::Voice,
    }
}

#[tokio::test]
async fn concurrent_area_writes_leave_no_index_item_that_no_record_names() {
    let project = testkit::project!();
    let moto = Moto::start(&project.moto_server()).await;
    moto.create_state_table(TABLE).await;
    // This test is alone in its process: the function reads the environment once.
    moto.serve_this_process();
    let store = Arc::new(DynamoStore::new(TABLE.to_owned()));
    // Border ZIPs with two counties, single-county ones, another state: index items differ.
    let zips = ["73019", "10001", "73072", "77002", "02134", "60601"];
    for round in 0..4 {
        let user = format!("amzn1.ask.account.RACE{round}");
        let writes = zips.iter().map(|zip| {
            let (store, user) = (store.clone(), user.clone());
            async move { store.set_area(&area(&user, zip)).await.map(|_| ()) }
        });
        let forget = {
            let (store, user) = (store.clone(), user.clone());
            async move { store.forget_area(&user).await.map(|_| ()) }
        };
        let mut all: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = _>>>> =
            writes.map(|w| Box::pin(w) as _).collect();
        if round % 2 == 1 {
            all.insert(3, Box::pin(forget));
        }
        for result in join_all(all).await {
            result.expect("every write ends, a lost race read and written again");
        }
        let named: BTreeSet<String> = store
            .area(&user)
            .await
            .expect("read")
            .map(|a| {
                a.keys()
                    .iter()
                    .map(|k| format!("area#{}#{user}", k.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let indexed: BTreeSet<String> = moto
            .keys(TABLE)
            .await
            .into_iter()
            .filter(|k| k.starts_with("area#") && k.ends_with(&user))
            .collect();
        assert_eq!(indexed, named, "round {round}: index items no record names");
        assert!(!indexed.is_empty() || round % 2 == 1);
    }

    // A record the previous release wrote names its counties as bare FIPS codes: it reads as
    // the same places, and the next write stores place codes and, for a rollback, the FIPS
    // codes too.
    let old = "amzn1.ask.account.OLDRECORD";
    moto.call(
        "DynamoDB_20120810.PutItem",
        serde_json::json!({"TableName": TABLE, "Item": {
            "pk": {"S": format!("user#{old}")}, "postalCode": {"S": "73072"},
            "country": {"S": "US"}, "counties": {"SS": ["40027", "40087"]}}}),
    )
    .await;
    let read = store.area(old).await.expect("read").expect("an area");
    assert_eq!(
        read.places,
        [
            alexa_proactive::state::AreaKey::county("40027"),
            alexa_proactive::state::AreaKey::county("40087")
        ]
    );
    store.set_area(&area(old, "10001")).await.expect("write");
    let item = moto.get_item(TABLE, &format!("user#{old}")).await;
    assert_eq!(
        item["places"]["SS"],
        serde_json::json!(["c36061"]),
        "{item}"
    );
    assert_eq!(
        item["counties"]["SS"],
        serde_json::json!(["36061"]),
        "{item}"
    );
    // The previous release moves the user during a deploy: it writes `counties` and leaves
    // `places` as it was. The fresh counties win.
    moto.call(
        "DynamoDB_20120810.UpdateItem",
        serde_json::json!({"TableName": TABLE, "Key": {"pk": {"S": format!("user#{old}")}},
            "UpdateExpression": "SET counties = :c, postalCode = :z",
            "ExpressionAttributeValues": {":c": {"SS": ["40027"]}, ":z": {"S": "73019"}}}),
    )
    .await;
    let read = store.area(old).await.expect("read").expect("an area");
    assert_eq!(
        read.places,
        [alexa_proactive::state::AreaKey::county("40027")]
    );
    moto.stop().await;
}
