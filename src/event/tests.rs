use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::{self as event, schemas, Built, NotificationRequest, RequestKind};
use crate::area::Place;

/// The skill's languages, as the adapters pass them.
const LOCALES: [&str; 3] = ["en-US", "en-GB", "de-DE"];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn parse(body: Value) -> Result<NotificationRequest, String> {
    let kind = if body.get("alertType").is_some() {
        RequestKind::WeatherAlert
    } else {
        RequestKind::ProactiveEvent
    };
    let body: Map<String, Value> = body.as_object().cloned().unwrap_or_else(Map::new);
    // As in an EventBridge event: the request is its `detail`.
    NotificationRequest::parse(kind, &body, "detail", &LOCALES).map_err(|e| e.to_string())
}

/// One valid request per schema, as a user would put it in an EventBridge detail.
/// One valid request per schema, shared with the integration tests (which send them).
fn valid_examples() -> Vec<Value> {
    serde_json::from_str(include_str!("../../tests/fixtures/schema-examples.json"))
        .expect("tests/fixtures/schema-examples.json is a JSON array")
}

#[test]
fn every_schema_has_a_valid_example_that_passes() {
    let examples = valid_examples();
    let names: Vec<&str> = examples
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        schemas::names(),
        "one example per schema, in table order"
    );
    for example in examples {
        let request = parse(example.clone()).unwrap_or_else(|e| panic!("{}: {e}", example["name"]));
        assert_eq!(request.payload, example["payload"]);
    }
}

/// Removes the value at a JSON pointer.
fn without(mut value: Value, pointer: &str) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    value
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    value
}

fn with(mut value: Value, pointer: &str, new: Value) -> Value {
    *value.pointer_mut(pointer).unwrap() = new;
    value
}

