//! The US National Weather Service alerts feed (`/alerts/active?area=XX`, GeoJSON) and which
//! of its alerts become Alexa weather alerts: read into the feed-neutral [`Alert`], each with
//! one [`Track`] per P-VTEC string.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::alert::{Action, Alert, Alerts, EventKey, Level, MessageKind, Place, Track};
use super::vtec::Vtec;
use super::Severity;

/// NWS event names that are announced, the Alexa alert type each becomes, and its VTEC
/// phenomenon and significance (`pp.s`). Alexa speaks
/// the type ("There is a snow storm alert for your area"), so an event is mapped only where
/// the word is true of the hazard; every other NWS event (floods, heat, non-tropical wind,
/// tropical storms, ice storms...) is skipped and counted. The README's table gives the reason
/// for each choice; `docs/nws-research.md` has NWS's whole list with sources.
pub const EVENT_TYPES: &[(&str, &str, &str)] = &[
    ("Tornado Warning", "TORNADO", "TO.W"),
    ("Tornado Watch", "TORNADO", "TO.A"),
    ("Hurricane Warning", "HURRICANE", "HU.W"),
    ("Hurricane Watch", "HURRICANE", "HU.A"),
    ("Typhoon Warning", "HURRICANE", "TY.W"),
    ("Typhoon Watch", "HURRICANE", "TY.A"),
    // Issued only for the eyewall winds of a major hurricane (it replaced tornado warnings
    // for them): a hurricane alert, never a tornado one.
    ("Extreme Wind Warning", "HURRICANE", "EW.W"),
    ("Winter Storm Warning", "SNOW_STORM", "WS.W"),
    ("Winter Storm Watch", "SNOW_STORM", "WS.A"),
    ("Blizzard Warning", "SNOW_STORM", "BZ.W"),
    ("Blizzard Watch", "SNOW_STORM", "BZ.A"),
    ("Lake Effect Snow Warning", "SNOW_STORM", "LE.W"),
    ("Lake Effect Snow Watch", "SNOW_STORM", "LE.A"),
    ("Snow Squall Warning", "SNOW_STORM", "SQ.W"),
    ("Severe Thunderstorm Warning", "THUNDER_STORM", "SV.W"),
    ("Severe Thunderstorm Watch", "THUNDER_STORM", "SV.A"),
];

/// The VTEC `pp.s` of an announced NWS event name.
fn vtec_code(event: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(event.trim()))
        .map(|(.., code)| *code)
}

/// The Alexa alert type of an NWS event name, if it is announced at all.
pub fn alert_type(event: &str) -> Option<&'static str> {
    EVENT_TYPES
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(event.trim()))
        .map(|(_, alert_type, _)| *alert_type)
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
    sent: Option<Value>,
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
            "sent" => self.sent.as_ref(),
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
pub fn parse(body: &[u8]) -> Result<Alerts, String> {
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
    let mut feed = Alerts {
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
    let mut references = match p.get("references") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|r| r.get("identifier").and_then(Value::as_str))
            .map(str::to_owned)
            .collect(),
        Some(_) => return Err(format!("{at}.references: expected an array")),
    };
    let parameters = p.get("parameters");
    // Once an earlier message has expired NWS moves it from `references` here (as
    // "sender,identifier,sent" triples separated by spaces): it is still the chain.
    references.extend(expired_references(parameters, at)?);
    references.sort_unstable();
    references.dedup();
    let event = text("event")?;
    let id = text("id")?;
    let kind = MessageKind::parse(&text("messageType")?);
    let sent = time("sent")?;
    let mut alert = Alert {
        alert_type: alert_type(&event),
        actual: text("status")? == "Actual",
        advance: false,
        kind,
        severity,
        sender_name: text("senderName")?,
        area_desc: text("areaDesc").unwrap_or_default(),
        sent,
        expires: time("expires")?,
        ends: time("ends")?,
        tracks: tracks(&id, &event, kind, sent, &references, parameters, at)?,
        references,
        level: Level::default(),
        places: counties(p.get("geocode"))
            .iter()
            .map(|c| Place::county(c))
            .collect(),
        event,
        id,
    };
    alert.level = level(&alert, parameters);
    if alert.expires.is_none() && alert.ends.is_none() {
        return Err(format!(
            "{at}.expires: required field is missing (and there is no `ends`)"
        ));
    }
    Ok(alert)
}

