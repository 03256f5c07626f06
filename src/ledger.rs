//! The ledger: what was sent and who subscribed, over the state table (any [`StateStore`]).
//! It is the one place that knows the claim protocol, so the notifier, the poll and the
//! skill-event recording cannot each get it slightly wrong.
//!
//! A send is guarded by a *claim* (see [`crate::state`]): only one invocation wins it; the
//! winner sends, then *settles* (marks sent what every region took, releases the rest so that
//! a retry sends it). A state-table failure while claiming releases what was already won and
//! fails: nothing is ever sent without its claim.
//!
//! Every call is bounded by the invocation's deadline, not only by [`crate::aws`]'s timeouts:
//! claims and reads end before the time kept to record ([`budget::RECORD_RESERVE`]), and the
//! records after a send are retried within that reserve.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::alexa::{Delivery, Status};
use crate::budget::{self, RECORD_RESERVE};
use crate::state::{
    Announced, AreaKey, AreaSource, Claim, ClaimOutcome, HashRange, Reached, Recipient, Recorded,
    StateError, StateStore, UserArea, UserChange, UserChangeKind,
};

/// How many state-table calls run at once: enough to hide the round trips of a large SNS
/// batch without opening hundreds of connections.
const CONCURRENCY: usize = 16;

/// How long a claim outlives the invocation's deadline: Lambda has stopped the holder by then.
pub const LEASE_MARGIN: Duration = Duration::seconds(10);

/// How long a record outlives what it records (an alert's end, a trigger's `expiresAt`): a
/// feed may list an alert a while after it ended, and a trigger may be redelivered late.
pub const RETENTION: Duration = Duration::days(7);

/// Until when a claim made now holds: the invocation's deadline plus [`LEASE_MARGIN`].
pub fn lease_end(now: DateTime<Utc>, deadline: Instant) -> DateTime<Utc> {
    let left = deadline.saturating_duration_since(Instant::now());
    now + Duration::from_std(left).unwrap_or(Duration::hours(1)) + LEASE_MARGIN
}

/// A name for one invocation's claims, unique across invocations and processes.
pub fn new_holder(request_id: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.write_u32(std::process::id());
    format!("{request_id}/{:016x}", hasher.finish())
}

/// Something to send once: its referenceId, its expiry at Alexa, when what it announces ends
/// (the record is kept [`RETENTION`] longer), and a tag to keep with the record.
pub struct Candidate<T> {
    pub item: T,
    pub reference_id: String,
    pub expires_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub tag: Option<String>,
}

/// Why a candidate is not this invocation's to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// An earlier candidate of the same batch has the same referenceId.
    Repeated,
    /// Sent before (by this trigger's earlier delivery, or an earlier poll).
    AlreadySent { sent_at: Option<String> },
    /// Another invocation is sending it now.
    InProgress { lease_until: Option<String> },
    /// Alexa refused it before, finally.
    Refused {
        refused_at: Option<String>,
        reason: Option<String>,
    },
}

/// What a refusal of the event itself (a [`Status::Refused`] delivery) means to the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRefusal {
    /// Release the claim: the sender may correct the request and send it again (an owner's
    /// trigger, which fails and lands in the failure queue).
    Release,
    /// Record it as final, so that it is never tried again (a feed alert, which every poll
    /// would otherwise try again, failing each time).
    Record,
}

/// What the claims decided, in the candidates' order within each list.
pub struct Claimed<T> {
    /// Ours to send, each with its claim.
    pub to_send: Vec<(T, Claim)>,
    /// Not ours, with why.
    pub held: Vec<(String, Held)>,
}

impl<T> Claimed<T> {
    /// referenceIds another invocation is sending now.
    pub fn busy(&self) -> Vec<String> {
        self.held
            .iter()
            .filter(|(_, held)| matches!(held, Held::InProgress { .. }))
            .map(|(reference_id, _)| reference_id.clone())
            .collect()
    }
}

#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn StateStore>,
}

/// How often a record after a send is tried, within the record reserve.
const RECORD_ATTEMPTS: u32 = 3;

/// `work`, or [`StateError::Late`] if it has not ended by `until`.
async fn within<T>(
    until: Instant,
    action: &'static str,
    work: impl std::future::Future<Output = Result<T, StateError>>,
) -> Result<T, StateError> {
    tokio::time::timeout_at(until, work)
        .await
        .unwrap_or(Err(StateError::Late { action }))
}

