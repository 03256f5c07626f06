//! Users' areas in DynamoDB: the area attributes of `user#` records, the `area#` index items
//! and the `area` global secondary index over them (partition `areaKey`, sort `areaUser`,
//! keys only). See [`crate::state::area`].
//!
//! Setting and forgetting an area are single transactions (`TransactWriteItems`: the record's
//! attributes, the new index items, the old ones deleted), so a failure part-way leaves no
//! index item the record does not name: such an item could be neither found nor deleted.

use std::collections::{BTreeMap, HashMap};

use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{n, s, string_set, text, user_key, DynamoStore, Item, IN_PROGRESS};
use crate::aws::dynamodb::{self as db, AttributeValue, Request, TransactWriteItem};
use crate::state::area::{sort_key, user_of_sort_key};
use crate::state::{
    AreaKey, AreaSource, Claim, HashRange, Reached, Recipient, StateError, UserArea,
};

/// The `user#` attribute counting writes of the area, which each write is conditional on.
const AREA_VERSION: &str = "areaVersion";
/// How often an area write that lost a race is read and tried again.
const AREA_ATTEMPTS: u32 = 8;

/// The global secondary index over `area#` items.
pub const AREA_INDEX: &str = "area";
/// How many places are queried at once (an alert may name hundreds of counties).
const QUERY_CONCURRENCY: usize = 8;

fn index_key(key: &AreaKey, user_id: &str) -> AttributeValue {
    s(format!("area#{}#{user_id}", key.as_str()))
}

/// The places a stored `user#` record indexes its user under.
fn stored_area(user_id: &str, item: &Item) -> Option<UserArea> {
    Some(UserArea {
        user_id: user_id.to_owned(),
        postal_code: text(item, "postalCode")?,
        country: text(item, "country").unwrap_or_default(),
        places: stored_places(item),
        region: text(item, "region"),
        locale: text(item, "locale"),
        source: text(item, "areaSource")
            .map(|t| AreaSource::parse(&t))
            .unwrap_or_default(),
    })
}

/// The record's places. Two attributes hold them while releases overlap: `places` (every
/// place code, written by this release) and `counties` (bare FIPS codes, the only one the
/// previous release reads and writes). This release writes both, so that a rollback finds
/// every US user's counties; a record the previous release wrote during a deploy has fresh
/// `counties` beside a `places` it left as it was. So US counties are read from `counties`
/// when the record has them, and every other kind of place from `places`.
fn stored_places(item: &Item) -> Vec<AreaKey> {
    let places: Vec<AreaKey> = string_set(item, "places")
        .iter()
        .filter_map(|p| AreaKey::parse(p))
        .collect();
    let counties = string_set(item, "counties");
    if counties.is_empty() {
        return places;
    }
    let mut keys: Vec<AreaKey> = counties
        .iter()
        .map(|fips| AreaKey::county(fips))
        .filter(|key| AreaKey::parse(key.as_str()).is_some())
        .collect();
    keys.extend(places.into_iter().filter(|p| !p.as_str().starts_with('c')));
    keys
}

impl DynamoStore {
    pub(super) async fn add_done(&self, claim: &Claim, done: &[Reached]) -> Result<(), StateError> {
        if done.is_empty() {
            return Ok(());
        }
        let request = self
            .request()
            .key("pk", super::sent_key(&claim.reference_id))
            .update_expression("ADD done :done")
            .condition_expression("#holder = :holder AND #phase = :inProgress")
            .name("#holder", "holder")
            .name("#phase", "phase")
            .value(":holder", s(&claim.holder))
            .value(":inProgress", s(IN_PROGRESS))
            .value(
                ":done",
                AttributeValue::Ss(done.iter().map(Reached::encode).collect()),
            );
        match db::update_item(&request).await {
            Ok(_) => Ok(()),
            Err(err) if db::condition_failed(&err) => Err(StateError::Unavailable {
                table: self.table.clone(),
                action: "UpdateItem",
                detail: format!(
                    "the claim on {} is no longer this invocation's (its lease lapsed)",
                    claim.reference_id
                ),
            }),
            Err(err) => Err(self.error("UpdateItem", &err)),
        }
    }