#[test]
fn every_required_field_of_every_schema_is_checked() {
    // For each example, removing any required field fails and names that field.
    fn required_pointers(fields: &[schemas::Field], prefix: &str, out: &mut Vec<String>) {
        for f in fields {
            let p = format!("{prefix}/{}", f.name);
            if f.required {
                out.push(p.clone());
            }
            if let schemas::Kind::Object(children) = f.kind {
                if f.required {
                    required_pointers(children, &p, out);
                }
            }
        }
    }
    let mut checked = 0;
    for example in valid_examples() {
        let schema = schemas::find(example["name"].as_str().unwrap()).unwrap();
        let mut pointers = Vec::new();
        required_pointers(schema.payload, "/payload", &mut pointers);
        for pointer in pointers {
            let err = parse(without(example.clone(), &pointer)).unwrap_err();
            let field = format!("detail{}", pointer.replace('/', "."));
            assert!(
                err.contains(&format!("`{field}`")) && err.contains("missing"),
                "{pointer}: {err}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} required fields checked");
}

#[test]
fn closed_enumerations_name_the_allowed_values() {
    let cases = [
        (
            0,
            "/payload/weatherAlert/alertType",
            "TORNADO, HURRICANE, SNOW_STORM, THUNDER_STORM",
        ),
        (2, "/payload/state/status", "UNREAD, FLAGGED"),
        (3, "/payload/state/status", "ORDER_OUT_FOR_DELIVERY"),
        (4, "/payload/occasion/occasionType", "APPOINTMENT_REQUEST"),
        (5, "/payload/alert/collectionDayOfWeek", "SUNDAY"),
        (6, "/payload/content/contentType", "EPISODE"),
        (7, "/payload/game/offer", "REMATCH"),
    ];
    let examples = valid_examples();
    for (i, pointer, listed) in cases {
        let err = parse(with(examples[i].clone(), pointer, json!("NOPE"))).unwrap_err();
        assert!(
            err.contains("\"NOPE\"") && err.contains(listed),
            "{pointer}: {err}"
        );
    }
    let err = parse(with(
        examples[5].clone(),
        "/payload/alert/garbageTypes",
        json!(["GLASS", "PAPER"]),
    ))
    .unwrap_err();
    assert!(
        err.contains("garbageTypes[1]") && err.contains("WASTE_PAPER"),
        "{err}"
    );
    let six = json!(["GLASS", "CANS", "BULKY", "BOTTLES", "LANDFILL", "HAZARDOUS"]);
    let err = parse(with(
        examples[5].clone(),
        "/payload/alert/garbageTypes",
        six,
    ))
    .unwrap_err();
    assert!(err.contains("expected 1 to 5"), "{err}");
}

#[test]
fn wrong_types_and_misspelt_fields_are_refused() {
    let examples = valid_examples();
    let err = parse(with(
        examples[1].clone(),
        "/payload/sportsEvent/homeTeamStatistic/score",
        json!("21"),
    ))
    .unwrap_err();
    assert!(
        err.contains("score") && err.contains("whole number"),
        "{err}"
    );
    // Jovo v3's spelling.
    let misspelt = with(
        examples[1].clone(),
        "/payload/update",
        json!({"ScoreEarned": 7, "teamName": "x"}),
    );
    let err = parse(misspelt).unwrap_err();
    assert!(
        err.contains("detail.payload.update.ScoreEarned") && err.contains("unknown field"),
        "{err}"
    );
    let err = parse(with(
        examples[4].clone(),
        "/payload/occasion/bookingTime",
        json!("tomorrow"),
    ))
    .unwrap_err();
    assert!(err.contains("RFC 3339"), "{err}");
    let err = parse(with(
        examples[2].clone(),
        "/payload/messageGroup/creator/name",
        json!("localizedattribute:x"),
    ))
    .unwrap_err();
    assert!(err.contains("cannot be localized"), "{err}");
}

#[test]
fn localized_keys_must_exist_in_every_locale() {
    let examples = valid_examples();
    let missing = with(
        examples[1].clone(),
        "/localizedAttributes",
        json!([{"locale": "en-US", "league": "NFL"}, {"locale": "de-DE"}]),
    );
    let err = parse(missing).unwrap_err();
    assert!(
        err.contains("detail.localizedAttributes[1].league") && err.contains("de-DE"),
        "{err}"
    );
    let err = parse(without(examples[0].clone(), "/localizedAttributes")).unwrap_err();
    assert!(err.contains("localizedattribute:source"), "{err}");
    let bad_locale = with(
        examples[0].clone(),
        "/localizedAttributes",
        json!([{"locale": "english", "source": "x"}]),
    );
    assert!(parse(bad_locale).unwrap_err().contains("en-US"));
    // OrderStatus is en-US only.
    let german = with(
        examples[3].clone(),
        "/localizedAttributes",
        json!([{"locale": "de-DE", "sellerName": "Laden"}]),
    );
    let err = parse(german).unwrap_err();
    assert!(err.contains("supports only en-US"), "{err}");
}

#[test]
fn unknown_schemas_list_the_eight() {
    let err = parse(json!({"name": "AMAZON.Pizza.Ready", "payload": {}})).unwrap_err();
    assert!(
        err.contains("\"AMAZON.Pizza.Ready\"") && err.contains("AMAZON.SocialGameInvite.Available"),
        "{err}"
    );
}

#[test]
fn weather_alerts_in_short_form() {
    let plain =
        parse(json!({"alertType": "TORNADO", "source": "National Weather Service"})).unwrap();
    assert_eq!(
        plain.payload,
        json!({"weatherAlert": {"source": "localizedattribute:source", "alertType": "TORNADO"}})
    );
    assert_eq!(
        plain.localized_attributes.len(),
        3,
        "a plain source covers every skill locale"
    );
    assert!(plain
        .localized_attributes
        .iter()
        .all(|l| l["source"] == "National Weather Service"));

    let per_locale = parse(json!({"alertType": "HURRICANE",
        "source": {"en-US": "National Weather Service", "de-DE": "Deutscher Wetterdienst"}}))
    .unwrap();
    assert_eq!(
        per_locale.localized_attributes,
        vec![
            json!({"locale": "de-DE", "source": "Deutscher Wetterdienst"}),
            json!({"locale": "en-US", "source": "National Weather Service"}),
        ]
    );

    for (body, says) in [
        (
            json!({"alertType": "tornado", "source": "x"}),
            "expected one of TORNADO",
        ),
        (json!({"alertType": "TORNADO"}), "detail.source"),
        (
            json!({"alertType": "TORNADO", "source": ""}),
            "detail.source",
        ),
        (
            json!({"alertType": "TORNADO", "source": {"english": "x"}}),
            "detail.source.english",
        ),
        (
            json!({"alertType": "TORNADO", "source": "x", "colour": "red"}),
            "detail.colour",
        ),
        (
            json!({"alertType": "TORNADO", "source": "x", "user": "bob"}),
            "amzn1.ask.account.",
        ),
        (
            json!({"alertType": "TORNADO", "source": "x", "expiresAt": "soon"}),
            "detail.expiresAt",
        ),
        (json!({"alertType": 3, "source": "x"}), "got a number"),
    ] {
        let err = parse(body.clone()).unwrap_err();
        assert!(err.contains(says), "{body}: {err}");
    }
}

fn alert(extra: Value) -> NotificationRequest {
    let mut body = json!({"alertType": "TORNADO", "source": "NWS"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    parse(body).unwrap()
}

fn ready(built: Built) -> event::ProactiveEvent {
    match built {
        Built::Ready(e) => e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn reference_ids_are_deterministic_alphanumeric_and_short() {
    let long_id = "urn:oid:2.49.0.1.840.0.".repeat(20);
    for id in [
        "a",
        "urn:oid:2.49.0.1.840.0.abc",
        long_id.as_str(),
        "ünïcödé ✓",
    ] {
        let r = event::reference_id("AMAZON.WeatherAlert.Activated", id);
        assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        assert!(!r.is_empty() && r.len() <= 100, "{} chars", r.len());
        assert_eq!(r, event::reference_id("AMAZON.WeatherAlert.Activated", id));
    }
    // Ids that read alike once punctuation is gone still differ, and so do schemas.
    assert_ne!(
        event::reference_id("s", "a-b"),
        event::reference_id("s", "ab")
    );
    assert_ne!(
        event::reference_id("s1", "a"),
        event::reference_id("s2", "a")
    );
}

#[test]
fn the_reference_id_comes_from_id_else_from_the_trigger() {
    let with_id =
        ready(event::build(&alert(json!({"id": "alert-7"})), Some("msg-1"), now()).unwrap());
    let same = ready(event::build(&alert(json!({"id": "alert-7"})), Some("msg-2"), now()).unwrap());
    assert_eq!(
        with_id.reference_id, same.reference_id,
        "the id wins over the trigger's id"
    );
    let a = ready(event::build(&alert(json!({})), Some("msg-1"), now()).unwrap());
    let b = ready(
        event::build(
            &alert(json!({})),
            Some("msg-1"),
            now() + Duration::seconds(30),
        )
        .unwrap(),
    );
    assert_eq!(
        a.reference_id, b.reference_id,
        "a redelivery keeps its referenceId"
    );
    let err = event::build(&alert(json!({})), None, now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("`id`"), "{err}");
}

#[test]
fn expiry_is_clamped_into_alexas_window() {
    // What Alexa reads: the serialised times.
    let text = |event: &event::ProactiveEvent, key: &str| {
        serde_json::to_value(event).unwrap()[key]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let at = |minutes: i64| json!({"expiresAt": (now() + Duration::minutes(minutes)).to_rfc3339()});
    let soon = ready(event::build(&alert(at(5)), Some("m"), now()).unwrap());
    assert_eq!(
        text(&soon, "expiryTime"),
        "2026-11-24T18:06:00Z",
        "raised to 5 min + margin"
    );
    let later = ready(event::build(&alert(at(120)), Some("m"), now()).unwrap());
    assert_eq!(
        text(&later, "expiryTime"),
        "2026-11-24T20:00:00Z",
        "kept as given"
    );
    let far = ready(event::build(&alert(at(60 * 48)), Some("m"), now()).unwrap());
    assert_eq!(
        text(&far, "expiryTime"),
        "2026-11-25T17:59:00Z",
        "lowered to 24 h - margin"
    );
    let none = ready(event::build(&alert(json!({})), Some("m"), now()).unwrap());
    assert_eq!(text(&none, "expiryTime"), "2026-11-25T17:59:00Z");
    assert_eq!(text(&none, "timestamp"), "2026-11-24T18:00:00Z");

    for (minutes, says) in [(4, "less than 5 minutes"), (-10, "expired")] {
        match event::build(&alert(at(minutes)), Some("m"), now()).unwrap() {
            Built::Skipped {
                reason,
                reference_id,
            } => {
                assert!(reason.contains(says), "{reason}");
                assert!(!reference_id.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_event_has_alexas_shape() {
    let multicast = ready(event::build(&alert(json!({"id": "x"})), None, now()).unwrap());
    let body = serde_json::to_value(&multicast).unwrap();
    assert_eq!(
        body["relevantAudience"],
        json!({"type": "Multicast", "payload": {}})
    );
    assert_eq!(body["event"]["name"], "AMAZON.WeatherAlert.Activated");
    for key in [
        "timestamp",
        "referenceId",
        "expiryTime",
        "localizedAttributes",
    ] {
        assert!(body.get(key).is_some(), "{key} missing: {body}");
    }
    let user = "amzn1.ask.account.TESTUSER";
    let unicast =
        ready(event::build(&alert(json!({"id": "x", "user": user})), None, now()).unwrap());
    assert_eq!(
        serde_json::to_value(&unicast).unwrap()["relevantAudience"],
        json!({"type": "Unicast", "payload": {"user": user}})
    );
}

#[test]
fn an_event_reads_back_as_written_and_becomes_each_users_copy() {
    // Fractions of a second are dropped when built, so what the fan-out queue carries reads
    // back equal.
    let built = ready(
        event::build(
            &alert(json!({"id": "x"})),
            None,
            now() + Duration::milliseconds(1_500),
        )
        .unwrap(),
    );
    let text = serde_json::to_string(&built).unwrap();
    assert!(
        text.contains("\"timestamp\":\"2026-11-24T18:00:01Z\""),
        "{text}"
    );
    let back: event::ProactiveEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(back, built);

    let later = now() + Duration::minutes(7);
    let copy = built.to_user("ref1".into(), "amzn1.ask.account.A", later);
    assert_eq!(copy.reference_id, "ref1");
    assert_eq!(copy.timestamp, later, "stamped when sent");
    assert_eq!(copy.expiry_time, built.expiry_time, "the event's expiry");
    assert_eq!(
        copy.relevant_audience,
        event::Audience::Unicast {
            user: "amzn1.ask.account.A".into()
        }
    );
    assert_eq!(copy.event, built.event);

    // A name read back is one of the eight schemas'; a time is RFC 3339.
    for (from, to, says) in [
        (
            "AMAZON.WeatherAlert.Activated",
            "AMAZON.Nonsense",
            "schema names",
        ),
        ("2026-11-24T18:00:01Z", "soon", "RFC 3339"),
    ] {
        let err = serde_json::from_str::<event::ProactiveEvent>(&text.replace(from, to))
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn an_area_names_known_counties_and_zip_codes() {
    let area = |area: Value| parse(json!({"alertType": "TORNADO", "source": "NWS", "area": area}));
    let ok = area(json!({"counties": ["40027", "40027"], "zipCodes": ["73019"]})).unwrap();
    assert_eq!(
        ok.area,
        Some(vec![Place::county("40027"), Place::zip("73019")]),
        "each place once"
    );
    for (bad, field, says) in [
        (json!("OK"), "`detail.area`", "expected an object"),
        (json!({}), "`detail.area`", "counties or zipCodes"),
        (
            json!({"zipCodes": []}),
            "`detail.area`",
            "counties or zipCodes",
        ),
        (
            json!({"zips": ["73019"]}),
            "`detail.area.zips`",
            "unknown field",
        ),
        (
            json!({"counties": "40027"}),
            "`detail.area.counties`",
            "array",
        ),
        (
            json!({"counties": [40027]}),
            "`detail.area.counties[0]`",
            "a string",
        ),
        (
            json!({"counties": ["99999"]}),
            "`detail.area.counties[0]`",
            "county FIPS",
        ),
        (
            json!({"counties": ["040027"]}),
            "`detail.area.counties[0]`",
            "5-digit",
        ),
        (
            json!({"zipCodes": ["7301"]}),
            "`detail.area.zipCodes[0]`",
            "ZIP code",
        ),
        (
            json!({"zipCodes": ["00000"]}),
            "`detail.area.zipCodes[0]`",
            "ZIP code",
        ),
    ] {
        let err = area(bad.clone()).unwrap_err();
        assert!(err.contains(field) && err.contains(says), "{bad}: {err}");
    }
    let both = parse(json!({"alertType": "TORNADO", "source": "NWS",
                            "user": "amzn1.ask.account.A", "area": {"counties": ["40027"]}}))
    .unwrap_err();
    assert!(
        both.contains("`detail.area`") && both.contains("not both"),
        "{both}"
    );
}
