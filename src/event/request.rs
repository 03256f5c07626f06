//! A notification request: what a trigger asks to send, checked against its schema before
//! anything is sent.
//!
//! The request arrives as a JSON object inside some envelope (an SNS message, an EventBridge
//! detail); the caller says where (`at`, the field path prefix), so errors name the field as
//! the sender wrote it without this module knowing any envelope.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::schemas::{self, Schema, ALERT_TYPES, LOCALIZED_PREFIX};
use crate::alexa::Region;
use crate::area::Place;
use crate::json::{json_type, FieldError};

/// What a notification request asks for, told apart by its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// Has `alertType`: the short form for `AMAZON.WeatherAlert.Activated`.
    WeatherAlert,
    /// Has `name`: any schema, with its payload spelled out.
    ProactiveEvent,
}

/// Alexa publishes no size limits. These keep a notification speakable and a request small:
/// a text longer than this, or a list longer than that, is a bug in the trigger.
pub const MAX_TEXT_CHARS: usize = 1_000;
pub const MAX_ITEMS: usize = 50;

const WEATHER_KEYS: [&str; 7] = [
    "alertType",
    "source",
    "id",
    "expiresAt",
    "user",
    "region",
    "area",
];
const EVENT_KEYS: [&str; 8] = [
    "name",
    "payload",
    "localizedAttributes",
    "id",
    "expiresAt",
    "user",
    "region",
    "area",
];

/// A validated notification request.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRequest {
    pub schema: &'static Schema,
    pub payload: Value,
    pub localized_attributes: Vec<Value>,
    /// The sender's stable id; the referenceId is derived from it (or from the trigger's id).
    pub id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// A Unicast recipient; `None` = every subscribed user.
    pub user: Option<String>,
    /// Where a Unicast goes (the user's region); `None` = the first of ALEXA_REGIONS.
    pub region: Option<Region>,
    /// Kept with the sent record, opaque (the poll keeps an alert's threat level there).
    pub tag: Option<String>,
    /// The places whose subscribed users get it, each as a Unicast (through the fan-out);
    /// `None` with no `user` = a Multicast to every subscriber.
    pub area: Option<Vec<Place>>,
    /// With `area`: users also in these places are left out (they heard it already: an
    /// update that extends an alert's area). Set by the poll only.
    pub except: Vec<Place>,
    /// The record of what it announces is kept at least until then (plus the ledger's
    /// retention), even when the event expires at Alexa sooner. Set by the poll only.
    pub record_until: Option<DateTime<Utc>>,
    /// The record whose later records may end what it announces: a fan-out checks them
    /// before it sends on. Set by the poll only.
    pub watch: Option<Watch>,
}

/// A weather event's record chain, as a fan-out message carries it: the event's key and the
/// record of this announcement; a later record of the chain may say the event ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Watch {
    pub key: String,
    pub record: u32,
}

fn invalid(field: String, problem: impl Into<String>) -> FieldError {
    FieldError::new(field, problem)
}

