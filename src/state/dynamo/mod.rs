//! The state table in DynamoDB: one partition key `pk` (String), TTL on `expireAt`.
//!
//! Items:
//! - `sent#<referenceId>`: `phase` (`inProgress` | `partial` | `sent` | `refused`), `holder`
//!   and `leaseUntil` while in progress, `done` (string set) what earlier attempts reached
//!   ([`super::Reached`]: regions delivered to, a fan-out range's split or leaf mark and its
//!   users' hashes), `partial` once released with some of them done (a retry sends only the rest),
//!   `sentAt` once sent, `tag` what the sender asked to keep with it (the poll: the alert's
//!   threat level), `refusedAt` and `reason` once refused, `eventExpiry` (epoch seconds) = the event's expiry at
//!   Alexa, `expireAt` (epoch seconds) = until when the record is kept (the source's end plus
//!   a retention: an alert can outlast its Alexa expiry by days).
//! - `user#<userId>`: `subscriptions` (list of event names, from the latest subscription
//!   event; absent until one arrives and once disabled), `enabled`, `subscriptionsAt` and
//!   `enabledAt` (epoch milliseconds of the newest subscription fact and the newest
//!   enabled/disabled fact applied; `updatedAt`, one mark for both, on records written before
//!   them), `expireAt` once disabled; and the
//!   user's area once known: `postalCode`, `country`, `counties` (string set), `region`,
//!   `locale`, `areaAt`, and `areaVersion` (how often the area was written: each write is
//!   conditional on it) (see [`area`]).
//! - `area#<areaKey>#<userId>`: one per place the user is in, `areaKey` and `areaUser` (the
//!   keys of the `area` index: place, then user hash and id), nothing else.
//!
//! DynamoDB deletes expired items lazily (up to days later), so no condition relies on TTL:
//! the lease is compared with the clock, and an expired `sent` record still counts as sent
//! (its event has expired at Alexa anyway).

use std::collections::HashMap;
use std::fmt::Display;

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::aws::dynamodb::{
    self as db, condition_failed, AttributeValue, KeysAndAttributes, Request,
};
use crate::aws::AwsError;

mod area;

use super::{
    Announced, AreaIndex, AreaKey, Claim, ClaimOutcome, Claims, HashRange, Reached, Recipient,
    Recorded, StateError, StateFuture, UserArea, UserChange, UserChangeKind, Users,
};

/// How long a disabled user's emptied record is kept: Alexa delivers skill events within
/// hours, so an older event arriving later than this is not expected.
pub const DISABLED_RETENTION: Duration = Duration::days(7);

const IN_PROGRESS: &str = "inProgress";
const PARTIAL: &str = "partial";
const SENT: &str = "sent";
const REFUSED: &str = "refused";

use db::Item;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET: usize = 100;
/// How often keys DynamoDB left unprocessed (throttling) are asked for again.
const UNPROCESSED_ROUNDS: u32 = 5;

pub struct DynamoStore {
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn text(item: &Item, key: &str) -> Option<String> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn epoch_text(item: &Item, key: &str) -> Option<String> {
    let AttributeValue::N(v) = item.get(key)? else {
        return None;
    };
    let at = DateTime::from_timestamp(v.parse().ok()?, 0)?;
    Some(at.to_rfc3339_opts(SecondsFormat::Secs, true))
}

fn string_set(item: &Item, key: &str) -> Vec<String> {
    match item.get(key) {
        Some(AttributeValue::Ss(values)) => values.clone(),
        _ => Vec::new(),
    }
}

fn sent_key(reference_id: &str) -> AttributeValue {
    s(format!("sent#{reference_id}"))
}

fn user_key(user_id: &str) -> AttributeValue {
    s(format!("user#{user_id}"))
}

impl DynamoStore {
    pub fn new(table: String) -> Self {
        DynamoStore { table }
    }

    /// A request to the table.
    fn request(&self) -> Request {
        Request::table(&self.table)
    }

