//! The scheduled rule's job: poll the weather-alert feed and announce each new alert once.
//!
//! - [`feed`] fetches the feed (an edge: HTTP, conditional requests);
//! - [`nws`] reads the NWS format and decides each alert on its own;
//! - [`plan`] decides the poll as a whole, given what the [`Ledger`] says was announced;
//! - [`Poller`] carries the plan out through the [`Notifier`].

pub mod feed;
pub mod nws;
pub mod plan;
mod severity;

use std::collections::{BTreeMap, HashMap, HashSet};

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::clock::Clock;
use serde::Serialize;
use tokio::time::Instant;

use crate::alexa::{Delivery, Status};
use crate::config::{vars, Audience, Config};
use crate::event::schemas::WEATHER_ALERT;
use crate::event::{reference_id, NotificationRequest};
use crate::ledger::Ledger;
use crate::notifier::{Notifier, OnRefusal, Outcome, SendError};
use crate::skill::speech::LOCALES;
use crate::state::AreaKey;
use crate::state::StateError;

pub use feed::{Feed, FeedError, Fetched};
pub use severity::Severity;

/// Why a poll failed the invocation.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PollError {
    /// A part of the function that the poll needs is not configured.
    #[error("{what} needs {var}: {fix}")]
    NotConfigured {
        what: &'static str,
        var: &'static str,
        fix: &'static str,
    },

    /// The weather feed could not be read; nothing was announced or marked as sent.
    #[error("{0}; nothing was announced, the invocation fails so it is retried (the next scheduled poll tries again as well)")]
    Feed(#[from] FeedError),

    #[error(transparent)]
    Send(#[from] SendError),
}

impl From<StateError> for PollError {
    fn from(err: StateError) -> Self {
        PollError::Send(SendError::State(err))
    }
}

impl PollError {
    /// The stable name Lambda reports as `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            PollError::NotConfigured { .. } => "NotConfigured",
            PollError::Feed(_) => "FeedUnavailable",
            PollError::Send(err) => err.error_type(),
        }
    }
}

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub feed: FeedSummary,
    pub results: Vec<Outcome>,
}

/// What the poll made of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedSummary {
    pub url: String,
    /// The feed's HTTP status: 200, or 304 when unchanged since the last poll.
    pub status: u16,
    pub changed: bool,
    /// Alerts in the feed, malformed ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<usize>,
    /// Alerts the plan announces (each may still turn out sent before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<usize>,
    /// Alerts not announced, counted by reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<BTreeMap<&'static str, usize>>,
    /// Alerts Alexa refused in this poll (recorded as final: not tried again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<usize>,
    /// Alerts this poll had no time left for: the next poll sends them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deferred: Option<usize>,
    /// Updates announced again because they raise the danger (among the candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalations: Option<usize>,
}

/// How many alerts (referenceIds, whatever the regions) have a delivery that is `such`.
fn distinct_alerts(results: &[Outcome], such: impl Fn(&Delivery) -> bool) -> usize {
    results
        .iter()
        .filter_map(|o| match o {
            Outcome::Sent(d) if such(d) => Some(d.reference_id.as_str()),
            _ => None,
        })
        .collect::<HashSet<_>>()
        .len()
}

/// How many ledger reads or writes a poll runs at once.
const LOOKUP_CONCURRENCY: usize = 16;
/// How many alerts are claimed, sent and recorded together.
const CHUNK: usize = 50;
/// The time a chunk is started with at least: one full request to Alexa, then the time kept
/// to record and to answer (its claims are quick; the sender stops retrying by itself when
/// time runs short, and what it could not send fails the poll, released, for the retry).
const CHUNK_TIME: std::time::Duration = crate::http::REQUEST_TIMEOUT
    .saturating_add(crate::budget::RECORD_RESERVE)
    .saturating_add(crate::budget::REPORT_RESERVE);

pub struct Poller {
    feed: Option<Feed>,
    min_severity: Severity,
    contact_missing: bool,
    clock: Arc<dyn Clock>,
    audience: Audience,
}

