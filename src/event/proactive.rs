//! The proactive event Alexa receives, built from a validated request: referenceId, expiry
//! inside Alexa's window, audience.

use chrono::{DateTime, Duration, DurationRound, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::NotificationRequest;
use crate::json::FieldError;

/// Alexa drops events that expire sooner than this.
pub const MIN_LIFETIME: Duration = Duration::minutes(5);
/// ... or later than this.
pub const MAX_LIFETIME: Duration = Duration::hours(24);
/// Kept inside both ends of the window, because Alexa's clock is not ours.
pub const CLOCK_MARGIN: Duration = Duration::minutes(1);

/// The event as Alexa reads it, typed: it is built once (here), travels typed through the
/// fan-out queue, and becomes one [`ProactiveEvent::to_user`] copy per user there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProactiveEvent {
    /// Whole seconds, written as Alexa's examples write them (`2026-11-24T18:00:00Z`).
    #[serde(with = "alexa_time")]
    pub timestamp: DateTime<Utc>,
    pub reference_id: String,
    #[serde(with = "alexa_time")]
    pub expiry_time: DateTime<Utc>,
    pub event: EventBody,
    pub localized_attributes: Vec<Value>,
    pub relevant_audience: Audience,
}

/// A schema's name, always one of [`super::schemas::SCHEMAS`]' (an alias: serde's derive
/// would take a plain `&'static str` field for text borrowed from the input).
pub type SchemaName = &'static str;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBody {
    /// One of the eight schema names: a name read back (from a fan-out message) is checked.
    #[serde(deserialize_with = "schema_name")]
    pub name: SchemaName,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum Audience {
    /// Every subscribed user. Alexa wants `"payload": {}`, not a missing payload.
    Multicast(Map<String, Value>),
    Unicast {
        user: String,
    },
}

impl ProactiveEvent {
    /// This event as a Unicast to `user`, under its own `reference_id`, stamped `now`: a
    /// fan-out range sent minutes after the event was built (or redriven) carries the time it
    /// is sent. The expiry stays the event's.
    pub fn to_user(&self, reference_id: String, user: &str, now: DateTime<Utc>) -> ProactiveEvent {
        ProactiveEvent {
            timestamp: whole_seconds(now),
            reference_id,
            relevant_audience: Audience::Unicast {
                user: user.to_owned(),
            },
            ..self.clone()
        }
    }
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
/// when the request has no `id`, so a redelivered trigger gets the same referenceId.
pub fn build(
    request: &NotificationRequest,
    trigger_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Built, FieldError> {
    let source_id = request.id.as_deref().or(trigger_id).ok_or_else(|| {
        FieldError::new("id", "required when the trigger has no id of its own: give the request a stable id so a redelivery is recognised")
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
        timestamp: whole_seconds(now),
        reference_id,
        expiry_time: whole_seconds(expiry),
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

/// Alexa's times have no fractions: rounding down here keeps an event equal to itself read
/// back.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t)
}

/// RFC 3339 in whole seconds, `Z`; any RFC 3339 time reads back.
mod alexa_time {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an RFC 3339 time")))
    }
}

fn schema_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let text = String::deserialize(d)?;
    super::schemas::find(&text)
        .map(|schema| schema.name)
        .ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not one of the eight proactive-event schema names"
            ))
        })
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
