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