impl Poller {
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> Self {
        Poller {
            clock,
            audience: config.weather_audience,
            feed: config.weather_feed_url.clone().map(|url| {
                Feed::new(
                    url,
                    &config.skill_id,
                    config.weather_feed_contact.as_deref(),
                )
            }),
            min_severity: config.weather_min_severity,
            contact_missing: config.weather_feed_contact.is_none(),
        }
    }

    /// One poll: fetch, plan, record updates, send the new alerts through `notifier`.
    pub async fn poll(
        &self,
        notifier: &Notifier,
        ledger: Option<&Ledger>,
        deadline: Instant,
        holder: &str,
    ) -> Result<PollReport, PollError> {
        let feed = self.feed.as_ref().ok_or(PollError::NotConfigured {
            what: "the scheduled weather poll",
            var: vars::WEATHER_FEED_URL,
            fix: "set it to an NWS alerts URL such as https://api.weather.gov/alerts/active?area=OK (the SAM template's WeatherFeedUrl), or remove the schedule",
        })?;
        // Checked before the feed is read: without a record of what was announced, every
        // poll would announce the same alerts again.
        let ledger = ledger.ok_or(PollError::NotConfigured {
            what: "the scheduled weather poll",
            var: vars::STATE_TABLE,
            fix: "without a state table every poll would announce the same alerts again; set it to the DynamoDB table the SAM template creates",
        })?;
        tracing::info!(feed = feed.url(), "polling the weather feed");
        if self.contact_missing {
            tracing::warn!(
                "WEATHER_FEED_CONTACT is not set: NWS asks for a contact (website or email) in the User-Agent, so that it can reach you before blocking a client"
            );
        }
        let (body, validators) = match feed.fetch(deadline).await? {
            Fetched::NotModified => {
                tracing::info!(feed = feed.url(), "feed unchanged since the last poll");
                return Ok(PollReport {
                    feed: FeedSummary {
                        url: feed.url().to_owned(),
                        status: 304,
                        changed: false,
                        alerts: None,
                        candidates: None,
                        skipped: None,
                        refused: None,
                        deferred: None,
                        escalations: None,
                    },
                    results: Vec::new(),
                });
            }
            Fetched::Changed { body, validators } => (body, validators),
        };
        let parsed = nws::parse(&body).map_err(|problem| FeedError::Malformed {
            url: feed.url().to_owned(),
            problem,
        })?;
        // The alerts are read: a national feed's megabytes are not kept through the sends.
        drop(body);
        for problem in &parsed.malformed {
            tracing::warn!(problem, "feed alert skipped: malformed");
        }
        let to_check = plan::references_to_check(&parsed, self.min_severity);
        let lookups: Vec<_> = stream::iter(to_check.iter().map(|earlier| async move {
            ledger
                .announced(&reference_id(WEATHER_ALERT, earlier), deadline)
                .await
        }))
        .buffered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
        let mut announced = HashMap::new();
        let mut places = HashMap::new();
        for (earlier, record) in to_check.into_iter().zip(lookups) {
            if let Some(record) = record? {
                let tag = record.tag.as_deref().map(plan::decode_tag);
                if let Some((_, Some(counties))) = &tag {
                    places.insert(earlier.clone(), counties.clone());
                }
                announced.insert(earlier, tag.map(|(level, _)| level));
            }
        }
        let located = self.audience == Audience::Located;
        // A Multicast reaches everyone: no update extends its area.
        let places = located.then_some(&places);
        let plan = plan::plan_with_places(&parsed, self.min_severity, &announced, places);
        for (alert, skip) in &plan.skipped {
            tracing::debug!(
                id = alert.id,
                event = alert.event,
                reason = skip.key(),
                "feed alert skipped"
            );
        }
        let now = self.clock.now();
        let marks: Vec<_> = stream::iter(plan.updates.iter().map(|(alert, level)| {
            tracing::info!(
                id = alert.id,
                event = alert.event,
                level = level.encode(),
                "update of an announced alert that does not raise the danger; not announced again"
            );
            ledger.mark_announced(
                reference_id(WEATHER_ALERT, &alert.id),
                holder,
                now,
                alert.expiry().unwrap_or(now + chrono::Duration::hours(24)),
                Some(plan::encode_tag(
                    *level,
                    plan.updates_told.get(alert.id.as_str()).unwrap_or(&None),
                )),
                deadline,
            )
        }))
        .buffered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
        marks.into_iter().collect::<Result<Vec<()>, _>>()?;
        let mut no_county = 0;
        let mut requests: Vec<_> = plan
            .announce
            .iter()
            .filter(|announce| {
                // Located: an alert that names no county of ours (a marine zone) has nobody
                // to go to.
                let nobody = located && announce.counties.is_empty();
                if nobody {
                    tracing::info!(
                        id = announce.alert.id,
                        event = announce.alert.event,
                        area = announce.alert.area_desc,
                        "feed alert names no county; nobody to announce it to"
                    );
                    no_county += 1;
                }
                !nobody
            })
            .map(|announce| {
                let alert = announce.alert;
                tracing::info!(
                    id = alert.id,
                    event = alert.event,
                    alert_type = announce.alert_type,
                    area = alert.area_desc,
                    escalation = announce.escalation,
                    extension = announce.extension,
                    level = announce.level.encode(),
                    "feed alert to announce"
                );
                let mut request = NotificationRequest::multicast_weather_alert(
                    announce.alert_type,
                    &alert.sender_name,
                    alert.id.clone(),
                    alert.expiry(),
                    &LOCALES,
                );
                request.tag = Some(plan::encode_tag(announce.level, &announce.told));
                if located {
                    request.area = Some(
                        announce
                            .counties
                            .iter()
                            .map(|c| AreaKey::county(c))
                            .collect(),
                    );
                    request.except = announce.except.iter().map(|c| AreaKey::county(c)).collect();
                }
                (request, None)
            })
            .collect();
        let candidates = requests.len();
        // In chunks, each started only with the time to claim, send and record it: what is
        // not reached now is reached by the next poll (the feed is then not remembered as
        // handled), never left half-recorded. A feed alert Alexa refuses would be refused at
        // every poll: it is recorded as final and counted, and does not fail the poll or hold
        // back the other alerts.
        let mut results = Vec::new();
        let mut deferred = 0;
        while !requests.is_empty() {
            if deadline.saturating_duration_since(Instant::now()) < CHUNK_TIME {
                deferred = requests.len();
                tracing::warn!(
                    deferred,
                    "no time left in this poll for the remaining alerts; the next poll sends them"
                );
                break;
            }
            let rest = requests.split_off(requests.len().min(CHUNK));
            let chunk = std::mem::replace(&mut requests, rest);
            results.extend(
                notifier
                    .send_requests(chunk, deadline, holder, OnRefusal::Record)
                    .await?,
            );
        }
        let refused = distinct_alerts(&results, |d| d.status == Status::Refused);
        // Only now, and only if every alert was reached: a poll that failed or stopped part-way
        // must see the same feed as new next time.
        if deferred == 0 {
            feed.remember(validators);
        }
        let mut skipped = plan.skipped_counts();
        if no_county > 0 {
            skipped.insert("noCounty", no_county);
        }
        let announced = distinct_alerts(&results, Delivery::is_settled)
            + results
                .iter()
                .filter(|o| matches!(o, Outcome::Queued(_)))
                .count();
        crate::metrics::emit(
            &[],
            &[
                (
                    "AlertsSeen",
                    (parsed.alerts.len() + parsed.malformed.len()) as u64,
                ),
                ("AlertsAnnounced", announced as u64),
                ("AlertsSkipped", skipped.values().sum::<usize>() as u64),
                ("Escalations", plan.escalations() as u64),
                ("AlertsRefused", refused as u64),
                ("AlertsDeferred", deferred as u64),
            ],
        );
        Ok(PollReport {
            feed: FeedSummary {
                url: feed.url().to_owned(),
                status: 200,
                changed: true,
                alerts: Some(parsed.alerts.len() + parsed.malformed.len()),
                candidates: Some(candidates),
                skipped: Some(skipped),
                refused: Some(refused),
                deferred: Some(deferred),
                escalations: Some(plan.escalations()),
            },
            results,
        })
    }
}
