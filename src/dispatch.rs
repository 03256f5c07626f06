//! The Lambda handler: tells what kind of input arrived and hands it to the part that owns it.
//!
//! One function serves Alexa, SNS and EventBridge, so the payload arrives as a
//! `serde_json::Value` and is classified by its keys first. Deserialising straight into an
//! untagged enum would answer a typo with "data did not match any variant"; classifying
//! first lets every error name the shape it was taken for and the field that is wrong.

use std::time::{Duration, SystemTime};

use lambda_runtime::{tracing, Context, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::Config;
use crate::error::HandlerError;
use crate::notifier::Notifier;
use crate::skill::{Reply, Skill};
use crate::state::{self, Recorded, UserChange};
use crate::triggers;
use crate::weather::Poller;

/// What an invocation's payload was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A request from Alexa: a skill request or a skill event.
    Alexa,
    /// An SNS event carrying notification requests.
    Sns,
    /// An EventBridge event carrying a notification request.
    EventBridge,
    /// The scheduled EventBridge rule (`aws.events` / `Scheduled Event`).
    Scheduled,
}

/// Classifies a payload by its keys only; the part that owns the kind parses the rest.
pub fn classify(payload: &Value) -> Result<InputKind, HandlerError> {
    let Some(object) = payload.as_object() else {
        return Err(HandlerError::UnrecognisedInput {
            received: describe(payload),
        });
    };
    if object.contains_key("request") {
        return Ok(InputKind::Alexa);
    }
    if let Some(records) = object.get("Records") {
        return classify_records(records);
    }
    if object.contains_key("detail-type") {
        let detail_type = object.get("detail-type").and_then(Value::as_str);
        let source = object.get("source").and_then(Value::as_str);
        return Ok(match (detail_type, source) {
            (Some("Scheduled Event"), Some("aws.events")) => InputKind::Scheduled,
            _ => InputKind::EventBridge,
        });
    }
    Err(HandlerError::UnrecognisedInput {
        received: describe(payload),
    })
}

/// `Records` is shared by SNS, SQS, S3, DynamoDB streams...: only SNS is wired to this
/// function, so any other source is a deployment mistake worth naming precisely.
fn classify_records(records: &Value) -> Result<InputKind, HandlerError> {
    let malformed = |field: String, problem: &str| HandlerError::Malformed {
        shape: "SNS event",
        field,
        problem: problem.to_owned(),
    };
    let Some(records) = records.as_array() else {
        return Err(malformed(
            "Records".into(),
            "expected an array of SNS records",
        ));
    };
    if records.is_empty() {
        return Err(malformed(
            "Records".into(),
            "expected at least one SNS record, got an empty array",
        ));
    }
    for (i, record) in records.iter().enumerate() {
        // SNS spells it `EventSource`; SQS, S3 and DynamoDB streams spell it `eventSource`.
        let source = record
            .get("EventSource")
            .or_else(|| record.get("eventSource"))
            .and_then(Value::as_str);
        match source {
            Some("aws:sns") => {}
            Some(other) => {
                return Err(malformed(
                    format!("Records[{i}].EventSource"),
                    &format!("is {other:?}; this function accepts only \"aws:sns\" records (subscribe it to an SNS topic, not to {other})"),
                ))
            }
            None => {
                return Err(malformed(
                    format!("Records[{i}].EventSource"),
                    "required field is missing; expected \"aws:sns\"",
                ))
            }
        }
    }
    Ok(InputKind::Sns)
}

/// A short description of what was received, for "unrecognised input" errors. It names
/// the top-level keys, never values: a payload may carry anything.
fn describe(payload: &Value) -> String {
    match payload {
        Value::Object(map) if map.is_empty() => "an empty JSON object".to_owned(),
        Value::Object(map) => {
            let mut keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
            keys.sort_unstable();
            let more = if map.len() > keys.len() { ", ..." } else { "" };
            format!("a JSON object with keys [{}{more}]", keys.join(", "))
        }
        Value::Array(items) => format!("a JSON array of {} items", items.len()),
        Value::String(_) => "a JSON string".to_owned(),
        Value::Number(_) => "a JSON number".to_owned(),
        Value::Bool(_) => "a JSON boolean".to_owned(),
        Value::Null => "null (an empty payload)".to_owned(),
    }
}

/// Everything an invocation needs, built once per process.
pub struct App {
    skill: Skill,
    notifier: Notifier,
    poller: Poller,
}

