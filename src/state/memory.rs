//! The state table in memory, with the same conditions as [`DynamoStore`](super::DynamoStore):
//! for unit tests of exactly-once and the poll, and as the reference of what each operation
//! means. Operations can be made to fail, to test what happens when DynamoDB does, and a
//! record is gone as soon as its TTL passes (DynamoDB may delete it any time after that).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::clock::{Clock, SystemClock};

use super::area::sort_key;
use super::{
    Announced, AreaIndex, AreaKey, Claim, ClaimOutcome, Claims, HashRange, Reached, Recipient,
    Recorded, StateError, StateFuture, UserArea, UserChange, UserChangeKind, Users,
};

/// One of the store's operations, to make it fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Claim,
    Complete,
    Release,
    Refuse,
    ReadSent,
    RecordUser,
    Subscriptions,
    Progress,
    SetArea,
    ReadArea,
    ForgetArea,
    /// Queries of the area index (counts and users).
    QueryArea,
    Recipients,
    DropSubscription,
}

impl Op {
    fn action(self) -> &'static str {
        match self {
            Op::Claim
            | Op::Complete
            | Op::Refuse
            | Op::RecordUser
            | Op::Progress
            | Op::SetArea
            | Op::DropSubscription => "UpdateItem",
            Op::Release | Op::ForgetArea => "DeleteItem",
            Op::ReadSent | Op::Subscriptions | Op::ReadArea => "GetItem",
            Op::QueryArea => "Query",
            Op::Recipients => "BatchGetItem",
        }
    }
}

/// A `sent#` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    InProgress {
        holder: String,
        lease_until: DateTime<Utc>,
    },
    /// Released with some targets done (see [`MemoryStore::done`]).
    Partial,
    Sent {
        sent_at: String,
    },
    Refused {
        refused_at: String,
        reason: String,
    },
}

/// A `user#` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub subscriptions: Option<Vec<String>>,
    pub enabled: bool,
    /// The newest subscription fact applied (a subscription event, or a disable).
    pub subscriptions_at: Option<DateTime<Utc>>,
    /// The newest enabled or disabled fact applied.
    pub enabled_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Tables {
    /// Each record with its TTL (`keep_until`).
    sent: HashMap<String, (Sent, DateTime<Utc>)>,
    /// The tag kept with each record.
    tags: HashMap<String, String>,
    /// The targets each record's event reached (the `done` set).
    done: HashMap<String, Vec<Reached>>,
    users: HashMap<String, User>,
    areas: HashMap<String, UserArea>,
    /// The `area` index: (place, sort key) → user id.
    index: std::collections::BTreeMap<(AreaKey, String), String>,
    /// Per operation, how many more calls succeed before every call fails.
    failing: HashMap<Op, usize>,
    /// Per operation, how many of the next calls fail (then they succeed again).
    failing_next: HashMap<Op, usize>,
    /// Per operation, how long each call takes.
    slow: HashMap<Op, std::time::Duration>,
    /// When each record was marked sent (for tests of the time kept to record).
    completed_at: HashMap<String, tokio::time::Instant>,
    calls: HashMap<Op, usize>,
}

pub struct MemoryStore {
    tables: Mutex<Tables>,
    clock: Arc<dyn Clock>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leases and TTLs are judged by `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            tables: Mutex::new(Tables::default()),
            clock,
        }
    }

    /// Makes `op` fail (as DynamoDB being unreachable would) until told otherwise.
    pub fn fail(&self, op: Op, failing: bool) {
        if failing {
            self.fail_after(op, 0);
        } else {
            self.lock().failing.remove(&op);
        }
    }

    /// Makes the next `calls` calls of `op` fail, and the ones after succeed.
    pub fn fail_next(&self, op: Op, calls: usize) {
        self.lock().failing_next.insert(op, calls);
    }

    /// Makes every call of `op` take `by` (as a slow DynamoDB would).
    pub fn slow(&self, op: Op, by: std::time::Duration) {
        self.lock().slow.insert(op, by);
    }

    /// When `reference_id` was marked sent.
    pub fn completed_at(&self, reference_id: &str) -> Option<tokio::time::Instant> {
        self.lock().completed_at.get(reference_id).copied()
    }

    /// Waits as long as `op` is made to take.
    async fn delay(&self, op: Op) {
        let delay = self.lock().slow.get(&op).copied();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// Lets `calls` more calls of `op` succeed, then makes every later one fail.
    pub fn fail_after(&self, op: Op, calls: usize) {
        self.lock().failing.insert(op, calls);
    }

    /// The `sent#` record of `reference_id` and until when it is kept, if any.
    pub fn sent(&self, reference_id: &str) -> Option<(Sent, DateTime<Utc>)> {
        self.lock().sent.get(reference_id).cloned()
    }

