//! Germany and the United Kingdom end to end: the built binary polling three feeds at once
//! (the NWS fixture, a DWD CAP zip and a MeteoAlarm Atom feed with its CAP documents, each on
//! its own loopback server), users placed by postal code in moto, the fan-out queue played as
//! Lambda's mapping, and Alexa played by the sandbox with its duplicate detection off. Each
//! user hears exactly their own service's warnings for their own area, once.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::europe::{dwd_server, dwd_set, meteoalarm_server};
use testkit::events::scheduled;
use testkit::feed::{FeedServer, Mode};
use testkit::rig::TABLE;
use testkit::sqs::{seed_users, Mapping, Queue, SeedUser};
use testkit::{project, Rig};

const WEATHER: &str = "AMAZON.WeatherAlert.Activated";
const DRAIN: Duration = Duration::from_secs(90);

fn id(name: &str) -> String {
    format!("amzn1.ask.account.{name}")
}

/// A user placed as the skill places them (the function's own table).
fn user(name: &str, country: &str, postal: &str, region: &str, locale: &str) -> SeedUser {
    let alexa_proactive::area::Located::Placed { postal, places, .. } =
        alexa_proactive::area::locate(country, postal)
    else {
        panic!("{country} {postal} is not placed")
    };
    SeedUser {
        user_id: id(name),
        subscriptions: vec![WEATHER.to_owned()],
        postal_code: postal,
        country: country.to_owned(),
        places: places.iter().map(|p| p.code()).collect(),
        region: Some(region.to_owned()),
        locale: Some(locale.to_owned()),
    }
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

struct Feeds {
    dwd: FeedServer,
    meteoalarm: FeedServer,
}

async fn europe_rig(name: &str) -> (Rig, Mapping, Feeds) {
    let dwd = dwd_server(
        &project!(),
        &[
            "thunderstorm-alert.xml",
            "thunderstorm-advance-notice.xml",
            "frost-minor.xml",
        ],
    )
    .await;
    let meteoalarm = meteoalarm_server(&project!()).await;
    let feeds = format!("dwd={},meteoalarm={}", dwd.url(), meteoalarm.url());
    let queue_name = format!("europe-{name}");
    let url = format!("http://127.0.0.1/123456789012/{queue_name}");
    let rig = Rig::builder(project!(), &format!("europe-{name}"))
        .regions("NA,EU")
        .env("RUST_LOG", Some("info"))
        .env("WEATHER_AUDIENCE", Some("located"))
        .env("WEATHER_FEEDS", Some(&feeds))
        .env("FANOUT_QUEUE_URL", Some(&url))
        .env("FANOUT_SEND_RATE", Some("1000"))
        .start()
        .await;
    let queue = Queue::create(&rig.moto, &queue_name, 3, Duration::from_secs(2)).await;
    rig.sandbox.dedupe(false).await;
    seed_users(
        &rig.moto,
        TABLE,
        &[
            user("KOELN", "DE", "50667", "EU", "de-DE"),
            user("MUENCHEN", "DE", "80331", "EU", "de-DE"),
            user("LONDON", "GB", "SW1A 1AA", "EU", "en-GB"),
            user("GLASGOW", "GB", "G1 1AA", "EU", "en-GB"),
            user("NORMAN", "US", "73069", "NA", "en-US"),
        ],
    )
    .await;
    (rig, Mapping::new(queue), Feeds { dwd, meteoalarm })
}

#[tokio::test]
async fn each_user_hears_their_own_services_warnings_for_their_area_once() {
    let (mut rig, mapping, feeds) = europe_rig("heard").await;
    let first = rig.ok(&scheduled("tick-1")).await;
    // NWS: a tornado and a thunderstorm warning; DWD: Köln's thunderstorm (the advance
    // notice and the minor frost are not announced); MeteoAlarm: the amber thunderstorm (the
    // wind and rain warnings have no true word in Alexa's four).
    assert_eq!(statuses(&first), ["queued"; 4], "{first}");
    let kinds: Vec<&str> = first["feeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["nws", "dwd", "meteoalarm"], "{first}");
    assert_eq!(first["feeds"][1]["skipped"]["advanceNotice"], 1, "{first}");
    assert_eq!(first["feeds"][2]["skipped"]["otherEvent"], 3, "{first}");
    mapping.drain(&mut rig, DRAIN).await;

    let got = rig.sandbox.unicasts().await;
    let heard: BTreeMap<&str, usize> = got.iter().map(|(u, s)| (u.as_str(), s.len())).collect();
    assert_eq!(
        heard,
        BTreeMap::from([
            (id("KOELN").as_str(), 1),
            (id("LONDON").as_str(), 1),
            (id("NORMAN").as_str(), 2)
        ]),
        "{got:?}"
    );
    let (koeln, region) = &got[&id("KOELN")][0];
    assert!(
        koeln.contains("DWDPVW") && region == "EU",
        "{koeln} {region}"
    );
    let (london, region) = &got[&id("LONDON")][0];
    assert!(
        london.contains("826") && region == "EU",
        "{london} {region}"
    );
    assert!(got[&id("NORMAN")]
        .iter()
        .all(|(r, region)| !r.contains("DWD") && region == "NA"));
    assert_eq!(rig.repeats().await, 0);
    let sent = rig.event_requests().await;

    // A second poll from a new process (no HTTP cache, no CAP documents kept): nothing more.
    rig.spawn();
    rig.functions.remove(0).stop().await;
    let second = rig.ok(&scheduled("tick-2")).await;
    assert!(statuses(&second).is_empty(), "{second}");
    assert_eq!(second["feeds"][1]["skipped"]["alreadyTold"], 1, "{second}");
    assert_eq!(second["feeds"][2]["skipped"]["alreadyTold"], 1, "{second}");
    assert_eq!(mapping.queue.depth(&rig.moto).await, (0, 0));
    assert_eq!(
        rig.event_requests().await,
        sent,
        "nothing more reached Alexa"
    );

    // DWD's next full set: the same warning, now Extreme: Köln hears it again, nobody else.
    feeds.dwd.serve_bytes(
        dwd_set(
            &project!(),
            &["thunderstorm-update-extreme.xml", "frost-minor.xml"],
        ),
        "application/zip",
    );
    let third = rig.ok(&scheduled("tick-3")).await;
    assert_eq!(statuses(&third), ["queued"], "{third}");
    assert_eq!(third["feeds"][1]["escalations"], 1, "{third}");
    mapping.drain(&mut rig, DRAIN).await;
    let got = rig.sandbox.unicasts().await;
    assert_eq!(got[&id("KOELN")].len(), 2, "{got:?}");
    assert_eq!(got[&id("LONDON")].len(), 1, "{got:?}");
    assert_eq!(rig.repeats().await, 0);
    feeds.meteoalarm.stop();
    feeds.dwd.stop();
    rig.finish().await;
}

#[tokio::test]
async fn one_feed_down_fails_the_poll_naming_it_while_the_others_are_heard() {
    let (mut rig, mapping, feeds) = europe_rig("down").await;
    feeds.dwd.set_mode(Mode::Status(503));
    let (kind, message) = rig.fail(&scheduled("tick-1")).await;
    assert_eq!(kind, "FeedUnavailable");
    assert!(
        message.contains("the dwd feed")
            && message.contains("HTTP 503")
            && message.contains("WEATHER_FEEDS")
            && message.contains("1 of 3 feeds failed"),
        "{message}"
    );
    mapping.drain(&mut rig, DRAIN).await;
    let got = rig.sandbox.unicasts().await;
    assert!(!got.contains_key(&id("KOELN")), "{got:?}");
    assert_eq!(got[&id("LONDON")].len(), 1, "{got:?}");
    assert_eq!(got[&id("NORMAN")].len(), 2, "{got:?}");

    // Lambda retries the scheduled event: DWD is back; only its warning is announced.
    feeds.dwd.set_mode(Mode::Serve);
    let retry = rig.ok(&scheduled("tick-1")).await;
    assert_eq!(statuses(&retry), ["queued"], "{retry}");
    mapping.drain(&mut rig, DRAIN).await;
    let got = rig.sandbox.unicasts().await;
    let heard: Vec<(String, usize)> = got.iter().map(|(u, s)| (u.clone(), s.len())).collect();
    assert_eq!(
        heard,
        [(id("KOELN"), 1), (id("LONDON"), 1), (id("NORMAN"), 2)],
        "{got:?}"
    );
    assert_eq!(rig.repeats().await, 0);
    assert_eq!(json!(mapping.queue.dead_letters(&rig.moto).await), json!(0));
    feeds.meteoalarm.stop();
    feeds.dwd.stop();
    rig.finish().await;
}
