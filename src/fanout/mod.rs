//! The fan-out: an alert for a place becomes one Unicast per subscribed user there, sent
//! through an SQS queue that the same function consumes, exactly once per (alert, user).
//!
//! - The invocation that decides an alert (a poll, a trigger with an `area`) claims the alert
//!   as for any send, then [`Fanout::start`]s it: one [`Work`] message for all its users.
//! - Each message is a range of users ([`plan`]): the invocation that receives it claims the
//!   range, and either splits it into smaller ranges (more messages, the split recorded on
//!   the claim first) or sends to its users: the subscribed ones, in their own region, at
//!   most `FANOUT_SEND_RATE` per second per instance.
//! - A range's claim records the users reached (by hash) as it goes: a redelivered message, a
//!   Lambda retry or a second copy sends only to the users not reached. Nothing is sent
//!   without the claim; a range that could not finish is released with what it reached and
//!   its message fails (SQS brings it back; after 5 receives it goes to the dead-letter
//!   queue). State-table writes: two per range of about a hundred users.
//! - A weather alert's message names its event's record chain ([`Work::watch`]): before a
//!   range starts, and every second while it sends, the fan-out asks [`EventStatus`] where
//!   the event has ended since (a cancellation the poll saw), and sends nothing there.

mod forbidden;
mod pace;
pub mod plan;
mod work;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tokio::time::Instant;

use crate::alexa::{EventsApi, Post, Region, Status};
use crate::area::Place;
use crate::budget::{self, RECORD_RESERVE};
use crate::clock::Clock;
use crate::event::Watch;
use crate::ledger::{self, Candidate, Held, Ledger};
use crate::metrics;
use crate::queue::{Queue, QueueError};
use crate::state::{HashRange, Recipient, StateError};
pub use work::Work;

/// Why the fan-out could not start an alert.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FanoutError {
    #[error("targeting users by place needs {var}: {fix}")]
    NotConfigured {
        var: &'static str,
        fix: &'static str,
    },
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl FanoutError {
    /// No fan-out queue is configured.
    pub const NO_QUEUE: FanoutError = FanoutError::NotConfigured {
        var: crate::vars::FANOUT_QUEUE_URL,
        fix: "set it to the URL of the SQS queue this function consumes (the SAM template's FanoutQueue), or set WEATHER_AUDIENCE=everyone to announce feed alerts to every subscriber",
    };
}

/// Where an event has ended since the record a fan-out message names: the poll's memory of
/// events answers ([`crate::weather::memory::Ended`]); the fan-out only asks.
pub trait EventStatus: Send + Sync {
    fn ended<'a>(
        &'a self,
        ledger: &'a Ledger,
        watch: &'a Watch,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<BTreeSet<Place>, StateError>> + 'a>>;
}

/// How many messages of one SQS batch are worked on at once (they share the send rate).
const RECORD_CONCURRENCY: usize = 10;
/// A send is started only with this much time left (as the sender does).
const MIN_SEND_TIME: Duration = crate::alexa::sender::MIN_POST_TIME;
/// How often a leaf records the users it reached while sending.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);
/// How many times a range short of time hands itself on to a copy of its message; after
/// that its message fails and comes back with SQS's own receive count (then the DLQ).
const MAX_HOPS: u32 = 20;

/// One message of the queue, as the adapter hands it over: its id (what a failure is
/// reported by) and its body.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: String,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Handled {
    /// Sent to the range's users (`sent`), the others were done before or not subscribed.
    Sent {
        range: String,
        users: usize,
        sent: usize,
        not_subscribed: usize,
        done_before: usize,
        unsubscribed: usize,
    },
    /// Split into `parts` messages.
    Split { range: String, parts: usize },
    /// Finished by an earlier delivery of the message (or its copy).
    AlreadyDone { range: String },
    /// The event expired before it was sent: nothing to do.
    Expired,
    /// The event ended (cancelled, expired at its source) in every place of the range before
    /// it was sent to everyone: the users reached are recorded, nobody else is sent it.
    Cancelled {
        range: String,
        sent: usize,
        left: usize,
    },
    /// Time ran short: what was reached is recorded and a copy of the message is queued for
    /// the rest.
    Continued {
        range: String,
        sent: usize,
        left: usize,
    },
    /// Failed: the record comes back (SQS); `reason` says why.
    Failed { reason: String },
}