/// The identifiers of `parameters.expiredReferences`.
fn expired_references(parameters: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    let items = match parameters.and_then(|p| p.get("expiredReferences")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => items,
        Some(_) => {
            return Err(format!(
                "{at}.parameters.expiredReferences: expected an array of strings of \"sender,identifier,sent\" triples"
            ))
        }
    };
    Ok(items
        .iter()
        .filter_map(Value::as_str)
        .flat_map(str::split_whitespace)
        .filter_map(|triple| triple.split(',').nth(1))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The operational P-VTEC strings of `parameters.VTEC` (test and experimental ones name no
/// real event and are left out); one that reads as operational but is malformed is an error.
fn vtec_strings(parameters: Option<&Value>, at: &str) -> Result<Vec<Vtec>, String> {
    let items = match parameters.and_then(|p| p.get("VTEC")) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(format!(
                "{at}.parameters.VTEC: expected an array of strings"
            ))
        }
    };
    let mut vtec = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(text) = item.as_str() else {
            return Err(format!("{at}.parameters.VTEC[{i}]: expected a string"));
        };
        match Vtec::parse(text) {
            Some(v) => vtec.push(v),
            None if text.trim().starts_with("/O.") => {
                return Err(format!(
                    "{at}.parameters.VTEC[{i}]: {text:?} is not a P-VTEC string such as /O.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/"
                ))
            }
            None => {}
        }
    }
    Ok(vtec)
}

