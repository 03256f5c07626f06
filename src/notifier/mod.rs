//! Turns validated notification requests into delivered proactive events.
//!
//! Every request of a trigger is validated and built before anything is sent, so one invalid
//! request in an SNS batch fails the whole invocation with its field named and nothing sent.
//! The HTTP client, the token cache and the Secrets Manager client are created on the first
//! send: an invocation that only answers Alexa never pays for them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::tracing;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::config::{Config, Region};
use crate::credentials::{CredentialSource, SecretsManager};
use crate::error::HandlerError;
use crate::proactive::token::TokenCache;
use crate::proactive::{
    self, event, http, Built, Delivery, NotificationRequest, ProactiveEvent, Sender, Status,
};
use crate::state::{DynamoStore, StateStore};
use crate::triggers::TriggerMessage;

mod exactly_once;

pub struct Notifier {
    config: Config,
    credentials: Arc<dyn CredentialSource>,
    sender: OnceCell<Sender>,
    state: Option<Arc<dyn StateStore>>,
}

/// How long a claim outlives the invocation's deadline: Lambda has stopped the holder by then.
pub const LEASE_MARGIN: Duration = Duration::seconds(10);

fn lease_end(now: DateTime<Utc>, deadline: Instant) -> DateTime<Utc> {
    let left = deadline.saturating_duration_since(Instant::now());
    now + Duration::from_std(left).unwrap_or(Duration::hours(1)) + LEASE_MARGIN
}

impl Notifier {
    /// Credentials from the Secrets Manager secret named in the configuration, and the state
    /// table named there (if any).
    pub fn new(config: Config) -> Self {
        let credentials = Arc::new(SecretsManager::new(config.credentials_secret.clone()));
        let state = config
            .state_table
            .clone()
            .map(|table| Arc::new(DynamoStore::new(table)) as Arc<dyn StateStore>);
        Self::with_credentials(config, credentials).with_state(state)
    }

    /// Without a state table: nothing is remembered between invocations.
    pub fn with_credentials(config: Config, credentials: Arc<dyn CredentialSource>) -> Self {
        Notifier {
            config,
            credentials,
            sender: OnceCell::new(),
            state: None,
        }
    }

    pub fn with_state(mut self, state: Option<Arc<dyn StateStore>>) -> Self {
        self.state = state;
        self
    }

    /// The state table sends are recorded in, shared with the rest of the app.
    pub fn state(&self) -> Option<&Arc<dyn StateStore>> {
        self.state.as_ref()
    }

    /// The sender, built on first use.
    async fn sender(&self) -> Result<&Sender, HandlerError> {
        self.sender
            .get_or_try_init(|| async {
                let client = http::shared()
                    .await
                    .map_err(|e| HandlerError::Setup(e.to_string()))?;
                let tokens = TokenCache::new(
                    client.clone(),
                    self.config.lwa_token_url.clone(),
                    self.credentials.clone(),
                );
                Ok(Sender::new(client, tokens, self.config.clone()))
            })
            .await
    }

    /// Handles a trigger's requests: the answer lists every referenceId with its outcome per
    /// region; any undelivered event fails the invocation. `holder` names this invocation in
    /// the state table's claims.
    pub async fn notify(
        &self,
        messages: &[TriggerMessage],
        deadline: Instant,
        holder: &str,
    ) -> Result<Value, HandlerError> {
        let mut requests = Vec::with_capacity(messages.len());
        for message in messages {
            let request = NotificationRequest::parse(message)?;
            requests.push((
                request,
                event::trigger_id(&message.origin).map(str::to_owned),
            ));
        }
        let results = self.send_requests(requests, deadline, holder).await?;
        Ok(json!({ "results": results }))
    }