/// A record after a send: tried up to [`RECORD_ATTEMPTS`] times, each bounded, all before
/// the deadline (less the time to answer); a send that is not recorded would be sent again
/// once its lease lapses.
async fn record_with_retries<F, Fut>(
    claim: &Claim,
    deadline: Instant,
    write: F,
) -> Result<(), StateError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), StateError>>,
{
    let until = budget::cutoff(deadline);
    let mut result = Err(StateError::Late { action: "record" });
    for attempt in 1..=RECORD_ATTEMPTS {
        result = within(until, "record", write()).await;
        if result.is_ok() || Instant::now() >= until {
            break;
        }
        tracing::info!(
            reference_id = claim.reference_id,
            attempt,
            "record after the send failed; trying again"
        );
        let pause = std::time::Duration::from_millis(50 * u64::from(attempt));
        tokio::time::sleep_until((Instant::now() + pause).min(until)).await;
    }
    result
}

impl Ledger {
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Ledger { store }
    }

    /// Claims every candidate for `holder` until `lease_until`, ending before the record
    /// reserve of `deadline`.
    pub async fn claim_all<T>(
        &self,
        candidates: Vec<Candidate<T>>,
        holder: &str,
        lease_until: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Claimed<T>, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        let mut held = Vec::new();
        let mut seen = HashSet::new();
        let mut claims = Vec::new();
        for candidate in candidates {
            if !seen.insert(candidate.reference_id.clone()) {
                held.push((candidate.reference_id, Held::Repeated));
                continue;
            }
            let claim = Claim {
                reference_id: candidate.reference_id,
                holder: holder.to_owned(),
                lease_until,
                expires_at: candidate.expires_at,
                keep_until: candidate.ends_at.max(candidate.expires_at) + RETENTION,
                done: Vec::new(),
                tag: candidate.tag,
            };
            claims.push((candidate.item, claim));
        }
        let outcomes: Vec<_> = stream::iter(
            claims
                .iter()
                .map(|(_, claim)| within(until, "claim", self.store.claim(claim))),
        )
        .buffered(CONCURRENCY)
        .collect()
        .await;
        if let Some(err) = outcomes.iter().find_map(|o| o.as_ref().err()).cloned() {
            let won: Vec<Claim> = claims
                .iter()
                .zip(&outcomes)
                .filter(|(_, outcome)| matches!(outcome, Ok(ClaimOutcome::Claimed { .. })))
                .map(|((_, claim), _)| claim.clone())
                .collect();
            self.release_all(&won, deadline).await;
            return Err(err);
        }
        let mut to_send = Vec::new();
        // No errors past this point: flatten keeps every outcome, in order.
        for ((item, mut claim), outcome) in claims.into_iter().zip(outcomes.into_iter().flatten()) {
            match outcome {
                ClaimOutcome::Claimed { done } => {
                    if !done.is_empty() {
                        tracing::info!(
                            reference_id = claim.reference_id,
                            done = done.len(),
                            "partly sent before; only the rest is sent"
                        );
                    }
                    claim.done = done;
                    to_send.push((item, claim));
                }
                ClaimOutcome::AlreadySent { sent_at } => {
                    tracing::info!(
                        reference_id = claim.reference_id,
                        sent_at = sent_at.as_deref().unwrap_or("-"),
                        "already sent; not sent again"
                    );
                    held.push((claim.reference_id, Held::AlreadySent { sent_at }));
                }
                ClaimOutcome::InProgress { lease_until } => {
                    tracing::warn!(
                        reference_id = claim.reference_id,
                        lease_until = lease_until.as_deref().unwrap_or("-"),
                        "another invocation is sending it"
                    );
                    held.push((claim.reference_id, Held::InProgress { lease_until }));
                }
                ClaimOutcome::Refused { refused_at, reason } => {
                    tracing::info!(
                        reference_id = claim.reference_id,
                        refused_at = refused_at.as_deref().unwrap_or("-"),
                        "refused by Alexa before; not sent again"
                    );
                    held.push((claim.reference_id, Held::Refused { refused_at, reason }));
                }
            }
        }
        Ok(Claimed { to_send, held })
    }

    /// Marks delivered events sent, and releases the others so that a retry can send them to
    /// the regions that did not settle (only those). A referenceId counts as delivered when
    /// every region settled it. An event Alexa refused (and every other region settled) is
    /// recorded as refused if `on_refusal` says so.
    ///
    /// Each record is tried up to three times before the deadline (less the time to answer):
    /// a send that is not recorded would be sent again once its lease lapses.
    pub async fn settle(
        &self,
        claims: &[Claim],
        deliveries: &[Delivery],
        on_refusal: OnRefusal,
        deadline: Instant,
    ) {
        let work = claims.iter().map(|claim| async move {
            let mine = || {
                deliveries
                    .iter()
                    .filter(|d| d.reference_id == claim.reference_id)
            };
            let delivered = mine().all(Delivery::is_settled);
            let refusal = mine()
                .find(|d| d.status == Status::Refused)
                .filter(|_| on_refusal == OnRefusal::Record)
                .filter(|_| mine().all(|d| d.is_settled() || d.status == Status::Refused));
            let mut done = claim.done.clone();
            for d in mine().filter(|d| d.is_settled()) {
                let region = Reached::Region(d.region.to_owned());
                if !done.contains(&region) {
                    done.push(region);
                }
            }
            let reason = refusal.map(|r| r.error.as_deref().unwrap_or("refused"));
            if let (false, Some(reason)) = (delivered, reason) {
                tracing::warn!(
                    reference_id = claim.reference_id,
                    reason,
                    "refused by Alexa; recorded as final, not tried again"
                );
            }
            let result = record_with_retries(claim, deadline, || async {
                match (delivered, reason) {
                    (true, _) => self.store.complete(claim).await,
                    (false, Some(reason)) => self.store.refuse(claim, reason).await,
                    (false, None) => self.store.release(claim, &done).await,
                }
            })
            .await;
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
    pub async fn release_all(&self, claims: &[Claim], deadline: Instant) {
        let until = budget::cutoff(deadline);
        let work = claims.iter().map(|claim| async move {
            let release = self.store.release(claim, &claim.done);
            if let Err(err) = within(until, "release", release).await {
                tracing::warn!(reference_id = claim.reference_id, error = %err, "claim not released; it lapses with its lease");
            }
        });
        stream::iter(work)
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
    }

    /// Whether `reference_id` is done with (sent, or refused as final; a claim in progress
    /// does not count), with its tag.
    pub async fn announced(
        &self,
        reference_id: &str,
        deadline: Instant,
    ) -> Result<Option<Announced>, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        within(until, "read", self.store.sent(reference_id)).await
    }

    /// [`Ledger::announced`] of many referenceIds at once: those done with, by referenceId.
    pub async fn announced_many(
        &self,
        reference_ids: &[String],
        deadline: Instant,
    ) -> Result<std::collections::HashMap<String, Announced>, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        within(until, "read", self.store.sent_many(reference_ids)).await
    }

    /// Records `reference_id` as announced without sending it (an update of an announced
    /// alert, which ends at `ends_at`), with `tag`, unless someone else holds or sent it;
    /// whether this call recorded it.
    pub async fn mark_announced(
        &self,
        reference_id: String,
        holder: &str,
        now: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        tag: Option<String>,
        deadline: Instant,
    ) -> Result<bool, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        let claim = Claim {
            reference_id,
            holder: holder.to_owned(),
            lease_until: now,
            expires_at: ends_at,
            keep_until: ends_at + RETENTION,
            done: Vec::new(),
            tag,
        };
        if let ClaimOutcome::Claimed { .. } =
            within(until, "claim", self.store.claim(&claim)).await?
        {
            within(until, "record", self.store.complete(&claim)).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The events the user subscribed to, if their latest subscription event is recorded.
    pub async fn subscriptions(
        &self,
        user_id: &str,
        deadline: Instant,
    ) -> Result<Option<Vec<String>>, StateError> {
        let until = budget::cutoff(deadline);
        within(until, "read", self.store.subscriptions(user_id)).await
    }

    /// Records a user's skill event unless a newer one is recorded already. Disabling the
    /// skill deletes the user's area first (even when the event turns out older than what is
    /// recorded: on personal data, the user's last word to forget wins).
    pub async fn record_user(
        &self,
        change: &UserChange,
        deadline: Instant,
    ) -> Result<Recorded, StateError> {
        let until = budget::cutoff(deadline);
        if change.kind == UserChangeKind::Disabled
            && within(until, "delete", self.store.forget_area(&change.user_id)).await?
        {
            tracing::info!(
                user_id = change.user_id,
                "skill disabled: the user's area is deleted"
            );
        }
        let recorded = within(until, "record", self.store.record_user(change)).await?;
        match recorded {
            Recorded::Applied => {
                tracing::info!(user_id = change.user_id, at = %change.at, "user state recorded")
            }
            Recorded::Stale => tracing::info!(
                user_id = change.user_id,
                at = %change.at,
                "older than the user's recorded state; ignored"
            ),
        }
        Ok(recorded)
    }
}

/// The fan-out's single claims and the users' areas.
impl Ledger {
    /// Claims one referenceId; `Err` says who has it instead.
    pub async fn claim_one(
        &self,
        candidate: Candidate<()>,
        holder: &str,
        lease_until: DateTime<Utc>,
        deadline: Instant,
    ) -> Result<Result<Claim, Held>, StateError> {
        let mut claimed = self
            .claim_all(vec![candidate], holder, lease_until, deadline)
            .await?;
        Ok(match (claimed.to_send.pop(), claimed.held.pop()) {
            (Some(((), claim)), _) => Ok(claim),
            (None, Some((_, held))) => Err(held),
            (None, None) => Err(Held::Repeated),
        })
    }

    /// Records progress on a claim held: `done` joins its targets reached.
    pub async fn progress(
        &self,
        claim: &Claim,
        done: &[Reached],
        deadline: Instant,
    ) -> Result<(), StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        within(until, "record", self.store.progress(claim, done)).await
    }

    /// Ends a claim: sent (`done` is `None`), or released with the targets reached so far.
    /// Tried up to three times within the record reserve, as [`Ledger::settle`] does.
    pub async fn close(
        &self,
        claim: &Claim,
        done: Option<&[Reached]>,
        deadline: Instant,
    ) -> Result<(), StateError> {
        record_with_retries(claim, deadline, || async {
            match done {
                None => self.store.complete(claim).await,
                Some(done) => self.store.release(claim, done).await,
            }
        })
        .await
    }

    pub async fn set_area(&self, area: &UserArea, deadline: Instant) -> Result<(), StateError> {
        within(
            budget::cutoff(deadline),
            "record",
            self.store.set_area(area),
        )
        .await
    }

    pub async fn area(
        &self,
        user_id: &str,
        deadline: Instant,
    ) -> Result<Option<UserArea>, StateError> {
        within(budget::cutoff(deadline), "read", self.store.area(user_id)).await
    }

    /// Deletes the user's area; whether there was one.
    pub async fn forget_area(&self, user_id: &str, deadline: Instant) -> Result<bool, StateError> {
        within(
            budget::cutoff(deadline),
            "delete",
            self.store.forget_area(user_id),
        )
        .await
    }

    /// Deletes the user's area if it was read from their device (the address permission was
    /// revoked); one they said is theirs to keep.
    pub async fn forget_device_area(
        &self,
        user_id: &str,
        deadline: Instant,
    ) -> Result<bool, StateError> {
        let until = budget::cutoff(deadline);
        let Some(area) = within(until, "read", self.store.area(user_id)).await? else {
            return Ok(false);
        };
        if area.source != AreaSource::Device {
            return Ok(false);
        }
        tracing::info!("address permission revoked: the area read from the device is deleted");
        within(until, "delete", self.store.forget_area(user_id)).await
    }

    pub async fn count_area(
        &self,
        keys: &[AreaKey],
        range: HashRange,
        deadline: Instant,
    ) -> Result<u64, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        within(until, "query", self.store.count_area(keys, range)).await
    }

    /// The subscribed-or-not users of the places `keys` in `range`, with their records.
    pub async fn recipients_in_area(
        &self,
        keys: &[AreaKey],
        range: HashRange,
        deadline: Instant,
    ) -> Result<Vec<Recipient>, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        let users = within(until, "query", self.store.users_in_area(keys, range)).await?;
        let mut recipients = within(until, "read", self.store.recipients(&users)).await?;
        // In hash order, as the index gave them: the order of sends does not depend on reads.
        let order: std::collections::HashMap<&str, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        recipients.sort_by_key(|r| order.get(r.user_id.as_str()).copied());
        Ok(recipients)
    }

    /// The users of the places `keys` in `range`, ids only.
    pub async fn users_in_area(
        &self,
        keys: &[AreaKey],
        range: HashRange,
        deadline: Instant,
    ) -> Result<Vec<String>, StateError> {
        let until = budget::earlier(budget::cutoff(deadline), RECORD_RESERVE);
        within(until, "query", self.store.users_in_area(keys, range)).await
    }

    /// Best effort: a user Alexa answered 403 is not subscribed to `event`.
    pub async fn drop_subscription(&self, user_id: &str, event: &str, deadline: Instant) {
        let until = budget::cutoff(deadline);
        if let Err(err) = within(
            until,
            "record",
            self.store.drop_subscription(user_id, event),
        )
        .await
        {
            tracing::warn!(user_id, error = %err, "unsubscription after a 403 not recorded; the next alert finds it out again");
        }
    }
}

#[cfg(test)]
mod tests;