/// What became of a batch of messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumed {
    /// The ids of the messages that failed: they must come back.
    pub failed: Vec<String>,
    /// Every message's outcome, in the batch's order.
    pub handled: Vec<Handled>,
}

pub struct Fanout {
    queue: Option<Arc<dyn Queue>>,
    alexa: Arc<dyn EventsApi>,
    /// Where a user without a recorded region is sent (the first of ALEXA_REGIONS).
    default_region: Region,
    /// Unicasts per second, for the whole instance: at most the setting, slower while Alexa
    /// throttles.
    pace: pace::Pace,
    clock: Arc<dyn Clock>,
    status: Option<Arc<dyn EventStatus>>,
    /// The instance's Unicast answers of the last minute: a 403 is the user's own only where
    /// others are accepted.
    recent: forbidden::Recent,
}

impl Fanout {
    /// Messages that name an event's record chain are checked with `status`.
    pub fn with_status(mut self, status: Arc<dyn EventStatus>) -> Self {
        self.status = Some(status);
        self
    }

    /// The places of `work` where its event has not ended (all of them without a watch).
    async fn live_areas(
        &self,
        ledger: &Ledger,
        work: &Work,
        deadline: Instant,
    ) -> Result<Vec<crate::state::AreaKey>, StateError> {
        let (Some(status), Some(watch)) = (&self.status, &work.watch) else {
            return Ok(work.areas.clone());
        };
        let ended: BTreeSet<_> = status
            .ended(ledger, watch, deadline)
            .await?
            .iter()
            .map(Place::key)
            .collect();
        Ok(work
            .areas
            .iter()
            .filter(|a| !ended.contains(*a))
            .cloned()
            .collect())
    }

    pub fn new(
        queue: Option<Arc<dyn Queue>>,
        alexa: Arc<dyn EventsApi>,
        default_region: Region,
        rate: u32,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Fanout {
            queue,
            alexa,
            default_region,
            pace: pace::Pace::new(rate),
            clock,
            status: None,
            recent: forbidden::Recent::default(),
        }
    }

    fn queue(&self) -> Result<&dyn Queue, FanoutError> {
        self.queue.as_deref().ok_or(FanoutError::NO_QUEUE)
    }

    /// Checks, before anything is claimed, that alerts can be fanned out.
    pub fn check(&self) -> Result<(), FanoutError> {
        self.queue().map(|_| ())
    }

    /// Queues the first message of each alert.
    pub async fn start(&self, works: &[Work], deadline: Instant) -> Result<(), FanoutError> {
        self.start_until(works, budget::earlier(deadline, RECORD_RESERVE))
            .await
    }

    /// Queues messages, giving up at `until`.
    async fn start_until(&self, works: &[Work], until: Instant) -> Result<(), FanoutError> {
        let queue = self.queue()?;
        let bodies: Vec<String> = works.iter().map(Work::to_body).collect();
        tokio::time::timeout_at(until, queue.send_all(&bodies))
            .await
            .unwrap_or_else(|_| {
                Err(QueueError::Unavailable {
                    queue: "fan-out".into(),
                    detail: "no answer before the invocation's deadline".into(),
                })
            })?;
        Ok(())
    }

    /// Works on one SQS batch. A record fails (and comes back) only when what it asks could
    /// not be done; everything done is recorded first.
    pub async fn consume(
        &self,
        ledger: &Ledger,
        messages: Vec<Message>,
        deadline: Instant,
        holder: &str,
    ) -> Consumed {
        let pacer = pace::Pacer::new(&self.pace);
        let handled: Vec<(String, Handled)> = stream::iter(messages.into_iter().map(|message| {
            let pacer = &pacer;
            async move {
                let handled = self.one(ledger, &message, deadline, holder, pacer).await;
                (message.id, handled)
            }
        }))
        .buffered(RECORD_CONCURRENCY)
        .collect()
        .await;
        let mut report = Consumed {
            failed: Vec::new(),
            handled: Vec::with_capacity(handled.len()),
        };
        for (id, handled) in handled {
            if let Handled::Failed { reason } = &handled {
                tracing::warn!(
                    message_id = id,
                    reason,
                    "fan-out message failed; SQS brings it back"
                );
                report.failed.push(id);
            }
            report.handled.push(handled);
        }
        report
    }

