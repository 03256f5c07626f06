//! The scheduled rule's job: poll the weather-alert feed and announce each hazard event once
//! to each place it concerns, again only when its danger rises.
//!
//! - [`alert`] is the feed-neutral model every feed is read into (alerts, event keys,
//!   levels, places, why a message is skipped);
//! - [`feed`] is a feed ([`AlertFeed`]: fetch and read), [`client`] its HTTP side, [`nws`] and
//!   [`vtec`] the NWS format;
//! - [`memory`] is what each event's places heard, kept in the ledger between polls;
//! - [`plan`] decides the poll as a whole (pure);
//! - [`Poller`] runs the steps: fetch, look up, decide, send, record.

pub mod alert;
pub mod cap;
pub mod client;
pub mod dwd;
pub mod feed;
pub mod memory;
pub mod meteoalarm;
pub mod nws;
pub mod plan;
mod settings;
mod severity;
pub mod vtec;

use std::collections::{BTreeMap, HashMap, HashSet};

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::clock::Clock;
use serde::Serialize;
use tokio::time::Instant;

use crate::alexa::{Delivery, Status};
use crate::event::{NotificationRequest, Watch};
use crate::ledger::Ledger;
use crate::notifier::{NotSent, Notifier, OnRefusal, Outcome, SendError};
use crate::skill::speech::LOCALES;
use crate::state::StateError;
use crate::vars;

pub use alert::{Alert, Alerts, EventKey, Level, Place, Skip};
pub use client::{FeedClient, FeedError, Validators};
pub use feed::{AlertFeed, MemoryFeed, NwsFeed, Polled};
pub use settings::{Audience, FeedKind, FeedSpec, Settings};
pub use severity::Severity;

/// The feed a configuration entry names, in its format.
fn open_feed(spec: FeedSpec, skill_id: &str, contact: Option<&str>) -> Arc<dyn AlertFeed> {
    let kind = spec.kind;
    let client = FeedClient::new(spec, skill_id, contact);
    match kind {
        FeedKind::Nws => Arc::new(NwsFeed::new(client)),
        FeedKind::Dwd => Arc::new(dwd::DwdFeed::new(client)),
        FeedKind::MeteoAlarm => Arc::new(meteoalarm::MeteoAlarmFeed::new(client)),
    }
}

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

    /// Some feeds failed while the others were handled: the invocation fails so that it is
    /// retried, and the retry finds what the others announced recorded. `cause` is the first
    /// failure (its `errorType`), `failures` every one, each naming its feed.
    #[error("{failures}; the invocation fails so that it is retried ({handled})")]
    OneOfSeveral {
        cause: Box<PollError>,
        failures: String,
        handled: String,
    },

    /// Not even one announcement could be started: the function's timeout is too short
    /// for a poll (deferring every time would never send anything, and show nothing).
    #[error("the poll had {left_ms} ms left for {announcements} announcement(s), and a send needs at least {needed_ms} ms (a POST, then the records and the answer): raise the function's timeout (the SAM template's Timeout, 30 s); nothing was sent, the invocation fails so that it shows, and the next poll tries again")]
    TooShort {
        left_ms: u64,
        needed_ms: u64,
        announcements: usize,
    },
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
            PollError::TooShort { .. } => "TimeoutTooShort",
            PollError::OneOfSeveral { cause, .. } => cause.error_type(),
        }
    }
}

/// The answer to a poll: what it made of each feed, in the configured order, and the sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollReport {
    pub feeds: Vec<FeedSummary>,
    pub results: Vec<Outcome>,
}