/// How long an invocation may take when the context has no deadline (tests, local runs).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);
/// How long a send made while Alexa waits for the answer may take.
pub const ALEXA_BUDGET: Duration = Duration::from_secs(6);

impl App {
    pub fn new(config: Config) -> Self {
        Self::with_notifier(config.clone(), Notifier::new(config))
    }

    /// With the notifier's state table, if it has one.
    pub fn with_notifier(config: Config, notifier: Notifier) -> Self {
        App {
            poller: Poller::new(&config),
            skill: Skill::new(config.skill_id),
            notifier,
        }
    }

    /// Handles one invocation's payload; sends must end before `deadline`.
    pub async fn handle(&self, payload: Value, deadline: Instant) -> Result<Value, HandlerError> {
        self.handle_as(payload, deadline, "local").await
    }

    /// [`App::handle`] for the invocation `request_id` (named in the state table's claims).
    pub async fn handle_as(
        &self,
        payload: Value,
        deadline: Instant,
        request_id: &str,
    ) -> Result<Value, HandlerError> {
        let holder = state::new_holder(request_id);
        let kind = classify(&payload)?;
        tracing::debug!(?kind, "classified input");
        match kind {
            InputKind::Alexa => {
                let answer = match self.skill.handle(payload).await? {
                    Reply::Answer(answer) => answer,
                    Reply::SendTestAlert { alert, language } => {
                        // Alexa gives up on a skill after 8 s: answer well before that.
                        let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
                        let status = self.notifier.send_one(&alert, deadline).await;
                        Skill::test_alert_answer(language, status)
                    }
                    Reply::Record { change, answer } => {
                        self.record(&change).await?;
                        answer
                    }
                };
                serde_json::to_value(answer).map_err(|e| HandlerError::Malformed {
                    shape: "Alexa response",
                    field: ".".into(),
                    problem: e.to_string(),
                })
            }
            InputKind::Sns => {
                let messages = triggers::from_sns(payload)?;
                self.notifier.notify(&messages, deadline, &holder).await
            }
            InputKind::EventBridge => {
                let message = triggers::from_eventbridge(payload)?;
                self.notifier
                    .notify(std::slice::from_ref(&message), deadline, &holder)
                    .await
            }
            InputKind::Scheduled => {
                let tick = triggers::scheduled(payload)?;
                self.poller
                    .poll(&tick, &self.notifier, deadline, &holder)
                    .await
            }
        }
    }

    /// Stores a user's skill event. Without a state table it is only logged (the skill
    /// answered Alexa either way); a failed write fails the invocation so Alexa redelivers.
    async fn record(&self, change: &UserChange) -> Result<(), HandlerError> {
        let Some(state) = self.notifier.state() else {
            return Ok(());
        };
        match state.record_user(change).await? {
            Recorded::Applied => {
                tracing::info!(user_id = change.user_id, at = %change.at, "user state recorded")
            }
            Recorded::Stale => tracing::info!(
                user_id = change.user_id,
                at = %change.at,
                "older than the user's recorded state; ignored"
            ),
        }
        Ok(())
    }
}

/// Epoch milliseconds below this (September 2001) are not a deadline Lambda would send.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The invocation's deadline as an `Instant`; Lambda gives it in epoch milliseconds. Without
/// one (tests, local runs) or with a value that is no epoch time (`cargo lambda watch` 1.9
/// sends `600000`), the invocation gets [`DEFAULT_BUDGET`].
pub fn deadline_of(context: &Context) -> Instant {
    let now = Instant::now();
    if context.deadline < EPOCH_MS_FLOOR {
        return now + DEFAULT_BUDGET;
    }
    let left = context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    now + left
}

