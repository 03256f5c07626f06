//! The DWD reader against hand-written documents shaped like DWD's (tests/fixtures/dwd): one
//! per rule, then whole zips (valid, broken, oversized, not a zip).

use std::io::Write;

use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/dwd/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alert(name: &str) -> (Alert, usize) {
    parse_document(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A zip of `(name, text)` documents, deflated as DWD's are.
pub(crate) fn zip_of(files: &[(&str, String)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        out.start_file(*name, options).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
    out.finish().unwrap().into_inner()
}

const FIXTURES: [&str; 11] = [
    "thunderstorm-alert.xml",
    "thunderstorm-update-extreme.xml",
    "thunderstorm-cancel.xml",
    "thunderstorm-advance-notice.xml",
    "frost-minor.xml",
    "wind-sturmboeen.xml",
    "wind-sturmboeen-no-expires.xml",
    "wind-orkanboeen.xml",
    "wind-orkanboeen-allclear.xml",
    "snow-drifting.xml",
    "test-status.xml",
];

#[test]
fn a_thunderstorm_warning_is_heard_in_its_district_once() {
    let (a, skipped) = alert("thunderstorm-alert.xml");
    assert_eq!(
        a.alert_type,
        Some("THUNDER_STORM"),
        "thunderstorm wins over its gusts"
    );
    assert_eq!(a.severity, Severity::Severe);
    assert_eq!(a.sender_name, "Deutscher Wetterdienst");
    assert!(a.actual && !a.advance);
    // Cells 105315000 (district) and 805315000 (municipality) are both Köln: one place.
    assert_eq!(a.places, [Place::district("05315")]);
    assert_eq!(skipped, 1, "the type-9 cell names no district");
    assert_eq!(a.tracks.len(), 1);
    assert_eq!(a.tracks[0].action, Action::New);
    assert_eq!(a.tracks[0].key, EventKey::message(&a.id));
    assert!(a.expires.is_some() && a.sent.is_some());
    assert_eq!(a.level.extreme, 0);
}

#[test]
fn updates_and_cancellations_name_the_message_before_them() {
    let (first, _) = alert("thunderstorm-alert.xml");
    let (update, _) = alert("thunderstorm-update-extreme.xml");
    assert_eq!(update.kind, MessageKind::Update);
    assert_eq!(update.tracks[0].action, Action::Update);
    assert_eq!(update.references, std::slice::from_ref(&first.id));
    assert_eq!(update.tracks[0].aliases, [EventKey::message(&first.id)]);
    assert_eq!(
        (update.severity, update.level.extreme),
        (Severity::Extreme, 1)
    );
    let (cancel, _) = alert("thunderstorm-cancel.xml");
    assert_eq!(cancel.tracks[0].action, Action::Cancel);
    assert_eq!(cancel.references, std::slice::from_ref(&update.id));
    // An all-clear is an Update that still carries the old severity: it ends the warning.
    let (orkan, _) = alert("wind-orkanboeen.xml");
    let (clear, _) = alert("wind-orkanboeen-allclear.xml");
    assert_eq!(clear.kind, MessageKind::Update);
    assert_eq!(clear.tracks[0].action, Action::Cancel);
    assert_eq!(clear.references, [orkan.id]);
}

#[test]
fn only_hazards_alexa_has_a_true_word_for_are_typed() {
    for (name, expected) in [
        ("wind-orkanboeen.xml", Some("HURRICANE")),
        ("snow-drifting.xml", Some("SNOW_STORM")),
        ("wind-sturmboeen.xml", None),
        ("frost-minor.xml", None),
    ] {
        assert_eq!(alert(name).0.alert_type, expected, "{name}");
    }
    assert!(alert("thunderstorm-advance-notice.xml").0.advance);
    assert!(!alert("test-status.xml").0.actual);
    assert_eq!(alert("wind-sturmboeen-no-expires.xml").0.expires, None);
    for (ii, expected) in [
        (31, Some("THUNDER_STORM")),
        (49, Some("THUNDER_STORM")),
        (50, None),
        (54, None),
        (55, Some("HURRICANE")),
        (56, Some("HURRICANE")),
        (57, None),
        (74, None),
        (75, Some("SNOW_STORM")),
        (85, None),
        (96, Some("THUNDER_STORM")),
        (98, None),
        (247, None),
    ] {
        assert_eq!(alert_type(ii), expected, "II {ii}");
    }
}

#[test]
fn warn_cells_name_districts_by_their_digits() {
    assert_eq!(district("105315000"), Some(Place::district("05315")));
    assert_eq!(district("805315000"), Some(Place::district("05315")));
    assert_eq!(district("706412102"), Some(Place::district("06412")));
    for other in [
        "909671999",
        "501054002",
        "201000000",
        "10531500",
        "1053150000",
        "x05315000",
    ] {
        assert_eq!(district(other), None, "{other}");
    }
}

#[test]
fn a_zip_is_read_document_by_document() {
    let files: Vec<(&str, String)> = FIXTURES.iter().map(|n| (*n, fixture(n))).collect();
    let alerts = parse_zip(&zip_of(&files)).unwrap();
    assert_eq!(alerts.alerts.len(), FIXTURES.len());
    assert!(alerts.malformed.is_empty(), "{:?}", alerts.malformed);

    // One broken document is counted, not fatal; other files are ignored.
    let thunder = fixture("thunderstorm-alert.xml");
    let truncated = thunder[..thunder.len() / 2].to_owned();
    let wrong_ns = thunder.replace("cap:1.2", "cap:1.1");
    let no_id = thunder
        .replace("<identifier>", "<identifer>")
        .replace("</identifier>", "</identifer>");
    let no_cells = thunder.replace("WARNCELLID", "OTHERID");
    let huge = format!("{thunder}<!--{}-->", "x".repeat(cap::MAX_DOCUMENT));
    let alerts = parse_zip(&zip_of(&[
        ("ok.xml", thunder.clone()),
        ("truncated.xml", truncated),
        ("old.xml", wrong_ns),
        ("noid.xml", no_id),
        ("nocells.xml", no_cells),
        ("huge.xml", huge),
        ("readme.txt", "not a warning".into()),
    ]))
    .unwrap();
    assert_eq!(alerts.alerts.len(), 2, "{:?}", alerts.malformed);
    assert!(alerts.alerts[1].places.is_empty(), "no cells: no place");
    let problems = alerts.malformed.join("\n");
    for expected in [
        "truncated.xml: is not XML",
        "old.xml: the root element",
        "noid.xml: alert.identifier: required field is missing",
        "huge.xml: is ",
    ] {
        assert!(problems.contains(expected), "{expected}: {problems}");
    }
    assert_eq!(alerts.malformed.len(), 4);

    let err = parse_zip(b"<html>maintenance</html>").unwrap_err();
    assert!(err.contains("not a zip archive"), "{err}");

    // An entry that is not text is counted and named; the rest are read.
    let mut binary = zip_of(&[("ok.xml", thunder.clone())]);
    binary = {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("ok.xml", options).unwrap();
        out.write_all(thunder.as_bytes()).unwrap();
        out.start_file("latin1.xml", options).unwrap();
        out.write_all(&[0xff; 5_000]).unwrap();
        drop(binary);
        out.finish().unwrap().into_inner()
    };
    let alerts = parse_zip(&binary).unwrap();
    assert_eq!(alerts.alerts.len(), 1);
    assert!(
        alerts.malformed[0].contains("latin1.xml: is not UTF-8"),
        "{:?}",
        alerts.malformed
    );
}

#[test]
fn a_zip_directory_too_large_is_refused_before_it_is_read() {
    // An end-of-central-directory record claiming 30,000 entries (the directory itself is
    // not there: the count alone is refused).
    let mut body = vec![0u8; 100];
    body.extend_from_slice(&[0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0]);
    body.extend_from_slice(&30_000u16.to_le_bytes());
    body.extend_from_slice(&30_000u16.to_le_bytes());
    body.extend_from_slice(&[0; 10]);
    let err = parse_zip(&body).unwrap_err();
    assert!(err.contains("30000 entries"), "{err}");
    let mut zip64 = body.clone();
    let n = zip64.len();
    zip64[n - 12..n - 10].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(parse_zip(&zip64).unwrap_err().contains("entries"));
    assert_eq!(
        directory_entries(&zip_of(&[("a.xml", "x".into())])),
        Some(1)
    );
}
