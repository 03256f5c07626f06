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

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure,
};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use tokio::sync::OnceCell;

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

type Item = HashMap<String, AttributeValue>;

/// BatchGetItem takes at most 100 keys.
const BATCH_GET: usize = 100;
/// How often keys DynamoDB left unprocessed (throttling) are asked for again.
const UNPROCESSED_ROUNDS: u32 = 5;

pub struct DynamoStore {
    table: String,
    client: OnceCell<aws_sdk_dynamodb::Client>,
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

/// Whether an SDK error is a failed condition, the expected answer to a lost race.
fn condition_failed<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    pub fn new(table: String) -> Self {
        DynamoStore {
            table,
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_dynamodb::Client {
        self.client
            .get_or_init(|| async { aws_sdk_dynamodb::Client::new(crate::aws::sdk_config().await) })
            .await
    }

    /// Names the table, the action and what to fix; the SDK's own text stays in `detail`.
    fn error<E>(&self, action: &'static str, err: &SdkError<E>) -> StateError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let detail = crate::aws::describe_error(err);
        let table = self.table.clone();
        match err.as_service_error().and_then(|e| e.code()) {
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
        let answer = self
            .client()
            .await
            .get_item()
            .table_name(&self.table)
            .key("pk", key)
            .consistent_read(true)
            .send()
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
        let client = self.client().await;
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|key| HashMap::from([("pk".to_owned(), key.clone())]))
                .collect();
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .projection_expression(projection);
            for (name, attribute) in names {
                request = request.expression_attribute_names(*name, *attribute);
            }
            let mut pending = Some(request.build().map_err(|e| StateError::Unavailable {
                table: self.table.clone(),
                action: "BatchGetItem",
                detail: e.to_string(),
            })?);
            for round in 0..UNPROCESSED_ROUNDS {
                let Some(request) = pending.take() else { break };
                if round > 0 {
                    // Throttled: back off before asking for the rest.
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let answer = client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.error("BatchGetItem", &e))?;
                found.extend(
                    answer
                        .responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                pending = answer
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
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
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(if claim.tag.is_some() {
                "SET #phase = :inProgress, holder = :holder, #leaseUntil = :leaseUntil, eventExpiry = :eventExpiry, expireAt = :expireAt, tag = :tag"
            } else {
                "SET #phase = :inProgress, holder = :holder, #leaseUntil = :leaseUntil, eventExpiry = :eventExpiry, expireAt = :expireAt"
            })
            .condition_expression(
                "attribute_not_exists(pk) OR #phase = :partial OR (#phase = :inProgress AND #leaseUntil < :now)",
            )
            .expression_attribute_names("#phase", "phase")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_values(":inProgress", s(IN_PROGRESS))
            .expression_attribute_values(":partial", s(PARTIAL))
            .expression_attribute_values(":holder", s(&claim.holder))
            .expression_attribute_values(":leaseUntil", n(claim.lease_until.timestamp()))
            .expression_attribute_values(":eventExpiry", n(claim.expires_at.timestamp()))
            .expression_attribute_values(":expireAt", n(claim.keep_until.timestamp()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match &claim.tag {
            Some(tag) => request.expression_attribute_values(":tag", s(tag)),
            None => request,
        };
        let result = request.send().await;
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
        let returned = match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(e)) => e.item.clone(),
            _ => None,
        };
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
        self.client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(
                "SET #phase = :sent, sentAt = :now, eventExpiry = :eventExpiry, expireAt = :expireAt REMOVE holder, leaseUntil",
            )
            .expression_attribute_names("#phase", "phase")
            .expression_attribute_values(":sent", s(SENT))
            .expression_attribute_values(
                ":now",
                s(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
            )
            .expression_attribute_values(":eventExpiry", n(claim.expires_at.timestamp()))
            .expression_attribute_values(":expireAt", n(claim.keep_until.timestamp()))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(())
    }

    async fn mark_refused(&self, claim: &Claim, reason: &str) -> Result<(), StateError> {
        // Unconditional, as for sent: Alexa's verdict on the event holds whoever holds the claim.
        self.client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", sent_key(&claim.reference_id))
            .update_expression(
                "SET #phase = :refused, refusedAt = :now, reason = :reason, eventExpiry = :eventExpiry, expireAt = :expireAt REMOVE holder, leaseUntil",
            )
            .expression_attribute_names("#phase", "phase")
            .expression_attribute_values(":refused", s(REFUSED))
            .expression_attribute_values(
                ":now",
                s(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
            )
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":eventExpiry", n(claim.expires_at.timestamp()))
            .expression_attribute_values(":expireAt", n(claim.keep_until.timestamp()))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(())
    }

    async fn give_up(&self, claim: &Claim, done: &[Reached]) -> Result<(), StateError> {
        let client = self.client().await;
        let result = if done.is_empty() {
            client
                .delete_item()
                .table_name(&self.table)
                .key("pk", sent_key(&claim.reference_id))
                .condition_expression("#holder = :holder AND #phase = :inProgress")
                .expression_attribute_names("#holder", "holder")
                .expression_attribute_names("#phase", "phase")
                .expression_attribute_values(":holder", s(&claim.holder))
                .expression_attribute_values(":inProgress", s(IN_PROGRESS))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| (condition_failed(&e), self.error("DeleteItem", &e)))
        } else {
            client
                .update_item()
                .table_name(&self.table)
                .key("pk", sent_key(&claim.reference_id))
                .update_expression(
                    "SET #phase = :partial ADD done :done REMOVE #holder, leaseUntil",
                )
                .condition_expression("#holder = :holder AND #phase = :inProgress")
                .expression_attribute_names("#holder", "holder")
                .expression_attribute_names("#phase", "phase")
                .expression_attribute_values(":holder", s(&claim.holder))
                .expression_attribute_values(":inProgress", s(IN_PROGRESS))
                .expression_attribute_values(":partial", s(PARTIAL))
                .expression_attribute_values(
                    ":done",
                    AttributeValue::Ss(done.iter().map(Reached::encode).collect()),
                )
                .send()
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
        let client = self.client().await;
        let update = |condition: &str, names: &[(&str, &str)]| {
            let mut update = client
                .update_item()
                .table_name(&self.table)
                .key("pk", user_key(&change.user_id))
                // Equal timestamps are a redelivery of the same event: nothing to change.
                .condition_expression(condition)
                .expression_attribute_names("#uAt", "updatedAt")
                .expression_attribute_values(":at", n(millis));
            for (name, attribute) in names {
                update = update.expression_attribute_names(*name, *attribute);
            }
            update
        };
        let applied = |result: Result<_, SdkError<_>>| match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(self.error("UpdateItem", &err)),
        };
        let recorded = match &change.kind {
            UserChangeKind::Subscriptions(names) => applied(
                update(SUBSCRIPTIONS_NEWER, &[("#sAt", "subscriptionsAt")])
                    .update_expression(
                        "SET subscriptions = :subscriptions, enabled = :true, #sAt = :at REMOVE expireAt",
                    )
                    .expression_attribute_values(
                        ":subscriptions",
                        AttributeValue::L(names.iter().map(s).collect()),
                    )
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .send()
                    .await,
            )?,
            // Enabling says nothing of subscriptions: they come with their own event.
            UserChangeKind::Enabled => applied(
                update(ENABLED_NEWER, &[("#eAt", "enabledAt")])
                    .update_expression("SET enabled = :true, #eAt = :at REMOVE expireAt")
                    .expression_attribute_values(":true", AttributeValue::Bool(true))
                    .send()
                    .await,
            )?,
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
                        .expression_attribute_values(":false", AttributeValue::Bool(false))
                        .expression_attribute_values(
                            ":expireAt",
                            n((change.at + DISABLED_RETENTION).timestamp()),
                        )
                        .send()
                        .await,
                )?;
                let ended = applied(
                    update(SUBSCRIPTIONS_NEWER, &[("#sAt", "subscriptionsAt")])
                        .update_expression("SET #sAt = :at REMOVE subscriptions")
                        .expression_attribute_values(":true", AttributeValue::Bool(true))
                        .send()
                        .await,
                )?;
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
