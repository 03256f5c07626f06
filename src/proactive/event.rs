//! Notification requests (what triggers carry) and the proactive events built from them.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::schemas::{self, Schema, Violation, ALERT_TYPES, LOCALIZED_PREFIX};
use crate::config::Region;
use crate::error::HandlerError;
use crate::triggers::{json_type, Origin, RequestKind, TriggerMessage};

/// Locales a plain-string weather `source` is sent for: the skill's own languages.
pub const SKILL_LOCALES: [&str; 3] = ["en-US", "en-GB", "de-DE"];
/// Alexa drops events that expire sooner than this.
pub const MIN_LIFETIME: Duration = Duration::minutes(5);
/// ... or later than this.
pub const MAX_LIFETIME: Duration = Duration::hours(24);
/// Kept inside both ends of the window, because Alexa's clock is not ours.
pub const CLOCK_MARGIN: Duration = Duration::minutes(1);

/// Alexa publishes no size limits. These keep a notification speakable and a request small:
/// a text longer than this, or a list longer than that, is a bug in the trigger.
pub const MAX_TEXT_CHARS: usize = 1_000;
pub const MAX_ITEMS: usize = 50;

const WEATHER_KEYS: [&str; 6] = ["alertType", "source", "id", "expiresAt", "user", "region"];
const EVENT_KEYS: [&str; 7] = [
    "name",
    "payload",
    "localizedAttributes",
    "id",
    "expiresAt",
    "user",
    "region",
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
}

fn invalid(field: String, problem: impl Into<String>) -> HandlerError {
    HandlerError::Malformed {
        shape: "notification request",
        field,
        problem: problem.into(),
    }
}

fn from_violation(v: Violation) -> HandlerError {
    invalid(v.field, v.problem)
}

/// The prefix of field paths in errors: where the request sits in the trigger's event.
pub fn field_prefix(origin: &Origin) -> String {
    match origin {
        Origin::Sns { index, .. } => format!("Records[{index}].Sns.Message"),
        Origin::EventBridge { .. } => "detail".to_owned(),
    }
}

