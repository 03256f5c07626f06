//! The US National Weather Service alerts feed (`/alerts/active?area=XX`, GeoJSON) and which
//! of its alerts become Alexa weather alerts.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::Severity;

/// NWS event names that are announced, and the Alexa alert type each becomes. Alexa speaks
/// the type ("There is a snow storm alert for your area"), so an event is mapped only where
/// the word is true of the hazard; every other NWS event (floods, heat, non-tropical wind,
/// tropical storms, ice storms...) is skipped and counted. The README's table gives the reason
/// for each choice; `docs/nws-research.md` has NWS's whole list with sources.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("Tornado Warning", "TORNADO"),
    ("Tornado Watch", "TORNADO"),
    ("Hurricane Warning", "HURRICANE"),
    ("Hurricane Watch", "HURRICANE"),
    ("Typhoon Warning", "HURRICANE"),
    ("Typhoon Watch", "HURRICANE"),
    // Issued only for the eyewall winds of a major hurricane (it replaced tornado warnings
    // for them): a hurricane alert, never a tornado one.
    ("Extreme Wind Warning", "HURRICANE"),
    ("Winter Storm Warning", "SNOW_STORM"),
    ("Winter Storm Watch", "SNOW_STORM"),
    ("Blizzard Warning", "SNOW_STORM"),
    ("Blizzard Watch", "SNOW_STORM"),
    ("Lake Effect Snow Warning", "SNOW_STORM"),
    ("Lake Effect Snow Watch", "SNOW_STORM"),
    ("Snow Squall Warning", "SNOW_STORM"),
    ("Severe Thunderstorm Warning", "THUNDER_STORM"),
    ("Severe Thunderstorm Watch", "THUNDER_STORM"),
];

/// How dangerous an alert says its hazard is, in the terms that make NWS tell people again.
/// An update is announced again when any part rises above what was announced for its alert
/// (see the README's escalation table); each part is 0 at its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Level {
    /// 1 for a warning (the hazard is happening or imminent), 0 for a watch.
    pub warning: u8,
    /// `tornadoDamageThreat`: 1 CONSIDERABLE (a particularly dangerous situation), 2
    /// CATASTROPHIC (a tornado emergency).
    pub tornado_threat: u8,
    /// `thunderstormDamageThreat`: 1 DESTRUCTIVE (CONSIDERABLE stays 0: NWS does not alert
    /// phones again for it).
    pub storm_threat: u8,
    /// `tornadoDetection`: 1 OBSERVED (a confirmed tornado) on a tornado alert.
    pub tornado_observed: u8,
    /// `severity` Extreme.
    pub extreme: u8,
}

impl Level {
    fn parts(self) -> [u8; 5] {
        [
            self.warning,
            self.tornado_threat,
            self.storm_threat,
            self.tornado_observed,
            self.extreme,
        ]
    }

    fn from_parts(p: [u8; 5]) -> Level {
        Level {
            warning: p[0],
            tornado_threat: p[1],
            storm_threat: p[2],
            tornado_observed: p[3],
            extreme: p[4],
        }
    }

    /// Whether any part is higher than in `announced`.
    pub fn rises_above(self, announced: Level) -> bool {
        self.parts()
            .iter()
            .zip(announced.parts())
            .any(|(now, then)| *now > then)
    }

    /// The higher of each part.
    pub fn max(self, other: Level) -> Level {
        let (a, b) = (self.parts(), other.parts());
        Level::from_parts(std::array::from_fn(|i| a[i].max(b[i])))
    }

    /// Five digits, as kept with the sent record (`"10201"`).
    pub fn encode(self) -> String {
        self.parts()
            .iter()
            .map(|p| char::from(b'0' + p.min(&9)))
            .collect()
    }

    /// What [`Level::encode`] wrote; anything else (a record from before levels were kept)
    /// reads as the base level.
    pub fn decode(text: &str) -> Level {
        let digits: Vec<u8> = text
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        match <[u8; 5]>::try_from(digits) {
            Ok(parts) if text.len() == 5 => Level::from_parts(parts),
            _ => Level::default(),
        }
    }
}

/// The Alexa alert type of an NWS event name, if it is announced at all.
pub fn alert_type(event: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(event.trim()))
        .map(|(_, alert_type)| *alert_type)
}