    /// Names the table, the action and what to fix; DynamoDB's own text stays in `detail`.
    fn error(&self, action: &'static str, err: &AwsError) -> StateError {
        let detail = err.to_string();
        let table = self.table.clone();
        match err.code() {
            Some("ResourceNotFoundException") => StateError::TableNotFound { table },
            Some(
                "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "MissingAuthenticationTokenException",
            ) => StateError::AccessDenied {
                table,
                action,
                detail,
            },
            // A table created without the index (by hand, or before targeting by place).
            Some("ValidationException") if detail.contains("index") => StateError::Unavailable {
                table,
                action,
                detail: format!("{detail}; the table needs the global secondary index `area` (partition key areaKey, sort key areaUser, both String, keys only), as the SAM template creates it"),
            },
            _ => StateError::Unavailable {
                table,
                action,
                detail,
            },
        }
    }

    async fn get(&self, key: AttributeValue) -> Result<Option<Item>, StateError> {
        let answer = db::get_item(&self.request().key("pk", key).consistent_read())
            .await
            .map_err(|e| self.error("GetItem", &e))?;
        Ok(answer.item)
    }

    /// The items of `keys` that exist (strongly consistent), `projection` of each, by
    /// BatchGetItem: 100 keys a request, keys DynamoDB leaves unprocessed (throttling) asked
    /// for again with a back-off.
    async fn batch_get(
        &self,
        keys: Vec<AttributeValue>,
        projection: &str,
        names: &[(&str, &str)],
    ) -> Result<Vec<Item>, StateError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|key| HashMap::from([("pk".to_owned(), key.clone())]))
                .collect();
            let mut pending = Some(KeysAndAttributes {
                keys,
                consistent_read: Some(true),
                projection_expression: Some(projection.to_owned()),
                expression_attribute_names: names
                    .iter()
                    .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
                    .collect(),
            });
            for round in 0..UNPROCESSED_ROUNDS {
                let Some(request) = pending.take() else { break };
                if round > 0 {
                    // Throttled: back off before asking for the rest.
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let mut answer = db::batch_get_item(&self.table, &request)
                    .await
                    .map_err(|e| self.error("BatchGetItem", &e))?;
                found.extend(answer.responses.remove(&self.table).unwrap_or_default());
                pending = answer
                    .unprocessed_keys
                    .remove(&self.table)
                    .filter(|k| !k.keys.is_empty());
            }
            if pending.is_some() {
                return Err(StateError::Unavailable {
                    table: self.table.clone(),
                    action: "BatchGetItem",
                    detail: format!(
                        "keys left unprocessed after {UNPROCESSED_ROUNDS} rounds (throttled)"
                    ),
                });
            }
        }
        Ok(found)
    }

    async fn try_claim(&self, claim: &Claim) -> Result<ClaimOutcome, StateError> {
        let now = Utc::now();
        // An update, not a put: a partial record's `done` must survive the new claim.
        let request = self
            .request()
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(if claim.tag.is_some() {
                "SET #phase = :inProgress, holder = :holder, #leaseUntil = :leaseUntil, eventExpiry = :eventExpiry, expireAt = :expireAt, tag = :tag"
            } else {
                "SET #phase = :inProgress, holder = :holder, #leaseUntil = :leaseUntil, eventExpiry = :eventExpiry, expireAt = :expireAt"
            })
            .condition_expression(
                "attribute_not_exists(pk) OR #phase = :partial OR (#phase = :inProgress AND #leaseUntil < :now)",
            )
            .name("#phase", "phase")
            .name("#leaseUntil", "leaseUntil")
            .value(":inProgress", s(IN_PROGRESS))
            .value(":partial", s(PARTIAL))
            .value(":holder", s(&claim.holder))
            .value(":leaseUntil", n(claim.lease_until.timestamp()))
            .value(":eventExpiry", n(claim.expires_at.timestamp()))
            .value(":expireAt", n(claim.keep_until.timestamp()))
            .value(":now", n(now.timestamp()))
            .return_old();
        let request = match &claim.tag {
            Some(tag) => request.value(":tag", s(tag)),
            None => request,
        };
        let result = db::update_item(&request).await;
        let err = match result {
            Ok(answer) => {
                let done = answer
                    .attributes
                    .as_ref()
                    .map(|item| {
                        string_set(item, "done")
                            .iter()
                            .map(|d| Reached::decode(d))
                            .collect()
                    })
                    .unwrap_or_default();
                return Ok(ClaimOutcome::Claimed { done });
            }
            Err(err) if condition_failed(&err) => err,
            Err(err) => return Err(self.error("UpdateItem", &err)),
        };
        // The holder's record says why; it can also be gone again by now (released).
        let returned = db::condition_failed_item(&err);
        // A returned item without a phase was caught half-written by a concurrent claim (a
        // local stand-in such as moto applies an update in steps; DynamoDB does not): read it
        // again, consistently, as when nothing came back.
        let mut item = returned.filter(|item| item.contains_key("phase"));
        for _ in 0..3 {
            if item.is_some() {
                break;
            }
            match self.get(sent_key(&claim.reference_id)).await? {
                Some(read) if read.contains_key("phase") => item = Some(read),
                Some(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                // Released between the two calls: report it as busy, a retry will take it.
                None => return Ok(ClaimOutcome::InProgress { lease_until: None }),
            }
        }
        let item = item.unwrap_or_default();
        match text(&item, "phase").as_deref() {
            Some(SENT) => Ok(ClaimOutcome::AlreadySent {
                sent_at: text(&item, "sentAt"),
            }),
            Some(IN_PROGRESS) => Ok(ClaimOutcome::InProgress {
                lease_until: epoch_text(&item, "leaseUntil"),
            }),
            // Released (partly done) between the two calls: busy now, a retry will take it.
            Some(PARTIAL) => Ok(ClaimOutcome::InProgress { lease_until: None }),
            Some(REFUSED) => Ok(ClaimOutcome::Refused {
                refused_at: text(&item, "refusedAt"),
                reason: text(&item, "reason"),
            }),
            other => Err(StateError::Corrupt {
                table: self.table.clone(),
                problem: format!(
                    "item sent#{} has phase {other:?}; expected \"inProgress\", \"partial\", \"sent\" or \"refused\"",
                    claim.reference_id
                ),
            }),
        }
    }

    async fn mark_sent(&self, claim: &Claim) -> Result<(), StateError> {
        // Unconditional: once Alexa has the event, "sent" is true whoever holds the claim.
        let request = self
            .request()
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(
                "SET #phase = :sent, sentAt = :now, eventExpiry = :eventExpiry, expireAt = :expireAt REMOVE holder, leaseUntil",
            )
            .name("#phase", "phase")
            .value(":sent", s(SENT))
            .value(
                ":now",
                s(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
            )
            .value(":eventExpiry", n(claim.expires_at.timestamp()))
            .value(":expireAt", n(claim.keep_until.timestamp()));
        db::update_item(&request)
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(())
    }

    async fn mark_refused(&self, claim: &Claim, reason: &str) -> Result<(), StateError> {
        // Unconditional, as for sent: Alexa's verdict on the event holds whoever holds the claim.
        let request = self
            .request()
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(
                "SET #phase = :refused, refusedAt = :now, reason = :reason, eventExpiry = :eventExpiry, expireAt = :expireAt REMOVE holder, leaseUntil",
            )
            .name("#phase", "phase")
            .value(":refused", s(REFUSED))
            .value(
                ":now",
                s(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
            )
            .value(":reason", s(reason))
            .value(":eventExpiry", n(claim.expires_at.timestamp()))
            .value(":expireAt", n(claim.keep_until.timestamp()));
        db::update_item(&request)
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(())
    }

    async fn give_up(&self, claim: &Claim, done: &[Reached]) -> Result<(), StateError> {
        let result = if done.is_empty() {
            let request = self
                .request()
                .key("pk", sent_key(&claim.reference_id))
                .condition_expression("#holder = :holder AND #phase = :inProgress")
                .name("#holder", "holder")
                .name("#phase", "phase")
                .value(":holder", s(&claim.holder))
                .value(":inProgress", s(IN_PROGRESS));
            db::delete_item(&request)
                .await
                .map_err(|e| (condition_failed(&e), self.error("DeleteItem", &e)))
        } else {
            let request = self
                .request()
                .key("pk", sent_key(&claim.reference_id))
                .update_expression(
                    "SET #phase = :partial ADD done :done REMOVE #holder, leaseUntil",
                )
                .condition_expression("#holder = :holder AND #phase = :inProgress")
                .name("#holder", "holder")
                .name("#phase", "phase")
                .value(":holder", s(&claim.holder))
                .value(":inProgress", s(IN_PROGRESS))
                .value(":partial", s(PARTIAL))
                .value(
                    ":done",
                    AttributeValue::Ss(done.iter().map(Reached::encode).collect()),
                );
            db::update_item(&request)
                .await
                .map(|_| ())
                .map_err(|e| (condition_failed(&e), self.error("UpdateItem", &e)))
        };
        match result {
            Ok(()) => Ok(()),
            // Taken over after our lease lapsed: that invocation's claim is not ours to drop.
            Err((true, _)) => Ok(()),
            Err((false, err)) => Err(err),
        }
    }

    async fn read_sent_many(
        &self,
        reference_ids: &[String],
    ) -> Result<HashMap<String, Announced>, StateError> {
        let keys = reference_ids.iter().map(|r| sent_key(r)).collect();
        let items = self
            .batch_get(keys, "pk, #phase, tag", &[("#phase", "phase")])
            .await?;
        Ok(items
            .iter()
            .filter(|item| matches!(text(item, "phase").as_deref(), Some(SENT | REFUSED)))
            .filter_map(|item| {
                let reference_id = text(item, "pk")?.strip_prefix("sent#")?.to_owned();
                Some((
                    reference_id,
                    Announced {
                        tag: text(item, "tag"),
                    },
                ))
            })
            .collect())
    }

    async fn read_sent(&self, reference_id: &str) -> Result<Option<Announced>, StateError> {
        let item = self.get(sent_key(reference_id)).await?;
        Ok(item
            .filter(|item| matches!(text(item, "phase").as_deref(), Some(SENT | REFUSED)))
            .map(|item| Announced {
                tag: text(&item, "tag"),
            }))
    }

    /// Records a skill event. Each kind of fact has its own mark (`subscriptionsAt`,
    /// `enabledAt`, epoch milliseconds), so an enable does not make an older subscription event
    /// stale. A record written before the marks has only `updatedAt` (the newest event of any
    /// kind): it stands for both marks, except that an enabled record without subscriptions
    /// takes any subscription event (the case the single mark got wrong).
    async fn user(&self, change: &UserChange) -> Result<Recorded, StateError> {
        let millis = change.at.timestamp_millis();
        const SUBSCRIPTIONS_NEWER: &str = "(attribute_not_exists(#sAt) AND (attribute_not_exists(#uAt) OR #uAt < :at OR (enabled = :true AND attribute_not_exists(subscriptions)))) OR #sAt < :at";
        const ENABLED_NEWER: &str =
            "(attribute_not_exists(#eAt) AND (attribute_not_exists(#uAt) OR #uAt < :at)) OR #eAt < :at";
        let update = |condition: &str, names: &[(&str, &str)]| {
            let mut update = self
                .request()
                .key("pk", user_key(&change.user_id))
                // Equal timestamps are a redelivery of the same event: nothing to change.
                .condition_expression(condition)
                .name("#uAt", "updatedAt")
                .value(":at", n(millis));
            for (name, attribute) in names {
                update = update.name(name, attribute);
            }
            update
        };
        let applied = |request: Request| async move {
            match db::update_item(&request).await {
                Ok(_) => Ok(true),
                Err(err) if condition_failed(&err) => Ok(false),
                Err(err) => Err(self.error("UpdateItem", &err)),
            }
        };
        let recorded = match &change.kind {
            UserChangeKind::Subscriptions(names) => applied(
                update(SUBSCRIPTIONS_NEWER, &[("#sAt", "subscriptionsAt")])
                    .update_expression(
                        "SET subscriptions = :subscriptions, enabled = :true, #sAt = :at REMOVE expireAt",
                    )
                    .value(
                        ":subscriptions",
                        AttributeValue::L(names.iter().map(s).collect()),
                    )
                    .value(":true", AttributeValue::Bool(true))
            ).await?,
            // Enabling says nothing of subscriptions: they come with their own event.
            UserChangeKind::Enabled => applied(
                update(ENABLED_NEWER, &[("#eAt", "enabledAt")])
                    .update_expression("SET enabled = :true, #eAt = :at REMOVE expireAt")
                    .value(":true", AttributeValue::Bool(true))
            ).await?,
            // Two facts: the skill is off (unless enabled since), and the subscriptions of
            // before it are over (even if an enable came since).
            UserChangeKind::Disabled => {
                // A subscription event says the skill was enabled then: a disable older than
                // it does not turn the skill off.
                let off_condition =
                    format!("({ENABLED_NEWER}) AND (attribute_not_exists(#sAt) OR #sAt < :at)");
                let off = applied(
                    update(
                        &off_condition,
                        &[("#eAt", "enabledAt"), ("#sAt", "subscriptionsAt")],
                    )
                        .update_expression("SET enabled = :false, #eAt = :at, expireAt = :expireAt")
                        .value(":false", AttributeValue::Bool(false))
                        .value(
                            ":expireAt",
                            n((change.at + DISABLED_RETENTION).timestamp()),
                        )
                ).await?;
                let ended = applied(
                    update(SUBSCRIPTIONS_NEWER, &[("#sAt", "subscriptionsAt")])
                        .update_expression("SET #sAt = :at REMOVE subscriptions")
                        .value(":true", AttributeValue::Bool(true))
                ).await?;
                off || ended
            }
        };
        Ok(if recorded {
            Recorded::Applied
        } else {
            Recorded::Stale
        })
    }
}

impl DynamoStore {
    async fn user_subscriptions(&self, user_id: &str) -> Result<Option<Vec<String>>, StateError> {
        let Some(item) = self.get(user_key(user_id)).await? else {
            return Ok(None);
        };
        let Some(AttributeValue::L(names)) = item.get("subscriptions") else {
            return Ok(None);
        };
        Ok(Some(
            names
                .iter()
                .filter_map(|n| match n {
                    AttributeValue::S(name) => Some(name.clone()),
                    _ => None,
                })
                .collect(),
        ))
    }
}

impl Claims for DynamoStore {
    fn claim<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ClaimOutcome> {
        Box::pin(self.try_claim(claim))
    }

    fn complete<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ()> {
        Box::pin(self.mark_sent(claim))
    }

    fn release<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()> {
        Box::pin(self.give_up(claim, done))
    }

    fn refuse<'a>(&'a self, claim: &'a Claim, reason: &'a str) -> StateFuture<'a, ()> {
        Box::pin(self.mark_refused(claim, reason))
    }

    fn sent<'a>(&'a self, reference_id: &'a str) -> StateFuture<'a, Option<Announced>> {
        Box::pin(self.read_sent(reference_id))
    }

    fn sent_many<'a>(
        &'a self,
        reference_ids: &'a [String],
    ) -> StateFuture<'a, HashMap<String, Announced>> {
        Box::pin(self.read_sent_many(reference_ids))
    }

    fn progress<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()> {
        Box::pin(self.add_done(claim, done))
    }
}