impl NotificationRequest {
    /// Checks a trigger's message against its schema; nothing is sent for an invalid one.
    pub fn parse(message: &TriggerMessage) -> Result<Self, HandlerError> {
        let at = field_prefix(&message.origin);
        let body = &message.body;
        let allowed: &[&str] = match message.kind {
            RequestKind::WeatherAlert => &WEATHER_KEYS,
            RequestKind::ProactiveEvent => &EVENT_KEYS,
        };
        if let Some(key) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(invalid(
                format!("{at}.{key}"),
                format!("unknown field; expected only {}", allowed.join(", ")),
            ));
        }
        let id = optional_text(body, "id", &at)?;
        let user = optional_text(body, "user", &at)?;
        if let Some(user) = &user {
            if !user.starts_with("amzn1.ask.account.") {
                return Err(invalid(format!("{at}.user"), "expected a user id starting with amzn1.ask.account. (from the skill's requests or its ProactiveSubscriptionChanged event)"));
            }
        }
        let region = match optional_text(body, "region", &at)? {
            None => None,
            Some(_) if user.is_none() => {
                return Err(invalid(format!("{at}.region"), "applies only to a Unicast (a request with user); a Multicast goes to every region in ALEXA_REGIONS"))
            }
            Some(code) => Some(Region::ALL.into_iter().find(|r| r.code().eq_ignore_ascii_case(&code)).ok_or_else(|| {
                invalid(format!("{at}.region"), format!("is {code:?}; expected one of {}", Region::ALLOWED))
            })?),
        };
        let expires_at = match optional_text(body, "expiresAt", &at)? {
            Some(text) => Some(
                DateTime::parse_from_rfc3339(&text)
                    .map_err(|_| invalid(format!("{at}.expiresAt"), format!("is {text:?}; expected an RFC 3339 time such as 2026-11-25T06:00:00Z")))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let (schema, payload, localized_attributes) = match message.kind {
            RequestKind::WeatherAlert => weather_alert(body, &at)?,
            RequestKind::ProactiveEvent => any_schema(body, &at)?,
        };
        Ok(NotificationRequest {
            schema,
            payload,
            localized_attributes,
            id,
            expires_at,
            user,
            region,
        })
    }
}

fn optional_text(
    body: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, HandlerError> {
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
fn weather_alert(body: &Map<String, Value>, at: &str) -> Result<Parts, HandlerError> {
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
            SKILL_LOCALES.iter().map(|l| (l.to_string(), s.clone())).collect()
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
fn bounded(value: &Value, at: String) -> Result<(), HandlerError> {
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

    /// A Multicast weather alert from a feed: `source` (the issuer's name) is sent for every
    /// skill locale, `id` is the feed's stable alert id.
    pub fn multicast_weather_alert(
        alert_type: &str,
        source: &str,
        id: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let sources = SKILL_LOCALES
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
        }
    }
}

/// `{"name", "payload", "localizedAttributes"}`: any of the eight schemas, spelled out.
fn any_schema(body: &Map<String, Value>, at: &str) -> Result<Parts, HandlerError> {
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
    let referenced = schemas::validate_payload(schema, &payload, &format!("{at}.payload"))
        .map_err(from_violation)?;
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
    )
    .map_err(from_violation)?;
    let localized = attributes.as_array().cloned().unwrap_or_default();
    Ok((schema, payload, localized))
}

// ---- the event Alexa receives ----

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProactiveEvent {
    pub timestamp: String,
    pub reference_id: String,
    pub expiry_time: String,
    pub event: EventBody,
    pub localized_attributes: Vec<Value>,
    pub relevant_audience: Audience,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventBody {
    pub name: &'static str,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "payload")]
pub enum Audience {
    /// Every subscribed user. Alexa wants `"payload": {}`, not a missing payload.
    Multicast(Map<String, Value>),
    Unicast {
        user: String,
    },
}

/// What becomes of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Built {
    Ready(ProactiveEvent),
    /// Not sent; `reason` says why (it goes into the invocation's answer).
    Skipped {
        reference_id: String,
        reason: String,
    },
}

/// Builds the event. `trigger_id` (SNS MessageId, EventBridge id) makes the referenceId
/// when the request has no `id`, so a redelivered trigger gets the same referenceId and
/// Alexa's 409 recognises the duplicate.
pub fn build(
    request: &NotificationRequest,
    trigger_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Built, HandlerError> {
    let source_id = request.id.as_deref().or(trigger_id).ok_or_else(|| {
        invalid("id".into(), "required when the trigger has no id of its own: give the request a stable id so a redelivery is recognised")
    })?;
    let reference_id = reference_id(request.schema.name, source_id);
    let earliest = now + MIN_LIFETIME + CLOCK_MARGIN;
    let latest = now + MAX_LIFETIME - CLOCK_MARGIN;
    let expiry = match request.expires_at {
        Some(at) if at < now + MIN_LIFETIME => {
            let reason = if at <= now {
                format!("the alert expired at {}", rfc3339(at))
            } else {
                format!(
                    "the alert expires at {}, less than 5 minutes from now; Alexa needs at least 5",
                    rfc3339(at)
                )
            };
            return Ok(Built::Skipped {
                reference_id,
                reason,
            });
        }
        Some(at) => at.clamp(earliest, latest),
        None => latest,
    };
    let relevant_audience = match &request.user {
        Some(user) => Audience::Unicast { user: user.clone() },
        None => Audience::Multicast(Map::new()),
    };
    Ok(Built::Ready(ProactiveEvent {
        timestamp: rfc3339(now),
        reference_id,
        expiry_time: rfc3339(expiry),
        event: EventBody {
            name: request.schema.name,
            payload: request.payload.clone(),
        },
        localized_attributes: request.localized_attributes.clone(),
        relevant_audience,
    }))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `[A-Za-z0-9]`, at most 100 characters: up to 60 readable characters of the source id (so a
/// referenceId can be found in logs) and a 128-bit FNV-1a hash of schema and id (so two ids
/// that read alike after stripping punctuation still differ).
pub fn reference_id(schema: &str, source_id: &str) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    for byte in schema.bytes().chain([0u8]).chain(source_id.bytes()) {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    let readable: String = source_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(60)
        .collect();
    format!("{readable}{hash:032x}")
}

/// The trigger's own id, for requests without `id`.
pub fn trigger_id(origin: &Origin) -> Option<&str> {
    match origin {
        Origin::Sns { message_id, .. } => Some(message_id),
        Origin::EventBridge { event_id, .. } => event_id.as_deref(),
    }
}