/// What the poll made of one feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedSummary {
    /// `nws`, `dwd`, `meteoalarm`.
    pub kind: &'static str,
    pub url: String,
    /// The feed's HTTP status: 200, or 304 when unchanged since the last poll; none when it
    /// could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub changed: bool,
    /// Why the feed could not be read or its alerts not handled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Alerts in the feed, malformed ones included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<usize>,
    /// Hazard events of the feed that the poll decided (an event's messages, its segments
    /// and updates, count once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<usize>,
    /// Announcements the plan makes (each may still turn out sent before).
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
    /// Events announced again because their danger rose (among the candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalations: Option<usize>,
    /// Events announced to places that had not heard them (among the candidates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extensions: Option<usize>,
    /// Event records made without a send (events ended, chains continued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<usize>,
}

impl FeedSummary {
    fn unchanged(feed: &dyn AlertFeed) -> Self {
        FeedSummary {
            status: Some(304),
            ..FeedSummary::failed(feed, None)
        }
    }

    fn failed(feed: &dyn AlertFeed, error: Option<&PollError>) -> Self {
        FeedSummary {
            kind: feed.kind(),
            url: feed.url().to_owned(),
            status: None,
            changed: false,
            error: error.map(ToString::to_string),
            alerts: None,
            events: None,
            candidates: None,
            skipped: None,
            refused: None,
            deferred: None,
            escalations: None,
            extensions: None,
            recorded: None,
        }
    }
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
/// How many announcements are claimed, sent and recorded together.
const CHUNK: usize = 50;
/// The time a chunk is started with at least, whatever its size: the least time a POST is
/// started with (the sender's POSTs run 32 at a time and each is cut to the time left; it
/// stops retrying by itself when time runs short, and what it could not send fails the poll,
/// released, for the retry), then the time kept to record and to answer.
const CHUNK_TIME: std::time::Duration = crate::alexa::sender::MIN_POST_TIME
    .saturating_add(crate::budget::RECORD_RESERVE)
    .saturating_add(crate::budget::REPORT_RESERVE);

pub struct Poller {
    feeds: Vec<Arc<dyn AlertFeed>>,
    min_severity: Severity,
    contact_missing: bool,
    clock: Arc<dyn Clock>,
    audience: Audience,
}

/// What the send step did.
struct Sent {
    results: Vec<Outcome>,
    /// Announcements not reached for lack of time (the next poll sends them).
    deferred: usize,
    /// Groups with an announcement not reached: their records wait for it.
    waiting: HashSet<usize>,
    /// An announcement's record was found made already (a retry, or another poll).
    contested: bool,
}

impl Poller {
    pub fn new(settings: &Settings, clock: Arc<dyn Clock>) -> Self {
        let feeds = settings
            .feeds
            .iter()
            .map(|spec| {
                open_feed(
                    spec.clone(),
                    &settings.skill_id,
                    settings.contact.as_deref(),
                )
            })
            .collect();
        Poller {
            clock,
            audience: settings.audience,
            feeds,
            min_severity: settings.min_severity,
            contact_missing: settings.contact.is_none(),
        }
    }

    /// The same poll over other feeds (in-memory ones in tests).
    pub fn with_feeds(mut self, feeds: Vec<Arc<dyn AlertFeed>>) -> Self {
        self.feeds = feeds;
        self.contact_missing = false;
        self
    }

    /// The same poll over one other feed.
    pub fn with_feed(self, feed: Arc<dyn AlertFeed>) -> Self {
        self.with_feeds(vec![feed])
    }

