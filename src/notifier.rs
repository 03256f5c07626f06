//! Turns validated notification requests into delivered proactive events.
//!
//! Every request of a trigger is validated and built before anything is sent, so one invalid
//! request in an SNS batch fails the whole invocation with its field named and nothing sent.
//! The HTTP client, the token cache and the Secrets Manager client are created on the first
//! send: an invocation that only answers Alexa never pays for them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
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
use crate::triggers::TriggerMessage;

pub struct Notifier {
    config: Config,
    credentials: Arc<dyn CredentialSource>,
    sender: OnceCell<Sender>,
}

impl Notifier {
    /// Credentials from the Secrets Manager secret named in the configuration.
    pub fn new(config: Config) -> Self {
        let credentials = Arc::new(SecretsManager::new(config.credentials_secret.clone()));
        Self::with_credentials(config, credentials)
    }

    pub fn with_credentials(config: Config, credentials: Arc<dyn CredentialSource>) -> Self {
        Notifier {
            config,
            credentials,
            sender: OnceCell::new(),
        }
    }

    /// The sender, built on first use.
    async fn sender(&self) -> Result<&Sender, HandlerError> {
        self.sender
            .get_or_try_init(|| async {
                let client = http::client().map_err(|e| HandlerError::Setup(e.to_string()))?;
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
    /// region; any undelivered event fails the invocation.
    pub async fn notify(
        &self,
        messages: &[TriggerMessage],
        deadline: Instant,
    ) -> Result<Value, HandlerError> {
        let now = Utc::now();
        let mut ready = Vec::new();
        let mut results = Vec::new();
        for message in messages {
            let request = NotificationRequest::parse(message)?;
            match proactive::build(&request, event::trigger_id(&message.origin), now)? {
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
        if !ready.is_empty() {
            let deliveries = self.deliver(ready, deadline).await?;
            check(&deliveries)?;
            results.extend(deliveries.iter().map(|d| json!(d)));
        }
        Ok(json!({ "results": results }))
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

    /// Sends events (each with its Unicast region, if any) and logs every outcome.
    pub async fn deliver(
        &self,
        events: Vec<(ProactiveEvent, Option<Region>)>,
        deadline: Instant,
    ) -> Result<Vec<Delivery>, HandlerError> {
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
