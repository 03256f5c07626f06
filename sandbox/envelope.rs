//! What the sandbox checks in an events API body before it accepts it: the envelope
//! (timestamp, referenceId, expiryTime, event, localizedAttributes, relevantAudience).
//!
//! The envelope rules come from the API notes (section 3); the payload and its localized
//! texts are checked with the sandbox's own schema rules (`rules`, `schemas.json`), not the
//! product's table, so a mistake in either shows up as a refusal in the tests.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::rules::Rules;
use crate::speech::sentence;

const ENVELOPE_KEYS: [&str; 6] = [
    "timestamp",
    "referenceId",
    "expiryTime",
    "event",
    "localizedAttributes",
    "relevantAudience",
];
/// Alexa's clock is not the sender's: this much slack on the server-clock checks.
const CLOCK_SLACK: Duration = Duration::seconds(30);

/// An accepted event, reduced to what the sandbox records and prints.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub reference_id: String,
    pub name: String,
    /// `None` for a Multicast.
    pub user: Option<String>,
    /// `(locale, sentence)` for every locale the event carries.
    pub spoken: Vec<(String, String)>,
}

/// Checks an events API body; `Err` is the 400 message.
pub fn check(rules: &Rules, body: &[u8], now: DateTime<Utc>) -> Result<Accepted, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let Some(envelope) = value.as_object() else {
        return Err("the body must be a JSON object".into());
    };
    if let Some(key) = envelope
        .keys()
        .find(|k| !ENVELOPE_KEYS.contains(&k.as_str()))
    {
        return Err(format!("unknown field {key}"));
    }
    let text = |key: &str| -> Result<&str, String> {
        envelope
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{key} is required and must be a string"))
    };
    let time = |key: &str| -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(text(key)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| format!("{key} must be an RFC 3339 time"))
    };
    let timestamp = time("timestamp")?;
    let expiry = time("expiryTime")?;
    let reference_id = text("referenceId")?;
    if reference_id.is_empty()
        || reference_id.len() > 100
        || !reference_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '~' || c == '-')
    {
        return Err("referenceId must be 1 to 100 characters of A-Z, a-z, 0-9, ~ and -".into());
    }
    let min = Duration::minutes(5);
    let max = Duration::hours(24);
    if expiry - timestamp < min || expiry - timestamp > max {
        return Err("expiryTime must be between 5 minutes and 24 hours after timestamp".into());
    }
    if expiry - now < min - CLOCK_SLACK || expiry - now > max + CLOCK_SLACK {
        return Err("expiryTime must be between 5 minutes and 24 hours from now".into());
    }
    let event = envelope
        .get("event")
        .and_then(Value::as_object)
        .ok_or("event is required and must be an object")?;
    if let Some(key) = event.keys().find(|k| *k != "name" && *k != "payload") {
        return Err(format!("unknown field event.{key}"));
    }
    let name = event
        .get("name")
        .and_then(Value::as_str)
        .ok_or("event.name is required")?;
    let schema = rules
        .schema(name)
        .ok_or_else(|| format!("event.name {name:?} is not a published schema"))?;
    let payload = event.get("payload").ok_or("event.payload is required")?;
    let keys = schema
        .check_payload(payload, "event.payload")
        .map_err(|p| p.to_string())?;
    let attributes = envelope
        .get("localizedAttributes")
        .ok_or("localizedAttributes is required (send [] when unused)")?;
    schema
        .check_localized(attributes, &keys, "localizedAttributes")
        .map_err(|p| p.to_string())?;
    let user = audience(envelope.get("relevantAudience"))?;
    let locales: Vec<&Map<String, Value>> = attributes
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    let spoken = if locales.is_empty() {
        vec![("en-US".to_owned(), sentence(name, payload, None, "en-US"))]
    } else {
        locales
            .iter()
            .map(|l| {
                let locale = l.get("locale").and_then(Value::as_str).unwrap_or("en-US");
                (locale.to_owned(), sentence(name, payload, Some(l), locale))
            })
            .collect()
    };
    Ok(Accepted {
        reference_id: reference_id.to_owned(),
        name: name.to_owned(),
        user,
        spoken,
    })
}