/// One alert of the feed: the properties this function uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The CAP identifier, e.g. `urn:oid:2.49.0.1.840.0.4f0c...`: the alert's referenceId is
    /// derived from it, and `references` of later updates name it.
    pub id: String,
    pub event: String,
    pub status: String,
    pub message_type: String,
    pub severity: Severity,
    pub sender_name: String,
    pub area_desc: String,
    pub expires: Option<DateTime<Utc>>,
    pub ends: Option<DateTime<Utc>>,
    /// Identifiers of the earlier messages this one updates or cancels.
    pub references: Vec<String>,
    /// How dangerous it says the hazard is.
    pub level: Level,
    /// The counties it concerns (5-digit FIPS, from `geocode.SAME`; codes that are no county
    /// of the ZIP table, such as marine zones, are left out).
    pub counties: Vec<String>,
}

impl Alert {
    /// When the notification stops mattering: the end of the hazard when the feed gives it,
    /// else the end of the message.
    pub fn expiry(&self) -> Option<DateTime<Utc>> {
        self.ends.or(self.expires)
    }
}

/// The feed, with the features that could not be read (`field: problem`): one broken alert
/// must not hold back the others, so it is counted and logged rather than failing the poll.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Feed {
    pub alerts: Vec<Alert>,
    pub malformed: Vec<String>,
}

/// Why an alert is not announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// `status` is Exercise, System, Test or Draft.
    NotActual,
    /// `messageType: Cancel`: the hazard is over, there is nothing to announce.
    Cancel,
    /// `messageType` Ack or Error.
    NotAnAlert,
    /// An NWS event with no Alexa alert type.
    OtherEvent,
    BelowMinSeverity,
    /// An update of an alert that was announced already.
    UpdateOfAnnounced,
    Malformed,
}

impl Skip {
    pub fn key(self) -> &'static str {
        match self {
            Skip::NotActual => "notActual",
            Skip::Cancel => "cancel",
            Skip::NotAnAlert => "notAnAlert",
            Skip::OtherEvent => "otherEvent",
            Skip::BelowMinSeverity => "belowMinSeverity",
            Skip::UpdateOfAnnounced => "updateOfAnnounced",
            Skip::Malformed => "malformed",
        }
    }
}

/// What to do with an alert, before looking at what was announced already.
pub fn verdict(alert: &Alert, min_severity: Severity) -> Result<&'static str, Skip> {
    if alert.status != "Actual" {
        return Err(Skip::NotActual);
    }
    match alert.message_type.as_str() {
        "Alert" | "Update" => {}
        "Cancel" => return Err(Skip::Cancel),
        _ => return Err(Skip::NotAnAlert),
    }
    let alert_type = alert_type(&alert.event).ok_or(Skip::OtherEvent)?;
    if alert.severity < min_severity {
        return Err(Skip::BelowMinSeverity);
    }
    Ok(alert_type)
}

/// The feed document, read without building it in memory: each feature stays a slice of the
/// body until it is read on its own (so one broken feature does not sink the rest), and the
/// bulk of a national feed (geometry, descriptions, instructions) is skipped, never copied.
#[derive(Deserialize)]
struct Document<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Feature {
    properties: Option<Properties>,
}

/// The properties this function reads; every other one is skipped. Each is kept as a JSON
/// value so that a wrong type is reported for that field of that alert.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Properties {
    id: Option<Value>,
    event: Option<Value>,
    status: Option<Value>,
    message_type: Option<Value>,
    severity: Option<Value>,
    sender_name: Option<Value>,
    area_desc: Option<Value>,
    expires: Option<Value>,
    ends: Option<Value>,
    references: Option<Value>,
    parameters: Option<Value>,
    geocode: Option<Value>,
}

impl Properties {
    fn get(&self, key: &str) -> Option<&Value> {
        match key {
            "id" => self.id.as_ref(),
            "event" => self.event.as_ref(),
            "status" => self.status.as_ref(),
            "messageType" => self.message_type.as_ref(),
            "severity" => self.severity.as_ref(),
            "senderName" => self.sender_name.as_ref(),
            "areaDesc" => self.area_desc.as_ref(),
            "expires" => self.expires.as_ref(),
            "ends" => self.ends.as_ref(),
            "references" => self.references.as_ref(),
            "parameters" => self.parameters.as_ref(),
            "geocode" => self.geocode.as_ref(),
            _ => None,
        }
    }
}

