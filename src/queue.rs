//! The fan-out queue (SQS, `FANOUT_QUEUE_URL`): where work for many users is put so that
//! many function instances share it. [`Queue`] is the edge; [`SqsQueue`] the real one,
//! [`MemoryQueue`] the in-memory one for unit tests.
//!
//! Only sending is here: Lambda's event source mapping receives and deletes, and hands the
//! records to the function as an SQS event (see [`crate::lambda`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, SQS};

pub type QueueFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, QueueError>> + 'a>>;

/// A queue of message bodies.
pub trait Queue: Send + Sync {
    /// Sends every body, or fails (some may have been sent: receivers must be idempotent, as
    /// SQS may deliver a message twice anyway).
    fn send_all<'a>(&'a self, bodies: &'a [String]) -> QueueFuture<'a, ()>;
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("fan-out queue {queue:?} (from FANOUT_QUEUE_URL) does not exist in this account and region: create it (the SAM template does) or fix FANOUT_QUEUE_URL")]
    NotFound { queue: String },
    #[error("sending to fan-out queue {queue:?} was refused ({detail}): the function's role needs sqs:SendMessage on it (the SAM template grants it)")]
    AccessDenied { queue: String, detail: String },
    #[error("sending to fan-out queue {queue:?} failed: {detail}")]
    Unavailable { queue: String, detail: String },
}

/// SendMessageBatch takes at most 10 entries and 256 KiB in all.
const BATCH_ENTRIES: usize = 10;
const BATCH_BYTES: usize = 250 * 1024;
/// How often entries SQS failed inside a batch are sent again.
const ENTRY_ATTEMPTS: u32 = 3;
/// How many batches are in flight at once.
const CONCURRENCY: usize = 8;

pub struct SqsQueue {
    url: String,
}

/// SendMessageBatch's request and answer (SQS's JSON protocol).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendMessageBatch<'a> {
    queue_url: &'a str,
    entries: Vec<Entry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry<'a> {
    id: String,
    message_body: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchAnswer {
    #[serde(default)]
    failed: Vec<FailedEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FailedEntry {
    id: String,
    #[serde(default)]
    sender_fault: bool,
    #[serde(default)]
    code: String,
    message: Option<String>,
}

impl SqsQueue {
    pub fn new(url: String) -> Self {
        SqsQueue { url }
    }

    async fn send_batch(&self, batch: &[&String]) -> Result<(), QueueError> {
        let mut pending: Vec<(usize, &String)> = batch.iter().copied().enumerate().collect();
        for attempt in 1..=ENTRY_ATTEMPTS {
            let request = SendMessageBatch {
                queue_url: &self.url,
                entries: pending
                    .iter()
                    .map(|(i, body)| Entry {
                        id: i.to_string(),
                        message_body: body.as_str(),
                    })
                    .collect(),
            };
            let answer: BatchAnswer = crate::aws::call(&SQS, "SendMessageBatch", &request)
                .await
                .map_err(|e| self.error(&e))?;
            let failed: Vec<String> = answer.failed.iter().map(|f| f.id.clone()).collect();
            if failed.is_empty() {
                return Ok(());
            }
            if let Some(sender_fault) = answer.failed.iter().find(|f| f.sender_fault) {
                return Err(self.unavailable(format!(
                    "{}: {}",
                    sender_fault.code,
                    sender_fault.message.as_deref().unwrap_or("no message")
                )));
            }
            pending.retain(|(i, _)| failed.contains(&i.to_string()));
            tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
        }
        Err(self.unavailable(format!(
            "{} message(s) failed {ENTRY_ATTEMPTS} times",
            pending.len()
        )))
    }

    fn unavailable(&self, detail: String) -> QueueError {
        QueueError::Unavailable {
            queue: self.url.clone(),
            detail,
        }
    }

    fn error(&self, err: &AwsError) -> QueueError {
        let detail = err.to_string();
        let queue = self.url.clone();
        match err.code() {
            Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist") => {
                QueueError::NotFound { queue }
            }
            Some(
                "AccessDenied"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidSignatureException"
                | "KMS.AccessDeniedException",
            ) => QueueError::AccessDenied { queue, detail },
            _ => QueueError::Unavailable { queue, detail },
        }
    }
}

/// Bodies grouped as SendMessageBatch takes them: at most 10 and 250 KiB per batch.
fn batches(bodies: &[String]) -> Vec<Vec<&String>> {
    let mut batches: Vec<Vec<&String>> = Vec::new();
    let mut bytes = 0;
    for body in bodies {
        let fits = batches
            .last()
            .is_some_and(|b| b.len() < BATCH_ENTRIES && bytes + body.len() <= BATCH_BYTES);
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len();
        if let Some(batch) = batches.last_mut() {
            batch.push(body);
        }
    }
    batches
}

impl Queue for SqsQueue {
    fn send_all<'a>(&'a self, bodies: &'a [String]) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            use futures_util::stream::{self, StreamExt, TryStreamExt};
            let batches = batches(bodies);
            stream::iter(batches.iter().map(|b| self.send_batch(b)))
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
            Ok(())
        })
    }
}

/// A queue in memory: what was sent, in order; it can be made to fail.
#[derive(Default)]
pub struct MemoryQueue {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    messages: Vec<String>,
    /// How many of the next `send_all` calls fail.
    failing: usize,
}

impl MemoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes every message sent so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().messages)
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes the next `calls` sends fail.
    pub fn fail_next(&self, calls: usize) {
        self.lock().failing = calls;
    }
}

impl Queue for MemoryQueue {
    fn send_all<'a>(&'a self, bodies: &'a [String]) -> QueueFuture<'a, ()> {
        Box::pin(async move {
            let mut inner = self.lock();
            if inner.failing > 0 {
                inner.failing -= 1;
                return Err(QueueError::Unavailable {
                    queue: "memory".into(),
                    detail: "made to fail by the test".into(),
                });
            }
            inner.messages.extend(bodies.iter().cloned());
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_entries_and_stay_under_the_size_limit() {
        let small: Vec<String> = (0..25).map(|i| format!("m{i}")).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);
        assert!(batches(&[]).is_empty());
    }
}
