//! The claim / send / settle cycle that makes a send happen once however often its trigger
//! arrives (see [`crate::state`] for the claims themselves).

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use lambda_runtime::tracing;
use serde_json::{json, Value};

use crate::config::Region;
use crate::error::HandlerError;
use crate::proactive::{Delivery, ProactiveEvent};
use crate::state::{Claim, ClaimOutcome, StateStore};

/// How many state-table calls run at once: enough to hide the round trips of a large SNS
/// batch without opening hundreds of connections.
const CONCURRENCY: usize = 16;

pub type Target = (ProactiveEvent, Option<Region>);

/// What the claims decided.
pub struct Claimed {
    /// Ours to send, each with its claim.
    pub to_send: Vec<(Target, Claim)>,
    /// The answers for events not sent by this invocation.
    pub answers: Vec<Value>,
    /// referenceIds another invocation is sending now.
    pub busy: Vec<String>,
}

fn expiry(event: &ProactiveEvent) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&event.expiry_time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now() + Duration::hours(24))
}

/// Claims every event. A state-table failure releases the claims already won and fails: an
/// event is never sent without its claim.
pub async fn claim_all(
    state: &dyn StateStore,
    ready: Vec<Target>,
    holder: &str,
    lease_until: DateTime<Utc>,
) -> Result<Claimed, HandlerError> {
    let mut answers = Vec::new();
    let mut seen = HashSet::new();
    let mut candidates = Vec::new();
    for target in ready {
        let reference_id = target.0.reference_id.clone();
        if !seen.insert(reference_id.clone()) {
            // Two requests of one trigger with the same id: one event.
            answers.push(json!({"referenceId": reference_id, "status": "duplicate",
                                "reason": "an earlier request of this trigger has the same referenceId"}));
            continue;
        }
        let claim = Claim {
            reference_id,
            holder: holder.to_owned(),
            lease_until,
            expires_at: expiry(&target.0),
        };
        candidates.push((target, claim));
    }
    let outcomes: Vec<_> = stream::iter(candidates.iter().map(|(_, claim)| state.claim(claim)))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    if let Some(err) = outcomes.iter().find_map(|o| o.as_ref().err()).cloned() {
        let won: Vec<Claim> = candidates
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| matches!(outcome, Ok(ClaimOutcome::Claimed)))
            .map(|((_, claim), _)| claim.clone())
            .collect();
        release_all(state, &won).await;
        return Err(HandlerError::State(err));
    }
    let mut to_send = Vec::new();
    let mut busy = Vec::new();
    // No errors past this point: flatten keeps every outcome, in order.
    for ((target, claim), outcome) in candidates.into_iter().zip(outcomes.into_iter().flatten()) {
        match outcome {
            ClaimOutcome::Claimed => to_send.push((target, claim)),
            ClaimOutcome::AlreadySent { sent_at } => {
                tracing::info!(
                    reference_id = claim.reference_id,
                    sent_at = sent_at.as_deref().unwrap_or("-"),
                    "already sent; not sent again"
                );
                answers.push(json!({"referenceId": claim.reference_id, "status": "alreadySent", "sentAt": sent_at}));
            }
            ClaimOutcome::InProgress { lease_until } => {
                tracing::warn!(
                    reference_id = claim.reference_id,
                    lease_until = lease_until.as_deref().unwrap_or("-"),
                    "another invocation is sending it"
                );
                answers.push(json!({"referenceId": claim.reference_id, "status": "inProgress", "leaseUntil": lease_until}));
                busy.push(claim.reference_id);
            }
        }
    }
    Ok(Claimed {
        to_send,
        answers,
        busy,
    })
}

/// Marks delivered events sent, and releases the others so that a retry can send them. A
/// referenceId counts as delivered when every region settled it.
pub async fn settle(state: &dyn StateStore, claims: &[Claim], deliveries: &[Delivery]) {
    let work = claims.iter().map(|claim| async move {
        let delivered = deliveries
            .iter()
            .filter(|d| d.reference_id == claim.reference_id)
            .all(Delivery::is_settled);
        let result = if delivered {
            state.complete(claim).await
        } else {
            state.release(claim).await
        };
        if let Err(err) = result {
            // Not fatal: a claim left in progress lapses with its lease, and a resend after
            // that is answered 409 by Alexa; the invocation's outcome stays the send's.
            tracing::warn!(reference_id = claim.reference_id, delivered, error = %err, "state not updated after the send");
        }
    });
    stream::iter(work)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
}

/// Gives up claims without sending (the send could not start).
pub async fn release_all(state: &dyn StateStore, claims: &[Claim]) {
    let work = claims.iter().map(|claim| async move {
        if let Err(err) = state.release(claim).await {
            tracing::warn!(reference_id = claim.reference_id, error = %err, "claim not released; it lapses with its lease");
        }
    });
    stream::iter(work)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
}