/// Parses the feed. A body that is not a GeoJSON FeatureCollection is an error (the feed is
/// broken or the URL points elsewhere); a feature missing a field is reported in `malformed`.
pub fn parse(body: &[u8]) -> Result<Feed, String> {
    let document: Document = match serde_json::from_slice(body) {
        Ok(document) => document,
        Err(_) => return Err(not_a_feed(body)),
    };
    if document.kind != Some("FeatureCollection") {
        return Err(format!(
            "field `type` is {}; expected \"FeatureCollection\"",
            document
                .kind
                .map_or("missing".to_owned(), |t| format!("{t:?}"))
        ));
    }
    let mut feed = Feed {
        alerts: Vec::with_capacity(document.features.len()),
        malformed: Vec::new(),
    };
    for (i, raw) in document.features.iter().enumerate() {
        let at = format!("features[{i}].properties");
        match serde_json::from_str::<Feature>(raw.get()) {
            Ok(Feature {
                properties: Some(properties),
            }) => match alert(&properties, &at) {
                Ok(alert) => feed.alerts.push(alert),
                Err(problem) => feed.malformed.push(problem),
            },
            _ => feed
                .malformed
                .push(format!("{at}: missing or not an object")),
        }
    }
    Ok(feed)
}

/// Why `body` is not a feed at all: the slow path, taken only for a broken body.
fn not_a_feed(body: &[u8]) -> String {
    let document: Value = match serde_json::from_slice(body) {
        Ok(document) => document,
        Err(e) => {
            return format!("the body is not JSON ({e}); expected a GeoJSON FeatureCollection such as https://api.weather.gov/alerts/active?area=OK returns")
        }
    };
    let Some(object) = document.as_object() else {
        return "the body is not a JSON object; expected a GeoJSON FeatureCollection".into();
    };
    match object.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => "field `features` is missing or not an array".into(),
        other => format!(
            "field `type` is {}; expected \"FeatureCollection\"",
            other.map_or("missing".to_owned(), |t| format!("{t:?}"))
        ),
    }
}

fn alert(p: &Properties, at: &str) -> Result<Alert, String> {
    let text = |key: &str| -> Result<String, String> {
        match p.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            Some(Value::String(_)) => Err(format!("{at}.{key}: empty; expected text")),
            None | Some(Value::Null) => Err(format!("{at}.{key}: required field is missing")),
            Some(_) => Err(format!("{at}.{key}: expected a string")),
        }
    };
    let time = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        match p.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| {
                    format!("{at}.{key}: {s:?} is not a time such as 2026-11-25T10:45:00-06:00")
                }),
            Some(_) => Err(format!("{at}.{key}: expected a time string")),
        }
    };
    let severity_text = text("severity")?;
    let severity = Severity::parse(&severity_text).ok_or_else(|| {
        format!("{at}.severity: {severity_text:?} is not one of Extreme, Severe, Moderate, Minor, Unknown")
    })?;
    let references = match p.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| r.get("identifier").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        Some(_) => return Err(format!("{at}.references: expected an array")),
    };
    let mut alert = Alert {
        id: text("id")?,
        event: text("event")?,
        status: text("status")?,
        message_type: text("messageType")?,
        severity,
        sender_name: text("senderName")?,
        area_desc: text("areaDesc").unwrap_or_default(),
        expires: time("expires")?,
        ends: time("ends")?,
        references,
        level: Level::default(),
        counties: counties(p.get("geocode")),
    };
    alert.level = level(&alert, p.get("parameters"));
    if alert.expiry().is_none() {
        return Err(format!(
            "{at}.expires: required field is missing (and there is no `ends`)"
        ));
    }
    Ok(alert)
}

