//! SQS in moto, and Lambda's event source mapping played by the test: a queue with its
//! dead-letter queue, batches received and handed to the function as the SQS event Lambda
//! builds, the records the function did not report failed deleted (a failed invocation
//! deletes nothing, so the whole batch comes back after the visibility timeout).
//!
//! Moto is spoken to as the function speaks to SQS: the JSON protocol
//! (`X-Amz-Target: AmazonSQS.<Action>`, `application/x-amz-json-1.0`). Also here: users seeded
//! straight into the state table with their area and subscriptions.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::moto::Moto;
use crate::runtime_api::Outcome;
use crate::Rig;

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// A queue in moto and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
}

/// One message as ReceiveMessage gave it.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5: String,
    pub attributes: Value,
}

impl Message {
    /// `ApproximateReceiveCount`: 1 on the first delivery.
    pub fn receive_count(&self) -> u32 {
        self.attributes["ApproximateReceiveCount"]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }
}

/// What one played batch came to.
#[derive(Debug, Clone)]
pub struct Played {
    pub messages: Vec<Message>,
    /// The function's answer (`None`: no answer in time, or a failed invocation).
    pub answer: Option<Value>,
    /// The messageIds the answer listed in `batchItemFailures`.
    pub failed: Vec<String>,
    /// How many records were deleted.
    pub deleted: usize,
}

impl Queue {
    /// Creates `name` and `name-dlq`; after `max_receive_count` receives a message moves to the
    /// dead-letter queue. `visibility`: the queue's default visibility timeout.
    pub async fn create(
        moto: &Moto,
        name: &str,
        max_receive_count: u32,
        visibility: Duration,
    ) -> Queue {
        let dlq = moto
            .call(
                "AmazonSQS.CreateQueue",
                json!({"QueueName": format!("{name}-dlq")}),
            )
            .await;
        let dlq_url = dlq["QueueUrl"].as_str().expect("QueueUrl").to_owned();
        let dlq_arn = queue_arn(moto, &dlq_url).await;
        let redrive = json!({"deadLetterTargetArn": dlq_arn,
                             "maxReceiveCount": max_receive_count.to_string()});
        let queue = moto
            .call(
                "AmazonSQS.CreateQueue",
                json!({"QueueName": name,
                       "Attributes": {"RedrivePolicy": redrive.to_string(),
                                      "VisibilityTimeout": visibility.as_secs().to_string()}}),
            )
            .await;
        let url = queue["QueueUrl"].as_str().expect("QueueUrl").to_owned();
        let arn = queue_arn(moto, &url).await;
        Queue { url, arn, dlq_url }
    }

    /// Up to `max` (≤ 10) messages, hidden for `visibility` (whole seconds); waits at most
    /// `wait` (whole seconds, ≤ 20) for the first.
    pub async fn receive(
        &self,
        moto: &Moto,
        max: u32,
        visibility: Duration,
        wait: Duration,
    ) -> Vec<Message> {
        receive(moto, &self.url, max, visibility, wait).await
    }

    /// How many messages the queue holds: (visible, in flight).
    pub async fn depth(&self, moto: &Moto) -> (u64, u64) {
        depth(moto, &self.url).await
    }

    /// How many messages the dead-letter queue holds (visible and in flight).
    pub async fn dead_letters(&self, moto: &Moto) -> u64 {
        let (visible, hidden) = depth(moto, &self.dlq_url).await;
        visible + hidden
    }

    /// The SQS event Lambda's event source mapping hands the function for these messages.
    pub fn event(&self, messages: &[Message]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.id,
                    "receiptHandle": m.receipt_handle,
                    "body": m.body,
                    "attributes": {
                        "ApproximateReceiveCount": m.attributes["ApproximateReceiveCount"],
                        "SentTimestamp": m.attributes["SentTimestamp"],
                        "SenderId": m.attributes["SenderId"],
                        "ApproximateFirstReceiveTimestamp": m.attributes["ApproximateFirstReceiveTimestamp"],
                    },
                    "messageAttributes": {},
                    "md5OfBody": m.md5,
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": REGION,
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// Deletes these messages (by receipt handle), ten at a time.
    pub async fn delete(&self, moto: &Moto, messages: &[&Message]) {
        for chunk in messages.chunks(10) {
            let entries: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| json!({"Id": i.to_string(), "ReceiptHandle": m.receipt_handle}))
                .collect();
            let answer = moto
                .call(
                    "AmazonSQS.DeleteMessageBatch",
                    json!({"QueueUrl": self.url, "Entries": entries}),
                )
                .await;
            let failed = answer["Failed"].as_array().map_or(0, Vec::len);
            assert_eq!(failed, 0, "DeleteMessageBatch: {answer}");
        }
    }
}

async fn queue_arn(moto: &Moto, url: &str) -> String {
    let answer = moto
        .call(
            "AmazonSQS.GetQueueAttributes",
            json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
        )
        .await;
    answer["Attributes"]["QueueArn"]
        .as_str()
        .expect("QueueArn")
        .to_owned()
}

async fn depth(moto: &Moto, url: &str) -> (u64, u64) {
    let answer = moto
        .call(
            "AmazonSQS.GetQueueAttributes",
            json!({"QueueUrl": url,
                   "AttributeNames": ["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"]}),
        )
        .await;
    let count = |name: &str| -> u64 {
        answer["Attributes"][name]
            .as_str()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    };
    (
        count("ApproximateNumberOfMessages"),
        count("ApproximateNumberOfMessagesNotVisible"),
    )
}