    /// The targets the record of `reference_id` says were reached.
    pub fn done(&self, reference_id: &str) -> Vec<Reached> {
        self.lock()
            .done
            .get(reference_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The `user#` record of `user_id`, if any.
    pub fn user(&self, user_id: &str) -> Option<User> {
        self.lock().users.get(user_id).cloned()
    }

    /// How many times `op` was called (failed calls included).
    pub fn calls(&self, op: Op) -> usize {
        self.lock().calls.get(&op).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts the call and fails it if `op` is made to fail; forgets what has expired.
    fn enter(&self, op: Op) -> Result<std::sync::MutexGuard<'_, Tables>, StateError> {
        let now = self.clock.now();
        let mut tables = self.lock();
        tables.sent.retain(|_, (_, keep_until)| *keep_until > now);
        let Tables {
            sent, done, tags, ..
        } = &mut *tables;
        done.retain(|reference_id, _| sent.contains_key(reference_id));
        tags.retain(|reference_id, _| sent.contains_key(reference_id));
        *tables.calls.entry(op).or_default() += 1;
        if let Some(left) = tables.failing_next.get_mut(&op).filter(|left| **left > 0) {
            *left -= 1;
            return Err(StateError::Unavailable {
                table: "memory".into(),
                action: op.action(),
                detail: "made to fail by the test".into(),
            });
        }
        match tables.failing.get_mut(&op) {
            Some(0) => {
                return Err(StateError::Unavailable {
                    table: "memory".into(),
                    action: op.action(),
                    detail: "made to fail by the test".into(),
                })
            }
            Some(left) => *left -= 1,
            None => {}
        }
        Ok(tables)
    }

    fn try_claim(&self, claim: &Claim) -> Result<ClaimOutcome, StateError> {
        let mut tables = self.enter(Op::Claim)?;
        let now = self.clock.now();
        let done = tables
            .done
            .get(&claim.reference_id)
            .cloned()
            .unwrap_or_default();
        let outcome = match tables.sent.get(&claim.reference_id) {
            None | Some((Sent::Partial, _)) => ClaimOutcome::Claimed { done },
            Some((Sent::InProgress { lease_until, .. }, _)) if *lease_until < now => {
                ClaimOutcome::Claimed { done }
            }
            Some((Sent::InProgress { lease_until, .. }, _)) => ClaimOutcome::InProgress {
                lease_until: Some(rfc3339(*lease_until)),
            },
            Some((Sent::Sent { sent_at }, _)) => ClaimOutcome::AlreadySent {
                sent_at: Some(sent_at.clone()),
            },
            Some((Sent::Refused { refused_at, reason }, _)) => ClaimOutcome::Refused {
                refused_at: Some(refused_at.clone()),
                reason: Some(reason.clone()),
            },
        };
        if let (ClaimOutcome::Claimed { .. }, Some(tag)) = (&outcome, &claim.tag) {
            tables.tags.insert(claim.reference_id.clone(), tag.clone());
        }
        if matches!(outcome, ClaimOutcome::Claimed { .. }) {
            tables.sent.insert(
                claim.reference_id.clone(),
                (
                    Sent::InProgress {
                        holder: claim.holder.clone(),
                        lease_until: claim.lease_until,
                    },
                    claim.keep_until,
                ),
            );
        }
        Ok(outcome)
    }

    fn mark_sent(&self, claim: &Claim) -> Result<(), StateError> {
        let mut tables = self.enter(Op::Complete)?;
        tables
            .completed_at
            .insert(claim.reference_id.clone(), tokio::time::Instant::now());
        tables.sent.insert(
            claim.reference_id.clone(),
            (
                Sent::Sent {
                    sent_at: rfc3339(self.clock.now()),
                },
                claim.keep_until,
            ),
        );
        Ok(())
    }

    fn mark_refused(&self, claim: &Claim, reason: &str) -> Result<(), StateError> {
        let mut tables = self.enter(Op::Refuse)?;
        let refused = Sent::Refused {
            refused_at: rfc3339(self.clock.now()),
            reason: reason.to_owned(),
        };
        tables
            .sent
            .insert(claim.reference_id.clone(), (refused, claim.keep_until));
        Ok(())
    }

    fn give_up(&self, claim: &Claim, done: &[Reached]) -> Result<(), StateError> {
        let mut tables = self.enter(Op::Release)?;
        let ours = matches!(
            tables.sent.get(&claim.reference_id),
            Some((Sent::InProgress { holder, .. }, _)) if *holder == claim.holder
        );
        if !ours {
            return Ok(());
        }
        if done.is_empty() {
            tables.sent.remove(&claim.reference_id);
            return Ok(());
        }
        if let Some((phase, _)) = tables.sent.get_mut(&claim.reference_id) {
            *phase = Sent::Partial;
        }
        let targets = tables.done.entry(claim.reference_id.clone()).or_default();
        for target in done {
            if !targets.contains(target) {
                targets.push(target.clone());
            }
        }
        Ok(())
    }

    fn read_sent(&self, reference_id: &str) -> Result<Option<Announced>, StateError> {
        let tables = self.enter(Op::ReadSent)?;
        Ok(match tables.sent.get(reference_id) {
            Some((Sent::Sent { .. } | Sent::Refused { .. }, _)) => Some(Announced {
                tag: tables.tags.get(reference_id).cloned(),
            }),
            _ => None,
        })
    }

    /// Each kind of fact is ordered by its own time: an enable says nothing of subscriptions,
    /// so an older subscription event arriving after it still applies.
    fn apply(&self, change: &UserChange) -> Result<Recorded, StateError> {
        let mut tables = self.enter(Op::RecordUser)?;
        let user = tables.users.entry(change.user_id.clone()).or_insert(User {
            subscriptions: None,
            enabled: true,
            subscriptions_at: None,
            enabled_at: None,
        });
        let at = change.at;
        let newer = |mark: Option<DateTime<Utc>>| mark.is_none_or(|m| m < at);
        match &change.kind {
            UserChangeKind::Subscriptions(names) => {
                if !newer(user.subscriptions_at) {
                    return Ok(Recorded::Stale);
                }
                user.subscriptions = Some(names.clone());
                user.subscriptions_at = Some(at);
                user.enabled = true;
            }
            UserChangeKind::Enabled => {
                if !newer(user.enabled_at) {
                    return Ok(Recorded::Stale);
                }
                user.enabled = true;
                user.enabled_at = Some(at);
            }
            UserChangeKind::Disabled => {
                // A subscription event says the skill was enabled then: a disable older than
                // it does not turn the skill off.
                let subscriptions = newer(user.subscriptions_at);
                let enabled = newer(user.enabled_at) && subscriptions;
                if !enabled && !subscriptions {
                    return Ok(Recorded::Stale);
                }
                if enabled {
                    user.enabled = false;
                    user.enabled_at = Some(at);
                }
                // Disabling ends the subscriptions of before it, even if an enable came since.
                if subscriptions {
                    user.subscriptions = None;
                    user.subscriptions_at = Some(at);
                }
            }
        }
        Ok(Recorded::Applied)
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl MemoryStore {
    /// Adds an index item the user's record does not name, as DynamoDB's eventually
    /// consistent index may still show one for a moment after the user moved.
    pub fn add_stale_index_item(&self, key: AreaKey, user_id: &str) {
        self.lock()
            .index
            .insert((key, sort_key(user_id)), user_id.to_owned());
    }

    /// The index items of `key`, as user ids (a test's view of the `area` index).
    pub fn indexed(&self, key: &AreaKey) -> Vec<String> {
        self.lock()
            .index
            .iter()
            .filter(|((k, _), _)| k == key)
            .map(|(_, user)| user.clone())
            .collect()
    }

    fn index_range<'t>(
        tables: &'t Tables,
        key: &AreaKey,
        range: HashRange,
    ) -> impl Iterator<Item = (&'t String, &'t String)> {
        let (low, high) = range.sort_key_bounds();
        tables
            .index
            .range((key.clone(), low)..=(key.clone(), high))
            .map(|((_, sort), user)| (sort, user))
    }
}

impl Claims for MemoryStore {
    fn claim<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ClaimOutcome> {
        Box::pin(async move {
            self.delay(Op::Claim).await;
            self.try_claim(claim)
        })
    }

    fn complete<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::Complete).await;
            self.mark_sent(claim)
        })
    }

    fn release<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::Release).await;
            self.give_up(claim, done)
        })
    }

    fn refuse<'a>(&'a self, claim: &'a Claim, reason: &'a str) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::Refuse).await;
            self.mark_refused(claim, reason)
        })
    }

    fn sent<'a>(&'a self, reference_id: &'a str) -> StateFuture<'a, Option<Announced>> {
        Box::pin(async move {
            self.delay(Op::ReadSent).await;
            self.read_sent(reference_id)
        })
    }

    fn sent_many<'a>(
        &'a self,
        reference_ids: &'a [String],
    ) -> StateFuture<'a, std::collections::HashMap<String, Announced>> {
        Box::pin(async move {
            self.delay(Op::ReadSent).await;
            let mut found = std::collections::HashMap::new();
            for reference_id in reference_ids {
                if let Some(announced) = self.read_sent(reference_id)? {
                    found.insert(reference_id.clone(), announced);
                }
            }
            Ok(found)
        })
    }

    fn progress<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::Progress).await;
            let mut tables = self.enter(Op::Progress)?;
            let held = matches!(
                tables.sent.get(&claim.reference_id),
                Some((Sent::InProgress { holder, .. }, _)) if *holder == claim.holder
            );
            if !held {
                return Err(StateError::Unavailable {
                    table: "memory".into(),
                    action: "UpdateItem",
                    detail: format!(
                        "the claim on {} is no longer this invocation's",
                        claim.reference_id
                    ),
                });
            }
            let targets = tables.done.entry(claim.reference_id.clone()).or_default();
            for target in done {
                if !targets.contains(target) {
                    targets.push(target.clone());
                }
            }
            Ok(())
        })
    }
}