impl NotificationRequest {
    /// Checks a request's `body` (found at the field path `at`) against its schema; nothing is
    /// sent for an invalid one. A weather alert's plain-string `source` is sent for each of
    /// `locales` (the skill's languages).
    pub fn parse(
        kind: RequestKind,
        body: &Map<String, Value>,
        at: &str,
        locales: &[&str],
    ) -> Result<Self, FieldError> {
        let allowed: &[&str] = match kind {
            RequestKind::WeatherAlert => &WEATHER_KEYS,
            RequestKind::ProactiveEvent => &EVENT_KEYS,
        };
        if let Some(key) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(invalid(
                format!("{at}.{key}"),
                format!("unknown field; expected only {}", allowed.join(", ")),
            ));
        }
        let id = optional_text(body, "id", at)?;
        let user = optional_text(body, "user", at)?;
        if let Some(user) = &user {
            if !user.starts_with("amzn1.ask.account.") {
                return Err(invalid(format!("{at}.user"), "expected a user id starting with amzn1.ask.account. (from the skill's requests or its ProactiveSubscriptionChanged event)"));
            }
        }
        let region = match optional_text(body, "region", at)? {
            None => None,
            Some(_) if user.is_none() => {
                return Err(invalid(format!("{at}.region"), "applies only to a Unicast (a request with user); a Multicast goes to every region in ALEXA_REGIONS"))
            }
            Some(code) => Some(Region::from_code(&code).ok_or_else(|| {
                invalid(format!("{at}.region"), format!("is {code:?}; expected one of {}", Region::ALLOWED))
            })?),
        };
        let expires_at = match optional_text(body, "expiresAt", at)? {
            Some(text) => Some(
                DateTime::parse_from_rfc3339(&text)
                    .map_err(|_| invalid(format!("{at}.expiresAt"), format!("is {text:?}; expected an RFC 3339 time such as 2026-11-25T06:00:00Z")))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let area =
            match body.get("area") {
                None | Some(Value::Null) => None,
                Some(_) if user.is_some() => return Err(invalid(
                    format!("{at}.area"),
                    "a request goes to one user (user) or to the users of an area (area), not both",
                )),
                Some(value) => Some(parse_area(value, &format!("{at}.area"))?),
            };
        let (schema, payload, localized_attributes) = match kind {
            RequestKind::WeatherAlert => weather_alert(body, at, locales)?,
            RequestKind::ProactiveEvent => any_schema(body, at)?,
        };
        Ok(NotificationRequest {
            schema,
            payload,
            localized_attributes,
            id,
            expires_at,
            user,
            region,
            tag: None,
            area,
            except: Vec::new(),
            record_until: None,
            watch: None,
        })
    }
}

/// How many places one request may name.
pub const MAX_PLACES: usize = 500;

/// `{"counties": ["40027"], "zipCodes": ["73019"]}`: 5-digit county FIPS codes and ZIP codes
/// of the embedded table (a code it does not know would match nobody, silently).
fn parse_area(value: &Value, at: &str) -> Result<Vec<Place>, FieldError> {
    let Some(object) = value.as_object() else {
        return Err(invalid(at.to_owned(), format!("expected an object such as {{\"counties\": [\"40027\"], \"zipCodes\": [\"73019\"]}}, got {}", json_type(value))));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !["counties", "zipCodes"].contains(&k.as_str()))
    {
        return Err(invalid(
            format!("{at}.{key}"),
            "unknown field; expected only counties, zipCodes",
        ));
    }
    let mut keys = Vec::new();
    for (field, county) in [("counties", true), ("zipCodes", false)] {
        let Some(list) = object.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        let Some(list) = list.as_array() else {
            return Err(invalid(
                format!("{at}.{field}"),
                format!("expected an array of strings, got {}", json_type(list)),
            ));
        };
        for (i, code) in list.iter().enumerate() {
            let field = format!("{at}.{field}[{i}]");
            let Some(code) = code.as_str() else {
                return Err(invalid(
                    field,
                    format!("expected a string, got {}", json_type(code)),
                ));
            };
            let key = if county {
                crate::area::county(code).map(|_| Place::county(code)).ok_or_else(|| {
                    invalid(field, format!("is {code:?}; expected a 5-digit county FIPS code (state + county, as in an NWS alert's geocode.SAME without its leading 0), such as \"40027\" for Cleveland County, Oklahoma"))
                })?
            } else {
                crate::area::counties(code)
                    .map(|_| Place::zip(code))
                    .ok_or_else(|| {
                        invalid(
                            field,
                            format!(
                                "is {code:?}; expected a 5-digit US ZIP code such as \"73019\""
                            ),
                        )
                    })?
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    if keys.is_empty() {
        return Err(invalid(
            at.to_owned(),
            "expected at least one code in counties or zipCodes; leave area out to send to every subscriber",
        ));
    }
    if keys.len() > MAX_PLACES {
        return Err(invalid(
            at.to_owned(),
            format!(
                "names {} places; at most {MAX_PLACES} per request",
                keys.len()
            ),
        ));
    }
    Ok(keys)
}

fn optional_text(
    body: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, FieldError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(invalid(
            format!("{at}.{key}"),
            "expected a non-empty string",
        )),
        Some(other) => Err(invalid(
            format!("{at}.{key}"),
            format!("expected a string, got {}", json_type(other)),
        )),
    }
}

type Parts = (&'static Schema, Value, Vec<Value>);

/// `{"alertType", "source"}`: the short form of AMAZON.WeatherAlert.Activated.
fn weather_alert(
    body: &Map<String, Value>,
    at: &str,
    locales: &[&str],
) -> Result<Parts, FieldError> {
    let alert_type = match body.get("alertType") {
        Some(Value::String(t)) if ALERT_TYPES.contains(&t.as_str()) => t.clone(),
        Some(Value::String(t)) => {
            return Err(invalid(
                format!("{at}.alertType"),
                format!("is {t:?}; expected one of {}", ALERT_TYPES.join(", ")),
            ))
        }
        Some(other) => {
            return Err(invalid(
                format!("{at}.alertType"),
                format!(
                    "expected one of {}, got {}",
                    ALERT_TYPES.join(", "),
                    json_type(other)
                ),
            ))
        }
        None => {
            return Err(invalid(
                format!("{at}.alertType"),
                format!(
                    "required field is missing; expected one of {}",
                    ALERT_TYPES.join(", ")
                ),
            ))
        }
    };
    let sources: Vec<(String, String)> = match body.get("source") {
        Some(source @ Value::String(s)) if !s.trim().is_empty() => {
            bounded(source, format!("{at}.source"))?;
            locales.iter().map(|l| (l.to_string(), s.clone())).collect()
        }
        Some(Value::Object(map)) if !map.is_empty() => {
            let mut out = Vec::new();
            for (locale, text) in map {
                if !schemas::is_locale(locale) {
                    return Err(invalid(format!("{at}.source.{locale}"), "expected a locale such as en-US as the key"));
                }
                match text.as_str() {
                    Some(t) if !t.trim().is_empty() => {
                        bounded(text, format!("{at}.source.{locale}"))?;
                        out.push((locale.clone(), t.to_owned()))
                    }
                    _ => return Err(invalid(format!("{at}.source.{locale}"), "expected the non-empty name of the alert's source")),
                }
            }
            out
        }
        None | Some(Value::Null) => return Err(invalid(format!("{at}.source"), "required field is missing; expected the issuer's name, as a string or as {\"en-US\": \"...\", \"de-DE\": \"...\"}")),
        Some(_) => return Err(invalid(format!("{at}.source"), "expected a non-empty string or an object of locale to text, such as {\"en-US\": \"National Weather Service\"}")),
    };
    Ok(weather_parts(&alert_type, sources))
}

/// Every text within MAX_TEXT_CHARS and every list within MAX_ITEMS, or an error naming where.
fn bounded(value: &Value, at: String) -> Result<(), FieldError> {
    match value {
        Value::String(s) if s.chars().count() > MAX_TEXT_CHARS => Err(invalid(
            at,
            format!(
                "is {} characters long; expected at most {MAX_TEXT_CHARS}",
                s.chars().count()
            ),
        )),
        Value::Array(items) if items.len() > MAX_ITEMS => Err(invalid(
            at,
            format!("has {} items; expected at most {MAX_ITEMS}", items.len()),
        )),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| bounded(v, format!("{at}[{i}]"))),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(k, v)| bounded(v, format!("{at}.{k}"))),
        _ => Ok(()),
    }
}

fn weather_parts(alert_type: &str, sources: Vec<(String, String)>) -> Parts {
    let payload = json!({"weatherAlert": {"source": format!("{LOCALIZED_PREFIX}source"), "alertType": alert_type}});
    let localized = sources
        .into_iter()
        .map(|(locale, source)| json!({"locale": locale, "source": source}))
        .collect();
    (schemas::WEATHER_ALERT_SCHEMA, payload, localized)
}

impl NotificationRequest {
    /// A Unicast weather alert made by the skill itself (the test alert): `alert_type` is one
    /// of [`ALERT_TYPES`] and `sources` holds (locale, issuer) pairs.
    pub fn unicast_weather_alert(
        alert_type: &str,
        sources: Vec<(String, String)>,
        id: String,
        user: String,
        region: Option<Region>,
    ) -> Self {
        let mut request = Self::weather_alert(alert_type, sources, id, None);
        request.user = Some(user);
        request.region = region;
        request
    }

    /// A Multicast weather alert from a feed: `source` (the issuer's name) is sent for each of
    /// `locales`, `id` is the feed's stable alert id.
    pub fn multicast_weather_alert(
        alert_type: &str,
        source: &str,
        id: String,
        expires_at: Option<DateTime<Utc>>,
        locales: &[&str],
    ) -> Self {
        let sources = locales
            .iter()
            .map(|locale| (locale.to_string(), source.to_owned()))
            .collect();
        Self::weather_alert(alert_type, sources, id, expires_at)
    }

    fn weather_alert(
        alert_type: &str,
        sources: Vec<(String, String)>,
        id: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let (schema, payload, localized_attributes) = weather_parts(alert_type, sources);
        NotificationRequest {
            schema,
            payload,
            localized_attributes,
            id: Some(id),
            expires_at,
            user: None,
            region: None,
            tag: None,
            area: None,
            except: Vec::new(),
            record_until: None,
            watch: None,
        }
    }
}

/// `{"name", "payload", "localizedAttributes"}`: any of the eight schemas, spelled out.
fn any_schema(body: &Map<String, Value>, at: &str) -> Result<Parts, FieldError> {
    let names = schemas::names().join(", ");
    let schema = match body.get("name") {
        Some(Value::String(n)) => schemas::find(n).ok_or_else(|| {
            invalid(
                format!("{at}.name"),
                format!("is {n:?}; expected one of {names}"),
            )
        })?,
        _ => {
            return Err(invalid(
                format!("{at}.name"),
                format!("expected one of {names}"),
            ))
        }
    };
    let payload = body.get("payload").cloned().unwrap_or(Value::Null);
    if payload.is_null() {
        return Err(invalid(
            format!("{at}.payload"),
            format!(
                "required field is missing; expected the {} payload",
                schema.name
            ),
        ));
    }
    bounded(&payload, format!("{at}.payload"))?;
    let referenced = schemas::validate_payload(schema, &payload, &format!("{at}.payload"))?;
    let attributes = body
        .get("localizedAttributes")
        .cloned()
        .unwrap_or_else(|| json!([]));
    bounded(&attributes, format!("{at}.localizedAttributes"))?;
    schemas::validate_localized(
        schema,
        &attributes,
        &referenced,
        &format!("{at}.localizedAttributes"),
    )?;
    let localized = attributes.as_array().cloned().unwrap_or_default();
    Ok((schema, payload, localized))
}