    async fn one(
        &self,
        ledger: &Ledger,
        record: &Message,
        deadline: Instant,
        holder: &str,
        pacer: &pace::Pacer<'_>,
    ) -> Handled {
        let failed = |reason: String| Handled::Failed { reason };
        let work = match Work::parse(&record.body) {
            Ok(work) => work,
            // It can never succeed: it fails until SQS moves it to the dead-letter queue,
            // where it can be read.
            Err(err) => return failed(format!("malformed fan-out message: {err}")),
        };
        let now = self.clock.now();
        // Alexa takes an event only with at least five minutes left: one closer to its end is
        // as good as expired.
        let expiry = work.expiry();
        if expiry < now + crate::event::MIN_LIFETIME {
            tracing::info!(
                alert = work.alert,
                "the alert's event expired (or has less than Alexa's five minutes left) before it was sent to these users"
            );
            return Handled::Expired;
        }
        let range = work.range.name();
        let work = match self.live_areas(ledger, &work, deadline).await {
            Ok(areas) if areas.is_empty() => {
                tracing::info!(
                    alert = work.alert,
                    range,
                    "the alert's event ended in every place of this range; nothing sent"
                );
                metrics::emit(&[], &[("FanoutCancelled", 1)]);
                return Handled::Cancelled {
                    range,
                    sent: 0,
                    left: 0,
                };
            }
            Ok(areas) => Work { areas, ..work },
            Err(err) => return failed(err.to_string()),
        };
        let work = &work;
        let candidate = Candidate {
            item: (),
            reference_id: plan::range_reference(&work.alert, work.range),
            expires_at: expiry,
            ends_at: work.ends_at,
            tag: None,
        };
        let claim = match ledger
            .claim_one(
                candidate,
                holder,
                ledger::lease_end(now, deadline),
                deadline,
            )
            .await
        {
            Ok(Ok(claim)) => claim,
            Ok(Err(Held::InProgress { .. })) => {
                return failed(format!(
                    "range {range} of alert {} is being sent by another invocation",
                    work.alert
                ))
            }
            Ok(Err(_)) => return Handled::AlreadyDone { range },
            Err(err) => return failed(err.to_string()),
        };
        let split = match plan::recorded_split(&claim.done) {
            Some(bits) => Some(bits),
            None if claim.done.is_empty() => {
                match self.decide_split(ledger, work, &claim, deadline).await {
                    Ok(split) => split,
                    Err(err) => {
                        ledger
                            .release_all(std::slice::from_ref(&claim), deadline)
                            .await;
                        return failed(err.to_string());
                    }
                }
            }
            // Users were reached already: this range is a leaf.
            None => None,
        };
        match split {
            Some(bits) => self.split(ledger, work, claim, bits, deadline).await,
            None => self.leaf(ledger, work, claim, deadline, pacer).await,
        }
    }

    /// Counts the range; if it is too big for one invocation, records the split on the claim
    /// before any part is queued.
    async fn decide_split(
        &self,
        ledger: &Ledger,
        work: &Work,
        claim: &crate::state::Claim,
        deadline: Instant,
    ) -> Result<Option<u8>, StateError> {
        let count = ledger.count_area(&work.areas, work.range, deadline).await?;
        if work.range == HashRange::ALL {
            tracing::info!(alert = work.alert, places = ?work.areas, users = count, "fanning out an alert");
            metrics::emit(&[], &[("FanoutAudience", count)]);
        }
        let Some(bits) = plan::split_bits(count, work.range) else {
            return Ok(None);
        };
        ledger
            .progress(claim, &[plan::split_marker(bits)], deadline)
            .await?;
        Ok(Some(bits))
    }