/// One track per operational P-VTEC string; a message without one is its own event, its
/// references naming the chain it continues. A track of another hazard than the message's
/// `event` that does not end its event is left out (the message announces its own hazard).
fn tracks(
    id: &str,
    event: &str,
    kind: MessageKind,
    sent: Option<DateTime<Utc>>,
    references: &[String],
    parameters: Option<&Value>,
    at: &str,
) -> Result<Vec<Track>, String> {
    // Records kept before this release are per message: the message and its references.
    let chain = || {
        std::iter::once(id)
            .chain(references.iter().map(String::as_str))
            .map(EventKey::message)
    };
    let mut vtec = vtec_strings(parameters, at)?;
    if vtec.is_empty() {
        let action = match kind {
            MessageKind::Alert => Action::New,
            MessageKind::Update => Action::Update,
            MessageKind::Cancel => Action::Cancel,
            MessageKind::Other => Action::Routine,
        };
        return Ok(vec![Track {
            key: EventKey::message(id),
            action,
            aliases: chain().skip(1).collect(),
            ends: None,
        }]);
    }
    if sent.is_none() && vtec.iter().any(|v| v.begins.is_none()) {
        return Err(format!(
            "{at}.sent: required field is missing (it dates a VTEC event already under way)"
        ));
    }
    if let Some(own) = vtec_code(event) {
        let is_own = |v: &Vtec| format!("{}.{}", v.phenomenon, v.significance) == own;
        if vtec.iter().any(|v| !v.action.ends() && is_own(v)) {
            vtec.retain(|v| v.action.ends() || is_own(v));
        }
    }
    Ok(vtec
        .iter()
        .map(|v| Track {
            key: v.key(sent),
            action: v.action,
            aliases: v.last_years_key(sent).into_iter().chain(chain()).collect(),
            ends: v.ends,
        })
        .collect())
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
    let tornado = alert.alert_type == Some("TORNADO");
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
            alert.hazard_end(&alert.tracks[0]).unwrap().to_rfc3339(),
            "2026-11-25T17:00:00+00:00",
            "ends wins over expires"
        );
    }

    #[test]
    fn status_message_type_and_event_are_read_into_the_model() {
        let read =
            |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().alerts[0].clone();
        let tornado = read(json!({"geocode": {"SAME": ["040027"]}}));
        assert!(tornado.actual);
        assert_eq!(tornado.kind, MessageKind::Alert);
        assert_eq!(tornado.alert_type, Some("TORNADO"));
        assert_eq!(tornado.places, [Place::county("40027")]);
        assert!(!read(json!({"status": "Test"})).actual);
        assert!(!read(json!({"status": "Exercise"})).actual);
        assert_eq!(
            read(json!({"messageType": "Cancel"})).kind,
            MessageKind::Cancel
        );
        assert_eq!(read(json!({"messageType": "Ack"})).kind, MessageKind::Other);
        assert_eq!(read(json!({"event": "Heat Advisory"})).alert_type, None);
        assert_eq!(
            read(json!({"severity": "Moderate"})).severity,
            Severity::Moderate
        );
    }

    #[test]
    fn each_vtec_string_is_a_track_of_its_event() {
        let read =
            |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().alerts[0].clone();
        // An upgrade: the watch ends, the warning is new, in one message.
        let upgrade = read(
            json!({"event": "Winter Storm Warning", "parameters": {"VTEC": [
            "/O.UPG.KTSA.WS.A.0004.000000T0000Z-260102T1800Z/",
            "/O.NEW.KTSA.WS.W.0002.260101T1200Z-260102T1800Z/"]}}),
        );
        let tracks: Vec<(&str, Action)> = upgrade
            .tracks
            .iter()
            .map(|t| (t.key.as_str(), t.action))
            .collect();
        assert_eq!(
            tracks,
            [
                ("KTSA.WS.A.0004.2026", Action::Upgrade),
                ("KTSA.WS.W.0002.2026", Action::New)
            ]
        );
        // The warning's end is the event's, not the message's `expires`.
        assert_eq!(
            upgrade.hazard_end(&upgrade.tracks[1]).unwrap().to_rfc3339(),
            "2026-01-02T18:00:00+00:00"
        );
        // Records kept before this release name the message: they are aliases.
        assert!(upgrade.tracks[0]
            .aliases
            .contains(&EventKey::message("urn:oid:2.49.0.1.840.0.aaa.001.1")));
        // Without VTEC, a message is its own event; its references name the chain.
        let plain =
            read(json!({"messageType": "Update", "references": [{"identifier": "urn:oid:x"}]}));
        assert_eq!(plain.tracks.len(), 1);
        assert_eq!(plain.tracks[0].action, Action::Update);
        assert_eq!(
            plain.tracks[0].key,
            EventKey::message("urn:oid:2.49.0.1.840.0.aaa.001.1")
        );
        assert_eq!(plain.tracks[0].aliases, [EventKey::message("urn:oid:x")]);
    }

    #[test]
    fn a_track_of_another_hazard_that_does_not_end_is_left_out() {
        let read =
            |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().alerts[0].clone();
        // A hurricane warning's message listing a storm surge warning beside it: the message
        // announces the hurricane, not a second event under another key.
        let hurricane = read(
            json!({"event": "Hurricane Warning", "parameters": {"VTEC": [
            "/O.NEW.KMFL.HU.W.1009.260901T1200Z-000000T0000Z/",
            "/O.NEW.KMFL.SS.W.1009.260901T1200Z-000000T0000Z/"]}}),
        );
        let keys: Vec<&str> = hurricane.tracks.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["KMFL.HU.W.1009.2026"]);
        // An ending of another hazard stays: it ends that event.
        let downgrade = read(
            json!({"event": "Hurricane Warning", "parameters": {"VTEC": [
            "/O.CAN.KMFL.TR.W.1009.000000T0000Z-000000T0000Z/",
            "/O.NEW.KMFL.HU.W.1009.260901T1200Z-000000T0000Z/"]}}),
        );
        assert_eq!(downgrade.tracks.len(), 2);
    }

    #[test]
    fn a_malformed_vtec_string_or_a_missing_sent_is_named() {
        let problems = |overrides: Value| parse(&feed(vec![props(overrides)])).unwrap().malformed;
        assert_eq!(
            problems(json!({"parameters": {"VTEC": ["/O.NEW.KOUN.TO.W.33.x-y/"]}})),
            ["features[0].properties.parameters.VTEC[0]: \"/O.NEW.KOUN.TO.W.33.x-y/\" is not a P-VTEC string such as /O.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/"]
        );
        assert!(problems(json!({"parameters": {"VTEC": [7]}}))[0]
            .contains("VTEC[0]: expected a string"));
        assert!(
            problems(json!({"parameters": {"VTEC": "x"}}))[0].contains("VTEC: expected an array")
        );
        assert!(
            problems(json!({"parameters": {"expiredReferences": [1]}}))[0]
                .contains("parameters.expiredReferences: expected an array of strings")
        );
        // A test string is no event, not an error.
        assert!(problems(
            json!({"parameters": {"VTEC": ["/T.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/"]}})
        )
        .is_empty());
        // An event under way is dated by `sent`.
        assert_eq!(
            problems(json!({"sent": null, "parameters": {"VTEC": ["/O.CON.KOUN.TO.W.0033.000000T0000Z-250420T2245Z/"]}})),
            ["features[0].properties.sent: required field is missing (it dates a VTEC event already under way)"]
        );
    }

    #[test]
    fn expired_references_still_name_the_chain() {
        // What NWS sends once the earlier message has expired (weather-gov/api#190): an
        // `Alert` with no references, its predecessors in parameters.expiredReferences, one
        // string of "sender,identifier,sent" triples on lines of their own (as captured in
        // finity69x2/nws_alerts#45).
        let body = feed(vec![props(json!({"parameters": {"expiredReferences": [
            "\n w-nws.webmaster@noaa.gov,urn:oid:2.49.0.1.840.0.old.002.1,2026-11-24T14:00:00-06:00\n w-nws.webmaster@noaa.gov,urn:oid:2.49.0.1.840.0.old.001.1,2026-11-24T10:00:00-06:00 \n"
        ]}}))]);
        let alert = &parse(&body).unwrap().alerts[0];
        assert_eq!(
            alert.references,
            [
                "urn:oid:2.49.0.1.840.0.old.001.1",
                "urn:oid:2.49.0.1.840.0.old.002.1"
            ]
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
        assert_eq!(Level::decode(&emergency.encode()), Some(emergency));
        assert_eq!(emergency.encode(), "12000");
        assert_eq!(Level::decode("garbage"), None);
        assert_eq!(Level::decode(""), None);
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