    /// Stores `area` and its index items, deleting the index items of the area it replaces,
    /// in one transaction conditional on the record being as read (its `areaVersion`): two
    /// writes for one user at once cannot leave an index item that no record names (personal
    /// data `SkillDisabled` would not find). A lost race is read and written again.
    pub(super) async fn put_area(&self, area: &UserArea) -> Result<(), StateError> {
        for attempt in 0..AREA_ATTEMPTS {
            let (earlier, version) = self.read_versioned(&area.user_id).await?;
            let writes = self.area_writes(area, earlier.as_ref(), version);
            if self.transact_if(writes).await? {
                return Ok(());
            }
            self.conflict_pause(attempt).await;
        }
        Err(self.busy_area())
    }

    /// The record and the version it was read at.
    async fn read_versioned(
        &self,
        user_id: &str,
    ) -> Result<(Option<UserArea>, Option<AttributeValue>), StateError> {
        let item = self.get(user_key(user_id)).await?;
        let version = item.as_ref().and_then(|i| i.get(AREA_VERSION).cloned());
        Ok((item.and_then(|i| stored_area(user_id, &i)), version))
    }

    /// The next version, and the condition that the record is still at `version`.
    fn versioned(version: Option<&AttributeValue>) -> (AttributeValue, String) {
        let seen = version
            .and_then(|v| v.as_n())
            .and_then(|n| n.parse::<u64>().ok());
        let next = n(seen.map_or(1, |v| v + 1));
        let condition = match version {
            Some(_) => "#areaVersion = :seenVersion".to_owned(),
            None => "attribute_not_exists(#areaVersion)".to_owned(),
        };
        (next, condition)
    }

    fn busy_area(&self) -> StateError {
        StateError::Unavailable {
            table: self.table.clone(),
            action: "TransactWriteItems",
            detail: format!(
                "the user's area changed under {AREA_ATTEMPTS} attempts to write it (concurrent writes)"
            ),
        }
    }