    async fn split(
        &self,
        ledger: &Ledger,
        work: &Work,
        claim: crate::state::Claim,
        bits: u8,
        deadline: Instant,
    ) -> Handled {
        let range = work.range.name();
        let parts: Vec<Work> = work
            .range
            .split(bits)
            .into_iter()
            .map(|r| work.child(r))
            .collect();
        if let Err(err) = self.start(&parts, deadline).await {
            // The split stays recorded: the retry queues the same parts.
            let done = vec![plan::split_marker(bits)];
            if let Err(state) = ledger.close(&claim, Some(&done), deadline).await {
                tracing::warn!(error = %state, "split not released; its lease lapses");
            }
            return Handled::Failed {
                reason: err.to_string(),
            };
        }
        if let Err(err) = ledger.close(&claim, None, deadline).await {
            // The parts are queued; a redelivery would queue the same parts again, and their
            // claims keep each user to one Unicast.
            tracing::warn!(error = %err, range, "split not recorded as done");
        }
        Handled::Split {
            range,
            parts: parts.len(),
        }
    }

    async fn leaf(
        &self,
        ledger: &Ledger,
        work: &Work,
        claim: crate::state::Claim,
        deadline: Instant,
        pacer: &pace::Pacer<'_>,
    ) -> Handled {
        let range = work.range.name();
        let event_name = work.event_name();
        let recipients = match self.recipients(ledger, work, deadline).await {
            Ok(recipients) => recipients,
            Err(err) => {
                ledger
                    .release_all(std::slice::from_ref(&claim), deadline)
                    .await;
                return Handled::Failed {
                    reason: err.to_string(),
                };
            }
        };
        let users = recipients.len();
        let mut done = claim.done.clone();
        let (subscribed, not_subscribed): (Vec<Recipient>, Vec<Recipient>) =
            recipients.into_iter().partition(|r| {
                r.subscriptions
                    .as_ref()
                    .is_some_and(|s| s.iter().any(|e| e == event_name))
            });
        let (targets, done_before): (Vec<Recipient>, Vec<Recipient>) = subscribed
            .into_iter()
            .partition(|r| !done.contains(&plan::user_marker(&r.user_id)));
        // The decision is kept before anything is sent: a retry after a crash must find this
        // range a leaf (a split would give its users new claims, blind to who was reached).
        if !targets.is_empty() && done.is_empty() {
            let leaf = [plan::LEAF_MARKER];
            if let Err(err) = ledger.progress(&claim, &leaf, deadline).await {
                ledger
                    .release_all(std::slice::from_ref(&claim), deadline)
                    .await;
                return Handled::Failed {
                    reason: err.to_string(),
                };
            }
            done.extend(leaf);
        }
        // Stamped as the sends start, not when the poll built the event.
        let stamped = self.clock.now();
        let mut posts = Vec::with_capacity(targets.len());
        let mut users_by_reference = HashMap::with_capacity(targets.len());
        // Each post's user's places: a user is not sent an alert whose event ended in every
        // place of theirs that the message names.
        let mut post_places: Vec<&[crate::state::AreaKey]> = Vec::with_capacity(targets.len());
        for recipient in &targets {
            post_places.push(&recipient.places);
            let reference_id = plan::unicast_reference(&work.alert, &recipient.user_id);
            let event = work
                .event
                .to_user(reference_id.clone(), &recipient.user_id, stamped);
            let region = recipient
                .region
                .as_deref()
                .and_then(Region::from_code)
                .unwrap_or(self.default_region);
            users_by_reference.insert(reference_id.clone(), recipient.user_id.as_str());
            posts.push((
                Post {
                    reference_id,
                    unicast: true,
                    body: serde_json::to_vec(&event).unwrap_or_default(),
                },
                vec![region],
            ));
        }
        let send_deadline = budget::earlier(deadline, RECORD_RESERVE);
        let mut tally = Tally::default();
        // Users reached but not yet recorded on the claim: recorded every PROGRESS_EVERY, so
        // that a crash (the process killed) repeats at most that much.
        let mut unrecorded: Vec<crate::state::Reached> = Vec::new();
        let mut recorded_at = Instant::now();
        let mut started = 0;
        let mut setup_error = None;
        let mut live = work.areas.clone();
        let mut checked_at = Instant::now();
        let mut cancelled = 0;
        let mut next = 0;
        while next < posts.len() {
            let all = &posts[next..(next + pacer.chunk()).min(posts.len())];
            let places = &post_places[next..next + all.len()];
            next += all.len();
            if checked_at.elapsed() >= PROGRESS_EVERY {
                checked_at = Instant::now();
                match self.live_areas(ledger, work, deadline).await {
                    Ok(areas) => live = areas,
                    Err(err) => {
                        tracing::warn!(error = %err, range, "the event's state could not be read; sending on");
                    }
                }
            }
            let chunk: Vec<(Post, Vec<Region>)> = all
                .iter()
                .zip(places)
                .filter(|(_, places)| places.iter().any(|p| live.contains(p)))
                .map(|(post, _)| post.clone())
                .collect();
            cancelled += all.len() - chunk.len();
            if chunk.is_empty() {
                started += all.len();
                continue;
            }
            if send_deadline.saturating_duration_since(Instant::now()) < MIN_SEND_TIME
                || !pacer.wait(chunk.len(), send_deadline - MIN_SEND_TIME).await
            {
                break;
            }
            started += all.len();
            let chunk = &chunk[..];
            let deliveries = match self.alexa.send_all(chunk, send_deadline).await {
                Ok(deliveries) => deliveries,
                Err(err) => {
                    setup_error = Some(err.to_string());
                    break;
                }
            };
            crate::alexa::metrics::emit(
                &deliveries,
                &deliveries
                    .iter()
                    .map(|d| (d.reference_id.clone(), event_name))
                    .collect(),
            );
            let before = tally.answers;
            for delivery in &deliveries {
                if let Some(user) = users_by_reference.get(delivery.reference_id.as_str()) {
                    if tally.count(user, delivery) {
                        unrecorded.push(plan::user_marker(user));
                    }
                }
            }
            let throttled: Vec<u32> = deliveries.iter().map(|d| d.throttled).collect();
            pacer.observe(
                deliveries.len(),
                throttled.iter().filter(|t| **t > 0).count(),
            );
            let throttles: u32 = throttled.iter().sum();
            if throttles > 0 {
                metrics::emit(&[], &[("Throttled", u64::from(throttles))]);
            }
            self.recent.add(forbidden::Counts {
                forbidden: tally.answers.forbidden - before.forbidden,
                answered: tally.answers.answered - before.answered,
            });
            if recorded_at.elapsed() >= PROGRESS_EVERY && started < posts.len() {
                if let Err(err) = ledger.progress(&claim, &unrecorded, deadline).await {
                    tracing::warn!(error = %err, range, "progress not recorded; stopping this range here");
                    break;
                }
                done.append(&mut unrecorded);
                recorded_at = Instant::now();
            }
        }
        done.append(&mut unrecorded);
        let left = posts.len() - started;
        metrics::emit(
            &[],
            &[("FanoutUnicasts", tally.sent as u64), ("FanoutBuckets", 1)],
        );
        // Users Alexa answered 403 are done with (and unsubscribed) only if the 403s are
        // theirs, not the configuration's.
        let systemic = forbidden::systemic(tally.answers, self.recent.counts());
        if systemic {
            metrics::emit(&[], &[("Forbidden", tally.unsubscribed.len() as u64)]);
            if self.recent.due_to_log() {
                tracing::error!(
                    alert = work.alert,
                    range,
                    forbidden = tally.answers.forbidden,
                    answered = tally.answers.answered,
                    "{}",
                    forbidden::LIKELY_CAUSES
                );
            }
        } else {
            done.extend(tally.unsubscribed.iter().map(|u| plan::user_marker(u)));
        }
        let failed: usize = tally.failures.values().sum();
        // Users not reached for lack of time are handed on (below), like those not started.
        let left = left + tally.late;
        let finished = failed == 0 && left == 0 && setup_error.is_none() && !systemic;
        if cancelled > 0 {
            tracing::info!(
                alert = work.alert,
                range,
                cancelled,
                "the alert's event ended where these users are; not sent to them"
            );
            metrics::emit(&[], &[("FanoutCancelled", cancelled as u64)]);
        }
        let recorded = if finished {
            match ledger.close(&claim, None, deadline).await {
                Ok(()) => Ok(()),
                // Keep at least who was reached, for whoever takes the range after the lease.
                Err(_) => ledger.close(&claim, Some(&done), deadline).await,
            }
        } else {
            ledger.close(&claim, Some(&done), deadline).await
        };
        if let Err(err) = &recorded {
            tracing::warn!(error = %err, range, "range not recorded; whoever takes it after the lease sends to the users its claim does not list");
        }
        // Best effort, after the record: they are not sent to again either way.
        let unsubscribed: &[String] = if systemic { &[] } else { &tally.unsubscribed };
        stream::iter(
            unsubscribed
                .iter()
                .map(|user| ledger.drop_subscription(user, event_name, deadline)),
        )
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
        if finished && cancelled > 0 && tally.sent == 0 {
            return Handled::Cancelled {
                range,
                sent: 0,
                left: cancelled,
            };
        }
        if finished {
            return Handled::Sent {
                range,
                users,
                sent: tally.sent,
                not_subscribed: not_subscribed.len(),
                done_before: done_before.len(),
                unsubscribed: tally.unsubscribed.len(),
            };
        }
        if failed == 0
            && setup_error.is_none()
            && !systemic
            && recorded.is_ok()
            && work.hops < MAX_HOPS
        {
            // Only time ran short: a copy of the message continues at once, instead of this
            // one coming back after the queue's visibility timeout.
            let next = Work {
                hops: work.hops + 1,
                ..work.clone()
            };
            if self
                .start_until(std::slice::from_ref(&next), budget::cutoff(deadline))
                .await
                .is_ok()
            {
                return Handled::Continued {
                    range,
                    sent: tally.sent,
                    left,
                };
            }
        }
        let mut causes: Vec<String> = tally
            .failures
            .iter()
            .map(|(cause, n)| format!("{n} × {cause}"))
            .collect();
        causes.extend(setup_error);
        if systemic {
            causes.push(format!(
                "{} × 403: {}",
                tally.unsubscribed.len(),
                forbidden::LIKELY_CAUSES
            ));
        }
        Handled::Failed {
            reason: format!(
                "range {range}: {failed} Unicast(s) not delivered ({}), {left} not started; the users reached are recorded and not sent again",
                causes.join("; ")
            ),
        }
    }
}