    /// One poll of every feed: fetch them all at once, then for each changed one look up
    /// what each event's places heard, decide, send, record. A feed that cannot be read (or
    /// whose announcements fail) does not hold back the others; the poll then fails, naming
    /// it, so that it is retried, and the retry finds the others' announcements recorded.
    pub async fn poll(
        &self,
        notifier: &Notifier,
        ledger: Option<&Ledger>,
        deadline: Instant,
        holder: &str,
    ) -> Result<PollReport, PollError> {
        let ledger = self.configured(ledger)?;
        if self.contact_missing {
            tracing::warn!(
                "WEATHER_FEED_CONTACT is not set: NWS asks for a contact (website or email) in the User-Agent, so that it can reach you before blocking a client"
            );
        }
        let fetched =
            futures_util::future::join_all(self.feeds.iter().map(|f| f.fetch(deadline))).await;
        let mut report = PollReport {
            feeds: Vec::with_capacity(self.feeds.len()),
            results: Vec::new(),
        };
        let mut failures: Vec<PollError> = Vec::new();
        for (feed, fetched) in self.feeds.iter().zip(fetched) {
            let feed = feed.as_ref();
            tracing::info!(
                feed = feed.url(),
                kind = feed.kind(),
                "polling the weather feed"
            );
            let handled = match fetched {
                Err(err) => Err(PollError::Feed(err)),
                Ok(Polled::NotModified) => {
                    tracing::info!(feed = feed.url(), "feed unchanged since the last poll");
                    report.feeds.push(FeedSummary::unchanged(feed));
                    continue;
                }
                Ok(Polled::Changed { alerts, validators }) => {
                    // Only the first feed with announcements may find the timeout too short
                    // for any: later ones are deferred to the next poll.
                    let first = report.results.is_empty();
                    self.handle(
                        feed, alerts, validators, notifier, ledger, deadline, holder, first,
                    )
                    .await
                }
            };
            match handled {
                Ok((summary, results)) => {
                    report.feeds.push(summary);
                    report.results.extend(results);
                }
                Err(err) => {
                    tracing::error!(feed = feed.url(), error = %err, "weather feed not handled");
                    report.feeds.push(FeedSummary::failed(feed, Some(&err)));
                    failures.push(err);
                }
            }
        }
        match failures.len() {
            0 => Ok(report),
            _ if self.feeds.len() == 1 => Err(failures.remove(0)),
            failed => {
                let handled = self.feeds.len() - failed;
                // A feed error alone (not PollError::Feed's text, which says nothing was
                // announced: the other feeds were).
                let each: Vec<String> = failures
                    .iter()
                    .map(|f| match f {
                        PollError::Feed(err) => err.to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                Err(PollError::OneOfSeveral {
                    failures: each.join("; "),
                    cause: Box::new(failures.remove(0)),
                    handled: format!(
                        "{failed} of {} feeds failed; the other {handled} were handled, {} announcement(s) sent or queued",
                        self.feeds.len(),
                        report.results.len()
                    ),
                })
            }
        }
    }

    /// One changed feed: look up, decide, send, record; remembered only when all of it was
    /// handled by this poll.
    #[allow(clippy::too_many_arguments)]
    async fn handle(
        &self,
        feed: &dyn AlertFeed,
        alerts: Alerts,
        validators: Validators,
        notifier: &Notifier,
        ledger: &Ledger,
        deadline: Instant,
        holder: &str,
        first: bool,
    ) -> Result<(FeedSummary, Vec<Outcome>), PollError> {
        for problem in &alerts.malformed {
            tracing::warn!(feed = feed.url(), problem, "feed alert skipped: malformed");
        }
        let chains = self.look_up(ledger, &alerts.alerts, deadline).await?;
        let places_matter = self.audience == Audience::Located;
        let plan = plan::plan(
            &alerts.alerts,
            alerts.malformed.len(),
            self.min_severity,
            places_matter,
            &chains,
        );
        log_decisions(&plan);
        let sent = self
            .send(notifier, &plan, places_matter, deadline, holder, first)
            .await?;
        let (recorded, contested) = self
            .record(ledger, &plan, &sent.waiting, deadline, holder)
            .await?;
        for key in &plan.full {
            tracing::error!(
                event_key = %key,
                records = memory::MAX_RECORDS,
                "this event's record chain is full: it is not announced again (nothing is sent twice)"
            );
        }
        // Only now, and only if every announcement was reached and every record was this
        // poll's: a poll that failed or stopped part-way, or found a record number taken by
        // another poll (which may have decided other news), must see the same feed as new
        // next time, and read the chains again.
        if sent.deferred == 0 && !sent.contested && !contested {
            feed.remember(validators);
        }
        Ok(self.report(feed, &alerts, &plan, sent, recorded))
    }

    fn configured<'a>(&'a self, ledger: Option<&'a Ledger>) -> Result<&'a Ledger, PollError> {
        if self.feeds.is_empty() {
            return Err(PollError::NotConfigured {
                what: "the scheduled weather poll",
                var: vars::WEATHER_FEEDS,
                fix: "set it to the feeds to poll as kind=URL entries, e.g. nws=https://api.weather.gov/alerts/active?area=OK (the SAM template's WeatherFeeds), or remove the schedule",
            });
        }
        // Checked before the feed is read: without a record of what was announced, every
        // poll would announce the same alerts again.
        ledger.ok_or(PollError::NotConfigured {
            what: "the scheduled weather poll",
            var: vars::STATE_TABLE,
            fix: "without a state table every poll would announce the same alerts again; set it to the DynamoDB table the SAM template creates",
        })
    }

    /// Reads the record chains of the feed's events, then, for events found under none of
    /// their own keys, the other names they may be remembered under.
    async fn look_up(
        &self,
        ledger: &Ledger,
        alerts: &[Alert],
        deadline: Instant,
    ) -> Result<HashMap<EventKey, memory::Chain>, PollError> {
        let mut chains =
            memory::read_many(ledger, &plan::keys_to_read(alerts), 0, deadline).await?;
        let aliases = plan::aliases_to_read(alerts, &chains);
        chains.extend(memory::read_many(ledger, &aliases, 0, deadline).await?);
        Ok(chains)
    }

    /// Sends the announcements in chunks, each started only with the time to claim, send and
    /// record it: what is not reached now is reached by the next poll (the feed is then not
    /// remembered as handled), never left half-recorded. An announcement Alexa refuses would
    /// be refused at every poll: it is recorded as final and counted, and does not fail the
    /// poll or hold back the others.
    async fn send(
        &self,
        notifier: &Notifier,
        plan: &plan::Plan<'_>,
        places_matter: bool,
        deadline: Instant,
        holder: &str,
        first: bool,
    ) -> Result<Sent, PollError> {
        let now = self.clock.now();
        let keep = now + memory::KEEP_AT_LEAST;
        let mut requests: Vec<(usize, NotificationRequest)> = plan
            .announce
            .iter()
            .map(|a| {
                let mut request = NotificationRequest::multicast_weather_alert(
                    a.alert_type,
                    &a.alert.sender_name,
                    memory::record_id(&a.key, a.record),
                    a.ends,
                    &LOCALES,
                );
                request.tag = Some(a.memory.encode());
                request.record_until = Some(keep);
                if places_matter {
                    request.area = Some(a.places.clone());
                    request.except = a.except.clone();
                    request.watch = Some(Watch {
                        key: a.key.as_str().to_owned(),
                        record: a.record,
                    });
                }
                (a.group, request)
            })
            .collect();
        let mut sent = Sent {
            results: Vec::new(),
            deferred: 0,
            waiting: HashSet::new(),
            contested: false,
        };
        let total = requests.len();
        while !requests.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < CHUNK_TIME && requests.len() == total && first {
                return Err(PollError::TooShort {
                    left_ms: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                    needed_ms: u64::try_from(CHUNK_TIME.as_millis()).unwrap_or(u64::MAX),
                    announcements: total,
                });
            }
            if left < CHUNK_TIME {
                sent.deferred = requests.len();
                sent.waiting = requests.iter().map(|(g, _)| *g).collect();
                tracing::warn!(
                    deferred = sent.deferred,
                    "no time left in this poll for the remaining announcements; the next poll sends them"
                );
                break;
            }
            let rest = requests.split_off(requests.len().min(CHUNK));
            let chunk = std::mem::replace(&mut requests, rest);
            let chunk = chunk.into_iter().map(|(_, r)| (r, None)).collect();
            sent.results.extend(
                notifier
                    .send_requests(chunk, deadline, holder, OnRefusal::Record)
                    .await?,
            );
        }
        sent.contested = sent.results.iter().any(|o| {
            matches!(
                o,
                Outcome::NotSent(NotSent::AlreadySent { region: None, .. })
                    | Outcome::NotSent(NotSent::AlreadyRefused { .. })
            )
        });
        Ok(sent)
    }

    /// Makes the records that need no send (an event ended somewhere, a chain without VTEC
    /// continued), except for groups whose announcements are still to be sent. How many, and
    /// whether one was found made already.
    async fn record(
        &self,
        ledger: &Ledger,
        plan: &plan::Plan<'_>,
        waiting: &HashSet<usize>,
        deadline: Instant,
        holder: &str,
    ) -> Result<(usize, bool), PollError> {
        let now = self.clock.now();
        let keep = now + memory::KEEP_AT_LEAST;
        let records: Vec<&plan::Record> = plan
            .records
            .iter()
            .filter(|r| !waiting.contains(&r.group))
            .collect();
        let marks: Vec<_> = stream::iter(records.iter().map(|r| {
            ledger.mark_announced(
                memory::record_reference(&r.key, r.record),
                holder,
                now,
                r.ends.map_or(keep, |e| e.max(keep)),
                Some(r.memory.encode()),
                deadline,
            )
        }))
        .buffered(LOOKUP_CONCURRENCY)
        .collect()
        .await;
        let made = marks.into_iter().collect::<Result<Vec<bool>, _>>()?;
        Ok((records.len(), made.iter().any(|m| !m)))
    }

    fn report(
        &self,
        feed: &dyn AlertFeed,
        alerts: &Alerts,
        plan: &plan::Plan<'_>,
        sent: Sent,
        recorded: usize,
    ) -> (FeedSummary, Vec<Outcome>) {
        let Sent {
            results, deferred, ..
        } = sent;
        let refused = distinct_alerts(&results, |d| d.status == Status::Refused);
        let skipped = plan.skipped_counts();
        let announced = distinct_alerts(&results, Delivery::is_settled)
            + results
                .iter()
                .filter(|o| matches!(o, Outcome::Queued(_)))
                .count();
        let seen = alerts.alerts.len() + alerts.malformed.len();
        let escalations = plan.count(plan::Why::Escalation);
        let extensions = plan.count(plan::Why::Extension);
        crate::metrics::emit(
            &[],
            &[
                ("AlertsSeen", seen as u64),
                ("AlertsAnnounced", announced as u64),
                ("AlertsSkipped", skipped.values().sum::<usize>() as u64),
                ("Escalations", escalations as u64),
                ("Extensions", extensions as u64),
                ("AlertsRefused", refused as u64),
                ("AlertsDeferred", deferred as u64),
            ],
        );
        (
            FeedSummary {
                kind: feed.kind(),
                url: feed.url().to_owned(),
                status: Some(200),
                changed: true,
                error: None,
                alerts: Some(seen),
                events: Some(plan.events),
                candidates: Some(plan.announce.len()),
                skipped: Some(skipped),
                refused: Some(refused),
                deferred: Some(deferred),
                escalations: Some(escalations),
                extensions: Some(extensions),
                recorded: Some(recorded),
            },
            results,
        )
    }
}

fn log_decisions(plan: &plan::Plan<'_>) {
    for (alert, skip) in &plan.skipped {
        tracing::debug!(
            id = alert.id,
            event = alert.event,
            reason = skip.key(),
            "feed alert not announced"
        );
    }
    for a in &plan.announce {
        tracing::info!(
            event_key = %a.key,
            record = a.record,
            id = a.alert.id,
            event = a.alert.event,
            alert_type = a.alert_type,
            area = a.alert.area_desc,
            why = ?a.why,
            level = a.level.encode(),
            places = a.places.len(),
            "weather event to announce"
        );
    }
}

#[cfg(test)]
mod tests;