    /// Writers that lost a race to the same record would meet again after equal pauses:
    /// each waits a random part of a growing pause (full jitter).
    async fn conflict_pause(&self, attempt: u32) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let ceiling = 20u64 << attempt.min(4);
        let millis = 1 + u64::from(nanos) % ceiling;
        tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
    }

    fn area_writes(
        &self,
        area: &UserArea,
        earlier: Option<&UserArea>,
        version: Option<AttributeValue>,
    ) -> Vec<TransactWriteItem> {
        let keys = area.keys();
        let mut writes = Vec::new();
        for key in &keys {
            let put = self
                .request()
                .item("pk", index_key(key, &area.user_id))
                .item("areaKey", s(key.as_str()))
                .item("areaUser", s(sort_key(&area.user_id)));
            writes.push(TransactWriteItem::Put(put));
        }
        let mut set = vec![
            "postalCode = :postalCode",
            "country = :country",
            "areaAt = :now",
            "areaSource = :source",
        ];
        let mut remove = Vec::new();
        let mut values = HashMap::from([
            (":postalCode".to_owned(), s(&area.postal_code)),
            (":country".to_owned(), s(&area.country)),
            (":now".to_owned(), n(chrono::Utc::now().timestamp())),
            (":source".to_owned(), s(area.source.as_str())),
        ]);
        // The previous release's attribute is written too (see `stored_places`).
        let fips: Vec<String> = area
            .places
            .iter()
            .filter_map(|p| p.as_str().strip_prefix('c').map(str::to_owned))
            .collect();
        if fips.is_empty() {
            remove.push("counties");
        } else {
            set.push("counties = :counties");
            values.insert(":counties".to_owned(), AttributeValue::Ss(fips));
        }
        if area.places.is_empty() {
            // DynamoDB has no empty sets.
            remove.push("places");
        } else {
            set.push("places = :places");
            values.insert(
                ":places".to_owned(),
                AttributeValue::Ss(area.places.iter().map(|p| p.as_str().to_owned()).collect()),
            );
        }
        match &area.region {
            Some(region) => {
                set.push("#region = :region");
                values.insert(":region".to_owned(), s(region.as_str()));
            }
            None => remove.push("#region"),
        }
        match &area.locale {
            Some(locale) => {
                set.push("#locale = :locale");
                values.insert(":locale".to_owned(), s(locale.as_str()));
            }
            None => remove.push("#locale"),
        }
        let (next, condition) = Self::versioned(version.as_ref());
        set.push("#areaVersion = :nextVersion");
        values.insert(":nextVersion".to_owned(), next);
        if let Some(seen) = version {
            values.insert(":seenVersion".to_owned(), seen);
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = self
            .request()
            .key("pk", user_key(&area.user_id))
            .update_expression(expression)
            .condition_expression(condition)
            .name("#region", "region")
            .name("#locale", "locale")
            .name("#areaVersion", AREA_VERSION)
            .values(values);
        writes.push(TransactWriteItem::Update(update));
        if let Some(earlier) = earlier {
            for stale in earlier.keys().into_iter().filter(|key| !keys.contains(key)) {
                writes.push(self.delete_index_item(&area.user_id, &stale));
            }
        }
        writes
    }

    /// One index item's deletion, as part of a transaction.
    fn delete_index_item(&self, user_id: &str, key: &AreaKey) -> TransactWriteItem {
        TransactWriteItem::Delete(self.request().key("pk", index_key(key, user_id)))
    }

    /// All of `writes` or none: a user's record and index items never disagree (an index item
    /// the record does not name could be neither found nor deleted).
    /// `false`: a condition failed (the record changed since it was read); nothing written.
    async fn transact_if(&self, writes: Vec<TransactWriteItem>) -> Result<bool, StateError> {
        match db::transact_write_items(&writes).await {
            Ok(()) => Ok(true),
            Err(err) if db::cancelled_by_condition(&err) => Ok(false),
            Err(err) => Err(self.error("TransactWriteItems", &err)),
        }
    }

    pub(super) async fn read_area(&self, user_id: &str) -> Result<Option<UserArea>, StateError> {
        Ok(self
            .get(user_key(user_id))
            .await?
            .and_then(|item| stored_area(user_id, &item)))
    }

    /// Deletes the area and its index items, conditional on the record being as read (a
    /// concurrent write is read and deleted again).
    pub(super) async fn delete_area(&self, user_id: &str) -> Result<bool, StateError> {
        for attempt in 0..AREA_ATTEMPTS {
            let (area, version) = self.read_versioned(user_id).await?;
            let Some(area) = area else {
                return Ok(false);
            };
            let mut writes: Vec<TransactWriteItem> = area
                .keys()
                .iter()
                .map(|key| self.delete_index_item(user_id, key))
                .collect();
            let (next, condition) = Self::versioned(version.as_ref());
            let mut update = self
                .request()
                .key("pk", user_key(user_id))
                .update_expression(
                    "SET #areaVersion = :nextVersion REMOVE postalCode, country, places, counties, #region, #locale, areaAt, areaSource",
                )
                .condition_expression(condition)
                .name("#region", "region")
                .name("#locale", "locale")
                .name("#areaVersion", AREA_VERSION)
                .value(":nextVersion", next);
            if let Some(seen) = version {
                update = update.value(":seenVersion", seen);
            }
            writes.push(TransactWriteItem::Update(update));
            if self.transact_if(writes).await? {
                return Ok(true);
            }
            self.conflict_pause(attempt).await;
        }
        Err(self.busy_area())
    }

    fn area_query(&self, key: &AreaKey, range: HashRange) -> Request {
        let (low, high) = range.sort_key_bounds();
        self.request()
            .index_name(AREA_INDEX)
            .key_condition_expression("areaKey = :key AND areaUser BETWEEN :low AND :high")
            .value(":key", s(key.as_str()))
            .value(":low", s(low))
            .value(":high", s(high))
    }

    pub(super) async fn count_indexed(
        &self,
        keys: &[AreaKey],
        range: HashRange,
    ) -> Result<u64, StateError> {
        let counts: Vec<u64> = stream::iter(keys.iter().map(|key| self.count_key(key, range)))
            .buffer_unordered(QUERY_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(counts.iter().sum())
    }

    async fn count_key(&self, key: &AreaKey, range: HashRange) -> Result<u64, StateError> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let request = self
                .area_query(key, range)
                .count()
                .exclusive_start_key(start.take());
            let answer = db::query(&request)
                .await
                .map_err(|e| self.error("Query", &e))?;
            total += answer.count;
            match answer.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(total),
            }
        }
    }

    pub(super) async fn indexed_users(
        &self,
        keys: &[AreaKey],
        range: HashRange,
    ) -> Result<Vec<String>, StateError> {
        let per_key: Vec<Vec<(String, String)>> =
            stream::iter(keys.iter().map(|key| self.users_of_key(key, range)))
                .buffer_unordered(QUERY_CONCURRENCY)
                .try_collect()
                .await?;
        // By sort key: hash order, each user once however many of the places they are in.
        let users: BTreeMap<String, String> = per_key.into_iter().flatten().collect();
        Ok(users.into_values().collect())
    }

    /// The (sort key, user id) of one place's index items in `range`.
    async fn users_of_key(
        &self,
        key: &AreaKey,
        range: HashRange,
    ) -> Result<Vec<(String, String)>, StateError> {
        let mut users = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let request = self
                .area_query(key, range)
                .exclusive_start_key(start.take());
            let answer = db::query(&request)
                .await
                .map_err(|e| self.error("Query", &e))?;
            for item in answer.items {
                let Some(sort) = text(&item, "areaUser") else {
                    continue;
                };
                if let Some(user) = user_of_sort_key(&sort) {
                    let user = user.to_owned();
                    users.push((sort, user));
                }
            }
            match answer.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(users),
            }
        }
    }

    pub(super) async fn read_recipients(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<Recipient>, StateError> {
        let keys = user_ids.iter().map(|user| user_key(user)).collect();
        let items = self
            .batch_get(
                keys,
                "pk, subscriptions, #region, enabled, postalCode, country, places, counties",
                &[("#region", "region")],
            )
            .await?;
        Ok(items.iter().filter_map(recipient).collect())
    }

    pub(super) async fn unsubscribe(&self, user_id: &str, event: &str) -> Result<(), StateError> {
        let Some(item) = self.get(user_key(user_id)).await? else {
            return Ok(());
        };
        let Some(AttributeValue::L(names)) = item.get("subscriptions") else {
            return Ok(());
        };
        let kept: Vec<AttributeValue> = names
            .iter()
            .filter(|name| !matches!(name, AttributeValue::S(n) if n == event))
            .cloned()
            .collect();
        if kept.len() == names.len() {
            return Ok(());
        }
        let update = self
            .request()
            .key("pk", user_key(user_id))
            .update_expression("SET subscriptions = :kept")
            .value(":kept", AttributeValue::L(kept))
            .name("#sAt", "subscriptionsAt");
        // Only over what was read: a newer subscription event recorded meanwhile wins (its
        // mark, or on a record written before the marks, the one mark of every event).
        let update = match (item.get("subscriptionsAt"), item.get("updatedAt")) {
            (Some(at), _) => update
                .condition_expression("#sAt = :seen")
                .value(":seen", at.clone()),
            (None, Some(at)) => update
                .condition_expression("attribute_not_exists(#sAt) AND #updatedAt = :seen")
                .name("#updatedAt", "updatedAt")
                .value(":seen", at.clone()),
            (None, None) => update.condition_expression("attribute_not_exists(#sAt)"),
        };
        match db::update_item(&update).await {
            Ok(_) => Ok(()),
            Err(err) if db::condition_failed(&err) => Ok(()),
            Err(err) => Err(self.error("UpdateItem", &err)),
        }
    }
}

fn recipient(item: &Item) -> Option<Recipient> {
    let user_id = text(item, "pk")?.strip_prefix("user#")?.to_owned();
    let subscriptions = match item.get("subscriptions") {
        Some(AttributeValue::L(names)) => Some(
            names
                .iter()
                .filter_map(|n| match n {
                    AttributeValue::S(name) => Some(name.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => None,
    };
    let places = stored_area(&user_id, item)
        .map(|area| area.keys())
        .unwrap_or_default();
    Some(Recipient {
        user_id,
        subscriptions,
        region: text(item, "region"),
        places,
    })
}