impl Fanout {
    /// The range's users, without those also in the `except` places (they heard the alert's
    /// chain already).
    async fn recipients(
        &self,
        ledger: &Ledger,
        work: &Work,
        deadline: Instant,
    ) -> Result<Vec<Recipient>, StateError> {
        let mut recipients = ledger
            .recipients_in_area(&work.areas, work.range, deadline)
            .await?;
        // The record has the last word: the index may still list a user who moved away or
        // asked to be forgotten a moment ago.
        recipients.retain(|r| r.places.iter().any(|p| work.areas.contains(p)));
        if !work.except.is_empty() {
            let told: std::collections::HashSet<String> = ledger
                .users_in_area(&work.except, work.range, deadline)
                .await?
                .into_iter()
                .collect();
            recipients.retain(|r| !told.contains(&r.user_id));
        }
        Ok(recipients)
    }
}

/// What a leaf's Unicasts came to.
#[derive(Default)]
struct Tally {
    sent: usize,
    /// Users Alexa answered 403: their stored subscription is dropped, unless the 403s are
    /// systemic ([`forbidden`]).
    unsubscribed: Vec<String>,
    /// Undelivered, by cause.
    failures: BTreeMap<String, usize>,
    /// Answers (and 403s among them), to tell a user's 403 from the configuration's.
    answers: forbidden::Counts,
    /// Not delivered for lack of time (not started, or a retry that no longer fit): handed
    /// on to a continuation, not failed.
    late: usize,
}

impl Tally {
    /// Counts one delivery; whether the user is done with (not to be sent again). A user
    /// answered 403 is decided at the end of the range.
    fn count(&mut self, user: &str, delivery: &crate::alexa::Delivery) -> bool {
        if delivery.status != Status::Failed {
            self.answers.answered += 1;
        }
        match delivery.status {
            Status::Accepted | Status::Duplicate => self.sent += 1,
            Status::NotSubscribed => {
                self.answers.forbidden += 1;
                self.unsubscribed.push(user.to_owned());
                return false;
            }
            // Alexa refused the event itself: it would refuse it for every retry too.
            Status::Refused => {}
            Status::Failed if delivery.late => {
                self.late += 1;
                return false;
            }
            Status::Failed => {
                *self
                    .failures
                    .entry(delivery.error.clone().unwrap_or_default())
                    .or_default() += 1;
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
