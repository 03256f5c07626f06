//! Adapters from AWS trigger events (SNS, EventBridge, the schedule) to notification
//! requests.
//!
//! They only unwrap the envelope: what a notification request must contain is checked by the
//! event model ([`NotificationRequest::parse`]), so both triggers share one set of rules. The
//! envelope's field path (`Records[2].Sns.Message`, `detail`) is given to it so that errors
//! name the field as the sender wrote it.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sns::SnsEvent;
use serde_json::{Map, Value};

use super::error::HandlerError;
use crate::event::{NotificationRequest, RequestKind};
use crate::json::{self, json_type};
use crate::skill::speech::LOCALES;

/// Reads an envelope of `shape`, naming the field that does not fit.
fn parse<T: serde::de::DeserializeOwned>(
    shape: &'static str,
    value: Value,
) -> Result<T, HandlerError> {
    json::parse("", value).map_err(|e| HandlerError::malformed(shape, e))
}

/// EventBridge detail-types this function turns into notifications.
pub const DETAIL_TYPES: [&str; 2] = ["WeatherAlert", "ProactiveEvent"];

/// Where a notification request came from; its id makes redeliveries recognisable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Sns {
        message_id: String,
        topic_arn: String,
        /// Position of the record in the event, for error messages.
        index: usize,
    },
    EventBridge {
        event_id: Option<String>,
        detail_type: String,
    },
}

/// One notification request, still unvalidated, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerMessage {
    pub origin: Origin,
    pub kind: RequestKind,
    pub body: Map<String, Value>,
}

/// The scheduled rule's tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub id: String,
    pub rules: Vec<String>,
}

/// Unwraps every record of an SNS event: each `Message` must be a JSON notification request.
pub fn from_sns(payload: Value) -> Result<Vec<TriggerMessage>, HandlerError> {
    let event: SnsEvent = parse("SNS event", payload)?;
    event
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let field = format!("Records[{index}].Sns.Message");
            let message: Value =
                serde_json::from_str(&record.sns.message).map_err(|e| HandlerError::Malformed {
                    shape: "SNS event",
                    field: field.clone(),
                    problem: format!(
                        "expected a JSON notification request (an object with alertType or name), \
                         but the message is not JSON ({e})"
                    ),
                })?;
            let body = into_object("SNS event", &field, message)?;
            let kind = request_kind("SNS event", &field, &body)?;
            Ok(TriggerMessage {
                origin: Origin::Sns {
                    message_id: record.sns.message_id,
                    topic_arn: record.sns.topic_arn,
                    index,
                },
                kind,
                body,
            })
        })
        .collect()
}

/// Unwraps an EventBridge event whose `detail` is a notification request.
pub fn from_eventbridge(payload: Value) -> Result<TriggerMessage, HandlerError> {
    let event: EventBridgeEvent<Value> = parse("EventBridge event", payload)?;
    if !DETAIL_TYPES.contains(&event.detail_type.as_str()) {
        return Err(HandlerError::Malformed {
            shape: "EventBridge event",
            field: "detail-type".into(),
            problem: format!(
                "is {:?}; expected one of {} (or \"Scheduled Event\" from source aws.events)",
                event.detail_type,
                DETAIL_TYPES.join(", ")
            ),
        });
    }
    let body = into_object("EventBridge event", "detail", event.detail)?;
    let kind = request_kind("EventBridge event", "detail", &body)?;
    if event.detail_type == "WeatherAlert" && kind != RequestKind::WeatherAlert {
        return Err(HandlerError::Malformed {
            shape: "EventBridge event",
            field: "detail.alertType".into(),
            problem: "required field is missing: detail-type WeatherAlert needs a weather alert \
                      (alertType, source); use detail-type ProactiveEvent for other schemas"
                .into(),
        });
    }
    Ok(TriggerMessage {
        origin: Origin::EventBridge {
            event_id: event.id,
            detail_type: event.detail_type,
        },
        kind,
        body,
    })
}

/// Reads the scheduled rule's envelope.
pub fn scheduled(payload: Value) -> Result<Tick, HandlerError> {
    let event: EventBridgeEvent<Value> = parse("scheduled EventBridge event", payload)?;
    Ok(Tick {
        id: event.id.unwrap_or_else(|| "(no id)".into()),
        rules: event.resources.unwrap_or_default(),
    })
}

fn into_object(
    shape: &'static str,
    field: &str,
    value: Value,
) -> Result<Map<String, Value>, HandlerError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(HandlerError::Malformed {
            shape,
            field: field.to_owned(),
            problem: format!(
                "expected a JSON object (a notification request), got {}",
                json_type(&other)
            ),
        }),
    }
}

fn request_kind(
    shape: &'static str,
    field: &str,
    body: &Map<String, Value>,
) -> Result<RequestKind, HandlerError> {
    match (body.contains_key("alertType"), body.contains_key("name")) {
        (true, false) => Ok(RequestKind::WeatherAlert),
        (false, true) => Ok(RequestKind::ProactiveEvent),
        (true, true) => Err(HandlerError::Malformed {
            shape,
            field: field.to_owned(),
            problem: "has both alertType and name; expected alertType for a weather alert \
                      or name (with payload) for any other schema, not both"
                .into(),
        }),
        (false, false) => Err(HandlerError::Malformed {
            shape,
            field: format!("{field}.alertType"),
            problem: "required field is missing; expected alertType (a weather alert) \
                      or name (the schema of another proactive event)"
                .into(),
        }),
    }
}

impl TriggerMessage {
    /// Where the request sits in the trigger's event: the prefix of field paths in errors.
    pub fn field_prefix(&self) -> String {
        match &self.origin {
            Origin::Sns { index, .. } => format!("Records[{index}].Sns.Message"),
            Origin::EventBridge { .. } => "detail".to_owned(),
        }
    }

