//! An in-memory stand-in for the events API, for unit tests of what sits above the client
//! (exactly-once, the poll): it records every post and answers as it is told, with no token,
//! no network and no clock. The wire-level behaviour (statuses, retries, tokens) is tested
//! against the alexa-sandbox instead.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use serde_json::Value;
use tokio::time::Instant;

use super::{ApiFuture, Delivery, EventsApi, Post, Region, SetupError, Status};

/// One POST the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub reference_id: String,
    pub region: Region,
    pub unicast: bool,
    pub event: Value,
}

#[derive(Default)]
pub struct FakeAlexa {
    received: Mutex<Vec<Received>>,
    down: Mutex<HashSet<Region>>,
    next: Mutex<VecDeque<Status>>,
    broken: Mutex<bool>,
    slow: Mutex<bool>,
    late: Mutex<usize>,
}

impl FakeAlexa {
    /// Accepts everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every post to `region` fails (as a 503 that outlasted its retries would).
    pub fn region_down(&self, region: Region, down: bool) {
        let mut set = lock(&self.down);
        if down {
            set.insert(region);
        } else {
            set.remove(&region);
        }
    }

    /// The next posts are answered with these statuses, in order; then accepted again.
    pub fn answer_next(&self, statuses: impl IntoIterator<Item = Status>) {
        lock(&self.next).extend(statuses);
    }

    /// The next `n` posts fail for lack of time (as a retry that no longer fits would).
    pub fn late_next(&self, n: usize) {
        *lock(&self.late) += n;
    }

    /// Answers each call only at the deadline it was given (as a slow Alexa and the client's
    /// retries would, using all the time they are allowed).
    pub fn use_all_the_time(&self, slow: bool) {
        *lock(&self.slow) = slow;
    }

    /// Every call fails as a client that cannot be set up.
    pub fn break_setup(&self, broken: bool) {
        *lock(&self.broken) = broken;
    }

    /// Every post received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// How often `reference_id` was posted to `region`.
    pub fn posts(&self, reference_id: &str, region: Region) -> usize {
        lock(&self.received)
            .iter()
            .filter(|r| r.reference_id == reference_id && r.region == region)
            .count()
    }

    fn answer(&self, post: &Post, region: Region) -> Delivery {
        lock(&self.received).push(Received {
            reference_id: post.reference_id.clone(),
            region,
            unicast: post.unicast,
            event: serde_json::from_slice(&post.body).unwrap_or(Value::Null),
        });
        let late = {
            let mut left = lock(&self.late);
            let late = *left > 0;
            *left = left.saturating_sub(1);
            late
        };
        let status = if late || lock(&self.down).contains(&region) {
            Status::Failed
        } else {
            lock(&self.next).pop_front().unwrap_or(Status::Accepted)
        };
        Delivery {
            reference_id: post.reference_id.clone(),
            region: region.code(),
            status,
            attempts: 1,
            request_id: Some(format!("fake-{}", lock(&self.received).len())),
            late,
            throttled: 0,
            error: match status {
                Status::Failed if late => Some("not sent: no time left (fake)".to_owned()),
                Status::Failed => Some("answer 503 (fake)".to_owned()),
                Status::Refused => Some("refused: answer 400 (fake)".to_owned()),
                _ => None,
            },
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl EventsApi for FakeAlexa {
    fn send_all<'a>(
        &'a self,
        posts: &'a [(Post, Vec<Region>)],
        deadline: Instant,
    ) -> ApiFuture<'a, Result<Vec<Delivery>, SetupError>> {
        Box::pin(async move {
            if *lock(&self.broken) {
                return Err(SetupError("fake: no TLS".into()));
            }
            if *lock(&self.slow) {
                let until = deadline
                    .checked_sub(std::time::Duration::from_millis(1))
                    .unwrap_or(deadline);
                tokio::time::sleep_until(until).await;
            }
            Ok(posts
                .iter()
                .flat_map(|(post, regions)| regions.iter().map(move |r| (post, *r)))
                .map(|(post, region)| self.answer(post, region))
                .collect())
        })
    }
}