impl Users for MemoryStore {
    fn record_user<'a>(&'a self, change: &'a UserChange) -> StateFuture<'a, Recorded> {
        Box::pin(async move {
            self.delay(Op::RecordUser).await;
            self.apply(change)
        })
    }

    fn subscriptions<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<Vec<String>>> {
        Box::pin(async move {
            self.delay(Op::Subscriptions).await;
            let tables = self.enter(Op::Subscriptions)?;
            Ok(tables
                .users
                .get(user_id)
                .and_then(|user| user.subscriptions.clone()))
        })
    }

    fn drop_subscription<'a>(&'a self, user_id: &'a str, event: &'a str) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::DropSubscription).await;
            let mut tables = self.enter(Op::DropSubscription)?;
            if let Some(subscriptions) = tables
                .users
                .get_mut(user_id)
                .and_then(|u| u.subscriptions.as_mut())
            {
                subscriptions.retain(|s| s != event);
            }
            Ok(())
        })
    }
}

impl AreaIndex for MemoryStore {
    fn set_area<'a>(&'a self, area: &'a UserArea) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.delay(Op::SetArea).await;
            let mut tables = self.enter(Op::SetArea)?;
            if let Some(earlier) = tables.areas.remove(&area.user_id) {
                for key in earlier.keys() {
                    tables.index.remove(&(key, sort_key(&area.user_id)));
                }
            }
            for key in area.keys() {
                tables
                    .index
                    .insert((key, sort_key(&area.user_id)), area.user_id.clone());
            }
            tables.areas.insert(area.user_id.clone(), area.clone());
            Ok(())
        })
    }

    fn area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<UserArea>> {
        Box::pin(async move {
            self.delay(Op::ReadArea).await;
            let tables = self.enter(Op::ReadArea)?;
            Ok(tables.areas.get(user_id).cloned())
        })
    }

    fn forget_area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, bool> {
        Box::pin(async move {
            self.delay(Op::ForgetArea).await;
            let mut tables = self.enter(Op::ForgetArea)?;
            let Some(earlier) = tables.areas.remove(user_id) else {
                return Ok(false);
            };
            for key in earlier.keys() {
                tables.index.remove(&(key, sort_key(user_id)));
            }
            Ok(true)
        })
    }

    fn count_area<'a>(&'a self, keys: &'a [AreaKey], range: HashRange) -> StateFuture<'a, u64> {
        Box::pin(async move {
            self.delay(Op::QueryArea).await;
            let tables = self.enter(Op::QueryArea)?;
            Ok(keys
                .iter()
                .map(|key| Self::index_range(&tables, key, range).count() as u64)
                .sum())
        })
    }

    fn users_in_area<'a>(
        &'a self,
        keys: &'a [AreaKey],
        range: HashRange,
    ) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            self.delay(Op::QueryArea).await;
            let tables = self.enter(Op::QueryArea)?;
            let users: std::collections::BTreeMap<&String, &String> = keys
                .iter()
                .flat_map(|key| Self::index_range(&tables, key, range))
                .collect();
            Ok(users.into_values().cloned().collect())
        })
    }

    fn recipients<'a>(&'a self, user_ids: &'a [String]) -> StateFuture<'a, Vec<Recipient>> {
        Box::pin(async move {
            self.delay(Op::Recipients).await;
            let tables = self.enter(Op::Recipients)?;
            Ok(user_ids
                .iter()
                .filter_map(|user_id| {
                    let user = tables.users.get(user_id);
                    let area = tables.areas.get(user_id);
                    (user.is_some() || area.is_some()).then(|| Recipient {
                        user_id: user_id.clone(),
                        subscriptions: user.and_then(|u| u.subscriptions.clone()),
                        region: area.and_then(|a| a.region.clone()),
                        places: area.map(UserArea::keys).unwrap_or_default(),
                    })
                })
                .collect())
        })
    }
}