impl Users for DynamoStore {
    fn record_user<'a>(&'a self, change: &'a UserChange) -> StateFuture<'a, Recorded> {
        Box::pin(self.user(change))
    }

    fn subscriptions<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<Vec<String>>> {
        Box::pin(self.user_subscriptions(user_id))
    }

    fn drop_subscription<'a>(&'a self, user_id: &'a str, event: &'a str) -> StateFuture<'a, ()> {
        Box::pin(self.unsubscribe(user_id, event))
    }
}

impl AreaIndex for DynamoStore {
    fn set_area<'a>(&'a self, area: &'a UserArea) -> StateFuture<'a, ()> {
        Box::pin(self.put_area(area))
    }

    fn area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<UserArea>> {
        Box::pin(self.read_area(user_id))
    }

    fn forget_area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, bool> {
        Box::pin(self.delete_area(user_id))
    }

    fn count_area<'a>(&'a self, keys: &'a [AreaKey], range: HashRange) -> StateFuture<'a, u64> {
        Box::pin(self.count_indexed(keys, range))
    }

    fn users_in_area<'a>(
        &'a self,
        keys: &'a [AreaKey],
        range: HashRange,
    ) -> StateFuture<'a, Vec<String>> {
        Box::pin(self.indexed_users(keys, range))
    }

    fn recipients<'a>(&'a self, user_ids: &'a [String]) -> StateFuture<'a, Vec<Recipient>> {
        Box::pin(self.read_recipients(user_ids))
    }
}
