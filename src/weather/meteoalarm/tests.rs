//! The MeteoAlarm reader against documents shaped like the real UK feed and CAP document
//! (tests/fixtures/meteoalarm).

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/meteoalarm/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn entries_are_read_with_their_region_and_document() {
    let (entries, malformed) = parse_feed(fixture("uk-feed.xml").as_bytes()).unwrap();
    assert!(malformed.is_empty(), "{malformed:?}");
    assert_eq!(entries.len(), 5);
    let amber = &entries[1];
    assert_eq!(amber.place, Some(Place::emma("UK116")));
    assert_eq!(amber.area_desc, "London & South East England");
    assert_eq!(
        (amber.kind, amber.severity),
        (MessageKind::Alert, Severity::Severe)
    );
    assert!(amber.actual);
    assert!(amber
        .document
        .as_deref()
        .unwrap()
        .starts_with("https://feeds.meteoalarm.org/api/v1/warnings/feeds-united-kingdom/"));
    assert!(amber.expires.is_some());
}

#[test]
fn a_warning_for_two_regions_is_one_alert() {
    let (entries, _) = parse_feed(fixture("uk-feed.xml").as_bytes()).unwrap();
    let alerts = alerts(&entries, &HashMap::new());
    assert_eq!(alerts.len(), 4, "five entries, four warnings");
    let two = alerts.iter().find(|a| a.places.len() == 2).unwrap();
    assert_eq!(two.places, [Place::emma("UK113"), Place::emma("UK114")]);
    assert_eq!(two.kind, MessageKind::Update);
    // Without its document a warning has no Alexa type: it is not announced.
    assert!(alerts.iter().all(|a| a.alert_type.is_none()));
}

#[test]
fn the_cap_document_gives_the_type_the_level_and_the_sender() {
    let details = parse_details(&fixture("uk-cap-amber-thunderstorm.xml")).unwrap();
    assert_eq!(details.alert_type, Some("THUNDER_STORM"));
    assert_eq!(details.severity, Some(Severity::Severe));
    assert_eq!(details.sender_name.as_deref(), Some("UK Met Office"));
    let (entries, _) = parse_feed(fixture("uk-feed.xml").as_bytes()).unwrap();
    let known = HashMap::from([(entries[1].identifier.clone(), details)]);
    let alerts = alerts(&entries, &known);
    let amber = alerts
        .iter()
        .find(|a| a.id == entries[1].identifier)
        .unwrap();
    assert_eq!(amber.alert_type, Some("THUNDER_STORM"));
    assert_eq!(amber.sender_name, "UK Met Office");
    assert_eq!(amber.places, [Place::emma("UK116")]);
    assert_eq!(amber.tracks[0].action, Action::New);
}

#[test]
fn awareness_types_and_levels_map_by_their_number() {
    for (text, expected) in [
        ("3; Thunderstorm", Some("THUNDER_STORM")),
        ("3; thunderstorm", Some("THUNDER_STORM")),
        ("1; Wind", None),
        ("2; snow-ice", None),
        ("10; Rain", None),
        ("x", None),
    ] {
        assert_eq!(alert_type(text), expected, "{text}");
    }
    for (text, expected) in [
        ("1; green; Minor", Some(Severity::Minor)),
        ("2; yellow; Moderate", Some(Severity::Moderate)),
        ("3; Orange; Severe", Some(Severity::Severe)),
        ("4; red; Extreme", Some(Severity::Extreme)),
        ("5; x", None),
    ] {
        assert_eq!(awareness_severity(text), expected, "{text}");
    }
}

#[test]
fn a_bad_feed_names_what_is_wrong() {
    assert!(parse_feed(b"<html/>").unwrap_err().contains("Atom <feed>"));
    assert!(parse_feed(b"<feed").unwrap_err().contains("not XML"));
    assert!(parse_feed(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    let feed = fixture("uk-feed.xml");
    let broken = feed
        .replacen("<cap:identifier>", "<cap:identifer>", 1)
        .replacen("</cap:identifier>", "</cap:identifer>", 1);
    let (entries, malformed) = parse_feed(broken.as_bytes()).unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(malformed.len(), 1);
    assert!(
        malformed[0].contains("feed.entry[0]: cap:identifier"),
        "{malformed:?}"
    );
    let odd_region = feed.replacen("<value>UK105</value>", "<value>Strathclyde</value>", 1);
    let (entries, _) = parse_feed(odd_region.as_bytes()).unwrap();
    assert_eq!(entries[0].place, None, "not an EMMA_ID: no place");
}

#[test]
fn documents_are_read_only_from_the_feeds_host() {
    assert!(same_host(
        "https://feeds.meteoalarm.org/api/v1/warnings/x",
        "https://feeds.meteoalarm.org/feeds/meteoalarm-legacy-atom-united-kingdom"
    ));
    assert!(!same_host(
        "https://evil.example/api",
        "https://feeds.meteoalarm.org/feeds/x"
    ));
    assert!(!same_host("http://127.0.0.1:9/x", "http://127.0.0.1:8/y"));
    assert!(!same_host(
        "file:///etc/passwd",
        "https://feeds.meteoalarm.org/"
    ));
}

#[test]
fn a_full_document_store_forgets_only_warnings_the_feed_no_longer_lists() {
    let (entries, _) = parse_feed(fixture("uk-feed.xml").as_bytes()).unwrap();
    let details = parse_details(&fixture("uk-cap-amber-thunderstorm.xml")).unwrap();
    let mut kept: HashMap<String, Details> = (0..KEPT)
        .map(|i| (format!("gone-{i}"), details.clone()))
        .collect();
    kept.insert(entries[1].identifier.clone(), details.clone());
    // Room for what is read now: the gone warnings go, the listed one stays decided.
    make_room(&mut kept, &entries, 1);
    assert_eq!(kept.len(), 1);
    assert!(kept.contains_key(&entries[1].identifier));
    // Under the bound nothing is forgotten.
    let mut small: HashMap<String, Details> = HashMap::from([("gone".to_owned(), details.clone())]);
    make_room(&mut small, &entries, 1);
    assert_eq!(small.len(), 1);
}
