//! One fan-out message: an alert's event, the places it concerns, and the range of users this
//! message covers. Small (no user ids): a message for a 100,000-user county is the same size
//! as one for three users.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{ProactiveEvent, Watch};
use crate::json::FieldError;
use crate::state::{AreaKey, HashRange};

/// The message format's version: a consumer refuses what it does not know.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Work {
    pub v: u32,
    /// The alert's referenceId (what its claim is called).
    pub alert: String,
    /// The event as built for Alexa; each user's copy ([`ProactiveEvent::to_user`]) gets its
    /// own referenceId, audience and timestamp.
    pub event: ProactiveEvent,
    /// When what the alert announces ends: its records are kept a while past it.
    pub ends_at: DateTime<Utc>,
    /// The places the alert concerns (counties, ZIP codes).
    pub areas: Vec<AreaKey>,
    /// Users also in these places are left out (they heard the alert's chain already).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<AreaKey>,
    pub range: HashRange,
    /// How many times a range short of time handed itself on to a copy of this message.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hops: u32,
    /// The weather event's record chain: a later record may say the event ended in some of
    /// the places (a cancellation), and nobody there is sent it after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<Watch>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Work {
    /// The first message of an alert: every user of its places.
    pub fn new(
        alert: String,
        event: ProactiveEvent,
        ends_at: DateTime<Utc>,
        areas: Vec<AreaKey>,
        except: Vec<AreaKey>,
    ) -> Self {
        Work {
            v: VERSION,
            alert,
            event,
            ends_at,
            areas,
            except,
            range: HashRange::ALL,
            hops: 0,
            watch: None,
        }
    }

    /// The same alert for a part of this message's range.
    pub fn child(&self, range: HashRange) -> Self {
        Work {
            range,
            hops: 0,
            ..self.clone()
        }
    }

    pub fn to_body(&self) -> String {
        // A struct of strings, numbers, times and JSON values always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A message body, checked: every problem names its field (`body.<field>`).
    pub fn parse(body: &str) -> Result<Self, FieldError> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| FieldError::new("body", format!("is not JSON: {e}")))?;
        let work: Work = crate::json::parse("body", value)?;
        if work.v != VERSION {
            return Err(FieldError::new(
                "body.v",
                format!(
                    "is {}; this function reads fan-out messages of version {VERSION}",
                    work.v
                ),
            ));
        }
        if work.range.bits > crate::fanout::plan::MAX_BITS {
            return Err(FieldError::new(
                "body.range.bits",
                format!(
                    "is {}; expected at most {}",
                    work.range.bits,
                    crate::fanout::plan::MAX_BITS
                ),
            ));
        }
        if work.range.bits < 64 && work.range.prefix >> work.range.bits != 0 {
            return Err(FieldError::new(
                "body.range.prefix",
                format!(
                    "is {}; expected less than 2^{} (the range's bits)",
                    work.range.prefix, work.range.bits
                ),
            ));
        }
        if work.areas.is_empty() {
            return Err(FieldError::new("body.areas", "expected at least one place"));
        }
        Ok(work)
    }

    /// The event's schema name (`AMAZON.WeatherAlert.Activated`): users must subscribe to it.
    pub fn event_name(&self) -> &'static str {
        self.event.event.name
    }

    /// When the event expires at Alexa.
    pub fn expiry(&self) -> DateTime<Utc> {
        self.event.expiry_time
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn work() -> Work {
        let event = json!({"timestamp": "2026-11-30T00:00:00Z", "referenceId": "alert1",
                           "expiryTime": "2026-12-01T00:00:00Z", "localizedAttributes": [],
                           "event": {"name": "AMAZON.WeatherAlert.Activated", "payload": {}},
                           "relevantAudience": {"type": "Multicast", "payload": {}}});
        Work::new(
            "alert1".into(),
            serde_json::from_value(event).unwrap(),
            "2026-12-02T00:00:00Z".parse().unwrap(),
            vec![AreaKey::county("40027")],
            Vec::new(),
        )
    }

    #[test]
    fn a_message_reads_back_as_written() {
        let work = work();
        assert_eq!(Work::parse(&work.to_body()).unwrap(), work);
        let child = work.child(HashRange { bits: 3, prefix: 5 });
        assert_eq!(Work::parse(&child.to_body()).unwrap().range, child.range);
    }

    #[test]
    fn a_bad_message_names_its_field() {
        for (body, field) in [
            ("nonsense".to_owned(), "`body`"),
            (work().to_body().replace("\"v\":1", "\"v\":2"), "`body.v`"),
            (
                work().to_body().replace("[\"c40027\"]", "[]"),
                "`body.areas`",
            ),
            (
                work().to_body().replace("\"c40027\"", "\"x1\""),
                "body.areas",
            ),
            (
                work()
                    .to_body()
                    .replace("AMAZON.WeatherAlert.Activated", ""),
                "`body.event.event.name`",
            ),
            (
                work().to_body().replace("2026-12-01T00:00:00Z", "tomorrow"),
                "`body.event.expiryTime`",
            ),
            (work().to_body().replace("\"alert\"", "\"alrt\""), "body"),
            (
                work()
                    .to_body()
                    .replace("\"bits\":0,\"prefix\":0", "\"bits\":1,\"prefix\":3"),
                "`body.range.prefix`",
            ),
            (
                work()
                    .to_body()
                    .replace("\"bits\":0,\"prefix\":0", "\"bits\":64,\"prefix\":0"),
                "`body.range.bits`",
            ),
        ] {
            let err = Work::parse(&body).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}