/// The function `lambda_runtime::service_fn` wraps.
pub async fn handler(app: &App, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let request_id = event.context.request_id.clone();
    let deadline = deadline_of(&event.context);
    tracing::debug!(
        request_id,
        budget_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
        "invocation received"
    );
    let result = app.handle_as(event.payload, deadline, &request_id).await;
    if let Err(err) = &result {
        tracing::warn!(request_id, error_type = err.error_type(), error = %err, "invocation failed");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn alexa_envelopes_are_recognised_by_their_request() {
        let launch = json!({"version": "1.0", "context": {}, "request": {"type": "LaunchRequest"}});
        assert_eq!(classify(&launch), Ok(InputKind::Alexa));
    }

    #[test]
    fn sns_events_are_recognised_by_their_record_source() {
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]});
        assert_eq!(classify(&sns), Ok(InputKind::Sns));
    }

    #[test]
    fn other_record_sources_are_named() {
        let sqs = json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        let err = classify(&sqs).unwrap_err().to_string();
        assert!(
            err.contains("Records[0].EventSource") && err.contains("aws:sqs"),
            "{err}"
        );
        let mixed = json!({"Records": [{"EventSource": "aws:sns"}, {"foo": 1}]});
        let err = classify(&mixed).unwrap_err().to_string();
        assert!(
            err.contains("Records[1].EventSource") && err.contains("missing"),
            "{err}"
        );
        let err = classify(&json!({"Records": {}})).unwrap_err().to_string();
        assert!(err.contains("`Records`") && err.contains("array"), "{err}");
        let err = classify(&json!({"Records": []})).unwrap_err().to_string();
        assert!(err.contains("at least one"), "{err}");
    }

    #[test]
    fn eventbridge_events_are_split_into_scheduled_and_custom() {
        let scheduled =
            json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
        assert_eq!(classify(&scheduled), Ok(InputKind::Scheduled));
        let custom = json!({"detail-type": "WeatherAlert", "source": "my.app", "detail": {}});
        assert_eq!(classify(&custom), Ok(InputKind::EventBridge));
        // A custom source that reuses the detail-type is not the schedule.
        let spoofed = json!({"detail-type": "Scheduled Event", "source": "my.app", "detail": {}});
        assert_eq!(classify(&spoofed), Ok(InputKind::EventBridge));
    }

    #[test]
    fn anything_else_is_described_with_the_accepted_shapes() {
        for (payload, says) in [
            (json!("hello"), "a JSON string"),
            (json!(null), "null"),
            (json!([1, 2]), "array of 2"),
            (json!(42), "a JSON number"),
            (json!({}), "empty JSON object"),
            (json!({"foo": 1, "bar": 2}), "keys [bar, foo]"),
        ] {
            let err = classify(&payload).unwrap_err();
            assert_eq!(err.error_type(), "UnrecognisedInput");
            let text = err.to_string();
            assert!(text.contains(says), "{text}");
            assert!(
                text.contains("Alexa request envelope") && text.contains("EventBridge"),
                "{text}"
            );
        }
    }

    #[test]
    fn unrecognised_input_never_echoes_values() {
        let err = classify(&json!({"password": "hunter2"}))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    fn app() -> App {
        App::new(
            Config::from_lookup(|name| {
                (name == "ALEXA_SKILL_ID").then(|| "amzn1.ask.skill.test".into())
            })
            .unwrap(),
        )
    }

    fn eventbridge(detail: Value) -> Value {
        json!({"id": "e-1", "detail-type": "WeatherAlert", "source": "my.app", "detail": detail})
    }

    #[test]
    fn deadlines_that_are_no_epoch_time_get_the_default_budget() {
        let budget = |deadline: u64| {
            let mut context = Context::default();
            context.deadline = deadline;
            deadline_of(&context).saturating_duration_since(Instant::now())
        };
        let epoch_ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        assert!(budget(0) > Duration::from_secs(29));
        assert!(
            budget(600_000) > Duration::from_secs(29),
            "cargo lambda watch's value"
        );
        let in_5s = budget(epoch_ms(SystemTime::now() + Duration::from_secs(5)));
        assert!(
            in_5s > Duration::from_secs(4) && in_5s <= Duration::from_secs(5),
            "{in_5s:?}"
        );
        assert_eq!(
            budget(epoch_ms(SystemTime::now()) - 1_000),
            Duration::ZERO,
            "already past"
        );
    }

    #[tokio::test]
    async fn an_expired_alert_is_answered_as_skipped_not_sent() {
        let answer = app()
            .handle(
                eventbridge(json!({"alertType": "TORNADO", "source": "NWS",
                                   "expiresAt": "2020-01-01T00:00:00Z"})),
                Instant::now() + DEFAULT_BUDGET,
            )
            .await
            .unwrap();
        assert_eq!(answer["results"][0]["status"], "skipped");
        assert!(
            answer["results"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("expired"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn an_invalid_request_in_a_trigger_names_its_field() {
        let err = app()
            .handle(
                eventbridge(json!({"alertType": "TSUNAMI", "source": "NWS"})),
                Instant::now() + DEFAULT_BUDGET,
            )
            .await
            .unwrap_err();
        assert_eq!(err.error_type(), "MalformedInput");
        assert!(err.to_string().contains("`detail.alertType`"), "{err}");
    }
}
