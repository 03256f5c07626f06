//! The Lambda handler: tells what kind of input arrived and hands it to the part that owns it.
//!
//! One function serves Alexa, SNS and EventBridge, so the payload arrives as a
//! `serde_json::Value` and is classified by its keys first. Deserialising straight into an
//! untagged enum would answer a typo with "data did not match any variant"; classifying
//! first lets every error name the shape it was taken for and the field that is wrong.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::error::HandlerError;
use super::triggers::{self, TriggerMessage};
use crate::alexa::address::{AddressApi, AddressLookup};
use crate::alexa::{self, EventsApi};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::credentials::{CredentialSource, SecretsManager};
use crate::fanout::{Fanout, FanoutError};
use crate::ledger::{self, Ledger};
use crate::notifier::{Notifier, OnRefusal, Report};
use crate::queue::{Queue, SqsQueue};
use crate::skill::conversation::Conversation;
use crate::skill::Skill;
use crate::state::{DynamoStore, StateStore};
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
    /// SQS records of the fan-out queue.
    Sqs,
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

/// `Records` is shared by SNS, SQS, S3, DynamoDB streams...: SNS (triggers) and SQS (the
/// fan-out queue) are wired to this function, so any other source, or a mix, is a deployment
/// mistake worth naming precisely.
fn classify_records(records: &Value) -> Result<InputKind, HandlerError> {
    let malformed = |field: String, problem: &str| HandlerError::Malformed {
        shape: "Records event",
        field,
        problem: problem.to_owned(),
    };
    let Some(records) = records.as_array() else {
        return Err(malformed(
            "Records".into(),
            "expected an array of SNS or SQS records",
        ));
    };
    if records.is_empty() {
        return Err(malformed(
            "Records".into(),
            "expected at least one SNS or SQS record, got an empty array",
        ));
    }
    let mut kind = None;
    for (i, record) in records.iter().enumerate() {
        // SNS spells it `EventSource`; SQS, S3 and DynamoDB streams spell it `eventSource`.
        let (field, source) =
            match (record.get("EventSource"), record.get("eventSource")) {
                (Some(source), _) => ("EventSource", source.as_str()),
                (None, Some(source)) => ("eventSource", source.as_str()),
                (None, None) => return Err(malformed(
                    format!("Records[{i}].EventSource"),
                    "required field is missing; expected \"aws:sns\" (or eventSource \"aws:sqs\")",
                )),
            };
        let this = match source {
            Some("aws:sns") => InputKind::Sns,
            Some("aws:sqs") => InputKind::Sqs,
            other => {
                let other = other.unwrap_or("not a string");
                return Err(malformed(
                    format!("Records[{i}].{field}"),
                    &format!("is {other:?}; this function accepts only \"aws:sns\" records (an SNS topic) and \"aws:sqs\" records (its fan-out queue), not {other}"),
                ));
            }
        };
        match kind {
            Some(kind) if kind != this => {
                return Err(malformed(
                    format!("Records[{i}].{field}"),
                    "differs from Records[0]'s; one event comes from one source",
                ))
            }
            _ => kind = Some(this),
        }
    }
    Ok(kind.unwrap_or(InputKind::Sns))
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

/// The edges the app talks to: Alexa and the state table. [`Edges::real`] in production;
/// tests put in-memory ones (or real ones with other credentials) in their place.
pub struct Edges {
    pub alexa: Arc<dyn EventsApi>,
    pub state: Option<Arc<dyn StateStore>>,
    pub clock: Arc<dyn Clock>,
    /// The fan-out queue, if configured.
    pub queue: Option<Arc<dyn Queue>>,
}

impl Edges {
    /// The Alexa client with the credentials from the configured secret, and the state table
    /// named there (if any). Nothing is connected yet: each is built on first use.
    pub fn real(config: &Config) -> Self {
        let credentials = Arc::new(SecretsManager::new(config.credentials_secret.clone()));
        Edges {
            state: config
                .state_table
                .clone()
                .map(|table| Arc::new(DynamoStore::new(table)) as Arc<dyn StateStore>),
            queue: config
                .fanout_queue_url
                .clone()
                .map(|url| Arc::new(SqsQueue::new(url)) as Arc<dyn Queue>),
            ..Self::with_credentials(config, credentials)
        }
    }

    /// The real Alexa client with these credentials, and no state table.
    pub fn with_credentials(config: &Config, credentials: Arc<dyn CredentialSource>) -> Self {
        Edges {
            alexa: Arc::new(alexa::Client::new(config.alexa_settings(), credentials)),
            state: None,
            clock: Arc::new(SystemClock),
            queue: None,
        }
    }
}

/// Everything an invocation needs, built once per process.
pub struct App {
    skill: Skill,
    notifier: Notifier,
    poller: Poller,
    /// What was sent and who subscribed; `None` without a state table.
    ledger: Option<Ledger>,
    fanout: Arc<Fanout>,
    /// The Device Address API (the launch places users with it); it connects on first use.
    address: Arc<dyn AddressLookup>,
}

/// How long an invocation may take when the context has no deadline (tests, local runs).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

impl App {
    pub fn new(config: Config) -> Self {
        let edges = Edges::real(&config);
        Self::with_edges(config, edges)
    }

    pub fn with_edges(config: Config, edges: Edges) -> Self {
        let ledger = edges.state.map(Ledger::new);
        // A queued weather alert stops where the poll has since seen its event end.
        let fanout = Arc::new(
            Fanout::new(
                edges.queue,
                edges.alexa.clone(),
                config.regions.first().copied().unwrap_or(alexa::Region::Na),
                config.fanout_send_rate,
                edges.clock.clone(),
            )
            .with_status(Arc::new(crate::weather::memory::Ended)),
        );
        App {
            poller: Poller::new(&config.weather_settings(), edges.clock.clone()),
            notifier: Notifier::new(config.regions.clone(), edges.alexa, ledger.clone())
                .with_clock(edges.clock)
                .with_fanout(fanout.clone()),
            address: Arc::new(AddressApi::new(config.alexa_settings())),
            skill: Skill::new(config.skill_id),
            ledger,
            fanout,
        }
    }

    /// The same app with another Device Address API (tests).
    pub fn with_address(mut self, address: Arc<dyn AddressLookup>) -> Self {
        self.address = address;
        self
    }

    /// Handles one invocation's payload; sends must end before `deadline`.
    pub async fn handle(&self, payload: Value, deadline: Instant) -> Result<Value, HandlerError> {
        self.handle_as(payload, deadline, "local").await
    }

    /// [`App::handle`] for the invocation `request_id` (named in the ledger's claims).
    pub async fn handle_as(
        &self,
        payload: Value,
        deadline: Instant,
        request_id: &str,
    ) -> Result<Value, HandlerError> {
        let kind = classify(&payload)?;
        tracing::debug!(?kind, "classified input");
        match kind {
            InputKind::Alexa => self.alexa(payload, deadline).await,
            InputKind::Sns => {
                let messages = triggers::from_sns(payload)?;
                self.notify(&messages, deadline, request_id).await
            }
            InputKind::EventBridge => {
                let message = triggers::from_eventbridge(payload)?;
                self.notify(std::slice::from_ref(&message), deadline, request_id)
                    .await
            }
            InputKind::Scheduled => {
                let tick = triggers::scheduled(payload)?;
                tracing::info!(tick = tick.id, rules = ?tick.rules, "scheduled poll");
                let holder = ledger::new_holder(request_id);
                let report = self
                    .poller
                    .poll(&self.notifier, self.ledger.as_ref(), deadline, &holder)
                    .await;
                // One per poll that ran to an answer, failed or not: the template alarms on
                // its absence (the schedule disabled, every poll timing out).
                crate::metrics::emit(&[], &[("Polls", 1)]);
                answer("poll report", &report?)
            }
            InputKind::Sqs => {
                // `classify` has checked that `Records` is an array of SQS records.
                let records = payload
                    .get("Records")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                let consumed = self.consume(payload, deadline, request_id).await;
                // Failed records come back from SQS; the template alarms on them within
                // minutes, long before one reaches the dead-letter queue. A batch refused
                // whole (unreadable, no state table) comes back whole.
                let failed = consumed.as_ref().map_or(records, |c| c.failed.len());
                crate::metrics::emit(&[], &[("FanoutFailed", failed as u64)]);
                answer("batch response", &BatchResponse::from(consumed?))
            }
        }
    }

    /// An SQS batch of fan-out work: which records failed (to come back), or an error when
    /// none can be handled.
    async fn consume(
        &self,
        payload: Value,
        deadline: Instant,
        request_id: &str,
    ) -> Result<crate::fanout::Consumed, HandlerError> {
        let records = triggers::from_sqs(payload)?;
        let ledger = self.ledger.as_ref().ok_or(HandlerError::from(
            crate::notifier::SendError::Fanout(FanoutError::NotConfigured {
                var: crate::vars::STATE_TABLE,
                fix: "the fan-out queue's messages name users kept in the state table; set it to the DynamoDB table the SAM template creates",
            }),
        ))?;
        let holder = ledger::new_holder(request_id);
        Ok(self
            .fanout
            .consume(ledger, records, deadline, &holder)
            .await)
    }

    async fn alexa(&self, payload: Value, deadline: Instant) -> Result<Value, HandlerError> {
        let conversation = Conversation {
            skill: &self.skill,
            notifier: &self.notifier,
            ledger: self.ledger.as_ref(),
            address: self.address.as_ref(),
        };
        let answer_envelope = conversation.answer(payload, deadline).await?;
        answer("Alexa response", &answer_envelope)
    }

    async fn notify(
        &self,
        messages: &[TriggerMessage],
        deadline: Instant,
        request_id: &str,
    ) -> Result<Value, HandlerError> {
        let requests = triggers::requests(messages)?;
        let holder = ledger::new_holder(request_id);
        let results = self
            .notifier
            .send_requests(requests, deadline, &holder, OnRefusal::Release)
            .await?;
        answer("answer", &Report { results })
    }
}

/// Lambda's partial batch response to an SQS event (the mapping has
/// `ReportBatchItemFailures`): only the listed records come back. `records` says what became
/// of each, for the log and for tests.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchResponse {
    batch_item_failures: Vec<ItemFailure>,
    records: Vec<crate::fanout::Handled>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemFailure {
    item_identifier: String,
}

impl From<crate::fanout::Consumed> for BatchResponse {
    fn from(consumed: crate::fanout::Consumed) -> Self {
        BatchResponse {
            batch_item_failures: consumed
                .failed
                .into_iter()
                .map(|id| ItemFailure {
                    item_identifier: id,
                })
                .collect(),
            records: consumed.handled,
        }
    }
}

/// The invocation's answer as JSON.
fn answer(shape: &'static str, value: &impl Serialize) -> Result<Value, HandlerError> {
    serde_json::to_value(value).map_err(|e| HandlerError::Malformed {
        shape,
        field: ".".into(),
        problem: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AreaIndex, Users};
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
        assert_eq!(classify(&sqs), Ok(InputKind::Sqs));
        let s3 = json!({"Records": [{"eventSource": "aws:s3"}]});
        let err = classify(&s3).unwrap_err().to_string();
        assert!(
            err.contains("Records[0].eventSource") && err.contains("aws:s3"),
            "{err}"
        );
        let mixed = json!({"Records": [{"EventSource": "aws:sns"}, {"foo": 1}]});
        let err = classify(&mixed).unwrap_err().to_string();
        assert!(
            err.contains("Records[1].EventSource") && err.contains("missing"),
            "{err}"
        );
        let both = json!({"Records": [{"EventSource": "aws:sns"}, {"eventSource": "aws:sqs"}]});
        let err = classify(&both).unwrap_err().to_string();
        assert!(
            err.contains("Records[1].eventSource") && err.contains("one source"),
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

    mod test_alert {
        use super::*;
        use crate::alexa::fake::FakeAlexa;
        use crate::alexa::Status;
        use crate::event::schemas::WEATHER_ALERT;
        use crate::state::{MemoryStore, UserChange, UserChangeKind};

        const SKILL: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
        const USER: &str = "amzn1.ask.account.U";

        fn app() -> (App, Arc<FakeAlexa>, Arc<MemoryStore>) {
            let config =
                Config::from_lookup(|name| (name == "ALEXA_SKILL_ID").then(|| SKILL.into()))
                    .unwrap();
            let alexa = Arc::new(FakeAlexa::new());
            let store = Arc::new(MemoryStore::new());
            let edges = Edges {
                alexa: alexa.clone(),
                state: Some(store.clone()),
                clock: Arc::new(SystemClock),
                queue: None,
            };
            (App::with_edges(config, edges), alexa, store)
        }

        /// TestAlertIntent; `permission` is the scope's status, `None` for no entry.
        fn ask(permission: Option<&str>) -> Value {
            let mut user = json!({"userId": USER});
            if let Some(status) = permission {
                user["permissions"] = json!({"scopes": {
                    "alexa::devices:all:notifications:write": {"status": status}}});
            }
            json!({"version": "1.0",
                   "context": {"System": {"application": {"applicationId": SKILL}, "user": user,
                                          "apiEndpoint": "https://api.amazonalexa.com"}},
                   "request": {"type": "IntentRequest", "requestId": "amzn1.echo-api.request.1",
                               "locale": "en-US", "intent": {"name": "TestAlertIntent"}}})
        }

        async fn subscribe(store: &MemoryStore, events: &[&str]) {
            let change = UserChange {
                user_id: USER.into(),
                at: chrono::Utc::now(),
                kind: UserChangeKind::Subscriptions(events.iter().map(|e| e.to_string()).collect()),
            };
            store.record_user(&change).await.unwrap();
        }

        async fn said(app: &App, payload: Value) -> String {
            let answer = app
                .handle(payload, Instant::now() + DEFAULT_BUDGET)
                .await
                .unwrap();
            answer["response"]["outputSpeech"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }

        #[tokio::test]
        async fn with_no_scope_entry_and_nothing_stored_the_alert_is_tried() {
            let (app, alexa, _) = app();
            assert!(said(&app, ask(None)).await.contains("on its way"));
            assert_eq!(alexa.received().len(), 1);
            alexa.answer_next([Status::NotSubscribed]);
            let mut again = ask(None);
            again["request"]["requestId"] = json!("amzn1.echo-api.request.2");
            assert!(said(&app, again).await.contains("notifications are off"));
        }

        #[tokio::test]
        async fn with_no_scope_entry_the_stored_subscription_decides() {
            let (app, alexa, store) = app();
            subscribe(&store, &["AMAZON.MessageAlert.Activated"]).await;
            assert!(said(&app, ask(None))
                .await
                .contains("notifications are off"));
            assert!(alexa.received().is_empty(), "not subscribed: nothing sent");
            subscribe(&store, &[WEATHER_ALERT]).await;
            assert!(said(&app, ask(None)).await.contains("on its way"));
            assert_eq!(alexa.received().len(), 1);
        }

        #[tokio::test]
        async fn a_failing_store_does_not_keep_the_alert_from_being_tried() {
            let (app, alexa, store) = app();
            store.fail(crate::state::memory::Op::Subscriptions, true);
            assert!(said(&app, ask(None)).await.contains("on its way"));
            assert_eq!(alexa.received().len(), 1);
        }

        #[tokio::test]
        async fn only_an_explicit_denial_skips_the_send() {
            let (app, alexa, store) = app();
            subscribe(&store, &[WEATHER_ALERT]).await;
            assert!(said(&app, ask(Some("DENIED")))
                .await
                .contains("notifications are off"));
            assert!(alexa.received().is_empty());
            assert!(said(&app, ask(Some("GRANTED")))
                .await
                .contains("on its way"));
        }
    }

    mod area {
        use super::*;
        use crate::alexa::address::{Address, FakeAddress};
        use crate::alexa::fake::FakeAlexa;
        use crate::skill::envelope::{ADDRESS_PERMISSION, NOTIFICATIONS_PERMISSION};
        use crate::state::memory::Op;
        use crate::state::{MemoryStore, UserArea};

        const SKILL: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
        const USER: &str = "amzn1.ask.account.U";
        const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.the-token";

        fn app(state: bool, address: Address) -> (App, Arc<FakeAddress>, Option<Arc<MemoryStore>>) {
            let config =
                Config::from_lookup(|name| (name == "ALEXA_SKILL_ID").then(|| SKILL.into()))
                    .unwrap();
            let store = state.then(|| Arc::new(MemoryStore::new()));
            let edges = Edges {
                alexa: Arc::new(FakeAlexa::new()),
                state: store.clone().map(|s| s as Arc<dyn StateStore>),
                clock: Arc::new(SystemClock),
                queue: None,
            };
            let fake = Arc::new(FakeAddress::new(address));
            let app = App::with_edges(config, edges).with_address(fake.clone());
            (app, fake, store)
        }

        fn found(country: &str, postal: &str) -> Address {
            Address::Found {
                country: country.into(),
                postal: postal.into(),
            }
        }

        fn payload(request: Value, granted: &[&str]) -> Value {
            let scopes: serde_json::Map<String, Value> = granted
                .iter()
                .map(|s| (s.to_string(), json!({"status": "GRANTED"})))
                .collect();
            json!({"version": "1.0",
                   "context": {"System": {"application": {"applicationId": SKILL},
                                          "user": {"userId": USER, "permissions": {"scopes": scopes}},
                                          "device": {"deviceId": "amzn1.ask.device.D1"},
                                          "apiAccessToken": TOKEN,
                                          "apiEndpoint": "https://api.eu.amazonalexa.com"}},
                   "request": request})
        }

        fn launch(granted: &[&str]) -> Value {
            payload(
                json!({"type": "LaunchRequest", "requestId": "r1", "locale": "en-US"}),
                granted,
            )
        }

        fn intent(name: &str, zip: Option<&str>) -> Value {
            let mut intent = json!({"name": name});
            if let Some(zip) = zip {
                intent["slots"] = json!({"zipCode": {"name": "zipCode", "value": zip}});
            }
            payload(
                json!({"type": "IntentRequest", "requestId": "r2", "locale": "en-US",
                       "intent": intent}),
                &[],
            )
        }

        async fn ask(app: &App, payload: Value) -> Value {
            app.handle(payload, Instant::now() + DEFAULT_BUDGET)
                .await
                .unwrap()
        }

        fn said(answer: &Value) -> &str {
            answer["response"]["outputSpeech"]["text"]
                .as_str()
                .unwrap_or_default()
        }

        async fn stored(store: &MemoryStore) -> Option<UserArea> {
            store.area(USER).await.unwrap()
        }

        #[tokio::test]
        async fn revoking_the_address_permission_deletes_an_area_read_from_the_device_only() {
            let revoked = || {
                payload(
                    json!({"type": "AlexaSkillEvent.SkillPermissionChanged",
                           "requestId": "r3", "timestamp": "2026-11-30T08:00:00Z",
                           "body": {"acceptedPermissions": [{"scope": NOTIFICATIONS_PERMISSION}]}}),
                    &[NOTIFICATIONS_PERMISSION],
                )
            };
            // Looked up at launch: read from the device.
            let (app, _, store) = app(true, found("US", "73019"));
            let store = store.unwrap();
            ask(
                &app,
                launch(&[NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION]),
            )
            .await;
            assert!(stored(&store).await.is_some());
            assert_eq!(
                ask(&app, revoked()).await,
                json!({"version": "1.0", "response": {}})
            );
            assert_eq!(stored(&store).await, None);
            // Said by the user: theirs to keep.
            ask(&app, intent("SetZipCodeIntent", Some("73019"))).await;
            ask(&app, revoked()).await;
            assert!(stored(&store).await.is_some());
        }

        #[tokio::test]
        async fn a_granted_address_is_looked_up_once_stored_and_said() {
            let (app, fake, store) = app(true, found("US", "73019"));
            let store = store.unwrap();
            let granted = [NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION];
            let a = ask(&app, launch(&granted)).await;
            assert!(
                said(&a).contains("I announce alerts for Cleveland County, Oklahoma."),
                "{a}"
            );
            assert!(a["response"].get("card").is_none(), "{a}");
            assert_eq!(
                stored(&store).await,
                Some(UserArea {
                    user_id: USER.into(),
                    postal_code: "73019".into(),
                    country: "US".into(),
                    places: vec![crate::state::AreaKey::county("40027")],
                    region: Some("EU".into()),
                    locale: Some("en-US".into()),
                    source: crate::state::AreaSource::Device,
                })
            );
            let queries = fake.queries();
            assert_eq!(queries.len(), 1);
            assert_eq!(queries[0].token.secret(), TOKEN);
            assert_eq!(queries[0].endpoint, "https://api.eu.amazonalexa.com");
            // Read from the device: the next launch asks the device again (the user may have
            // moved); the same address changes nothing.
            let again = ask(&app, launch(&granted)).await;
            assert!(said(&again).contains("Cleveland County"), "{again}");
            assert!(!said(&again).contains("changed"), "{again}");
            assert_eq!(fake.queries().len(), 2);
        }

        #[tokio::test]
        async fn an_address_stored_before_its_country_was_served_is_placed_without_a_move() {
            let (app, _fake, store) = app(true, found("DE", "50667"));
            let store = store.unwrap();
            // As the release before the German feed stored it: the country, no places.
            let earlier = UserArea {
                user_id: USER.into(),
                postal_code: "50667".into(),
                country: "DE".into(),
                places: Vec::new(),
                region: Some("EU".into()),
                locale: Some("en-US".into()),
                source: crate::state::AreaSource::Device,
            };
            store.set_area(&earlier).await.unwrap();
            let granted = [NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION];
            let a = ask(&app, launch(&granted)).await;
            assert!(said(&a).contains("Köln"), "{a}");
            assert!(!said(&a).contains("changed"), "{a}");
            let area = stored(&store).await.unwrap();
            assert!(!area.places.is_empty(), "{area:?}");
        }

        #[tokio::test]
        async fn an_area_read_from_the_device_follows_the_device_and_one_said_stays() {
            let (app, fake, store) = app(true, found("US", "73019"));
            let store = store.unwrap();
            let granted = [NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION];
            ask(&app, launch(&granted)).await;
            // The user moved to New York: moved, and told.
            fake.answer(found("US", "10001"));
            let moved = ask(&app, launch(&granted)).await;
            assert!(
                said(&moved).contains("Your device's address has changed. I announce alerts for New York County, New York."),
                "{moved}"
            );
            let area = stored(&store).await.unwrap();
            assert_eq!(
                (area.postal_code.as_str(), area.places.clone()),
                ("10001", vec![crate::state::AreaKey::county("36061")])
            );
            // The index follows: the user is no longer found in Cleveland County.
            let in_cleveland = store
                .users_in_area(
                    &[crate::state::AreaKey::county("40027")],
                    crate::state::HashRange::ALL,
                )
                .await
                .unwrap();
            assert!(in_cleveland.is_empty(), "{in_cleveland:?}");
            // A failed or empty read keeps what is stored.
            for answer in [
                Address::Unavailable("503".into()),
                Address::NoAddress,
                found("US", "00001"),
            ] {
                fake.answer(answer.clone());
                let kept = ask(&app, launch(&granted)).await;
                assert!(
                    said(&kept).contains("New York County"),
                    "{answer:?}: {kept}"
                );
                assert_eq!(stored(&store).await.unwrap().postal_code, "10001");
            }
            // An area the user said is never overwritten by the device, nor looked up.
            ask(&app, intent("SetZipCodeIntent", Some("73019"))).await;
            let queries = fake.queries().len();
            fake.answer(found("US", "10001"));
            let spoken = ask(&app, launch(&granted)).await;
            assert!(said(&spoken).contains("Cleveland County"), "{spoken}");
            assert_eq!(stored(&store).await.unwrap().postal_code, "73019");
            assert_eq!(fake.queries().len(), queries);
        }

        #[tokio::test]
        async fn an_address_in_a_country_not_served_is_stored_and_the_user_told_so() {
            let (app, _, store) = app(true, found("FR", "75001"));
            let a = ask(&app, launch(&[ADDRESS_PERMISSION])).await;
            assert!(said(&a).contains("a country I don't serve yet"), "{a}");
            let area = stored(&store.unwrap()).await.unwrap();
            assert_eq!(
                (area.country.as_str(), area.postal_code.as_str()),
                ("FR", "75001")
            );
            assert!(area.places.is_empty());
        }

        #[tokio::test]
        async fn without_a_usable_address_the_user_is_asked_for_the_zip_code() {
            for (answer, card) in [
                (
                    Address::NotGranted,
                    Some(json!([NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION])),
                ),
                (Address::NoAddress, Some(json!([NOTIFICATIONS_PERMISSION]))),
                (
                    Address::Unavailable("503".into()),
                    Some(json!([NOTIFICATIONS_PERMISSION])),
                ),
                (
                    found("US", "00001"),
                    Some(json!([NOTIFICATIONS_PERMISSION])),
                ),
            ] {
                let (app, _, store) = app(true, answer.clone());
                let a = ask(&app, launch(&[ADDRESS_PERMISSION])).await;
                assert!(said(&a).contains("my zip code is 73019"), "{answer:?}: {a}");
                assert_eq!(a["response"]["shouldEndSession"], json!(false), "{a}");
                assert_eq!(
                    a["response"]["card"]["permissions"],
                    card.unwrap(),
                    "{answer:?}"
                );
                assert_eq!(stored(&store.unwrap()).await, None);
            }
        }

        #[tokio::test]
        async fn without_the_permission_nothing_is_looked_up_and_one_card_asks_for_both() {
            let (app, fake, _) = app(true, found("US", "73019"));
            let a = ask(&app, launch(&[])).await;
            assert!(fake.queries().is_empty());
            assert_eq!(
                a["response"]["card"]["permissions"],
                json!([NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION])
            );
            assert!(
                said(&a).contains("allow the skill to use your postal code"),
                "{a}"
            );
        }

        #[tokio::test]
        async fn a_zip_code_is_set_said_and_forgotten() {
            let (app, _, store) = app(true, Address::NoAddress);
            let store = store.unwrap();
            let none = ask(&app, intent("MyAreaIntent", None)).await;
            assert!(said(&none).contains("don't know your area yet"), "{none}");
            let set = ask(&app, intent("SetZipCodeIntent", Some("2134"))).await;
            assert_eq!(
                said(&set),
                "Got it. I announce alerts for Suffolk County, Massachusetts."
            );
            let area = stored(&store).await.unwrap();
            assert_eq!(
                (area.postal_code.as_str(), area.region.as_deref()),
                ("02134", Some("EU"))
            );
            let mine = ask(&app, intent("MyAreaIntent", None)).await;
            assert_eq!(
                said(&mine),
                "I announce alerts for Suffolk County, Massachusetts."
            );
            let forgot = ask(&app, intent("ForgetAreaIntent", None)).await;
            assert!(said(&forgot).contains("forgotten your area"), "{forgot}");
            assert_eq!(stored(&store).await, None);
            let again = ask(&app, intent("ForgetAreaIntent", None)).await;
            assert!(said(&again).contains("nothing to forget"), "{again}");
        }

        #[tokio::test]
        async fn a_failing_store_is_told_as_words_not_an_error() {
            let (app, fake, store) = app(true, found("US", "73019"));
            let store = store.unwrap();
            store.fail(Op::SetArea, true);
            let set = ask(&app, intent("SetZipCodeIntent", Some("73019"))).await;
            assert!(said(&set).contains("couldn't save your zip code"), "{set}");
            // The launch still welcomes the user, without claiming an area it did not keep.
            let a = ask(&app, launch(&[ADDRESS_PERMISSION])).await;
            assert!(said(&a).starts_with("Welcome"), "{a}");
            assert!(!said(&a).contains("Cleveland"), "{a}");
            store.fail(Op::ReadArea, true);
            let mine = ask(&app, intent("MyAreaIntent", None)).await;
            assert!(said(&mine).contains("try again later"), "{mine}");
            let a = ask(&app, launch(&[ADDRESS_PERMISSION])).await;
            assert!(said(&a).starts_with("Welcome"), "{a}");
            assert_eq!(
                fake.queries().len(),
                1,
                "an unreadable store is not overwritten"
            );
            store.fail(Op::ForgetArea, true);
            let forgot = ask(&app, intent("ForgetAreaIntent", None)).await;
            assert!(said(&forgot).contains("try again later"), "{forgot}");
        }

        #[tokio::test]
        async fn without_a_state_table_the_user_hears_no_area_can_be_kept() {
            let (app, fake, _) = app(false, found("US", "73019"));
            for payload in [
                intent("SetZipCodeIntent", Some("73019")),
                intent("MyAreaIntent", None),
                intent("ForgetAreaIntent", None),
                launch(&[ADDRESS_PERMISSION]),
            ] {
                let a = ask(&app, payload).await;
                assert!(said(&a).contains("can't remember an area"), "{a}");
            }
            assert!(fake.queries().is_empty());
        }
    }
}
