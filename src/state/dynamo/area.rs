//! Users' areas in DynamoDB: the area attributes of `user#` records, the `area#` index items
//! and the `area` global secondary index over them (partition `areaKey`, sort `areaUser`,
//! keys only). See [`crate::state::area`].
//!
//! Writes are ordered so that a failure part-way leaves nothing a user did not ask for: a
//! new area's index items are written before the record names them, and an old area's are
//! deleted only after (a retry finds and deletes them then). Forgetting deletes the items
//! first, the record's attributes last, so a retry still knows what to delete.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};

use super::{n, s, string_set, text, user_key, DynamoStore, Item, IN_PROGRESS};
use crate::state::area::{sort_key, user_of_sort_key};
use crate::state::{AreaKey, Claim, HashRange, Recipient, StateError, UserArea};

/// The global secondary index over `area#` items.
pub const AREA_INDEX: &str = "area";
/// BatchGetItem takes at most 100 keys.
const BATCH_GET: usize = 100;
/// How often keys DynamoDB left unprocessed (throttling) are asked for again.
const UNPROCESSED_ROUNDS: u32 = 5;

fn index_key(key: &AreaKey, user_id: &str) -> AttributeValue {
    s(format!("area#{}#{user_id}", key.as_str()))
}

/// The places a stored `user#` record indexes its user under.
fn stored_area(user_id: &str, item: &Item) -> Option<UserArea> {
    Some(UserArea {
        user_id: user_id.to_owned(),
        postal_code: text(item, "postalCode")?,
        country: text(item, "country").unwrap_or_default(),
        counties: string_set(item, "counties"),
        region: text(item, "region"),
        locale: text(item, "locale"),
    })
}