    /// The trigger's own id (SNS MessageId, EventBridge id): the referenceId of a request
    /// without `id`, so a redelivered trigger gets the same referenceId.
    pub fn trigger_id(&self) -> Option<&str> {
        match &self.origin {
            Origin::Sns { message_id, .. } => Some(message_id),
            Origin::EventBridge { event_id, .. } => event_id.as_deref(),
        }
    }
}

/// Checks every message against its schema before anything is sent: one invalid request in
/// an SNS batch fails the whole invocation with its field named.
pub fn requests(
    messages: &[TriggerMessage],
) -> Result<Vec<(NotificationRequest, Option<String>)>, HandlerError> {
    messages
        .iter()
        .map(|message| {
            let request = NotificationRequest::parse(
                message.kind,
                &message.body,
                &message.field_prefix(),
                &LOCALES,
            )
            .map_err(|e| HandlerError::malformed("notification request", e))?;
            Ok((request, message.trigger_id().map(str::to_owned)))
        })
        .collect()
}

/// The records of an SQS event, as the fan-out takes them: each record's `messageId` (what
/// a failure is reported by) and `body`.
pub fn from_sqs(payload: Value) -> Result<Vec<crate::fanout::Message>, HandlerError> {
    let malformed = |field: String, problem: &str| HandlerError::Malformed {
        shape: "SQS event",
        field,
        problem: problem.to_owned(),
    };
    let Value::Object(mut object) = payload else {
        return Err(malformed(".".into(), "expected an object"));
    };
    let Some(Value::Array(records)) = object.remove("Records") else {
        return Err(malformed(
            "Records".into(),
            "expected an array of SQS records",
        ));
    };
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            let text = |key: &str| {
                record
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        malformed(format!("Records[{i}].{key}"), "required string is missing")
                    })
            };
            Ok(crate::fanout::Message {
                id: text("messageId")?,
                body: text("body")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sns_event(messages: &[&str]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                json!({
                    "EventSource": "aws:sns", "EventVersion": "1.0",
                    "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alerts:sub",
                    "Sns": {
                        "Type": "Notification", "MessageId": format!("msg-{i}"),
                        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
                        "Subject": null, "Message": m, "Timestamp": "2026-11-24T18:00:00.000Z",
                        "SignatureVersion": "1", "Signature": "EXAMPLE",
                        "SigningCertUrl": "https://example.invalid/cert.pem",
                        "UnsubscribeUrl": "https://example.invalid/unsubscribe",
                        "MessageAttributes": {}
                    }
                })
            })
            .collect();
        json!({ "Records": records })
    }

    #[test]
    fn every_sns_record_becomes_a_request() {
        let event = sns_event(&[
            r#"{"alertType": "TORNADO", "source": "NWS"}"#,
            r#"{"name": "AMAZON.MessageAlert.Activated", "payload": {}}"#,
        ]);
        let requests = from_sns(event).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].kind, RequestKind::WeatherAlert);
        assert_eq!(requests[1].kind, RequestKind::ProactiveEvent);
        assert!(
            matches!(&requests[1].origin, Origin::Sns { message_id, index: 1, .. } if message_id == "msg-1")
        );
    }

    #[test]
    fn a_non_json_sns_message_names_the_record() {
        let err = from_sns(sns_event(&[r#"{"alertType":"TORNADO"}"#, "tornado!"])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Records[1].Sns.Message") && text.contains("not JSON"),
            "{text}"
        );
        let err = from_sns(sns_event(&["[1]"])).unwrap_err().to_string();
        assert!(err.contains("got an array"), "{err}");
        let err = from_sns(sns_event(&["{}"])).unwrap_err().to_string();
        assert!(err.contains("Records[0].Sns.Message.alertType"), "{err}");
    }

    #[test]
    fn a_broken_sns_envelope_names_the_field() {
        let mut event = sns_event(&["{}"]);
        event["Records"][0]["Sns"]
            .as_object_mut()
            .unwrap()
            .remove("MessageId");
        let err = from_sns(event).unwrap_err().to_string();
        assert!(err.contains("MessageId"), "{err}");
    }

    #[test]
    fn eventbridge_detail_types_are_checked() {
        let ok = json!({"id": "e1", "detail-type": "WeatherAlert", "source": "my.app",
                        "detail": {"alertType": "TORNADO", "source": "NWS"}});
        let request = from_eventbridge(ok).unwrap();
        assert_eq!(request.kind, RequestKind::WeatherAlert);
        assert_eq!(
            request.origin,
            Origin::EventBridge {
                event_id: Some("e1".into()),
                detail_type: "WeatherAlert".into()
            }
        );

        let wrong = json!({"detail-type": "OrderShipped", "source": "my.app", "detail": {}});
        let err = from_eventbridge(wrong).unwrap_err().to_string();
        assert!(
            err.contains("`detail-type`") && err.contains("WeatherAlert, ProactiveEvent"),
            "{err}"
        );

        let mismatch = json!({"detail-type": "WeatherAlert", "source": "my.app",
                              "detail": {"name": "AMAZON.SportsEvent.Updated"}});
        let err = from_eventbridge(mismatch).unwrap_err().to_string();
        assert!(
            err.contains("detail.alertType") && err.contains("ProactiveEvent"),
            "{err}"
        );

        let no_detail = json!({"detail-type": "ProactiveEvent", "source": "my.app"});
        let err = from_eventbridge(no_detail).unwrap_err().to_string();
        assert!(err.contains("`detail`"), "{err}");

        let both = json!({"detail-type": "ProactiveEvent", "source": "s", "detail": {"name": "x", "alertType": "y"}});
        assert!(from_eventbridge(both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
    }
}