    /// Builds every request (each with its trigger's id, if any), then sends those not sent
    /// before, exactly once when a state table is configured.
    pub async fn send_requests(
        &self,
        requests: Vec<(NotificationRequest, Option<String>)>,
        deadline: Instant,
        holder: &str,
    ) -> Result<Vec<Value>, HandlerError> {
        let now = Utc::now();
        let mut ready = Vec::new();
        let mut results = Vec::new();
        for (request, trigger_id) in &requests {
            match proactive::build(request, trigger_id.as_deref(), now)? {
                Built::Ready(event) => ready.push((event, request.region)),
                Built::Skipped {
                    reference_id,
                    reason,
                } => {
                    tracing::info!(reference_id, reason, "notification skipped");
                    results.push(
                        json!({"referenceId": reference_id, "status": "skipped", "reason": reason}),
                    );
                }
            }
        }
        let Some(state) = &self.state else {
            let deliveries = self.deliver(ready, deadline).await?;
            check(&deliveries)?;
            results.extend(deliveries.iter().map(|d| json!(d)));
            return Ok(results);
        };
        let lease_until = lease_end(now, deadline);
        let claimed = exactly_once::claim_all(state.as_ref(), ready, holder, lease_until).await?;
        results.extend(claimed.answers);
        let (events, claims): (Vec<_>, Vec<_>) = claimed.to_send.into_iter().unzip();
        let deliveries = match self.deliver(events, deadline).await {
            Ok(deliveries) => deliveries,
            Err(err) => {
                exactly_once::release_all(state.as_ref(), &claims).await;
                return Err(err);
            }
        };
        exactly_once::settle(state.as_ref(), &claims, &deliveries).await;
        check(&deliveries)?;
        results.extend(deliveries.iter().map(|d| json!(d)));
        if !claimed.busy.is_empty() {
            return Err(HandlerError::SendInProgress {
                reference_ids: claimed.busy,
            });
        }
        Ok(results)
    }

    /// Sends one request made by the skill itself (the test alert); any failure is logged and
    /// reported as [`Status::Failed`], because Alexa is waiting for an answer to speak.
    pub async fn send_one(&self, request: &NotificationRequest, deadline: Instant) -> Status {
        let event = match proactive::build(request, None, Utc::now()) {
            Ok(Built::Ready(event)) => event,
            Ok(Built::Skipped { reason, .. }) => {
                tracing::warn!(reason, "test alert not sent");
                return Status::Failed;
            }
            Err(err) => {
                tracing::error!(error = %err, "test alert could not be built");
                return Status::Failed;
            }
        };
        // A Unicast goes to one region: one delivery.
        match self.deliver(vec![(event, request.region)], deadline).await {
            Ok(deliveries) => deliveries.first().map_or(Status::Failed, |d| d.status),
            Err(err) => {
                tracing::error!(error = %err, "test alert not sent");
                Status::Failed
            }
        }
    }

    /// Sends events (each with its Unicast region, if any) and logs every outcome. Nothing to
    /// send builds nothing: the sender (HTTP client, token cache) waits for a real send.
    pub async fn deliver(
        &self,
        events: Vec<(ProactiveEvent, Option<Region>)>,
        deadline: Instant,
    ) -> Result<Vec<Delivery>, HandlerError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let sender = self.sender().await?;
        let targets: Vec<_> = events
            .into_iter()
            .map(|(event, region)| {
                let regions = sender.regions(&event, region);
                (event, regions)
            })
            .collect();
        let deliveries = sender.send_all(&targets, deadline).await;
        for d in &deliveries {
            match &d.error {
                None => {
                    tracing::info!(reference_id = d.reference_id, region = d.region, status = ?d.status, attempts = d.attempts, request_id = d.request_id.as_deref().unwrap_or("-"), "proactive event sent")
                }
                Some(error) => {
                    tracing::warn!(reference_id = d.reference_id, region = d.region, status = ?d.status, attempts = d.attempts, request_id = d.request_id.as_deref().unwrap_or("-"), error, "proactive event not delivered")
                }
            }
        }
        Ok(deliveries)
    }
}

/// Fails when any delivery is unsettled. Failures are grouped by cause so that a hundred
/// events refused for the same reason read as one line, not a hundred.
pub fn check(deliveries: &[Delivery]) -> Result<(), HandlerError> {
    let mut by_cause: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for d in deliveries.iter().filter(|d| !d.is_settled()) {
        by_cause
            .entry((d.error.as_deref().unwrap_or("unknown"), d.region))
            .or_default()
            .push(&d.reference_id);
    }
    if by_cause.is_empty() {
        return Ok(());
    }
    let failed = by_cause.values().map(Vec::len).sum();
    let detail = by_cause
        .iter()
        .map(|((cause, region), ids)| {
            let shown: Vec<&str> = ids.iter().take(3).copied().collect();
            let more = match ids.len().saturating_sub(shown.len()) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            format!(
                "referenceId {}{more} in {region}: {cause}",
                shown.join(", ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(HandlerError::SendFailed {
        failed,
        total: deliveries.len(),
        detail,
    })
}