impl DynamoStore {
    pub(super) async fn add_done(&self, claim: &Claim, done: &[String]) -> Result<(), StateError> {
        if done.is_empty() {
            return Ok(());
        }
        let result = self
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", super::sent_key(&claim.reference_id))
            .update_expression("ADD done :done")
            .condition_expression("#holder = :holder AND #phase = :inProgress")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_names("#phase", "phase")
            .expression_attribute_values(":holder", s(&claim.holder))
            .expression_attribute_values(":inProgress", s(IN_PROGRESS))
            .expression_attribute_values(":done", AttributeValue::Ss(done.to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if super::condition_failed(&err) => Err(StateError::Unavailable {
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

    pub(super) async fn put_area(&self, area: &UserArea) -> Result<(), StateError> {
        let earlier = self
            .get(user_key(&area.user_id))
            .await?
            .and_then(|item| stored_area(&area.user_id, &item));
        let keys = area.keys();
        let client = self.client().await;
        for key in &keys {
            client
                .put_item()
                .table_name(&self.table)
                .item("pk", index_key(key, &area.user_id))
                .item("areaKey", s(key.as_str()))
                .item("areaUser", s(sort_key(&area.user_id)))
                .send()
                .await
                .map_err(|e| self.error("PutItem", &e))?;
        }
        let mut set = vec![
            "postalCode = :postalCode",
            "country = :country",
            "areaAt = :now",
        ];
        let mut remove = Vec::new();
        let mut update = client
            .update_item()
            .table_name(&self.table)
            .key("pk", user_key(&area.user_id))
            .expression_attribute_values(":postalCode", s(&area.postal_code))
            .expression_attribute_values(":country", s(&area.country))
            .expression_attribute_values(":now", n(chrono::Utc::now().timestamp()));
        if area.counties.is_empty() {
            // DynamoDB has no empty sets.
            remove.push("counties");
        } else {
            set.push("counties = :counties");
            update = update.expression_attribute_values(
                ":counties",
                AttributeValue::Ss(area.counties.clone()),
            );
        }
        for (name, value) in [("#region", &area.region), ("#locale", &area.locale)] {
            match value {
                Some(value) => {
                    set.push(if name == "#region" {
                        "#region = :region"
                    } else {
                        "#locale = :locale"
                    });
                    update = update
                        .expression_attribute_values(name.replace('#', ":"), s(value.as_str()));
                }
                None => remove.push(name),
            }
            update = update.expression_attribute_names(name, &name[1..]);
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        if let Some(earlier) = earlier {
            let stale: Vec<AreaKey> = earlier
                .keys()
                .into_iter()
                .filter(|key| !keys.contains(key))
                .collect();
            self.delete_index_items(&area.user_id, &stale).await?;
        }
        Ok(())
    }

    async fn delete_index_items(&self, user_id: &str, keys: &[AreaKey]) -> Result<(), StateError> {
        let client = self.client().await;
        for key in keys {
            client
                .delete_item()
                .table_name(&self.table)
                .key("pk", index_key(key, user_id))
                .send()
                .await
                .map_err(|e| self.error("DeleteItem", &e))?;
        }
        Ok(())
    }

    pub(super) async fn read_area(&self, user_id: &str) -> Result<Option<UserArea>, StateError> {
        Ok(self
            .get(user_key(user_id))
            .await?
            .and_then(|item| stored_area(user_id, &item)))
    }

    pub(super) async fn delete_area(&self, user_id: &str) -> Result<bool, StateError> {
        let Some(area) = self.read_area(user_id).await? else {
            return Ok(false);
        };
        self.delete_index_items(user_id, &area.keys()).await?;
        self.client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", user_key(user_id))
            .update_expression("REMOVE postalCode, country, counties, #region, #locale, areaAt")
            .expression_attribute_names("#region", "region")
            .expression_attribute_names("#locale", "locale")
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", &e))?;
        Ok(true)
    }

    fn area_query(
        &self,
        client: &aws_sdk_dynamodb::Client,
        key: &AreaKey,
        range: HashRange,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (low, high) = range.sort_key_bounds();
        client
            .query()
            .table_name(&self.table)
            .index_name(AREA_INDEX)
            .key_condition_expression("areaKey = :key AND areaUser BETWEEN :low AND :high")
            .expression_attribute_values(":key", s(key.as_str()))
            .expression_attribute_values(":low", s(low))
            .expression_attribute_values(":high", s(high))
    }

    pub(super) async fn count_indexed(
        &self,
        keys: &[AreaKey],
        range: HashRange,
    ) -> Result<u64, StateError> {
        let client = self.client().await;
        let mut total = 0u64;
        for key in keys {
            let mut start: Option<Item> = None;
            loop {
                let answer = self
                    .area_query(client, key, range)
                    .select(Select::Count)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| self.error("Query", &e))?;
                total += u64::try_from(answer.count).unwrap_or_default();
                match answer.last_evaluated_key {
                    Some(next) if !next.is_empty() => start = Some(next),
                    _ => break,
                }
            }
        }
        Ok(total)
    }

    pub(super) async fn indexed_users(
        &self,
        keys: &[AreaKey],
        range: HashRange,
    ) -> Result<Vec<String>, StateError> {
        let client = self.client().await;
        // By sort key: hash order, each user once however many of the places they are in.
        let mut users = BTreeMap::new();
        for key in keys {
            let mut start: Option<Item> = None;
            loop {
                let answer = self
                    .area_query(client, key, range)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(|e| self.error("Query", &e))?;
                for item in answer.items.unwrap_or_default() {
                    let Some(sort) = text(&item, "areaUser") else {
                        continue;
                    };
                    if let Some(user) = user_of_sort_key(&sort) {
                        let user = user.to_owned();
                        users.insert(sort, user);
                    }
                }
                match answer.last_evaluated_key {
                    Some(next) if !next.is_empty() => start = Some(next),
                    _ => break,
                }
            }
        }
        Ok(users.into_values().collect())
    }

    pub(super) async fn read_recipients(
        &self,
        user_ids: &[String],
    ) -> Result<Vec<Recipient>, StateError> {
        let client = self.client().await;
        let mut found = Vec::with_capacity(user_ids.len());
        for chunk in user_ids.chunks(BATCH_GET) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|user| HashMap::from([("pk".to_owned(), user_key(user))]))
                .collect();
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .projection_expression("pk, subscriptions, #region, enabled")
                    .expression_attribute_names("#region", "region")
                    .build()
                    .map_err(|e| StateError::Unavailable {
                        table: self.table.clone(),
                        action: "BatchGetItem",
                        detail: e.to_string(),
                    })?,
            );
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
                let items = answer
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                found.extend(items.iter().filter_map(recipient));
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
            .client()
            .await
            .update_item()
            .table_name(&self.table)
            .key("pk", user_key(user_id))
            .update_expression("SET subscriptions = :kept")
            .expression_attribute_values(":kept", AttributeValue::L(kept))
            .expression_attribute_names("#updatedAt", "updatedAt");
        // Only over what was read: a newer subscription event recorded meanwhile wins.
        let update = match item.get("updatedAt") {
            Some(at) => update
                .condition_expression("#updatedAt = :seen")
                .expression_attribute_values(":seen", at.clone()),
            None => update.condition_expression("attribute_not_exists(#updatedAt)"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(err) if super::condition_failed(&err) => Ok(()),
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
    Some(Recipient {
        user_id,
        subscriptions,
        region: text(item, "region"),
    })
}
