//! The retry quota of the AWS SDKs' standard retry mode: a bucket of 500 tokens per service
//! that each retry draws from (10 after a timeout, a lost connection or a 5xx, 5 after
//! throttling) and each success refills (with what its last retry drew, or 1 when the first
//! attempt passed).
//!
//! Why: when a service fails call after call (an outage, a table throttled for minutes), each
//! call retried twice would triple the load on it and hold every invocation for its whole time
//! bound. Once the bucket is empty, calls stop retrying: they fail at their first error, so the
//! invocation (or the fan-out's SQS record) fails at once and Lambda or SQS brings it back
//! later, when the service may have recovered. A few successes refill the bucket.
//!
//! The bucket lives as long as the execution environment (a process), one per service, as
//! the Rust SDK keeps one per client's retry partition.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Tokens in a full bucket.
pub const CAPACITY: u32 = 500;
/// What a retry after throttling (or another retryable service error) draws.
const RETRY_COST: u32 = 5;
/// What a retry after a transient failure (timeout, lost connection, 5xx) draws.
const TRANSIENT_RETRY_COST: u32 = 10;
/// What a call that passed at its first attempt adds.
const NO_RETRY_INCREMENT: u32 = 1;

#[derive(Debug)]
pub struct RetryQuota {
    tokens: AtomicU32,
    /// Whether a draw was refused since the bucket was last at least half full: the first
    /// refusal is worth a warning, the ones after it (every call while a service is down, and
    /// the odd retry a few successes pay for) are not.
    refusing: AtomicBool,
}

/// What a draw gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// The retry is paid, with this many tokens.
    Paid(u32),
    /// Not paid: no retry. `first` for the first refusal since the bucket was half full.
    Refused { first: bool },
}

impl RetryQuota {
    pub const fn full() -> Self {
        Self::with_tokens(CAPACITY)
    }

    pub const fn with_tokens(tokens: u32) -> Self {
        RetryQuota {
            tokens: AtomicU32::new(tokens),
            refusing: AtomicBool::new(false),
        }
    }

    #[cfg(test)]
    pub fn tokens(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// Draws the cost of one more attempt; refused, drawing nothing, when the bucket cannot
    /// pay it.
    pub fn draw(&self, transient: bool) -> Draw {
        let cost = if transient {
            TRANSIENT_RETRY_COST
        } else {
            RETRY_COST
        };
        match self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(cost)
            }) {
            Ok(_) => Draw::Paid(cost),
            Err(_) => Draw::Refused {
                first: !self.refusing.swap(true, Ordering::Relaxed),
            },
        }
    }

    /// After a success: gives back what its last retry drew (`last_draw`), or adds
    /// NO_RETRY_INCREMENT when it passed at its first attempt (`last_draw` 0). Never above
    /// CAPACITY.
    pub fn refill(&self, last_draw: u32) {
        let amount = if last_draw == 0 {
            NO_RETRY_INCREMENT
        } else {
            last_draw
        };
        let before = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(amount).min(CAPACITY))
            })
            .unwrap_or(CAPACITY);
        if before.saturating_add(amount) >= CAPACITY / 2 {
            self.refusing.store(false, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_draw_and_successes_refill() {
        let quota = RetryQuota::full();
        assert_eq!(quota.draw(false), Draw::Paid(5));
        assert_eq!(quota.draw(true), Draw::Paid(10));
        assert_eq!(quota.tokens(), 485);
        // A success after a retry gives back that retry's draw, not the earlier ones.
        quota.refill(10);
        assert_eq!(quota.tokens(), 495);
        quota.refill(0);
        assert_eq!(quota.tokens(), 496);
        // Never above a full bucket.
        for _ in 0..10 {
            quota.refill(10);
        }
        assert_eq!(quota.tokens(), CAPACITY);
    }

    #[test]
    fn an_empty_bucket_pays_for_no_retry() {
        let quota = RetryQuota::with_tokens(14);
        assert_eq!(quota.draw(true), Draw::Paid(10));
        // 4 left: neither kind of retry is paid, nothing is drawn trying, and only the first
        // refusal says so.
        assert_eq!(quota.draw(true), Draw::Refused { first: true });
        assert_eq!(quota.draw(false), Draw::Refused { first: false });
        assert_eq!(quota.tokens(), 4);
        // A success pays for the odd retry, and the refusals after it are not news.
        quota.refill(0);
        assert_eq!(quota.draw(false), Draw::Paid(5));
        assert_eq!(quota.tokens(), 0);
        assert_eq!(quota.draw(false), Draw::Refused { first: false });
        // Not while it refills to just under half...
        for _ in 0..24 {
            quota.refill(10);
        }
        for _ in 0..24 {
            assert_eq!(quota.draw(true), Draw::Paid(10));
        }
        assert_eq!(quota.draw(true), Draw::Refused { first: false });
        // ...but once it has been half full again, a refusal is news again.
        for _ in 0..25 {
            quota.refill(10);
        }
        assert_eq!(quota.tokens(), CAPACITY / 2);
        for _ in 0..25 {
            assert_eq!(quota.draw(true), Draw::Paid(10));
        }
        assert_eq!(quota.draw(true), Draw::Refused { first: true });
    }

    #[test]
    fn a_full_bucket_lasts_a_hundred_throttled_retries() {
        let quota = RetryQuota::full();
        let paid = (0..1000)
            .take_while(|_| matches!(quota.draw(false), Draw::Paid(_)))
            .count();
        assert_eq!(paid, 100);
        let quota = RetryQuota::full();
        let paid = (0..1000)
            .take_while(|_| matches!(quota.draw(true), Draw::Paid(_)))
            .count();
        assert_eq!(paid, 50);
    }
}