/// The counties of `geocode.SAME`: `"040027"` (part + state + county FIPS) → `"40027"`.
fn counties(geocode: Option<&Value>) -> Vec<String> {
    let Some(codes) = geocode
        .and_then(|g| g.get("SAME"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut counties: Vec<String> = codes
        .iter()
        .filter_map(Value::as_str)
        // The first digit says which part of the county (0: all of it, 1-9: a ninth): the
        // county is concerned either way.
        .filter(|code| code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
        .map(|code| &code[1..])
        .filter(|fips| crate::area::county(fips).is_some())
        .map(str::to_owned)
        .collect();
    counties.sort_unstable();
    counties.dedup();
    counties
}

/// The first value of an NWS parameter (NWS gives each as an array of strings).
fn parameter<'a>(parameters: Option<&'a Value>, key: &str) -> Option<&'a str> {
    let value = parameters?.get(key)?;
    match value {
        Value::Array(items) => items.first().and_then(Value::as_str),
        Value::String(text) => Some(text),
        _ => None,
    }
}

fn level(alert: &Alert, parameters: Option<&Value>) -> Level {
    let is = |key, expected: &str| {
        parameter(parameters, key).is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
    };
    let tornado = alert_type(&alert.event) == Some("TORNADO");
    Level {
        warning: u8::from(alert.event.trim().to_ascii_lowercase().ends_with("warning")),
        tornado_threat: if is("tornadoDamageThreat", "CATASTROPHIC") {
            2
        } else {
            u8::from(is("tornadoDamageThreat", "CONSIDERABLE"))
        },
        storm_threat: u8::from(is("thunderstormDamageThreat", "DESTRUCTIVE")),
        tornado_observed: u8::from(tornado && is("tornadoDetection", "OBSERVED")),
        extreme: u8::from(alert.severity == Severity::Extreme),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed(features: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features})).unwrap()
    }

    fn props(overrides: Value) -> Value {
        let mut p = json!({
            "id": "urn:oid:2.49.0.1.840.0.aaa.001.1", "event": "Tornado Warning",
            "status": "Actual", "messageType": "Alert", "severity": "Extreme",
            "certainty": "Observed", "urgency": "Immediate", "sent": "2026-11-25T10:00:00-06:00",
            "expires": "2026-11-25T10:45:00-06:00", "ends": null,
            "senderName": "NWS Norman OK", "areaDesc": "Cleveland, OK", "references": []
        });
        for (k, v) in overrides.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({"type": "Feature", "properties": p})
    }

    #[test]
    fn the_table_maps_the_four_alexa_types() {
        assert_eq!(alert_type("Tornado Warning"), Some("TORNADO"));
        assert_eq!(alert_type("typhoon watch"), Some("HURRICANE"));
        // An ice storm is freezing rain, not snow: "snow storm alert" would misdescribe it.
        assert_eq!(alert_type("Ice Storm Warning"), None);
        assert_eq!(alert_type("Snow Squall Warning"), Some("SNOW_STORM"));
        assert_eq!(alert_type("Lake Effect Snow Warning"), Some("SNOW_STORM"));
        // Eyewall winds of a major hurricane: never a tornado alert.
        assert_eq!(alert_type("Extreme Wind Warning"), Some("HURRICANE"));
        // A tropical storm is not a hurricane; a storm surge may come with either.
        assert_eq!(alert_type("Tropical Storm Warning"), None);
        assert_eq!(alert_type("Storm Surge Warning"), None);
        // A marine "Storm Warning" is gale-force wind over water.
        assert_eq!(alert_type("Storm Warning"), None);
        assert_eq!(
            alert_type("Severe Thunderstorm Warning"),
            Some("THUNDER_STORM")
        );
        assert_eq!(alert_type("Flood Warning"), None);
        let used: std::collections::BTreeSet<&str> = EVENT_TYPES.iter().map(|e| e.1).collect();
        let alexa: std::collections::BTreeSet<&str> =
            crate::event::schemas::ALERT_TYPES.iter().copied().collect();
        assert_eq!(
            used, alexa,
            "every Alexa type has an NWS event, and only those"
        );
    }

    #[test]
    fn a_feed_alert_is_read_with_its_times_and_references() {
        let body = feed(vec![props(json!({
            "messageType": "Update", "ends": "2026-11-25T11:00:00-06:00",
            "references": [{"@id": "https://api.weather.gov/alerts/urn:oid:x", "identifier": "urn:oid:x",
                            "sender": "w-nws.webmaster@noaa.gov", "sent": "2026-11-25T09:00:00-06:00"}]
        }))]);
        let parsed = parse(&body).unwrap();
        assert!(parsed.malformed.is_empty(), "{:?}", parsed.malformed);
        let alert = &parsed.alerts[0];
        assert_eq!(alert.references, vec!["urn:oid:x"]);
        assert_eq!(alert.severity, Severity::Extreme);
        assert_eq!(
            alert.expiry().unwrap().to_rfc3339(),
            "2026-11-25T17:00:00+00:00",
            "ends wins over expires"
        );
    }

    #[test]
    fn verdicts_follow_status_message_type_event_and_severity() {
        let read =
            |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().alerts[0].clone();
        let severe = Severity::Severe;
        assert_eq!(verdict(&read(json!({})), severe), Ok("TORNADO"));
        assert_eq!(
            verdict(&read(json!({"messageType": "Update"})), severe),
            Ok("TORNADO")
        );
        assert_eq!(
            verdict(&read(json!({"status": "Test"})), severe),
            Err(Skip::NotActual)
        );
        assert_eq!(
            verdict(&read(json!({"status": "Exercise"})), severe),
            Err(Skip::NotActual)
        );
        assert_eq!(
            verdict(&read(json!({"messageType": "Cancel"})), severe),
            Err(Skip::Cancel)
        );
        assert_eq!(
            verdict(&read(json!({"messageType": "Ack"})), severe),
            Err(Skip::NotAnAlert)
        );
        assert_eq!(
            verdict(&read(json!({"event": "Heat Advisory"})), severe),
            Err(Skip::OtherEvent)
        );
        let moderate = read(json!({"severity": "Moderate"}));
        assert_eq!(verdict(&moderate, severe), Err(Skip::BelowMinSeverity));
        assert_eq!(verdict(&moderate, Severity::Moderate), Ok("TORNADO"));
        assert_eq!(
            verdict(&read(json!({"severity": "Unknown"})), Severity::Minor),
            Err(Skip::BelowMinSeverity)
        );
    }

    #[test]
    fn a_broken_feature_is_named_and_the_others_are_kept() {
        let body = feed(vec![
            props(json!({})),
            props(json!({"event": null})),
            props(json!({"severity": "Apocalyptic"})),
            props(json!({"expires": "tomorrow"})),
            json!({"type": "Feature"}),
        ]);
        let parsed = parse(&body).unwrap();
        assert_eq!(parsed.alerts.len(), 1);
        assert_eq!(
            parsed.malformed,
            vec![
                "features[1].properties.event: required field is missing".to_owned(),
                "features[2].properties.severity: \"Apocalyptic\" is not one of Extreme, Severe, Moderate, Minor, Unknown".to_owned(),
                "features[3].properties.expires: \"tomorrow\" is not a time such as 2026-11-25T10:45:00-06:00".to_owned(),
                "features[4].properties: missing or not an object".to_owned(),
            ]
        );
    }

    #[test]
    fn a_body_that_is_not_a_feature_collection_is_refused() {
        for (body, says) in [
            (&b"<html>Service Unavailable</html>"[..], "not JSON"),
            (&b"[]"[..], "not a JSON object"),
            (
                &br#"{"type": "Feature"}"#[..],
                "expected \"FeatureCollection\"",
            ),
            (&br#"{"type": "FeatureCollection"}"#[..], "`features`"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn levels_read_the_threat_tags_nws_uses() {
        let read = |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().alerts[0].level;
        let base = read(json!({}));
        assert_eq!(
            base,
            Level {
                warning: 1,
                extreme: 1,
                ..Level::default()
            }
        );
        let emergency = read(
            json!({"parameters": {"tornadoDamageThreat": ["CATASTROPHIC"],
                                                    "tornadoDetection": ["OBSERVED"]}}),
        );
        assert_eq!(
            (emergency.tornado_threat, emergency.tornado_observed),
            (2, 1)
        );
        let pds = read(json!({"parameters": {"tornadoDamageThreat": ["CONSIDERABLE"]}}));
        assert_eq!(pds.tornado_threat, 1);
        let watch = read(json!({"event": "Tornado Watch"}));
        assert_eq!(watch.warning, 0);
        let destructive = read(
            json!({"event": "Severe Thunderstorm Warning", "severity": "Severe",
            "parameters": {"thunderstormDamageThreat": ["DESTRUCTIVE"], "tornadoDetection": ["POSSIBLE"]}}),
        );
        assert_eq!(
            destructive,
            Level {
                warning: 1,
                storm_threat: 1,
                ..Level::default()
            },
            "tornado POSSIBLE on a thunderstorm warning is no tornado"
        );
        let considerable = read(json!({"event": "Severe Thunderstorm Warning",
            "parameters": {"thunderstormDamageThreat": ["CONSIDERABLE"]}}));
        assert_eq!(considerable.storm_threat, 0);
    }

    #[test]
    fn levels_compare_part_by_part_and_survive_the_record() {
        let watch = Level {
            extreme: 1,
            ..Level::default()
        };
        let warning = Level {
            warning: 1,
            ..Level::default()
        };
        assert!(warning.rises_above(watch));
        assert!(!watch.rises_above(watch.max(warning)));
        let emergency = Level {
            tornado_threat: 2,
            ..warning
        };
        assert_eq!(Level::decode(&emergency.encode()), emergency);
        assert_eq!(emergency.encode(), "12000");
        assert_eq!(Level::decode("garbage"), Level::default());
        assert_eq!(Level::decode(""), Level::default());
    }

    #[test]
    fn counties_come_from_same_codes_whole_or_part() {
        let geocode = serde_json::json!({"SAME": ["040027", "140087", "040027", "057555", "40051", "x40051"],
                                         "UGC": ["OKC027"]});
        // A part of a county (first digit 1-9) is the county; a marine zone, a short or
        // malformed code is none; each county once, in order.
        assert_eq!(counties(Some(&geocode)), ["40027", "40087"]);
        assert!(counties(None).is_empty());
        assert!(counties(Some(&serde_json::json!({"SAME": "040027"}))).is_empty());
    }
}