fn audience(value: Option<&Value>) -> Result<Option<String>, String> {
    let audience = value
        .and_then(Value::as_object)
        .ok_or("relevantAudience is required and must be an object")?;
    let payload = audience
        .get("payload")
        .and_then(Value::as_object)
        .ok_or("relevantAudience.payload is required (an empty object for a Multicast)")?;
    match audience.get("type").and_then(Value::as_str) {
        Some("Multicast") if payload.is_empty() => Ok(None),
        Some("Multicast") => Err("relevantAudience.payload must be {} for a Multicast".into()),
        Some("Unicast") => match payload.get("user").and_then(Value::as_str) {
            Some(user) if user.starts_with("amzn1.ask.account.") => Ok(Some(user.to_owned())),
            _ => Err("relevantAudience.payload.user must be a user id (amzn1.ask.account...) for a Unicast".into()),
        },
        _ => Err("relevantAudience.type must be Multicast or Unicast".into()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{json, Value};

    use super::{check, Accepted};
    use crate::rules::Rules;

    const NOW: &str = "2026-11-24T18:00:00Z";
    const USER: &str = "amzn1.ask.account.AHVVDYK7EA";

    fn now() -> DateTime<Utc> {
        NOW.parse().expect("an RFC 3339 time")
    }

    /// A valid body around one of `tests/fixtures/schema-examples.json`.
    fn body(example: &Value) -> Value {
        json!({
            "timestamp": NOW,
            "referenceId": "wx7f3a9c0d2e",
            "expiryTime": "2026-11-25T06:00:00Z",
            "event": {"name": example["name"], "payload": example["payload"]},
            "localizedAttributes": example.get("localizedAttributes").cloned().unwrap_or(json!([])),
            "relevantAudience": {"type": "Multicast", "payload": {}},
        })
    }

    fn examples() -> Vec<Value> {
        serde_json::from_str(include_str!("../tests/fixtures/schema-examples.json"))
            .expect("schema-examples.json is JSON")
    }

    fn weather() -> Value {
        body(&examples()[0])
    }

    fn run(body: &Value) -> Result<Accepted, String> {
        let rules = Rules::load().expect("sandbox/schemas.json loads");
        check(&rules, body.to_string().as_bytes(), now())
    }

    /// `change` must make the body refused with a message containing `expected`.
    fn refused(change: impl FnOnce(&mut Value), expected: &str) {
        let mut broken = weather();
        change(&mut broken);
        match run(&broken) {
            Ok(_) => panic!("accepted a broken body: {broken}"),
            Err(message) => assert!(message.contains(expected), "{message:?} lacks {expected:?}"),
        }
    }

    fn set(pointer: &'static str, value: Value) -> impl FnOnce(&mut Value) {
        move |body| *body.pointer_mut(pointer).expect("the body has it") = value
    }

    fn drop_key(key: &'static str) -> impl FnOnce(&mut Value) {
        move |body| {
            body.as_object_mut()
                .expect("an object")
                .remove(key)
                .expect("the body has it");
        }
    }

    #[test]
    fn every_valid_example_is_accepted_and_spoken() {
        for example in examples() {
            let accepted = run(&body(&example))
                .unwrap_or_else(|m| panic!("{}: refused: {m}", example["name"]));
            assert_eq!(accepted.name, example["name"].as_str().unwrap_or_default());
            assert_eq!(accepted.reference_id, "wx7f3a9c0d2e");
            assert_eq!(accepted.user, None);
            assert!(!accepted.spoken.is_empty());
            for (locale, sentence) in &accepted.spoken {
                assert!(
                    !sentence.contains("localizedattribute:"),
                    "{locale}: {sentence}"
                );
            }
        }
        let weather = run(&weather()).expect("accepted");
        assert_eq!(
            weather.spoken,
            [(
                "en-US".to_owned(),
                "There is a tornado alert for your area. Provided by National Weather Service."
                    .to_owned()
            )]
        );
    }

    #[test]
    fn a_unicast_names_its_user() {
        let mut unicast = weather();
        unicast["relevantAudience"] = json!({"type": "Unicast", "payload": {"user": USER}});
        assert_eq!(run(&unicast).expect("accepted").user.as_deref(), Some(USER));
    }

    #[test]
    fn an_unknown_schema_name_is_refused_by_name() {
        refused(
            set("/event/name", json!("AMAZON.WeatherAlert.Updated")),
            "event.name \"AMAZON.WeatherAlert.Updated\" is not a published schema",
        );
        refused(
            |b| {
                b["event"]
                    .as_object_mut()
                    .expect("an object")
                    .remove("name");
            },
            "event.name is required",
        );
    }

    #[test]
    fn payload_problems_name_the_field() {
        refused(
            set("/event/payload/weatherAlert/alertType", json!("FLOOD")),
            "event.payload.weatherAlert.alertType: \"FLOOD\" is not one of",
        );
        refused(
            set(
                "/event/payload/weatherAlert/source",
                json!("localizedattribute:src"),
            ),
            "localizedAttributes[0].src: is missing or empty for en-US",
        );
        refused(
            |b| {
                b["event"]
                    .as_object_mut()
                    .expect("an object")
                    .remove("payload");
            },
            "event.payload is required",
        );
        refused(
            |b| b["event"]["payload"]["weatherAlert"]["severity"] = json!("HIGH"),
            "event.payload.weatherAlert.severity: is not a field of this schema",
        );
    }

    #[test]
    fn envelope_fields_are_required_and_checked() {
        refused(drop_key("timestamp"), "timestamp is required");
        refused(drop_key("expiryTime"), "expiryTime is required");
        refused(drop_key("referenceId"), "referenceId is required");
        refused(drop_key("event"), "event is required");
        refused(
            drop_key("localizedAttributes"),
            "localizedAttributes is required",
        );
        refused(drop_key("relevantAudience"), "relevantAudience is required");
        refused(
            set("/timestamp", json!("24.11.2026 18:00")),
            "timestamp must be an RFC 3339 time",
        );
        refused(
            |b| {
                b["priority"] = json!("high");
            },
            "unknown field priority",
        );
        refused(
            |b| b["event"]["when"] = json!(NOW),
            "unknown field event.when",
        );
        refused(
            set("/event", json!("weather")),
            "event is required and must be an object",
        );
    }

    #[test]
    fn the_reference_id_is_1_to_100_allowed_characters() {
        let mut longest = weather();
        longest["referenceId"] = json!("a".repeat(100));
        run(&longest).expect("100 characters are allowed");
        let rule = "referenceId must be 1 to 100 characters";
        refused(set("/referenceId", json!("")), rule);
        refused(set("/referenceId", json!("a".repeat(101))), rule);
        refused(set("/referenceId", json!("wx 1")), rule);
        refused(set("/referenceId", json!("wx_1")), rule);
        refused(set("/referenceId", json!("wx/1")), rule);
        refused(
            set("/referenceId", json!(42)),
            "referenceId is required and must be a string",
        );
    }

    #[test]
    fn the_expiry_is_5_minutes_to_24_hours_after_the_timestamp() {
        let after = "expiryTime must be between 5 minutes and 24 hours after timestamp";
        refused(set("/expiryTime", json!("2026-11-24T18:04:59Z")), after);
        refused(set("/expiryTime", json!("2026-11-25T18:00:01Z")), after);
        refused(set("/expiryTime", json!("2026-11-24T17:00:00Z")), after);
        let mut edges = weather();
        edges["expiryTime"] = json!("2026-11-24T18:05:00Z");
        run(&edges).expect("5 minutes is allowed");
        edges["expiryTime"] = json!("2026-11-25T18:00:00Z");
        run(&edges).expect("24 hours is allowed");
        // Stale: the timestamp and expiry agree, but the expiry is already past for Alexa.
        refused(
            |b| {
                b["timestamp"] = json!("2026-11-23T08:00:00Z");
                b["expiryTime"] = json!("2026-11-24T06:00:00Z");
            },
            "expiryTime must be between 5 minutes and 24 hours from now",
        );
    }

    #[test]
    fn the_audience_is_multicast_or_unicast_with_a_user() {
        refused(
            set(
                "/relevantAudience",
                json!({"type": "Broadcast", "payload": {}}),
            ),
            "relevantAudience.type must be Multicast or Unicast",
        );
        refused(
            set("/relevantAudience", json!({"type": "Multicast"})),
            "relevantAudience.payload is required",
        );
        refused(
            set(
                "/relevantAudience",
                json!({"type": "Multicast", "payload": {"user": USER}}),
            ),
            "relevantAudience.payload must be {} for a Multicast",
        );
        refused(
            set(
                "/relevantAudience",
                json!({"type": "Unicast", "payload": {"user": "someone"}}),
            ),
            "relevantAudience.payload.user must be a user id",
        );
    }

    #[test]
    fn a_body_that_is_not_a_json_object_is_refused() {
        let rules = Rules::load().expect("sandbox/schemas.json loads");
        let refused = |body: &[u8], expected: &str| match check(&rules, body, now()) {
            Ok(_) => panic!("accepted {body:?}"),
            Err(m) => assert!(m.contains(expected), "{m:?} lacks {expected:?}"),
        };
        refused(b"{\"timestamp\":", "the body is not JSON");
        refused(b"[]", "the body must be a JSON object");
    }
}
