//! The scheduled rule's job: poll the weather-alert feed and announce each new alert once.
//!
//! A poll sees the same alerts again and again; the state table's claims (see
//! [`crate::state`]) make each one announced once. An `Update` of an announced alert is not
//! announced again, and is itself recorded as announced so that its own updates are not either.

pub mod feed;
pub mod nws;

use std::collections::BTreeMap;

use lambda_runtime::tracing;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::config::{vars, Config, Severity};
use crate::error::HandlerError;
use crate::notifier::Notifier;
use crate::proactive::event::reference_id;
use crate::proactive::schemas::WEATHER_ALERT;
use crate::proactive::NotificationRequest;
use crate::state::{Claim, ClaimOutcome, StateStore};
use crate::triggers::Tick;

pub use feed::{Feed, FeedError, Fetched};
use nws::{Alert, Skip};

pub struct Poller {
    feed: Option<Feed>,
    min_severity: Severity,
}

impl Poller {
    pub fn new(config: &Config) -> Self {
        Poller {
            feed: config
                .weather_feed_url
                .clone()
                .map(|url| Feed::new(url, &config.skill_id)),
            min_severity: config.weather_min_severity,
        }
    }

    /// One poll: fetch, pick the alerts to announce, send them through `notifier`.
    pub async fn poll(
        &self,
        tick: &Tick,
        notifier: &Notifier,
        deadline: Instant,
        holder: &str,
    ) -> Result<Value, HandlerError> {
        let feed = self.feed.as_ref().ok_or(HandlerError::NotConfigured {
            what: "the scheduled weather poll",
            var: vars::WEATHER_FEED_URL,
            fix: "set it to an NWS alerts URL such as https://api.weather.gov/alerts/active?area=OK (the SAM template's WeatherFeedUrl), or remove the schedule",
        })?;
        // Checked before the feed is read: without a record of what was announced, every
        // poll would announce the same alerts again.
        let state = notifier.state().ok_or(HandlerError::NotConfigured {
            what: "the scheduled weather poll",
            var: vars::STATE_TABLE,
            fix: "without a state table every poll would announce the same alerts again; set it to the DynamoDB table the SAM template creates",
        })?;
        tracing::info!(tick = tick.id, rules = ?tick.rules, feed = feed.url(), "polling the weather feed");
        let (body, validators) = match feed.fetch(deadline).await? {
            Fetched::NotModified => {
                tracing::info!(feed = feed.url(), "feed unchanged since the last poll");
                return Ok(
                    json!({"feed": {"url": feed.url(), "status": 304, "changed": false}, "results": []}),
                );
            }
            Fetched::Changed { body, validators } => (body, validators),
        };
        let parsed = nws::parse(&body).map_err(|problem| FeedError::Malformed {
            url: feed.url().to_owned(),
            problem,
        })?;
        let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
        for problem in &parsed.malformed {
            tracing::warn!(problem, "feed alert skipped: malformed");
            *skipped.entry(Skip::Malformed.key()).or_default() += 1;
        }
        let mut requests = Vec::new();
        // Alerts this poll may announce, for updates that arrive in the same feed as the
        // alert they update: the alert is announced, the update is not.
        let verdicts: Vec<_> = parsed
            .alerts
            .iter()
            .map(|alert| (alert, nws::verdict(alert, self.min_severity)))
            .collect();
        let announcing: std::collections::HashSet<&str> = verdicts
            .iter()
            .filter(|(alert, verdict)| alert.message_type == "Alert" && verdict.is_ok())
            .map(|(alert, _)| alert.id.as_str())
            .collect();
        for (alert, verdict) in verdicts {
            let alert_type = match verdict {
                Ok(alert_type) => alert_type,
                Err(skip) => {
                    tracing::debug!(
                        id = alert.id,
                        event = alert.event,
                        reason = skip.key(),
                        "feed alert skipped"
                    );
                    *skipped.entry(skip.key()).or_default() += 1;
                    continue;
                }
            };
            let in_this_poll = alert
                .references
                .iter()
                .any(|r| announcing.contains(r.as_str()));
            if alert.message_type == "Update"
                && (in_this_poll || update_of_announced(state.as_ref(), alert, holder).await?)
            {
                tracing::info!(
                    id = alert.id,
                    event = alert.event,
                    "update of an announced alert; not announced again"
                );
                *skipped.entry(Skip::UpdateOfAnnounced.key()).or_default() += 1;
                continue;
            }
            tracing::info!(
                id = alert.id,
                event = alert.event,
                alert_type,
                area = alert.area_desc,
                "feed alert to announce"
            );
            let request = NotificationRequest::multicast_weather_alert(
                alert_type,
                &alert.sender_name,
                alert.id.clone(),
                alert.expiry(),
            );
            requests.push((request, None));
        }
        let candidates = requests.len();
        let results = notifier.send_requests(requests, deadline, holder).await?;
        // Only now: a poll that failed part-way must see the same feed as new next time.
        feed.remember(validators);
        Ok(json!({
            "feed": {
                "url": feed.url(),
                "status": 200,
                "changed": true,
                "alerts": parsed.alerts.len() + parsed.malformed.len(),
                "candidates": candidates,
                "skipped": skipped,
            },
            "results": results,
        }))
    }
}

/// Whether `alert` updates an alert that was announced; if so it is recorded as announced
/// too, so that an update of this update is recognised even if it names only this one.
async fn update_of_announced(
    state: &dyn StateStore,
    alert: &Alert,
    holder: &str,
) -> Result<bool, HandlerError> {
    let mut announced = false;
    for earlier in &alert.references {
        if state
            .was_sent(&reference_id(WEATHER_ALERT, earlier))
            .await?
        {
            announced = true;
            break;
        }
    }
    if !announced {
        return Ok(false);
    }
    let now = chrono::Utc::now();
    let claim = Claim {
        reference_id: reference_id(WEATHER_ALERT, &alert.id),
        holder: holder.to_owned(),
        lease_until: now,
        expires_at: alert.expiry().unwrap_or(now + chrono::Duration::hours(24)),
    };
    if state.claim(&claim).await? == ClaimOutcome::Claimed {
        state.complete(&claim).await?;
    }
    Ok(true)
}