async fn receive(
    moto: &Moto,
    url: &str,
    max: u32,
    visibility: Duration,
    wait: Duration,
) -> Vec<Message> {
    let answer = moto
        .call(
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": url, "MaxNumberOfMessages": max.clamp(1, 10),
                   "VisibilityTimeout": visibility.as_secs(),
                   "WaitTimeSeconds": wait.as_secs().min(20),
                   "AttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}),
        )
        .await;
    answer["Messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let text = |key: &str| m[key].as_str().unwrap_or_default().to_owned();
            Message {
                id: text("MessageId"),
                receipt_handle: text("ReceiptHandle"),
                body: text("Body"),
                md5: text("MD5OfBody"),
                attributes: m["Attributes"].clone(),
            }
        })
        .collect()
}

/// Lambda's event source mapping for one queue: how many records per batch, how long a
/// received batch stays hidden.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub queue: Queue,
    pub batch_size: u32,
    pub visibility: Duration,
    /// The invocation's deadline.
    pub budget: Duration,
}

impl Mapping {
    pub fn new(queue: Queue) -> Mapping {
        Mapping {
            queue,
            batch_size: 10,
            visibility: Duration::from_secs(2),
            budget: Duration::from_secs(20),
        }
    }

    /// Receives one batch (waiting at most `wait` for it), invokes the function with it and
    /// deletes the records not reported failed. `None`: the queue had nothing.
    pub async fn play(&self, rig: &mut Rig, wait: Duration) -> Option<Played> {
        let messages = self
            .queue
            .receive(&rig.moto, self.batch_size, self.visibility, wait)
            .await;
        if messages.is_empty() {
            return None;
        }
        let event = self.queue.event(&messages);
        let answer = match rig.invoke(&event, self.budget).await {
            Some(Outcome::Response(answer)) => Some(answer),
            _ => None,
        };
        let failed: Vec<String> = match &answer {
            Some(answer) => answer["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect(),
            // A failed invocation: every record comes back.
            None => messages.iter().map(|m| m.id.clone()).collect(),
        };
        let done: Vec<&Message> = messages
            .iter()
            .filter(|m| !failed.contains(&m.id))
            .collect();
        self.queue.delete(&rig.moto, &done).await;
        let deleted = done.len();
        Some(Played {
            messages,
            answer,
            failed,
            deleted,
        })
    }

    /// Plays batches until the queue is empty (nothing visible nor in flight) or `within`
    /// has passed: every batch played, in order.
    pub async fn drain(&self, rig: &mut Rig, within: Duration) -> Vec<Played> {
        let until = Instant::now() + within;
        let mut played = Vec::new();
        while Instant::now() < until {
            if let Some(batch) = self.play(rig, Duration::from_secs(1)).await {
                played.push(batch);
                continue;
            }
            if self.queue.depth(&rig.moto).await == (0, 0) {
                return played;
            }
        }
        panic!(
            "the queue was not drained within {within:?}: {:?} left after {} batch(es)",
            self.queue.depth(&rig.moto).await,
            played.len()
        );
    }
}

/// A user as the skill would have stored them: subscriptions and area.
#[derive(Debug, Clone)]
pub struct SeedUser {
    pub user_id: String,
    pub subscriptions: Vec<String>,
    pub postal_code: String,
    pub country: String,
    /// Place codes, as the function writes them (`c40027`, `d05315`, `mUK116`).
    pub places: Vec<String>,
    pub region: Option<String>,
    pub locale: Option<String>,
}

/// The state table's user hash (`alexa_proactive::state::area::user_hash`, which this crate
/// cannot see: the suites check the two agree).
pub fn user_hash(user_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The `area` index's sort key for a user.
pub fn sort_key(user_id: &str) -> String {
    format!("{:016x}#{user_id}", user_hash(user_id))
}

impl SeedUser {
    /// The `user#` record and the `area#` index items (DynamoDB JSON).
    pub fn items(&self) -> Vec<Value> {
        let subscriptions: Vec<Value> =
            self.subscriptions.iter().map(|e| json!({"S": e})).collect();
        let mut user = json!({
            "pk": {"S": format!("user#{}", self.user_id)},
            "subscriptions": {"L": subscriptions},
            "enabled": {"BOOL": true},
            "updatedAt": {"N": "1"},
            "postalCode": {"S": self.postal_code},
            "country": {"S": self.country},
            "areaAt": {"N": "1"},
        });
        if !self.places.is_empty() {
            user["places"] = json!({"SS": self.places});
        }
        if let Some(region) = &self.region {
            user["region"] = json!({"S": region});
        }
        if let Some(locale) = &self.locale {
            user["locale"] = json!({"S": locale});
        }
        let mut keys: Vec<String> = self.places.clone();
        if self.country == "US" {
            keys.push(format!("z{}", self.postal_code));
        }
        let mut items = vec![user];
        items.extend(keys.iter().map(|key| {
            json!({"pk": {"S": format!("area#{key}#{}", self.user_id)},
                   "areaKey": {"S": key},
                   "areaUser": {"S": sort_key(&self.user_id)}})
        }));
        items
    }
}

/// Writes the users' records and index items into `table` (BatchWriteItem, 25 at a time).
pub async fn seed_users(moto: &Moto, table: &str, users: &[SeedUser]) {
    let items: Vec<Value> = users.iter().flat_map(SeedUser::items).collect();
    for chunk in items.chunks(25) {
        let mut requests: Vec<Value> = chunk
            .iter()
            .map(|item| json!({"PutRequest": {"Item": item}}))
            .collect();
        for _ in 0..10 {
            let answer = moto
                .call(
                    "DynamoDB_20120810.BatchWriteItem",
                    json!({"RequestItems": {table: requests}}),
                )
                .await;
            requests = answer["UnprocessedItems"][table]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if requests.is_empty() {
                break;
            }
        }
        assert!(requests.is_empty(), "BatchWriteItem left items unprocessed");
    }
}
