//! Turns validated notification requests into delivered proactive events, exactly once when
//! there is a [`Ledger`].
//!
//! Every request of a trigger is built before anything is sent, so one invalid request in an
//! SNS batch fails the whole invocation with its field named and nothing sent. Where an event
//! goes is decided here: a Multicast to every configured region, a Unicast to its user's.

mod outcome;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::alexa::{Delivery, EventsApi, Post, Region, SetupError, Status};
use crate::area::Place;
use crate::budget::{self, RECORD_RESERVE};
use crate::clock::{Clock, SystemClock};
use crate::event::{self, Audience, Built, NotificationRequest, ProactiveEvent};
use crate::fanout::{Fanout, FanoutError, Work};
use crate::json::FieldError;
pub use crate::ledger::OnRefusal;
use crate::ledger::{self, Candidate, Held, Ledger};
use crate::state::StateError;
pub use outcome::{NotSent, Outcome, Queued, Report};

/// Why a send failed the invocation.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// A request could not be turned into an event (no id to derive the referenceId from).
    #[error("malformed notification request: {0}")]
    Invalid(#[from] FieldError),

    /// Some events were not delivered (refused, or retries and time ran out). The invocation
    /// fails so that Lambda retries it; a retry is safe, the referenceIds are the same.
    #[error("{failed} of {total} send(s) not delivered; the invocation fails so Lambda retries it (safe: the same referenceIds, Alexa answers 409 for those already delivered): {detail}")]
    Failed {
        failed: usize,
        total: usize,
        detail: String,
    },

    /// Another invocation holds the claim on these events (the same trigger delivered twice at
    /// once). This one fails so that Lambda retries it after that one ends: by then the events
    /// are sent (the retry skips them) or released (the retry sends them).
    #[error("referenceId(s) {} are being sent by another invocation; this invocation fails so Lambda retries it once that one has ended (its retry skips what was sent)", reference_ids.join(", "))]
    InProgress { reference_ids: Vec<String> },

    /// The state table could not be read or written; nothing was sent without its record.
    #[error("{0}; nothing was sent, the invocation fails so Lambda retries it")]
    State(#[from] StateError),

    #[error(transparent)]
    Setup(#[from] SetupError),

    /// Notifications for the users of an area could not be handed to the fan-out; nothing of
    /// this invocation was recorded as sent.
    #[error("{0}; the invocation fails so it is retried")]
    Fanout(#[from] FanoutError),
}

impl SendError {
    /// The stable name Lambda reports as `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            SendError::Invalid(_) => "MalformedInput",
            SendError::Failed { .. } => "SendFailed",
            SendError::InProgress { .. } => "SendInProgress",
            SendError::State(_) => "StateUnavailable",
            SendError::Setup(_) => "SetupFailed",
            SendError::Fanout(FanoutError::NotConfigured { .. }) => "NotConfigured",
            SendError::Fanout(FanoutError::Queue(_)) => "FanoutUnavailable",
        }
    }
}

/// A claimed notification for the users of an area, to hand to the fan-out.
struct Fanned {
    event: ProactiveEvent,
    areas: Vec<crate::state::AreaKey>,
    except: Vec<crate::state::AreaKey>,
    watch: Option<event::Watch>,
    ends_at: DateTime<Utc>,
    claim: crate::state::Claim,
}

pub struct Notifier {
    /// Where a Multicast goes; never empty.
    regions: Vec<Region>,
    alexa: Arc<dyn EventsApi>,
    ledger: Option<Ledger>,
    clock: Arc<dyn Clock>,
    /// Where notifications for the users of an area go.
    fanout: Option<Arc<Fanout>>,
}

impl Notifier {
    /// Without a ledger nothing is remembered between invocations.
    pub fn new(regions: Vec<Region>, alexa: Arc<dyn EventsApi>, ledger: Option<Ledger>) -> Self {
        Notifier {
            regions,
            alexa,
            ledger,
            clock: Arc::new(SystemClock),
            fanout: None,
        }
    }

    /// Requests with an `area` are handed to `fanout`.
    pub fn with_fanout(mut self, fanout: Arc<Fanout>) -> Self {
        self.fanout = Some(fanout);
        self
    }

    /// Events are built, and claims leased, by `clock`'s time.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds every request (each with its trigger's id, if any), then sends those not sent
    /// before, exactly once when there is a ledger. `holder` names this invocation in the
    /// ledger's claims. Any undelivered event fails the invocation, except an event Alexa
    /// refused when `on_refusal` records refusals as final.
    pub async fn send_requests(
        &self,
        requests: Vec<(NotificationRequest, Option<String>)>,
        deadline: Instant,
        holder: &str,
        on_refusal: OnRefusal,
    ) -> Result<Vec<Outcome>, SendError> {
        let now = self.clock.now();
        let mut ready = Vec::new();
        let mut results = Vec::new();
        for (request, trigger_id) in &requests {
            match event::build(request, trigger_id.as_deref(), now)? {
                Built::Ready(event) => ready.push((
                    (
                        event,
                        request.region,
                        request.area.as_ref().map(|area| {
                            (
                                area.iter().map(Place::key).collect(),
                                request.except.iter().map(Place::key).collect(),
                                request.watch.clone(),
                            )
                        }),
                    ),
                    request.expires_at,
                    request.record_until,
                    request.tag.clone(),
                )),
                Built::Skipped {
                    reference_id,
                    reason,
                } => {
                    tracing::info!(reference_id, reason, "notification skipped");
                    results.push(Outcome::NotSent(NotSent::Skipped {
                        reference_id,
                        reason,
                    }));
                }
            }
        }
        if ready.iter().any(|((_, _, area), _, _, _)| area.is_some()) {
            // Checked before anything is claimed or sent.
            if self.ledger.is_none() {
                return Err(FanoutError::NotConfigured {
                    var: crate::vars::STATE_TABLE,
                    fix: "the users of an area are found in the state table; set it to the DynamoDB table the SAM template creates",
                }
                .into());
            }
            self.fanout()?.check()?;
        }
        let Some(ledger) = &self.ledger else {
            let targets = ready
                .into_iter()
                .map(|((event, region, _), _, _, _)| {
                    let regions = self.regions(&event, region);
                    (event, regions)
                })
                .collect();
            let deliveries = self.deliver(targets, deadline).await?;
            // Nothing can be recorded: every refusal fails, so the failure is seen.
            check(&deliveries, OnRefusal::Release)?;
            results.extend(deliveries.into_iter().map(Outcome::Sent));
            return Ok(results);
        };
        let candidates = ready
            .into_iter()
            .map(|(target, ends_at, record_until, tag)| {
                let expires_at = target.0.expiry_time;
                // What the event announces may last longer than Alexa keeps the event, and
                // its record may have to outlive both.
                let ends_at = ends_at
                    .unwrap_or(expires_at)
                    .max(record_until.unwrap_or(expires_at));
                Candidate {
                    reference_id: target.0.reference_id.clone(),
                    expires_at,
                    ends_at,
                    tag,
                    item: (target, ends_at),
                }
            })
            .collect();
        let claimed = ledger
            .claim_all(
                candidates,
                holder,
                ledger::lease_end(now, deadline),
                deadline,
            )
            .await?;
        let busy = claimed.busy();
        results.extend(claimed.held.into_iter().map(|(reference_id, held)| {
            Outcome::NotSent(match held {
                Held::Repeated => NotSent::Duplicate {
                    reference_id,
                    reason: "an earlier request of this trigger has the same referenceId".into(),
                },
                Held::AlreadySent { sent_at } => NotSent::AlreadySent {
                    reference_id,
                    sent_at,
                    region: None,
                },
                Held::InProgress { lease_until } => NotSent::InProgress {
                    reference_id,
                    lease_until,
                },
                Held::Refused { refused_at, reason } => NotSent::AlreadyRefused {
                    reference_id,
                    refused_at,
                    reason,
                },
            })
        }));
        let mut targets = Vec::with_capacity(claimed.to_send.len());
        let mut claims = Vec::with_capacity(claimed.to_send.len());
        let mut fanned = Vec::new();
        for (((event, region, area), ends_at), claim) in claimed.to_send {
            if let Some((areas, except, watch)) = area {
                fanned.push(Fanned {
                    event,
                    areas,
                    except,
                    watch,
                    ends_at,
                    claim,
                });
                continue;
            }
            // Regions an earlier attempt reached are not sent again.
            let (done, regions): (Vec<Region>, Vec<Region>) =
                self.regions(&event, region).into_iter().partition(|r| {
                    claim
                        .done
                        .contains(&crate::state::Reached::Region(r.code().to_owned()))
                });
            results.extend(done.into_iter().map(|region| {
                Outcome::NotSent(NotSent::AlreadySent {
                    reference_id: claim.reference_id.clone(),
                    sent_at: None,
                    region: Some(region.code()),
                })
            }));
            targets.push((event, regions));
            claims.push(claim);
        }
        // The sends end early enough to leave time to record them.
        let send_deadline = budget::earlier(deadline, RECORD_RESERVE);
        if !fanned.is_empty() {
            match self.fan_out(ledger, &fanned, deadline).await {
                Ok(queued) => results.extend(queued),
                Err(err) => {
                    let mut all = claims.clone();
                    all.extend(fanned.into_iter().map(|f| f.claim));
                    ledger.release_all(&all, deadline).await;
                    return Err(err);
                }
            }
        }
        let deliveries = match self.deliver(targets, send_deadline).await {
            Ok(deliveries) => deliveries,
            Err(err) => {
                ledger.release_all(&claims, deadline).await;
                return Err(err);
            }
        };
        ledger
            .settle(&claims, &deliveries, on_refusal, deadline)
            .await;
        check(&deliveries, on_refusal)?;
        results.extend(deliveries.into_iter().map(Outcome::Sent));
        if !busy.is_empty() {
            return Err(SendError::InProgress {
                reference_ids: busy,
            });
        }
        Ok(results)
    }

    fn fanout(&self) -> Result<&Fanout, FanoutError> {
        self.fanout.as_deref().ok_or(FanoutError::NO_QUEUE)
    }

    /// Hands claimed notifications for areas to the fan-out, then records them as sent: from
    /// here on each user's Unicast has its own claim.
    async fn fan_out(
        &self,
        ledger: &Ledger,
        fanned: &[Fanned],
        deadline: Instant,
    ) -> Result<Vec<Outcome>, SendError> {
        let fanout = self.fanout()?;
        let works: Vec<Work> = fanned
            .iter()
            .map(|f| Work {
                watch: f.watch.clone(),
                ..Work::new(
                    f.claim.reference_id.clone(),
                    f.event.clone(),
                    f.ends_at,
                    f.areas.clone(),
                    f.except.clone(),
                )
            })
            .collect();
        fanout.start(&works, deadline).await?;
        let mut outcomes = Vec::with_capacity(fanned.len());
        for Fanned { areas, claim, .. } in fanned {
            tracing::info!(
                reference_id = claim.reference_id,
                places = areas.len(),
                "notification queued for the users of its area"
            );
            if let Err(err) = ledger.close(claim, None, deadline).await {
                // Queued already: a retry queues it again, and the ranges' claims keep each
                // user to one Unicast.
                tracing::warn!(reference_id = claim.reference_id, error = %err, "queued, but not recorded as such");
            }
            outcomes.push(Outcome::Queued(Queued {
                reference_id: claim.reference_id.clone(),
                status: "queued",
                places: areas.iter().map(|a| a.as_str().to_owned()).collect(),
            }));
        }
        Ok(outcomes)
    }

    /// Sends one request made by the skill itself (the test alert); any failure is logged and
    /// reported as [`Status::Failed`], because Alexa is waiting for an answer to speak.
    pub async fn send_one(&self, request: &NotificationRequest, deadline: Instant) -> Status {
        let event = match event::build(request, None, self.clock.now()) {
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
        let regions = self.regions(&event, request.region);
        match self.deliver(vec![(event, regions)], deadline).await {
            Ok(deliveries) => deliveries.first().map_or(Status::Failed, |d| d.status),
            Err(err) => {
                tracing::error!(error = %err, "test alert not sent");
                Status::Failed
            }
        }
    }

    /// Where an event goes: every configured region for a Multicast, one for a Unicast (its
    /// user's, else the first configured).
    fn regions(&self, event: &ProactiveEvent, unicast_region: Option<Region>) -> Vec<Region> {
        match (&event.relevant_audience, unicast_region) {
            (Audience::Multicast(_), _) => self.regions.clone(),
            (Audience::Unicast { .. }, Some(region)) => vec![region],
            (Audience::Unicast { .. }, None) => self.regions.iter().take(1).copied().collect(),
        }
    }

    /// Sends events and logs every outcome. Nothing to send builds nothing: the client (HTTP,
    /// token cache) waits for a real send.
    async fn deliver(
        &self,
        targets: Vec<(ProactiveEvent, Vec<Region>)>,
        deadline: Instant,
    ) -> Result<Vec<Delivery>, SendError> {
        let mut posts = Vec::with_capacity(targets.len());
        let mut unserialisable = Vec::new();
        let schemas: HashMap<String, &'static str> = targets
            .iter()
            .map(|(event, _)| (event.reference_id.clone(), event.event.name))
            .collect();
        for (event, regions) in targets {
            match serde_json::to_vec(&event) {
                Ok(body) => posts.push((
                    Post {
                        reference_id: event.reference_id,
                        unicast: matches!(event.relevant_audience, Audience::Unicast { .. }),
                        body,
                    },
                    regions,
                )),
                Err(problem) => unserialisable.extend(regions.into_iter().map(|region| {
                    Delivery::failed(
                        &event.reference_id,
                        region,
                        0,
                        None,
                        format!("the event could not be serialised: {problem}"),
                    )
                })),
            }
        }
        let mut deliveries = self.alexa.send_all(&posts, deadline).await?;
        deliveries.extend(unserialisable);
        crate::alexa::metrics::emit(&deliveries, &schemas);
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

/// Fails when any delivery is unsettled (a refused event counts as settled when refusals are
/// recorded). Failures are grouped by cause so that a hundred events refused for the same
/// reason read as one line, not a hundred.
pub fn check(deliveries: &[Delivery], on_refusal: OnRefusal) -> Result<(), SendError> {
    let final_refusal =
        |d: &Delivery| d.status == Status::Refused && on_refusal == OnRefusal::Record;
    let mut by_cause: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for d in deliveries
        .iter()
        .filter(|d| !d.is_settled() && !final_refusal(d))
    {
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
    Err(SendError::Failed {
        failed,
        total: deliveries.len(),
        detail,
    })
}

#[cfg(test)]
mod tests;
